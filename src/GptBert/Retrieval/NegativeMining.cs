using GptBert.Pipelines;

namespace GptBert.Retrieval;

/// <summary>One cross-encoder training row: a query, a document, and whether the document is relevant.</summary>
public sealed record RelevancePair(string Query, string Document, bool Relevant);

/// <summary>
/// Training data for a cross-encoder from (query, relevant document) pairs: each pair is kept as a positive, and the
/// documents of the other pairs that a bi-encoder ranks highest for the query (but that are not among its relevant
/// ones) become its hard negatives, as sentence-transformers' mine_hard_negatives and the MS MARCO recipes do. A
/// cross-encoder fine-tuned on them learns exactly the distinctions the bi-encoder gets wrong.
/// </summary>
public static class NegativeMining
{
    /// <param name="pairs">query → relevant document; a query may appear with several relevant documents.</param>
    /// <param name="negatives">Hard negatives per query (the highest-ranked non-relevant documents).</param>
    /// <param name="skipTop">Non-relevant documents ranked above this many are left out (0: none): near-duplicates of the positive are often unlabelled positives.</param>
    public static IReadOnlyList<RelevancePair> Mine(Embedder embedder, IReadOnlyList<(string Query, string Document)> pairs, int negatives = 3, int skipTop = 0,
        CancellationToken cancellationToken = default)
    {
        if (negatives < 0) throw new GptBertException($"Negatives must be ≥ 0 (got {negatives})") { Parameter = "Negatives" };
        if (skipTop < 0) throw new GptBertException($"SkipTop must be ≥ 0 (got {skipTop})") { Parameter = "SkipTop" };
        if (pairs.Count == 0) throw new GptBertException("no query → document pairs to mine from") { Parameter = "Input" };
        var docs = pairs.Select(p => p.Document).Distinct(StringComparer.Ordinal).ToList();
        var queries = pairs.Select(p => p.Query).Distinct(StringComparer.Ordinal).ToList();
        var relevant = pairs.GroupBy(p => p.Query, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Select(p => p.Document).ToHashSet(StringComparer.Ordinal), StringComparer.Ordinal);
        var docVectors = embedder.Embed(docs, cancellationToken: cancellationToken);
        var queryVectors = embedder.Embed(queries, cancellationToken: cancellationToken);
        int dim = embedder.Dimension;
        var flat = new float[docs.Count * dim];
        for (int i = 0; i < docs.Count; i++) docVectors[i].CopyTo(flat, i * dim);
        var rows = new List<RelevancePair>();
        for (int q = 0; q < queries.Count; q++)
        {
            string query = queries[q];
            foreach (var d in relevant[query]) rows.Add(new RelevancePair(query, d, true));
            int want = skipTop + negatives + relevant[query].Count;
            var ranked = SearchIndex.ExactTopK(flat, dim, queryVectors[q], Math.Min(want, docs.Count));
            foreach (var (id, _) in ranked.Where(r => !relevant[query].Contains(docs[r.Id])).Skip(skipTop).Take(negatives))
                rows.Add(new RelevancePair(query, docs[id], false));
        }
        return rows;
    }

    /// <summary>
    /// Hard negatives from an index's passages, ranked by the index's own search (<paramref name="mode"/>: the first stage
    /// a reranker will follow), so that the negatives look like what the reranker will be shown. A passage is relevant to
    /// a query (never a negative) when it contains one of the query's relevant documents, whitespace collapsed (the hit
    /// rule of <see cref="RagEvaluation.IsHit"/>); each pair is kept as a positive, as given.
    /// </summary>
    /// <remarks>
    /// Negatives drawn only from the other pairs' documents (<see cref="Mine(Embedder, IReadOnlyList{ValueTuple{string, string}}, int, int, CancellationToken)"/>)
    /// make every training document mostly a negative: a small model can then learn "a document like these is not
    /// relevant" instead of matching query and document, and rank unseen kinds of passage above the gold one.
    /// </remarks>
    public static IReadOnlyList<RelevancePair> Mine(SearchIndex index, Embedder embedder, IReadOnlyList<(string Query, string Document)> pairs, int negatives = 3,
        int skipTop = 0, SearchMode mode = SearchMode.Hybrid, CancellationToken cancellationToken = default)
    {
        if (negatives < 0) throw new GptBertException($"Negatives must be ≥ 0 (got {negatives})") { Parameter = "Negatives" };
        if (skipTop < 0) throw new GptBertException($"SkipTop must be ≥ 0 (got {skipTop})") { Parameter = "SkipTop" };
        if (pairs.Count == 0) throw new GptBertException("no query → document pairs to mine from") { Parameter = "Input" };
        var relevant = pairs.GroupBy(p => p.Query, StringComparer.Ordinal)
            .Select(g => (Query: g.Key, Documents: g.Select(p => p.Document).Distinct(StringComparer.Ordinal).ToList())).ToList();
        var rows = new List<RelevancePair>();
        foreach (var (query, documents) in relevant)
        {
            cancellationToken.ThrowIfCancellationRequested();
            foreach (var d in documents) rows.Add(new RelevancePair(query, d, true));
            if (negatives == 0) continue;
            var gold = documents.Select(RagEvaluation.CollapseWhitespace).Where(d => d.Length > 0).ToList();
            // Enough to fill the quota after the relevant passages (a document may lie in a few overlapping passages).
            int want = Math.Min(index.Chunks.Count, skipTop + negatives + 4 * documents.Count + 8);
            var hits = index.Search(embedder, query, want, mode);
            foreach (var h in hits.Where(h => { string t = RagEvaluation.CollapseWhitespace(h.Chunk.Text); return !gold.Any(g => t.Contains(g, StringComparison.Ordinal)); })
                         .Skip(skipTop).Take(negatives))
                rows.Add(new RelevancePair(query, h.Chunk.Text, false));
        }
        return rows;
    }
}
