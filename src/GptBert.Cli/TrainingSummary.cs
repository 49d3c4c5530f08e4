using System.Globalization;
using GptBert.Training;

namespace GptBert.Cli;

/// <summary>The summary `pretrain` and `finetune` print on stdout when a run ends.</summary>
public static class TrainingSummary
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>"30 steps, 12,288 tokens in 4.1s (2,997 tokens/s); stopped: budget".</summary>
    public static string Totals(TrainingResult r)
    {
        double seconds = Math.Max(r.Elapsed.TotalSeconds, 1e-9);
        return $"{r.Steps.ToString("N0", Inv)} steps, {r.Tokens.ToString("N0", Inv)} tokens in {Durations.Format(r.Elapsed)} " +
               $"({(r.Tokens / seconds).ToString("N0", Inv)} tokens/s); stopped: {r.StopReason}";
    }

    public static string Metric(double v) => v.ToString("F4", Inv);

    /// <summary>Where the run's files are: the model, the log, the curves and the latest checkpoint.</summary>
    public static void Files(CliContext ctx, string output)
    {
        var o = ctx.Out;
        o.Line($"model:      {output} (config.json, model.safetensors, tokenizer files)");
        o.Line($"log:        {Path.Combine(output, GptBert.Reporting.RunLog.FileName)}");
        var svg = Path.Combine(output, "training-curves.svg");
        if (File.Exists(svg)) o.Line($"curves:     {svg}");
        if (Trainer.LatestCheckpoint(output) is { } ck)
            o.Line($"checkpoint: {Path.Combine(output, Path.GetFileName(ck))} (continue with --resume and a larger budget)");
    }
}
