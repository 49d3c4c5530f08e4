using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace GptBert.Engine;

/// <summary>An activation a product kernel applies to its output block by block, while it is in cache (a pass over memory saved).</summary>
public enum Activation
{
    None,
    /// <summary>GELU, exact erf form (BERT's "gelu").</summary>
    Gelu,
    /// <summary>GELU, tanh approximation (GPT-2's "gelu_new").</summary>
    GeluTanh,
}

/// <summary>
/// GELU for fp32 inference, split over <see cref="Workers"/>: BERT's exact form 0.5·x·(1 + erf(x/√2)) and GPT-2's tanh
/// form. Inside our inference forwards libtorch's ops run on the calling thread (<see cref="SmallGemm.ForwardScope"/>),
/// and MiniLM's six GELUs over 32 × 128 × 1536 values took 17 ms there of a ~340 ms forward. erf is Abramowitz and
/// Stegun 7.1.26 (|error| ≤ 1.5e-7), the formula libtorch's own vectorised erf uses. 16 values at a time where AVX-512
/// runs (`bench -- profile`, 2026-12-04, 2 threads: the six GELUs 21.2 ms with 8-wide vectors and exp in halves,
/// 9.8-11.1 ms in three runs now).
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
        if (Vector512.IsHardwareAccelerated)
            for (; i + 16 <= i1; i += 16) Erf(Vector512.Load(x + i)).Store(y + i);
        for (; i + 8 <= i1; i += 8) Erf(Vector256.Load(x + i)).Store(y + i);
        for (; i < i1; i++) y[i] = Erf(x[i]);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tanh(float* x, float* y, long i0, long i1)
    {
        long i = i0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + 16 <= i1; i += 16) Tanh(Vector512.Load(x + i)).Store(y + i);
        for (; i + 8 <= i1; i += 8) Tanh(Vector256.Load(x + i)).Store(y + i);
        for (; i < i1; i++) y[i] = Tanh(x[i]);
    }

    /// <summary>y[0, n) ← GELU(y) in <paramref name="form"/>, on this thread (for kernels that apply it to a block of their output while it is in cache).</summary>
    public static void InPlace(float* y, long n, Activation form)
    {
        if (form == Activation.Gelu) Erf(y, y, 0, n);
        else if (form == Activation.GeluTanh) Tanh(y, y, 0, n);
    }

    /// <summary>0.5·x·(1 + erf(x/√2)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Erf(Vector256<float> v)
    {
        var one = Vector256<float>.One;
        var z = Vector256.Abs(v) * Vector256.Create(0.70710678f);
        var t = one / (one + Vector256.Create(P) * z);
        var poly = t * (Vector256.Create(A1) + t * (Vector256.Create(A2) + t * (Vector256.Create(A3) + t * (Vector256.Create(A4) + t * Vector256.Create(A5)))));
        var q = poly * VectorExp.Exp(-(z * z)); // erfc(|x|/√2)
        var factor = Vector256.ConditionalSelect(Vector256.LessThan(v, Vector256<float>.Zero), q, Vector256.Create(2f) - q); // 1 + erf(x/√2)
        return Vector256.Create(0.5f) * v * factor;
    }

    /// <summary>The same steps on 16 values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Erf(Vector512<float> v)
    {
        var one = Vector512<float>.One;
        var z = Vector512.Abs(v) * Vector512.Create(0.70710678f);
        var t = one / (one + Vector512.Create(P) * z);
        var poly = t * (Vector512.Create(A1) + t * (Vector512.Create(A2) + t * (Vector512.Create(A3) + t * (Vector512.Create(A4) + t * Vector512.Create(A5)))));
        var q = poly * VectorExp.Exp(-(z * z));
        var factor = Vector512.ConditionalSelect(Vector512.LessThan(v, Vector512<float>.Zero), q, Vector512.Create(2f) - q);
        return Vector512.Create(0.5f) * v * factor;
    }

    static float Erf(float v)
    {
        float z = MathF.Abs(v) * 0.70710678f, t = 1 / (1 + P * z);
        float q = t * (A1 + t * (A2 + t * (A3 + t * (A4 + t * A5)))) * MathF.Exp(-z * z);
        return 0.5f * v * (v < 0 ? q : 2 - q);
    }

    /// <summary>0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Tanh(Vector256<float> v)
    {
        var one = Vector256<float>.One; var two = Vector256.Create(2f);
        var inner = Vector256.Create(0.7978845608f) * (v + Vector256.Create(0.044715f) * v * v * v);
        var th = one - two / (VectorExp.Exp(two * inner) + one); // tanh; exp's overflow to ∞ gives 1, its underflow to 0 gives −1
        return Vector256.Create(0.5f) * v * (one + th);
    }

    /// <summary>The same steps on 16 values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Tanh(Vector512<float> v)
    {
        var one = Vector512<float>.One; var two = Vector512.Create(2f);
        var inner = Vector512.Create(0.7978845608f) * (v + Vector512.Create(0.044715f) * v * v * v);
        var th = one - two / (VectorExp.Exp(two * inner) + one);
        return Vector512.Create(0.5f) * v * (one + th);
    }

    static float Tanh(float v) => 0.5f * v * (1 + MathF.Tanh(0.7978845608f * (v + 0.044715f * v * v * v)));
}
