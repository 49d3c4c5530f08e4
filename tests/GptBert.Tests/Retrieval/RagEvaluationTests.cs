using GptBert.Pipelines;
using GptBert.Retrieval;
using GptBert.Tests.Cli;

namespace GptBert.Tests.Retrieval;

/// <summary>
/// RAG evaluation: recall@k and MRR against explicit arithmetic on hand-made rankings, the hit rule on hand-made chunks,
/// and the CLI on a corpus whose BM25 ranking is known by construction (each passage has its own rare words).
/// </summary>
public class RagEvaluationTests
{
    [Fact]
    public void RecallAndMrrEqualTheArithmeticOfHandMadeRanks()
    {
        // Five questions: first hits at ranks 1, 3, none, 2 and 7 of 10 retrieved.
        int[] ranks = [1, 3, 0, 2, 7];
        var s = RagEvaluation.Score(ranks, [1, 5, 10], depth: 10);
        Assert.Equal(1.0 / 5, s.Recall[1], 12);   // rank 1
        Assert.Equal(3.0 / 5, s.Recall[5], 12);   // ranks 1, 3, 2
        Assert.Equal(4.0 / 5, s.Recall[10], 12);  // ranks 1, 3, 2, 7
        Assert.Equal((1 + 1.0 / 3 + 0 + 1.0 / 2 + 1.0 / 7) / 5, s.Mrr, 12);
        Assert.Equal(5, s.Count);
        Assert.Equal(10, s.Depth);

        var perfect = RagEvaluation.Score([1, 1], [1], depth: 1);
        Assert.Equal(1.0, perfect.Recall[1]);
        Assert.Equal(1.0, perfect.Mrr);
        var none = RagEvaluation.Score([0, 0, 0], [1, 3], depth: 3);
        Assert.Equal(0.0, none.Recall[3]);
        Assert.Equal(0.0, none.Mrr);
    }

    [Fact]
    public void ScoringRefusesWhatItCannotScore()
    {
        Assert.Contains("no questions", Assert.Throws<GptBertException>(() => RagEvaluation.Score([], [1], 1)).Message);
        Assert.Equal("Cutoffs", Assert.Throws<GptBertException>(() => RagEvaluation.Score([1], [1, 10], 5)).Parameter);
        Assert.Equal("Cutoffs", Assert.Throws<GptBertException>(() => RagEvaluation.Score([1], [0], 5)).Parameter);
        Assert.Throws<GptBertException>(() => RagEvaluation.Score([6], [1], 5));
    }

    [Fact]
    public void AHitIsAChunkThatHoldsTheWholeGoldPassage()
    {
        const string gold = "And Seth lived an hundred and five years, and begat Enos:";
        // Whitespace runs (line breaks of the corpus file, double spaces) do not matter.
        Assert.True(RagEvaluation.IsHit("And Adam knew his wife.\nAnd Seth lived an hundred\n and five  years, and begat Enos:\nAnd Seth lived after...", gold));
        Assert.True(RagEvaluation.IsHit(gold, "  " + gold + "\n"));
        // Part of the passage (cut at a chunk boundary), another case, or other punctuation is not a hit.
        Assert.False(RagEvaluation.IsHit("And Seth lived an hundred and five years,", gold));
        Assert.False(RagEvaluation.IsHit("and five years, and begat Enos: And Seth", gold));
        Assert.False(RagEvaluation.IsHit(gold.ToUpperInvariant(), gold));
        Assert.False(RagEvaluation.IsHit(gold.Replace(":", ".", StringComparison.Ordinal), gold));
        Assert.Equal("Data", Assert.Throws<GptBertException>(() => RagEvaluation.IsHit("x", " \n")).Parameter);

        string[] ranking = ["Noah begat Shem.", "And Seth lived an hundred", "Seth:\nAnd Seth lived an hundred and five years, and begat Enos: and more", gold];
        Assert.Equal(3, RagEvaluation.FirstHitRank(ranking, gold));
        Assert.Equal(0, RagEvaluation.FirstHitRank(ranking[..2], gold));
        Assert.Equal("a b c", RagEvaluation.CollapseWhitespace(" a\t\nb   c \r\n"));
    }

    [Fact]
    public void CliScoresRetrievalOnACorpusWithAKnownBm25Ranking()
    {
        string dir = TestUtil.TempDir("rag-eval");
        string corpus = Path.Combine(dir, "corpus");
        Directory.CreateDirectory(corpus);
        File.WriteAllText(Path.Combine(corpus, "a.txt"), "The lighthouse keeper Oswin polished the lamp.\n\nMarmalade is made from bitter oranges.");
        File.WriteAllText(Path.Combine(corpus, "b.txt"), "Quartz crystals vibrate at a steady frequency.");
        string index = Path.Combine(dir, "corpus.index");
        var build = CliHarness.Run(null, "index", "build", "--input", corpus, "--output", index, "--chunk-tokens", "12", "--chunk-overlap", "0", "--threads", "2");
        Assert.True(build.ExitCode == 0, build.ToString());

        // Two questions whose rare words occur in one passage each; a third whose gold passage the corpus lacks.
        string questions = Path.Combine(dir, "questions.jsonl");
        File.WriteAllLines(questions,
        [
            """{"id": "q1", "question": "Who polished the lighthouse lamp?", "context": "The lighthouse keeper Oswin polished the lamp.", "answer": "Oswin", "answer_start": 22}""",
            """{"id": "q2", "question": "What vibrate at a steady frequency?", "context": "Quartz crystals vibrate at a steady frequency.", "answer": "Quartz crystals", "answer_start": 0}""",
            """{"id": "q3", "question": "What is made from bitter oranges?", "context": "Jam is made from plums.", "answer": "Jam", "answer_start": 0}""",
        ]);
        var r = CliHarness.Run(null, "rag", "--index", index, "--data", questions, "--mode", "bm25", "--recall-at", "1,2", "--json", "--threads", "2");
        Assert.True(r.ExitCode == 0, r.ToString());
        var o = System.Text.Json.JsonDocument.Parse(r.Stdout).RootElement;
        Assert.Equal(3, o.GetProperty("questions").GetInt32());
        Assert.Equal(2, o.GetProperty("reachable").GetInt32());
        var bm25 = o.GetProperty("retrieval")[0];
        Assert.Equal("bm25", bm25.GetProperty("mode").GetString());
        Assert.Equal(2.0 / 3, bm25.GetProperty("recall@1").GetDouble(), 9);
        Assert.Equal(2.0 / 3, bm25.GetProperty("recall@2").GetDouble(), 9);
        Assert.Equal(2.0 / 3, bm25.GetProperty("mrr").GetDouble(), 9);

        // Every mode by default, and answers with a generator (a tiny random GPT: EM/F1 are reported, whatever they are).
        var all = CliHarness.Run(null, "rag", "--index", index, "--data", questions, "--generator", TinyModels.Gpt2, "--tokenizer", "gpt2",
            "--max-new-tokens", "3", "--top", "1", "--json", "--threads", "2");
        Assert.True(all.ExitCode == 0, all.ToString());
        var modes = System.Text.Json.JsonDocument.Parse(all.Stdout).RootElement.GetProperty("retrieval").EnumerateArray().Select(m => m.GetProperty("mode").GetString()).ToList();
        Assert.Equal(["dense", "bm25", "hybrid"], modes);
        var answers = System.Text.Json.JsonDocument.Parse(all.Stdout).RootElement.GetProperty("answers");
        Assert.Equal(3, answers.GetProperty("predictions").GetArrayLength());
        Assert.InRange(answers.GetProperty("f1").GetDouble(), 0, 100);

        // The table: a header, one row per mode, and the reachable count.
        var text = CliHarness.Run(null, "rag", "--index", index, "--data", questions, "--mode", "bm25", "--threads", "2");
        Assert.True(text.ExitCode == 0, text.ToString());
        Assert.StartsWith("3 questions from", text.StdoutLines[0]);
        Assert.Contains("2 questions have their gold passage whole in a passage", text.StdoutLines[0]);
        Assert.Equal(["bm25", "0.6667", "0.6667", "0.6667", "0.6667"], text.StdoutLines[2].Split(' ', StringSplitOptions.RemoveEmptyEntries));

        CliHarness.AssertOneLineError(CliHarness.Run(null, "rag", "--index", index), 2);
        CliHarness.AssertOneLineError(CliHarness.Run(null, "rag", "--index", index, "--question", "x"), 2);
        CliHarness.AssertOneLineError(CliHarness.Run(null, "rag", "--index", index, "--data", Path.Combine(dir, "missing.jsonl")), 2);
        CliHarness.AssertOneLineError(CliHarness.Run(null, "rag", "--index", index, "--data", questions, "--recall-at", "1,x"), 2);
    }

    [Fact]
    public void TheShippedQuestionSetHasItsGoldPassagesInTheCorpus()
    {
        var corpus = Directory.GetFiles(RepoFiles.At("data", "bible-kjv"), "*.txt")
            .ToDictionary(f => "bible-kjv/" + Path.GetFileName(f), f => File.ReadAllLines(f).Select(l => l.Trim()).ToHashSet());
        foreach (var split in new[] { "validation", "test" })
        {
            string path = RepoFiles.At("data", "rag", $"{split}.jsonl");
            var examples = GptBert.Data.QaData.Load(path);
            Assert.True(examples.Count >= 20, $"{path}: {examples.Count} questions");
            foreach (var line in File.ReadLines(path))
            {
                using var doc = System.Text.Json.JsonDocument.Parse(line);
                var j = doc.RootElement;
                Assert.Contains(j.GetProperty("context").GetString()!.Trim(), corpus[j.GetProperty("file").GetString()!]);
            }
            Assert.All(examples, e => Assert.True(e.HasAnswer, e.Id));
        }
    }
}

/// <summary>The generative-QA prompt of RAG: passages joined by spaces into the one context the fine-tuned GPT expects.</summary>
public class RagQaTemplateTests
{
    static SearchHit Hit(int rank, string text) => new(rank, rank, 1.0 / rank, new Chunk("doc", 0, text.Length, text, 1), null, null);

    [Fact]
    public void TheQaTemplateJoinsPassagesIntoOneContext()
    {
        static int Words(string t) => t.Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries).Length;
        var p = Rag.BuildPrompt(Words, 100, 10, "Whom did Seth beget?", [Hit(1, "And Seth lived\nan hundred years, and begat Enos:"), Hit(2, "Noah begat Shem.")], Rag.QaTemplate);
        Assert.Equal("Context: And Seth lived an hundred years, and begat Enos: Noah begat Shem.\nQuestion: Whom did Seth beget?\nAnswer:", p.Text);
        Assert.Equal(2, p.Used.Count);
        // A window with room for the first passage only keeps the best-ranked one.
        int one = Words("Context: And Seth lived an hundred years, and begat Enos:\nQuestion: Whom did Seth beget?\nAnswer:");
        var cut = Rag.BuildPrompt(Words, one + 10, 10, "Whom did Seth beget?", [Hit(1, "And Seth lived\nan hundred years, and begat Enos:"), Hit(2, "Noah begat Shem.")], Rag.QaTemplate);
        Assert.Single(cut.Used);
        Assert.Equal(one, cut.Tokens);
        Assert.Equal("Template", Assert.Throws<GptBertException>(() => Rag.BuildPrompt(Words, 100, 10, "q", [], "{sources} {context} {question}")).Parameter);
        Assert.Equal("Template", Assert.Throws<GptBertException>(() => Rag.BuildPrompt(Words, 100, 10, "q", [], "{question} only")).Parameter);
    }
}
