namespace GptBert.Compare;

/// <summary>
/// Whether the budget decided the order: the "still improving" rule on a candidate's validation curves, and the
/// crossovers of a budget sweep. Pure functions of the numbers, so they are tested on synthetic curves.
/// </summary>
public static class BudgetCurves
{
    /// <summary>The last part of the budget the rule looks at: from 80% to 100%.</summary>
    public const double LateFraction = 0.8;
    /// <summary>The smallest gain over the last 20% that counts: 0.01 absolute (macro-F1, accuracy), 1% relative (losses).</summary>
    public const double MinimumGain = 0.01;

    /// <summary>
    /// The still-improving rule. For each seed's validation curve (metric against the fraction of the budget used),
    /// the gain over the last 20% of the budget is the metric at the end minus the metric at 80% (linearly interpolated
    /// between evaluations; for a lower-is-better metric, the drop relative to the value at 80%). A candidate is
    /// <b>still improving</b> when (1) in more than half of its seeds the best value was reached in the last 20% of the
    /// budget (progress ≥ 0.8), and (2) the mean gain over its seeds exceeds the threshold: the larger of
    /// <see cref="MinimumGain"/> and twice the standard error of the per-seed gains (the seed noise; none with one seed).
    /// Curves without an evaluation at or before 80% of the budget and one after it cannot be judged and are left out;
    /// null when no seed can be judged.
    /// </summary>
    public static BudgetTrend? Trend(IReadOnlyList<TrainingCurve> curves, bool higherIsBetter)
    {
        var usable = curves.Where(c => c.EvalMetric.Count == c.EvalProgress.Count && c.EvalMetric.Count >= 2).ToList();
        var points = usable.Select(c => c.EvalProgress.Zip(c.EvalMetric, (p, v) => (p, v)).Where(t => double.IsFinite(t.v)).ToList()).ToList();
        return Trend(points, higherIsBetter, usable.FirstOrDefault()?.Metric ?? "metric");
    }

    /// <summary>The rule of <see cref="Trend(IReadOnlyList{TrainingCurve}, bool)"/> on (fraction of budget, metric) points, one list per seed.</summary>
    public static BudgetTrend? Trend(IReadOnlyList<IReadOnlyList<(double Progress, double Value)>> seeds, bool higherIsBetter, string metric = "metric")
    {
        var gains = new List<double>();
        int bestLate = 0;
        foreach (var raw in seeds)
        {
            var pts = raw.OrderBy(t => t.Progress).ToList();
            if (pts.Count < 2 || pts[0].Progress > LateFraction || pts[^1].Progress <= LateFraction) continue;
            double at80 = Interpolate(pts, LateFraction), end = pts[^1].Value;
            double gain = higherIsBetter ? end - at80 : (at80 - end) / Math.Abs(at80);
            if (!double.IsFinite(gain)) continue;
            gains.Add(gain);
            // The first point holding the best value: a plateau reached before 80% is not "late".
            var best = pts[0];
            foreach (var p in pts.Skip(1))
                if (higherIsBetter ? p.Value > best.Value : p.Value < best.Value) best = p;
            if (best.Progress >= LateFraction) bestLate++;
        }
        if (gains.Count == 0) return null;
        var m = Measured.Of(gains);
        double threshold = Math.Max(MinimumGain, 2 * m.StdError);
        bool improving = bestLate * 2 > gains.Count && m.Mean > threshold;
        return new BudgetTrend(metric, improving, m.Mean, threshold, gains.Count);
    }

    static double Interpolate(List<(double Progress, double Value)> pts, double x)
    {
        for (int i = 1; i < pts.Count; i++)
            if (pts[i].Progress >= x)
            {
                var (x0, y0) = pts[i - 1];
                var (x1, y1) = pts[i];
                return x1 == x0 ? y1 : y0 + (y1 - y0) * (x - x0) / (x1 - x0);
            }
        return pts[^1].Value;
    }

    /// <summary>
    /// Where the winner of a budget sweep changes. <paramref name="budgets"/> are increasing; <paramref name="quality"/>
    /// holds each candidate's primary metric at each budget (NaN where not measured). The winner at a budget is the
    /// candidate with the best metric there; a crossover lies between two consecutive budgets with different winners. Its
    /// estimated position is where the difference between the two winners' metrics, interpolated linearly in log(budget),
    /// crosses zero.
    /// </summary>
    public static IReadOnlyList<Crossover> Crossovers(IReadOnlyList<double> budgets, IReadOnlyDictionary<string, IReadOnlyList<double>> quality, bool higherIsBetter)
    {
        var winners = Winners(budgets, quality, higherIsBetter);
        var result = new List<Crossover>();
        for (int i = 1; i < budgets.Count; i++)
        {
            if (winners[i - 1] is not { } before || winners[i] is not { } after || before == after) continue;
            double d0 = quality[after][i - 1] - quality[before][i - 1], d1 = quality[after][i] - quality[before][i];
            if (!higherIsBetter) { d0 = -d0; d1 = -d1; }
            double l0 = Math.Log(budgets[i - 1]), l1 = Math.Log(budgets[i]);
            double at = double.IsFinite(d0) && double.IsFinite(d1) && d1 != d0 && d0 <= 0 && d1 > 0
                ? Math.Exp(l0 + (l1 - l0) * (-d0) / (d1 - d0))
                : Math.Sqrt(budgets[i - 1] * budgets[i]);
            result.Add(new Crossover(budgets[i - 1], budgets[i], before, after, at));
        }
        return result;
    }

    /// <summary>The best candidate at each budget (null where none was measured).</summary>
    public static IReadOnlyList<string?> Winners(IReadOnlyList<double> budgets, IReadOnlyDictionary<string, IReadOnlyList<double>> quality, bool higherIsBetter)
    {
        var winners = new List<string?>();
        for (int i = 0; i < budgets.Count; i++)
        {
            string? best = null; double bestValue = double.NaN;
            foreach (var (name, values) in quality.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                double v = i < values.Count ? values[i] : double.NaN;
                if (!double.IsFinite(v)) continue;
                if (best is null || (higherIsBetter ? v > bestValue : v < bestValue)) { best = name; bestValue = v; }
            }
            winners.Add(best);
        }
        return winners;
    }
}

/// <summary>The winner changes from <see cref="Before"/> to <see cref="After"/> between two budgets of a sweep, at about <see cref="Estimated"/>.</summary>
public sealed record Crossover(double FromBudget, double ToBudget, string Before, string After, double Estimated);
