using System.Net;
using System.Text.Json;
using GptBert.Pipelines;

namespace GptBert.Server.Tests;

/// <summary>/v1/classify, /v1/fill-mask and /v1/rerank give what the library's Classifier, FillMask and Embedder give.</summary>
[Collection(SharedServer.Collection)]
public sealed class TaskRouteTests(SharedServer server)
{
    ServedModel Model(string name) => server.Server.State.Models.Get(name);

    [Fact]
    public async Task ClassifyEqualsTheLibrarysClassifier()
    {
        string[] texts = ["I loved every minute of it.", "Terrible, just terrible.", "It was a film."];
        var r = await Api.Post(server.Http, "/v1/classify", new { model = "clf", input = texts });
        Assert.Equal(HttpStatusCode.OK, r.Status);
        var expected = Model("clf").Classifier!.Classify(texts.Select(t => (t, (string?)null)).ToList());
        var data = r.Body.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(texts.Length, data.Count);
        for (int i = 0; i < texts.Length; i++)
        {
            Assert.Equal(expected[i].Label, data[i].GetProperty("label").GetString());
            foreach (var (label, p) in expected[i].Scores)
                Assert.True(Math.Abs(p - data[i].GetProperty("scores").GetProperty(label).GetDouble()) < 1e-5);
        }
        Api.AssertError(HttpStatusCode.BadRequest, await Api.Post(server.Http, "/v1/classify", new { model = "minilm", input = "x" }), code: "model_not_supported");
    }

    [Fact]
    public async Task FillMaskEqualsTheLibrarysFillMask()
    {
        var r = await Api.Post(server.Http, "/v1/fill-mask", new { model = "bert", input = new[] { "The capital of France is [MASK].", "I [MASK] you [MASK]." }, top_k = 3 });
        Assert.Equal(HttpStatusCode.OK, r.Status);
        var fm = new FillMask(Model("bert").Handle);
        var data = r.Body.GetProperty("data").EnumerateArray().ToList();
        var expected = new[] { fm.Predict("The capital of France is [MASK].", 3), fm.Predict("I [MASK] you [MASK].", 3) };
        for (int i = 0; i < 2; i++)
        {
            var masks = data[i].GetProperty("masks").EnumerateArray().ToList();
            Assert.Equal(expected[i].Count, masks.Count);
            for (int m = 0; m < masks.Count; m++)
            {
                Assert.Equal(expected[i][m].Position, masks[m].GetProperty("position").GetInt32());
                var got = masks[m].GetProperty("candidates").EnumerateArray().ToList();
                Assert.Equal(expected[i][m].Candidates.Select(c => c.Id), got.Select(c => c.GetProperty("token_id").GetInt32()));
                for (int k = 0; k < got.Count; k++) Assert.True(Math.Abs(expected[i][m].Candidates[k].Score - got[k].GetProperty("score").GetDouble()) < 1e-5);
            }
        }
        Api.AssertError(HttpStatusCode.BadRequest, await Api.Post(server.Http, "/v1/fill-mask", new { model = "bert", input = "no mask here" }));
        Api.AssertError(HttpStatusCode.BadRequest, await Api.Post(server.Http, "/v1/fill-mask", new { model = "minilm", input = "[MASK]" }), code: "model_not_supported");
    }

    [Fact]
    public async Task RerankOrdersDocumentsByEmbeddingCosine()
    {
        string query = "a whale destroys the ship";
        string[] docs = ["The weather was fine.", "The great white whale rammed and sank the Pequod.", "Ships sail the sea."];
        var r = await Api.Post(server.Http, "/v1/rerank", new { model = "minilm", query, documents = docs, top_n = 2 });
        Assert.Equal(HttpStatusCode.OK, r.Status);
        var v = new Embedder(Model("minilm").Handle).Embed([query, .. docs]);
        var expected = docs.Select((d, i) => (i, score: Embedder.Cosine(v[0], v[i + 1]))).OrderByDescending(x => x.score).Take(2).ToList();
        var results = r.Body.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(expected.Select(e => e.i), results.Select(x => x.GetProperty("index").GetInt32()));
        Assert.Equal(1, results[0].GetProperty("index").GetInt32());
        for (int k = 0; k < 2; k++) Assert.True(Math.Abs(expected[k].score - results[k].GetProperty("relevance_score").GetDouble()) < 1e-5);
        Assert.Equal(docs[1], results[0].GetProperty("document").GetProperty("text").GetString());

        var bare = await Api.Post(server.Http, "/rerank", new { model = "minilm", query, documents = docs, return_documents = false });
        Assert.False(bare.Body.GetProperty("results")[0].TryGetProperty("document", out _));
        Api.AssertError(HttpStatusCode.BadRequest, await Api.Post(server.Http, "/v1/rerank", new { model = "minilm", query, documents = Array.Empty<string>() }));
    }

    [Fact]
    public async Task RerankWithAClassifierScoresEachPairAsACrossEncoder()
    {
        string query = "a whale destroys the ship";
        string[] docs = ["The weather was fine.", "The great white whale rammed and sank the Pequod.", "Ships sail the sea.", "whale"];
        var r = await Api.Post(server.Http, "/v1/rerank", new { model = "clf", query, documents = docs });
        Assert.Equal(HttpStatusCode.OK, r.Status);
        // Reference: the classifier's softmax on [CLS] query [SEP] document [SEP], the probability of its relevant label.
        var clf = Model("clf").Classifier!;
        var probs = clf.Probabilities(docs.Select(d => (query, (string?)d)).ToList());
        int relevant = GptBert.Retrieval.Relevance.RelevantLabel(clf.Labels);
        var results = r.Body.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(docs.Length, results.Count);
        foreach (var x in results)
            Assert.Equal(probs[x.GetProperty("index").GetInt32()][relevant], x.GetProperty("relevance_score").GetDouble(), 5);
        Assert.True(results.Zip(results.Skip(1)).All(p => p.First.GetProperty("relevance_score").GetDouble() >= p.Second.GetProperty("relevance_score").GetDouble()));
        Assert.True(r.Body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32() > docs.Sum(d => d.Split(' ').Length));
    }
}

/// <summary>--no-batching (every request alone) and dynamic batching give the same outputs.</summary>
public sealed class BatchingEquivalenceTests
{
    [Fact]
    public async Task BatchedAndUnbatchedServersAgree()
    {
        var models = new List<ModelSpec> { new("minilm", "minilm"), new("clf", TinyModels.Classifier), new("bert", TinyModels.BertMlm) };
        await using var batched = new RunningServer(new ServerOptions { Models = models, MaxBatchWait = TimeSpan.FromMilliseconds(20) });
        await using var alone = new RunningServer(new ServerOptions { Models = models, Batching = false });
        var texts = Enumerable.Range(0, 6).Select(i => $"Text {i}: {string.Join(' ', Enumerable.Repeat("whale", i + 1))} [MASK].").ToArray();
        foreach (var (route, model, extra) in new[] { ("/v1/embeddings", "minilm", "\"encoding_format\": \"float\""), ("/v1/classify", "clf", "\"x\": 0"), ("/v1/fill-mask", "bert", "\"top_k\": 2") })
        {
            string Body(string t) => $"{{\"model\": \"{model}\", \"input\": {JsonSerializer.Serialize(t)}, {extra}}}";
            var a = await Task.WhenAll(texts.Select(t => Api.Post(batched.Http, route, Body(t))));
            var b = await Task.WhenAll(texts.Select(t => Api.Post(alone.Http, route, Body(t))));
            for (int i = 0; i < texts.Length; i++)
            {
                Assert.Equal(HttpStatusCode.OK, a[i].Status);
                AssertClose(a[i].Body.GetProperty("data"), b[i].Body.GetProperty("data"), route);
            }
        }
    }

    /// <summary>The same JSON up to 1e-5 in every number (padding in a batch changes rounding, not results).</summary>
    static void AssertClose(JsonElement x, JsonElement y, string where)
    {
        Assert.Equal(x.ValueKind, y.ValueKind);
        switch (x.ValueKind)
        {
            case JsonValueKind.Number: Assert.True(Math.Abs(x.GetDouble() - y.GetDouble()) < 1e-5, $"{where}: {x} vs {y}"); break;
            case JsonValueKind.Array:
                Assert.Equal(x.GetArrayLength(), y.GetArrayLength());
                for (int i = 0; i < x.GetArrayLength(); i++) AssertClose(x[i], y[i], where);
                break;
            case JsonValueKind.Object:
                foreach (var p in x.EnumerateObject()) AssertClose(p.Value, y.GetProperty(p.Name), where + "." + p.Name);
                break;
            default: Assert.Equal(x.ToString(), y.ToString()); break;
        }
    }
}
