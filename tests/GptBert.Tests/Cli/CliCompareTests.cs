using System.Text.Json;

namespace GptBert.Tests.Cli;

public class CliCompareTests
{
    static (string Train, string Test) Data(string dir, int n)
    {
        var rng = new Random(3);
        string[] colours = ["red", "blue", "green"];
        string[] words = "cat dog bird sun moon star tree rock river hill road boat".Split(' ');
        string Row(int i) => $"{string.Join(" ", Enumerable.Range(0, 6).Select(_ => words[rng.Next(words.Length)]))} {colours[i % 3]},{colours[i % 3]}";
        var train = Path.Combine(dir, "train.csv"); var test = Path.Combine(dir, "test.csv");
        File.WriteAllLines(train, ["text,label", .. Enumerable.Range(0, n).Select(Row)]);
        File.WriteAllLines(test, ["text,label", .. Enumerable.Range(0, 30).Select(Row)]);
        return (train, test);
    }

    [Fact]
    public void CompareJsonHasTheVerdictReasonsAndCandidatesAndWritesTheReport()
    {
        TestUtil.Init();
        var dir = TestUtil.TempDir("cli-compare");
        var (train, test) = Data(dir, 90);
        var report = Path.Combine(dir, "report");
        var r = CliHarness.Run(null, "choose", "--train", train, "--test", test, "--from-scratch", "--params", "120k", "--vocab-size", "320",
            "--budget-steps", "10", "--seeds", "2", "--max-length", "16", "--report", report, "--json", "--latency-ms", "1000");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var verdict = doc.RootElement.GetProperty("verdict").GetString();
        Assert.NotEqual("neither", verdict); // a 1000 ms latency limit excludes neither tiny model
        Assert.True(doc.RootElement.GetProperty("reasons").GetArrayLength() > 0);
        Assert.Equal(2, doc.RootElement.GetProperty("candidates").GetArrayLength());
        // Peak inference memory measured in a child process (the runtime and libtorch alone take tens of MiB), the estimate kept apart.
        foreach (var c in doc.RootElement.GetProperty("candidates").EnumerateArray())
        {
            Assert.Equal("child process", c.GetProperty("memory_method").GetString());
            Assert.InRange(c.GetProperty("peak_memory_mb").GetDouble(), 30, 4000);
            Assert.True(c.GetProperty("peak_memory_estimate_mb").GetDouble() > 0);
            Assert.DoesNotContain("PeakMemoryMb", c.GetProperty("estimated").EnumerateArray().Select(e => e.GetString()));
            Assert.True(c.GetProperty("probe_cpu_seconds").GetDouble() > 0);
        }
        Assert.True(File.Exists(Path.Combine(report, "report.html")));
        var html = File.ReadAllText(Path.Combine(report, "report.html"));
        Assert.DoesNotContain("https://", html.Replace("http://www.w3.org/2000/svg", "").Replace("http://www.w3.org/1999/xhtml", ""));
    }

    [Theory]
    [InlineData("--task", "translate")]
    [InlineData("--budget-steps", "0")]
    public void BadInputIsOneLine(string flag, string value)
    {
        var dir = TestUtil.TempDir("cli-compare-bad");
        var (train, test) = Data(dir, 60);
        var r = CliHarness.Run(null, "compare", "--train", train, "--test", test, "--from-scratch", flag, value);
        CliHarness.AssertOneLineError(r, 2); // unknown task, non-positive budget: usage errors
    }

    [Fact]
    public void ContradictoryOrMissingBudgetsAndRolesAreRefused()
    {
        var dir = TestUtil.TempDir("cli-compare-bad2");
        var (train, test) = Data(dir, 60);
        var both = CliHarness.Run(null, "compare", "--train", train, "--test", test, "--from-scratch", "--budget-steps", "5", "--budget-time", "1m");
        Assert.Contains("give one budget", CliHarness.AssertOneLineError(both, 2));
        var tokensAndSteps = CliHarness.Run(null, "compare", "--train", train, "--test", test, "--from-scratch", "--max-tokens", "20k", "--max-steps", "5");
        var line = CliHarness.AssertOneLineError(tokensAndSteps, 2);
        Assert.Contains("--max-tokens", line);
        Assert.Contains("--max-steps", line);
        var zero = CliHarness.Run(null, "compare", "--train", train, "--test", test, "--from-scratch", "--max-tokens", "0");
        Assert.Contains("--max-tokens '0' must be positive", CliHarness.AssertOneLineError(zero, 2));
        var none = CliHarness.Run(null, "compare", "--train", train, "--test", test, "--from-scratch");
        Assert.Contains("budget", CliHarness.AssertOneLineError(none, 2));
        var role = CliHarness.Run(null, "compare", "--train", train, "--test", test, "--gpt", "minilm", "--budget-steps", "5");
        Assert.Contains("--bert", CliHarness.AssertOneLineError(role, 1));
        var small = Data(TestUtil.TempDir("cli-compare-small"), 10);
        var tiny = CliHarness.Run(null, "compare", "--train", small.Train, "--test", small.Test, "--from-scratch", "--budget-steps", "5");
        Assert.Contains("at least 20", CliHarness.AssertOneLineError(tiny, 1));
    }

    [Fact]
    public void BudgetSweepFromTheCommandLineReportsEachBudgetAndRefusesASecondBudget()
    {
        TestUtil.Init();
        var dir = TestUtil.TempDir("cli-compare-sweep");
        var (train, test) = Data(dir, 60);
        var both = CliHarness.Run(null, "compare", "--train", train, "--test", test, "--from-scratch", "--budget-sweep", "4steps,8steps", "--max-tokens", "5k");
        Assert.Contains("--budget-sweep", CliHarness.AssertOneLineError(both, 2));
        var mixed = CliHarness.Run(null, "compare", "--train", train, "--test", test, "--from-scratch", "--budget-sweep", "4steps,20s");
        Assert.Contains("--budget-sweep mixes units", CliHarness.AssertOneLineError(mixed, 2));

        var r = CliHarness.Run(null, "compare", "--train", train, "--test", test, "--from-scratch", "--params", "120k", "--vocab-size", "320",
            "--budget-sweep", "4steps,8steps", "--seeds", "1", "--max-length", "16", "--no-baselines", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var sweep = doc.RootElement.GetProperty("budget_sweep");
        Assert.Equal("steps", sweep.GetProperty("unit").GetString());
        Assert.Equal([4.0, 8.0], sweep.GetProperty("points").EnumerateArray().Select(p => p.GetProperty("value").GetDouble()));
        Assert.All(sweep.GetProperty("points").EnumerateArray(), p => Assert.Equal(2, p.GetProperty("quality").EnumerateObject().Count()));
    }
}
