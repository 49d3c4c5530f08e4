using GptBert.Engine;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace GptBert.Models;

/// <summary>The activation functions named by config.json's hidden_act / activation_function.</summary>
public static class Activations
{
    public static Tensor Apply(string name, Tensor x) => Fusable(name) switch
    {
        // gelu_new (GPT-2) is the tanh approximation; "gelu" (BERT) is the exact erf form.
        // Inference on the CPU: GptBert's kernel on the workers (Engine/GeluKernel.cs); else libtorch's, for autograd and devices.
        Activation.GeluTanh => GeluKernel.TryGelu(x, tanh: true) ?? F.gelu(x, TorchSharp.Modules.GELU.Approximate.tanh),
        Activation.Gelu => GeluKernel.TryGelu(x, tanh: false) ?? F.gelu(x),
        _ => name switch
        {
            "relu" => F.relu(x),
            "tanh" => x.tanh(),
            _ => throw new GptBertException($"activation \"{name}\" is not supported (use gelu, gelu_new or relu)"),
        },
    };

    /// <summary>The GELU form <paramref name="name"/> stands for (what the int8 kernels apply inside their products), or None.</summary>
    public static Activation Fusable(string name) => name switch
    {
        "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast" => Activation.GeluTanh,
        "gelu" => Activation.Gelu,
        _ => Activation.None,
    };
}
