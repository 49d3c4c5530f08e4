using System.Text.Json;
using GptBert.Reporting;

namespace GptBert.Pipelines;

/// <summary>One translation example: a full prompt (the source already in the prompt format) and its reference.</summary>
public sealed record TranslationExample(string Prompt, string Reference)
{
    /// <summary>The bare source sentence (null when the file gives only a prompt): what an encoder-decoder reads.</summary>
    public string? Source { get; init; }
}

/// <summary>BLEU and chrF of a model's translations of a test set, with the translations themselves.</summary>
public sealed record TranslationEvaluation(BleuScore Bleu, ChrfScore ChrF, IReadOnlyList<string> Hypotheses, IReadOnlyList<string> References);

/// <summary>
/// Translation with a GPT fine-tuned on prompt/completion pairs (data/translation: prompt
/// "English: SRC\nFrench:", completion " TGT"): the source goes into <see cref="PromptFormat"/>, the
/// model continues greedily (or with beam search) and stops at the first newline; the trimmed
/// continuation is the translation (<see cref="PromptCompleter"/>, shared with <see cref="Summarizer"/>).
/// An encoder-decoder directory (bert2gpt2, <see cref="Seq2SeqGenerator"/>) reads the bare source instead; the prompt
/// format does not apply to it.
/// </summary>
public sealed class Translator(ModelHandle handle, GenerationOptions? options = null, BeamOptions? beams = null)
{
    public const string DefaultPromptFormat = "English: {src}\nFrench:";

    /// <summary>The prompt template; <c>{src}</c> is replaced by the source sentence.</summary>
    public string PromptFormat { get; init; } = DefaultPromptFormat;

    readonly PromptCompleter completer = new(handle, options, beams);

    /// <summary>The prompt of one source sentence.</summary>
    public string FormatPrompt(string source)
    {
        CheckPromptFormat(PromptFormat);
        return PromptFormat.Replace("{src}", source, StringComparison.Ordinal);
    }

    /// <exception cref="GptBertException">The template has no <c>{src}</c> placeholder.</exception>
    public static void CheckPromptFormat(string template)
    {
        PromptCompleter.CheckTemplate(template, "{src}");
    }

    public string Translate(string source) => Complete(completer.IsSeq2Seq ? source : FormatPrompt(source));

    /// <summary>Continues a ready-made prompt up to the first newline and returns the trimmed continuation.</summary>
    public string Complete(string prompt) => completer.Complete(prompt);

    /// <summary>Translates every example and scores the translations with corpus BLEU and chrF (sacreBLEU defaults).</summary>
    public TranslationEvaluation Evaluate(IReadOnlyList<TranslationExample> examples, Action<int, string>? onTranslated = null)
    {
        if (examples.Count == 0) throw new GptBertException("The test set is empty; give a JSONL file with one {\"source\", \"target\"} object per line.");
        var hyps = new List<string>();
        foreach (var e in examples)
        {
            hyps.Add(Complete(completer.IsSeq2Seq ? e.Source ?? e.Prompt : e.Prompt));
            onTranslated?.Invoke(hyps.Count - 1, hyps[^1]);
        }
        var refs = examples.Select(e => e.Reference).ToList();
        var refLists = refs.Select(r => (IReadOnlyList<string>)[r]).ToList();
        return new TranslationEvaluation(BleuMetrics.Bleu(hyps, refLists), BleuMetrics.Chrf(hyps, refLists), hyps, refs);
    }

    /// <summary>
    /// Reads a JSONL test set: {"source", "target"} (the source is put into the prompt format) or
    /// {"prompt", "completion"} (the prompt is used as is; the trimmed completion is the reference).
    /// </summary>
    public IReadOnlyList<TranslationExample> LoadExamples(string path)
    {
        if (!File.Exists(path)) throw new GptBertException($"Test set {path} not found; give a JSONL file with {{\"source\", \"target\"}} lines.");
        var list = new List<TranslationExample>();
        int lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonElement o;
            try { o = JsonDocument.Parse(line).RootElement; }
            catch (JsonException) { throw new GptBertException($"{path}:{lineNo}: not a JSON object; each line must be {{\"source\": ..., \"target\": ...}}."); }
            string? Get(string k) => o.ValueKind == JsonValueKind.Object && o.TryGetProperty(k, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            if (Get("source") is string s && Get("target") is string t) list.Add(new(FormatPrompt(s), t.Trim()) { Source = s });
            else if (Get("prompt") is string p && Get("completion") is string c) list.Add(new(p, c.Trim()));
            else throw new GptBertException($"{path}:{lineNo}: needs \"source\" and \"target\" (or \"prompt\" and \"completion\") strings.");
        }
        return list;
    }
}
