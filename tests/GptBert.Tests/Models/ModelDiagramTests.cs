using System.Text.RegularExpressions;
using GptBert.Models;
using GptBert.Tests.Cli;

namespace GptBert.Tests.Models;

/// <summary>The Mermaid diagrams parse as flowcharts (a structural check of the syntax used) and name every layer.</summary>
public class ModelDiagramTests
{
    static readonly Regex NodeLine = new(@"^    (?<id>[A-Za-z_]\w*)(\[|\(\[)""(?<label>[^""]*)""(\]|\]\))$");
    static readonly Regex EdgeLine = new(@"^    (?<from>[A-Za-z_]\w*) (-->|-\.->\|[^|""]+\|) (?<to>[A-Za-z_]\w*)$");

    /// <summary>Checks every line is a node or an edge, ids are unique, and edges join declared nodes; returns the labels.</summary>
    static List<string> Parse(string mermaid)
    {
        var lines = mermaid.TrimEnd('\n').Split('\n');
        Assert.Equal("flowchart TD", lines[0]);
        var nodes = new Dictionary<string, string>();
        var edges = new List<(string, string)>();
        foreach (var line in lines.Skip(1))
        {
            if (NodeLine.Match(line) is { Success: true } n) { Assert.True(nodes.TryAdd(n.Groups["id"].Value, n.Groups["label"].Value), $"duplicate node {line}"); continue; }
            var e = EdgeLine.Match(line);
            Assert.True(e.Success, $"not a node or an edge: '{line}'");
            edges.Add((e.Groups["from"].Value, e.Groups["to"].Value));
        }
        foreach (var (from, to) in edges)
        {
            Assert.True(nodes.ContainsKey(from), $"edge from undeclared {from}");
            Assert.True(nodes.ContainsKey(to), $"edge to undeclared {to}");
        }
        // Every node but the inputs is reached from the inputs.
        var reached = new HashSet<string> { "inputs" };
        for (bool grew = true; grew;)
        {
            grew = false;
            foreach (var (from, to) in edges) if (reached.Contains(from) && reached.Add(to)) grew = true;
        }
        Assert.Equal(nodes.Keys.Order(), reached.Order());
        return nodes.Values.ToList();
    }

    [Theory]
    [InlineData("BertModel")]
    [InlineData("BertForMaskedLM")]
    [InlineData("BertForPreTraining")]
    [InlineData("BertForSequenceClassification")]
    [InlineData("BertForTokenClassification")]
    [InlineData("BertForQuestionAnswering")]
    public void BertDiagramsNameEveryLayer(string arch)
    {
        var config = new BertConfig { NumHiddenLayers = 5, HiddenSize = 64, NumAttentionHeads = 4, IntermediateSize = 256, VocabSize = 1000 };
        var labels = Parse(ModelDiagram.Mermaid(config, arch));
        for (int i = 0; i < 5; i++) Assert.Single(labels, l => l.StartsWith($"bert.encoder.layer.{i}<br/>", StringComparison.Ordinal));
        Assert.Contains(labels, l => l.Contains("4 heads × 16") && l.Contains("FFN 64→256→64"));
    }

    [Theory]
    [InlineData("GPT2LMHeadModel", true)]
    [InlineData("GPT2Model", false)]
    [InlineData("GPT2ForSequenceClassification", false)]
    public void Gpt2DiagramsNameEveryBlockAndTheTie(string arch, bool tied)
    {
        var config = new Gpt2Config { NLayer = 3, NEmbd = 48, NHead = 3, VocabSize = 500, NPositions = 64 };
        string m = ModelDiagram.Mermaid(config, arch);
        var labels = Parse(m);
        for (int i = 0; i < 3; i++) Assert.Single(labels, l => l.StartsWith($"transformer.h.{i}<br/>", StringComparison.Ordinal));
        Assert.Contains(labels, l => l.StartsWith("transformer.ln_f"));
        Assert.Equal(tied, m.Contains("lm_head -.->|tied to wte| embeddings"));
    }

    [Fact]
    public void InfoPrintsTheBuiltInMiniLm()
    {
        var r = CliHarness.Run(null, "info", "minilm", "--mermaid");
        Assert.True(r.ExitCode == 0, r.ToString());
        var labels = Parse(r.Stdout);
        Assert.Equal(6, labels.Count(l => l.StartsWith("bert.encoder.layer.")));
        Assert.Contains(labels, l => l.Contains("word 30,522×384"));
    }
}
