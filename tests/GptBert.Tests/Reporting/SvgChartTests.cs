using System.Globalization;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using GptBert.Reporting;

namespace GptBert.Tests.Reporting;

public class SvgChartTests
{
    static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    static XDocument Parse(string svg)
    {
        var doc = XDocument.Parse(svg);
        Assert.Equal(Svg + "svg", doc.Root!.Name);
        return doc;
    }

    static string[] Texts(XDocument doc) => doc.Descendants(Svg + "text").Select(t => t.Value).ToArray();

    static void AssertSelfContained(string svg)
    {
        // The only URL is the SVG namespace itself: no external fonts, images, scripts or style sheets.
        Assert.Single(Regex.Matches(svg, "http"));
        Assert.Contains("xmlns=\"http://www.w3.org/2000/svg\"", svg);
        Assert.DoesNotContain("<script", svg);
        Assert.DoesNotContain("<image", svg);
        Assert.DoesNotContain("@import", svg);
        Assert.DoesNotContain("NaN", svg);
        Assert.DoesNotContain("Infinity", svg);
        Assert.DoesNotContain("∞", svg);
    }

    static SvgChart Curves()
    {
        var chart = new SvgChart { Title = "Training curves", XLabel = "step", YLabel = "loss" };
        var steps = Enumerable.Range(1, 200).Select(i => i * 10.0).ToArray();
        chart.AddLine("train loss", steps, steps.Select(s => 2 + 8 * Math.Exp(-s / 400)).ToArray());
        chart.AddLine("validation loss", [500, 1000, 1500, 2000], [3.5, 2.6, 2.3, 2.2], markers: true);
        return chart;
    }

    [Fact]
    public void LineChartIsWellFormedAndSelfContained()
    {
        var svg = Curves().ToSvg();
        var doc = Parse(svg);
        AssertSelfContained(svg);
        var texts = Texts(doc);
        Assert.Contains("train loss", texts);
        Assert.Contains("validation loss", texts);
        Assert.Contains("Training curves", texts);
        Assert.Contains("step", texts);
        Assert.Contains("loss", texts);
        // Nice x ticks every 200 (2000 / 7 targeted ticks = 286 → 200); steps 10…2000 start near 0, so the axis starts at 0.
        foreach (var tick in new[] { "0", "200", "1000", "1800", "2000" }) Assert.Contains(tick, texts);
        // Two series paths with their palette colors; 4 validation markers.
        Assert.Contains(doc.Descendants(Svg + "path"), p => (string?)p.Attribute("stroke") == SvgChart.Palette[0]);
        Assert.Contains(doc.Descendants(Svg + "path"), p => (string?)p.Attribute("stroke") == SvgChart.Palette[1]);
        Assert.True(doc.Descendants(Svg + "circle").Count(c => (string?)c.Attribute("fill") == SvgChart.Palette[1]) >= 4);
    }

    [Fact]
    public void DeterministicAndCultureInvariant()
    {
        var a = Curves().ToSvg();
        var saved = CultureInfo.CurrentCulture;
        try
        {
            CultureInfo.CurrentCulture = CultureInfo.GetCultureInfo("de-DE"); // decimal comma
            var b = Curves().ToSvg();
            Assert.Equal(a, b);
        }
        finally { CultureInfo.CurrentCulture = saved; }
        Assert.DoesNotContain("\r", a);
        // Every coordinate is a plain invariant number.
        foreach (var attr in Parse(a).Descendants().SelectMany(e => e.Attributes()).Where(x => x.Name.LocalName is "x" or "y" or "cx" or "cy" or "x1" or "y2"))
            Assert.Matches("^-?[0-9]+(\\.[0-9]+)?$", attr.Value);
    }

    [Fact]
    public void NaNInfinityAndEmptySeriesDoNotThrow()
    {
        var chart = new SvgChart { Title = "edge cases", LogY = true };
        chart.AddLine("gappy", [0, 1, 2, 3, 4, 5], [1, double.NaN, 3, double.PositiveInfinity, -2, 10], markers: true);
        chart.AddLine("empty", [], []);
        chart.AddLine("all nan", [double.NaN, 1], [1, double.NaN]);
        chart.AddScatter("huge", [1e300, 2], [1, double.NegativeInfinity]);
        chart.AddHorizontalLine("nan baseline", double.NaN);
        var svg = chart.ToSvg();
        var doc = Parse(svg);
        AssertSelfContained(svg);
        var texts = Texts(doc);
        foreach (var name in new[] { "gappy", "empty", "all nan", "huge", "nan baseline" }) Assert.Contains(name, texts);
        // The line is broken at the NaN and at ∞ (and at -2, which a log axis cannot show): 3 sub-paths.
        var gappy = doc.Descendants(Svg + "path").First(p => (string?)p.Attribute("stroke") == SvgChart.Palette[0]);
        Assert.Equal(3, gappy.Attribute("d")!.Value.Count(c => c == 'M'));
    }

    [Fact]
    public void EmptyChartSaysNoData()
    {
        var svg = new SvgChart().ToSvg();
        AssertSelfContained(svg);
        Assert.Contains("no data", Texts(Parse(svg)));

        var allNaN = new SvgChart { LogX = true, LogY = true };
        allNaN.AddLine("x", [double.NaN, -1], [0, double.NaN]);
        Assert.Contains("no data", Texts(Parse(allNaN.ToSvg())));
    }

    [Fact]
    public void SinglePointAndConstantSeries()
    {
        var one = new SvgChart().AddLine("one", [5], [2.5]);
        AssertSelfContained(one.ToSvg());
        Assert.Single(Parse(one.ToSvg()).Descendants(Svg + "circle")); // a lone point is still visible
        var flat = new SvgChart { LogY = true }.AddLine("flat", [0, 1, 2], [3, 3, 3]);
        AssertSelfContained(flat.ToSvg());
        var zero = new SvgChart().AddLine("zero", [0, 1, 2], [0, 0, 0]);
        AssertSelfContained(zero.ToSvg());
    }

    [Fact]
    public void ScatterWithLabelsAndEscaping()
    {
        var chart = new SvgChart { Title = "quality <vs> latency & size", XLabel = "latency (ms)", YLabel = "macro F1", LogX = true };
        chart.AddScatter("GPT-2", [12, 48, 180], [0.81, 0.86, 0.9], ["gpt2-tiny", "gpt2", "gpt2-medium"]);
        chart.AddScatter("BERT", [4, 15, 55], [0.84, 0.9, 0.92], ["minilm", null, "bert \"large\""]);
        chart.AddHorizontalLine("majority baseline", 0.52);
        chart.AddLine("ctrl\u0001char", [5, 6], [0.6, 0.7]);
        var svg = chart.ToSvg();
        var doc = Parse(svg);
        AssertSelfContained(svg);
        var texts = Texts(doc);
        foreach (var t in new[] { "GPT-2", "BERT", "majority baseline", "gpt2-tiny", "gpt2-medium", "minilm", "bert \"large\"", "quality <vs> latency & size" })
            Assert.Contains(t, texts);
        Assert.Contains("&lt;vs&gt;", svg);
        Assert.Equal(6, doc.Descendants(Svg + "circle").Count(c => (string?)c.Attribute("stroke") == "#ffffff")); // the plotted points
        // Log x ticks over 4…180 ms use 1-2-5 steps.
        foreach (var tick in new[] { "5", "10", "20", "50", "100" }) Assert.Contains(tick, texts);
    }

    [Fact]
    public void ManyPointsAreDecimated()
    {
        int n = 100_000;
        var xs = Enumerable.Range(0, n).Select(i => (double)i).ToArray();
        var ys = xs.Select(x => Math.Sin(x / 100) + 2).ToArray();
        var svg = new SvgChart().AddLine("long", xs, ys).ToSvg();
        AssertSelfContained(svg);
        Assert.True(svg.Length < 200_000, $"{svg.Length} characters");
    }

    /// <summary>The plot area: left and right from a full-width horizontal reference line (drawn from left to
    /// right unrounded), top from the axis path "M{left} {top}V{bottom}H{right}", bottom from the same path (snapped
    /// to the pixel grid, so within half a pixel).</summary>
    static (double Left, double Top, double Right, double Bottom) PlotArea(XDocument doc, string referenceColor)
    {
        var axis = doc.Root!.Elements(Svg + "path").Single(p => (string?)p.Attribute("stroke") == "#444444").Attribute("d")!.Value;
        var a = Regex.Match(axis, @"^M([0-9.]+) ([0-9.]+)V([0-9.]+)H([0-9.]+)$");
        Assert.True(a.Success, axis);
        var reference = doc.Root!.Elements(Svg + "path").Single(p => (string?)p.Attribute("stroke") == referenceColor).Attribute("d")!.Value;
        var r = Regex.Match(reference, @"^M([0-9.]+) ([0-9.]+)H([0-9.]+)$");
        Assert.True(r.Success, reference);
        double D(Group g) => double.Parse(g.Value, CultureInfo.InvariantCulture);
        Assert.Equal(D(a.Groups[4]), D(r.Groups[3]));     // both end at the plot's right edge
        Assert.InRange(D(a.Groups[1]) - D(r.Groups[1]), -0.5, 0.5);
        return (D(r.Groups[1]), D(a.Groups[2]), D(r.Groups[3]), D(a.Groups[3]));
    }

    static double Attr(XElement e, string name) => double.Parse(e.Attribute(name)!.Value, CultureInfo.InvariantCulture);

    [Fact]
    public void SavedFileIsWellFormedSvgWhosePointsAndTicksFollowTheAxisScale()
    {
        var chart = new SvgChart { Title = "Accuracy by epoch", XLabel = "epoch", YLabel = "accuracy", Width = 600, Height = 400 };
        chart.AddLine("dev accuracy", [0, 1, 2, 3, 4], [0.5, 0.6, 0.8, 0.7, 0.9], markers: true);
        chart.AddHorizontalLine("chance", 0.55, color: "#555555");
        var dir = TestUtil.TempDir("svg");
        var path = Path.Combine(dir, "sub", "chart.svg");
        chart.Save(path);

        // The file: UTF-8 without a byte-order mark, an XML declaration, and nothing else next to it (written atomically).
        var bytes = File.ReadAllBytes(path);
        Assert.Equal("<?xml", System.Text.Encoding.ASCII.GetString(bytes, 0, 5));
        Assert.Equal([path], Directory.GetFiles(Path.Combine(dir, "sub")));
        var doc = XDocument.Load(path); // throws unless well-formed
        Assert.Equal(Svg + "svg", doc.Root!.Name);
        Assert.Equal("600", (string?)doc.Root.Attribute("width"));
        Assert.Equal("400", (string?)doc.Root.Attribute("height"));
        Assert.Equal("0 0 600 400", (string?)doc.Root.Attribute("viewBox"));
        Assert.Equal("Accuracy by epoch", doc.Root.Element(Svg + "title")?.Value);
        var texts = Texts(doc);
        foreach (var label in new[] { "Accuracy by epoch", "epoch", "accuracy", "dev accuracy", "chance" }) Assert.Contains(label, texts);

        // The scale, worked out by hand: x from the data, 0…4 (a line chart gets no padding); y from the data and the
        // reference line, 0.5…0.9, padded by 5% of the span (0.02) on each side: 0.48…0.92.
        var (left, top, right, bottom) = PlotArea(doc, "#555555");
        Assert.True(right - left > 300 && bottom - top > 200, $"plot area {left} {top} {right} {bottom}");
        double X(double v) => left + (v - 0) / (4 - 0) * (right - left);
        double Y(double v) => bottom - (v - 0.48) / (0.92 - 0.48) * (bottom - top);
        const double tolerance = 0.75; // coordinates have 2 decimals; the bottom edge is known to ±0.5 px

        // The markers (children of the root; the legend's sample marker sits in the legend group) at the data points.
        var markers = doc.Root.Elements(Svg + "circle").Where(c => (string?)c.Attribute("fill") == SvgChart.Palette[0]).ToList();
        double[] xs = [0, 1, 2, 3, 4], ys = [0.5, 0.6, 0.8, 0.7, 0.9];
        Assert.Equal(5, markers.Count);
        for (int i = 0; i < 5; i++)
        {
            Assert.InRange(Attr(markers[i], "cx"), X(xs[i]) - tolerance, X(xs[i]) + tolerance);
            Assert.InRange(Attr(markers[i], "cy"), Y(ys[i]) - tolerance, Y(ys[i]) + tolerance);
        }
        // The line goes through the same points, in order, in one piece.
        var line = doc.Root.Elements(Svg + "path").Single(p => (string?)p.Attribute("stroke") == SvgChart.Palette[0]).Attribute("d")!.Value;
        var vertices = Regex.Matches(line, @"([ML])([-0-9.]+) ([-0-9.]+)").ToList();
        Assert.Equal("MLLLL", string.Concat(vertices.Select(m => m.Groups[1].Value)));
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(Attr(markers[i], "cx"), double.Parse(vertices[i].Groups[2].Value, CultureInfo.InvariantCulture));
            Assert.Equal(Attr(markers[i], "cy"), double.Parse(vertices[i].Groups[3].Value, CultureInfo.InvariantCulture));
        }
        // The reference line at 0.55.
        var chance = doc.Root.Elements(Svg + "path").Single(p => (string?)p.Attribute("stroke") == "#555555").Attribute("d")!.Value;
        double chanceY = double.Parse(Regex.Match(chance, @"^M[0-9.]+ ([0-9.]+)H").Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.InRange(chanceY, Y(0.55) - tolerance, Y(0.55) + tolerance);

        // Every tick label sits where its own value falls on that scale: x labels centred under the tick, y labels
        // right-aligned with the baseline 4 px below the tick. Tick lines are snapped to the pixel grid (±0.5 px).
        var tickGroups = doc.Root.Elements(Svg + "g").Where(g => (string?)g.Attribute("font-size") == "12" && g.Attribute("text-anchor") is not null).ToList();
        var xTicks = tickGroups.Single(g => (string?)g.Attribute("text-anchor") == "middle").Elements(Svg + "text").ToList();
        var yTicks = tickGroups.Single(g => (string?)g.Attribute("text-anchor") == "end").Elements(Svg + "text").ToList();
        Assert.True(xTicks.Count >= 3 && yTicks.Count >= 3, $"{xTicks.Count} x ticks, {yTicks.Count} y ticks");
        foreach (var t in xTicks)
        {
            double v = double.Parse(t.Value, CultureInfo.InvariantCulture);
            Assert.InRange(v, 0, 4);
            Assert.InRange(Attr(t, "x"), X(v) - 1, X(v) + 1);
        }
        foreach (var t in yTicks)
        {
            double v = double.Parse(t.Value, CultureInfo.InvariantCulture);
            Assert.InRange(v, 0.48, 0.92);
            Assert.InRange(Attr(t, "y") - 4, Y(v) - 1, Y(v) + 1);
        }
        Assert.Contains("0.5", yTicks.Select(t => t.Value));
        Assert.Contains("0.9", yTicks.Select(t => t.Value));
    }

    [Fact]
    public void LogAxisGivesEveryDecadeTheSameHeight()
    {
        var chart = new SvgChart { LogY = true };
        chart.AddLine("loss", [0, 1, 2, 3], [1000, 100, 10, 1], markers: true);
        chart.AddHorizontalLine("floor", 3.1622776601683795, color: "#555555"); // 10^0.5
        var doc = Parse(chart.ToSvg());
        var (left, top, right, bottom) = PlotArea(doc, "#555555");
        // log10 of the data: 0…3, padded by 5% of 3 = 0.15: -0.15…3.15.
        double Y(double v) => bottom - (Math.Log10(v) + 0.15) / 3.3 * (bottom - top);
        double X(double v) => left + v / 3 * (right - left);
        var markers = doc.Root!.Elements(Svg + "circle").Where(c => (string?)c.Attribute("fill") == SvgChart.Palette[0]).ToList();
        Assert.Equal(4, markers.Count);
        double[] ys = [1000, 100, 10, 1];
        for (int i = 0; i < 4; i++)
        {
            Assert.InRange(Attr(markers[i], "cx"), X(i) - 0.75, X(i) + 0.75);
            Assert.InRange(Attr(markers[i], "cy"), Y(ys[i]) - 0.75, Y(ys[i]) + 0.75);
        }
        // Each decade takes the same height (to the 0.01 px of the coordinates), 1/3.3 of the plot's (whose bottom
        // edge is known to ±0.5 px).
        double decade = Attr(markers[1], "cy") - Attr(markers[0], "cy");
        for (int i = 2; i < 4; i++)
            Assert.InRange(Attr(markers[i], "cy") - Attr(markers[i - 1], "cy"), decade - 0.02, decade + 0.02);
        Assert.InRange(decade, (bottom - 0.5 - top) / 3.3 - 0.02, (bottom + 0.5 - top) / 3.3 + 0.02);
    }

    [Fact]
    public void LinearTicksAreNice()
    {
        var t = AxisTicks.Linear(0, 1000, 5);
        Assert.Equal([0.0, 200, 400, 600, 800, 1000], t.Values);
        Assert.Equal(["0", "200", "400", "600", "800", "1000"], t.Labels);

        t = AxisTicks.Linear(2.13, 7.9, 6);                 // raw step 0.96 → 1
        Assert.Equal(["3", "4", "5", "6", "7"], t.Labels);

        t = AxisTicks.Linear(-0.05, 1.05, 5);               // raw step 0.22 → 0.2
        Assert.Equal(["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"], t.Labels);

        t = AxisTicks.Linear(0, 25000, 5);                  // large numbers get a k suffix
        Assert.Equal(["0", "5k", "10k", "15k", "20k", "25k"], t.Labels);

        t = AxisTicks.Linear(0, 3e-4, 6);                   // learning rates: step 5e-5
        Assert.Equal(["0", "5e-5", "1e-4", "1.5e-4", "2e-4", "2.5e-4", "3e-4"], t.Labels);

        Assert.Empty(AxisTicks.Linear(1, 1, 5).Values);
        Assert.Empty(AxisTicks.Linear(double.NaN, 1, 5).Values);
    }

    [Fact]
    public void LogTicks()
    {
        var t = AxisTicks.Log(-4, 0, 6);                    // 1e-4 … 1
        Assert.Equal(["1e-4", "0.001", "0.01", "0.1", "1"], t.Labels);
        Assert.NotEmpty(t.Minor);

        t = AxisTicks.Log(-10, 10, 5);                      // 21 decades: every 5th power
        Assert.Equal(["1e-10", "1e-5", "1", "1e5", "1e10"], t.Labels);

        t = AxisTicks.Log(Math.Log10(4), Math.Log10(200), 6);
        Assert.Equal(["5", "10", "20", "50", "100", "200"], t.Labels);
    }
}
