using GptBert.Compare;

namespace GptBert.Tests.Compare.Report;

/// <summary>Hand-built comparison reports: no model runs, so the report tests take milliseconds.</summary>
public static class ReportFixtures
{
    /// <summary>A name with markup characters: every renderer must escape it.</summary>
    public const string NastyName = "gpt2 <tiny> & co";
    public const string NastyLabel = "<unk>&amp";

    static IReadOnlyList<TrainingCurve> Curves(double start, double floor, int seeds = 3, int steps = 60)
    {
        var curves = new List<TrainingCurve>();
        for (int s = 1; s <= seeds; s++)
        {
            var x = Enumerable.Range(1, steps).Select(i => i * 5.0).ToArray();
            var y = x.Select(v => floor + (start - floor) * Math.Exp(-v / (60 + 7 * s)) + 0.03 * Math.Sin(v * 0.37 + s)).ToArray();
            var ex = new double[] { 100, 200, 300 };
            var ey = ex.Select(v => floor + 0.1 + (start - floor) * Math.Exp(-v / (60 + 7 * s))).ToArray();
            curves.Add(new TrainingCurve(s, x, y, ex, ey));
        }
        return curves;
    }

    public static ComparisonReport Classify(string choice = "bert") => new()
    {
        Task = CompareTask.Classify,
        Profile = new DatasetProfile
        {
            TrainExamples = 1200,
            ValidationExamples = 150,
            TestExamples = 150,
            LabelCounts = new Dictionary<string, int> { ["positive"] = 620, ["negative"] = 577, [NastyLabel] = 3 },
            ImbalanceRatio = 620 / 3.0,
            MajorityBaselineAccuracy = 620 / 1200.0,
            MeanChars = 412.37,
            MedianChars = 380,
            P95Chars = 921.4,
            MaxChars = 2301,
            P95Tokens = 231.6,
            Scripts = new Dictionary<string, double> { ["Latin"] = 0.98, ["Han"] = 0.02 },
        },
        Requirements = new Requirements { LatencyMs = 50, MemoryMb = 1024, Device = "cpu", Cores = 16 },
        Candidates =
        [
            new CandidateResult
            {
                Name = NastyName, Family = "gpt", Source = "gpt2", Architecture = "12 layers, 768 wide",
                Parameters = 124_439_808, SizeOnDiskBytes = 497_774_208,
                Quality = new Dictionary<string, Measured>
                {
                    ["accuracy"] = Measured.Of([0.80, 0.812, 0.79]),
                    ["macro_f1"] = Measured.Of([0.781, 0.799, 0.770]),
                },
                TrainingSeconds = Measured.Of([540, 552.5, 561]),
                LatencyP50Ms = 12.34, LatencyP95Ms = 15.06, ThroughputPerSecond = 412.3, BestBatchSize = 32,
                PeakMemoryMb = 612.5, FlopsPerToken = 2.49e8, Seeds = [1, 2, 3], Curves = Curves(6.5, 0.45),
                Estimated = new HashSet<string> { nameof(CandidateResult.FlopsPerToken), "peak_memory_mb" },
            },
            new CandidateResult
            {
                Name = "minilm", Family = "bert", Source = "all-MiniLM-L6-v2", Architecture = "6 layers, 384 wide",
                Parameters = 22_713_216, SizeOnDiskBytes = 91_118_592,
                Quality = new Dictionary<string, Measured>
                {
                    ["accuracy"] = Measured.Of([0.91, 0.915, 0.905]),
                    ["macro_f1"] = Measured.Of([0.902, 0.911, 0.897]),
                },
                TrainingSeconds = Measured.Of([101.2, 98.7, 104.9]),
                LatencyP50Ms = 3.21, LatencyP95Ms = 4.07, ThroughputPerSecond = 1873.4, BestBatchSize = 8,
                PeakMemoryMb = 143.2, FlopsPerToken = 4.54e7, Seeds = [1, 2, 3], Curves = Curves(1.2, 0.25),
                Estimated = new HashSet<string> { "latency" },
            },
        ],
        Verdict = new Verdict(choice,
        [
            "BERT is 11.0 points more accurate (0.910 ± 0.005 vs 0.801 ± 0.011, 3 seeds each)",
            "BERT is 3.8x faster at batch 1 (3.21 ms vs 12.3 ms) & within the 50 ms budget",
        ]),
        Command = "gptbert compare --task classify --data '/tmp/a<b>&c/train.jsonl' --models gpt2,minilm --seeds 3",
        Versions = "GptBert 0.1.0, TorchSharp 0.107.0 (libtorch 2.7.1), .NET 10.0.0",
        Machine = "16 cores Intel Xeon, 128 GiB, cpu",
        Date = new DateTime(2025, 3, 14, 9, 26, 0, DateTimeKind.Utc),
        Budget = "300 steps per candidate, 3 seeds",
        OverheadFraction = 0.018,
        TotalSeconds = 552,
    };

    public static ComparisonReport Generate() => new()
    {
        Task = CompareTask.Generate,
        Profile = new DatasetProfile
        {
            TrainExamples = 5000, ValidationExamples = 500, TestExamples = 500,
            MeanChars = 1203.5, MedianChars = 1100, P95Chars = 2800, MaxChars = 9120, P95Tokens = 640,
            Scripts = new Dictionary<string, double> { ["Latin"] = 1.0 },
        },
        Requirements = new Requirements { NeedsGeneration = true, Device = "cuda", Cores = 8 },
        Candidates =
        [
            new CandidateResult
            {
                Name = "gpt2-small", Family = "gpt", Source = "gpt2", Architecture = "12 layers, 768 wide",
                Parameters = 124_439_808, SizeOnDiskBytes = 497_774_208,
                Quality = new Dictionary<string, Measured>
                {
                    ["loss_per_char"] = Measured.Of([1.234, 1.240, 1.228]),
                    ["perplexity"] = Measured.Of([35.21, 35.9, double.PositiveInfinity]),
                },
                TrainingSeconds = Measured.Of([3700, 3710, 3690]),
                LatencyP50Ms = 1480, LatencyP95Ms = 1630, ThroughputPerSecond = 0.9, BestBatchSize = 1,
                PeakMemoryMb = 2048, FlopsPerToken = 2.49e8, Seeds = [7, 8, 9], Curves = Curves(10.5, 3.1),
            },
            new CandidateResult
            {
                Name = "bert-base", Family = "bert", Source = "bert-base-uncased", Architecture = "12 layers, 768 wide",
                Supported = false, NotSupportedReason = "BERT has no causal language-model head, so it cannot generate text",
                Parameters = 109_482_240, SizeOnDiskBytes = 438_000_000, FlopsPerToken = 2.19e8,
                Estimated = new HashSet<string> { "parameters", "size", "flops" },
            },
        ],
        Verdict = new Verdict("GPT", ["only GPT can generate text"]),
        Command = "gptbert choose --task generate --data corpus.txt",
        Versions = "GptBert 0.1.0",
        Machine = "1x H200",
        Date = new DateTime(2025, 3, 14, 10, 0, 0, DateTimeKind.Utc),
        Budget = "20 minutes per candidate",
        OverheadFraction = 0.0042,
        TotalSeconds = 11_234,
    };
}
