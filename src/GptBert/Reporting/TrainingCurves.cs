namespace GptBert.Reporting;

/// <summary>Options of <see cref="TrainingCurves"/>.</summary>
public sealed record TrainingCurvesOptions
{
    /// <summary>Run-log keys to plot against step, one series each (default: train loss and validation loss).</summary>
    public IReadOnlyList<string> Keys { get; init; } = ["loss", "eval_loss"];
    /// <summary>Chart title; default "RUN: training curves", RUN being the log's directory name.</summary>
    public string? Title { get; init; }
    /// <summary>Y axis label; default "loss" when every key is a loss, otherwise "value".</summary>
    public string? YLabel { get; init; }
    public bool LogY { get; init; }
    public int Width { get; init; } = 800;
    public int Height { get; init; } = 480;
}

/// <summary>Training curves (values from a run log against step) as an SVG chart.</summary>
public static class TrainingCurves
{
    /// <summary>Reads <paramref name="logJsonlPath"/> and writes its loss curves to <paramref name="svgPath"/> (atomically).</summary>
    /// <exception cref="GptBertException">The log is missing or corrupt, or the SVG cannot be written.</exception>
    public static void Write(string logJsonlPath, string svgPath, TrainingCurvesOptions? options = null)
    {
        var records = RunLog.Read(logJsonlPath);
        options ??= new TrainingCurvesOptions();
        if (options.Title is null)
        {
            var run = Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(logJsonlPath)));
            options = options with { Title = string.IsNullOrEmpty(run) ? "training curves" : $"{run}: training curves" };
        }
        Build(records, options).Save(svgPath);
    }

    /// <summary>The chart, for callers that add series or save it elsewhere.</summary>
    public static SvgChart Build(IReadOnlyList<RunLogRecord> records, TrainingCurvesOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(records);
        options ??= new TrainingCurvesOptions();
        var chart = new SvgChart
        {
            Title = options.Title ?? "training curves",
            XLabel = "step",
            YLabel = options.YLabel ?? (options.Keys.All(k => k.EndsWith("loss", StringComparison.Ordinal)) ? "loss" : "value"),
            LogY = options.LogY,
            Width = options.Width,
            Height = options.Height,
        };
        foreach (var key in options.Keys)
        {
            var (steps, values) = Points(records, key);
            // Train loss is logged often and reads best as a plain line; evaluations are sparse, so mark them.
            bool markers = steps.Count <= 20 || (key.StartsWith("eval_", StringComparison.Ordinal) && steps.Count <= 100);
            chart.AddLine(SeriesName(key), steps, values, markers);
        }
        return chart;
    }

    /// <summary>
    /// (step, value) for every record that has <paramref name="key"/>, in log order. When the step goes
    /// back (a run resumed from an earlier checkpoint without trimming its log) the later records win:
    /// points at or after the step it went back to are dropped.
    /// </summary>
    public static (List<double> Steps, List<double> Values) Points(IReadOnlyList<RunLogRecord> records, string key)
    {
        var steps = new List<double>();
        var values = new List<double>();
        foreach (var r in records)
        {
            if (r.Get(key) is not { } v) continue;
            double step = r.Step;
            while (steps.Count > 0 && steps[^1] >= step)
            {
                steps.RemoveAt(steps.Count - 1);
                values.RemoveAt(values.Count - 1);
            }
            steps.Add(step);
            values.Add(v);
        }
        return (steps, values);
    }

    /// <summary>"loss" → "train loss", "eval_loss" → "validation loss", "eval_X" → "validation X", others unchanged.</summary>
    public static string SeriesName(string key) => key switch
    {
        "loss" => "train loss",
        _ when key.StartsWith("eval_", StringComparison.Ordinal) => "validation " + key["eval_".Length..].Replace('_', ' '),
        _ => key.Replace('_', ' '),
    };
}
