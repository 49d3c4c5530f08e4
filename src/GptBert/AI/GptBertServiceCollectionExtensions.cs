using GptBert.Pipelines;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace GptBert.AI;

/// <summary>Where a model registered in DI loads from and runs.</summary>
public sealed record GptBertModelOptions
{
    /// <summary>Built-in name (minilm) or Hugging Face directory.</summary>
    public string Model { get; set; } = ModelHub.MiniLm;
    /// <summary>Tokenizer override (built-in name or directory); null: the model's own.</summary>
    public string? Tokenizer { get; set; }
    public string Device { get; set; } = "cpu";
}

/// <summary>Registers GptBert models as Microsoft.Extensions.AI services (loaded once, on first use).</summary>
public static class GptBertServiceCollectionExtensions
{
    /// <summary><c>IEmbeddingGenerator&lt;string, Embedding&lt;float&gt;&gt;</c> over <paramref name="model"/> (default: the built-in MiniLM).</summary>
    public static IServiceCollection AddGptBertEmbeddings(this IServiceCollection services, string model = ModelHub.MiniLm, Action<GptBertModelOptions>? configure = null)
    {
        var o = new GptBertModelOptions { Model = model };
        configure?.Invoke(o);
        services.AddSingleton<IEmbeddingGenerator<string, Embedding<float>>>(_ => GptBertEmbeddingGenerator.Load(o.Model, o.Tokenizer, o.Device));
        return services;
    }

    /// <summary><c>IChatClient</c> over a GPT-2 language model directory.</summary>
    public static IServiceCollection AddGptBertChat(this IServiceCollection services, string model, Action<GptBertModelOptions>? configure = null)
    {
        var o = new GptBertModelOptions { Model = model };
        configure?.Invoke(o);
        services.AddSingleton<IChatClient>(_ => GptBertChatClient.Load(o.Model, o.Tokenizer, o.Device));
        return services;
    }
}
