using System.Globalization;

namespace GptBert.Compare;

/// <summary>
/// The whole GPT-or-BERT decision, in one place: from the task, the data profile, the user's requirements and what was
/// measured for each candidate, a <see cref="Verdict"/> ("gpt", "bert", "either" or "neither") and the reasons for it
/// as plain sentences with the numbers behind them.
/// </summary>
/// <remarks>
/// The rules, in the order they apply:
/// <list type="number">
/// <item>(a) Generation (the generate task, or <see cref="Requirements.NeedsGeneration"/>) excludes BERT, an encoder;
/// any candidate marked unsupported is excluded too, with its reason.</item>
/// <item>(b) Each remaining candidate must meet every requirement given: latency p95 at batch 1 ≤ LatencyMs, peak
/// memory ≤ MemoryMb, size on disk ≤ DiskMb (MB = 2^20 bytes). A failure is reported with the figure, the limit, the
/// excess, and whether the figure was measured or estimated. A figure that is missing (zero or NaN) cannot be checked;
/// the candidate is kept and the reasons say so.</item>
/// <item>(c) No candidate fits: "neither". Candidates of only one family fit: that family.</item>
/// <item>(d) Both families fit: each is represented by its best-quality fitting candidate, and their primary metric
/// (<see cref="PrimaryMetric"/>) decides. A difference within noise gives "either", with the cheaper candidate named as the
/// practical pick; otherwise the better family wins. Noise: with several seeds for both, |Δ| ≤ 2·SE of the difference,
/// SE = sqrt(se_a² + se_b²) from the standard errors of the means; when either ran a single seed there is no spread to
/// go by, so a fixed threshold is used: <see cref="SingleSeedThreshold"/> absolute for macro-F1, MRR, SQuAD F1 and entity F1, the same
/// fraction relative (2%) for loss per character.</item>
/// <item>(e) Caveats from the data profile are added when they apply: little data, a small test set, heavy label
/// imbalance, a classifier barely above the majority baseline, scripts a tokenizer may not cover, texts longer than
/// BERT's positions.</item>
/// <item>(f) Baselines (classify: majority class, TF-IDF + linear, frozen embeddings + logistic regression) are kept
/// apart from rules (a)-(d): when a transformer fits, the best fitting transformer is compared with the best baseline on
/// the primary metric, and unless the transformer is better by more than the seed noise, the verdict is "baseline" (the
/// GPT/BERT choice stays in <see cref="Verdict.TransformerChoice"/> and the reasons). Seed noise as in (d): 2·SE of the
/// difference when the transformer ran several seeds (a baseline run once has no spread of its own), else
/// <see cref="SingleSeedThreshold"/>.</item>
/// <item>(g) Budget dependence: a candidate flagged still improving at the end of its budget (<see cref="BudgetCurves.Trend(IReadOnlyList{TrainingCurve}, bool)"/>:
/// best validation value in the last 20% of the budget, with a gain over that 20% above the seed noise) that is not the
/// leader on the primary metric (transformers and baselines alike) makes the verdict budget-dependent
/// (<see cref="Verdict.BudgetDependent"/>): more budget may change the order, and the reasons say so. When only the leader
/// is still improving the order stands, and the reasons note it.</item>
/// </list>
/// A figure named in <see cref="CandidateResult.Estimated"/> is reported as "estimated". Names are matched ignoring case
/// and underscores: the property names (LatencyP95Ms, PeakMemoryMb, SizeOnDiskBytes) or the short forms latency, memory, disk.
/// </remarks>
public static class Decision
{
    /// <summary>Fixed noise threshold when only one seed was run: 0.02 absolute (macro-F1, MRR), 2% relative (loss).</summary>
    public const double SingleSeedThreshold = 0.02;
    /// <summary>Fewer training examples than this (classify, search) is "little data".</summary>
    public const int TinyDataExamples = 200;
    /// <summary>Fewer training characters than this (generate) is "little data".</summary>
    public const long TinyCorpusChars = 100_000;
    /// <summary>A test set smaller than this gets a caveat (classify).</summary>
    public const int SmallTestExamples = 100;
    /// <summary>Largest class / smallest class at or above this is "heavily imbalanced".</summary>
    public const double HeavyImbalanceRatio = 5;
    /// <summary>Accuracy less than this above the majority baseline is "barely above" it.</summary>
    public const double BaselineMargin = 0.02;
    /// <summary>Non-Latin scripts with at least this share of the letters are mentioned.</summary>
    public const double ScriptShareToMention = 0.01;
    /// <summary>BERT's positions (bert-base, MiniLM).</summary>
    public const int BertMaxPositions = 512;

    /// <summary>The metric that decides each task, and whether higher is better.</summary>
    public static (string Name, bool HigherIsBetter) PrimaryMetric(CompareTask task) => task switch
    {
        CompareTask.Classify => ("macro_f1", true),
        CompareTask.Generate => ("loss_per_char", false),
        CompareTask.Search => ("mrr", true),
        CompareTask.Qa => ("squad_f1", true),
        CompareTask.Ner => ("entity_f1", true),
        CompareTask.Summarize => ("rougeL", true),
        CompareTask.Translate => ("bleu", true),
        CompareTask.Chat => ("loss_per_token", false),
        _ => throw new ArgumentOutOfRangeException(nameof(task)),
    };

    /// <summary>Applies the rules of the class remarks and returns the choice with its reasons (numbers in invariant culture).</summary>
    public static Verdict Choose(CompareTask task, DatasetProfile profile, Requirements req, IReadOnlyList<CandidateResult> candidates,
        IReadOnlyList<CandidateResult>? baselines = null)
    {
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentNullException.ThrowIfNull(req);
        ArgumentNullException.ThrowIfNull(candidates);
        // Reasons are read by people and tests alike: "0.812", never "0,812".
        var culture = CultureInfo.CurrentCulture;
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        try
        {
            var verdict = ChooseInvariant(task, profile, req, candidates, out var fitting);
            verdict = baselines is { Count: > 0 } ? AgainstBaselines(task, verdict, fitting, baselines) : verdict with { TransformerChoice = verdict.Choice };
            return BudgetDependence(task, verdict, candidates, baselines ?? []);
        }
        finally { CultureInfo.CurrentCulture = culture; }
    }

    // ------------------------------------------------------------------ rule (g): does the order depend on the budget?

    static Verdict BudgetDependence(CompareTask task, Verdict verdict, IReadOnlyList<CandidateResult> candidates, IReadOnlyList<CandidateResult> baselines)
    {
        var improving = candidates.Where(c => c.Supported && c.Trend is { StillImproving: true }).ToList();
        if (improving.Count == 0) return verdict;
        var (metric, higherIsBetter) = PrimaryMetric(task);
        var leader = candidates.Where(c => c.Supported).Concat(baselines).Where(c => Quality(c, metric) is not null)
            .OrderBy(c => Order(c, metric, higherIsBetter)).FirstOrDefault();
        var reasons = verdict.Reasons.ToList();
        string Gain(CandidateResult c) => higherIsBetter
            ? $"{c.Name} (validation {MetricName(c.Trend!.Metric)} +{F3(c.Trend.Gain)} over the last 20% of the budget, more than the threshold {F3(c.Trend.Threshold)})"
            : $"{c.Name} (validation {c.Trend!.Metric} {Num(100 * c.Trend.Gain)}% lower over the last 20% of the budget, more than the threshold of {Num(100 * c.Trend.Threshold)}%)";
        var others = improving.Where(c => c != leader).ToList();
        if (others.Count == 0)
        {
            reasons.Add($"The leader was still improving at the end of the budget: {Gain(improving[0])}; more budget would likely widen its lead rather than change the order.");
            return verdict with { Reasons = reasons };
        }
        reasons.Add($"This verdict depends on the budget: {string.Join("; ", others.Select(Gain))} {(others.Count == 1 ? "was" : "were")} still improving at the end of the budget (best validation value in its last 20%), "
            + "so more budget may change the order; see the budget curves, or sweep the budget.");
        return verdict with { Reasons = reasons, BudgetDependent = true };
    }

    // ------------------------------------------------------------------ rule (f): baselines

    static Verdict AgainstBaselines(CompareTask task, Verdict verdict, List<CandidateResult> fitting, IReadOnlyList<CandidateResult> baselines)
    {
        var (metric, higherIsBetter) = PrimaryMetric(task);
        var reasons = verdict.Reasons.ToList();
        var result = verdict with { TransformerChoice = verdict.Choice };
        var baseline = baselines.Where(b => Quality(b, metric) is not null).OrderBy(b => Order(b, metric, higherIsBetter)).FirstOrDefault();
        var transformer = fitting.Where(c => Quality(c, metric) is not null).OrderBy(c => Order(c, metric, higherIsBetter)).FirstOrDefault();
        if (baseline is null || transformer is null || verdict.Choice == "neither") return result;
        var qt = Quality(transformer, metric)!;
        var qb = Quality(baseline, metric)!;
        string name = MetricName(metric);
        double lead = higherIsBetter ? qt.Mean - qb.Mean : qb.Mean - qt.Mean;   // > 0: the transformer is better
        string Show(Measured q) => q.N > 1 ? $"{F3(q.Mean)} ± {F3(q.StdError)}" : F3(q.Mean);
        bool single = qt.N <= 1;
        double se = Math.Sqrt(qt.StdError * qt.StdError + qb.StdError * qb.StdError);
        double noise = single ? SingleSeedThreshold : 2 * se;
        string noiseText = single
            ? $"the fixed threshold of {F3(SingleSeedThreshold).TrimEnd('0')} used when the transformer ran one seed"
            : $"twice the standard error of the difference (2 × {F3(se)} = {F3(noise)})";
        string head = $"Against the baselines: the best transformer, {Label(transformer)}, has {name} {Show(qt)}; the best baseline, {baseline.Name}, has {Show(qb)}";
        if (lead > noise)
        {
            reasons.Add($"{head}: the transformer is better by {F3(lead)}, more than {noiseText}, so it earns its cost.");
            return result with { Reasons = reasons };
        }
        reasons.Add(lead <= 0
            ? $"{head}: the baseline is {(-lead < 0.0005 ? "as good" : $"better by {F3(-lead)}")}, so no transformer is needed: use {baseline.Name}."
            : $"{head}: the transformer is ahead by only {F3(lead)}, not more than {noiseText}, so no transformer is clearly better: use {baseline.Name}.");
        return result with { Choice = "baseline", Reasons = reasons };
    }

    static Verdict ChooseInvariant(CompareTask task, DatasetProfile profile, Requirements req, IReadOnlyList<CandidateResult> candidates,
        out List<CandidateResult> fittingOut)
    {
        var reasons = new List<string>();
        var (metric, higherIsBetter) = PrimaryMetric(task);

        // Rule (a): generation needs a decoder. BERT is excluded for the generate task or when the user needs
        // generation; a candidate the runner marked unsupported is excluded with the runner's reason.
        bool generation = task == CompareTask.Generate || req.NeedsGeneration;
        var usable = new List<CandidateResult>();
        foreach (var c in candidates)
        {
            string? family = FamilyOf(c);
            if (family is null)
                reasons.Add(c.Family switch
                {
                    "gpt-bert" => $"{c.Name} is measured as a third family (GPT-BERT) and shown in the table; the verdict itself chooses between GPT and BERT.",
                    "encdec" => $"{c.Name} is measured as a third family (a BERT encoder feeding a GPT-2 decoder) and shown in the table; the verdict itself chooses between GPT and BERT."
                        + (task == CompareTask.Translate ? " BERT alone cannot write a translation: this encoder-decoder is BERT's way into the task." : ""),
                    _ => $"{c.Name} is left out: its family \"{c.Family}\" is neither gpt nor bert.",
                });
            else if (generation && family == "bert")
                reasons.Add($"{Label(c)} is excluded: BERT is an encoder; it does not generate text"
                            + (task == CompareTask.Generate ? "." : ", and the requirements say text generation is needed."));
            else if (!c.Supported)
                reasons.Add($"{Label(c)} is excluded: {Sentence(c.NotSupportedReason ?? "it cannot do this task")}");
            else usable.Add(c);
        }

        // Rule (b): every requirement given must hold for a candidate to stay.
        var fitting = new List<CandidateResult>();
        foreach (var c in usable)
        {
            var check = CheckRequirements(c, req);
            if (check.Failures.Count > 0)
                reasons.Add($"{Label(c)} does not fit: {string.Join("; ", check.Failures)}.");
            else
            {
                fitting.Add(c);
                if (check.Passes.Count > 0) reasons.Add($"{Label(c)} fits: {string.Join(", ", check.Passes)}.");
            }
            if (check.Unchecked.Count > 0) reasons.Add($"{Label(c)}: {string.Join("; ", check.Unchecked)}.");
        }

        fittingOut = fitting;
        // Each family is represented by its best-quality fitting candidate.
        var gpt = Representative(fitting, "gpt", metric, higherIsBetter, reasons);
        var bert = Representative(fitting, "bert", metric, higherIsBetter, reasons);

        string choice;
        if (gpt is null && bert is null)
        {
            // Rule (c), nothing fits.
            choice = "neither";
            reasons.Add(candidates.Count == 0
                ? "No candidates were compared, so there is nothing to recommend."
                : usable.Count == 0
                    ? "No candidate can do this task, so neither family can be recommended."
                    : "No candidate meets the requirements, so neither family can be recommended as tested; relax a limit or try smaller models.");
        }
        else if (gpt is null || bert is null)
        {
            // Rule (c), exactly one family fits: that family, whatever the quality of the other.
            var only = (gpt ?? bert)!;
            string otherFamily = gpt is null ? "gpt" : "bert";
            choice = FamilyOf(only)!;
            var others = candidates.Where(c => FamilyOf(c) == otherFamily).ToList();
            reasons.Add(others.Count == 0
                ? $"Only {Family(choice)} was compared (no {Family(otherFamily)} candidate was run), so {Family(choice)} it is{QualityClause(only, metric)}."
                : $"Only {Family(choice)} fits, so {Family(choice)} it is{QualityClause(only, metric)}.");
            var betterOther = others.Where(o => Quality(o, metric) is not null)
                .OrderBy(o => Order(o, metric, higherIsBetter)).FirstOrDefault();
            if (betterOther is not null && Quality(only, metric) is { } q && Quality(betterOther, metric) is { } qo
                && (higherIsBetter ? qo.Mean > q.Mean : qo.Mean < q.Mean))
                reasons.Add($"{Label(betterOther)} scored better ({MetricName(metric)} {F3(qo.Mean)} vs {F3(q.Mean)}) but was ruled out above.");
            BaselineCaveat(task, profile, only, reasons);
        }
        else
        {
            // Rule (d): both families fit; the primary metric decides unless the difference is within noise.
            choice = CompareQuality(task, metric, higherIsBetter, gpt, bert, reasons);
            if (choice == "either") reasons.Add(PracticalPick(gpt, bert));
            foreach (var rep in choice switch { "bert" => [bert], "gpt" => [gpt], _ => new[] { gpt, bert } })
                BaselineCaveat(task, profile, rep, reasons);
        }

        // Rule (e): what the data itself says about how far to trust the comparison.
        reasons.AddRange(ProfileCaveats(task, profile));
        return new Verdict(choice, reasons);
    }

    // ------------------------------------------------------------------ rule (b): requirements

    sealed record RequirementCheck(List<string> Failures, List<string> Passes, List<string> Unchecked);

    static RequirementCheck CheckRequirements(CandidateResult c, Requirements req)
    {
        var check = new RequirementCheck([], [], []);
        void One(double? limit, double figure, string what, string unit, string estimatedKey)
        {
            if (limit is not double max) return;
            string how = IsEstimated(c, estimatedKey) ? "estimated" : "measured";
            if (!(figure > 0) || double.IsNaN(figure))
                check.Unchecked.Add($"{what} is not known, so the {Num(max)} {unit} limit could not be checked");
            else if (figure > max)
                check.Failures.Add($"{what} is {Num(figure)} {unit} ({how}), {Num(figure - max)} {unit} over the {Num(max)} {unit} limit ({figure / max:0.0#}× the limit)");
            else
                check.Passes.Add($"{what} {Num(figure)} {unit} ≤ {Num(max)} {unit} ({how})");
        }
        One(req.LatencyMs, c.LatencyP95Ms, "latency p95 at batch 1", "ms", "latency");
        One(req.MemoryMb, c.PeakMemoryMb, "peak memory", "MB", "memory");
        One(req.DiskMb, c.SizeOnDiskBytes / (1024.0 * 1024.0), "size on disk", "MB", "disk");
        return check;
    }

    static readonly Dictionary<string, string[]> EstimateNames = new()
    {
        ["latency"] = ["latencyp95ms", "latencyp95", "latency", "latencyms"],
        ["memory"] = ["peakmemorymb", "peakmemory", "memory", "memorymb"],
        ["disk"] = ["sizeondiskbytes", "sizeondisk", "sizeondiskmb", "disk", "diskmb", "size"],
    };

    /// <summary>True when the candidate lists the figure as estimated (names compared ignoring case and underscores).</summary>
    public static bool IsEstimated(CandidateResult c, string figure)
    {
        static string Norm(string s) => s.Replace("_", "").Replace("-", "").ToLowerInvariant();
        var names = EstimateNames.TryGetValue(figure, out var n) ? n : [Norm(figure)];
        return c.Estimated.Any(e => names.Contains(Norm(e)));
    }

    // ------------------------------------------------------------------ rule (d): quality

    static CandidateResult? Representative(List<CandidateResult> fitting, string family, string metric, bool higherIsBetter, List<string> reasons)
    {
        var mine = fitting.Where(c => FamilyOf(c) == family).OrderBy(c => Order(c, metric, higherIsBetter)).ToList();
        if (mine.Count == 0) return null;
        if (mine.Count > 1)
            reasons.Add(Quality(mine[0], metric) is { } q
                ? $"{Label(mine[0])} represents {Family(family)}: the best {MetricName(metric)} ({F3(q.Mean)}) of the {mine.Count} {Family(family)} candidates that fit."
                : $"{Label(mine[0])} represents {Family(family)} among {mine.Count} fitting candidates (no {MetricName(metric)} was measured).");
        return mine[0];
    }

    /// <summary>Sort key: best metric first, unmeasured last, then lower latency.</summary>
    static (int, double, double) Order(CandidateResult c, string metric, bool higherIsBetter) => Quality(c, metric) is { } q
        ? (0, higherIsBetter ? -q.Mean : q.Mean, c.LatencyP95Ms)
        : (1, 0, c.LatencyP95Ms);

    static string CompareQuality(CompareTask task, string metric, bool higherIsBetter, CandidateResult gpt, CandidateResult bert, List<string> reasons)
    {
        var qg = Quality(gpt, metric);
        var qb = Quality(bert, metric);
        if (qg is null || qb is null)
        {
            var missing = string.Join(" and ", new[] { (gpt, qg), (bert, qb) }.Where(p => p.Item2 is null).Select(p => Label(p.Item1)));
            reasons.Add($"Both families fit, but no {MetricName(metric)} was measured for {missing}, so their quality cannot be compared.");
            return "either";
        }
        // Put the better one first: a is better (or equal), b is worse.
        bool bertBetter = higherIsBetter ? qb.Mean > qg.Mean : qb.Mean < qg.Mean;
        var (a, qa, b, qbb) = bertBetter ? (bert, qb, gpt, qg) : (gpt, qg, bert, qb);
        double gap = Math.Abs(qa.Mean - qbb.Mean);
        string name = MetricName(metric);
        string famA = Family(FamilyOf(a)!), famB = Family(FamilyOf(b)!);
        bool singleSeed = qa.N <= 1 || qbb.N <= 1;

        if (!singleSeed)
        {
            // Several seeds on both sides: the difference is real when it exceeds twice its standard error.
            double se = Math.Sqrt(qa.StdError * qa.StdError + qbb.StdError * qbb.StdError);
            string seeds = qa.N == qbb.N ? $"over {qa.N} seeds" : $"over {qa.N} and {qbb.N} seeds";
            string head = $"{Named(a)} {name} {F3(qa.Mean)} ± {F3(qa.StdError)} vs {Named(b)} {F3(qbb.Mean)} ± {F3(qbb.StdError)} {seeds} (mean ± standard error)";
            if (gap > 2 * se)
            {
                reasons.Add($"{head}: {famA} is better by {F3(gap)}, more than twice the standard error of the difference ({F3(se)}).");
                return FamilyOf(a)!;
            }
            reasons.Add(gap == 0
                ? $"{head}: the two are tied, so the difference is within noise."
                : $"{head}: {famA} is ahead by {F3(gap)}, which is within twice the standard error of the difference (2 × {F3(se)} = {F3(2 * se)}), so the difference is within noise.");
            return "either";
        }

        // A single seed somewhere: no estimate of seed-to-seed spread, so use the fixed threshold.
        string who = qa.N <= 1 && qbb.N <= 1 ? "for each model" : $"for {(qa.N <= 1 ? Named(a) : Named(b))}";
        string caveat = $"only one seed was run {who}, so there is no estimate of seed-to-seed variation";
        bool relative = task is CompareTask.Generate or CompareTask.Chat; // losses: a relative threshold
        double threshold = relative ? SingleSeedThreshold * Math.Min(Math.Abs(qa.Mean), Math.Abs(qbb.Mean)) : SingleSeedThreshold;
        string gapText = relative ? $"{F3(gap)} ({gap / Math.Min(Math.Abs(qa.Mean), Math.Abs(qbb.Mean)):0.0%})" : F3(gap);
        string thresholdText = relative ? $"{SingleSeedThreshold:0%} (relative)" : F3(SingleSeedThreshold).TrimEnd('0');
        string first = $"{Named(a)} {name} {F3(qa.Mean)} vs {Named(b)} {F3(qbb.Mean)}: {caveat}";
        if (gap > threshold)
        {
            reasons.Add($"{first}; {famA} is better by {gapText}, more than the fixed threshold of {thresholdText} used for a single seed (run more seeds to be sure).");
            return FamilyOf(a)!;
        }
        reasons.Add($"{first}; the difference of {gapText} is not more than the fixed threshold of {thresholdText} used for a single seed, so it is within noise.");
        return "either";
    }

    /// <summary>Within noise: the cheaper candidate (lower latency, then fewer parameters, then smaller on disk) is the practical pick.</summary>
    static string PracticalPick(CandidateResult gpt, CandidateResult bert)
    {
        var facts = new List<string>();
        CandidateResult? pick = null;
        if (gpt.LatencyP95Ms > 0 && bert.LatencyP95Ms > 0 && gpt.LatencyP95Ms != bert.LatencyP95Ms)
        {
            pick = gpt.LatencyP95Ms < bert.LatencyP95Ms ? gpt : bert;
            var other = pick == gpt ? bert : gpt;
            bool est = IsEstimated(pick, "latency") || IsEstimated(other, "latency");
            facts.Add($"faster (latency p95 {Num(pick.LatencyP95Ms)} ms vs {Num(other.LatencyP95Ms)} ms at batch 1{(est ? ", estimated" : "")})");
        }
        // Sizes within 5% of each other are "the same size", not a reason to prefer one.
        if (gpt.Parameters > 0 && bert.Parameters > 0 && Math.Abs(gpt.Parameters - bert.Parameters) > 0.05 * Math.Max(gpt.Parameters, bert.Parameters))
        {
            var smaller = gpt.Parameters < bert.Parameters ? gpt : bert;
            var other = smaller == gpt ? bert : gpt;
            if (pick is null || pick == smaller)
            {
                pick = smaller;
                facts.Add($"smaller ({Millions(smaller.Parameters)} vs {Millions(other.Parameters)} parameters)");
            }
        }
        else if (pick is null && gpt.SizeOnDiskBytes > 0 && bert.SizeOnDiskBytes > 0 && gpt.SizeOnDiskBytes != bert.SizeOnDiskBytes)
        {
            pick = gpt.SizeOnDiskBytes < bert.SizeOnDiskBytes ? gpt : bert;
            var other = pick == gpt ? bert : gpt;
            facts.Add($"smaller on disk ({Num(pick.SizeOnDiskBytes / 1048576.0)} MB vs {Num(other.SizeOnDiskBytes / 1048576.0)} MB)");
        }
        return pick is null
            ? "Either will do: they cost about the same to run."
            : $"Either will do; {Label(pick)} is the practical pick: it is {string.Join(" and ", facts)}.";
    }

    // ------------------------------------------------------------------ rule (e): caveats

    static void BaselineCaveat(CompareTask task, DatasetProfile profile, CandidateResult chosen, List<string> reasons)
    {
        if (task != CompareTask.Classify || !(profile.MajorityBaselineAccuracy > 0)) return;
        if (Quality(chosen, "accuracy") is { } acc && acc.Mean - profile.MajorityBaselineAccuracy < BaselineMargin)
            reasons.Add($"Caveat: {Label(chosen)} accuracy {F3(acc.Mean)} is barely above (or below) the majority-class baseline of {F3(profile.MajorityBaselineAccuracy)}; "
                        + "the model has learned little beyond the label frequencies.");
    }

    static IEnumerable<string> ProfileCaveats(CompareTask task, DatasetProfile p)
    {
        // Little data: scores vary a lot from seed to seed and split to split.
        if (task == CompareTask.Generate)
        {
            double chars = p.TrainExamples * p.MeanChars;
            if (p.TrainExamples > 0 && chars < TinyCorpusChars)
                yield return $"Caveat: the training text is small (about {chars:N0} characters in {p.TrainExamples:N0} texts); models trained on so little overfit quickly, so treat the comparison as indicative.";
        }
        else if (p.TrainExamples > 0 && p.TrainExamples < TinyDataExamples)
            yield return $"Caveat: only {p.TrainExamples} training examples; with so little data results vary a lot between seeds and splits, so treat the comparison as indicative.";

        if (task == CompareTask.Classify && p.TestExamples > 0 && p.TestExamples < SmallTestExamples)
            yield return $"Caveat: the test set has only {p.TestExamples} examples, so a single example moves accuracy by {1.0 / p.TestExamples:0.000}.";

        // Heavy imbalance: accuracy flatters the majority class; macro-F1 does not.
        if (task == CompareTask.Classify && p.ImbalanceRatio >= HeavyImbalanceRatio)
        {
            var counts = p.LabelCounts.Count > 0 ? $" ({string.Join(", ", p.LabelCounts.Select(kv => $"{kv.Key} {kv.Value}"))})" : "";
            yield return $"Caveat: the labels are heavily imbalanced: the largest class has {p.ImbalanceRatio:0.0}× the examples of the smallest{counts}. "
                         + $"Accuracy flatters a model that favours the large class (always answering it scores {F3(p.MajorityBaselineAccuracy)}), which is why macro-F1 decides.";
        }

        // Scripts: tokenizers built for English may not cover other scripts well.
        var foreign = p.Scripts.Where(kv => kv.Key != "Latin" && kv.Value >= ScriptShareToMention).OrderByDescending(kv => kv.Value).ToList();
        if (foreign.Count > 0)
        {
            string list = string.Join(", ", foreign.Select(kv => $"{kv.Value:0%} {(kv.Key == "Other" ? "other scripts" : kv.Key)}"));
            yield return $"Caveat: the letters include {list}; check that each candidate's tokenizer covers them: an English WordPiece vocabulary maps unseen characters to [UNK], "
                         + "and GPT-2's byte-level BPE never fails but spends several tokens per character on scripts it saw little of.";
        }

        // Long texts: BERT cannot see past its positions.
        if (p.P95Tokens > BertMaxPositions)
            yield return $"Caveat: 5% of the texts are longer than {p.P95Tokens:0} tokens, beyond BERT's {BertMaxPositions} positions; those texts are truncated (GPT-2 sees up to 1,024).";

        if (task == CompareTask.Classify && p.HasPairs)
            yield return "Note: the data has text pairs; BERT encodes them with segment embeddings as in its pretraining, while GPT-2 sees them joined into one sequence.";
    }

    // ------------------------------------------------------------------ helpers

    static string? FamilyOf(CandidateResult c) => c.Family?.Trim().ToLowerInvariant() switch
    {
        "gpt" or "gpt2" or "gpt-2" => "gpt",
        "bert" => "bert",
        _ => null,
    };

    static string Family(string family) => family == "gpt" ? "GPT" : "BERT";
    // Names usually say their family already ("GPT from scratch"); only prefix it when they do not.
    static string Label(CandidateResult c)
    {
        var family = Family(FamilyOf(c) ?? "bert");
        return c.Name.Contains(family, StringComparison.Ordinal) ? c.Name : $"{family} {c.Name}";
    }
    static string Named(CandidateResult c) => $"{Family(FamilyOf(c)!)} ({c.Name})";

    static Measured? Quality(CandidateResult c, string metric)
    {
        if (!c.Quality.TryGetValue(metric, out var q))
            q = c.Quality.FirstOrDefault(kv => string.Equals(kv.Key, metric, StringComparison.OrdinalIgnoreCase)).Value;
        return q is null || double.IsNaN(q.Mean) ? null : q;
    }

    static string QualityClause(CandidateResult c, string metric) => Quality(c, metric) is { } q
        ? $" ({c.Name}: {MetricName(metric)} {F3(q.Mean)}{(q.N > 1 ? $" ± {F3(q.StdError)} over {q.N} seeds" : "")})"
        : "";

    static string MetricName(string metric) => metric switch
    {
        "macro_f1" => "macro-F1",
        "loss_per_char" => "loss per character",
        "mrr" => "MRR",
        "squad_f1" => "SQuAD F1",
        "squad_exact_match" => "SQuAD exact match",
        "entity_f1" => "entity F1 (seqeval)",
        "rougeL" => "ROUGE-L F1", "rouge1" => "ROUGE-1 F1", "rouge2" => "ROUGE-2 F1",
        "bleu" => "BLEU (sacreBLEU 13a, as a fraction)", "chrf" => "chrF (as a fraction)",
        "loss_per_token" => "loss per assistant token",
        _ => metric.Replace('_', ' '),
    };

    static string Sentence(string s) => s.TrimEnd().EndsWith('.') ? s.TrimEnd() : s.TrimEnd() + ".";
    static string F3(double v) => v.ToString("0.000", CultureInfo.InvariantCulture);
    /// <summary>Figures as people write them: 700, 12.5, 20, 0.35.</summary>
    static string Num(double v) => v.ToString(Math.Abs(v) >= 100 ? "0" : Math.Abs(v) >= 1 ? "0.#" : "0.0#", CultureInfo.InvariantCulture);
    static string Millions(long n) => n >= 1_000_000 ? (n / 1e6).ToString("0.0", CultureInfo.InvariantCulture) + "M" : n.ToString("N0", CultureInfo.InvariantCulture);
}
