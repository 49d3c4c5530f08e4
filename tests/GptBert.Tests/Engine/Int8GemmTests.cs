using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using GptBert.Engine;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace GptBert.Tests.Engine;

/// <summary>
/// The int8 kernels against an exact integer reference (int64 sums in plain C#), on every path this CPU runs: odd sizes,
/// K not a multiple of 4 or 32, one row, one column, and the saturation-prone extremes of vpmaddubsw.
/// </summary>
public unsafe class Int8GemmTests(ITestOutputHelper output)
{
    public static TheoryData<Int8Path> RunnablePaths()
    {
        var data = new TheoryData<Int8Path>();
        foreach (var p in Int8Gemm.SupportedPaths) data.Add(p);
        return data;
    }

    /// <summary>Σ_k x[m, k]·w[n, k] in int64, from the definition.</summary>
    static long[] Reference(byte[] x, sbyte[] w, int m, int k, int n)
    {
        var y = new long[m * n];
        for (int r = 0; r < m; r++)
            for (int c = 0; c < n; c++)
            {
                long s = 0;
                for (int i = 0; i < k; i++) s += (long)x[r * k + i] * w[c * k + i];
                y[r * n + c] = s;
            }
        return y;
    }

    /// <summary>x (M, K) laid out as the kernels read it: rows of PaddedK bytes, padding 0.</summary>
    static byte[] Padded(byte[] x, int m, int k)
    {
        int kp = Int8Gemm.PaddedK(k);
        var p = new byte[m * kp];
        for (int r = 0; r < m; r++) Array.Copy(x, r * k, p, r * kp, k);
        return p;
    }

    static long[] Run(Int8Path path, byte[] x, sbyte[] w, int m, int k, int n)
    {
        var weights = new Int8Weights(w, n, k);
        var xp = Padded(x, m, k);
        var acc = new int[m * n];
        fixed (byte* px = xp) fixed (int* pa = acc) Int8Gemm.MultiplyInt32(path, px, m, weights, pa);
        return acc.Select(v => (long)v).ToArray();
    }

    /// <summary>The weights a path promises to be exact for: 7-bit for the vpmaddubsw path, every int8 otherwise.</summary>
    static (int Lo, int Hi) Range(Int8Path path) => path == Int8Path.Avx2 ? (-64, 63) : (-128, 127);

    [Theory]
    [MemberData(nameof(RunnablePaths))]
    public void ProductsAreExactOnEveryPath(Int8Path path)
    {
        var rng = new Random(11);
        var (lo, hi) = Range(path);
        foreach (var (m, k, n) in new[] { (1, 1, 1), (1, 31, 1), (1, 384, 40), (3, 33, 9), (4, 64, 16), (5, 100, 17), (9, 130, 33), (13, 7, 24), (2, 1536, 8) })
        {
            var x = new byte[m * k]; rng.NextBytes(x);
            var w = new sbyte[n * k];
            for (int i = 0; i < w.Length; i++) w[i] = (sbyte)rng.Next(lo, hi + 1);
            Assert.Equal(Reference(x, w, m, k, n), Run(path, x, w, m, k, n));
        }
    }

    [Theory]
    [MemberData(nameof(RunnablePaths))]
    public void SaturationProneExtremesAreExact(Int8Path path)
    {
        var (lo, hi) = Range(path);
        // 255 activations against the path's most negative and most positive weights, pairs of equal sign (the worst case
        // for an int16 pair sum), alternating signs, and a long K so the int32 sums are large.
        foreach (var (m, k, n) in new[] { (4, 64, 16), (5, 99, 9), (1, 1000, 3) })
        {
            var x = Enumerable.Repeat((byte)255, m * k).ToArray();
            var w = new sbyte[n * k];
            for (int c = 0; c < n; c++)
                for (int i = 0; i < k; i++)
                    w[c * k + i] = (sbyte)(c % 3 == 0 ? lo : c % 3 == 1 ? hi : (i / 2 % 2 == 0 ? lo : hi));
            Assert.Equal(Reference(x, w, m, k, n), Run(path, x, w, m, k, n));
        }
    }

    [Fact]
    public void FullRangeWeightsNeverReachTheSaturatingKernel()
    {
        // Why: vpmaddubsw adds two u8·s8 products in int16 with saturation. 255·127 + 255·127 = 64,770 saturates to 32,767;
        // with weights in [-64, 63] the worst pair is 255·(-64)·2 = -32,640, inside int16.
        if (Avx2.IsSupported)
        {
            var pair = Avx2.MultiplyAddAdjacent(Vector256.Create((byte)255), Vector256.Create((sbyte)127));
            Assert.Equal(short.MaxValue, pair.GetElement(0));
            var seven = Avx2.MultiplyAddAdjacent(Vector256.Create((byte)255), Vector256.Create((sbyte)-64));
            Assert.Equal(-32640, seven.GetElement(0));
        }
        var full = new Int8Weights(new sbyte[] { 127, -128, 0, 1 }, 1, 4);
        Assert.False(full.SevenBit);
        Assert.NotEqual(Int8Path.Avx2, Int8Gemm.BestPath(full));
        var seven7 = new Int8Weights(new sbyte[] { 63, -64, 0, 1 }, 1, 4);
        Assert.True(seven7.SevenBit);
        Assert.Equal(127 - 128 + 0 + 1, full.ColumnSums[0]);
    }

    [Fact]
    public void PathsThisCpuLacksAreRefusedAndNamed()
    {
        foreach (var path in Enum.GetValues<Int8Path>().Where(p => !Int8Gemm.IsSupported(p)))
        {
            output.WriteLine($"{path}: not run here (this CPU lacks it: AvxVnni.IsSupported={AvxVnni.IsSupported}, Avx2.IsSupported={Avx2.IsSupported})");
            var w = new Int8Weights(new sbyte[8], 2, 4);
            var acc = new int[2];
            var x = new byte[4];
            Assert.Throws<PlatformNotSupportedException>(() => { fixed (byte* px = x) fixed (int* pa = acc) Int8Gemm.MultiplyInt32(path, px, 1, w, pa); });
        }
        output.WriteLine($"paths run here: {string.Join(", ", Int8Gemm.SupportedPaths)}");
    }

    [Fact]
    public void RowsAreQuantizedAsDynamicQuantizeLinearDefinesIt()
    {
        // x = [-1, 0, 0.5, 2]: range [-1, 2], scale 3/255, zero point round(1/scale) = 85; 0.5/scale = 42.5 rounds to even, 42.
        var x = new float[] { -1, 0, 0.5f, 2 };
        var q = new byte[4]; float s; int z;
        fixed (float* px = x) fixed (byte* pq = q) Int8Gemm.QuantizeRows(px, 1, 4, pq, &s, &z);
        Assert.Equal(3f / 255f, s);
        Assert.Equal(85, z);
        Assert.Equal(new byte[] { 0, 85, 127, 255 }, q);

        // Long rows take the vector path: the same formula, element by element; positive-only rows still include 0.
        var rng = new Random(3);
        foreach (bool positive in new[] { false, true })
        {
            int k = 77;
            var row = Enumerable.Range(0, k).Select(_ => (float)(positive ? rng.NextDouble() * 3 + 0.5 : rng.NextDouble() * 8 - 3)).ToArray();
            var got = new byte[Int8Gemm.PaddedK(k)];
            fixed (float* px = row) fixed (byte* pq = got) Int8Gemm.QuantizeRows(px, 1, k, pq, &s, &z);
            float lo = Math.Min(0, row.Min()), hi = Math.Max(0, row.Max());
            Assert.Equal((hi - lo) / 255f, s);
            Assert.Equal((int)MathF.Round(-lo / s, MidpointRounding.ToEven), z);
            for (int i = 0; i < k; i++) Assert.Equal((byte)Math.Clamp(MathF.Round(row[i] / s, MidpointRounding.ToEven) + z, 0, 255), got[i]);
            Assert.Equal(0, got[k..].Sum(b => b));
            if (positive) Assert.Equal(0, z);
        }
    }

    [Fact]
    public void DynamicProductsStayWithinTheRoundingBoundAndAgreeBitForBitAcrossPaths()
    {
        var rng = new Random(5);
        int m = 6, k = 70, n = 19;
        var x = Enumerable.Range(0, m * k).Select(_ => (float)(rng.NextDouble() * 4 - 1)).ToArray();
        var wf = Enumerable.Range(0, n * k).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var bias = Enumerable.Range(0, n).Select(i => i * 0.1f).ToArray();
        // Weights symmetric per output channel in ±63 (what the dynamic scheme writes).
        var scale = new float[n]; var q = new sbyte[n * k];
        for (int c = 0; c < n; c++)
        {
            scale[c] = wf.Skip(c * k).Take(k).Max(Math.Abs) / 63f;
            for (int i = 0; i < k; i++) q[c * k + i] = (sbyte)Math.Round(wf[c * k + i] / scale[c], MidpointRounding.ToEven);
        }
        var weights = new Int8Weights(q, n, k);
        float[]? first = null;
        foreach (var path in Int8Gemm.SupportedPaths)
        {
            var y = new float[m * n];
            var xq = new byte[m * Int8Gemm.PaddedK(k)]; var xs = new float[m]; var xz = new int[m];
            fixed (float* px = x, py = y, ps = scale, pb = bias, pxs = xs) fixed (byte* pq = xq) fixed (int* pz = xz)
            {
                Int8Gemm.QuantizeRows(px, m, k, pq, pxs, pz);
                Int8Gemm.DynamicProduct(path, pq, pxs, pz, m, weights, ps, pb, py);
            }
            // |error| ≤ Σ_k (|x|·Δw + |w|·Δx + Δx·Δw) with half-step rounding errors Δw = s_w/2, Δx = s_x/2 (plus float rounding).
            for (int r = 0; r < m; r++)
                for (int c = 0; c < n; c++)
                {
                    double exact = bias[c], bound = 1e-4;
                    for (int i = 0; i < k; i++)
                    {
                        double xi = x[r * k + i], wi = wf[c * k + i];
                        exact += xi * wi;
                        bound += Math.Abs(xi) * scale[c] / 2 + Math.Abs(wi) * xs[r] / 2 + xs[r] * scale[c] / 4;
                    }
                    Assert.True(Math.Abs(y[r * n + c] - exact) <= bound, $"{path} [{r},{c}]: {y[r * n + c]} vs {exact} (bound {bound})");
                }
            first ??= y;
            Assert.Equal(first, y); // the same int32 sums and the same float epilogue on every path
        }
    }

    [Fact]
    public void WeightOnlyProductsEqualTheDequantizedProduct()
    {
        var rng = new Random(8);
        foreach (var (m, k, n) in new[] { (1, 768, 40), (2, 13, 9), (3, 100, 17), (1, 5, 1), (1, 6, 8), (4, 3072, 24) })
        {
            var x = Enumerable.Range(0, m * k).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            var w = Enumerable.Range(0, n * k).Select(_ => (sbyte)rng.Next(-128, 128)).ToArray();
            var scale = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 0.01 + 0.001)).ToArray();
            var bias = Enumerable.Range(0, n).Select(i => (float)i).ToArray();
            foreach (bool scalar in new[] { true, false })
            {
                var y = new float[m * n];
                fixed (float* px = x, py = y, ps = scale, pb = bias)
                    Int8Gemm.WeightOnlyLinear(px, m, new Int8Weights(w, n, k), ps, pb, py, scalar);
                for (int r = 0; r < m; r++)
                    for (int c = 0; c < n; c++)
                    {
                        double exact = 0, mag = 0;
                        for (int i = 0; i < k; i++) { exact += x[r * k + i] * (double)w[c * k + i]; mag += Math.Abs(x[r * k + i] * (double)w[c * k + i]); }
                        exact = exact * scale[c] + bias[c];
                        Assert.True(Math.Abs(y[r * n + c] - exact) <= 1e-6 * mag * scale[c] + 1e-5 * Math.Abs(exact) + 1e-6,
                            $"{(scalar ? "scalar" : "AVX2")} {m}x{k}x{n} [{r},{c}]: {y[r * n + c]} vs {exact}");
                    }
            }
        }
    }

    [Theory]
    [InlineData(Activation.Gelu)]
    [InlineData(Activation.GeluTanh)]
    public void GeluInsideTheKernelEqualsGelusDefinitionOfThePlainProduct(Activation form)
    {
        // 19 rows (two 8-row tiles and a remainder), 37 columns (a partial panel); dynamic on every path, weight-only on 3 rows.
        TestUtil.Init();
        var rng = new Random(12);
        int m = 19, k = 70, n = 37;
        var x = Enumerable.Range(0, m * k).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
        var w = Enumerable.Range(0, n * k).Select(_ => (sbyte)rng.Next(-63, 64)).ToArray();
        var scale = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 0.02 + 0.01)).ToArray();
        var bias = Enumerable.Range(0, n).Select(i => i * 0.05f - 1).ToArray();
        var weights = new Int8Weights(w, n, k);
        var runs = Int8Gemm.SupportedPaths.Select(p => ((Int8Path?)p, m)).Append((null, 3));
        foreach (var (path, rows) in runs)
        {
            var plain = new float[rows * n]; var fused = new float[rows * n];
            fixed (float* px = x, pp = plain, pf = fused, ps = scale, pb = bias)
                if (path is { } dynamic)
                {
                    Int8Gemm.DynamicLinear(px, rows, weights, ps, pb, pp, dynamic);
                    Int8Gemm.DynamicLinear(px, rows, weights, ps, pb, pf, dynamic, form);
                }
                else
                {
                    Int8Gemm.WeightOnlyLinear(px, rows, weights, ps, pb, pp);
                    Int8Gemm.WeightOnlyLinear(px, rows, weights, ps, pb, pf, activation: form);
                }
            // GELU's definitions in fp64 (libtorch's erf and tanh) on the plain product.
            var y = torch.tensor(plain).to(ScalarType.Float64);
            var want = form == Activation.Gelu
                ? 0.5 * y * (1 + torch.special.erf(y / Math.Sqrt(2)))
                : 0.5 * y * (1 + (Math.Sqrt(2 / Math.PI) * (y + 0.044715 * y.pow(3))).tanh());
            var wantArray = want.to(ScalarType.Float32).data<float>().ToArray();
            for (int i = 0; i < fused.Length; i++)
                Assert.True(Math.Abs(fused[i] - wantArray[i]) <= 2e-6 * Math.Max(1, Math.Abs(wantArray[i])),
                    $"{path?.ToString() ?? "weight-only"} {form} [{i / n},{i % n}]: {fused[i]} vs {wantArray[i]} (plain {plain[i]})");
        }
    }

    [Fact]
    public void TwoThreadsComputeTheSameProducts()
    {
        var rng = new Random(9);
        int m = 33, k = 300, n = 200;
        var x = new byte[m * k]; rng.NextBytes(x);
        var w = Enumerable.Range(0, n * k).Select(_ => (sbyte)rng.Next(-64, 64)).ToArray();
        var path = Int8Gemm.BestPath(new Int8Weights(w, n, k));
        TestUtil.Init();
        TorchRuntime.Configure(threads: 2);
        try { Assert.Equal(Reference(x, w, m, k, n), Run(path, x, w, m, k, n)); }
        finally { TorchRuntime.Configure(threads: 1); }
    }
}
