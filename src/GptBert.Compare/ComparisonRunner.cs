using System.Diagnostics;
using GptBert.Data;
using GptBert.Engine;
using GptBert.Models;
using GptBert.Pipelines;
using GptBert.Reporting;
using GptBert.Tokenizers;
using GptBert.Tokenizers.Training;
using GptBert.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace GptBert.Compare;

/// <summary>What `gptbert compare` / `choose` were asked to do.</summary>
public sealed record CompareSpec
{
    public CompareTask Task { get; init; } = CompareTask.Classify;
    public required string Train { get; init; }
    public string? Validation { get; init; }
    public required string Test { get; init; }
    /// <summary>GPT candidate: built-in name or HF directory (null: none given).</summary>
    public string? Gpt { get; init; }
    /// <summary>BERT candidate: built-in name (minilm, arctic-xs) or HF directory.</summary>
    public string? Bert { get; init; }
    /// <summary>GPT-BERT candidate (the third family, "gpt-bert"): a directory from pretrain Arch gpt-bert.</summary>
    public string? GptBert { get; init; }
    /// <summary>Also train a GPT and a BERT from scratch at a matched parameter count.</summary>
    public bool FromScratch { get; init; }
    public long ScratchParameters { get; init; } = 2_000_000;
    public int ScratchVocabSize { get; init; } = 4000;
    public long? BudgetSteps { get; init; }
    /// <summary>Training tokens per run (the tokens the trainer counts: non-padding tokens of each batch), the same for every candidate.</summary>
    public long? BudgetTokens { get; init; }
    public TimeSpan? BudgetTime { get; init; }
    public int Seeds { get; init; } = 3;
    public int MaxLength { get; init; } = 64;
    public int BatchSize { get; init; } = 16;
    /// <summary>Fine-tuning learning rate for pretrained candidates; scratch models use a higher one.</summary>
    public double PretrainedLearningRate { get; init; } = 1e-4;
    public double ScratchLearningRate { get; init; } = 1e-3;
    public int LatencySamples { get; init; } = 30;
    /// <summary>Validation evaluations per run at equal fractions of the budget (the budget curves; the last is the end of the run).</summary>
    public int EvalPoints { get; init; } = 5;
    /// <summary>Run the baselines next to the candidates (classify): majority class, TF-IDF + linear, frozen embeddings + LR.</summary>
    public bool Baselines { get; init; } = true;
    public string? Device { get; init; }
    /// <summary>
    /// Runs each candidate's training runs (classify) and inference probe in child processes (the CLI passes one for its
    /// own executable), so their peak resident memory is measured alone; null: in this process, between resets of the
    /// high-water mark.
    /// </summary>
    public ChildProcessRunner? Isolation { get; init; }
    public LabeledFormatOptions? Format { get; init; }
    public Requirements Requirements { get; init; } = new();
    public required string WorkDirectory { get; init; }
    public string Command { get; init; } = "";

    public void Validate()
    {
        if (Seeds < 1) throw new GptBertException($"Seeds must be at least 1 (got {Seeds})") { Parameter = "Seeds" };
        int budgets = (BudgetSteps is null ? 0 : 1) + (BudgetTokens is null ? 0 : 1) + (BudgetTime is null ? 0 : 1);
        if (budgets == 0)
            throw new GptBertException("no training budget: give BudgetTokens N, BudgetSteps N or BudgetTime D") { RelatedParameters = ["BudgetTokens", "BudgetSteps", "BudgetTime"] };
        if (budgets > 1)
            throw new GptBertException("give one budget: BudgetTokens, BudgetSteps or BudgetTime, not several") { RelatedParameters = ["BudgetTokens", "BudgetSteps", "BudgetTime"] };
        if (BudgetSteps is <= 0) throw new GptBertException($"BudgetSteps must be positive (got {BudgetSteps})") { Parameter = "BudgetSteps" };
        if (BudgetTokens is <= 0) throw new GptBertException($"BudgetTokens must be positive (got {BudgetTokens})") { Parameter = "BudgetTokens" };
        if (BudgetTime is { } t && t <= TimeSpan.Zero) throw new GptBertException($"BudgetTime must be positive (got {t})") { Parameter = "BudgetTime" };
        if (!FromScratch && Gpt is null && Bert is null && GptBert is null)
            throw new GptBertException("no candidates: give Gpt NAME|DIR, Bert NAME|DIR and/or FromScratch") { RelatedParameters = ["Gpt", "Bert", "FromScratch"] };
        if (FromScratch && ScratchParameters < 50_000)
            throw new GptBertException($"ScratchParameters {ScratchParameters} is too small; use at least 50000") { Parameter = "ScratchParameters" };
        if (MaxLength < 8) throw new GptBertException($"MaxLength must be at least 8 (got {MaxLength})") { Parameter = "MaxLength" };
    }
}

/// <summary>
/// Runs every candidate under the same budget and seeds, measures quality, cost and speed the same way
/// for each, and hands the table to <see cref="Decision"/>. Timing is split into the training and
/// evaluation it runs and everything else, so the comparison can state its own overhead.
/// </summary>
public static class ComparisonRunner
{
    sealed record Plan(string Name, string Family, string Source, Func<LabelSet, (PretrainedModel Model, ITextTokenizer Tokenizer)> Build, double LearningRate);

    public static ComparisonReport Run(CompareSpec spec, RunReporting? reporting = null)
    {
        spec.Validate();
        if (spec.Task == CompareTask.Generate) return GenerationComparison.Run(spec, reporting);
        if (spec.Task == CompareTask.Search) return SearchComparison.Run(spec, reporting);
        if (spec.Task is CompareTask.Qa or CompareTask.Ner or CompareTask.Summarize or CompareTask.Translate or CompareTask.Chat) return TaskComparison.Run(spec, reporting);
        var total = Stopwatch.StartNew();
        double workSeconds = 0; // training + evaluation + measurement: what the overhead is relative to
        var device = TorchRuntime.ResolveDevice(spec.Requirements.Device is "cuda" ? "cuda" : spec.Device);
        Directory.CreateDirectory(spec.WorkDirectory);
        void Info(string m) => reporting?.Info?.Invoke(m);

        // Candidates first: a checkpoint in the wrong role should fail before any data is read.
        if (spec.Gpt is not null) Pretrained(spec.Gpt, "gpt", spec);
        if (spec.Bert is not null) Pretrained(spec.Bert, "bert", spec);
        var format = spec.Format ?? new LabeledFormatOptions();
        var train = LabeledDataset.Load(spec.Train, format);
        var test = LabeledDataset.Load(spec.Test, format with { RequireTwoLabels = false });
        var skipped = new List<SkippedRows> { train.Skipped };
        LabeledDataset validation;
        if (spec.Validation is not null)
        {
            validation = LabeledDataset.Load(spec.Validation, format with { RequireTwoLabels = false });
            skipped.Add(validation.Skipped);
        }
        else
        {
            const int minimum = 20;
            if (train.Count < minimum)
                throw new GptBertException($"{spec.Train} has {train.Count} examples; comparing needs at least {minimum} to hold out a validation split (or pass Validation FILE)")
                { RelatedParameters = ["Validation"] };
            var split = train.Split(0.9, 0.1, 0.0, 1);
            (train, validation) = (split.Train, split.Validation);
        }
        skipped.Add(test.Skipped);
        var labels = LabelSet.FromTraining(train);
        labels.Validate(validation);
        labels.Validate(test);

        var plans = Plans(spec, train, labels, Info);
        var profile = DatasetProfiler.Profile(train, validation, test, null) with { Skipped = skipped };
        Info($"{plans.Count} candidate(s): {string.Join(", ", plans.Select(p => p.Name))}; {spec.Seeds} seed(s) each; budget {BudgetText(spec)}");

        var results = new List<CandidateResult>();
        foreach (var plan in plans)
        {
            var quality = new Dictionary<string, List<double>> { ["accuracy"] = [], ["macro_f1"] = [] };
            var trainSeconds = new List<double>();
            var trainCpu = new List<double>();
            var trainPeak = new List<double>();
            var curves = new List<TrainingCurve>();
            string? firstModelDir = null;
            (ModelConfig Config, string Architecture, long Parameters)? facts = null;
            for (int seed = 1; seed <= spec.Seeds; seed++)
            {
                var dir = Path.Combine(spec.WorkDirectory, Slug(plan.Name), $"seed-{seed}");
                if (Directory.Exists(dir)) Directory.Delete(dir, true);
                TorchRuntime.Seed(seed);
                var (model, tok) = plan.Build(labels);
                facts ??= (model.Config, model.Architecture, model.ParameterCount);
                var options = new TrainingOptions
                {
                    MaxSteps = spec.BudgetSteps, MaxTokens = spec.BudgetTokens, MaxTime = spec.BudgetTime, BatchSize = spec.BatchSize, LearningRate = plan.LearningRate,
                    WarmupFraction = 0.1, Seed = seed, EvalEvery = 0, SaveEvery = 0, KeepCheckpoints = 1, LogEvery = 5,
                    EvalPoints = spec.EvalPoints, EvaluationOutsideTimeBudget = true,
                };
                var curve = new CurveRecorder(seed, "macro_f1");
                Info($"[{plan.Name}] seed {seed}/{spec.Seeds}: training ({model.ParameterCount:N0} parameters){(spec.Isolation is null ? "" : " in a child process")}");
                CpuWall times;
                if (spec.Isolation is { } child)
                {
                    // The run alone in a fresh process: its peak resident memory is the training run's own. The seeded initial
                    // weights go with it, so it trains exactly what the in-process run would.
                    var init = Path.Combine(spec.WorkDirectory, Slug(plan.Name), $"init-{seed}");
                    if (Directory.Exists(init)) Directory.Delete(init, true);
                    model.SavePretrained(init);
                    tok.SaveForModel(init, model.Config.MaxPositions);
                    model.Dispose();
                    var r = child.Run(new ChildWork
                    {
                        Kind = "train", ModelDirectory = Path.GetFullPath(init), OutputDirectory = Path.GetFullPath(dir), Train = [.. train], Validation = [.. validation],
                        MaxLength = spec.MaxLength, Device = spec.Device, Threads = TorchRuntime.Threads, Options = options,
                    }, stderr: reporting?.Progress);
                    foreach (var e in r.Events) curve.Add(e);
                    Directory.Delete(init, true);
                    times = new CpuWall(r.WallSeconds, r.CpuSeconds);
                    trainPeak.Add(r.PeakMemoryMb);
                }
                else
                {
                    PeakMemory.Reset(); // the run's peak resident memory, measured from here
                    var cpu = CpuClock.Start();
                    TrainingRuns.TrainClassifier(model, tok, train, validation, labels, spec.MaxLength, options, dir, device,
                        reporting: new RunReporting(reporting?.Progress ?? TextWriter.Null, reporting?.Interactive, curve.Add));
                    times = cpu.Elapsed;
                    trainPeak.Add(PeakMemory.PeakMb());
                    model.Dispose();
                }
                trainSeconds.Add(times.WallSeconds);
                trainCpu.Add(times.CpuSeconds);
                var sw = Stopwatch.StartNew();
                curves.Add(curve.ToCurve());

                using (var classifier = new Classifier(dir, device: spec.Device, maxLength: spec.MaxLength))
                {
                    var m = classifier.Evaluate(test);
                    quality["accuracy"].Add(m.Accuracy);
                    quality["macro_f1"].Add(m.MacroF1);
                    Info($"[{plan.Name}] seed {seed}: test accuracy {m.Accuracy:F3}, macro-F1 {m.MacroF1:F3}");
                }
                workSeconds += trainSeconds[^1] + sw.Elapsed.TotalSeconds;
                firstModelDir ??= dir;
            }

            var measureClock = CpuClock.Start();
            Info($"[{plan.Name}] measuring latency, throughput and memory{(spec.Isolation is null ? "" : " (in a child process)")}");
            var probe = Probe(spec, firstModelDir!, test.Select(e => (e.Text, e.Pair)).ToList());
            var speed = probe.Speed;
            workSeconds += measureClock.Elapsed.WallSeconds;
            var (config, architecture, parameters) = facts!.Value;
            results.Add(new CandidateResult
            {
                Name = plan.Name, Family = plan.Family, Source = plan.Source, Architecture = architecture,
                Parameters = parameters,
                SizeOnDiskBytes = WeightsBytes(firstModelDir!), ModelDirectory = firstModelDir,
                Quality = quality.ToDictionary(kv => kv.Key, kv => Measured.Of(kv.Value)),
                TrainingSeconds = Measured.Of(trainSeconds), TrainingCpuSeconds = Measured.Of(trainCpu),
                ProbeSeconds = probe.WallSeconds, ProbeCpuSeconds = probe.CpuSeconds,
                LatencyP50Ms = speed.P50Ms, LatencyP95Ms = speed.P95Ms, ThroughputPerSecond = speed.Throughput, BestBatchSize = speed.BestBatch,
                PeakMemoryMb = probe.PeakMemoryMb, MemoryMethod = probe.Method, TrainingPeakMemoryMb = Measured.Of(trainPeak),
                PeakMemoryEstimateMb = CostModel.EstimatePeakMemoryMb(config, ModelHead.Classification, speed.BestBatch, spec.MaxLength),
                FlopsPerToken = CostModel.ForwardFlopsPerToken(config, ModelHead.Classification, spec.MaxLength),
                Seeds = Enumerable.Range(1, spec.Seeds).ToList(),
                Curves = curves, Trend = BudgetCurves.Trend(curves, higherIsBetter: true),
            });
        }

        var baselines = new List<CandidateResult>();
        if (spec.Baselines)
        {
            var clock = Stopwatch.StartNew();
            var berts = plans.Where(p => p.Family == "bert" && p.Source != "scratch").Select(p => p.Source).ToList();
            baselines = Baselines.Run(new Baselines.Inputs(train, validation, test, labels, berts, spec.Seeds, spec.MaxLength,
                spec.LatencySamples, spec.WorkDirectory, spec.Device), Info);
            workSeconds += clock.Elapsed.TotalSeconds;
        }

        return Report(spec.Task, spec, profile, results, total, workSeconds, baselines);
    }

    /// <summary>
    /// The inference probe of a saved classifier with its peak resident memory: in a child process when the spec has one
    /// (the figure is then that of a process that only loaded the model and ran it), else here after resetting the high-water mark.
    /// </summary>
    static ProbeOutcome Probe(CompareSpec spec, string modelDir, List<(string Text, string? Pair)> inputs)
    {
        if (spec.Isolation is { } child)
        {
            var r = child.Run(new ChildWork
            {
                Kind = "probe", ModelDirectory = Path.GetFullPath(modelDir), Texts = inputs.Select(i => i.Text).ToList(), Pairs = inputs.Select(i => i.Pair).ToList(),
                MaxLength = spec.MaxLength, Samples = spec.LatencySamples, Device = spec.Device, Threads = TorchRuntime.Threads,
            });
            return new ProbeOutcome(new SpeedProbe.Result(r.P50Ms, r.P95Ms, r.Throughput, r.BestBatch), r.PeakMemoryMb, r.WallSeconds, r.CpuSeconds, "child process");
        }
        bool reset = PeakMemory.Reset();
        var clock = CpuClock.Start();
        var speed = SpeedProbe.Measure(modelDir, inputs, spec.MaxLength, spec.LatencySamples, spec.Device);
        var t = clock.Elapsed;
        return new ProbeOutcome(speed, PeakMemory.PeakMb(), t.WallSeconds, t.CpuSeconds, reset ? "in-process, VmHWM reset" : "in-process peak");
    }

    /// <summary>The verdict on the measured candidates, and the report around it; what is not training or measuring counts as overhead.</summary>
    internal static ComparisonReport Report(CompareTask task, CompareSpec spec, DatasetProfile profile, List<CandidateResult> results,
        Stopwatch total, double workSeconds, IReadOnlyList<CandidateResult>? baselines = null)
    {
        baselines ??= [];
        var verdict = Decision.Choose(task, profile, spec.Requirements, results, baselines);
        double totalSeconds = total.Elapsed.TotalSeconds;
        return new ComparisonReport
        {
            Task = task, Profile = profile, Requirements = spec.Requirements, Candidates = results, Baselines = baselines, Verdict = verdict,
            Command = spec.Command, Versions = Versions(), Machine = Machine(), Date = DateTime.UtcNow, Budget = BudgetText(spec),
            OverheadFraction = Math.Max(0, (totalSeconds - workSeconds) / totalSeconds), TotalSeconds = totalSeconds,
            Warnings = Contention.Warnings(Contention.RunsOf(results)),
        };
    }

    static List<Plan> Plans(CompareSpec spec, LabeledDataset train, LabelSet labels, Action<string> info)
    {
        var plans = new List<Plan>();
        if (spec.Gpt is not null) plans.Add(Pretrained(spec.Gpt, "gpt", spec));
        if (spec.Bert is not null) plans.Add(Pretrained(spec.Bert, "bert", spec));
        if (spec.GptBert is string gb)
            plans.Add(new Plan(ModelHub.DisplayName(gb, "gpt") + " (GPT-BERT)", "gpt-bert", RequireGptBert(gb), labels => TrainingRuns.LoadClassifier(gb, labels), spec.PretrainedLearningRate));
        if (spec.FromScratch)
        {
            // Same tokenizer budget for both: a vocabulary of the same size learned from the training texts.
            int vocab = spec.ScratchVocabSize;
            info($"training a {vocab}-token BPE (GPT) and WordPiece (BERT) vocabulary on the training texts");
            var texts = train.SelectMany(e => e.Pair is null ? [e.Text] : new[] { e.Text, e.Pair }).ToList();
            var bpe = TokenizerTraining.Train(TokenizerTraining.Bpe, texts, new TokenizerTrainingOptions { VocabSize = vocab });
            var wordpiece = TokenizerTraining.Train(TokenizerTraining.WordPiece, texts, new TokenizerTrainingOptions { VocabSize = vocab });
            foreach (var (family, tok) in new[] { ("gpt", bpe), ("bert", wordpiece) })
            {
                var shape = CostModel.MatchedShape(family, spec.ScratchParameters, tok.VocabSize, spec.MaxLength, ModelHead.Classification);
                plans.Add(new Plan($"{family.ToUpperInvariant()} from scratch", family, "scratch", labelSet =>
                {
                    var config = shape.Config(family, tok);
                    config.SetLabels(labelSet);
                    config.PadTokenId ??= tok.PadId ?? tok.EosId;
                    PretrainedModel m = family == "gpt" ? new GPT2ForSequenceClassification((Gpt2Config)config) : new BertForSequenceClassification((BertConfig)config);
                    return (m, tok);
                }, spec.ScratchLearningRate));
            }
        }
        return plans;
    }

    static Plan Pretrained(string source, string role, CompareSpec spec)
    {
        string dir = ModelHub.ResolveDirectory(source);
        // role "gpt" is CompareSpec.Gpt, "bert" is CompareSpec.Bert
        if (!Directory.Exists(dir))
            throw new GptBertException($"{(role == "gpt" ? "Gpt" : "Bert")} {source}: not a built-in ({ModelHub.BuiltInList}) and no such directory")
            { Parameter = role == "gpt" ? "Gpt" : "Bert" };
        var config = ModelConfig.Load(Path.Combine(dir, "config.json"));
        string family = config is Gpt2Config ? "gpt" : "bert";
        if (family != role)
            throw new GptBertException(family == "gpt"
                ? $"Bert {source} is a GPT-2 checkpoint; pass it as Gpt instead"
                : $"Gpt {source} is a BERT checkpoint; pass it as Bert instead")
            { Parameter = role == "gpt" ? "Gpt" : "Bert", RelatedParameters = [family == "gpt" ? "Gpt" : "Bert"] };
        return new Plan(ModelHub.DisplayName(source, family), family, source, labels => TrainingRuns.LoadClassifier(source, labels), spec.PretrainedLearningRate);
    }

    /// <summary>The GPT-BERT candidate's directory, refused when it is not one (config.json without gpt_bert).</summary>
    internal static string RequireGptBert(string source)
    {
        string dir = ModelHub.ResolveDirectory(source);
        if (!Directory.Exists(dir) || !GptBertVocabulary.IsGptBert(dir))
            throw new GptBertException($"GptBert {source}: not a GPT-BERT directory (config.json with a gpt_bert field); train one with pretrain Arch gpt-bert") { Parameter = "GptBert" };
        return source;
    }

    /// <summary>Bytes of a model's weights, whichever checkpoint format the directory holds.</summary>
    /// <summary>Bytes of the model's weight files (<see cref="Optimizer.WeightFiles"/>), not of other files beside them such
    /// as a distillation's cached teacher outputs.</summary>
    internal static long WeightsBytes(string dir) => Optimizer.WeightFiles(dir).Sum(f => new FileInfo(Path.Combine(dir, f)).Length);

    internal static string Slug(string name) => new(name.ToLowerInvariant().Select(c => char.IsLetterOrDigit(c) ? c : '-').ToArray());

    public static string BudgetText(CompareSpec spec) =>
        spec.BudgetSteps is long s ? $"{s} optimizer steps of {spec.BatchSize} examples per run"
        : spec.BudgetTokens is long t ? $"{t.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} training tokens per run (batches of {spec.BatchSize} examples)"
        : $"{ProgressReporter.FormatDuration(spec.BudgetTime!.Value)} of training per run";

    public static string Versions() =>
        $"GptBert {typeof(ComparisonRunner).Assembly.GetName().Version}, {TorchRuntime.Describe()}, .NET {Environment.Version}";

    public static string Machine()
    {
        string cpu = "unknown CPU";
        try { cpu = File.ReadLines("/proc/cpuinfo").First(l => l.StartsWith("model name")).Split(':', 2)[1].Trim(); } catch (Exception) { }
        double memGb = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 1e9;
        return $"{cpu}, {Environment.ProcessorCount} cores, {memGb:F0} GB memory, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}";
    }

    /// <summary>Collects the loss curve of one run from the trainer's events.</summary>
    /// <param name="seed">The run's seed.</param>
    /// <param name="metric">The validation metric recorded besides the loss (the one the run selects its model by).</param>
    internal sealed class CurveRecorder(int seed, string? metric = null)
    {
        readonly List<double> steps = [], loss = [], evalSteps = [], evalLoss = [], evalMetric = [], evalTokens = [], evalSeconds = [], evalProgress = [];
        public void Add(TrainingEvent e)
        {
            if (e.Kind == "train" && e.Loss is double l) { steps.Add(e.Step); loss.Add(l); }
            if (e.Kind == "eval" && e.Metrics?.TryGetValue("loss", out var v) == true)
            {
                evalSteps.Add(e.Step); evalLoss.Add(v);
                evalMetric.Add(metric is not null && e.Metrics.TryGetValue(metric, out var m) ? m : double.NaN);
                evalTokens.Add(e.Tokens); evalSeconds.Add(e.ElapsedSeconds); evalProgress.Add(e.Progress);
            }
        }
        public TrainingCurve ToCurve() => new(seed, steps, loss, evalSteps, evalLoss)
        {
            Metric = metric, EvalMetric = evalMetric, EvalTokens = evalTokens, EvalSeconds = evalSeconds, EvalProgress = evalProgress,
        };
    }
}
