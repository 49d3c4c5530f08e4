using System.Text.Json.Serialization;

namespace GptBert.Server;

/// <summary>The body of every error: OpenAI's shape, <c>{"error": {"message", "type", "param", "code"}}</c>.</summary>
public sealed record ErrorBody(ErrorDetail Error);

public sealed record ErrorDetail(string Message, string Type,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Param,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Code);

/// <summary>
/// A request that cannot be served, with the HTTP status and OpenAI's error fields. Thrown anywhere below an
/// endpoint; <see cref="RequestPipeline"/> writes it.
/// </summary>
public sealed class ApiException(int status, string message, string type = "invalid_request_error", string? param = null, string? code = null)
    : Exception(message)
{
    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Param { get; } = param;
    public string? Code { get; } = code;
    /// <summary>Seconds a client should wait before retrying (429, 503).</summary>
    public int? RetryAfterSeconds { get; init; }

    public ErrorBody Body => new(new ErrorDetail(Message, Type, Param, Code));

    public static ApiException BadRequest(string message, string? param = null, string? code = null) => new(400, message, param: param, code: code);

    public static ApiException ModelNotFound(string model, IEnumerable<string> served) =>
        new(404, $"The model '{model}' does not exist; this server serves: {string.Join(", ", served)}", param: "model", code: "model_not_found");

    public static ApiException Unauthorized(string message) => new(401, message, code: "invalid_api_key");

    public static ApiException TooLarge(long limit) =>
        new(413, $"The request body is larger than this server's limit of {limit} bytes (--max-body-bytes)", code: "request_too_large");

    public static ApiException Overloaded() =>
        new(429, "The server is busy: too many requests are running or waiting; retry shortly", "rate_limit_error", code: "rate_limit_exceeded") { RetryAfterSeconds = 1 };

    public static ApiException NotReady() =>
        new(503, "The server is starting or stopping; retry shortly", "server_error", code: "not_ready") { RetryAfterSeconds = 1 };

    public static ApiException Timeout(TimeSpan limit) =>
        new(504, $"The request took longer than this server's limit of {limit.TotalSeconds:0.###} s (--request-timeout)", "timeout_error", code: "timeout");

    public static ApiException Internal(string requestId) =>
        new(500, $"The server had an error while processing your request (request id {requestId}); see the server log", "server_error");
}
