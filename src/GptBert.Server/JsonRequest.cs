using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace GptBert.Server;

/// <summary>
/// A request's JSON body read by hand, so that every wrong type or value is a 400 naming its field (OpenAI's
/// <c>param</c>) rather than a binder's generic message, and so that OpenAI's union types (a string or an array of
/// strings, or of token ids) are read as the API reference defines them.
/// </summary>
public sealed class JsonRequest
{
    readonly JsonElement root;
    JsonRequest(JsonElement root) => this.root = root;

    public static async Task<JsonRequest> ReadAsync(HttpContext context)
    {
        try
        {
            using var doc = await JsonDocument.ParseAsync(context.Request.Body, default, context.RequestAborted);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw ApiException.BadRequest($"The request body must be a JSON object (got {Describe(doc.RootElement.ValueKind)})");
            return new JsonRequest(doc.RootElement.Clone());
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"The request body is not valid JSON: {e.Message}");
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw ApiException.TooLarge(context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize ?? 0);
        }
    }

    public bool Has(string name) => root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null;

    JsonElement? Get(string name) => root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public JsonElement? Raw(string name) => Get(name);

    public string RequiredString(string name) =>
        String(name) ?? throw ApiException.BadRequest($"'{name}' is required", name);

    public string? String(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } v => v.GetString(),
        var v => throw WrongType(name, "a string", v.Value),
    };

    public int? Int(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Number } v when v.TryGetInt32(out int i) => i,
        { ValueKind: JsonValueKind.Number } v when v.TryGetDouble(out double d) && d == Math.Floor(d) =>
            throw ApiException.BadRequest($"'{name}' is out of range (got {v.GetRawText()})", name),
        var v => throw WrongType(name, "an integer", v.Value),
    };

    public double? Double(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Number } v => v.GetDouble(),
        var v => throw WrongType(name, "a number", v.Value),
    };

    public bool? Bool(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        var v => throw WrongType(name, "a boolean", v.Value),
    };

    /// <summary>A string or an array of strings (OpenAI's <c>stop</c>, <c>prompt</c>).</summary>
    public IReadOnlyList<string>? Strings(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } v => [v.GetString()!],
        { ValueKind: JsonValueKind.Array } v => v.EnumerateArray().Select((e, i) => e.ValueKind == JsonValueKind.String ? e.GetString()!
            : throw WrongType($"{name}[{i}]", "a string", e)).ToList(),
        var v => throw WrongType(name, "a string or an array of strings", v.Value),
    };

    /// <summary>An array of integers (token ids).</summary>
    public static int[] Ids(JsonElement v, string name) => v.ValueKind == JsonValueKind.Array
        ? v.EnumerateArray().Select((e, i) => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int id) ? id
            : throw WrongType($"{name}[{i}]", "an integer token id", e)).ToArray()
        : throw WrongType(name, "an array of token ids", v);

    public static ApiException WrongType(string name, string expected, JsonElement got) =>
        ApiException.BadRequest($"'{name}' must be {expected} (got {Describe(got.ValueKind)})", name);

    public static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };
}
