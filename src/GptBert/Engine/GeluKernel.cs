using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace GptBert.Engine;

/// <summary>
/// GELU for fp32 inference, split over <see cref="Workers"/>: BERT's exact form 0.5·x·(1 + erf(x/√2)) and GPT-2's tanh
/// form. Inside our inference forwards libtorch's ops run on the calling thread (<see cref="SmallGemm.ForwardScope"/>),
/// and MiniLM's six GELUs over 32 × 128 × 1536 values took 17 ms there of a ~340 ms forward. erf is Abramowitz and
/// Stegun 7.1.26 (|error| ≤ 1.5e-7), the formula libtorch's own vectorised erf uses.
/// </summary>
public static unsafe class GeluKernel
{
    /// <summary>Off switch for tests (GPTBERT_GELU_KERNEL=0 disables it); <see cref="SmallGemm.Enabled"/> turns it off too.</summary>
    public static bool Enabled { get; set; } = Vector256.IsHardwareAccelerated && Environment.GetEnvironmentVariable("GPTBERT_GELU_KERNEL") != "0";

    /// <summary>GELU of <paramref name="x"/> (erf form, or the tanh form when <paramref name="tanh"/>), or null when it is not one for this kernel.</summary>
    public static Tensor? TryGelu(Tensor x, bool tanh)
    {
        if (!Enabled || !SmallGemm.Enabled || x.dtype != ScalarType.Float32 || x.device_type != DeviceType.CPU || x.numel() == 0) return null;
        if (torch.is_grad_enabled() && x.requires_grad) return null;
        using var scope = NewDisposeScope();
        var xc = x.contiguous();
        var y = empty(x.shape);
        float* px = (float*)SmallGemm.Data(xc), py = (float*)SmallGemm.Data(y);
        long n = x.numel();
        int parts = (int)Math.Min(TorchRuntime.Threads, Math.Max(1, n / 65536)); // a fork-join costs a few microseconds
        Workers.Run(parts, p =>
        {
            long i0 = n * p / parts & ~7L, i1 = p == parts - 1 ? n : n * (p + 1) / parts & ~7L;
            if (tanh) Tanh(px, py, i0, i1); else Erf(px, py, i0, i1);
        });
        GC.KeepAlive(xc);
        return y.MoveToOuterDisposeScope();
    }

    const float P = 0.3275911f, A1 = 0.254829592f, A2 = -0.284496736f, A3 = 1.421413741f, A4 = -1.453152027f, A5 = 1.061405429f;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Erf(float* x, float* y, long i0, long i1)
    {
        long i = i0;
        var half = Vector256.Create(0.5f); var one = Vector256.Create(1f); var two = Vector256.Create(2f);
        var rs2 = Vector256.Create(0.70710678f);
        for (; i + 8 <= i1; i += 8)
        {
            var v = Vector256.Load(x + i);
            var z = Vector256.Abs(v) * rs2;
            var t = one / (one + Vector256.Create(P) * z);
            var poly = t * (Vector256.Create(A1) + t * (Vector256.Create(A2) + t * (Vector256.Create(A3) + t * (Vector256.Create(A4) + t * Vector256.Create(A5)))));
            var q = poly * VectorExp.Exp(-(z * z)); // erfc(|x|/√2)
            var factor = Vector256.ConditionalSelect(Vector256.LessThan(v, Vector256<float>.Zero), q, two - q); // 1 + erf(x/√2)
            (half * v * factor).Store(y + i);
        }
        for (; i < i1; i++)
        {
            float v = x[i], z = MathF.Abs(v) * 0.70710678f, t = 1 / (1 + P * z);
            float q = t * (A1 + t * (A2 + t * (A3 + t * (A4 + t * A5)))) * MathF.Exp(-z * z);
            y[i] = 0.5f * v * (v < 0 ? q : 2 - q);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tanh(float* x, float* y, long i0, long i1)
    {
        long i = i0;
        var half = Vector256.Create(0.5f); var one = Vector256.Create(1f); var two = Vector256.Create(2f);
        var c = Vector256.Create(0.7978845608f); var k = Vector256.Create(0.044715f);
        for (; i + 8 <= i1; i += 8)
        {
            var v = Vector256.Load(x + i);
            var inner = c * (v + k * v * v * v);
            var th = one - two / (VectorExp.Exp(two * inner) + one); // tanh; exp's overflow to ∞ gives 1, its underflow to 0 gives −1
            (half * v * (one + th)).Store(y + i);
        }
        for (; i < i1; i++)
        {
            float v = x[i];
            y[i] = 0.5f * v * (1 + MathF.Tanh(0.7978845608f * (v + 0.044715f * v * v * v)));
        }
    }
}
