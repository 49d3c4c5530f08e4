using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using GptBert.Data;
using GptBert.Engine;
using GptBert.Training;

namespace GptBert.Compare;

/// <summary>
/// Peak resident memory read from the OS. On Linux: VmHWM of /proc/self/status (the high-water mark of the resident set),
/// which writing "5" to /proc/self/clear_refs resets to the current resident set, so a window of work can be measured
/// inside a long process; elsewhere <see cref="Process.PeakWorkingSet64"/>, which cannot be reset.
/// </summary>
public static class PeakMemory
{
    const double MiB = 1024 * 1024;

    /// <summary>The process's peak resident set so far (since the last <see cref="Reset"/> on Linux), in MiB.</summary>
    public static double PeakMb() => StatusKb("VmHWM:") is long kb ? kb / 1024.0 : PeakWorkingSetMb();

    /// <summary>The process's current resident set, in MiB.</summary>
    public static double CurrentMb() => StatusKb("VmRSS:") is long kb ? kb / 1024.0 : Environment.WorkingSet / MiB;

    /// <summary>
    /// Starts a measurement window: collects garbage, returns freed heap memory to the OS (glibc's malloc_trim) so the
    /// window starts from what is really in use, then resets the high-water mark. False where it cannot be reset.
    /// </summary>
    public static bool Reset()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        if (!OperatingSystem.IsLinux()) return false;
        try { malloc_trim(0); } catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    static double PeakWorkingSetMb()
    {
        using var p = Process.GetCurrentProcess();
        return p.PeakWorkingSet64 / MiB;
    }

    /// <summary>A "Name:   1234 kB" line of /proc/self/status, in kB (null off Linux or when missing).</summary>
    internal static long? StatusKb(string name)
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith(name, StringComparison.Ordinal))
                    return ParseKb(line[name.Length..]);
        }
        catch (IOException) { }
        return null;
    }

    internal static long? ParseKb(string value)
    {
        var parts = value.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length >= 1 && long.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out long kb) ? kb : null;
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    static extern int malloc_trim(nuint pad);
}

/// <summary>What an isolated inference probe measures: latency, throughput, its own CPU and wall time, and its peak resident memory.</summary>
public sealed record ProbeOutcome(SpeedProbe.Result Speed, double PeakMemoryMb, double WallSeconds, double CpuSeconds, string Method);

/// <summary>The work a child process is given (a JSON file): a speed probe of a saved classifier, or (to calibrate) allocating a known amount.</summary>
public sealed record ChildWork
{
    /// <summary>"probe" or "allocate".</summary>
    public required string Kind { get; init; }
    public string? ModelDirectory { get; init; }
    public List<string> Texts { get; init; } = [];
    public List<string?> Pairs { get; init; } = [];
    public int MaxLength { get; init; } = 64;
    public int Samples { get; init; } = 30;
    public string? Device { get; init; }
    public int? Threads { get; init; }
    /// <summary>For "allocate": MiB to allocate and touch.</summary>
    public int Megabytes { get; init; }
    /// <summary>For "train": the model to fine-tune (its initial weights, seeded by the parent) and where the run is written.</summary>
    public string? OutputDirectory { get; init; }
    public List<LabeledExample> Train { get; init; } = [];
    public List<LabeledExample> Validation { get; init; } = [];
    public TrainingOptions? Options { get; init; }
    /// <summary>For "optimize-probe": the task (<see cref="OptimizeTask"/> name), the engine (torch or onnx), bf16 autocast and the throughput batch.</summary>
    public string? Task { get; init; }
    public string? Backend { get; init; }
    public bool Bf16 { get; init; }
    public int ThroughputBatch { get; init; } = 32;
}

/// <summary>What a child process sends back (a JSON file written atomically).</summary>
public sealed record ChildResult
{
    public double PeakMemoryMb { get; init; }
    public double WallSeconds { get; init; }
    public double CpuSeconds { get; init; }
    public double P50Ms { get; init; }
    public double P95Ms { get; init; }
    public double Throughput { get; init; }
    public int BestBatch { get; init; } = 1;
    public string? Error { get; init; }
    /// <summary>For "train": the trainer's events (the parent rebuilds the curves from them).</summary>
    public List<TrainingEvent> Events { get; init; } = [];
}

/// <summary>
/// Runs a piece of measurement in a child process, so that its peak resident memory (VmHWM, read by the child at its end)
/// is that of a process that did only this: the runtime, libtorch, the model and its activations, as a deployment would.
/// The work goes in as a temporary JSON file, the result comes back as another, written atomically by the child.
/// </summary>
public sealed class ChildProcessRunner(string fileName, IReadOnlyList<string> prefixArguments)
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The command the children run as: "FILE PREFIX... WORK.json RESULT.json".</summary>
    public string FileName => fileName;

    /// <param name="work">What the child does.</param>
    /// <param name="timeout">How long it may take (default 10 minutes).</param>
    /// <param name="stderr">Receives the child's standard error line by line (training progress); default: kept for an error message.</param>
    public ChildResult Run(ChildWork work, TimeSpan? timeout = null, TextWriter? stderr = null)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"gptbert-child-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string workFile = Path.Combine(dir, "work.json"), resultFile = Path.Combine(dir, "result.json");
            AtomicFile.WriteAllText(workFile, JsonSerializer.Serialize(work, Json));
            var psi = new ProcessStartInfo(fileName) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var a in prefixArguments) psi.ArgumentList.Add(a);
            foreach (var (name, value) in EnvironmentFor(work, Environment.GetEnvironmentVariable)) psi.Environment[name] = value;
            psi.ArgumentList.Add(workFile);
            psi.ArgumentList.Add(resultFile);
            using var p = Process.Start(psi) ?? throw new GptBertException($"could not start the measuring child process {fileName}");
            string lastLine = "no output";
            var errors = Task.Run(() =>
            {
                while (p.StandardError.ReadLine() is { } line)
                {
                    if (line.Trim().Length > 0) lastLine = line.Trim();
                    if (stderr is not null) lock (stderr) { stderr.WriteLine(line); stderr.Flush(); }
                }
            });
            _ = p.StandardOutput.ReadToEndAsync();
            if (!p.WaitForExit(timeout ?? TimeSpan.FromHours(2)))
            {
                try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                throw new GptBertException($"the measuring child process ({work.Kind}) did not finish in time");
            }
            errors.Wait(TimeSpan.FromSeconds(10));
            var result = File.Exists(resultFile) ? JsonSerializer.Deserialize<ChildResult>(File.ReadAllText(resultFile), Json) : null;
            if (result?.Error is { } error) throw new GptBertException($"the measuring child process ({work.Kind}) failed: {error}");
            if (p.ExitCode != 0 || result is null)
                throw new GptBertException($"the measuring child process ({work.Kind}) exited with code {p.ExitCode}: {lastLine}");
            return result;
        }
        finally
        {
            try { Directory.Delete(dir, true); } catch (IOException) { }
        }
    }

    /// <summary>
    /// Variables the child gets on top of this process's environment: a child that only runs a model (a speed probe) lets
    /// OpenMP's idle workers sleep, as the CLI's model-running commands (classify, serve, ...) do, so the latency it reports
    /// is the one those commands give (<see cref="TorchRuntime.SetOpenMpPassive"/>); a training child keeps the training
    /// commands' setting. Nothing is added where the user chose OMP_WAIT_POLICY or GOMP_SPINCOUNT.
    /// </summary>
    public static IReadOnlyDictionary<string, string> EnvironmentFor(ChildWork work, Func<string, string?> getenv)
    {
        return work.Kind is "probe" or "optimize-probe" && !TorchRuntime.OpenMpPolicyChosen(getenv)
            ? new Dictionary<string, string> { ["OMP_WAIT_POLICY"] = "PASSIVE" }
            : new Dictionary<string, string>();
    }

    /// <summary>
    /// The child's side: reads the work, does it, writes the result (atomically) with the process's peak resident memory
    /// at the end. Returns the exit code.
    /// </summary>
    public static int Serve(string workFile, string resultFile)
    {
        ChildResult result;
        try
        {
            var work = JsonSerializer.Deserialize<ChildWork>(File.ReadAllText(workFile), Json) ?? throw new InvalidDataException("empty work file");
            if (work.Threads is int t) TorchRuntime.Configure(t);
            var clock = CpuClock.Start();
            result = new ChildResult();
            switch (work.Kind)
            {
                case "allocate":
                    Touch(work.Megabytes);
                    break;
                case "probe":
                    var inputs = work.Texts.Select((text, i) => (text, i < work.Pairs.Count ? work.Pairs[i] : null)).ToList();
                    var speed = SpeedProbe.Measure(work.ModelDirectory!, inputs, work.MaxLength, work.Samples, work.Device);
                    result = result with { P50Ms = speed.P50Ms, P95Ms = speed.P95Ms, Throughput = speed.Throughput, BestBatch = speed.BestBatch };
                    break;
                case "optimize-probe":
                    var probe = Optimizer.Probe(work);
                    result = result with { P50Ms = probe.P50Ms, P95Ms = probe.P95Ms, Throughput = probe.Throughput, BestBatch = probe.BestBatch };
                    break;
                case "train":
                    // The same call as in-process: the model's initial weights were saved by the parent (seeded), so the run is the same.
                    var train = LabeledDataset.FromExamples(work.Train, "train");
                    var labels = LabelSet.FromTraining(train);
                    var (model, tok) = TrainingRuns.LoadClassifier(work.ModelDirectory!, labels);
                    var events = new List<TrainingEvent>();
                    using (model)
                        TrainingRuns.TrainClassifier(model, tok, train, LabeledDataset.FromExamples(work.Validation, "validation"), labels, work.MaxLength,
                            work.Options!, work.OutputDirectory!, TorchRuntime.ResolveDevice(work.Device),
                            reporting: new RunReporting(Console.Error, Interactive: false, OnEvent: events.Add));
                    result = result with { Events = events };
                    break;
                default:
                    throw new InvalidDataException($"unknown work kind '{work.Kind}'");
            }
            var times = clock.Elapsed;
            result = result with { WallSeconds = times.WallSeconds, CpuSeconds = times.CpuSeconds, PeakMemoryMb = PeakMemory.PeakMb() };
        }
        catch (Exception e)
        {
            result = new ChildResult { Error = e.Message };
        }
        AtomicFile.WriteAllText(resultFile, JsonSerializer.Serialize(result, Json));
        return result.Error is null ? 0 : 1;
    }

    /// <summary>Allocates <paramref name="megabytes"/> MiB of native memory and writes every page, so all of it is resident.</summary>
    static void Touch(int megabytes)
    {
        nint size = (nint)megabytes * 1024 * 1024;
        if (size == 0) return;
        nint p = Marshal.AllocHGlobal(size);
        try
        {
            for (nint i = 0; i < size; i += 4096) Marshal.WriteByte(p + i, 1);
        }
        finally { Marshal.FreeHGlobal(p); }
    }
}
