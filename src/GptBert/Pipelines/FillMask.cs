using GptBert.Models;
using static TorchSharp.torch;

namespace GptBert.Pipelines;

public sealed record MaskCandidate(int Id, string Token, double Score);
public sealed record MaskPrediction(int Position, IReadOnlyList<MaskCandidate> Candidates);

/// <summary>Top-k fillers with probabilities for every [MASK] in the text (BERT with an MLM head).</summary>
public sealed class FillMask(ModelHandle handle)
{
    public Overflow Overflow { get; init; } = Overflow.TruncateWithWarning;
    public Action<string>? Warn { get; init; }

    public IReadOnlyList<MaskPrediction> Predict(string text, int topK = 5, string? pair = null, int inputIndex = 0) =>
        PredictBatch([(text, pair, topK)], inputIndex)[0];

    /// <summary>
    /// <see cref="Predict"/> for several inputs in one padded forward pass (the server batches concurrent requests
    /// through here); each input keeps its own top-k. <paramref name="firstIndex"/> numbers inputs in messages.
    /// </summary>
    public IReadOnlyList<IReadOnlyList<MaskPrediction>> PredictBatch(IReadOnlyList<(string Text, string? Pair, int TopK)> inputs, int firstIndex = 0)
    {
        if (handle.Model is not BertForMaskedLM and not BertForPreTraining)
            throw new GptBertException($"fill-mask needs a BERT model with a masked-LM head; {handle.Source} is {handle.Model.Architecture}");
        int maskId = handle.Tokenizer.MaskId ?? throw new GptBertException("the tokenizer has no [MASK] token");
        using var _ = inference_mode();
        using var scope = NewDisposeScope();
        using var batch = Batching.Encode(handle, inputs.Select(i => (i.Text, i.Pair)).ToList(), handle.MaxLength, Overflow, Warn, firstIndex);
        var positions = batch.Encodings.Select((e, b) =>
        {
            var p = Enumerable.Range(0, e.Ids.Length).Where(i => e.Ids[i] == maskId).ToArray();
            return p.Length > 0 ? p
                : throw new GptBertException($"input {firstIndex + b + 1} has no {handle.Tokenizer.MaskToken ?? "[MASK]"} token; write it where a word should be predicted");
        }).ToArray();
        var logits = handle.Model switch
        {
            BertForMaskedLM m => m.Forward(batch.InputIds, batch.AttentionMask, batch.TokenTypeIds),
            BertForPreTraining m => m.Forward(batch.InputIds, batch.AttentionMask, batch.TokenTypeIds).PredictionLogits,
            _ => throw new InvalidOperationException(),
        }; // (B, T, V)
        var results = new List<IReadOnlyList<MaskPrediction>>();
        for (int b = 0; b < inputs.Count; b++)
        {
            var result = new List<MaskPrediction>();
            foreach (var pos in positions[b])
            {
                var probs = logits[b, pos].softmax(-1); // (V)
                var (values, indices) = probs.topk(Math.Min(inputs[b].TopK, (int)probs.shape[0]));
                var v = values.data<float>().ToArray(); var ix = indices.data<long>().ToArray();
                result.Add(new MaskPrediction(pos, ix.Select((id, j) => new MaskCandidate((int)id, handle.Tokenizer.IdToToken((int)id), v[j])).ToList()));
            }
            results.Add(result);
        }
        return results;
    }
}
