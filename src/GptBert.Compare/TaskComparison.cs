using System.Diagnostics;
using GptBert.Data;
using GptBert.Engine;
using GptBert.Models;
using GptBert.Pipelines;
using GptBert.Reporting;
using GptBert.Tokenizers.Training;
using GptBert.Training;

namespace GptBert.Compare;

/// <summary>
/// The fine-tuned tasks beyond classification, GPT vs BERT under one budget:
/// <list type="bullet">
/// <item><b>qa</b>: question answering on SQuAD JSON or JSON Lines (<see cref="QaData"/>). BERT answers extractively
/// (BertForQuestionAnswering: a start/end span of the context), GPT generatively (prompt → greedy answer,
/// <see cref="GenerativeAnswerer"/>). Quality: squad_f1 (the primary metric) and squad_exact_match on --test, as fractions (SQuAD reports percent).</item>
/// <item><b>ner</b>: token classification on CoNLL or JSON Lines (<see cref="TaggedSentences"/>): BertForTokenClassification
/// vs GPT2ForTokenClassification. Quality: seqeval entity F1 (strict IOB2, the primary metric), precision, recall, and
/// token accuracy over all words on --test.</item>
/// </list>
/// Each candidate is trained by <see cref="TrainingRuns.Finetune"/> exactly as `gptbert finetune --task qa|ner` trains it
/// (one budget, one learning-rate rule, seeds 1..N), then scored, then probed for latency (one question or sentence at a
/// time) and throughput (the best of batches of 1, 8 and 32) with its peak memory measured in-process.
/// </summary>
static partial class TaskComparison
{
    /// <summary>
    /// One candidate: how `finetune` builds it (Model, or Arch + Shape + Tokenizer from scratch) and its learning rate. An
    /// untrained candidate (summarize's extractive BERT: sentence centrality needs no training) is scored as Model is.
    /// </summary>
    sealed record Plan(string Name, string Family, string Source, string? Model, string? Arch, ModelShape Shape, string? Tokenizer, double LearningRate, ModelHead Head)
    {
        public bool Untrained { get; init; }
        /// <summary>Builds the starting model of one seed (the encoder-decoder's warm start from fresh halves) and returns its directory, used as Model.</summary>
        public Func<int, string>? Build { get; init; }
    }

    /// <summary>What differs between the tasks: the data's texts, scoring a trained directory, and one inference call on test items.</summary>
    sealed record Parts(string FinetuneTask, string CurveMetric, IReadOnlyList<string> TrainTexts, DatasetProfile Profile, int TestCount,
        Func<string, Dictionary<string, double>> Evaluate, Func<string, IDisposable> Open, Action<IDisposable, IReadOnlyList<int>> Infer,
        Func<IDisposable, PretrainedModel> ModelOf)
    {
        /// <summary>Rows for a family that cannot do the task (BERT for translation and chat), shown in the report with the reason.</summary>
        public IReadOnlyList<CandidateResult> Unsupported { get; init; } = [];
        /// <summary>The task's baselines (lead-N summaries, copying the source), measured once next to the candidates.</summary>
        public Func<List<CandidateResult>>? Baselines { get; init; }
        /// <summary>The GPT side learns prompt → completion (or chat turns): its runs select by validation loss.</summary>
        public bool Generative { get; init; }
    }

    public static ComparisonReport Run(CompareSpec spec, RunReporting? reporting)
    {
        var total = Stopwatch.StartNew();
        double workSeconds = 0;
        void Info(string m) => reporting?.Info?.Invoke(m);
        // Candidates first: a checkpoint in the wrong role fails before any data is read.
        if (spec.Bert is not null) CheckRole(spec.Bert, "bert");
        if (spec.Gpt is not null) CheckRole(spec.Gpt, "gpt");
        Directory.CreateDirectory(spec.WorkDirectory);
        var parts = spec.Task switch
        {
            CompareTask.Qa => QaParts(spec, Info),
            CompareTask.Ner => NerParts(spec, Info),
            CompareTask.Summarize => SummarizeParts(spec, Info),
            CompareTask.Translate => TranslateParts(spec, Info),
            CompareTask.Chat => ChatParts(spec, Info),
            _ => throw new ArgumentOutOfRangeException(nameof(spec)),
        };
        var plans = Plans(spec, parts, Info);
        Info($"{plans.Count} candidate(s): {string.Join(", ", plans.Select(p => p.Name))}; {spec.Seeds} seed(s) each; budget {ComparisonRunner.BudgetText(spec)}");

        var results = new List<CandidateResult>();
        foreach (var plan in plans)
        {
            var quality = new Dictionary<string, List<double>>();
            var seconds = new List<double>(); var cpu = new List<double>(); var peaks = new List<double>(); var curves = new List<TrainingCurve>();
            string? firstDir = null;
            // The metric each run selects its model by: validation exact match (extractive QA), token accuracy (NER), loss (generative QA).
            string curveMetric = (spec.Task == CompareTask.Qa || parts.Generative) && plan.Family is "gpt" or EncoderDecoderFamily ? "loss" : parts.CurveMetric;
            if (plan.Untrained)
            {
                results.Add(Untrained(plan, parts, spec, Info, ref workSeconds));
                continue;
            }
            for (int seed = 1; seed <= spec.Seeds; seed++)
            {
                var dir = Path.Combine(spec.WorkDirectory, ComparisonRunner.Slug(plan.Name), $"seed-{seed}");
                if (Directory.Exists(dir)) Directory.Delete(dir, true);
                var curve = new ComparisonRunner.CurveRecorder(seed, curveMetric);
                Info($"[{plan.Name}] seed {seed}/{spec.Seeds}: fine-tuning ({(parts.Generative ? "prompt → completion" : parts.FinetuneTask)})");
                bool measured = PeakMemory.Reset(); // the run's peak resident memory, measured from here
                var clock = CpuClock.Start();
                string? model = plan.Build?.Invoke(seed) ?? plan.Model; // built inside the clock: the warm start is part of its training cost
                TrainingRuns.Finetune(new FinetuneSpec
                {
                    Task = parts.FinetuneTask, Model = model, Arch = plan.Arch, Shape = plan.Shape, Tokenizer = plan.Tokenizer,
                    Train = spec.Train, Validation = spec.Validation, Output = dir, MaxLength = spec.MaxLength, Device = spec.Device,
                    Training = new TrainingOptions
                    {
                        MaxSteps = spec.BudgetSteps, MaxTokens = spec.BudgetTokens, MaxTime = spec.BudgetTime, BatchSize = spec.BatchSize, Seed = seed,
                        LearningRate = plan.LearningRate, WarmupFraction = 0.1, EvalEvery = 0, SaveEvery = 0, KeepCheckpoints = 1, LogEvery = 5,
                        EvalPoints = spec.EvalPoints, EvaluationOutsideTimeBudget = true,
                    },
                }, new RunReporting(reporting?.Progress ?? TextWriter.Null, reporting?.Interactive, curve.Add));
                var times = clock.Elapsed;
                seconds.Add(times.WallSeconds); cpu.Add(times.CpuSeconds);
                if (measured) peaks.Add(PeakMemory.PeakMb());
                curves.Add(curve.ToCurve());
                var sw = Stopwatch.StartNew();
                var scores = parts.Evaluate(dir);
                foreach (var (k, v) in scores)
                {
                    if (!quality.TryGetValue(k, out var list)) quality[k] = list = [];
                    list.Add(v);
                }
                workSeconds += times.WallSeconds + sw.Elapsed.TotalSeconds;
                Info($"[{plan.Name}] seed {seed}: test {string.Join(", ", scores.Select(kv => $"{kv.Key} {kv.Value:F3}"))}");
                firstDir ??= dir;
            }

            var probeClock = CpuClock.Start();
            bool probeMeasured = PeakMemory.Reset(); // peak memory of the probe: the model loaded and answering
            var (p50, p95, throughput, bestBatch, config, architecture, parameters) = Probe(parts, firstDir!, spec.LatencySamples);
            double peak = PeakMemory.PeakMb();
            var probeTimes = probeClock.Elapsed;
            workSeconds += probeTimes.WallSeconds;
            // Generation runs one token per step: its cost per token is the language-model head's.
            var head = plan.Head;
            results.Add(new CandidateResult
            {
                Name = plan.Name, Family = plan.Family, Source = plan.Source, Architecture = architecture, Parameters = parameters,
                SizeOnDiskBytes = ComparisonRunner.WeightsBytes(firstDir!),
                Quality = quality.ToDictionary(kv => kv.Key, kv => Measured.Of(kv.Value)),
                TrainingSeconds = Measured.Of(seconds), TrainingCpuSeconds = Measured.Of(cpu),
                ProbeSeconds = probeTimes.WallSeconds, ProbeCpuSeconds = probeTimes.CpuSeconds,
                LatencyP50Ms = p50, LatencyP95Ms = p95, ThroughputPerSecond = throughput, BestBatchSize = bestBatch,
                PeakMemoryMb = probeMeasured ? peak : CostModel.EstimatePeakMemoryMb(config, head, bestBatch, spec.MaxLength),
                PeakMemoryEstimateMb = CostModel.EstimatePeakMemoryMb(config, head, bestBatch, spec.MaxLength),
                MemoryMethod = probeMeasured ? "in-process, VmHWM reset" : null,
                TrainingPeakMemoryMb = peaks.Count == spec.Seeds ? Measured.Of(peaks) : null,
                Estimated = probeMeasured ? new HashSet<string>() : new HashSet<string> { nameof(CandidateResult.PeakMemoryMb) },
                FlopsPerToken = CostModel.ForwardFlopsPerToken(config, head, spec.MaxLength),
                Seeds = Enumerable.Range(1, spec.Seeds).ToList(), Curves = curves,
                Trend = BudgetCurves.Trend(curves, higherIsBetter: curveMetric != "loss"),
            });
        }
        results.AddRange(parts.Unsupported);
        var baselines = new List<CandidateResult>();
        if (spec.Baselines && parts.Baselines is not null)
        {
            var clock = Stopwatch.StartNew();
            baselines = parts.Baselines();
            workSeconds += clock.Elapsed.TotalSeconds;
            foreach (var b in baselines) Info($"[{b.Name}] test {string.Join(", ", b.Quality.Select(kv => $"{kv.Key} {kv.Value.Mean:F3}"))}");
        }
        return ComparisonRunner.Report(spec.Task, spec, parts.Profile, results, total, workSeconds, baselines);
    }

    /// <summary>A candidate used as it is (no training, deterministic: scored once): its quality, speed and size.</summary>
    static CandidateResult Untrained(Plan plan, Parts parts, CompareSpec spec, Action<string> info, ref double workSeconds)
    {
        string dir = ModelHub.ResolveDirectory(plan.Source);
        info($"[{plan.Name}] no training: scoring it as it is");
        var clock = CpuClock.Start();
        var scores = parts.Evaluate(dir);
        var evalTimes = clock.Elapsed;
        info($"[{plan.Name}] test {string.Join(", ", scores.Select(kv => $"{kv.Key} {kv.Value:F3}"))}");
        var probeClock = CpuClock.Start();
        bool measured = PeakMemory.Reset();
        var (p50, p95, throughput, bestBatch, config, architecture, parameters) = Probe(parts, dir, spec.LatencySamples);
        double peak = PeakMemory.PeakMb();
        var probeTimes = probeClock.Elapsed;
        workSeconds += evalTimes.WallSeconds + probeTimes.WallSeconds;
        double estimate = CostModel.EstimatePeakMemoryMb(config, plan.Head, bestBatch, spec.MaxLength);
        return new CandidateResult
        {
            Name = plan.Name, Family = plan.Family, Source = plan.Source, Architecture = architecture, Parameters = parameters,
            SizeOnDiskBytes = ComparisonRunner.WeightsBytes(dir),
            Quality = scores.ToDictionary(kv => kv.Key, kv => Measured.Single(kv.Value)),
            TrainingSeconds = Measured.Single(0), TrainingCpuSeconds = Measured.Single(0),
            ProbeSeconds = probeTimes.WallSeconds, ProbeCpuSeconds = probeTimes.CpuSeconds,
            LatencyP50Ms = p50, LatencyP95Ms = p95, ThroughputPerSecond = throughput, BestBatchSize = bestBatch,
            PeakMemoryMb = measured ? peak : estimate, PeakMemoryEstimateMb = estimate,
            MemoryMethod = measured ? "in-process, VmHWM reset" : null,
            Estimated = measured ? new HashSet<string>() : new HashSet<string> { nameof(CandidateResult.PeakMemoryMb) },
            FlopsPerToken = CostModel.ForwardFlopsPerToken(config, plan.Head, spec.MaxLength),
            Seeds = [],
        };
    }

    // ------------------------------------------------------------------ the tasks' parts

    static Parts QaParts(CompareSpec spec, Action<string> info)
    {
        var train = QaData.Load(spec.Train, info);
        var test = QaData.Load(spec.Test, info);
        var validation = spec.Validation is null ? null : QaData.Load(spec.Validation, info);
        static string Text(QaExample e) => e.Question + " " + e.Context;
        var profile = DatasetProfiler.ProfileCorpus(train.Select(Text), validation?.Select(Text), test.Select(Text));
        var options = new QaOptions { MaxLength = spec.MaxLength, AllowNoAnswer = train.Any(e => !e.HasAnswer) };
        var gold = test.Select(e => (IReadOnlyList<string>)e.Answers.Select(a => a.Text).ToList()).ToList();
        return new Parts("qa", "exact_match", [.. train.SelectMany(e => new[] { e.Question, e.Context })], profile, test.Count,
            Evaluate: dir =>
            {
                using var answerer = QuestionAnswerers.Open(dir, device: spec.Device, options: options);
                var (score, _) = QuestionAnswerers.Evaluate(answerer, test);
                // SquadMetrics reports percent; the comparison keeps every quality figure in [0, 1].
                return new Dictionary<string, double> { ["squad_f1"] = score.F1 / 100, ["squad_exact_match"] = score.ExactMatch / 100 };
            },
            Open: dir => QuestionAnswerers.Open(dir, device: spec.Device, options: options),
            Infer: (model, items) => ((IQuestionAnswerer)model).AnswerTexts(items.Select(i => (test[i].Question, test[i].Context)).ToList()),
            ModelOf: model => ((IQuestionAnswerer)model).Handle.Model);
    }

    static Parts NerParts(CompareSpec spec, Action<string> info)
    {
        var train = TaggedSentences.Load(spec.Train, info).Sentences;
        var test = TaggedSentences.Load(spec.Test, info).Sentences;
        var validation = spec.Validation is null ? null : TaggedSentences.Load(spec.Validation, info).Sentences;
        var unseen = TaggedSentences.LabelList(test).Except(TaggedSentences.LabelList(train)).ToList();
        if (unseen.Count > 0)
            throw new GptBertException($"{spec.Test} has tags the training data lacks: {string.Join(", ", unseen)}; add sentences with them to {spec.Train}") { Parameter = "Test" };
        static string Text(TaggedSentence s) => string.Join(' ', s.Words);
        var profile = DatasetProfiler.ProfileCorpus(train.Select(Text), validation?.Select(Text), test.Select(Text));
        var words = test.Select(s => s.Words).ToList();
        TokenClassifier Open(string dir) => new(dir, device: spec.Device, maxLength: spec.MaxLength) { Warn = null };
        return new Parts("ner", "accuracy", [.. train.Select(Text)], profile, test.Count,
            Evaluate: dir =>
            {
                using var tagger = Open(dir);
                var tags = tagger.TagWords(words);
                // A word past the maximum length gets no tag: it counts as "O" (a missed entity, if it was one).
                var predicted = tags.Select(t => (IReadOnlyList<string>)t.Select(w => w.Tag ?? "O").ToList()).ToList();
                var gold = test.Select(s => s.Tags).ToList();
                var score = SeqevalMetrics.Compute(gold, predicted, SeqevalMode.StrictIob2);
                int correct = 0, all = 0;
                for (int s = 0; s < gold.Count; s++)
                    for (int w = 0; w < gold[s].Count; w++) { all++; if (gold[s][w] == predicted[s][w]) correct++; }
                return new Dictionary<string, double>
                {
                    ["entity_f1"] = score.F1, ["entity_precision"] = score.Precision, ["entity_recall"] = score.Recall, ["token_accuracy"] = correct / (double)all,
                };
            },
            Open: Open,
            Infer: (model, items) => ((TokenClassifier)model).TagWords(items.Select(i => words[i]).ToList()),
            ModelOf: model => ((TokenClassifier)model).Handle.Model);
    }

    // ------------------------------------------------------------------ candidates

    static List<Plan> Plans(CompareSpec spec, Parts parts, Action<string> info)
    {
        bool qa = spec.Task == CompareTask.Qa;
        if (parts.Generative) return GenerativePlans(spec, parts, info);
        // Generative QA decodes through the language-model head; the other heads are a few weights over the encoder.
        var gptHead = qa ? ModelHead.LanguageModel : ModelHead.Base;
        var plans = new List<Plan>();
        if (spec.Gpt is not null)
            plans.Add(new Plan(ModelHub.DisplayName(spec.Gpt, "gpt", qa ? "generative" : null), "gpt", spec.Gpt, spec.Gpt, null, new ModelShape(), null, spec.PretrainedLearningRate, gptHead));
        if (spec.Bert is not null)
            plans.Add(new Plan(ModelHub.DisplayName(spec.Bert, "bert"), "bert", spec.Bert, spec.Bert, null, new ModelShape(), null, spec.PretrainedLearningRate, ModelHead.Base));
        if (spec.FromScratch)
        {
            // Same tokenizer budget for both: a vocabulary of the same size learned from the training texts.
            info($"training a {spec.ScratchVocabSize}-token BPE (GPT) and WordPiece (BERT) vocabulary on the training texts");
            foreach (var (family, kind, head) in new[] { ("gpt", TokenizerTraining.Bpe, gptHead), ("bert", TokenizerTraining.WordPiece, ModelHead.Base) })
            {
                var tokDir = Path.Combine(spec.WorkDirectory, $"tokenizer-{kind}");
                var tok = TokenizerTraining.TrainAndSave(kind, parts.TrainTexts, tokDir, new TokenizerTrainingOptions { VocabSize = spec.ScratchVocabSize });
                var shape = CostModel.MatchedShape(family, spec.ScratchParameters, tok.VocabSize, spec.MaxLength, head) with { MaxLength = spec.MaxLength };
                string name = $"{family.ToUpperInvariant()} from scratch{(qa && family == "gpt" ? " (generative)" : "")}";
                plans.Add(new Plan(name, family, "scratch", null, family, shape, tokDir, spec.ScratchLearningRate, head));
            }
        }
        return plans;
    }

    static void CheckRole(string source, string role)
    {
        string dir = ModelHub.ResolveDirectory(source);
        bool gpt = role == "gpt";
        if (!Directory.Exists(dir))
            throw gpt
                ? new GptBertException($"Gpt {source}: not a built-in ({ModelHub.BuiltInList}) and no such directory") { Parameter = "Gpt" }
                : new GptBertException($"Bert {source}: not a built-in ({ModelHub.BuiltInList}) and no such directory") { Parameter = "Bert" };
        bool isGpt = ModelConfig.Load(Path.Combine(dir, "config.json")) is Gpt2Config;
        if (gpt && !isGpt) throw new GptBertException($"Gpt {source} is a BERT checkpoint; pass it as Bert instead") { Parameter = "Gpt", RelatedParameters = ["Bert"] };
        if (!gpt && isGpt) throw new GptBertException($"Bert {source} is a GPT-2 checkpoint; pass it as Gpt instead") { Parameter = "Bert", RelatedParameters = ["Gpt"] };
    }

    // ------------------------------------------------------------------ speed

    /// <summary>
    /// Latency p50/p95 of one test item at a time (two warm-up calls first), and the best throughput (items per second)
    /// over batches of 1, 8 and 32; with the loaded model's config, architecture and parameter count.
    /// </summary>
    static (double P50, double P95, double Throughput, int BestBatch, ModelConfig Config, string Architecture, long Parameters) Probe(Parts parts, string dir, int samples)
    {
        using var model = parts.Open(dir);
        var m = parts.ModelOf(model);
        var times = new List<double>();
        for (int i = 0; i < samples + 2; i++)
        {
            var sw = Stopwatch.StartNew();
            parts.Infer(model, [i % parts.TestCount]);
            if (i >= 2) times.Add(sw.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        double best = 0; int bestBatch = 1;
        foreach (var b in new[] { 1, 8, 32 })
        {
            var batch = Enumerable.Range(0, b).Select(i => i % parts.TestCount).ToList();
            var sw = Stopwatch.StartNew();
            int reps = Math.Max(1, 32 / b);
            for (int rep = 0; rep < reps; rep++) parts.Infer(model, batch);
            double perSecond = reps * b / sw.Elapsed.TotalSeconds;
            if (perSecond > best) { best = perSecond; bestBatch = b; }
        }
        return (SpeedProbe.Percentile(times, 0.5), SpeedProbe.Percentile(times, 0.95), best, bestBatch, m.Config, m.Architecture, m.ParameterCount);
    }
}
