using GptBert.Compare;
using GptBert.Compare.Report;
using GptBert.Tests.Compare.Report;

namespace GptBert.Tests.Compare;

/// <summary>The contention rule: a run with less than 0.75x the median CPU per wall second of its kind is named.</summary>
public class ContentionTests
{
    static Contention.Run Train(string who, double wall, double cpu, int seed = 1) =>
        new(who, Contention.TrainingKind, $"training, seed {seed}", new CpuWall(wall, cpu));

    [Fact]
    public void ARunBelowThreeQuartersOfTheMedianIsFlaggedAndNamed()
    {
        // Ratios 1.9, 1.9, 1.8, 1.2 (median 1.85; 0.75 x 1.85 = 1.3875): only the 1.2 run is starved.
        var runs = new[] { Train("GPT", 10, 19), Train("GPT", 10, 19, 2), Train("BERT", 20, 36), Train("MiniLM", 100, 120) };
        var starved = Contention.Starved(runs);
        var (run, median) = Assert.Single(starved);
        Assert.Equal("MiniLM", run.Candidate);
        Assert.Equal(1.85, median, 9);
        var warning = Assert.Single(Contention.Warnings(runs));
        Assert.Contains("MiniLM (training, seed 1)", warning);
        Assert.Contains("1.20 CPU seconds per wall second", warning);
    }

    [Fact]
    public void RunsJustAboveTheThresholdShortRunsAndOtherKindsAreNotFlagged()
    {
        // 1.5 vs median 2.0: 0.75 x 2.0 = 1.5 is not below the threshold.
        Assert.Empty(Contention.Starved([Train("A", 10, 20), Train("B", 10, 20), Train("C", 10, 15)]));
        // A starved run of 0.2 s is too short to judge.
        Assert.Empty(Contention.Starved([Train("A", 10, 20), Train("B", 10, 20), Train("C", 0.2, 0.02)]));
        // Probes are judged against probes: a probe at 1.0 among training runs at 2.0 is not flagged (one probe: nothing to compare).
        Assert.Empty(Contention.Starved([Train("A", 10, 20), Train("B", 10, 20), new("C", Contention.ProbeKind, "speed probe", new CpuWall(5, 5))]));
    }

    [Fact]
    public void TheRunsAreReadFromTheCandidatesAndTheWarningReachesEveryRendering()
    {
        var report = ReportFixtures.Classify();
        var cands = report.Candidates.Select((c, i) => c with
        {
            TrainingSeconds = Measured.Of([10, 10, 10]),
            TrainingCpuSeconds = i == 0 ? Measured.Of([19, 8, 19]) : Measured.Of([19, 19, 19]),
            Seeds = [1, 2, 3],
        }).ToList();
        var runs = Contention.RunsOf(cands);
        Assert.Equal(3 * cands.Count, runs.Count);
        var warnings = Contention.Warnings(runs);
        var w = Assert.Single(warnings);
        Assert.Contains($"{cands[0].Name} (training, seed 2)", w);

        var r = report with { Candidates = cands, Warnings = warnings };
        Assert.Contains("seed 2", ConsoleSummary.Render(r));
        Assert.Contains("## Warnings", MarkdownReport.Render(r));
        Assert.Contains("seed 2", HtmlReport.Render(r));
        var json = System.Text.Json.JsonDocument.Parse(ReportJson.Serialize(r));
        Assert.Equal(w, json.RootElement.GetProperty("warnings")[0].GetString());
        Assert.Equal(3, json.RootElement.GetProperty("candidates")[0].GetProperty("training_cpu_seconds").GetProperty("values").GetArrayLength());
    }

    [Fact]
    public void TheCpuClockCountsTheProcessesCpuTime()
    {
        var clock = CpuClock.Start();
        var end = DateTime.UtcNow.AddMilliseconds(300);
        double x = 0;
        while (DateTime.UtcNow < end) x += Math.Sqrt(x + 1); // one busy thread
        var t = clock.Elapsed;
        Assert.True(x > 0);
        Assert.InRange(t.WallSeconds, 0.29, 5);
        // One busy thread: the process got roughly up to one CPU second per wall second (less on a loaded machine).
        Assert.InRange(t.CpuSeconds, 0.02, t.WallSeconds * Environment.ProcessorCount + 0.1);
    }
}
