using GptBert.Checkpoints;
using GptBert.Models;
using GptBert.Pipelines;
using static TorchSharp.torch;

namespace GptBert.Tests.Models;

public class Gpt2Tests
{
    static Gpt2Config Tiny(int layers = 2) => new()
    {
        VocabSize = 101, NPositions = 32, NEmbd = 32, NLayer = layers, NHead = 4,
        ResidPdrop = 0, EmbdPdrop = 0, AttnPdrop = 0,
    };

    [Fact]
    public void ParameterNamesAndShapesAreHuggingFaces()
    {
        TestUtil.Init();
        using var m = new GPT2LMHeadModel(Gpt2Config.Small());
        var sd = m.state_dict();
        // Keys and shapes as transformers' GPT2LMHeadModel (gpt2, 124M) stores them; lm_head is tied to wte.
        Assert.Equal([50257, 768], sd["transformer.wte.weight"].shape);
        Assert.Equal([1024, 768], sd["transformer.wpe.weight"].shape);
        Assert.Equal([768, 2304], sd["transformer.h.0.attn.c_attn.weight"].shape);
        Assert.Equal([2304], sd["transformer.h.0.attn.c_attn.bias"].shape);
        Assert.Equal([768, 768], sd["transformer.h.11.attn.c_proj.weight"].shape);
        Assert.Equal([768, 3072], sd["transformer.h.0.mlp.c_fc.weight"].shape);
        Assert.Equal([3072, 768], sd["transformer.h.0.mlp.c_proj.weight"].shape);
        Assert.Equal([768], sd["transformer.h.0.ln_1.weight"].shape);
        Assert.Equal([768], sd["transformer.ln_f.bias"].shape);
        Assert.Equal(12 * 12 + 4, sd.Count); // 12 tensors per block + wte, wpe, ln_f.weight, ln_f.bias
        Assert.Equal(124_439_808, m.ParameterCount); // published size of gpt2 (tied head counted once)
    }

    [Fact]
    public void OneLayerMatchesExplicitArithmetic()
    {
        TestUtil.Init();
        var c = Tiny(layers: 1);
        using var m = new GPT2LMHeadModel(c);
        m.eval();
        var ids = TestUtil.RandomIds(c.VocabSize, 2, 7);
        using var _ = no_grad();
        var logits = m.Forward(ids);

        var w = m.state_dict();
        Tensor W(string k) => w["transformer." + k];
        Tensor Ln(Tensor x, string p)
        {
            var mu = x.mean([-1], keepdim: true);
            var v = (x - mu).pow(2).mean([-1], keepdim: true);
            return (x - mu) / (v + c.LayerNormEpsilon).sqrt() * W(p + ".weight") + W(p + ".bias");
        }
        long B = 2, T = 7, C = 32, nh = 4, hs = 8;
        var x = W("wte.weight").index_select(0, ids.flatten()).view(B, T, C) + W("wpe.weight")[..(int)T];
        var a = Ln(x, "h.0.ln_1").matmul(W("h.0.attn.c_attn.weight")) + W("h.0.attn.c_attn.bias"); // (B, T, 3C)
        var q = a[.., .., ..(int)C].view(B, T, nh, hs).permute(0, 2, 1, 3);
        var k = a[.., .., (int)C..(int)(2 * C)].view(B, T, nh, hs).permute(0, 2, 1, 3);
        var v = a[.., .., (int)(2 * C)..].view(B, T, nh, hs).permute(0, 2, 1, 3);
        var scores = q.matmul(k.transpose(-1, -2)) / Math.Sqrt(hs);
        var causal = ones(T, T).tril().eq(0);
        var att = scores.masked_fill(causal, double.NegativeInfinity).softmax(-1);
        var y = att.matmul(v).permute(0, 2, 1, 3).reshape(B, T, C);
        x = x + y.matmul(W("h.0.attn.c_proj.weight")) + W("h.0.attn.c_proj.bias");
        var hdn = Ln(x, "h.0.ln_2").matmul(W("h.0.mlp.c_fc.weight")) + W("h.0.mlp.c_fc.bias");
        var gelu = 0.5 * hdn * (1 + (Math.Sqrt(2 / Math.PI) * (hdn + 0.044715 * hdn.pow(3))).tanh()); // gelu_new
        x = x + gelu.matmul(W("h.0.mlp.c_proj.weight")) + W("h.0.mlp.c_proj.bias");
        var expected = Ln(x, "ln_f").matmul(W("wte.weight").t());

        Assert.True(TestUtil.MaxAbsDiff(logits, expected) < 1e-4, $"max diff {TestUtil.MaxAbsDiff(logits, expected)}");
    }

    [Fact]
    public void LogitsAreCausal()
    {
        TestUtil.Init();
        var c = Tiny();
        using var m = new GPT2LMHeadModel(c);
        m.eval();
        using var _ = no_grad();
        var ids = TestUtil.RandomIds(c.VocabSize, 1, 10);
        var before = m.Forward(ids);
        var changed = ids.clone();
        changed[0, 6] = (changed[0, 6] + 1) % c.VocabSize;
        var after = m.Forward(changed);
        Assert.Equal(0.0, TestUtil.MaxAbsDiff(before[.., ..6], after[.., ..6]));
        Assert.True(TestUtil.MaxAbsDiff(before[.., 6..], after[.., 6..]) > 1e-4, "a changed token must change its own and later logits");
    }

    [Fact]
    public void PaddingMaskGivesSameLogitsAsUnpadded()
    {
        TestUtil.Init();
        var c = Tiny();
        using var m = new GPT2LMHeadModel(c);
        m.eval();
        using var _ = no_grad();
        var ids = TestUtil.RandomIds(c.VocabSize, 1, 6);
        var alone = m.Forward(ids);
        // Right padding: real tokens' logits unchanged.
        var padded = cat([ids, zeros(1, 3, dtype: ScalarType.Int64)], 1);
        var mask = cat([ones(1, 6, dtype: ScalarType.Int64), zeros(1, 3, dtype: ScalarType.Int64)], 1);
        Assert.True(TestUtil.MaxAbsDiff(alone, m.Forward(padded, mask)[.., ..6]) < 1e-5);
        // Left padding: positions start at the first real token, as transformers' generate() does.
        var left = cat([zeros(1, 3, dtype: ScalarType.Int64), ids], 1);
        var lmask = cat([zeros(1, 3, dtype: ScalarType.Int64), ones(1, 6, dtype: ScalarType.Int64)], 1);
        Assert.True(TestUtil.MaxAbsDiff(alone, m.Forward(left, lmask)[.., 3..]) < 1e-5);
    }

    [Fact]
    public void KvCacheMatchesFullRecomputation()
    {
        TestUtil.Init();
        var c = Tiny();
        using var m = new GPT2LMHeadModel(c);
        m.eval();
        using var _ = no_grad();
        var ids = TestUtil.RandomIds(c.VocabSize, 1, 12);
        var full = m.Forward(ids);
        using var cache = new KvCache();
        var first = m.Forward(ids[.., ..5], cache: cache);
        var steps = new List<Tensor> { first };
        for (int t = 5; t < 12; t++) steps.Add(m.Forward(ids[.., t..(t + 1)], cache: cache));
        Assert.Equal(12, cache.Length);
        Assert.True(TestUtil.MaxAbsDiff(full, cat(steps, 1)) < 1e-5);
    }

    [Fact]
    public void CachedGreedyGenerationEqualsUncachedTokenForToken()
    {
        TestUtil.Init();
        var c = Tiny();
        c.NPositions = 64;
        using var m = new GPT2LMHeadModel(c);
        m.eval();
        var handle = new ModelHandle { Model = m, Tokenizer = new FakeTokenizer(c.VocabSize), Source = "tiny", Directory = ".", Device = CPU, MaxLength = 64 };
        var gen = new GptBert.Pipelines.Generator(handle);
        var opts = new GenerationOptions { Greedy = true, MaxNewTokens = 20, StopAtEos = false };
        var cached = gen.Generate("5 17 3 99", opts).Ids;
        var uncached = gen.Generate("5 17 3 99", opts with { UseCache = false }).Ids;
        Assert.Equal(20, cached.Count);
        Assert.Equal(uncached, cached);
        // Sampling with a seed is reproducible, and uses the cache the same way.
        var s1 = gen.Generate("5 17", opts with { Greedy = false, Seed = 7, TopK = 10, TopP = 0.9 }).Ids;
        var s2 = gen.Generate("5 17", opts with { Greedy = false, Seed = 7, TopK = 10, TopP = 0.9, UseCache = false }).Ids;
        Assert.Equal(s1, s2);
    }

    [Fact]
    public void SaveLoadForwardIsExact()
    {
        TestUtil.Init();
        var c = Tiny();
        using var m = new GPT2LMHeadModel(c);
        m.eval();
        var dir = TestUtil.TempDir("gpt2");
        m.SavePretrained(dir);
        Assert.True(File.Exists(Path.Combine(dir, "config.json")));
        var keys = SafeTensors.ReadHeader(Path.Combine(dir, "model.safetensors")).Keys.ToList();
        Assert.Contains("transformer.h.0.attn.c_attn.weight", keys);
        Assert.DoesNotContain("lm_head.weight", keys); // tied weights stored once, as transformers does

        var (loaded, report) = ModelFactory.Load(dir);
        Assert.IsType<GPT2LMHeadModel>(loaded);
        Assert.Empty(report.NewlyInitialized);
        using var _ = no_grad();
        var ids = TestUtil.RandomIds(c.VocabSize, 2, 9);
        Assert.Equal(0.0, TestUtil.MaxAbsDiff(m.Forward(ids), ((GPT2LMHeadModel)loaded).Forward(ids)));
    }

    [Fact]
    public void LoadsBareOriginalKeysWithAttentionBuffers()
    {
        TestUtil.Init();
        var c = Tiny();
        using var m = new GPT2LMHeadModel(c);
        m.eval();
        // The original gpt2 checkpoint: no "transformer." prefix, with attn.bias / attn.masked_bias buffers.
        var bare = m.state_dict().ToDictionary(kv => kv.Key["transformer.".Length..], kv => kv.Value);
        for (int i = 0; i < c.NLayer; i++)
        {
            bare[$"h.{i}.attn.bias"] = ones(1, 1, c.NPositions, c.NPositions).tril();
            bare[$"h.{i}.attn.masked_bias"] = tensor(-1e4f);
        }
        using var fresh = new GPT2LMHeadModel(c);
        fresh.eval();
        var report = fresh.LoadStateDict(bare, "bare");
        Assert.Empty(report.NewlyInitialized);
        Assert.Empty(report.Unused);
        using var _ = no_grad();
        var ids = TestUtil.RandomIds(c.VocabSize, 1, 8);
        Assert.Equal(0.0, TestUtil.MaxAbsDiff(m.Forward(ids), fresh.Forward(ids)));

        // And a head checkpoint into the bare GPT2Model.
        using var baseModel = new GPT2Model(c);
        Assert.Empty(baseModel.LoadStateDict(m.state_dict(), "prefixed").NewlyInitialized);
    }

    [Fact]
    public void ShapeMismatchNamesTensorAndBothShapes()
    {
        TestUtil.Init();
        var c = Tiny();
        using var m = new GPT2LMHeadModel(c);
        var sd = m.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value);
        sd["transformer.h.1.mlp.c_fc.weight"] = zeros(32, 64);
        var e = Assert.Throws<GptBertException>(() => m.LoadStateDict(sd, "ckpt"));
        Assert.Contains("transformer.h.1.mlp.c_fc.weight", e.Message);
        Assert.Contains("[32, 64]", e.Message);
        Assert.Contains("[32, 128]", e.Message);
    }

    [Fact]
    public void SequenceClassificationUsesLastRealToken()
    {
        TestUtil.Init();
        var c = Tiny();
        c.SetLabels(["neg", "pos", "neutral"]);
        using var m = new GPT2ForSequenceClassification(c);
        m.eval();
        using var _ = no_grad();
        var ids = TestUtil.RandomIds(c.VocabSize, 1, 5);
        var alone = m.Forward(ids);
        Assert.Equal([1, 3], alone.shape);
        var padded = cat([ids, zeros(1, 4, dtype: ScalarType.Int64)], 1);
        var mask = cat([ones(1, 5, dtype: ScalarType.Int64), zeros(1, 4, dtype: ScalarType.Int64)], 1);
        Assert.True(TestUtil.MaxAbsDiff(alone, m.Forward(padded, mask)) < 1e-5);
        Assert.Contains("score.weight", m.state_dict().Keys);
    }

    [Fact]
    public void ForwardAndGenerationLeaveNoLiveTensors()
    {
        TestUtil.Init();
        var c = Tiny();
        using var m = new GPT2LMHeadModel(c);
        m.eval();
        var ids = TestUtil.RandomIds(c.VocabSize, 2, 6);
        var handle = new ModelHandle { Model = m, Tokenizer = new FakeTokenizer(c.VocabSize), Source = "tiny", Directory = ".", Device = CPU, MaxLength = 32 };
        TorchSharp.DisposeScopeManager.Statistics.Reset();
        using (no_grad())
        using (NewDisposeScope())
            m.Forward(ids);
        new GptBert.Pipelines.Generator(handle).Generate("1 2 3", new GenerationOptions { MaxNewTokens = 6, StopAtEos = false, Seed = 1 });
        Assert.Equal(0, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
