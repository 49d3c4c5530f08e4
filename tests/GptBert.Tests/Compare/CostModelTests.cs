using GptBert.Compare;
using GptBert.Models;
using GptBert.Pipelines;

namespace GptBert.Tests.Compare;

public class CostModelTests
{
    static Gpt2Config TinyGpt(int? inner = null, int labels = 2) => WithLabels(new Gpt2Config
    {
        VocabSize = 100, NEmbd = 32, NLayer = 2, NHead = 4, NPositions = 64, NInner = inner,
    }, labels);

    static BertConfig TinyBert(int labels = 2, int typeVocab = 2) => WithLabels(new BertConfig
    {
        VocabSize = 100, HiddenSize = 32, NumHiddenLayers = 2, NumAttentionHeads = 4, IntermediateSize = 128,
        MaxPositionEmbeddings = 64, TypeVocabSize = typeVocab,
    }, labels);

    static T WithLabels<T>(T c, int labels) where T : ModelConfig
    {
        c.SetLabels(Enumerable.Range(0, labels).Select(i => $"l{i}").ToList());
        return c;
    }

    static long Real(PretrainedModel m) { using (m) return m.ParameterCount; }

    [Fact]
    public void Gpt2ParameterCountsEqualTheRealModels()
    {
        TestUtil.Init();
        foreach (var c in new[] { TinyGpt(), TinyGpt(inner: 48, labels: 5), TinyGpt(labels: 3) with { NLayer = 3, NEmbd = 48, NHead = 6 } })
        {
            Assert.Equal(Real(new GPT2Model(c)), CostModel.Parameters(c, ModelHead.Base));
            Assert.Equal(Real(new GPT2Model(c)), CostModel.Parameters(c, ModelHead.Pooling));
            Assert.Equal(Real(new GPT2LMHeadModel(c)), CostModel.Parameters(c, ModelHead.LanguageModel));
            Assert.Equal(Real(new GPT2ForSequenceClassification(c)), CostModel.Parameters(c, ModelHead.Classification));
        }
    }

    [Fact]
    public void BertParameterCountsEqualTheRealModels()
    {
        TestUtil.Init();
        foreach (var c in new[] { TinyBert(), TinyBert(labels: 5, typeVocab: 1), TinyBert(labels: 3) with { IntermediateSize = 40, NumHiddenLayers = 3 } })
        {
            Assert.Equal(Real(new BertModel(c, addPoolingLayer: false)), CostModel.Parameters(c, ModelHead.Base));
            Assert.Equal(Real(new BertModel(c)), CostModel.Parameters(c, ModelHead.Pooling));
            Assert.Equal(Real(new BertForSequenceClassification(c)), CostModel.Parameters(c, ModelHead.Classification));
            Assert.Equal(Real(new BertForMaskedLM(c)), CostModel.Parameters(c, ModelHead.MaskedLanguageModel));
        }
    }

    [Fact]
    public void EncoderDecoderParameterCountsEqualTheRealModels()
    {
        TestUtil.Init();
        // Same widths (no enc_to_dec_proj) and different widths (a 32→48 projection).
        foreach (var (enc, dec) in new[] { (TinyBert(), TinyGpt()), (TinyBert(), TinyGpt() with { NEmbd = 48, NHead = 6, NLayer = 3 }) })
        {
            var c = EncoderDecoderConfig.From(enc with { Architectures = null }, dec);
            Assert.Equal(Real(new EncoderDecoderModel(c)), CostModel.Parameters(c, ModelHead.LanguageModel));
            // The halves' own counts, plus per decoder block the cross-attention and its LayerNorm (4d² + 6d), plus the projection.
            long d = dec.NEmbd, proj = enc.HiddenSize == d ? 0 : enc.HiddenSize * d + d;
            Assert.Equal(Real(new BertModel(enc)) + Real(new GPT2LMHeadModel(dec)) + dec.NLayer * (4 * d * d + 6 * d) + proj, CostModel.Parameters(c, ModelHead.LanguageModel));
            Assert.True(CostModel.ForwardFlopsPerToken(c, ModelHead.LanguageModel, 16) > CostModel.ForwardFlopsPerToken(dec, ModelHead.LanguageModel, 16));
        }
    }

    [Fact]
    public void ParameterCountsOfPublishedModels()
    {
        TestUtil.Init();
        var mini = BertConfig.MiniLmL6();
        Assert.Equal(22_713_216, CostModel.Parameters(mini, ModelHead.Pooling)); // all-MiniLM-L6-v2
        Assert.Equal(Real(new BertModel(mini)), CostModel.Parameters(mini, ModelHead.Pooling));
        var gpt2 = Gpt2Config.Small();
        Assert.Equal(124_439_808, CostModel.Parameters(gpt2, ModelHead.LanguageModel)); // gpt2 (small)
        Assert.Equal(Real(new GPT2LMHeadModel(gpt2)), CostModel.Parameters(gpt2, ModelHead.LanguageModel));
        Assert.Equal(109_482_240, CostModel.Parameters(BertConfig.Base(), ModelHead.Pooling)); // bert-base-uncased
        Assert.Equal(4L * 124_439_808, CostModel.WeightBytes(gpt2, ModelHead.LanguageModel));
    }

    [Fact]
    public void HeadsAFamilyLacksAreOneLineErrors()
    {
        Assert.Throws<GptBertException>(() => CostModel.Parameters(TinyBert(), ModelHead.LanguageModel));
        Assert.Throws<GptBertException>(() => CostModel.Parameters(TinyGpt(), ModelHead.MaskedLanguageModel));
        Assert.Throws<GptBertException>(() => CostModel.ForwardFlopsPerToken(TinyBert(), ModelHead.LanguageModel, 16));
        Assert.Throws<GptBertException>(() => CostModel.ForwardFlopsPerToken(TinyGpt(), ModelHead.MaskedLanguageModel, 16));
        Assert.Throws<GptBertException>(() => CostModel.ForwardFlopsPerToken(TinyGpt(), ModelHead.Base, 0));
    }

    [Fact]
    public void ForwardFlopsPerTokenMatchesAHandCount()
    {
        // Tiny GPT-2 (TinyGpt): 2 layers, d = 32, 4 heads, MLP I = 4·32 = 128, vocabulary 100, 3 labels; T = 16 tokens.
        // Per token and layer, 2 FLOPs (multiply + add) per weight of each linear layer:
        //   c_attn   32 → 96 : 2·32·96  =  6 144
        //   c_proj   32 → 32 : 2·32·32  =  2 048
        //   c_fc     32 → 128: 2·32·128 =  8 192
        //   mlp proj 128 → 32: 2·128·32 =  8 192
        // attention over all T = 16 keys (the class remarks count the full T, also for causal GPT-2):
        //   scores q·kᵀ       : 2·16·32  =  1 024
        //   weighted sum of v : 2·16·32  =  1 024
        //   layer total                  = 26 624;  2 layers = 53 248
        var gpt = TinyGpt(labels: 3);
        Assert.Equal(53_248, CostModel.ForwardFlopsPerToken(gpt, ModelHead.Base, 16));
        Assert.Equal(53_248, CostModel.ForwardFlopsPerToken(gpt, ModelHead.Pooling, 16));       // mean pooling: no weights
        // LM head tied to wte, 32 → 100 at every position: 2·32·100 = 6 400 → 59 648
        Assert.Equal(59_648, CostModel.ForwardFlopsPerToken(gpt, ModelHead.LanguageModel, 16));
        // score 32 → 3 once per sequence: 2·32·3 = 192 FLOPs / 16 tokens = 12 → 53 260
        Assert.Equal(53_260, CostModel.ForwardFlopsPerToken(gpt, ModelHead.Classification, 16));

        // Tiny BERT, same sizes: Q, K, V, output 4·(2·32·32) = 8 192, intermediate + output 2·(2·32·128) = 16 384,
        // attention 2 048: also 26 624 a layer, 53 248 for two.
        var bert = TinyBert(labels: 3);
        Assert.Equal(53_248, CostModel.ForwardFlopsPerToken(bert, ModelHead.Base, 16));
        // pooler 32 → 32 on [CLS] once per sequence: 2 048 / 16 = 128 → 53 376
        Assert.Equal(53_376, CostModel.ForwardFlopsPerToken(bert, ModelHead.Pooling, 16));
        // pooler + classifier 32 → 3: (2 048 + 192) / 16 = 140 → 53 388
        Assert.Equal(53_388, CostModel.ForwardFlopsPerToken(bert, ModelHead.Classification, 16));
        // MLM head at every position: transform 32 → 32 (2 048) + decoder 32 → 100 (6 400) → 61 696
        Assert.Equal(61_696, CostModel.ForwardFlopsPerToken(bert, ModelHead.MaskedLanguageModel, 16));

        // A sequence of 64 tokens: attention 2·2·64·32 = 8 192 a layer instead of 2 048 → 53 248 + 2·6 144 = 65 536
        Assert.Equal(65_536, CostModel.ForwardFlopsPerToken(gpt, ModelHead.Base, 64));
        // Training ≈ 3 × forward: 159 744; a batch of 4 × 16 tokens: 64 · 53 248 = 3 407 872
        Assert.Equal(159_744, CostModel.TrainingFlopsPerToken(gpt, ModelHead.Base, 16));
        Assert.Equal(3_407_872, CostModel.ForwardFlops(gpt, ModelHead.Base, batch: 4, seqLength: 16));
    }

    /// <summary>2 FLOPs per weight of every matrix of the built model that multiplies activations (all 2-D parameters but the embeddings).</summary>
    static long TwiceTheMatmulWeights(PretrainedModel m, params string[] exclude)
    {
        using (m)
            return 2 * m.named_parameters()
                .Where(p => p.parameter.dim() == 2 && !p.name.Contains("wte") && !p.name.Contains("wpe") && !p.name.Contains("_embeddings")
                            && !exclude.Any(p.name.Contains))
                .Sum(p => p.parameter.numel());
    }

    [Fact]
    public void LinearFlopsAreTwiceTheWeightMatricesOfTheBuiltModels()
    {
        // Kaplan's 2N, counted on the real modules rather than on the config: whatever matrices the model really has.
        TestUtil.Init();
        foreach (var c in new[] { TinyGpt(labels: 3), TinyGpt(inner: 48) with { NLayer = 3, NEmbd = 48, NHead = 6 } })
        {
            const int T = 16;
            double attention = c.NLayer * 2.0 * 2 * T * c.NEmbd; // q·kᵀ and att·v over T keys, per layer
            Assert.Equal(TwiceTheMatmulWeights(new GPT2Model(c)) + attention, CostModel.ForwardFlopsPerToken(c, ModelHead.Base, T));
            // the LM head multiplies by wte (tied): 2·V·d more per token
            Assert.Equal(TwiceTheMatmulWeights(new GPT2Model(c)) + attention + 2.0 * c.VocabSize * c.NEmbd,
                CostModel.ForwardFlopsPerToken(c, ModelHead.LanguageModel, T));
        }
        foreach (var c in new[] { TinyBert(labels: 3), TinyBert() with { IntermediateSize = 40, NumHiddenLayers = 3 } })
        {
            const int T = 16;
            double attention = c.NumHiddenLayers * 2.0 * 2 * T * c.HiddenSize;
            Assert.Equal(TwiceTheMatmulWeights(new BertModel(c, addPoolingLayer: false)) + attention, CostModel.ForwardFlopsPerToken(c, ModelHead.Base, T));
            // pooler and classifier run once per sequence, so their weights count 1/T per token
            double perSequence = TwiceTheMatmulWeights(new BertForSequenceClassification(c)) - TwiceTheMatmulWeights(new BertModel(c, addPoolingLayer: false));
            Assert.Equal(TwiceTheMatmulWeights(new BertModel(c, addPoolingLayer: false)) + attention + perSequence / T,
                CostModel.ForwardFlopsPerToken(c, ModelHead.Classification, T), 9);
        }
    }

    [Fact]
    public void Gpt2SmallFlopsAgreeWithKaplansTwoN()
    {
        // Kaplan et al. 2020: C_forward ≈ 2·N (non-embedding) + attention; the linear layers here are N minus biases and LayerNorms.
        var c = Gpt2Config.Small();
        long nonEmbedding = CostModel.Parameters(c, ModelHead.Base) - (long)(c.VocabSize + c.NPositions) * c.NEmbd;
        // 12 layers · (q·kᵀ + att·v) · 1024 keys · 768 = 12 · 2·2·1024·768
        double attention = 37_748_736;
        double linear = CostModel.ForwardFlopsPerToken(c, ModelHead.Base, 1024) - attention;
        Assert.InRange(linear / (2.0 * nonEmbedding), 0.998, 1.0);
    }

    /// <summary>Bytes of every tensor in the model's state dict (what a checkpoint holds) and what SavePretrained writes as data.</summary>
    static (long StateDict, long FileData) RealWeightBytes(PretrainedModel m)
    {
        using (m)
        {
            long sd = m.state_dict().Values.Sum(t => t.numel() * t.ElementSize);
            var dir = TestUtil.TempDir("cost-weights");
            m.SavePretrained(dir);
            var file = File.ReadAllBytes(Path.Combine(dir, "model.safetensors"));
            long header = (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(file);
            return (sd, file.Length - 8 - header);
        }
    }

    [Fact]
    public void WeightBytesAreThoseOfTheRealStateDictAndCheckpoint()
    {
        TestUtil.Init();
        var gpt = TinyGpt(labels: 3);
        var (sd, data) = RealWeightBytes(new GPT2LMHeadModel(gpt));
        Assert.Equal(sd, CostModel.WeightBytes(gpt, ModelHead.LanguageModel));
        Assert.Equal(data, CostModel.WeightBytes(gpt, ModelHead.LanguageModel));
        (sd, data) = RealWeightBytes(new GPT2ForSequenceClassification(gpt));
        Assert.Equal(sd, CostModel.WeightBytes(gpt, ModelHead.Classification));
        Assert.Equal(data, CostModel.WeightBytes(gpt, ModelHead.Classification));
        var bert = TinyBert(labels: 3);
        (sd, data) = RealWeightBytes(new BertForMaskedLM(bert));
        Assert.Equal(sd, CostModel.WeightBytes(bert, ModelHead.MaskedLanguageModel));
        Assert.Equal(data, CostModel.WeightBytes(bert, ModelHead.MaskedLanguageModel));
        (sd, data) = RealWeightBytes(new BertForSequenceClassification(bert));
        Assert.Equal(sd, CostModel.WeightBytes(bert, ModelHead.Classification));
        Assert.Equal(data, CostModel.WeightBytes(bert, ModelHead.Classification));
    }

    [Fact]
    public void InferenceMemoryMatchesAHandCountAndHoldsTheRealOutputs()
    {
        TestUtil.Init();
        // Tiny GPT-2 (d = 32, 4 heads, I = 128, V = 100), batch 2 × 16 tokens = 32 tokens, fp32 (4 bytes).
        // Floats alive per token at the peak of a layer:
        //   attention step: residual, LayerNorm out, Q, K, V, attention out 6·32 = 192, scores 4 heads · 16 keys = 64 → 256
        //   MLP step: residual, LayerNorm out 2·32 = 64, hidden before and after GELU 2·128 = 256             → 320
        // the larger is 320; an LM head adds its 100 logits → 420. Bytes: 32 tokens · 420 · 4 = 53 760.
        var gpt = TinyGpt(labels: 3);
        Assert.Equal(40_960, CostModel.ActivationBytes(gpt, ModelHead.Base, 2, 16));   // 32 · 320 · 4
        Assert.Equal(53_760, CostModel.ActivationBytes(gpt, ModelHead.LanguageModel, 2, 16));
        // 64 tokens of context, batch 1: scores 4 · 64 = 256 → attention step 448 > 320: 64 · 448 · 4 = 114 688
        Assert.Equal(114_688, CostModel.ActivationBytes(gpt, ModelHead.Base, 1, 64));

        // The estimate holds at least what the real forward pass returns: the (2, 16, 100) logits.
        using (var lm = new GPT2LMHeadModel(gpt))
        {
            lm.eval();
            using var logits = lm.Forward(TestUtil.RandomIds(100, 2, 16));
            Assert.Equal([2L, 16, 100], logits.shape);
            Assert.True(logits.numel() * logits.ElementSize <= CostModel.ActivationBytes(gpt, ModelHead.LanguageModel, 2, 16));
        }

        // Peak = the real weights (state dict bytes) + those activations, in MiB.
        var (weights, _) = RealWeightBytes(new GPT2LMHeadModel(gpt));
        Assert.Equal((weights + 53_760) / 1048576.0, CostModel.EstimatePeakMemoryMb(gpt, ModelHead.LanguageModel, 2, 16), 12);
    }

    [Fact]
    public void TrainingMemoryCountsWeightsGradientsAndAdamStateOfTheRealModel()
    {
        TestUtil.Init();
        var gpt = TinyGpt(labels: 3);
        // Activations kept for the backward pass (Korthikanti et al. in fp32), per layer 2·tokens·d·(34 + 5·heads·T/d):
        // 2 · 32 · 32 · (34 + 5·4·16/32 = 10) = 2 048 · 44 = 90 112; 2 layers = 180 224; LM logits and their gradient
        // 2 · 32 tokens · 100 · 4 bytes = 25 600 → 205 824 bytes.
        Assert.Equal(205_824, CostModel.ActivationBytes(gpt, ModelHead.LanguageModel, 2, 16, training: true));

        // The 4 × weights: measure them on a real AdamW step.
        using var model = new GPT2LMHeadModel(gpt);
        var parameters = model.parameters().ToList();
        long paramBytes = parameters.Sum(p => p.numel() * p.ElementSize);
        var opt = TorchSharp.torch.optim.AdamW(parameters, 1e-3);
        using (var loss = model.Forward(TestUtil.RandomIds(100, 2, 16)).square().mean())
            loss.backward();
        long gradBytes = parameters.Sum(p => p.grad is { } g ? g.numel() * g.ElementSize : 0);
        opt.step();
        var state = new MemoryStream();
        using (var w = new BinaryWriter(state, System.Text.Encoding.UTF8, leaveOpen: true)) opt.save_state_dict(w);
        Assert.Equal(paramBytes, gradBytes);                                   // every parameter got a gradient
        // Adam keeps two moments per weight (exp_avg, exp_avg_sq); the saved state is those plus a little bookkeeping.
        Assert.InRange(state.Length, 2 * paramBytes, 2 * paramBytes + 256L * parameters.Count + 4096);
        double measuredWeightsGradsMoments = paramBytes + gradBytes + 2.0 * paramBytes;
        Assert.Equal((measuredWeightsGradsMoments + 205_824) / 1048576.0, CostModel.EstimateTrainingMemoryMb(gpt, ModelHead.LanguageModel, 2, 16), 12);
    }

    [Fact]
    public void LatencyAndThroughputMatchAHandCount()
    {
        var gpt = TinyGpt(labels: 3);
        // A batch of 4 × 16 tokens: 64 · 53 248 = 3 407 872 FLOPs (see the hand count above). At 100 GFLOPS and the
        // default efficiency 0.4 the machine does 4·10¹⁰ FLOP/s: 3 407 872 / 4·10¹⁰ s = 85.1968 µs = 0.0851968 ms,
        // and 4 sequences / 85.1968 µs = 46 950.12 sequences per second.
        Assert.Equal(0.0851968, CostModel.EstimateLatencyMs(gpt, ModelHead.Base, 16, matmulGflops: 100, batch: 4), 12);
        Assert.Equal(46_950.12, CostModel.EstimateThroughput(gpt, ModelHead.Base, 16, 100, batch: 4), 2);
        // efficiency 0.5: 5·10¹⁰ FLOP/s → 68.15744 µs
        Assert.Equal(0.06815744, CostModel.EstimateLatencyMs(gpt, ModelHead.Base, 16, 100, batch: 4, efficiency: 0.5), 12);
        // one sequence: 16 · 53 248 = 851 968 FLOPs / 4·10¹⁰ = 21.2992 µs → 46 950.12 per second as well (linear model)
        Assert.Equal(0.0212992, CostModel.EstimateLatencyMs(gpt, ModelHead.Base, 16, 100), 12);
        Assert.Throws<GptBertException>(() => CostModel.EstimateLatencyMs(gpt, ModelHead.Base, 16, 0));
        Assert.Throws<GptBertException>(() => CostModel.EstimateLatencyMs(gpt, ModelHead.Base, 16, 100, efficiency: 1.5));
    }

    [Theory]
    [InlineData(1_000_000L, 8000)]
    [InlineData(5_000_000L, 8000)]
    [InlineData(20_000_000L, 30522)]
    [InlineData(50_000_000L, 50257)]
    public void MatchedShapesAreWithinToleranceForBothFamilies(long target, int vocab)
    {
        var gptShape = CostModel.MatchedShape("gpt", target, vocab, 128, ModelHead.Classification);
        var bertShape = CostModel.MatchedShape("bert", target, vocab, 128, ModelHead.Classification);
        long gpt = CostModel.Parameters(gptShape.Config("gpt", vocab), ModelHead.Classification);
        long bert = CostModel.Parameters(bertShape.Config("bert", vocab), ModelHead.Classification);
        Assert.InRange(Math.Abs(gpt - target) / (double)target, 0, CostModel.MatchTolerance);
        Assert.InRange(Math.Abs(bert - target) / (double)target, 0, CostModel.MatchTolerance);
        Assert.Equal(gptShape, bertShape); // the same shape for both families when it suits both
        Assert.Equal(0, gptShape.Hidden % gptShape.Heads);
        Assert.Equal(128, gptShape.MaxLength);
    }

    [Fact]
    public void MatchedShapeCountsAreThoseOfTheBuiltModels()
    {
        TestUtil.Init();
        var shape = CostModel.MatchedShape("bert", 2_000_000, 5000, 64, ModelHead.Classification);
        var cfg = (BertConfig)shape.Config("bert", 5000);
        long real = Real(new BertForSequenceClassification(cfg));
        Assert.Equal(CostModel.Parameters(cfg, ModelHead.Classification), real);
        Assert.InRange(real, 1_800_000, 2_200_000);

        var lm = CostModel.MatchedShape("gpt", 3_000_000, 5000, 64, ModelHead.LanguageModel);
        long gptReal = Real(new GPT2LMHeadModel((Gpt2Config)lm.Config("gpt", 5000)));
        Assert.InRange(gptReal, 2_700_000, 3_300_000);
    }

    [Fact]
    public void UnreachableTargetsAndBadArchesAreOneLineErrors()
    {
        var saved = System.Globalization.CultureInfo.CurrentCulture;
        GptBertException e;
        try
        {
            System.Globalization.CultureInfo.CurrentCulture = new System.Globalization.CultureInfo("de-DE");
            e = Assert.Throws<GptBertException>(() => CostModel.MatchedShape("gpt", 100_000, 50257, 128));
        }
        finally { System.Globalization.CultureInfo.CurrentCulture = saved; }
        Assert.Contains("no gpt shape with a vocabulary of 50,257 comes within 10% of 100,000 parameters", e.Message);
        Assert.DoesNotContain("\n", e.Message);
        Assert.Throws<GptBertException>(() => CostModel.MatchedShape("t5", 1_000_000, 8000, 128));
    }
}
