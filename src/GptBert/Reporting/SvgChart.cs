using System.Globalization;
using System.Text;
using System.Xml;
using System.Xml.Linq;

namespace GptBert.Reporting;

/// <summary>How a <see cref="ChartSeries"/> is drawn.</summary>
public enum ChartSeriesKind
{
    /// <summary>Points joined in order by a line (optionally with markers); NaN/∞ points break the line.</summary>
    Line,
    /// <summary>Unjoined markers, optionally each with a text label.</summary>
    Scatter,
    /// <summary>A dashed horizontal reference line across the plot at Y[0] (e.g. a majority baseline).</summary>
    HorizontalLine,
}

/// <summary>One data series of an <see cref="SvgChart"/>; <see cref="Color"/> is an SVG color like "#1f77b4".</summary>
public sealed record ChartSeries(
    string Name, ChartSeriesKind Kind, IReadOnlyList<double> X, IReadOnlyList<double> Y,
    IReadOnlyList<string>? PointLabels, bool Markers, bool Dashed, string Color);

/// <summary>
/// Line and scatter charts written as self-contained SVG: no scripts, no external fonts, images or
/// style sheets (text uses the viewer's sans-serif font), and the same bytes for the same input on every
/// machine. Axes get "nice" ticks (1-2-5 steps, or powers of ten on a log axis), a legend is placed in
/// the emptiest corner of the plot (or beside it when every corner is busy), and points that are NaN,
/// ±∞, beyond ±1e100, or not positive on a log axis are skipped (a line is broken there) instead of
/// failing. An empty chart renders with a "no data" note.
/// <para>
/// Hand-written rather than ScottPlot: ScottPlot 5 renders headless here, but it pulls in SkiaSharp and
/// HarfBuzz native libraries (about 150 MB for all runtimes), measures text with whatever fonts the
/// machine has installed (a fresh Debian 12 container has none, and its SVG places every glyph at
/// measured offsets), so the output differs between machines; charts of this kind need none of that.
/// </para>
/// </summary>
public sealed class SvgChart
{
    /// <summary>matplotlib's default colors (Tableau 10).</summary>
    public static readonly IReadOnlyList<string> Palette =
        ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

    const string FontFamily = "DejaVu Sans, Liberation Sans, Helvetica, Arial, sans-serif";
    const double TickFont = 12, LabelFont = 13, TitleFont = 16, LegendFont = 12, PointLabelFont = 11;
    const double MaxMagnitude = 1e100;

    static readonly XNamespace Ns = "http://www.w3.org/2000/svg";
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    readonly List<ChartSeries> _series = [];

    public string Title { get; set; } = "";
    public string XLabel { get; set; } = "";
    public string YLabel { get; set; } = "";
    /// <summary>Log10 scale on the x axis (e.g. latency spanning several orders of magnitude).</summary>
    public bool LogX { get; set; }
    /// <summary>Log10 scale on the y axis (e.g. loss).</summary>
    public bool LogY { get; set; }

    int _width = 800, _height = 480;
    /// <summary>Width in pixels (at least 200).</summary>
    public int Width
    {
        get => _width;
        set => _width = value >= 200 ? value : throw new ArgumentOutOfRangeException(nameof(Width), value, "at least 200");
    }
    /// <summary>Height in pixels (at least 150).</summary>
    public int Height
    {
        get => _height;
        set => _height = value >= 150 ? value : throw new ArgumentOutOfRangeException(nameof(Height), value, "at least 150");
    }

    public IReadOnlyList<ChartSeries> Series => _series;

    string NextColor() => Palette[_series.Count(s => s.Kind != ChartSeriesKind.HorizontalLine) % Palette.Count];

    /// <summary>Adds a line through (xs[i], ys[i]) in the given order.</summary>
    public SvgChart AddLine(string name, IReadOnlyList<double> xs, IReadOnlyList<double> ys, bool markers = false, bool dashed = false, string? color = null)
    {
        CheckLengths(xs, ys);
        _series.Add(new ChartSeries(name ?? "", ChartSeriesKind.Line, xs.ToArray(), ys.ToArray(), null, markers, dashed, color ?? NextColor()));
        return this;
    }

    /// <summary>Adds points (xs[i], ys[i]), each labelled with pointLabels[i] when given (null or "" for none).</summary>
    public SvgChart AddScatter(string name, IReadOnlyList<double> xs, IReadOnlyList<double> ys, IReadOnlyList<string?>? pointLabels = null, string? color = null)
    {
        CheckLengths(xs, ys);
        if (pointLabels is not null && pointLabels.Count != xs.Count)
            throw new ArgumentException($"{pointLabels.Count} point labels for {xs.Count} points", nameof(pointLabels));
        _series.Add(new ChartSeries(name ?? "", ChartSeriesKind.Scatter, xs.ToArray(), ys.ToArray(),
            pointLabels?.Select(l => l ?? "").ToArray(), true, false, color ?? NextColor()));
        return this;
    }

    /// <summary>Adds a dashed horizontal reference line at <paramref name="y"/>, listed in the legend.</summary>
    public SvgChart AddHorizontalLine(string name, double y, string color = "#555555")
    {
        _series.Add(new ChartSeries(name ?? "", ChartSeriesKind.HorizontalLine, [], [y], null, false, true, color));
        return this;
    }

    static void CheckLengths(IReadOnlyList<double> xs, IReadOnlyList<double> ys)
    {
        ArgumentNullException.ThrowIfNull(xs);
        ArgumentNullException.ThrowIfNull(ys);
        if (xs.Count != ys.Count) throw new ArgumentException($"{xs.Count} x values but {ys.Count} y values");
    }

    /// <summary>Writes the SVG atomically (a crash never leaves half a file).</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, ToSvg());

    /// <summary>The chart as an SVG document (UTF-8 XML with declaration, "\n" line ends).</summary>
    public string ToSvg()
    {
        var first = Render(legendOutside: false, out int legendCost);
        var svg = legendCost > 0 && Width >= 480 ? Render(legendOutside: true, out _) : first;
        var settings = new XmlWriterSettings
        {
            Encoding = new UTF8Encoding(false),
            Indent = true,
            IndentChars = "  ",
            NewLineChars = "\n",
            NewLineHandling = NewLineHandling.Replace,
        };
        using var ms = new MemoryStream();
        using (var xw = XmlWriter.Create(ms, settings))
            new XDocument(new XDeclaration("1.0", "utf-8", null), svg).Save(xw);
        return Encoding.UTF8.GetString(ms.ToArray()) + "\n";
    }

    // ---------------------------------------------------------------- rendering

    sealed class Axis
    {
        public bool Log;
        public double Lo, Hi;           // visible range, in transformed units (log10 when Log)
        public AxisTicks Ticks = new([], [], []);
        public double T(double v) => Log ? (v > 0 ? Math.Log10(v) : double.NaN) : v;
    }

    static bool Usable(double v) => double.IsFinite(v) && Math.Abs(v) <= MaxMagnitude;

    XElement Render(bool legendOutside, out int legendCost)
    {
        var xAxis = new Axis { Log = LogX };
        var yAxis = new Axis { Log = LogY };
        double TX(double v) => Usable(v) ? xAxis.T(v) : double.NaN;
        double TY(double v) => Usable(v) ? yAxis.T(v) : double.NaN;

        // Data range in transformed units.
        double xMin = double.PositiveInfinity, xMax = double.NegativeInfinity, yMin = double.PositiveInfinity, yMax = double.NegativeInfinity;
        bool anyPoint = false, anyScatter = false;
        foreach (var s in _series)
        {
            if (s.Kind == ChartSeriesKind.HorizontalLine)
            {
                double ty = TY(s.Y[0]);
                if (double.IsFinite(ty)) { yMin = Math.Min(yMin, ty); yMax = Math.Max(yMax, ty); }
                continue;
            }
            for (int i = 0; i < s.X.Count; i++)
            {
                double tx = TX(s.X[i]), ty = TY(s.Y[i]);
                if (!double.IsFinite(tx) || !double.IsFinite(ty)) continue;
                anyPoint = true;
                anyScatter |= s.Kind == ChartSeriesKind.Scatter;
                xMin = Math.Min(xMin, tx); xMax = Math.Max(xMax, tx);
                yMin = Math.Min(yMin, ty); yMax = Math.Max(yMax, ty);
            }
        }
        // Line charts against step or time usually start near 0: start the axis at 0 so it has a "0" tick.
        if (!anyScatter && !xAxis.Log && xMin > 0 && xMin <= 0.1 * (xMax - xMin)) xMin = 0;
        (xAxis.Lo, xAxis.Hi) = Range(xMin, xMax, xAxis.Log, anyScatter ? 0.05 : 0);
        (yAxis.Lo, yAxis.Hi) = Range(yMin, yMax, yAxis.Log, 0.05);

        // Layout: vertical first (fixed), then the left margin from the y tick labels, then x ticks.
        bool hasTitle = !string.IsNullOrWhiteSpace(Title);
        double top = hasTitle ? 44 : 16;
        double bottom = string.IsNullOrWhiteSpace(XLabel) ? 34 : 56;
        double plotH = Height - top - bottom;
        yAxis.Ticks = MakeTicks(yAxis, Math.Clamp((int)(plotH / 50), 3, 10));
        double yTickW = yAxis.Ticks.Labels.Select(l => TextWidth(l, TickFont)).DefaultIfEmpty(0).Max();
        double left = 12 + (string.IsNullOrWhiteSpace(YLabel) ? 0 : 22) + yTickW + 10;

        var entries = _series.Where(s => !string.IsNullOrWhiteSpace(s.Name)).ToList();
        double legendW = entries.Count == 0 ? 0 : 8 + 26 + 6 + entries.Max(e => TextWidth(e.Name, LegendFont)) + 10;
        double legendH = entries.Count == 0 ? 0 : 8 + 18 * entries.Count;
        double right = 24 + (legendOutside ? legendW + 8 : 0);
        double plotW = Math.Max(40, Width - left - right);

        int xTarget = Math.Clamp((int)(plotW / 100), 3, 10);
        while (true)
        {
            xAxis.Ticks = MakeTicks(xAxis, xTarget);
            double widest = xAxis.Ticks.Labels.Select(l => TextWidth(l, TickFont)).DefaultIfEmpty(0).Max();
            if (xTarget <= 2 || (widest + 12) * xAxis.Ticks.Values.Count <= plotW) break;
            xTarget--;
        }

        double PX(double t) => left + (t - xAxis.Lo) / (xAxis.Hi - xAxis.Lo) * plotW;
        double PY(double t) => top + plotH - (t - yAxis.Lo) / (yAxis.Hi - yAxis.Lo) * plotH;
        double plotRight = left + plotW, plotBottom = top + plotH;

        var svg = new XElement(Ns + "svg",
            new XAttribute("width", Width), new XAttribute("height", Height),
            new XAttribute("viewBox", $"0 0 {Width.ToString(Inv)} {Height.ToString(Inv)}"),
            new XAttribute("font-family", FontFamily), new XAttribute("role", "img"));
        if (hasTitle) svg.Add(new XElement(Ns + "title", Clean(Title)));
        svg.Add(Rect(0, 0, Width, Height, "#ffffff"));

        // Grid, axes, ticks.
        var grid = new XElement(Ns + "g", new XAttribute("stroke", "#e6e6e6"), new XAttribute("stroke-width", 1));
        var minorGrid = new XElement(Ns + "g", new XAttribute("stroke", "#f3f3f3"), new XAttribute("stroke-width", 1));
        var tickMarks = new XElement(Ns + "g", new XAttribute("stroke", "#444444"), new XAttribute("stroke-width", 1));
        var xLabels = new XElement(Ns + "g", new XAttribute("font-size", N(TickFont)), new XAttribute("fill", "#333333"), new XAttribute("text-anchor", "middle"));
        var yLabels = new XElement(Ns + "g", new XAttribute("font-size", N(TickFont)), new XAttribute("fill", "#333333"), new XAttribute("text-anchor", "end"));
        foreach (var v in xAxis.Ticks.Minor) minorGrid.Add(Line(PX(xAxis.T(v)), top, PX(xAxis.T(v)), plotBottom));
        foreach (var v in yAxis.Ticks.Minor) minorGrid.Add(Line(left, PY(yAxis.T(v)), plotRight, PY(yAxis.T(v))));
        for (int i = 0; i < xAxis.Ticks.Values.Count; i++)
        {
            double x = Snap(PX(xAxis.T(xAxis.Ticks.Values[i])));
            grid.Add(Line(x, top, x, plotBottom));
            tickMarks.Add(Line(x, plotBottom, x, plotBottom + 5));
            xLabels.Add(Text(x, plotBottom + 19, xAxis.Ticks.Labels[i]));
        }
        for (int i = 0; i < yAxis.Ticks.Values.Count; i++)
        {
            double y = Snap(PY(yAxis.T(yAxis.Ticks.Values[i])));
            grid.Add(Line(left, y, plotRight, y));
            tickMarks.Add(Line(left - 5, y, left, y));
            yLabels.Add(Text(left - 8, y + 4, yAxis.Ticks.Labels[i]));
        }
        svg.Add(minorGrid, grid);
        svg.Add(new XElement(Ns + "path", new XAttribute("d", $"M{N(Snap(left))} {N(top)}V{N(Snap(plotBottom))}H{N(plotRight)}"),
            new XAttribute("fill", "none"), new XAttribute("stroke", "#444444"), new XAttribute("stroke-width", 1)));
        svg.Add(tickMarks, xLabels, yLabels);

        if (hasTitle)
            svg.Add(Text(left + plotW / 2, 28, Title, TitleFont, "middle", bold: true));
        if (!string.IsNullOrWhiteSpace(XLabel))
            svg.Add(Text(left + plotW / 2, plotBottom + 44, XLabel, LabelFont, "middle"));
        if (!string.IsNullOrWhiteSpace(YLabel))
        {
            var t = Text(0, 0, YLabel, LabelFont, "middle");
            double cx = 12 + LabelFont * 0.75, cy = top + plotH / 2;
            t.SetAttributeValue("transform", $"translate({N(cx)} {N(cy)}) rotate(-90)");
            svg.Add(t);
        }

        // Series. Obstacles collects pixel points the legend should not cover.
        var obstacles = new List<(double X, double Y)>();
        var placedLabels = new List<(double X0, double Y0, double X1, double Y1)>();
        var markersLayer = new List<XElement>();
        // A white halo (stroke painted under the fill) keeps point labels readable where they cross a line.
        var labelsLayer = new XElement(Ns + "g", new XAttribute("font-size", N(PointLabelFont)), new XAttribute("fill", "#222222"),
            new XAttribute("stroke", "#ffffff"), new XAttribute("stroke-width", 3), new XAttribute("stroke-linejoin", "round"),
            new XAttribute("paint-order", "stroke"));
        foreach (var s in _series.Where(s => s.Kind == ChartSeriesKind.HorizontalLine))
        {
            double ty = TY(s.Y[0]);
            if (!double.IsFinite(ty)) continue;
            double y = PY(ty);
            svg.Add(StrokePath($"M{N(left)} {N(y)}H{N(plotRight)}", s.Color, 1.5, "6 4"));
            for (double x = left; x <= plotRight; x += 6) obstacles.Add((x, y));
        }
        foreach (var s in _series.Where(s => s.Kind == ChartSeriesKind.Line))
        {
            var runs = Runs(s, TX, TY, PX, PY);
            var d = new StringBuilder();
            foreach (var run in runs)
            {
                var pts = run.Count > 4 * plotW ? Decimate(run) : run;
                for (int i = 0; i < pts.Count; i++)
                {
                    d.Append(i == 0 ? 'M' : 'L').Append(N(pts[i].X)).Append(' ').Append(N(pts[i].Y));
                    if (i > 0) Sample(pts[i - 1], pts[i], obstacles);
                }
                obstacles.Add(pts[0]);
                if (pts.Count == 1 && !s.Markers) // a lone point between gaps would be invisible
                    markersLayer.Add(Circle(pts[0].X, pts[0].Y, 2.5, s.Color));
            }
            if (d.Length > 0) svg.Add(StrokePath(d.ToString(), s.Color, 2, s.Dashed ? "7 4" : null));
            if (s.Markers)
                foreach (var run in runs)
                    foreach (var p in run) markersLayer.Add(Circle(p.X, p.Y, 3.5, s.Color));
        }
        var scatterPoints = new List<(double X, double Y, string Label, ChartSeries S)>();
        foreach (var s in _series.Where(s => s.Kind == ChartSeriesKind.Scatter))
            for (int i = 0; i < s.X.Count; i++)
            {
                double tx = TX(s.X[i]), ty = TY(s.Y[i]);
                if (!double.IsFinite(tx) || !double.IsFinite(ty)) continue;
                scatterPoints.Add((PX(tx), PY(ty), s.PointLabels?[i] ?? "", s));
            }
        foreach (var p in scatterPoints)
        {
            var c = Circle(p.X, p.Y, 5, p.S.Color);
            c.SetAttributeValue("stroke", "#ffffff");
            c.SetAttributeValue("stroke-width", 1);
            markersLayer.Add(c);
            obstacles.Add((p.X, p.Y));
        }
        var labelObstacles = new List<(double X, double Y)>();
        foreach (var p in scatterPoints.Where(p => !string.IsNullOrWhiteSpace(p.Label)))
        {
            var label = PlaceLabel(p.X, p.Y, p.Label, obstacles, placedLabels,
                (left, top, plotRight, plotBottom));
            labelsLayer.Add(label.Element);
            placedLabels.Add(label.Box);
            labelObstacles.AddRange(Enumerable.Range(0, (int)((label.Box.X1 - label.Box.X0) / 6) + 1)
                .SelectMany(k => new[] { (label.Box.X0 + 6 * k, label.Box.Y0), (label.Box.X0 + 6 * k, label.Box.Y1) }));
        }
        obstacles.AddRange(labelObstacles);
        svg.Add(markersLayer);
        if (labelsLayer.HasElements) svg.Add(labelsLayer);

        if (!anyPoint)
            svg.Add(Text(left + plotW / 2, top + plotH / 2, "no data", LabelFont, "middle", fill: "#999999"));

        // Legend.
        legendCost = 0;
        if (entries.Count > 0)
        {
            double lx, ly;
            if (legendOutside)
            {
                lx = Width - legendW - 8;
                ly = top;
            }
            else
            {
                var corners = new (double X, double Y)[]
                {
                    (plotRight - legendW - 8, top + 8), (left + 8, top + 8),
                    (plotRight - legendW - 8, plotBottom - legendH - 8), (left + 8, plotBottom - legendH - 8),
                };
                int best = 0, bestCost = int.MaxValue;
                for (int i = 0; i < corners.Length; i++)
                {
                    var (cx, cy) = corners[i];
                    int cost = obstacles.Count(o => o.X >= cx - 4 && o.X <= cx + legendW + 4 && o.Y >= cy - 4 && o.Y <= cy + legendH + 4);
                    if (cost < bestCost) { best = i; bestCost = cost; }
                }
                (lx, ly) = corners[best];
                legendCost = bestCost;
            }
            svg.Add(Legend(entries, lx, ly, legendW, legendH));
        }
        return svg;
    }

    static (double Lo, double Hi) Range(double min, double max, bool log, double pad)
    {
        if (!(max >= min)) return log ? (0, 1) : (0, 1);
        if (max == min)
        {
            double half = log ? 0.5 : min == 0 ? 1 : Math.Abs(min) * 0.1;
            return (min - half, max + half);
        }
        double p = (max - min) * pad;
        return (min - p, max + p);
    }

    static AxisTicks MakeTicks(Axis a, int target) => a.Log ? AxisTicks.Log(a.Lo, a.Hi, target) : AxisTicks.Linear(a.Lo, a.Hi, target);

    /// <summary>Maximal runs of consecutive drawable points, in pixels.</summary>
    static List<List<(double X, double Y)>> Runs(ChartSeries s, Func<double, double> tx, Func<double, double> ty, Func<double, double> px, Func<double, double> py)
    {
        var runs = new List<List<(double, double)>>();
        List<(double, double)>? current = null;
        for (int i = 0; i < s.X.Count; i++)
        {
            double x = tx(s.X[i]), y = ty(s.Y[i]);
            if (!double.IsFinite(x) || !double.IsFinite(y)) { current = null; continue; }
            if (current is null) runs.Add(current = []);
            current.Add((px(x), py(y)));
        }
        return runs;
    }

    /// <summary>Per pixel column keeps the first, lowest, highest and last point: same picture, far fewer points.</summary>
    static List<(double X, double Y)> Decimate(List<(double X, double Y)> run)
    {
        var result = new List<(double X, double Y)>();
        int i = 0;
        while (i < run.Count)
        {
            int col = (int)Math.Floor(run[i].X), j = i;
            int lo = i, hi = i;
            while (j + 1 < run.Count && (int)Math.Floor(run[j + 1].X) == col)
            {
                j++;
                if (run[j].Y < run[lo].Y) lo = j;
                if (run[j].Y > run[hi].Y) hi = j;
            }
            foreach (var k in new[] { i, lo, hi, j }.Distinct().Order()) result.Add(run[k]);
            i = j + 1;
        }
        return result;
    }

    static void Sample((double X, double Y) a, (double X, double Y) b, List<(double X, double Y)> into)
    {
        double len = Math.Sqrt((b.X - a.X) * (b.X - a.X) + (b.Y - a.Y) * (b.Y - a.Y));
        int n = Math.Min(200, (int)(len / 6));
        for (int k = 1; k <= n; k++) into.Add((a.X + (b.X - a.X) * k / (n + 1), a.Y + (b.Y - a.Y) * k / (n + 1)));
        into.Add(b);
    }

    (XElement Element, (double X0, double Y0, double X1, double Y1) Box) PlaceLabel(
        double x, double y, string label, List<(double X, double Y)> points,
        List<(double X0, double Y0, double X1, double Y1)> placed, (double L, double T, double R, double B) area)
    {
        double w = TextWidth(label, PointLabelFont), h = PointLabelFont;
        // (text x, baseline y, anchor, box) for right, left, above, below.
        var options = new (double Tx, double Ty, string Anchor, (double X0, double Y0, double X1, double Y1) Box)[]
        {
            (x + 8, y + 4, "start", (x + 8, y + 4 - h, x + 8 + w, y + 4 + 2)),
            (x - 8, y + 4, "end", (x - 8 - w, y + 4 - h, x - 8, y + 4 + 2)),
            (x, y - 9, "middle", (x - w / 2, y - 9 - h, x + w / 2, y - 9 + 2)),
            (x, y + 9 + h, "middle", (x - w / 2, y + 9, x + w / 2, y + 9 + h + 2)),
        };
        bool Inside((double X0, double Y0, double X1, double Y1) b) => b.X0 >= area.L && b.X1 <= area.R + 20 && b.Y0 >= area.T - 4 && b.Y1 <= area.B;
        bool Overlaps((double X0, double Y0, double X1, double Y1) b, (double X0, double Y0, double X1, double Y1) o) =>
            b.X0 < o.X1 && o.X0 < b.X1 && b.Y0 < o.Y1 && o.Y0 < b.Y1;
        int Score((double X0, double Y0, double X1, double Y1) b) =>
            (Inside(b) ? 0 : 100) + placed.Count(o => Overlaps(b, o)) * 10
            + points.Count(p => p.X >= b.X0 - 2 && p.X <= b.X1 + 2 && p.Y >= b.Y0 - 2 && p.Y <= b.Y1 + 2);
        var choice = options.OrderBy(o => Score(o.Box)).First(); // OrderBy is stable: ties keep the order above
        var el = Text(choice.Tx, choice.Ty, label, null, choice.Anchor);
        return (el, choice.Box);
    }

    XElement Legend(List<ChartSeries> entries, double x, double y, double w, double h)
    {
        var g = new XElement(Ns + "g", new XAttribute("font-size", N(LegendFont)), new XAttribute("fill", "#222222"));
        var box = Rect(x, y, w, h, "#ffffff");
        box.SetAttributeValue("fill-opacity", "0.9");
        box.SetAttributeValue("stroke", "#cccccc");
        box.SetAttributeValue("rx", 3);
        g.Add(box);
        for (int i = 0; i < entries.Count; i++)
        {
            var s = entries[i];
            double cy = y + 4 + 18 * i + 9, sx = x + 8;
            if (s.Kind == ChartSeriesKind.Scatter)
            {
                var c = Circle(sx + 13, cy, 5, s.Color);
                g.Add(c);
            }
            else
            {
                g.Add(StrokePath($"M{N(sx)} {N(cy)}H{N(sx + 26)}", s.Color, s.Kind == ChartSeriesKind.HorizontalLine ? 1.5 : 2,
                    s.Dashed ? (s.Kind == ChartSeriesKind.HorizontalLine ? "6 4" : "7 4") : null));
                if (s.Markers) g.Add(Circle(sx + 13, cy, 3.5, s.Color));
            }
            g.Add(Text(sx + 26 + 6, cy + 4, s.Name, null, null));
        }
        return g;
    }

    // ---------------------------------------------------------------- SVG helpers

    /// <summary>Approximate width of <paramref name="text"/> in a sans-serif font (DejaVu Sans metrics, slightly generous).</summary>
    internal static double TextWidth(string text, double size)
    {
        double em = 0;
        foreach (var ch in text)
            em += ch switch
            {
                ' ' => 0.32,
                'i' or 'j' or 'l' or '.' or ',' or ':' or ';' or '\'' or '|' or '!' => 0.3,
                'f' or 't' or 'r' or '(' or ')' or '[' or ']' or '-' => 0.42,
                'm' or 'w' or 'M' or 'W' => 0.9,
                >= 'A' and <= 'Z' => 0.7,
                >= '0' and <= '9' => 0.64,
                _ => 0.6,
            };
        return em * size;
    }

    /// <summary>Coordinates with at most 2 decimals, invariant culture, never "-0".</summary>
    static string N(double v)
    {
        double r = Math.Round(v, 2);
        if (r == 0) r = 0;
        return r.ToString("0.##", Inv);
    }

    /// <summary>Puts a 1-px line on the pixel grid so it is crisp.</summary>
    static double Snap(double v) => Math.Floor(v) + 0.5;

    /// <summary>Text safe for XML: characters XML 1.0 forbids become U+FFFD.</summary>
    static string Clean(string s)
    {
        var sb = new StringBuilder(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) { sb.Append(c).Append(s[++i]); continue; }
            sb.Append(XmlConvert.IsXmlChar(c) ? c : '\uFFFD');
        }
        return sb.ToString();
    }

    static XElement Rect(double x, double y, double w, double h, string fill) =>
        new(Ns + "rect", new XAttribute("x", N(x)), new XAttribute("y", N(y)), new XAttribute("width", N(w)), new XAttribute("height", N(h)), new XAttribute("fill", fill));

    static XElement Line(double x1, double y1, double x2, double y2) =>
        new(Ns + "line", new XAttribute("x1", N(x1)), new XAttribute("y1", N(y1)), new XAttribute("x2", N(x2)), new XAttribute("y2", N(y2)));

    static XElement Circle(double cx, double cy, double r, string fill) =>
        new(Ns + "circle", new XAttribute("cx", N(cx)), new XAttribute("cy", N(cy)), new XAttribute("r", N(r)), new XAttribute("fill", fill));

    static XElement StrokePath(string d, string color, double width, string? dash)
    {
        var p = new XElement(Ns + "path", new XAttribute("d", d), new XAttribute("fill", "none"), new XAttribute("stroke", color),
            new XAttribute("stroke-width", N(width)), new XAttribute("stroke-linejoin", "round"), new XAttribute("stroke-linecap", "round"));
        if (dash is not null) p.SetAttributeValue("stroke-dasharray", dash);
        return p;
    }

    static XElement Text(double x, double y, string text, double? size = null, string? anchor = null, bool bold = false, string? fill = null)
    {
        var t = new XElement(Ns + "text", new XAttribute("x", N(x)), new XAttribute("y", N(y)), Clean(text));
        if (size is { } sz) t.SetAttributeValue("font-size", N(sz));
        if (anchor is not null) t.SetAttributeValue("text-anchor", anchor);
        if (bold) t.SetAttributeValue("font-weight", "bold");
        if (fill is not null) t.SetAttributeValue("fill", fill);
        return t;
    }
}
