using GptBert.Models;
using GptBert.Pipelines;
using GptBert.Tokenizers;

namespace GptBert.Server;

/// <summary>
/// One configured model and what it can do, loaded once at start. Every route reaches the library through these
/// objects: the same Embedder, Classifier, FillMask and generator that the CLI and the Microsoft.Extensions.AI
/// adapters use, with dynamic batching in front of the encoder tasks.
/// </summary>
public sealed class ServedModel : IAsyncDisposable
{
    public required string Name { get; init; }
    public required ModelHandle Handle { get; init; }
    public required string Architecture { get; init; }
    public DateTimeOffset Created { get; init; } = DateTimeOffset.UtcNow;

    public required Embedder Embedder { get; init; }
    public required DynamicBatcher<TokenizedText, float[]> Embeddings { get; init; }
    public Classifier? Classifier { get; init; }
    public DynamicBatcher<(string Text, string? Pair), Classification>? Classifications { get; init; }
    /// <summary>Cross-encoder relevance of (query, document) pairs, when the model is a classifier (used by /v1/rerank).</summary>
    public DynamicBatcher<(string Query, string Document), double>? Relevances { get; init; }
    public FillMask? FillMask { get; init; }
    public DynamicBatcher<(string Text, string? Pair, int TopK), IReadOnlyList<MaskPrediction>>? FillMasks { get; init; }
    public ITextGenerator? Generator { get; init; }
    public ChatTemplate? ChatTemplate { get; init; }

    public ITextTokenizer Tokenizer => Handle.Tokenizer;

    /// <summary>A text prompt's token ids as the library's Generator makes them (BOS for an empty prompt).</summary>
    public IReadOnlyList<int> EncodePrompt(string prompt)
    {
        // Room for max_tokens is checked by the route, which knows it; here only a prompt that fills the context is refused.
        try { return Pipelines.Generator.EncodePrompt(Handle, prompt, new GenerationOptions { MaxNewTokens = 1, Overflow = Overflow.Refuse }); }
        catch (GptBertException e) { throw ApiException.BadRequest(e.Message, "prompt", "context_length_exceeded"); }
    }
    /// <summary>Tokens per input the encoder routes accept (sentence-transformers' max_seq_length, else the context).</summary>
    public int MaxInputLength => Handle.MaxLength;
    public int ContextLength => Handle.Config.MaxPositions;

    public IReadOnlyList<string> Tasks =>
    [
        "embeddings", "rerank", "tokenize",
        .. Classifier is null ? Array.Empty<string>() : ["classify"],
        .. FillMask is null ? Array.Empty<string>() : ["fill-mask"],
        .. Generator is null ? Array.Empty<string>() : ["completions", "chat"],
    ];

    public ApiException CannotDo(string task, string route) => ApiException.BadRequest(
        $"The model '{Name}' ({Architecture}) cannot do {task}; {route} needs {task switch
        {
            "classification" => "a fine-tuned sequence classifier (gptbert finetune)",
            "fill-mask" => "a BERT model with a masked-LM head",
            _ => "a GPT-2 language model (GPT2LMHeadModel)",
        }}; this model does: {string.Join(", ", Tasks)}", "model", "model_not_supported");

    public async ValueTask DisposeAsync()
    {
        await Embeddings.DisposeAsync();
        if (Classifications is not null) await Classifications.DisposeAsync();
        if (FillMasks is not null) await FillMasks.DisposeAsync();
        if (Relevances is not null) await Relevances.DisposeAsync();
        if (Generator is IAsyncDisposable d) await d.DisposeAsync();
        if (Classifier is not null) Classifier.Dispose(); else Handle.Dispose();
    }

    /// <summary>Loads <paramref name="spec"/>: a classifier through <see cref="Classifier"/>, anything else as its config names it.</summary>
    public static ServedModel Load(ModelSpec spec, ServerOptions o, ServerMetrics metrics)
    {
        string dir = ModelHub.ExistingDirectory(spec.Source);
        var config = ModelConfig.Load(Path.Combine(dir, "config.json"));
        string arch = ModelFactory.DefaultArchitecture(config);
        Classifier? classifier = arch.EndsWith("ForSequenceClassification", StringComparison.Ordinal)
            ? new Classifier(spec.Source, o.Tokenizer, o.Device) : null;
        var handle = classifier?.Handle ?? ModelHub.Load(spec.Source, null, o.Tokenizer, o.Device, requireHead: true);
        try
        {
            var batching = new BatchingOptions { MaxBatchTokens = o.MaxBatchTokens, MaxWait = o.MaxBatchWait, Enabled = o.Batching };
            // The batcher forms batches by its token budget; the Embedder then sorts them by length and pads per chunk.
            var embedder = new Embedder(handle) { Overflow = Overflow.Refuse, BatchSize = 256 };
            var tok = handle.Tokenizer;
            // Requests arrive tokenized (the route checked their lengths on the same encodings), so nothing is tokenized twice.
            var embeddings = new DynamicBatcher<TokenizedText, float[]>(encodings => embedder.Embed(encodings), e => e.Length, batching,
                n => metrics.BatchSize.WithLabels(spec.Name, "embeddings").Observe(n));
            var classifications = classifier is null ? null : new DynamicBatcher<(string Text, string? Pair), Classification>(
                inputs => classifier.Classify(inputs),
                i => tok.Encode(i.Text, i.Pair, addSpecialTokens: true, maxLength: handle.MaxLength).Length, batching,
                n => metrics.BatchSize.WithLabels(spec.Name, "classify").Observe(n));
            bool generates = handle.Model is GPT2LMHeadModel;
            // A classifier is also a cross-encoder for /v1/rerank: (query, document) pairs, scored by P(relevant).
            var relevances = classifier is null ? null : new DynamicBatcher<(string Query, string Document), double>(
                pairs => Retrieval.Relevance.CrossEncoder(classifier, pairs),
                p => tok.Encode(p.Query, p.Document, addSpecialTokens: true, maxLength: handle.MaxLength).Length, batching,
                n => metrics.BatchSize.WithLabels(spec.Name, "rerank").Observe(n));
            var fillMask = handle.Model is BertForMaskedLM or BertForPreTraining ? new FillMask(handle) { Overflow = Overflow.Refuse } : null;
            var fillMasks = fillMask is null ? null : new DynamicBatcher<(string Text, string? Pair, int TopK), IReadOnlyList<MaskPrediction>>(
                inputs => fillMask.PredictBatch(inputs), i => tok.Encode(i.Text, i.Pair, addSpecialTokens: true, maxLength: handle.MaxLength).Length, batching,
                n => metrics.BatchSize.WithLabels(spec.Name, "fill-mask").Observe(n));
            return new ServedModel
            {
                Name = spec.Name, Handle = handle, Architecture = handle.Model.Architecture,
                Embedder = embedder, Embeddings = embeddings,
                Classifier = classifier, Classifications = classifications, Relevances = relevances,
                FillMask = fillMask, FillMasks = fillMasks,
                // Continuous batching: concurrent sequences join and leave one running decode batch.
                Generator = generates ? new GenerationScheduler(handle, o.MaxGenerationBatch) : null,
                ChatTemplate = generates ? ChatTemplate.ForModel(handle.Directory) : null,
            };
        }
        catch
        {
            if (classifier is not null) classifier.Dispose(); else handle.Dispose();
            throw;
        }
    }
}

/// <summary>The configured models by name; requests can name only these (never a path).</summary>
public sealed class ModelRegistry(IReadOnlyList<ServedModel> models) : IAsyncDisposable
{
    readonly Dictionary<string, ServedModel> byName = models.ToDictionary(m => m.Name, StringComparer.Ordinal);

    public IReadOnlyList<ServedModel> All => models;

    public ServedModel Get(string? name)
    {
        if (name is null)
        {
            if (models.Count == 1) return models[0];
            throw ApiException.BadRequest($"'model' is required: this server serves {string.Join(", ", byName.Keys)}", "model");
        }
        return byName.TryGetValue(name, out var m) ? m : throw ApiException.ModelNotFound(name, byName.Keys);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var m in models) await m.DisposeAsync();
    }
}
