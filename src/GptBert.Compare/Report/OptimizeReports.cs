using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using GptBert.Reporting;

namespace GptBert.Compare.Report;

/// <summary>
/// `gptbert optimize`'s outputs: the table on the terminal, report.md, a self-contained report.html (inline CSS and
/// SVG, no scripts or links), report.json and the Pareto chart (quality against latency p50). Every figure is the one
/// <see cref="Optimizer"/> measured; nothing is estimated (a figure that were would carry <see cref="ReportFormat.EstimatedMark"/>).
/// </summary>
public static class OptimizeReports
{
    public const string ParetoFile = "chart-pareto.svg";
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    static readonly string[] Header = ["variant", "quality", "\u0394 vs fp32", "p50 ms", "p95 ms", "throughput", "speedup", "size", "peak memory", "Pareto"];

    /// <summary>The table rows as text cells: measured rows in full, skipped rows with their reason.</summary>
    public static List<string[]> Rows(OptimizeReport r) => r.Variants.Select(v => v.Measured
        ? new[]
        {
            v.Name, QualityText(r, v), Optimizer.DeltaText(r, v), Ms(v.LatencyP50Ms), Ms(v.LatencyP95Ms),
            $"{ReportFormat.Sig3(v.Throughput)}/s @ batch {v.ThroughputBatch.ToString(Inv)}",
            v.Speedup is double s ? s.ToString("0.00", Inv) + "x" : ReportFormat.Missing,
            ReportFormat.Bytes(v.SizeBytes), ReportFormat.Mebibytes(v.PeakMemoryMb), v.ParetoOptimal ? "*" : "",
        }
        : new[] { v.Name, v.Reason ?? "not measured", "", "", "", "", "", "", "", "" }).ToList();

    static string Ms(double ms) => ms.ToString(ms < 10 ? "0.00" : "0.0", Inv);

    /// <summary>"macro_f1 0.8123 (accuracy 0.8200)": the primary metric first.</summary>
    static string QualityText(OptimizeReport r, VariantResult v)
    {
        string One(string k) => $"{k} {v.Quality[k].ToString(k == "perplexity" ? "0.00" : "0.0000", Inv)}";
        var others = v.Quality.Keys.Where(k => k != r.Metric).Select(One).ToList();
        return v.Quality.ContainsKey(r.Metric) ? One(r.Metric) + (others.Count > 0 ? $" ({string.Join(", ", others)})" : "") : string.Join(", ", others);
    }

    static string TaskText(OptimizeTask t) => t switch
    {
        OptimizeTask.Classify => "classification",
        OptimizeTask.Search => "search with the model's embeddings",
        _ => "language modelling",
    };

    /// <summary>The terminal summary: the table, how to read it, and the recommendation.</summary>
    public static string Console(OptimizeReport r)
    {
        var sb = new StringBuilder();
        sb.Append($"optimize {r.Model} ({TaskText(r.Task)}) on {r.Data}\n");
        var rows = Rows(r);
        var measured = rows.Where((_, i) => r.Variants[i].Measured).ToList();
        var widths = Header.Select((h, c) => Math.Max(h.Length, measured.Select(row => row[c].Length).DefaultIfEmpty(0).Max())).ToArray();
        sb.Append(string.Join("  ", Header.Select((h, c) => h.PadRight(widths[c]))).TrimEnd()).Append('\n');
        for (int i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            if (r.Variants[i].Measured) sb.Append(string.Join("  ", row.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd()).Append('\n');
            else sb.Append(row[0].PadRight(widths[0])).Append("  ").Append(row[1]).Append('\n');
        }
        foreach (var line in Legend(r)) sb.Append(line).Append('\n');
        sb.Append("recommended: ").Append(Optimizer.RecommendationText(r, Optimizer.Recommend(r, null), null)).Append('\n');
        return sb.ToString();
    }

    /// <summary>How to read the table (the same lines in every format).</summary>
    public static IEnumerable<string> Legend(OptimizeReport r)
    {
        yield return $"quality: {r.Metric} on {r.Data} ({(r.HigherIsBetter ? "higher" : "lower")} is better); \u0394 vs fp32 in {(r.HigherIsBetter ? "points (hundredths)" : "its units")}";
        yield return $"latency: batch 1, {r.LatencyUnit}; speedup = fp32's p50 / the variant's; throughput: {(r.Task == OptimizeTask.Generate ? "requests" : "examples")} per second";
        if (r.Variants.FirstOrDefault(v => v.Measured)?.MemoryMethod is { } m) yield return $"peak memory: peak resident set, measured ({m})";
        yield return "size: bytes of the weight files (model.safetensors / model.onnx); Pareto *: no other variant is both better and faster (p50)";
        yield return "every figure is measured on this machine; none is estimated";
    }

    // ---- chart ----------------------------------------------------------------------------------------------------

    /// <summary>Quality against latency p50: every measured variant, the Pareto-optimal ones marked and joined.</summary>
    public static SvgChart ParetoChart(OptimizeReport r)
    {
        var points = r.Variants.Where(v => v.Measured && v.Quality.ContainsKey(r.Metric) && v.LatencyP50Ms > 0).ToList();
        var chart = new SvgChart
        {
            Title = "Quality vs latency (Pareto-optimal variants joined)",
            XLabel = "latency p50, batch 1 (ms)",
            YLabel = $"{r.Metric} ({(r.HigherIsBetter ? "higher" : "lower")} is better)",
            Width = 620, Height = 420,
            LogX = points.Count > 1 && points.Max(p => p.LatencyP50Ms) / points.Min(p => p.LatencyP50Ms) > ReportCharts.LogSpread,
        };
        var front = points.Where(p => p.ParetoOptimal).OrderBy(p => p.LatencyP50Ms).ToList();
        var rest = points.Where(p => !p.ParetoOptimal).ToList();
        if (front.Count > 1) chart.AddLine("Pareto front", front.Select(p => p.LatencyP50Ms).ToList(), front.Select(p => p.Quality[r.Metric]).ToList(), color: ReportCharts.BertColor);
        if (front.Count > 0)
            chart.AddScatter("Pareto-optimal", front.Select(p => p.LatencyP50Ms).ToList(), front.Select(p => p.Quality[r.Metric]).ToList(), front.Select(p => (string?)p.Name).ToList(), ReportCharts.BertColor);
        if (rest.Count > 0)
            chart.AddScatter("dominated", rest.Select(p => p.LatencyP50Ms).ToList(), rest.Select(p => p.Quality[r.Metric]).ToList(), rest.Select(p => (string?)p.Name).ToList(), ReportCharts.OtherColor);
        return chart;
    }

    // ---- files ----------------------------------------------------------------------------------------------------

    /// <summary>Writes report.md, report.html, report.json and the chart into <paramref name="dir"/>, each atomically (report.html last); returns their paths.</summary>
    public static IReadOnlyList<string> Write(OptimizeReport r, string dir)
    {
        try { Directory.CreateDirectory(dir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new GptBertException($"cannot create the report directory {Path.GetFullPath(dir)}: {e.Message.TrimEnd('.')}; check the path and permissions", e);
        }
        var written = new List<string>();
        void Put(string name, string text)
        {
            var path = Path.Combine(dir, name);
            AtomicFile.WriteAllText(path, text);
            written.Add(path);
        }
        string svg = ParetoChart(r).ToSvg();
        Put(ParetoFile, svg);
        Put(HtmlReport.MarkdownFile, Markdown(r));
        Put(HtmlReport.JsonFile, Json(r));
        Put(HtmlReport.HtmlFile, Html(r, svg));
        return written;
    }

    public static string Markdown(OptimizeReport r)
    {
        var sb = new StringBuilder();
        sb.Append($"# Optimize: {r.Model}\n\n");
        sb.Append($"Task: {TaskText(r.Task)}; test data `{r.Data}`; {ReportFormat.Date(r.Date)}.\n\n");
        sb.Append("**Recommended:** ").Append(Optimizer.RecommendationText(r, Optimizer.Recommend(r, null), null)).Append("\n\n");
        sb.Append("| ").Append(string.Join(" | ", Header.Append("notes"))).Append(" |\n");
        sb.Append("|").Append(string.Concat(Enumerable.Repeat("---|", Header.Length + 1))).Append('\n');
        var rows = Rows(r);
        for (int i = 0; i < rows.Count; i++)
        {
            var v = r.Variants[i];
            var cells = rows[i].Append(string.Join("; ", v.Notes)).Select(c => c.Replace("|", "\\|"));
            sb.Append("| ").Append(string.Join(" | ", cells)).Append(" |\n");
        }
        sb.Append('\n');
        foreach (var line in Legend(r)) sb.Append("- ").Append(line).Append('\n');
        sb.Append($"\n![Pareto chart]({ParetoFile})\n\n");
        sb.Append($"Command: `{r.Command}`  \nMachine: {r.Machine}  \nVersions: {r.Versions}\n");
        return sb.ToString();
    }

    public static string Html(OptimizeReport r, string svg)
    {
        static string H(string s) => WebUtility.HtmlEncode(s);
        var sb = new StringBuilder("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>");
        sb.Append($"<title>Optimize: {H(r.Model)}</title>");
        sb.Append("<style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;font-size:14px}" +
                  "th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}th{background:#f3f3f3}tr.skipped td{color:#777}" +
                  "tr.pareto td:first-child{font-weight:bold}.rec{background:#eef6ee;padding:0.6em 1em;border-left:4px solid #2e7d32}</style></head><body>\n");
        sb.Append($"<h1>Optimize: {H(r.Model)}</h1>\n<p>Task: {H(TaskText(r.Task))}; test data <code>{H(r.Data)}</code>; {H(ReportFormat.Date(r.Date))}.</p>\n");
        sb.Append($"<p class=\"rec\">Recommended: {H(Optimizer.RecommendationText(r, Optimizer.Recommend(r, null), null))}</p>\n");
        sb.Append("<table><thead><tr>").Append(string.Concat(Header.Append("notes").Select(h => $"<th>{H(h)}</th>"))).Append("</tr></thead><tbody>\n");
        var rows = Rows(r);
        for (int i = 0; i < rows.Count; i++)
        {
            var v = r.Variants[i];
            string cls = !v.Measured ? "skipped" : v.ParetoOptimal ? "pareto" : "";
            sb.Append($"<tr class=\"{cls}\">");
            if (v.Measured) sb.Append(string.Concat(rows[i].Select(c => $"<td>{H(c)}</td>")));
            else sb.Append($"<td>{H(v.Name)}</td><td colspan=\"{Header.Length - 1}\">{H(v.Reason ?? "")}</td>");
            sb.Append($"<td>{H(string.Join("; ", v.Notes))}</td></tr>\n");
        }
        sb.Append("</tbody></table>\n<ul>").Append(string.Concat(Legend(r).Select(l => $"<li>{H(l)}</li>"))).Append("</ul>\n");
        // The chart inline (no external file needed): the SVG without its XML declaration.
        string inline = svg.StartsWith("<?xml") ? svg[(svg.IndexOf("?>", StringComparison.Ordinal) + 2)..] : svg;
        sb.Append("<figure>").Append(inline.Trim()).Append("<figcaption>Quality against latency p50 at batch 1; Pareto-optimal variants joined.</figcaption></figure>\n");
        sb.Append($"<p><small>Command: <code>{H(r.Command)}</code><br/>Machine: {H(r.Machine)}<br/>Versions: {H(r.Versions)}</small></p>\n</body></html>\n");
        return sb.ToString();
    }

    /// <summary>
    /// The report as one JSON object: task, model, data, metric, higher_is_better, recommended, and per variant name, measured,
    /// reason, description, backend, quality {metric: value}, quality_delta, latency_p50_ms, latency_p95_ms, throughput_per_second,
    /// throughput_batch, speedup, size_bytes, files, peak_memory_mb, memory_method, pareto_optimal, notes, estimated.
    /// </summary>
    public static string Json(OptimizeReport r, bool indented = true)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = indented, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("task", r.Task.ToString().ToLowerInvariant());
            w.WriteString("model", r.Model);
            w.WriteString("data", r.Data);
            w.WriteString("metric", r.Metric);
            w.WriteBoolean("higher_is_better", r.HigherIsBetter);
            w.WriteString("latency", r.LatencyUnit);
            var best = Optimizer.Recommend(r, null);
            if (best is null) w.WriteNull("recommended"); else w.WriteString("recommended", best.Name);
            w.WriteString("recommendation", Optimizer.RecommendationText(r, best, null));
            w.WriteStartArray("variants");
            foreach (var v in r.Variants)
            {
                w.WriteStartObject();
                w.WriteString("name", v.Name);
                w.WriteBoolean("measured", v.Measured);
                if (v.Reason is null) w.WriteNull("reason"); else w.WriteString("reason", v.Reason);
                w.WriteString("description", v.Description);
                w.WriteString("backend", v.Backend);
                if (v.Directory is null) w.WriteNull("directory"); else w.WriteString("directory", v.Directory);
                w.WriteStartObject("quality");
                foreach (var (k, q) in v.Quality) Num(w, k, q);
                w.WriteEndObject();
                NumOrNull(w, "quality_delta", v.QualityDelta);
                NumOrNull(w, "latency_p50_ms", v.Measured ? v.LatencyP50Ms : null);
                NumOrNull(w, "latency_p95_ms", v.Measured ? v.LatencyP95Ms : null);
                NumOrNull(w, "throughput_per_second", v.Measured ? v.Throughput : null);
                if (v.Measured) w.WriteNumber("throughput_batch", v.ThroughputBatch); else w.WriteNull("throughput_batch");
                NumOrNull(w, "speedup", v.Speedup);
                if (v.Measured) w.WriteNumber("size_bytes", v.SizeBytes); else w.WriteNull("size_bytes");
                w.WriteStartArray("files");
                foreach (var f in v.Files) w.WriteStringValue(f);
                w.WriteEndArray();
                NumOrNull(w, "peak_memory_mb", v.Measured ? v.PeakMemoryMb : null);
                if (v.MemoryMethod is null) w.WriteNull("memory_method"); else w.WriteString("memory_method", v.MemoryMethod);
                w.WriteBoolean("pareto_optimal", v.ParetoOptimal);
                w.WriteStartArray("notes");
                foreach (var n in v.Notes) w.WriteStringValue(n);
                w.WriteEndArray();
                w.WriteStartArray("estimated");
                foreach (var n in v.Estimated) w.WriteStringValue(n);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteString("command", r.Command);
            w.WriteString("machine", r.Machine);
            w.WriteString("versions", r.Versions);
            w.WriteString("date", r.Date.ToString("yyyy-MM-ddTHH:mm:ssZ", Inv));
            w.WriteNumber("total_seconds", Math.Round(r.TotalSeconds, 1));
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    static void Num(Utf8JsonWriter w, string name, double v)
    {
        if (double.IsFinite(v)) w.WriteNumber(name, v); else w.WriteNull(name);
    }

    static void NumOrNull(Utf8JsonWriter w, string name, double? v)
    {
        if (v is double d) Num(w, name, d); else w.WriteNull(name);
    }
}
