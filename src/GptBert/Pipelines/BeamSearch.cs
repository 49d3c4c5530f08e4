using GptBert.Checkpoints;
using GptBert.Models;
using GptBert.Tokenizers;
using static TorchSharp.torch;

namespace GptBert.Pipelines;

/// <summary>Beam search settings, with transformers' names and defaults.</summary>
public sealed record BeamOptions
{
    /// <summary>Hypotheses kept at every step (num_beams, at least 2).</summary>
    public int NumBeams { get; init; } = 4;
    /// <summary>A finished hypothesis scores sum(log p) / generated_length^LengthPenalty: above 0 favours longer outputs, below 0 shorter ones.</summary>
    public double LengthPenalty { get; init; } = 1.0;
    /// <summary>Stop as soon as NumBeams hypotheses have finished (true), or when no running beam can beat the finished ones by transformers' heuristic (false).</summary>
    public bool EarlyStopping { get; init; }

    public void Validate()
    {
        if (NumBeams < 2 || NumBeams > 64) throw new GptBertException($"NumBeams must be 2-64 for beam search (got {NumBeams}; 1 is greedy decoding)") { Parameter = "NumBeams" };
        if (!double.IsFinite(LengthPenalty)) throw new GptBertException($"LengthPenalty must be a finite number (got {LengthPenalty})") { Parameter = "LengthPenalty" };
    }
}

/// <summary>The best hypothesis of a beam search and its score (sum of log-probabilities over length^penalty).</summary>
public sealed record BeamResult(IReadOnlyList<int> Ids, string Text, FinishReason Finish, double Score)
{
    public int PromptTokens { get; init; }
}

/// <summary>
/// Beam search for GPT-2 language models as transformers 4.40 runs it (GenerationMixin._beam_search with
/// BeamSearchScorer and BeamHypotheses): the beams decode together as one batch with one KV cache whose rows are
/// reordered after each step; each step takes log-softmax scores (then the repetition penalty, applied to them as
/// transformers applies its processors), adds the beam's running score, and keeps the best 2·NumBeams candidates over
/// all beams; a candidate that is the end-of-text token (among the first NumBeams) becomes a finished hypothesis scored
/// sum / generated_length^LengthPenalty; the others fill the next beams. Stop strings cut the chosen text afterwards
/// (transformers 4.40 has no stop strings in beam search). Checked token for token against transformers
/// (tests/GptBert.Tests/Pipelines/Golden/beam-search.json, from tools/hf-check/beam_golden.py).
/// </summary>
public static class BeamSearch
{
    public static BeamResult Generate(ModelHandle handle, string prompt, GenerationOptions options, BeamOptions beams, CancellationToken cancellationToken = default)
    {
        options.Validate();
        var ids = Generator.EncodePrompt(handle, prompt, options);
        var result = Generate(handle, ids, options, beams, cancellationToken);
        return result with { PromptTokens = ids.Count };
    }

    /// <summary>The best continuation of <paramref name="promptIds"/> (its ids include a final end-of-text token when it ended with one, as transformers returns them).</summary>
    public static BeamResult Generate(ModelHandle handle, IReadOnlyList<int> promptIds, GenerationOptions options, BeamOptions beams, CancellationToken cancellationToken = default)
    {
        options.Validate();
        beams.Validate();
        if (!options.Greedy)
            throw new GptBertException("beam search picks the most likely continuations; it does not sample (set Greedy, or drop NumBeams)") { Parameter = "NumBeams", RelatedParameters = ["Greedy"] };
        SequenceDecoder.CheckPrompt(handle, promptIds, options);
        var lm = Generator.LanguageModel(handle);
        int maxLength = Math.Min(promptIds.Count + options.MaxNewTokens, handle.Config.MaxPositions);
        int? eos = options.StopAtEos && handle.Config is Gpt2Config { EosTokenId: int e } ? e : null;
        using var _ = inference_mode();
        using var cache = new KvCache();
        var (best, score, endedWithEos) = Search(promptIds, maxLength, eos, handle.Config.VocabSize, options.RepetitionPenalty, beams.NumBeams,
            beams, ids => lm.Forward(ids, cache: cache)[.., -1], cache, handle.Device, cancellationToken);
        return Result(handle.Tokenizer, best.Skip(promptIds.Count).ToList(), endedWithEos, eos, score, options);
    }

    /// <summary>
    /// Beam search over an encoder-decoder (<see cref="EncoderDecoderModel"/>), as transformers' generate(num_beams) runs it:
    /// the encoder reads <paramref name="sourceIds"/> once; the decoder starts from decoder_start_token_id (its one-token
    /// "prompt", so lengths count the tokens after it) and every beam attends over the same encoder states, whose
    /// cross-attention keys/values are computed at the first step and reordered with the beams (<see cref="KvCache.SelectRows"/>).
    /// <paramref name="numBeams"/> 1 runs the same loop with one beam, which is greedy decoding.
    /// </summary>
    /// <returns>The best hypothesis's generated ids (without the start token; with a final end-of-text token when it ended with one).</returns>
    public static BeamResult GenerateSeq2Seq(EncoderDecoderModel model, ITextTokenizer targetTokenizer, IReadOnlyList<int> sourceIds,
        GenerationOptions options, BeamOptions beams, CancellationToken cancellationToken = default)
    {
        options.Validate();
        if (beams.NumBeams != 1) beams.Validate();
        if (!options.Greedy)
            throw new GptBertException("beam search picks the most likely continuations; it does not sample (set Greedy, or drop NumBeams)") { Parameter = "NumBeams", RelatedParameters = ["Greedy"] };
        if (sourceIds.Count == 0) throw new GptBertException("the source is empty; give some text") { Parameter = "Input" };
        int start = model.Cfg.DecoderStartTokenId ?? throw new GptBertException("the encoder-decoder config has no decoder_start_token_id; set it in config.json");
        int maxLength = Math.Min(1 + options.MaxNewTokens, model.Cfg.Decoder.NPositions);
        int? eos = options.StopAtEos ? model.Cfg.Decoder.EosTokenId : null;
        var device = model.parameters().First().device;
        using var _ = inference_mode();
        using var scope = NewDisposeScope();
        var source = tensor(sourceIds.Select(i => (long)i).ToArray(), [1, sourceIds.Count], device: device);
        var enc = model.Encode(source); // (1, S, C)
        using var cache = new KvCache();
        // Rows of the encoder states follow the decoder rows: 1 at the first step, NumBeams after (their keys/values are cached by then).
        var (best, score, endedWithEos) = Search([start], maxLength, eos, model.Cfg.Decoder.VocabSize, options.RepetitionPenalty, beams.NumBeams,
            beams, ids => model.Decode(enc.expand(ids.shape[0], -1, -1), null, ids, cache: cache)[.., -1], cache, device, cancellationToken);
        return Result(targetTokenizer, best.Skip(1).ToList(), endedWithEos, eos, score, options);
    }

    static BeamResult Result(ITextTokenizer tokenizer, List<int> generated, bool endedWithEos, int? eos, double score, GenerationOptions options)
    {
        // As finalize returns it: a hypothesis shorter than the maximum length ended with end-of-text, which is appended.
        string text = tokenizer.Decode(generated, skipSpecialTokens: false);
        if (endedWithEos) generated.Add(eos!.Value);
        var finish = endedWithEos ? FinishReason.EndOfText : FinishReason.Length;
        int stopAt = -1;
        foreach (var s in options.Stop)
        {
            int at = text.IndexOf(s, StringComparison.Ordinal);
            if (at >= 0 && (stopAt < 0 || at < stopAt)) stopAt = at;
        }
        if (stopAt >= 0) { text = text[..stopAt]; finish = FinishReason.Stop; }
        return new BeamResult(generated, text, finish, score);
    }

    /// <summary>
    /// The search itself (BeamSearchScorer): <paramref name="forward"/> takes decoder input ids (rows, T) and returns the last
    /// position's logits (rows, V), extending <paramref name="cache"/>; it is called once with the prompt (1 row), then with one
    /// token per beam. Returns the best hypothesis (prompt included), its score, and whether it ended with end-of-text.
    /// </summary>
    internal static (List<int> Best, double Score, bool EndedWithEos) Search(IReadOnlyList<int> promptIds, int maxLength, int? eos, int V,
        double repetitionPenalty, int numBeams, BeamOptions beams, Func<Tensor, Tensor> forward, KvCache cache, Device device, CancellationToken cancellationToken)
    {
        int B = numBeams, promptLen = promptIds.Count;
        var sequences = Enumerable.Range(0, B).Select(_ => promptIds.ToList()).ToArray();
        var beamScores = new float[B];
        for (int b = 1; b < B; b++) beamScores[b] = -1e9f;
        var finished = new List<(double Score, List<int> Ids)>();
        double worst = 1e9;
        bool done = false;

        float[] logProbs; // (B, V) row-major
        using (var scope = NewDisposeScope())
        {
            var input = tensor(promptIds.Select(i => (long)i).ToArray(), [1, promptLen], device: device);
            var logits = forward(input); // (1, V)
            // Every beam starts from the prompt: one row of cache and scores, repeated.
            var first = zeros(B, dtype: ScalarType.Int64, device: device);
            cache.SelectRows(first);
            logProbs = TensorBytes.ToArray<float>(logits.log_softmax(-1).index_select(0, first).to(ScalarType.Float32).cpu().contiguous());
        }
        int curLen = promptLen; // length of every running sequence
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            // Scores of every (beam, token): processed log-probabilities plus the beam's running score, in float32 as torch adds them.
            var scores = new float[B * V];
            for (int b = 0; b < B; b++)
            {
                var row = logProbs.AsSpan(b * V, V).ToArray();
                if (repetitionPenalty != 1.0) LogitsProcessing.RepetitionPenalty(row, sequences[b], repetitionPenalty);
                for (int v = 0; v < V; v++) scores[b * V + v] = row[v] + beamScores[b];
            }
            int take = Math.Max(2, eos is null ? 1 : 2) * B;
            var top = TopK(scores, take);

            // BeamSearchScorer.process: finished hypotheses from end-of-text candidates, the rest fill the next beams.
            int stepLen = curLen + 1;
            var nextScores = new float[B];
            var nextTokens = new int[B];
            var nextFrom = new int[B];
            int filled = 0;
            for (int rank = 0; rank < top.Length && filled < B; rank++)
            {
                int flat = top[rank];
                int from = flat / V, token = flat % V;
                if (token == eos)
                {
                    if (rank >= B) continue;
                    Add(scores[flat], sequences[from], stepLen - promptLen);
                }
                else
                {
                    nextScores[filled] = scores[flat];
                    nextTokens[filled] = token;
                    nextFrom[filled] = from;
                    filled++;
                }
            }
            done = done || IsDone(scores[top[0]], stepLen);

            sequences = Enumerable.Range(0, B).Select(b => new List<int>(sequences[nextFrom[b]]) { nextTokens[b] }).ToArray();
            beamScores = nextScores;
            curLen++;
            if (done || curLen >= maxLength) break;

            using var scope = NewDisposeScope();
            cache.SelectRows(tensor(nextFrom.Select(i => (long)i).ToArray(), device: device));
            var step = tensor(nextTokens.Select(i => (long)i).ToArray(), [B, 1], device: device);
            var logits = forward(step); // (B, V)
            logProbs = TensorBytes.ToArray<float>(logits.log_softmax(-1).to(ScalarType.Float32).cpu().contiguous());
        }

        // BeamSearchScorer.finalize: unless done, the running beams join the hypotheses; the best one wins.
        if (!done)
            for (int b = 0; b < B; b++) Add(beamScores[b], sequences[b], sequences[b].Count - promptLen);
        var best = finished.Select((f, i) => (f, i)).OrderBy(x => x.f.Score).ThenBy(x => x.i).Last().f;
        return (best.Ids, best.Score, eos is not null && best.Ids.Count < maxLength);

        void Add(float sumLogProbs, List<int> ids, int generatedLength)
        {
            double score = sumLogProbs / Math.Pow(generatedLength, beams.LengthPenalty);
            if (finished.Count < B || score > worst)
            {
                finished.Add((score, new List<int>(ids)));
                if (finished.Count > B)
                {
                    // Python's sorted() on (score, index): drop the lowest, the next lowest becomes the worst.
                    var sorted = finished.Select((f, i) => (f.Score, i)).OrderBy(x => x.Score).ThenBy(x => x.i).ToList();
                    finished.RemoveAt(sorted[0].i);
                    worst = sorted[1].Score;
                }
                else worst = Math.Min(score, worst);
            }
        }

        bool IsDone(float bestSumLogProbs, int length)
        {
            if (finished.Count < B) return false;
            if (beams.EarlyStopping) return true;
            double highest = bestSumLogProbs / Math.Pow(length - promptLen, beams.LengthPenalty);
            return worst >= highest;
        }
    }

    /// <summary>Indices of the <paramref name="k"/> largest values, largest first (ties by lower index, as torch.topk on CPU gives them in practice).</summary>
    static int[] TopK(float[] values, int k)
    {
        k = Math.Min(k, values.Length);
        var best = new List<int>(k + 1);
        for (int i = 0; i < values.Length; i++)
        {
            float v = values[i];
            if (best.Count == k && v <= values[best[^1]]) continue;
            int at = best.Count;
            while (at > 0 && values[best[at - 1]] < v) at--;
            best.Insert(at, i);
            if (best.Count > k) best.RemoveAt(k);
        }
        return [.. best];
    }
}
