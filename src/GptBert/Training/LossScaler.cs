using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GptBert.Training;

/// <summary>
/// Dynamic loss scaling for fp16 training, with torch.amp.GradScaler's rules: the loss is multiplied by
/// <see cref="Scale"/> before backward so small gradients survive fp16's narrow range; gradients are divided
/// by it before clipping and the optimizer step. A step whose gradients overflow (inf or NaN) is skipped and
/// the scale halved; after <paramref name="growthInterval"/> clean steps in a row the scale doubles.
/// </summary>
public sealed class LossScaler(double initialScale = 65536, int growthInterval = 2000, double growthFactor = 2, double backoffFactor = 0.5)
{
    public double Scale { get; private set; } = initialScale;
    /// <summary>Clean steps since the scale last changed.</summary>
    public int CleanSteps { get; private set; }

    public void Restore(double scale, int cleanSteps) { Scale = scale; CleanSteps = cleanSteps; }

    public Tensor ScaleLoss(Tensor loss) => loss * Scale;

    /// <summary>
    /// Unscales the gradients in place and returns true, or returns false (and backs off the scale) when any
    /// gradient is not finite; the caller must then skip the optimizer step.
    /// </summary>
    public bool UnscaleOrSkip(IEnumerable<Parameter> parameters)
    {
        using var scope = NewDisposeScope();
        var grads = parameters.Select(p => p.grad).OfType<Tensor>().ToList();
        if (grads.Count == 0) return true;
        // One synchronisation for the whole model: the largest |g| of every tensor, then a single finiteness test.
        bool finite = stack(grads.Select(g => g.abs().max().to(ScalarType.Float32)).ToArray()).isfinite().all().item<bool>();
        if (!finite)
        {
            Scale *= backoffFactor;
            CleanSteps = 0;
            return false;
        }
        double inverse = 1 / Scale;
        foreach (var g in grads) g.mul_(inverse);
        if (++CleanSteps >= growthInterval)
        {
            Scale *= growthFactor;
            CleanSteps = 0;
        }
        return true;
    }
}
