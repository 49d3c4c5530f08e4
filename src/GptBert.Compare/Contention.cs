using System.Diagnostics;
using System.Globalization;

namespace GptBert.Compare;

/// <summary>Wall time and process CPU time of one piece of work (a training run, a speed probe).</summary>
public readonly record struct CpuWall(double WallSeconds, double CpuSeconds)
{
    /// <summary>CPU seconds the process got per wall second (up to the number of threads it ran).</summary>
    public double Ratio => WallSeconds > 0 ? CpuSeconds / WallSeconds : double.NaN;
}

/// <summary>
/// Measures <see cref="CpuWall"/> around a piece of work. CPU time is the whole process's
/// (<see cref="Process.TotalProcessorTime"/>: the .NET thread and libtorch's intra-op threads alike), so a run that
/// the machine starved of CPU shows fewer CPU seconds per wall second than its neighbours.
/// </summary>
public sealed class CpuClock
{
    readonly Stopwatch wall = Stopwatch.StartNew();
    readonly TimeSpan cpuStart = ProcessCpu();

    public static CpuClock Start() => new();

    public CpuWall Elapsed => new(wall.Elapsed.TotalSeconds, (ProcessCpu() - cpuStart).TotalSeconds);

    static TimeSpan ProcessCpu()
    {
        using var p = Process.GetCurrentProcess();
        return p.TotalProcessorTime;
    }
}

/// <summary>
/// Contention: the rule that tells when a run's figures are not comparable with the others' because the machine was
/// busy with something else. Rule: within one kind of work (training runs; speed probes), a run whose CPU seconds per
/// wall second are below <see cref="Threshold"/> × the median of that kind over every candidate is flagged, naming the
/// candidate; runs shorter than <see cref="MinimumWallSeconds"/> are too short to judge and are left out. Its latency,
/// and any quality reached under a wall-time budget, then reflect the machine rather than the model.
/// </summary>
public static class Contention
{
    /// <summary>A run with less than this fraction of the median CPU per wall second is flagged.</summary>
    public const double Threshold = 0.75;
    /// <summary>Runs shorter than this are not judged (the ratio of a short run is noise).</summary>
    public const double MinimumWallSeconds = 0.5;

    /// <summary>One measured run: which candidate, what it was ("training, seed 2", "speed probe") and its times.</summary>
    public sealed record Run(string Candidate, string Kind, string What, CpuWall Times);

    /// <summary>The runs the rule flags, with the median of their kind.</summary>
    public static IReadOnlyList<(Run Run, double Median)> Starved(IReadOnlyList<Run> runs)
    {
        var flagged = new List<(Run, double)>();
        foreach (var kind in runs.Where(r => r.Times.WallSeconds >= MinimumWallSeconds && double.IsFinite(r.Times.Ratio)).GroupBy(r => r.Kind))
        {
            var list = kind.ToList();
            if (list.Count < 2) continue;
            double median = Median(list.Select(r => r.Times.Ratio).ToList());
            flagged.AddRange(list.Where(r => r.Times.Ratio < Threshold * median).Select(r => (r, median)));
        }
        return flagged;
    }

    /// <summary>One warning sentence per flagged run.</summary>
    public static IReadOnlyList<string> Warnings(IReadOnlyList<Run> runs) =>
        Starved(runs).Select(f =>
            $"Contention: {f.Run.Candidate} ({f.Run.What}) got {F2(f.Run.Times.Ratio)} CPU seconds per wall second, less than "
            + $"{F2(Threshold)} x the median of {F2(f.Median)} for {f.Run.Kind}: the machine was busy, so its "
            + (f.Run.Kind == ProbeKind ? "latency and throughput are" : "training time, and any quality reached under a time budget, are")
            + " not comparable with the others'.").ToList();

    public const string TrainingKind = "training runs", ProbeKind = "speed probes";

    /// <summary>The runs recorded on the candidates (training seeds and the speed probe).</summary>
    public static IReadOnlyList<Run> RunsOf(IEnumerable<CandidateResult> candidates)
    {
        var runs = new List<Run>();
        foreach (var c in candidates)
        {
            if (c.TrainingSeconds is { } wall && c.TrainingCpuSeconds is { } cpu && wall.N == cpu.N)
                for (int i = 0; i < wall.N; i++)
                    runs.Add(new Run(c.Name, TrainingKind, $"training, seed {(i < c.Seeds.Count ? c.Seeds[i] : i + 1).ToString(CultureInfo.InvariantCulture)}",
                        new CpuWall(wall.Values[i], cpu.Values[i])));
            if (c.ProbeSeconds > 0) runs.Add(new Run(c.Name, ProbeKind, "speed probe", new CpuWall(c.ProbeSeconds, c.ProbeCpuSeconds)));
        }
        return runs;
    }

    internal static double Median(IReadOnlyList<double> values)
    {
        var v = values.Order().ToList();
        return v.Count % 2 == 1 ? v[v.Count / 2] : (v[v.Count / 2 - 1] + v[v.Count / 2]) / 2;
    }

    static string F2(double v) => v.ToString("0.00", CultureInfo.InvariantCulture);
}
