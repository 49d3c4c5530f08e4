using System.Diagnostics;
using GptBert.Engine;
using static TorchSharp.torch;

namespace GptBert.Bench;

/// <summary>
/// MiniLM's 36 encoder products (6 layers × Q, K, V, O 384→384, 384→1536, 1536→384) at M rows, with GptBert's
/// small-batch kernels and through libtorch (MKL), fp32, no gradient: the figures behind SmallGemm.MaxRows.
/// </summary>
public static class GemmBench
{
    public static List<(int Rows, double OursMs, double MklMs)> Run(int[] rows)
    {
        using var _ = no_grad();
        int saved = SmallGemm.MaxRows;
        SmallGemm.MaxRows = int.MaxValue;
        var shapes = Enumerable.Range(0, 6).SelectMany(_ => new[] { (384, 384), (384, 384), (384, 384), (384, 384), (384, 1536), (1536, 384) }).ToArray();
        var w = shapes.Select(s => randn(s.Item2, s.Item1)).ToArray();
        var b = shapes.Select(s => randn(s.Item2)).ToArray();
        var results = new List<(int, double, double)>();
        foreach (int m in rows)
        {
            var x = shapes.Select(s => randn(m, s.Item1)).ToArray();
            double Time(bool kernels)
            {
                SmallGemm.Enabled = kernels;
                void All() { using var scope = NewDisposeScope(); for (int i = 0; i < w.Length; i++) Ops.Linear(x[i], w[i], b[i]); }
                for (int i = 0; i < 5; i++) All();
                var t = new List<double>();
                for (int r = 0; r < 30; r++) { var sw = Stopwatch.StartNew(); All(); t.Add(sw.Elapsed.TotalMilliseconds); }
                t.Sort();
                return t[t.Count / 2];
            }
            // Alternate three times; keep the middle of each.
            var ours = new List<double>(); var mkl = new List<double>();
            for (int i = 0; i < 3; i++) { ours.Add(Time(true)); mkl.Add(Time(false)); }
            results.Add((m, ours.Order().ElementAt(1), mkl.Order().ElementAt(1)));
        }
        SmallGemm.Enabled = true;
        SmallGemm.MaxRows = saved;
        return results;
    }
}
