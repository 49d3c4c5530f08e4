using System.Text.Json;
using GptBert.Pipelines;
using GptBert.Tests.Cli;
using GptBert.Tokenizers.Training;

namespace GptBert.Tests.Pipelines;

/// <summary>
/// Summarization: sentence spans and offsets written out by hand (accents, CJK, emoji, line breaks); an extractive
/// summary that must pick the sentence central by construction; a tiny GPT fine-tuned through `gptbert finetune` on a
/// rule known by construction (the summary is the document's first three words); the shipped data's schema; the CLI.
/// </summary>
public class SummarizerTests
{
    [Fact]
    public void SentencesAreExactCharacterRangesIncludingCjkAccentsAndEmoji()
    {
        const string doc = "  Café au lait, s'il vous plaît. 今天天气很好。我想去公园！\nThe naïve résumé 😀 ends here…\n- a list item\n\nLast one?";
        string[] expected = ["Café au lait, s'il vous plaît.", "今天天气很好。", "我想去公园！", "The naïve résumé 😀 ends here…", "- a list item", "Last one?"];
        var spans = Summarizer.Sentences(doc);
        Assert.Equal(expected, spans.Select(s => doc[s.Start..s.End]).ToArray());
        // Offsets as a reader finds them: each expected text's first occurrence.
        Assert.Equal(expected.Select(e => doc.IndexOf(e, StringComparison.Ordinal)).ToArray(), spans.Select(s => s.Start).ToArray());

        var lead = Summarizer.Lead(3).Summarize(doc);
        Assert.Equal("Café au lait, s'il vous plaît. 今天天气很好。 我想去公园！", lead.Text);
        Assert.Equal([0, 1, 2], lead.Sentences.Select(s => s.Index));
        foreach (var s in lead.Sentences) Assert.Equal(s.Text, doc[s.Start..s.End]);
    }

    /// <summary>
    /// Four sentences on unrelated topics and one (the fourth) that mentions each of them: its mean similarity to the
    /// others is the highest by construction, so extractive-1 picks it, and extractive-2 returns it after the first
    /// pick in document order.
    /// </summary>
    [Fact]
    public void ExtractivePicksTheCentralSentenceInDocumentOrder()
    {
        const string doc = "The night train leaves the station at noon. My grandmother knits warm wool sweaters. " +
            "Volcanoes erupt molten lava and ash. Grandmother knitted sweaters on the train while watching volcanoes erupt lava. " +
            "Stock prices fell sharply on Monday.";
        using var handle = ModelHub.Load(ModelHub.MiniLm, requireHead: false);
        var one = Summarizer.Extractive(new Embedder(handle)).Summarize(doc);
        const string central = "Grandmother knitted sweaters on the train while watching volcanoes erupt lava.";
        Assert.Equal(central, one.Text);
        var s = Assert.Single(one.Sentences);
        Assert.Equal((3, doc.IndexOf(central, StringComparison.Ordinal)), (s.Index, s.Start));
        Assert.Equal(s.Start + central.Length, s.End);

        var two = Summarizer.Extractive(new Embedder(handle), sentences: 2).Summarize(doc);
        Assert.Equal(2, two.Sentences.Count);
        Assert.True(two.Sentences[0].Start < two.Sentences[1].Start, "sentences come in document order");
        Assert.Contains(two.Sentences, x => x.Index == 3);
        Assert.Equal(string.Join(" ", two.Sentences.Select(x => doc[x.Start..x.End])), two.Text);
    }

    static readonly string[] Words = ["red", "blue", "green", "cat", "dog", "bird", "runs", "sits", "jumps", "big", "small", "old", "new", "fast", "slow", "home"];

    /// <summary>Documents of two sentences of random words; the summary is the first three words.</summary>
    static List<(string Document, string Summary)> RuleDocuments(int count, int seed)
    {
        var rng = new Random(seed);
        string Sentence(int n) => string.Join(' ', Enumerable.Range(0, n).Select(_ => Words[rng.Next(Words.Length)])) + ".";
        return Enumerable.Range(0, count).Select(_ =>
        {
            string doc = Sentence(5) + " " + Sentence(4);
            return (doc, string.Join(' ', doc.Split(' ').Take(3)));
        }).ToList();
    }

    [Fact]
    public void TinyGptLearnsAKnownSummaryRuleThroughFinetune()
    {
        string dir = TestUtil.TempDir("summarize");
        string train = Path.Combine(dir, "train.jsonl"), test = Path.Combine(dir, "test.jsonl");
        var docs = RuleDocuments(8, seed: 7);
        File.WriteAllLines(train, Enumerable.Repeat(docs, 16).SelectMany(d => d)
            .Select(d => JsonSerializer.Serialize(new { prompt = $"Summarize: {d.Document}\nSummary:", completion = " " + d.Summary })));
        File.WriteAllLines(test, docs.Select(d => JsonSerializer.Serialize(new { document = d.Document, summary = d.Summary })));
        // A 300-token BPE trained on the rule's own words keeps the LM head small (GPT-2's 50,257 made this test take ~50 s).
        string tokDir = Path.Combine(dir, "tok");
        TokenizerTraining.TrainAndSave(TokenizerTraining.Bpe, [.. docs.Select(d => d.Document), "Summarize: Summary:", .. Words], tokDir,
            new TokenizerTrainingOptions { VocabSize = 300 });
        string output = Path.Combine(dir, "out");
        var r = CliHarness.Run(null, "finetune", "--arch", "gpt", "--layers", "2", "--hidden", "32", "--heads", "2", "--max-length", "48",
            "--tokenizer", tokDir, "--train", train, "--output", output, "--max-steps", "300", "--batch-size", "8", "--lr", "5e-3", "--seed", "1", "--threads", "2");
        Assert.True(r.ExitCode == 0, r.ToString());

        var eval = CliHarness.Run(null, "summarize", "--model", output, "--data", test, "--json", "--threads", "2");
        Assert.True(eval.ExitCode == 0, eval.ToString());
        using var doc = JsonDocument.Parse(eval.Stdout);
        Assert.Equal(8, doc.RootElement.GetProperty("count").GetInt32());
        var methods = doc.RootElement.GetProperty("methods").EnumerateArray().ToDictionary(m => m.GetProperty("method").GetString()!);
        double rougeL = methods["abstractive"].GetProperty("rougeL").GetProperty("fmeasure").GetDouble();
        Assert.True(rougeL >= 0.9, $"abstractive ROUGE-L {rougeL}\n{eval.Stdout}");
        // Lead-1 is the first sentence: the three summary words out of five, P = 3/5, R = 1, F = 0.75 for every document.
        Assert.Equal(0.75, methods["lead-1"].GetProperty("rouge1").GetProperty("fmeasure").GetDouble(), 9);

        var one = CliHarness.Run(null, "summarize", "--model", output, "--text", docs[0].Document, "--num-beams", "3", "--threads", "2");
        Assert.True(one.ExitCode == 0, one.ToString());
        Assert.Equal(docs[0].Summary, one.Stdout.Trim());
    }

    static readonly string[] Splits = ["train", "validation", "test"];

    [Fact]
    public void ShippedDataHasTheFieldsAndNoOverlapBetweenSplits()
    {
        var ids = new Dictionary<string, string>();
        var documents = new Dictionary<string, string>();
        var packages = new Dictionary<string, string>();
        foreach (var split in Splits)
        {
            var lines = File.ReadAllLines(RepoFiles.At("data", "summarization", $"{split}.jsonl"));
            Assert.InRange(lines.Length, split == "train" ? 1000 : 100, split == "train" ? 3000 : 300);
            foreach (var line in lines)
            {
                using var j = JsonDocument.Parse(line);
                var o = j.RootElement;
                string Str(string k) => o.GetProperty(k).GetString()!;
                string id = Str("id"), document = Str("document"), summary = Str("summary");
                Assert.True(o.TryGetProperty("metadata_license", out var lic) && lic.ValueKind is JsonValueKind.String or JsonValueKind.Null, id);
                Assert.Equal($"Summarize: {document}\nSummary:", Str("prompt"));
                Assert.Equal(" " + summary, Str("completion"));
                Assert.True(document.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length >= 30, id);
                Assert.True(Summarizer.Sentences(document).Count >= 2, id);
                Assert.False(string.IsNullOrWhiteSpace(summary), id);
                Assert.DoesNotContain('\n', summary);
                Assert.True(ids.TryAdd(id, split), $"{id} is in {split} and {ids.GetValueOrDefault(id)}");
                Assert.True(documents.TryAdd(document, split), $"{id}: the same document is in {split} and {documents.GetValueOrDefault(document)}");
                // Components of one package share a split.
                string package = Str("package");
                Assert.Equal(packages.GetValueOrDefault(package, split), split);
                packages[package] = split;
            }
        }
    }

    [Fact]
    public void CliLeadTextJsonlAndScores()
    {
        var lead = CliHarness.Run(null, "summarize", "--method", "lead", "--sentences", "2", "--text", "One fish. Two fish! Red fish? Blue fish.");
        Assert.True(lead.ExitCode == 0, lead.ToString());
        Assert.Equal("One fish. Two fish!", lead.Stdout.Trim());

        var lines = CliHarness.Run("{\"document\": \"Première phrase. Deuxième phrase.\"}\n{\"text\": \"日本語の文。二番目。\"}\n",
            "summarize", "--method", "lead", "--input", "-", "--jsonl");
        Assert.True(lines.ExitCode == 0, lines.ToString());
        var json = lines.JsonLines;
        Assert.Equal("Première phrase.", json[0].GetProperty("summary").GetString());
        Assert.Equal("日本語の文。", json[1].GetProperty("summary").GetString());
        var s = json[1].GetProperty("sentences")[0];
        Assert.Equal((0, 6), (s.GetProperty("start").GetInt32(), s.GetProperty("end").GetInt32()));

        // A test set whose summaries are the first sentences: lead-1 scores 1 on every ROUGE.
        string dir = TestUtil.TempDir("summarize-cli");
        string test = Path.Combine(dir, "test.jsonl");
        File.WriteAllLines(test, [
            JsonSerializer.Serialize(new { document = "The cat sat. It was warm.", summary = "The cat sat." }),
            JsonSerializer.Serialize(new { document = "Rain fell all day. Nobody went out.", summary = "rain fell all day" }),
        ]);
        var scored = CliHarness.Run(null, "summarize", "--method", "lead", "--data", test, "--json");
        Assert.True(scored.ExitCode == 0, scored.ToString());
        using var doc = JsonDocument.Parse(scored.Stdout);
        var m = Assert.Single(doc.RootElement.GetProperty("methods").EnumerateArray());
        Assert.Equal("lead-1", m.GetProperty("method").GetString());
        foreach (var name in new[] { "rouge1", "rouge2", "rougeL" })
            Assert.Equal(1.0, m.GetProperty(name).GetProperty("fmeasure").GetDouble(), 9);

        // Extractive with the built-in MiniLM (the default model): a table with the lead baseline beside it.
        var table = CliHarness.Run(null, "summarize", "--data", test, "--threads", "2");
        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.Contains("extractive-1", table.Stdout);
        Assert.Contains("lead-1", table.Stdout);
    }

    [Theory]
    [InlineData(2, "--method", "lead")]
    [InlineData(2, "--text", "a", "--input", "f.txt")]
    [InlineData(2, "--method", "lead", "--text", "a. b.", "--sentences", "0")]
    [InlineData(2, "--method", "lead", "--text", "a. b.", "--num-beams", "4")]
    [InlineData(2, "--method", "lead", "--text", "a. b.", "--jsonl")]
    [InlineData(1, "--method", "lead", "--text", "a. b.", "--prompt-format", "Summary:")]
    [InlineData(1, "--method", "lead", "--input", "/nonexistent/doc.txt")]
    [InlineData(1, "--method", "lead", "--data", "/nonexistent/test.jsonl")]
    [InlineData(1, "--method", "lead", "--text", "   ")]
    [InlineData(1, "--model", "/nonexistent/model", "--text", "a. b.")]
    public void CliErrorsAreOneLine(int exitCode, params string[] args)
    {
        CliHarness.AssertOneLineError(CliHarness.Run(null, ["summarize", .. args]), exitCode);
    }
}
