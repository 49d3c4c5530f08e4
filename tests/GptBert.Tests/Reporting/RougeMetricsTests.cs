using GptBert.Reporting;

namespace GptBert.Tests.Reporting;

/// <summary>
/// ROUGE against rouge-score's definitions (google-research/rouge rouge_scorer.py and tokenize.py,
/// use_stemmer=False); the README's pair "The quick brown fox jumps over the lazy dog" /
/// "The quick brown dog jumps on the log." is worked out by hand below.
/// </summary>
public class RougeMetricsTests
{
    const double Tol = 1e-12;

    [Fact]
    public void TokenizerKeepsOnlyLowercaseAsciiAlphanumerics()
    {
        Assert.Equal(["caf", "it", "s", "3", "5"], RougeMetrics.Tokenize("Café 北京 it's 3.5%"));
        Assert.Empty(RougeMetrics.Tokenize("今天天气很好"));
    }

    [Fact]
    public void ReadmePairByHand()
    {
        var s = RougeMetrics.Score("The quick brown dog jumps on the log.", "The quick brown fox jumps over the lazy dog");
        // unigrams: overlap the×2 quick brown dog jumps = 6 of 8 predicted, 9 target
        Assert.Equal(6.0 / 8, s.Rouge1.Precision, Tol);
        Assert.Equal(6.0 / 9, s.Rouge1.Recall, Tol);
        Assert.Equal(12.0 / 17, s.Rouge1.FMeasure, Tol);
        // bigrams: "the quick", "quick brown" = 2 of 7 predicted, 8 target
        Assert.Equal(2.0 / 7, s.Rouge2.Precision, Tol);
        Assert.Equal(2.0 / 8, s.Rouge2.Recall, Tol);
        Assert.Equal(4.0 / 15, s.Rouge2.FMeasure, Tol);
        // LCS "the quick brown jumps the" = 5
        Assert.Equal(5.0 / 8, s.RougeL.Precision, Tol);
        Assert.Equal(5.0 / 9, s.RougeL.Recall, Tol);
        Assert.Equal(10.0 / 17, s.RougeL.FMeasure, Tol);
    }

    [Fact]
    public void EmptyIdenticalAndCorpusMean()
    {
        var empty = RougeMetrics.Score("", "the cat");
        Assert.Equal(0, empty.Rouge1.FMeasure);
        Assert.Equal(0, empty.RougeL.FMeasure);
        var same = RougeMetrics.Score("The cat sat.", "the cat sat");
        Assert.Equal(1, same.Rouge2.FMeasure, Tol);
        Assert.Equal(1, same.RougeL.FMeasure, Tol);
        // "testing" vs "testing one two": P 1, R 1/3, F 0.5; mean with an identical pair (F 1) = 0.75
        var corpus = RougeMetrics.Compute(["testing", "a b"], ["testing one two", "a b"]);
        Assert.Equal(0.75, corpus.Rouge1.FMeasure, Tol);
        Assert.Equal((1 + 1.0 / 3) / 2, corpus.Rouge1.Recall, Tol);
    }
}
