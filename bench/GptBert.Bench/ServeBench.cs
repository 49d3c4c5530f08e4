using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using GptBert.Engine;
using GptBert.Models;
using GptBert.Server;
using GptBert.Tokenizers;
using Microsoft.Extensions.Logging;

namespace GptBert.Bench;

/// <summary>
/// `gptbert serve` under load: the server runs in this process (<see cref="GptBertServer"/> on 127.0.0.1, an
/// ephemeral port) and the clients are <see cref="HttpClient"/>s in the same process, closed loops of N workers that
/// each send the next request as soon as the previous one answered, for a bounded time and a bounded count.
/// </summary>
public static class ServeBench
{
    public sealed record Cell(string Variant, int Concurrency, int Requests, double Seconds, double[] LatenciesMs)
    {
        public double Rps => Requests / Seconds;
        public double P50 => Pct(LatenciesMs, 0.50);
        public double P99 => Pct(LatenciesMs, 0.99);
    }

    public sealed record GenCell(int Streams, int Requests, int Tokens, double Seconds, double[] TtftMs, double[] TpotMs, int EarlyStops)
    {
        public double TokensPerSecond => Tokens / Seconds;
    }

    public static double Pct(IReadOnlyList<double> xs, double p)
    {
        if (xs.Count == 0) return double.NaN;
        var a = xs.Order().ToArray();
        int i = (int)Math.Ceiling(p * a.Length) - 1;
        return a[Math.Clamp(i, 0, a.Length - 1)];
    }

    public static double Med(IEnumerable<double> xs)
    {
        var a = xs.Order().ToArray();
        if (a.Length == 0) return double.NaN;
        return a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2;
    }

    public static string LoadAverage() { try { return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); } catch { return "unknown"; } }

    static readonly HttpClient Http = new(new SocketsHttpHandler { MaxConnectionsPerServer = 256, PooledConnectionLifetime = TimeSpan.FromMinutes(30) })
    { Timeout = TimeSpan.FromMinutes(5) };

    public static async Task<GptBertServer> StartAsync(ServerOptions options)
    {
        var server = GptBertServer.Create(options with { Host = "127.0.0.1", Port = 0, RequestLog = TextWriter.Null },
            logging: l => l.SetMinimumLevel(LogLevel.Error));
        await server.StartAsync();
        return server;
    }

    // Common English words that are one WordPiece token each in MiniLM's vocabulary.
    static readonly string[] Words = ("the of and to in is was he for it with as his on be at by had not are but from or have an they which " +
        "one you were her all she there would their we him been has when who will more no if out so said what up its about into than them can " +
        "only other new some could time these two may then do first any my now such like our over man me even most made after also did many " +
        "before must through back years where much your way well down should because each just those people how too little state good very make " +
        "world still own see men work long get here between both life being under never day same another know while last might us great old year").Split(' ');

    /// <summary>Texts of 1..64 words (≈ 3..66 tokens with [CLS]/[SEP]), lengths uniform, from a fixed seed.</summary>
    public static string[] EmbeddingInputs(int count = 512, int seed = 1234)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ =>
            string.Join(' ', Enumerable.Range(0, rng.Next(1, 65)).Select(_ => Words[rng.Next(Words.Length)]))).ToArray();
    }

    static StringContent Json(object body) => new(JsonSerializer.Serialize(body), Encoding.UTF8, new MediaTypeHeaderValue("application/json"));

    public static async Task<double> EmbedOnceAsync(Uri baseAddress, string text)
    {
        long t0 = Stopwatch.GetTimestamp();
        using var resp = await Http.PostAsync(new Uri(baseAddress, "/v1/embeddings"), Json(new { model = "minilm", input = text }));
        var bytes = await resp.Content.ReadAsByteArrayAsync();
        double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        if (!resp.IsSuccessStatusCode) throw new InvalidOperationException($"embeddings {(int)resp.StatusCode}: {Encoding.UTF8.GetString(bytes)}");
        return ms;
    }

    /// <summary>Closed loop: <paramref name="concurrency"/> workers, each sends the next input when its previous answer came back.</summary>
    public static async Task<Cell> EmbedLoadAsync(string variant, Uri baseAddress, string[] inputs, int concurrency, double seconds, int maxRequests)
    {
        int next = -1;
        var lat = new List<double>[concurrency];
        var sw = Stopwatch.StartNew();
        var deadline = TimeSpan.FromSeconds(seconds);
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async w =>
        {
            await Task.Yield();
            lat[w] = new List<double>();
            while (sw.Elapsed < deadline)
            {
                int i = Interlocked.Increment(ref next);
                if (i >= maxRequests) break;
                lat[w].Add(await EmbedOnceAsync(baseAddress, inputs[i % inputs.Length]));
            }
        }));
        double elapsed = sw.Elapsed.TotalSeconds;
        var all = lat.SelectMany(l => l).ToArray();
        return new Cell(variant, concurrency, all.Length, elapsed, all);
    }

    /// <summary>One streamed /v1/completions request: (time to first token, time per output token after it, tokens, finish reason).</summary>
    public static async Task<(double Ttft, double Tpot, int Tokens, string Finish)> StreamOnceAsync(Uri baseAddress, string prompt, int maxTokens)
    {
        var body = new Dictionary<string, object>
        {
            ["model"] = "gpt", ["prompt"] = prompt, ["max_tokens"] = maxTokens, ["temperature"] = 0, ["stream"] = true,
            ["stream_options"] = new Dictionary<string, object> { ["include_usage"] = true },
        };
        long t0 = Stopwatch.GetTimestamp();
        using var req = new HttpRequestMessage(HttpMethod.Post, new Uri(baseAddress, "/v1/completions")) { Content = Json(body) };
        using var resp = await Http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead);
        if (!resp.IsSuccessStatusCode) throw new InvalidOperationException($"completions {(int)resp.StatusCode}: {await resp.Content.ReadAsStringAsync()}");
        using var reader = new StreamReader(await resp.Content.ReadAsStreamAsync());
        double first = double.NaN, last = double.NaN; int events = 0, usageTokens = -1; string finish = "";
        while (await reader.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith("data: ")) continue;
            var data = line[6..];
            if (data == "[DONE]") break;
            using var doc = JsonDocument.Parse(data);
            var root = doc.RootElement;
            if (root.TryGetProperty("error", out var err)) throw new InvalidOperationException($"stream error: {err}");
            if (root.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object) usageTokens = u.GetProperty("completion_tokens").GetInt32();
            if (root.TryGetProperty("choices", out var ch) && ch.GetArrayLength() > 0)
            {
                var c = ch[0];
                if (c.TryGetProperty("finish_reason", out var fr) && fr.ValueKind == JsonValueKind.String) finish = fr.GetString()!;
                double now = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                if (events == 0) first = now;
                last = now; events++;
            }
        }
        int tokens = usageTokens >= 0 ? usageTokens : events;
        double tpot = tokens > 1 ? (last - first) / (tokens - 1) : double.NaN;
        return (first, tpot, tokens, finish);
    }

    public static async Task<GenCell> GenerateLoadAsync(Uri baseAddress, string[] prompts, int streams, int maxTokens, double seconds, int maxRequests)
    {
        int next = -1;
        var results = new List<(double Ttft, double Tpot, int Tokens, string Finish)>[streams];
        var sw = Stopwatch.StartNew();
        var deadline = TimeSpan.FromSeconds(seconds);
        await Task.WhenAll(Enumerable.Range(0, streams).Select(async w =>
        {
            await Task.Yield();
            results[w] = new();
            while (sw.Elapsed < deadline)
            {
                int i = Interlocked.Increment(ref next);
                if (i >= maxRequests) break;
                results[w].Add(await StreamOnceAsync(baseAddress, prompts[i % prompts.Length], maxTokens));
            }
        }));
        double elapsed = sw.Elapsed.TotalSeconds; // until the last request in flight finished
        var all = results.SelectMany(r => r).ToArray();
        return new GenCell(streams, all.Length, all.Sum(r => r.Tokens), elapsed,
            all.Select(r => r.Ttft).ToArray(), all.Where(r => !double.IsNaN(r.Tpot)).Select(r => r.Tpot).ToArray(),
            all.Count(r => r.Tokens < maxTokens));
    }

    /// <summary>A GPT2LMHeadModel with random weights saved in Hugging Face layout (the tokenizer comes from ServerOptions.Tokenizer).</summary>
    public static string SaveRandomGpt(Gpt2Config config, string dir)
    {
        TorchRuntime.Seed(7);
        Directory.CreateDirectory(dir);
        using var model = new GPT2LMHeadModel(config);
        model.SavePretrained(dir);
        return dir;
    }

    public static string[] GenerationPrompts()
    {
        // Different prompts of 6..12 tokens so that the streams do not decode identical sequences.
        var rng = new Random(99);
        return Enumerable.Range(0, 64).Select(_ => string.Join(' ', Enumerable.Range(0, rng.Next(6, 13)).Select(_ => Words[rng.Next(Words.Length)]))).ToArray();
    }
}
