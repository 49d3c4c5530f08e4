using System.Net.ServerSentEvents;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using GptBert.Pipelines;
using Microsoft.AspNetCore.Routing;

namespace GptBert.Server.Endpoints;

public sealed record CompletionLogprobs(IReadOnlyList<string> Tokens, IReadOnlyList<double?> TokenLogprobs,
    IReadOnlyList<Dictionary<string, double?>> TopLogprobs, IReadOnlyList<int> TextOffset);

public sealed record CompletionChoice(string Text, int Index,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] CompletionLogprobs? Logprobs,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? FinishReason);

public sealed record CompletionResponse(string Id, long Created, string Model, IReadOnlyList<CompletionChoice> Choices, Usage? Usage)
{
    public string Object => "text_completion";
}

/// <summary>POST /v1/completions: continue one or more prompts with a GPT-2 language model, whole or streamed.</summary>
public static class CompletionsEndpoints
{
    /// <summary>
    /// The legacy API's top_logprobs entry: the <c>logprobs</c> most likely tokens, plus the sampled one when it is not
    /// among them (so up to logprobs + 1, as OpenAI documents); two ids that decode to the same text keep the likelier.
    /// </summary>
    static Dictionary<string, double?> TopLogprobs(string token, double logProb, IReadOnlyList<(string Token, double LogProb)> top)
    {
        var d = new Dictionary<string, double?>(StringComparer.Ordinal);
        foreach (var (t, lp) in top) d.TryAdd(t, Generation.LogProb(lp));
        d.TryAdd(token, Generation.LogProb(logProb));
        return d;
    }

    public static IEndpointRouteBuilder MapCompletions(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/completions", async Task<IResult> (HttpContext context, ServerState state) =>
        {
            var body = await JsonRequest.ReadAsync(context);
            var model = Inputs.Model(context, state, body);
            if (model.Generator is null) throw model.CannotDo("text generation", "/v1/completions");
            var prompts = Prompts(body, model);
            Generation.CheckPromptTokens(context, state, prompts, "prompt");
            var options = Generation.Options(body, model, prompts, defaultMaxTokens: 16, templateStops: []);
            int n = Generation.Choices(body);
            int? logprobs = body.Int("logprobs");
            if (logprobs is < 0 or > 5) throw ApiException.BadRequest($"'logprobs' must be between 0 and 5 (got {logprobs})", "logprobs");
            options = options with { TopLogProbs = logprobs ?? 0 };
            if (body.Bool("echo") == true) throw ApiException.BadRequest("'echo' is not supported by this server", "echo");
            string id = Generation.Id("cmpl");
            long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            CompletionLogprobs? Logprobs(GeneratedChoice c, int from = 0) => logprobs is null ? null : new(
                c.Tokens.Skip(from).Select(t => t.Token).ToList(), c.Tokens.Skip(from).Select(t => Generation.LogProb(t.LogProb)).ToList(),
                c.Tokens.Skip(from).Select(t => TopLogprobs(t.Token, t.LogProb, t.Top)).ToList(),
                c.Tokens.Skip(from).Select(t => t.Offset).ToList());

            if (body.Bool("stream") == true)
            {
                bool usage = StreamOptions(body);
                var sent = new Dictionary<int, int>();
                string? Chunk(GeneratedChoice c, GeneratedToken t)
                {
                    if (t.TextDelta.Length == 0 && t.Finish is null) return null;
                    int from;
                    lock (sent) { from = sent.GetValueOrDefault(c.Index); sent[c.Index] = c.Tokens.Count; }
                    return JsonSerializer.Serialize(new CompletionResponse(id, created, model.Name,
                        [new CompletionChoice(t.TextDelta, c.Index, Logprobs(c, from), t.Finish is null ? null : c.FinishReason)], null), state.Json);
                }
                IEnumerable<string> Final(IReadOnlyList<GeneratedChoice> all)
                {
                    if (usage) yield return JsonSerializer.Serialize(new CompletionResponse(id, created, model.Name, [], UsageOf(context)), state.Json);
                }
                return TypedResults.ServerSentEvents(Generation.StreamAsync(model, state, context, prompts, n, options, Chunk, Final)
                    .Select(data => new SseItem<string>(data)));
            }
            var choices = await Generation.RunAllAsync(model, state, context, prompts, n, options);
            return TypedResults.Ok(new CompletionResponse(id, created, model.Name,
                choices.Select(c => new CompletionChoice(c.Text.ToString(), c.Index, Logprobs(c), c.FinishReason)).ToList(), UsageOf(context)));
        });
        return app;
    }

    public static Usage UsageOf(HttpContext context)
    {
        var info = context.Features.Get<RequestInfo>()!;
        return new Usage(info.PromptTokens, info.PromptTokens + info.CompletionTokens, info.CompletionTokens);
    }

    public static bool StreamOptions(JsonRequest body) =>
        body.Raw("stream_options") is { } so && (so.ValueKind == JsonValueKind.Object
            ? so.TryGetProperty("include_usage", out var iu) && iu.ValueKind == JsonValueKind.True
            : throw JsonRequest.WrongType("stream_options", "an object", so));

    /// <summary>OpenAI's prompt union: a string, an array of strings, an array of token ids, or an array of such arrays.</summary>
    static IReadOnlyList<IReadOnlyList<int>> Prompts(JsonRequest body, ServedModel model)
    {
        var v = body.Raw("prompt") ?? throw ApiException.BadRequest("'prompt' is required", "prompt");
        IReadOnlyList<int> Ids(JsonElement e, string name)
        {
            var ids = JsonRequest.Ids(e, name);
            if (ids.Length == 0) throw ApiException.BadRequest($"'{name}' is an empty token array", name);
            foreach (var id in ids)
                if (id < 0 || id >= model.Tokenizer.VocabSize)
                    throw ApiException.BadRequest($"'{name}' has token id {id}, outside the model's vocabulary (0-{model.Tokenizer.VocabSize - 1})", name);
            return ids;
        }
        switch (v.ValueKind)
        {
            case JsonValueKind.String: return [model.EncodePrompt(v.GetString()!)];
            case JsonValueKind.Array:
                var items = v.EnumerateArray().ToList();
                if (items.Count == 0) throw ApiException.BadRequest("'prompt' must not be empty", "prompt");
                if (items.All(e => e.ValueKind == JsonValueKind.String)) return items.Select(e => model.EncodePrompt(e.GetString()!)).ToList();
                if (items.All(e => e.ValueKind == JsonValueKind.Number)) return [Ids(v, "prompt")];
                if (items.All(e => e.ValueKind == JsonValueKind.Array)) return items.Select((e, i) => Ids(e, $"prompt[{i}]")).ToList();
                throw ApiException.BadRequest("'prompt' must be a string, an array of strings, an array of token ids or an array of token-id arrays (not a mixture)", "prompt");
            default: throw JsonRequest.WrongType("prompt", "a string or an array", v);
        }
    }
}
