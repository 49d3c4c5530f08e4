using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace GptBert.Server.Tests;

/// <summary>/metrics is valid Prometheus text, and its counters move by exactly the requests sent.</summary>
[Collection(SharedServer.Collection)]
public sealed partial class MetricsTests(SharedServer server)
{
    /// <summary>A sample line: name, optional {label="value",...}, a float value, optional timestamp.</summary>
    [GeneratedRegex("""^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"(?:,|(?=\})))*\})? ([-+]?(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|NaN|\+Inf|-Inf))( -?[0-9]+)?$""")]
    private static partial Regex Sample();

    [GeneratedRegex("""^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$""")]
    private static partial Regex Comment();

    /// <summary>Parses Prometheus text format 0.0.4, failing on any malformed line; returns samples by "name{labels}".</summary>
    static Dictionary<string, double> Parse(string text)
    {
        var types = new Dictionary<string, string>();
        var samples = new Dictionary<string, double>();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0) continue;
            if (line.StartsWith('#'))
            {
                var c = Comment().Match(line);
                Assert.True(c.Success, $"bad comment line: {line}");
                if (c.Groups[1].Value == "TYPE")
                {
                    Assert.Contains(c.Groups[3].Value, new[] { "counter", "gauge", "histogram", "summary", "untyped" });
                    Assert.True(types.TryAdd(c.Groups[2].Value, c.Groups[3].Value), $"TYPE given twice for {c.Groups[2].Value}");
                }
                continue;
            }
            var m = Sample().Match(line);
            Assert.True(m.Success, $"bad sample line: {line}");
            string name = m.Groups[1].Value;
            string family = Regex.Replace(name, "_(bucket|sum|count)$", "");
            Assert.True(types.ContainsKey(name) || types.ContainsKey(family), $"sample {name} has no TYPE");
            double value = double.Parse(m.Groups[3].Value.Replace("+Inf", "Infinity").Replace("-Inf", "-Infinity"), CultureInfo.InvariantCulture);
            Assert.True(samples.TryAdd(name + m.Groups[2].Value, value), $"duplicate sample {line}");
        }
        // Histograms: cumulative buckets that end in +Inf = _count.
        foreach (var (family, _) in types.Where(t => t.Value == "histogram"))
            foreach (var series in samples.Keys.Where(k => k.StartsWith(family + "_count")))
            {
                string labels = series[(family + "_count").Length..];
                string prefix = labels.Length > 0 ? family + "_bucket" + labels[..^1] + ",le=\"" : family + "_bucket{le=\"";
                var buckets = samples.Where(s => s.Key.StartsWith(prefix, StringComparison.Ordinal)).Select(s => s.Value).ToList();
                Assert.NotEmpty(buckets);
                for (int i = 1; i < buckets.Count; i++) Assert.True(buckets[i] >= buckets[i - 1], $"{family}{labels}: buckets not cumulative");
                Assert.Equal(samples[series], samples[prefix + "+Inf\"}"]);
            }
        return samples;
    }

    async Task<Dictionary<string, double>> Scrape()
    {
        var r = await server.Http.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        return Parse(await r.Content.ReadAsStringAsync());
    }

    static double Get(Dictionary<string, double> m, string key) => m.GetValueOrDefault(key);

    [Fact]
    public async Task CountersMoveByTheRequestsSent()
    {
        var before = await Scrape();
        long promptTokens = 0;
        for (int i = 0; i < 3; i++)
            promptTokens += (await Api.Post(server.Http, "/v1/embeddings", new { model = "minilm", input = $"metrics text {i}" })).Body.GetProperty("usage").GetProperty("prompt_tokens").GetInt64();
        Api.AssertError(HttpStatusCode.NotFound, await Api.Post(server.Http, "/v1/embeddings", new { model = "absent", input = "x" }));
        var chat = await Api.Post(server.Http, "/v1/chat/completions", new { model = "gpt", messages = new[] { new { role = "user", content = "count me" } }, max_tokens = 5, temperature = 0 });
        long generated = chat.Body.GetProperty("usage").GetProperty("completion_tokens").GetInt64();
        var after = await Scrape();

        const string ok = "gptbert_requests_total{route=\"/v1/embeddings\",model=\"minilm\",status=\"200\"}";
        Assert.Equal(3, Get(after, ok) - Get(before, ok));
        Assert.Equal(1, Get(after, "gptbert_requests_total{route=\"/v1/embeddings\",model=\"\",status=\"404\"}") - Get(before, "gptbert_requests_total{route=\"/v1/embeddings\",model=\"\",status=\"404\"}"));
        Assert.Equal(3, Get(after, "gptbert_request_duration_seconds_count{route=\"/v1/embeddings\",model=\"minilm\",status=\"200\"}")
            - Get(before, "gptbert_request_duration_seconds_count{route=\"/v1/embeddings\",model=\"minilm\",status=\"200\"}"));
        Assert.Equal(promptTokens, Get(after, "gptbert_prompt_tokens_total{model=\"minilm\"}") - Get(before, "gptbert_prompt_tokens_total{model=\"minilm\"}"));
        Assert.Equal(generated, Get(after, "gptbert_generated_tokens_total{model=\"gpt\"}") - Get(before, "gptbert_generated_tokens_total{model=\"gpt\"}"));
        Assert.Equal(1, Get(after, "gptbert_time_to_first_token_seconds_count{model=\"gpt\"}") - Get(before, "gptbert_time_to_first_token_seconds_count{model=\"gpt\"}"));
        Assert.True(Get(after, "gptbert_batch_size_count{model=\"minilm\",task=\"embeddings\"}") - Get(before, "gptbert_batch_size_count{model=\"minilm\",task=\"embeddings\"}") >= 1);
        Assert.True(after.ContainsKey("gptbert_queue_depth{queue=\"requests\"}"));
        Assert.True(after.ContainsKey("gptbert_time_per_output_token_seconds_count{model=\"gpt\"}"));
    }

    [Fact]
    public async Task ConcurrentEmbeddingRequestsShareBatches()
    {
        var before = await Scrape();
        const string batches = "gptbert_batch_size_count{model=\"minilm\",task=\"embeddings\"}";
        await Task.WhenAll(Enumerable.Range(0, 6).Select(i => Api.Post(server.Http, "/v1/embeddings", new { model = "minilm", input = $"batch me {i}" })));
        var after = await Scrape();
        // Six requests within the 20 ms batching window: fewer forward passes than requests.
        Assert.True(Get(after, batches) - Get(before, batches) < 6, $"{Get(after, batches) - Get(before, batches)} batches for 6 requests");
    }
}
