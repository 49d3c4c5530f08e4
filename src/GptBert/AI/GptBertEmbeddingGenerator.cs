using GptBert.Pipelines;
using Microsoft.Extensions.AI;

namespace GptBert.AI;

/// <summary>
/// Microsoft.Extensions.AI's <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> over any GptBert embedding model
/// (the built-in MiniLM, any BERT or GPT-2 directory): the library's <see cref="Embedder"/>, as `gptbert embed` and
/// the server's /v1/embeddings call it.
/// </summary>
public sealed class GptBertEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    readonly Embedder embedder;
    readonly bool ownsModel;

    public EmbeddingGeneratorMetadata Metadata { get; }

    /// <param name="ownsModel">Dispose the model with this generator (true when it was loaded for it).</param>
    public GptBertEmbeddingGenerator(Embedder embedder, string? modelId = null, bool ownsModel = false)
    {
        this.embedder = embedder;
        this.ownsModel = ownsModel;
        Metadata = new EmbeddingGeneratorMetadata("gptbert", null, modelId ?? embedder.Handle.Source, embedder.Dimension);
    }

    /// <summary>Loads <paramref name="model"/> (built-in name or directory) for embeddings.</summary>
    public static GptBertEmbeddingGenerator Load(string model = ModelHub.MiniLm, string? tokenizer = null, string? device = null) =>
        new(new Embedder(ModelHub.Load(model, null, tokenizer, device, requireHead: false)) { Overflow = Overflow.Refuse }, model, ownsModel: true);

    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var texts = values.ToList();
        if (options?.Dimensions is int d && d != embedder.Dimension)
            throw new ArgumentException($"this model gives {embedder.Dimension}-dimensional embeddings (asked for {d})", nameof(options));
        var vectors = await Task.Run(() => embedder.Embed(texts), cancellationToken);
        var created = DateTimeOffset.UtcNow;
        var tokenizer = embedder.Handle.Tokenizer;
        return new GeneratedEmbeddings<Embedding<float>>(vectors.Select(v => new Embedding<float>(v) { ModelId = Metadata.DefaultModelId, CreatedAt = created }))
        {
            Usage = new UsageDetails { InputTokenCount = texts.Sum(t => (long)tokenizer.Encode(t, maxLength: embedder.Handle.MaxLength).Length) },
        };
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(EmbeddingGeneratorMetadata) ? Metadata
        : serviceType == typeof(Embedder) ? embedder
        : serviceType == typeof(ModelHandle) ? embedder.Handle
        : serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose()
    {
        if (ownsModel) embedder.Handle.Dispose();
    }
}
