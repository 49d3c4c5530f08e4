using GptBert.AI;
using GptBert.Pipelines;
using GptBert.Tokenizers;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace GptBert.Server.Tests;

/// <summary>The Microsoft.Extensions.AI adapters registered through DI give the library's own results.</summary>
public sealed class AdapterTests
{
    [Fact]
    public async Task DiRegisteredAdaptersEqualTheLibrary()
    {
        var services = new ServiceCollection().AddGptBertEmbeddings("minilm").AddGptBertChat(TinyModels.Gpt);
        await using var provider = services.BuildServiceProvider();

        var embeddings = provider.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>();
        string[] texts = ["Call me Ishmael.", "The whale breached."];
        var got = await embeddings.GenerateAsync(texts);
        var handle = (ModelHandle)embeddings.GetService(typeof(ModelHandle))!;
        var expected = new Embedder(handle).Embed(texts);
        for (int i = 0; i < texts.Length; i++) Assert.Equal(expected[i], got[i].Vector.ToArray());
        Assert.Equal(384, embeddings.GetService<EmbeddingGeneratorMetadata>()!.DefaultModelDimensions);

        var chat = provider.GetRequiredService<IChatClient>();
        var response = await chat.GetResponseAsync([new ChatMessage(ChatRole.User, "Hello!")], new ChatOptions { Temperature = 0, MaxOutputTokens = 12 });
        var gpt = (ModelHandle)chat.GetService(typeof(ModelHandle))!;
        var library = new Generator(gpt).Generate(ChatTemplate.Default.Render([new("user", "Hello!")]),
            new GenerationOptions { Greedy = true, MaxNewTokens = 12, TopK = 0, Stop = [ChatTemplate.DefaultStop] });
        Assert.Equal(library.Text, response.Text);
        Assert.Equal(library.Ids.Count, response.Usage?.OutputTokenCount);

        var streamed = new System.Text.StringBuilder();
        await foreach (var u in chat.GetStreamingResponseAsync("Hello!", new ChatOptions { Temperature = 0, MaxOutputTokens = 12 })) streamed.Append(u.Text);
        Assert.Equal(library.Text, streamed.ToString());
    }
}
