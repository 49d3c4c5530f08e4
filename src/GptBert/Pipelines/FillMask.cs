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

    public IReadOnlyList<MaskPrediction> Predict(string text, int topK = 5, string? pair = null, int inputIndex = 0)
    {
        if (handle.Model is not BertForMaskedLM and not BertForPreTraining)
            throw new GptBertException($"fill-mask needs a BERT model with a masked-LM head; {handle.Source} is {handle.Model.Architecture}");
        int maskId = handle.Tokenizer.MaskId ?? throw new GptBertException("the tokenizer has no [MASK] token");
        using var _ = inference_mode();
        using var scope = NewDisposeScope();
        using var batch = Batching.Encode(handle, [(text, pair)], handle.MaxLength, Overflow, Warn, inputIndex);
        var ids = batch.Encodings[0].Ids;
        var positions = Enumerable.Range(0, ids.Length).Where(i => ids[i] == maskId).ToArray();
        if (positions.Length == 0)
            throw new GptBertException($"input {inputIndex + 1} has no {handle.Tokenizer.MaskToken ?? "[MASK]"} token; write it where a word should be predicted");
        var logits = handle.Model switch
        {
            BertForMaskedLM m => m.Forward(batch.InputIds, batch.AttentionMask, batch.TokenTypeIds),
            BertForPreTraining m => m.Forward(batch.InputIds, batch.AttentionMask, batch.TokenTypeIds).PredictionLogits,
            _ => throw new InvalidOperationException(),
        }; // (1, T, V)
        var result = new List<MaskPrediction>();
        foreach (var pos in positions)
        {
            var probs = logits[0, pos].softmax(-1);
            var (values, indices) = probs.topk(Math.Min(topK, (int)probs.shape[0]));
            var v = values.data<float>().ToArray(); var ix = indices.data<long>().ToArray();
            result.Add(new MaskPrediction(pos, ix.Select((id, j) => new MaskCandidate((int)id, handle.Tokenizer.IdToToken((int)id), v[j])).ToList()));
        }
        return result;
    }
}
