using System.Diagnostics;
using System.Runtime.Intrinsics;
using GptBert.Assets;
using GptBert.Engine;
using GptBert.Models;
using GptBert.Pipelines;
using static TorchSharp.torch;

namespace GptBert.Bench;

/// <summary>
/// int8 inference (gptbert quantize): MiniLM embeddings quantized dynamically vs our fp32 and ONNX Runtime fp32 (child
/// processes, see Program.cs), a GPT-2 124M-shaped decoding step fp32 vs weight-only int8, and the embedding quality.
/// </summary>
public static class Int8Bench
{
    /// <summary>MiniLM quantized with the dynamic scheme, written once under the built-in cache.</summary>
    public static string QuantizedMiniLm()
    {
        var dir = Path.Combine(BuiltIn.CacheDirectory, "all-MiniLM-L6-v2-int8-dynamic");
        var marker = Path.Combine(dir, ".complete-v1");
        if (File.Exists(marker)) return dir;
        using (var fp = ModelHub.Load(ModelHub.MiniLm, requireHead: false))
            Int8Quantization.Save(fp.Model, fp.Directory, dir, new QuantizeOptions());
        File.WriteAllText(marker, DateTime.UtcNow.ToString("O"));
        return dir;
    }

    /// <summary>Mean and minimum cosine between int8 and fp32 MiniLM embeddings of every line of <paramref name="file"/>.</summary>
    public static (double Mean, double Min, int Texts) Quality(string file)
    {
        var texts = File.ReadAllLines(file).Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        using var fp = ModelHub.Load(ModelHub.MiniLm, requireHead: false);
        using var q = ModelHub.Load(QuantizedMiniLm(), requireHead: false);
        var a = new Embedder(fp) { Warn = _ => { } }.Embed(texts);
        var b = new Embedder(q) { Warn = _ => { } }.Embed(texts);
        var cos = a.Select((v, i) => Embedder.Cosine(v, b[i])).ToList();
        return (cos.Average(), cos.Min(), texts.Count);
    }

    public sealed record DecodeResult(string Name, double Ms, long WeightBytes);

    /// <summary>
    /// One decoding step of GPT-2 124M (random weights, KV cache, batch 1): fp32, and the same model quantized weight-only with the
    /// LM head fp32 or int8 (and dynamic with an fp32 head), each loaded from its quantized directory; rounds alternate.
    /// </summary>
    public static List<DecodeResult> Decode(int steps = 32, int rounds = 3)
    {
        TorchRuntime.Seed(1);
        var work = Directory.CreateTempSubdirectory("gptbert-int8-bench").FullName;
        try
        {
            var models = new List<(string Name, GPT2LMHeadModel Model, long Bytes)>();
            var fp = new GPT2LMHeadModel(Gpt2Config.Small());
            fp.eval();
            long linear = Int8Quantization.LinearLayers(fp).Sum(l => l.Module.parameters().First().numel());
            long head = fp.transformer.wte.weight!.numel();
            models.Add(("fp32", fp, (linear + head) * 4));
            foreach (var (name, scheme, int8Head) in new[]
            {
                ("int8 weight-only, LM head fp32", "weight-only", false), ("int8 weight-only, LM head int8", "weight-only", true),
                ("int8 dynamic, LM head fp32", "dynamic", false),
            })
            {
                var dir = Path.Combine(work, scheme + (int8Head ? "-head" : ""));
                Int8Quantization.Save(fp, work, dir, new QuantizeOptions { Scheme = scheme, Int8LmHead = int8Head });
                var (m, _) = ModelFactory.Load(dir);
                models.Add((name, (GPT2LMHeadModel)m, linear + (int8Head ? head : head * 4)));
                File.Delete(Path.Combine(dir, "model.safetensors"));
            }
            var prompt = randint(0, 50257, [1, 16]);
            double PerToken(GPT2LMHeadModel model) => DecodeBench.MsPerToken(model, prompt, steps, rounds);
            var all = models.ToDictionary(m => m.Name, _ => new List<double>());
            for (int i = 0; i < 3; i++) foreach (var m in models) all[m.Name].Add(PerToken(m.Model));
            var result = models.Select(m => new DecodeResult(m.Name, all[m.Name].Order().ElementAt(1), m.Bytes)).ToList();
            foreach (var m in models) m.Model.Dispose();
            return result;
        }
        finally { try { Directory.Delete(work, recursive: true); } catch (IOException) { } }
    }

    /// <summary>Memory read bandwidth in GB/s: <paramref name="threads"/> threads summing a 1 GB buffer, best of 5.</summary>
    public static double Bandwidth(int threads)
    {
        const long bytes = 1L << 30;
        var buffer = new float[bytes / 4];
        Array.Fill(buffer, 1f); // every page written: untouched pages all map to one zero page and read from the cache
        double best = 0;
        for (int rep = 0; rep < 5; rep++)
        {
            var sw = Stopwatch.StartNew();
            var sums = new float[threads];
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
            {
                int n = (int)(bytes / 4 / threads);
                var v = System.Runtime.InteropServices.MemoryMarshal.Cast<float, Vector256<float>>(buffer.AsSpan(t * n, n));
                Vector256<float> a = default, b = default;
                for (int i = 0; i + 2 <= v.Length; i += 2) { a += v[i]; b += v[i + 1]; }
                sums[t] = Vector256.Sum(a + b);
            });
            best = Math.Max(best, bytes / sw.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }

    /// <summary>Median ms of y = x·Wᵀ + b for x (M, K), W (N, K): libtorch fp32, the int8 dynamic kernels, and the row quantization alone.</summary>
    public static unsafe (double Fp32, double Int8, double Quantize) Gemm(int m, int k, int n)
    {
        using var _ = inference_mode();
        var x = randn(m, k); var w = randn(n, k); var b = randn(n);
        var (q, scale) = Int8Quantization.PerChannel(w, 0, 63);
        var layer = QuantizedLinear.FromTensors(q, scale, inOut: false, weightOnly: false);
        double Time(Action a)
        {
            for (int i = 0; i < 3; i++) a();
            var t = new List<double>();
            var total = Stopwatch.StartNew();
            while (t.Count < 5 || total.Elapsed.TotalSeconds < 0.5 && t.Count < 200) { var sw = Stopwatch.StartNew(); a(); t.Add(sw.Elapsed.TotalMilliseconds); }
            t.Sort();
            return t[t.Count / 2];
        }
        SmallGemm.Enabled = false;
        double fp32 = Time(() => { using var y = nn.functional.linear(x, w, b); });
        SmallGemm.Enabled = true;
        double int8 = Time(() => { using var y = layer.TryForward(x, b)!; });
        var xq = new byte[m * Int8Gemm.PaddedK(k)]; var xs = new float[m]; var xz = new int[m];
        var xd = x.data<float>().ToArray();
        double quantize = Time(() => { fixed (float* px = xd, ps = xs) fixed (byte* pq = xq) fixed (int* pz = xz) Int8Gemm.QuantizeRows(px, m, k, pq, ps, pz); });
        return (fp32, int8, quantize);
    }

    public static string LoadAverage()
    {
        try { return string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); } catch { return "unknown"; }
    }
}
