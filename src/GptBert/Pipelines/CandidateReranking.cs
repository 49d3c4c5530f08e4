using GptBert.Retrieval;

namespace GptBert.Pipelines;

/// <summary>How many candidates a GPT samples for generate-then-rerank, and how.</summary>
public sealed record CandidateOptions
{
    /// <summary>Candidates sampled per input (1: a single sample, nothing to rerank).</summary>
    public int NumCandidates { get; init; } = 8;
    /// <summary>Sampling temperature of every candidate.</summary>
    public double Temperature { get; init; } = 0.8;
    /// <summary>Nucleus (top-p) filter of every candidate.</summary>
    public double TopP { get; init; } = 0.95;
    /// <summary>Candidate i is sampled with seed Seed + i, so a run is reproducible and candidate 0 is an ordinary single sample.</summary>
    public long Seed { get; init; }

    public void Validate()
    {
        if (NumCandidates < 1) throw new GptBertException($"NumCandidates must be at least 1 (got {NumCandidates})") { Parameter = "NumCandidates" };
        if (!(Temperature > 0)) throw new GptBertException($"Temperature must be above 0 to sample candidates (got {Temperature})") { Parameter = "Temperature" };
        if (!(TopP > 0 && TopP <= 1)) throw new GptBertException($"TopP must be in (0, 1] (got {TopP})") { Parameter = "TopP" };
    }

    /// <summary>The options of candidate <paramref name="i"/>: <paramref name="baseOptions"/> sampled with this temperature and top-p, seed <see cref="Seed"/> + i.</summary>
    public GenerationOptions ForCandidate(GenerationOptions baseOptions, int i) =>
        baseOptions with { Greedy = false, Temperature = Temperature, TopP = TopP, TopK = 0, Seed = Seed + i };
}

/// <summary>The candidates of one input, their scores, and the one picked (the best score, the earliest on ties).</summary>
public sealed record RankedCandidates(IReadOnlyList<string> Texts, IReadOnlyList<double> Scores, int Chosen)
{
    public string Best => Texts[Chosen];
}

/// <summary>Generate-then-rerank settings of a pipeline (summarizer, generative answerer): how candidates are sampled and the judge that scores each against its reference.</summary>
public sealed record GenerateThenRerank(CandidateOptions Candidates, CandidateScorer Judge);

/// <summary>Scores candidates against a reference (the document, the question with its context, the prompt): higher is better.</summary>
public delegate IReadOnlyList<double> CandidateScorer(string reference, IReadOnlyList<string> candidates);

/// <summary>
/// Generate-then-rerank: a GPT samples N candidates, an encoder scores each against a reference, and the best one is
/// kept — the "sample and rerank" of Shen et al. 2021 ("Generate &amp; Rank", NAACL) and of reranked summarization
/// (Ravaut et al. 2022, "SummaReranker"), here with a BERT as the judge: a bi-encoder (cosine of the sentence
/// embeddings of candidate and reference, e.g. a summary against its document) or a cross-encoder (P(relevant) of the
/// pair (reference, candidate)). Shared by the summarizer and any caller that can sample; the scorer is a plain function,
/// so any other judge plugs in.
/// </summary>
public static class CandidateReranking
{
    /// <summary>The candidate with the highest score (the earliest of equal ones; NaN scores lose).</summary>
    public static RankedCandidates Pick(IReadOnlyList<string> candidates, IReadOnlyList<double> scores)
    {
        if (candidates.Count == 0) throw new GptBertException("there are no candidates to rerank; sample at least one") { Parameter = "NumCandidates" };
        if (scores.Count != candidates.Count)
            throw new GptBertException($"the scorer gave {scores.Count} scores for {candidates.Count} candidates; it must give one per candidate");
        int best = 0;
        for (int i = 1; i < scores.Count; i++)
            if (scores[i] > scores[best] || double.IsNaN(scores[best]) && !double.IsNaN(scores[i])) best = i;
        return new RankedCandidates(candidates, scores, best);
    }

    /// <summary>
    /// Samples <see cref="CandidateOptions.NumCandidates"/> candidates with <paramref name="generate"/> (given each
    /// candidate's options, from <see cref="CandidateOptions.ForCandidate"/>), scores them against
    /// <paramref name="reference"/> and picks the best.
    /// </summary>
    public static RankedCandidates GenerateAndPick(Func<GenerationOptions, string> generate, GenerationOptions baseOptions, CandidateOptions options,
        string reference, CandidateScorer scorer)
    {
        options.Validate();
        var candidates = Enumerable.Range(0, options.NumCandidates).Select(i => generate(options.ForCandidate(baseOptions, i))).ToList();
        return Pick(candidates, scorer(reference, candidates));
    }

    /// <summary>
    /// Draws <paramref name="count"/> candidates with <paramref name="sample"/> (given the candidate's index, 0..count-1, so
    /// the caller chooses how each is sampled, e.g. seed S + i), scores them against <paramref name="reference"/> and picks the best.
    /// </summary>
    public static RankedCandidates GenerateAndPick(Func<int, string> sample, int count, string reference, CandidateScorer scorer)
    {
        if (count < 1) throw new GptBertException($"NumCandidates must be at least 1 (got {count})") { Parameter = "NumCandidates" };
        var candidates = Enumerable.Range(0, count).Select(sample).ToList();
        return Pick(candidates, scorer(reference, candidates));
    }

    /// <summary>A bi-encoder judge: the cosine of the candidate's and the reference's sentence embeddings.</summary>
    public static CandidateScorer Embedding(Embedder embedder) => (reference, candidates) => Relevance.BiEncoder(embedder, reference, candidates);

    /// <summary>A cross-encoder judge: P(relevant) of each pair (reference, candidate) by a sequence classifier (see <see cref="Relevance.CrossEncoder"/>).</summary>
    public static CandidateScorer CrossEncoder(Classifier classifier) =>
        (reference, candidates) => Relevance.CrossEncoder(classifier, candidates.Select(c => (reference, c)).ToList());
}
