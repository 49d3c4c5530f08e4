using GptBert.Cli;
using GptBert.Cli.Commands;
using GptBert.Compare;
using GptBert.Compare.Report;
using GptBert.Tests.Compare.Report;
using GptBert.Training;

namespace GptBert.Tests.Compare;

public class BudgetSweepTests
{
    [Fact]
    public void SweepBudgetsParseByTheirSuffix()
    {
        Assert.Equal([new SweepBudget(BudgetUnit.Tokens, 20_000), new(BudgetUnit.Tokens, 80_000), new(BudgetUnit.Tokens, 2_000_000)],
            CompareCommand.ParseSweep("20k, 80k,2M"));
        Assert.Equal([new SweepBudget(BudgetUnit.Seconds, 20), new(BudgetUnit.Seconds, 80), new(BudgetUnit.Seconds, 300)],
            CompareCommand.ParseSweep("20s,80s,5m"));
        Assert.Equal([new SweepBudget(BudgetUnit.Steps, 100), new(BudgetUnit.Steps, 400)], CompareCommand.ParseSweep("100steps,400steps"));
        Assert.Equal([new SweepBudget(BudgetUnit.Tokens, 500)], CompareCommand.ParseSweep("500"));
        var bad = Assert.Throws<UsageException>(() => CompareCommand.ParseSweep("20k,fast"));
        Assert.Contains("--budget-sweep 'fast'", bad.Message);
    }

    [Fact]
    public void SweepsWithOneBudgetMixedUnitsOrNoIncreaseAreRefusedNamingTheFlag()
    {
        foreach (var text in new[] { "20k", "20k,80s", "80k,20k" })
        {
            var e = Assert.ThrowsAny<GptBertException>(() => BudgetSweep.Validate(CompareCommand.ParseSweep(text)));
            Assert.StartsWith("--budget-sweep", CliErrors.Message(e));
        }
    }

    static ComparisonReport At(string verdict, params (string Name, string Family, double F1)[] cands) => ReportFixtures.Classify() with
    {
        Candidates = cands.Select(c => new CandidateResult
        {
            Name = c.Name, Family = c.Family, Source = "scratch", Architecture = "x",
            Quality = new Dictionary<string, Measured> { ["macro_f1"] = Measured.Of([c.F1, c.F1]) },
        }).ToList(),
        Verdict = new Verdict(verdict, []),
    };

    [Fact]
    public void TheSummaryNamesTheBestAtEachBudgetAndTheCrossover()
    {
        // Known by construction: GPT leads at 10k and 20k, MiniLM at 40k; MiniLM - GPT is -0.02 at 20k and +0.06 at 40k.
        SweepBudget[] budgets = [new(BudgetUnit.Tokens, 10_000), new(BudgetUnit.Tokens, 20_000), new(BudgetUnit.Tokens, 40_000)];
        var reports = new[]
        {
            At("gpt", ("GPT", "gpt", 0.60), ("MiniLM", "bert", 0.50)),
            At("gpt", ("GPT", "gpt", 0.62), ("MiniLM", "bert", 0.60)),
            At("bert", ("GPT", "gpt", 0.64), ("MiniLM", "bert", 0.70)),
        };
        var sweep = BudgetSweep.Summarize(reports, budgets);
        Assert.Equal(["GPT", "GPT", "MiniLM"], sweep.Points.Select(p => p.Winner));
        Assert.Equal(["gpt", "gpt", "bert"], sweep.Points.Select(p => p.Verdict));
        var c = Assert.Single(sweep.Crossovers);
        Assert.Equal(("GPT", "MiniLM"), (c.Before, c.After));
        Assert.Equal(20_000 * Math.Pow(2, 0.25), c.Estimated, 6);

        var report = reports[^1] with { Sweep = sweep };
        var console = ConsoleSummary.Render(report);
        Assert.Contains("Budget sweep", console);
        Assert.Contains("the best changes from GPT to MiniLM between 20,000 tokens and 40,000 tokens (about 23,800 tokens, interpolated)", console);
        Assert.Contains("## Budget sweep", MarkdownReport.Render(report));
        Assert.Contains(ReportCharts.BudgetSweepFile, MarkdownReport.Render(report));
        var json = System.Text.Json.JsonDocument.Parse(ReportJson.Serialize(report)).RootElement.GetProperty("budget_sweep");
        Assert.Equal("MiniLM", json.GetProperty("crossovers")[0].GetProperty("after").GetString());
        Assert.Equal(3, json.GetProperty("points").GetArrayLength());
        Assert.Contains("Quality vs budget", HtmlReport.Render(report));
    }

    [Fact]
    public void ASweepRunsTheComparisonAtEachBudget()
    {
        TestUtil.Init();
        var dir = TestUtil.TempDir("cmp-sweep");
        string[] colours = ["red", "blue", "green"];
        var rows = Enumerable.Range(0, 90).Select(i => $"the sky was {colours[i % 3]} today,{colours[i % 3]}").ToList();
        var train = Path.Combine(dir, "train.csv"); var test = Path.Combine(dir, "test.csv");
        File.WriteAllLines(train, ["text,label", .. rows]);
        File.WriteAllLines(test, ["text,label", .. rows.Take(30)]);
        var spec = new CompareSpec
        {
            Train = train, Test = test, WorkDirectory = Path.Combine(dir, "work"), FromScratch = true, ScratchParameters = 60_000, ScratchVocabSize = 300,
            Seeds = 1, MaxLength = 12, LatencySamples = 3, Baselines = false,
        };
        var report = BudgetSweep.Run(spec, [new(BudgetUnit.Steps, 4), new(BudgetUnit.Steps, 12)], new RunReporting(Progress: TextWriter.Null));
        Assert.Equal(2, report.Sweep!.Points.Count);
        Assert.All(report.Sweep.Points, p => Assert.Equal(2, p.Quality.Count));
        Assert.All(report.Candidates.SelectMany(c => c.Curves), k => Assert.Equal(12, k.EvalSteps[^1])); // the table is the last budget's
        Assert.StartsWith("sweep of 4 steps, 12 steps", report.Budget);
    }
}
