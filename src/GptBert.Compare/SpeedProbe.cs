using System.Diagnostics;
using GptBert.Pipelines;

namespace GptBert.Compare;

/// <summary>Inference latency at batch 1 and throughput at the best batch size of a saved classifier.</summary>
public static class SpeedProbe
{
    public sealed record Result(double P50Ms, double P95Ms, double Throughput, int BestBatch);

    /// <summary>Batch sizes the throughput is measured at (the best is kept).</summary>
    public static readonly IReadOnlyList<int> DefaultBatches = [1, 8, 32];

    public static Result Measure(string modelDir, IReadOnlyList<(string Text, string? Pair)> inputs, int maxLength, int samples, string? device)
    {
        using var classifier = new Classifier(modelDir, device: device, maxLength: maxLength);
        return Measure(batch => classifier.Classify(batch), inputs, samples, DefaultBatches);
    }

    /// <summary>
    /// The measurement every probe shares: <paramref name="run"/> on single inputs (3 warm-up calls, then
    /// <paramref name="samples"/> timed ones; p50 and p95 by nearest rank), then on batches of each size in
    /// <paramref name="batches"/> (one warm-up call, then enough calls for 64 examples), keeping the best examples per second.
    /// </summary>
    public static Result Measure<T>(Action<IReadOnlyList<T>> run, IReadOnlyList<T> inputs, int samples, IReadOnlyList<int> batches)
    {
        if (inputs.Count == 0) throw new GptBertException("no inputs to time the model on");
        for (int i = 0; i < Math.Min(3, inputs.Count); i++) run([inputs[i]]);
        var times = new List<double>();
        for (int i = 0; i < Math.Max(1, samples); i++)
        {
            var sw = Stopwatch.StartNew();
            run([inputs[i % inputs.Count]]);
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        // Throughput: examples per second for the batch sizes on the same inputs; keep the best.
        double best = 0; int bestBatch = 1;
        foreach (var b in batches)
        {
            var batch = Enumerable.Range(0, b).Select(i => inputs[i % inputs.Count]).ToList();
            run(batch);
            int reps = Math.Max(1, 64 / b);
            var sw = Stopwatch.StartNew();
            for (int r = 0; r < reps; r++) run(batch);
            double perSecond = reps * b / sw.Elapsed.TotalSeconds;
            if (perSecond > best) { best = perSecond; bestBatch = b; }
        }
        return new Result(Percentile(times, 0.5), Percentile(times, 0.95), best, bestBatch);
    }

    /// <summary>The q-quantile of sorted values (nearest rank).</summary>
    internal static double Percentile(List<double> sorted, double q) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)];
}
