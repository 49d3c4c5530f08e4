namespace GptBert.Pipelines;

/// <summary>
/// The one-line completion of a prompt by a GPT fine-tuned on prompt/completion pairs (translation, summarization):
/// the model continues greedily (or with beam search) and stops at the first newline; the trimmed continuation is the
/// answer. Shared by <see cref="Translator"/> and <see cref="Summarizer"/>; decoding is the one Generator / BeamSearch.
/// An encoder-decoder handle is run by <see cref="Seq2SeqGenerator"/> instead, on the bare source.
/// </summary>
/// <param name="warn">Receives the warning when a prompt is cut to fit the context (its oldest tokens are dropped).</param>
public sealed class PromptCompleter(ModelHandle handle, GenerationOptions? options = null, BeamOptions? beams = null, Action<string>? warn = null)
{
    readonly GenerationOptions options = (options ?? new GenerationOptions { MaxNewTokens = 64 }) with { Greedy = true, Stop = ["\n"] };
    readonly Generator generator = new(handle) { Warn = warn };

    Seq2SeqGenerator? seq2seq;

    public ModelHandle Handle => handle;

    /// <summary>
    /// The model is an encoder-decoder (<see cref="Seq2SeqGenerator"/>): callers give it the bare source text, not a prompt
    /// template, and <see cref="Complete"/> generates from it with the same options (one line, greedy or beams).
    /// </summary>
    public bool IsSeq2Seq => handle.Model is Models.EncoderDecoderModel;

    /// <summary>Continues a ready-made prompt up to the first newline and returns the trimmed continuation.</summary>
    public string Complete(string prompt)
    {
        if (IsSeq2Seq)
        {
            seq2seq ??= new Seq2SeqGenerator(handle, options, beams ?? new BeamOptions { NumBeams = 1 }, generator.Warn);
            string output = seq2seq.Run(prompt).Text;
            int cut = output.IndexOf('\n');
            return (cut >= 0 ? output[..cut] : output).Trim();
        }
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
    public RankedCandidates CompleteAndRerank(string prompt, string reference, CandidateOptions candidates, CandidateScorer scorer) => IsSeq2Seq
        ? throw new GptBertException($"{handle.Source} is an encoder-decoder; generate-then-rerank samples its candidates from a GPT (decode it with beams instead)")
        : CandidateReranking.GenerateAndPick(o => FirstLine(generator.Generate(prompt, o).Text), options, candidates, reference, scorer);

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
