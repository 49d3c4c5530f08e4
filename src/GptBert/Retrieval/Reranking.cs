using GptBert.Pipelines;

namespace GptBert.Retrieval;

/// <summary>
/// A second retrieval stage: the first stage (dense, BM25 or hybrid search) fetches <paramref name="Depth"/> passages and
/// <paramref name="Scorer"/> rescores them against the question (a cross-encoder reads question and passage together;
/// see <see cref="CandidateReranking.CrossEncoder"/>, the scorer of <c>gptbert rerank</c>).
/// </summary>
/// <param name="Scorer">(question, passages) → one relevance score per passage, higher is better.</param>
/// <param name="Depth">Passages the first stage retrieves for the scorer; only their order changes, so recall@k is defined for k ≤ Depth.</param>
public sealed record RerankOptions(CandidateScorer Scorer, int Depth = RerankOptions.DefaultDepth)
{
    /// <summary>The default depth: 20 passages, two cross-encoder batches of MiniLM's size per question.</summary>
    public const int DefaultDepth = 20;

    public void Validate()
    {
        if (Depth < 1) throw new GptBertException($"RerankDepth must be at least 1 (got {Depth})") { Parameter = "RerankDepth" };
    }
}

/// <summary>Retrieve-then-rerank (the MS MARCO / BEIR recipe): a cheap first stage for recall, a cross-encoder for the order.</summary>
public static class Reranking
{
    /// <summary>
    /// <paramref name="hits"/> in the order of <paramref name="scorer"/>'s scores for <paramref name="query"/>, best first
    /// (ties keep the first stage's order). The set is unchanged; each hit gets its new rank and the reranker's score as
    /// its <see cref="SearchHit.Score"/> (its dense and BM25 scores, if any, are kept).
    /// </summary>
    public static IReadOnlyList<SearchHit> Rerank(IReadOnlyList<SearchHit> hits, string query, CandidateScorer scorer, CancellationToken cancellationToken = default)
    {
        if (hits.Count == 0) return [];
        cancellationToken.ThrowIfCancellationRequested();
        var scores = scorer(query, hits.Select(h => h.Chunk.Text).ToList());
        if (scores.Count != hits.Count) throw new InvalidOperationException($"the reranker returned {scores.Count} scores for {hits.Count} passages");
        var order = Relevance.Rank(scores);
        return order.Select((i, rank) => hits[i] with { Rank = rank + 1, Score = scores[i] }).ToList();
    }

    /// <summary>Searches <paramref name="index"/> for <paramref name="options"/>.Depth passages by <paramref name="mode"/>, reranks them and returns the best <paramref name="k"/> (k ≤ depth).</summary>
    public static IReadOnlyList<SearchHit> Search(SearchIndex index, Embedder embedder, string query, int k, SearchMode mode, RerankOptions options,
        CancellationToken cancellationToken = default)
    {
        options.Validate();
        if (k > options.Depth) throw new GptBertException($"RerankDepth {options.Depth} is below the {k} passages to keep; rerank at least as many passages as you keep") { Parameter = "RerankDepth" };
        var first = index.Search(embedder, query, options.Depth, mode);
        return Rerank(first, query, options.Scorer, cancellationToken).Take(k).ToList();
    }
}
