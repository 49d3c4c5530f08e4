using System.Text.Json;
using GptBert.Reporting;

namespace GptBert.Tests.Reporting;

/// <summary>
/// BLEU against a second, independent implementation: NLTK's corpus_bleu, golden values written by
/// tools/metrics-check/bleu_nltk.py (on sentences where 13a tokenization changes nothing, NLTK's counting, clipping,
/// brevity penalty and reference-length choice equal sacreBLEU's; see the script).
/// </summary>
public class BleuNltkGoldenTests
{
    [Fact]
    public void BleuMatchesNltkGolden()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(RepoFiles.At("tests", "GptBert.Tests", "Reporting", "Golden", "bleu-nltk.json")));
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            var hyps = c.GetProperty("hyps").EnumerateArray().Select(h => h.GetString()!).ToList();
            var refs = c.GetProperty("refs").EnumerateArray()
                .Select(rs => (IReadOnlyList<string>)rs.EnumerateArray().Select(r => r.GetString()!).ToList()).ToList();
            Assert.True(Math.Abs(c.GetProperty("bleu").GetDouble() - BleuMetrics.Bleu(hyps, refs).Score) < 1e-9, c.GetProperty("name").GetString());
        }
    }
}
