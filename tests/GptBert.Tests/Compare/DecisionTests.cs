using System.Globalization;
using GptBert.Compare;

namespace GptBert.Tests.Compare;

public class DecisionTests
{
    const long MB = 1024 * 1024;

    static CandidateResult Cand(string family, string name, double[] quality, string metric = "macro_f1",
        double latencyMs = 10, double memoryMb = 100, long diskBytes = 50 * MB, long parameters = 10_000_000,
        bool supported = true, string? notSupported = null, params string[] estimated) => new()
    {
        Name = name,
        Family = family,
        Source = "scratch",
        Architecture = family == "gpt" ? "GPT2ForSequenceClassification" : "BertForSequenceClassification",
        Supported = supported,
        NotSupportedReason = notSupported,
        Parameters = parameters,
        SizeOnDiskBytes = diskBytes,
        Quality = new Dictionary<string, Measured> { [metric] = Measured.Of(quality) },
        LatencyP50Ms = latencyMs * 0.8,
        LatencyP95Ms = latencyMs,
        PeakMemoryMb = memoryMb,
        Seeds = Enumerable.Range(1, quality.Length).ToList(),
        Estimated = new HashSet<string>(estimated),
    };

    /// <summary>A profile that triggers no caveat: plenty of balanced Latin data.</summary>
    static DatasetProfile Plain() => new()
    {
        TrainExamples = 5000, ValidationExamples = 500, TestExamples = 1000,
        LabelCounts = new Dictionary<string, int> { ["neg"] = 2500, ["pos"] = 2500 },
        ImbalanceRatio = 1, MajorityBaselineAccuracy = 0.5, MeanChars = 200, MedianChars = 180, P95Chars = 400, MaxChars = 900,
        P95Tokens = 100, Scripts = new Dictionary<string, double> { ["Latin"] = 1.0 },
    };

    static readonly Requirements None = new();
    static string All(Verdict v) => string.Join("\n", v.Reasons);

    [Fact]
    public void GenerateTaskChoosesGptAndExcludesBert()
    {
        var gpt = Cand("gpt", "gpt-small", [1.10, 1.12, 1.11], metric: "loss_per_char");
        var bert = Cand("bert", "minilm", [0.9], metric: "loss_per_char");
        var v = Decision.Choose(CompareTask.Generate, Plain(), None, [gpt, bert]);
        Assert.Equal("gpt", v.Choice);
        Assert.Contains("BERT minilm is excluded: BERT is an encoder; it does not generate text.", v.Reasons);
        Assert.Contains("Only GPT fits", All(v));
    }

    [Fact]
    public void NeedsGenerationExcludesBertForOtherTasks()
    {
        var gpt = Cand("gpt", "gpt-small", [0.70, 0.71, 0.72]);
        var bert = Cand("bert", "minilm", [0.90, 0.91, 0.92]); // far better, but cannot generate
        var v = Decision.Choose(CompareTask.Classify, Plain(), new Requirements { NeedsGeneration = true }, [gpt, bert]);
        Assert.Equal("gpt", v.Choice);
        Assert.Contains(v.Reasons, r => r.Contains("BERT is an encoder; it does not generate text") && r.Contains("generation is needed"));
        Assert.Contains(v.Reasons, r => r.Contains("BERT minilm scored better") && r.Contains("ruled out"));
    }

    [Fact]
    public void BertClearlyBetterChoosesBert()
    {
        var gpt = Cand("gpt", "gpt-small", [0.76, 0.77, 0.78]);
        var bert = Cand("bert", "minilm", [0.80, 0.81, 0.82]);
        var v = Decision.Choose(CompareTask.Classify, Plain(), None, [gpt, bert]);
        Assert.Equal("bert", v.Choice);
        // std 0.01 → SE 0.00577 each; SE of the difference sqrt(2)·0.00577 = 0.00816; Δ = 0.04 > 2·SE.
        Assert.Contains("BERT (minilm) macro-F1 0.810 ± 0.006 vs GPT (gpt-small) 0.770 ± 0.006 over 3 seeds (mean ± standard error): "
                        + "BERT is better by 0.040, more than twice the standard error of the difference (0.008).", v.Reasons);
        Assert.DoesNotContain("Caveat", All(v));
    }

    [Fact]
    public void GptClearlyBetterChoosesGpt()
    {
        var gpt = Cand("gpt", "gpt-small", [0.85, 0.86, 0.87]);
        var bert = Cand("bert", "minilm", [0.76, 0.78, 0.80]);
        var v = Decision.Choose(CompareTask.Classify, Plain(), None, [gpt, bert]);
        Assert.Equal("gpt", v.Choice);
        Assert.Contains(v.Reasons, r => r.StartsWith("GPT (gpt-small) macro-F1 0.860") && r.Contains("GPT is better by 0.080"));
    }

    [Fact]
    public void WithinNoiseOverThreeSeedsIsEitherAndNamesTheCheaperPick()
    {
        var gpt = Cand("gpt", "gpt-small", [0.77, 0.79, 0.81], latencyMs: 5, parameters: 8_000_000);
        var bert = Cand("bert", "minilm", [0.78, 0.80, 0.82], latencyMs: 12, parameters: 22_700_000);
        var v = Decision.Choose(CompareTask.Classify, Plain(), None, [gpt, bert]);
        Assert.Equal("either", v.Choice);
        // se = 0.02/√3 = 0.01155 each; SE of the difference 0.0163; Δ = 0.01 ≤ 2·SE = 0.033.
        Assert.Contains(v.Reasons, r => r.Contains("BERT is ahead by 0.010") && r.Contains("2 × 0.016 = 0.033") && r.Contains("within noise"));
        Assert.Contains("Either will do; GPT gpt-small is the practical pick: it is faster (latency p95 5 ms vs 12 ms at batch 1) and smaller (8.0M vs 22.7M parameters).", v.Reasons);
    }

    [Fact]
    public void SingleSeedSmallDifferenceIsEitherWithTheSingleSeedCaveat()
    {
        var gpt = Cand("gpt", "gpt-small", [0.79], latencyMs: 20);
        var bert = Cand("bert", "minilm", [0.80], latencyMs: 8);
        var v = Decision.Choose(CompareTask.Classify, Plain(), None, [gpt, bert]);
        Assert.Equal("either", v.Choice);
        Assert.Contains(v.Reasons, r => r.Contains("only one seed was run for each model") && r.Contains("fixed threshold of 0.02") && r.Contains("within noise"));
        Assert.Contains(v.Reasons, r => r.Contains("BERT minilm is the practical pick") && r.Contains("faster"));
    }

    [Fact]
    public void SingleSeedLargeDifferencePicksTheBetterButSaysOneSeedWasRun()
    {
        var gpt = Cand("gpt", "gpt-small", [0.70]);
        var bert = Cand("bert", "minilm", [0.80, 0.81, 0.79]);
        var v = Decision.Choose(CompareTask.Search, Plain(), None,
            [gpt with { Quality = new Dictionary<string, Measured> { ["mrr"] = Measured.Of([0.70]) } },
             bert with { Quality = new Dictionary<string, Measured> { ["mrr"] = Measured.Of([0.80, 0.81, 0.79]) } }]);
        Assert.Equal("bert", v.Choice);
        Assert.Contains(v.Reasons, r => r.Contains("MRR") && r.Contains("only one seed was run for GPT (gpt-small)") && r.Contains("better by 0.100"));
    }

    [Fact]
    public void LatencyLimitExcludingGptOnlyChoosesBert()
    {
        var gpt = Cand("gpt", "gpt-medium", [0.90, 0.91, 0.92], latencyMs: 50); // better, but too slow
        var bert = Cand("bert", "minilm", [0.80, 0.81, 0.82], latencyMs: 10);
        var v = Decision.Choose(CompareTask.Classify, Plain(), new Requirements { LatencyMs = 20 }, [gpt, bert]);
        Assert.Equal("bert", v.Choice);
        Assert.Contains("GPT gpt-medium does not fit: latency p95 at batch 1 is 50 ms (measured), 30 ms over the 20 ms limit (2.5× the limit).", v.Reasons);
        Assert.Contains("BERT minilm fits: latency p95 at batch 1 10 ms ≤ 20 ms (measured).", v.Reasons);
        Assert.Contains(v.Reasons, r => r.StartsWith("Only BERT fits"));
    }

    [Fact]
    public void MemoryLimitExcludingBothIsNeither()
    {
        var gpt = Cand("gpt", "gpt-small", [0.80], memoryMb: 700);
        var bert = Cand("bert", "minilm", [0.80], memoryMb: 400);
        var v = Decision.Choose(CompareTask.Classify, Plain(), new Requirements { MemoryMb = 256 }, [gpt, bert]);
        Assert.Equal("neither", v.Choice);
        Assert.Contains(v.Reasons, r => r.StartsWith("GPT gpt-small does not fit: peak memory is 700 MB (measured), 444 MB over the 256 MB limit"));
        Assert.Contains(v.Reasons, r => r.StartsWith("BERT minilm does not fit: peak memory is 400 MB (measured), 144 MB over the 256 MB limit"));
        Assert.Contains(v.Reasons, r => r.StartsWith("No candidate meets the requirements"));
    }

    [Fact]
    public void DiskLimitExcludingBothIsNeither()
    {
        var gpt = Cand("gpt", "gpt-small", [0.80], diskBytes: 500 * MB);
        var bert = Cand("bert", "minilm", [0.80], diskBytes: 90 * MB);
        var v = Decision.Choose(CompareTask.Classify, Plain(), new Requirements { DiskMb = 50, LatencyMs = 100 }, [gpt, bert]);
        Assert.Equal("neither", v.Choice);
        Assert.Contains(v.Reasons, r => r.StartsWith("GPT gpt-small does not fit: size on disk is 500 MB (measured), 450 MB over the 50 MB limit"));
        Assert.Contains(v.Reasons, r => r.StartsWith("BERT minilm does not fit: size on disk is 90 MB (measured), 40 MB over the 50 MB limit"));
    }

    [Fact]
    public void EstimatedFiguresAreReportedAsEstimates()
    {
        var gpt = Cand("gpt", "gpt-small", [0.80, 0.81, 0.82], latencyMs: 35, estimated: ["LatencyP95Ms"]);
        var bert = Cand("bert", "minilm", [0.70, 0.71, 0.72], latencyMs: 8, memoryMb: 90, estimated: ["latency_p95_ms", "peak_memory_mb"]);
        var v = Decision.Choose(CompareTask.Classify, Plain(), new Requirements { LatencyMs = 30, MemoryMb = 200 }, [gpt, bert]);
        Assert.Equal("bert", v.Choice);
        Assert.Contains(v.Reasons, r => r.StartsWith("GPT gpt-small does not fit: latency p95 at batch 1 is 35 ms (estimated), 5 ms over"));
        Assert.Contains("BERT minilm fits: latency p95 at batch 1 8 ms ≤ 30 ms (estimated), peak memory 90 MB ≤ 200 MB (estimated).", v.Reasons);
    }

    [Fact]
    public void UnsupportedAndUnknownFamiliesAreExcludedWithTheirReasons()
    {
        var gpt = Cand("gpt", "gpt-small", [0.80], supported: false, notSupported: "the checkpoint has no classification head");
        var bert = Cand("bert", "minilm", [0.75]);
        var t5 = Cand("t5", "t5-small", [0.99]);
        var v = Decision.Choose(CompareTask.Classify, Plain(), None, [gpt, bert, t5]);
        Assert.Equal("bert", v.Choice);
        Assert.Contains("GPT gpt-small is excluded: the checkpoint has no classification head.", v.Reasons);
        Assert.Contains(v.Reasons, r => r.StartsWith("t5-small is left out"));
    }

    [Fact]
    public void BestFittingCandidateRepresentsItsFamily()
    {
        var bertFast = Cand("bert", "bert-mini", [0.80, 0.81, 0.82], latencyMs: 5);
        var bertBest = Cand("bert", "bert-base", [0.95, 0.96, 0.97], latencyMs: 90); // best, but too slow
        var bertMid = Cand("bert", "minilm", [0.85, 0.86, 0.87], latencyMs: 15);
        var gpt = Cand("gpt", "gpt-small", [0.84, 0.85, 0.86], latencyMs: 25);
        var v = Decision.Choose(CompareTask.Classify, Plain(), new Requirements { LatencyMs = 30 }, [bertFast, bertBest, bertMid, gpt]);
        Assert.Equal("either", v.Choice);
        Assert.Contains("BERT minilm represents BERT: the best macro-F1 (0.860) of the 2 BERT candidates that fit.", v.Reasons);
        Assert.Contains(v.Reasons, r => r.StartsWith("BERT bert-base does not fit"));
        Assert.Contains(v.Reasons, r => r.Contains("BERT minilm is the practical pick"));
    }

    [Fact]
    public void WithinNoiseChecksBothAgainstTheMajorityBaseline()
    {
        static CandidateResult WithAccuracy(CandidateResult c, double acc) => c with
        {
            Quality = new Dictionary<string, Measured>(c.Quality) { ["accuracy"] = Measured.Of([acc, acc]) },
        };
        var gpt = WithAccuracy(Cand("gpt", "gpt-small", [0.60, 0.62]), 0.51);
        var bert = WithAccuracy(Cand("bert", "minilm", [0.61, 0.63]), 0.70);
        var v = Decision.Choose(CompareTask.Classify, Plain(), None, [gpt, bert]);
        Assert.Equal("either", v.Choice);
        Assert.Contains(v.Reasons, r => r.StartsWith("Caveat: GPT gpt-small accuracy 0.510 is barely above (or below) the majority-class baseline of 0.500"));
        Assert.DoesNotContain(v.Reasons, r => r.StartsWith("Caveat: BERT minilm accuracy"));
    }

    [Fact]
    public void NoCandidatesIsNeither()
    {
        var v = Decision.Choose(CompareTask.Classify, Plain(), None, []);
        Assert.Equal("neither", v.Choice);
        Assert.Contains("No candidates were compared", All(v));
    }

    [Fact]
    public void UnmeasuredFigureIsKeptButSaidToBeUnchecked()
    {
        var gpt = Cand("gpt", "gpt-small", [0.80], memoryMb: 0);
        var v = Decision.Choose(CompareTask.Classify, Plain(), new Requirements { MemoryMb = 100 }, [gpt]);
        Assert.Equal("gpt", v.Choice);
        Assert.Contains("GPT gpt-small: peak memory is not known, so the 100 MB limit could not be checked.", v.Reasons);
        Assert.Contains(v.Reasons, r => r.StartsWith("Only GPT was compared (no BERT candidate was run)"));
    }

    [Fact]
    public void ProfileCaveatsAreMentioned()
    {
        var profile = Plain() with
        {
            TrainExamples = 120, TestExamples = 40,
            LabelCounts = new Dictionary<string, int> { ["neg"] = 108, ["pos"] = 12 },
            ImbalanceRatio = 9, MajorityBaselineAccuracy = 0.9,
            Scripts = new Dictionary<string, double> { ["Latin"] = 0.6, ["Han"] = 0.3, ["Cyrillic"] = 0.1 },
            P95Tokens = 700, HasPairs = true,
        };
        var gpt = Cand("gpt", "gpt-small", [0.60, 0.61, 0.62]);
        var bert = Cand("bert", "minilm", [0.70, 0.71, 0.72]) with
        {
            Quality = new Dictionary<string, Measured> { ["macro_f1"] = Measured.Of([0.70, 0.71, 0.72]), ["accuracy"] = Measured.Of([0.90, 0.91, 0.90]) },
        };
        var v = Decision.Choose(CompareTask.Classify, profile, None, [gpt, bert]);
        Assert.Equal("bert", v.Choice);
        string all = All(v);
        Assert.Contains("only 120 training examples", all);
        Assert.Contains("the test set has only 40 examples, so a single example moves accuracy by 0.025", all);
        Assert.Contains("the largest class has 9.0× the examples of the smallest (neg 108, pos 12)", all);
        Assert.Contains("always answering it scores 0.900", all);
        Assert.Contains("barely above (or below) the majority-class baseline of 0.900", all);
        Assert.Contains("30% Han, 10% Cyrillic", all);
        Assert.Contains("[UNK]", all);
        Assert.Contains("longer than 700 tokens", all);
        Assert.Contains("text pairs", all);
    }

    [Fact]
    public void ReasonsUseInvariantNumbersWhateverTheCulture()
    {
        var saved = CultureInfo.CurrentCulture;
        try
        {
            CultureInfo.CurrentCulture = new CultureInfo("de-DE");
            var v = Decision.Choose(CompareTask.Classify, Plain(), new Requirements { LatencyMs = 20 },
                [Cand("gpt", "g", [0.76, 0.77, 0.78], latencyMs: 12.5), Cand("bert", "b", [0.80, 0.81, 0.82])]);
            Assert.Contains(v.Reasons, r => r.Contains("0.810 ± 0.006") && !r.Contains("0,810"));
            Assert.Contains(v.Reasons, r => r.Contains("12.5 ms"));
            Assert.Equal("de-DE", CultureInfo.CurrentCulture.Name);
        }
        finally { CultureInfo.CurrentCulture = saved; }
    }

    [Fact]
    public void PrimaryMetricPerTask()
    {
        Assert.Equal(("macro_f1", true), Decision.PrimaryMetric(CompareTask.Classify));
        Assert.Equal(("loss_per_char", false), Decision.PrimaryMetric(CompareTask.Generate));
        Assert.Equal(("mrr", true), Decision.PrimaryMetric(CompareTask.Search));
    }

    // ------------------------------------------------------------------ rule (f): baselines

    static CandidateResult Baseline(string name, double[] quality) => Cand("baseline", name, quality) with { Source = "tfidf", Seeds = [] };

    [Fact]
    public void ABaselineAsGoodAsTheBestTransformerIsRecommended()
    {
        var gpt = Cand("gpt", "GPT from scratch", [0.80, 0.82, 0.81]);
        var bert = Cand("bert", "BERT from scratch", [0.70, 0.71, 0.72]);
        var tfidf = Baseline("TF-IDF + linear", [0.81, 0.80, 0.82]);
        var v = Decision.Choose(CompareTask.Classify, Plain(), None, [gpt, bert], [Baseline("majority class", [0.33]), tfidf]);
        Assert.Equal("baseline", v.Choice);
        Assert.Equal("gpt", v.TransformerChoice);
        Assert.Contains(v.Reasons, r => r.Contains("GPT is better by"));          // the GPT/BERT evidence stays
        Assert.Equal("Against the baselines: the best transformer, GPT from scratch, has macro-F1 0.810 ± 0.006; the best baseline, TF-IDF + linear, has 0.810 ± 0.006: "
                     + "the baseline is as good, so no transformer is needed: use TF-IDF + linear.", v.Reasons[^1]);
    }

    [Fact]
    public void ATransformerAheadWithinTheSeedNoiseStillLosesToTheBaseline()
    {
        var gpt = Cand("gpt", "GPT from scratch", [0.80, 0.86, 0.83]);   // mean 0.83, SE 0.017
        var tfidf = Baseline("TF-IDF + linear", [0.81]);
        var v = Decision.Choose(CompareTask.Classify, Plain(), None, [gpt], [tfidf]);
        Assert.Equal("baseline", v.Choice);
        Assert.Contains("the transformer is ahead by only 0.020, not more than twice the standard error of the difference (2 × 0.017 = 0.035)", v.Reasons[^1]);
    }

    [Fact]
    public void ATransformerClearlyBetterThanEveryBaselineKeepsTheVerdict()
    {
        var gpt = Cand("gpt", "GPT from scratch", [0.90, 0.91, 0.92]);
        var bert = Cand("bert", "BERT from scratch", [0.90, 0.905, 0.91]);
        var v = Decision.Choose(CompareTask.Classify, Plain(), None, [gpt, bert], [Baseline("TF-IDF + linear", [0.80, 0.81, 0.80])]);
        Assert.Equal("either", v.Choice);
        Assert.Equal("either", v.TransformerChoice);
        Assert.StartsWith("Against the baselines: the best transformer, GPT from scratch, has macro-F1 0.910 ± 0.006; the best baseline, TF-IDF + linear, has 0.803 ± 0.003: the transformer is better by 0.107", v.Reasons[^1]);
        // One seed: the fixed threshold decides.
        var one = Decision.Choose(CompareTask.Classify, Plain(), None, [Cand("gpt", "g", [0.83])], [Baseline("TF-IDF + linear", [0.82])]);
        Assert.Equal("baseline", one.Choice);
        Assert.Contains("the fixed threshold of 0.02 used when the transformer ran one seed", one.Reasons[^1]);
    }

    [Fact]
    public void NoBaselineVerdictWhenNothingFitsOrWithoutBaselines()
    {
        var gpt = Cand("gpt", "g", [0.5, 0.5], latencyMs: 100);
        var v = Decision.Choose(CompareTask.Classify, Plain(), new Requirements { LatencyMs = 10 }, [gpt], [Baseline("TF-IDF + linear", [0.9])]);
        Assert.Equal("neither", v.Choice);
        var plain = Decision.Choose(CompareTask.Classify, Plain(), None, [gpt]);
        Assert.Equal("gpt", plain.Choice);
        Assert.Equal("gpt", plain.TransformerChoice);
    }

    // ------------------------------------------------------------------ rule (g): budget dependence

    static BudgetTrend Improving(double gain = 0.08) => new("macro_f1", true, gain, 0.02, 3);
    static BudgetTrend Flat() => new("macro_f1", false, 0.001, 0.02, 3);

    [Fact]
    public void ATrailingCandidateStillImprovingMakesTheVerdictBudgetDependent()
    {
        var gpt = Cand("gpt", "GPT small", [0.80, 0.81, 0.79]) with { Trend = Flat() };
        var bert = Cand("bert", "MiniLM", [0.60, 0.62, 0.58]) with { Trend = Improving() };
        var v = Decision.Choose(CompareTask.Classify, Plain(), None, [gpt, bert]);
        Assert.Equal("gpt", v.Choice);
        Assert.True(v.BudgetDependent);
        Assert.Contains("depends on the budget: MiniLM (validation macro-F1 +0.080 over the last 20% of the budget", All(v));
        Assert.EndsWith(GptBert.Compare.Report.ReportFormat.BudgetDependentSuffix, GptBert.Compare.Report.ReportFormat.VerdictText(v));
        var report = GptBert.Tests.Compare.Report.ReportFixtures.Classify() with { Candidates = [gpt, bert], Baselines = [], Verdict = v };
        var json = System.Text.Json.JsonDocument.Parse(GptBert.Compare.Report.ReportJson.Serialize(report)).RootElement;
        Assert.True(json.GetProperty("budget_dependent").GetBoolean());
        Assert.True(json.GetProperty("candidates")[1].GetProperty("trend").GetProperty("still_improving").GetBoolean());
    }

    [Fact]
    public void OnlyTheLeaderStillImprovingLeavesTheOrderStanding()
    {
        var gpt = Cand("gpt", "GPT small", [0.80, 0.81, 0.79]) with { Trend = Improving() };
        var bert = Cand("bert", "MiniLM", [0.60, 0.62, 0.58]) with { Trend = Flat() };
        var v = Decision.Choose(CompareTask.Classify, Plain(), None, [gpt, bert]);
        Assert.False(v.BudgetDependent);
        Assert.Contains("The leader was still improving", All(v));
        Assert.Equal("GPT", GptBert.Compare.Report.ReportFormat.VerdictText(v));
    }

    [Fact]
    public void NoTrendsNoBudgetSentence()
    {
        var v = Decision.Choose(CompareTask.Classify, Plain(), None, [Cand("gpt", "g", [0.8, 0.81]), Cand("bert", "b", [0.6, 0.61])]);
        Assert.False(v.BudgetDependent);
        Assert.DoesNotContain("budget", All(v));
    }
}
