using GptBert.Models;
using GptBert.Tests.Training;
using GptBert.Tokenizers;
using static GptBert.Tests.Cli.CliHarness;

namespace GptBert.Tests.Cli;

public class CliDistillTests
{
    static string Teacher(string name, PretrainedModel model, ITextTokenizer tok)
    {
        var dir = TestUtil.TempDir(name);
        using (model) model.SavePretrained(dir);
        tok.SaveForModel(dir, model.Config.MaxPositions);
        return dir;
    }

    static string Classifier(string name)
    {
        TestUtil.Init(2);
        var tok = TrainingTestUtil.Vocab();
        var config = TrainingTestUtil.TinyBert(tok.VocabSize);
        config.NumHiddenLayers = 2;
        config.SetLabels(["neg", "pos"]);
        return Teacher(name, new BertForSequenceClassification(config), tok);
    }

    static string LabelledFile(string dir)
    {
        var path = Path.Combine(dir, "train.csv");
        File.WriteAllLines(path, ["text,label", "good film,pos", "great movie,pos", "bad film,neg", "awful movie,neg", "very good,pos", "not good,neg"]);
        return path;
    }

    [Fact]
    public void ClassifyPrintsSizesMetricsAndLatencyAndTheStudentEvaluates()
    {
        var teacher = Classifier("cli-distill-teacher");
        var root = TestUtil.TempDir("cli-distill");
        var train = LabelledFile(root);
        var output = Path.Combine(root, "student");
        var r = Run(null, "distill", "--teacher", teacher, "--train", train, "--validation", train, "--layers", "1", "--output", output,
            "--max-steps", "3", "--batch-size", "2", "--threads", "1", "--json");
        Assert.True(r.ExitCode == 0, r.ToString());
        var j = r.JsonLines.Single();
        Assert.Equal(6, j.GetProperty("teacher_forward_examples").GetInt32());
        Assert.Equal(1, j.GetProperty("student_layers").GetInt32());
        Assert.Equal(2, j.GetProperty("teacher_layers").GetInt32());
        Assert.True(j.GetProperty("student_parameters").GetInt64() < j.GetProperty("teacher_parameters").GetInt64());
        Assert.Equal("macro_f1", j.GetProperty("metric").GetString());
        Assert.True(j.GetProperty("teacher_latency_ms").GetDouble() > 0);
        var eval = Run(null, "evaluate", "--model", output, "--data", train, "--json");
        Assert.True(eval.ExitCode == 0, eval.ToString());
    }

    [Fact]
    public void LanguageModelTasksRunOnTheFly()
    {
        TestUtil.Init(4);
        var root = TestUtil.TempDir("cli-distill-lm");
        var corpus = Path.Combine(root, "corpus.txt");
        File.WriteAllText(corpus, string.Join("\n", Enumerable.Repeat("the cat sat on the mat. the dog ran on the log.", 40)));
        var wordPiece = TrainingTestUtil.Vocab();
        var bert = Teacher("cli-distill-mlm", new BertForMaskedLM(TrainingTestUtil.TinyBert(wordPiece.VocabSize)), wordPiece);
        var mlm = Run(null, "distill", "--task", "mlm", "--teacher", bert, "--train", corpus, "--layers", "1", "--output", Path.Combine(root, "mlm"),
            "--max-steps", "2", "--batch-size", "2", "--max-length", "16", "--threads", "1", "--json");
        Assert.True(mlm.ExitCode == 0, mlm.ToString());
        Assert.Equal(4, mlm.JsonLines.Single().GetProperty("teacher_forward_examples").GetInt32()); // 2 steps x 2 blocks, on the fly

        var gpt = Teacher("cli-distill-clm", new GPT2LMHeadModel(TrainingTestUtil.TinyGpt(wordPiece.VocabSize)), wordPiece);
        var clm = Run(null, "distill", "--task", "clm", "--teacher", gpt, "--train", corpus, "--layers", "1", "--output", Path.Combine(root, "clm"),
            "--max-steps", "2", "--batch-size", "2", "--max-length", "16", "--threads", "1");
        Assert.True(clm.ExitCode == 0, clm.ToString());
        Assert.Contains("initialised from teacher layers 0", clm.Stdout);
    }

    [Fact]
    public void MistakesAreOneLineErrors()
    {
        var teacher = Classifier("cli-distill-errors");
        var root = TestUtil.TempDir("cli-distill-err");
        var train = LabelledFile(root);
        string[] Args(params string[] more) => ["distill", "--teacher", teacher, "--train", train, "--output", Path.Combine(root, "o"), "--max-steps", "1", .. more];
        Assert.Contains("--layers", AssertOneLineError(Run(null, Args()), exitCode: 2));
        Assert.Contains("not both", AssertOneLineError(Run(null, Args("--student", teacher, "--layers", "1")), exitCode: 2));
        Assert.Contains("--alpha", AssertOneLineError(Run(null, Args("--layers", "1", "--alpha", "2"))));
        // A teacher that is not a classifier, and data with labels the teacher lacks.
        var encoder = Teacher("cli-distill-encoder", new BertModel(TrainingTestUtil.TinyBert(TrainingTestUtil.Vocab().VocabSize)), TrainingTestUtil.Vocab());
        Assert.Contains("not a fine-tuned classifier", AssertOneLineError(Run(null, ["distill", "--teacher", encoder, "--train", train, "--layers", "1", "--output", Path.Combine(root, "p")])));
        var other = Path.Combine(root, "other.csv");
        File.WriteAllLines(other, ["text,label", "good film,yes", "bad film,no"]);
        Assert.Contains("not one of the teacher's labels", AssertOneLineError(Run(null, ["distill", "--teacher", teacher, "--train", other, "--layers", "1", "--output", Path.Combine(root, "q")])));
        // Embedding distillation keeps the teacher's width.
        var sentences = Path.Combine(root, "s.txt");
        File.WriteAllLines(sentences, ["the cat sat", "the dog ran"]);
        Assert.Contains("--hidden", AssertOneLineError(Run(null, ["distill", "--task", "embed", "--teacher", encoder, "--train", sentences, "--layers", "1", "--hidden", "16", "--heads", "2", "--output", Path.Combine(root, "r"), "--max-steps", "1"])));
    }
}
