using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace GptBert.Server;

/// <summary>What one request did, filled in by its endpoint and read by the log line and metrics.</summary>
public sealed class RequestInfo(string id, long started)
{
    long completionTokens;
    public string Id { get; } = id;
    /// <summary><see cref="Stopwatch.GetTimestamp"/> at the request's arrival (time to first token counts from here).</summary>
    public long Started { get; } = started;
    public string? Model { get; set; }
    public long PromptTokens { get; set; }
    public long CompletionTokens => Interlocked.Read(ref completionTokens);
    /// <summary>Counts one generated token (choices of one request generate concurrently).</summary>
    public void AddCompletionToken() => Interlocked.Increment(ref completionTokens);
}

/// <summary>Marks the routes that run a model: they need a concurrency slot and the models to be loaded.</summary>
public sealed class ModelRouteMetadata;

/// <summary>
/// The middleware every request goes through, in order: request id (echoed as X-Request-Id), the API key, the
/// concurrency limit with its bounded queue (429 + Retry-After), the request timeout, and the translation of every
/// failure into OpenAI's error shape; then one JSON log line and the request metrics.
/// </summary>
public sealed class RequestPipeline(RequestDelegate next, ServerState state, ILogger<RequestPipeline> logger)
{
    static readonly JsonSerializerOptions LogJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    readonly byte[]? keyHash = state.Options.ApiKey is { } k ? SHA256.HashData(Encoding.UTF8.GetBytes(k)) : null;

    public async Task InvokeAsync(HttpContext context)
    {
        long started = Stopwatch.GetTimestamp();
        var info = new RequestInfo(RequestId(context), started);
        context.Features.Set(info);
        context.Response.Headers["X-Request-Id"] = info.Id;
        var endpoint = context.GetEndpoint();
        string route = (endpoint as RouteEndpoint)?.RoutePattern.RawText ?? "unmatched";
        var clientGone = context.RequestAborted;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(clientGone);
        deadline.CancelAfter(state.Options.RequestTimeout);
        context.RequestAborted = deadline.Token;
        int status = 500;
        try
        {
            if (route is not ("/health" or "/ready")) CheckApiKey(context);
            if (endpoint is null) throw new ApiException(404, $"Unknown route {context.Request.Method} {context.Request.Path}; see GET /v1/models and the README's Serve section", code: "not_found");
            if (endpoint.Metadata.GetMetadata<ModelRouteMetadata>() is not null)
            {
                if (!state.Ready) throw ApiException.NotReady();
                using var lease = await state.Limiter.AcquireAsync(1, context.RequestAborted);
                if (!lease.IsAcquired) throw ApiException.Overloaded();
                await next(context);
            }
            else await next(context);
            // Routing's own refusals (a known path with the wrong method) get a body in OpenAI's shape too.
            if (context.Response.StatusCode == StatusCodes.Status405MethodNotAllowed && !context.Response.HasStarted)
                throw new ApiException(405, $"{context.Request.Method} is not allowed on {context.Request.Path}", code: "method_not_allowed");
            status = context.Response.StatusCode;
        }
        catch (OperationCanceledException) when (clientGone.IsCancellationRequested)
        {
            status = 499; // nginx's "client closed request": nobody is there to read an answer
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            status = await WriteError(context, ApiException.Timeout(state.Options.RequestTimeout));
        }
        catch (ApiException e)
        {
            status = await WriteError(context, e);
        }
        catch (BadHttpRequestException e)
        {
            status = await WriteError(context, e.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? ApiException.TooLarge(state.Options.MaxRequestBodyBytes)
                : new ApiException(e.StatusCode, e.Message));
        }
        catch (GptBertException e) when (!context.Response.HasStarted)
        {
            // The library's user errors (an input it refuses) are the client's to fix.
            status = await WriteError(context, ApiException.BadRequest(e.Message));
        }
        catch (Exception e)
        {
            logger.LogError(e, "request {RequestId} failed", info.Id);
            status = await WriteError(context, ApiException.Internal(info.Id));
        }
        finally
        {
            double seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            string model = info.Model ?? "";
            state.Metrics.Requests.WithLabels(route, model, status.ToString()).Inc();
            state.Metrics.RequestDuration.WithLabels(route, model, status.ToString()).Observe(seconds);
            if (info.PromptTokens > 0) state.Metrics.PromptTokens.WithLabels(model).Inc(info.PromptTokens);
            Log(info, context, route, status, seconds);
        }
    }

    static string RequestId(HttpContext context)
    {
        // A caller's id is kept when it is short and plain (it ends up in logs); otherwise we make one.
        string? given = context.Request.Headers["X-Request-Id"];
        return given is { Length: > 0 and <= 64 } && given.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':')
            ? given : Guid.NewGuid().ToString("N");
    }

    void CheckApiKey(HttpContext context)
    {
        if (keyHash is null) return;
        string? header = context.Request.Headers.Authorization;
        if (header is null || !header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            throw ApiException.Unauthorized("You didn't provide an API key: send it as 'Authorization: Bearer KEY'");
        }
        // Hashing both sides makes the comparison constant-time in the key's length as well as its content.
        var given = SHA256.HashData(Encoding.UTF8.GetBytes(header[7..].Trim()));
        if (!CryptographicOperations.FixedTimeEquals(given, keyHash))
        {
            context.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
            throw ApiException.Unauthorized("Incorrect API key provided");
        }
    }

    async Task<int> WriteError(HttpContext context, ApiException e)
    {
        if (context.Response.HasStarted) return e.Status; // a stream already under way: it just ends
        context.Response.Clear();
        context.Response.Headers["X-Request-Id"] = context.Features.Get<RequestInfo>()!.Id;
        if (e.Status == 401) context.Response.Headers.WWWAuthenticate = "Bearer";
        context.Response.StatusCode = e.Status;
        if (e.RetryAfterSeconds is int s) context.Response.Headers.RetryAfter = s.ToString();
        try { await context.Response.WriteAsJsonAsync(e.Body, state.Json, CancellationToken.None); }
        catch (IOException) { }
        return e.Status;
    }

    void Log(RequestInfo info, HttpContext context, string route, int status, double seconds)
    {
        var line = JsonSerializer.Serialize(new
        {
            time = DateTimeOffset.UtcNow.ToString("O"),
            request_id = info.Id,
            method = context.Request.Method,
            route,
            path = context.Request.Path.Value,
            model = info.Model,
            status,
            duration_ms = Math.Round(seconds * 1000, 3),
            prompt_tokens = info.PromptTokens,
            completion_tokens = info.CompletionTokens,
        }, LogJson);
        var w = state.RequestLog;
        lock (w) { w.WriteLine(line); w.Flush(); }
    }
}

/// <summary>The server's shared state: options, models (once loaded), metrics, the request limiter.</summary>
public sealed class ServerState(ServerOptions options, ServerMetrics metrics, JsonSerializerOptions json)
{
    public ServerOptions Options { get; } = options;
    public ServerMetrics Metrics { get; } = metrics;
    public JsonSerializerOptions Json { get; } = json;
    public TextWriter RequestLog { get; } = options.RequestLog ?? Console.Out;

    public ConcurrencyLimiter Limiter { get; } = new(new ConcurrencyLimiterOptions
    {
        PermitLimit = options.MaxConcurrentRequests,
        QueueLimit = options.MaxQueuedRequests,
        QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
    });

    volatile ModelRegistry? models;
    public ModelRegistry Models => models ?? throw ApiException.NotReady();
    public bool Ready => models is not null && !Stopping;
    public volatile bool Stopping;

    public void SetModels(ModelRegistry registry) => models = registry;
}
