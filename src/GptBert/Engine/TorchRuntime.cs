using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace GptBert.Engine;

/// <summary>
/// Runtime settings that belong to the host process (the CLI, the server, an application): the host chooses them
/// once, at start-up, and applies them with <see cref="TorchRuntime.Configure(RuntimeOptions)"/>. The library itself
/// never changes environment variables or libtorch's process-wide thread count; without a call, libtorch's own
/// defaults stand.
/// </summary>
public sealed record RuntimeOptions
{
    /// <summary>libtorch's intra-op threads and the most parts a small product is split into; null keeps libtorch's default (one per core).</summary>
    public int? Threads { get; init; }

    /// <summary>
    /// Inference products and attention (no gradient, fp32, CPU) run on GptBert's own kernels instead of libtorch's MKL and
    /// scaled_dot_product_attention: <see cref="SmallGemm"/> for few rows, <see cref="BlockedGemm"/> for many and
    /// <see cref="AttentionKernel"/> where the CPU has AVX-512 (on AVX2 only, SmallGemm up to <see cref="SmallGemm.MaxRows"/> rows).
    /// </summary>
    public bool SmallKernels { get; init; } = true;

    /// <summary>
    /// During an inference forward whose products and attention run on GptBert's kernels (small ones everywhere, any size where
    /// the CPU has AVX-512), libtorch's own ops run on the calling thread only, so libtorch's OpenMP workers do not spin on
    /// the cores <see cref="Workers"/> need. This is a per-thread setting (OpenMP's and MKL's thread-local thread counts), so
    /// other threads of the host are not affected.
    /// </summary>
    public bool SingleThreadedSmallForwards { get; init; } = true;
}

/// <summary>
/// The one place that talks to the libtorch runtime: threads, OpenMP wait policy, devices, seeds.
/// Everything above it uses TorchSharp tensors but never picks devices or thread counts itself, so a
/// CUDA build of TorchSharp can be swapped in by referencing TorchSharp-cuda-* instead of TorchSharp-cpu.
/// </summary>
public static class TorchRuntime
{
    static readonly object gate = new();
    static RuntimeOptions options = new();
    static int? threads;

    /// <summary>The options last applied (defaults when the host applied none).</summary>
    public static RuntimeOptions Options { get { lock (gate) return options; } }

    /// <summary>
    /// Applies the host's choices: the intra-op thread count (when given) and the small-kernel switches. Call it once at
    /// start-up, before serving or training; calling it again replaces the settings.
    /// </summary>
    public static void Configure(RuntimeOptions o)
    {
        if (o.Threads is < 1) throw new GptBertException($"Threads must be at least 1 (got {o.Threads})") { Parameter = "Threads" };
        lock (gate)
        {
            options = o;
            SmallGemm.Enabled = o.SmallKernels && SmallGemm.Supported;
            if (o.Threads is int n)
            {
                if (torch.get_num_threads() != n) torch.set_num_threads(n);
                threads = n;
            }
        }
    }

    /// <summary>Shorthand for the CLI and benches: keeps the other options, sets the thread count when given.</summary>
    public static void Configure(int? threads) => Configure(Options with { Threads = threads ?? Options.Threads });

    /// <summary>
    /// libgomp's workers sleep as soon as a parallel region ends (OMP_WAIT_POLICY=PASSIVE). Inside our inference forwards
    /// libtorch's ops run on the calling thread and the products on <see cref="Workers"/>, so a spinning OpenMP pool only
    /// takes cores from them: `gptbert embed` of 192 texts 3.38 s against 3.55 s with the spin count (medians of 5). MiniLM
    /// forwards of 128 tokens and more as fast or faster in three runs of `bench -- embed`; at 1x16 (~3 ms) it won one run
    /// and lost two by 0.1-0.4 ms (bench/results/embedding-throughput-zen5.md). Training wants the
    /// pool awake between its many parallel ops, so only hosts that run models and train none choose this. Leaves any
    /// OMP_WAIT_POLICY or GOMP_SPINCOUNT the user set alone.
    /// </summary>
    public static void SetOpenMpPassive()
    {
        if (!OperatingSystem.IsLinux() || OpenMpPolicyChosen(Environment.GetEnvironmentVariable)) return;
        setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    }

    /// <summary>Whether the environment already says how libgomp's idle workers wait (OMP_WAIT_POLICY or GOMP_SPINCOUNT): then the host's choices leave it alone.</summary>
    public static bool OpenMpPolicyChosen(Func<string, string?> getenv) => getenv("OMP_WAIT_POLICY") is not null || getenv("GOMP_SPINCOUNT") is not null;

    /// <summary>
    /// Sets OpenMP's spin policy for libtorch's worker threads. It is read when libtorch loads, so a host that wants it
    /// calls this first thing, before any tensor is made; it sets process environment variables, which is why only the host
    /// may call it. Leaves any OMP_WAIT_POLICY or GOMP_SPINCOUNT the user set alone.
    /// <paramref name="spinCount"/>: rounds an idle libgomp worker spins before it sleeps. libgomp's default (~300,000) holds the cores
    /// SmallGemm's workers need (OMP_WAIT_POLICY=ACTIVE makes 1x16 MiniLM ~4x slower: bench/results/embedding-throughput.md);
    /// 10,000 still bridges back-to-back ops.
    /// </summary>
    public static void SetOpenMpSpinCount(int spinCount = 10_000)
    {
        if (!OperatingSystem.IsLinux() || OpenMpPolicyChosen(Environment.GetEnvironmentVariable)) return;
        // OpenMP reads the native environment when libgomp loads; .NET's SetEnvironmentVariable does not reach it.
        setenv("GOMP_SPINCOUNT", spinCount.ToString(System.Globalization.CultureInfo.InvariantCulture), 1);
    }

    /// <summary>
    /// The host's process-wide choices, made first thing, before any tensor: <see cref="SetOpenMpSpinCount"/> (or, for a
    /// process that only runs models, <see cref="SetOpenMpPassive"/>) and <see cref="TuneMemory"/>. The CLI, the benches'
    /// child processes and the test host call this.
    /// </summary>
    /// <param name="inferenceOnly">the process runs models and trains none (the CLI's embed, classify, generate, serve, ...).</param>
    public static void PrepareProcess(bool inferenceOnly = false)
    {
        if (inferenceOnly) SetOpenMpPassive(); else SetOpenMpSpinCount();
        TuneMemory();
    }

    /// <summary>
    /// How libtorch's tensors get their memory from the system; both choices answer the same cost, page faults, which on
    /// these VMs take microseconds each (a 32 × 128 MiniLM batch touches hundreds of MB):
    /// <list type="bullet">
    /// <item>freed memory stays in the process for the next tensors (glibc's mallopt: blocks up to 32 MiB come from the
    /// heap, and up to 1 GiB of free heap is kept rather than returned to the kernel). With glibc's defaults every op of the
    /// next forward page-faults its output in again: MiniLM at 32 × 128 tokens took 403 ms per forward that way and 339 ms
    /// with the memory kept (2-core Zen 5, `bench embed`); a 192-text pass of `embed` 12.6 s against 1.9 s. ONNX Runtime
    /// keeps its own arena for the same reason. The peak does not grow; the process keeps its peak after a burst.</item>
    /// <item>tensors of 2 MiB and more are backed by transparent huge pages (libtorch's THP_MEM_ALLOC_ENABLE, read at its
    /// first allocation): one fault per 2 MiB instead of 512. `gptbert embed` of one text 1.30-1.45 s against 1.55-1.64 s,
    /// of 192 texts 3.9-4.0 s against 4.3-4.4 s (the model's 90 MB load is most of the difference).</item>
    /// </list>
    /// Host-level, as <see cref="SetOpenMpSpinCount"/>: only the host calls it, first thing, before any tensor is made.
    /// Each part is skipped off Linux, off glibc, and where the user set the variables it stands for (MALLOC_MMAP_THRESHOLD_,
    /// MALLOC_TRIM_THRESHOLD_, THP_MEM_ALLOC_ENABLE).
    /// </summary>
    public static void TuneMemory()
    {
        if (!OperatingSystem.IsLinux()) return;
        if (Environment.GetEnvironmentVariable("THP_MEM_ALLOC_ENABLE") is null) setenv("THP_MEM_ALLOC_ENABLE", "1", 1);
        if (Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_") is not null || Environment.GetEnvironmentVariable("MALLOC_TRIM_THRESHOLD_") is not null) return;
        try
        {
            const int M_TRIM_THRESHOLD = -1, M_MMAP_THRESHOLD = -3;
            mallopt(M_MMAP_THRESHOLD, 32 << 20); // glibc's largest allowed value
            mallopt(M_TRIM_THRESHOLD, 1 << 30);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException) { } // not glibc: its allocator, its choices
    }

    [DllImport("libc")]
    static extern int mallopt(int param, int value);

    /// <summary>The intra-op thread count: the host's choice, else libtorch's (read, never set, here).</summary>
    public static int Threads
    {
        get
        {
            lock (gate) return threads ??= torch.get_num_threads();
        }
    }

    [DllImport("libc", SetLastError = true)]
    static extern int setenv(string name, string value, int overwrite);

    /// <summary>Resolves a device name: "cpu", "cuda", "cuda:N" or "auto" (CUDA when present, else CPU).</summary>
    public static Device ResolveDevice(string? name)
    {
        name = (name ?? "cpu").Trim().ToLowerInvariant();
        if (name == "auto") return torch.cuda.is_available() ? CUDA : CPU;
        if (name == "cpu") return CPU;
        if (name.StartsWith("cuda"))
        {
            if (!torch.cuda.is_available())
                throw new GptBertException(
                    $"Device {name}: CUDA is not available (this build uses TorchSharp-cpu, or no NVIDIA driver/GPU was found); use Device cpu, or build with a TorchSharp-cuda package on a machine with a GPU") { Parameter = "Device" };
            return torch.device(name);
        }
        throw new GptBertException($"Device '{name}' is not recognised; use cpu, cuda, cuda:N or auto") { Parameter = "Device" };
    }

    /// <summary>
    /// Seeds libtorch's global generator (CPU and CUDA). Training calls this: parameter initialisation and dropout draw
    /// from the global generator, and libtorch offers no per-module generator for dropout, so a training run owns the
    /// process's libtorch randomness while it runs. Inference never calls it: sampling uses each request's own generator.
    /// </summary>
    public static void Seed(long seed)
    {
        torch.manual_seed(seed);
        if (torch.cuda.is_available()) torch.cuda.manual_seed_all(seed);
    }

    public static string Describe() =>
        $"TorchSharp {typeof(torch).Assembly.GetName().Version}, libtorch {torch.__version__}, {Threads} threads, CUDA {(torch.cuda.is_available() ? "available" : "not available")}";
}

/// <summary>
/// The calling thread's own OpenMP and MKL thread counts. libtorch's <c>set_num_threads</c> also changes the process-wide
/// default that threads take when they first use libtorch, so it is not used for temporary changes; OpenMP's
/// <c>omp_set_num_threads</c> and MKL's <c>mkl_set_num_threads_local</c> change the calling thread only.
/// </summary>
static unsafe class ThreadLocalThreads
{
    static readonly delegate* unmanaged<int, void> ompSet;
    static readonly delegate* unmanaged<int> ompGet;
    static readonly delegate* unmanaged<int, int> mklSetLocal;

    public static bool Available => ompSet != null && ompGet != null && mklSetLocal != null;

    static ThreadLocalThreads()
    {
        if (!OperatingSystem.IsLinux()) return;
        torch.get_num_threads(); // loads libtorch (and its libgomp) first
        string? gomp = null, torchCpu = null;
        try
        {
            foreach (var line in File.ReadLines("/proc/self/maps"))
            {
                int slash = line.IndexOf('/');
                if (slash < 0) continue;
                var path = line[slash..];
                var file = Path.GetFileName(path);
                if (gomp is null && file.StartsWith("libgomp")) gomp = path;
                if (torchCpu is null && file == "libtorch_cpu.so") torchCpu = path;
            }
        }
        catch (IOException) { return; }
        if (gomp is null || torchCpu is null) return;
        // The libraries are already loaded: these calls return the same handles libtorch uses. (MKL's lowercase
        // mkl_set_num_threads_local is the Fortran entry, which takes a pointer; MKL_Set_Num_Threads_Local takes the int.)
        if (NativeLibrary.TryLoad(gomp, out var g)
            && NativeLibrary.TryGetExport(g, "omp_set_num_threads", out var set) && NativeLibrary.TryGetExport(g, "omp_get_max_threads", out var get)
            && NativeLibrary.TryLoad(torchCpu, out var t) && NativeLibrary.TryGetExport(t, "MKL_Set_Num_Threads_Local", out var mkl))
        {
            ompSet = (delegate* unmanaged<int, void>)set;
            ompGet = (delegate* unmanaged<int>)get;
            mklSetLocal = (delegate* unmanaged<int, int>)mkl;
        }
    }

    /// <summary>Sets the calling thread's counts to <paramref name="n"/>; disposing restores them. Null where unavailable.</summary>
    public static IDisposable? Set(int n)
    {
        if (!Available) return null;
        torch.get_num_threads(); // libtorch initialises each thread's counts on first use: do that now, not inside the scope
        int omp = ompGet();
        if (omp == n) return null;
        ompSet(n);
        int mkl = mklSetLocal(n);
        return new Restore(omp, mkl);
    }

    sealed class Restore(int omp, int mkl) : IDisposable
    {
        public void Dispose() { ompSet(omp); mklSetLocal(mkl); }
    }
}
