using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace GptBert.Engine;

/// <summary>
/// The matrix products of both model families, in one place so that the compute precision
/// (<see cref="MixedPrecision"/>) and the small-batch inference kernels (<see cref="SmallGemm"/>) apply to all of them.
/// </summary>
public static class Ops
{
    /// <summary>y = x·Wᵀ + b with W stored (out, in), as nn.Linear and BERT store it.</summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null)
    {
        if (Half(x) is ScalarType t) return Fp32Result(() => F.linear(x.to(t), weight.to(t), bias?.to(t)));
        return SmallGemm.TryLinear(x, weight, bias) ?? F.linear(x, weight, bias);
    }

    /// <summary>y = x·W + b with W stored (in, out), as GPT-2's Conv1D stores it. <paramref name="x"/> is (N, in).</summary>
    public static Tensor LinearInOut(Tensor x, Tensor weight, Tensor bias)
    {
        if (Half(x) is ScalarType t) return Fp32Result(() => addmm(bias.to(t), x.to(t), weight.to(t), 1, 1));
        return SmallGemm.TryLinearInOut(x, weight, bias) ?? addmm(bias, x, weight, 1, 1);
    }

    /// <summary>
    /// softmax(q·kᵀ·scale + mask)·v; q, k, v (B, nh, T, hs); scale defaults to 1/√hs. <paramref name="mask"/> is additive (0 or a large
    /// negative); in 16 bits it is clamped to the type's range, so a fully masked row stays finite. <paramref name="fp32"/> keeps
    /// the attention in fp32 under mixed precision (GPT-2's reorder_and_upcast_attn).
    /// </summary>
    public static Tensor Attention(Tensor q, Tensor k, Tensor v, Tensor? mask, double dropout, bool causal = false, double? scale = null, bool fp32 = false)
    {
        // scaled_dot_product_attention scales by 1/√hs; another scale goes into q (one multiply of (B, nh, T, hs)).
        double standard = 1.0 / Math.Sqrt(q.shape[^1]);
        if (Half(q) is null && AttentionKernel.TryAttention(q, k, v, mask, dropout, causal, scale ?? standard) is Tensor fused) return fused;
        if (scale is double s && Math.Abs(s - standard) > 1e-12 * standard) q = q * (s / standard);
        if (!fp32 && Half(q) is ScalarType t)
            return Fp32Result(() =>
            {
                var m = mask is null || mask.dtype == ScalarType.Bool ? mask : mask.clamp_min(t == ScalarType.Float16 ? -65504.0 : -1e30).to(t);
                return SelfAttention(q.to(t), k.to(t), v.to(t), m, dropout, causal);
            });
        return SelfAttention(q, k, v, mask, dropout, causal);
    }

    static Tensor SelfAttention(Tensor q, Tensor k, Tensor v, Tensor? mask, double dropout, bool causal) => causal && mask is null
        ? F.scaled_dot_product_attention(q, k, v, p: dropout, is_casual: true)
        : F.scaled_dot_product_attention(q, k, v, mask, p: dropout);

    /// <summary>Runs a 16-bit computation and returns its result as fp32; the 16-bit copies die with the scope.</summary>
    static Tensor Fp32Result(Func<Tensor> compute)
    {
        using var scope = NewDisposeScope();
        return compute().to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>The 16-bit type to compute in, when mixed precision is on and the input is fp32.</summary>
    static ScalarType? Half(Tensor x) => MixedPrecision.Current is ScalarType t && x.dtype == ScalarType.Float32 ? t : null;
}
