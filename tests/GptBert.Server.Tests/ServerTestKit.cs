using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using GptBert.Engine;
using GptBert.Models;
using GptBert.Tokenizers;
using Microsoft.Extensions.Logging;

namespace GptBert.Server.Tests;

/// <summary>Tiny models saved once per test run in Hugging Face layout, each with its tokenizer files.</summary>
public static class TinyModels
{
    static readonly object gate = new();
    static readonly string root = Path.Combine(Path.GetTempPath(), "gptbert-server-tests", $"run-{Environment.ProcessId}-{Guid.NewGuid():N}");

    static TinyModels()
    {
        TorchRuntime.Configure(threads: 1);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Directory.Delete(root, true); } catch (IOException) { } };
    }

    static readonly Lazy<string> gpt = new(() => Save("gpt", TokenizerLoader.Gpt2, () => new GPT2LMHeadModel(new Gpt2Config
    {
        VocabSize = 50257, NEmbd = 32, NLayer = 2, NHead = 2, NPositions = 256, ResidPdrop = 0, EmbdPdrop = 0, AttnPdrop = 0,
    })));
    static readonly Lazy<string> longGpt = new(() => Save("gpt-long", TokenizerLoader.Gpt2, () => new GPT2LMHeadModel(new Gpt2Config
    {
        VocabSize = 50257, NEmbd = 32, NLayer = 2, NHead = 2, NPositions = 2048, ResidPdrop = 0, EmbdPdrop = 0, AttnPdrop = 0,
    })));
    static readonly Lazy<string> bertMlm = new(() => Save("bert-mlm", TokenizerLoader.BertBaseUncased, () => new BertForMaskedLM(TinyBert())));
    static readonly Lazy<string> classifier = new(() => Save("clf", TokenizerLoader.BertBaseUncased, () =>
    {
        var c = TinyBert();
        c.SetLabels(["negative", "positive", "neutral"]);
        return new BertForSequenceClassification(c);
    }));

    /// <summary>GPT2LMHeadModel: 2 layers, hidden 32, 256 positions, the GPT-2 tokenizer.</summary>
    public static string Gpt => gpt.Value;
    /// <summary>As <see cref="Gpt"/> with 2048 positions: a generation long enough to be interrupted.</summary>
    public static string LongGpt => longGpt.Value;
    /// <summary>BertForMaskedLM: 1 layer, hidden 32, 128 positions, bert-base-uncased's WordPiece.</summary>
    public static string BertMlm => bertMlm.Value;
    /// <summary>BertForSequenceClassification with labels negative/positive/neutral.</summary>
    public static string Classifier => classifier.Value;

    static BertConfig TinyBert() => new()
    {
        VocabSize = 30522, HiddenSize = 32, NumHiddenLayers = 1, NumAttentionHeads = 2, IntermediateSize = 64,
        MaxPositionEmbeddings = 128, HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0,
    };

    static string Save(string name, string tokenizer, Func<PretrainedModel> create)
    {
        lock (gate)
        {
            TorchRuntime.Seed(42);
            var dir = Path.Combine(root, name);
            Directory.CreateDirectory(dir);
            using (var model = create()) model.SavePretrained(dir);
            TokenizerLoader.Load(tokenizer).Save(dir);
            return dir;
        }
    }
}

/// <summary>A real server on a loopback port with its own options; disposed at the end of the test class.</summary>
public class RunningServer : IAsyncDisposable
{
    public const string Key = "test-key-0123456789";
    public GptBertServer Server { get; }
    public StringWriter Log { get; } = new();
    /// <summary>What the server logged at Warning and above (unexpected errors with their stack traces).</summary>
    public StringWriter Errors { get; } = new();
    public Uri BaseAddress => Server.BaseAddress;
    public HttpClient Http { get; }

    public RunningServer(ServerOptions options)
    {
        Server = GptBertServer.Create(options with { Host = "127.0.0.1", Port = 0, RequestLog = Log }, logging => logging.AddProvider(new ErrorSink(Errors)));
        Server.StartAsync().GetAwaiter().GetResult();
        Http = Client(Key);
    }

    public HttpClient Client(string? key)
    {
        var h = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        if (key is not null) h.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return h;
    }

    public string[] LogLines { get { lock (Log) return Log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries); } }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}

/// <summary>The server most test classes share (one collection): minilm, tiny GPT-2s, a tiny BERT MLM and a tiny classifier, with an API key.</summary>
public sealed class SharedServer() : RunningServer(new ServerOptions
{
    Models = [new("minilm", "minilm"), new("gpt", TinyModels.Gpt), new("bert", TinyModels.BertMlm), new("clf", TinyModels.Classifier), new("gpt-long", TinyModels.LongGpt)],
    ApiKey = Key,
    MaxRequestBodyBytes = 256 * 1024,
    MaxBatchWait = TimeSpan.FromMilliseconds(20),
})
{
    public const string Collection = "shared server";
}

[CollectionDefinition(SharedServer.Collection)]
public sealed class SharedServerCollection : ICollectionFixture<SharedServer>;

public static class Api
{
    public static async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> Post(HttpClient http, string path, string json)
    {
        var response = await http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
        string text = await response.Content.ReadAsStringAsync();
        JsonElement body = default;
        if (text.Length > 0)
        {
            try { body = JsonDocument.Parse(text).RootElement.Clone(); }
            catch (JsonException) { Assert.Fail($"{path} answered {(int)response.StatusCode} with a body that is not JSON: {text}"); }
        }
        return (response.StatusCode, body, response);
    }

    public static Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> Post(HttpClient http, string path, object body) =>
        Post(http, path, JsonSerializer.Serialize(body));

    /// <summary>An OpenAI-shaped error: {"error": {"message", "type", "param", "code"}} with all four keys.</summary>
    public static JsonElement AssertError(HttpStatusCode expected, (HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response) r, string? type = null, string? code = null)
    {
        Assert.True(expected == r.Status, $"expected {(int)expected}, got {(int)r.Status}: {r.Body}");
        var e = r.Body.GetProperty("error");
        Assert.False(string.IsNullOrWhiteSpace(e.GetProperty("message").GetString()));
        Assert.DoesNotContain("   at ", e.GetProperty("message").GetString());
        Assert.Equal(JsonValueKind.String, e.GetProperty("type").ValueKind);
        Assert.True(e.TryGetProperty("param", out _) && e.TryGetProperty("code", out _), r.Body.ToString());
        if (type is not null) Assert.Equal(type, e.GetProperty("type").GetString());
        if (code is not null) Assert.Equal(code, e.GetProperty("code").GetString());
        Assert.True(r.Response.Headers.Contains("X-Request-Id"));
        return e;
    }
}

/// <summary>Collects the server's warnings and errors, so a test can show them.</summary>
sealed class ErrorSink(StringWriter sink) : Microsoft.Extensions.Logging.ILoggerProvider, Microsoft.Extensions.Logging.ILogger
{
    public Microsoft.Extensions.Logging.ILogger CreateLogger(string categoryName) => this;
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => logLevel >= Microsoft.Extensions.Logging.LogLevel.Warning;
    public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (sink) sink.WriteLine($"{logLevel}: {formatter(state, exception)} {exception}");
    }
    public void Dispose() { }
}
