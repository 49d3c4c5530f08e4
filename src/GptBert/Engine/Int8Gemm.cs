using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GptBert.Engine;

/// <summary>Which int8 product kernel runs (<see cref="Int8Gemm.BestPath"/> picks the fastest this CPU and these weights allow).</summary>
public enum Int8Path
{
    /// <summary>Plain C#, any CPU.</summary>
    Scalar,
    /// <summary>AVX2 <c>vpmaddubsw</c> (u8·s8 pairs summed in int16) + <c>vpmaddwd</c> by ones: exact only for weights in [-64, 63] (see <see cref="Int8Weights.SevenBit"/>).</summary>
    Avx2,
    /// <summary>AVX2 with weights and activations widened to int16 and <c>vpmaddwd</c>: exact for every int8 weight, half the rate of <see cref="Avx2"/>.</summary>
    Avx2Int16,
    /// <summary>AVX-VNNI <c>vpdpbusd</c> (four u8·s8 products added straight into int32): exact for every int8 weight.</summary>
    AvxVnni,
}

/// <summary>
/// The int8 weights of one linear layer y = x·Wᵀ (W (N, K) as nn.Linear stores it), packed for the kernels of
/// <see cref="Int8Gemm"/>: output columns in panels of 8, the reduction in groups of 4, so one 32-byte load holds
/// W[n..n+8, k..k+4] as 8 × 4 bytes, the layout <c>vpdpbusd</c> and <c>vpmaddubsw</c>+<c>vpmaddwd</c> reduce per int32 lane
/// (MLAS and fbgemm pack the same way). Kept in pinned managed arrays, so the GC frees them with the layer.
/// </summary>
public sealed unsafe class Int8Weights
{
    /// <summary>Output columns and reduction length.</summary>
    public int N { get; }
    public int K { get; }
    /// <summary>Groups of 4 along K (the last zero-padded).</summary>
    public int KGroups => (K + 3) / 4;
    /// <summary>Panels of 8 output columns (the last zero-padded).</summary>
    public int Panels => (N + 7) / 8;
    /// <summary>Σ_k W[n, k] per column, for the activations' zero point.</summary>
    public int[] ColumnSums { get; }
    /// <summary>
    /// Every weight lies in [-64, 63]: then a <c>vpmaddubsw</c> pair sum is at most 255·64·2 = 32,640 in magnitude and
    /// cannot saturate its int16 (full-range weights reach 255·127·2 = 64,770). The quantizer's dynamic scheme writes
    /// weights in ±63 (ONNX Runtime's reduce_range for u8·s8); other weights take the exact int16 path on AVX2.
    /// </summary>
    public bool SevenBit { get; }

    readonly sbyte[] packed;

    /// <param name="weights">(N, K) row-major int8.</param>
    public Int8Weights(ReadOnlySpan<sbyte> weights, int n, int k)
    {
        if (n < 1 || k < 1 || weights.Length != (long)n * k) throw new ArgumentException($"weights hold {weights.Length} values, not {n}×{k}");
        N = n; K = k;
        packed = GC.AllocateArray<sbyte>(Panels * KGroups * 32, pinned: true);
        ColumnSums = GC.AllocateArray<int>(n, pinned: true);
        bool seven = true;
        for (int c = 0; c < n; c++)
        {
            int panel = c / 8, lane = c % 8, sum = 0;
            for (int i = 0; i < k; i++)
            {
                sbyte w = weights[c * k + i];
                sum += w;
                if (w is < -64 or > 63) seven = false;
                packed[(panel * KGroups + i / 4) * 32 + lane * 4 + i % 4] = w;
            }
            ColumnSums[c] = sum;
        }
        SevenBit = seven;
    }

    internal int* Sums => (int*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(ColumnSums));

    internal sbyte* Data => (sbyte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(packed));

    /// <summary>W[n, k] read back from the packed layout.</summary>
    public sbyte this[int n, int k] => packed[(n / 8 * KGroups + k / 4) * 32 + n % 8 * 4 + k % 4];

    /// <summary>
    /// Writes W[n, k] · scale[n] as float32 to <paramref name="dst"/>: (N, K) row-major, or (K, N) with <paramref name="transposed"/>.
    /// Reads the packed layout in order (panel, group of 4 along K, column, k).
    /// </summary>
    public void Dequantize(Span<float> dst, ReadOnlySpan<float> scale, bool transposed)
    {
        if (dst.Length != (long)N * K || scale.Length != N) throw new ArgumentException($"need {N}×{K} outputs and {N} scales");
        int groups = KGroups;
        for (int panel = 0; panel < Panels; panel++)
            for (int g = 0; g < groups; g++)
            {
                int src = (panel * groups + g) * 32;
                for (int lane = 0; lane < 8; lane++)
                {
                    int n = panel * 8 + lane;
                    if (n >= N) break;
                    float s = scale[n];
                    for (int j = 0; j < 4; j++)
                    {
                        int k = g * 4 + j;
                        if (k >= K) break;
                        dst[transposed ? k * N + n : n * K + k] = packed[src + lane * 4 + j] * s;
                    }
                }
            }
    }
}

/// <summary>
/// int8 matrix products for quantized inference (<c>gptbert quantize</c>), in the style of <see cref="SmallGemm"/>:
/// .NET hardware intrinsics, output columns split over <see cref="Workers"/>.
/// <para>
/// <b>Dynamic</b> (<see cref="DynamicLinear"/>): each row of x is quantized at run time to uint8 with its own scale and zero
/// point over [min(x, 0), max(x, 0)] (ONNX Runtime's DynamicQuantizeLinear, per row instead of per tensor), the product
/// Σ x_q·w_q accumulates exactly in int32, and y = s_x·s_w[n]·(Σ x_q·w_q − z_x·Σ_k w_q[n, k]) + b[n] in fp32.
/// u8 activations × s8 weights is the operand order of <c>vpmaddubsw</c> and <c>vpdpbusd</c>.
/// </para>
/// <para>
/// <b>Weight-only</b> (<see cref="WeightOnlyLinear"/>): the same packed int8 weights, fp32 activations; each weight
/// is widened to fp32 in the kernel and the per-column scale applied once per output — a quarter of the memory traffic of
/// fp32 weights, which is what bounds a batch-1 decoding step.
/// </para>
/// </summary>
public static unsafe class Int8Gemm
{
    /// <summary>The paths this CPU can run, fastest last.</summary>
    public static IReadOnlyList<Int8Path> SupportedPaths { get; } = Supported().ToArray();

    static IEnumerable<Int8Path> Supported()
    {
        yield return Int8Path.Scalar;
        if (Avx2.IsSupported) { yield return Int8Path.Avx2Int16; yield return Int8Path.Avx2; }
        if (AvxVnni.IsSupported) yield return Int8Path.AvxVnni;
    }

    /// <summary>
    /// The fastest exact path for <paramref name="w"/>: VNNI where the CPU has it (.NET 10 exposes <c>vpdpbusd</c> through
    /// <see cref="AvxVnni"/>, 256-bit: AVX-VNNI, or AVX512-VNNI with VL), else <c>vpmaddubsw</c> for 7-bit weights, else int16.
    /// </summary>
    public static Int8Path BestPath(Int8Weights w) =>
        AvxVnni.IsSupported ? Int8Path.AvxVnni
        : Avx2.IsSupported ? (w.SevenBit ? Int8Path.Avx2 : Int8Path.Avx2Int16)
        : Int8Path.Scalar;

    /// <summary>Whether <paramref name="path"/> runs here.</summary>
    public static bool IsSupported(Int8Path path) => SupportedPaths.Contains(path);

    /// <summary>Row stride of quantized activations: K rounded up to the 4-byte groups the kernels read.</summary>
    public static int PaddedK(int k) => (k + 3) / 4 * 4;

    // ---------------------------------------------------------------- activations

    /// <summary>
    /// Quantizes each row of x (M, K) to uint8 (rows of <see cref="PaddedK"/> bytes, padding 0): scale = (max − min)/255 over
    /// [min(x, 0), max(x, 0)], zero point = round(−min/scale), x_q = saturate(round(x/scale) + zero point), rounding half to even.
    /// </summary>
    public static void QuantizeRows(float* x, int m, int k, byte* xq, float* scales, int* zeroPoints)
    {
        // Rows are independent: split them over the workers when there are enough (~256K values a part).
        int parts = (int)Math.Min(Math.Min(TorchRuntime.Threads, m), Math.Max(1, (long)m * k / (1 << 18)));
        if (parts > 1)
        {
            Workers.Run(parts, p =>
            {
                int r0 = (int)((long)m * p / parts), r1 = (int)((long)m * (p + 1) / parts);
                long kp = PaddedK(k);
                QuantizeRows(x + r0 * (long)k, r1 - r0, k, xq + r0 * kp, scales + r0, zeroPoints + r0, single: true);
            });
            return;
        }
        QuantizeRows(x, m, k, xq, scales, zeroPoints, single: true);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void QuantizeRows(float* x, int m, int k, byte* xq, float* scales, int* zeroPoints, bool single)
    {
        int kp = PaddedK(k);
        for (int r = 0; r < m; r++)
        {
            float* row = x + (long)r * k;
            byte* q = xq + (long)r * kp;
            float lo = 0, hi = 0;
            int i = 0;
            if (Avx.IsSupported && k >= 8)
            {
                var vlo = Vector256<float>.Zero; var vhi = Vector256<float>.Zero;
                for (; i + 8 <= k; i += 8) { var v = Avx.LoadVector256(row + i); vlo = Avx.Min(vlo, v); vhi = Avx.Max(vhi, v); }
                for (int j = 0; j < 8; j++) { lo = Math.Min(lo, vlo.GetElement(j)); hi = Math.Max(hi, vhi.GetElement(j)); }
            }
            for (; i < k; i++) { lo = Math.Min(lo, row[i]); hi = Math.Max(hi, row[i]); }
            float scale = (hi - lo) / 255f;
            if (!(scale > 0) || float.IsInfinity(scale)) scale = 1f; // an all-zero row (or non-finite values, left to the fallback's NaNs)
            int zp = (int)Math.Clamp(MathF.Round(-lo / scale, MidpointRounding.ToEven), 0, 255);
            scales[r] = scale; zeroPoints[r] = zp;
            i = 0;
            if (Avx2.IsSupported)
            {
                var vs = Vector256.Create(scale); var vz = Vector256.Create(zp);
                var order = Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7);
                for (; i + 32 <= k; i += 32)
                {
                    // Round half to even (MXCSR's default), add the zero point, saturate to int16 then to uint8.
                    var a = Avx2.Add(Avx.ConvertToVector256Int32(Avx.Divide(Avx.LoadVector256(row + i), vs)), vz);
                    var b = Avx2.Add(Avx.ConvertToVector256Int32(Avx.Divide(Avx.LoadVector256(row + i + 8), vs)), vz);
                    var c = Avx2.Add(Avx.ConvertToVector256Int32(Avx.Divide(Avx.LoadVector256(row + i + 16), vs)), vz);
                    var d = Avx2.Add(Avx.ConvertToVector256Int32(Avx.Divide(Avx.LoadVector256(row + i + 24), vs)), vz);
                    var bytes = Avx2.PackUnsignedSaturate(Avx2.PackSignedSaturate(a, b), Avx2.PackSignedSaturate(c, d)); // a0-3 b0-3 c0-3 d0-3 | a4-7 ..
                    Avx.Store(q + i, Avx2.PermuteVar8x32(bytes.AsInt32(), order).AsByte());
                }
            }
            for (; i < k; i++) q[i] = (byte)Math.Clamp(MathF.Round(row[i] / scale, MidpointRounding.ToEven) + zp, 0, 255);
            for (; i < kp; i++) q[i] = 0;
        }
    }

    // ---------------------------------------------------------------- dynamic products

    sealed class Job
    {
        public byte* X;            // (M, Kp) uint8
        public Int8Weights W = null!;
        public int M;
        public int* Raw;           // (M, N) int32 Σ x_q·w_q, for tests; or null
        public float* Y;           // (M, N) fp32 result
        public float* XScale; public int* XZero; public float* WScale; public float* Bias;
        public Activation Act;     // applied to each block of y just written, while it is in cache
    }

    /// <summary>Exact int32 products acc (M, N) = x_q (M, Kp) · Wᵀ on <paramref name="path"/> (for tests and references).</summary>
    public static void MultiplyInt32(Int8Path path, byte* xq, int m, Int8Weights w, int* acc)
    {
        if (!IsSupported(path)) throw new PlatformNotSupportedException($"{path} does not run on this CPU");
        Run(path, new Job { X = xq, W = w, M = m, Raw = acc });
    }

    /// <summary>
    /// y (M, N) = dequantized (x_q · Wᵀ) + b from rows quantized by <see cref="QuantizeRows"/>: y = s_x[m]·s_w[n]·(acc − z_x[m]·ΣW[n]) + b[n],
    /// then <paramref name="activation"/> applied to each block of y right after its product, while it is in cache.
    /// </summary>
    public static void DynamicProduct(Int8Path path, byte* xq, float* xScale, int* xZero, int m, Int8Weights w, float* wScale, float* bias, float* y,
        Activation activation = Activation.None)
    {
        if (!IsSupported(path)) throw new PlatformNotSupportedException($"{path} does not run on this CPU");
        Run(path, new Job { X = xq, W = w, M = m, Y = y, XScale = xScale, XZero = xZero, WScale = wScale, Bias = bias, Act = activation });
    }

    /// <summary>Longest reduction whose int32 sums cannot overflow: K · 255 · 128 ≤ 2³¹ − 1.</summary>
    public const int MaxK = int.MaxValue / (255 * 128);

    [ThreadStatic] static byte[]? scratchBytes;
    [ThreadStatic] static float[]? scratchScales;
    [ThreadStatic] static int[]? scratchZeros;

    /// <summary>y (M, N) = activation(x (M, K) · Wᵀ · diag(scale) + b), with x quantized per row at run time.</summary>
    public static void DynamicLinear(float* x, int m, Int8Weights w, float* wScale, float* bias, float* y, Int8Path? path = null,
        Activation activation = Activation.None)
    {
        int kp = PaddedK(w.K);
        // Scratch reused by this thread (a fresh multi-megabyte array per product would cost a gen-2 collection now and then).
        if (scratchBytes is null || scratchBytes.Length < (long)m * kp) scratchBytes = GC.AllocateUninitializedArray<byte>(m * kp, pinned: true);
        if (scratchScales is null || scratchScales.Length < m) { scratchScales = new float[m]; scratchZeros = new int[m]; }
        fixed (byte* q = scratchBytes) fixed (float* s = scratchScales) fixed (int* z = scratchZeros)
        {
            QuantizeRows(x, m, w.K, q, s, z);
            DynamicProduct(path ?? BestPath(w), q, s, z, m, w, wScale, bias, y, activation);
        }
    }

    static void Run(Int8Path path, Job j)
    {
        int panels = j.W.Panels, pairs = (panels + 1) / 2;
        long work = (long)j.M * j.W.N * j.W.K;
        // Columns in runs of whole panel pairs, one run per thread, each worth at least ~2M multiply-adds; with a few rows the
        // product waits on reading the weights, so parts of ~128K weights already pay for the fork-join.
        int parts = (int)Math.Min(Math.Min(TorchRuntime.Threads, pairs), Math.Max(1, work / (j.M <= 4 ? 1 << 17 : 1 << 21)));
        Workers.Run(parts, p =>
        {
            int p0 = (int)((long)pairs * p / parts) * 2, p1 = Math.Min(panels, (int)((long)pairs * (p + 1) / parts) * 2);
            // Rows in blocks whose activations stay in L2 while this thread's panels stream past them.
            int block = Math.Max(4, 65536 / Math.Max(1, j.W.KGroups * 4) / 4 * 4);
            for (int m0 = 0; m0 < j.M; m0 += block)
            {
                int m1 = Math.Min(j.M, m0 + block);
                switch (path)
                {
                    case Int8Path.Scalar: ScalarPanels(j, m0, m1, p0, p1); break;
                    case Int8Path.Avx2Int16: Int16Panels(j, m0, m1, p0, p1); break;
                    case Int8Path.AvxVnni: BytePanels<VnniStep>(j, m0, m1, p0, p1); break;
                    default: BytePanels<Avx2Step>(j, m0, m1, p0, p1); break;
                }
                if (j.Y is not null) Activate(j.Y, j.W.N, m0, m1, p0, p1, j.Act);
            }
        });
    }

    /// <summary>
    /// The activation on rows [m0, m1) × panels [p0, p1) of y (M, N), just written by this thread and still in its L2. Kept
    /// out of the register kernels: in their epilogue it pushed the accumulators out of registers (the product ran 3.5x slower).
    /// </summary>
    static void Activate(float* y, int n, int m0, int m1, int p0, int p1, Activation activation)
    {
        if (activation == Activation.None) return;
        int c0 = p0 * 8, count = Math.Min(n, p1 * 8) - c0;
        for (int m = m0; m < m1; m++) GeluKernel.InPlace(y + (long)m * n + c0, count, activation);
    }

    /// <summary>Stores one row's 8 columns of a panel: raw int32 for tests, or dequantized fp32 (+ bias).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(Job j, int m, int panel, Vector256<int> acc)
    {
        int n = panel * 8, N = j.W.N;
        if (j.Raw is not null)
        {
            if (n + 8 <= N) Avx.Store(j.Raw + (long)m * N + n, acc);
            else for (int c = n; c < N; c++) j.Raw[(long)m * N + c] = acc.GetElement(c - n);
            return;
        }
        if (n + 8 <= N)
        {
            var y = Dequantize(acc, Vector256.Create(j.XZero[m]), Avx.LoadVector256(j.W.Sums + n), Vector256.Create(j.XScale[m]), Avx.LoadVector256(j.WScale + n));
            if (j.Bias is not null) y = Avx.Add(y, Avx.LoadVector256(j.Bias + n));
            Avx.Store(j.Y + (long)m * N + n, y);
        }
        else
            for (int c = n; c < N; c++) j.Y[(long)m * N + c] = Dequantize(j, m, c, acc.GetElement(c - n));
    }

    /// <summary>
    /// Stores the 8 × 16 sums of <see cref="Tile8x2"/> as <see cref="Store"/> does, with the columns' scales, sums and biases
    /// loaded once for the 8 rows instead of once per row.
    /// </summary>
    static void StoreTile(Job j, int m, int p, int* tile)
    {
        int n = p * 8, N = j.W.N;
        if (j.Raw is not null || n + 16 > N)
        {
            for (int r = 0; r < 8; r++) { Store(j, m + r, p, Avx.LoadVector256(tile + r * 16)); Store(j, m + r, p + 1, Avx.LoadVector256(tile + r * 16 + 8)); }
            return;
        }
        var ws0 = Avx.LoadVector256(j.WScale + n); var ws1 = Avx.LoadVector256(j.WScale + n + 8);
        var s0 = Avx.LoadVector256(j.W.Sums + n); var s1 = Avx.LoadVector256(j.W.Sums + n + 8);
        bool hasBias = j.Bias is not null;
        var b0 = hasBias ? Avx.LoadVector256(j.Bias + n) : default; var b1 = hasBias ? Avx.LoadVector256(j.Bias + n + 8) : default;
        float* y = j.Y + (long)m * N + n;
        for (int r = 0; r < 8; r++, y += N, tile += 16)
        {
            var z = Vector256.Create(j.XZero[m + r]); var xs = Vector256.Create(j.XScale[m + r]);
            var y0 = Dequantize(Avx.LoadVector256(tile), z, s0, xs, ws0);
            var y1 = Dequantize(Avx.LoadVector256(tile + 8), z, s1, xs, ws1);
            if (hasBias) { y0 = Avx.Add(y0, b0); y1 = Avx.Add(y1, b1); }
            Avx.Store(y, y0); Avx.Store(y + 8, y1);
        }
    }

    /// <summary>s_x·s_w·(acc − z_x·ΣW) for 8 columns of one row: the zero point removed exactly in int32, then one rounding to fp32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Dequantize(Vector256<int> acc, Vector256<int> zero, Vector256<int> sums, Vector256<float> xScale, Vector256<float> wScale) =>
        Avx.Multiply(Avx.ConvertToVector256Single(Avx2.Subtract(acc, Avx2.MultiplyLow(zero, sums))), Avx.Multiply(xScale, wScale));

    static float Dequantize(Job j, int m, int c, int acc) =>
        (float)(acc - j.XZero[m] * j.W.ColumnSums[c]) * (j.XScale[m] * j.WScale[c]) + (j.Bias is null ? 0 : j.Bias[c]);

    /// <summary>The reference: one multiply-add at a time, reading the packed layout.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void ScalarPanels(Job j, int m0, int m1, int p0, int p1)
    {
        var w = j.W;
        int kp = w.KGroups * 4;
        sbyte* data = w.Data;
        for (int m = m0; m < m1; m++)
            for (int c = p0 * 8; c < Math.Min(w.N, p1 * 8); c++)
            {
                int acc = 0;
                byte* x = j.X + (long)m * kp;
                sbyte* panel = data + (long)(c / 8) * w.KGroups * 32 + c % 8 * 4;
                for (int g = 0; g < w.KGroups; g++)
                    for (int i = 0; i < 4; i++) acc += x[g * 4 + i] * panel[g * 32 + i];
                if (j.Raw is not null) j.Raw[(long)m * w.N + c] = acc;
                else j.Y[(long)m * w.N + c] = Dequantize(j, m, c, acc);
            }
    }

    /// <summary>
    /// One k-group step: the 4 activation bytes of a row (broadcast to every lane) times a panel's 32 weight bytes, added
    /// per int32 lane. VNNI does it in one <c>vpdpbusd</c>; AVX2 in <c>vpmaddubsw</c> (u8·s8 pairs to int16, exact for
    /// 7-bit weights) then <c>vpmaddwd</c> by ones (pairs of int16 to int32).
    /// </summary>
    interface IStep { static abstract Vector256<int> Step(Vector256<int> acc, Vector256<byte> x, Vector256<sbyte> w); }

    readonly struct VnniStep : IStep
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Step(Vector256<int> acc, Vector256<byte> x, Vector256<sbyte> w) => AvxVnni.MultiplyWideningAndAdd(acc, x, w);
    }

    readonly struct Avx2Step : IStep
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Step(Vector256<int> acc, Vector256<byte> x, Vector256<sbyte> w) =>
            Avx2.Add(acc, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(x, w), Vector256.Create((short)1)));
    }

    /// <summary>Rows [m0, m1) × panels [p0, p1): 8 rows × 2 panels (16 columns) at a time (<see cref="Tile8x2"/>), then 4 rows, then 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a hot loop: full optimisation at once, not after tiering
    static void BytePanels<S>(Job j, int m0, int m1, int p0, int p1) where S : struct, IStep
    {
        var w = j.W;
        int G = w.KGroups, kp = G * 4;
        int p = p0;
        var tile = stackalloc int[8 * 16];
        for (; p + 2 <= p1; p += 2)
        {
            sbyte* w0 = w.Data + (long)p * G * 32, w1 = w0 + G * 32;
            int m = m0;
            for (; m + 8 <= m1; m += 8)
            {
                Tile8x2<S>(j.X + (long)m * kp, kp, w0, w1, tile);
                StoreTile(j, m, p, tile);
            }
            for (; m + 4 <= m1; m += 4)
            {
                byte* x0 = j.X + (long)m * kp, x1 = x0 + kp, x2 = x1 + kp, x3 = x2 + kp;
                Vector256<int> a0 = default, a1 = default, b0 = default, b1 = default, c0 = default, c1 = default, d0 = default, d1 = default;
                for (int g = 0; g < G; g++)
                {
                    var v0 = Avx.LoadVector256(w0 + g * 32); var v1 = Avx.LoadVector256(w1 + g * 32);
                    var x = Vector256.Create(*(int*)(x0 + g * 4)).AsByte(); a0 = S.Step(a0, x, v0); a1 = S.Step(a1, x, v1);
                    x = Vector256.Create(*(int*)(x1 + g * 4)).AsByte(); b0 = S.Step(b0, x, v0); b1 = S.Step(b1, x, v1);
                    x = Vector256.Create(*(int*)(x2 + g * 4)).AsByte(); c0 = S.Step(c0, x, v0); c1 = S.Step(c1, x, v1);
                    x = Vector256.Create(*(int*)(x3 + g * 4)).AsByte(); d0 = S.Step(d0, x, v0); d1 = S.Step(d1, x, v1);
                }
                Store(j, m, p, a0); Store(j, m, p + 1, a1); Store(j, m + 1, p, b0); Store(j, m + 1, p + 1, b1);
                Store(j, m + 2, p, c0); Store(j, m + 2, p + 1, c1); Store(j, m + 3, p, d0); Store(j, m + 3, p + 1, d1);
            }
            for (; m < m1; m++)
            {
                byte* x0 = j.X + (long)m * kp;
                Vector256<int> a0 = default, a1 = default;
                for (int g = 0; g < G; g++)
                {
                    var x = Vector256.Create(*(int*)(x0 + g * 4)).AsByte();
                    a0 = S.Step(a0, x, Avx.LoadVector256(w0 + g * 32)); a1 = S.Step(a1, x, Avx.LoadVector256(w1 + g * 32));
                }
                Store(j, m, p, a0); Store(j, m, p + 1, a1);
            }
        }
        for (; p < p1; p++)
        {
            sbyte* w0 = w.Data + (long)p * G * 32;
            for (int m = m0; m < m1; m++)
            {
                byte* x0 = j.X + (long)m * kp;
                Vector256<int> a0 = default;
                for (int g = 0; g < G; g++) a0 = S.Step(a0, Vector256.Create(*(int*)(x0 + g * 4)).AsByte(), Avx.LoadVector256(w0 + g * 32));
                Store(j, m, p, a0);
            }
        }
    }

    /// <summary>
    /// 8 rows × 2 panels (16 columns): 16 int32 accumulators, written to <paramref name="tile"/> (row r's 16 sums at r·16). A
    /// method of its own so the JIT keeps every accumulator, pointer and stride in a register (inlined into the panel loop,
    /// it spilled accumulators to the stack every step: 163-200 GMAC/s against 316-370 on MiniLM's products at 4096 rows,
    /// 2 threads, Zen 5, one sitting).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static void Tile8x2<S>(byte* x, long kp, sbyte* wa, sbyte* wb, int* tile) where S : struct, IStep
    {
        byte* end = x + kp;
        long s3 = 3 * kp, s5 = 5 * kp, s7 = 7 * kp;
        Vector256<int> a0 = default, a1 = default, b0 = default, b1 = default, c0 = default, c1 = default, d0 = default, d1 = default;
        Vector256<int> e0 = default, e1 = default, f0 = default, f1 = default, g0 = default, g1 = default, h0 = default, h1 = default;
        for (; x < end; x += 4, wa += 32, wb += 32)
        {
            var v0 = Avx.LoadVector256(wa); var v1 = Avx.LoadVector256(wb);
            var xb = Vector256.Create(*(int*)x).AsByte(); a0 = S.Step(a0, xb, v0); a1 = S.Step(a1, xb, v1);
            xb = Vector256.Create(*(int*)(x + kp)).AsByte(); b0 = S.Step(b0, xb, v0); b1 = S.Step(b1, xb, v1);
            xb = Vector256.Create(*(int*)(x + 2 * kp)).AsByte(); c0 = S.Step(c0, xb, v0); c1 = S.Step(c1, xb, v1);
            xb = Vector256.Create(*(int*)(x + s3)).AsByte(); d0 = S.Step(d0, xb, v0); d1 = S.Step(d1, xb, v1);
            xb = Vector256.Create(*(int*)(x + 4 * kp)).AsByte(); e0 = S.Step(e0, xb, v0); e1 = S.Step(e1, xb, v1);
            xb = Vector256.Create(*(int*)(x + s5)).AsByte(); f0 = S.Step(f0, xb, v0); f1 = S.Step(f1, xb, v1);
            xb = Vector256.Create(*(int*)(x + 2 * s3)).AsByte(); g0 = S.Step(g0, xb, v0); g1 = S.Step(g1, xb, v1);
            xb = Vector256.Create(*(int*)(x + s7)).AsByte(); h0 = S.Step(h0, xb, v0); h1 = S.Step(h1, xb, v1);
        }
        Avx.Store(tile, a0); Avx.Store(tile + 8, a1); Avx.Store(tile + 16, b0); Avx.Store(tile + 24, b1);
        Avx.Store(tile + 32, c0); Avx.Store(tile + 40, c1); Avx.Store(tile + 48, d0); Avx.Store(tile + 56, d1);
        Avx.Store(tile + 64, e0); Avx.Store(tile + 72, e1); Avx.Store(tile + 80, f0); Avx.Store(tile + 88, f1);
        Avx.Store(tile + 96, g0); Avx.Store(tile + 104, g1); Avx.Store(tile + 112, h0); Avx.Store(tile + 120, h1);
    }

    /// <summary>
    /// Exact for any int8 weight on AVX2: each 4 × 8 block widened to int16 (<c>vpmovsxbw</c>, <c>vpmovzxbw</c>) and reduced with
    /// <c>vpmaddwd</c>, whose int16 products sum into int32 without saturating. Lanes hold pairs of one column, folded at the end.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Int16Panels(Job j, int m0, int m1, int p0, int p1)
    {
        var w = j.W;
        int G = w.KGroups, kp = G * 4;
        for (int p = p0; p < p1; p++)
        {
            sbyte* w0 = w.Data + (long)p * G * 32;
            for (int m = m0; m < m1; m++)
            {
                byte* x0 = j.X + (long)m * kp;
                Vector256<int> lo = default, hi = default; // columns 0-3 and 4-7, two lanes (k pairs) per column
                for (int g = 0; g < G; g++)
                {
                    byte* xg = x0 + g * 4;
                    var xs = Vector256.Create(xg[0] | (ulong)xg[1] << 16 | (ulong)xg[2] << 32 | (ulong)xg[3] << 48).AsInt16(); // 4 × int16, repeated
                    lo = Avx2.Add(lo, Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(w0 + g * 32), xs));
                    hi = Avx2.Add(hi, Avx2.MultiplyAddAdjacent(Avx2.ConvertToVector256Int16(w0 + g * 32 + 16), xs));
                }
                // hadd: c0 c1 c4 c5 | c2 c3 c6 c7 → 64-bit units in order 0, 2, 1, 3.
                var sums = Avx2.Permute4x64(Avx2.HorizontalAdd(lo, hi).AsInt64(), 0b11_01_10_00).AsInt32();
                Store(j, m, p, sums);
            }
        }
    }

    // ---------------------------------------------------------------- weight-only products

    /// <summary>
    /// y (M, N) = activation(x (M, K) · Wᵀ · diag(scale) + b) with fp32 x and W packed as for the dynamic products: each 32-byte block
    /// W[n..n+8, k..k+4] is read once, in order, widened to fp32 (<c>vpmovsxbd</c>, <c>vcvtdq2ps</c>) and multiplied with
    /// x[k..k+4] repeated; the scale is applied once per output. Meant for a few rows (decoding), where reading the weights
    /// is the cost; callers with many rows use a float GEMM on dequantized weights instead.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void WeightOnlyLinear(float* x, int m, Int8Weights w, float* scale, float* bias, float* y, bool scalar = false,
        Activation activation = Activation.None)
    {
        int panels = w.Panels;
        long work = (long)m * w.N * w.K;
        int parts = (int)Math.Min(Math.Min(TorchRuntime.Threads, panels), Math.Max(1, work / (1 << 17))); // bound by reading the weights: split early
        bool vector = !scalar && Avx2.IsSupported && Fma.IsSupported;
        Workers.Run(parts, p =>
        {
            int p0 = (int)((long)panels * p / parts), p1 = (int)((long)panels * (p + 1) / parts);
            for (int panel = p0; panel < p1; panel++)
                for (int r = 0; r < m; r++)
                {
                    float* xr = x + (long)r * w.K, yr = y + (long)r * w.N;
                    if (vector) { WeightOnlyPanel(xr, w, panel, scale, bias, yr); continue; }
                    for (int c = panel * 8; c < Math.Min(w.N, panel * 8 + 8); c++)
                    {
                        float s = 0;
                        for (int i = 0; i < w.K; i++) s += xr[i] * w[c, i];
                        yr[c] = s * scale[c] + (bias is null ? 0 : bias[c]);
                    }
                }
            Activate(y, w.N, 0, m, p0, p1, activation);
        });
    }

    /// <summary>The 8 outputs of one panel for one row: 8 accumulators (two k-groups in flight) of column pairs × 4 k.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void WeightOnlyPanel(float* x, Int8Weights w, int panel, float* scale, float* bias, float* y)
    {
        int G = w.KGroups, full = w.K / 4;
        sbyte* p = w.Data + (long)panel * G * 32;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
        int g = 0;
        for (; g + 2 <= full; g += 2, p += 64)
        {
            var xa = Vector256.Create(Vector128.Load(x + g * 4)); var xb = Vector256.Create(Vector128.Load(x + g * 4 + 4));
            a0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(p)), xa, a0);
            a1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(p + 8)), xa, a1);
            a2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(p + 16)), xa, a2);
            a3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(p + 24)), xa, a3);
            b0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(p + 32)), xb, b0);
            b1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(p + 40)), xb, b1);
            b2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(p + 48)), xb, b2);
            b3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(p + 56)), xb, b3);
        }
        var t = stackalloc float[4];
        for (; g < G; g++, p += 32)
        {
            // The last group may be partial: x beyond K is read as 0 (the packed weights there are 0 too).
            for (int i = 0; i < 4; i++) t[i] = g * 4 + i < w.K ? x[g * 4 + i] : 0;
            var xa = Vector256.Create(Vector128.Load(t));
            a0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(p)), xa, a0);
            a1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(p + 8)), xa, a1);
            a2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(p + 16)), xa, a2);
            a3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(p + 24)), xa, a3);
        }
        // Lanes: a0 = c0 k0-3 | c1 k0-3, a1 = c2 | c3, a2 = c4 | c5, a3 = c6 | c7. Pairwise sums leave c0 c2 c4 c6 | c1 c3 c5 c7.
        var h = Avx.HorizontalAdd(Avx.HorizontalAdd(a0 + b0, a1 + b1), Avx.HorizontalAdd(a2 + b2, a3 + b3));
        var sums = Avx2.PermuteVar8x32(h, Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7));
        int n = panel * 8;
        if (n + 8 <= w.N)
        {
            var r = Avx.Multiply(sums, Avx.LoadVector256(scale + n));
            if (bias is not null) r = Avx.Add(r, Avx.LoadVector256(bias + n));
            Avx.Store(y + n, r);
        }
        else
            for (int c = n; c < w.N; c++) y[c] = sums.GetElement(c - n) * scale[c] + (bias is null ? 0 : bias[c]);
    }

}
