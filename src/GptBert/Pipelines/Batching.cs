using GptBert.Tokenizers;
using static TorchSharp.torch;

namespace GptBert.Pipelines;

/// <summary>How texts longer than the model's limit are handled.</summary>
public enum Overflow { TruncateWithWarning, Refuse }

/// <summary>Model-ready tensors for one padded batch.</summary>
public sealed record Batch(Tensor InputIds, Tensor AttentionMask, Tensor TokenTypeIds, IReadOnlyList<TokenizedText> Encodings) : IDisposable
{
    public void Dispose() { InputIds.Dispose(); AttentionMask.Dispose(); TokenTypeIds.Dispose(); }
}

public static class Batching
{
    /// <summary>Tokenizes and right-pads inputs into (B, T) tensors; reports or refuses truncation.</summary>
    public static Batch Encode(ModelHandle h, IReadOnlyList<(string Text, string? Pair)> inputs, int maxLength,
        Overflow overflow, Action<string>? warn, int firstIndex = 0, IReadOnlyList<int>? inputIndices = null)
    {
        var enc = h.Tokenizer.EncodeBatch(inputs, addSpecialTokens: true, maxLength: maxLength, padToLongest: true);
        for (int i = 0; i < enc.Count; i++)
        {
            if (!enc[i].Truncated) continue;
            int number = (inputIndices?[i] ?? firstIndex + i) + 1; // 1-based position in the caller's input
            if (overflow == Overflow.Refuse)
                throw new GptBertException($"input {number} is longer than {maxLength} tokens; shorten it, or drop --no-truncate to truncate it (model limit {h.Config.MaxPositions} tokens)");
            warn?.Invoke($"warning: input {number} truncated to {maxLength} tokens");
        }
        int B = enc.Count, T = enc.Max(e => e.Ids.Length);
        var ids = new long[B * T]; var mask = new long[B * T]; var types = new long[B * T];
        for (int b = 0; b < B; b++)
            for (int t = 0; t < enc[b].Ids.Length; t++)
            {
                ids[b * T + t] = enc[b].Ids[t];
                mask[b * T + t] = enc[b].AttentionMask[t];
                types[b * T + t] = enc[b].TypeIds[t];
            }
        return new Batch(
            tensor(ids, [B, T], device: h.Device), tensor(mask, [B, T], device: h.Device),
            tensor(types, [B, T], device: h.Device), enc);
    }
}
