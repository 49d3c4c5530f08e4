using System.Globalization;

namespace GptBert.Compare.Report;

/// <summary>
/// The one place numbers of a comparison become text: the console summary, the HTML page and the
/// Markdown report all call these, so the same figure reads the same everywhere. Invariant culture,
/// three significant figures for magnitudes, never "NaN" or "∞" (a missing figure is "n/a").
/// </summary>
public static class ReportFormat
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>What a missing, undefined or not-measured figure prints as.</summary>
    public const string Missing = "n/a";
    /// <summary>Prefix of a figure that came from the cost model instead of a measurement.</summary>
    public const string EstimatedMark = "~";
    public const string EstimatedFootnote = "~ estimated from the cost model, not measured";

    /// <summary>"GPT", "BERT", or the family as given.</summary>
    public static string Family(string family) => family?.Trim().ToLowerInvariant() switch
    {
        "gpt" => "GPT",
        "bert" => "BERT",
        null or "" => Missing,
        _ => family.Trim(),
    };

    /// <summary>The verdict's choice as the JSON and CSS know it: "gpt", "bert", "either", "neither", "baseline" (lower case, trimmed).</summary>
    public static string Choice(Verdict verdict) => (verdict.Choice ?? "").Trim().ToLowerInvariant();

    /// <summary>"BERT", "GPT", "either is fine", "neither fits the budget".</summary>
    public static string VerdictText(Verdict verdict) => ChoiceText(verdict) + (verdict.BudgetDependent ? BudgetDependentSuffix : "");

    /// <summary>Appended to the verdict when a candidate other than the leader was still improving (<see cref="Verdict.BudgetDependent"/>).</summary>
    public const string BudgetDependentSuffix = " (at this budget; more may change it)";

    static string ChoiceText(Verdict verdict) => Choice(verdict) switch
    {
        "gpt" => "GPT",
        "bert" => "BERT",
        "either" => "either is fine",
        "neither" => "neither fits the budget",
        "baseline" => "a baseline: no transformer needed",
        "" => "undecided",
        _ => verdict.Choice.Trim(),
    };

    /// <summary>"Verdict: BERT".</summary>
    public static string VerdictLine(Verdict verdict) => "Verdict: " + VerdictText(verdict);

    /// <summary>The GPT/BERT candidates, then the baselines: the columns of the evidence table and the points of the quality charts.</summary>
    public static IReadOnlyList<CandidateResult> Columns(ComparisonReport r) => [.. r.Candidates ?? [], .. r.Baselines ?? []];

    /// <summary>"classify", "generate", "search".</summary>
    public static string Task(CompareTask task) => task.ToString().ToLowerInvariant();

    /// <summary>Three significant figures (at least 0 decimals): 0.853, 12.3, 123, 1235.</summary>
    public static string Sig3(double v)
    {
        if (!double.IsFinite(v)) return Missing;
        if (v == 0) return "0";
        double a = Math.Abs(v);
        int decimals = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : Math.Min(6, 2 - (int)Math.Floor(Math.Log10(a)));
        var s = Math.Round(v, decimals, MidpointRounding.AwayFromZero).ToString("F" + decimals, Inv);
        // 9.995 rounds to "10.00": re-format with the decimals of its new magnitude.
        double r = double.Parse(s, Inv);
        if (r == 0) return "0";
        if (Math.Abs(r) >= 10 * Math.Pow(10, Math.Floor(Math.Log10(a)))) return Sig3(r);
        return s;
    }

    /// <summary>Counts with k/M/G/T suffixes and three significant figures: 950, 12.3k, 22.7M, 124M, 1.50G.</summary>
    public static string Count(double v)
    {
        if (!double.IsFinite(v)) return Missing;
        double a = Math.Abs(v);
        if (a < 1000) return a >= 100 || a == Math.Floor(a) ? Math.Round(v).ToString("F0", Inv) : Sig3(v);
        string[] suffixes = ["k", "M", "G", "T", "P"];
        int i = 0;
        double unit = 1e3;
        while (i < suffixes.Length - 1 && a >= unit * 999.5) { unit *= 1e3; i++; }
        return Sig3(v / unit) + suffixes[i];
    }

    /// <summary>Thousands separated integers: 1,200.</summary>
    public static string Integer(long v) => v.ToString("N0", Inv);

    /// <summary>Bytes in binary units with three significant figures: 512 B, 12.3 KiB, 86.9 MiB, 1.23 GiB.</summary>
    public static string Bytes(double bytes)
    {
        if (!double.IsFinite(bytes) || bytes < 0) return Missing;
        if (bytes < 1024) return Math.Round(bytes).ToString("F0", Inv) + " B";
        string[] units = ["KiB", "MiB", "GiB", "TiB"];
        double v = bytes / 1024;
        int i = 0;
        while (i < units.Length - 1 && v >= 1023.5) { v /= 1024; i++; }
        return Sig3(v) + " " + units[i];
    }

    /// <summary>Mebibytes (what <see cref="CandidateResult.PeakMemoryMb"/> holds) in the units of <see cref="Bytes"/>.</summary>
    public static string Mebibytes(double mib) => double.IsFinite(mib) ? Bytes(mib * 1024 * 1024) : Missing;

    /// <summary>Milliseconds: 0.853 ms, 12.3 ms, 123 ms; a second or more as 1.23 s.</summary>
    public static string Milliseconds(double ms)
    {
        if (!double.IsFinite(ms) || ms < 0) return Missing;
        return ms >= 999.5 ? Sig3(ms / 1000) + " s" : Sig3(ms) + " ms";
    }

    /// <summary>A duration: 3.21 s, 45.2 s, 9m12s, 1h05m.</summary>
    public static string Duration(double seconds)
    {
        if (!double.IsFinite(seconds) || seconds < 0) return Missing;
        if (seconds < 59.5) return Sig3(seconds) + " s";
        long s = (long)Math.Round(seconds);
        if (s < 3600) return $"{(s / 60).ToString(Inv)}m{(s % 60).ToString("00", Inv)}s";
        long m = (long)Math.Round(seconds / 60);
        return $"{(m / 60).ToString(Inv)}h{(m % 60).ToString("00", Inv)}m";
    }

    /// <summary>A fraction as a percentage with one decimal: 1.8%.</summary>
    public static string Percent(double fraction) =>
        double.IsFinite(fraction) ? (fraction * 100).ToString("F1", Inv) + "%" : Missing;

    /// <summary>Decimals for a quality figure of this size: 3 below 10 (0.812), 1 below 100 (35.2), else 0.</summary>
    static int QualityDecimals(double mean)
    {
        double a = Math.Abs(mean);
        return a < 10 ? 3 : a < 100 ? 1 : 0;
    }

    /// <summary>A single quality figure with the decimals <see cref="Quality(Measured)"/> uses: 0.812, 35.2.</summary>
    public static string QualityValue(double v) => double.IsFinite(v) ? v.ToString("F" + QualityDecimals(v), Inv) : Missing;

    /// <summary>Mean ± sample standard deviation over seeds: "0.812 ± 0.010 (n=3)"; one seed: "0.812 (n=1)".</summary>
    public static string Quality(Measured? m)
    {
        if (m is null || !double.IsFinite(m.Mean)) return Missing;
        int d = QualityDecimals(m.Mean);
        string mean = m.Mean.ToString("F" + d, Inv);
        if (m.N <= 1 || !double.IsFinite(m.Std)) return $"{mean} (n={m.N.ToString(Inv)})";
        return $"{mean} ± {m.Std.ToString("F" + d, Inv)} (n={m.N.ToString(Inv)})";
    }

    /// <summary>Training time over seeds: "65.3 s ± 2.10 s", "9m12s ± 14.0 s"; one seed: "65.3 s".</summary>
    public static string TrainingTime(Measured? m)
    {
        if (m is null || !double.IsFinite(m.Mean)) return Missing;
        if (m.N <= 1 || !double.IsFinite(m.Std)) return Duration(m.Mean);
        return $"{Duration(m.Mean)} ± {Duration(m.Std)}";
    }

    /// <summary>Examples per second and the batch size it was reached at: "412 ex/s (batch 32)".</summary>
    public static string Throughput(double perSecond, int batch) =>
        double.IsFinite(perSecond) && perSecond > 0 ? $"{Count(perSecond)} ex/s (batch {batch.ToString(Inv)})" : Missing;

    /// <summary>A ratio of largest to smallest: "1.07:1".</summary>
    public static string Ratio(double r) => double.IsFinite(r) ? Sig3(r) + ":1" : Missing;

    /// <summary>UTC date and time to the minute: "2025-03-14 09:26 UTC".</summary>
    public static string Date(DateTime date)
    {
        var utc = date.Kind == DateTimeKind.Local ? date.ToUniversalTime() : date;
        return utc.ToString("yyyy-MM-dd HH:mm", Inv) + " UTC";
    }

    /// <summary>
    /// True when <paramref name="figure"/> of <paramref name="c"/> is an estimate. <see cref="CandidateResult.Estimated"/>
    /// may name figures by property (<c>nameof(CandidateResult.LatencyP50Ms)</c>), in snake case
    /// (<c>latency_p50_ms</c>) or by short alias (<c>latency</c> covers p50 and p95, <c>quality</c> every metric,
    /// <c>size</c>, <c>memory</c>, <c>flops</c>, <c>training</c>, <c>throughput</c>, <c>params</c>); a quality
    /// metric by its name (<c>accuracy</c>). Case, '_' and '-' are ignored.
    /// </summary>
    public static bool IsEstimated(CandidateResult c, string figure)
    {
        if (c.Estimated is null || c.Estimated.Count == 0) return false;
        var names = c.Estimated.Select(Normalize).ToHashSet(StringComparer.Ordinal);
        return Aliases(figure).Any(names.Contains);
    }

    /// <summary>Figure keys <see cref="IsEstimated"/> understands (quality metrics are asked for as "quality:NAME").</summary>
    public const string Parameters = nameof(CandidateResult.Parameters), Size = nameof(CandidateResult.SizeOnDiskBytes),
        Training = nameof(CandidateResult.TrainingSeconds), LatencyP50 = nameof(CandidateResult.LatencyP50Ms),
        LatencyP95 = nameof(CandidateResult.LatencyP95Ms), ThroughputFigure = nameof(CandidateResult.ThroughputPerSecond),
        Memory = nameof(CandidateResult.PeakMemoryMb), Flops = nameof(CandidateResult.FlopsPerToken);

    static string Normalize(string s) =>
        new string((s ?? "").Where(ch => ch != '_' && ch != '-' && ch != ' ').ToArray()).ToLowerInvariant();

    static IEnumerable<string> Aliases(string figure)
    {
        if (figure.StartsWith("quality:", StringComparison.Ordinal))
            return [Normalize(figure["quality:".Length..]), "quality", "qualitymetrics"];
        var n = Normalize(figure);
        return n switch
        {
            "parameters" => [n, "params", "parametercount"],
            "sizeondiskbytes" => [n, "sizeondisk", "size", "disk", "disksize"],
            "trainingseconds" => [n, "trainingtime", "training", "traintime"],
            "latencyp50ms" => [n, "latencyp50", "latency", "p50"],
            "latencyp95ms" => [n, "latencyp95", "latency", "p95"],
            "throughputpersecond" => [n, "throughput", "bestbatchsize"],
            "peakmemorymb" => [n, "peakmemory", "memory"],
            "flopspertoken" => [n, "flops"],
            _ => [n],
        };
    }

    /// <summary>
    /// Quality metrics where lower is better (losses, perplexity, bits, error rates); everything else
    /// (accuracy, F1, recall@k, MRR) is higher-is-better.
    /// </summary>
    public static bool LowerIsBetter(string metric)
    {
        var m = metric.ToLowerInvariant();
        return m.Contains("loss") || m.Contains("perplexity") || m.Contains("ppl") || m.Contains("bits")
            || m.Contains("error") || m.Contains("nll");
    }

    /// <summary>Quality metric names of the report in display order: the task's usual ones first, then the rest by name.</summary>
    public static IReadOnlyList<string> MetricOrder(ComparisonReport r)
    {
        string[] preferred = r.Task switch
        {
            CompareTask.Classify => ["accuracy", "macro_f1", "weighted_f1"],
            CompareTask.Generate => ["loss_per_char", "perplexity", "loss", "bits_per_char"],
            CompareTask.Search => ["recall@1", "recall@5", "recall@10", "mrr"],
            CompareTask.Qa => ["squad_f1", "squad_exact_match"],
            CompareTask.Ner => ["entity_f1", "entity_precision", "entity_recall", "token_accuracy"],
            CompareTask.Summarize => ["rougeL", "rouge1", "rouge2"],
            CompareTask.Translate => ["bleu", "chrf"],
            CompareTask.Chat => ["loss_per_token", "perplexity"],
            _ => [],
        };
        var all = Columns(r).SelectMany(c => c.Quality.Keys).Distinct(StringComparer.Ordinal).ToList();
        return preferred.Where(all.Contains)
            .Concat(all.Where(m => !preferred.Contains(m)).Order(StringComparer.Ordinal))
            .ToList();
    }

    /// <summary>The metric the charts plot: the first of <see cref="MetricOrder"/> that a supported candidate has a value for.</summary>
    public static string? PrimaryMetric(ComparisonReport r) =>
        MetricOrder(r).FirstOrDefault(m => Columns(r).Any(c => c.Supported && c.Quality.TryGetValue(m, out var q) && double.IsFinite(q.Mean)));
}
