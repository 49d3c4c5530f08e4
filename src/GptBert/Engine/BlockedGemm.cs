using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GptBert.Engine;

/// <summary>
/// fp32 inference products of many rows (batches, long inputs) with AVX-512, blocked for the caches in the way of
/// BLIS and ONNX Runtime's MLAS: the weights are packed per call into panels of <see cref="NR"/> columns, k-major (a
/// transpose for nn.Linear's (out, in) layout, a copy for Conv1D's (in, out)), one block of ≤ 512 k × a few panels at a
/// time so the block stays in L2; an 8 × 48 register tile (24 of the 32 zmm registers) multiplies 8 input rows, read in
/// place and broadcast one value at a time, by a 48-column panel. libtorch sends these products to MKL, whose sgemm does
/// not take its AVX-512 code on AMD processors: on a 2-core Zen 5 it ran MiniLM at half of ONNX Runtime's speed at batch
/// 32 (bench/results/int8-zen5.md), while this kernel runs at the FMA units' peak on one core (226 GFLOPS of 225
/// measured with a register-only FMA loop, hot caches). Packing per call costs about 1/(2·rows) of the multiply-adds, and
/// nothing is cached, so a weight changed in place is always read fresh.
/// </summary>
public static unsafe class BlockedGemm
{
    /// <summary>Rows of the register tile.</summary>
    public const int MR = 8;

    /// <summary>Columns of the register tile and of a packed weight panel (three zmm registers).</summary>
    public const int NR = 48;

    const int MaxKc = 512;                  // k per packed block: 8 rows × 512 floats of x (16 KiB) stay in L1
    const int BlockFloats = 64 * 1024;      // a packed block of 256 KiB stays in L2 (1 MiB per Zen 4/5 core)

    /// <summary>Whether this CPU can run the kernel (AVX-512F, as the JIT exposes it).</summary>
    public static bool Supported => Vector512.IsHardwareAccelerated && Avx512F.IsSupported;

    /// <summary>Off switch for benches and tests (GPTBERT_BLOCKED_GEMM=0 disables it); <see cref="SmallGemm.Enabled"/> turns off both.</summary>
    public static bool Enabled { get; set; } = Supported && Environment.GetEnvironmentVariable("GPTBERT_BLOCKED_GEMM") != "0";

    /// <summary>
    /// Fewest rows sent here rather than to <see cref="SmallGemm"/>'s unpacked kernels, which win below it because they
    /// skip the packing (bench/results/small-batch-gemm.md).
    /// </summary>
    public static int MinRows { get; set; } = 64;

    [ThreadStatic] static float[]? packBuffer;

    /// <summary>
    /// y (M, N) = x (M, K) · B + bias, B = Wᵀ for W (N, K) or B = W for W (K, N) when <paramref name="inOut"/>; all
    /// contiguous. The columns are split into equal runs of whole panels, one per thread.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Run(float* x, float* w, float* bias, float* y, int M, int N, int K, bool inOut)
    {
        int panels = (N + NR - 1) / NR;
        int parts = (int)Math.Min(Math.Min(TorchRuntime.Threads, panels), Math.Max(1, (long)M * N * K / (1 << 20)));
        Workers.Run(parts, p =>
        {
            int n0 = (int)((long)panels * p / parts) * NR, n1 = Math.Min(N, (int)((long)panels * (p + 1) / parts) * NR);
            Columns(x, w, bias, y, M, N, K, inOut, n0, n1);
        });
    }

    /// <summary>Columns [n0, n1) of the product; n0 is a multiple of <see cref="NR"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Columns(float* x, float* w, float* bias, float* y, int M, int N, int K, bool inOut, int n0, int n1)
    {
        int kBlocks = (K + MaxKc - 1) / MaxKc;
        int kc = (K + kBlocks - 1) / kBlocks;
        int nc = Math.Max(NR, BlockFloats / (kc * NR) * NR);
        float* pack = Scratch(ref packBuffer, BlockFloats);
        for (int nStart = n0; nStart < n1; nStart += nc)
        {
            int nEnd = Math.Min(n1, nStart + nc), panels = (nEnd - nStart + NR - 1) / NR;
            for (int k0 = 0; k0 < K; k0 += kc)
            {
                int kLen = Math.Min(kc, K - k0);
                for (int p = 0; p < panels; p++)
                {
                    int c0 = nStart + p * NR;
                    int cols = Math.Min(NR, nEnd - c0);
                    if (inOut) PackInOut(w, N, k0, kLen, c0, cols, PanelWidth(cols), pack + (long)p * kLen * NR);
                    else PackLinear(w, K, k0, kLen, c0, cols, PanelWidth(cols), pack + (long)p * kLen * NR);
                }
                bool first = k0 == 0; // the first k block writes y (with the bias), the others add to it
                for (int m = 0; m < M; m += MR)
                {
                    int rows = Math.Min(MR, M - m);
                    for (int p = 0; p < panels; p++)
                    {
                        int c0 = nStart + p * NR, cols = Math.Min(NR, nEnd - c0);
                        float* xa = x + (long)m * K + k0, bp = pack + (long)p * kLen * NR, yc = y + (long)m * N + c0;
                        float* b = first && bias is not null ? bias + c0 : null;
                        PartialPanel(xa, K, bp, kLen, yc, N, first, b, rows, cols);
                    }
                }
            }
        }
    }

    /// <summary>
    /// <paramref name="floats"/> floats of this thread's scratch, 64-byte aligned: a pinned array kept in
    /// <paramref name="buffer"/> (a [ThreadStatic] field of the caller), grown when too small, freed with the thread.
    /// </summary>
    internal static float* Scratch(ref float[]? buffer, int floats)
    {
        if (buffer is null || buffer.Length < floats + 16) buffer = GC.AllocateUninitializedArray<float>(floats + 16, pinned: true);
        return (float*)(((nint)Unsafe.AsPointer(ref buffer[0]) + 63) & ~(nint)63); // pinned: it never moves
    }

    /// <summary>The width of the panel that holds <paramref name="cols"/> columns: 48, or 32 or 16 for the last one (zero-padded).</summary>
    internal static int PanelWidth(int cols) => Math.Min(NR, (cols + 15) & ~15);

    /// <summary>
    /// y[0..rows, 0..cols) (+)= x · panel + bias for a panel of <see cref="PanelWidth"/>(cols) columns: straight into y when
    /// the panel has no padding, else through a tile on the stack of which the real part is copied.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void PartialPanel(float* xa, int lda, float* bp, int kLen, float* y, int ldc, bool first, float* bias, int rows, int cols)
    {
        int width = PanelWidth(cols);
        if (cols == width) { Kernel(xa, lda, bp, kLen, y, ldc, first, bias, rows, width); return; }
        float* tile = stackalloc float[MR * NR];
        float* b = stackalloc float[NR];
        for (int j = 0; j < NR; j++) b[j] = bias is not null && j < cols ? bias[j] : 0;
        if (!first) for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) tile[i * NR + j] = y[(long)i * ldc + j];
        Kernel(xa, lda, bp, kLen, tile, NR, first, b, rows, width);
        for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) y[(long)i * ldc + j] = tile[i * NR + j];
    }

    /// <summary>The register kernel for a panel 48, 32 or 16 columns wide.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Kernel(float* a, int lda, float* b, int kLen, float* c, int ldc, bool first, float* bias, int rows, int width)
    {
        if (width == NR) Kernel(a, lda, b, kLen, c, ldc, first, bias, rows);
        else if (width == 32) Kernel32(a, lda, b, kLen, c, ldc, first, bias, rows);
        else Kernel16(a, lda, b, kLen, c, ldc, first, bias, rows);
    }

    /// <summary>As <see cref="Kernel(float*, int, float*, int, float*, int, bool, float*, int)"/> for a 32-column panel (16 accumulators).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Kernel32(float* a, int lda, float* b, int kLen, float* c, int ldc, bool first, float* bias, int rows)
    {
        float* a0 = a, a1 = a + (long)Math.Min(1, rows - 1) * lda, a2 = a + (long)Math.Min(2, rows - 1) * lda, a3 = a + (long)Math.Min(3, rows - 1) * lda;
        float* a4 = a + (long)Math.Min(4, rows - 1) * lda, a5 = a + (long)Math.Min(5, rows - 1) * lda, a6 = a + (long)Math.Min(6, rows - 1) * lda, a7 = a + (long)Math.Min(7, rows - 1) * lda;
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        Vector512<float> c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
        for (int k = 0; k < kLen; k++, b += 32)
        {
            var b0 = Vector512.Load(b); var b1 = Vector512.Load(b + 16);
            var s = Vector512.Create(a0[k]); c00 = Avx512F.FusedMultiplyAdd(s, b0, c00); c01 = Avx512F.FusedMultiplyAdd(s, b1, c01);
            s = Vector512.Create(a1[k]); c10 = Avx512F.FusedMultiplyAdd(s, b0, c10); c11 = Avx512F.FusedMultiplyAdd(s, b1, c11);
            s = Vector512.Create(a2[k]); c20 = Avx512F.FusedMultiplyAdd(s, b0, c20); c21 = Avx512F.FusedMultiplyAdd(s, b1, c21);
            s = Vector512.Create(a3[k]); c30 = Avx512F.FusedMultiplyAdd(s, b0, c30); c31 = Avx512F.FusedMultiplyAdd(s, b1, c31);
            s = Vector512.Create(a4[k]); c40 = Avx512F.FusedMultiplyAdd(s, b0, c40); c41 = Avx512F.FusedMultiplyAdd(s, b1, c41);
            s = Vector512.Create(a5[k]); c50 = Avx512F.FusedMultiplyAdd(s, b0, c50); c51 = Avx512F.FusedMultiplyAdd(s, b1, c51);
            s = Vector512.Create(a6[k]); c60 = Avx512F.FusedMultiplyAdd(s, b0, c60); c61 = Avx512F.FusedMultiplyAdd(s, b1, c61);
            s = Vector512.Create(a7[k]); c70 = Avx512F.FusedMultiplyAdd(s, b0, c70); c71 = Avx512F.FusedMultiplyAdd(s, b1, c71);
        }
        Vector512<float> z0 = default, z1 = default;
        if (bias is not null) { z0 = Vector512.Load(bias); z1 = Vector512.Load(bias + 16); }
        Store(c, first, c00 + z0, c01 + z1); if (rows == 1) return; c += ldc;
        Store(c, first, c10 + z0, c11 + z1); if (rows == 2) return; c += ldc;
        Store(c, first, c20 + z0, c21 + z1); if (rows == 3) return; c += ldc;
        Store(c, first, c30 + z0, c31 + z1); if (rows == 4) return; c += ldc;
        Store(c, first, c40 + z0, c41 + z1); if (rows == 5) return; c += ldc;
        Store(c, first, c50 + z0, c51 + z1); if (rows == 6) return; c += ldc;
        Store(c, first, c60 + z0, c61 + z1); if (rows == 7) return; c += ldc;
        Store(c, first, c70 + z0, c71 + z1);
    }

    /// <summary>As <see cref="Kernel(float*, int, float*, int, float*, int, bool, float*, int)"/> for a 16-column panel (8 accumulators).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Kernel16(float* a, int lda, float* b, int kLen, float* c, int ldc, bool first, float* bias, int rows)
    {
        float* a0 = a, a1 = a + (long)Math.Min(1, rows - 1) * lda, a2 = a + (long)Math.Min(2, rows - 1) * lda, a3 = a + (long)Math.Min(3, rows - 1) * lda;
        float* a4 = a + (long)Math.Min(4, rows - 1) * lda, a5 = a + (long)Math.Min(5, rows - 1) * lda, a6 = a + (long)Math.Min(6, rows - 1) * lda, a7 = a + (long)Math.Min(7, rows - 1) * lda;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        for (int k = 0; k < kLen; k++, b += 16)
        {
            var b0 = Vector512.Load(b);
            c0 = Avx512F.FusedMultiplyAdd(Vector512.Create(a0[k]), b0, c0); c1 = Avx512F.FusedMultiplyAdd(Vector512.Create(a1[k]), b0, c1);
            c2 = Avx512F.FusedMultiplyAdd(Vector512.Create(a2[k]), b0, c2); c3 = Avx512F.FusedMultiplyAdd(Vector512.Create(a3[k]), b0, c3);
            c4 = Avx512F.FusedMultiplyAdd(Vector512.Create(a4[k]), b0, c4); c5 = Avx512F.FusedMultiplyAdd(Vector512.Create(a5[k]), b0, c5);
            c6 = Avx512F.FusedMultiplyAdd(Vector512.Create(a6[k]), b0, c6); c7 = Avx512F.FusedMultiplyAdd(Vector512.Create(a7[k]), b0, c7);
        }
        var z = bias is null ? default : Vector512.Load(bias);
        Store(c, first, c0 + z); if (rows == 1) return; c += ldc;
        Store(c, first, c1 + z); if (rows == 2) return; c += ldc;
        Store(c, first, c2 + z); if (rows == 3) return; c += ldc;
        Store(c, first, c3 + z); if (rows == 4) return; c += ldc;
        Store(c, first, c4 + z); if (rows == 5) return; c += ldc;
        Store(c, first, c5 + z); if (rows == 6) return; c += ldc;
        Store(c, first, c6 + z); if (rows == 7) return; c += ldc;
        Store(c, first, c7 + z);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(float* c, bool first, Vector512<float> v0, Vector512<float> v1)
    {
        if (!first) { v0 += Vector512.Load(c); v1 += Vector512.Load(c + 16); }
        v0.Store(c); v1.Store(c + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(float* c, bool first, Vector512<float> v0)
    {
        if (!first) v0 += Vector512.Load(c);
        v0.Store(c);
    }

    /// <summary>
    /// y[0..rows, 0..48) (+)= x[0..rows, 0..kLen) · panel + bias: 24 accumulators, per k three loads of the panel and
    /// eight broadcasts of x. Rows past <paramref name="rows"/> repeat the last real row and are not stored.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a hot loop: full optimisation at once, not after tiering
    internal static void Kernel(float* a, int lda, float* b, int kLen, float* c, int ldc, bool first, float* bias, int rows)
    {
        float* a0 = a, a1 = a + (long)Math.Min(1, rows - 1) * lda, a2 = a + (long)Math.Min(2, rows - 1) * lda, a3 = a + (long)Math.Min(3, rows - 1) * lda;
        float* a4 = a + (long)Math.Min(4, rows - 1) * lda, a5 = a + (long)Math.Min(5, rows - 1) * lda, a6 = a + (long)Math.Min(6, rows - 1) * lda, a7 = a + (long)Math.Min(7, rows - 1) * lda;
        Vector512<float> c00 = default, c01 = default, c02 = default, c10 = default, c11 = default, c12 = default, c20 = default, c21 = default, c22 = default;
        Vector512<float> c30 = default, c31 = default, c32 = default, c40 = default, c41 = default, c42 = default, c50 = default, c51 = default, c52 = default;
        Vector512<float> c60 = default, c61 = default, c62 = default, c70 = default, c71 = default, c72 = default;
        for (int k = 0; k < kLen; k++, b += NR)
        {
            var b0 = Vector512.Load(b); var b1 = Vector512.Load(b + 16); var b2 = Vector512.Load(b + 32);
            var s = Vector512.Create(a0[k]); c00 = Avx512F.FusedMultiplyAdd(s, b0, c00); c01 = Avx512F.FusedMultiplyAdd(s, b1, c01); c02 = Avx512F.FusedMultiplyAdd(s, b2, c02);
            s = Vector512.Create(a1[k]); c10 = Avx512F.FusedMultiplyAdd(s, b0, c10); c11 = Avx512F.FusedMultiplyAdd(s, b1, c11); c12 = Avx512F.FusedMultiplyAdd(s, b2, c12);
            s = Vector512.Create(a2[k]); c20 = Avx512F.FusedMultiplyAdd(s, b0, c20); c21 = Avx512F.FusedMultiplyAdd(s, b1, c21); c22 = Avx512F.FusedMultiplyAdd(s, b2, c22);
            s = Vector512.Create(a3[k]); c30 = Avx512F.FusedMultiplyAdd(s, b0, c30); c31 = Avx512F.FusedMultiplyAdd(s, b1, c31); c32 = Avx512F.FusedMultiplyAdd(s, b2, c32);
            s = Vector512.Create(a4[k]); c40 = Avx512F.FusedMultiplyAdd(s, b0, c40); c41 = Avx512F.FusedMultiplyAdd(s, b1, c41); c42 = Avx512F.FusedMultiplyAdd(s, b2, c42);
            s = Vector512.Create(a5[k]); c50 = Avx512F.FusedMultiplyAdd(s, b0, c50); c51 = Avx512F.FusedMultiplyAdd(s, b1, c51); c52 = Avx512F.FusedMultiplyAdd(s, b2, c52);
            s = Vector512.Create(a6[k]); c60 = Avx512F.FusedMultiplyAdd(s, b0, c60); c61 = Avx512F.FusedMultiplyAdd(s, b1, c61); c62 = Avx512F.FusedMultiplyAdd(s, b2, c62);
            s = Vector512.Create(a7[k]); c70 = Avx512F.FusedMultiplyAdd(s, b0, c70); c71 = Avx512F.FusedMultiplyAdd(s, b1, c71); c72 = Avx512F.FusedMultiplyAdd(s, b2, c72);
        }
        Vector512<float> z0 = default, z1 = default, z2 = default;
        if (bias is not null) { z0 = Vector512.Load(bias); z1 = Vector512.Load(bias + 16); z2 = Vector512.Load(bias + 32); }
        Store(c, first, c00 + z0, c01 + z1, c02 + z2); if (rows == 1) return; c += ldc;
        Store(c, first, c10 + z0, c11 + z1, c12 + z2); if (rows == 2) return; c += ldc;
        Store(c, first, c20 + z0, c21 + z1, c22 + z2); if (rows == 3) return; c += ldc;
        Store(c, first, c30 + z0, c31 + z1, c32 + z2); if (rows == 4) return; c += ldc;
        Store(c, first, c40 + z0, c41 + z1, c42 + z2); if (rows == 5) return; c += ldc;
        Store(c, first, c50 + z0, c51 + z1, c52 + z2); if (rows == 6) return; c += ldc;
        Store(c, first, c60 + z0, c61 + z1, c62 + z2); if (rows == 7) return; c += ldc;
        Store(c, first, c70 + z0, c71 + z1, c72 + z2);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(float* c, bool first, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2)
    {
        if (!first) { v0 += Vector512.Load(c); v1 += Vector512.Load(c + 16); v2 += Vector512.Load(c + 32); }
        v0.Store(c); v1.Store(c + 16); v2.Store(c + 32);
    }

    /// <summary>
    /// dst[k·nr + j] = W[k0 + k, c0 + j] for W (K, ·) with rows <paramref name="N"/> floats apart, zero from
    /// <paramref name="cols"/> to the panel width <paramref name="nr"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void PackInOut(float* w, int N, int k0, int kLen, int c0, int cols, int nr, float* dst)
    {
        int full = cols & ~15;
        for (int k = 0; k < kLen; k++, dst += nr)
        {
            float* src = w + (long)(k0 + k) * N + c0;
            int j = 0;
            for (; j < full; j += 16) Vector512.Load(src + j).Store(dst + j);
            for (; j < cols; j++) dst[j] = src[j];
            for (; j < nr; j++) dst[j] = 0;
        }
    }

    /// <summary>
    /// dst[k·nr + j] = W[c0 + j, k0 + k] for W (N, ·) with rows <paramref name="K"/> floats apart, zero from
    /// <paramref name="cols"/> to the panel width <paramref name="nr"/>: 16 × 16 transposes in registers where 16 columns and 16 k are whole.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void PackLinear(float* w, int K, int k0, int kLen, int c0, int cols, int nr, float* dst)
    {
        int full = cols & ~15, k = 0;
        for (; k + 16 <= kLen; k += 16)
        {
            for (int g = 0; g < full; g += 16) Transpose16(w + (long)(c0 + g) * K + k0 + k, K, dst + k * nr + g, nr);
            for (int kk = k; kk < k + 16; kk++)
                for (int j = full; j < nr; j++) dst[kk * nr + j] = j < cols ? w[(long)(c0 + j) * K + k0 + kk] : 0;
        }
        for (; k < kLen; k++)
            for (int j = 0; j < nr; j++) dst[k * nr + j] = j < cols ? w[(long)(c0 + j) * K + k0 + k] : 0;
    }

    /// <summary>dst[i·lds + j] = src[j·lss + i] for i, j &lt; 16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Transpose16(float* src, int lss, float* dst, int lds)
    {
        var r0 = Vector512.Load(src); var r1 = Vector512.Load(src + lss); var r2 = Vector512.Load(src + 2L * lss); var r3 = Vector512.Load(src + 3L * lss);
        var r4 = Vector512.Load(src + 4L * lss); var r5 = Vector512.Load(src + 5L * lss); var r6 = Vector512.Load(src + 6L * lss); var r7 = Vector512.Load(src + 7L * lss);
        var r8 = Vector512.Load(src + 8L * lss); var r9 = Vector512.Load(src + 9L * lss); var ra = Vector512.Load(src + 10L * lss); var rb = Vector512.Load(src + 11L * lss);
        var rc = Vector512.Load(src + 12L * lss); var rd = Vector512.Load(src + 13L * lss); var re = Vector512.Load(src + 14L * lss); var rf = Vector512.Load(src + 15L * lss);
        // Pairs of rows interleaved, then 4 × 4 blocks within each 128-bit lane, then the lanes across rows 0-3 / 4-7 and 8-11 / 12-15, then across the halves.
        var t0 = Avx512F.UnpackLow(r0, r1); var t1 = Avx512F.UnpackHigh(r0, r1); var t2 = Avx512F.UnpackLow(r2, r3); var t3 = Avx512F.UnpackHigh(r2, r3);
        var t4 = Avx512F.UnpackLow(r4, r5); var t5 = Avx512F.UnpackHigh(r4, r5); var t6 = Avx512F.UnpackLow(r6, r7); var t7 = Avx512F.UnpackHigh(r6, r7);
        var t8 = Avx512F.UnpackLow(r8, r9); var t9 = Avx512F.UnpackHigh(r8, r9); var ta = Avx512F.UnpackLow(ra, rb); var tb = Avx512F.UnpackHigh(ra, rb);
        var tc = Avx512F.UnpackLow(rc, rd); var td = Avx512F.UnpackHigh(rc, rd); var te = Avx512F.UnpackLow(re, rf); var tf = Avx512F.UnpackHigh(re, rf);
        r0 = Avx512F.Shuffle(t0, t2, 0x44); r1 = Avx512F.Shuffle(t0, t2, 0xEE); r2 = Avx512F.Shuffle(t1, t3, 0x44); r3 = Avx512F.Shuffle(t1, t3, 0xEE);
        r4 = Avx512F.Shuffle(t4, t6, 0x44); r5 = Avx512F.Shuffle(t4, t6, 0xEE); r6 = Avx512F.Shuffle(t5, t7, 0x44); r7 = Avx512F.Shuffle(t5, t7, 0xEE);
        r8 = Avx512F.Shuffle(t8, ta, 0x44); r9 = Avx512F.Shuffle(t8, ta, 0xEE); ra = Avx512F.Shuffle(t9, tb, 0x44); rb = Avx512F.Shuffle(t9, tb, 0xEE);
        rc = Avx512F.Shuffle(tc, te, 0x44); rd = Avx512F.Shuffle(tc, te, 0xEE); re = Avx512F.Shuffle(td, tf, 0x44); rf = Avx512F.Shuffle(td, tf, 0xEE);
        t0 = Avx512F.Shuffle4x128(r0, r4, 0x88); t1 = Avx512F.Shuffle4x128(r1, r5, 0x88); t2 = Avx512F.Shuffle4x128(r2, r6, 0x88); t3 = Avx512F.Shuffle4x128(r3, r7, 0x88);
        t4 = Avx512F.Shuffle4x128(r0, r4, 0xDD); t5 = Avx512F.Shuffle4x128(r1, r5, 0xDD); t6 = Avx512F.Shuffle4x128(r2, r6, 0xDD); t7 = Avx512F.Shuffle4x128(r3, r7, 0xDD);
        t8 = Avx512F.Shuffle4x128(r8, rc, 0x88); t9 = Avx512F.Shuffle4x128(r9, rd, 0x88); ta = Avx512F.Shuffle4x128(ra, re, 0x88); tb = Avx512F.Shuffle4x128(rb, rf, 0x88);
        tc = Avx512F.Shuffle4x128(r8, rc, 0xDD); td = Avx512F.Shuffle4x128(r9, rd, 0xDD); te = Avx512F.Shuffle4x128(ra, re, 0xDD); tf = Avx512F.Shuffle4x128(rb, rf, 0xDD);
        r0 = Avx512F.Shuffle4x128(t0, t8, 0x88); r1 = Avx512F.Shuffle4x128(t1, t9, 0x88); r2 = Avx512F.Shuffle4x128(t2, ta, 0x88); r3 = Avx512F.Shuffle4x128(t3, tb, 0x88);
        r4 = Avx512F.Shuffle4x128(t4, tc, 0x88); r5 = Avx512F.Shuffle4x128(t5, td, 0x88); r6 = Avx512F.Shuffle4x128(t6, te, 0x88); r7 = Avx512F.Shuffle4x128(t7, tf, 0x88);
        r8 = Avx512F.Shuffle4x128(t0, t8, 0xDD); r9 = Avx512F.Shuffle4x128(t1, t9, 0xDD); ra = Avx512F.Shuffle4x128(t2, ta, 0xDD); rb = Avx512F.Shuffle4x128(t3, tb, 0xDD);
        rc = Avx512F.Shuffle4x128(t4, tc, 0xDD); rd = Avx512F.Shuffle4x128(t5, td, 0xDD); re = Avx512F.Shuffle4x128(t6, te, 0xDD); rf = Avx512F.Shuffle4x128(t7, tf, 0xDD);
        r0.Store(dst); r1.Store(dst + lds); r2.Store(dst + 2L * lds); r3.Store(dst + 3L * lds); r4.Store(dst + 4L * lds); r5.Store(dst + 5L * lds); r6.Store(dst + 6L * lds); r7.Store(dst + 7L * lds);
        r8.Store(dst + 8L * lds); r9.Store(dst + 9L * lds); ra.Store(dst + 10L * lds); rb.Store(dst + 11L * lds); rc.Store(dst + 12L * lds); rd.Store(dst + 13L * lds); re.Store(dst + 14L * lds); rf.Store(dst + 15L * lds);
    }
}
