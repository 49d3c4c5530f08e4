using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using GptBert.Engine;
using GptBert.Pipelines;
using GptBert.Server.Endpoints;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace GptBert.Server;

/// <summary>
/// `gptbert serve`: an OpenAI-compatible HTTP server (Kestrel, minimal APIs). <see cref="StartAsync"/> listens first
/// (so /health answers at once), loads every configured model, then reports ready; <see cref="RunAsync"/> serves
/// until SIGTERM/Ctrl+C, lets requests in flight finish (up to the shutdown timeout) and returns.
/// </summary>
public sealed class GptBertServer : IAsyncDisposable
{
    readonly WebApplication app;
    public ServerState State { get; }

    GptBertServer(WebApplication app, ServerState state) { this.app = app; State = state; }

    /// <summary>The JSON conventions of every response: OpenAI's snake_case names, nulls left out unless a type says otherwise.</summary>
    public static JsonSerializerOptions JsonOptions(JsonSerializerOptions o)
    {
        o.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        o.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
        o.Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
        o.NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals;
        return o;
    }

    public static GptBertServer Create(ServerOptions options, Action<ILoggingBuilder>? logging = null)
    {
        options.Validate();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ApplicationName = typeof(GptBertServer).Assembly.GetName().Name });
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        if (logging is not null) logging(builder.Logging);
        else builder.Logging.AddSimpleConsole(c => c.SingleLine = true).AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = options.ShutdownTimeout);
        builder.Services.ConfigureHttpJsonOptions(j => JsonOptions(j.SerializerOptions));
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
            var address = options.Host is "localhost" ? IPAddress.Loopback
                : IPAddress.TryParse(options.Host, out var ip) ? ip
                : throw new GptBertException($"--host '{options.Host}' is not an IP address (use 127.0.0.1, 0.0.0.0, :: or localhost)");
            k.Listen(address, options.Port);
        });
        if (options.CorsOrigins.Count > 0)
            builder.Services.AddCors(c => c.AddDefaultPolicy(p => p.WithOrigins([.. options.CorsOrigins]).AllowAnyHeader().AllowAnyMethod()
                .WithExposedHeaders("X-Request-Id", "Retry-After")));

        var json = JsonOptions(new JsonSerializerOptions(JsonSerializerDefaults.Web));
        var state = new ServerState(options, new ServerMetrics(), json);
        builder.Services.AddSingleton(state);
        var app = builder.Build();

        app.UseRouting();
        if (options.CorsOrigins.Count > 0) app.UseCors();
        app.UseMiddleware<RequestPipeline>();

        app.MapHealth();
        app.MapMetrics("/metrics", state.Metrics.Registry);
        var models = app.MapGroup("").WithMetadata(new ModelRouteMetadata());
        models.MapModels();
        models.MapEmbeddings();
        models.MapTokenize();
        models.MapCompletions();
        models.MapChatCompletions();
        models.MapClassify();
        models.MapFillMask();
        models.MapRerank();
        state.Metrics.Registry.AddBeforeCollectCallback(() =>
        {
            var limits = state.Limiter.GetStatistics();
            state.Metrics.QueueDepth.WithLabels("requests").Set(limits?.CurrentQueuedCount ?? 0);
            state.Metrics.Running.Set(options.MaxConcurrentRequests - (limits?.CurrentAvailablePermits ?? options.MaxConcurrentRequests));
            if (state.Ready)
                foreach (var m in state.Models.All)
                {
                    state.Metrics.QueueDepth.WithLabels($"{m.Name}/embeddings").Set(m.Embeddings.QueueDepth);
                    if (m.Classifications is not null) state.Metrics.QueueDepth.WithLabels($"{m.Name}/classify").Set(m.Classifications.QueueDepth);
                    if (m.FillMasks is not null) state.Metrics.QueueDepth.WithLabels($"{m.Name}/fill-mask").Set(m.FillMasks.QueueDepth);
                    if (m.Generator is GenerationScheduler g) state.Metrics.QueueDepth.WithLabels($"{m.Name}/generation").Set(g.Waiting);
                }
        });
        app.Lifetime.ApplicationStopping.Register(() => state.Stopping = true);
        return new GptBertServer(app, state);
    }

    /// <summary>Where the server listens, e.g. http://127.0.0.1:8080 (the real port when 0 was asked for).</summary>
    public Uri BaseAddress => new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    /// <summary>Starts listening, then loads the models; returns when the server is ready.</summary>
    public async Task StartAsync(Action<string>? progress = null, CancellationToken cancellationToken = default)
    {
        await app.StartAsync(cancellationToken);
        progress?.Invoke($"listening on {BaseAddress}");
        var loaded = new List<ServedModel>();
        try
        {
            foreach (var spec in State.Options.Models)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var m = await Task.Run(() => ServedModel.Load(spec, State.Options, State.Metrics), cancellationToken);
                loaded.Add(m);
                progress?.Invoke($"loaded {m.Name}: {m.Architecture} from {m.Handle.Directory} ({string.Join(", ", m.Tasks)})");
            }
        }
        catch
        {
            foreach (var m in loaded) await m.DisposeAsync();
            await app.StopAsync(CancellationToken.None);
            throw;
        }
        State.SetModels(new ModelRegistry(loaded));
        progress?.Invoke("ready");
    }

    /// <summary>Serves until the host is told to stop (SIGTERM, Ctrl+C, or <paramref name="cancellationToken"/>).</summary>
    public async Task RunAsync(Action<string>? progress = null, CancellationToken cancellationToken = default)
    {
        await StartAsync(progress, cancellationToken);
        await app.WaitForShutdownAsync(cancellationToken);
        progress?.Invoke("stopped");
    }

    public Task StopAsync() => app.StopAsync();

    public async ValueTask DisposeAsync()
    {
        State.Stopping = true;
        try { await app.StopAsync(); } catch (OperationCanceledException) { }
        if (State.Ready || State.Stopping)
            try { await State.Models.DisposeAsync(); } catch (ApiException) { }
        await app.DisposeAsync();
    }
}
