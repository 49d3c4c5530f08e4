using System.Diagnostics;
using GptBert.Assets;
using GptBert.Engine;
using GptBert.Models;
using GptBert.Pipelines;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using static TorchSharp.torch;

namespace GptBert.Bench;

public static class EmbedBench
{
    static long[] Ids(int b, int t)
    {
        var rng = new Random(42);
        var ids = new long[b * t];
        for (int i = 0; i < ids.Length; i++) ids[i] = i % t == 0 ? 101 : rng.Next(1000, 30000);
        return ids;
    }

    /// <summary>
    /// With BENCH_PADDED=1 (embed --padded), rows of a batch have real lengths t, 7t/8, 3t/4, 5t/8 in turn (the rest padding,
    /// mask 0), as a batch of real texts of different lengths; otherwise every position is real.
    /// </summary>
    public static bool Padded => Environment.GetEnvironmentVariable("BENCH_PADDED") == "1";

    static long[] Mask(int b, int t)
    {
        var mask = new long[b * t];
        for (int i = 0; i < b; i++)
        {
            int real = Padded && b > 1 ? t - i % 4 * t / 8 : t;
            for (int j = 0; j < real; j++) mask[i * t + j] = 1;
        }
        return mask;
    }

    /// <summary>Median milliseconds of <paramref name="run"/> after warm-up, repeated for about <paramref name="seconds"/>.</summary>
    static double Time(Action run, double seconds)
    {
        for (int i = 0; i < 3; i++) run();
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while (times.Count < 5 || (total.Elapsed.TotalSeconds < seconds && times.Count < 2000))
        {
            var sw = Stopwatch.StartNew();
            run();
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        return times[times.Count / 2];
    }

    public static double Ort(int b, int t, int threads, double seconds)
    {
        using var opts = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        using var session = new InferenceSession(BuiltIn.ReadMiniLmResource("model.onnx"), opts);
        var ids = Ids(b, t);
        var mask = Mask(b, t);
        var types = new long[b * t];
        int[] dims = [b, t];
        var inputs = new List<NamedOnnxValue>();
        foreach (var name in session.InputMetadata.Keys)
        {
            var data = name.Contains("mask") ? mask : name.Contains("type") ? types : ids;
            inputs.Add(NamedOnnxValue.CreateFromTensor(name, new DenseTensor<long>(data, dims)));
        }
        var output = session.OutputMetadata.Keys.First();
        return Time(() =>
        {
            using var r = session.Run(inputs, [output]);
            var hidden = r.First().AsTensor<float>();
            // Mean pooling + L2 norm, as the embedding path does (cheap next to the encoder).
            int h = hidden.Dimensions[2];
            var pooled = new float[h];
            for (int bi = 0; bi < b; bi++)
            {
                Array.Clear(pooled);
                for (int ti = 0; ti < t; ti++) if (mask[bi * t + ti] != 0) for (int k = 0; k < h; k++) pooled[k] += hidden[bi, ti, k];
                double n = Math.Sqrt(pooled.Sum(x => (double)x * x));
                for (int k = 0; k < h; k++) pooled[k] = (float)(pooled[k] / n);
            }
        }, seconds);
    }

    /// <param name="dir">the MiniLM directory to run (default: the built-in fp32 one; the int8 bench passes its quantized copy).</param>
    public static double Torch(int b, int t, int threads, double seconds, string? dir = null)
    {
        TorchRuntime.Configure(threads);
        dir ??= ModelHub.EnsureMiniLm();
        var (model, _) = ModelFactory.Load(dir, "BertModel");
        var bert = (BertModel)model;
        var ids = tensor(Ids(b, t), [b, t]);
        var mask = tensor(Mask(b, t), [b, t]);
        return Time(() =>
        {
            using var _ = inference_mode();
            using var scope = NewDisposeScope();
            var hidden = bert.Forward(ids, mask, pool: false).LastHiddenState; // as the embedder (ORT runs only what the requested output needs)
            var m = mask.unsqueeze(-1).to(hidden.dtype);
            var pooled = nn.functional.normalize((hidden * m).sum(1) / m.sum(1), p: 2, dim: 1);
            pooled.data<float>().ToArray();
        }, seconds);
    }

    /// <summary>A ratio's rounds as a table cell: the median, then the lowest and highest round, e.g. "1.02x (0.97–1.06)".</summary>
    public static string RatioCell(double[] rounds)
    {
        var a = rounds.Order().ToArray();
        double median = a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2;
        return a.Length == 1 ? $"{median:F2}x" : $"{median:F2}x ({a[0]:F2}–{a[^1]:F2})";
    }

    public static string Machine()
    {
        string cpu = "unknown CPU", isa = "";
        try
        {
            var info = File.ReadAllLines("/proc/cpuinfo");
            string Field(string name) => info.First(l => l.StartsWith(name)).Split(':', 2)[1].Trim();
            cpu = $"{Field("model name")} (family {Field("cpu family")}, model {Field("model\t")})";
            var flags = Field("flags").Split(' ');
            isa = flags.Contains("avx512f") ? "AVX-512" + (flags.Contains("avx512_bf16") ? " + BF16" : "") : flags.Contains("avx2") ? "AVX2" : "no AVX2";
        }
        catch { }
        return $"{cpu}, {isa}, {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}, {TorchRuntime.Describe()}";
    }
}
