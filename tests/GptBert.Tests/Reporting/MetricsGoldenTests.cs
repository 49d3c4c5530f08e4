using System.Text.Json;
using GptBert.Reporting;

namespace GptBert.Tests.Reporting;

/// <summary>
/// BLEU, chrF, chrF++ and seqeval (default and strict IOB2) against values computed by sacreBLEU's and
/// seqeval's own source (tools/metrics-check/golden.py, output in Golden/metrics.json) on a varied set:
/// an empty prediction, punctuation and numbers, accents, CJK, identical text, a variable number of
/// references, I- without B-, adjacent entities of one type.
/// </summary>
public class MetricsGoldenTests
{
    static readonly JsonElement Golden = JsonDocument.Parse(File.ReadAllText(RepoFiles.At("tests", "GptBert.Tests", "Reporting", "Golden", "metrics.json"))).RootElement;

    static List<string> Strings(JsonElement e) => e.EnumerateArray().Select(x => x.GetString()!).ToList();

    public static TheoryData<string> TranslationCases() => [.. Golden.GetProperty("translation").EnumerateObject().Select(p => p.Name)];
    public static TheoryData<string> TaggingCases() => [.. Golden.GetProperty("tagging").EnumerateObject().Select(p => p.Name)];

    [Theory]
    [MemberData(nameof(TranslationCases))]
    public void BleuAndChrfMatchSacrebleu(string name)
    {
        var c = Golden.GetProperty("translation").GetProperty(name);
        var hyp = Strings(c.GetProperty("predictions"));
        var refs = c.GetProperty("references").EnumerateArray().Select(r => (IReadOnlyList<string>)Strings(r)).ToList();
        var bleu = BleuMetrics.Bleu(hyp, refs);
        Assert.Equal(c.GetProperty("bleu").GetDouble(), bleu.Score, 1e-9);
        Assert.Equal(c.GetProperty("precisions").EnumerateArray().Select(p => p.GetDouble()).ToArray(), bleu.Precisions, new Close(1e-9));
        Assert.Equal(c.GetProperty("bp").GetDouble(), bleu.BrevityPenalty, 1e-12);
        Assert.Equal(c.GetProperty("sys_len").GetInt32(), bleu.HypothesisLength);
        Assert.Equal(c.GetProperty("ref_len").GetInt32(), bleu.ReferenceLength);
        Assert.Equal(c.GetProperty("chrf").GetDouble(), BleuMetrics.Chrf(hyp, refs).Score, 1e-9);
        Assert.Equal(c.GetProperty("chrf_pp").GetDouble(), BleuMetrics.Chrf(hyp, refs, wordOrder: 2).Score, 1e-9);
    }

    [Theory]
    [MemberData(nameof(TaggingCases))]
    public void SeqevalMatchesSeqeval(string name)
    {
        var c = Golden.GetProperty("tagging").GetProperty(name);
        var gold = c.GetProperty("gold").EnumerateArray().Select(s => (IReadOnlyList<string>)Strings(s)).ToList();
        var pred = c.GetProperty("predicted").EnumerateArray().Select(s => (IReadOnlyList<string>)Strings(s)).ToList();
        foreach (var (key, mode) in new[] { ("default", SeqevalMode.Default), ("strict", SeqevalMode.StrictIob2) })
        {
            var expected = c.GetProperty(key);
            var s = SeqevalMetrics.Compute(gold, pred, mode);
            var micro = expected.GetProperty("micro avg");
            Assert.Equal(micro.GetProperty("precision").GetDouble(), s.Precision, 1e-12);
            Assert.Equal(micro.GetProperty("recall").GetDouble(), s.Recall, 1e-12);
            Assert.Equal(micro.GetProperty("f1").GetDouble(), s.F1, 1e-12);
            Assert.Equal(micro.GetProperty("support").GetInt32(), s.Support);
            var types = expected.EnumerateObject().Where(p => p.Name != "micro avg").ToList();
            Assert.Equal(types.Select(t => t.Name).Order(StringComparer.Ordinal), s.PerType.Select(t => t.Label));
            foreach (var t in types)
            {
                var row = s.PerType.Single(r => r.Label == t.Name);
                Assert.Equal(t.Value.GetProperty("precision").GetDouble(), row.Precision, 1e-12);
                Assert.Equal(t.Value.GetProperty("recall").GetDouble(), row.Recall, 1e-12);
                Assert.Equal(t.Value.GetProperty("f1").GetDouble(), row.F1, 1e-12);
                Assert.Equal(t.Value.GetProperty("support").GetInt32(), row.Support);
            }
        }
    }

    sealed class Close(double tol) : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= tol;
        public int GetHashCode(double d) => 0;
    }
}
