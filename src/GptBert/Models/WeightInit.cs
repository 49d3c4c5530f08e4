using static TorchSharp.torch;

namespace GptBert.Models;

/// <summary>
/// Skips the random initialisation of the weights built on this thread while a scope is open, as transformers does when
/// every tensor will come from a checkpoint. Used for int8 models: the float matrices of their linear layers are never
/// written, so their pages are never resident and are released unread (see <see cref="Int8Quantization.Attach"/>).
/// Whatever the checkpoint lacks is initialised afterwards (<see cref="InitMissing"/>).
/// </summary>
public static class WeightInit
{
    [ThreadStatic] static int skipDepth;

    /// <summary>True inside <see cref="Skip"/> on this thread: constructors leave their weights uninitialised.</summary>
    public static bool Skipped => skipDepth > 0;

    /// <summary>A scope in which models are built with uninitialised weights.</summary>
    public static IDisposable Skip() { skipDepth++; return new Scope(); }

    sealed class Scope : IDisposable
    {
        bool done;
        public void Dispose() { if (!done) { done = true; skipDepth--; } }
    }

    /// <summary>
    /// Initialises the parameters a load found no tensor for (a model built under <see cref="Skip"/>): LayerNorm weights
    /// 1, biases 0, anything else normal(0, initializer_range), as the models' own initialisation does.
    /// </summary>
    public static void InitMissing(PretrainedModel model, IEnumerable<string> missing)
    {
        var keys = missing.ToHashSet();
        if (keys.Count == 0) return;
        using var _ = no_grad();
        foreach (var (name, p) in model.named_parameters())
        {
            if (!keys.Contains(name)) continue;
            if (name.EndsWith("LayerNorm.weight") || name.EndsWith("ln_1.weight") || name.EndsWith("ln_2.weight")
                || name.EndsWith("ln_cross_attn.weight") || name.EndsWith("ln_f.weight")) p.fill_(1.0);
            else if (name.EndsWith("bias")) p.zero_();
            else nn.init.normal_(p, 0, model.Config.InitializerRange);
        }
    }
}
