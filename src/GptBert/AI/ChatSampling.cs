using GptBert.Pipelines;

namespace GptBert.AI;

/// <summary>
/// OpenAI-style sampling parameters (what /v1/completions, /v1/chat/completions and IChatClient's ChatOptions carry)
/// as <see cref="GenerationOptions"/>: temperature 0 is greedy, no top-k (OpenAI has none unless asked), stop sequences
/// after the chat template's own, prompt + max tokens within the context. The server and <see cref="GptBertChatClient"/>
/// both use it, so the two give the same generation for the same request.
/// </summary>
public static class ChatSampling
{
    /// <param name="maxTokens">null: what the context leaves after the longest prompt.</param>
    public static GenerationOptions ToOptions(int contextLength, int longestPrompt, int? maxTokens, double? temperature, double? topP,
        int? topK, IEnumerable<string>? stops, IEnumerable<string>? templateStops, long? seed)
    {
        int max = maxTokens ?? contextLength - longestPrompt;
        if (max < 1) throw new ArgumentOutOfRangeException(nameof(maxTokens), $"max tokens must be at least 1 (got {max})");
        if (longestPrompt + max > contextLength)
            throw new GptBertException($"This model's maximum context length is {contextLength} tokens. However, you requested {longestPrompt + max} tokens ({longestPrompt} in the prompt, {max} for the completion).");
        double t = temperature ?? 1.0;
        if (t is < 0 or > 2) throw new ArgumentOutOfRangeException(nameof(temperature), $"temperature must be between 0 and 2 (got {t})");
        double p = topP ?? 1.0;
        if (!(p > 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(topP), $"top_p must be in (0, 1] (got {p})");
        return new GenerationOptions
        {
            MaxNewTokens = max,
            Greedy = t == 0,
            Temperature = t == 0 ? 1.0 : t,
            TopK = topK ?? 0,
            TopP = p,
            Stop = [.. templateStops ?? [], .. (stops ?? []).Where(s => s.Length > 0)],
            Seed = seed,
            Overflow = Overflow.Refuse,
        };
    }
}
