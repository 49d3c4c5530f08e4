using GptBert.Reporting;

namespace GptBert.Tests.Reporting;

public class ProgressReporterTests
{
    sealed class FakeClock
    {
        public TimeSpan Now;
        public TimeSpan Read() => Now;
        public void Set(double seconds) => Now = TimeSpan.FromSeconds(seconds);
    }

    static (ProgressReporter Reporter, StringWriter Output, FakeClock Clock) Make(ProgressBudget budget, bool interactive = false,
        double intervalSeconds = 10, long startStep = 0, long startTokens = 0)
    {
        var clock = new FakeClock();
        var output = new StringWriter { NewLine = "\n" };
        var r = new ProgressReporter(budget, output, interactive, clock.Read, TimeSpan.FromSeconds(intervalSeconds), startStep, startTokens);
        return (r, output, clock);
    }

    [Fact]
    public void EtaFromSteps()
    {
        var (r, output, clock) = Make(new ProgressBudget(Steps: 1000));
        clock.Set(10);
        r.Report(100, loss: 3.14159, lr: 3e-4);
        // 100 steps in 10 s = 10 steps/s; 900 steps left → 90 s.
        Assert.Equal(TimeSpan.FromSeconds(90), r.Eta);
        Assert.Equal("step 100/1000 10% | loss 3.1416 | lr 3.00e-04 | 10s | ETA 1m30s\n", output.ToString());
    }

    [Fact]
    public void EtaIsTheFirstBudgetToRunOut()
    {
        var (r, output, clock) = Make(new ProgressBudget(Steps: 1000, Tokens: 1_000_000, Time: TimeSpan.FromHours(1)));
        clock.Set(100);
        r.Report(100, tokens: 200_000);
        // steps: 1 step/s, 900 left → 900 s; tokens: 2000 tok/s, 800k left → 400 s; time: 3600 − 100 = 3500 s.
        // The token budget ends first: 400 s = 6m40s, and it is 200k/1M = 20 % used.
        Assert.Equal(TimeSpan.FromSeconds(400), r.Eta);
        Assert.Equal("step 100/1000 20% | 2.00k tok/s | 1m40s | ETA 6m40s\n", output.ToString());
    }

    [Fact]
    public void EtaFromWallTime()
    {
        var (r, output, clock) = Make(new ProgressBudget(Steps: 1000, Time: TimeSpan.FromMinutes(1)));
        clock.Set(30);
        r.Report(10);
        // steps: 10 in 30 s → 990 left take 2970 s; the 60 s wall budget has 30 s left and 50 % used.
        Assert.Equal(TimeSpan.FromSeconds(30), r.Eta);
        Assert.Equal("step 10/1000 50% | 30s | ETA 30s\n", output.ToString());
    }

    [Fact]
    public void ResumedRunUsesThisSessionsRate()
    {
        var (r, _, clock) = Make(new ProgressBudget(Steps: 1000, Tokens: 10_000), startStep: 500, startTokens: 5000);
        clock.Set(10);
        r.Report(600, tokens: 6000);
        // steps: 100 in 10 s → 400 left = 40 s; tokens: 1000 in 10 s → 4000 left = 40 s.
        Assert.Equal(TimeSpan.FromSeconds(40), r.Eta);
    }

    [Fact]
    public void UnknownEtaBeforeAnyProgress()
    {
        var (r, output, _) = Make(new ProgressBudget(Steps: 10));
        r.Report(0); // at t = 0 there is no rate yet
        Assert.Null(r.Eta);
        Assert.Equal("step 0/10 | 0s | ETA ?\n", output.ToString());
    }

    [Theory]
    [InlineData(0, "0s")]
    [InlineData(12.9, "12s")]
    [InlineData(59, "59s")]
    [InlineData(60, "1m00s")]
    [InlineData(185, "3m05s")]
    [InlineData(3599, "59m59s")]
    [InlineData(3725, "1h02m")]            // 1 h 2 min 5 s
    [InlineData(86399, "23h59m")]
    [InlineData(2 * 86400 + 3 * 3600 + 59, "2d03h")]
    [InlineData(-5, "0s")]
    public void DurationFormat(double seconds, string expected) =>
        Assert.Equal(expected, ProgressReporter.FormatDuration(TimeSpan.FromSeconds(seconds)));

    [Fact]
    public void NonTerminalWritesFullLinesEveryInterval()
    {
        var (r, output, clock) = Make(new ProgressBudget(Steps: 100), interactive: false, intervalSeconds: 10);
        for (int t = 1; t <= 25; t++)
        {
            clock.Set(t);
            r.Report(t, loss: 1);
        }
        // Printed at t = 1 (first), 11 and 21; the state at t = 25 is held back until Finish.
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.StartsWith("step 1/100 ", lines[0]);
        Assert.StartsWith("step 11/100 ", lines[1]);
        Assert.StartsWith("step 21/100 ", lines[2]);
        r.Finish();
        r.Report(26);   // ignored after Finish
        r.Finish();     // idempotent
        var all = output.ToString();
        Assert.DoesNotContain('\r', all);
        Assert.EndsWith("\n", all);
        lines = all.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        // 25 steps in 25 s, 75 left → 75 s.
        Assert.Equal("step 25/100 25% | loss 1.0000 | 25s | ETA 1m15s", lines[3]);
    }

    [Fact]
    public void TerminalRedrawsOneLineAtMostFourTimesASecond()
    {
        var (r, output, clock) = Make(new ProgressBudget(Steps: 1000), interactive: true);
        foreach (var (t, step) in new[] { (0.0, 0), (0.1, 1), (0.2, 2), (0.3, 3), (0.4, 4) })
        {
            clock.Set(t);
            r.Report(step);
        }
        // Drawn at 0.0 and 0.3 (≥ 0.25 s apart); 0.1, 0.2 and 0.4 are throttled.
        var text = output.ToString();
        Assert.Equal(2, text.Count(c => c == '\r'));
        Assert.DoesNotContain('\n', text);
        Assert.Contains("step 3/1000", text);
        r.Finish(); // draws the held-back state and ends the line
        text = output.ToString();
        Assert.Equal(3, text.Count(c => c == '\r'));
        Assert.EndsWith("\n", text);
        Assert.Contains("\rstep 4/1000 0% | 0s | ETA 1m39s", text); // 4 steps in 0.4 s → 996 / 10 = 99.6 s
    }

    [Fact]
    public void TerminalPadsAShorterLineAndKeepsMessagesApart()
    {
        var (r, output, clock) = Make(new ProgressBudget(), interactive: true);
        r.Report(1, loss: 12.5, lr: 0.001);
        var first = output.ToString()[1..];
        clock.Set(1);
        r.Report(2);
        var second = output.ToString()[(1 + first.Length + 1)..];
        Assert.Equal(first.Length, second.Length); // padded with spaces over the longer line
        Assert.StartsWith("step 2 | 1s | ETA ?", second);

        r.Message("warning: something");
        var text = output.ToString();
        Assert.Contains("\rwarning: something", text);
        Assert.EndsWith("\rstep 2 | 1s | ETA ?", text.TrimEnd(' '));
    }

    [Fact]
    public void ThreadSafe()
    {
        var output = new StringWriter();
        var r = new ProgressReporter(new ProgressBudget(Steps: 100_000), TextWriter.Synchronized(output), interactive: false, lineInterval: TimeSpan.Zero);
        Parallel.For(0, 2000, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => r.Report(i, loss: 1.5, tokens: i * 10L));
        r.Finish();
        foreach (var line in output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries))
            Assert.Matches("^step [0-9]+/100000 ", line);
    }
}
