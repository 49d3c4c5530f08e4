using System.Diagnostics;
using System.Globalization;
using GptBert.Training;

namespace GptBert.Compare;

/// <summary>The unit of a budget: training tokens, optimizer steps or wall time (seconds) per run.</summary>
public enum BudgetUnit { Tokens, Steps, Seconds }

/// <summary>One budget of a sweep.</summary>
public sealed record SweepBudget(BudgetUnit Unit, double Value)
{
    /// <summary>"20,000 tokens", "300 steps", "1m20s".</summary>
    public string Text => Unit switch
    {
        BudgetUnit.Tokens => $"{Value.ToString("N0", CultureInfo.InvariantCulture)} tokens",
        BudgetUnit.Steps => $"{Value.ToString("N0", CultureInfo.InvariantCulture)} steps",
        _ => Reporting.ProgressReporter.FormatDuration(TimeSpan.FromSeconds(Value)),
    };

    /// <summary>The spec with this budget as its only budget.</summary>
    public CompareSpec Apply(CompareSpec spec) => spec with
    {
        BudgetTokens = Unit == BudgetUnit.Tokens ? (long)Value : null,
        BudgetSteps = Unit == BudgetUnit.Steps ? (long)Value : null,
        BudgetTime = Unit == BudgetUnit.Seconds ? TimeSpan.FromSeconds(Value) : null,
    };
}

/// <summary>The verdict and each candidate's primary metric at one budget of a sweep.</summary>
public sealed record SweepPoint(string Budget, double Value, string Verdict, bool BudgetDependent, string? Winner, IReadOnlyDictionary<string, double> Quality);

/// <summary>A budget sweep: the comparison at each budget, and where the winner changes.</summary>
public sealed record BudgetSweepResult(BudgetUnit Unit, string Metric, IReadOnlyList<SweepPoint> Points, IReadOnlyList<Crossover> Crossovers);

/// <summary>
/// `--budget-sweep`: the whole comparison at each of several budgets (same candidates, seeds and data), the verdict
/// at each, and the crossovers where the best candidate changes (<see cref="BudgetCurves.Crossovers"/>). The baselines
/// do not depend on the training budget of the transformers, so they are measured once (with the first budget) and every
/// budget's verdict is taken against them. The report returned is the largest budget's, with the sweep attached.
/// </summary>
public static class BudgetSweep
{
    public static ComparisonReport Run(CompareSpec spec, IReadOnlyList<SweepBudget> budgets, RunReporting? reporting = null)
    {
        Validate(budgets);
        var total = Stopwatch.StartNew();
        var reports = new List<ComparisonReport>();
        IReadOnlyList<CandidateResult> baselines = [];
        for (int i = 0; i < budgets.Count; i++)
        {
            reporting?.Info?.Invoke($"budget sweep: {budgets[i].Text} per run ({i + 1} of {budgets.Count})");
            var s = budgets[i].Apply(spec) with
            {
                WorkDirectory = Path.Combine(spec.WorkDirectory, $"budget-{i + 1}"),
                Baselines = spec.Baselines && i == 0,
            };
            var r = ComparisonRunner.Run(s, reporting);
            if (i == 0) baselines = r.Baselines;
            else if (baselines.Count > 0)
                r = r with { Baselines = baselines, Verdict = Decision.Choose(r.Task, r.Profile, r.Requirements, r.Candidates, baselines) };
            reports.Add(r);
        }
        var sweep = Summarize(reports, budgets);
        var last = reports[^1];
        return last with
        {
            Sweep = sweep,
            Budget = $"sweep of {string.Join(", ", budgets.Select(b => b.Text))} per run; the table and charts show the last",
            TotalSeconds = total.Elapsed.TotalSeconds,
            Warnings = reports.SelectMany((r, i) => r.Warnings.Select(w => $"At {budgets[i].Text}: {w}")).ToList(),
        };
    }

    /// <summary>The sweep's table from the reports of each budget (in the order of <paramref name="budgets"/>).</summary>
    public static BudgetSweepResult Summarize(IReadOnlyList<ComparisonReport> reports, IReadOnlyList<SweepBudget> budgets)
    {
        var task = reports[0].Task;
        var (metric, higherIsBetter) = Decision.PrimaryMetric(task);
        var names = reports.SelectMany(r => r.Candidates).Where(c => c.Supported).Select(c => c.Name).Distinct().ToList();
        var quality = names.ToDictionary(n => n, n => (IReadOnlyList<double>)reports.Select(r =>
            r.Candidates.FirstOrDefault(c => c.Name == n && c.Supported)?.Quality.GetValueOrDefault(metric)?.Mean ?? double.NaN).ToList());
        var values = budgets.Select(b => b.Value).ToList();
        var winners = BudgetCurves.Winners(values, quality, higherIsBetter);
        var points = reports.Select((r, i) => new SweepPoint(budgets[i].Text, budgets[i].Value, r.Verdict.Choice, r.Verdict.BudgetDependent, winners[i],
            quality.Where(kv => double.IsFinite(kv.Value[i])).ToDictionary(kv => kv.Key, kv => kv.Value[i]))).ToList();
        return new BudgetSweepResult(budgets[0].Unit, metric, points, BudgetCurves.Crossovers(values, quality, higherIsBetter));
    }

    public static void Validate(IReadOnlyList<SweepBudget> budgets)
    {
        if (budgets.Count < 2)
            throw new GptBertException($"BudgetSweep needs at least two budgets (got {budgets.Count})") { Parameter = "BudgetSweep" };
        if (budgets.Select(b => b.Unit).Distinct().Count() > 1)
            throw new GptBertException("BudgetSweep mixes units; give all budgets in tokens, all in steps or all as times") { Parameter = "BudgetSweep" };
        for (int i = 0; i < budgets.Count; i++)
        {
            if (!(budgets[i].Value > 0)) throw new GptBertException($"BudgetSweep budgets must be positive (got {budgets[i].Text})") { Parameter = "BudgetSweep" };
            if (i > 0 && budgets[i].Value <= budgets[i - 1].Value)
                throw new GptBertException($"BudgetSweep budgets must increase ({budgets[i].Text} after {budgets[i - 1].Text})") { Parameter = "BudgetSweep" };
        }
    }
}
