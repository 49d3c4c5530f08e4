using GptBert.Reporting;

namespace GptBert.Compare.Report;

/// <summary>One chart of a report: the file it is saved as next to report.md, a caption, and the chart.</summary>
public sealed record ReportChart(string FileName, string Title, string Caption, SvgChart Chart);

/// <summary>
/// The charts of a comparison: quality vs latency and quality vs size (one point per candidate, coloured
/// by family), training loss by step (one line per seed, one colour per family) and, when evaluated during
/// training, validation loss by step. Charts without any data are left out.
/// </summary>
public static class ReportCharts
{
    public const string GptColor = "#1f77b4", BertColor = "#ff7f0e", OtherColor = "#7f7f7f", BudgetColor = "#c62828";
    public const string QualityLatencyFile = "chart-quality-latency.svg", QualitySizeFile = "chart-quality-size.svg",
        TrainingCurvesFile = "chart-training-curves.svg", ValidationCurvesFile = "chart-validation-curves.svg",
        BudgetCurvesFile = "chart-budget-curves.svg", BudgetSweepFile = "chart-budget-sweep.svg";

    /// <summary>Colour of a family in every chart and in the HTML badges.</summary>
    public static string FamilyColor(string family) => family?.Trim().ToLowerInvariant() switch
    {
        "gpt" => GptColor,
        "bert" => BertColor,
        _ => OtherColor,
    };

    /// <summary>Spread (max / min) beyond which an axis of positive values goes logarithmic.</summary>
    public const double LogSpread = 20;

    public static IReadOnlyList<ReportChart> Build(ComparisonReport r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var charts = new List<ReportChart>();
        if (QualityVsLatency(r) is { } ql) charts.Add(ql);
        if (QualityVsSize(r) is { } qs) charts.Add(qs);
        if (TrainingCurves(r) is { } tc) charts.Add(tc);
        if (ValidationCurves(r) is { } vc) charts.Add(vc);
        if (BudgetCurves(r) is { } bc) charts.Add(bc);
        if (BudgetSweepChart(r) is { } sc) charts.Add(sc);
        return charts;
    }

    static string MetricLabel(string metric) =>
        $"{metric} ({(ReportFormat.LowerIsBetter(metric) ? "lower" : "higher")} is better)";

    static IEnumerable<IGrouping<string, CandidateResult>> ByFamily(IEnumerable<CandidateResult> cands) =>
        cands.GroupBy(c => ReportFormat.Family(c.Family)).OrderBy(g => g.Key, StringComparer.Ordinal);

    /// <summary>The primary quality metric against batch-1 p50 latency; null when nothing can be plotted.</summary>
    public static ReportChart? QualityVsLatency(ComparisonReport r)
    {
        if (ReportFormat.PrimaryMetric(r) is not { } metric) return null;
        var points = ReportFormat.Columns(r).Where(c => c.Supported && c.LatencyP50Ms > 0 && double.IsFinite(c.LatencyP50Ms)
            && c.Quality.TryGetValue(metric, out var q) && double.IsFinite(q.Mean)).ToList();
        if (points.Count == 0) return null;
        var chart = new SvgChart
        {
            Title = "Quality vs latency",
            XLabel = "latency p50, batch 1 (ms)",
            YLabel = MetricLabel(metric),
            Width = 560,
            Height = 400,
            LogX = Spread(points.Select(c => c.LatencyP50Ms).Append(r.Requirements?.LatencyMs ?? double.NaN)) > LogSpread,
        };
        AddScatter(chart, points, c => c.LatencyP50Ms, metric, ReportFormat.LatencyP50);
        AddBaseline(chart, r, metric);
        if (r.Requirements?.LatencyMs is { } budget && budget > 0)
        {
            // Span every y value plotted (points and baseline) so the line crosses the whole plot.
            var ys = points.Select(c => c.Quality[metric].Mean).ToList();
            if (BaselineOf(r, metric) is { } b) ys.Add(b);
            double lo = ys.Min(), hi = ys.Max();
            if (lo == hi) { lo -= 0.01; hi += 0.01; }
            chart.AddLine($"latency budget {ReportFormat.Milliseconds(budget)}", [budget, budget], [lo, hi], dashed: true, color: BudgetColor);
        }
        return new ReportChart(QualityLatencyFile, "Quality vs latency",
            $"Mean {metric} over seeds against the median latency of one example (batch 1); " +
            (ReportFormat.LowerIsBetter(metric) ? "lower left is best." : "upper left is best."), chart);
    }

    /// <summary>The primary quality metric against the parameter count; null when nothing can be plotted.</summary>
    public static ReportChart? QualityVsSize(ComparisonReport r)
    {
        if (ReportFormat.PrimaryMetric(r) is not { } metric) return null;
        var points = ReportFormat.Columns(r).Where(c => c.Supported && c.Parameters > 0
            && c.Quality.TryGetValue(metric, out var q) && double.IsFinite(q.Mean)).ToList();
        if (points.Count == 0) return null;
        var chart = new SvgChart
        {
            Title = "Quality vs size",
            XLabel = "parameters (millions)",
            YLabel = MetricLabel(metric),
            Width = 560,
            Height = 400,
            LogX = Spread(points.Select(c => (double)c.Parameters)) > LogSpread,
        };
        AddScatter(chart, points, c => c.Parameters / 1e6, metric, ReportFormat.Parameters);
        AddBaseline(chart, r, metric);
        return new ReportChart(QualitySizeFile, "Quality vs size",
            $"Mean {metric} over seeds against the number of parameters; " +
            (ReportFormat.LowerIsBetter(metric) ? "lower left is best." : "upper left is best."), chart);
    }

    static void AddScatter(SvgChart chart, List<CandidateResult> points, Func<CandidateResult, double> x, string metric, string xFigure)
    {
        foreach (var family in ByFamily(points))
        {
            var list = family.ToList();
            chart.AddScatter(family.Key, list.Select(x).ToList(), list.Select(c => c.Quality[metric].Mean).ToList(),
                list.Select(c => (string?)(EvidenceTable.OneLine(c.Name)
                    + (ReportFormat.IsEstimated(c, xFigure) || ReportFormat.IsEstimated(c, "quality:" + metric) ? " (estimated)" : ""))).ToList(),
                FamilyColor(list[0].Family));
        }
    }

    static double? BaselineOf(ComparisonReport r, string metric) =>
        r.Task == CompareTask.Classify && metric == "accuracy" && r.Profile?.MajorityBaselineAccuracy is > 0 and var b ? b : null;

    static void AddBaseline(SvgChart chart, ComparisonReport r, string metric)
    {
        if (BaselineOf(r, metric) is { } b)
            chart.AddHorizontalLine($"majority baseline {ReportFormat.QualityValue(b)}", b);
    }

    /// <summary>Train loss by step: one line per seed, one colour per family (further candidates of a family dashed).</summary>
    public static ReportChart? TrainingCurves(ComparisonReport r) =>
        Curves(r, "Training loss", "train loss", TrainingCurvesFile, c => (c.Steps, c.TrainLoss),
            "Train loss by step, one line per seed; colour is the family.");

    /// <summary>Validation loss by step (when the runs evaluated during training).</summary>
    public static ReportChart? ValidationCurves(ComparisonReport r) =>
        Curves(r, "Validation loss", "validation loss", ValidationCurvesFile, c => (c.EvalSteps, c.EvalLoss),
            "Validation loss by step, one line per seed; colour is the family.");

    static ReportChart? Curves(ComparisonReport r, string title, string yLabel, string file,
        Func<TrainingCurve, (IReadOnlyList<double> X, IReadOnlyList<double> Y)> select, string caption)
    {
        var withData = r.Candidates.Where(c => c.Curves.Any(k => Usable(select(k)))).ToList();
        if (withData.Count == 0) return null;
        var ys = withData.SelectMany(c => c.Curves).SelectMany(k => select(k).Y).Where(v => double.IsFinite(v)).ToList();
        int maxPoints = withData.SelectMany(c => c.Curves).Max(k => select(k).X.Count);
        var chart = new SvgChart
        {
            Title = title,
            XLabel = "step",
            YLabel = yLabel,
            Width = 1040,
            Height = 400,
            LogY = ys.Count > 0 && ys.All(v => v > 0) && Spread(ys) > LogSpread,
        };
        foreach (var family in ByFamily(withData))
        {
            int index = 0;
            foreach (var c in family)
            {
                bool first = true;
                foreach (var curve in c.Curves.OrderBy(k => k.Seed))
                {
                    var (x, y) = select(curve);
                    if (!Usable((x, y))) continue;
                    string name = first ? $"{EvidenceTable.OneLine(c.Name)} ({ReportFormat.Family(c.Family)}, {SeedsText(c)})" : "";
                    chart.AddLine(name, x, y, markers: maxPoints <= 30, dashed: index > 0, color: FamilyColor(c.Family));
                    first = false;
                }
                index++;
            }
        }
        return new ReportChart(file, title, caption, chart);
    }

    /// <summary>
    /// Validation quality against training tokens for every candidate on one chart: at each evaluation (the same fractions
    /// of the budget in every run), the mean over seeds of the metric and of the tokens trained so far. A candidate the
    /// still-improving rule flags is named so.
    /// </summary>
    public static ReportChart? BudgetCurves(ComparisonReport r)
    {
        var lines = new List<(CandidateResult C, List<double> X, List<double> Y)>();
        foreach (var c in r.Candidates)
        {
            var runs = c.Curves.Where(k => k.EvalMetric.Count > 0 && k.EvalMetric.Count == k.EvalTokens.Count).ToList();
            if (runs.Count == 0) continue;
            int n = runs.Min(k => k.EvalMetric.Count);
            var x = Enumerable.Range(0, n).Select(i => runs.Average(k => k.EvalTokens[i])).ToList();
            var y = Enumerable.Range(0, n).Select(i => runs.Select(k => k.EvalMetric[i]).Where(double.IsFinite).DefaultIfEmpty(double.NaN).Average()).ToList();
            if (y.Any(double.IsFinite)) lines.Add((c, x, y));
        }
        if (lines.Count == 0) return null;
        string metric = lines[0].C.Curves.First(k => k.Metric is not null).Metric ?? "metric";
        var xs = lines.SelectMany(l => l.X).Where(v => v > 0).ToList();
        var chart = new SvgChart
        {
            Title = "Quality vs training budget",
            XLabel = "training tokens",
            YLabel = $"validation {MetricLabel(metric)}",
            Width = 1040,
            Height = 400,
            LogX = xs.Count > 0 && Spread(xs) > LogSpread,
        };
        foreach (var family in ByFamily(lines.Select(l => l.C)))
        {
            int index = 0;
            foreach (var c in family)
            {
                var (_, x, y) = lines.First(l => ReferenceEquals(l.C, c));
                string name = $"{EvidenceTable.OneLine(c.Name)} ({ReportFormat.Family(c.Family)}, mean of {SeedsText(c)})"
                    + (c.Trend is { StillImproving: true } ? ": still improving" : "");
                chart.AddLine(name, x, y, markers: true, dashed: index > 0, color: FamilyColor(c.Family));
                index++;
            }
        }
        return new ReportChart(BudgetCurvesFile, "Quality vs training budget",
            $"Validation {metric} against training tokens, mean over seeds, evaluated at equal fractions of each run's budget. " +
            "\"Still improving\": " + EvidenceTable.StillImprovingFootnote + ".", chart);
    }

        /// <summary>Test quality at each budget of a sweep, one line per candidate, with the crossovers as dashed vertical lines.</summary>
    public static ReportChart? BudgetSweepChart(ComparisonReport r)
    {
        if (r.Sweep is not { Points.Count: > 0 } sweep) return null;
        var names = sweep.Points.SelectMany(p => p.Quality.Keys).Distinct().Order(StringComparer.Ordinal).ToList();
        if (names.Count == 0) return null;
        string unit = sweep.Unit switch { BudgetUnit.Tokens => "training tokens", BudgetUnit.Steps => "optimizer steps", _ => "training seconds" };
        var chart = new SvgChart
        {
            Title = "Quality vs budget (sweep)",
            XLabel = $"budget per run ({unit})",
            YLabel = $"test {MetricLabel(sweep.Metric)}",
            Width = 1040,
            Height = 400,
            LogX = Spread(sweep.Points.Select(p => p.Value)) > 3,
        };
        var families = r.Candidates.ToDictionary(c => c.Name, c => c.Family);
        int i = 0;
        foreach (var name in names)
        {
            var pts = sweep.Points.Where(p => p.Quality.ContainsKey(name)).ToList();
            chart.AddLine(EvidenceTable.OneLine(name), pts.Select(p => p.Value).ToList(), pts.Select(p => p.Quality[name]).ToList(),
                markers: true, dashed: i++ % 2 == 1, color: FamilyColor(families.GetValueOrDefault(name, "")));
        }
        var ys = sweep.Points.SelectMany(p => p.Quality.Values).Where(double.IsFinite).ToList();
        foreach (var c in sweep.Crossovers)
            chart.AddLine($"crossover ~{EvidenceTable.BudgetValue(sweep.Unit, c.Estimated)}", [c.Estimated, c.Estimated], [ys.Min(), ys.Max()], dashed: true, color: BudgetColor);
        return new ReportChart(BudgetSweepFile, "Quality vs budget (sweep)",
            $"Mean test {sweep.Metric} over seeds at each budget of the sweep; a dashed red line marks where the best candidate changes (interpolated).", chart);
    }

        static string SeedsText(CandidateResult c)
    {
        int n = c.Curves.Count;
        return n == 1 ? "1 seed" : $"{n.ToString(System.Globalization.CultureInfo.InvariantCulture)} seeds";
    }

    static bool Usable((IReadOnlyList<double> X, IReadOnlyList<double> Y) s) =>
        s.X is not null && s.Y is not null && s.X.Count == s.Y.Count && s.X.Count > 0;

    static double Spread(IEnumerable<double> values)
    {
        var v = values.Where(x => double.IsFinite(x) && x > 0).ToList();
        return v.Count < 2 ? 1 : v.Max() / v.Min();
    }
}
