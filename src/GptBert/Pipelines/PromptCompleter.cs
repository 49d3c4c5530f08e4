namespace GptBert.Pipelines;

/// <summary>
/// The one-line completion of a prompt by a GPT fine-tuned on prompt/completion pairs (translation, summarization):
/// the model continues greedily (or with beam search) and stops at the first newline; the trimmed continuation is the
/// answer. Shared by <see cref="Translator"/> and <see cref="Summarizer"/>; decoding is the one Generator / BeamSearch.
/// </summary>
/// <param name="warn">Receives the warning when a prompt is cut to fit the context (its oldest tokens are dropped).</param>
public sealed class PromptCompleter(ModelHandle handle, GenerationOptions? options = null, BeamOptions? beams = null, Action<string>? warn = null)
{
    readonly GenerationOptions options = (options ?? new GenerationOptions { MaxNewTokens = 64 }) with { Greedy = true, Stop = ["\n"] };
    readonly Generator generator = new(handle) { Warn = warn };

    public ModelHandle Handle => handle;

    /// <summary>Continues a ready-made prompt up to the first newline and returns the trimmed continuation.</summary>
    public string Complete(string prompt)
    {
        string text = beams is { NumBeams: > 1 } b
            ? BeamSearch.Generate(handle, generator.EncodePrompt(prompt, options), options, b).Text
            : generator.Generate(prompt, options).Text;
        return FirstLine(text);
    }

    /// <summary>
    /// Generate-then-rerank: samples <see cref="CandidateOptions.NumCandidates"/> completions of <paramref name="prompt"/>
    /// (each up to the first newline, trimmed), scores them against <paramref name="reference"/> with
    /// <paramref name="scorer"/> and picks the best (<see cref="CandidateReranking"/>).
    /// </summary>
    public RankedCandidates CompleteAndRerank(string prompt, string reference, CandidateOptions candidates, CandidateScorer scorer) =>
        CandidateReranking.GenerateAndPick(o => FirstLine(generator.Generate(prompt, o).Text), options, candidates, reference, scorer);

    static string FirstLine(string text)
    {
        int newline = text.IndexOf('\n');
        return (newline >= 0 ? text[..newline] : text).Trim();
    }

    /// <summary><paramref name="template"/> with <paramref name="placeholder"/> replaced by <paramref name="value"/>.</summary>
    /// <exception cref="GptBertException">The template lacks the placeholder.</exception>
    public static string Fill(string template, string placeholder, string value)
    {
        CheckTemplate(template, placeholder);
        return template.Replace(placeholder, value, StringComparison.Ordinal);
    }

    /// <exception cref="GptBertException">The template has no <paramref name="placeholder"/>.</exception>
    public static void CheckTemplate(string template, string placeholder)
    {
        if (!template.Contains(placeholder, StringComparison.Ordinal))
            throw new GptBertException($"PromptFormat \"{template.Replace("\n", "\\n")}\" has no {placeholder} placeholder; add one where the input goes.") { Parameter = "PromptFormat" };
    }
}
