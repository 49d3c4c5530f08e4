using GptBert.Pipelines;
using GptBert.Retrieval;
using GptBert.Tests.Cli;
using GptBert.Tokenizers;

namespace GptBert.Tests.Retrieval;

/// <summary>
/// Retrieve-then-rerank in RAG: the reranker reorders the first stage's passages and nothing else, its scores decide the
/// order (a scorer whose preference is fixed by construction), and the evaluation counts hits in the reranked order
/// (recall@k and MRR worked by hand on a three-passage corpus).
/// </summary>
public class RagRerankingTests
{
    static SearchHit Hit(int rank, int id, string text) => new(rank, id, 1.0 / rank, new Chunk("doc", 0, text.Length, text, 1), 0.5, 2.0);

    [Fact]
    public void RerankingReordersTheSameHitsByTheScorersScores()
    {
        SearchHit[] first = [Hit(1, 10, "alpha"), Hit(2, 11, "beta beta"), Hit(3, 12, "gamma gamma gamma"), Hit(4, 13, "delta delta")];
        string? seenQuery = null;
        IReadOnlyList<string>? seenTexts = null;
        // By construction: a passage scores its number of words, so the order is gamma (3), beta and delta (2, a tie), alpha (1).
        CandidateScorer words = (q, texts) => { seenQuery = q; seenTexts = texts; return texts.Select(t => (double)t.Split(' ').Length).ToList(); };

        var reranked = Reranking.Rerank(first, "the query", words);

        Assert.Equal("the query", seenQuery);
        Assert.Equal(first.Select(h => h.Chunk.Text), seenTexts!);
        // Same set, new order; a tie keeps the first stage's order (beta before delta).
        Assert.Equal([12, 11, 13, 10], reranked.Select(h => h.ChunkId));
        Assert.Equal(first.Select(h => h.ChunkId).Order(), reranked.Select(h => h.ChunkId).Order());
        Assert.Equal([1, 2, 3, 4], reranked.Select(h => h.Rank));
        Assert.Equal([3.0, 2.0, 2.0, 1.0], reranked.Select(h => h.Score));
        // The chunks and the first stage's dense and BM25 scores travel with their hits.
        Assert.All(reranked, h => Assert.Same(first.Single(f => f.ChunkId == h.ChunkId).Chunk, h.Chunk));
        Assert.All(reranked, h => Assert.Equal((0.5, 2.0), (h.DenseScore!.Value, h.LexicalScore!.Value)));
        Assert.Empty(Reranking.Rerank([], "q", words));
    }

    /// <summary>Three passages, one rare word each; questions whose gold passage is the first, the third, and none.</summary>
    static (string Dir, string Index, string Questions) Corpus()
    {
        string dir = TestUtil.TempDir("rag-rerank");
        string corpus = Path.Combine(dir, "corpus");
        Directory.CreateDirectory(corpus);
        File.WriteAllText(Path.Combine(corpus, "a.txt"), "The lighthouse keeper Oswin polished the lamp.\n\nMarmalade is made from bitter oranges.");
        File.WriteAllText(Path.Combine(corpus, "b.txt"), "Quartz crystals vibrate at a steady frequency.");
        string index = Path.Combine(dir, "corpus.index");
        var build = CliHarness.Run(null, "index", "build", "--input", corpus, "--output", index, "--chunk-tokens", "12", "--chunk-overlap", "0", "--threads", "2");
        Assert.True(build.ExitCode == 0, build.ToString());
        string questions = Path.Combine(dir, "questions.jsonl");
        File.WriteAllLines(questions,
        [
            """{"id": "q1", "question": "Who polished the lighthouse lamp?", "context": "The lighthouse keeper Oswin polished the lamp.", "answer": "Oswin", "answer_start": 22}""",
            """{"id": "q2", "question": "What vibrate at a steady frequency?", "context": "Quartz crystals vibrate at a steady frequency.", "answer": "Quartz crystals", "answer_start": 0}""",
            """{"id": "q3", "question": "What is made from bitter oranges?", "context": "Jam is made from plums.", "answer": "Jam", "answer_start": 0}""",
        ]);
        return (dir, index, questions);
    }

    [Fact]
    public void TheEvaluationCountsHitsInTheRerankedOrder()
    {
        var (_, indexDir, questionsPath) = Corpus();
        using var index = SearchIndex.Load(indexDir);
        Assert.Equal(3, index.Chunks.Count);
        using var h = ModelHub.Load("minilm", architecture: null, tokenizer: null, device: "cpu", requireHead: false);
        var embedder = new Embedder(h);
        var questions = GptBert.Data.QaData.Load(questionsPath);

        // A reranker with one fixed order, whatever the question: Quartz (3), Marmalade (2), lighthouse (1).
        CandidateScorer fixedOrder = (_, texts) => texts.Select(t => t.Contains("Quartz") ? 3.0 : t.Contains("Marmalade") ? 2.0 : 1.0).ToList();
        var rerank = new RerankOptions(fixedOrder, Depth: 3);

        // Depth 3 = every passage, so every question's reranked list is Quartz, Marmalade, lighthouse, whatever the dense order:
        // q1's gold (lighthouse) is at rank 3, q2's (Quartz) at rank 1, q3's is in no passage.
        var e = RagEvaluation.EvaluateRetrieval(index, embedder, questions, SearchMode.Dense, [1, 2, 3], rerank);
        Assert.Equal([3, 1, 0], e.FirstHitRanks);
        Assert.Equal(1.0 / 3, e.Score.Recall[1], 12);
        Assert.Equal(1.0 / 3, e.Score.Recall[2], 12);
        Assert.Equal(2.0 / 3, e.Score.Recall[3], 12);
        Assert.Equal((1.0 / 3 + 1 + 0) / 3, e.Score.Mrr, 12);
        Assert.Equal(3, e.RerankDepth);
        Assert.Equal("dense+rerank", e.Name);
        // Reranking only reorders: at k = depth its recall is the first stage's.
        var plain = RagEvaluation.EvaluateRetrieval(index, embedder, questions, SearchMode.Dense, [3]);
        Assert.Equal(plain.Score.Recall[3], e.Score.Recall[3], 12);
        Assert.Equal("dense", plain.Name);

        // Only the first (largest cutoff) reranked passages count: with cutoff 1, q1's hit at rank 3 is a miss.
        var top1 = RagEvaluation.EvaluateRetrieval(index, embedder, questions, SearchMode.Dense, [1], rerank);
        Assert.Equal([0, 1, 0], top1.FirstHitRanks);
        Assert.Equal(1.0 / 3, top1.Score.Mrr, 12);

        // RAG quotes the reranked top k; a cutoff or k beyond the depth is refused.
        Assert.Equal(["Quartz", "Marmalade"], Reranking.Search(index, embedder, "lighthouse lamp", 2, SearchMode.Dense, rerank).Select(x => x.Chunk.Text.Split(' ')[0]));
        Assert.Equal("RerankDepth", Assert.Throws<GptBertException>(() => Reranking.Search(index, embedder, "q", 4, SearchMode.Dense, rerank)).Parameter);
        Assert.Equal("RerankDepth", Assert.Throws<GptBertException>(() => RagEvaluation.EvaluateRetrieval(index, embedder, questions, SearchMode.Dense, [1, 5], rerank)).Parameter);
        Assert.Equal("RerankDepth", Assert.Throws<GptBertException>(() => new RerankOptions(fixedOrder, 0).Validate()).Parameter);
    }

    [Fact]
    public void HardNegativesFromAnIndexAreItsBestRankedPassagesThatDoNotHoldTheRelevantOne()
    {
        var (dir, indexDir, _) = Corpus();
        using var index = SearchIndex.Load(indexDir);
        using var h = ModelHub.Load("minilm", architecture: null, tokenizer: null, device: "cpu", requireHead: false);
        var embedder = new Embedder(h);
        // The relevant document is the gold sentence, not the passage: the passage that contains it is not a negative.
        (string, string)[] pairs = [("Who polished the lighthouse lamp?", "The lighthouse keeper  Oswin\npolished the lamp."), ("What vibrates?", "Quartz crystals vibrate")];
        var rows = NegativeMining.Mine(index, embedder, pairs, negatives: 5, mode: SearchMode.Dense);
        foreach (var (query, relevant) in pairs)
        {
            Assert.Equal([relevant], rows.Where(r => r.Query == query && r.Relevant).Select(r => r.Document));
            // Reference: the index's own dense ranking of all three passages, less the one holding the relevant text.
            var expected = index.Search(embedder, query, 3, SearchMode.Dense).Select(x => x.Chunk.Text)
                .Where(t => !RagEvaluation.CollapseWhitespace(t).Contains(RagEvaluation.CollapseWhitespace(relevant), StringComparison.Ordinal)).ToList();
            Assert.Equal(2, expected.Count);
            Assert.Equal(expected, rows.Where(r => r.Query == query && !r.Relevant).Select(r => r.Document));
        }
        Assert.Single(NegativeMining.Mine(index, embedder, pairs, negatives: 1, skipTop: 1, mode: SearchMode.Dense), r => r.Query == "What vibrates?" && !r.Relevant);

        string jsonl = Path.Combine(dir, "pairs.jsonl"), output = Path.Combine(dir, "train.jsonl");
        File.WriteAllLines(jsonl, pairs.Select(p => System.Text.Json.JsonSerializer.Serialize(new { text = p.Item1, text_pair = p.Item2 })));
        var cli = CliHarness.Run(null, "index", "negatives", "--pairs", jsonl, "--index", indexDir, "--mode", "dense", "--negatives", "1", "--output", output, "--threads", "2");
        Assert.True(cli.ExitCode == 0, cli.ToString());
        Assert.Equal(4, GptBert.Data.LabeledDataset.Load(output).Count); // 2 positives, 1 negative each
        CliHarness.AssertOneLineError(CliHarness.Run(null, "index", "negatives", "--pairs", jsonl, "--mode", "dense", "--output", output), 2);
    }

    [Fact]
    public void CliAddsARerankedRowScoredWithTheCrossEncoder()
    {
        var (dir, index, questions) = Corpus();
        // A tiny random cross-encoder (a two-label sequence classifier): its preference is arbitrary, but it only reorders.
        var config = new GptBert.Models.BertConfig
        {
            VocabSize = 30522, HiddenSize = 32, NumHiddenLayers = 1, NumAttentionHeads = 2, IntermediateSize = 64, MaxPositionEmbeddings = 64,
            HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0,
            Id2Label = new() { ["0"] = "0", ["1"] = "1" }, Label2Id = new() { ["0"] = 0, ["1"] = 1 },
        };
        string xenc = Path.Combine(dir, "xenc");
        TestUtil.Init(7);
        using (var m = new GptBert.Models.BertForSequenceClassification(config)) m.SavePretrained(xenc);
        TokenizerLoader.Load("bert-base-uncased").Save(xenc);

        var r = CliHarness.Run(null, "rag", "--index", index, "--data", questions, "--recall-at", "1,3", "--rerank-with", xenc, "--rerank-depth", "3", "--json", "--threads", "2");
        Assert.True(r.ExitCode == 0, r.ToString());
        var rows = System.Text.Json.JsonDocument.Parse(r.Stdout).RootElement.GetProperty("retrieval").EnumerateArray().ToList();
        Assert.Equal(["dense", "bm25", "hybrid", "hybrid+rerank"], rows.Select(m => m.GetProperty("mode").GetString()));
        var reranked = rows[3];
        Assert.Equal(3, reranked.GetProperty("rerank_depth").GetInt32());
        Assert.True(reranked.GetProperty("rerank_ms_per_question").GetDouble() >= 0);
        // Depth 3 holds every passage: the reranked recall@3 is hybrid's, and the two reachable questions are found.
        Assert.Equal(rows[2].GetProperty("recall@3").GetDouble(), reranked.GetProperty("recall@3").GetDouble(), 12);
        Assert.Equal(2.0 / 3, reranked.GetProperty("recall@3").GetDouble(), 12);
        Assert.False(rows[2].TryGetProperty("rerank_depth", out _));

        // The reranked order is the cross-encoder's as 'gptbert rerank' scores it: each question's first hit is where rerank
        // puts its gold passage among the three (q3's gold is in none).
        using var idx = SearchIndex.Load(index);
        string passages = string.Concat(idx.Chunks.Select(c => System.Text.Json.JsonSerializer.Serialize(new { text = c.Text }) + "\n"));
        int GoldRank(string question, string goldStart)
        {
            var order = CliHarness.Run(passages, "rerank", "--model", xenc, "--query", question, "--jsonl", "--threads", "2");
            Assert.True(order.ExitCode == 0, order.ToString());
            return order.JsonLines.Select(j => j.GetProperty("text").GetString()!).ToList().FindIndex(t => t.StartsWith(goldStart, StringComparison.Ordinal)) + 1;
        }
        int[] ranks = [GoldRank("Who polished the lighthouse lamp?", "The lighthouse"), GoldRank("What vibrate at a steady frequency?", "Quartz"), 0];
        Assert.Equal(ranks.Count(x => x == 1) / 3.0, reranked.GetProperty("recall@1").GetDouble(), 12);
        Assert.Equal(ranks.Sum(x => x > 0 ? 1.0 / x : 0) / 3, reranked.GetProperty("mrr").GetDouble(), 12);

        var text = CliHarness.Run(null, "rag", "--index", index, "--data", questions, "--recall-at", "1,3", "--rerank-with", xenc, "--rerank-depth", "3", "--threads", "2");
        Assert.True(text.ExitCode == 0, text.ToString());
        Assert.Equal("hybrid+rerank", text.StdoutLines[5].Split(' ')[0]);
        Assert.StartsWith("hybrid+rerank: the first 3 hybrid passages reordered by the reranker", text.StdoutLines[6]);

        CliHarness.AssertOneLineError(CliHarness.Run(null, "rag", "--index", index, "--data", questions, "--rerank-with", xenc, "--rerank-depth", "5"), 2);
        CliHarness.AssertOneLineError(CliHarness.Run(null, "rag", "--index", index, "--data", questions, "--rerank-depth", "5"), 2);
        CliHarness.AssertOneLineError(CliHarness.Run(null, "rag", "--index", index, "--data", questions, "--rerank-with", xenc, "--rerank-depth", "0"), 2);
    }
}
