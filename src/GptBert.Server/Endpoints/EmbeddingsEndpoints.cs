using System.Text.Json;
using GptBert.Tokenizers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace GptBert.Server.Endpoints;

public sealed record EmbeddingItem(int Index, object Embedding)
{
    public string Object => "embedding";
}

public sealed record Usage(long PromptTokens, long TotalTokens, long? CompletionTokens = null);

public sealed record EmbeddingList(IReadOnlyList<EmbeddingItem> Data, string Model, Usage Usage)
{
    public string Object => "list";
}

/// <summary>POST /v1/embeddings: the model's sentence embeddings (the library's Embedder), dynamically batched.</summary>
public static class EmbeddingsEndpoints
{
    public static IEndpointRouteBuilder MapEmbeddings(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/embeddings", async (HttpContext context, ServerState state) =>
        {
            var body = await JsonRequest.ReadAsync(context);
            var model = Inputs.Model(context, state, body);
            string format = body.String("encoding_format") ?? "float";
            if (format is not ("float" or "base64"))
                throw ApiException.BadRequest($"'encoding_format' must be \"float\" or \"base64\" (got \"{format}\")", "encoding_format");
            if (body.Int("dimensions") is int dims && dims != model.Embedder.Dimension)
                throw ApiException.BadRequest($"'dimensions': the model '{model.Name}' gives {model.Embedder.Dimension}-dimensional embeddings and cannot shorten them (got {dims})", "dimensions");
            var encodings = Inputs.Encodings(context, state, model, body, "input");
            long tokens = encodings.Sum(e => (long)e.Length);
            var vectors = await model.Embeddings.SubmitAsync(encodings, context.RequestAborted);
            var items = vectors.Select((v, i) => new EmbeddingItem(i, format == "base64" ? Base64(v) : v)).ToList();
            return TypedResults.Ok(new EmbeddingList(items, model.Name, new Usage(tokens, tokens)));
        });
        return app;
    }

    /// <summary>OpenAI's base64 encoding: the float32 values' little-endian bytes.</summary>
    public static string Base64(float[] v)
    {
        var bytes = new byte[v.Length * 4];
        for (int i = 0; i < v.Length; i++) BitConverter.TryWriteBytes(bytes.AsSpan(i * 4), v[i]);
        if (!BitConverter.IsLittleEndian)
            for (int i = 0; i < bytes.Length; i += 4) bytes.AsSpan(i, 4).Reverse();
        return Convert.ToBase64String(bytes);
    }
}

/// <summary>Reading and checking the inputs that several routes share: the model, texts, token ids, lengths.</summary>
public static class Inputs
{
    public static ServedModel Model(HttpContext context, ServerState state, JsonRequest body)
    {
        var m = state.Models.Get(body.String("model"));
        context.Features.Get<RequestInfo>()!.Model = m.Name;
        return m;
    }

    /// <summary>
    /// OpenAI's input union: a string, an array of strings, an array of token ids, or an array of such arrays; each
    /// item is a text or the model's own token ids (checked against its vocabulary).
    /// </summary>
    static List<(string? Text, int[]? Ids)> Items(JsonRequest body, string name, ServedModel model)
    {
        var v = body.Raw(name) ?? throw ApiException.BadRequest($"'{name}' is required", name);
        List<(string? Text, int[]? Ids)> items;
        switch (v.ValueKind)
        {
            case JsonValueKind.String:
                items = [((string?)v.GetString()!, (int[]?)null)];
                break;
            case JsonValueKind.Array:
                var elements = v.EnumerateArray().ToList();
                if (elements.Count == 0) throw ApiException.BadRequest($"'{name}' must not be empty", name);
                if (elements.All(e => e.ValueKind == JsonValueKind.String)) items = elements.Select(e => (Text: (string?)e.GetString(), Ids: (int[]?)null)).ToList();
                else if (elements.All(e => e.ValueKind == JsonValueKind.Number)) items = [(null, CheckIds(model, JsonRequest.Ids(v, name), name))];
                else if (elements.All(e => e.ValueKind == JsonValueKind.Array))
                    items = elements.Select((e, i) => ((string?)null, (int[]?)CheckIds(model, JsonRequest.Ids(e, $"{name}[{i}]"), $"{name}[{i}]"))).ToList();
                else throw ApiException.BadRequest($"'{name}' must be a string, an array of strings, an array of token ids or an array of token-id arrays (not a mixture)", name);
                break;
            default:
                throw JsonRequest.WrongType(name, "a string or an array", v);
        }
        for (int i = 0; i < items.Count; i++)
            if (items[i].Text is { Length: 0 })
                throw ApiException.BadRequest($"'{name}{(items.Count > 1 ? $"[{i}]" : "")}' is empty; every input needs at least one token", name);
        return items;
    }

    /// <summary>The input union as texts (token ids decoded with the model's tokenizer), for routes that take text.</summary>
    public static IReadOnlyList<string> Texts(JsonRequest body, string name, ServedModel model) =>
        Items(body, name, model).Select(i => i.Text ?? model.Tokenizer.Decode(i.Ids!, skipSpecialTokens: true)).ToList();

    /// <summary>
    /// The input union tokenized once, as the model takes it: texts encoded, token ids used as given with the model's
    /// special tokens added; lengths checked as <see cref="CheckLengths"/> does.
    /// </summary>
    public static IReadOnlyList<TokenizedText> Encodings(HttpContext context, ServerState state, ServedModel model, JsonRequest body, string name)
    {
        var items = Items(body, name, model);
        var encodings = items.Select(i => i.Text is not null
            ? model.Tokenizer.Encode(i.Text, addSpecialTokens: true)
            : model.Tokenizer.EncodeIds(i.Ids!, addSpecialTokens: true)).ToList();
        CheckEncodings(context, state, model, encodings, name);
        return encodings;
    }

    static int[] CheckIds(ServedModel model, int[] ids, string name)
    {
        if (ids.Length == 0) throw ApiException.BadRequest($"'{name}' is an empty token array", name);
        int vocab = model.Tokenizer.VocabSize;
        foreach (var id in ids)
            if (id < 0 || id >= vocab) throw ApiException.BadRequest($"'{name}' has token id {id}, outside the model's vocabulary (0-{vocab - 1})", name);
        return ids;
    }

    /// <summary>
    /// Refuses an input longer than the model takes, or a request whose inputs together pass --max-input-tokens (both
    /// 400, naming the limit); returns the tokens counted, for usage.
    /// </summary>
    public static long CheckLengths(HttpContext context, ServerState state, ServedModel model, IReadOnlyList<string> texts, string name,
        IReadOnlyList<string?>? pairs = null) =>
        CheckEncodings(context, state, model, texts.Select((t, i) => model.Tokenizer.Encode(t, pairs?[i], addSpecialTokens: true)).ToList(), name);

    public static long CheckLengths(HttpContext context, ServerState state, ServedModel model, IReadOnlyList<TokenizedText> encodings, string name) =>
        CheckEncodings(context, state, model, encodings, name);

    static long CheckEncodings(HttpContext context, ServerState state, ServedModel model, IReadOnlyList<TokenizedText> encodings, string name)
    {
        long total = 0;
        for (int i = 0; i < encodings.Count; i++)
        {
            int n = encodings[i].Length;
            if (n > model.MaxInputLength)
                throw ApiException.BadRequest(
                    $"'{name}{(encodings.Count > 1 ? $"[{i}]" : "")}' has {n} tokens; the model '{model.Name}' takes at most {model.MaxInputLength} tokens per input", name, "context_length_exceeded");
            total += n;
        }
        CheckTotal(state, total, name);
        context.Features.Get<RequestInfo>()!.PromptTokens = total;
        return total;
    }

    public static void CheckTotal(ServerState state, long total, string name)
    {
        if (total > state.Options.MaxInputTokens)
            throw ApiException.BadRequest(
                $"the request's inputs have {total} tokens in all; this server takes at most {state.Options.MaxInputTokens} per request (--max-input-tokens)", name, "too_many_tokens");
    }
}
