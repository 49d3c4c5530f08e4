using System.Text;
using GptBert.Pipelines;
using GptBert.Reporting;

namespace GptBert.Retrieval;

/// <summary>Recall at each cutoff and mean reciprocal rank of one retrieval method over a question set (fractions, 0-1).</summary>
/// <param name="Recall">k → the fraction of questions with a hit among the first k results.</param>
/// <param name="Mrr">The mean over questions of 1 / (rank of the first hit), 0 for a question without a hit within <paramref name="Depth"/>.</param>
/// <param name="Depth">How many results were retrieved per question (MRR is MRR@Depth).</param>
public sealed record RankingScore(IReadOnlyDictionary<int, double> Recall, double Mrr, int Depth, int Count);

/// <summary>One retrieval method's score and, per question, the rank of its first hit (0: none within the depth).</summary>
/// <param name="RerankDepth">With a reranking stage: the passages the first stage (<paramref name="Mode"/>) retrieved per question for the reranker; null without one.</param>
/// <param name="RerankTime">With a reranking stage: the time spent scoring passages with the reranker, all questions together.</param>
public sealed record RetrievalEvaluation(SearchMode Mode, RankingScore Score, IReadOnlyList<int> FirstHitRanks, int? RerankDepth = null, TimeSpan RerankTime = default)
{
    /// <summary>The method's name: dense, bm25 or hybrid, with "+rerank" after a reranking stage.</summary>
    public string Name => RagEvaluation.ModeName(Mode) + (RerankDepth is null ? "" : "+rerank");
}

/// <summary>The answers of a RAG system to a question set, scored with SQuAD exact match and F1 (percent).</summary>
public sealed record RagAnswerEvaluation(SearchMode Mode, SquadScore Score, IReadOnlyList<RagAnswer> Answers, bool Reranked = false)
{
    /// <summary>The retrieval that fed the prompts: dense, bm25 or hybrid, with "+rerank" after a reranking stage.</summary>
    public string Name => RagEvaluation.ModeName(Mode) + (Reranked ? "+rerank" : "");
}

/// <summary>
/// Evaluation of retrieval-augmented generation on questions with a gold passage (QA data whose context is the passage
/// that answers the question, like data/rag): retrieval by recall@k and MRR, answers by SQuAD EM/F1.
/// </summary>
/// <remarks>
/// <para><b>What counts as a hit.</b> A retrieved chunk is a hit for a question when its text contains the question's
/// gold passage, both compared after collapsing every run of whitespace to one space and trimming (case and
/// punctuation count). A chunk holding only part of the passage (the passage was cut at a chunk boundary) is not a
/// hit, so some questions can be unreachable whatever the ranking; <see cref="Reachable"/> counts the questions whose
/// passage lies whole in some chunk of the index, the ceiling of recall.</para>
/// <para><b>Metrics</b> (as in MS MARCO and BEIR's evaluation, over one relevant passage per question): recall@k is the
/// fraction of questions with a hit among the first k results; MRR is the mean of 1 / rank of the first hit, 0 when
/// no hit is within the results retrieved (MRR@depth).</para>
/// </remarks>
public static class RagEvaluation
{
    /// <summary>A retrieval mode as the CLI names it: dense, bm25 or hybrid.</summary>
    public static string ModeName(SearchMode mode) => mode switch { SearchMode.Lexical => "bm25", _ => mode.ToString().ToLowerInvariant() };

    /// <summary>The cutoffs reported by default.</summary>
    public static readonly IReadOnlyList<int> DefaultCutoffs = [1, 5, 10];

    /// <summary><paramref name="text"/> with every run of whitespace made one space, trimmed.</summary>
    public static string CollapseWhitespace(string text)
    {
        var sb = new StringBuilder(text.Length);
        bool space = false;
        foreach (char c in text)
        {
            if (char.IsWhiteSpace(c)) { space = sb.Length > 0; continue; }
            if (space) sb.Append(' ');
            space = false;
            sb.Append(c);
        }
        return sb.ToString();
    }

    /// <summary>Whether a chunk is a hit: its text contains the gold passage, whitespace collapsed on both sides (see the class remarks).</summary>
    public static bool IsHit(string chunkText, string goldPassage)
    {
        string gold = CollapseWhitespace(goldPassage);
        if (gold.Length == 0) throw new GptBertException("a gold passage is empty; every question needs the passage that answers it (its context)") { Parameter = "Data" };
        return CollapseWhitespace(chunkText).Contains(gold, StringComparison.Ordinal);
    }

    /// <summary>The rank (from 1) of the first hit among <paramref name="rankedChunkTexts"/>, best first; 0 when none is a hit.</summary>
    public static int FirstHitRank(IReadOnlyList<string> rankedChunkTexts, string goldPassage)
    {
        for (int i = 0; i < rankedChunkTexts.Count; i++)
            if (IsHit(rankedChunkTexts[i], goldPassage)) return i + 1;
        return 0;
    }

    /// <summary>Recall@k for each of <paramref name="cutoffs"/> and MRR from each question's first-hit rank (0: no hit within <paramref name="depth"/>).</summary>
    public static RankingScore Score(IReadOnlyList<int> firstHitRanks, IReadOnlyList<int> cutoffs, int depth)
    {
        if (firstHitRanks.Count == 0) throw new GptBertException("cannot score retrieval: there are no questions; check that the question set is not empty") { Parameter = "Data" };
        if (cutoffs.Count == 0 || cutoffs.Any(k => k < 1)) throw new GptBertException("the recall cutoffs must be at least 1") { Parameter = "Cutoffs" };
        if (cutoffs.Max() > depth) throw new GptBertException($"a recall cutoff ({cutoffs.Max()}) is above the retrieval depth ({depth}); retrieve at least as many results as the largest cutoff") { Parameter = "Cutoffs" };
        if (firstHitRanks.Any(r => r < 0 || r > depth)) throw new GptBertException($"a first-hit rank is outside 0..{depth}") { Parameter = "Data" };
        int n = firstHitRanks.Count;
        var recall = cutoffs.Distinct().Order().ToDictionary(k => k, k => (double)firstHitRanks.Count(r => r >= 1 && r <= k) / n);
        double mrr = firstHitRanks.Sum(r => r >= 1 ? 1.0 / r : 0) / n;
        return new RankingScore(recall, mrr, depth, n);
    }

    /// <summary>Questions whose gold passage lies whole in at least one chunk of <paramref name="index"/>: the most any retrieval can find.</summary>
    public static int Reachable(SearchIndex index, IReadOnlyList<QaExample> questions)
    {
        var chunks = index.Chunks.Select(c => CollapseWhitespace(c.Text)).ToList();
        return questions.Count(q => { string gold = CollapseWhitespace(q.Context); return chunks.Any(c => c.Contains(gold, StringComparison.Ordinal)); });
    }

    /// <summary>
    /// Searches <paramref name="index"/> for every question (its text alone; the context is the gold passage) and scores the
    /// rankings. With <paramref name="rerank"/>, the first stage retrieves <see cref="RerankOptions.Depth"/> passages, the
    /// reranker reorders them, and the first (largest cutoff) of the new order are scored like any ranking, so MRR is
    /// MRR@(largest cutoff) for every method; the cutoffs must not exceed the depth (reranking only reorders what the first
    /// stage found).
    /// </summary>
    public static RetrievalEvaluation EvaluateRetrieval(SearchIndex index, Embedder embedder, IReadOnlyList<QaExample> questions, SearchMode mode,
        IReadOnlyList<int>? cutoffs = null, RerankOptions? rerank = null, CancellationToken cancellationToken = default)
    {
        cutoffs ??= DefaultCutoffs;
        CheckQuestions(questions);
        int depth = cutoffs.Count == 0 ? 1 : cutoffs.Max();
        if (rerank is not null)
        {
            rerank.Validate();
            if (depth > rerank.Depth)
                throw new GptBertException($"RerankDepth {rerank.Depth} is below the largest recall cutoff ({depth}); reranking only reorders the passages the first stage retrieved, so rerank at least {depth}") { Parameter = "RerankDepth" };
        }
        var ranks = new List<int>(questions.Count);
        var rerankTime = new System.Diagnostics.Stopwatch();
        foreach (var q in questions)
        {
            cancellationToken.ThrowIfCancellationRequested();
            IReadOnlyList<SearchHit> hits;
            if (rerank is null) hits = index.Search(embedder, q.Question, depth, mode);
            else
            {
                var first = index.Search(embedder, q.Question, rerank.Depth, mode);
                rerankTime.Start();
                hits = Reranking.Rerank(first, q.Question, rerank.Scorer, cancellationToken).Take(depth).ToList();
                rerankTime.Stop();
            }
            ranks.Add(FirstHitRank(hits.Select(h => h.Chunk.Text).ToList(), q.Context));
        }
        return new RetrievalEvaluation(mode, Score(ranks, cutoffs, depth), ranks, rerank?.Depth, rerankTime.Elapsed);
    }

    /// <summary>Answers every question with <see cref="Rag.Answer"/> and scores the answers against the gold ones (SQuAD EM/F1, percent).</summary>
    public static RagAnswerEvaluation EvaluateAnswers(SearchIndex index, Embedder embedder, Generator generator, IReadOnlyList<QaExample> questions,
        GenerationOptions options, int topK, SearchMode mode, string template = Rag.DefaultTemplate, RerankOptions? rerank = null,
        Action<int, RagAnswer>? onAnswer = null, CancellationToken cancellationToken = default)
    {
        CheckQuestions(questions);
        var answers = new List<RagAnswer>(questions.Count);
        foreach (var q in questions)
        {
            var a = Rag.Answer(index, embedder, generator, q.Question, options, topK, mode, template, rerank, cancellationToken: cancellationToken);
            answers.Add(a);
            onAnswer?.Invoke(answers.Count - 1, a);
        }
        var score = SquadMetrics.Compute(answers.Select(a => FirstLine(a.Answer)).ToList(),
            questions.Select(q => (IReadOnlyList<string>)q.Answers.Select(s => s.Text).ToList()).ToList());
        return new RagAnswerEvaluation(mode, score, answers, rerank is not null);
    }

    /// <summary>The answer up to its first newline (a generator may run on past it when its stop text is not a newline).</summary>
    static string FirstLine(string answer) { int nl = answer.IndexOf('\n'); return (nl >= 0 ? answer[..nl] : answer).Trim(); }

    static void CheckQuestions(IReadOnlyList<QaExample> questions)
    {
        if (questions.Count == 0) throw new GptBertException("the question set is empty; give JSON Lines of {\"question\", \"context\" (the gold passage), \"answer\", \"answer_start\"}, like data/rag/test.jsonl") { Parameter = "Data" };
        foreach (var q in questions)
            if (CollapseWhitespace(q.Context).Length == 0)
                throw new GptBertException($"question {q.Id} has no context; RAG evaluation needs the gold passage as each question's context") { Parameter = "Data" };
    }
}
