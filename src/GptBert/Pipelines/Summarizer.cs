using System.Text.Json;
using GptBert.Reporting;
using GptBert.Retrieval;

namespace GptBert.Pipelines;

/// <summary>How a summary is made: sentences picked by an encoder, text written by a GPT, or the first sentences.</summary>
public enum SummaryMethod { Extractive, Abstractive, Lead }

/// <summary>One sentence of a document: characters [Start, End) (UTF-16 indices, <c>document[Start..End] == Text</c>) and its score.</summary>
public sealed record SummarySentence(int Index, int Start, int End, string Text, double Score);

/// <summary>
/// A summary: its text and, for extractive and lead summaries, the chosen sentences in document order (empty for an
/// abstractive one, whose text is written by the model).
/// </summary>
public sealed record DocumentSummary(string Text, SummaryMethod Method, IReadOnlyList<SummarySentence> Sentences)
{
    /// <summary>With generate-then-rerank: every sampled candidate, its score and which one is the summary; else null.</summary>
    public RankedCandidates? Candidates { get; init; }
}

/// <summary>One test example: the document (null when the file gives only a ready-made prompt), its prompt for a GPT, and the reference summary.</summary>
public sealed record SummarizationExample(string? Document, string Prompt, string Reference);

/// <summary>ROUGE of one way of summarizing a test set (F1 is what summarization papers report), with the summaries.</summary>
public sealed record SummarizationScore(string Name, RougeScore Rouge, IReadOnlyList<string> Summaries);

/// <summary>
/// Summarization, three ways over one sentence splitter:
/// <list type="bullet">
/// <item><b>Extractive</b>: the document's sentences are embedded with an encoder (<see cref="Embedder"/>: pooled,
/// L2-normalised sentence vectors) and scored by <i>degree centrality</i> — the mean cosine similarity to the other
/// sentences, the continuous (unthresholded) degree of LexRank's similarity graph (Erkan &amp; Radev 2004, "LexRank:
/// Graph-based Lexical Centrality as Salience in Text Summarization", JAIR 22, §3.1–3.2), over sentence embeddings
/// instead of tf-idf vectors. For unit vectors this ranks sentences exactly as the cosine to the document's centroid
/// does (the centroid method of MEAD, Radev et al. 2004), since Σⱼ sᵢ·sⱼ = n·sᵢ·c. The top N sentences are returned in
/// document order, with their character offsets.</item>
/// <item><b>Abstractive</b>: a GPT fine-tuned on prompt/completion pairs (data/summarization: prompt
/// "Summarize: DOC\nSummary:", completion " SUMMARY") continues the prompt greedily or with beam search up to the first
/// newline (<see cref="PromptCompleter"/>, the same decoding as <see cref="Translator"/>). A document longer than the
/// context loses its oldest tokens, so the prompt's end ("Summary:") is always kept.</item>
/// <item><b>Lead</b>: the first N sentences — the standard baseline of news summarization (lead-3 on CNN/DailyMail,
/// See et al. 2017), which extractive and abstractive systems must beat.</item>
/// </list>
/// Sentences are <see cref="Chunker.Sentences"/> (. ! ? … followed by whitespace, CJK full stops, blank lines), each
/// further cut at line breaks, so list items and headings are sentences of their own.
/// </summary>
public sealed class Summarizer
{
    public const string DefaultPromptFormat = "Summarize: {document}\nSummary:";

    readonly Embedder? embedder;
    readonly PromptCompleter? completer;
    readonly GenerateThenRerank? reranking;

    Summarizer(SummaryMethod method, int sentences, Embedder? embedder, PromptCompleter? completer, string promptFormat, GenerateThenRerank? reranking = null)
    {
        reranking?.Candidates.Validate();
        this.reranking = reranking;
        if (sentences < 1) throw new GptBertException($"Sentences must be at least 1 (got {sentences})") { Parameter = "Sentences" };
        PromptCompleter.CheckTemplate(promptFormat, "{document}");
        Method = method;
        SentenceCount = sentences;
        PromptFormat = promptFormat;
        this.embedder = embedder;
        this.completer = completer;
    }

    /// <summary>The first <paramref name="sentences"/> sentences; needs no model.</summary>
    public static Summarizer Lead(int sentences = 1) => new(SummaryMethod.Lead, sentences, null, null, DefaultPromptFormat);

    /// <summary>The <paramref name="sentences"/> most central sentences by <paramref name="embedder"/>'s sentence embeddings.</summary>
    public static Summarizer Extractive(Embedder embedder, int sentences = 1) => new(SummaryMethod.Extractive, sentences, embedder, null, DefaultPromptFormat);

    /// <summary>
    /// A summary written by <paramref name="gpt"/>, a GPT-2 language model fine-tuned on prompts in
    /// <paramref name="promptFormat"/> (<c>{document}</c> is replaced by the document); <paramref name="warn"/> hears of
    /// documents cut to fit the context. With <paramref name="reranking"/>, each summary is generate-then-rerank: the GPT
    /// samples N candidates and the judge keeps the one it scores highest against the document.
    /// </summary>
    public static Summarizer Abstractive(ModelHandle gpt, GenerationOptions? options = null, BeamOptions? beams = null,
        string promptFormat = DefaultPromptFormat, Action<string>? warn = null, GenerateThenRerank? reranking = null) =>
        new(SummaryMethod.Abstractive, 1, null, new PromptCompleter(gpt, options, beams, warn), promptFormat, reranking);

    /// <summary>Generate-then-rerank settings of an abstractive summarizer; null when it decodes one summary (greedy or beam).</summary>
    public GenerateThenRerank? Reranking => reranking;

    /// <summary>What a model is for by default: an encoder picks sentences, a GPT writes the summary.</summary>
    public static SummaryMethod DefaultMethod(string family) => family == "gpt2" ? SummaryMethod.Abstractive : SummaryMethod.Extractive;

    public SummaryMethod Method { get; }

    /// <summary>Sentences in an extractive or lead summary.</summary>
    public int SentenceCount { get; }

    /// <summary>The abstractive prompt; <c>{document}</c> is replaced by the document.</summary>
    public string PromptFormat { get; }

    /// <summary>A name for reports: "extractive-1", "lead-3", "abstractive".</summary>
    public string Name => Method == SummaryMethod.Abstractive ? "abstractive" : $"{Method.ToString().ToLowerInvariant()}-{SentenceCount}";

    /// <summary>The sentence spans [Start, End) of a document, in order (see the class summary for the rule).</summary>
    public static IReadOnlyList<(int Start, int End)> Sentences(string document)
    {
        var spans = new List<(int, int)>();
        foreach (var (start, end) in Chunker.Sentences(document))
        {
            int s = start;
            while (s < end)
            {
                int newline = document.IndexOf('\n', s, end - s);
                int e = newline < 0 ? end : newline;
                // Trim the piece: Chunker already trimmed the span's ends, a line break leaves whitespace around it.
                int a = s, b = e;
                while (a < b && char.IsWhiteSpace(document[a])) a++;
                while (b > a && char.IsWhiteSpace(document[b - 1])) b--;
                if (b > a) spans.Add((a, b));
                s = e + 1;
            }
        }
        return spans;
    }

    /// <summary>The prompt of one document.</summary>
    public string FormatPrompt(string document) => PromptCompleter.Fill(PromptFormat, "{document}", document);

    /// <summary>Summarizes one document.</summary>
    /// <exception cref="GptBertException">The document is empty.</exception>
    public DocumentSummary Summarize(string document)
    {
        ArgumentNullException.ThrowIfNull(document);
        if (string.IsNullOrWhiteSpace(document)) throw new GptBertException("the document is empty; give some text to summarize");
        if (Method == SummaryMethod.Abstractive && reranking is not null)
        {
            var ranked = completer!.CompleteAndRerank(FormatPrompt(document), document, reranking.Candidates, reranking.Judge);
            return new DocumentSummary(ranked.Best, Method, []) { Candidates = ranked };
        }
        if (Method == SummaryMethod.Abstractive) return new DocumentSummary(completer!.Complete(FormatPrompt(document)), Method, []);
        var spans = Sentences(document);
        double[] scores = Method == SummaryMethod.Extractive ? Centrality(spans.Select(s => document[s.Start..s.End]).ToList()) : new double[spans.Count];
        // Highest score first, earlier sentence on ties; lead: scores are all 0, so the first sentences.
        var chosen = Enumerable.Range(0, spans.Count).OrderByDescending(i => scores[i]).ThenBy(i => i).Take(SentenceCount).Order()
            .Select(i => new SummarySentence(i, spans[i].Start, spans[i].End, document[spans[i].Start..spans[i].End], scores[i])).ToList();
        return new DocumentSummary(string.Join(" ", chosen.Select(s => s.Text)), Method, chosen);
    }

    /// <summary>Each sentence's mean cosine similarity to the other sentences (1 for a lone sentence).</summary>
    double[] Centrality(IReadOnlyList<string> sentences)
    {
        int n = sentences.Count;
        if (n == 1) return [1.0];
        var vectors = embedder!.Embed(sentences);
        var scores = new double[n];
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
            {
                double c = Embedder.Cosine(vectors[i], vectors[j]);
                scores[i] += c;
                scores[j] += c;
            }
        for (int i = 0; i < n; i++) scores[i] /= n - 1;
        return scores;
    }

    /// <summary>
    /// Summarizes every example and scores the summaries with ROUGE-1/2/L against the references (<see cref="RougeMetrics"/>:
    /// rouge-score's tokenizer, no stemming, the mean over documents).
    /// </summary>
    public SummarizationScore Evaluate(IReadOnlyList<SummarizationExample> examples, Action<int, string>? onSummary = null)
    {
        if (examples.Count == 0) throw new GptBertException("The test set is empty; give a JSONL file with one {\"document\", \"summary\"} object per line.");
        var summaries = new List<string>();
        foreach (var e in examples)
        {
            string summary;
            if (Method == SummaryMethod.Abstractive && reranking is not null)
                summary = completer!.CompleteAndRerank(e.Prompt, e.Document ?? e.Prompt, reranking.Candidates, reranking.Judge).Best;
            else if (Method == SummaryMethod.Abstractive) summary = completer!.Complete(e.Document is null ? e.Prompt : FormatPrompt(e.Document));
            else if (e.Document is null)
                throw new GptBertException($"{Method.ToString().ToLowerInvariant()} summaries need the document; the test set gives only prompts (add a \"document\" field to each line)");
            else summary = Summarize(e.Document).Text;
            summaries.Add(summary);
            onSummary?.Invoke(summaries.Count - 1, summary);
        }
        return new SummarizationScore(Name, RougeMetrics.Compute(summaries, examples.Select(e => e.Reference).ToList()), summaries);
    }

    /// <summary>
    /// Generate-then-rerank against its baselines on one test set (the summarizer must be abstractive with
    /// <see cref="Reranking"/>): ROUGE of the greedy (or beam) summary ("abstractive"), of one random sample (candidate 0,
    /// "sample-1"), of the candidate the judge picks ("rerank-N"), and of the candidate with the best ROUGE-L F1 against the
    /// reference ("oracle-N": the ceiling of any judge over these candidates). All rows share the same candidates.
    /// </summary>
    public IReadOnlyList<SummarizationScore> EvaluateReranking(IReadOnlyList<SummarizationExample> examples)
    {
        if (Method != SummaryMethod.Abstractive || reranking is null)
            throw new GptBertException("generate-then-rerank needs an abstractive summarizer (a GPT) with NumCandidates and a judge") { Parameter = "NumCandidates" };
        if (examples.Count == 0) throw new GptBertException("The test set is empty; give a JSONL file with one {\"document\", \"summary\"} object per line.");
        var greedy = new List<string>();
        var sample = new List<string>();
        var picked = new List<string>();
        var oracle = new List<string>();
        foreach (var e in examples)
        {
            greedy.Add(completer!.Complete(e.Prompt));
            // The judge reads the document; a prompt-only test set has none, so the prompt stands in for it.
            var ranked = completer.CompleteAndRerank(e.Prompt, e.Document ?? e.Prompt, reranking.Candidates, reranking.Judge);
            sample.Add(ranked.Texts[0]);
            picked.Add(ranked.Best);
            oracle.Add(ranked.Texts.MaxBy(t => RougeMetrics.Score(t, e.Reference).RougeL.FMeasure)!);
        }
        var references = examples.Select(e => e.Reference).ToList();
        int n = reranking.Candidates.NumCandidates;
        return
        [
            new SummarizationScore(Name, RougeMetrics.Compute(greedy, references), greedy),
            new SummarizationScore("sample-1", RougeMetrics.Compute(sample, references), sample),
            new SummarizationScore($"rerank-{n}", RougeMetrics.Compute(picked, references), picked),
            new SummarizationScore($"oracle-{n}", RougeMetrics.Compute(oracle, references), oracle),
        ];
    }

    /// <summary>
    /// Reads a JSONL test set: {"document", "summary"} lines (the shipped data/summarization files; "text" is accepted for
    /// "document"), or {"prompt", "completion"} lines (the prompt is used as is for abstractive summaries; the trimmed
    /// completion is the reference).
    /// </summary>
    public IReadOnlyList<SummarizationExample> LoadExamples(string path)
    {
        if (!File.Exists(path)) throw new GptBertException($"Test set {path} not found; give a JSONL file with {{\"document\", \"summary\"}} lines.");
        var list = new List<SummarizationExample>();
        int lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonElement o;
            try { o = JsonDocument.Parse(line).RootElement; }
            catch (JsonException) { throw new GptBertException($"{path}:{lineNo}: not a JSON object; each line must be {{\"document\": ..., \"summary\": ...}}."); }
            string? Get(string k) => o.ValueKind == JsonValueKind.Object && o.TryGetProperty(k, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            string? document = Get("document") ?? Get("text");
            if (document is not null && Get("summary") is string s) list.Add(new(document, FormatPrompt(document), s.Trim()));
            else if (Get("prompt") is string p && Get("completion") is string c) list.Add(new(null, p, c.Trim()));
            else throw new GptBertException($"{path}:{lineNo}: needs \"document\" and \"summary\" (or \"prompt\" and \"completion\") strings.");
        }
        return list;
    }
}
