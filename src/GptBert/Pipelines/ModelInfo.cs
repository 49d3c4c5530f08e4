using GptBert.Models;

namespace GptBert.Pipelines;

/// <summary>What `gptbert info` reports about a model; the tokenizer fields are null when it has none.</summary>
public sealed record ModelInfo(
    string Source, string Directory, string ModelType, string Architecture, long Parameters, long SizeOnDiskBytes,
    string Dtype, int MaxContext, int Layers, int Hidden, int Heads, int VocabSize, string? TokenizerKind, int? TokenizerVocabSize, string Device)
{
    public static ModelInfo Of(ModelHandle h)
    {
        var (layers, hidden, heads) = h.Config switch
        {
            Gpt2Config g => (g.NLayer, g.NEmbd, g.NHead),
            BertConfig b => (b.NumHiddenLayers, b.HiddenSize, b.NumAttentionHeads),
            _ => (0, 0, 0),
        };
        long size = new DirectoryInfo(h.Directory).EnumerateFiles("*", SearchOption.AllDirectories)
            .Where(f => !f.Name.StartsWith('.')).Sum(f => f.Length);
        var dtype = h.Model.parameters().FirstOrDefault()?.dtype.ToString().ToLowerInvariant() ?? "float32";
        if (h.Config.Quantization is { } q) // gptbert quantize: int8 linear layers, the rest as stored
            dtype = $"int8 {q.Scheme} ({q.Modules.Count} linear layers{(q.LmHead == "int8" ? " and the LM head" : "")}; the rest {dtype})";
        return new ModelInfo(h.Source, h.Directory, h.Config.ModelType, h.Model.Architecture, h.Model.ParameterCount, size,
            dtype, h.MaxLength, layers, hidden, heads, h.Config.VocabSize, h.OptionalTokenizer?.Kind, h.OptionalTokenizer?.VocabSize, h.Device.ToString());
    }
}
