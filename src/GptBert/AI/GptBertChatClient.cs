using System.Runtime.CompilerServices;
using GptBert.Models;
using GptBert.Pipelines;
using GptBert.Tokenizers;
using Microsoft.Extensions.AI;

namespace GptBert.AI;

/// <summary>
/// Microsoft.Extensions.AI's <see cref="IChatClient"/> over any GPT-2 language model: messages rendered by the model's
/// chat template (<see cref="ChatTemplate"/>), sampling from <see cref="ChatSampling"/>, tokens from the library's
/// generator — the same calls the server's /v1/chat/completions makes.
/// </summary>
public sealed class GptBertChatClient : IChatClient
{
    readonly ITextGenerator generator;
    readonly ChatTemplate template;
    readonly bool ownsModel;

    public ChatClientMetadata Metadata { get; }

    public GptBertChatClient(ITextGenerator generator, ChatTemplate? template = null, string? modelId = null, bool ownsModel = false)
    {
        if (generator.Handle.Model is not GPT2LMHeadModel)
            throw new GptBertException($"chat needs a GPT-2 language model; {generator.Handle.Source} is {generator.Handle.Model.Architecture}");
        this.generator = generator;
        this.template = template ?? ChatTemplate.ForModel(generator.Handle.Directory);
        this.ownsModel = ownsModel;
        Metadata = new ChatClientMetadata("gptbert", null, modelId ?? generator.Handle.Source);
    }

    /// <summary>Loads a GPT-2 directory (GPT2LMHeadModel) for chat, behind a continuous-batching scheduler (concurrent calls decode together).</summary>
    public static GptBertChatClient Load(string model, string? tokenizer = null, string? device = null) =>
        new(new GenerationScheduler(ModelHub.Load(model, "GPT2LMHeadModel", tokenizer, device, requireHead: true)), modelId: model, ownsModel: true);

    ModelHandle Handle => generator.Handle;

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in GetStreamingResponseAsync(messages, options, cancellationToken)) updates.Add(u);
        return updates.ToChatResponse();
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var turns = messages.Select(m => new ChatTurn(m.Role.Value, m.Text)).ToList();
        var prompt = template.Encode(Handle.Tokenizer, turns);
        var o = ChatSampling.ToOptions(Handle.Config.MaxPositions, prompt.Count, options?.MaxOutputTokens, options?.Temperature, options?.TopP,
            options?.TopK, options?.StopSequences, template.Stops, options?.Seed);
        string id = $"chatcmpl-{Guid.NewGuid():N}";
        var created = DateTimeOffset.UtcNow;
        string modelId = options?.ModelId ?? Metadata.DefaultModelId!;
        int generated = 0;
        await foreach (var t in generator.GenerateAsync(prompt, o, cancellationToken))
        {
            if (t.Id >= 0) generated++;
            if (t.TextDelta.Length == 0 && t.Finish is null) continue;
            yield return new ChatResponseUpdate(ChatRole.Assistant, t.TextDelta.Length > 0 ? [new TextContent(t.TextDelta)] : [])
            {
                ResponseId = id, MessageId = id, CreatedAt = created, ModelId = modelId,
                FinishReason = t.Finish switch { null => null, FinishReason.Length => ChatFinishReason.Length, _ => ChatFinishReason.Stop },
            };
        }
        yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(new UsageDetails
        {
            InputTokenCount = prompt.Count, OutputTokenCount = generated, TotalTokenCount = prompt.Count + generated,
        })]) { ResponseId = id, MessageId = id, CreatedAt = created, ModelId = modelId };
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(ChatClientMetadata) ? Metadata
        : serviceType == typeof(ChatTemplate) ? template
        : serviceType == typeof(ModelHandle) ? Handle
        : serviceType.IsInstanceOfType(generator) ? generator
        : serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose()
    {
        if (!ownsModel) return; // a generator passed in belongs to its caller (the server shares its scheduler)
        if (generator is IDisposable d) d.Dispose();
        Handle.Dispose();
    }
}
