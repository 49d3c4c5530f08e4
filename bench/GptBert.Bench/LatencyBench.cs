using System.Diagnostics;
using GptBert.Data;
using GptBert.Pipelines;

namespace GptBert.Bench;

/// <summary>
/// Batch-1 classification latency of several saved classifiers on the same texts, the models alternated over rounds in
/// one process so that a busy machine slows them alike (the batch-1 part of GptBert.Compare's SpeedProbe: warm-up, then
/// one text at a time through <see cref="Classifier"/>, tokenization included).
/// </summary>
public static class LatencyBench
{
    /// <summary>Per model, the median batch-1 latency (ms) of each round.</summary>
    public static Dictionary<string, List<double>> Run(IReadOnlyList<string> modelDirs, string data, int rounds, int samples, int maxLength)
    {
        var texts = LabeledDataset.Load(data, new LabeledFormatOptions { RequireTwoLabels = false, RequireLabel = false })
            .Select(e => (e.Text, e.Pair)).ToList();
        var classifiers = modelDirs.Select(d => new Classifier(d, maxLength: maxLength)).ToList();
        var result = modelDirs.ToDictionary(d => d, _ => new List<double>());
        try
        {
            for (int r = 0; r < rounds; r++)
                for (int m = 0; m < classifiers.Count; m++)
                {
                    var c = classifiers[m];
                    for (int i = 0; i < 3; i++) c.Classify([texts[i % texts.Count]]);
                    var times = new List<double>();
                    for (int i = 0; i < samples; i++)
                    {
                        var sw = Stopwatch.StartNew();
                        c.Classify([texts[i % texts.Count]]);
                        times.Add(sw.Elapsed.TotalMilliseconds);
                    }
                    times.Sort();
                    result[modelDirs[m]].Add(times[times.Count / 2]);
                }
        }
        finally { foreach (var c in classifiers) c.Dispose(); }
        return result;
    }
}
