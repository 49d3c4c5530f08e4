using System.Diagnostics;
using System.Text.Json;
using GptBert.Tokenizers;
using GptBert.Tokenizers.Training;
using Xunit.Abstractions;
using static GptBert.Tests.Tokenizers.Training.TrainingTestUtil;

namespace GptBert.Tests.Tokenizers.Training;

public class BpeTrainerTests(ITestOutputHelper output)
{
    static readonly Lazy<ByteLevelBpeTokenizer> moby2000 = new(() =>
        new BpeTrainer(new BpeTrainerOptions { VocabSize = 2000 }).Train(MobyParagraphs));

    static ByteLevelBpeTokenizer Train(IEnumerable<string> texts, int vocabSize = 1000, long minFrequency = 2, IReadOnlyList<string>? specials = null) =>
        new BpeTrainer(new BpeTrainerOptions { VocabSize = vocabSize, MinFrequency = minFrequency, SpecialTokens = specials ?? ["<|endoftext|>"] }).Train(texts);

    static readonly string[] Varied =
    [
        "Hello, world!",
        "Call me Ishmael. Some years ago—never mind how long precisely",
        "café naïve Ünïcödé façade résumé Ångström",
        "日本語のテキストと中文文本，还有한국어 텍스트",
        "emoji 👍🏽 and 👩‍👩‍👧 family, 🐳 whale",
        "a  b   c    d\t\te\n\nf \r\n g   ",
        "   leading and trailing   ",
        "\n",
        " ",
        "",
        "Zyzzyva quixotically xylographs 1234567890 3.14159 -42",
        "it's they're we've I'm you'll he'd 'quoted' \"double\"",
        "𝐀𝐁𝐂 math letters (supplementary plane) and e\u0301 combining",
        "مرحبا بالعالم — שלום עולם",
        "control \u0000\u0001\u001f chars \u007f and \u00ad soft hyphen \u200b zwsp",
        "<|endoftext|>between<|endoftext|> specials <|endoftext",
        "tabs\tand\u00a0nbsp\u2003em space",
    ];

    [Fact]
    public void TrainedTokenizerRoundTripsAnyTextExactly()
    {
        var tok = moby2000.Value;
        Assert.Equal(2000, tok.VocabSize);
        foreach (var text in Varied)
        {
            var enc = tok.Encode(text, addSpecialTokens: false);
            Assert.All(enc.Ids, id => Assert.InRange(id, 0, tok.VocabSize - 1));
            Assert.Equal(text, tok.Decode(enc.Ids, skipSpecialTokens: false));
        }
        // Specials are cut out whole and skipped by default.
        var eot = tok.Encode("a<|endoftext|>b", addSpecialTokens: false);
        Assert.Equal(["a", "<|endoftext|>", "b"], eot.Tokens);
        Assert.Equal(0, eot.Ids[1]);
        Assert.Equal("ab", tok.Decode(eot.Ids));
        // The merges were learned: frequent Moby-Dick words are single tokens, an unseen one is split.
        Assert.Equal(["Ġthe", "Ġwhale"], tok.Encode(" the whale", addSpecialTokens: false).Tokens);
        Assert.True(tok.Encode(" Zyzzyva", addSpecialTokens: false).Length > 2);
    }

    [Fact]
    public void SavedDirectoryReloadsWithTheSameIds()
    {
        var tok = moby2000.Value;
        using var dir = new TempDir();
        TokenizerTraining.Save(tok, dir.Path);
        Assert.True(File.Exists(dir.File("vocab.json")));
        Assert.True(File.Exists(dir.File("merges.txt")));
        var loaded = TokenizerLoader.Load(dir.Path);
        Assert.Equal("bpe", loaded.Kind);
        Assert.Equal(tok.VocabSize, loaded.VocabSize);
        Assert.Equal(tok.Merges, ((ByteLevelBpeTokenizer)loaded).Merges);
        Assert.Equal(0, loaded.EosId);
        Assert.Equal(0, loaded.BosId);
        foreach (var text in Varied.Concat(MobyParagraphs.Take(20)))
        {
            var ids = tok.Encode(text).Ids;
            Assert.Equal(ids, loaded.Encode(text).Ids);
            Assert.Equal(text, loaded.Decode(ids, skipSpecialTokens: false));
        }
        // vocab.json: the special token first, then the bytes, then the merges (specials first, as tokenizers' trainer).
        using var doc = JsonDocument.Parse(File.ReadAllBytes(dir.File("vocab.json")));
        Assert.Equal(0, doc.RootElement.GetProperty("<|endoftext|>").GetInt32());
        Assert.Equal(1, doc.RootElement.GetProperty("!").GetInt32());
        var merges = File.ReadAllLines(dir.File("merges.txt"));
        Assert.StartsWith("#version", merges[0]);
        Assert.Equal(2000 - 257, merges.Length - 1);
    }

    [Fact]
    public void KnownMergeOrderOnATinyCorpus()
    {
        // "aaab aaab ab" → GPT-2 words "aaab", "Ġaaab", "Ġab" (Ġ is the byte-level space), each once.
        // Pair counts: (a,a) 2+2 = 4, (a,b) 3, (Ġ,a) 2.                                   → merge 1: a a
        // Words become [aa a b], [Ġ aa a b], [Ġ a b]: (a,b) 3, (aa,a) 2, (Ġ,aa) 1, (Ġ,a) 1 → merge 2: a b
        // Words become [aa ab], [Ġ aa ab], [Ġ ab]:   (aa,ab) 2, (Ġ,aa) 1, (Ġ,ab) 1        → merge 3: aa ab
        // Words become [aaab], [Ġ aaab], [Ġ ab]: (Ġ,aaab) 1, (Ġ,ab) 1, below min frequency 2 → stop.
        var tok = Train(["aaab aaab ab"], minFrequency: 2);
        Assert.Equal([("a", "a"), ("a", "b"), ("aa", "ab")], tok.Merges);
        Assert.Equal(1 + 256 + 3, tok.VocabSize);
        Assert.Equal(257, tok.TokenToId("aa"));
        Assert.Equal(258, tok.TokenToId("ab"));
        Assert.Equal(259, tok.TokenToId("aaab"));
        Assert.Equal(["aaab", "Ġ", "aaab", "Ġ", "ab"], tok.Encode("aaab aaab ab", addSpecialTokens: false).Tokens);

        // With min frequency 1 the two count-1 pairs follow; the tie goes to the smaller ids: ab (258) < aaab (259).
        var tok1 = Train(["aaab aaab ab"], minFrequency: 1);
        Assert.Equal([("a", "a"), ("a", "b"), ("aa", "ab"), ("Ġ", "ab"), ("Ġ", "aaab")], tok1.Merges);
        Assert.Equal(["aaab", "Ġaaab", "Ġab"], tok1.Encode("aaab aaab ab", addSpecialTokens: false).Tokens);

        // Min frequency: 3 keeps (a,a) 4 and (a,b) 3 but not (aa,ab) 2; 5 keeps nothing.
        Assert.Equal([("a", "a"), ("a", "b")], Train(["aaab aaab ab"], minFrequency: 3).Merges);
        Assert.Empty(Train(["aaab aaab ab"], minFrequency: 5).Merges);
        Assert.Equal(257, Train(["aaab aaab ab"], minFrequency: 5).VocabSize);
    }

    [Fact]
    public void ReproducesTheTokenizersTrainerUnitTest()
    {
        // tokenizers/src/models/bpe/trainer.rs test_train: these word counts with min_frequency 2 give exactly the
        // merges r+e, a+re, i+s (there the alphabet is only the seen chars; the relative order of their ids is the
        // same as here, so the tie (a,re) vs (i,s), both 2, goes the same way). "GPT-2" is one word there and three
        // here (GPT - 2), which changes no count of 2 or more.
        (string Word, int Count)[] counts =
            [("roses", 1), ("are", 2), ("red", 1), ("voilets", 1), ("blue", 1), ("BERT", 1), ("is", 2), ("big", 1), ("and", 1), ("so", 1), ("GPT-2", 1)];
        var texts = counts.SelectMany(c => Enumerable.Repeat(c.Word, c.Count));
        var tok = Train(texts, vocabSize: 30000, minFrequency: 2);
        Assert.Equal([("r", "e"), ("a", "re"), ("i", "s")], tok.Merges);
        Assert.Equal(["re", "are", "is"], Enumerable.Range(257, 3).Select(tok.IdToToken));
        Assert.Equal(260, tok.VocabSize);
    }

    [Fact]
    public void TiesGoToTheSmallerPairWhateverTheCorpusOrder()
    {
        // Words "ab" and "Ġcd": (a,b), (c,d), (Ġ,c) all count 1; ids follow the chars (a < b < c < d < Ġ=U+0120).
        // (a,b) first, then (c,d) — which removes (Ġ,c) — then (Ġ,cd).
        Assert.Equal([("a", "b"), ("c", "d"), ("Ġ", "cd")], Train(["ab cd"], minFrequency: 1).Merges);
        // Words "cd" and "Ġab": the same order of merges for (a,b) and (c,d), then (Ġ,ab).
        Assert.Equal([("a", "b"), ("c", "d"), ("Ġ", "ab")], Train(["cd ab"], minFrequency: 1).Merges);
        // The vocabulary size stops it exactly.
        Assert.Equal([("a", "b")], Train(["cd ab"], vocabSize: 258, minFrequency: 1).Merges);
    }

    [Fact]
    public void MatchesANaiveRecountingTrainerOnMobyDick()
    {
        var initial = new List<string> { "<|endoftext|>" };
        initial.AddRange(ByteToChar.Order().Select(c => c.ToString()));
        var words = Gpt2WordCounts(MobyParagraphs);
        foreach (long minFreq in new long[] { 2, 1 })
        {
            int vocabSize = 257 + 400;
            var (expected, expectedVocab) = NaiveBpe(initial, words, w => w.Select(c => c.ToString()), vocabSize, minFreq);
            var tok = Train(MobyParagraphs, vocabSize, minFreq);
            Assert.Equal(expected, tok.Merges);
            Assert.Equal(expectedVocab, Enumerable.Range(0, tok.VocabSize).Select(tok.IdToToken));
        }
    }

    [Fact]
    public void VocabSizeIsExactAndIdsAreSpecialsThenBytesInGpt2Order()
    {
        var tok = Train(MobyParagraphs, vocabSize: 1000, specials: ["<|endoftext|>", "<pad>", "<|user|>"]);
        Assert.Equal(1000, tok.VocabSize);
        Assert.Equal(0, tok.TokenToId("<|endoftext|>"));
        Assert.Equal(1, tok.TokenToId("<pad>"));
        Assert.Equal(2, tok.TokenToId("<|user|>"));
        Assert.Equal(1, tok.PadId);
        Assert.Equal(0, tok.EosId);
        // The 256 byte symbols come next, in the order of GPT-2's own vocab.json ("!" = 0 ... "Ġ" = 220 ...).
        var gpt2 = TokenizerLoader.Load("gpt2");
        for (int i = 0; i < 256; i++) Assert.Equal(3 + i, tok.TokenToId(gpt2.IdToToken(i)));
        // Every learned token is the concatenation of its merge, in order.
        for (int r = 0; r < tok.Merges.Count; r++)
            Assert.NotNull(tok.TokenToId(tok.Merges[r].Left + tok.Merges[r].Right));
        Assert.Equal(Enumerable.Range(259, 1000 - 259).Select(tok.IdToToken), tok.Merges.Select(m => m.Left + m.Right).Distinct().Take(1000 - 259));
    }

    [Fact]
    public void SpecialTokensInTheCorpusAreNotLearnedFrom()
    {
        var texts = Enumerable.Repeat("<|user|> hello there<|endoftext|>", 50).ToList();
        var tok = Train(texts, specials: ["<|endoftext|>", "<|user|>"]);
        Assert.Contains("Ġhello", Enumerable.Range(0, tok.VocabSize).Select(tok.IdToToken));
        Assert.DoesNotContain(Enumerable.Range(2, tok.VocabSize - 2).Select(tok.IdToToken), t => t.Contains("user") || t.Contains("endof") || t.Contains("<|"));
        Assert.Equal([1, tok.TokenToId("Ġhello")!.Value, tok.TokenToId("Ġthere")!.Value, 0], tok.Encode("<|user|> hello there<|endoftext|>").Ids);
    }

    [Fact]
    public void TrainingIsDeterministic()
    {
        var a = Train(MobyParagraphs.Take(40), vocabSize: 800, minFrequency: 1);
        var b = Train(MobyParagraphs.Take(40).ToArray(), vocabSize: 800, minFrequency: 1);
        Assert.Equal(a.Merges, b.Merges);
    }

    [Fact]
    public void TrainsTwoHundredKilobytesInAFewSeconds()
    {
        // ~225 KB with more distinct words than Moby-Dick alone: the text, its upper case, and its words reversed.
        var paragraphs = MobyParagraphs;
        var texts = paragraphs
            .Concat(paragraphs.Select(p => p.ToUpperInvariant()))
            .Concat(paragraphs.Select(p => string.Join(' ', p.Split(' ').Select(w => new string(w.Reverse().ToArray())))))
            .ToList();
        long bytes = texts.Sum(t => (long)System.Text.Encoding.UTF8.GetByteCount(t));
        var progress = new List<TrainingProgress>();
        var sw = Stopwatch.StartNew();
        var tok = new BpeTrainer(new BpeTrainerOptions { VocabSize = 5000, ShowProgress = progress.Add }).Train(texts);
        sw.Stop();
        output.WriteLine($"BPE: {bytes / 1024.0:F0} KB → {tok.VocabSize} tokens in {sw.Elapsed.TotalSeconds:F2} s ({bytes / 1e6 / sw.Elapsed.TotalSeconds:F2} MB/s)");
        Assert.InRange(bytes, 200 * 1024, 300 * 1024); // the two hundred kilobytes of the name
        // "A few seconds": about 1 s on this 2-core machine shared with other builds; 30 s leaves room for a
        // slow CI runner but still fails if training turns quadratic.
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(30), $"BPE training of {bytes / 1024} KB took {sw.Elapsed.TotalSeconds:F1} s (limit 30 s)");
        Assert.Equal(5000, tok.VocabSize);
        Assert.Equal(texts[5], tok.Decode(tok.Encode(texts[5]).Ids));
        Assert.Contains(progress, p => p.Stage == "Count words");
        Assert.Equal(new TrainingProgress("Compute merges", 5000, 5000), progress[^1]);
    }

    [Fact]
    public void TooSmallVocabSizeIsAOneLineError()
    {
        var e = Assert.Throws<GptBertException>(() => Train(["hello"], vocabSize: 100));
        var msg = OneLine(e);
        Assert.Contains("VocabSize 100 is too small", msg);
        Assert.Equal("VocabSize", e.Parameter);
        Assert.Contains("257", msg);
        var two = OneLine(Assert.Throws<GptBertException>(() => Train(["hello"], vocabSize: 257, specials: ["<|endoftext|>", "<pad>"])));
        Assert.Contains("use at least 258", two);
        // Exactly the alphabet and the specials: valid, no merges.
        Assert.Empty(Train(["hello hello"], vocabSize: 257).Merges);
    }

    [Fact]
    public void EmptyCorpusIsAOneLineError()
    {
        Assert.Contains("empty", OneLine(Assert.Throws<GptBertException>(() => Train([]))));
        Assert.Contains("empty", OneLine(Assert.Throws<GptBertException>(() => Train(["", ""]))));
        Assert.Contains("empty", OneLine(Assert.Throws<GptBertException>(() => Train(["<|endoftext|>"]))));
        Assert.Contains("special token", OneLine(Assert.Throws<GptBertException>(() => Train(["x"], specials: [""]))));
        Assert.Contains("frequency", OneLine(Assert.Throws<GptBertException>(() => Train(["x"], minFrequency: -1))));
    }
}
