using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;

namespace GptBert.Engine;

/// <summary>
/// fp32 inference products on x86 CPUs: the entry point for every linear layer that needs no gradient. Products of
/// <see cref="BlockedGemm.MinRows"/> rows or more go to <see cref="BlockedGemm"/> where the CPU has AVX-512; the rest
/// (and everything on AVX2-only CPUs up to <see cref="MaxRows"/>) run on the kernels here, made for few rows — one short
/// sentence, one decoding step.
/// libtorch hands every linear layer to MKL's sgemm, which at a few rows runs far below this CPU's fp32 peak
/// (bench/results/small-batch-gemm.md), and at 1×16 tokens MiniLM's products through MKL alone take longer than
/// ONNX Runtime's whole forward (bench/results/embedding-throughput.md). These
/// kernels read the weights in place (no packed copy that could go stale when weights change) with AVX2 + FMA,
/// split the output columns over <see cref="Workers"/>, and are used only when no gradient is needed.
/// </summary>
public static unsafe class SmallGemm
{
    /// <summary>
    /// Largest row count sent here. On MiniLM's 36 products these kernels beat MKL by 1.3-1.8x up to 256 rows and
    /// only by ~1.0-1.1x at 512-1024, where MKL's row blocking catches up (bench/results/small-batch-gemm.md).
    /// </summary>
    public static int MaxRows { get; set; } = 256;

    /// <summary>Whether this CPU can run these kernels (AVX2 + FMA).</summary>
    public static bool Supported => Fma.IsSupported && Avx2.IsSupported;

    /// <summary>
    /// Off switch (set by <see cref="TorchRuntime.Configure(RuntimeOptions)"/> from <see cref="RuntimeOptions.SmallKernels"/>; tests and
    /// benches compare against libtorch with it off; GPTBERT_SMALL_GEMM=0 disables it).
    /// </summary>
    public static bool Enabled { get; set; } = Supported && Environment.GetEnvironmentVariable("GPTBERT_SMALL_GEMM") != "0";

    /// <summary>y = x·Wᵀ + b with W (N, K) as nn.Linear stores it, or null when the product is not one for these kernels.</summary>
    public static Tensor? TryLinear(Tensor x, Tensor weight, Tensor? bias) => TryProduct(x, weight, bias, weightIsInOut: false);

    /// <summary>y = x·W + b with W (K, N) as GPT-2's Conv1D stores it, or null when the product is not one for these kernels.</summary>
    public static Tensor? TryLinearInOut(Tensor x, Tensor weight, Tensor bias) => TryProduct(x, weight, bias, weightIsInOut: true);

    static Tensor? TryProduct(Tensor x, Tensor weight, Tensor? bias, bool weightIsInOut)
    {
        if (!Enabled || weight.dim() != 2) return null;
        long K = weightIsInOut ? weight.shape[0] : weight.shape[1];
        long N = weightIsInOut ? weight.shape[1] : weight.shape[0];
        long M = x.dim() == 0 || x.shape[^1] != K ? -1 : x.numel() / K;
        bool blocked = BlockedGemm.Enabled && M >= BlockedGemm.MinRows && M <= int.MaxValue / Math.Max(K, N);
        if (M < 1 || M > MaxRows && !blocked || K < 8 || N < 8) return null;
        if (x.dtype != ScalarType.Float32 || weight.dtype != ScalarType.Float32 || bias is { dtype: not ScalarType.Float32 }) return null;
        if (x.device_type != DeviceType.CPU || weight.device_type != DeviceType.CPU || bias is { device_type: not DeviceType.CPU }) return null;
        if (torch.is_grad_enabled() && (x.requires_grad || weight.requires_grad || bias is { requires_grad: true })) return null;
        if (!weight.is_contiguous() || bias is not null && (!bias.is_contiguous() || bias.numel() != N)) return null;

        using var scope = NewDisposeScope();
        var xc = x.is_contiguous() ? x : x.contiguous();
        var shape = x.shape.ToArray(); shape[^1] = N;
        var y = empty(shape, ScalarType.Float32);
        var job = new Job
        {
            X = (float*)Data(xc), W = (float*)Data(weight), B = bias is null ? null : (float*)Data(bias), Y = (float*)Data(y),
            M = (int)M, N = (int)N, K = (int)K, InOut = weightIsInOut,
        };
        if (blocked)
        {
            BlockedGemm.Run(job.X, job.W, job.B, job.Y, job.M, job.N, job.K, job.InOut);
            GC.KeepAlive(xc); GC.KeepAlive(weight); GC.KeepAlive(bias);
            return y.MoveToOuterDisposeScope();
        }
        // Split the columns into equal runs of whole tiles, one per thread, each worth at least ~1M multiply-adds
        // (~10 µs; a fork-join costs a few µs); smaller products stay on this thread.
        int tile = weightIsInOut ? (Wide ? 32 : 16) : 4;
        int tiles = (job.N + tile - 1) / tile;
        int parts = (int)Math.Min(Math.Min(TorchRuntime.Threads, tiles), Math.Max(1, M * N * K / (1 << 20)));
        var next = PredictNext((IntPtr)job.W, K * N * sizeof(float));
        Workers.Run(parts, p =>
        {
            int n0 = (int)((long)tiles * p / parts) * tile, n1 = Math.Min(job.N, (int)((long)tiles * (p + 1) / parts) * tile);
            if (job.InOut) InOutColumns(job, n0, n1); else RowMajorColumns(job, n0, n1);
        }, next.Bytes > 0 ? stop => Prefetch((byte*)next.Data, next.Bytes, stop) : null);
        GC.KeepAlive(xc); GC.KeepAlive(weight); GC.KeepAlive(bias);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Wrap a whole inference forward pass over <paramref name="inputIds"/> in this. When its matrix products will run
    /// here, libtorch's own ops (LayerNorm, softmax, GELU) are tiny and run on the calling thread: libtorch's
    /// OpenMP workers then sleep instead of spinning on the cores these kernels' workers need (two spinning pools
    /// on the same cores slow a 1×16 MiniLM forward several times over: compare the OMP_WAIT_POLICY=ACTIVE row of
    /// bench/results/embedding-throughput.md). Only the calling thread's OpenMP/MKL thread counts change, and only
    /// until the scope ends (<see cref="RuntimeOptions.SingleThreadedSmallForwards"/>). Null when the forward is not a small one.
    /// </summary>
    /// <param name="int8">a dynamically quantized model: every product runs on <see cref="Int8Gemm"/>'s workers whatever the size, so
    /// libtorch's remaining ops stay on the calling thread at every size (measured at 32x32 MiniLM tokens: 140 ms instead of 220).</param>
    public static IDisposable? ForwardScope(Tensor inputIds, bool int8 = false)
    {
        bool allOurs = int8 || BlockedGemm.Enabled && AttentionKernel.Enabled; // products and attention on our workers at every size
        if (!Enabled && !int8 || !allOurs && inputIds.numel() > MaxRows || inputIds.device_type != DeviceType.CPU || torch.is_grad_enabled()
            || MixedPrecision.Current is not null || TorchRuntime.Threads <= 1 || !TorchRuntime.Options.SingleThreadedSmallForwards)
            return null;
        return ThreadLocalThreads.Set(1);
    }

    // A forward pass multiplies by the same weights in the same order every time, and at small batch sizes it waits
    // on memory: the weights (42 MB for MiniLM) do not stay in the caches. So each product remembers which weights
    // came next last time, and the worker that finished its part early pulls them toward the caches while the
    // caller runs the ops in between. A wrong guess costs a few prefetches; prefetching never faults.
    [ThreadStatic] static IntPtr lastWeights;
    static readonly System.Collections.Concurrent.ConcurrentDictionary<IntPtr, (IntPtr Data, long Bytes)> following = new();

    static (IntPtr Data, long Bytes) PredictNext(IntPtr weights, long bytes)
    {
        if (lastWeights != IntPtr.Zero)
        {
            if (following.Count > 65536) following.Clear(); // models come and go in a long-lived server
            following[lastWeights] = (weights, bytes);
        }
        lastWeights = weights;
        return following.TryGetValue(weights, out var next) ? next : default;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Prefetch(byte* data, long bytes, Func<bool> stop)
    {
        for (long offset = 0; offset < bytes; offset += 64)
        {
            Sse.Prefetch2(data + offset); // toward L3, which both cores share
            if ((offset & 0x3FFF) == 0 && stop()) return; // every 256 lines: a new job comes first
        }
    }

    sealed class Job
    {
        public float* X, W, B, Y;
        public int M, N, K;
        public bool InOut;
    }

    [DllImport("LibTorchSharp")]
    static extern IntPtr THSTensor_data(IntPtr handle);

    internal static IntPtr Data(Tensor t)
    {
        var p = THSTensor_data(t.Handle);
        if (p == IntPtr.Zero) torch.CheckForErrors();
        return p;
    }

    /// <summary>Columns [n0, n1) of y = x·Wᵀ + b, W (N, K): 2 rows × 4 columns at a time, each a dot product over K.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a hot loop: full optimisation at once, not after tiering
    static void RowMajorColumns(Job j, int n0, int n1)
    {
        int M = j.M, K = j.K;
        int n = n0;
        for (; n + 4 <= n1; n += 4)
        {
            float* w0 = j.W + (long)n * K, w1 = w0 + K, w2 = w1 + K, w3 = w2 + K;
            int m = Wide ? RowMajorTiles512(j, n, w0, w1, w2, w3) : 0;
            for (; m + 2 <= M; m += 2)
            {
                float* xa = j.X + (long)m * K, xb = xa + K;
                Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
                int k = 0;
                for (; k + 8 <= K; k += 8)
                {
                    var va = Avx.LoadVector256(xa + k); var vb = Avx.LoadVector256(xb + k);
                    var v0 = Avx.LoadVector256(w0 + k); var v1 = Avx.LoadVector256(w1 + k);
                    var v2 = Avx.LoadVector256(w2 + k); var v3 = Avx.LoadVector256(w3 + k);
                    a0 = Fma.MultiplyAdd(va, v0, a0); a1 = Fma.MultiplyAdd(va, v1, a1); a2 = Fma.MultiplyAdd(va, v2, a2); a3 = Fma.MultiplyAdd(va, v3, a3);
                    b0 = Fma.MultiplyAdd(vb, v0, b0); b1 = Fma.MultiplyAdd(vb, v1, b1); b2 = Fma.MultiplyAdd(vb, v2, b2); b3 = Fma.MultiplyAdd(vb, v3, b3);
                }
                var sa = Sum4(a0, a1, a2, a3); var sb = Sum4(b0, b1, b2, b3);
                for (; k < K; k++)
                {
                    var w = Vector128.Create(w0[k], w1[k], w2[k], w3[k]);
                    sa += w * xa[k]; sb += w * xb[k];
                }
                if (j.B is not null) { var bias = Sse.LoadVector128(j.B + n); sa += bias; sb += bias; }
                Sse.Store(j.Y + (long)m * j.N + n, sa);
                Sse.Store(j.Y + (long)(m + 1) * j.N + n, sb);
            }
            for (; m < M; m++) for (int c = n; c < n + 4; c++) j.Y[(long)m * j.N + c] = Dot(j, m, c);
        }
        for (; n < n1; n++) for (int m = 0; m < M; m++) j.Y[(long)m * j.N + n] = Dot(j, m, n);
    }

    static readonly bool Wide = Vector512.IsHardwareAccelerated && Avx512F.IsSupported;

    /// <summary>
    /// With AVX-512's 32 registers: 4 rows × 4 columns at a time (16 accumulators, 8 loads per 16 FMAs), for
    /// K a multiple of 16. Returns the first row left for the narrower tiles.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a hot loop: full optimisation at once, not after tiering
    static int RowMajorTiles512(Job j, int n, float* w0, float* w1, float* w2, float* w3)
    {
        int M = j.M, K = j.K;
        if (K % 16 != 0) return 0;
        // The weights stream from memory once (they outgrow the caches): fetch the rows two tiles ahead meanwhile.
        float* p0 = j.W + (long)Math.Min(n + 8, j.N - 4) * K, p1 = p0 + K, p2 = p1 + K, p3 = p2 + K;
        int m = 0;
        for (; m + 4 <= M; m += 4)
        {
            float* x0 = j.X + (long)m * K, x1 = x0 + K, x2 = x1 + K, x3 = x2 + K;
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
            Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, d0 = default, d1 = default, d2 = default, d3 = default;
            for (int k = 0; k < K; k += 16)
            {
                if (m == 0) { Sse.Prefetch0(p0 + k); Sse.Prefetch0(p1 + k); Sse.Prefetch0(p2 + k); Sse.Prefetch0(p3 + k); }
                var v0 = Vector512.Load(w0 + k); var v1 = Vector512.Load(w1 + k); var v2 = Vector512.Load(w2 + k); var v3 = Vector512.Load(w3 + k);
                var x = Vector512.Load(x0 + k);
                a0 = Avx512F.FusedMultiplyAdd(x, v0, a0); a1 = Avx512F.FusedMultiplyAdd(x, v1, a1); a2 = Avx512F.FusedMultiplyAdd(x, v2, a2); a3 = Avx512F.FusedMultiplyAdd(x, v3, a3);
                x = Vector512.Load(x1 + k);
                b0 = Avx512F.FusedMultiplyAdd(x, v0, b0); b1 = Avx512F.FusedMultiplyAdd(x, v1, b1); b2 = Avx512F.FusedMultiplyAdd(x, v2, b2); b3 = Avx512F.FusedMultiplyAdd(x, v3, b3);
                x = Vector512.Load(x2 + k);
                c0 = Avx512F.FusedMultiplyAdd(x, v0, c0); c1 = Avx512F.FusedMultiplyAdd(x, v1, c1); c2 = Avx512F.FusedMultiplyAdd(x, v2, c2); c3 = Avx512F.FusedMultiplyAdd(x, v3, c3);
                x = Vector512.Load(x3 + k);
                d0 = Avx512F.FusedMultiplyAdd(x, v0, d0); d1 = Avx512F.FusedMultiplyAdd(x, v1, d1); d2 = Avx512F.FusedMultiplyAdd(x, v2, d2); d3 = Avx512F.FusedMultiplyAdd(x, v3, d3);
            }
            var bias = j.B is null ? Vector128<float>.Zero : Sse.LoadVector128(j.B + n);
            Sse.Store(j.Y + (long)m * j.N + n, Sum4(a0, a1, a2, a3) + bias);
            Sse.Store(j.Y + (long)(m + 1) * j.N + n, Sum4(b0, b1, b2, b3) + bias);
            Sse.Store(j.Y + (long)(m + 2) * j.N + n, Sum4(c0, c1, c2, c3) + bias);
            Sse.Store(j.Y + (long)(m + 3) * j.N + n, Sum4(d0, d1, d2, d3) + bias);
        }
        return m;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> Sum4(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d) =>
        Sum4(a.GetLower() + a.GetUpper(), b.GetLower() + b.GetUpper(), c.GetLower() + c.GetUpper(), d.GetLower() + d.GetUpper());

    /// <summary>One output of y = x·Wᵀ + b, W (N, K).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a hot loop: full optimisation at once, not after tiering
    static float Dot(Job j, int m, int n)
    {
        float* x = j.X + (long)m * j.K, w = j.W + (long)n * j.K;
        var acc = Vector256<float>.Zero;
        int k = 0;
        for (; k + 8 <= j.K; k += 8) acc = Fma.MultiplyAdd(Avx.LoadVector256(x + k), Avx.LoadVector256(w + k), acc);
        float s = Vector256.Sum(acc);
        for (; k < j.K; k++) s += x[k] * w[k];
        return s + (j.B is null ? 0 : j.B[n]);
    }

    /// <summary>The four horizontal sums of a, b, c, d.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> Sum4(Vector256<float> a, Vector256<float> b, Vector256<float> c, Vector256<float> d)
    {
        var ab = Avx.HorizontalAdd(a, b); // a01 a23 b01 b23 | a45 a67 b45 b67
        var cd = Avx.HorizontalAdd(c, d);
        var abcd = Avx.HorizontalAdd(ab, cd); // a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 c4-7 d4-7
        return abcd.GetLower() + abcd.GetUpper();
    }

    /// <summary>Columns [n0, n1) of y = x·W + b, W (K, N): 4 rows × 16 columns at a time, accumulating x[m, k]·W[k, :].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a hot loop: full optimisation at once, not after tiering
    static void InOutColumns(Job j, int n0, int n1)
    {
        int M = j.M, K = j.K, N = j.N;
        int n = n0;
        if (Wide)
            for (; n + 32 <= n1; n += 32)
            {
                int m = 0;
                for (; m + 8 <= M; m += 8) InOutTile512(j, m, n);
                for (; m < M; m++) InOutRow512(j, m, n);
            }
        for (; n + 16 <= n1; n += 16) InOutTail(j, 0, n);
        for (; n < n1; n++)
            for (int m = 0; m < M; m++)
            {
                float s = j.B is null ? 0 : j.B[n];
                float* x = j.X + (long)m * K;
                for (int k = 0; k < K; k++) s += x[k] * j.W[(long)k * N + n];
                j.Y[(long)m * N + n] = s;
            }
    }

    /// <summary>With AVX-512: rows [m, m+8) × columns [n, n+32), 16 accumulators, 10 loads per 16 FMAs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a hot loop: full optimisation at once, not after tiering
    static void InOutTile512(Job j, int m, int n)
    {
        int K = j.K, N = j.N;
        float* x = j.X + (long)m * K;
        Vector512<float> a0 = default, a1 = default, b0 = default, b1 = default, c0 = default, c1 = default, d0 = default, d1 = default;
        Vector512<float> e0 = default, e1 = default, f0 = default, f1 = default, g0 = default, g1 = default, h0 = default, h1 = default;
        float* w = j.W + n;
        for (int k = 0; k < K; k++, w += N)
        {
            var v0 = Vector512.Load(w); var v1 = Vector512.Load(w + 16);
            var s = Vector512.Create(x[k]); a0 = Avx512F.FusedMultiplyAdd(s, v0, a0); a1 = Avx512F.FusedMultiplyAdd(s, v1, a1);
            s = Vector512.Create(x[K + k]); b0 = Avx512F.FusedMultiplyAdd(s, v0, b0); b1 = Avx512F.FusedMultiplyAdd(s, v1, b1);
            s = Vector512.Create(x[2 * K + k]); c0 = Avx512F.FusedMultiplyAdd(s, v0, c0); c1 = Avx512F.FusedMultiplyAdd(s, v1, c1);
            s = Vector512.Create(x[3 * K + k]); d0 = Avx512F.FusedMultiplyAdd(s, v0, d0); d1 = Avx512F.FusedMultiplyAdd(s, v1, d1);
            s = Vector512.Create(x[4 * K + k]); e0 = Avx512F.FusedMultiplyAdd(s, v0, e0); e1 = Avx512F.FusedMultiplyAdd(s, v1, e1);
            s = Vector512.Create(x[5 * K + k]); f0 = Avx512F.FusedMultiplyAdd(s, v0, f0); f1 = Avx512F.FusedMultiplyAdd(s, v1, f1);
            s = Vector512.Create(x[6 * K + k]); g0 = Avx512F.FusedMultiplyAdd(s, v0, g0); g1 = Avx512F.FusedMultiplyAdd(s, v1, g1);
            s = Vector512.Create(x[7 * K + k]); h0 = Avx512F.FusedMultiplyAdd(s, v0, h0); h1 = Avx512F.FusedMultiplyAdd(s, v1, h1);
        }
        Store32(j, m, n, a0, a1); Store32(j, m + 1, n, b0, b1); Store32(j, m + 2, n, c0, c1); Store32(j, m + 3, n, d0, d1);
        Store32(j, m + 4, n, e0, e1); Store32(j, m + 5, n, f0, f1); Store32(j, m + 6, n, g0, g1); Store32(j, m + 7, n, h0, h1);
    }

    /// <summary>With AVX-512: row m × columns [n, n+32); two k at a time, so four independent accumulators hide the FMA latency.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void InOutRow512(Job j, int m, int n)
    {
        int K = j.K, N = j.N;
        float* x = j.X + (long)m * K;
        float* w = j.W + n;
        Vector512<float> a0 = default, a1 = default, b0 = default, b1 = default;
        int k = 0;
        for (; k + 2 <= K; k += 2, w += 2 * N)
        {
            var s = Vector512.Create(x[k]); var t = Vector512.Create(x[k + 1]);
            a0 = Avx512F.FusedMultiplyAdd(s, Vector512.Load(w), a0); a1 = Avx512F.FusedMultiplyAdd(s, Vector512.Load(w + 16), a1);
            b0 = Avx512F.FusedMultiplyAdd(t, Vector512.Load(w + N), b0); b1 = Avx512F.FusedMultiplyAdd(t, Vector512.Load(w + N + 16), b1);
        }
        if (k < K)
        {
            var s = Vector512.Create(x[k]);
            a0 = Avx512F.FusedMultiplyAdd(s, Vector512.Load(w), a0); a1 = Avx512F.FusedMultiplyAdd(s, Vector512.Load(w + 16), a1);
        }
        Store32(j, m, n, a0 + b0, a1 + b1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store32(Job j, int m, int n, Vector512<float> lo, Vector512<float> hi)
    {
        if (j.B is not null) { lo += Vector512.Load(j.B + n); hi += Vector512.Load(j.B + n + 16); }
        float* y = j.Y + (long)m * j.N + n;
        lo.Store(y); hi.Store(y + 16);
    }

    /// <summary>Rows [m0, M) × columns [n, n+16) with AVX2: 4 rows at a time, then one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a hot loop: full optimisation at once, not after tiering
    static void InOutTail(Job j, int m0, int n)
    {
        int M = j.M, K = j.K, N = j.N;
        int m = m0;
        for (; m + 4 <= M; m += 4)
        {
            float* x0 = j.X + (long)m * K, x1 = x0 + K, x2 = x1 + K, x3 = x2 + K;
            Vector256<float> a0 = default, a1 = default, b0 = default, b1 = default, c0 = default, c1 = default, d0 = default, d1 = default;
            float* w = j.W + n;
            for (int k = 0; k < K; k++, w += N)
            {
                var v0 = Avx.LoadVector256(w); var v1 = Avx.LoadVector256(w + 8);
                var s = Vector256.Create(x0[k]); a0 = Fma.MultiplyAdd(s, v0, a0); a1 = Fma.MultiplyAdd(s, v1, a1);
                s = Vector256.Create(x1[k]); b0 = Fma.MultiplyAdd(s, v0, b0); b1 = Fma.MultiplyAdd(s, v1, b1);
                s = Vector256.Create(x2[k]); c0 = Fma.MultiplyAdd(s, v0, c0); c1 = Fma.MultiplyAdd(s, v1, c1);
                s = Vector256.Create(x3[k]); d0 = Fma.MultiplyAdd(s, v0, d0); d1 = Fma.MultiplyAdd(s, v1, d1);
            }
            Store16(j, m, n, a0, a1); Store16(j, m + 1, n, b0, b1); Store16(j, m + 2, n, c0, c1); Store16(j, m + 3, n, d0, d1);
        }
        for (; m < M; m++)
        {
            float* x = j.X + (long)m * K;
            Vector256<float> a0 = default, a1 = default;
            float* w = j.W + n;
            for (int k = 0; k < K; k++, w += N)
            {
                var s = Vector256.Create(x[k]);
                a0 = Fma.MultiplyAdd(s, Avx.LoadVector256(w), a0); a1 = Fma.MultiplyAdd(s, Avx.LoadVector256(w + 8), a1);
            }
            Store16(j, m, n, a0, a1);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store16(Job j, int m, int n, Vector256<float> lo, Vector256<float> hi)
    {
        if (j.B is not null) { lo += Avx.LoadVector256(j.B + n); hi += Avx.LoadVector256(j.B + n + 8); }
        float* y = j.Y + (long)m * j.N + n;
        Avx.Store(y, lo); Avx.Store(y + 8, hi);
    }
}
