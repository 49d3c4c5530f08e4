using System.Globalization;
using System.Text;
using System.Xml;
using System.Xml.Linq;

namespace GptBert.Compare.Report;

/// <summary>
/// The comparison as one self-contained HTML page: inline CSS and inline SVG charts, no scripts, no
/// external fonts, images, style sheets or links, so it opens offline and can be mailed as one file.
/// The markup is well-formed XHTML served as HTML (a parser of either kind reads it): every user string
/// (names, paths, labels, reasons, the command) is escaped by construction. Every figure comes from
/// <see cref="EvidenceTable"/>, so it reads exactly as in <see cref="ConsoleSummary"/>.
/// </summary>
public static class HtmlReport
{
    public const string HtmlFile = "report.html", MarkdownFile = "report.md", JsonFile = "report.json";

    static readonly XNamespace X = "http://www.w3.org/1999/xhtml";
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>HTML elements that never have content; every other empty element is written with an end tag.</summary>
    static readonly HashSet<string> Void = ["meta", "br", "hr", "img", "link", "col", "wbr", "input"];
    /// <summary>Elements followed by a line break in the output, so the source reads line by line.</summary>
    static readonly HashSet<string> Block =
        ["html", "head", "body", "meta", "title", "style", "main", "header", "footer", "section", "div", "table", "thead", "tbody",
         "tr", "ul", "li", "h1", "h2", "h3", "p", "figure", "figcaption", "pre"];

    /// <summary>The page, starting with <c>&lt;!DOCTYPE html&gt;</c>.</summary>
    public static string Render(ComparisonReport r) => Render(r, ReportCharts.Build(r));

    /// <summary>The page with the given charts (from <see cref="ReportCharts.Build"/>).</summary>
    public static string Render(ComparisonReport r, IReadOnlyList<ReportChart> charts)
    {
        ArgumentNullException.ThrowIfNull(r);
        ArgumentNullException.ThrowIfNull(charts);
        var table = EvidenceTable.Build(r);
        string choice = ReportFormat.Choice(r.Verdict);
        string verdictClass = choice is "gpt" or "bert" or "either" or "neither" or "baseline" ? choice : "other";
        string task = ReportFormat.Task(r.Task);

        var body = E("body");
        var page = E("main", A("class", "page"));
        body.Add(page);

        // Header.
        var names = string.Join(", ", r.Candidates.Select(c => EvidenceTable.OneLine(c.Name)));
        page.Add(E("header", A("class", "top"),
            E("div", A("class", "eyebrow"), "GptBert model comparison"),
            E("h1", "GPT or BERT for ", E("span", A("class", "task"), task), "?"),
            E("p", A("class", "subtitle"),
                r.Candidates.Count == 1 ? "1 candidate: " : $"{r.Candidates.Count.ToString(Inv)} candidates: ", names,
                E("span", A("class", "sep"), " | "), ReportFormat.Date(r.Date))));

        // Verdict banner.
        var banner = E("section", A("class", "verdict verdict-" + verdictClass),
            E("div", A("class", "verdict-kicker"), "Verdict"),
            E("div", A("class", "verdict-choice"), ReportFormat.VerdictText(r.Verdict)));
        var reasons = r.Verdict.Reasons ?? [];
        if (reasons.Count > 0) banner.Add(E("ul", A("class", "reasons"), reasons.Select(s => E("li", EvidenceTable.OneLine(s)))));
        page.Add(banner);
        if ((r.Warnings ?? []).Count > 0)
            page.Add(E("section", A("class", "warnings"), E("h2", "Warnings"), E("ul", r.Warnings!.Select(w => E("li", EvidenceTable.OneLine(w))))));

        // Evidence.
        var evidence = E("section", E("h2", "Evidence"));
        if (table.Candidates.Count == 0) evidence.Add(E("p", A("class", "muted"), "No candidates."));
        else evidence.Add(E("div", A("class", "table-wrap"), EvidenceTableElement(table)));
        var notes = new List<object>();
        if (table.Rows.Any(row => row.Cells.Any(c => c.Best)))
            notes.Add(E("li", E("span", A("class", "best-key"), "Bold"), ": best among the supported candidates."));
        notes.AddRange(table.Footnotes.Select(n => E("li", n)));
        if (notes.Count > 0) evidence.Add(E("ul", A("class", "notes"), notes));
        page.Add(evidence);

        if (r.Sweep is not null) page.Add(E("section", E("h2", "Budget sweep"), KeyValueTable(EvidenceTable.SweepLines(r))));

        // Charts.
        if (charts.Count > 0)
        {
            var grid = E("div", A("class", "charts"));
            foreach (var chart in charts)
            {
                var svg = XElement.Parse(chart.Chart.ToSvg());
                bool full = chart.Chart.Width > 700;
                grid.Add(E("figure", A("class", full ? "chart full" : "chart"), svg, E("figcaption", chart.Caption)));
            }
            page.Add(E("section", E("h2", "Charts"), grid));
        }

        // The pipeline, as Mermaid source (no script is loaded, so the page stays self-contained; paste it into any Mermaid viewer).
        page.Add(E("section", E("h2", "Pipeline"),
            E("details", E("summary", "Mermaid flowchart of what ran (data → candidates under the shared budget → measurements → verdict)"),
                E("pre", A("class", "cmd mermaid"), E("code", PipelineDiagram.Mermaid(r))))));

        // Data profile.
        var data = E("section", E("h2", "Data"));
        var dataGrid = E("div", A("class", "data-grid"), KeyValueTable(EvidenceTable.ProfileLines(r)));
        if (r.Profile?.LabelCounts.Count > 0) dataGrid.Add(LabelBars(r.Profile));
        data.Add(dataGrid);
        page.Add(data);

        // Budget and run.
        var run = EvidenceTable.RunLines(r);
        var runTable = KeyValueTable(EvidenceTable.BudgetLines(r).Concat(run.Where(l => l.Label != "command")).ToList());
        page.Add(E("section", E("h2", "Budget and run"),
            E("p", A("class", "overhead"), EvidenceTable.OverheadLine(r)),
            runTable,
            E("div", A("class", "cmd-label"), "command"),
            E("pre", A("class", "cmd"), E("code", run.First(l => l.Label == "command").Text))));

        page.Add(E("footer", "Generated by GptBert. ", E("code", JsonFile), " next to this page holds every figure, including per-seed values."));

        var html = E("html", A("lang", "en"),
            E("head",
                E("meta", A("charset", "utf-8")),
                E("meta", A("name", "viewport"), A("content", "width=device-width, initial-scale=1")),
                E("meta", A("name", "generator"), A("content", "GptBert")),
                E("title", $"{ReportFormat.VerdictLine(r.Verdict)} | GptBert comparison ({task})"),
                E("style", Css)),
            body);
        return Serialize(html);
    }

    static XElement EvidenceTableElement(EvidenceTable table)
    {
        var headRow = E("tr", E("th", A("class", "rowhead"), A("scope", "col"), "figure"));
        foreach (var c in table.Candidates)
        {
            var sub = string.Join(" | ", new[] { c.Source, c.Architecture }.Where(s => !string.IsNullOrWhiteSpace(s)).Select(EvidenceTable.OneLine));
            var th = E("th", A("scope", "col"), A("class", "cand fam-" + FamilyClass(c.Family) + (c.Supported ? "" : " unsupported")),
                E("div", A("class", "cand-name"), EvidenceTable.OneLine(c.Name)));
            if (sub.Length > 0) th.Add(E("div", A("class", "cand-sub"), sub));
            headRow.Add(th);
        }
        var tbody = E("tbody");
        bool qualityStarted = false;
        foreach (var row in table.Rows)
        {
            var rowClass = new List<string>();
            if (row.IsQuality) rowClass.Add("quality");
            if (row.IsQuality && !qualityStarted) { rowClass.Add("group-start"); qualityStarted = true; }
            else if (!row.IsQuality && qualityStarted && row.Label == "training time") rowClass.Add("group-start");
            var tr = E("tr", E("th", A("scope", "row"), row.Label));
            if (rowClass.Count > 0) tr.Add(A("class", string.Join(" ", rowClass)));
            for (int i = 0; i < row.Cells.Count; i++)
            {
                var cell = row.Cells[i];
                var classes = new List<string> { "num" };
                if (cell.Best) classes.Add("best");
                if (cell.Estimated) classes.Add("est");
                if (cell.Unsupported) classes.Add("unsupported");
                var td = E("td", A("class", string.Join(" ", classes)));
                if (row.Label == "family")
                    td.Add(E("span", A("class", "badge fam-" + FamilyClass(table.Candidates[i].Family)), cell.Text));
                else td.Add(cell.Text);
                if (cell.Estimated) td.Add(A("title", "estimated from the cost model, not measured"));
                tr.Add(td);
            }
            tbody.Add(tr);
        }
        return E("table", A("class", "evidence"), E("thead", headRow), tbody);
    }

    static XElement KeyValueTable(IReadOnlyList<ReportLine> lines) =>
        E("table", A("class", "kv"), E("tbody", lines.Select(l => E("tr", E("th", A("scope", "row"), l.Label), E("td", l.Text)))));

    static XElement LabelBars(DatasetProfile p)
    {
        var shares = EvidenceTable.LabelShares(p);
        double max = shares.Count == 0 ? 1 : Math.Max(1e-9, shares.Max(s => s.Share));
        var box = E("div", A("class", "bars"), E("div", A("class", "bars-title"), "training labels"));
        foreach (var s in shares.Take(EvidenceTable.MaxLabelsListed))
        {
            var width = (100 * s.Share / max).ToString("0.#", Inv);
            box.Add(E("div", A("class", "bar-row"),
                E("span", A("class", "bar-label"), A("title", EvidenceTable.OneLine(s.Label)), EvidenceTable.OneLine(s.Label)),
                E("span", A("class", "bar"), E("span", A("class", "bar-fill"), A("style", $"width: {width}%"))),
                E("span", A("class", "bar-value"), $"{ReportFormat.Integer(s.Count)} ({ReportFormat.Percent(s.Share)})")));
        }
        if (shares.Count > EvidenceTable.MaxLabelsListed)
            box.Add(E("div", A("class", "muted"), $"+{(shares.Count - EvidenceTable.MaxLabelsListed).ToString(Inv)} more"));
        return box;
    }

    static string FamilyClass(string family) => family?.Trim().ToLowerInvariant() switch
    {
        "gpt" => "gpt",
        "bert" => "bert",
        _ => "other",
    };

    /// <summary>Writes report.html, report.md, report.json and the charts (chart-*.svg) into <paramref name="dir"/>, each atomically; returns their paths.</summary>
    /// <exception cref="GptBertException">A file cannot be written.</exception>
    public static IReadOnlyList<string> Write(ComparisonReport r, string dir)
    {
        ArgumentNullException.ThrowIfNull(r);
        ArgumentException.ThrowIfNullOrWhiteSpace(dir);
        try { Directory.CreateDirectory(dir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new GptBertException($"cannot create the report directory {Path.GetFullPath(dir)}: {e.Message.TrimEnd('.')}; check the path and permissions", e);
        }
        var charts = ReportCharts.Build(r);
        var written = new List<string>();
        void Put(string name, string text)
        {
            var path = Path.Combine(dir, name);
            AtomicFile.WriteAllText(path, text);
            written.Add(path);
        }
        foreach (var chart in charts) Put(chart.FileName, chart.Chart.ToSvg());
        Put(MarkdownFile, MarkdownReport.Render(r, charts));
        Put(JsonFile, ReportJson.Serialize(r));
        Put(HtmlFile, Render(r, charts)); // last: its presence means the report is complete
        return written;
    }

    // ---------------------------------------------------------------- XHTML helpers

    static XElement E(string name, params object?[] content) => new(X + name, content);
    static XAttribute A(string name, string value) => new(name, value);

    static string Serialize(XElement html)
    {
        foreach (var t in html.DescendantNodes().OfType<XText>()) t.Value = Clean(t.Value);
        foreach (var a in html.DescendantsAndSelf().SelectMany(e => e.Attributes())) a.Value = Clean(a.Value);
        foreach (var e in html.DescendantsAndSelf().Where(e => e.Name.Namespace == X).ToList())
        {
            // "<div/>" opens a div in an HTML parser: write "<div></div>".
            if (e.IsEmpty && !Void.Contains(e.Name.LocalName)) e.Value = "";
            if (Block.Contains(e.Name.LocalName) && e.Parent is not null && e.Parent.Name != X + "pre") e.AddAfterSelf(new XText("\n"));
        }
        var settings = new XmlWriterSettings
        {
            OmitXmlDeclaration = true,
            Indent = false,
            NewLineHandling = NewLineHandling.None,
            Encoding = new UTF8Encoding(false),
        };
        var sb = new StringBuilder("<!DOCTYPE html>\n");
        using (var sw = new StringWriter(sb, Inv))
        using (var xw = XmlWriter.Create(sw, settings))
            html.WriteTo(xw);
        return sb.Append('\n').ToString();
    }

    /// <summary>Characters XML 1.0 forbids (control characters, lone surrogates) become U+FFFD.</summary>
    static string Clean(string s)
    {
        StringBuilder? sb = null;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            bool ok;
            if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                sb?.Append(c).Append(s[i + 1]);
                i++;
                continue;
            }
            ok = XmlConvert.IsXmlChar(c);
            if (!ok && sb is null) sb = new StringBuilder(s, 0, i, s.Length);
            sb?.Append(ok ? c : '\uFFFD');
        }
        return sb?.ToString() ?? s;
    }

    // No '<', '&' or '>' below: the style element's text must read the same to an HTML and an XML parser.
    const string Css = """

:root {
  --ink: #1f2430; --muted: #5f6b7a; --line: #e3e7ed; --soft: #f5f7fa; --bg: #eef1f5; --card: #ffffff;
  --gpt: #1f77b4; --gpt-ink: #165a8a; --gpt-bg: #e9f2fb;
  --bert: #ff7f0e; --bert-ink: #a34f00; --bert-bg: #fff1e3;
  --good: #1e7b45; --good-bg: #e7f6ed; --bad: #b3261e; --bad-bg: #fdecea;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", "DejaVu Sans", sans-serif; }
.page { max-width: 1140px; margin: 0 auto; padding: 36px 32px 40px; }
h1 { font-size: 30px; line-height: 1.2; margin: 4px 0 6px; font-weight: 700; letter-spacing: -0.01em; }
h1 .task { color: var(--muted); font-weight: 600; }
h2 { font-size: 13px; text-transform: uppercase; letter-spacing: 0.08em; color: var(--muted); margin: 0 0 14px; font-weight: 700; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 22px 26px; margin: 0 0 20px;
  box-shadow: 0 1px 2px rgba(16, 24, 40, 0.04); }
.top { margin: 0 0 22px; }
.eyebrow { font-size: 12px; text-transform: uppercase; letter-spacing: 0.12em; color: var(--muted); font-weight: 600; }
.subtitle { margin: 0; color: var(--muted); }
.sep { color: #b4bcc8; }
.muted { color: var(--muted); }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 13px; }

.verdict { border-left: 6px solid #8a94a3; background: var(--soft); padding: 20px 26px 18px; }
.verdict-kicker { font-size: 12px; text-transform: uppercase; letter-spacing: 0.12em; font-weight: 700; opacity: 0.8; }
.verdict-choice { font-size: 34px; font-weight: 800; line-height: 1.15; margin: 2px 0 8px; letter-spacing: -0.01em; }
.warnings { border-left: 6px solid #c62828; background: #fdecea; padding: 8px 22px; margin-top: 14px; }
.warnings h2 { margin: 6px 0; font-size: 16px; color: #8e1c1c; }
.reasons { margin: 6px 0 0; padding-left: 20px; }
.reasons li { margin: 3px 0; }
.verdict-gpt { border-left-color: var(--gpt); background: var(--gpt-bg); }
.verdict-gpt .verdict-choice, .verdict-gpt .verdict-kicker { color: var(--gpt-ink); }
.verdict-bert { border-left-color: var(--bert); background: var(--bert-bg); }
.verdict-bert .verdict-choice, .verdict-bert .verdict-kicker { color: var(--bert-ink); }
.verdict-either { border-left-color: var(--good); background: var(--good-bg); }
.verdict-either .verdict-choice, .verdict-either .verdict-kicker { color: var(--good); }
.verdict-neither { border-left-color: var(--bad); background: var(--bad-bg); }
.verdict-neither .verdict-choice, .verdict-neither .verdict-kicker { color: var(--bad); }
.verdict-baseline { border-left-color: #5f6b7a; background: #eef0f3; }
.verdict-baseline .verdict-choice, .verdict-baseline .verdict-kicker { color: #3c4450; }

.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; }
table.evidence { width: 100%; font-size: 14px; }
.evidence th, .evidence td { padding: 7px 14px; border-bottom: 1px solid var(--line); vertical-align: top; }
.evidence thead th { text-align: right; border-bottom: 2px solid var(--line); border-top: 4px solid #8a94a3; background: var(--soft); }
.evidence thead th.rowhead { text-align: left; border-top-color: transparent; background: transparent; color: var(--muted);
  font-size: 12px; text-transform: uppercase; letter-spacing: 0.06em; vertical-align: bottom; }
.evidence thead th.fam-gpt { border-top-color: var(--gpt); }
.evidence thead th.fam-bert { border-top-color: var(--bert); }
.cand-name { font-weight: 700; font-size: 15px; }
.cand-sub { font-weight: 400; font-size: 12px; color: var(--muted); }
.evidence tbody th { text-align: left; font-weight: 500; color: #3a4250; white-space: nowrap; }
.evidence tbody tr.quality th { font-weight: 700; color: var(--ink); }
.evidence tbody tr.group-start th, .evidence tbody tr.group-start td { border-top: 2px solid var(--line); }
.evidence tbody tr:hover td, .evidence tbody tr:hover th { background: #fafbfc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.best { font-weight: 700; color: var(--good); }
td.est { color: #8a5a00; text-decoration: underline dotted #c9a45c; text-underline-offset: 3px; }
td.best.est { color: var(--good); }
td.unsupported { color: #98a1ae; font-style: italic; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 12px; font-weight: 700; font-style: normal;
  letter-spacing: 0.04em; background: #eceff3; color: #4a5260; }
.badge.fam-gpt { background: var(--gpt-bg); color: var(--gpt-ink); }
.badge.fam-bert { background: var(--bert-bg); color: var(--bert-ink); }
.notes { margin: 12px 0 0; padding-left: 18px; color: var(--muted); font-size: 13px; }
.best-key { font-weight: 700; color: var(--good); }

.charts { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 18px; }
.chart { margin: 0; border: 1px solid var(--line); border-radius: 8px; padding: 8px; background: #ffffff; }
.chart.full { grid-column: 1 / -1; }
.chart svg { display: block; width: 100%; height: auto; }
.chart figcaption { font-size: 13px; color: var(--muted); padding: 4px 8px 2px; }

.data-grid { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 28px; align-items: start; }
table.kv { width: 100%; font-size: 14px; }
.kv th { text-align: left; font-weight: 600; color: var(--muted); padding: 6px 16px 6px 0; white-space: nowrap; vertical-align: top; width: 1%; }
.kv td { padding: 6px 0; border-bottom: 1px solid var(--line); font-variant-numeric: tabular-nums; }
.kv tr:last-child td { border-bottom: 0; }
.bars-title { font-size: 12px; text-transform: uppercase; letter-spacing: 0.06em; color: var(--muted); font-weight: 700; margin: 6px 0 8px; }
.bar-row { display: grid; grid-template-columns: minmax(0, 8em) minmax(0, 1fr) auto; gap: 10px; align-items: center; font-size: 13px; margin: 5px 0; }
.bar-label { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.bar { display: block; height: 10px; background: var(--soft); border-radius: 5px; overflow: hidden; }
.bar-fill { display: block; height: 100%; background: #8a9bb4; border-radius: 5px; }
.bar-value { color: var(--muted); font-variant-numeric: tabular-nums; white-space: nowrap; }

.overhead { margin: 0 0 10px; font-weight: 600; }
.cmd-label { margin: 14px 0 4px; font-weight: 600; color: var(--muted); font-size: 14px; }
pre.cmd { margin: 0; padding: 12px 14px; background: #1f2430; color: #e8ecf2; border-radius: 8px; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
footer { color: var(--muted); font-size: 13px; text-align: center; margin-top: 8px; }

@media (max-width: 760px) {
  .page { padding: 20px 12px; }
  section { padding: 16px 14px; }
  .verdict-choice { font-size: 28px; }
  .charts, .data-grid { grid-template-columns: minmax(0, 1fr); }
}
@media print {
  body { background: #ffffff; }
  section { box-shadow: none; break-inside: avoid; }
}

""";
}
