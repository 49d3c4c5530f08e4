using System.Text;

namespace GptBert.Compare.Report;

/// <summary>
/// What <c>gptbert compare</c> and <c>gptbert choose</c> print: the verdict line, its reasons, an aligned
/// evidence table (one column per candidate), footnotes, the data profile, the budget and the comparison
/// overhead. Plain text, "\n" line ends, invariant culture: the same report prints the same bytes everywhere.
/// </summary>
public static class ConsoleSummary
{
    public static string Render(ComparisonReport r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var sb = new StringBuilder();
        sb.Append(ReportFormat.VerdictLine(r.Verdict)).Append('\n');
        foreach (var reason in r.Verdict.Reasons ?? [])
            sb.Append("  - ").Append(EvidenceTable.OneLine(reason)).Append('\n');

        if ((r.Warnings ?? []).Count > 0)
        {
            sb.Append('\n').Append("Warnings\n");
            foreach (var w in r.Warnings!) sb.Append("  ! ").Append(EvidenceTable.OneLine(w)).Append('\n');
        }

        var table = EvidenceTable.Build(r);
        sb.Append('\n').Append("Evidence (").Append(ReportFormat.Task(r.Task)).Append(")\n");
        if (table.Candidates.Count == 0) sb.Append("  no candidates\n");
        else AppendTable(sb, table);
        foreach (var note in table.Footnotes) sb.Append("  ").Append(note).Append('\n');

        if (r.Sweep is not null)
        {
            sb.Append('\n').Append("Budget sweep\n");
            AppendLines(sb, EvidenceTable.SweepLines(r));
        }

        sb.Append('\n').Append("Data\n");
        AppendLines(sb, EvidenceTable.ProfileLines(r));
        sb.Append('\n').Append("Budget\n");
        AppendLines(sb, EvidenceTable.BudgetLines(r));
        sb.Append('\n').Append(EvidenceTable.OverheadLine(r)).Append('\n');
        return sb.ToString();
    }

    static void AppendTable(StringBuilder sb, EvidenceTable table)
    {
        var headers = table.Candidates.Select(c => EvidenceTable.OneLine(c.Name)).ToList();
        int labelWidth = table.Rows.Max(row => row.Label.Length);
        var widths = headers.Select((h, i) => Math.Max(h.Length, table.Rows.Max(row => row.Cells[i].Text.Length))).ToList();

        void Line(string label, IReadOnlyList<string> cells)
        {
            var line = new StringBuilder("  ").Append(label.PadRight(labelWidth));
            for (int i = 0; i < cells.Count; i++) line.Append("   ").Append(cells[i].PadLeft(widths[i]));
            sb.Append(line.ToString().TrimEnd()).Append('\n');
        }

        Line("", headers);
        foreach (var row in table.Rows) Line(row.Label, row.Cells.Select(c => c.Text).ToList());
    }

    static void AppendLines(StringBuilder sb, IReadOnlyList<ReportLine> lines)
    {
        int width = lines.Count == 0 ? 0 : lines.Max(l => l.Label.Length);
        foreach (var l in lines)
            sb.Append("  ").Append(l.Label.PadRight(width)).Append("   ").Append(EvidenceTable.OneLine(l.Text)).Append('\n');
    }
}
