using System.Diagnostics;
using GptBert.Data;
using GptBert.Engine;
using GptBert.Models;
using GptBert.Pipelines;
using GptBert.Tokenizers.Training;
using GptBert.Training;

namespace GptBert.Compare;

/// <summary>
/// The search task: query → relevant-document pairs (text = query, text_pair = the relevant document; the
/// label column is not needed). Every document of the test set is a candidate for every query; each model
/// embeds queries and documents (BERT: attention-masked mean pooling; GPT: mean or last-token pooling) and
/// is scored by recall@1, recall@5 and MRR. Pretrained models are used as they are; GPTs from scratch are
/// trained as causal language models on the training pairs' texts under the shared budget.
/// </summary>
public static class SearchComparison
{
    public static ComparisonReport Run(CompareSpec spec, RunReporting? reporting)
    {
        var total = Stopwatch.StartNew();
        double workSeconds = 0;
        void Info(string m) => reporting?.Info?.Invoke(m);
        Directory.CreateDirectory(spec.WorkDirectory);
        var format = (spec.Format ?? new LabeledFormatOptions()) with { RequireTwoLabels = false, RequireLabel = false };
        var (test, testSkipped) = LoadPairs(spec.Test, format);
        var (train, trainSkipped) = LoadPairs(spec.Train, format);
        var docs = test.Select(p => p.Doc).Distinct().ToList();
        var relevant = test.Select(p => docs.IndexOf(p.Doc)).ToArray();
        var profile = DatasetProfiler.ProfileCorpus(train.SelectMany(p => new[] { p.Query, p.Doc }), null, test.SelectMany(p => new[] { p.Query, p.Doc }))
            with { Skipped = [trainSkipped, testSkipped] };

        var plans = new List<(string Name, string Family, string Source, Func<int, string> ModelDir, Pooling Pooling, bool Trained)>();
        if (spec.Bert is not null)
        {
            string dir = ModelHub.ResolveDirectory(spec.Bert);
            if (ModelConfig.Load(Path.Combine(dir, "config.json")) is not BertConfig)
                throw new GptBertException($"Bert {spec.Bert} is a GPT-2 checkpoint; pass it as Gpt instead") { Parameter = "Bert", RelatedParameters = ["Gpt"] };
            plans.Add((ModelHub.DisplayName(spec.Bert, "bert"), "bert", spec.Bert, _ => dir, Pooling.Mean, false));
        }
        if (spec.Gpt is not null)
        {
            if (ModelConfig.Load(Path.Combine(spec.Gpt, "config.json")) is not Gpt2Config)
                throw new GptBertException($"Gpt {spec.Gpt} is a BERT checkpoint; pass it as Bert instead") { Parameter = "Gpt", RelatedParameters = ["Bert"] };
            plans.Add((ModelHub.DisplayName(spec.Gpt, "gpt", "mean pooling"), "gpt", spec.Gpt, _ => spec.Gpt, Pooling.Mean, false));
        }
        if (spec.FromScratch)
        {
            var texts = train.SelectMany(p => new[] { p.Query, p.Doc }).ToList();
            var corpus = Path.Combine(spec.WorkDirectory, "search-train.txt");
            AtomicFile.WriteAllText(corpus, string.Join("\n\n", texts.Select(t => t.Replace("\n", " "))) + "\n");
            var tokDir = Path.Combine(spec.WorkDirectory, "tokenizer-bpe");
            var tok = TokenizerTraining.TrainAndSave(TokenizerTraining.Bpe, texts, tokDir, new TokenizerTrainingOptions { VocabSize = spec.ScratchVocabSize });
            var shape = CostModel.MatchedShape("gpt", spec.ScratchParameters, tok.VocabSize, spec.MaxLength, ModelHead.LanguageModel) with { MaxLength = spec.MaxLength };
            plans.Add(("GPT from scratch (mean pooling)", "gpt", "scratch", seed =>
            {
                var dir = Path.Combine(spec.WorkDirectory, "gpt-from-scratch", $"seed-{seed}");
                if (Directory.Exists(dir)) Directory.Delete(dir, true);
                TrainingRuns.Pretrain(new PretrainSpec
                {
                    Arch = "gpt", Data = corpus, Output = dir, Tokenizer = tokDir, Shape = shape, Device = spec.Device,
                    Training = new TrainingOptions
                    {
                        MaxSteps = spec.BudgetSteps, MaxTokens = spec.BudgetTokens, MaxTime = spec.BudgetTime, BatchSize = spec.BatchSize, Seed = seed, WarmupFraction = 0.1,
                        LearningRate = spec.ScratchLearningRate, EvalEvery = 0, SaveEvery = 0, KeepCheckpoints = 1,
                    },
                }, new RunReporting(reporting?.Progress ?? TextWriter.Null, reporting?.Interactive));
                return dir;
            }, Pooling.Mean, true));
        }
        if (plans.Count == 0)
            throw new GptBertException("no candidates for Task search: give Bert NAME|DIR (e.g. minilm), Gpt DIR and/or FromScratch") { RelatedParameters = ["Task", "Bert", "Gpt", "FromScratch"] };

        var results = new List<CandidateResult>();
        foreach (var plan in plans)
        {
            var r1 = new List<double>(); var r5 = new List<double>(); var mrr = new List<double>(); var seconds = new List<double>();
            int runs = plan.Trained ? spec.Seeds : 1; // a pretrained model used as is gives the same result for every seed
            string? firstDir = null;
            for (int seed = 1; seed <= runs; seed++)
            {
                var sw = Stopwatch.StartNew();
                Info($"[{plan.Name}] {(plan.Trained ? $"seed {seed}/{runs}: training, then " : "")}embedding {test.Count} queries and {docs.Count} documents");
                var dir = plan.ModelDir(seed);
                if (plan.Trained) seconds.Add(sw.Elapsed.TotalSeconds);
                using var handle = ModelHub.Load(dir, plan.Family == "gpt" ? "GPT2Model" : "BertModel", device: spec.Device);
                var embedder = new Embedder(handle) { Pooling = plan.Pooling, Warn = null };
                var q = embedder.Embed(test.Select(p => p.Query).ToList(), spec.MaxLength);
                var d = embedder.Embed(docs, spec.MaxLength);
                var (a1, a5, m) = Score(q, d, relevant);
                r1.Add(a1); r5.Add(a5); mrr.Add(m);
                workSeconds += sw.Elapsed.TotalSeconds;
                Info($"[{plan.Name}] recall@1 {a1:F3}, recall@5 {a5:F3}, MRR {m:F3}");
                firstDir ??= dir;
            }
            bool measured = PeakMemory.Reset(); // peak memory of the speed probe: the model loaded and embedding
            var clock = Stopwatch.StartNew();
            using var h = ModelHub.Load(firstDir!, plan.Family == "gpt" ? "GPT2Model" : "BertModel", device: spec.Device);
            var e = new Embedder(h) { Pooling = plan.Pooling, Warn = null };
            var times = new List<double>();
            for (int i = 0; i < spec.LatencySamples + 2; i++)
            {
                var sw = Stopwatch.StartNew();
                e.Embed([test[i % test.Count].Query], spec.MaxLength);
                if (i >= 2) times.Add(sw.Elapsed.TotalMilliseconds);
            }
            times.Sort();
            double best = 0; int bestBatch = 1;
            foreach (var b in new[] { 1, 8, 32 })
            {
                var batch = Enumerable.Range(0, b).Select(i => docs[i % docs.Count]).ToList();
                e.Embed(batch, spec.MaxLength);
                var sw = Stopwatch.StartNew();
                int reps = Math.Max(1, 64 / b);
                for (int rep = 0; rep < reps; rep++) e.Embed(batch, spec.MaxLength);
                double perSecond = reps * b / sw.Elapsed.TotalSeconds;
                if (perSecond > best) { best = perSecond; bestBatch = b; }
            }
            workSeconds += clock.Elapsed.TotalSeconds;
            double peak = PeakMemory.PeakMb();
            double P(double quant) => SpeedProbe.Percentile(times, quant);
            var head = plan.Family == "gpt" ? ModelHead.Base : ModelHead.Pooling;
            results.Add(new CandidateResult
            {
                Name = plan.Name, Family = plan.Family, Source = plan.Source, Architecture = h.Model.Architecture, Parameters = h.Model.ParameterCount,
                SizeOnDiskBytes = ComparisonRunner.WeightsBytes(firstDir!), ModelDirectory = firstDir,
                Quality = new Dictionary<string, Measured> { ["recall@1"] = Measured.Of(r1), ["recall@5"] = Measured.Of(r5), ["mrr"] = Measured.Of(mrr) },
                TrainingSeconds = seconds.Count > 0 ? Measured.Of(seconds) : null,
                LatencyP50Ms = P(0.5), LatencyP95Ms = P(0.95), ThroughputPerSecond = best, BestBatchSize = bestBatch,
                PeakMemoryMb = measured ? peak : CostModel.EstimatePeakMemoryMb(h.Config, head, bestBatch, spec.MaxLength),
                PeakMemoryEstimateMb = CostModel.EstimatePeakMemoryMb(h.Config, head, bestBatch, spec.MaxLength),
                MemoryMethod = measured ? "in-process, VmHWM reset" : null,
                Estimated = measured ? new HashSet<string>() : new HashSet<string> { nameof(CandidateResult.PeakMemoryMb) },
                FlopsPerToken = CostModel.ForwardFlopsPerToken(h.Config, head, spec.MaxLength),
                Seeds = Enumerable.Range(1, runs).ToList(),
            });
        }
        return ComparisonRunner.Report(CompareTask.Search, spec, profile, results, total, workSeconds);
    }

    internal static (List<(string Query, string Doc)> Pairs, SkippedRows Skipped) LoadPairs(string path, LabeledFormatOptions format)
    {
        // Search pairs need no label: read them as a labelled file whose label column may be absent.
        var data = LabeledDataset.Load(path, format);
        var pairs = data.Where(e => e.Pair is not null).Select(e => (e.Text, e.Pair!)).ToList();
        if (pairs.Count == 0) throw new GptBertException($"{path} has no query → document pairs; search data needs the columns text (query) and text_pair (relevant document)");
        return (pairs, data.Skipped);
    }

    /// <summary>Recall@1, recall@5 and mean reciprocal rank of the relevant document among all documents (cosine similarity).</summary>
    public static (double Recall1, double Recall5, double Mrr) Score(float[][] queries, float[][] docs, int[] relevant)
    {
        double r1 = 0, r5 = 0, mrr = 0;
        for (int i = 0; i < queries.Length; i++)
        {
            double target = Embedder.Cosine(queries[i], docs[relevant[i]]);
            int rank = 1 + Enumerable.Range(0, docs.Length).Count(j => j != relevant[i] && Embedder.Cosine(queries[i], docs[j]) > target);
            if (rank == 1) r1++;
            if (rank <= 5) r5++;
            mrr += 1.0 / rank;
        }
        return (r1 / queries.Length, r5 / queries.Length, mrr / queries.Length);
    }
}
