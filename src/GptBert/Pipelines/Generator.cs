using System.Runtime.CompilerServices;
using System.Threading.Channels;
using GptBert.Data;
using GptBert.Models;
using GptBert.Tokenizers;
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
    /// <summary>Seed of this generation's own random generator (SplitMix64: the same draws on every machine); null draws a fresh seed.</summary>
    public long? Seed { get; init; }
    /// <summary>Reuse keys/values of earlier positions (the default); false recomputes the whole sequence each step.</summary>
    public bool UseCache { get; init; } = true;
    /// <summary>Stop at the model's end-of-text token (config.json's eos_token_id).</summary>
    public bool StopAtEos { get; init; } = true;
    public Overflow Overflow { get; init; } = Overflow.TruncateWithWarning;
    /// <summary>Also report this many most likely tokens of each step's distribution (OpenAI's top_logprobs, 0-20); 0 reports none.</summary>
    public int TopLogProbs { get; init; }

    public void Validate()
    {
        if (MaxNewTokens < 1) throw new GptBertException($"MaxNewTokens must be at least 1 (got {MaxNewTokens})") { Parameter = nameof(MaxNewTokens) };
        if (!(Temperature > 0)) throw new GptBertException($"Temperature must be > 0 (got {Temperature}); use Greedy for deterministic output") { Parameter = nameof(Temperature), RelatedParameters = [nameof(Greedy)] };
        if (TopK < 0) throw new GptBertException($"TopK must be ≥ 0 (got {TopK}; 0 disables it)") { Parameter = nameof(TopK) };
        if (!(TopP > 0 && TopP <= 1)) throw new GptBertException($"TopP must be in (0, 1] (got {TopP})") { Parameter = nameof(TopP) };
        if (!(RepetitionPenalty > 0)) throw new GptBertException($"RepetitionPenalty must be > 0 (got {RepetitionPenalty}; 1 disables it)") { Parameter = nameof(RepetitionPenalty) };
        // No CLI flag sets it (the server checks its own top_logprobs first), so the message names no setting.
        if (TopLogProbs is < 0 or > 20) throw new GptBertException($"TopLogProbs must be 0-20 (got {TopLogProbs})");
        if (Stop.Any(s => s.Length == 0)) throw new GptBertException("Stop has an empty string; remove it") { Parameter = nameof(Stop) };
    }
}

/// <summary>One step of streamed output: the new token and the text it completes (may be empty mid-character or while a stop string may be starting).</summary>
public sealed record GeneratedToken(int Id, string TextDelta)
{
    /// <summary>
    /// Natural-log probability of <see cref="Id"/> in the distribution it was drawn from (after temperature, top-k and top-p; for
    /// greedy decoding, the softmax of the logits after the repetition penalty). NaN for an item that carries no token (Id -1).
    /// </summary>
    public double LogProb { get; init; } = double.NaN;
    /// <summary>
    /// The <see cref="GenerationOptions.TopLogProbs"/> most likely tokens of the same distribution, most likely first (ties by
    /// id), with their natural-log probabilities; empty unless asked for.
    /// </summary>
    public IReadOnlyList<(int Id, double LogProb)> TopLogProbs { get; init; } = [];
    /// <summary>Why generation ended; set on the last item only.</summary>
    public FinishReason? Finish { get; init; }
}

public enum FinishReason { Length, EndOfText, Stop }

public sealed record GenerationResult(IReadOnlyList<int> Ids, string Text, FinishReason Finish)
{
    public int PromptTokens { get; init; }
}

/// <summary>
/// Autoregressive generation. Implementations are safe to call from several threads at once; the concatenation of the
/// streamed <see cref="GeneratedToken.TextDelta"/> equals the final text (a stop string never reaches the stream), and
/// cancellation is honoured between decoding steps (an <see cref="OperationCanceledException"/> ends the stream).
/// </summary>
public interface ITextGenerator
{
    ModelHandle Handle { get; }
    /// <summary>The model, whichever engine runs it (the TorchSharp <see cref="Handle"/> unless the generator says otherwise).</summary>
    ILoadedModel Model => Handle;
    IAsyncEnumerable<GeneratedToken> GenerateAsync(IReadOnlyList<int> promptIds, GenerationOptions options, CancellationToken cancellationToken = default);
}

public static class TextGeneratorExtensions
{
    public static IAsyncEnumerable<GeneratedToken> GenerateAsync(this ITextGenerator g, string prompt, GenerationOptions options, CancellationToken cancellationToken = default) =>
        g.GenerateAsync(Generator.EncodePrompt(g.Model, prompt, options), options, cancellationToken);

    /// <summary>Runs a whole generation and collects it.</summary>
    public static async Task<GenerationResult> GenerateTextAsync(this ITextGenerator g, IReadOnlyList<int> promptIds, GenerationOptions options, CancellationToken cancellationToken = default)
    {
        var ids = new List<int>();
        var text = new System.Text.StringBuilder();
        FinishReason finish = FinishReason.Length;
        await foreach (var t in g.GenerateAsync(promptIds, options, cancellationToken))
        {
            if (t.Id >= 0) ids.Add(t.Id);
            text.Append(t.TextDelta);
            if (t.Finish is FinishReason f) finish = f;
        }
        return new GenerationResult(ids, text.ToString(), finish) { PromptTokens = promptIds.Count };
    }
}

/// <summary>
/// Autoregressive generation with GPT-2 and the KV cache, one sequence per call, streaming tokens as they are produced. The
/// forward passes run on TorchSharp (a <see cref="ModelHandle"/>) or on any other <see cref="IDecoderRunner"/> (ONNX Runtime).
/// </summary>
public sealed class Generator : ITextGenerator
{
    readonly ModelHandle? handle;
    readonly IDecoderRunner runner;

    public Generator(ModelHandle handle) : this(new TorchRunner(handle)) { }

    /// <summary>A generator on another engine, e.g. an exported directory in ONNX Runtime (<see cref="OnnxExport.OnnxModel"/>).</summary>
    public Generator(IDecoderRunner runner)
    {
        this.runner = runner;
        handle = (runner as TorchRunner)?.Handle;
    }

    public Action<string>? Warn { get; init; }
    /// <summary>The TorchSharp model; a generator built on another engine has none (use <see cref="Model"/>).</summary>
    public ModelHandle Handle => handle ?? throw new InvalidOperationException($"this generator runs {runner.Source} on {runner.GetType().Name}, not on TorchSharp; use Model");
    public ILoadedModel Model => runner;

    internal static GPT2LMHeadModel LanguageModel(ModelHandle handle) => handle.Model as GPT2LMHeadModel
        ?? throw NotALanguageModel(handle);

    static GptBertException NotALanguageModel(ILoadedModel model) =>
        new($"generate needs a GPT-2 language model; {model.Source} is {model.Architecture} (BERT is an encoder and does not generate text)");

    internal static void RequireLanguageModel(ILoadedModel model)
    {
        if (model is ModelHandle h) LanguageModel(h);
        else if (model.Architecture != "GPT2LMHeadModel") throw NotALanguageModel(model);
    }

    /// <summary>Prompt ids as generation takes them: no special tokens, BOS for an empty prompt, the oldest tokens dropped (or refused) to fit the context.</summary>
    public IReadOnlyList<int> EncodePrompt(string prompt, GenerationOptions options) => EncodePrompt(runner, prompt, options, Warn);

    public static IReadOnlyList<int> EncodePrompt(ILoadedModel handle, string prompt, GenerationOptions options, Action<string>? warn = null)
    {
        var tok = handle.Tokenizer;
        var ids = tok.Encode(prompt, addSpecialTokens: false).Ids.ToList();
        if (ids.Count == 0 && (BosOf(handle) ?? tok.BosId) is int bos) ids.Add(bos); // unconditional generation starts from <|endoftext|>
        if (ids.Count == 0) throw new GptBertException("the prompt is empty; give Prompt TEXT") { Parameter = "Prompt" };
        int ctx = handle.Config.MaxPositions;
        int maxNew = Math.Min(options.MaxNewTokens, ctx - 1);
        if (ids.Count + maxNew > ctx)
        {
            int keep = ctx - maxNew;
            if (options.Overflow == Overflow.Refuse)
                throw new GptBertException($"prompt ({ids.Count} tokens) + MaxNewTokens ({maxNew}) exceeds the {ctx}-token context; shorten the prompt or drop Overflow.Refuse to truncate it") { Parameter = "MaxNewTokens", RelatedParameters = ["Overflow.Refuse"] };
            warn?.Invoke($"warning: prompt truncated to its last {keep} tokens to fit the {ctx}-token context");
            ids = ids.Skip(ids.Count - keep).ToList();
        }
        return ids;
    }

    static int? BosOf(ILoadedModel h) => (h.Config as Gpt2Config)?.BosTokenId is int b && b < h.Config.VocabSize ? b : null;

    public GenerationResult Generate(string prompt, GenerationOptions o, Action<GeneratedToken>? onToken = null, CancellationToken cancellationToken = default)
    {
        o.Validate();
        var promptIds = EncodePrompt(prompt, o);
        var ids = new List<int>();
        var text = new System.Text.StringBuilder();
        FinishReason finish = FinishReason.Length;
        foreach (var t in Run(promptIds, o, cancellationToken))
        {
            if (t.Id >= 0) ids.Add(t.Id);
            text.Append(t.TextDelta);
            if (t.Finish is FinishReason f) finish = f;
            onToken?.Invoke(t);
        }
        return new GenerationResult(ids, text.ToString(), finish) { PromptTokens = promptIds.Count };
    }

    public async IAsyncEnumerable<GeneratedToken> GenerateAsync(IReadOnlyList<int> promptIds, GenerationOptions options,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        options.Validate();
        SequenceDecoder.CheckPrompt(runner, promptIds, options);
        var channel = Channel.CreateUnbounded<GeneratedToken>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var producer = Task.Run(() =>
        {
            try
            {
                foreach (var t in Run(promptIds, options, stop.Token)) channel.Writer.TryWrite(t);
                channel.Writer.TryComplete();
            }
            catch (Exception e) { channel.Writer.TryComplete(e); }
        }, CancellationToken.None);
        try
        {
            while (await channel.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                while (channel.Reader.TryRead(out var t))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    yield return t;
                }
        }
        finally
        {
            stop.Cancel(); // a consumer that stops early ends the decoding loop at its next step
            try { await producer.ConfigureAwait(false); } catch (OperationCanceledException) { }
        }
    }

    /// <summary>The decoding loop: one forward per step, batch 1.</summary>
    IEnumerable<GeneratedToken> Run(IReadOnlyList<int> promptIds, GenerationOptions o, CancellationToken ct)
    {
        RequireLanguageModel(runner);
        var decoder = new SequenceDecoder(runner, promptIds, o);
        using var cache = o.UseCache ? runner.NewCache() : null;
        while (!decoder.Finished)
        {
            ct.ThrowIfCancellationRequested();
            var context = decoder.Context;
            var feed = o.UseCache && cache!.Length > 0 ? context.Skip(context.Count - 1).ToArray() : context.ToArray();
            var logits = runner.NextTokenLogits(feed, cache); // (V) of the last position
            foreach (var t in decoder.Step(logits)) yield return t;
        }
    }
}

/// <summary>
/// One sequence's decoding state, shared by <see cref="Generator"/> and <see cref="GenerationScheduler"/>: the context for the
/// repetition penalty, its own random generator, end-of-text and stop strings, and the text released to the stream. Text that
/// could still turn out to be the start of a stop string, or an incomplete UTF-8 character, is held back until it is decided.
/// </summary>
sealed class SequenceDecoder
{
    readonly ITextTokenizer tokenizer;
    readonly GenerationOptions options;
    readonly List<int> context;
    readonly List<int> generated = [];
    readonly Random rng;
    readonly int? eos;
    readonly int maxNew;
    int emitted; // characters of the generated text already streamed

    public SequenceDecoder(ILoadedModel handle, IReadOnlyList<int> promptIds, GenerationOptions o)
    {
        tokenizer = handle.Tokenizer;
        options = o;
        context = [.. promptIds];
        rng = new SeededRandom(o.Seed ?? Random.Shared.NextInt64());
        eos = o.StopAtEos && handle.Config is Gpt2Config { EosTokenId: int e } ? e : null;
        maxNew = Math.Min(o.MaxNewTokens, handle.Config.MaxPositions - promptIds.Count);
    }

    public static void CheckPrompt(ILoadedModel handle, IReadOnlyList<int> promptIds, GenerationOptions o)
    {
        Generator.RequireLanguageModel(handle);
        int ctx = handle.Config.MaxPositions, vocab = handle.Config.VocabSize;
        if (promptIds.Count == 0) throw new GptBertException("the prompt is empty; give at least one token") { Parameter = "Prompt" };
        if (promptIds.Count >= ctx)
            throw new GptBertException($"the prompt has {promptIds.Count} tokens; the model's context is {ctx} tokens, and at least one must be left to generate") { Parameter = "Prompt" };
        foreach (var id in promptIds)
            if (id < 0 || id >= vocab)
                throw new GptBertException($"the prompt has token id {id} outside the vocabulary (0..{vocab - 1})") { Parameter = "Prompt" };
    }

    public IReadOnlyList<int> Context => context;
    public bool Finished { get; private set; }
    public int GeneratedCount => generated.Count;

    /// <summary>Chooses the next token from <paramref name="logits"/> (one row, the vocabulary) and returns what to stream.</summary>
    public IReadOnlyList<GeneratedToken> Step(ReadOnlySpan<float> logits)
    {
        if (Finished) throw new InvalidOperationException("the sequence has finished");
        var (next, logProb) = Sampling.Next(logits, context, options, rng, out var top);
        context.Add(next);
        if (eos == next)
        {
            Finished = true;
            return [new GeneratedToken(next, Pending(Decode(), out _)) { LogProb = logProb, TopLogProbs = top, Finish = FinishReason.EndOfText }];
        }
        generated.Add(next);
        var text = Decode();
        int stopAt = -1;
        foreach (var s in options.Stop)
        {
            int at = text.IndexOf(s, emitted, StringComparison.Ordinal);
            if (at >= 0 && (stopAt < 0 || at < stopAt)) stopAt = at;
        }
        if (stopAt >= 0)
        {
            Finished = true;
            var delta = stopAt > emitted ? text[emitted..stopAt] : "";
            emitted = Math.Max(emitted, stopAt);
            return [new GeneratedToken(next, delta) { LogProb = logProb, TopLogProbs = top, Finish = FinishReason.Stop }];
        }
        if (generated.Count >= maxNew)
        {
            Finished = true;
            return [new GeneratedToken(next, Pending(text, out _)) { LogProb = logProb, TopLogProbs = top, Finish = FinishReason.Length }];
        }
        int stable = text.Length - HeldBack(text);
        var released = stable > emitted ? text[emitted..stable] : "";
        emitted = Math.Max(emitted, stable);
        return [new GeneratedToken(next, released) { LogProb = logProb, TopLogProbs = top }];
    }

    string Decode() => tokenizer.Decode(generated, skipSpecialTokens: false);

    /// <summary>Everything not streamed yet (the sequence is ending).</summary>
    string Pending(string text, out int length)
    {
        length = text.Length;
        var rest = text.Length > emitted ? text[emitted..] : "";
        emitted = text.Length;
        return rest;
    }

    /// <summary>Characters at the end that must wait: an incomplete character (U+FFFD), or the start of a stop string.</summary>
    int HeldBack(string text)
    {
        int held = 0;
        while (held < text.Length && text[text.Length - 1 - held] == '\uFFFD') held++;
        var end = text.AsSpan(0, text.Length - held);
        int prefix = 0;
        foreach (var s in options.Stop)
            for (int k = Math.Min(s.Length - 1, end.Length); k > prefix; k--)
                if (end.EndsWith(s.AsSpan(0, k), StringComparison.Ordinal)) { prefix = k; break; }
        return held + prefix;
    }
}
