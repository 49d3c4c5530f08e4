using GptBert.Engine;
using GptBert.Models;
using GptBert.Tokenizers;
using static TorchSharp.torch;

namespace GptBert.Pipelines;

/// <summary>A loaded model with its tokenizer, device and where it came from: what every command works on.</summary>
public sealed class ModelHandle : ILoadedModel
{
    public required PretrainedModel Model { get; init; }
    /// <summary>Null only for a model loaded to be described (`info`) from a directory without tokenizer files.</summary>
    public ITextTokenizer? OptionalTokenizer { get; init; }
    /// <summary>The tokenizer; a model loaded without one fails here with the --tokenizer fix.</summary>
    public ITextTokenizer Tokenizer
    {
        get => OptionalTokenizer ?? throw ModelHub.NoTokenizer(Source, Config);
        init => OptionalTokenizer = value;
    }
    /// <summary>
    /// An encoder-decoder's second tokenizer, the encoder's (<c>encoder_tokenizer/</c>, see <see cref="Seq2Seq"/>); null for
    /// other models. <see cref="Tokenizer"/> is then the decoder's: it reads the targets and writes the output.
    /// </summary>
    public ITextTokenizer? SourceTokenizer { get; init; }
    /// <summary>Built-in name or directory the user gave.</summary>
    public required string Source { get; init; }
    /// <summary>The HF-layout directory the weights were read from (the cache for built-ins).</summary>
    public required string Directory { get; init; }
    public required Device Device { get; init; }
    /// <summary>Default maximum tokens per input (sentence-transformers' max_seq_length for MiniLM).</summary>
    public required int MaxLength { get; init; }
    public LoadReport Report { get; init; } = new([], []);

    public ModelConfig Config => Model.Config;
    public string Architecture => Model.Architecture;
    public string Family => Config.ModelType;

    /// <summary>Token ids as a (1, T) or (B, T) Int64 tensor on the model's device.</summary>
    public Tensor ToTensor(long[,] values) => tensor(values, device: Device);

    public void Dispose() => Model.Dispose();
}
