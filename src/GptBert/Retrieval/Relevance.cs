using GptBert.Pipelines;

namespace GptBert.Retrieval;

/// <summary>
/// How relevant documents are to a query, by either kind of model: a cross-encoder (a sequence classifier that reads
/// query and document together, [CLS] query [SEP] document [SEP]) or a bi-encoder (the cosine of separate embeddings).
/// </summary>
public static class Relevance
{
    static readonly string[] RelevantNames = ["1", "relevant", "positive", "pos", "true", "yes", "entailment", "match"];

    /// <summary>
    /// The label of a classifier that means "relevant": the first of 1, relevant, positive, pos, true, yes, entailment,
    /// match (any case) that it has, else its last label (a two-label classifier trained on 0/1 sorts "1" last).
    /// </summary>
    public static int RelevantLabel(IReadOnlyList<string> labels)
    {
        foreach (var name in RelevantNames)
            for (int i = 0; i < labels.Count; i++)
                if (string.Equals(labels[i], name, StringComparison.OrdinalIgnoreCase)) return i;
        return labels.Count - 1;
    }

    /// <summary>
    /// Cross-encoder relevance of each (query, document) pair in [0, 1]: for a one-label model the sigmoid of its logit
    /// (sentence-transformers' CrossEncoder default for num_labels = 1, as MS MARCO rerankers are trained), else the
    /// softmax probability of <see cref="RelevantLabel"/>.
    /// </summary>
    public static double[] CrossEncoder(Classifier classifier, IReadOnlyList<(string Query, string Document)> pairs, CancellationToken cancellationToken = default)
    {
        var logits = classifier.Logits(pairs.Select(p => (p.Query, (string?)p.Document)).ToList(), cancellationToken);
        int relevant = RelevantLabel(classifier.Labels);
        return logits.Select(l => l.Length == 1 ? 1 / (1 + Math.Exp(-l[0])) : RunnerPredictions.Softmax(l)[relevant]).Select(v => (double)v).ToArray();
    }

    /// <summary>Bi-encoder relevance: the cosine of the query's and each document's sentence embeddings.</summary>
    public static double[] BiEncoder(Embedder embedder, string query, IReadOnlyList<string> documents, CancellationToken cancellationToken = default)
    {
        var vectors = embedder.Embed([query, .. documents], cancellationToken: cancellationToken);
        return documents.Select((_, i) => Embedder.Cosine(vectors[0], vectors[i + 1])).ToArray();
    }

    /// <summary>Document indices by score, best first (ties by lower index).</summary>
    public static int[] Rank(IReadOnlyList<double> scores) =>
        Enumerable.Range(0, scores.Count).OrderByDescending(i => scores[i]).ThenBy(i => i).ToArray();
}
