using GptBert.Engine;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace GptBert.Models;

/// <summary>The activation functions named by config.json's hidden_act / activation_function.</summary>
public static class Activations
{
    public static Tensor Apply(string name, Tensor x) => name switch
    {
        // gelu_new (GPT-2) is the tanh approximation; "gelu" (BERT) is the exact erf form.
        // Inference on the CPU: GptBert's kernel on the workers (Engine/GeluKernel.cs); else libtorch's, for autograd and devices.
        "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast" => GeluKernel.TryGelu(x, tanh: true) ?? F.gelu(x, TorchSharp.Modules.GELU.Approximate.tanh),
        "gelu" => GeluKernel.TryGelu(x, tanh: false) ?? F.gelu(x),
        "relu" => F.relu(x),
        "tanh" => x.tanh(),
        _ => throw new GptBertException($"activation \"{name}\" is not supported (use gelu, gelu_new or relu)"),
    };

    /// <summary>The form of <paramref name="name"/> a kernel can apply to its output before the store, or None.</summary>
    public static Activation Fusable(string name) => name switch
    {
        "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast" => Activation.GeluTanh,
        "gelu" => Activation.Gelu,
        _ => Activation.None,
    };
}
