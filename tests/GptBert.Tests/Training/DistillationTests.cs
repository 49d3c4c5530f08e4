using GptBert.Engine;
using GptBert.Models;
using GptBert.Pipelines;
using GptBert.Tokenizers;
using GptBert.Training;
using static TorchSharp.torch;

namespace GptBert.Tests.Training;

public class DistillationTests(Xunit.Abstractions.ITestOutputHelper log)
{
    static double[] Softmax(double[] z, double t)
    {
        var e = z.Select(v => Math.Exp(v / t)).ToArray();
        double s = e.Sum();
        return e.Select(v => v / s).ToArray();
    }

    /// <summary>Hinton et al.'s loss, worked by hand: α·T²·KL(p_T ‖ q_T) averaged over rows + (1 − α)·CE(q_1, y).</summary>
    [Fact]
    public void LossEqualsExplicitArithmetic()
    {
        TestUtil.Init();
        double[][] student = [[1.0, 2.0, 0.0], [0.5, -1.0, 3.0]];
        double[][] teacher = [[2.0, 0.0, 1.0], [0.0, 0.0, 4.0]];
        long[] labels = [1, 2];
        const double T = 2.0, alpha = 0.3;
        double kl = 0, ce = 0;
        for (int i = 0; i < 2; i++)
        {
            var p = Softmax(teacher[i], T);
            var q = Softmax(student[i], T);
            kl += Enumerable.Range(0, 3).Sum(k => p[k] * Math.Log(p[k] / q[k])) / 2;
            ce -= Math.Log(Softmax(student[i], 1)[labels[i]]) / 2;
        }
        double expected = alpha * T * T * kl + (1 - alpha) * ce;

        using var s = tensor(student.SelectMany(r => r).Select(v => (float)v).ToArray(), [2, 3]);
        using var t = tensor(teacher.SelectMany(r => r).Select(v => (float)v).ToArray(), [2, 3]);
        using var y = tensor(labels);
        using var loss = DistillationLoss.Classification(s, t, y, T, alpha);
        Assert.Equal(expected, loss.item<float>(), 5);
        // α = 0 is plain cross-entropy; identical logits have no soft loss.
        using var hard = DistillationLoss.Classification(s, t, y, T, 0);
        Assert.Equal(ce, hard.item<float>(), 5);
        using var same = DistillationLoss.SoftTargets(s, s, T);
        Assert.Equal(0, same.item<float>(), 6);
    }

    static readonly string[] Words = ["great", "good", "big", "red", "blue", "small", "bad", "awful"];
    static readonly double[] Weights = [3, 2, 1, 0.5, -0.5, -1, -2, -3];

    /// <summary>Sentences of four weighted words; the hidden quantity is the sum of the weights, the label its sign.</summary>
    static (List<ClassificationExample> Examples, double[] Quantity) Sentences(int n, int seed)
    {
        var rng = new Random(seed);
        var examples = new List<ClassificationExample>();
        var quantity = new List<double>();
        while (examples.Count < n)
        {
            var idx = Enumerable.Range(0, 4).Select(_ => rng.Next(Words.Length)).ToArray();
            double x = idx.Sum(i => Weights[i]);
            if (x == 0) continue;
            examples.Add(new ClassificationExample(string.Join(" ", idx.Select(i => Words[i])), null, x > 0 ? 1 : 0));
            quantity.Add(x);
        }
        return (examples, quantity.ToArray());
    }

    static double TrainStudent(double alpha, List<ClassificationExample> train, float[][] teacher, List<ClassificationExample> test)
    {
        TestUtil.Init(7);
        var tok = TrainingTestUtil.Vocab();
        var config = TrainingTestUtil.TinyBert(tok.VocabSize);
        config.SetLabels(["neg", "pos"]);
        using var student = new BertForSequenceClassification(config);
        var objective = new ClassificationDistillationObjective(student, tok, train, test, ["neg", "pos"], 16, seed: 3, CPU, teacher, temperature: 2, alpha: alpha);
        new Trainer(objective, tok, new TrainingOptions { MaxSteps = 150, BatchSize = 8, LearningRate = 3e-3, EvalEvery = 0, SaveEvery = 0, WarmupFraction = 0.1 },
            TestUtil.TempDir("distill-soft")).Train();
        return objective.Evaluate()!["accuracy"];
    }

    /// <summary>
    /// Known by construction: the teacher's logits are ±x/2 for the continuous quantity x, while the hard label only says x &gt; 0.
    /// From 24 examples, the student trained on the teacher's soft labels classifies unseen sentences better than the same
    /// student, seed and budget trained on the hard labels alone (α = 0).
    /// </summary>
    [Fact]
    public void SoftLabelsCarryWhatHardLabelsDoNot()
    {
        var (train, x) = Sentences(24, seed: 11);
        var (test, _) = Sentences(300, seed: 12);
        var teacher = x.Select(v => new[] { (float)(-v / 2), (float)(v / 2) }).ToArray();
        double withDistillation = TrainStudent(0.9, train, teacher, test);
        double hardOnly = TrainStudent(0.0, train, teacher, test);
        log.WriteLine($"test accuracy: distilled {withDistillation:F3}, hard labels only {hardOnly:F3}");
        Assert.True(withDistillation > hardOnly + 0.05, $"test accuracy with distillation {withDistillation:F3}, hard labels only {hardOnly:F3}");
    }

    static string TinyTeacher(string name, Func<BertConfig, PretrainedModel> build, WordPieceTokenizer tok)
    {
        var dir = TestUtil.TempDir(name);
        var config = TrainingTestUtil.TinyBert(tok.VocabSize);
        config.NumHiddenLayers = 4;
        config.PadTokenId = tok.PadId;
        using var model = build(config);
        model.SavePretrained(dir);
        tok.SaveForModel(dir, config.MaxPositions);
        return dir;
    }

    static string[] Texts(int n, int seed)
    {
        var vocab = "the cat dog sat ran on mat log a big small red blue good bad great awful film movie was is very not".Split(' ');
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => string.Join(" ", Enumerable.Range(0, 3 + rng.Next(6)).Select(_ => vocab[rng.Next(vocab.Length)]))).ToArray();
    }

    /// <summary>The student's embeddings move towards the teacher's, and the saved student is an ordinary embedding model.</summary>
    [Fact]
    public void EmbedDistillationApproachesTheTeacherAndLoadsInEmbedder()
    {
        TestUtil.Init(5);
        var tok = TrainingTestUtil.Vocab();
        var teacherDir = TinyTeacher("embed-teacher", c => new BertModel(c), tok);
        var root = TestUtil.TempDir("embed-distill");
        var trainFile = Path.Combine(root, "sentences.txt");
        var validationFile = Path.Combine(root, "validation.txt");
        File.WriteAllLines(trainFile, Texts(200, 1));
        var heldOut = Texts(40, 2);
        File.WriteAllLines(validationFile, heldOut);
        var output = Path.Combine(root, "student");

        using var teacherHandle = ModelHub.Load(teacherDir);
        var teacherEmbeddings = new Embedder(teacherHandle).Embed(heldOut);
        double MeanCosine(float[][] got) => got.Select((g, i) => Embedder.Cosine(g, teacherEmbeddings[i])).Average();

        // Before: a fresh student of the same shape and seed, untrained.
        TorchRuntime.Seed(42);
        var spec = new DistillSpec
        {
            Task = "embed", Teacher = teacherDir, Train = trainFile, Validation = validationFile, Output = output,
            Shape = new StudentShape(1), InitFromTeacher = false,
            Training = new TrainingOptions { MaxSteps = 120, BatchSize = 16, LearningRate = 3e-3, EvalEvery = 0, SaveEvery = 0 },
        };
        using var fresh = (BertModel)DistillationRuns.NewStudent(teacherHandle.Model, "BertModel", spec, out _);
        var untrained = new EmbeddingDistillationObjective(fresh, tok, heldOut, teacherEmbeddings, heldOut, teacherEmbeddings, 64, 1, CPU);
        double before = MeanCosine(untrained.Embed(heldOut.Select(t => tok.Encode(t)).ToList()));

        var result = DistillationRuns.Distill(spec);
        using var studentHandle = ModelHub.Load(output);
        var embedder = new Embedder(studentHandle);
        Assert.Equal(Pooling.Mean, embedder.Pooling);
        Assert.Equal(1, ((BertConfig)studentHandle.Config).NumHiddenLayers);
        double after = MeanCosine(embedder.Embed(heldOut));
        log.WriteLine($"mean cosine to the teacher: {before:F3} before, {after:F3} after");
        Assert.True(after > before + 0.2 && after > 0.8, $"mean cosine to the teacher: {before:F3} before, {after:F3} after");
        Assert.Equal(result.StudentMetrics!["cosine"], after, 3);
    }

    /// <summary>The teacher's logits are computed once for a two-epoch run, and a later run with the same cache does not run it at all.</summary>
    [Fact]
    public void TeacherRunsOnceAcrossEpochsAndTheCacheIsReused()
    {
        TestUtil.Init(9);
        var tok = TrainingTestUtil.Vocab();
        var teacherDir = TinyTeacher("clf-teacher", c => { c.SetLabels(["neg", "pos"]); return new BertForSequenceClassification(c); }, tok);
        var root = TestUtil.TempDir("clf-distill");
        var trainFile = Path.Combine(root, "train.csv");
        var (rows, _) = Sentences(30, seed: 4);
        File.WriteAllLines(trainFile, ["text,label", .. rows.Select(e => $"{e.Text},{(e.Label == 1 ? "pos" : "neg")}")]);
        var cache = Path.Combine(root, "teacher.safetensors");
        DistillSpec Spec(string output) => new()
        {
            Teacher = teacherDir, Train = trainFile, Validation = trainFile, Output = Path.Combine(root, output), Shape = new StudentShape(2),
            TeacherCache = cache, Training = new TrainingOptions { Epochs = 2, BatchSize = 8, LearningRate = 1e-3, EvalEvery = 0, SaveEvery = 0 },
        };
        var first = DistillationRuns.Distill(Spec("a"));
        Assert.Equal(30, first.TeacherForwardExamples);
        Assert.Equal(8, first.Training.Steps); // 2 epochs of 30 rows in batches of 8
        Assert.Equal(new[] { 0, 2 }, first.InitializedFromLayers!);
        Assert.True(first.StudentParameters < first.TeacherParameters);
        Assert.NotNull(first.TeacherMetrics);
        var second = DistillationRuns.Distill(Spec("b"));
        Assert.Equal(0, second.TeacherForwardExamples);
        // The student is an ordinary classifier directory.
        using var classifier = new Classifier(Path.Combine(root, "b"));
        Assert.Equal(new[] { "neg", "pos" }, classifier.Labels);
    }

    /// <summary>A fresh student of the teacher's width starts from teacher layers ⌊i·L_t/L_s⌋, its embeddings and head.</summary>
    [Fact]
    public void StudentStartsFromEveryOtherTeacherLayer()
    {
        TestUtil.Init(3);
        var tok = TrainingTestUtil.Vocab();
        var config = TrainingTestUtil.TinyBert(tok.VocabSize);
        config.NumHiddenLayers = 4;
        using var teacher = new BertForMaskedLM(config);
        var spec = new DistillSpec { Teacher = "-", Train = "-", Output = "-", Shape = new StudentShape(2) };
        using var student = DistillationRuns.NewStudent(teacher, "BertForMaskedLM", spec, out var from);
        Assert.Equal(new[] { 0, 2 }, from!);
        var t = teacher.state_dict();
        var s = student.state_dict();
        Assert.Equal(0, TestUtil.MaxAbsDiff(s["bert.encoder.layer.1.attention.self.query.weight"], t["bert.encoder.layer.2.attention.self.query.weight"]));
        Assert.Equal(0, TestUtil.MaxAbsDiff(s["bert.embeddings.word_embeddings.weight"], t["bert.embeddings.word_embeddings.weight"]));
        Assert.Equal(0, TestUtil.MaxAbsDiff(s["cls.predictions.transform.dense.weight"], t["cls.predictions.transform.dense.weight"]));

        var gpt = TrainingTestUtil.TinyGpt(tok.VocabSize);
        gpt.NLayer = 6;
        using var gptTeacher = new GPT2LMHeadModel(gpt);
        using var gptStudent = DistillationRuns.NewStudent(gptTeacher, "GPT2LMHeadModel", spec with { Shape = new StudentShape(3) }, out var gptFrom);
        Assert.Equal(new[] { 0, 2, 4 }, gptFrom!);
        Assert.Equal(0, TestUtil.MaxAbsDiff(gptStudent.state_dict()["transformer.h.2.mlp.c_fc.weight"], gptTeacher.state_dict()["transformer.h.4.mlp.c_fc.weight"]));
    }
}
