using System.Text;

namespace GptBert.Compare.Report;

/// <summary>
/// The comparison as Markdown (GitHub flavour): verdict, reasons, the evidence table, the charts as
/// images referencing the SVG files written next to it, the data profile and the run details. Same
/// figures, same strings as the console summary and the HTML page.
/// </summary>
public static class MarkdownReport
{
    public static string Render(ComparisonReport r) => Render(r, ReportCharts.Build(r));

    /// <summary>The report with image links to <paramref name="charts"/> (by <see cref="ReportChart.FileName"/>).</summary>
    public static string Render(ComparisonReport r, IReadOnlyList<ReportChart> charts)
    {
        ArgumentNullException.ThrowIfNull(r);
        ArgumentNullException.ThrowIfNull(charts);
        var table = EvidenceTable.Build(r);
        var sb = new StringBuilder();
        sb.Append("# GPT or BERT for ").Append(ReportFormat.Task(r.Task)).Append("?\n\n");
        sb.Append("## ").Append(Escape(ReportFormat.VerdictLine(r.Verdict))).Append("\n\n");
        foreach (var reason in r.Verdict.Reasons ?? []) sb.Append("- ").Append(Escape(EvidenceTable.OneLine(reason))).Append('\n');
        if ((r.Verdict.Reasons ?? []).Count > 0) sb.Append('\n');

        if ((r.Warnings ?? []).Count > 0)
        {
            sb.Append("## Warnings\n\n");
            foreach (var w in r.Warnings!) sb.Append("- ").Append(Escape(EvidenceTable.OneLine(w))).Append('\n');
            sb.Append('\n');
        }

        sb.Append("## Evidence\n\n");
        if (table.Candidates.Count == 0) sb.Append("No candidates.\n\n");
        else
        {
            sb.Append("| figure |");
            foreach (var c in table.Candidates) sb.Append(' ').Append(Escape(EvidenceTable.OneLine(c.Name))).Append(" |");
            sb.Append("\n|:---|");
            foreach (var _ in table.Candidates) sb.Append("---:|");
            sb.Append('\n');
            foreach (var row in table.Rows)
            {
                sb.Append("| ").Append(Escape(row.Label)).Append(" |");
                foreach (var cell in row.Cells)
                {
                    var text = Escape(cell.Text);
                    sb.Append(' ').Append(cell.Best ? "**" + text + "**" : cell.Unsupported && cell.Text == EvidenceTable.NotSupported ? "*" + text + "*" : text).Append(" |");
                }
                sb.Append('\n');
            }
            sb.Append('\n');
        }
        var notes = new List<string>();
        if (table.Rows.Any(row => row.Cells.Any(c => c.Best))) notes.Add("**Bold**: best among the supported candidates.");
        notes.AddRange(table.Footnotes.Select(Escape));
        foreach (var n in notes) sb.Append("- ").Append(n).Append('\n');
        if (notes.Count > 0) sb.Append('\n');

        if (r.Sweep is not null)
        {
            sb.Append("## Budget sweep\n\n");
            AppendLines(sb, EvidenceTable.SweepLines(r));
        }

        if (charts.Count > 0)
        {
            sb.Append("## Charts\n\n");
            foreach (var chart in charts)
                sb.Append("![").Append(Escape(chart.Title)).Append("](").Append(chart.FileName).Append(")\n\n")
                  .Append('*').Append(Escape(chart.Caption)).Append("*\n\n");
        }

        sb.Append("## Pipeline\n\n```mermaid\n").Append(PipelineDiagram.Mermaid(r)).Append("```\n\n");

        sb.Append("## Data\n\n");
        AppendLines(sb, EvidenceTable.ProfileLines(r));

        sb.Append("## Budget and run\n\n");
        sb.Append(Escape(EvidenceTable.OverheadLine(r))).Append("\n\n");
        var run = EvidenceTable.RunLines(r);
        AppendLines(sb, EvidenceTable.BudgetLines(r).Concat(run.Where(l => l.Label != "command")).ToList());
        var command = run.First(l => l.Label == "command").Text;
        string fence = "```";
        while (command.Contains(fence, StringComparison.Ordinal)) fence += "`";
        sb.Append("Command:\n\n").Append(fence).Append("sh\n").Append(command.Replace("\r\n", "\n")).Append('\n').Append(fence).Append("\n");
        return sb.ToString();
    }

    static void AppendLines(StringBuilder sb, IReadOnlyList<ReportLine> lines)
    {
        sb.Append("| | |\n|:---|:---|\n");
        foreach (var l in lines) sb.Append("| ").Append(Escape(l.Label)).Append(" | ").Append(Escape(l.Text)).Append(" |\n");
        sb.Append('\n');
    }

    /// <summary>
    /// Text safe inside Markdown and its table cells: Markdown punctuation is backslash-escaped, '&lt;' and
    /// '&amp;' become entities (no raw HTML gets through), line breaks become spaces.
    /// </summary>
    public static string Escape(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (var ch in EvidenceTable.OneLine(s))
        {
            switch (ch)
            {
                case '<': sb.Append("&lt;"); break;
                case '>': sb.Append("&gt;"); break;
                case '&': sb.Append("&amp;"); break;
                case '\\' or '`' or '*' or '_' or '[' or ']' or '|' or '#' or '!' or '~':
                    sb.Append('\\').Append(ch); break;
                default: sb.Append(ch); break;
            }
        }
        return sb.ToString();
    }
}
