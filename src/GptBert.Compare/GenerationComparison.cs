using System.Diagnostics;
using GptBert.Data;
using GptBert.Engine;
using GptBert.Models;
using GptBert.Pipelines;
using GptBert.Tokenizers;
using GptBert.Tokenizers.Training;
using GptBert.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace GptBert.Compare;

/// <summary>
/// The generate task: GPT candidates are trained as causal language models on --train and scored by held-out
/// loss per character on --test (tokenizer-independent, so different vocabularies stay comparable) and
/// perplexity; BERT candidates are reported as not generators rather than forced into it.
/// </summary>
static class GenerationComparison
{
    public static ComparisonReport Run(CompareSpec spec, RunReporting? reporting)
    {
        var total = Stopwatch.StartNew();
        double workSeconds = 0;
        void Info(string m) => reporting?.Info?.Invoke(m);
        var device = TorchRuntime.ResolveDevice(spec.Device);
        Directory.CreateDirectory(spec.WorkDirectory);
        var corpusOptions = new TextCorpusOptions { Strict = spec.Format?.Strict ?? false, Warn = spec.Format?.Warn };
        var trainCorpus = TextCorpus.Open(spec.Train, corpusOptions);
        var testCorpus = TextCorpus.Open(spec.Test, corpusOptions);
        var validationCorpus = spec.Validation is null ? null : TextCorpus.Open(spec.Validation, corpusOptions);
        var trainTexts = trainCorpus.Documents().ToList();
        var testTexts = testCorpus.Documents().Where(t => !string.IsNullOrWhiteSpace(t)).ToList();
        if (testTexts.Count == 0) throw new GptBertException($"{spec.Test} has no text to score the models on");
        var profile = DatasetProfiler.ProfileCorpus(trainTexts, validationCorpus?.Documents(), testTexts);
        profile = profile with { Skipped = [.. trainCorpus.Skipped, .. validationCorpus?.Skipped ?? [], .. testCorpus.Skipped] };

        var results = new List<CandidateResult>();
        // GPT candidates: (name, source, init dir or null, tokenizer dir, shape)
        var gpts = new List<(string Name, string Source, string? Init, string Tokenizer, ModelShape Shape)>();
        // A GPT-BERT candidate is a GPT-2 too: continued with its own mixed objective, scored causally like the GPTs.
        if (spec.GptBert is string gb)
            gpts.Add((ModelHub.DisplayName(gb, "gpt") + " (GPT-BERT)", ComparisonRunner.RequireGptBert(gb), gb, gb, new ModelShape(MaxLength: spec.MaxLength)));
        if (spec.Gpt is not null)
        {
            if (ModelConfig.Load(Path.Combine(spec.Gpt, "config.json")) is not Gpt2Config)
                throw new GptBertException($"Gpt {spec.Gpt} is a BERT checkpoint; pass it as Bert instead") { Parameter = "Gpt", RelatedParameters = ["Bert"] };
            gpts.Add((ModelHub.DisplayName(spec.Gpt, "gpt"), spec.Gpt, spec.Gpt, spec.Gpt, new ModelShape(MaxLength: spec.MaxLength)));
        }
        if (spec.FromScratch)
        {
            Info($"training a {spec.ScratchVocabSize}-token BPE vocabulary on the training texts");
            var tokDir = Path.Combine(spec.WorkDirectory, "tokenizer-bpe");
            var tok = TokenizerTraining.TrainAndSave(TokenizerTraining.Bpe, trainTexts, tokDir, new TokenizerTrainingOptions { VocabSize = spec.ScratchVocabSize });
            var shape = CostModel.MatchedShape("gpt", spec.ScratchParameters, tok.VocabSize, spec.MaxLength, ModelHead.LanguageModel) with { MaxLength = spec.MaxLength };
            gpts.Add(("GPT from scratch", "scratch", null, tokDir, shape));
        }
        foreach (var g in gpts)
        {
            var lossPerChar = new List<double>(); var perplexity = new List<double>(); var seconds = new List<double>(); var cpu = new List<double>(); var peaks = new List<double>(); var curves = new List<TrainingCurve>();
            string? firstDir = null;
            for (int seed = 1; seed <= spec.Seeds; seed++)
            {
                var dir = Path.Combine(spec.WorkDirectory, ComparisonRunner.Slug(g.Name), $"seed-{seed}");
                if (Directory.Exists(dir)) Directory.Delete(dir, true);
                var curve = new ComparisonRunner.CurveRecorder(seed, "loss");
                Info($"[{g.Name}] seed {seed}/{spec.Seeds}: training a causal language model");
                PeakMemory.Reset(); // the run's peak resident memory, measured from here
                var cpuClock = CpuClock.Start();
                TrainingRuns.Pretrain(new PretrainSpec
                {
                    Arch = g.Name.EndsWith("(GPT-BERT)") ? "gpt-bert" : "gpt", Data = spec.Train, Validation = spec.Validation, Output = dir, Tokenizer = g.Tokenizer, InitFrom = g.Init, Shape = g.Shape,
                    Device = spec.Device,
                    Training = new TrainingOptions
                    {
                        MaxSteps = spec.BudgetSteps, MaxTokens = spec.BudgetTokens, MaxTime = spec.BudgetTime, BatchSize = spec.BatchSize, Seed = seed, WarmupFraction = 0.1,
                        LearningRate = g.Init is null ? spec.ScratchLearningRate : spec.PretrainedLearningRate, EvalEvery = 0, SaveEvery = 0, KeepCheckpoints = 1, LogEvery = 5,
                        EvalPoints = spec.EvalPoints, EvaluationOutsideTimeBudget = true,
                    },
                }, new RunReporting(reporting?.Progress ?? TextWriter.Null, reporting?.Interactive, curve.Add));
                var times = cpuClock.Elapsed;
                seconds.Add(times.WallSeconds); cpu.Add(times.CpuSeconds); peaks.Add(PeakMemory.PeakMb());
                curves.Add(curve.ToCurve());
                var sw = Stopwatch.StartNew();
                var (lpc, ppl) = Score(dir, testTexts, spec.MaxLength, device);
                lossPerChar.Add(lpc); perplexity.Add(ppl);
                workSeconds += seconds[^1] + sw.Elapsed.TotalSeconds;
                Info($"[{g.Name}] seed {seed}: test loss {lpc:F4} nats/char, perplexity {ppl:F1}");
                firstDir ??= dir;
            }
            var clock = CpuClock.Start();
            var (model, _) = ModelFactory.Load(firstDir!, "GPT2LMHeadModel");
            var config = model.Config;
            long parameters = model.ParameterCount;
            model.Dispose();
            bool measured = PeakMemory.Reset(); // peak memory of the latency probe: the model loaded and generating
            var (p50, p95) = GenerationLatency(firstDir!, testTexts, spec);
            double peak = PeakMemory.PeakMb();
            var probeTimes = clock.Elapsed;
            workSeconds += probeTimes.WallSeconds;
            results.Add(new CandidateResult
            {
                Name = g.Name, Family = g.Name.EndsWith("(GPT-BERT)") ? "gpt-bert" : "gpt", Source = g.Source, Architecture = "GPT2LMHeadModel", Parameters = parameters,
                SizeOnDiskBytes = ComparisonRunner.WeightsBytes(firstDir!), ModelDirectory = firstDir,
                Quality = new Dictionary<string, Measured> { ["loss_per_char"] = Measured.Of(lossPerChar), ["perplexity"] = Measured.Of(perplexity) },
                TrainingSeconds = Measured.Of(seconds), TrainingCpuSeconds = Measured.Of(cpu),
                ProbeSeconds = probeTimes.WallSeconds, ProbeCpuSeconds = probeTimes.CpuSeconds, LatencyP50Ms = p50, LatencyP95Ms = p95, ThroughputPerSecond = 1000 / p50, BestBatchSize = 1,
                PeakMemoryMb = measured ? peak : CostModel.EstimatePeakMemoryMb(config, ModelHead.LanguageModel, 1, spec.MaxLength),
                PeakMemoryEstimateMb = CostModel.EstimatePeakMemoryMb(config, ModelHead.LanguageModel, 1, spec.MaxLength),
                MemoryMethod = measured ? "in-process, VmHWM reset" : null, TrainingPeakMemoryMb = measured ? Measured.Of(peaks) : null,
                Estimated = measured ? new HashSet<string>() : new HashSet<string> { nameof(CandidateResult.PeakMemoryMb) },
                FlopsPerToken = CostModel.ForwardFlopsPerToken(config, ModelHead.LanguageModel, spec.MaxLength),
                Seeds = Enumerable.Range(1, spec.Seeds).ToList(), Curves = curves,
                Trend = BudgetCurves.Trend(curves, higherIsBetter: false),
            });
        }
        if (spec.Bert is not null || spec.FromScratch)
            results.Add(new CandidateResult
            {
                Name = spec.Bert is not null ? ModelHub.DisplayName(spec.Bert, "bert") : "BERT from scratch",
                Family = "bert", Source = spec.Bert ?? "scratch", Architecture = "BertForMaskedLM", Supported = false,
                NotSupportedReason = "BERT is an encoder trained to fill in masked tokens; it does not generate text left to right",
            });

        return ComparisonRunner.Report(CompareTask.Generate, spec, profile, results, total, workSeconds);
    }

    /// <summary>Held-out loss in nats per character (summed token NLL over all characters) and per-token perplexity.</summary>
    internal static (double LossPerChar, double Perplexity) Score(string modelDir, IReadOnlyList<string> texts, int maxLength, Device device)
    {
        var (m, _) = ModelFactory.Load(modelDir, "GPT2LMHeadModel");
        using var model = (GPT2LMHeadModel)m;
        model.to(device);
        var tok = TokenizerLoader.Load(modelDir);
        double nll = 0; long tokens = 0, chars = 0;
        using var _ = no_grad();
        foreach (var text in texts)
        {
            var ids = new List<int>();
            if (tok.EosId is int eos) ids.Add(eos); // condition the first token on a document start
            ids.AddRange(tok.Encode(text, addSpecialTokens: false).Ids);
            chars += text.Length;
            // Non-overlapping windows of maxLength + 1 tokens; each window predicts its last maxLength tokens.
            for (int start = 0; start + 1 < ids.Count; start += maxLength)
            {
                int end = Math.Min(ids.Count, start + maxLength + 1);
                using var scope = NewDisposeScope();
                var window = tensor(ids.Skip(start).Take(end - start).Select(i => (long)i).ToArray(), [1, end - start], device: device);
                var logits = model.Forward(window[.., ..^1]);
                var loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), window[0, 1..], reduction: nn.Reduction.Sum);
                nll += loss.item<float>();
                tokens += end - start - 1;
            }
        }
        return (nll / Math.Max(1, chars), Math.Exp(nll / Math.Max(1, tokens)));
    }

    /// <summary>
    /// Latency of one request at batch 1: milliseconds to generate 16 new tokens greedily after a 12-word prompt
    /// from the test texts, p50 and p95 (throughput is then requests per second at batch 1).
    /// </summary>
    static (double P50, double P95) GenerationLatency(string modelDir, IReadOnlyList<string> texts, CompareSpec spec)
    {
        using var handle = ModelHub.Load(modelDir, "GPT2LMHeadModel", device: spec.Device);
        var gen = new GptBert.Pipelines.Generator(handle);
        var options = new GenerationOptions { Greedy = true, MaxNewTokens = 16, StopAtEos = false };
        var times = new List<double>();
        for (int i = 0; i < spec.LatencySamples + 2; i++)
        {
            var prompt = string.Join(' ', texts[i % texts.Count].Split(' ').Take(12));
            var sw = Stopwatch.StartNew();
            gen.Generate(prompt, options);
            if (i >= 2) times.Add(sw.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        return (SpeedProbe.Percentile(times, 0.5), SpeedProbe.Percentile(times, 0.95));
    }
}
