using System.Diagnostics;
using GptBert.Engine;
using GptBert.Models;
using static TorchSharp.torch;

namespace GptBert.Bench;

/// <summary>
/// Latency of one incremental decoding step of GPT-2 124M (KV cache, batch 1, random weights: the time does not
/// depend on them), with GptBert's small-batch kernels and with every product through libtorch (MKL).
/// </summary>
public static class DecodeBench
{
    public static (double Ours, double Mkl) Run(int steps = 32, int rounds = 3)
    {
        TorchRuntime.Seed(1);
        using var model = new GPT2LMHeadModel(Gpt2Config.Small());
        model.eval();
        var prompt = randint(0, 50257, [1, 16]);
        double PerToken(bool kernels)
        {
            SmallGemm.Enabled = kernels;
            return MsPerToken(model, prompt, steps, rounds);
        }
        // Alternate so that drift on a shared machine hits both alike.
        var ours = new List<double>(); var mkl = new List<double>();
        for (int i = 0; i < 3; i++) { ours.Add(PerToken(true)); mkl.Add(PerToken(false)); }
        SmallGemm.Enabled = true;
        return (ours.Order().ElementAt(1), mkl.Order().ElementAt(1));
    }

    /// <summary>Median milliseconds per greedy decoding step after the prompt (KV cache, batch 1), over rounds after one warm-up.</summary>
    public static double MsPerToken(GPT2LMHeadModel model, Tensor prompt, int steps, int rounds)
    {
        var times = new List<double>();
        for (int rep = 0; rep <= rounds; rep++)
        {
            using var _ = inference_mode();
            using var cache = new KvCache();
            using var scope = NewDisposeScope();
            var next = model.Forward(prompt, cache: cache)[.., -1].argmax(-1).unsqueeze(1);
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < steps; i++)
            {
                next = model.Forward(next, cache: cache)[.., -1].argmax(-1).unsqueeze(1);
                next.item<long>();
            }
            if (rep > 0) times.Add(sw.Elapsed.TotalMilliseconds / steps); // round 0 warms up
        }
        times.Sort();
        return times[times.Count / 2];
    }
}
