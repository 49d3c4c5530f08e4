using System.Text.Json;
using GptBert.Data;
using GptBert.Models;
using GptBert.Pipelines;
using GptBert.Tests.Cli;
using GptBert.Tests.Tokenizers;
using GptBert.Tokenizers;
using TorchSharp;
using static GptBert.Tests.Cli.CliHarness;
using Tensor = TorchSharp.torch.Tensor;

namespace GptBert.Tests.Pipelines;

/// <summary>
/// Token classification (NER): the CoNLL and JSON Lines readers, run_ner.py's first-sub-token label alignment for
/// WordPiece and byte-level BPE, entity offsets into the original text, and a tiny BERT and GPT-2 that learn a
/// known-by-construction tagging task through `gptbert finetune --task ner` and tag it back with `gptbert ner`.
/// </summary>
public class TokenClassificationTests
{
    const int Ignore = TokenClassifier.IgnoreIndex;

    // ---- readers

    [Fact]
    public void ConllReadsLastColumnSkipsDocstartAndCountsBadSentences()
    {
        var lines = new List<string> { "-DOCSTART- -X- -X- O", "", "EU NNP B-NP B-ORG", "rejects VBZ B-VP O", "German JJ B-NP B-MISC", "", "", "Peter\tB-PER", "Blackburn I-PER\r" };
        // A sentence with a line that has no tag is skipped whole; 25 good sentences keep it under the 5% refusal line.
        lines.AddRange(["", "broken", "line O"]);
        for (int i = 0; i < 23; i++) lines.AddRange(["", $"w{i} O"]);
        var warnings = new List<string>();
        var dir = TestUtil.TempDir("ner-conll");
        var path = Path.Combine(dir, "train.conll");
        File.WriteAllText(path, string.Join("\n", lines) + "\n");

        var data = TaggedSentences.Load(path, warnings.Add);

        Assert.Equal(25, data.Count);
        Assert.Equal(["EU", "rejects", "German"], data.Sentences[0].Words);
        Assert.Equal(["B-ORG", "O", "B-MISC"], data.Sentences[0].Tags);
        Assert.Equal(["Peter", "Blackburn"], data.Sentences[1].Words);
        Assert.Equal(["B-PER", "I-PER"], data.Sentences[1].Tags);
        Assert.Equal(1, data.Skipped.Count);
        Assert.Equal([11L], data.Skipped.Kinds[0].FirstLines);
        var warning = Assert.Single(warnings);
        Assert.Contains("skipped 1 of 26 sentences", warning);
        Assert.Equal(["B-MISC", "B-ORG", "B-PER", "I-PER", "O"], TaggedSentences.LabelList(data.Sentences)); // sorted, as run_ner.py
    }

    [Fact]
    public void JsonLinesReadsTokensAndStringTagsAndCountsBadRows()
    {
        var rows = new List<string>
        {
            """{"tokens": ["Zoë", "visited", "東京"], "ner_tags": ["B-PER", "O", "B-LOC"]}""",
            """{"tokens": ["a", "b"], "ner_tags": ["O"]}""",          // length mismatch
            """{"tokens": ["a"], "ner_tags": [3]}""",                  // numeric tag ids have no names
            "{not json",
        };
        for (int i = 0; i < 60; i++) rows.Add($$"""{"tokens": ["w{{i}}"], "ner_tags": ["O"]}""");
        var dir = TestUtil.TempDir("ner-jsonl");
        var path = Path.Combine(dir, "train.jsonl");
        File.WriteAllText(path, string.Join("\n", rows));
        var warnings = new List<string>();

        var data = TaggedSentences.Load(path, warnings.Add);

        Assert.Equal(61, data.Count);
        Assert.Equal(["Zoë", "visited", "東京"], data.Sentences[0].Words);
        Assert.Equal(["B-PER", "O", "B-LOC"], data.Sentences[0].Tags);
        Assert.Equal(3, data.Skipped.Count);
        Assert.Equal([2L, 3L, 4L], data.Skipped.Kinds.Single().FirstLines);
        Assert.Contains("skipped 3 of 64 sentences", Assert.Single(warnings));
    }

    [Fact]
    public void AFileOfMostlyBadRowsIsRefusedInOneLine()
    {
        var dir = TestUtil.TempDir("ner-bad");
        var path = Path.Combine(dir, "words.txt");
        File.WriteAllText(path, "just\n\nwords\n\nno tags\n");
        var e = Assert.Throws<GptBertException>(() => TaggedSentences.Load(path));
        Assert.Contains("has no tag", e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    // ---- alignment (transformers' run_ner.py, label_all_tokens=False)

    [Fact]
    public void WordPieceLabelsSitOnTheFirstSubTokenOfEachWord()
    {
        var tok = TokenizerLoader.Load(TokenizerLoader.BertBaseUncased);
        string[] words = ["Ada", "Lovelace", "wrote", "unaffable", "notes", "."];
        int[] tags = [0, 1, 2, 2, 2, 2];
        // bert-base-uncased's greedy longest-match-first WordPiece: lovelace → love ##lace, unaffable → una ##ffa ##ble.
        var expectedIds = TokenizerTestUtil.BertIds("[CLS]", "ada", "love", "##lace", "wrote", "una", "##ffa", "##ble", "notes", ".", "[SEP]");
        long[] expectedLabels = [Ignore, 0, 1, Ignore, 2, 2, Ignore, Ignore, 2, 2, Ignore];
        int[] expectedWords = [-1, 0, 1, 1, 2, 3, 3, 3, 4, 5, -1];

        var enc = TokenClassifier.EncodeWords(tok, words, maxLength: 64);

        Assert.Equal(expectedIds, enc.Encoding.Ids);
        Assert.Equal(expectedWords, enc.WordIds);
        Assert.Equal(expectedLabels, TokenClassifier.AlignLabels(enc, tags));
        Assert.Equal([1, 2, 4, 5, 8, 9], enc.FirstTokens(words.Length));

        // Truncation keeps [SEP] and cuts the last words: with 6 positions, "una ##ffa" survive of word 3, words 4-5 go.
        var cut = TokenClassifier.EncodeWords(tok, words, maxLength: 7);
        Assert.Equal(TokenizerTestUtil.BertIds("[CLS]", "ada", "love", "##lace", "wrote", "una", "[SEP]"), cut.Encoding.Ids);
        Assert.Equal([Ignore, 0, 1, Ignore, 2, 2, Ignore], TokenClassifier.AlignLabels(cut, tags));
        Assert.Equal([1, 2, 4, 5, -1, -1], cut.FirstTokens(words.Length));
        Assert.True(cut.Truncated);
    }

    [Fact]
    public void ByteLevelBpeLabelsSitOnTheFirstSubTokenWithSpacesBeforeLaterWords()
    {
        var tok = TokenizerLoader.Load(TokenizerLoader.Gpt2);
        string[] words = ["Ada", "Lovelace", "wrote", "unaffable", "notes", "."];
        int[] tags = [0, 1, 2, 2, 2, 2];
        // The reference (OpenAI's GPT-2 encoding via Microsoft.ML.Tokenizers) encodes each word as running text would:
        // the first as is, the others after a space.
        var pieces = words.Select((w, i) => TokenizerTestUtil.ReferenceGpt2(i == 0 ? w : " " + w)).ToArray();
        Assert.True(pieces.Count(p => p.Length > 1) >= 2, "the test needs words that split into several BPE tokens");
        var expectedIds = pieces.SelectMany(p => p).ToArray();
        var expectedLabels = pieces.SelectMany((p, w) => p.Select((_, k) => k == 0 ? (long)tags[w] : Ignore)).ToArray();

        var enc = TokenClassifier.EncodeWords(tok, words, maxLength: 64);

        Assert.Equal(expectedIds, enc.Encoding.Ids); // GPT-2 adds no special tokens
        Assert.Equal(expectedLabels, TokenClassifier.AlignLabels(enc, tags));
        Assert.Equal(pieces.SelectMany((p, w) => p.Select(_ => w)).ToArray(), enc.WordIds);
    }

    // ---- words and entities in raw text

    [Fact]
    public void EntityOffsetsPointAtTheOriginalCharactersWithAccentsCjkAndEmoji()
    {
        // "José" with a combining acute accent (5 code points), an emoji outside the BMP (2 UTF-16 units, 1 code point),
        // a ZWJ emoji sequence, CJK characters as words of their own, a precomposed "ã".
        const string text = "Jose\u0301 👩‍💻 met  Zoë in 東京, then São Paulo 😀!";
        var words = TokenClassifier.SplitWords(text);
        Assert.Equal(["Jose\u0301", "👩‍💻", "met", "Zoë", "in", "東", "京", ",", "then", "São", "Paulo", "😀", "!"], words.Select(w => w.Text));
        Assert.All(words, w => Assert.Equal(w.Text, text[w.Start..w.End]));

        string[] tags = ["B-PER", "O", "O", "B-PER", "O", "B-LOC", "I-LOC", "O", "O", "B-LOC", "I-LOC", "O", "O"];
        var entities = TokenClassifier.GroupEntities(text, words, tags.Select(t => new WordTag(t, 0.5)).ToList());

        // Expected offsets by arithmetic on the text above. UTF-16: "José" = 5 units (e + U+0301), " " 1, "👩‍💻" = 5 units
        // (2 + ZWJ + 2), "  " ... Code points: every emoji here counts 1 per code point (👩‍💻 = 3).
        int zoe = text.IndexOf("Zoë", StringComparison.Ordinal), tokyo = text.IndexOf("東京", StringComparison.Ordinal);
        int sao = text.IndexOf("São Paulo", StringComparison.Ordinal);
        Assert.Equal((5 + 1 + 5 + 1 + 3 + 2), zoe);
        Assert.Equal(
            [("PER", "Jose\u0301", 0, 5, 0, 5), ("PER", "Zoë", zoe, zoe + 3, zoe - 2, zoe + 1), ("LOC", "東京", tokyo, tokyo + 2, tokyo - 2, tokyo),
             ("LOC", "São Paulo", sao, sao + 9, sao - 2, sao + 7)],
            entities.Select(e => (e.Label, e.Text, e.Start, e.End, e.CodePointStart, e.CodePointEnd)));
        // Code-point offsets slice the same text out of the code-point sequence (what Python's text[start:end] does).
        var codePoints = text.EnumerateRunes().Select(r => r.ToString()).ToArray();
        Assert.All(entities, e => Assert.Equal(e.Text, string.Concat(codePoints[e.CodePointStart..e.CodePointEnd])));
        Assert.All(entities, e => Assert.Equal(0.5, e.Score, 9));
    }

    [Fact]
    public void BioGroupingFollowsThePipelinesSimpleAggregation()
    {
        const string text = "a b c d e f g h";
        var words = TokenClassifier.SplitWords(text);
        // B-X I-X | I-Y (type change starts one) | B-X B-X (two) | O | PER PER (no prefix: continues) | untagged word ends it
        string?[] tags = ["B-X", "I-X", "I-Y", "B-X", "B-X", "O", "PER", "PER"];
        var found = TokenClassifier.GroupEntities(text, words, tags.Select(t => new WordTag(t, 1)).ToList());
        Assert.Equal([("X", "a b"), ("Y", "c"), ("X", "d"), ("X", "e"), ("PER", "g h")], found.Select(e => (e.Label, e.Text)));
        var cut = TokenClassifier.GroupEntities(text, words, tags.Select((t, i) => new WordTag(i == 7 ? null : t, 1)).ToList());
        Assert.Equal("g", cut[^1].Text);
    }

    // ---- learning a task known by construction, through the CLI

    static readonly string[] Plain = ["the", "a", "went", "to", "saw", "big", "red", "dog", "ran", "with", "and", "of", "in", "on", "blue", "tree", "house", "car", "sat", "over"];
    static readonly string[] Names = ["Paris", "Alice", "Bob", "London", "Rome", "Carol", "Tokyo", "Dave", "Berlin", "Eve"];

    /// <summary>
    /// Sentences of plain lower-case words with some capitalised names, each name an entity of its own (B-X), as the
    /// issue's capitalised-word NER: the tag follows from the word alone, learnable by a causal GPT as well as by BERT
    /// (whose uncased tokenizer sees the names' identity rather than their capital). B-/I- grouping is tested above.
    /// </summary>
    static List<(string[] Words, string[] Tags)> Sentences(int count, int seed)
    {
        var rng = new Random(seed);
        var list = new List<(string[], string[])>();
        for (int s = 0; s < count; s++)
        {
            int n = rng.Next(3, 7);
            var words = new string[n];
            var tags = new string[n];
            for (int w = 0; w < n; w++)
                (words[w], tags[w]) = rng.NextDouble() < 0.3 ? (Names[rng.Next(Names.Length)], "B-X") : (Plain[rng.Next(Plain.Length)], "O");
            list.Add((words, tags));
        }
        return list;
    }

    static string Conll(IEnumerable<(string[] Words, string[] Tags)> sentences) =>
        string.Concat(sentences.Select(s => string.Concat(s.Words.Zip(s.Tags, (w, t) => $"{w} {t}\n")) + "\n"));

    static string Jsonl(IEnumerable<(string[] Words, string[] Tags)> sentences) =>
        string.Concat(sentences.Select(s => JsonSerializer.Serialize(new { tokens = s.Words, ner_tags = s.Tags }) + "\n"));

    sealed record Trained(string Dir, CliResult Result);

    static Trained Train(string arch, bool jsonl)
    {
        var dir = TestUtil.TempDir("ner-learn-" + arch);
        var train = Path.Combine(dir, jsonl ? "train.jsonl" : "train.conll");
        var validation = Path.Combine(dir, jsonl ? "dev.jsonl" : "dev.conll");
        File.WriteAllText(train, (jsonl ? Jsonl(Sentences(200, 1)) : Conll(Sentences(200, 1))));
        File.WriteAllText(validation, (jsonl ? Jsonl(Sentences(20, 2)) : Conll(Sentences(20, 2))));
        var output = Path.Combine(dir, "out");
        var r = Run(null, "finetune", "--task", "ner", "--arch", arch, "--layers", "1", "--hidden", "32", "--heads", "2", "--max-length", "16",
            "--train", train, "--validation", validation, "--output", output, "--max-steps", "50", "--batch-size", "16", "--lr", "3e-3",
            "--threads", "2", "--seed", "1");
        return new Trained(output, r);
    }

    static readonly Lazy<Trained> bert = new(() => Train("bert", jsonl: false));
    static readonly Lazy<Trained> gpt = new(() => Train("gpt", jsonl: true));

    [Theory]
    [InlineData("bert", "BertForTokenClassification")]
    [InlineData("gpt", "GPT2ForTokenClassification")]
    public void ATinyModelLearnsCapitalisedNamesAndTagsThemBackWithOffsets(string arch, string architecture)
    {
        var t = (arch == "bert" ? bert : gpt).Value;
        Assert.True(t.Result.ExitCode == 0, t.Result.ToString());

        // Saved as the HF class with its labels; loads back as a tagger with the same labels.
        using (var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(t.Dir, "config.json"))))
        {
            Assert.Equal(architecture, config.RootElement.GetProperty("architectures")[0].GetString());
            Assert.Equal("B-X", config.RootElement.GetProperty("id2label").GetProperty("0").GetString());
        }
        using var tagger = new TokenClassifier(t.Dir);
        Assert.Equal(["B-X", "O"], tagger.Labels);
        Assert.Equal(architecture, tagger.Handle.Architecture);

        // Held-out sentences (another seed): token accuracy and exact entity matches on raw text.
        var test = Sentences(40, 3);
        var tags = tagger.TagWords(test.Select(s => (IReadOnlyList<string>)s.Words).ToList());
        int words = test.Sum(s => s.Words.Length);
        int correct = test.Select((s, i) => s.Tags.Zip(tags[i], (g, p) => g == p.Tag ? 1 : 0).Sum()).Sum();
        double accuracy = correct / (double)words;
        Assert.True(accuracy >= 0.98, $"token accuracy {accuracy:F3} ({correct}/{words})");

        var texts = test.Select(s => string.Join(" ", s.Words)).ToList();
        var found = tagger.Recognize(texts);
        int gold = 0, exact = 0;
        for (int i = 0; i < test.Count; i++)
        {
            var expected = GoldEntities(texts[i], test[i].Words, test[i].Tags);
            gold += expected.Count;
            exact += expected.Count(e => found[i].Any(f => (f.Label, f.Start, f.End, f.Text) == e));
            Assert.All(found[i], f => Assert.Equal(f.Text, texts[i][f.Start..f.End]));
        }
        Assert.True(gold > 10);
        Assert.True(exact >= 0.95 * gold, $"{exact} of {gold} entities found exactly");

        // The CLI prints the same entities with their offsets.
        var r = Run(null, "ner", "--model", t.Dir, "--json", texts[0]);
        Assert.True(r.ExitCode == 0, r.ToString());
        var entities = r.JsonLines.Single().GetProperty("entities").EnumerateArray()
            .Select(e => (e.GetProperty("label").GetString(), e.GetProperty("start").GetInt32(), e.GetProperty("end").GetInt32(), e.GetProperty("text").GetString()));
        Assert.Equal(found[0].Select(f => ((string?)f.Label, f.CodePointStart, f.CodePointEnd, (string?)f.Text)), entities);
    }

    /// <summary>Entities of a space-joined sentence by construction: each B-X word, at its known offset.</summary>
    static List<(string Label, int Start, int End, string Text)> GoldEntities(string text, string[] words, string[] tags)
    {
        var list = new List<(string, int, int, string)>();
        int pos = 0;
        for (int w = 0; w < words.Length; w++)
        {
            if (tags[w] == "B-X") list.Add(("X", pos, pos + words[w].Length, words[w]));
            pos += words[w].Length + 1;
        }
        return list;
    }

    [Fact]
    public void LongTextsWarnOrAreRefusedWithNoTruncate()
    {
        var t = bert.Value;
        Assert.True(t.Result.ExitCode == 0, t.Result.ToString());
        string text = string.Join(" ", Enumerable.Repeat("the dog saw Alice", 5)); // 20 words, 22 tokens with [CLS]/[SEP]
        var warned = Run(null, "ner", "--model", t.Dir, "--max-length", "8", "--json", text);
        Assert.True(warned.ExitCode == 0, warned.ToString());
        Assert.Contains("argument 1 is longer than 8 tokens", warned.Stderr);
        Assert.All(warned.JsonLines.Single().GetProperty("entities").EnumerateArray(), e => Assert.True(e.GetProperty("end").GetInt32() <= 29));
        var refused = AssertOneLineError(Run(null, "ner", "--model", t.Dir, "--max-length", "8", "--no-truncate", text));
        Assert.Contains("argument 1 is longer than 8 tokens", refused);
    }

    [Fact]
    public void TaggingLeavesNoLiveTensors()
    {
        var t = bert.Value;
        Assert.True(t.Result.ExitCode == 0, t.Result.ToString());
        using var tagger = new TokenClassifier(t.Dir);
        tagger.Recognize(["warm up"]);
        DisposeScopeManager.Statistics.Reset();
        var found = tagger.Recognize(["the dog saw Alice", "Rome and Paris"]);
        Assert.Equal(0, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        Assert.Equal(3, found.Sum(f => f.Count));
    }

    [Fact]
    public void FinetuneNerErrorsAreOneLine()
    {
        var dir = TestUtil.TempDir("ner-errors");
        var train = Path.Combine(dir, "train.conll");
        var dev = Path.Combine(dir, "dev.conll");
        File.WriteAllText(train, "Ada B-PER\nwrote O\n\nBob B-PER\n");
        File.WriteAllText(dev, "Paris B-LOC\n");
        string[] common = ["finetune", "--task", "ner", "--arch", "bert", "--layers", "1", "--hidden", "32", "--heads", "2", "--train", train, "--max-steps", "1"];
        Assert.Contains("--task classify only", AssertOneLineError(Run(null, [.. common, "--balance-classes", "--output", Path.Combine(dir, "a")]), exitCode: 2));
        Assert.Contains("validation has tags the training data lacks: B-LOC", AssertOneLineError(Run(null, [.. common, "--validation", dev, "--output", Path.Combine(dir, "b")])));
    }

    [Fact]
    public void NerRefusesAModelThatIsNotATokenClassifier()
    {
        var line = AssertOneLineError(Run(null, "ner", "--model", Cli.TinyModels.Bert, "--tokenizer", "bert-base-uncased", "Ada"));
        Assert.Contains("not a token classifier", line);
        Assert.Contains("(task ner)", line);
    }

    [Fact]
    public void Gpt2TokenClassificationUsesTransformersNames()
    {
        TestUtil.Init(1);
        var config = new Gpt2Config { VocabSize = 100, NEmbd = 32, NLayer = 2, NHead = 2, NPositions = 32 };
        config.SetLabels(["B-X", "I-X", "O"]);
        using var model = (GPT2ForTokenClassification)ModelFactory.Create(config, "GPT2ForTokenClassification");
        var keys = model.state_dict().Keys.ToList();
        Assert.Contains("transformer.h.1.attn.c_attn.weight", keys);
        Assert.Contains("transformer.wte.weight", keys);
        Assert.Equal(["classifier.bias", "classifier.weight"], keys.Where(k => !k.StartsWith("transformer.")).Order());
        Assert.Equal([3L, 32L], model.state_dict()["classifier.weight"].shape);
        using var ids = TestUtil.RandomIds(100, 2, 5);
        using var logits = model.Forward(ids);
        Assert.Equal([2L, 5L, 3L], logits.shape);
    }

    /// <summary>
    /// GPT2ForTokenClassification against transformers itself: Golden/gpt2-token-classification was written by transformers
    /// 4.40 (tools/hf-check/token_classification_golden.py); its logits on the real positions of a right-padded batch and its
    /// loss with -100 on continuations and padding.
    /// </summary>
    [Fact]
    public void Gpt2TokenClassificationLogitsAndLossEqualTransformers()
    {
        TestUtil.Init();
        var dir = RepoFiles.At("tests", "GptBert.Tests", "Models", "Golden", "gpt2-token-classification");
        using var expected = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "expected.json")));
        var root = expected.RootElement;
        long[][] Rows(string name) => root.GetProperty(name).EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetInt64()).ToArray()).ToArray();
        var (ids, mask, labels) = (Rows("input_ids"), Rows("attention_mask"), Rows("labels"));
        var want = root.GetProperty("logits").EnumerateArray().Select(r => r.EnumerateArray().Select(t => t.EnumerateArray().Select(v => v.GetSingle()).ToArray()).ToArray()).ToArray();
        var (model, report) = ModelFactory.Load(dir);
        using var m = Assert.IsType<GPT2ForTokenClassification>(model);
        Assert.Empty(report.NewlyInitialized);
        Assert.Empty(report.Unused);
        Assert.Equal(["B-X", "I-X", "O"], m.Config.Labels);
        int B = ids.Length, T = ids[0].Length;
        using (TorchSharp.torch.no_grad())
        {
            using var scope = TorchSharp.torch.NewDisposeScope();
            Tensor Flat(long[][] rows) => TorchSharp.torch.tensor(rows.SelectMany(r => r).ToArray(), [B, T]);
            var logits = TokenClassifier.Logits(m, Flat(ids), Flat(mask), null);
            var got = logits.data<float>().ToArray();
            double worst = 0;
            for (int b = 0; b < B; b++)
                for (int t = 0; t < T; t++)
                    if (mask[b][t] == 1) // padded positions are numbered differently (and ignored by the loss)
                        for (int k = 0; k < 3; k++) worst = Math.Max(worst, Math.Abs(got[(b * T + t) * 3 + k] - want[b][t][k]));
            Assert.True(worst < 1e-4, $"max |logit difference| {worst:G3}");
            double loss = TokenClassifier.Loss(logits, Flat(labels)).item<float>();
            Assert.Equal(root.GetProperty("loss").GetDouble(), loss, 1e-5);
        }
    }
}
