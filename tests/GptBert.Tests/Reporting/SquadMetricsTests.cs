using GptBert.Reporting;

namespace GptBert.Tests.Reporting;

/// <summary>
/// SQuAD EM/F1 against the rules of the official scripts (rajpurkar/SQuAD-explorer evaluate-v1.1.py and
/// evaluate-v2.0.py: normalize_answer, compute_exact, compute_f1, "no answer" = gold answers that all
/// normalise to ""); expected values are worked out by hand from those rules.
/// </summary>
public class SquadMetricsTests
{
    const double Tol = 1e-9;

    [Theory]
    [InlineData("The  Denver Broncos!", "denver broncos")]   // lowercase, punctuation, article, whitespace
    [InlineData("an apple a day", "apple day")]
    [InlineData("Theory", "theory")]                         // "the" only as a whole word
    [InlineData("Café 3.5%", "café 35")]                     // accents kept; punctuation inside numbers removed
    [InlineData("北京，中国", "北京，中国")]                    // string.punctuation is ASCII: the CJK comma stays
    [InlineData("the", "")]
    public void NormalizeFollowsTheOfficialScript(string text, string expected) =>
        Assert.Equal(expected, SquadMetrics.Normalize(text));

    [Fact]
    public void ExactAndTokenF1()
    {
        Assert.Equal(1, SquadMetrics.Exact("the Denver Broncos", "Denver Broncos"));
        // pred {denver, broncos, won}, gold {denver, broncos}: P = 2/3, R = 1, F1 = 0.8
        Assert.Equal(0.8, SquadMetrics.F1("Denver Broncos won", "the Denver Broncos"), Tol);
        // repeated tokens count as a bag: pred {a1 x2 ...}; "b b c" vs "b c c": overlap 2, P = R = 2/3
        Assert.Equal(2.0 / 3, SquadMetrics.F1("b b c", "b c c"), Tol);
        Assert.Equal(0, SquadMetrics.F1("Broncos", "Panthers"));
    }

    [Fact]
    public void MaxOverGoldAnswersAndAverageInPercent()
    {
        var score = SquadMetrics.Compute(
            ["Santa Clara", "Denver Broncos"],
            [["Levi's Stadium", "Santa Clara, California"], ["Denver Broncos"]]);
        // item 1: EM 0, F1 vs "santa clara california" = 2·1·(2/3)/(1+2/3) = 0.8; item 2: EM 1, F1 1
        Assert.Equal(50, score.ExactMatch, Tol);
        Assert.Equal(90, score.F1, Tol);
        Assert.Equal(2, score.Count);
    }

    [Fact]
    public void NoAnswerScoresOneOnlyForAnEmptyPrediction()
    {
        // v2.0: no gold answers, or answers that normalise to "" (like "the"), mean "no answer".
        var score = SquadMetrics.Compute(["", "Broncos", "", ""], [[], [], ["The"], ["Broncos"]]);
        Assert.Equal(50, score.ExactMatch, Tol);
        Assert.Equal(50, score.F1, Tol);
    }

    [Fact]
    public void MismatchedCountsAreAOneLineError()
    {
        var e = Assert.Throws<GptBertException>(() => SquadMetrics.Compute(["a"], []));
        Assert.Contains("1 predictions but 0", e.Message);
    }
}
