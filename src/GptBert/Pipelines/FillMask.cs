using GptBert.Checkpoints;
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

    public IReadOnlyList<MaskPrediction> Predict(string text, int topK = 5, string? pair = null, int inputIndex = 0) =>
        PredictBatch([(text, pair, topK)], inputIndex)[0];

    /// <summary>
    /// <see cref="Predict"/> for several inputs in one padded forward pass (the server batches concurrent requests
    /// through here); each input keeps its own top-k. <paramref name="firstIndex"/> numbers inputs in messages.
    /// </summary>
    public IReadOnlyList<IReadOnlyList<MaskPrediction>> PredictBatch(IReadOnlyList<(string Text, string? Pair, int TopK)> inputs, int firstIndex = 0)
    {
        if (runner.Config is Gpt2Config { GptBert: not null }) return PredictGptBert(inputs, firstIndex);
        if (runner.Architecture is not "BertForMaskedLM" and not "BertForPreTraining")
            throw new GptBertException($"fill-mask needs a BERT model with a masked-LM head; {runner.Source} is {runner.Architecture}");
        int maskId = runner.Tokenizer.MaskId ?? throw new GptBertException("the tokenizer has no [MASK] token");
        var batch = TokenBatch.Encode(runner, inputs.Select(i => (i.Text, i.Pair)).ToList(), runner.MaxLength, Overflow, Warn, firstIndex);
        var positions = batch.Encodings.Select((e, b) =>
        {
            var p = Enumerable.Range(0, e.Ids.Length).Where(i => e.Ids[i] == maskId).ToArray();
            return p.Length > 0 ? p
                : throw new GptBertException($"input {firstIndex + b + 1} has no {runner.Tokenizer.MaskToken ?? "[MASK]"} token; write it where a word should be predicted");
        }).ToArray();
        var logits = runner.HeadOutputs(batch)["logits"]; // (B, T, V)
        int V = logits.Shape[2];
        var results = new List<IReadOnlyList<MaskPrediction>>();
        for (int b = 0; b < inputs.Count; b++)
        {
            var result = new List<MaskPrediction>();
            foreach (var pos in positions[b])
            {
                var probs = RunnerPredictions.Softmax(logits.Row(b).Slice(pos * V, V));
                var top = Enumerable.Range(0, V).OrderByDescending(i => probs[i]).ThenBy(i => i).Take(Math.Min(inputs[b].TopK, V));
                result.Add(new MaskPrediction(pos, top.Select(id => new MaskCandidate(id, runner.Tokenizer.IdToToken(id), probs[id])).ToList()));
            }
            results.Add(result);
        }
        return results;
    }

    /// <summary>
    /// GPT-BERT's masked mode (Models/GptBert.cs): [BOS] + the text's tokens, bidirectional attention, and the distribution
    /// for a mask at position i read from the output at position i − 1 (positions count [BOS] as 0). A space before the
    /// mask is taken into it (as RoBERTa's lstrip mask), since training masks whole byte-level tokens such as "Ġword".
    /// </summary>
    IReadOnlyList<IReadOnlyList<MaskPrediction>> PredictGptBert(IReadOnlyList<(string Text, string? Pair, int TopK)> inputs, int firstIndex)
    {
        if (runner is not TorchRunner { Handle.Model: GPT2LMHeadModel lm } tr)
            throw new GptBertException($"fill-mask with a GPT-BERT runs on the torch backend (its bidirectional mode is not in the ONNX export); {runner.Source} is {runner.Architecture}");
        var tok = runner.Tokenizer;
        int maskId = tok.MaskId ?? throw new GptBertException($"the tokenizer of {runner.Source} has no mask token; a GPT-BERT directory saves one");
        string mask = tok.MaskToken!;
        int start = tok.BosId ?? tok.EosId ?? throw new GptBertException("a GPT-BERT tokenizer needs a BOS or EOS token to start the sequence");
        var results = new List<IReadOnlyList<MaskPrediction>>();
        for (int b = 0; b < inputs.Count; b++)
        {
            var (text, pair, topK) = inputs[b];
            string joined = (pair is null ? text : text + " " + pair).Replace(" " + mask, mask);
            var ids = new List<int> { start };
            ids.AddRange(tok.Encode(joined, addSpecialTokens: false).Ids);
            if (ids.Count > runner.MaxLength) ids = ids.Take(runner.MaxLength).ToList();
            var positions = Enumerable.Range(1, ids.Count - 1).Where(i => ids[i] == maskId).ToArray();
            if (positions.Length == 0)
                throw new GptBertException($"input {firstIndex + b + 1} has no {mask} token; write it where a word should be predicted");
            float[] logits;
            int V;
            using (TorchSharp.torch.inference_mode())
            using (var scope = TorchSharp.torch.NewDisposeScope())
            {
                var input = TorchSharp.torch.tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Count], device: tr.Handle.Device);
                var output = lm.Forward(input, bidirectional: true); // (1, T, V)
                V = (int)output.shape[2];
                logits = TensorBytes.ToArray<float>(output[0].to(TorchSharp.torch.ScalarType.Float32).cpu().contiguous());
            }
            var result = new List<MaskPrediction>();
            foreach (var pos in positions)
            {
                var probs = RunnerPredictions.Softmax(logits.AsSpan((pos - 1) * V, V)); // shifted: token i from output i − 1
                var top = Enumerable.Range(0, V).OrderByDescending(i => probs[i]).ThenBy(i => i).Take(Math.Min(topK, V));
                result.Add(new MaskPrediction(pos, top.Select(id => new MaskCandidate(id, tok.IdToToken(id), probs[id])).ToList()));
            }
            results.Add(result);
        }
        return results;
    }
}
