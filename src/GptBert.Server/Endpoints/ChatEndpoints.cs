using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using GptBert.Tokenizers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using GptBert.Pipelines;
using Microsoft.AspNetCore.Routing;

namespace GptBert.Server.Endpoints;

public sealed record ChatMessageOut(string Role, [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Content);
public sealed record ChatTopLogprob(string Token, double? Logprob, IReadOnlyList<int> Bytes);
public sealed record ChatTokenLogprob(string Token, double? Logprob, IReadOnlyList<int> Bytes, IReadOnlyList<ChatTopLogprob> TopLogprobs);
public sealed record ChatLogprobs(IReadOnlyList<ChatTokenLogprob> Content);

public sealed record ChatChoice(int Index, ChatMessageOut Message,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] ChatLogprobs? Logprobs, string FinishReason);

public sealed record ChatResponse(string Id, long Created, string Model, IReadOnlyList<ChatChoice> Choices, Usage Usage)
{
    public string Object => "chat.completion";
}

public sealed record ChatDelta(string? Role, string? Content);

public sealed record ChatChunkChoice(int Index, ChatDelta Delta,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] ChatLogprobs? Logprobs,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? FinishReason);

public sealed record ChatChunk(string Id, long Created, string Model, IReadOnlyList<ChatChunkChoice> Choices, Usage? Usage)
{
    public string Object => "chat.completion.chunk";
}

/// <summary>
/// POST /v1/chat/completions: the messages rendered by the model's chat template (tokenizer_config.json's
/// chat_template, else the default "role: content" template), then generation as /v1/completions does it.
/// </summary>
public static class ChatEndpoints
{
    public static IEndpointRouteBuilder MapChatCompletions(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/chat/completions", async Task<IResult> (HttpContext context, ServerState state) =>
        {
            var body = await JsonRequest.ReadAsync(context);
            var model = Inputs.Model(context, state, body);
            if (model.Generator is null) throw model.CannotDo("text generation", "/v1/chat/completions");
            var messages = Messages(body);
            IReadOnlyList<int> prompt;
            try { prompt = model.ChatTemplate!.Encode(model.Tokenizer, messages); }
            catch (GptBertException e) { throw ApiException.BadRequest(e.Message, "messages"); }
            IReadOnlyList<IReadOnlyList<int>> prompts = [prompt];
            Generation.CheckPromptTokens(context, state, prompts, "messages");
            var options = Generation.Options(body, model, prompts, defaultMaxTokens: null, model.ChatTemplate!.Stops);
            int n = Generation.Choices(body);
            bool logprobs = body.Bool("logprobs") ?? false;
            int topLogprobs = body.Int("top_logprobs") ?? 0;
            if (topLogprobs is < 0 or > 20) throw ApiException.BadRequest($"'top_logprobs' must be between 0 and 20 (got {topLogprobs})", "top_logprobs");
            if (topLogprobs > 0 && !logprobs)
                throw ApiException.BadRequest("'top_logprobs' needs 'logprobs': true", "top_logprobs");
            options = options with { TopLogProbs = topLogprobs };
            string id = Generation.Id("chatcmpl");
            long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            ChatLogprobs? Logprobs(GeneratedChoice c, int from = 0) => !logprobs ? null : new(c.Tokens.Skip(from).Select(t =>
            {
                var bytes = Encoding.UTF8.GetBytes(t.Token).Select(b => (int)b).ToList();
                double? lp = Generation.LogProb(t.LogProb);
                return new ChatTokenLogprob(t.Token, lp, bytes,
                    t.Top.Select(a => new ChatTopLogprob(a.Token, Generation.LogProb(a.LogProb), Encoding.UTF8.GetBytes(a.Token).Select(b => (int)b).ToList())).ToList());
            }).ToList());

            if (body.Bool("stream") == true)
            {
                bool usage = CompletionsEndpoints.StreamOptions(body);
                var sent = new Dictionary<int, int>();
                var opening = Enumerable.Range(0, n).Select(i => JsonSerializer.Serialize(new ChatChunk(id, created, model.Name,
                    [new ChatChunkChoice(i, new ChatDelta("assistant", ""), null, null)], null), state.Json)).ToList();
                string? Chunk(GeneratedChoice c, GeneratedToken t)
                {
                    if (t.TextDelta.Length == 0 && t.Finish is null) return null;
                    int from;
                    lock (sent) { from = sent.GetValueOrDefault(c.Index); sent[c.Index] = c.Tokens.Count; }
                    return JsonSerializer.Serialize(new ChatChunk(id, created, model.Name,
                        [new ChatChunkChoice(c.Index, new ChatDelta(null, t.TextDelta.Length > 0 ? t.TextDelta : null), Logprobs(c, from),
                            t.Finish is null ? null : c.FinishReason)], null), state.Json);
                }
                IEnumerable<string> Final(IReadOnlyList<GeneratedChoice> all)
                {
                    if (usage) yield return JsonSerializer.Serialize(new ChatChunk(id, created, model.Name, [], CompletionsEndpoints.UsageOf(context)), state.Json);
                }
                return TypedResults.ServerSentEvents(Generation.StreamAsync(model, state, context, prompts, n, options, Chunk, Final, opening)
                    .Select(data => new SseItem<string>(data)));
            }
            var choices = await Generation.RunAllAsync(model, state, context, prompts, n, options);
            return TypedResults.Ok(new ChatResponse(id, created, model.Name,
                choices.Select(c => new ChatChoice(c.Index, new ChatMessageOut("assistant", c.Text.ToString()), Logprobs(c), c.FinishReason)).ToList(),
                CompletionsEndpoints.UsageOf(context)));
        });
        return app;
    }

    /// <summary>OpenAI's messages: role + content, where content is a string or an array of {"type": "text", "text"} parts.</summary>
    public static IReadOnlyList<ChatTurn> Messages(JsonRequest body)
    {
        var v = body.Raw("messages") ?? throw ApiException.BadRequest("'messages' is required", "messages");
        if (v.ValueKind != JsonValueKind.Array) throw JsonRequest.WrongType("messages", "an array of messages", v);
        var turns = new List<ChatTurn>();
        int i = 0;
        foreach (var m in v.EnumerateArray())
        {
            string at = $"messages[{i++}]";
            if (m.ValueKind != JsonValueKind.Object) throw JsonRequest.WrongType(at, "an object", m);
            string role = m.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString()!
                : throw ApiException.BadRequest($"'{at}.role' is required and must be a string", $"{at}.role");
            string content = !m.TryGetProperty("content", out var c) || c.ValueKind == JsonValueKind.Null ? ""
                : c.ValueKind == JsonValueKind.String ? c.GetString()!
                : c.ValueKind == JsonValueKind.Array ? string.Concat(c.EnumerateArray().Select((p, k) =>
                    p.ValueKind == JsonValueKind.Object && p.TryGetProperty("type", out var t) && t.GetString() == "text" && p.TryGetProperty("text", out var x) && x.ValueKind == JsonValueKind.String
                        ? x.GetString() : throw ApiException.BadRequest($"'{at}.content[{k}]': only text parts ({{\"type\": \"text\", \"text\": ...}}) are supported", $"{at}.content")))
                : throw JsonRequest.WrongType($"{at}.content", "a string or an array of content parts", c);
            turns.Add(new ChatTurn(role, content));
        }
        if (turns.Count == 0) throw ApiException.BadRequest("'messages' must not be empty", "messages");
        return turns;
    }
}
