using System.Text.Json;
using System.Text.Json.Nodes;
using GptBert.Models;
using static TorchSharp.torch;

namespace GptBert.Tests.Models;

public class EncoderDecoderTests
{
    const int Pad = 0, Start = 1, Eos = 2;

    static EncoderDecoderConfig Tiny(int encoderWidth = 48, int layers = 2, int vocab = 20) => EncoderDecoderConfig.From(
        new BertConfig
        {
            VocabSize = vocab, HiddenSize = encoderWidth, NumHiddenLayers = layers, NumAttentionHeads = 4, IntermediateSize = 64,
            MaxPositionEmbeddings = 32, HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0, PadTokenId = Pad,
        },
        new Gpt2Config
        {
            VocabSize = vocab, NPositions = 32, NEmbd = 32, NLayer = layers, NHead = 4, ResidPdrop = 0, EmbdPdrop = 0, AttnPdrop = 0,
            BosTokenId = Start, EosTokenId = Eos, PadTokenId = Pad,
        });

    [Fact]
    public void WithCrossAttentionOutputZeroedTheDecoderIsPlainGpt2()
    {
        TestUtil.Init();
        var c = Tiny();
        using var m = new EncoderDecoderModel(c);
        m.eval();
        var sd = m.state_dict();
        using (no_grad())
            foreach (var (k, t) in sd)
                if (k.Contains(".crossattention.c_proj.")) t.zero_();
        // A GPT-2 without cross-attention, given the decoder's own weights.
        using var plain = new GPT2LMHeadModel(c.Decoder with { AddCrossAttention = false });
        plain.eval();
        var own = sd.Where(kv => kv.Key.StartsWith("decoder.") && !kv.Key.Contains("cross"))
            .ToDictionary(kv => kv.Key["decoder.".Length..], kv => kv.Value);
        var report = plain.LoadStateDict(own, "test");
        Assert.Empty(report.NewlyInitialized);

        using var _ = no_grad();
        var src = TestUtil.RandomIds(20, 2, 6);
        var tgt = TestUtil.RandomIds(20, 2, 5);
        var mask = ones(2, 6, dtype: ScalarType.Int64);
        mask[1, 4..] = 0;
        var a = m.Forward(src, mask, tgt);
        var b = plain.Forward(tgt);
        Assert.True(TestUtil.MaxAbsDiff(a, b) < 1e-5);
        // And with the cross-attention live, the encoder input matters.
        var live = new EncoderDecoderModel(c);
        live.eval();
        var l1 = live.Forward(src, mask, tgt);
        var l2 = live.Forward(TestUtil.RandomIds(20, 2, 6), mask, tgt);
        Assert.True(TestUtil.MaxAbsDiff(l1, l2) > 1e-4);
    }

    [Fact]
    public void CrossAttentionIsExplicitArithmetic()
    {
        TestUtil.Init();
        var c = Tiny().Decoder;
        using var att = new Gpt2CrossAttention(c, 0);
        att.eval();
        var w = att.state_dict();
        using (no_grad()) foreach (var t in w.Values) nn.init.normal_(t, 0, 0.2); // a standalone Conv1D starts uninitialised
        long B = 2, T = 3, S = 5, C = 32, nh = 4, hs = 8;
        var x = randn(B, T, C);
        var enc = randn(B, S, C);
        var keep = ones(B, S);
        keep[1, 3..] = 0; // row 1: the last two encoder positions are padding
        var additive = (1 - keep).view(B, 1, 1, S) * float.MinValue;
        using var _ = no_grad();
        var got = att.Forward(x, enc, additive, null, 0);

        // softmax(Q Kᵀ/√hs + mask) V per head, Q from the decoder, K and V from the encoder (Conv1D: x @ W + b).
        var q = (x.matmul(w["q_attn.weight"]) + w["q_attn.bias"]).view(B, T, nh, hs).permute(0, 2, 1, 3);
        var kv = enc.matmul(w["c_attn.weight"]) + w["c_attn.bias"]; // (B, S, 2C)
        var k = kv[.., .., ..(int)C].view(B, S, nh, hs).permute(0, 2, 1, 3);
        var v = kv[.., .., (int)C..].view(B, S, nh, hs).permute(0, 2, 1, 3);
        var scores = q.matmul(k.transpose(-2, -1)) / Math.Sqrt(hs) + additive;
        var y = scores.softmax(-1).matmul(v).permute(0, 2, 1, 3).reshape(B, T, C);
        var want = y.matmul(w["c_proj.weight"]) + w["c_proj.bias"];
        Assert.True(TestUtil.MaxAbsDiff(got, want) < 1e-5);
        // Padding is never attended to: changing the padded encoder states changes nothing in row 1.
        var enc2 = enc.clone();
        enc2[1, 3..] = randn(2, C);
        Assert.True(TestUtil.MaxAbsDiff(att.Forward(x, enc2, additive, null, 0)[1], got[1]) < 1e-6);
    }

    [Fact]
    public void SavesAndLoadsInTransformersLayout()
    {
        TestUtil.Init();
        var c = Tiny();
        using var m = new EncoderDecoderModel(c);
        m.eval();
        var dir = TestUtil.TempDir("encdec");
        m.SavePretrained(dir);
        if (Environment.GetEnvironmentVariable("ENCDEC_SAVE") is { } keep) m.SavePretrained(keep);

        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!;
        Assert.Equal("encoder-decoder", (string)json["model_type"]!);
        Assert.True((bool)json["is_encoder_decoder"]!);
        Assert.False((bool)json["tie_encoder_decoder"]!);
        Assert.Equal(Start, (int)json["decoder_start_token_id"]!);
        Assert.Equal(Pad, (int)json["pad_token_id"]!);
        Assert.Equal("EncoderDecoderModel", (string)json["architectures"]![0]!);
        Assert.Equal("bert", (string)json["encoder"]!["model_type"]!);
        Assert.Equal("gpt2", (string)json["decoder"]!["model_type"]!);
        Assert.True((bool)json["decoder"]!["add_cross_attention"]!);
        Assert.True((bool)json["decoder"]!["is_decoder"]!);

        // Key names and shapes as transformers' EncoderDecoderModel(BertModel, GPT2LMHeadModel(add_cross_attention=True)).
        var sd = m.state_dict();
        Assert.Equal([32, 32], sd["decoder.transformer.h.1.crossattention.q_attn.weight"].shape);
        Assert.Equal([32, 64], sd["decoder.transformer.h.1.crossattention.c_attn.weight"].shape);
        Assert.Equal([32, 32], sd["decoder.transformer.h.1.crossattention.c_proj.weight"].shape);
        Assert.Equal([32], sd["decoder.transformer.h.0.ln_cross_attn.weight"].shape);
        Assert.Equal([32, 48], sd["enc_to_dec_proj.weight"].shape); // nn.Linear(48 → 32): (out, in)
        Assert.Equal([48, 48], sd["encoder.encoder.layer.0.attention.self.query.weight"].shape);
        Assert.True(sd.ContainsKey("encoder.pooler.dense.weight"));
        Assert.True(sd.ContainsKey("decoder.transformer.wte.weight"));

        var (loaded, report) = ModelFactory.Load(dir);
        using var l = Assert.IsType<EncoderDecoderModel>(loaded);
        Assert.Empty(report.NewlyInitialized);
        Assert.Empty(report.Unused);
        using var _ = no_grad();
        var src = TestUtil.RandomIds(20, 2, 6);
        var tgt = TestUtil.RandomIds(20, 2, 4);
        Assert.True(TestUtil.MaxAbsDiff(m.Forward(src, null, tgt), l.Forward(src, null, tgt)) < 1e-6);

        // Same widths: no projection, as transformers only adds it when hidden sizes differ.
        using var same = new EncoderDecoderModel(Tiny(encoderWidth: 32));
        Assert.DoesNotContain(same.state_dict().Keys, k => k.StartsWith("enc_to_dec_proj"));
    }

    [Fact]
    public void MatchesTransformersEncoderDecoderModel()
    {
        // Golden/encdec: a tiny EncoderDecoderModel(BertModel 48 wide, GPT-2 32 wide) saved by transformers 4.40 with its
        // logits and greedy generation (tools/hf-check/encdec_golden.py).
        TestUtil.Init();
        var dir = RepoFiles.At("tests", "GptBert.Tests", "Models", "Golden", "encdec");
        using var expected = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "expected.json")));
        var e = expected.RootElement;
        Tensor Ids(string name) => tensor(e.GetProperty(name).EnumerateArray().SelectMany(r => r.EnumerateArray().Select(v => v.GetInt64())).ToArray(),
            [e.GetProperty(name).GetArrayLength(), e.GetProperty(name)[0].GetArrayLength()]);
        var (loaded, report) = ModelFactory.Load(dir);
        using var m = Assert.IsType<EncoderDecoderModel>(loaded);
        Assert.Empty(report.NewlyInitialized);
        Assert.Empty(report.Unused);
        using var _ = no_grad();
        var logits = m.Forward(Ids("input_ids"), Ids("attention_mask"), Ids("decoder_input_ids"));
        var want = tensor(e.GetProperty("logits").EnumerateArray().Select(v => v.GetSingle()).ToArray()).view(logits.shape);
        Assert.True(TestUtil.MaxAbsDiff(logits, want) < 1e-4, $"max diff {TestUtil.MaxAbsDiff(logits, want)}");
        var gen = m.GenerateGreedy(Ids("input_ids"), Ids("attention_mask"), maxNewTokens: 8);
        var hf = e.GetProperty("greedy").EnumerateArray()
            .Select(r => r.EnumerateArray().Select(v => v.GetInt64()).Skip(1).TakeWhile(t => t != Eos).ToList()).ToList();
        Assert.Equal(hf, gen);
    }

    [Fact]
    public void ShiftTokensRightIsTransformers()
    {
        // transformers' shift_tokens_right([[5, 6, -100]], pad=0, start=1) == [[1, 5, 6]]; a -100 that moves in becomes pad.
        var labels = tensor(new long[] { 5, 6, -100, 7, -100, -100 }, [2, 3]);
        var s = EncoderDecoderModel.ShiftTokensRight(labels, Pad, Start);
        Assert.Equal(new long[] { 1, 5, 6, 1, 7, 0 }, s.data<long>().ToArray());
    }

    [Fact]
    public void GenerationWithCacheEqualsWithout()
    {
        TestUtil.Init(7);
        var c = Tiny();
        using var m = new EncoderDecoderModel(c);
        m.eval();
        var src = TestUtil.RandomIds(20, 3, 6);
        var mask = ones(3, 6, dtype: ScalarType.Int64);
        mask[2, 3..] = 0;
        var a = m.GenerateGreedy(src, mask, maxNewTokens: 12, useCache: true);
        var b = m.GenerateGreedy(src, mask, maxNewTokens: 12, useCache: false);
        Assert.Equal(b, a);
        Assert.Contains(a, r => r.Count > 0);
    }

    [Fact]
    public void LearnsToReverseASequence()
    {
        TestUtil.Init(3);
        var c = Tiny(layers: 2, vocab: 12);
        using var m = new EncoderDecoderModel(c);
        var rng = new Random(5);
        const int L = 4;
        (Tensor Src, Tensor Labels) Batch(int n)
        {
            var src = new long[n * L];
            var lab = new long[n * (L + 1)];
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < L; j++) src[i * L + j] = rng.Next(3, 12);
                for (int j = 0; j < L; j++) lab[i * (L + 1) + j] = src[i * L + L - 1 - j]; // target: the source reversed, then eos
                lab[i * (L + 1) + L] = Eos;
            }
            return (tensor(src, [n, L]), tensor(lab, [n, L + 1]));
        }
        var opt = optim.Adam(m.parameters(), lr: 3e-3);
        m.train();
        for (int step = 0; step < 400; step++)
        {
            using var scope = NewDisposeScope();
            var (src, labels) = Batch(32);
            opt.zero_grad();
            m.LabelsLoss(src, null, labels).backward();
            opt.step();
        }
        m.eval();
        var (testSrc, testLabels) = Batch(20);
        var outputs = m.GenerateGreedy(testSrc, null, maxNewTokens: L + 2);
        var want = testLabels[.., ..L].data<long>().ToArray().Chunk(L).Select(r => r.ToList()).ToList();
        int right = outputs.Zip(want).Count(p => p.First.SequenceEqual(p.Second));
        Assert.True(right >= 18, $"{right}/20 reversed exactly");
    }
}
