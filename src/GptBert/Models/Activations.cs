using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace GptBert.Models;

/// <summary>The activation functions named by config.json's hidden_act / activation_function.</summary>
public static class Activations
{
    public static Tensor Apply(string name, Tensor x) => name switch
    {
        // gelu_new (GPT-2) is the tanh approximation; "gelu" (BERT) is the exact erf form.
        "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast" => F.gelu(x, TorchSharp.Modules.GELU.Approximate.tanh),
        "gelu" => F.gelu(x),
        "relu" => F.relu(x),
        "tanh" => x.tanh(),
        _ => throw new GptBertException($"activation \"{name}\" is not supported (use gelu, gelu_new or relu)"),
    };
}
