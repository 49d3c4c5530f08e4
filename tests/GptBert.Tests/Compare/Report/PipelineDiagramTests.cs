using System.Text.RegularExpressions;
using GptBert.Compare.Report;

namespace GptBert.Tests.Compare.Report;

/// <summary>The comparison's pipeline diagram: valid flowchart syntax (structurally), every candidate and baseline named, in both reports.</summary>
public class PipelineDiagramTests
{
    static readonly Regex NodeLine = new(@"^    (?<id>\w+)(\[\(|\{\{|\(\[|\[)""(?<label>[^""]*)""(\)\]|\}\}|\]\)|\])$");
    static readonly Regex EdgeLine = new(@"^    (?<from>\w+) --> (?<to>\w+)$");

    [Fact]
    public void NamesEveryCandidateAndBaselineAndLeadsToTheVerdict()
    {
        var r = ReportFixtures.Classify();
        string m = PipelineDiagram.Mermaid(r);
        var lines = m.TrimEnd('\n').Split('\n');
        Assert.Equal("flowchart LR", lines[0]);
        var nodes = new Dictionary<string, string>();
        var edges = new List<(string, string)>();
        foreach (var line in lines.Skip(1))
        {
            if (NodeLine.Match(line) is { Success: true } n) { Assert.True(nodes.TryAdd(n.Groups["id"].Value, n.Groups["label"].Value)); continue; }
            var e = EdgeLine.Match(line);
            Assert.True(e.Success, $"not a node or an edge: '{line}'");
            edges.Add((e.Groups["from"].Value, e.Groups["to"].Value));
        }
        Assert.All(edges, e => { Assert.Contains(e.Item1, nodes.Keys); Assert.Contains(e.Item2, nodes.Keys); });
        foreach (var c in r.Candidates) Assert.Contains(nodes.Values, l => l.StartsWith(c.Name.Replace("&", "#38;").Replace("<", "#60;").Replace(">", "#62;").Replace("\"", "#quot;")));
        foreach (var b in r.Baselines) Assert.Contains(nodes.Values, l => l == "baseline: " + b.Name.Replace("&", "#38;").Replace("<", "#60;").Replace(">", "#62;"));
        Assert.Contains(nodes.Values, l => l == "verdict: " + r.Verdict.Choice);
        Assert.Contains(("measure", "verdict"), edges);

        Assert.Contains("```mermaid\n" + m + "```", GptBert.Compare.Report.MarkdownReport.Render(r));
        Assert.Contains("flowchart LR", GptBert.Compare.Report.HtmlReport.Render(r));
    }
}
