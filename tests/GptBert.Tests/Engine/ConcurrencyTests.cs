using GptBert.Engine;
using GptBert.Models;
using GptBert.Pipelines;
using GptBert.Tests.Models;
using static TorchSharp.torch;
using Generator = GptBert.Pipelines.Generator;

namespace GptBert.Tests.Engine;

/// <summary>
/// The thread-safety contract (README, "Thread safety"): a loaded model serves concurrent callers with the results it gives
/// one caller at a time. Run with the production settings: 2 threads, the small-batch kernels, their worker pool and prefetch.
/// </summary>
public class ConcurrencyTests
{
    static void Production() => TorchRuntime.Configure(new RuntimeOptions { Threads = 2, SmallKernels = true, SingleThreadedSmallForwards = true });
    static void Restore() => TorchRuntime.Configure(new RuntimeOptions { Threads = 1 });

    [Fact]
    public void WorkersRunEveryPartExactlyOnceForEveryCaller()
    {
        const int callers = 8, calls = 400;
        var failures = 0;
        Parallel.For(0, callers, new ParallelOptions { MaxDegreeOfParallelism = callers }, c =>
        {
            for (int n = 0; n < calls; n++)
            {
                int parts = 2 + (c + n) % 3;
                var hits = new int[parts];
                Workers.Run(parts, p => { Interlocked.Increment(ref hits[p]); Thread.SpinWait(50); });
                if (hits.Any(h => h != 1)) Interlocked.Increment(ref failures);
            }
        });
        Assert.Equal(0, failures);
        Assert.True(Workers.Count >= 1); // the pool grew to serve the callers (other tests may have grown it further)
    }

    [Fact]
    public void ConcurrentEmbeddingsEqualSerialOnesBitForBit()
    {
        TestUtil.Init();
        Production();
        try
        {
            using var h = ModelHub.Load("minilm", architecture: null, tokenizer: null, device: "cpu", requireHead: false);
            var embedder = new Embedder(h);
            var texts = Enumerable.Range(0, 12).Select(i => string.Join(' ', Enumerable.Repeat($"word{i} and some text", 1 + i % 6))).ToArray();
            var serialOne = texts.Select(t => embedder.Embed([t])[0]).ToArray();
            var serialAll = embedder.Embed(texts);
            int mismatches = 0;
            Parallel.For(0, 6, new ParallelOptions { MaxDegreeOfParallelism = 6 }, w =>
            {
                for (int round = 0; round < 4; round++)
                {
                    for (int i = w % 3; i < texts.Length; i += 3)
                        if (!embedder.Embed([texts[i]])[0].SequenceEqual(serialOne[i])) Interlocked.Increment(ref mismatches);
                    var all = embedder.Embed(texts);
                    for (int i = 0; i < texts.Length; i++) if (!all[i].SequenceEqual(serialAll[i])) Interlocked.Increment(ref mismatches);
                }
            });
            Assert.Equal(0, mismatches);
        }
        finally { Restore(); }
    }

    [Fact]
    public async Task ConcurrentGenerationsEqualSerialOnes()
    {
        TestUtil.Init(3);
        Production();
        try
        {
            // Wide enough (768) that decoding products are split over the worker pool.
            var c = new Gpt2Config { VocabSize = 101, NPositions = 64, NEmbd = 768, NLayer = 2, NHead = 12, ResidPdrop = 0, EmbdPdrop = 0, AttnPdrop = 0, EosTokenId = null };
            using var m = new GPT2LMHeadModel(c);
            m.eval();
            using var h = new ModelHandle { Model = m, Tokenizer = new FakeTokenizer(c.VocabSize), Source = "wide", Directory = ".", Device = CPU, MaxLength = 64 };
            var gen = new Generator(h);
            string[] prompts = ["1 2 3 4 5 6 7 8", "9 8 7", "50 60 70 80 90 100", "11", "42 42 42 42 42 42 42 42 42 42", "3 33"];
            var options = prompts.Select((_, i) => new GenerationOptions { MaxNewTokens = 8, Seed = i, TopK = 0, StopAtEos = false }).ToArray();
            var serial = prompts.Select((p, i) => gen.Generate(p, options[i])).ToArray();
            var serialLogProbs = new List<double>[prompts.Length];
            for (int i = 0; i < prompts.Length; i++)
            {
                serialLogProbs[i] = [];
                await foreach (var t in gen.GenerateAsync(prompts[i], options[i])) serialLogProbs[i].Add(t.LogProb);
            }
            var concurrent = await Task.WhenAll(Enumerable.Range(0, 3 * prompts.Length).Select(k => Task.Run(async () =>
            {
                int i = k % prompts.Length;
                var lp = new List<double>();
                var ids = new List<int>();
                await foreach (var t in gen.GenerateAsync(prompts[i], options[i])) { lp.Add(t.LogProb); if (t.Id >= 0) ids.Add(t.Id); }
                return (i, ids, lp);
            })));
            foreach (var (i, ids, lp) in concurrent)
            {
                Assert.Equal(serial[i].Ids, ids);
                Assert.Equal(serialLogProbs[i], lp); // the same floating-point results, not merely close ones
            }
        }
        finally { Restore(); }
    }
}
