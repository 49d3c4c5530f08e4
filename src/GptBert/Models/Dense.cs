using GptBert.Engine;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace GptBert.Models;

/// <summary>
/// nn.Linear's parameters (<c>weight</c> (out, in), optional <c>bias</c>) and initialisation, with the product
/// routed through <see cref="Ops.Linear"/> so mixed precision applies to it.
/// </summary>
public sealed class Dense : Module<Tensor, Tensor>
{
    public readonly Parameter weight;
    public readonly Parameter? bias;

    public Dense(long inFeatures, long outFeatures, bool hasBias = true) : base("Linear")
    {
        weight = new Parameter(empty(outFeatures, inFeatures));
        if (hasBias) bias = new Parameter(empty(outFeatures));
        RegisterComponents();
        if (WeightInit.Skipped) return; // every tensor comes from a checkpoint
        using var _ = no_grad();
        // PyTorch's defaults: Kaiming-uniform weights (a = √5), bias uniform in ±1/√in.
        nn.init.kaiming_uniform_(weight, Math.Sqrt(5));
        if (bias is not null) nn.init.uniform_(bias, -1 / Math.Sqrt(inFeatures), 1 / Math.Sqrt(inFeatures));
    }

    /// <summary>
    /// The int8 form of this layer in a quantized model (<see cref="Int8Quantization"/>), used for CPU inference; a property, not a
    /// registered module, so the state dict keeps nn.Linear's names. Then <c>weight</c> holds no float values (a zero-stride
    /// placeholder of its shape): inputs the int8 kernels do not take (a GPU, mixed precision, gradients, a weight-only layer
    /// given many rows) run the float product on weights dequantized for that call.
    /// </summary>
    public QuantizedLinear? Quantized { get; set; }

    public override Tensor forward(Tensor x)
    {
        if (Quantized is not { } q) return Ops.Linear(x, weight, bias);
        if (q.TryForward(x, bias) is { } y) return y;
        using var w = q.Dequantize(inOut: false, x.device);
        return Ops.Linear(x, w, bias);
    }

    /// <summary>
    /// activation(this(x)): an int8 layer applies a GELU inside its kernel, to each block of its output while it is in cache
    /// (a pass over a (rows, 4·hidden) tensor saved); everything else as <see cref="Activations.Apply"/> after <see cref="forward"/>.
    /// </summary>
    public Tensor Forward(Tensor x, string activation)
    {
        if (Quantized is { } q && Activations.Fusable(activation) is var fused && fused != Activation.None && q.TryForward(x, bias, fused) is { } y) return y;
        return Activations.Apply(activation, forward(x));
    }
}
