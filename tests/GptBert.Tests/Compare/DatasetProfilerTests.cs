using GptBert.Compare;
using GptBert.Data;
using GptBert.Tokenizers;

namespace GptBert.Tests.Compare;

public class DatasetProfilerTests
{
    /// <summary>One token per space-separated word plus [CLS] and [SEP] (and [SEP] after a pair); counts its calls.</summary>
    sealed class WordTokenizer : ITextTokenizer
    {
        public int Calls;
        public string Kind => "words";
        public int VocabSize => 10;
        public int? PadId => 0; public int? UnkId => null; public int? ClsId => 1; public int? SepId => 2;
        public int? MaskId => null; public int? BosId => null; public int? EosId => null; public string? MaskToken => null;

        public TokenizedText Encode(string text, string? pair = null, bool addSpecialTokens = true, int? maxLength = null)
        {
            Calls++;
            int words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length
                        + (pair?.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length ?? 0);
            int n = words + (addSpecialTokens ? (pair is null ? 2 : 3) : 0);
            return new TokenizedText(new int[n], new string[n], new int[n], new int[n], new (int, int)[n], new int[n], false);
        }

        public IReadOnlyList<TokenizedText> EncodeBatch(IReadOnlyList<(string Text, string? Pair)> inputs, bool addSpecialTokens = true, int? maxLength = null, bool padToLongest = true) =>
            inputs.Select(i => Encode(i.Text, i.Pair, addSpecialTokens)).ToList();
        public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true) => "";
        public string IdToToken(int id) => "";
        public int? TokenToId(string token) => null;
        public void Save(string directory) { }
    }

    static LabeledDataset Data(params (string Text, string Label)[] rows) =>
        LabeledDataset.FromExamples(rows.Select(r => new LabeledExample(r.Text, null, r.Label)));

    [Fact]
    public void LabelsLengthsAndBaselineOfHandMadeData()
    {
        var train = Data(("a", "pos"), ("bb", "pos"), ("ccc", "pos"), ("dddd", "pos"), ("eeeee", "neg"), ("ffffff", "neg"));
        var validation = Data(("1234567", "pos"), ("12345678", "neg"));
        var test = Data(("x y", "neg"), ("x y z", "neg"), ("x", "pos"), ("xy", "neg"));
        var tok = new WordTokenizer();
        var p = DatasetProfiler.Profile(train, validation, test, tok);

        Assert.Equal((6, 2, 4), (p.TrainExamples, p.ValidationExamples, p.TestExamples));
        Assert.Equal(new Dictionary<string, int> { ["neg"] = 2, ["pos"] = 4 }, p.LabelCounts.ToDictionary());
        Assert.Equal(2.0, p.ImbalanceRatio);
        Assert.Equal(0.25, p.MajorityBaselineAccuracy); // training majority "pos" is 1 of the 4 test examples
        // Lengths over all 12 texts: 1..8 and 3, 5, 1, 2 → sorted 1 1 2 2 3 3 4 5 5 6 7 8.
        Assert.Equal(47 / 12.0, p.MeanChars, 9);
        Assert.Equal(3.5, p.MedianChars, 9);
        Assert.Equal(7 + 0.45 * 1, p.P95Chars, 9); // rank 0.95·11 = 10.45 between 7 and 8
        Assert.Equal(8, p.MaxChars);
        // Tokens: one word each except "x y" (2) and "x y z" (3), plus 2 specials → 3×10, 4, 5; p95 at rank 10.45.
        Assert.Equal(4 + 0.45 * 1, p.P95Tokens, 9);
        Assert.Equal(12, tok.Calls);
        Assert.False(p.HasPairs);
        Assert.Equal(1.0, p.Scripts["Latin"]);
        Assert.Single(p.Scripts);
    }

    [Fact]
    public void PairsAddToTheLengthAndAreDetected()
    {
        var train = LabeledDataset.FromExamples([new("ab", "cde", "y"), new("f", null, "n")]);
        var p = DatasetProfiler.Profile(train, tokenizer: new WordTokenizer());
        Assert.True(p.HasPairs);
        Assert.Equal(5, p.MaxChars);
        Assert.Equal(0.5, p.MajorityBaselineAccuracy); // scored on train when there is no test or validation
        Assert.Equal(3 + 0.95 * 2, p.P95Tokens, 9); // 3 and 5 tokens
    }

    [Fact]
    public void ScriptsAreCountedOverLettersOnly()
    {
        // 10 Latin, 6 Cyrillic, 3 Han (one outside the BMP), 2 Hiragana, 2 Katakana, 2 Hangul, 2 Greek, 1 Arabic,
        // 1 Hebrew, 1 Devanagari, 1 Thai; digits, spaces and punctuation do not count.
        string text = "HelloWorld 123, привет! 中文𠀀 ひら カタ 한국 αβ ع ש क ก ...";
        var s = DatasetProfiler.Scripts([text]);
        double total = 31;
        Assert.Equal(10 / total, s["Latin"], 9);
        Assert.Equal(6 / total, s["Cyrillic"], 9);
        Assert.Equal(3 / total, s["Han"], 9);
        Assert.Equal(2 / total, s["Hiragana"], 9);
        Assert.Equal(2 / total, s["Katakana"], 9);
        Assert.Equal(2 / total, s["Hangul"], 9);
        Assert.Equal(2 / total, s["Greek"], 9);
        foreach (var script in new[] { "Arabic", "Hebrew", "Devanagari", "Thai" }) Assert.Equal(1 / total, s[script], 9);
        Assert.Equal(1.0, s.Values.Sum(), 9);
        Assert.Equal("Latin", s.Keys.First()); // largest share first
        Assert.Equal("Other", DatasetProfiler.ScriptOf('ა')); // Georgian
        Assert.Null(DatasetProfiler.ScriptOf('7'));
        Assert.Null(DatasetProfiler.ScriptOf(' '));
        Assert.Empty(DatasetProfiler.Scripts(["123 !?"]));
    }

    [Fact]
    public void ProfileOfCjkAndCyrillicLabeledData()
    {
        var train = Data(("今日は良い天気", "a"), ("Привет мир", "b"), ("ok", "a"));
        var p = DatasetProfiler.Profile(train);
        // Han 今日良天気 (5), Hiragana はい (2), Cyrillic ПриветМир (9), Latin ok (2): 18 letters.
        Assert.Equal(9 / 18.0, p.Scripts["Cyrillic"], 9);
        Assert.Equal(5 / 18.0, p.Scripts["Han"], 9);
        Assert.Equal(2 / 18.0, p.Scripts["Hiragana"], 9);
        Assert.Equal(2 / 18.0, p.Scripts["Latin"], 9);
        Assert.Equal(0, p.P95Tokens); // no tokenizer
        Assert.Equal(2.0, p.ImbalanceRatio);
    }

    [Fact]
    public void CorpusProfileHasNoLabelsAndSamplesTokens()
    {
        var texts = Enumerable.Range(0, 5000).Select(i => string.Join(' ', Enumerable.Repeat("w", 1 + i % 10))).ToList();
        var tok = new WordTokenizer();
        var p = DatasetProfiler.ProfileCorpus(texts, validation: ["a b", "c"], tokenizer: tok);
        Assert.Equal((5000, 2, 0), (p.TrainExamples, p.ValidationExamples, p.TestExamples));
        Assert.Empty(p.LabelCounts);
        Assert.Equal(1, p.ImbalanceRatio);
        Assert.Equal(0, p.MajorityBaselineAccuracy);
        Assert.Equal(DatasetProfiler.TokenSampleSize, tok.Calls);
        Assert.Equal(19, p.MaxChars); // 10 words
        Assert.InRange(p.P95Tokens, 11, 12); // words 1..10 uniformly, plus 2 specials
        var again = DatasetProfiler.ProfileCorpus(texts, validation: ["a b", "c"], tokenizer: new WordTokenizer());
        Assert.Equal(p.P95Tokens, again.P95Tokens); // the sample is the same every time
    }

    [Fact]
    public void EmptyTrainingDataIsAOneLineError()
    {
        Assert.Throws<GptBertException>(() => DatasetProfiler.Profile(LabeledDataset.FromExamples([])));
        Assert.Throws<GptBertException>(() => DatasetProfiler.ProfileCorpus([]));
    }

    [Fact]
    public void PercentileInterpolatesLinearly()
    {
        Assert.Equal(2.5, DatasetProfiler.Percentile([1, 2, 3, 4], 0.5));
        Assert.Equal(3.85, DatasetProfiler.Percentile([1, 2, 3, 4], 0.95), 9);
        Assert.Equal(7, DatasetProfiler.Percentile([7], 0.95));
        Assert.True(double.IsNaN(DatasetProfiler.Percentile([], 0.5)));
    }
}
