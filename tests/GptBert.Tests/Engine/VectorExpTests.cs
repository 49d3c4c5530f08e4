using System.Runtime.Intrinsics;
using GptBert.Engine;

namespace GptBert.Tests.Engine;

public class VectorExpTests
{
    static float[] Exp512(float[] x)
    {
        var y = new float[x.Length];
        for (int i = 0; i < x.Length; i += 16) VectorExp.Exp(Vector512.Create(x.AsSpan(i, 16))).CopyTo(y.AsSpan(i, 16));
        return y;
    }

    static float[] Exp256(float[] x)
    {
        var y = new float[x.Length];
        for (int i = 0; i < x.Length; i += 8) VectorExp.Exp(Vector256.Create(x.AsSpan(i, 8))).CopyTo(y.AsSpan(i, 8));
        return y;
    }

    [Fact]
    public void MatchesDoubleExp_WithinTwoUlp_OverFloatsNormalRange()
    {
        // Every 1/1024 from −87.3 to 88.7 plus random points; the reference is Math.Exp in double, rounded once.
        var xs = new List<float>();
        for (double v = -87.3; v <= 88.7; v += 1.0 / 1024) xs.Add((float)v);
        var rng = new Random(5);
        for (int i = 0; i < 20000; i++) xs.Add((float)(rng.NextDouble() * 176 - 87.3));
        xs.AddRange([0f, -0f, 1f, -1f, 0.5f, 1e-8f, -1e-8f, MathF.Log(2), 88.72f, -87.33f]);
        while (xs.Count % 16 != 0) xs.Add(0);
        var x = xs.ToArray();
        foreach (var y in new[] { Exp512(x), Exp256(x) })
            for (int i = 0; i < x.Length; i++)
            {
                float want = (float)Math.Exp(x[i]);
                float ulp = MathF.BitIncrement(want) - want;
                Assert.True(Math.Abs(y[i] - want) <= 2 * ulp, $"exp({x[i]:R}) = {y[i]:R}, want {want:R}");
            }
    }

    [Fact]
    public void Edges_Zero_Infinity_NaN()
    {
        float[] x = [float.NegativeInfinity, -1e30f, -88f, -87.34f, float.MinValue, 88.73f, 1e30f, float.PositiveInfinity,
                     float.NaN, 0, 0, 0, 0, 0, 0, 0];
        foreach (var y in new[] { Exp512(x), Exp256(x) })
        {
            Assert.Equal([0f, 0f, 0f, 0f, 0f], y[..5]); // below float's normal range: flushed to 0
            Assert.Equal([float.PositiveInfinity, float.PositiveInfinity, float.PositiveInfinity], y[5..8]);
            Assert.True(float.IsNaN(y[8]));
            Assert.Equal(1f, y[9]);
        }
    }
}
