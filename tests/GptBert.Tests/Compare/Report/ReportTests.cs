using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml;
using System.Xml.Linq;
using GptBert.Compare;
using GptBert.Compare.Report;

namespace GptBert.Tests.Compare.Report;

public class ReportTests
{
    static readonly XNamespace Xhtml = "http://www.w3.org/1999/xhtml";
    static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    public static TheoryData<string> Fixtures => new() { "classify", "generate" };

    static ComparisonReport Fixture(string name) => name == "classify" ? ReportFixtures.Classify() : ReportFixtures.Generate();

    static XDocument ParseHtml(string html)
    {
        Assert.StartsWith("<!DOCTYPE html>\n", html, StringComparison.Ordinal);
        var settings = new XmlReaderSettings { DtdProcessing = DtdProcessing.Parse, XmlResolver = null };
        using var reader = XmlReader.Create(new StringReader(html), settings);
        var doc = XDocument.Load(reader);
        Assert.Equal(Xhtml + "html", doc.Root!.Name);
        return doc;
    }

    static T WithCulture<T>(string culture, Func<T> f)
    {
        var (c, ui) = (CultureInfo.CurrentCulture, CultureInfo.CurrentUICulture);
        try
        {
            CultureInfo.CurrentCulture = CultureInfo.CurrentUICulture = CultureInfo.GetCultureInfo(culture);
            return f();
        }
        finally { (CultureInfo.CurrentCulture, CultureInfo.CurrentUICulture) = (c, ui); }
    }

    // ------------------------------------------------------------------ console

    [Fact]
    public void Console_starts_with_the_verdict_then_reasons_then_an_aligned_table()
    {
        var text = ConsoleSummary.Render(ReportFixtures.Classify());
        var lines = text.Split('\n');
        Assert.Equal("Verdict: BERT", lines[0]);
        Assert.StartsWith("  - BERT is 11.0 points more accurate", lines[1]);
        Assert.StartsWith("  - BERT is 3.8x faster", lines[2]);
        Assert.Contains("Evidence (classify)", text);
        Assert.DoesNotContain("\r", text);

        // Every row of the table has the same width up to the last column: aligned.
        int header = Array.FindIndex(lines, l => l.Contains(ReportFixtures.NastyName) && l.Contains("minilm"));
        var tableLines = lines.Skip(header).TakeWhile(l => l.StartsWith("  ") && !l.StartsWith("  ~")).ToList();
        Assert.True(tableLines.Count >= 10);
        Assert.All(tableLines, l => Assert.Equal(tableLines[0].Length, l.Length));
        Assert.EndsWith("minilm", tableLines[0]);

        Assert.Contains("0.801 ± 0.011 (n=3)", text);
        Assert.Contains("0.910 ± 0.005 (n=3)", text);
        Assert.Contains("124M", text);
        Assert.Contains("22.7M", text);
        Assert.Contains("86.9 MiB", text);
        Assert.Contains("12.3 ms", text);
        Assert.Contains("~3.21 ms", text);       // estimated: latency of minilm
        Assert.Contains("~613 MiB", text);       // estimated: peak memory of the GPT
        Assert.Contains("~249M", text);          // estimated: FLOPs/token
        Assert.Contains("412 ex/s (batch 32)", text);
        Assert.Contains("1.87k ex/s (batch 8)", text);
        Assert.Contains("9m11s ± 10.6 s", text);
        Assert.Contains(ReportFormat.EstimatedFootnote, text);
        Assert.Contains("train 1,200, validation 150, test 150", text);
        Assert.Contains("3 labels: positive 620 (51.7%), negative 577 (48.1%), <unk>&amp 3 (0.2%)", text);
        Assert.Contains("majority baseline accuracy 0.517", text);
        Assert.Contains("Latin 98.0%, Han 2.0%", text);
        Assert.Contains("300 steps per candidate, 3 seeds", text);
        Assert.Contains("latency <= 50.0 ms, memory <= 1.00 GiB, device cpu, 16 cores", text);
        Assert.EndsWith("comparison overhead: 1.8% of 9m12s\n", text);
    }

    [Fact]
    public void Console_shows_unsupported_candidates_with_their_reason()
    {
        var text = ConsoleSummary.Render(ReportFixtures.Generate());
        Assert.StartsWith("Verdict: GPT\n", text);
        Assert.Contains("not supported", text);
        Assert.Contains("bert-base: not supported for generate: BERT has no causal language-model head, so it cannot generate text", text);
        Assert.Contains("~109M", text);     // estimated parameters of the unsupported candidate still show
        Assert.Contains("1.234 ± 0.006 (n=3)", text);
        Assert.Contains("1.48 s", text);
        Assert.Contains("1h02m", text);
        Assert.DoesNotContain("NaN", text);
        Assert.DoesNotContain("∞", text);
        Assert.DoesNotContain("Infinity", text);
        Assert.Contains("comparison overhead: 0.4% of 3h07m", text);
    }

    [Theory]
    [InlineData("gpt", "Verdict: GPT")]
    [InlineData("BERT", "Verdict: BERT")]
    [InlineData("either", "Verdict: either is fine")]
    [InlineData("neither", "Verdict: neither fits the budget")]
    public void Verdict_line_names_the_outcome(string choice, string line)
    {
        Assert.StartsWith(line + "\n", ConsoleSummary.Render(ReportFixtures.Classify(choice)));
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Console_output_is_the_same_under_a_German_culture(string fixture)
    {
        var r = Fixture(fixture);
        var invariant = WithCulture("", () => ConsoleSummary.Render(r));
        var german = WithCulture("de-DE", () => ConsoleSummary.Render(r));
        Assert.Equal(invariant, german);
        var germanHtml = WithCulture("de-DE", () => HtmlReport.Render(r));
        Assert.Equal(WithCulture("", () => HtmlReport.Render(r)), germanHtml);
        Assert.Equal(WithCulture("", () => ReportJson.Serialize(r)), WithCulture("de-DE", () => ReportJson.Serialize(r)));
        Assert.DoesNotMatch(@"\d,\d{1,2}\b(?!\d)", Regex.Replace(german, @"\d{1,3}(,\d{3})+", "")); // no decimal commas
    }

    [Fact]
    public void Formatting_is_stable_and_invariant()
    {
        Assert.Equal("22.7M", ReportFormat.Count(22_713_216));
        Assert.Equal("124M", ReportFormat.Count(124_439_808));
        Assert.Equal("1.00k", ReportFormat.Count(999.7 + 0.5));
        Assert.Equal("950", ReportFormat.Count(950));
        Assert.Equal("86.9 MiB", ReportFormat.Bytes(91_118_592));
        Assert.Equal("512 B", ReportFormat.Bytes(512));
        Assert.Equal("1.00 GiB", ReportFormat.Mebibytes(1024));
        Assert.Equal("12.3 ms", ReportFormat.Milliseconds(12.34));
        Assert.Equal("0.853 ms", ReportFormat.Milliseconds(0.8531));
        Assert.Equal("10.0 ms", ReportFormat.Milliseconds(9.9996));
        Assert.Equal("1.23 s", ReportFormat.Milliseconds(1234));
        Assert.Equal("9m12s", ReportFormat.Duration(552));
        Assert.Equal("45.2 s", ReportFormat.Duration(45.2));
        Assert.Equal("1h05m", ReportFormat.Duration(3900));
        Assert.Equal("1.8%", ReportFormat.Percent(0.018));
        Assert.Equal("0.812 ± 0.010 (n=3)", ReportFormat.Quality(new Measured(0.812, 0.0101, [0.8, 0.812, 0.822])));
        Assert.Equal("35.2 ± 0.4 (n=2)", ReportFormat.Quality(new Measured(35.21, 0.41, [35, 35.4])));
        Assert.Equal("0.812 (n=1)", ReportFormat.Quality(Measured.Single(0.812)));
        Assert.Equal("n/a", ReportFormat.Quality(Measured.Of([])));
        Assert.Equal("n/a", ReportFormat.Milliseconds(double.NaN));
        Assert.Equal("0", ReportFormat.Sig3(-1e-12));
    }

    [Fact]
    public void Estimated_figures_are_recognised_by_property_name_snake_case_or_alias()
    {
        var c = new CandidateResult
        {
            Name = "x", Family = "gpt", Source = "s", Architecture = "a",
            Estimated = new HashSet<string> { nameof(CandidateResult.SizeOnDiskBytes), "peak_memory_mb", "latency", "accuracy" },
        };
        Assert.True(ReportFormat.IsEstimated(c, ReportFormat.Size));
        Assert.True(ReportFormat.IsEstimated(c, ReportFormat.Memory));
        Assert.True(ReportFormat.IsEstimated(c, ReportFormat.LatencyP50));
        Assert.True(ReportFormat.IsEstimated(c, ReportFormat.LatencyP95));
        Assert.True(ReportFormat.IsEstimated(c, "quality:accuracy"));
        Assert.False(ReportFormat.IsEstimated(c, "quality:macro_f1"));
        Assert.False(ReportFormat.IsEstimated(c, ReportFormat.Parameters));
        Assert.False(ReportFormat.IsEstimated(c, ReportFormat.ThroughputFigure));
    }

    // ------------------------------------------------------------------ HTML

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Html_is_well_formed_and_self_contained(string fixture)
    {
        var html = HtmlReport.Render(Fixture(fixture));
        var doc = ParseHtml(html);
        Assert.NotNull(doc.Root!.Element(Xhtml + "head")!.Element(Xhtml + "style"));
        Assert.Contains(doc.Descendants(Xhtml + "meta"), m => (string?)m.Attribute("charset") == "utf-8");
        Assert.NotEmpty(doc.Descendants(Svg + "svg"));

        // Offline: the only URLs are the XHTML and SVG namespaces.
        foreach (Match m in Regex.Matches(html, @"https?://[^""'\s<>]*"))
            Assert.Contains(m.Value, new[] { "http://www.w3.org/1999/xhtml", "http://www.w3.org/2000/svg" });
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<link", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<img", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<iframe", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("@import", html);
        Assert.DoesNotContain("url(", html);
        Assert.DoesNotContain("<?xml", html);
        Assert.DoesNotContain("NaN", html);
        Assert.DoesNotContain("Infinity", html);

        // Read by an HTML parser too: no "<div/>"-style non-void elements, and CSS the two parsers read alike.
        var selfClosed = Regex.Matches(html, @"<([a-zA-Z][a-zA-Z0-9]*)\b[^<>]*/>").Select(m => m.Groups[1].Value).Distinct().ToList();
        string[] htmlNonVoid = ["div", "span", "p", "td", "th", "tr", "table", "tbody", "thead", "ul", "li", "section", "main",
            "header", "footer", "figure", "figcaption", "code", "pre", "h1", "h2", "title", "style", "body", "head", "html", "a", "b"];
        Assert.Empty(selfClosed.Intersect(htmlNonVoid));
        var css = doc.Descendants(Xhtml + "style").Single().Value;
        Assert.DoesNotContain('<', css);
        Assert.DoesNotContain('>', css);
        Assert.DoesNotContain('&', css);
    }

    static IEnumerable<string> NumberTokens(string text) =>
        Regex.Matches(text, @"\d+(?:[.,]\d+)*").Select(m => m.Value).Distinct();

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Html_contains_every_number_and_figure_the_console_prints(string fixture)
    {
        var r = Fixture(fixture);
        var console = ConsoleSummary.Render(r);
        var html = HtmlReport.Render(r);
        var tokens = NumberTokens(console).ToList();
        Assert.True(tokens.Count > 30);
        Assert.All(tokens, t => Assert.Contains(t, html));

        // Stronger: every table cell and text line, as the console shows it, is in the page (escaped).
        var text = string.Concat(ParseHtml(html).Descendants(Xhtml + "body").Single().DescendantNodes().OfType<XText>()
            .Where(t => t.Parent?.Name.Namespace == Xhtml).Select(t => t.Value + "\u0001"));
        var table = EvidenceTable.Build(r);
        foreach (var row in table.Rows)
            foreach (var cell in row.Cells) Assert.Contains(cell.Text, text);
        foreach (var line in EvidenceTable.ProfileLines(r).Concat(EvidenceTable.BudgetLines(r)))
            Assert.Contains(line.Text, text);
        foreach (var note in table.Footnotes) Assert.Contains(note, text);
        Assert.Contains(EvidenceTable.OverheadLine(r), text);
        foreach (var reason in r.Verdict.Reasons) Assert.Contains(reason, text);
        Assert.Contains(r.Command, text);
        Assert.Contains(r.Versions, text);
        Assert.Contains(r.Machine, text);
        Assert.Contains("2025-03-14", text);

        // The Markdown report carries the same numbers.
        var md = MarkdownReport.Render(r);
        Assert.All(tokens, t => Assert.Contains(t, md));
    }

    [Fact]
    public void Html_escapes_user_strings()
    {
        var r = ReportFixtures.Classify() with
        {
            Verdict = new Verdict("bert", ["<b>bold</b> & <script>alert(1)</script>"]),
        };
        var html = HtmlReport.Render(r);
        ParseHtml(html);
        Assert.DoesNotContain("<tiny>", html);
        Assert.Contains("gpt2 &lt;tiny&gt; &amp; co", html);
        Assert.Contains("&lt;unk&gt;&amp;amp", html);
        Assert.Contains("/tmp/a&lt;b&gt;&amp;c/train.jsonl", html);
        Assert.DoesNotContain("<script", html);
        Assert.DoesNotContain("<b>bold", html);
        Assert.Contains("&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;", html);

        var md = MarkdownReport.Render(r);
        Assert.DoesNotContain("<tiny>", md);
        Assert.DoesNotContain("<script", md);
        Assert.Contains("gpt2 &lt;tiny&gt; &amp; co", md);
    }

    [Theory]
    [InlineData("gpt", "verdict-gpt")]
    [InlineData("bert", "verdict-bert")]
    [InlineData("either", "verdict-either")]
    [InlineData("neither", "verdict-neither")]
    public void Html_banner_is_coloured_by_outcome(string choice, string cssClass)
    {
        var doc = ParseHtml(HtmlReport.Render(ReportFixtures.Classify(choice)));
        var banner = doc.Descendants(Xhtml + "section").First(s => ((string?)s.Attribute("class") ?? "").Contains("verdict"));
        Assert.Contains(cssClass, (string)banner.Attribute("class")!);
        Assert.Equal(ReportFormat.VerdictText(new Verdict(choice, [])),
            banner.Descendants(Xhtml + "div").First(d => (string?)d.Attribute("class") == "verdict-choice").Value);
    }

    [Fact]
    public void Html_charts_plot_quality_against_latency_and_size_and_curves_per_seed()
    {
        var doc = ParseHtml(HtmlReport.Render(ReportFixtures.Classify()));
        var svgs = doc.Descendants(Svg + "svg").ToList();
        var titles = svgs.Select(s => s.Element(Svg + "title")?.Value).ToList();
        Assert.Equal(["Quality vs latency", "Quality vs size", "Training loss", "Validation loss"], titles);
        // Training loss: 2 candidates × 3 seeds, in the two family colours.
        var curves = svgs[2].Descendants(Svg + "path").Where(p => ((string?)p.Attribute("d") ?? "").Count(ch => ch == 'L') > 10).ToList();
        Assert.Equal(6, curves.Count);
        Assert.Equal(6, curves.Count(p => (string?)p.Attribute("stroke") is ReportCharts.GptColor or ReportCharts.BertColor));
        var texts = svgs[0].Descendants(Svg + "text").Select(t => t.Value).ToList();
        Assert.Contains("minilm (estimated)", texts); // its latency is an estimate
        Assert.Contains(ReportFixtures.NastyName, texts);
    }

    // ------------------------------------------------------------------ JSON and files

    [Fact]
    public void Json_has_the_verdict_reasons_and_candidates_at_top_level()
    {
        var json = ReportJson.Serialize(ReportFixtures.Classify());
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        var keys = root.EnumerateObject().Select(p => p.Name).ToList();
        Assert.Equal("verdict", keys[0]);
        Assert.Equal("bert", root.GetProperty("verdict").GetString());
        Assert.Equal(2, root.GetProperty("reasons").GetArrayLength());
        Assert.Equal("classify", root.GetProperty("task").GetString());
        var cands = root.GetProperty("candidates");
        Assert.Equal(2, cands.GetArrayLength());
        var gpt = cands[0];
        Assert.Equal(ReportFixtures.NastyName, gpt.GetProperty("name").GetString());
        Assert.Equal("gpt", gpt.GetProperty("family").GetString());
        Assert.Equal(12.34, gpt.GetProperty("latency_p50_ms").GetDouble());
        Assert.Equal(124_439_808, gpt.GetProperty("parameters").GetInt64());
        Assert.Equal(497_774_208, gpt.GetProperty("size_on_disk_bytes").GetInt64());
        Assert.Equal(3, gpt.GetProperty("quality").GetProperty("accuracy").GetProperty("values").GetArrayLength());
        Assert.Equal(3, gpt.GetProperty("quality").GetProperty("macro_f1").GetProperty("n").GetInt32());
        Assert.Equal(["FlopsPerToken", "peak_memory_mb"], gpt.GetProperty("estimated").EnumerateArray().Select(e => e.GetString()!).ToArray());
        Assert.Equal(3, gpt.GetProperty("curves").GetArrayLength());
        Assert.Equal(1200, root.GetProperty("profile").GetProperty("train_examples").GetInt32());
        Assert.Equal(50, root.GetProperty("requirements").GetProperty("latency_ms").GetDouble());
        Assert.Equal("2025-03-14T09:26:00Z", root.GetProperty("date").GetString());
        Assert.Equal(0.018, root.GetProperty("overhead_fraction").GetDouble());

        var compact = ReportJson.Serialize(ReportFixtures.Classify(), indented: false, includeCurves: false);
        Assert.DoesNotContain('\n', compact);
        using var c = JsonDocument.Parse(compact);
        Assert.Equal(0, c.RootElement.GetProperty("candidates")[0].GetProperty("curves").GetArrayLength());
    }

    [Theory]
    [InlineData("GPT", "gpt")]
    [InlineData(" Either ", "either")]
    [InlineData("neither", "neither")]
    public void Json_verdict_is_the_lower_case_choice(string choice, string expected)
    {
        using var doc = JsonDocument.Parse(ReportJson.Serialize(ReportFixtures.Classify(choice)));
        Assert.Equal(expected, doc.RootElement.GetProperty("verdict").GetString());
    }

    [Fact]
    public void Json_writes_non_finite_numbers_as_null_and_enums_as_strings()
    {
        var json = ReportJson.Serialize(ReportFixtures.Generate());
        Assert.DoesNotContain("NaN", json);
        Assert.DoesNotContain("Infinity", json);
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        Assert.Equal("gpt", root.GetProperty("verdict").GetString());
        Assert.Equal("generate", root.GetProperty("task").GetString());
        var ppl = root.GetProperty("candidates")[0].GetProperty("quality").GetProperty("perplexity");
        Assert.Equal(JsonValueKind.Null, ppl.GetProperty("mean").ValueKind);
        Assert.Equal(JsonValueKind.Null, ppl.GetProperty("values")[2].ValueKind);
        Assert.Equal(35.21, ppl.GetProperty("values")[0].GetDouble());
        var bert = root.GetProperty("candidates")[1];
        Assert.False(bert.GetProperty("supported").GetBoolean());
        Assert.Contains("cannot generate", bert.GetProperty("not_supported_reason").GetString());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("requirements").GetProperty("latency_ms").ValueKind);
    }

    [Fact]
    public void Write_puts_the_page_markdown_json_and_charts_in_the_directory()
    {
        var dir = Path.Combine(TestUtil.TempDir("report"), "out");
        try
        {
            var r = ReportFixtures.Classify();
            var written = HtmlReport.Write(r, dir);
            string[] expected = ["report.html", "report.md", "report.json", ReportCharts.QualityLatencyFile,
                ReportCharts.QualitySizeFile, ReportCharts.TrainingCurvesFile, ReportCharts.ValidationCurvesFile];
            Assert.Equal(expected.Order(), written.Select(Path.GetFileName).Order()!);
            foreach (var f in expected) Assert.True(new FileInfo(Path.Combine(dir, f)).Length > 200, f);
            Assert.Empty(Directory.GetFiles(dir, "*.tmp"));

            Assert.Equal(HtmlReport.Render(r), File.ReadAllText(Path.Combine(dir, "report.html")));
            using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "report.json")));
            Assert.Equal("bert", json.RootElement.GetProperty("verdict").GetString());
            var md = File.ReadAllText(Path.Combine(dir, "report.md"));
            foreach (Match m in Regex.Matches(md, @"!\[[^\]]*\]\(([^)]+)\)"))
                Assert.True(File.Exists(Path.Combine(dir, m.Groups[1].Value)), m.Groups[1].Value);
            Assert.Equal(4, Regex.Matches(md, @"!\[").Count);
            Assert.Contains("| figure | gpt2 &lt;tiny&gt; &amp; co | minilm |", md);
            Assert.Contains("| accuracy | 0.801 ± 0.011 (n=3) | **0.910 ± 0.005 (n=3)** |", md);
            XDocument.Parse(File.ReadAllText(Path.Combine(dir, ReportCharts.QualityLatencyFile)));
        }
        finally { try { Directory.Delete(Path.GetDirectoryName(dir)!, true); } catch (IOException) { } }
    }

    [Fact]
    public void A_report_without_candidates_or_curves_still_renders()
    {
        var r = ReportFixtures.Classify() with { Candidates = [], Verdict = new Verdict("neither", []) };
        var text = ConsoleSummary.Render(r);
        Assert.StartsWith("Verdict: neither fits the budget\n", text);
        Assert.Contains("no candidates", text);
        ParseHtml(HtmlReport.Render(r));
        Assert.Empty(ReportCharts.Build(r));
        using var _ = JsonDocument.Parse(ReportJson.Serialize(r));
        Assert.Contains("No candidates.", MarkdownReport.Render(r));
    }
}
