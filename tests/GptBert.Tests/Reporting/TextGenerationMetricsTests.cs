using System.Text.Json;
using GptBert.Reporting;

namespace GptBert.Tests.Reporting;

public class TextGenerationMetricsTests
{
    // sacreBLEU's README worked example (two reference streams):
    //   BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18), chrF2 = 59.73
    static readonly string[] Sys = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."];
    static readonly string[][] RefStreams =
    [
        ["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
        ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."],
    ];
    static IReadOnlyList<IReadOnlyList<string>> PerSentenceRefs() =>
        Enumerable.Range(0, Sys.Length).Select(i => (IReadOnlyList<string>)RefStreams.Select(s => s[i]).ToList()).ToList();

    [Fact]
    public void SacreBleuReadmeExample()
    {
        var b = Bleu.Corpus(Sys, PerSentenceRefs());
        Assert.Equal(48.53, b.Score, 2);
        Assert.Equal(82.4, b.Precisions[0], 1);
        Assert.Equal(50.0, b.Precisions[1], 1);
        Assert.Equal(45.5, b.Precisions[2], 1);
        Assert.Equal(37.5, b.Precisions[3], 1);
        Assert.Equal(0.943, b.BrevityPenalty, 3);
        Assert.Equal(17, b.HypothesisLength);
        Assert.Equal(18, b.ReferenceLength);
    }

    [Fact]
    public void SacreChrFReadmeExample() => Assert.Equal(59.73, ChrF.Corpus(Sys, PerSentenceRefs()), 2);

    [Fact]
    public void BleuMatchesNltkGolden()
    {
        // Golden values from tools/metrics-check/bleu_nltk.py (NLTK's corpus_bleu; see the script for why
        // it equals sacreBLEU on these sentences).
        using var doc = JsonDocument.Parse(File.ReadAllText(RepoFiles.At("tests", "GptBert.Tests", "Reporting", "golden", "bleu-nltk.json")));
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            var hyps = c.GetProperty("hyps").EnumerateArray().Select(h => h.GetString()!).ToList();
            var refs = c.GetProperty("refs").EnumerateArray()
                .Select(rs => (IReadOnlyList<string>)rs.EnumerateArray().Select(r => r.GetString()!).ToList()).ToList();
            Assert.True(Math.Abs(c.GetProperty("bleu").GetDouble() - Bleu.Corpus(hyps, refs).Score) < 1e-9, c.GetProperty("name").GetString());
        }
    }

    [Fact]
    public void Tokenizer13aSplitsPunctuationButNotNumbersOrApostrophes()
    {
        // mteval-v13a: symbols split, '.' and ',' split unless between digits, '-' split after a digit, "'" kept.
        Assert.Equal(["It", "wasn't", "$", "12,000", "(", "3.5", "%", ")", "."], Bleu.Tokenize13a("It wasn't $12,000 (3.5%)."));
        Assert.Equal(["1990", "-", "95", "&", "a", "b"], Bleu.Tokenize13a("1990-95 &amp; a b"));
    }

    [Fact]
    public void EdgeCases()
    {
        Assert.Equal(100.0, Bleu.Corpus(["Le chat est là, 日本語 !"], ["Le chat est là, 日本語 !"]).Score, 9);
        Assert.Equal(100.0, ChrF.Corpus(["Le chat est là, 日本語 !"], ["Le chat est là, 日本語 !"]), 9);
        var empty = Bleu.Corpus([""], ["the cat"]);
        Assert.Equal(0.0, empty.Score);
        Assert.Equal(0.0, empty.BrevityPenalty);
        Assert.Equal(0.0, ChrF.Corpus([""], ["the cat"]));
        // Exp smoothing by hand: hyp "a b c" vs ref "a b d e": 1-grams 2/3, 2-grams 1/2, no 3-gram (0 of 1)
        // → 100/(2·1) = 50, no 4-gram total → precision 0 → score 0 (sacreBLEU's my_log(0)).
        var s = Bleu.Corpus(["a b c"], ["a b d e"]);
        Assert.Equal(100.0 * 2 / 3, s.Precisions[0], 9);
        Assert.Equal(50.0, s.Precisions[1], 9);
        Assert.Equal(50.0, s.Precisions[2], 9);
        Assert.Equal(0.0, s.Score, 9);
        // chrF by hand: "ab" vs "ac": 1-grams P=R=1/2, 2-grams P=R=0 → avg P=R=1/4 → F = 25.
        Assert.Equal(25.0, ChrF.Corpus(["ab"], ["ac"]), 9);
        // chrF ignores whitespace: "a b" equals "ab".
        Assert.Equal(100.0, ChrF.Corpus(["a b"], ["ab"]), 9);
        Assert.Throws<GptBertException>(() => Bleu.Corpus(["a"], Array.Empty<string>()));
    }

    [Fact]
    public void RougeByHandAndFromRougeScoreTests()
    {
        // rouge-score's rouge_scorer_test: score("testing one two", "testing") → rouge1 P=1, R=1/3, F=0.5.
        var r1 = Rouge.RougeN("testing one two", "testing", 1);
        Assert.Equal(1.0, r1.Precision, 12);
        Assert.Equal(1.0 / 3, r1.Recall, 12);
        Assert.Equal(0.5, r1.F1, 12);
        // Bigrams: target {testing one, one two}, prediction {testing one} → P=1, R=1/2, F=2/3.
        Assert.Equal(2.0 / 3, Rouge.RougeN("testing one two", "testing one", 2).F1, 12);
        // LCS of "the cat sat on the mat" / "the cat lay on a mat" = the cat on mat (4 of 6 each) → F=2/3.
        Assert.Equal(2.0 / 3, Rouge.RougeL("the cat sat on the mat", "The cat lay on a mat.").F1, 12);
        // Tokenizer: lowercase, everything outside [a-z0-9] is a separator (accents and CJK vanish).
        Assert.Equal(["h", "llo", "world", "3", "5"], Rouge.Tokenize("Héllo, WORLD! 3.5 日本"));
        Assert.Equal(0.0, Rouge.RougeL("the cat", "").F1);
        Assert.Equal(0.0, Rouge.RougeN("the cat", "", 1).F1);
        var corpus = Rouge.Corpus(["testing", "a b"], ["testing one two", "a b"]);
        Assert.Equal((0.5 + 1.0) / 2, corpus.Rouge1, 12);
        Assert.Equal((0.0 + 1.0) / 2, corpus.Rouge2, 12);
    }
}
