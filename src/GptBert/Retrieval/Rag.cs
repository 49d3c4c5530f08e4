using GptBert.Pipelines;

namespace GptBert.Retrieval;

/// <summary>A prompt assembled from retrieved chunks: the text, its token count, the hits it quotes (numbered [1], [2], ... in this order) and those left out for room.</summary>
public sealed record RagPrompt(string Text, int Tokens, IReadOnlyList<SearchHit> Used, IReadOnlyList<SearchHit> Dropped);

/// <summary>An answer and the sources its prompt quoted.</summary>
public sealed record RagAnswer(string Question, string Answer, FinishReason Finish, RagPrompt Prompt);

/// <summary>
/// Retrieval-augmented generation: an encoder's index finds the passages, a decoder answers from them. The prompt is
/// budgeted in the generator's own tokens so that prompt + answer fit its context window; passages go in by rank, and
/// the first that does not fit ends the list, so what is quoted is always the best-ranked prefix.
/// </summary>
public static class Rag
{
    /// <summary>The default prompt: numbered sources, then the question. {sources} and {question} are replaced.</summary>
    public const string DefaultTemplate = "Answer the question from the sources.\n\n{sources}Question: {question}\nAnswer:";

    /// <summary>
    /// The prompt of a GPT fine-tuned for generative QA (<c>finetune --task qa --arch gpt</c>): <c>{context}</c> is the quoted
    /// passages joined by spaces, without numbers or line breaks, as that model saw its one context in training.
    /// </summary>
    public const string QaTemplate = "Context: {context}\nQuestion: {question}\nAnswer:";

    /// <summary>One source as it appears in the prompt.</summary>
    public static string FormatSource(int number, SearchHit hit) => $"[{number}] {hit.Chunk.Text.ReplaceLineEndings(" ")}\n\n";

    /// <summary>
    /// Fills <paramref name="template"/> with the question and as many of <paramref name="hits"/> (in rank order) as leave
    /// <paramref name="answerTokens"/> free in a window of <paramref name="contextWindow"/> tokens, counted with
    /// <paramref name="countTokens"/> (the generator's prompt encoding).
    /// </summary>
    public static RagPrompt BuildPrompt(Func<string, int> countTokens, int contextWindow, int answerTokens, string question,
        IReadOnlyList<SearchHit> hits, string template = DefaultTemplate)
    {
        bool numbered = template.Contains("{sources}", StringComparison.Ordinal), plain = template.Contains("{context}", StringComparison.Ordinal);
        if (!template.Contains("{question}", StringComparison.Ordinal) || numbered == plain)
            throw new GptBertException("the RAG template needs {question} and one of {sources} (numbered passages) or {context} (passages joined by spaces)") { Parameter = "Template" };
        string Fill(IEnumerable<SearchHit> used) => numbered
            ? template.Replace("{sources}", string.Concat(used.Select((h, i) => FormatSource(i + 1, h))), StringComparison.Ordinal)
                      .Replace("{question}", question, StringComparison.Ordinal)
            : template.Replace("{context}", string.Join(" ", used.Select(h => h.Chunk.Text.ReplaceLineEndings(" "))), StringComparison.Ordinal)
                      .Replace("{question}", question, StringComparison.Ordinal);
        int budget = contextWindow - answerTokens;
        int bare = countTokens(Fill([]));
        if (bare > budget)
            throw new GptBertException($"the question and prompt take {bare} tokens, leaving no room for sources and a {answerTokens}-token answer in the generator's {contextWindow}-token window; shorten the question or ask for fewer new tokens") { Parameter = "MaxNewTokens" };
        var used = new List<SearchHit>();
        int tokens = bare;
        foreach (var hit in hits)
        {
            // Count the whole prompt, not the source alone: tokenizers can merge across the seams.
            int withIt = countTokens(Fill([.. used, hit]));
            if (withIt > budget) break;
            used.Add(hit);
            tokens = withIt;
        }
        return new RagPrompt(Fill(used), tokens, used, hits.Skip(used.Count).ToList());
    }

    /// <summary>
    /// Searches <paramref name="index"/> (with <paramref name="rerank"/>: <see cref="RerankOptions.Depth"/> passages, reordered
    /// by its scorer, of which the best <paramref name="topK"/> are kept), builds the prompt within the generator's window
    /// and generates the answer.
    /// </summary>
    public static RagAnswer Answer(SearchIndex index, Embedder embedder, Generator generator, string question, GenerationOptions options,
        int topK = 4, SearchMode mode = SearchMode.Dense, string template = DefaultTemplate, RerankOptions? rerank = null,
        Action<GeneratedToken>? onToken = null, CancellationToken cancellationToken = default)
    {
        options.Validate();
        var hits = Retrieve(index, embedder, question, topK, mode, rerank, cancellationToken);
        var model = generator.Model;
        // Prompts are encoded without special tokens (as Generator.EncodePrompt does), so this count is the prompt's length.
        var prompt = BuildPrompt(t => model.Tokenizer.Encode(t, addSpecialTokens: false).Length,
            model.Config.MaxPositions, options.MaxNewTokens, question, hits, template);
        var result = generator.Generate(prompt.Text, options, onToken, cancellationToken);
        return new RagAnswer(question, result.Text.Trim(), result.Finish, prompt);
    }

    /// <summary>The passages RAG quotes, best first: the index's top <paramref name="topK"/>, or with <paramref name="rerank"/> the reranked top of its depth.</summary>
    public static IReadOnlyList<SearchHit> Retrieve(SearchIndex index, Embedder embedder, string question, int topK, SearchMode mode, RerankOptions? rerank = null,
        CancellationToken cancellationToken = default) =>
        rerank is null ? index.Search(embedder, question, topK, mode) : Reranking.Search(index, embedder, question, topK, mode, rerank, cancellationToken);
}
