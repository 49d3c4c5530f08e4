using GptBert.Models;
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
        int B = beams.NumBeams, promptLen = promptIds.Count;
        int maxLength = Math.Min(promptLen + options.MaxNewTokens, handle.Config.MaxPositions);
        int? eos = options.StopAtEos && handle.Config is Gpt2Config { EosTokenId: int e } ? e : null;
        int V = handle.Config.VocabSize;

        var sequences = Enumerable.Range(0, B).Select(_ => promptIds.ToList()).ToArray();
        var beamScores = new float[B];
        for (int b = 1; b < B; b++) beamScores[b] = -1e9f;
        var finished = new List<(double Score, List<int> Ids)>();
        double worst = 1e9;
        bool done = false;

        using var _ = inference_mode();
        using var cache = new KvCache();
        float[] logProbs; // (B, V) row-major
        using (var scope = NewDisposeScope())
        {
            var input = tensor(promptIds.Select(i => (long)i).ToArray(), [1, promptLen], device: handle.Device);
            var logits = lm.Forward(input, cache: cache)[.., -1]; // (1, V)
            // Every beam starts from the prompt: one row of cache and scores, repeated.
            var first = zeros(B, dtype: ScalarType.Int64, device: handle.Device);
            cache.Transform(t => t.index_select(0, first));
            logProbs = logits.log_softmax(-1).index_select(0, first).to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
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
                if (options.RepetitionPenalty != 1.0) LogitsProcessing.RepetitionPenalty(row, sequences[b], options.RepetitionPenalty);
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
            var order = tensor(nextFrom.Select(i => (long)i).ToArray(), device: handle.Device);
            cache.Transform(t => t.index_select(0, order));
            var step = tensor(nextTokens.Select(i => (long)i).ToArray(), [B, 1], device: handle.Device);
            var logits = lm.Forward(step, cache: cache)[.., -1]; // (B, V)
            logProbs = logits.log_softmax(-1).to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
        }

        // BeamSearchScorer.finalize: unless done, the running beams join the hypotheses; the best one wins.
        if (!done)
            for (int b = 0; b < B; b++) Add(beamScores[b], sequences[b], sequences[b].Count - promptLen);
        var best = finished.Select((f, i) => (f, i)).OrderBy(x => x.f.Score).ThenBy(x => x.i).Last().f;

        // As finalize returns it: a hypothesis shorter than the maximum length ended with end-of-text, which is appended.
        var generated = best.Ids.Skip(promptLen).ToList();
        string text = handle.Tokenizer.Decode(generated, skipSpecialTokens: false);
        bool endedWithEos = eos is int eosId && best.Ids.Count < maxLength;
        if (endedWithEos) generated.Add(eos!.Value);
        var finish = endedWithEos ? FinishReason.EndOfText : FinishReason.Length;
        int stopAt = -1;
        foreach (var s in options.Stop)
        {
            int at = text.IndexOf(s, StringComparison.Ordinal);
            if (at >= 0 && (stopAt < 0 || at < stopAt)) stopAt = at;
        }
        if (stopAt >= 0) { text = text[..stopAt]; finish = FinishReason.Stop; }
        return new BeamResult(generated, text, finish, best.Score);

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
