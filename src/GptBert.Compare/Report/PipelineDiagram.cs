using System.Globalization;
using System.Text;

namespace GptBert.Compare.Report;

/// <summary>
/// The pipeline a comparison ran, as a Mermaid flowchart: the data and its splits, every candidate (family, source,
/// architecture, parameters) and baseline under the shared budget, the measurements, and the verdict. Report.md
/// carries it in a ```mermaid block (GitHub renders it); report.html keeps the source (the page stays self-contained:
/// no script is fetched to draw it).
/// </summary>
public static class PipelineDiagram
{
    /// <summary>Mermaid labels are HTML: user text gets entity codes for the characters markup would read (#60; is &lt;).</summary>
    static string Label(string text) =>
        text.Replace("&", "#38;").Replace("<", "#60;").Replace(">", "#62;").Replace("\"", "#quot;").Replace("\n", "<br/>");

    public static string Mermaid(ComparisonReport r)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder("flowchart LR\n");
        void Node(string id, string text, string open = "[", string close = "]") =>
            sb.Append("    ").Append(id).Append(open).Append('"').Append(Label(text)).Append('"').Append(close).Append('\n');
        void Edge(string from, string to) => sb.Append("    ").Append(from).Append(" --> ").Append(to).Append('\n');

        var p = r.Profile;
        Node("data", string.Create(inv, $"{ReportFormat.Task(r.Task)} data\ntrain {p.TrainExamples:N0} · validation {p.ValidationExamples:N0} · test {p.TestExamples:N0}"), "[(", ")]");
        Node("budget", $"shared budget\n{(r.Budget.Length > 0 ? r.Budget : "as configured")}", "{{", "}}");
        Node("measure", "held-out test quality\nlatency · throughput · peak memory · size", "[", "]");
        Node("verdict", $"verdict: {r.Verdict.Choice}", "([", "])");
        int i = 0;
        foreach (var c in r.Candidates)
        {
            string id = $"c{i++}";
            string size = c.Parameters > 0 ? $" · {c.Parameters.ToString("N0", inv)} parameters" : "";
            Node(id, $"{c.Name}\n{c.Family.ToUpperInvariant()} · {c.Architecture}{size}" + (c.Supported ? "" : "\nnot supported"));
            Edge("data", id);
            Edge("budget", id);
            Edge(id, "measure");
        }
        int j = 0;
        foreach (var b in r.Baselines)
        {
            string id = $"b{j++}";
            Node(id, $"baseline: {b.Name}");
            Edge("data", id);
            Edge(id, "measure");
        }
        Edge("measure", "verdict");
        return sb.ToString();
    }
}
