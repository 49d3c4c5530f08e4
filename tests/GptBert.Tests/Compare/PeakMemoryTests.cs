using System.Runtime.InteropServices;
using GptBert.Cli.Commands;
using GptBert.Compare;

namespace GptBert.Tests.Compare;

/// <summary>Peak resident memory read from the OS, in this process (between resets) and in a child process.</summary>
public class PeakMemoryTests
{
    [Fact]
    public void SpeedProbeChildrenRunAsTheModelRunningCommandsDo_TrainingChildrenAndUserChoicesAreLeftAlone()
    {
        string? Unset(string _) => null;
        foreach (var kind in new[] { "probe", "optimize-probe" })
            Assert.Equal("PASSIVE", ChildProcessRunner.EnvironmentFor(new ChildWork { Kind = kind }, Unset)["OMP_WAIT_POLICY"]);
        Assert.Empty(ChildProcessRunner.EnvironmentFor(new ChildWork { Kind = "train" }, Unset));
        Assert.Empty(ChildProcessRunner.EnvironmentFor(new ChildWork { Kind = "allocate" }, Unset));
        Assert.Empty(ChildProcessRunner.EnvironmentFor(new ChildWork { Kind = "probe" }, n => n == "OMP_WAIT_POLICY" ? "ACTIVE" : null));
        Assert.Empty(ChildProcessRunner.EnvironmentFor(new ChildWork { Kind = "probe" }, n => n == "GOMP_SPINCOUNT" ? "0" : null));
    }

    [Fact]
    public void StatusLinesAreReadInKilobytes()
    {
        Assert.Equal(123456, PeakMemory.ParseKb("\t  123456 kB"));
        Assert.Null(PeakMemory.ParseKb(" n/a"));
    }

    [Fact]
    public void AWindowAfterAResetMeasuresWhatItAllocated()
    {
        if (!OperatingSystem.IsLinux() || !PeakMemory.Reset()) return; // VmHWM resets are Linux-only
        double before = PeakMemory.CurrentMb();
        Assert.InRange(PeakMemory.PeakMb() - before, -5, 20); // the reset brought the high-water mark down to the resident set
        const int mb = 200;
        nint p = Marshal.AllocHGlobal(mb * 1024 * 1024);
        try
        {
            for (nint i = 0; i < mb * 1024 * 1024; i += 4096) Marshal.WriteByte(p + i, 1);
            double peak = PeakMemory.PeakMb();
            // Known by construction: 200 MiB touched; other test threads may add a little.
            Assert.InRange(peak - before, mb * 0.95, mb * 1.25);
        }
        finally { Marshal.FreeHGlobal(p); }
    }

    [Fact]
    public void AChildThatAllocatesAKnownAmountReportsItsPeak()
    {
        var runner = CompareCommand.ChildRunner();
        var idle = runner.Run(new ChildWork { Kind = "allocate", Megabytes = 0 });
        var busy = runner.Run(new ChildWork { Kind = "allocate", Megabytes = 200 });
        // Each child's peak includes the runtime it started (tens of MiB); the difference is what was allocated and touched.
        Assert.InRange(idle.PeakMemoryMb, 10, 400);
        Assert.InRange(busy.PeakMemoryMb - idle.PeakMemoryMb, 200 * 0.9, 200 * 1.15);
        Assert.True(busy.WallSeconds > 0 && busy.CpuSeconds > 0);
    }

    [Fact]
    public void AChildThatFailsIsAnErrorNamingWhy()
    {
        var e = Assert.Throws<GptBertException>(() => CompareCommand.ChildRunner().Run(new ChildWork { Kind = "probe", ModelDirectory = "/nonexistent/model" }));
        Assert.Contains("measuring child process (probe) failed", e.Message);
    }

    [Fact]
    public void TrainingInAChildProcessGivesTheSameModelsAsInProcessAndMeasuresItsPeak()
    {
        TestUtil.Init();
        var dir = TestUtil.TempDir("cmp-child");
        string[] colours = ["red", "blue", "green"];
        var rows = Enumerable.Range(0, 60).Select(i => $"the {i % 7} sky was {colours[i % 3]} today,{colours[i % 3]}").ToList();
        var train = Path.Combine(dir, "train.csv"); var test = Path.Combine(dir, "test.csv");
        File.WriteAllLines(train, ["text,label", .. rows]);
        File.WriteAllLines(test, ["text,label", .. rows.Take(30)]);
        CompareSpec Spec(string work, ChildProcessRunner? isolation) => new()
        {
            Train = train, Test = test, WorkDirectory = Path.Combine(dir, work), FromScratch = true, ScratchParameters = 60_000, ScratchVocabSize = 300,
            Seeds = 1, MaxLength = 12, LatencySamples = 3, Baselines = false, BudgetSteps = 6, Isolation = isolation,
        };
        var reporting = new GptBert.Training.RunReporting(Progress: TextWriter.Null);
        var here = ComparisonRunner.Run(Spec("here", null), reporting);
        var child = ComparisonRunner.Run(Spec("child", CompareCommand.ChildRunner()), reporting);
        foreach (var (a, b) in here.Candidates.Zip(child.Candidates))
        {
            // Same seeded initial weights, same data order: the same test predictions and validation curve.
            Assert.Equal(a.Quality["accuracy"].Values, b.Quality["accuracy"].Values);
            Assert.Equal(a.Curves[0].EvalLoss, b.Curves[0].EvalLoss, (x, y) => Math.Abs(x - y) < 1e-5);
            Assert.Equal("in-process, VmHWM reset", a.MemoryMethod);
            Assert.Equal("child process", b.MemoryMethod);
            // A child's peak holds the runtime and libtorch too: tens to hundreds of MiB, never zero.
            Assert.InRange(b.TrainingPeakMemoryMb!.Mean, 30, 4000);
            Assert.InRange(b.PeakMemoryMb, 30, 4000);
            Assert.True(b.TrainingCpuSeconds!.Mean > 0 && b.ProbeCpuSeconds > 0);
        }
    }
}
