using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GptBert.Models;

/// <summary>
/// Skips the random initialisation of the weights built on this thread while a scope is open, as transformers does when
/// every tensor will come from a checkpoint (<see cref="ModelFactory.Load"/>). An int8 model's float matrices are then never
/// written, so their pages are never resident and are released unread (see <see cref="Int8Quantization.Attach"/>).
/// Whatever an int8 checkpoint lacks is initialised afterwards (<see cref="InitMissing"/>).
/// </summary>
public static class WeightInit
{
    [ThreadStatic] static int skipDepth;

    /// <summary>True inside <see cref="Skip"/> on this thread: constructors leave their weights uninitialised.</summary>
    public static bool Skipped => skipDepth > 0;

    /// <summary>A scope in which models are built with uninitialised weights.</summary>
    public static IDisposable Skip() { skipDepth++; return new Scope(); }

    /// <summary>
    /// nn.Embedding(<paramref name="n"/>, <paramref name="dim"/>, padding_idx). TorchSharp's constructor draws normal(0, 1)
    /// for every row (MiniLM's 30522 × 384: ~90 ms of a 400 ms load), which the model's init or a checkpoint then overwrites;
    /// inside <see cref="Skip"/> the table is built with the fewest rows its padding index allows and then given an
    /// uninitialised (n, dim) weight, which libtorch's forward reads like any other.
    /// </summary>
    public static Embedding Embedding(long n, long dim, long? paddingIdx = null)
    {
        if (!Skipped) return nn.Embedding(n, dim, padding_idx: paddingIdx);
        var table = nn.Embedding((paddingIdx ?? 0) + 1, dim, padding_idx: paddingIdx);
        table.weight = new Parameter(empty(n, dim));
        return table;
    }

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
