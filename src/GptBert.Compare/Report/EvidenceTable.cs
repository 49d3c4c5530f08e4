namespace GptBert.Compare.Report;

/// <summary>Which way a row's figure is better, for highlighting the best candidate.</summary>
public enum Better { None, Higher, Lower }

/// <summary>One cell: the text every renderer prints, the number behind it (for highlighting), and flags.</summary>
public sealed record EvidenceCell(string Text, double? Value = null, bool Estimated = false, bool Best = false, bool Unsupported = false);

/// <summary>One figure across the candidates.</summary>
public sealed record EvidenceRow(string Label, IReadOnlyList<EvidenceCell> Cells, Better Better = Better.None, bool IsQuality = false);

/// <summary>A labelled line of the data profile or the run description.</summary>
public sealed record ReportLine(string Label, string Text);

/// <summary>
/// The evidence table and the text lines of a report, built once from a <see cref="ComparisonReport"/>
/// and rendered by the console summary, the HTML page and the Markdown file: every figure is formatted
/// here (through <see cref="ReportFormat"/>), so the three show identical strings.
/// </summary>
public sealed record EvidenceTable(
    IReadOnlyList<CandidateResult> Candidates,
    IReadOnlyList<EvidenceRow> Rows,
    IReadOnlyList<string> Footnotes)
{
    public const string NotSupported = "not supported";
    /// <summary>The still-improving rule in words (<see cref="BudgetCurves.Trend(IReadOnlyList{TrainingCurve}, bool)"/>).</summary>
    public const string StillImprovingFootnote =
        "still improving: in most seeds the best validation value came in the last 20% of the budget and the mean gain over that 20% " +
        "(for a loss: the relative drop) exceeds both 0.01 (1%) and twice its standard error over the seeds; more budget may change the order";

    public static EvidenceTable Build(ComparisonReport r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var cands = ReportFormat.Columns(r);
        var rows = new List<EvidenceRow>();

        EvidenceCell Cell(CandidateResult c, string figure, string text, double? value, bool quality = false)
        {
            if (!c.Supported && (quality || text == ReportFormat.Missing))
                return new EvidenceCell(quality ? NotSupported : text, null, Unsupported: true);
            bool known = text != ReportFormat.Missing;
            bool est = known && ReportFormat.IsEstimated(c, figure);
            return new EvidenceCell(est ? ReportFormat.EstimatedMark + text : text, known ? value : null, est, Unsupported: !c.Supported);
        }
        void Add(string label, Better better, Func<CandidateResult, EvidenceCell> cell, bool quality = false) =>
            rows.Add(new EvidenceRow(label, cands.Select(cell).ToList(), better, quality));
        static double? Positive(double v) => double.IsFinite(v) && v > 0 ? v : null;

        Add("family", Better.None, c => new EvidenceCell(ReportFormat.Family(c.Family), Unsupported: !c.Supported));
        if (cands.Any(c => c.Seeds.Count > 0))
            Add("seeds", Better.None, c => new EvidenceCell(c.Seeds.Count == 0 ? ReportFormat.Missing : string.Join(", ", c.Seeds.Select(s => s.ToString(System.Globalization.CultureInfo.InvariantCulture))), Unsupported: !c.Supported));
        Add("parameters", Better.None, c => Cell(c, ReportFormat.Parameters,
            Positive(c.Parameters) is { } p ? ReportFormat.Count(p) : ReportFormat.Missing, Positive(c.Parameters)));
        Add("size on disk", Better.Lower, c => Cell(c, ReportFormat.Size,
            Positive(c.SizeOnDiskBytes) is { } b ? ReportFormat.Bytes(b) : ReportFormat.Missing, Positive(c.SizeOnDiskBytes)));
        foreach (var metric in ReportFormat.MetricOrder(r))
            Add(metric, ReportFormat.LowerIsBetter(metric) ? Better.Lower : Better.Higher, c =>
            {
                c.Quality.TryGetValue(metric, out var m);
                double? v = m is not null && double.IsFinite(m.Mean) ? m.Mean : null;
                return Cell(c, "quality:" + metric, ReportFormat.Quality(m), v, quality: true);
            }, quality: true);
        Add("training time", Better.Lower, c => Cell(c, ReportFormat.Training, ReportFormat.TrainingTime(c.TrainingSeconds),
            c.TrainingSeconds is { } t && double.IsFinite(t.Mean) ? t.Mean : null));
        if (cands.Any(c => c.Trend is not null))
            Add("still improving at the end", Better.None, c => new EvidenceCell(c.Trend is not { } t ? ReportFormat.Missing
                : (t.StillImproving ? "yes" : "no") + $" ({(t.Gain >= 0 ? "+" : "")}{ReportFormat.Sig3(t.Metric is "loss" or "loss_per_char" ? 100 * t.Gain : t.Gain)}{(t.Metric is "loss" or "loss_per_char" ? "%" : "")} in the last 20%)",
                Unsupported: !c.Supported));
        if (cands.Any(c => c.TrainingCpuSeconds is not null))
            Add("CPU per wall second (training)", Better.None, c => Cell(c, "cpu", CpuPerWall(c.TrainingCpuSeconds, c.TrainingSeconds), null));
                Add("latency p50 (batch 1)", Better.Lower, c => Cell(c, ReportFormat.LatencyP50,
            Positive(c.LatencyP50Ms) is { } l ? ReportFormat.Milliseconds(l) : ReportFormat.Missing, Positive(c.LatencyP50Ms)));
        Add("latency p95 (batch 1)", Better.Lower, c => Cell(c, ReportFormat.LatencyP95,
            Positive(c.LatencyP95Ms) is { } l ? ReportFormat.Milliseconds(l) : ReportFormat.Missing, Positive(c.LatencyP95Ms)));
        Add("throughput (best batch)", Better.Higher, c => Cell(c, ReportFormat.ThroughputFigure,
            ReportFormat.Throughput(c.ThroughputPerSecond, c.BestBatchSize), Positive(c.ThroughputPerSecond)));
        Add("peak memory (inference)", Better.Lower, c => Cell(c, ReportFormat.Memory,
            Positive(c.PeakMemoryMb) is { } m ? ReportFormat.Mebibytes(m) : ReportFormat.Missing, Positive(c.PeakMemoryMb)));
        if (cands.Any(c => c.TrainingPeakMemoryMb is not null))
            Add("peak memory (training)", Better.Lower, c => Cell(c, "training_peak_memory",
                c.TrainingPeakMemoryMb is { } t && Positive(t.Mean) is { } m ? ReportFormat.Mebibytes(m) : ReportFormat.Missing,
                c.TrainingPeakMemoryMb is { } t2 ? Positive(t2.Mean) : null));
        if (cands.Any(c => c.PeakMemoryEstimateMb > 0 && !ReportFormat.IsEstimated(c, ReportFormat.Memory)))
            Add("peak memory, est. (cost model)", Better.None, c => new EvidenceCell(
                Positive(c.PeakMemoryEstimateMb) is { } e ? ReportFormat.Mebibytes(e) : ReportFormat.Missing, Unsupported: !c.Supported));
        Add("FLOPs/token", Better.Lower, c => Cell(c, ReportFormat.Flops,
            Positive(c.FlopsPerToken) is { } f ? ReportFormat.Count(f) : ReportFormat.Missing, Positive(c.FlopsPerToken)));

        rows = rows.Select(MarkBest).ToList();

        var notes = new List<string>();
        if (rows.Any(row => row.Cells.Any(c => c.Estimated))) notes.Add(ReportFormat.EstimatedFootnote);
        if (cands.Any(c => c.Trend is not null)) notes.Add(StillImprovingFootnote);
        foreach (var method in cands.Select(c => c.MemoryMethod).OfType<string>().Distinct())
            notes.Add(method == "child process"
                ? "peak memory (inference): peak resident set (VmHWM) of a child process that only loaded the model and ran the speed probe: runtime, libtorch, weights and activations"
                : $"peak memory (inference): peak resident set (VmHWM) of this process over the speed probe ({method})");
        if (cands.Any(c => c.TrainingPeakMemoryMb is not null))
            notes.Add(cands.Any(c => c.MemoryMethod == "child process")
                ? "peak memory (training): peak resident set (VmHWM) of a child process that ran only that training run; mean over seeds"
                : "peak memory (training): peak resident set (VmHWM) of this process during each training run, reset at the run's start after returning freed memory to the OS; mean over seeds");
        foreach (var c in cands.Where(c => !c.Supported))
        {
            var why = string.IsNullOrWhiteSpace(c.NotSupportedReason) ? "" : ": " + OneLine(c.NotSupportedReason);
            notes.Add($"{OneLine(c.Name)}: {NotSupported} for {ReportFormat.Task(r.Task)}{why}");
        }
        return new EvidenceTable(cands, rows, notes);
    }

    /// <summary>Mean process CPU seconds per wall second over the runs: "1.93" (what contention is judged on).</summary>
    static string CpuPerWall(Measured? cpu, Measured? wall) =>
        cpu is { } c && wall is { } w && c.N == w.N && c.N > 0 && w.Values.Sum() > 0
            ? (c.Values.Sum() / w.Values.Sum()).ToString("0.00", System.Globalization.CultureInfo.InvariantCulture)
            : ReportFormat.Missing;

        /// <summary>Marks the best value of a row among supported candidates (only when at least two have one; ties all count).</summary>
    static EvidenceRow MarkBest(EvidenceRow row)
    {
        if (row.Better == Better.None) return row;
        var values = row.Cells.Where(c => !c.Unsupported && c.Value is not null).Select(c => c.Value!.Value).ToList();
        if (values.Count < 2 || values.Distinct().Count() < 2) return row;
        double best = row.Better == Better.Higher ? values.Max() : values.Min();
        return row with { Cells = row.Cells.Select(c => !c.Unsupported && c.Value == best ? c with { Best = true } : c).ToList() };
    }

    /// <summary>Collapses line breaks so a user string stays on one line of the console or a table cell.</summary>
    public static string OneLine(string? s) =>
        string.Join(' ', (s ?? "").Split(['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries).Select(p => p.Trim()).Where(p => p.Length > 0));

    /// <summary>The data profile as labelled lines: examples per split, labels and balance, lengths, scripts.</summary>
    public static IReadOnlyList<ReportLine> ProfileLines(ComparisonReport r)
    {
        var p = r.Profile ?? new DatasetProfile();
        var lines = new List<ReportLine>
        {
            new("task", ReportFormat.Task(r.Task)),
            new("examples", $"train {ReportFormat.Integer(p.TrainExamples)}, validation {ReportFormat.Integer(p.ValidationExamples)}, test {ReportFormat.Integer(p.TestExamples)}"),
        };
        if (p.LabelCounts.Count > 0)
        {
            lines.Add(new("labels", LabelsText(p)));
            var balance = $"largest/smallest class {ReportFormat.Ratio(p.ImbalanceRatio)}";
            if (p.MajorityBaselineAccuracy > 0)
                balance += $"; majority baseline accuracy {ReportFormat.QualityValue(p.MajorityBaselineAccuracy)}";
            lines.Add(new("balance", balance));
        }
        var length = $"characters: mean {Round(p.MeanChars)}, median {Round(p.MedianChars)}, p95 {Round(p.P95Chars)}, max {ReportFormat.Integer(p.MaxChars)}";
        if (p.P95Tokens > 0) length += $"; tokens: p95 {Round(p.P95Tokens)}";
        lines.Add(new("length", length));
        if (p.Scripts.Count > 0)
            lines.Add(new("scripts", string.Join(", ", p.Scripts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal)
                .Select(kv => $"{OneLine(kv.Key)} {ReportFormat.Percent(kv.Value)}"))));
        if (p.HasPairs) lines.Add(new("text pairs", "yes"));
        if (p.Skipped.Count > 0) lines.Add(new("skipped rows", SkippedText(p.Skipped)));
        return lines;
    }

    /// <summary>
    /// "none (train.csv 2,400 rows, test.csv 300 rows)" or "train.csv 3 of 2,403 rows: 2 with a NUL byte (lines 17, 240), 1 with an
    /// empty text (line 99); test.csv none of 300": every file read, so a clean file is visibly clean.
    /// </summary>
    public static string SkippedText(IReadOnlyList<GptBert.Data.SkippedRows> files)
    {
        static string N(long v) => ReportFormat.Integer(v);
        if (files.All(f => f.Count == 0))
            return "none (" + string.Join(", ", files.Select(f => $"{OneLine(Path.GetFileName(f.File))} {N(f.Rows)} rows")) + ")";
        return string.Join("; ", files.Select(f => f.Count == 0
            ? $"{OneLine(Path.GetFileName(f.File))} none of {N(f.Rows)}"
            : $"{OneLine(Path.GetFileName(f.File))} {N(f.Count)} of {N(f.Rows)} rows: {string.Join(", ", f.Kinds)}"));
    }

    static string Round(double v) => double.IsFinite(v) ? ReportFormat.Integer((long)Math.Round(v, MidpointRounding.AwayFromZero)) : ReportFormat.Missing;

    /// <summary>How many labels are listed by name; the rest are summarised as "+N more".</summary>
    public const int MaxLabelsListed = 12;

    /// <summary>Labels by frequency with count and share, most frequent first.</summary>
    public static IReadOnlyList<(string Label, int Count, double Share)> LabelShares(DatasetProfile p)
    {
        double total = p.LabelCounts.Values.Sum(v => (double)v);
        return p.LabelCounts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => (kv.Key, kv.Value, total > 0 ? kv.Value / total : 0)).ToList();
    }

    /// <summary>"2 labels: positive 620 (51.7%), negative 580 (48.3%)".</summary>
    public static string LabelCountText(string label, int count, double share) =>
        $"{OneLine(label)} {ReportFormat.Integer(count)} ({ReportFormat.Percent(share)})";

    static string LabelsText(DatasetProfile p)
    {
        var shares = LabelShares(p);
        var parts = shares.Take(MaxLabelsListed).Select(s => LabelCountText(s.Label, s.Count, s.Share)).ToList();
        if (shares.Count > MaxLabelsListed) parts.Add($"+{(shares.Count - MaxLabelsListed).ToString(System.Globalization.CultureInfo.InvariantCulture)} more");
        return $"{shares.Count.ToString(System.Globalization.CultureInfo.InvariantCulture)} labels: {string.Join(", ", parts)}";
    }

    /// <summary>The budget and the user's constraints.</summary>
    public static IReadOnlyList<ReportLine> BudgetLines(ComparisonReport r)
    {
        var q = r.Requirements ?? new Requirements();
        var req = new List<string>();
        if (q.LatencyMs is { } l) req.Add($"latency <= {ReportFormat.Milliseconds(l)}");
        if (q.MemoryMb is { } m) req.Add($"memory <= {ReportFormat.Mebibytes(m)}");
        if (q.DiskMb is { } d) req.Add($"disk <= {ReportFormat.Mebibytes(d)}");
        if (q.NeedsGeneration) req.Add("needs text generation");
        req.Add($"device {OneLine(q.Device)}, {q.Cores.ToString(System.Globalization.CultureInfo.InvariantCulture)} cores");
        return
        [
            new("budget", string.IsNullOrWhiteSpace(r.Budget) ? ReportFormat.Missing : OneLine(r.Budget)),
            new("requirements", string.Join(", ", req)),
        ];
    }

    /// <summary>
    /// The budget sweep as labelled lines: per budget, the verdict and each candidate's primary metric (winner first),
    /// then one line per crossover; empty without a sweep.
    /// </summary>
    public static IReadOnlyList<ReportLine> SweepLines(ComparisonReport r)
    {
        if (r.Sweep is not { } sweep) return [];
        var lines = new List<ReportLine>();
        foreach (var p in sweep.Points)
        {
            var ordered = p.Quality.OrderBy(kv => kv.Key == p.Winner ? 0 : 1).ThenBy(kv => kv.Key, StringComparer.Ordinal)
                .Select(kv => $"{OneLine(kv.Key)} {ReportFormat.QualityValue(kv.Value)}");
            lines.Add(new(p.Budget, $"verdict {ReportFormat.VerdictText(new Verdict(p.Verdict, []) { BudgetDependent = p.BudgetDependent })}; "
                + $"{sweep.Metric}: {string.Join(", ", ordered)}" + (p.Winner is null ? "" : $" (best: {OneLine(p.Winner)})")));
        }
        if (sweep.Crossovers.Count == 0)
            lines.Add(new("crossover", sweep.Points.Count > 0 && sweep.Points.All(p => p.Winner == sweep.Points[0].Winner) && sweep.Points[0].Winner is { } w
                ? $"none: {OneLine(w)} is best at every budget" : "none"));
        foreach (var c in sweep.Crossovers)
            lines.Add(new("crossover", $"the best changes from {OneLine(c.Before)} to {OneLine(c.After)} between {BudgetValue(sweep.Unit, c.FromBudget)} and "
                + $"{BudgetValue(sweep.Unit, c.ToBudget)} (about {BudgetValue(sweep.Unit, c.Estimated)}, interpolated)"));
        return lines;
    }

    /// <summary>A budget in its unit: "41,000 tokens", "120 steps", "1m20s".</summary>
    public static string BudgetValue(BudgetUnit unit, double value) =>
        new SweepBudget(unit, unit == BudgetUnit.Seconds || value < 1000 ? Math.Round(value) : Math.Round(value / 100) * 100).Text;

    /// <summary>"comparison overhead: 1.8% of 9m12s".</summary>
    public static string OverheadLine(ComparisonReport r) =>
        $"comparison overhead: {ReportFormat.Percent(r.OverheadFraction)} of {ReportFormat.Duration(r.TotalSeconds)}";

    /// <summary>Command, versions, machine and date (the HTML and Markdown reports show these; the console does not repeat them).</summary>
    public static IReadOnlyList<ReportLine> RunLines(ComparisonReport r) =>
    [
        new("command", string.IsNullOrWhiteSpace(r.Command) ? ReportFormat.Missing : r.Command),
        new("versions", string.IsNullOrWhiteSpace(r.Versions) ? ReportFormat.Missing : OneLine(r.Versions)),
        new("machine", string.IsNullOrWhiteSpace(r.Machine) ? ReportFormat.Missing : OneLine(r.Machine)),
        new("date", ReportFormat.Date(r.Date)),
    ];
}
