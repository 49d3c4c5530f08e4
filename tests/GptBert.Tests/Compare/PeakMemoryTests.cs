using System.Runtime.InteropServices;
using GptBert.Cli.Commands;
using GptBert.Compare;

namespace GptBert.Tests.Compare;

/// <summary>Peak resident memory read from the OS, in this process (between resets) and in a child process.</summary>
public class PeakMemoryTests
{
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
}
