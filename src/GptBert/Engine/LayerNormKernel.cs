using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace GptBert.Engine;

/// <summary>
/// LayerNorm(x + residual) for fp32 inference in one pass over the rows, split over <see cref="Workers"/>: BERT's
/// add-and-norm after attention and after the feed-forward block. libtorch runs the add and the norm as two ops, each
/// writing a new tensor, on the calling thread during our inference forwards (<see cref="SmallGemm.ForwardScope"/>).
/// Mean and variance are two passes over the row (the variance of the centred values, as libtorch computes it), in
/// double for the sums.
/// </summary>
public static unsafe class LayerNormKernel
{
    /// <summary>Off switch for tests (GPTBERT_LAYERNORM_KERNEL=0 disables it); <see cref="SmallGemm.Enabled"/> turns it off too.</summary>
    public static bool Enabled { get; set; } = Vector256.IsHardwareAccelerated && Environment.GetEnvironmentVariable("GPTBERT_LAYERNORM_KERNEL") != "0";

    /// <summary>
    /// LayerNorm over the last dimension of x + residual (same shape), with <paramref name="weight"/> and
    /// <paramref name="bias"/> of that dimension's size; null when it is not one for this kernel (a gradient is wanted,
    /// not fp32 on the CPU, shapes that differ).
    /// </summary>
    public static Tensor? TryAddLayerNorm(Tensor x, Tensor residual, Tensor weight, Tensor bias, double eps)
    {
        if (!Enabled || !SmallGemm.Enabled || x.dim() < 1 || !x.shape.SequenceEqual(residual.shape)) return null;
        long H = x.shape[^1];
        if (H < 1 || weight.dim() != 1 || bias.dim() != 1 || weight.shape[0] != H || bias.shape[0] != H || x.numel() / H > int.MaxValue) return null;
        static bool Fp32Cpu(Tensor t) => t.dtype == ScalarType.Float32 && t.device_type == DeviceType.CPU;
        if (!Fp32Cpu(x) || !Fp32Cpu(residual) || !Fp32Cpu(weight) || !Fp32Cpu(bias)) return null;
        if (torch.is_grad_enabled() && (x.requires_grad || residual.requires_grad || weight.requires_grad || bias.requires_grad)) return null;

        using var scope = NewDisposeScope();
        var xc = x.contiguous(); var rc = residual.contiguous(); var wc = weight.contiguous(); var bc = bias.contiguous();
        var y = empty(x.shape);
        float* px = (float*)SmallGemm.Data(xc), pr = (float*)SmallGemm.Data(rc), pw = (float*)SmallGemm.Data(wc), pb = (float*)SmallGemm.Data(bc), py = (float*)SmallGemm.Data(y);
        int rows = (int)(x.numel() / H), n = (int)H;
        // One part per thread once there is ~64k elements of work (a fork-join costs a few microseconds).
        int parts = (int)Math.Min(TorchRuntime.Threads, Math.Max(1, (long)rows * n / 65536));
        Workers.Run(parts, p =>
        {
            int r0 = (int)((long)rows * p / parts), r1 = (int)((long)rows * (p + 1) / parts);
            for (int r = r0; r < r1; r++) Row(px + (long)r * n, pr + (long)r * n, pw, pb, py + (long)r * n, n, (float)eps);
        });
        GC.KeepAlive(xc); GC.KeepAlive(rc); GC.KeepAlive(wc); GC.KeepAlive(bc);
        return y.MoveToOuterDisposeScope();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Row(float* x, float* r, float* w, float* b, float* y, int n, float eps)
    {
        // y ← x + r, summed in eight fp32 lanes per block of 8, the blocks in double.
        double sum = 0;
        int j = 0;
        for (; j + 8 <= n; j += 8)
        {
            var v = Vector256.Load(x + j) + Vector256.Load(r + j);
            v.Store(y + j);
            sum += Vector256.Sum(v);
        }
        for (; j < n; j++) { y[j] = x[j] + r[j]; sum += y[j]; }
        float mean = (float)(sum / n);
        var vm = Vector256.Create(mean);
        double sq = 0;
        for (j = 0; j + 8 <= n; j += 8) { var d = Vector256.Load(y + j) - vm; sq += Vector256.Sum(d * d); }
        for (; j < n; j++) { float d = y[j] - mean; sq += d * d; }
        float rstd = (float)(1 / Math.Sqrt(sq / n + eps));
        var vr = Vector256.Create(rstd);
        for (j = 0; j + 8 <= n; j += 8)
            ((Vector256.Load(y + j) - vm) * vr * Vector256.Load(w + j) + Vector256.Load(b + j)).Store(y + j);
        for (; j < n; j++) y[j] = (y[j] - mean) * rstd * w[j] + b[j];
    }
}
