using System.Diagnostics;
using GptBert.Engine;
using static TorchSharp.torch;

namespace GptBert.Bench;

/// <summary>
/// MiniLM's 36 encoder products (6 layers × Q, K, V, O 384→384, 384→1536, 1536→384) at M rows, fp32, no gradient,
/// three ways: SmallGemm's unpacked kernels, BlockedGemm's packed AVX-512 kernel, and libtorch (MKL): the figures
/// behind SmallGemm.MaxRows and BlockedGemm.MinRows.
/// </summary>
public static class GemmBench
{
    public enum Variant { Small, Blocked, Mkl }

    public static List<(int Rows, Dictionary<Variant, double> Ms)> Run(int[] rows)
    {
        using var _ = no_grad();
        int savedMax = SmallGemm.MaxRows, savedMin = BlockedGemm.MinRows;
        bool savedBlocked = BlockedGemm.Enabled;
        var shapes = Enumerable.Range(0, 6).SelectMany(_ => new[] { (384, 384), (384, 384), (384, 384), (384, 384), (384, 1536), (1536, 384) }).ToArray();
        var w = shapes.Select(s => randn(s.Item2, s.Item1)).ToArray();
        var b = shapes.Select(s => randn(s.Item2)).ToArray();
        var variants = BlockedGemm.Supported ? new[] { Variant.Small, Variant.Blocked, Variant.Mkl } : new[] { Variant.Small, Variant.Mkl };
        var results = new List<(int, Dictionary<Variant, double>)>();
        foreach (int m in rows)
        {
            var x = shapes.Select(s => randn(m, s.Item1)).ToArray();
            double Time(Variant v)
            {
                SmallGemm.Enabled = v != Variant.Mkl;
                BlockedGemm.Enabled = v == Variant.Blocked;
                SmallGemm.MaxRows = int.MaxValue;
                BlockedGemm.MinRows = 1;
                void All() { using var scope = NewDisposeScope(); for (int i = 0; i < w.Length; i++) Ops.Linear(x[i], w[i], b[i]); }
                for (int i = 0; i < 5; i++) All();
                var t = new List<double>();
                for (int r = 0; r < 30; r++) { var sw = Stopwatch.StartNew(); All(); t.Add(sw.Elapsed.TotalMilliseconds); }
                t.Sort();
                return t[t.Count / 2];
            }
            // Alternate three times; keep the middle of each.
            var times = variants.ToDictionary(v => v, _ => new List<double>());
            for (int i = 0; i < 3; i++) foreach (var v in variants) times[v].Add(Time(v));
            results.Add((m, times.ToDictionary(kv => kv.Key, kv => kv.Value.Order().ElementAt(1))));
        }
        SmallGemm.Enabled = true;
        BlockedGemm.Enabled = savedBlocked;
        SmallGemm.MaxRows = savedMax;
        BlockedGemm.MinRows = savedMin;
        return results;
    }
}
