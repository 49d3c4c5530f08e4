using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace GptBert.Server.Tests;

/// <summary>Every bad request gets its status and an OpenAI-shaped error, and the server keeps serving.</summary>
[Collection(SharedServer.Collection)]
public sealed class ErrorAndLimitTests(SharedServer server)
{
    public static TheoryData<string, string, int, string?> BadRequests() => new()
    {
        { "/v1/embeddings", "{\"model\": \"minilm\", \"input\": ", 400, null },                  // malformed JSON
        { "/v1/embeddings", "[1, 2]", 400, null },                                               // not an object
        { "/v1/embeddings", "{\"model\": \"minilm\", \"input\": 42}", 400, null },                // wrong type
        { "/v1/embeddings", "{\"model\": 7, \"input\": \"x\"}", 400, null },
        { "/v1/embeddings", "{\"model\": \"minilm\"}", 400, null },                                // missing input
        { "/v1/embeddings", "{\"model\": \"minilm\", \"input\": \"\"}", 400, null },               // empty input
        { "/v1/embeddings", "{\"model\": \"minilm\", \"input\": []}", 400, null },
        { "/v1/embeddings", "{\"model\": \"minilm\", \"input\": [\"a\", 1]}", 400, null },         // mixture
        { "/v1/embeddings", "{\"model\": \"minilm\", \"input\": [[999999]]}", 400, null },        // id outside the vocabulary
        { "/v1/embeddings", "{\"model\": \"minilm\", \"input\": \"x\", \"encoding_format\": \"hex\"}", 400, null },
        { "/v1/embeddings", "{\"model\": \"no-such-model\", \"input\": \"x\"}", 404, "model_not_found" },
        { "/v1/embeddings", "{\"model\": \"../../etc\", \"input\": \"x\"}", 404, "model_not_found" }, // never a path
        { "/v1/completions", "{\"model\": \"gpt\", \"prompt\": \"x\", \"max_tokens\": 0}", 400, null },
        { "/v1/completions", "{\"model\": \"gpt\", \"prompt\": \"x\", \"max_tokens\": -5}", 400, null },
        { "/v1/completions", "{\"model\": \"gpt\", \"prompt\": \"x\", \"max_tokens\": 1000000}", 400, "context_length_exceeded" },
        { "/v1/completions", "{\"model\": \"gpt\", \"prompt\": \"x\", \"max_tokens\": \"ten\"}", 400, null },
        { "/v1/completions", "{\"model\": \"gpt\", \"prompt\": \"x\", \"temperature\": 3}", 400, null },
        { "/v1/completions", "{\"model\": \"gpt\", \"prompt\": \"x\", \"top_p\": 0}", 400, null },
        { "/v1/completions", "{\"model\": \"gpt\", \"prompt\": \"x\", \"n\": 0}", 400, null },
        { "/v1/completions", "{\"model\": \"gpt\", \"prompt\": \"x\", \"stop\": 5}", 400, null },
        { "/v1/completions", "{\"model\": \"minilm\", \"prompt\": \"x\"}", 400, "model_not_supported" }, // BERT does not generate
        { "/v1/chat/completions", "{\"model\": \"gpt\", \"messages\": []}", 400, null },
        { "/v1/chat/completions", "{\"model\": \"gpt\", \"messages\": \"hi\"}", 400, null },
        { "/v1/chat/completions", "{\"model\": \"gpt\", \"messages\": [{\"content\": \"no role\"}]}", 400, null },
        { "/v1/chat/completions", "{\"model\": \"gpt\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": 0}", 400, null },
        { "/v1/nope", "{}", 404, null },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task BadInputGetsItsStatusAndAnOpenAIError(string path, string body, int status, string? code)
    {
        var r = await Api.Post(server.Http, path, body);
        Api.AssertError((HttpStatusCode)status, r, status == 400 ? "invalid_request_error" : null, code);
        var ok = await Api.Post(server.Http, "/v1/embeddings", new { model = "minilm", input = "still serving" });
        Assert.Equal(HttpStatusCode.OK, ok.Status);
    }

    [Fact]
    public async Task WrongMethodIs405WithAnOpenAIError()
    {
        var response = await server.Http.GetAsync("/v1/embeddings");
        var body = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Api.AssertError(HttpStatusCode.MethodNotAllowed, (response.StatusCode, body, response), code: "method_not_allowed");
    }

    [Fact]
    public async Task OverLongInputIsRefusedNamingTheLimit()
    {
        string text = string.Join(' ', Enumerable.Repeat("whale", 300));
        var e = Api.AssertError(HttpStatusCode.BadRequest, await Api.Post(server.Http, "/v1/embeddings", new { model = "minilm", input = text }), code: "context_length_exceeded");
        Assert.Contains("at most 256 tokens", e.GetProperty("message").GetString());
        Assert.Equal("input", e.GetProperty("param").GetString());
    }

    [Fact]
    public async Task ApiKeyIsRequiredOnEveryRouteButHealthAndReady()
    {
        using var anonymous = server.Client(null);
        using var wrong = server.Client("wrong-key");
        foreach (var client in new[] { anonymous, wrong })
        {
            Api.AssertError(HttpStatusCode.Unauthorized, await Api.Post(client, "/v1/embeddings", new { model = "minilm", input = "x" }), code: "invalid_api_key");
            var models = await client.GetAsync("/v1/models");
            Assert.Equal(HttpStatusCode.Unauthorized, models.StatusCode);
            Assert.Equal("Bearer", models.Headers.WwwAuthenticate.First().Scheme);
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/metrics")).StatusCode);
        }
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/ready")).StatusCode);
    }

    [Fact]
    public async Task BodyOverTheLimitIs413()
    {
        string big = new('a', 300 * 1024);
        var r = await Api.Post(server.Http, "/v1/embeddings", new { model = "minilm", input = big });
        Api.AssertError(HttpStatusCode.RequestEntityTooLarge, r, code: "request_too_large");
        Assert.Equal(HttpStatusCode.OK, (await Api.Post(server.Http, "/v1/embeddings", new { model = "minilm", input = "x" })).Status);
    }

    [Fact]
    public async Task ClientDisconnectMidStreamStopsItsGeneration()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent(JsonSerializer.Serialize(new
            {
                model = "gpt-long", messages = new[] { new { role = "user", content = "Tell me everything." } }, max_tokens = 2000, temperature = 1.0, seed = 3, stream = true,
            })),
        };
        request.Headers.Add("X-Request-Id", "disconnect-test-1");
        var response = await server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("disconnect-test-1", response.Headers.GetValues("X-Request-Id").Single());
        var stream = await response.Content.ReadAsStreamAsync();
        var reader = new StreamReader(stream);
        Assert.StartsWith("data: ", await reader.ReadLineAsync());
        response.Dispose(); // the client goes away after the first event

        string? line = null;
        for (int i = 0; i < 200 && line is null; i++)
        {
            line = server.LogLines.FirstOrDefault(l => l.Contains("\"disconnect-test-1\""));
            if (line is null) await Task.Delay(50);
        }
        Assert.NotNull(line);
        var log = JsonDocument.Parse(line).RootElement;
        Assert.True(log.GetProperty("status").GetInt32() == 499, line);
        Assert.True(log.GetProperty("completion_tokens").GetInt32() < 2000, line);
        Assert.Equal(HttpStatusCode.OK, (await Api.Post(server.Http, "/v1/chat/completions", new { model = "gpt", messages = new[] { new { role = "user", content = "hi" } }, max_tokens = 3 })).Status);
    }

    [Fact]
    public async Task EveryRequestLogsOneJsonLineWithItsIdEchoed()
    {
        var r = await Api.Post(server.Http, "/v1/embeddings", new { model = "minilm", input = "log me" });
        string id = r.Response.Headers.GetValues("X-Request-Id").Single();
        var line = server.LogLines.Single(l => l.Contains(id));
        var log = JsonDocument.Parse(line).RootElement;
        Assert.Equal("/v1/embeddings", log.GetProperty("route").GetString());
        Assert.Equal("minilm", log.GetProperty("model").GetString());
        Assert.Equal(200, log.GetProperty("status").GetInt32());
        Assert.True(log.GetProperty("duration_ms").GetDouble() > 0);
        Assert.Equal(r.Body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(), log.GetProperty("prompt_tokens").GetInt32());
    }
}

/// <summary>The bounded queue: one request running, none waiting, so a second gets 429 with Retry-After.</summary>
public sealed class QueueLimitTests
{
    [Fact]
    public async Task AFullQueueAnswers429WithRetryAfterAndTheServerRecovers()
    {
        await using var s = new RunningServer(new ServerOptions { Models = [new("minilm", "minilm")], MaxConcurrentRequests = 1, MaxQueuedRequests = 0 });
        var release = new TaskCompletionSource();
        var slow = s.Http.PostAsync("/v1/embeddings", new SlowJson("{\"model\": \"minilm\", ", "\"input\": \"slow\"}", release.Task));
        // The slow request holds the only slot while its body is still arriving.
        for (int i = 0; i < 200 && s.Server.State.Limiter.GetStatistics()!.CurrentAvailablePermits > 0; i++) await Task.Delay(10);
        Assert.Equal(0, s.Server.State.Limiter.GetStatistics()!.CurrentAvailablePermits);

        var r = await Api.Post(s.Http, "/v1/embeddings", new { model = "minilm", input = "fast" });
        Api.AssertError(HttpStatusCode.TooManyRequests, r, code: "rate_limit_exceeded");
        Assert.Equal(TimeSpan.FromSeconds(1), r.Response.Headers.RetryAfter?.Delta);
        Assert.Equal(HttpStatusCode.OK, (await s.Http.GetAsync("/health")).StatusCode); // health is never queued

        release.SetResult();
        Assert.Equal(HttpStatusCode.OK, (await slow).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Api.Post(s.Http, "/v1/embeddings", new { model = "minilm", input = "fast" })).Status);
    }

    [Fact]
    public async Task ARequestPastTheTimeoutGets504AndTheServerGoesOn()
    {
        await using var s = new RunningServer(new ServerOptions { Models = [new("minilm", "minilm")], RequestTimeout = TimeSpan.FromMilliseconds(300) });
        // A raw connection that sends half a body and then nothing (HttpClient would wait for its body to finish).
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(s.BaseAddress.Host, s.BaseAddress.Port);
        var net = tcp.GetStream();
        await net.WriteAsync(Encoding.ASCII.GetBytes("POST /v1/embeddings HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"model\": \"minilm\", "));
        var reply = new StringBuilder();
        var buffer = new byte[4096];
        using var give_up = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (!reply.ToString().Contains("}}"))
        {
            int n = await net.ReadAsync(buffer, give_up.Token);
            if (n == 0) break;
            reply.Append(Encoding.UTF8.GetString(buffer, 0, n));
        }
        string text = reply.ToString();
        Assert.StartsWith("HTTP/1.1 504", text);
        Assert.Contains("\"code\":\"timeout\"", text);
        Assert.Equal(HttpStatusCode.OK, (await Api.Post(s.Http, "/v1/embeddings", new { model = "minilm", input = "on time" })).Status);
    }

    sealed class SlowJson(string first, string rest, Task gate) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes(first));
            await stream.FlushAsync();
            await gate;
            await stream.WriteAsync(Encoding.UTF8.GetBytes(rest));
        }

        protected override bool TryComputeLength(out long length) { length = -1; return false; }
    }
}
