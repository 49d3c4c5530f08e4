using GptBert.Models;
using static TorchSharp.torch;

namespace GptBert.Pipelines;

public sealed record GenerationOptions
{
    public int MaxNewTokens { get; init; } = 50;
    /// <summary>Argmax decoding; otherwise sample (temperature → top-k → top-p, as transformers orders them).</summary>
    public bool Greedy { get; init; }
    public double Temperature { get; init; } = 1.0;
    /// <summary>Keep the k most likely tokens; 0 keeps all.</summary>
    public int TopK { get; init; } = 50;
    /// <summary>Nucleus sampling: keep the smallest set whose probability reaches p; 1 keeps all.</summary>
    public double TopP { get; init; } = 1.0;
    /// <summary>CTRL-style penalty on tokens already present (1 = off): positive logits ÷ p, negative × p.</summary>
    public double RepetitionPenalty { get; init; } = 1.0;
    public IReadOnlyList<string> Stop { get; init; } = [];
    public int? Seed { get; init; }
    /// <summary>Reuse keys/values of earlier positions (the default); false recomputes the whole sequence each step.</summary>
    public bool UseCache { get; init; } = true;
    public bool StopAtEos { get; init; } = true;
    public Overflow Overflow { get; init; } = Overflow.TruncateWithWarning;

    public void Validate()
    {
        if (MaxNewTokens < 1) throw new GptBertException($"--max-new-tokens must be at least 1 (got {MaxNewTokens})");
        if (!(Temperature > 0)) throw new GptBertException($"--temperature must be > 0 (got {Temperature}); use --greedy for deterministic output");
        if (TopK < 0) throw new GptBertException($"--top-k must be ≥ 0 (got {TopK}; 0 disables it)");
        if (!(TopP > 0 && TopP <= 1)) throw new GptBertException($"--top-p must be in (0, 1] (got {TopP})");
        if (!(RepetitionPenalty > 0)) throw new GptBertException($"--repetition-penalty must be > 0 (got {RepetitionPenalty}; 1 disables it)");
    }
}

/// <summary>One step of streamed output: the new token and the text it completes (may be empty mid-character).</summary>
public sealed record GeneratedToken(int Id, string TextDelta);

public enum FinishReason { Length, EndOfText, Stop }

public sealed record GenerationResult(IReadOnlyList<int> Ids, string Text, FinishReason Finish);

/// <summary>Autoregressive generation with GPT-2 and the KV cache, streaming tokens as they are produced.</summary>
public sealed class Generator(ModelHandle handle)
{
    public Action<string>? Warn { get; init; }

    GPT2LMHeadModel Lm => handle.Model as GPT2LMHeadModel
        ?? throw new GptBertException($"generate needs a GPT-2 language model; {handle.Source} is {handle.Model.Architecture} (BERT is an encoder and does not generate text)");

    public GenerationResult Generate(string prompt, GenerationOptions o, Action<GeneratedToken>? onToken = null)
    {
        o.Validate();
        var lm = Lm;
        var tok = handle.Tokenizer;
        var promptIds = tok.Encode(prompt, addSpecialTokens: false).Ids.ToList();
        if (promptIds.Count == 0 && tok.BosId is int bos) promptIds.Add(bos); // unconditional generation starts from <|endoftext|>
        if (promptIds.Count == 0) throw new GptBertException("the prompt is empty; give --prompt TEXT");
        int ctx = handle.Config.MaxPositions;
        int maxNew = Math.Min(o.MaxNewTokens, ctx - 1);
        if (promptIds.Count + maxNew > ctx)
        {
            int keep = ctx - maxNew;
            if (o.Overflow == Overflow.Refuse)
                throw new GptBertException($"prompt ({promptIds.Count} tokens) + --max-new-tokens ({maxNew}) exceeds the {ctx}-token context; shorten the prompt or drop --no-truncate");
            Warn?.Invoke($"warning: prompt truncated to its last {keep} tokens to fit the {ctx}-token context");
            promptIds = promptIds.Skip(promptIds.Count - keep).ToList();
        }

        var rng = o.Seed is int seed ? new Random(seed) : new Random();
        var all = new List<int>(promptIds);
        var generated = new List<int>();
        string text = ""; int emitted = 0;
        var finish = FinishReason.Length;
        int? eos = o.StopAtEos ? tok.EosId : null;
        using var cache = o.UseCache ? new KvCache() : null;
        using var _ = inference_mode();
        for (int step = 0; step < maxNew; step++)
        {
            float[] logits;
            using (var scope = NewDisposeScope())
            {
                var feed = o.UseCache && step > 0 ? all.Skip(all.Count - 1).ToArray() : all.ToArray();
                var input = tensor(feed.Select(i => (long)i).ToArray(), [1, feed.Length], device: handle.Device);
                var output = lm.Forward(input, cache: cache); // (1, T, V)
                logits = output[0, -1].to(ScalarType.Float32).cpu().data<float>().ToArray();
            }
            int next = Sampling.Next(logits, all, o, rng);
            all.Add(next); generated.Add(next);
            if (eos == next) { finish = FinishReason.EndOfText; onToken?.Invoke(new GeneratedToken(next, "")); break; }

            text = tok.Decode(generated, skipSpecialTokens: false);
            int stopAt = o.Stop.Select(s => text.IndexOf(s, Math.Max(0, emitted - s.Length), StringComparison.Ordinal)).Where(i => i >= 0).DefaultIfEmpty(-1).Min();
            if (stopAt >= 0)
            {
                text = text[..stopAt];
                onToken?.Invoke(new GeneratedToken(next, stopAt > emitted ? text[emitted..] : ""));
                emitted = text.Length; finish = FinishReason.Stop; break;
            }
            // Hold back a trailing U+FFFD: the next byte-level token usually completes the character.
            int stable = text.EndsWith('\uFFFD') ? text.TrimEnd('\uFFFD').Length : text.Length;
            string delta = stable > emitted ? text[emitted..stable] : "";
            emitted = Math.Max(emitted, stable);
            onToken?.Invoke(new GeneratedToken(next, delta));
        }
        if (finish != FinishReason.Stop)
        {
            text = tok.Decode(generated.Where(i => i != eos), skipSpecialTokens: false);
            if (text.Length > emitted) onToken?.Invoke(new GeneratedToken(-1, text[emitted..]));
        }
        return new GenerationResult(generated, text, finish);
    }
}

/// <summary>Logits processing and sampling on one row of logits, in the order transformers applies them.</summary>
public static class Sampling
{
    public static int Next(float[] logits, IReadOnlyList<int> context, GenerationOptions o, Random rng)
    {
        var x = (float[])logits.Clone();
        if (o.RepetitionPenalty != 1.0)
            foreach (var id in context.Distinct())
                x[id] = x[id] < 0 ? (float)(x[id] * o.RepetitionPenalty) : (float)(x[id] / o.RepetitionPenalty);
        if (o.Greedy) return ArgMax(x);

        for (int i = 0; i < x.Length; i++) x[i] = (float)(x[i] / o.Temperature);
        var order = Enumerable.Range(0, x.Length).OrderByDescending(i => x[i]).ToArray();
        int keep = o.TopK > 0 ? Math.Min(o.TopK, x.Length) : x.Length;
        // Softmax over the kept candidates, then the nucleus: smallest prefix with probability ≥ top_p.
        double maxLogit = x[order[0]];
        var p = new double[keep];
        double sum = 0;
        for (int j = 0; j < keep; j++) { p[j] = Math.Exp(x[order[j]] - maxLogit); sum += p[j]; }
        for (int j = 0; j < keep; j++) p[j] /= sum;
        if (o.TopP < 1.0)
        {
            double cum = 0; int n = 0;
            while (n < keep) { cum += p[n++]; if (cum >= o.TopP) break; }
            keep = Math.Max(1, n);
        }
        double total = 0;
        for (int j = 0; j < keep; j++) total += p[j];
        double r = rng.NextDouble() * total;
        for (int j = 0; j < keep; j++) { r -= p[j]; if (r <= 0) return order[j]; }
        return order[keep - 1];
    }

    public static int ArgMax(float[] x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }
}
