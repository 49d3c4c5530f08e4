using GptBert.Reporting;

namespace GptBert.Tests.Reporting;

/// <summary>
/// Entity-level scores against seqeval's documented examples (chakki-works/seqeval README: the
/// MISC/PER report, and the "strict mode" example where [I-NP I-NP O] scores 1.00 in the default mode
/// and 0.00 with mode='strict', scheme=IOB2) and hand-worked cases from its chunking rules.
/// </summary>
public class SeqevalMetricsTests
{
    const double Tol = 1e-12;

    static IReadOnlyList<IReadOnlyList<string>> S(params string[] sentences) =>
        sentences.Select(s => (IReadOnlyList<string>)s.Split(' ')).ToList();

    [Theory]
    [InlineData(SeqevalMode.Default)]
    [InlineData(SeqevalMode.StrictIob2)]
    public void ReadmeExample(SeqevalMode mode)
    {
        // seqeval README: MISC 0.00 0.00 0.00 support 1; PER 1.00 1.00 1.00 support 1; micro avg 0.50 (well-formed IOB2, so both modes agree)
        var gold = S("O O O B-MISC I-MISC I-MISC O", "B-PER I-PER O");
        var pred = S("O O B-MISC I-MISC I-MISC I-MISC O", "B-PER I-PER O");
        var s = SeqevalMetrics.Compute(gold, pred, mode);
        Assert.Equal(0.5, s.Precision, Tol);
        Assert.Equal(0.5, s.Recall, Tol);
        Assert.Equal(0.5, s.F1, Tol);
        Assert.Equal(2, s.Support);
        Assert.Equal(["MISC", "PER"], s.PerType.Select(t => t.Label));
        Assert.Equal((0.0, 0.0, 0.0, 1), (s.PerType[0].Precision, s.PerType[0].Recall, s.PerType[0].F1, s.PerType[0].Support));
        Assert.Equal((1.0, 1.0, 1.0, 1), (s.PerType[1].Precision, s.PerType[1].Recall, s.PerType[1].F1, s.PerType[1].Support));
    }

    [Fact]
    public void StrictAndDefaultDifferOnIWithoutB()
    {
        var gold = S("B-NP I-NP O");
        var pred = S("I-NP I-NP O");
        Assert.Equal(1.0, SeqevalMetrics.Compute(gold, pred, SeqevalMode.Default).F1, Tol);
        Assert.Equal(0.0, SeqevalMetrics.Compute(gold, pred, SeqevalMode.StrictIob2).F1, Tol);
    }

    [Fact]
    public void EntitiesByTheChunkingRules()
    {
        string[] tags = ["B-PER", "B-PER", "I-PER", "I-LOC", "O", "I-ORG", "I-ORG"];
        // default (conlleval): a type change or an I after O starts a new chunk
        Assert.Equal([new("PER", 0, 0), new("PER", 1, 2), new("LOC", 3, 3), new TaggedEntity("ORG", 5, 6)],
            SeqevalMetrics.Entities(tags, SeqevalMode.Default));
        // strict IOB2: only B-X I-X* spans; adjacent B-PER B-PER are two entities
        Assert.Equal([new("PER", 0, 0), new TaggedEntity("PER", 1, 2)],
            SeqevalMetrics.Entities(tags, SeqevalMode.StrictIob2));
    }

    [Fact]
    public void SplitEntityCountsAsWrongAndPrecisionRecallDiffer()
    {
        // gold: PER(0,1), LOC(3,3); pred: PER(0,0), PER(1,1), LOC(3,3) -> tp 1, P = 1/3, R = 1/2, F1 = 0.4
        var s = SeqevalMetrics.Compute(S("B-PER I-PER O B-LOC"), S("B-PER B-PER O B-LOC"));
        Assert.Equal(1.0 / 3, s.Precision, Tol);
        Assert.Equal(0.5, s.Recall, Tol);
        Assert.Equal(0.4, s.F1, Tol);
        Assert.Equal(3, s.Predicted);
    }

    [Fact]
    public void StrictModeRejectsNonIob2TagsAndLengthMismatch()
    {
        Assert.Contains("not IOB2", Assert.Throws<GptBertException>(() => SeqevalMetrics.Compute(S("E-PER"), S("O"))).Message);
        Assert.Contains("1 gold tags but 2", Assert.Throws<GptBertException>(() => SeqevalMetrics.Compute(S("O"), S("O O"))).Message);
    }
}
