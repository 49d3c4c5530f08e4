using System.ClientModel;
using System.Text.Json;
using GptBert.AI;
using GptBert.Pipelines;
using GptBert.Tokenizers;
using Microsoft.Extensions.AI;
using OpenAI;
using OpenAI.Chat;
using AIChatMessage = Microsoft.Extensions.AI.ChatMessage;
using ChatFinishReason = OpenAI.Chat.ChatFinishReason;

namespace GptBert.Server.Tests;

/// <summary>The server driven by the official OpenAI .NET SDK and Microsoft.Extensions.AI's OpenAI client, checked against the library.</summary>
[Collection(SharedServer.Collection)]
public sealed class OpenAIClientTests(SharedServer server)
{
    OpenAIClient Client() => new(new ApiKeyCredential(RunningServer.Key), new OpenAIClientOptions { Endpoint = new Uri(server.BaseAddress, "v1") });

    static readonly string[] Texts = ["The whale breached.", "A huge animal jumped out of the sea, far from the ship.", "Call me Ishmael.", "ok"];

    static ServedModel Model(SharedServer s, string name) => s.Server.State.Models.Get(name);

    [Fact]
    public async Task EmbeddingsEqualTheLibrarysEmbedder()
    {
        // The SDK asks for base64 by default; the float form is checked through the raw route below.
        var result = await Client().GetEmbeddingClient("minilm").GenerateEmbeddingsAsync(Texts);
        var expected = new Embedder(Model(server, "minilm").Handle).Embed(Texts);
        Assert.Equal(Texts.Length, result.Value.Count);
        for (int i = 0; i < Texts.Length; i++)
        {
            var got = result.Value[i].ToFloats().ToArray();
            Assert.Equal(384, got.Length);
            Assert.Equal(i, result.Value[i].Index);
            for (int k = 0; k < got.Length; k++) Assert.True(Math.Abs(got[k] - expected[i][k]) < 1e-5, $"text {i} dim {k}: {got[k]} vs {expected[i][k]}");
        }
        Assert.True(result.Value.Usage.InputTokenCount > 10);

        var raw = await Api.Post(server.Http, "/v1/embeddings", new { model = "minilm", input = Texts[2], encoding_format = "float" });
        var floats = raw.Body.GetProperty("data")[0].GetProperty("embedding").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        // Alone rather than in a batch of four: the same vector up to the padding's rounding.
        var batched = result.Value[2].ToFloats().ToArray();
        for (int k = 0; k < floats.Length; k++) Assert.True(Math.Abs(floats[k] - batched[k]) < 1e-5);
        Assert.Equal(raw.Body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(), raw.Body.GetProperty("usage").GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task TokenArraysEmbedAsTheirText()
    {
        var tok = Model(server, "minilm").Tokenizer;
        var ids = tok.Encode("call me ishmael.", addSpecialTokens: false).Ids;
        var byIds = await Api.Post(server.Http, "/v1/embeddings", new { model = "minilm", input = new[] { ids } });
        var byText = await Api.Post(server.Http, "/v1/embeddings", new { model = "minilm", input = "call me ishmael." });
        Assert.Equal(byText.Body.GetProperty("data")[0].GetProperty("embedding").ToString(), byIds.Body.GetProperty("data")[0].GetProperty("embedding").ToString());
    }

    [Fact]
    public async Task MicrosoftExtensionsAIOverTheServerEqualsTheInProcessAdapter()
    {
        using IEmbeddingGenerator<string, Embedding<float>> remote = Client().GetEmbeddingClient("minilm").AsIEmbeddingGenerator();
        using var local = new GptBertEmbeddingGenerator(new Embedder(Model(server, "minilm").Handle));
        var a = await remote.GenerateAsync(Texts);
        var b = await local.GenerateAsync(Texts);
        for (int i = 0; i < Texts.Length; i++)
            for (int k = 0; k < 384; k++)
                Assert.True(Math.Abs(a[i].Vector.Span[k] - b[i].Vector.Span[k]) < 1e-5);
        Assert.Equal(a.Usage?.InputTokenCount, b.Usage?.InputTokenCount);

        using IChatClient remoteChat = Client().GetChatClient("gpt").AsIChatClient();
        using var localChat = new GptBertChatClient(Model(server, "gpt").Generator!);
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 12 };
        AIChatMessage[] messages = [new(ChatRole.System, "Be brief."), new(ChatRole.User, "Name a whale.")];
        var ra = await remoteChat.GetResponseAsync(messages, options);
        var rb = await localChat.GetResponseAsync(messages, options);
        Assert.Equal(rb.Text, ra.Text);
        Assert.Equal(rb.Usage?.OutputTokenCount, ra.Usage?.OutputTokenCount);
        Assert.Equal(rb.FinishReason, ra.FinishReason);
    }

    /// <summary>The library's own greedy continuation of <paramref name="prompt"/>.</summary>
    static GenerationResult Greedy(ServedModel m, string prompt, int maxNew, params string[] stop) =>
        new Generator(m.Handle).Generate(prompt, new GenerationOptions { Greedy = true, MaxNewTokens = maxNew, TopK = 0, Stop = stop });

    [Fact]
    public async Task GreedyChatIsTheLibrarysGenerationTokenForToken()
    {
        var gpt = Model(server, "gpt");
        var chat = Client().GetChatClient("gpt");
        OpenAI.Chat.ChatMessage[] messages = [new SystemChatMessage("You are terse."), new UserChatMessage("Hello there!")];
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 20 };
        ChatCompletion whole = await chat.CompleteChatAsync(messages, options);

        string prompt = ChatTemplate.Default.Render([new("system", "You are terse."), new("user", "Hello there!")]);
        Assert.Equal("system: You are terse.\nuser: Hello there!\nassistant:", prompt);
        var expected = Greedy(gpt, prompt, 20, ChatTemplate.DefaultStop);
        Assert.Equal(expected.Text, whole.Content[0].Text);
        Assert.Equal(expected.Ids.Count, whole.Usage.OutputTokenCount);
        Assert.Equal(gpt.Tokenizer.Encode(prompt, addSpecialTokens: false).Length, whole.Usage.InputTokenCount);
        Assert.Equal(expected.Finish == FinishReason.Length ? ChatFinishReason.Length : ChatFinishReason.Stop, whole.FinishReason);

        var streamed = new System.Text.StringBuilder();
        ChatFinishReason? finish = null;
        int updates = 0;
        await foreach (var u in chat.CompleteChatStreamingAsync(messages, options))
        {
            updates++;
            foreach (var part in u.ContentUpdate) streamed.Append(part.Text);
            finish ??= u.FinishReason;
        }
        Assert.Equal(expected.Text, streamed.ToString());
        Assert.Equal(whole.FinishReason, finish);
        Assert.True(updates > 2, $"{updates} updates: the reply should arrive in pieces");
    }

    [Fact]
    public async Task GreedyCompletionsMatchTheLibraryWholeAndStreamed()
    {
        var gpt = Model(server, "gpt");
        var expected = Greedy(gpt, "Call me Ishmael.", 15);
        var r = await Api.Post(server.Http, "/v1/completions", new { model = "gpt", prompt = "Call me Ishmael.", max_tokens = 15, temperature = 0, logprobs = 3 });
        var choice = r.Body.GetProperty("choices")[0];
        Assert.Equal("text_completion", r.Body.GetProperty("object").GetString());
        Assert.Equal(expected.Text, choice.GetProperty("text").GetString());
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(15, r.Body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        var tokens = choice.GetProperty("logprobs").GetProperty("tokens").EnumerateArray().Select(t => t.GetString()!).ToList();
        Assert.Equal(expected.Ids.Select(id => gpt.Tokenizer.Decode([id], skipSpecialTokens: false)).ToList(), tokens);
        // Greedy picks the most likely token: its log-probability is finite, ≤ 0 and > log(1/vocab).
        var logprobs = choice.GetProperty("logprobs").GetProperty("token_logprobs").EnumerateArray().Select(t => t.GetDouble()).ToList();
        Assert.All(logprobs, lp => Assert.InRange(lp, -Math.Log(50257), 0));
        // logprobs: 3 lists the three most likely tokens of each step; greedy's choice is the first of them.
        var top = choice.GetProperty("logprobs").GetProperty("top_logprobs").EnumerateArray().ToList();
        Assert.Equal(15, top.Count);
        for (int i = 0; i < top.Count; i++)
        {
            var alternatives = top[i].EnumerateObject().Select(p => (p.Name, Value: p.Value.GetDouble())).ToList();
            Assert.InRange(alternatives.Count, 2, 3); // 3 unless two ids decode to the same text
            Assert.Equal(logprobs[i], alternatives.Max(a => a.Value), 9);
            Assert.Equal(tokens[i], alternatives.MaxBy(a => a.Value).Name);
            Assert.True(alternatives.Sum(a => Math.Exp(a.Value)) <= 1 + 1e-9);
        }
        var chat = await Api.Post(server.Http, "/v1/chat/completions", new { model = "gpt", messages = new[] { new { role = "user", content = "Name a whale." } }, max_tokens = 5, temperature = 0, logprobs = true, top_logprobs = 4 });
        var content = chat.Body.GetProperty("choices")[0].GetProperty("logprobs").GetProperty("content").EnumerateArray().ToList();
        Assert.All(content, c =>
        {
            var alts = c.GetProperty("top_logprobs").EnumerateArray().ToList();
            Assert.Equal(4, alts.Count);
            Assert.Equal(c.GetProperty("token").GetString(), alts[0].GetProperty("token").GetString());
            Assert.Equal(c.GetProperty("logprob").GetDouble(), alts[0].GetProperty("logprob").GetDouble(), 9);
            Assert.True(alts.Zip(alts.Skip(1)).All(p => p.First.GetProperty("logprob").GetDouble() >= p.Second.GetProperty("logprob").GetDouble()));
        });

        // Streamed: data: {...} events whose texts concatenate to the same continuation, then data: [DONE].
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = new StringContent(JsonSerializer.Serialize(new { model = "gpt", prompt = "Call me Ishmael.", max_tokens = 15, temperature = 0, stream = true, stream_options = new { include_usage = true } })),
        };
        using var response = await server.Http.SendAsync(request);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        var events = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.All(events, e => Assert.StartsWith("data: ", e));
        Assert.Equal("data: [DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement).ToList();
        Assert.Equal(expected.Text, string.Concat(chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0).Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString())));
        Assert.Equal(15, chunks[^1].GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task SeededSamplingRepeatsAndStopsEndTheText()
    {
        var body = new { model = "gpt", prompt = new[] { "Once upon a time", "The sea" }, max_tokens = 12, temperature = 0.9, top_p = 0.95, seed = 7, n = 2 };
        var a = await Api.Post(server.Http, "/v1/completions", body);
        var b = await Api.Post(server.Http, "/v1/completions", body);
        Assert.Equal(4, a.Body.GetProperty("choices").GetArrayLength());
        Assert.Equal(a.Body.GetProperty("choices").ToString(), b.Body.GetProperty("choices").ToString());
        Assert.Equal(Enumerable.Range(0, 4), a.Body.GetProperty("choices").EnumerateArray().Select(c => c.GetProperty("index").GetInt32()));

        var gpt = Model(server, "gpt");
        var full = Greedy(gpt, "Call me Ishmael.", 15).Text;
        string stop = full.Length > 6 ? full[3..6] : full;
        var r = await Api.Post(server.Http, "/v1/completions", new { model = "gpt", prompt = "Call me Ishmael.", max_tokens = 15, temperature = 0, stop });
        var choice = r.Body.GetProperty("choices")[0];
        Assert.Equal(full[..full.IndexOf(stop, StringComparison.Ordinal)], choice.GetProperty("text").GetString());
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task ConcurrentRequestsGiveWhatSerialOnesGive()
    {
        var texts = Enumerable.Range(0, 8).Select(i => $"Sentence number {i} about {(i % 2 == 0 ? "whales" : "ships at sea")} and more.").ToArray();
        var serial = new List<string>();
        foreach (var t in texts)
            serial.Add((await Api.Post(server.Http, "/v1/embeddings", new { model = "minilm", input = t, encoding_format = "float" })).Body.GetProperty("data")[0].GetProperty("embedding").ToString());
        var parallel = await Task.WhenAll(texts.Select(t => Api.Post(server.Http, "/v1/embeddings", new { model = "minilm", input = t, encoding_format = "float" })));
        for (int i = 0; i < texts.Length; i++)
        {
            var a = JsonSerializer.Deserialize<float[]>(serial[i])!;
            var b = parallel[i].Body.GetProperty("data")[0].GetProperty("embedding").Deserialize<float[]>()!;
            for (int k = 0; k < a.Length; k++) Assert.True(Math.Abs(a[k] - b[k]) < 1e-5, $"text {i} dim {k}");
        }

        var prompts = Enumerable.Range(0, 4).Select(i => $"Prompt {i}:").ToArray();
        var serialChats = new List<string>();
        foreach (var p in prompts)
            serialChats.Add((await Api.Post(server.Http, "/v1/chat/completions", new { model = "gpt", messages = new[] { new { role = "user", content = p } }, temperature = 0, max_tokens = 10 }))
                .Body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!);
        var parallelChats = await Task.WhenAll(prompts.Select(p => Api.Post(server.Http, "/v1/chat/completions", new { model = "gpt", messages = new[] { new { role = "user", content = p } }, temperature = 0, max_tokens = 10 })));
        Assert.Equal(serialChats, parallelChats.Select(r => r.Body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!).ToList());
    }

    [Fact]
    public async Task ModelsListsEveryConfiguredModelWithItsTasks()
    {
        var models = await Client().GetOpenAIModelClient().GetModelsAsync();
        Assert.Equal(["minilm", "gpt", "bert", "clf", "gpt-long"], models.Value.Select(m => m.Id));
        var raw = await server.Http.GetStringAsync("/v1/models");
        var gpt = JsonDocument.Parse(raw).RootElement.GetProperty("data").EnumerateArray().Single(m => m.GetProperty("id").GetString() == "gpt");
        Assert.Contains("chat", gpt.GetProperty("tasks").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal(256, gpt.GetProperty("max_model_len").GetInt32());
    }

    [Fact]
    public async Task TokenizeAndDetokenizeRoundTrip()
    {
        var t = await Api.Post(server.Http, "/tokenize", new { model = "gpt", prompt = "Hello, World!" });
        var ids = t.Body.GetProperty("tokens").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal([15496, 11, 2159, 0], ids); // GPT-2's encoding of "Hello, World!"
        var d = await Api.Post(server.Http, "/detokenize", new { model = "gpt", tokens = ids });
        Assert.Equal("Hello, World!", d.Body.GetProperty("prompt").GetString());
    }
}
