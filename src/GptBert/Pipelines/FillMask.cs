using GptBert.Models;

namespace GptBert.Pipelines;

public sealed record MaskCandidate(int Id, string Token, double Score);
public sealed record MaskPrediction(int Position, IReadOnlyList<MaskCandidate> Candidates);

/// <summary>
/// Top-k fillers with probabilities for every [MASK] in the text (BERT with an MLM head), on TorchSharp (a
/// <see cref="ModelHandle"/>) or on any other <see cref="IEncoderRunner"/> (ONNX Runtime).
/// </summary>
public sealed class FillMask(IEncoderRunner runner)
{
    public FillMask(ModelHandle handle) : this(new TorchRunner(handle)) { }

    public Overflow Overflow { get; init; } = Overflow.TruncateWithWarning;
    public Action<string>? Warn { get; init; }

    public IReadOnlyList<MaskPrediction> Predict(string text, int topK = 5, string? pair = null, int inputIndex = 0)
    {
        if (runner.Architecture is not "BertForMaskedLM" and not "BertForPreTraining")
            throw new GptBertException($"fill-mask needs a BERT model with a masked-LM head; {runner.Source} is {runner.Architecture}");
        int maskId = runner.Tokenizer.MaskId ?? throw new GptBertException("the tokenizer has no [MASK] token");
        var batch = TokenBatch.Encode(runner, [(text, pair)], runner.MaxLength, Overflow, Warn, inputIndex);
        var ids = batch.Encodings[0].Ids;
        var positions = Enumerable.Range(0, ids.Length).Where(i => ids[i] == maskId).ToArray();
        if (positions.Length == 0)
            throw new GptBertException($"input {inputIndex + 1} has no {runner.Tokenizer.MaskToken ?? "[MASK]"} token; write it where a word should be predicted");
        var logits = runner.HeadOutputs(batch)["logits"]; // (1, T, V)
        int V = logits.Shape[2];
        var result = new List<MaskPrediction>();
        foreach (var pos in positions)
        {
            var probs = RunnerPredictions.Softmax(logits.Row(0).Slice(pos * V, V));
            var top = Enumerable.Range(0, V).OrderByDescending(i => probs[i]).ThenBy(i => i).Take(Math.Min(topK, V));
            result.Add(new MaskPrediction(pos, top.Select(id => new MaskCandidate(id, runner.Tokenizer.IdToToken(id), probs[id])).ToList()));
        }
        return result;
    }
}
