using GptBert.Compare;

namespace GptBert.Tests.Compare;

/// <summary>The still-improving rule and crossover detection on synthetic curves whose answer is known by construction.</summary>
public class BudgetCurvesTests
{
    static readonly double[] Fractions = [0.2, 0.4, 0.6, 0.8, 1.0];

    static IReadOnlyList<(double, double)> Curve(Func<double, double> f) => Fractions.Select(p => (p, f(p))).ToList();

    [Fact]
    public void ALinearRiseIsStillImprovingByTheGainOfTheLastFifth()
    {
        // 0.5 + 0.3p: +0.06 over the last 20% in every seed (identical seeds: no noise), best at the end.
        var seeds = new[] { Curve(p => 0.5 + 0.3 * p), Curve(p => 0.5 + 0.3 * p), Curve(p => 0.5 + 0.3 * p) };
        var t = BudgetCurves.Trend(seeds, higherIsBetter: true, "macro_f1")!;
        Assert.True(t.StillImproving);
        Assert.Equal(0.06, t.Gain, 9);
        Assert.Equal(BudgetCurves.MinimumGain, t.Threshold, 12);
        Assert.Equal(3, t.Seeds);
    }

    [Fact]
    public void APlateauReachedBeforeEightyPercentIsNotStillImproving()
    {
        // Rises to 0.7 at 60% and stays there: the best value is first reached at 0.6, and the gain is 0.
        var seeds = new[] { Curve(p => Math.Min(0.7, 0.4 + 0.5 * p)), Curve(p => Math.Min(0.7, 0.38 + 0.55 * p)) };
        var t = BudgetCurves.Trend(seeds, higherIsBetter: true)!;
        Assert.False(t.StillImproving);
        Assert.Equal(0, t.Gain, 9);
    }

    [Fact]
    public void AGainWithinTheSeedNoiseIsNotStillImproving()
    {
        // Gains over the last 20% of +0.05, -0.04, +0.03 (best at the end in 2 of 3 seeds): mean 0.0133,
        // standard error sqrt(var/3) = 0.0267, threshold 2 x 0.0267 = 0.0533 > 0.0133.
        var seeds = new[]
        {
            Curve(p => p < 0.9 ? 0.6 : 0.65),
            Curve(p => p < 0.9 ? 0.6 : 0.56),
            Curve(p => p < 0.9 ? 0.6 : 0.63),
        };
        var t = BudgetCurves.Trend(seeds, higherIsBetter: true)!;
        Assert.Equal((0.05 - 0.04 + 0.03) / 3, t.Gain, 9);
        double sd = Math.Sqrt(new[] { 0.05, -0.04, 0.03 }.Sum(g => (g - t.Gain) * (g - t.Gain)) / 2);
        Assert.Equal(2 * sd / Math.Sqrt(3), t.Threshold, 9);
        Assert.False(t.StillImproving);
    }

    [Fact]
    public void ATinyGainOfOneSeedIsBelowTheMinimum()
    {
        var t = BudgetCurves.Trend([Curve(p => 0.7 + 0.02 * p)], higherIsBetter: true)!; // +0.004 over the last 20%
        Assert.Equal(0.004, t.Gain, 9);
        Assert.False(t.StillImproving);
    }

    [Fact]
    public void AFallingLossIsStillImprovingByItsRelativeDrop()
    {
        // Loss 2.0 - p: 1.2 at 80%, 1.0 at the end: a relative drop of 1/6.
        var t = BudgetCurves.Trend([Curve(p => 2.0 - p), Curve(p => 2.0 - p)], higherIsBetter: false, "loss")!;
        Assert.True(t.StillImproving);
        Assert.Equal(0.2 / 1.2, t.Gain, 9);
        // The same curve read as higher-is-better is getting worse.
        Assert.False(BudgetCurves.Trend([Curve(p => 2.0 - p)], higherIsBetter: true)!.StillImproving);
    }

    [Fact]
    public void TheValueAtEightyPercentIsInterpolatedBetweenEvaluations()
    {
        // Evaluations at 0.5 and 1.0 only: the value at 0.8 is 0.6 + 0.6 x 0.3 = 0.78; gain 0.12.
        var t = BudgetCurves.Trend([[(0.5, 0.6), (1.0, 0.9)]], higherIsBetter: true)!;
        Assert.Equal(0.12, t.Gain, 9);
        Assert.True(t.StillImproving);
    }

    [Fact]
    public void CurvesThatCannotBeJudgedGiveNoTrend()
    {
        Assert.Null(BudgetCurves.Trend([[(1.0, 0.8)]], higherIsBetter: true));                 // one evaluation, at the end
        Assert.Null(BudgetCurves.Trend([[(0.9, 0.7), (1.0, 0.8)]], higherIsBetter: true));     // nothing at or before 80%
        Assert.Null(BudgetCurves.Trend(Array.Empty<TrainingCurve>(), higherIsBetter: true));
    }

    [Fact]
    public void TheTrendIsReadFromTrainingCurves()
    {
        TrainingCurve Run(int seed) => new(seed, [], [], [1, 2, 3, 4, 5], [1, 1, 1, 1, 1])
        {
            Metric = "macro_f1", EvalProgress = Fractions, EvalMetric = Fractions.Select(p => 0.3 + 0.5 * p).ToList(),
            EvalTokens = Fractions.Select(p => p * 1000).ToList(), EvalSeconds = Fractions,
        };
        var t = BudgetCurves.Trend([Run(1), Run(2)], higherIsBetter: true)!;
        Assert.Equal("macro_f1", t.Metric);
        Assert.Equal(0.1, t.Gain, 9);
        Assert.True(t.StillImproving);
    }

    static Dictionary<string, IReadOnlyList<double>> Q(params (string Name, double[] Values)[] q) =>
        q.ToDictionary(x => x.Name, x => (IReadOnlyList<double>)x.Values);

    [Fact]
    public void TheCrossoverIsBetweenTheBudgetsWhereTheWinnerChangesAndWhereTheDifferenceCrossesZero()
    {
        double[] budgets = [1000, 2000, 4000];
        var quality = Q(("A", [0.50, 0.60, 0.70]), ("B", [0.60, 0.62, 0.64]));
        Assert.Equal(["B", "B", "A"], BudgetCurves.Winners(budgets, quality, higherIsBetter: true));
        var c = Assert.Single(BudgetCurves.Crossovers(budgets, quality, higherIsBetter: true));
        Assert.Equal(("B", "A", 2000.0, 4000.0), (c.Before, c.After, c.FromBudget, c.ToBudget));
        // A - B is -0.02 at 2000 and +0.06 at 4000: zero a quarter of the way in log2, at 2000 x 2^0.25.
        Assert.Equal(2000 * Math.Pow(2, 0.25), c.Estimated, 6);
    }

    [Fact]
    public void NoCrossoverWhenTheSameCandidateWinsEverywhere()
    {
        var quality = Q(("A", [0.5, 0.6, 0.7]), ("B", [0.4, 0.5, 0.6]));
        Assert.Empty(BudgetCurves.Crossovers([10, 20, 40], quality, higherIsBetter: true));
    }

    [Fact]
    public void LowerIsBetterCrossoversAndTwoChanges()
    {
        // Losses: A best at 1 and 3, B at 2: two crossovers.
        var quality = Q(("A", [1.0, 1.2, 0.8]), ("B", [1.1, 1.0, 0.9]));
        var cs = BudgetCurves.Crossovers([1, 2, 3], quality, higherIsBetter: false);
        Assert.Equal(2, cs.Count);
        Assert.Equal(("A", "B"), (cs[0].Before, cs[0].After));
        Assert.Equal(("B", "A"), (cs[1].Before, cs[1].After));
        Assert.InRange(cs[0].Estimated, 1, 2);
        Assert.InRange(cs[1].Estimated, 2, 3);
        // B - A (lower is better): +0.1 at 1, -0.2 at 2 → one third of the way in log.
        Assert.Equal(Math.Exp(Math.Log(2) / 3), cs[0].Estimated, 9);
    }

    [Fact]
    public void ABudgetWhereACandidateWasNotMeasuredIsSkipped()
    {
        var quality = Q(("A", [0.5, double.NaN, 0.9]), ("B", [0.6, 0.7, 0.8]));
        Assert.Equal(["B", "B", "A"], BudgetCurves.Winners([1, 2, 4], quality, higherIsBetter: true));
        var c = Assert.Single(BudgetCurves.Crossovers([1, 2, 4], quality, higherIsBetter: true));
        Assert.Equal(Math.Sqrt(2 * 4), c.Estimated, 9); // no difference at 2: the geometric middle
    }
}
