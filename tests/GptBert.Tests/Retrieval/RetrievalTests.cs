using GptBert.Pipelines;
using GptBert.Retrieval;
using GptBert.Tests.Cli;
using GptBert.Tokenizers;

namespace GptBert.Tests.Retrieval;

/// <summary>
/// The passage index and RAG prompt assembly, against brute force (exact search), hand-worked sums (reciprocal rank
/// fusion), exhaustive checks of the chunks against their documents, and a word-counting tokenizer (prompt budgets).
/// </summary>
public class RetrievalTests
{
    static float[] RandomUnitVectors(int n, int dim, int seed)
    {
        var rng = new Random(seed);
        var v = new float[n * dim];
        for (int i = 0; i < n; i++)
        {
            double norm = 0;
            for (int d = 0; d < dim; d++) { v[i * dim + d] = (float)(rng.NextDouble() * 2 - 1); norm += v[i * dim + d] * v[i * dim + d]; }
            for (int d = 0; d < dim; d++) v[i * dim + d] /= (float)Math.Sqrt(norm);
        }
        return v;
    }

    [Fact]
    public void ExactSearchEqualsBruteForceRanking()
    {
        const int n = 3000, dim = 48;
        var vectors = RandomUnitVectors(n, dim, 1);
        var queries = RandomUnitVectors(20, dim, 2);
        for (int q = 0; q < 20; q++)
        {
            var query = queries.AsSpan(q * dim, dim).ToArray();
            var expected = Enumerable.Range(0, n)
                .Select(i => (Id: i, Score: Enumerable.Range(0, dim).Sum(d => (double)vectors[i * dim + d] * query[d])))
                .OrderByDescending(x => x.Score).ThenBy(x => x.Id).Take(10).ToList();
            var got = SearchIndex.ExactTopK(vectors, dim, query, 10);
            Assert.Equal(expected.Select(e => e.Id), got.Select(g => g.Id));
            for (int i = 0; i < 10; i++) Assert.Equal(expected[i].Score, got[i].Score, 5);
        }
        Assert.Equal(n, SearchIndex.ExactTopK(vectors, dim, queries.AsSpan(0, dim), n + 5).Count);
    }

    [Fact]
    public void ApproximateSearchFindsNearlyAllOfTheExactTopTen()
    {
        const int n = 4000, dim = 32;
        var vectors = RandomUnitVectors(n, dim, 3);
        using var index = SearchIndex.FromVectors(vectors, dim, approximate: true);
        var queries = RandomUnitVectors(100, dim, 4);
        int found = 0;
        for (int q = 0; q < 100; q++)
        {
            var query = queries.AsSpan(q * dim, dim).ToArray();
            var exact = index.DenseSearch(query, 10).Select(h => h.Id).ToHashSet();
            var approximate = index.DenseSearch(query, 10, approximate: true);
            found += approximate.Count(h => exact.Contains(h.Id));
            // The graph's cosine equals the dot product of the unit vectors.
            foreach (var (id, score) in approximate)
                Assert.Equal(Enumerable.Range(0, dim).Sum(d => (double)vectors[id * dim + d] * query[d]), score, 4);
        }
        double recall = found / 1000.0;
        Assert.True(recall >= 0.95, $"recall@10 {recall:F3} against exact search (goal ≥ 0.95)");
    }

    [Fact]
    public void ReciprocalRankFusionAddsOneOverSixtyPlusRank()
    {
        // a: 1/61 + 1/62; c: 1/63 + 1/61; b: 1/62; d: 1/64.
        var fused = SearchIndex.ReciprocalRankFusion([[10, 11, 12, 13], [12, 10]]);
        Assert.Equal([10, 12, 11, 13], fused.Select(f => f.Id));
        Assert.Equal(1.0 / 61 + 1.0 / 62, fused[0].Score, 12);
        Assert.Equal(1.0 / 63 + 1.0 / 61, fused[1].Score, 12);
        Assert.Equal(1.0 / 62, fused[2].Score, 12);
    }

    [Fact]
    public void SentencesEndAtStopsAndBlankLines()
    {
        const string text = "Call me Ishmael. Some years ago—never mind how long—I went to sea! Why? \"Because.\" Then\n\nA heading\n今天天气很好。我想去公园。Done";
        var spans = Chunker.Sentences(text).Select(s => text[s.Start..s.End]).ToList();
        Assert.Equal(["Call me Ishmael.", "Some years ago—never mind how long—I went to sea!", "Why?", "\"Because.\"", "Then", "A heading\n今天天气很好。", "我想去公园。", "Done"], spans);
    }

    [Fact]
    public void ChunksAreExactRangesWithinTheBudgetCoveringEverySentence()
    {
        var tok = TokenizerLoader.Load("bert-base-uncased");
        var rng = new Random(5);
        string[] words = ["whale", "ship", "the", "sea", "captain", "Ahab", "harpoon", "café", "naïve", "鲸鱼", "🐋", "storm", "of"];
        var sentences = Enumerable.Range(0, 60).Select(i =>
            string.Join(' ', Enumerable.Range(0, i == 17 ? 90 : 1 + rng.Next(14)).Select(_ => words[rng.Next(words.Length)])) + (i % 4 == 0 ? "!" : "."));
        string doc = string.Concat(sentences.Select((s, i) => (i % 7 == 6 ? "\n\n" : " ") + s)).TrimStart();
        var options = new ChunkingOptions { MaxTokens = 40, OverlapTokens = 10 };
        var chunks = Chunker.Split("doc", doc, tok, options);
        Assert.True(chunks.Count > 5);
        foreach (var c in chunks)
        {
            Assert.Equal(doc[c.Start..c.End], c.Text);
            int tokens = tok.Encode(c.Text, addSpecialTokens: false).Length;
            Assert.Equal(tokens, c.Tokens);
            Assert.InRange(tokens, 1, options.MaxTokens);
        }
        // Every sentence lies inside some chunk (the 90-word one across several).
        foreach (var (s, e) in Chunker.Sentences(doc))
        {
            bool inside = chunks.Any(c => c.Start <= s && e <= c.End);
            bool split = chunks.Where(c => c.End > s && c.Start < e).Sum(c => Math.Min(c.End, e) - Math.Max(c.Start, s)) >= e - s - 20;
            Assert.True(inside || split, $"sentence at {s}-{e} is not covered");
        }
        // Chunks go forward, and neighbours share at most the overlap.
        for (int i = 1; i < chunks.Count; i++)
        {
            Assert.True(chunks[i].Start > chunks[i - 1].Start);
            if (chunks[i].Start < chunks[i - 1].End)
                Assert.True(tok.Encode(doc[chunks[i].Start..chunks[i - 1].End], addSpecialTokens: false).Length <= options.OverlapTokens + 2);
        }
        Assert.Contains(chunks.Zip(chunks.Skip(1)), p => p.Second.Start < p.First.End); // some overlap happened
    }

    static int Words(string s) => s.Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries).Length;

    [Fact]
    public void RagPromptsFitTheWindowAndQuoteTheBestRankedPrefix()
    {
        var hits = Enumerable.Range(0, 6).Select(i => new SearchHit(i + 1, i, 1.0 - i / 10.0,
            new Chunk("s", 0, 1, string.Join(' ', Enumerable.Repeat($"w{i}", 10 + 5 * i)), 1), null, null)).ToList();
        for (int window = 20; window <= 200; window += 7)
        {
            int bare = Words(Rag.DefaultTemplate.Replace("{sources}", "").Replace("{question}", "what is it?"));
            if (bare + 16 > window)
            {
                Assert.Throws<GptBertException>(() => Rag.BuildPrompt(Words, window, 16, "what is it?", hits));
                continue;
            }
            var p = Rag.BuildPrompt(Words, window, 16, "what is it?", hits);
            Assert.True(p.Tokens + 16 <= window, $"window {window}: {p.Tokens} + 16");
            Assert.Equal(Words(p.Text), p.Tokens);
            Assert.Equal(hits.Take(p.Used.Count), p.Used);
            Assert.Equal(hits.Skip(p.Used.Count), p.Dropped);
            if (p.Dropped.Count > 0)
            {
                // The next source would not have fitted.
                string next = Rag.FormatSource(p.Used.Count + 1, p.Dropped[0]);
                Assert.True(p.Tokens + Words(next) + 16 > window);
            }
            for (int i = 0; i < p.Used.Count; i++) Assert.Contains($"[{i + 1}] {p.Used[i].Chunk.Text}", p.Text);
        }
    }

    [Fact]
    public void BuiltIndexSavesLoadsAndFindsByMeaningAndByWord()
    {
        using var h = ModelHub.Load("minilm", architecture: null, tokenizer: null, device: "cpu", requireHead: false);
        var embedder = new Embedder(h);
        (string, string)[] docs =
        [
            ("whales.txt", "The sperm whale is the largest toothed predator. Whales breathe air through a blowhole.\n\nHarpoons were used by whalers."),
            ("cooking.txt", "Bake the bread at two hundred degrees. Knead the dough for ten minutes before it rises."),
            ("zebra.txt", "Quagga is an extinct subspecies of the plains zebra. It lived in South Africa."),
        ];
        using var built = SearchIndex.Build(embedder, "minilm", docs, new IndexOptions { Chunking = new ChunkingOptions { MaxTokens = 16, OverlapTokens = 0 } });
        string dir = Path.Combine(TestUtil.TempDir("index"), "kb.index");
        built.Save(dir);
        built.Save(dir); // replacing an index is allowed
        using var loaded = SearchIndex.Load(dir);
        Assert.Equal(built.Chunks, loaded.Chunks);
        for (int i = 0; i < built.Chunks.Count; i++) Assert.True(built.Vector(i).SequenceEqual(loaded.Vector(i)));
        Assert.True(loaded.HasLexical);

        var dense = loaded.Search(embedder, "how do I make a loaf?", 1);
        Assert.Equal("cooking.txt", dense[0].Chunk.Source);
        Assert.Equal(Embedder.Cosine(embedder.Embed(["how do I make a loaf?"])[0], embedder.Embed([dense[0].Chunk.Text])[0]), dense[0].Score, 4);
        var lexical = loaded.Search(embedder, "quagga", 1, SearchMode.Lexical);
        Assert.StartsWith("Quagga", lexical[0].Chunk.Text);
        var hybrid = loaded.Search(embedder, "quagga", 3, SearchMode.Hybrid);
        Assert.StartsWith("Quagga", hybrid[0].Chunk.Text);

        File.WriteAllText(Path.Combine(TestUtil.TempDir("not-index"), "x.txt"), "x");
        var e = Assert.Throws<GptBertException>(() => SearchIndex.Load(TestUtil.TempDir("empty-index")));
        Assert.Contains("not a GptBert index", e.Message);
    }

    [Fact]
    public void CliBuildsSearchesAndAnswers()
    {
        string dir = TestUtil.TempDir("cli-index");
        File.WriteAllText(Path.Combine(dir, "a.txt"), "The harbour master keeps the lighthouse. The lighthouse stands on the northern cliff.");
        File.WriteAllText(Path.Combine(dir, "b.jsonl"), "{\"id\": \"recipe-1\", \"text\": \"Simmer the soup for an hour.\"}\n\n{\"text\": \"Serve it hot.\"}\n");
        string index = Path.Combine(dir, "out.index");
        var build = CliHarness.Run(null, "index", "build", "--input", Path.Combine(dir, "a.txt"), Path.Combine(dir, "b.jsonl"), "--output", index, "--chunk-tokens", "12", "--chunk-overlap", "0", "--threads", "2");
        Assert.True(build.ExitCode == 0, build.ToString());
        Assert.Contains("indexed 3 documents", build.Stderr);

        var search = CliHarness.Run(null, "index", "search", "--index", index, "--query", "soup", "--top", "2", "--jsonl", "--threads", "2");
        Assert.True(search.ExitCode == 0, search.ToString());
        Assert.Equal("recipe-1", search.JsonLines[0].GetProperty("source").GetString());

        var rag = CliHarness.Run(null, "rag", "--index", index, "--generator", TinyModels.Gpt2, "--tokenizer", "gpt2", "--question", "Where is the lighthouse?", "--max-new-tokens", "5", "--stop", "zzz", "--json", "--threads", "2");
        Assert.True(rag.ExitCode == 0, rag.ToString());
        var answer = rag.JsonLines[0];
        Assert.True(answer.GetProperty("sources").GetArrayLength() >= 1);
        Assert.True(answer.GetProperty("prompt_tokens").GetInt32() + 5 <= 64);

        CliHarness.AssertOneLineError(CliHarness.Run(null, "index", "search", "--index", Path.Combine(dir, "missing"), "--query", "x"), 2);
        CliHarness.AssertOneLineError(CliHarness.Run(null, "index", "build", "--input", Path.Combine(dir, "nope.txt"), "--output", index), 2);
        CliHarness.AssertOneLineError(CliHarness.Run(null, "index", "build", "--input", dir, "--output", index, "--chunk-tokens", "600"), 2);
    }
}

/// <summary>Relevance scoring by cross-encoders and bi-encoders, against the classifier's own logits and embeddings.</summary>
public class RelevanceTests
{
    [Fact]
    public void TheRelevantLabelIsNamedOrLast()
    {
        Assert.Equal(1, Relevance.RelevantLabel(["0", "1"]));
        Assert.Equal(0, Relevance.RelevantLabel(["Relevant", "irrelevant"]));
        Assert.Equal(2, Relevance.RelevantLabel(["neg", "neutral", "other"]));
        Assert.Equal(1, Relevance.RelevantLabel(["negative", "positive"]));
    }

    [Fact]
    public void CrossEncoderScoresAreTheSigmoidOrTheRelevantProbability()
    {
        foreach (int labels in new[] { 1, 2 })
        {
            var config = new GptBert.Models.BertConfig
            {
                VocabSize = 30522, HiddenSize = 32, NumHiddenLayers = 1, NumAttentionHeads = 2, IntermediateSize = 64, MaxPositionEmbeddings = 64,
                HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0,
                Id2Label = Enumerable.Range(0, labels).ToDictionary(i => i.ToString(), i => i.ToString()),
                Label2Id = Enumerable.Range(0, labels).ToDictionary(i => i.ToString(), i => i),
            };
            string dir = TestUtil.TempDir($"cross-encoder-{labels}");
            TestUtil.Init(7);
            using (var m = new GptBert.Models.BertForSequenceClassification(config)) m.SavePretrained(dir);
            TokenizerLoader.Load("bert-base-uncased").Save(dir);
            using var classifier = new Classifier(dir);
            (string, string)[] pairs = [("whale", "a whale swims"), ("whale", "bake the bread"), ("ship", "the ship sank")];
            var scores = Relevance.CrossEncoder(classifier, pairs);
            var logits = classifier.Logits(pairs.Select(p => (p.Item1, (string?)p.Item2)).ToList());
            for (int i = 0; i < pairs.Length; i++)
            {
                double expected = labels == 1 ? 1 / (1 + Math.Exp(-logits[i][0]))
                    : Math.Exp(logits[i][1]) / (Math.Exp(logits[i][0]) + Math.Exp(logits[i][1]));
                Assert.Equal(expected, scores[i], 6);
            }
            Assert.Equal(Relevance.Rank(scores), Enumerable.Range(0, 3).OrderByDescending(i => scores[i]).ThenBy(i => i));
        }
    }

    [Fact]
    public void CliRerankOrdersByMeaningWithTheBuiltInBiEncoder()
    {
        var r = CliHarness.Run("{\"text\": \"Bake the bread for an hour.\"}\n{\"text\": \"The white whale sank the ship.\"}\n{\"text\": \"Taxes rose this year.\"}\n",
            "rerank", "--query", "a whale attacked a boat", "--jsonl", "--threads", "2");
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.JsonLines;
        Assert.Equal(3, lines.Length);
        Assert.Equal(1, lines[0].GetProperty("index").GetInt32());
        Assert.True(lines[0].GetProperty("score").GetDouble() > lines[1].GetProperty("score").GetDouble());
        CliHarness.AssertOneLineError(CliHarness.Run("", "rerank", "--query", "x"), 1);
    }

    [Fact]
    public void HardNegativesAreTheBestRankedDocumentsThatAreNotRelevant()
    {
        using var h = ModelHub.Load("minilm", architecture: null, tokenizer: null, device: "cpu", requireHead: false);
        var embedder = new Embedder(h);
        (string, string)[] pairs =
        [
            ("how do whales breathe?", "Whales breathe air through a blowhole."),
            ("how do whales breathe?", "A whale surfaces to breathe."),
            ("what do sharks eat?", "Sharks eat fish and seals."),
            ("how is bread baked?", "Bread is baked in a hot oven."),
            ("what is the capital of France?", "Paris is the capital of France."),
        ];
        var rows = NegativeMining.Mine(embedder, pairs, negatives: 2);
        var docs = pairs.Select(p => p.Item2).Distinct().ToList();
        foreach (var query in pairs.Select(p => p.Item1).Distinct())
        {
            var relevant = pairs.Where(p => p.Item1 == query).Select(p => p.Item2).ToHashSet();
            Assert.Equal(relevant.Order(), rows.Where(r => r.Query == query && r.Relevant).Select(r => r.Document).Order());
            // Reference: cosine of the query with every document, best first, relevant ones left out.
            var q = embedder.Embed([query])[0];
            var expected = docs.Where(d => !relevant.Contains(d)).OrderByDescending(d => Embedder.Cosine(q, embedder.Embed([d])[0])).Take(2).ToList();
            Assert.Equal(expected, rows.Where(r => r.Query == query && !r.Relevant).Select(r => r.Document).ToList());
        }

        string dir = TestUtil.TempDir("negatives");
        string csv = Path.Combine(dir, "pairs.csv"), output = Path.Combine(dir, "train.jsonl");
        File.WriteAllText(csv, "text,text_pair\n" + string.Join("\n", pairs.Select(p => $"\"{p.Item1}\",\"{p.Item2}\"")) + "\n");
        var cli = CliHarness.Run(null, "index", "negatives", "--pairs", csv, "--output", output, "--negatives", "1", "--threads", "2");
        Assert.True(cli.ExitCode == 0, cli.ToString());
        var written = GptBert.Data.LabeledDataset.Load(output);
        Assert.Equal(pairs.Length + 4, written.Count); // 5 positives, 1 negative for each of 4 queries
        Assert.Equal(["0", "1"], written.Select(e => e.Label).Distinct().Order());
    }
}
