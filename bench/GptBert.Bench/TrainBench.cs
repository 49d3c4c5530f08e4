using System.Diagnostics;
using GptBert.Engine;
using GptBert.Models;
using GptBert.Training;
using static TorchSharp.torch;

namespace GptBert.Bench;

/// <summary>
/// Training throughput of a GPT and a BERT of the same size (~10M parameters, 128-token sequences),
/// as tokens/s and as model FLOPs utilisation: 6 · parameters · tokens/s over the throughput of a large
/// fp32 matmul measured in the same process.
/// </summary>
public static class TrainBench
{
    public sealed record Result(string Name, string Precision, long Parameters, double StepMs, double TokensPerSecond, double ModelGflops, double Mfu);

    public static double MatmulGflops(int n = 2048, int reps = 10)
    {
        using var _ = no_grad();
        var a = randn(n, n); var b = randn(n, n);
        for (int i = 0; i < 3; i++) a.matmul(b).Dispose();
        var times = new List<double>();
        for (int i = 0; i < reps; i++) { var sw = Stopwatch.StartNew(); a.matmul(b).Dispose(); times.Add(sw.Elapsed.TotalSeconds); }
        times.Sort();
        return 2.0 * n * n * n / times[times.Count / 2] / 1e9;
    }

    public static Result Run(string arch, double peakGflops, ScalarType? precision = null, int batch = 16, int seq = 128, int steps = 8)
    {
        const int vocab = 8192;
        TorchRuntime.Seed(1);
        PretrainedModel model = arch == "gpt"
            ? new GPT2LMHeadModel(new Gpt2Config { VocabSize = vocab, NPositions = seq, NEmbd = 320, NLayer = 6, NHead = 8 })
            : new BertForMaskedLM(new BertConfig { VocabSize = vocab, MaxPositionEmbeddings = seq, HiddenSize = 320, NumHiddenLayers = 6, NumAttentionHeads = 8, IntermediateSize = 1280 });
        model.train();
        var opt = optim.AdamW(model.parameters(), 1e-4, 0.9, 0.999, 1e-8, 0.01, false, false);
        var ids = randint(0, vocab, [batch, seq]);
        var labels = arch == "gpt" ? ids : ids.clone().masked_fill(rand(batch, seq).gt(0.15), -100);
        var times = new List<double>();
        for (int s = 0; s < steps + 2; s++)
        {
            var sw = Stopwatch.StartNew();
            using (var scope = NewDisposeScope())
            {
                opt.zero_grad();
                Tensor logits;
                using (MixedPrecision.Use(precision))
                    logits = model switch
                    {
                        GPT2LMHeadModel g => g.Forward(ids),
                        BertForMaskedLM b => b.Forward(ids),
                        _ => throw new InvalidOperationException(),
                    };
                var loss = arch == "gpt"
                    ? GPT2LMHeadModel.CausalLmLoss(logits, labels)
                    : nn.functional.cross_entropy(logits.reshape(-1, vocab), labels.reshape(-1), ignore_index: -100);
                loss.backward();
                nn.utils.clip_grad_norm_(model.parameters(), 1.0);
                opt.step();
                loss.item<float>();
            }
            if (s >= 2) times.Add(sw.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        double ms = times[times.Count / 2];
        long n = model.ParameterCount;
        double tps = batch * seq / (ms / 1000);
        double gflops = 6.0 * n * tps / 1e9;
        var result = new Result(arch == "gpt" ? "GPT-2 (GPT2LMHeadModel)" : "BERT (BertForMaskedLM)", MixedPrecision.Name(precision), n, ms, tps, gflops, gflops / peakGflops);
        model.Dispose(); opt.Dispose();
        return result;
    }
}
