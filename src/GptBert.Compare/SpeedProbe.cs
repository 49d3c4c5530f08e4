using System.Diagnostics;
using GptBert.Pipelines;

namespace GptBert.Compare;

/// <summary>Inference latency at batch 1 and throughput at the best batch size of a saved classifier.</summary>
public static class SpeedProbe
{
    public sealed record Result(double P50Ms, double P95Ms, double Throughput, int BestBatch);

    public static Result Measure(string modelDir, IReadOnlyList<(string Text, string? Pair)> inputs, int maxLength, int samples, string? device)
    {
        using var classifier = new Classifier(modelDir, device: device, maxLength: maxLength);
        // Batch 1 latency: warm up, then time single inputs.
        for (int i = 0; i < Math.Min(3, inputs.Count); i++) classifier.Classify([inputs[i]]);
        var times = new List<double>();
        for (int i = 0; i < samples; i++)
        {
            var sw = Stopwatch.StartNew();
            classifier.Classify([inputs[i % inputs.Count]]);
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        // Throughput: examples per second for a few batch sizes on the same inputs; keep the best.
        double best = 0; int bestBatch = 1;
        foreach (var b in new[] { 1, 8, 32 })
        {
            var batch = Enumerable.Range(0, b).Select(i => inputs[i % inputs.Count]).ToList();
            classifier.Classify(batch);
            int reps = Math.Max(1, 64 / b);
            var sw = Stopwatch.StartNew();
            for (int r = 0; r < reps; r++) classifier.Classify(batch);
            double perSecond = reps * b / sw.Elapsed.TotalSeconds;
            if (perSecond > best) { best = perSecond; bestBatch = b; }
        }
        return new Result(Percentile(times, 0.5), Percentile(times, 0.95), best, bestBatch);
    }

    /// <summary>The q-quantile of sorted values (nearest rank).</summary>
    internal static double Percentile(List<double> sorted, double q) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)];
}
