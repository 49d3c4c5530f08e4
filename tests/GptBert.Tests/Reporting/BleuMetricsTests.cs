using GptBert.Reporting;

namespace GptBert.Tests.Reporting;

/// <summary>
/// BLEU and chrF against sacreBLEU: the worked example of its README (mjpost/sacrebleu, "Using
/// sacreBLEU from Python": BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17
/// ref_len = 18), chrF2 = 59.73), plus hand-worked cases of compute_bleu's exp smoothing and brevity
/// penalty and of the 13a tokenizer's rules.
/// </summary>
public class BleuMetricsTests
{
    // sacreBLEU README: refs are two reference streams; here each prediction lists its own references.
    static readonly string[] Sys = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."];
    static readonly IReadOnlyList<IReadOnlyList<string>> Refs =
    [
        ["The dog bit the man.", "The dog had bit the man."],
        ["It was not unexpected.", "No one was surprised."],
        ["The man bit him first.", "The man had bitten the dog."],
    ];

    [Fact]
    public void SacrebleuReadmeBleu()
    {
        var s = BleuMetrics.Bleu(Sys, Refs);
        Assert.Equal("BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)", s.ToString());
    }

    [Fact]
    public void SacrebleuReadmeChrf()
    {
        Assert.Equal("chrF2 = 59.73", BleuMetrics.Chrf(Sys, Refs).ToString());
    }

    [Theory]
    [InlineData("Hello, world! It costs $3.50 and 1-2 days.", "Hello , world ! It costs $ 3.50 and 1 - 2 days .")]
    [InlineData("AT&amp;T &quot;rocks&quot;", "AT & T \" rocks \"")]
    [InlineData("Ça coûte 1,000 €.", "Ça coûte 1,000 € .")] // "1,000" stays whole (digits around the comma); "€." splits
    [InlineData("今天天气很好，我想去", "今天天气很好，我想去")]        // 13a does not split CJK
    public void Tokenizer13a(string input, string expected) => Assert.Equal(expected, BleuMetrics.Tokenize13a(input));

    [Fact]
    public void ExpSmoothingByHand()
    {
        // hyp "a b c d", ref "a b d c": 1-grams 4/4, 2-grams 1/3, 3-grams 0/2 -> 100/(2·2), 4-grams 0/1 -> 100/(4·1)
        var s = BleuMetrics.Bleu(["a b c d"], [["a b d c"]]);
        Assert.Equal([100, 100.0 / 3, 25, 25], s.Precisions);
        Assert.Equal(Math.Pow(100 * (100.0 / 3) * 25 * 25, 0.25), s.Score, 1e-9);
        Assert.Equal(1, s.BrevityPenalty);
    }

    [Fact]
    public void BrevityPenaltyUsesTheClosestReferenceShorterOnTies()
    {
        var tie = BleuMetrics.Bleu(["a b c"], [["a b", "a b c d"]]);
        Assert.Equal(2, tie.ReferenceLength);
        Assert.Equal(1, tie.BrevityPenalty);
        var shortHyp = BleuMetrics.Bleu(["a b c"], [["a b c d", "a b c d e"]]);
        Assert.Equal(4, shortHyp.ReferenceLength);
        Assert.Equal(Math.Exp(1 - 4.0 / 3), shortHyp.BrevityPenalty, 1e-12);
    }

    [Fact]
    public void IdenticalEmptyAndCjk()
    {
        Assert.Equal(100, BleuMetrics.Bleu(Sys, Sys.Select(x => (IReadOnlyList<string>)[x]).ToList()).Score, 1e-9);
        Assert.Equal(0, BleuMetrics.Bleu([""], [["the cat"]]).Score);
        // chrF ignores whitespace and counts code points: CJK and spacing differences still match fully
        Assert.Equal(100, BleuMetrics.Chrf(["今天 天气"], [["今天天气"]]).Score, 1e-9);
        Assert.Equal(100, BleuMetrics.Chrf(["the cat (sat)."], [["the cat (sat)."]], wordOrder: 2).Score, 1e-9);
        Assert.Equal(0, BleuMetrics.Chrf([""], [["abc"]]).Score);
    }

    [Fact]
    public void ChrfByHand()
    {
        // hyp "ab", ref "abc", char order 2: 1-grams P 2/2 R 2/3, 2-grams P 1/1 R 1/2
        // avg P = 1, avg R = 7/12; chrF2 = 100 · 5·P·R / (4P + R)
        double p = 1, r = 7.0 / 12;
        Assert.Equal(100 * 5 * p * r / (4 * p + r), BleuMetrics.Chrf(["ab"], [["abc"]], charOrder: 2).Score, 1e-9);
    }
}
