using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace GptBert.Engine;

/// <summary>
/// The one place that talks to the libtorch runtime: threads, OpenMP wait policy, devices, seeds.
/// Everything above it uses TorchSharp tensors but never picks devices or thread counts itself, so a
/// CUDA build of TorchSharp can be swapped in by referencing TorchSharp-cuda-* instead of TorchSharp-cpu.
/// </summary>
public static class TorchRuntime
{
    static bool configured;
    static int? explicitThreads;
    static readonly object gate = new();

    /// <summary>
    /// Sets the intra-op thread count (default: all cores) before the first tensor op, and optionally the
    /// OpenMP wait policy: ACTIVE workers spin between ops (lowest latency for small shapes, but burns CPU
    /// while idle), PASSIVE workers sleep at once; null spins 10,000 rounds then sleeps (GOMP_SPINCOUNT), unless
    /// OMP_WAIT_POLICY or GOMP_SPINCOUNT is set by the user. The policy is read when libtorch loads, so only the first call sets it.
    /// </summary>
    public static void Configure(int? threads = null, bool? activeWait = null)
    {
        lock (gate)
        {
            if (!configured)
            {
                configured = true;
                // OpenMP reads the native environment when libgomp loads; .NET's SetEnvironmentVariable does not reach it.
                bool userPolicy = Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is not null || Environment.GetEnvironmentVariable("GOMP_SPINCOUNT") is not null;
                if (activeWait is bool active && !userPolicy && OperatingSystem.IsLinux())
                    setenv("OMP_WAIT_POLICY", active ? "ACTIVE" : "PASSIVE", 1);
                else if (!userPolicy && OperatingSystem.IsLinux())
                    // libgomp's default spins ~300,000 rounds after every parallel op, holding the cores SmallGemm's
                    // workers need (the extreme, OMP_WAIT_POLICY=ACTIVE, makes 1x16 MiniLM ~4x slower: see
                    // bench/results/embedding-throughput.md). 10,000 rounds still bridges back-to-back ops;
                    // sleeping at once (PASSIVE) costs a wake-up per op.
                    setenv("GOMP_SPINCOUNT", "10000", 1);
            }
            // An explicit count sticks: later calls without one (device resolution, seeding) keep it.
            if (threads is int t && t > 0) explicitThreads = t;
            int n = explicitThreads ?? Environment.ProcessorCount;
            if (torch.get_num_threads() != n) torch.set_num_threads(n);
        }
    }

    /// <summary>The configured intra-op thread count (what libtorch uses outside <see cref="SmallGemm.ForwardScope"/>).</summary>
    public static int Threads
    {
        get { lock (gate) return explicitThreads ?? Environment.ProcessorCount; }
    }

    [DllImport("libc", SetLastError = true)]
    static extern int setenv(string name, string value, int overwrite);

    /// <summary>Resolves --device: "cpu", "cuda", "cuda:N" or "auto" (CUDA when present, else CPU).</summary>
    public static Device ResolveDevice(string? name)
    {
        Configure();
        name = (name ?? "cpu").Trim().ToLowerInvariant();
        if (name == "auto") return torch.cuda.is_available() ? CUDA : CPU;
        if (name == "cpu") return CPU;
        if (name.StartsWith("cuda"))
        {
            if (!torch.cuda.is_available())
                throw new GptBertException(
                    $"--device {name}: CUDA is not available (this build uses TorchSharp-cpu, or no NVIDIA driver/GPU was found); use --device cpu, or build with a TorchSharp-cuda package on a machine with a GPU");
            return torch.device(name);
        }
        throw new GptBertException($"--device '{name}' is not recognised; use cpu, cuda, cuda:N or auto");
    }

    /// <summary>Seeds libtorch (CPU and CUDA) so runs are reproducible.</summary>
    public static void Seed(long seed)
    {
        Configure();
        torch.manual_seed(seed);
        if (torch.cuda.is_available()) torch.cuda.manual_seed_all(seed);
    }

    public static string Describe()
    {
        Configure();
        return $"TorchSharp {typeof(torch).Assembly.GetName().Version}, libtorch {torch.__version__}, {torch.get_num_threads()} threads, CUDA {(torch.cuda.is_available() ? "available" : "not available")}";
    }
}
