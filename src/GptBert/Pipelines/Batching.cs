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
        CheckTruncation(enc, h.Config, maxLength, overflow, warn, firstIndex, inputIndices);
        var (ids, mask, types, _) = ToTensors(enc, h.Tokenizer.PadId ?? h.Tokenizer.EosId ?? 0, h.Device);
        return new Batch(ids, mask, types, enc);
    }

    /// <summary>Warns about (or, with <see cref="Overflow.Refuse"/>, refuses) each truncated input, numbered from 1 in the caller's input.</summary>
    internal static void CheckTruncation(IReadOnlyList<TokenizedText> enc, Models.ModelConfig config, int maxLength, Overflow overflow,
        Action<string>? warn, int firstIndex, IReadOnlyList<int>? inputIndices)
    {
        for (int i = 0; i < enc.Count; i++)
        {
            if (!enc[i].Truncated) continue;
            int number = (inputIndices?[i] ?? firstIndex + i) + 1; // 1-based position in the caller's input
            if (overflow == Overflow.Refuse)
                throw new GptBertException($"input {number} is longer than {maxLength} tokens; shorten it, or drop Overflow.Refuse to truncate it (model limit {config.MaxPositions} tokens)")
                { RelatedParameters = ["Overflow.Refuse"] };
            warn?.Invoke($"warning: input {number} truncated to {maxLength} tokens");
        }
    }

    /// <summary>
    /// (B, T) input ids, attention mask and token type ids from encodings of any lengths, right-padded with
    /// <paramref name="padId"/> (mask 0); also the number of real tokens.
    /// </summary>
    public static (Tensor Ids, Tensor Mask, Tensor Types, long RealTokens) ToTensors(IReadOnlyList<TokenizedText> enc, long padId, Device device)
    {
        int B = enc.Count, T = enc.Max(e => e.Ids.Length);
        var ids = new long[B * T]; var mask = new long[B * T]; var types = new long[B * T];
        Array.Fill(ids, padId);
        long real = 0;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < enc[b].Ids.Length; t++)
            {
                ids[b * T + t] = enc[b].Ids[t];
                mask[b * T + t] = enc[b].AttentionMask[t];
                types[b * T + t] = enc[b].TypeIds[t];
                real += enc[b].AttentionMask[t];
            }
        return (tensor(ids, [B, T], device: device), tensor(mask, [B, T], device: device), tensor(types, [B, T], device: device), real);
    }
}
