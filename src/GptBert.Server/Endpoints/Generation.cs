using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using GptBert.Pipelines;
using Microsoft.AspNetCore.Http;

namespace GptBert.Server.Endpoints;

/// <summary>One generated sequence as the routes report it.</summary>
public sealed class GeneratedChoice(int index)
{
    public int Index { get; } = index;
    public StringBuilder Text { get; } = new();
    /// <summary>Each generated token: id, text, log-probability, offset in <see cref="Text"/>, and the most likely alternatives when asked for.</summary>
    public List<(int Id, string Token, double LogProb, int Offset, IReadOnlyList<(string Token, double LogProb)> Top)> Tokens { get; } = [];
    public FinishReason Finish { get; set; } = Pipelines.FinishReason.Length;
    /// <summary>OpenAI's finish_reason: "length" at max_tokens, else "stop" (end of text or a stop sequence).</summary>
    public string FinishReason => Finish == Pipelines.FinishReason.Length ? "length" : "stop";
}

/// <summary>What the completion and chat routes share: sampling parameters, running a sequence, metrics, streaming.</summary>
public static class Generation
{
    public const int MaxChoices = 16;

    /// <summary>
    /// OpenAI's sampling parameters as GenerationOptions (temperature 0 is greedy; no top-k, as OpenAI has none),
    /// refusing bad values and prompts that leave no room for max_tokens, with 400s naming the parameter.
    /// </summary>
    public static GenerationOptions Options(JsonRequest body, ServedModel model, IReadOnlyList<IReadOnlyList<int>> prompts, int? defaultMaxTokens,
        IReadOnlyList<string> templateStops)
    {
        int context = model.ContextLength;
        int longest = prompts.Max(p => p.Count);
        string maxParam = body.Has("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
        int? requested = body.Int(maxParam);
        if (requested is < 1) throw ApiException.BadRequest($"'{maxParam}' must be at least 1 (got {requested})", maxParam);
        int maxTokens = requested ?? defaultMaxTokens ?? context - longest;
        if (longest + maxTokens > context)
            throw ApiException.BadRequest(
                $"This model's maximum context length is {context} tokens. However, you requested {longest + maxTokens} tokens ({longest} in the prompt, {maxTokens} for the completion). Please reduce the prompt or {maxParam}.",
                requested is null ? "messages" : maxParam, "context_length_exceeded");
        double temperature = body.Double("temperature") ?? 1.0;
        if (temperature is < 0 or > 2) throw ApiException.BadRequest($"'temperature' must be between 0 and 2 (got {temperature})", "temperature");
        double topP = body.Double("top_p") ?? 1.0;
        if (!(topP > 0 && topP <= 1)) throw ApiException.BadRequest($"'top_p' must be in (0, 1] (got {topP})", "top_p");
        var stops = body.Strings("stop") ?? [];
        if (stops.Count > 16) throw ApiException.BadRequest("'stop' takes at most 16 sequences", "stop");
        if (stops.Any(s => s.Length == 0)) throw ApiException.BadRequest("'stop' sequences must not be empty", "stop");
        return AI.ChatSampling.ToOptions(context, longest, maxTokens, temperature, topP, topK: null, stops, templateStops, body.Int("seed"));
    }

    public static int Choices(JsonRequest body)
    {
        int n = body.Int("n") ?? 1;
        if (n is < 1 or > MaxChoices) throw ApiException.BadRequest($"'n' must be between 1 and {MaxChoices} (got {n})", "n");
        return n;
    }

    public static void CheckPromptTokens(HttpContext context, ServerState state, IReadOnlyList<IReadOnlyList<int>> prompts, string param)
    {
        long total = prompts.Sum(p => (long)p.Count);
        Inputs.CheckTotal(state, total, param);
        context.Features.Get<RequestInfo>()!.PromptTokens = total;
    }

    /// <summary>
    /// Runs one sequence through the model's generator (the library's, as the CLI and IChatClient use it), recording
    /// tokens, log-probabilities and metrics; <paramref name="onToken"/> sees each token as it comes (streaming).
    /// Choice i of a seeded request uses seed + i, so choices differ yet repeat.
    /// </summary>
    public static async Task<GeneratedChoice> RunAsync(ServedModel model, ServerState state, HttpContext context, int index,
        IReadOnlyList<int> prompt, GenerationOptions options, Func<GeneratedChoice, GeneratedToken, ValueTask>? onToken = null)
    {
        var info = context.Features.Get<RequestInfo>()!;
        var choice = new GeneratedChoice(index);
        if (options.Seed is long seed && index > 0) options = options with { Seed = seed + index };
        long first = 0, last = 0;
        int count = 0;
        await foreach (var t in model.Generator!.GenerateAsync(prompt, options, context.RequestAborted))
        {
            if (t.Id >= 0)
            {
                last = Stopwatch.GetTimestamp();
                if (count++ == 0)
                {
                    first = last;
                    state.Metrics.TimeToFirstToken.WithLabels(model.Name).Observe(Stopwatch.GetElapsedTime(info.Started, first).TotalSeconds);
                }
                info.AddCompletionToken();
                state.Metrics.GeneratedTokens.WithLabels(model.Name).Inc();
                if (!(t.Finish is FinishReason.EndOfText && t.TextDelta.Length == 0))
                    choice.Tokens.Add((t.Id, model.Tokenizer.Decode([t.Id], skipSpecialTokens: false), t.LogProb, choice.Text.Length,
                        t.TopLogProbs.Select(a => (model.Tokenizer.Decode([a.Id], skipSpecialTokens: false), a.LogProb)).ToList()));
            }
            choice.Text.Append(t.TextDelta);
            if (t.Finish is FinishReason f) choice.Finish = f;
            if (onToken is not null) await onToken(choice, t);
        }
        if (count > 1) state.Metrics.TimePerOutputToken.WithLabels(model.Name).Observe(Stopwatch.GetElapsedTime(first, last).TotalSeconds / (count - 1));
        return choice;
    }

    /// <summary>Every (prompt, choice) pair at once; the generator (the continuous-batching scheduler) decodes them together.</summary>
    public static async Task<GeneratedChoice[]> RunAllAsync(ServedModel model, ServerState state, HttpContext context,
        IReadOnlyList<IReadOnlyList<int>> prompts, int n, GenerationOptions options) =>
        await Task.WhenAll(prompts.SelectMany((p, i) => Enumerable.Range(0, n).Select(k => RunAsync(model, state, context, i * n + k, p, options))));

    /// <summary>
    /// Server-sent events for every (prompt, choice) pair generating at once: each token becomes one event, made by
    /// <paramref name="chunk"/>; after the last, <paramref name="final"/> may add events (usage), then "[DONE]".
    /// A failure after the stream started ends it with an error event (the status is already sent).
    /// </summary>
    public static async IAsyncEnumerable<string> StreamAsync(ServedModel model, ServerState state, HttpContext context,
        IReadOnlyList<IReadOnlyList<int>> prompts, int n, GenerationOptions options,
        Func<GeneratedChoice, GeneratedToken, string?> chunk, Func<IReadOnlyList<GeneratedChoice>, IEnumerable<string>> final,
        IEnumerable<string>? opening = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var e in opening ?? []) yield return e;
        var events = Channel.CreateUnbounded<string>();
        var runs = prompts.SelectMany((p, i) => Enumerable.Range(0, n).Select(k => RunAsync(model, state, context, i * n + k, p, options,
            (c, t) => chunk(c, t) is { } e ? events.Writer.WriteAsync(e, context.RequestAborted) : ValueTask.CompletedTask))).ToArray();
        var all = Task.WhenAll(runs);
        _ = all.ContinueWith(_ => events.Writer.TryComplete(), TaskScheduler.Default);
        await foreach (var e in events.Reader.ReadAllAsync(CancellationToken.None)) yield return e;
        string? error = null;
        try { await all; }
        catch (Exception e) when (e is not OperationCanceledException && !context.RequestAborted.IsCancellationRequested)
        {
            var ex = e is ApiException a ? a : e is GptBertException g ? ApiException.BadRequest(g.Message)
                : ApiException.Internal(context.Features.Get<RequestInfo>()!.Id);
            error = JsonSerializer.Serialize(ex.Body, state.Json);
        }
        if (error is not null) { yield return error; yield break; }
        foreach (var e in final(runs.Select(r => r.Result).ToList())) yield return e;
        yield return "[DONE]";
    }

    public static string Id(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    public static double? LogProb(double lp) => double.IsNaN(lp) ? null : lp;
}
