using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GptBert.Engine;

/// <summary>
/// exp of 8 or 16 floats for the fused kernels (softmax, GELU), inlined into them: Cephes' expf (the range reduction
/// x = n·ln 2 + r, |r| ≤ ln 2 / 2, a degree-5 polynomial for e^r, 2^n built in the exponent bits; within 2 ulp), the
/// method MLAS and libtorch's vectorised exp use. .NET's Vector512.Exp is a call into CoreLib that widens to double, and
/// in a fresh process it ran as unoptimised tier-0 code through the first batches (8% of the CPU samples of a one-batch
/// 32 × 128 `gptbert embed`); with this one that batch took 0.56-0.66 s instead of 1.1-1.2 s.
/// Results: 0 below −87.3365 (where float's normal range ends: flushed, as MLAS does), +∞ above 88.7228, NaN for NaN.
/// </summary>
public static class VectorExp
{
    const float Lo = -87.3365478515625f, Hi = 88.72283935546875f, Log2E = 1.44269504088896341f, Round = 12582912f; // 1.5·2^23
    const float C1 = 0.693359375f, C2 = -2.12194440e-4f; // ln 2 = C1 + C2, C1 exact in 9 bits: n·C1 is exact
    const float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f, P3 = 4.1665795894e-2f, P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;

    /// <summary>
    /// exp of 16 floats: the steps of the 8-wide form below, on 512-bit vectors. Written out rather than run as the 8-wide
    /// form on each half (as it was for a while, to keep one copy): `bench -- profile` at 32 × 128 on 2 threads, Zen 5,
    /// 2026-12-04, two builds of each alternated: MiniLM's six GELUs 10.6 and 11.1 ms against 18.8 and 16.4 ms with halves,
    /// its six attentions 36.4 and 36.5 ms against 38.3 and 43.0 ms. Both forms are held to the same tests.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        var xc = Vector512.Min(Vector512.Max(x, Vector512.Create(Lo)), Vector512.Create(Hi));
        var n = Vector512.FusedMultiplyAdd(xc, Vector512.Create(Log2E), Vector512.Create(Round)) - Vector512.Create(Round);
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-C1), xc);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-C2), r);
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(P0), r, Vector512.Create(P1));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P2));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P5));
        var y = Vector512.FusedMultiplyAdd(p, r * r, r) + Vector512<float>.One;
        var ni = Vector512.ConvertToInt32(n);
        var half = Vector512.ShiftRightArithmetic(ni, 1);
        var bias = Vector512.Create(127);
        y = y * Vector512.ShiftLeft(half + bias, 23).AsSingle() * Vector512.ShiftLeft(ni - half + bias, 23).AsSingle();
        y = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512.Create(Lo)), Vector512<float>.Zero, y);
        y = Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512.Create(Hi)), Vector512.Create(float.PositiveInfinity), y);
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), y, x);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var xc = Vector256.Min(Vector256.Max(x, Vector256.Create(Lo)), Vector256.Create(Hi));
        var n = Vector256.FusedMultiplyAdd(xc, Vector256.Create(Log2E), Vector256.Create(Round)) - Vector256.Create(Round); // round to nearest
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-C1), xc);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-C2), r);
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(P0), r, Vector256.Create(P1));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P2));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P3));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P4));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P5));
        var y = Vector256.FusedMultiplyAdd(p, r * r, r) + Vector256<float>.One;
        // 2^n as two factors 2^(n/2)·2^(n − n/2), each a normal float for every n in [−126, 128].
        var ni = Vector256.ConvertToInt32(n);
        var half = Vector256.ShiftRightArithmetic(ni, 1);
        var bias = Vector256.Create(127);
        y = y * Vector256.ShiftLeft(half + bias, 23).AsSingle() * Vector256.ShiftLeft(ni - half + bias, 23).AsSingle();
        y = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256.Create(Lo)), Vector256<float>.Zero, y);
        y = Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256.Create(Hi)), Vector256.Create(float.PositiveInfinity), y);
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), y, x); // NaN stays NaN
    }
}
