using System.Xml.Linq;
using GptBert.Reporting;

namespace GptBert.Tests.Reporting;

public class TrainingCurvesTests
{
    static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    [Fact]
    public void WritesLossCurvesFromRunLog()
    {
        var dir = Path.Combine(TestUtil.TempDir("curves"), "gpt-small");
        var log = Path.Combine(dir, RunLog.FileName);
        using (var rl = RunLog.Open(log))
            for (int s = 10; s <= 500; s += 10)
            {
                rl.Append(new RunLogRecord { Step = s, Loss = 5.0 - s / 200.0, Lr = 1e-4 });
                if (s % 100 == 0) rl.Append(new RunLogRecord { Step = s, EvalLoss = 5.2 - s / 250.0 });
            }
        var svgPath = Path.Combine(dir, "curves.svg");
        TrainingCurves.Write(log, svgPath);

        var doc = XDocument.Load(svgPath);
        var texts = doc.Descendants(Svg + "text").Select(t => t.Value).ToArray();
        Assert.Contains("train loss", texts);
        Assert.Contains("validation loss", texts);
        Assert.Contains("gpt-small: training curves", texts);
        Assert.Contains("step", texts);
        Assert.Contains("loss", texts);
        // 5 evaluation points are marked, the 50 train points are a plain line.
        // (Markers are children of the root; the legend's sample marker sits in the legend group.)
        Assert.Equal(5, doc.Root!.Elements(Svg + "circle").Count(c => (string?)c.Attribute("fill") == SvgChart.Palette[1]));
        Assert.DoesNotContain(doc.Root!.Elements(Svg + "circle"), c => (string?)c.Attribute("fill") == SvgChart.Palette[0]);
    }

    [Fact]
    public void OtherMetricsAndEmptyLogs()
    {
        var records = new[]
        {
            new RunLogRecord { Step = 100, Metrics = new Dictionary<string, double> { ["eval_macro_f1"] = 0.5 } },
            new RunLogRecord { Step = 200, Metrics = new Dictionary<string, double> { ["eval_macro_f1"] = 0.7 } },
        };
        var chart = TrainingCurves.Build(records, new TrainingCurvesOptions { Keys = ["eval_macro_f1"], Title = "f1" });
        Assert.Equal("value", chart.YLabel);
        Assert.Equal("validation macro f1", Assert.Single(chart.Series).Name);
        XDocument.Parse(chart.ToSvg());

        var empty = TrainingCurves.Build([]);
        Assert.Contains("no data", empty.ToSvg());
        Assert.Throws<GptBertException>(() => TrainingCurves.Write(Path.Combine(TestUtil.TempDir("curves"), "none.jsonl"), Path.Combine(TestUtil.TempDir("curves"), "x.svg")));
    }

    [Fact]
    public void StepGoingBackReplacesTheRunAfterIt()
    {
        // Logged 10, 20, 30, then the run resumed from step 20 and logged 30, 40 again.
        var records = new long[] { 10, 20, 30, 30, 40 }.Select((s, i) => new RunLogRecord { Step = s, Loss = i }).ToList();
        var (steps, values) = TrainingCurves.Points(records, "loss");
        Assert.Equal([10.0, 20, 30, 40], steps);
        Assert.Equal([0.0, 1, 3, 4], values);
    }
}
