using GptBert.Checkpoints;
using System.Text.Json;
using System.Text.RegularExpressions;
using GptBert.Data;
using GptBert.Engine;
using GptBert.Models;
using GptBert.Pipelines;
using GptBert.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace GptBert.Training;

/// <summary>A fresh student's size; null keeps the teacher's value (the depth must be given).</summary>
public sealed record StudentShape(int? Layers, int? Hidden = null, int? Heads = null);

public sealed record DistillSpec
{
    /// <summary>classify (soft labels), embed (sentence embeddings), mlm or clm (token distributions).</summary>
    public string Task { get; init; } = "classify";
    /// <summary>Built-in name or directory: a fine-tuned classifier (classify), any encoder (embed), a BERT with its MLM head (mlm) or a GPT-2 (clm).</summary>
    public required string Teacher { get; init; }
    public required string Train { get; init; }
    public string? Validation { get; init; }
    public required string Output { get; init; }
    /// <summary>A student directory to start from; null builds a fresh one of <see cref="Shape"/> in the teacher's family, with its tokenizer.</summary>
    public string? Student { get; init; }
    public StudentShape? Shape { get; init; }
    /// <summary>DistilBERT-style: a fresh student of the teacher's width starts from every (L_t / L_s)-th teacher layer, and its embeddings and head.</summary>
    public bool InitFromTeacher { get; init; } = true;
    public double Temperature { get; init; } = DistillationLoss.DefaultTemperature;
    public double Alpha { get; init; } = DistillationLoss.DefaultAlpha;
    public int MaxLength { get; init; } = 128;
    public LabeledFormatOptions? Format { get; init; }
    public TextCorpusOptions? Corpus { get; init; }
    /// <summary>Where the teacher's outputs are cached (default: teacher-outputs.safetensors in the output directory).</summary>
    public string? TeacherCache { get; init; }
    public string? Device { get; init; }
    public TrainingOptions Training { get; init; } = new() { Epochs = 3, LearningRate = 5e-5, EvalEvery = 0, SaveEvery = 0 };
    public bool Resume { get; init; }
}

/// <summary>What a distillation run did: sizes, how often the teacher ran, and both models' validation metrics.</summary>
public sealed record DistillResult(TrainingResult Training, string Task, long TeacherParameters, long StudentParameters,
    int TeacherLayers, int StudentLayers, IReadOnlyList<int>? InitializedFromLayers, long TeacherForwardExamples,
    IReadOnlyDictionary<string, double>? TeacherMetrics, IReadOnlyDictionary<string, double>? StudentMetrics, string SelectionMetric)
{
    /// <summary>Median batch-1 forward time over validation texts (classify with validation data only), in milliseconds.</summary>
    public double? TeacherLatencyMs { get; init; }
    public double? StudentLatencyMs { get; init; }
}

/// <summary>
/// The pipeline behind `gptbert distill`: teacher → (cached) teacher outputs → student → distillation objective → the
/// one <see cref="Trainer"/>. The output directory is an ordinary model directory of the student.
/// </summary>
public static class DistillationRuns
{
    public static DistillResult Distill(DistillSpec spec, RunReporting? reporting = null)
    {
        DistillationLoss.Validate(spec.Temperature, spec.Alpha);
        if (spec.Student is null && spec.Shape?.Layers is null)
            throw new GptBertException("give Student (a model directory) or the student's Layers (with optional Hidden and Heads)") { RelatedParameters = ["Student", "Layers"] };
        if (spec.Student is not null && spec.Shape is not null)
            throw new GptBertException("give Student or a student shape (Layers, Hidden, Heads), not both") { RelatedParameters = ["Student", "Layers"] };
        var device = TorchRuntime.ResolveDevice(spec.Device);
        TrainingRuns.CheckPrecision(spec.Training.Precision, device);
        Directory.CreateDirectory(spec.Output);
        return spec.Task switch
        {
            "classify" => DistillClassifier(spec, device, reporting),
            "embed" => DistillEmbedder(spec, device, reporting),
            "mlm" or "clm" => DistillLanguageModel(spec, device, reporting),
            _ => throw new GptBertException($"Task must be classify, embed, mlm or clm (got '{spec.Task}')") { Parameter = "Task" },
        };
    }

    // ---- classify -------------------------------------------------------------------------------------------------

    static DistillResult DistillClassifier(DistillSpec spec, Device device, RunReporting? reporting)
    {
        string teacherDir = ModelHub.ExistingDirectory(spec.Teacher);
        var teacherConfig = ModelConfig.Load(Path.Combine(teacherDir, "config.json"));
        string arch = teacherConfig is Gpt2Config ? "GPT2ForSequenceClassification" : "BertForSequenceClassification";
        if (teacherConfig.Id2Label is not { Count: > 0 } || ModelFactory.DefaultArchitecture(teacherConfig) != arch)
            throw new GptBertException($"teacher {spec.Teacher} is not a fine-tuned classifier (config.json has no labels or is {ModelFactory.DefaultArchitecture(teacherConfig)}); fine-tune one first") { Parameter = "Teacher" };
        var labels = LabelSet.FromLabels(teacherConfig.Labels);

        var format = spec.Format ?? new LabeledFormatOptions();
        var trainSet = LabeledDataset.Load(spec.Train, format);
        var validationSet = spec.Validation is null ? null : LabeledDataset.Load(spec.Validation, format with { RequireTwoLabels = false });
        foreach (var set in new[] { trainSet, validationSet })
            if (set?.Select(e => e.Label).FirstOrDefault(l => !labels.Contains(l)) is { } unknown)
                throw new GptBertException($"label '{unknown}' in {set.Name} is not one of the teacher's labels ({labels}); distill on data labelled like the teacher's") { Parameter = "Teacher" };

        using var teacher = ModelHub.Load(spec.Teacher, arch, device: spec.Device);
        int maxLength = Math.Min(spec.MaxLength, teacher.Model.Config.MaxPositions);
        var train = TrainingRuns.ToExamples(trainSet, labels);
        var validation = validationSet is null ? [] : TrainingRuns.ToExamples(validationSet, labels);

        // The teacher's logits for every training row: computed once (or read back), reused by every epoch.
        long forwarded = 0;
        string fingerprint = Fingerprint($"classify:{format.TextColumn}:{format.PairColumn}", teacherDir, spec.Train, maxLength, train.Count);
        var teacherLogits = TeacherCache.GetOrCompute(spec.TeacherCache ?? Path.Combine(spec.Output, "teacher-outputs.safetensors"), fingerprint, train.Count, idx =>
        {
            forwarded += idx.Length;
            return TeacherLogits(teacher, idx.Select(i => train[i]).ToList(), maxLength);
        }, info: reporting?.Info);
        IReadOnlyDictionary<string, double>? teacherMetrics = validation.Count == 0 ? null
            : new ClassificationObjective(teacher.Model, teacher.Tokenizer, validation, validation, labels, maxLength, spec.Training.Seed, teacher.Device).Evaluate();

        TorchRuntime.Seed(spec.Training.Seed);
        int[]? fromLayers = null;
        PretrainedModel student;
        ITextTokenizer tok;
        if (spec.Student is not null)
            (student, tok) = TrainingRuns.LoadClassifier(spec.Student, labels);
        else
        {
            student = NewStudent(teacher.Model, arch, spec, out fromLayers);
            tok = teacher.Tokenizer;
        }
        using var _s = student;
        student.to(device);
        student.train();
        maxLength = Math.Min(maxLength, student.Config.MaxPositions);
        var objective = new ClassificationDistillationObjective(student, tok, train, validation, labels, maxLength, spec.Training.Seed, device,
            teacherLogits, spec.Temperature, spec.Alpha);
        reporting?.Info?.Invoke($"teacher {teacher.Model.Architecture}: {teacher.Model.ParameterCount:N0} parameters; student: {student.ParameterCount:N0} parameters; " +
            $"{train.Count} training / {validation.Count} validation examples; T = {spec.Temperature}, alpha = {spec.Alpha}");
        var result = TrainingRuns.Run(objective, tok, spec.Training, spec.Output, spec.Resume, reporting);
        // The trained weights are those of the last step; the latency depends only on the shape.
        var sample = validation.Take(LatencySamples).ToList();
        return new DistillResult(result, spec.Task, teacher.Model.ParameterCount, student.ParameterCount, Layers(teacher.Model.Config), Layers(student.Config),
            fromLayers, forwarded, teacherMetrics, result.BestMetrics, objective.SelectionMetric)
        {
            TeacherLatencyMs = sample.Count == 0 ? null : BatchOneLatency(teacher.Model, teacher.Tokenizer, teacher.Device, sample, maxLength),
            StudentLatencyMs = sample.Count == 0 ? null : BatchOneLatency(student, tok, device, sample, maxLength),
        };
    }

    const int LatencySamples = 50;

    /// <summary>Median milliseconds of one classifier forward pass at batch 1 (eval mode, no gradients; two warm-up passes).</summary>
    public static double BatchOneLatency(PretrainedModel model, ITextTokenizer tok, Device device, IReadOnlyList<ClassificationExample> texts, int maxLength)
    {
        bool wasTraining = model.training;
        model.eval();
        var times = new List<double>();
        using (no_grad())
            for (int i = -2; i < texts.Count; i++)
            {
                var e = texts[Math.Max(i, 0)];
                var enc = tok.Encode(e.Text, e.Pair, maxLength: maxLength);
                var clock = System.Diagnostics.Stopwatch.StartNew();
                using (var scope = NewDisposeScope())
                {
                    var (ids, mask, types, _) = Batching.ToTensors([enc], tok.PadId ?? tok.EosId ?? 0, device);
                    Classifier.Logits(model, ids, mask, types).cpu();
                }
                if (i >= 0) times.Add(clock.Elapsed.TotalMilliseconds);
            }
        model.train(wasTraining);
        times.Sort();
        return times[times.Count / 2];
    }

    static float[][] TeacherLogits(ModelHandle teacher, IReadOnlyList<ClassificationExample> rows, int maxLength)
    {
        var model = teacher.Model;
        model.eval();
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var enc = rows.Select(e => teacher.Tokenizer.Encode(e.Text, e.Pair, maxLength: maxLength)).ToList();
        var (ids, mask, types, _) = Batching.ToTensors(enc, teacher.Tokenizer.PadId ?? teacher.Tokenizer.EosId ?? 0, teacher.Device);
        using var logits = Classifier.Logits(model, ids, mask, types).to(ScalarType.Float32).cpu(); // (B, K)
        int K = (int)logits.shape[1];
        var flat = TensorBytes.ToArray<float>(logits);
        return Enumerable.Range(0, rows.Count).Select(i => flat.AsSpan(i * K, K).ToArray()).ToArray();
    }

    // ---- embed ----------------------------------------------------------------------------------------------------

    static DistillResult DistillEmbedder(DistillSpec spec, Device device, RunReporting? reporting)
    {
        string teacherDir = ModelHub.ExistingDirectory(spec.Teacher);
        var teacherConfig = ModelConfig.Load(Path.Combine(teacherDir, "config.json"));
        using var teacherHandle = ModelHub.Load(spec.Teacher, teacherConfig is Gpt2Config ? "GPT2Model" : "BertModel", device: spec.Device);
        var teacher = new Embedder(teacherHandle);
        if (spec.Shape?.Hidden is int width && width != teacher.Dimension)
            throw new GptBertException($"the teacher's embeddings have {teacher.Dimension} dimensions but the student's Hidden is {width}; embedding distillation keeps the teacher's width (omit Hidden or give {teacher.Dimension})") { Parameter = "Hidden" };
        int maxLength = Math.Min(spec.MaxLength, teacherConfig.MaxPositions);
        var trainTexts = ReadTexts(spec.Train);
        List<string> validationTexts;
        if (spec.Validation is not null) validationTexts = ReadTexts(spec.Validation);
        else
        {
            int held = trainTexts.Count >= 20 ? Math.Max(1, trainTexts.Count / 20) : 0;
            var shuffled = new List<string>(trainTexts);
            new SeededRandom(spec.Training.Seed).Shuffle(shuffled);
            (trainTexts, validationTexts) = (shuffled.Skip(held).ToList(), shuffled.Take(held).ToList());
            if (held > 0) reporting?.Info?.Invoke($"holding out {held} of the training texts for validation (5%)");
        }

        long forwarded = 0;
        string fingerprint = Fingerprint("embed", teacherDir, spec.Train, maxLength, trainTexts.Count, spec.Training.Seed);
        var targets = TeacherCache.GetOrCompute(spec.TeacherCache ?? Path.Combine(spec.Output, "teacher-outputs.safetensors"), fingerprint, trainTexts.Count, idx =>
        {
            forwarded += idx.Length;
            return teacher.Embed(idx.Select(i => trainTexts[i]).ToList(), maxLength);
        }, chunk: 256, info: reporting?.Info);
        var validationTargets = validationTexts.Count == 0 ? [] : teacher.Embed(validationTexts, maxLength);

        TorchRuntime.Seed(spec.Training.Seed);
        int[]? fromLayers = null;
        BertModel student;
        ITextTokenizer tok;
        if (spec.Student is not null)
        {
            string dir = ModelHub.ExistingDirectory(spec.Student);
            if (ModelConfig.Load(Path.Combine(dir, "config.json")) is not BertConfig)
                throw new GptBertException($"embedding distillation trains a BERT encoder; student {spec.Student} is a GPT-2") { Parameter = "Student" };
            var (loaded, _) = ModelFactory.Load(dir, "BertModel", training: true);
            student = (BertModel)loaded;
            try { tok = ModelHub.LoadTokenizer(null, dir, spec.Student, student.Config); }
            catch { student.Dispose(); throw; }
        }
        else
        {
            if (teacherHandle.Model is not BertModel)
                throw new GptBertException($"a fresh embedding student is a BERT of the teacher's family; teacher {spec.Teacher} is a GPT-2, so give a BERT Student directory") { Parameter = "Student" };
            student = (BertModel)NewStudent(teacherHandle.Model, "BertModel", spec, out fromLayers);
            tok = teacherHandle.Tokenizer;
        }
        using var _s = student;
        student.to(device);
        student.train();
        maxLength = Math.Min(maxLength, student.Config.MaxPositions);
        var objective = new EmbeddingDistillationObjective(student, tok, trainTexts, targets, validationTexts, validationTargets, maxLength, spec.Training.Seed, device);
        reporting?.Info?.Invoke($"teacher: {teacherHandle.Model.ParameterCount:N0} parameters; student BertModel: {student.ParameterCount:N0} parameters; " +
            $"{trainTexts.Count} training / {validationTexts.Count} validation texts; loss: MSE to the teacher's normalised embeddings");
        var result = TrainingRuns.Run(objective, tok, spec.Training, spec.Output, spec.Resume, reporting);
        WriteSentenceTransformersLayout(spec.Output, student.Cfg.HiddenSize, maxLength);
        var teacherMetrics = validationTexts.Count == 0 ? null : new Dictionary<string, double> { ["loss"] = 0, ["cosine"] = 1 };
        return new DistillResult(result, spec.Task, teacherHandle.Model.ParameterCount, student.ParameterCount, Layers(teacherConfig), Layers(student.Config),
            fromLayers, forwarded, teacherMetrics, result.BestMetrics, objective.SelectionMetric);
    }

    /// <summary>One text per line (blank lines skipped), or the "text" field of each JSON Lines object.</summary>
    static List<string> ReadTexts(string path)
    {
        if (!File.Exists(path)) throw new GptBertException($"text file '{path}' not found");
        bool jsonl = path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase);
        var texts = new List<string>();
        long line = 0;
        foreach (var raw in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(raw)) continue;
            if (!jsonl) { texts.Add(raw.Trim()); continue; }
            try
            {
                using var doc = JsonDocument.Parse(raw);
                if (doc.RootElement.TryGetProperty("text", out var t) && t.GetString() is { Length: > 0 } s) texts.Add(s);
            }
            catch (JsonException e) { throw new GptBertException($"{path} line {line}: not a JSON object ({e.Message}); give one {{\"text\": ...}} per line"); }
        }
        if (texts.Count == 0) throw new GptBertException($"{path} has no texts; give one sentence per line (or {{\"text\": ...}} JSON Lines)");
        return texts;
    }

    /// <summary>modules.json, mean pooling and normalisation: the student loads in sentence-transformers as MiniLM does.</summary>
    static void WriteSentenceTransformersLayout(string dir, int dimension, int maxLength)
    {
        Directory.CreateDirectory(Path.Combine(dir, "1_Pooling"));
        Directory.CreateDirectory(Path.Combine(dir, "2_Normalize"));
        AtomicFile.WriteAllText(Path.Combine(dir, "sentence_bert_config.json"), $$"""{ "max_seq_length": {{maxLength}}, "do_lower_case": false }""");
        AtomicFile.WriteAllText(Path.Combine(dir, "modules.json"), """
            [
              {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
              {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
              {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}
            ]
            """);
        AtomicFile.WriteAllText(Path.Combine(dir, "1_Pooling", "config.json"), $$"""
            { "word_embedding_dimension": {{dimension}}, "pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true,
              "pooling_mode_max_tokens": false, "pooling_mode_mean_sqrt_len_tokens": false }
            """);
    }

    // ---- mlm / clm ------------------------------------------------------------------------------------------------

    static DistillResult DistillLanguageModel(DistillSpec spec, Device device, RunReporting? reporting)
    {
        bool gpt = spec.Task == "clm";
        string arch = gpt ? "GPT2LMHeadModel" : "BertForMaskedLM";
        string teacherDir = ModelHub.ExistingDirectory(spec.Teacher);
        var teacherConfig = ModelConfig.Load(Path.Combine(teacherDir, "config.json"));
        if (teacherConfig is Gpt2Config != gpt)
            throw new GptBertException($"Task {spec.Task} distills a {(gpt ? "GPT-2" : "BERT")}; teacher {spec.Teacher} is a {(gpt ? "BERT" : "GPT-2")} (use {(gpt ? "mlm" : "clm")})") { Parameter = "Task" };
        using var teacher = ModelHub.Load(spec.Teacher, arch, device: spec.Device);
        teacher.Model.eval();

        TorchRuntime.Seed(spec.Training.Seed);
        int[]? fromLayers = null;
        PretrainedModel student;
        ITextTokenizer tok = teacher.Tokenizer;
        if (spec.Student is not null)
        {
            string dir = ModelHub.ExistingDirectory(spec.Student);
            (student, _) = ModelFactory.Load(dir, arch, training: true);
            if (student.Config.VocabSize != teacher.Model.Config.VocabSize)
            {
                student.Dispose();
                throw new GptBertException($"student {spec.Student} has {student.Config.VocabSize} token ids but the teacher has {teacher.Model.Config.VocabSize}; token-level distillation needs the teacher's vocabulary") { Parameter = "Student" };
            }
        }
        else student = NewStudent(teacher.Model, arch, spec, out fromLayers);
        using var _s = student;
        int block = Math.Min(spec.MaxLength, Math.Min(student.Config.MaxPositions, teacher.Model.Config.MaxPositions));
        var pretrain = new PretrainSpec
        {
            Arch = gpt ? "gpt" : "bert", Data = spec.Train, Validation = spec.Validation, Output = spec.Output,
            Shape = new ModelShape(MaxLength: block), Resume = spec.Resume, Corpus = spec.Corpus,
        };
        var corpus = TextCorpus.Open(spec.Train, spec.Corpus);
        var (train, validation) = TrainingRuns.BuildStreams(pretrain, corpus, tok, gpt ? tok.EosId : tok.SepId);
        using var _t = train; using var _v = validation;
        student.to(device);
        student.train();
        ITrainingObjective Inner(PretrainedModel m, Device d) => gpt
            ? new CausalLmObjective((GPT2LMHeadModel)m, train, validation, block, spec.Training.Seed, d)
            : new MaskedLmObjective(m, tok, train, validation, block, spec.Training.Seed, d);
        var objective = new LanguageModelDistillationObjective(Inner(student, device), teacher.Model, spec.Temperature, spec.Alpha);
        var teacherMetrics = Inner(teacher.Model, teacher.Device).Evaluate();
        reporting?.Info?.Invoke($"teacher {arch}: {teacher.Model.ParameterCount:N0} parameters; student: {student.ParameterCount:N0} parameters; " +
            $"{train.Length:N0} training tokens in blocks of {block}; the teacher's token distributions are computed on the fly (too large to cache)");
        var result = TrainingRuns.Run(objective, tok, spec.Training, spec.Output, spec.Resume, reporting);
        return new DistillResult(result, spec.Task, teacher.Model.ParameterCount, student.ParameterCount, Layers(teacherConfig), Layers(student.Config),
            fromLayers, objective.TeacherBlocks, teacherMetrics, result.BestMetrics, objective.SelectionMetric);
    }

    // ---- the student ----------------------------------------------------------------------------------------------

    static int Layers(ModelConfig c) => c switch { BertConfig b => b.NumHiddenLayers, Gpt2Config g => g.NLayer, _ => 0 };

    /// <summary>
    /// A fresh <paramref name="architecture"/> of the teacher's family and vocabulary (labels and special ids kept), sized by
    /// the spec's shape; when it has the teacher's width and <see cref="DistillSpec.InitFromTeacher"/> is set, it starts from
    /// the teacher's embeddings, head and layers ⌊i · L_t / L_s⌋ (every other layer for half the depth, as DistilBERT).
    /// </summary>
    public static PretrainedModel NewStudent(PretrainedModel teacher, string architecture, DistillSpec spec, out int[]? fromLayers)
    {
        var shape = spec.Shape ?? throw new GptBertException("the student's Layers are needed") { Parameter = "Layers" };
        var config = teacher.Config with { Quantization = null, Architectures = null };
        int teacherLayers = Layers(teacher.Config);
        switch (config)
        {
            case BertConfig b:
            {
                int width = b.HiddenSize;
                b.NumHiddenLayers = shape.Layers ?? b.NumHiddenLayers;
                b.HiddenSize = shape.Hidden ?? b.HiddenSize;
                b.NumAttentionHeads = shape.Heads ?? (shape.Hidden is null ? b.NumAttentionHeads : Math.Max(1, b.HiddenSize / 64));
                b.IntermediateSize = (int)((long)b.IntermediateSize * b.HiddenSize / width);
                break;
            }
            case Gpt2Config g:
            {
                int width = g.NEmbd;
                g.NLayer = shape.Layers ?? g.NLayer;
                g.NEmbd = shape.Hidden ?? g.NEmbd;
                g.NHead = shape.Heads ?? (shape.Hidden is null ? g.NHead : Math.Max(1, g.NEmbd / 64));
                if (g.NInner is int inner) g.NInner = (int)((long)inner * g.NEmbd / width);
                break;
            }
        }
        int layers = Layers(config), hidden = config is BertConfig bc ? bc.HiddenSize : ((Gpt2Config)config).NEmbd;
        int heads = config is BertConfig bh ? bh.NumAttentionHeads : ((Gpt2Config)config).NHead;
        new ModelShape(layers, hidden, heads, MaxLength: Math.Max(8, config.MaxPositions)).Validate();
        config.Validate("student shape");
        var student = ModelFactory.Create(config, architecture);
        fromLayers = null;
        if (spec.InitFromTeacher && hidden == (teacher.Config is BertConfig tb ? tb.HiddenSize : ((Gpt2Config)teacher.Config).NEmbd))
            fromLayers = CopyTeacherLayers(student, teacher, teacherLayers, layers);
        return student;
    }

    static readonly Regex LayerKey = new(@"^(.*?(?:encoder\.layer|(?:^|\.)h)\.)(\d+)(\..*)$", RegexOptions.Compiled);

    /// <summary>Copies every student tensor from the teacher tensor of the same name (layer i ← layer ⌊i · L_t / L_s⌋) and shape.</summary>
    public static int[] CopyTeacherLayers(PretrainedModel student, PretrainedModel teacher, int teacherLayers, int studentLayers)
    {
        var map = Enumerable.Range(0, studentLayers).Select(i => (int)((long)i * teacherLayers / studentLayers)).ToArray();
        var source = Int8Quantization.FloatStateDict(teacher); // an int8 teacher's layers, dequantized
        using var _ = no_grad();
        foreach (var (key, value) in student.state_dict())
        {
            var m = LayerKey.Match(key);
            string from = m.Success ? $"{m.Groups[1].Value}{map[int.Parse(m.Groups[2].Value)]}{m.Groups[3].Value}" : key;
            if (source.TryGetValue(from, out var t) && t.shape.SequenceEqual(value.shape)) value.copy_(t);
        }
        return map;
    }

    /// <summary>What the cached teacher outputs depend on: the teacher's weights, the data and how it is read.</summary>
    static string Fingerprint(string task, string teacherDir, string train, int maxLength, int count, long? seed = null)
    {
        var weights = Directory.GetFiles(teacherDir).Where(f => f.EndsWith(".safetensors") || f.EndsWith(".bin")).Order()
            .Select(f => $"{Path.GetFileName(f)}:{new FileInfo(f).Length}:{File.GetLastWriteTimeUtc(f):O}");
        var data = new FileInfo(train);
        return JsonSerializer.Serialize(new
        {
            task, teacher = Path.GetFullPath(teacherDir), weights = string.Join(",", weights),
            train = Path.GetFullPath(train), bytes = data.Length, modified = data.LastWriteTimeUtc.ToString("O"), maxLength, count, seed,
        });
    }
}
