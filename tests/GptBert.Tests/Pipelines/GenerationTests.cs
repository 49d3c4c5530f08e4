using GptBert.Data;
using GptBert.Models;
using GptBert.Pipelines;
using GptBert.Tests.Models;
using static TorchSharp.torch;
using Generator = GptBert.Pipelines.Generator;

namespace GptBert.Tests.Pipelines;

/// <summary>
/// Decoding semantics: stop strings across token boundaries, streamed text = returned text, end-of-text from config.json,
/// async = sync, cancellation, and continuous batching = one sequence at a time. The fake tokenizer writes token i as " i",
/// so the text of every token sequence is known in advance.
/// </summary>
public class GenerationTests
{
    static ModelHandle Tiny(int positions = 64, int? eos = null)
    {
        TestUtil.Init(7);
        var c = new Gpt2Config
        {
            VocabSize = 101, NPositions = positions, NEmbd = 32, NLayer = 2, NHead = 4, ResidPdrop = 0, EmbdPdrop = 0, AttnPdrop = 0,
            BosTokenId = null, EosTokenId = eos,
        };
        var m = new GPT2LMHeadModel(c);
        m.eval();
        return new ModelHandle { Model = m, Tokenizer = new FakeTokenizer(c.VocabSize), Source = "tiny", Directory = ".", Device = CPU, MaxLength = positions };
    }

    static string TextOf(IEnumerable<int> ids) => string.Concat(ids.Select(i => $" {i}"));

    static readonly GenerationOptions Greedy = new() { Greedy = true, MaxNewTokens = 16, StopAtEos = false };
    /// <summary>Seeded sampling over the whole vocabulary: varied tokens (a random tiny model's greedy output repeats one token).</summary>
    static readonly GenerationOptions Varied = new() { TopK = 0, Seed = 5, MaxNewTokens = 16, StopAtEos = false };

    [Fact]
    public void StopStringAcrossTokensIsNeverStreamedAndStreamEqualsResult()
    {
        using var h = Tiny();
        var gen = new Generator(h);
        var free = gen.Generate("5 17 3", Varied);
        Assert.Equal(16, free.Ids.Count);
        Assert.Equal(TextOf(free.Ids), free.Text);
        // A stop string made of the end of token 4's text and the start of token 5's: it completes only at token 5.
        string t4 = $" {free.Ids[4]}", t5 = $" {free.Ids[5]}";
        string stop = t4[^1..] + t5[..2];
        int expectedEnd = free.Text.IndexOf(stop, StringComparison.Ordinal);
        Assert.True(expectedEnd >= 0);
        var streamed = new List<GeneratedToken>();
        var result = gen.Generate("5 17 3", Varied with { Stop = [stop] }, streamed.Add);
        Assert.Equal(FinishReason.Stop, result.Finish);
        Assert.Equal(free.Text[..expectedEnd], result.Text);
        Assert.Equal(result.Text, string.Concat(streamed.Select(t => t.TextDelta)));
        Assert.DoesNotContain(stop, string.Concat(streamed.Select(t => t.TextDelta)));
        Assert.Equal(FinishReason.Stop, streamed[^1].Finish);
        Assert.All(streamed.SkipLast(1), t => Assert.Null(t.Finish));
    }

    [Fact]
    public void TextThatMayStartAStopStringIsHeldBackUntilDecided()
    {
        using var h = Tiny();
        var gen = new Generator(h);
        var free = gen.Generate("9 9", Varied);
        // A stop string that starts like token j's text but never occurs: everything is released by the end, nothing lost.
        int j = Enumerable.Range(1, free.Ids.Count - 2).First(k => !TextOf(free.Ids.Take(k)).EndsWith($" {free.Ids[k]}"));
        string never = $" {free.Ids[j]}XYZ";
        var deltas = new List<string>();
        var result = gen.Generate("9 9", Varied with { Stop = [never] }, t => deltas.Add(t.TextDelta));
        Assert.Equal(FinishReason.Length, result.Finish);
        Assert.Equal(free.Text, result.Text);
        Assert.Equal(free.Text, string.Concat(deltas));
        // While token j's text could still become the stop string, it was not released.
        Assert.True(string.Concat(deltas.Take(j + 1)).Length <= TextOf(free.Ids.Take(j)).Length);
        Assert.StartsWith(string.Concat(deltas.Take(j + 1)), free.Text);
    }

    [Fact]
    public void StopsAtTheConfigsEndOfTextToken()
    {
        using var free = Tiny();
        var ids = new Generator(free).Generate("1 2 3", Varied).Ids;
        // The same weights and draws with eos_token_id = a token first drawn at step k: generation ends there, and the
        // end-of-text token's text is not returned.
        int k = Enumerable.Range(1, ids.Count - 1).First(i => !ids.Take(i).Contains(ids[i]));
        using var h = Tiny(eos: ids[k]);
        var result = new Generator(h).Generate("1 2 3", Varied with { StopAtEos = true });
        Assert.Equal(FinishReason.EndOfText, result.Finish);
        Assert.Equal(ids.Take(k + 1), result.Ids);
        Assert.Equal(TextOf(ids.Take(k)), result.Text);
    }

    [Fact]
    public async Task AsyncStreamEqualsSyncResultAndCarriesLogProbs()
    {
        using var h = Tiny();
        var gen = new Generator(h);
        var options = new GenerationOptions { MaxNewTokens = 12, Seed = 3, TopK = 20, TopP = 0.9, StopAtEos = false };
        var sync = gen.Generate("4 8 15", options);
        var items = new List<GeneratedToken>();
        await foreach (var t in gen.GenerateAsync("4 8 15", options)) items.Add(t);
        Assert.Equal(sync.Ids, items.Where(t => t.Id >= 0).Select(t => t.Id));
        Assert.Equal(sync.Text, string.Concat(items.Select(t => t.TextDelta)));
        Assert.All(items, t => Assert.True(t.LogProb <= 0 && t.LogProb > -50));
        Assert.Equal(FinishReason.Length, items[^1].Finish);
    }

    [Fact]
    public async Task GreedyLogProbIsTheSoftmaxOfTheLogits()
    {
        using var h = Tiny();
        var gen = new Generator(h);
        var first = await gen.GenerateAsync("4 8 15", Greedy with { MaxNewTokens = 1 }).FirstAsync();
        using var _ = inference_mode();
        var logits = ((GPT2LMHeadModel)h.Model).Forward(tensor(new long[] { 4, 8, 15 }, [1, 3]))[0, -1];
        var expected = nn.functional.log_softmax(logits.to(ScalarType.Float64), 0)[first.Id].item<double>();
        Assert.Equal(logits.argmax().item<long>(), first.Id);
        Assert.Equal(expected, first.LogProb, 5);
    }

    [Fact]
    public async Task CancellationStopsBetweenSteps()
    {
        using var h = Tiny(positions: 512);
        var gen = new Generator(h);
        using var cts = new CancellationTokenSource();
        int seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in gen.GenerateAsync("1 2", Greedy with { MaxNewTokens = 500 }, cts.Token))
                if (++seen == 3) cts.Cancel();
        });
        Assert.InRange(seen, 3, 4);
        // The sync path honours the token too.
        Assert.ThrowsAny<OperationCanceledException>(() => gen.Generate("1 2", Greedy, cancellationToken: new CancellationToken(true)));
    }

    [Fact]
    public async Task ContinuousBatchingGivesEachSequenceItsOwnResult()
    {
        using var h = Tiny(positions: 64);
        var gen = new Generator(h);
        string[] prompts = ["1", "5 17 3 99 2", "8 8", "40 41 42 43 44 45 46 47 48", "7 7 7", "13 1"];
        var greedy = prompts.Select((p, i) => Greedy with { MaxNewTokens = 6 + 3 * i }).ToArray();
        var sampled = prompts.Select((p, i) => new GenerationOptions { MaxNewTokens = 10, Seed = 100 + i, TopK = 30, TopP = 0.95, StopAtEos = false }).ToArray();
        var serialGreedy = prompts.Select((p, i) => gen.Generate(p, greedy[i])).ToArray();
        var serialSampled = prompts.Select((p, i) => gen.Generate(p, sampled[i])).ToArray();

        int maxBatch = 0;
        await using var scheduler = new GenerationScheduler(h, maxBatchSize: 4) { OnStep = b => maxBatch = Math.Max(maxBatch, b) };
        var tasks = prompts.Select((p, i) => scheduler.GenerateTextAsync(gen.EncodePrompt(p, greedy[i]), greedy[i]))
            .Concat(prompts.Select((p, i) => scheduler.GenerateTextAsync(gen.EncodePrompt(p, sampled[i]), sampled[i]))).ToArray();
        var results = await Task.WhenAll(tasks);
        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(serialGreedy[i].Ids, results[i].Ids);
            Assert.Equal(serialGreedy[i].Text, results[i].Text);
            Assert.Equal(serialSampled[i].Ids, results[prompts.Length + i].Ids);
        }
        Assert.Equal(4, maxBatch); // the batch filled up to its limit
        Assert.Equal(0, scheduler.Active);
    }

    [Fact]
    public async Task SchedulerDropsACancelledStreamAndKeepsServingTheOthers()
    {
        using var h = Tiny(positions: 256);
        var gen = new Generator(h);
        await using var scheduler = new GenerationScheduler(h);
        var opts = Greedy with { MaxNewTokens = 30 };
        var expected = gen.Generate("3 1 4", opts);
        using var cts = new CancellationTokenSource();
        var doomed = Task.Run(async () =>
        {
            int n = 0;
            await foreach (var _ in scheduler.GenerateAsync(gen.EncodePrompt("2 7 1", opts), opts with { MaxNewTokens = 200 }, cts.Token))
                if (++n == 5) cts.Cancel();
        });
        var survivor = scheduler.GenerateTextAsync(gen.EncodePrompt("3 1 4", opts), opts);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => doomed);
        var result = await survivor;
        Assert.Equal(expected.Ids, result.Ids);
        for (int i = 0; i < 100 && scheduler.Active > 0; i++) await Task.Delay(10);
        Assert.Equal(0, scheduler.Active);
    }

    [Fact]
    public void PromptsThatCannotFitAreRefusedWithTheSettingNamed()
    {
        using var h = Tiny(positions: 16);
        var gen = new Generator(h);
        var e = Assert.Throws<GptBertException>(() => gen.Generate("1 2 3 4 5 6 7 8 9 10", Greedy with { Overflow = Overflow.Refuse }));
        Assert.Equal("MaxNewTokens", e.Parameter);
        var bad = Assert.Throws<GptBertException>(() => new GenerationOptions { TopP = 0 }.Validate());
        Assert.Equal("TopP", bad.Parameter);
        Assert.StartsWith("TopP", bad.Message);
    }
}

/// <summary>Each logits processor by explicit arithmetic, and sampling frequencies against the filtered distribution.</summary>
public class SamplingTests
{
    [Fact]
    public void TopKKeepsTiesAtTheBoundary()
    {
        float[] x = [1, 5, 3, 5, 2, 3, 0];
        LogitsProcessing.TopK(x, 3); // the 3rd largest is 3, and both 3s stay
        Assert.Equal(new float[] { float.NegativeInfinity, 5, 3, 5, float.NegativeInfinity, 3, float.NegativeInfinity }, x);
    }

    [Fact]
    public void TopPKeepsTheSmallestHeadThatReachesP()
    {
        // probabilities 0.5, 0.25, 0.125, 0.125 (log-space): p = 0.7 needs the first two; p = 0.75 exactly reaches with two
        // (tail 0.25 ≤ 0.25 is removed); p = 0.76 needs three.
        float[] logits = [MathF.Log(0.5f), MathF.Log(0.25f), MathF.Log(0.125f), MathF.Log(0.125f)];
        int Kept(double p) { var x = (float[])logits.Clone(); LogitsProcessing.TopP(x, p); return x.Count(v => !float.IsNegativeInfinity(v)); }
        Assert.Equal(2, Kept(0.7));
        Assert.Equal(3, Kept(0.76));
        Assert.Equal(1, Kept(0.3));
        Assert.Equal(1, Kept(1e-9)); // min_tokens_to_keep
        Assert.Equal(4, Kept(1.0));
    }

    [Fact]
    public void RepetitionPenaltyDividesPositiveAndMultipliesNegative()
    {
        float[] x = [2, -2, 1, 4];
        LogitsProcessing.RepetitionPenalty(x, [0, 1, 1, 3, 0], 2.0);
        Assert.Equal(new float[] { 1, -4, 1, 2 }, x); // each id once, however often it occurs
    }

    [Fact]
    public void SampledFrequenciesMatchTheFilteredDistribution()
    {
        float[] logits = [2.0f, 1.5f, 1.4f, 0.3f, -0.5f, 1.0f, -2f, 0.9f, 0.0f, 1.45f];
        var o = new GenerationOptions { Temperature = 0.8, TopK = 6, TopP = 0.9 };
        // Expected by hand: scale by 1/T, keep the 6 largest, softmax, keep the smallest head reaching 0.9, renormalise.
        var scaled = logits.Select(v => v / 0.8).ToArray();
        var top6 = Enumerable.Range(0, 10).OrderByDescending(i => scaled[i]).Take(6).ToArray();
        var w = top6.Select(i => Math.Exp(scaled[i])).ToArray();
        double z = w.Sum();
        var kept = new List<int>();
        double mass = 0;
        for (int j = 0; j < top6.Length && mass < 0.9; j++) { kept.Add(top6[j]); mass += w[j] / z; }
        var expected = new double[10];
        double keptZ = kept.Sum(i => Math.Exp(scaled[i]));
        foreach (var i in kept) expected[i] = Math.Exp(scaled[i]) / keptZ;

        var rng = new SeededRandom(11);
        const int N = 40_000;
        var counts = new int[10];
        for (int n = 0; n < N; n++) counts[Sampling.Next(logits, [], o, rng).Id]++;
        for (int i = 0; i < 10; i++) if (expected[i] == 0) Assert.Equal(0, counts[i]);
        double chi2 = kept.Sum(i => Math.Pow(counts[i] - N * expected[i], 2) / (N * expected[i]));
        // df = kept − 1 ≤ 5; the 0.999 quantile of χ²(5) is 20.5.
        Assert.True(chi2 < 20.5, $"chi-square {chi2:F2} over {kept.Count} tokens");
    }

    [Fact]
    public void LogProbIsThatOfTheFilteredDistribution()
    {
        float[] logits = [3f, 1f, 0f, -1f];
        var (id, logProb) = Sampling.Next(logits, [], new GenerationOptions { TopK = 2 }, new SeededRandom(1));
        double z = Math.Exp(3) + Math.Exp(1);
        Assert.Equal(Math.Log(Math.Exp(logits[id]) / z), logProb, 10);
    }
}
