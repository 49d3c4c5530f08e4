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
        // Tiny GPT-2: 2 layers, d = 32, MLP 128, vocabulary 100, sequence T = 16, 3 labels.
        var gpt = TinyGpt(labels: 3);
        const double T = 16;
        double cAttn = 2 * 32 * 96, attnProj = 2 * 32 * 32, fc = 2 * 32 * 128, mlpProj = 2 * 128 * 32; // 2·in·out
        double scores = 2 * T * 32, weighted = 2 * T * 32;                                             // q·kᵀ and att·v
        double layer = cAttn + attnProj + fc + mlpProj + scores + weighted;
        Assert.Equal(26_624, layer);
        Assert.Equal(2 * layer, CostModel.ForwardFlopsPerToken(gpt, ModelHead.Base, 16));
        Assert.Equal(2 * layer + 2 * 32 * 100, CostModel.ForwardFlopsPerToken(gpt, ModelHead.LanguageModel, 16));
        Assert.Equal(2 * layer + 2 * 32 * 3 / T, CostModel.ForwardFlopsPerToken(gpt, ModelHead.Classification, 16));

        // Tiny BERT, same sizes: Q, K, V, output 4·2·32·32, intermediate and output 2·2·32·128.
        var bert = TinyBert(labels: 3);
        double bertLayer = 4 * (2 * 32 * 32) + 2 * 32 * 128 + 2 * 128 * 32 + 2 * 2 * T * 32;
        Assert.Equal(layer, bertLayer);
        Assert.Equal(2 * bertLayer, CostModel.ForwardFlopsPerToken(bert, ModelHead.Base, 16));
        Assert.Equal(2 * bertLayer + 2 * 32 * 32 / T, CostModel.ForwardFlopsPerToken(bert, ModelHead.Pooling, 16));
        Assert.Equal(2 * bertLayer + (2 * 32 * 32 + 2 * 32 * 3) / T, CostModel.ForwardFlopsPerToken(bert, ModelHead.Classification, 16));
        Assert.Equal(2 * bertLayer + 2 * 32 * 32 + 2 * 32 * 100, CostModel.ForwardFlopsPerToken(bert, ModelHead.MaskedLanguageModel, 16));

        Assert.Equal(3 * 2 * layer, CostModel.TrainingFlopsPerToken(gpt, ModelHead.Base, 16));
        Assert.Equal(4 * 16 * 2 * layer, CostModel.ForwardFlops(gpt, ModelHead.Base, batch: 4, seqLength: 16));
    }

    [Fact]
    public void Gpt2SmallFlopsAgreeWithKaplansTwoN()
    {
        // Kaplan et al. 2020: C_forward ≈ 2·N (non-embedding) + attention; the linear layers here are N minus biases and LayerNorms.
        var c = Gpt2Config.Small();
        long nonEmbedding = CostModel.Parameters(c, ModelHead.Base) - (long)(c.VocabSize + c.NPositions) * c.NEmbd;
        double attention = c.NLayer * 2.0 * 2 * 1024 * c.NEmbd;
        double linear = CostModel.ForwardFlopsPerToken(c, ModelHead.Base, 1024) - attention;
        Assert.InRange(linear / (2.0 * nonEmbedding), 0.998, 1.0);
    }

    [Fact]
    public void LatencyThroughputAndMemoryEstimatesFollowTheirFormulas()
    {
        var c = BertConfig.MiniLmL6();
        double flops = CostModel.ForwardFlops(c, ModelHead.Pooling, 1, 128);
        double ms = CostModel.EstimateLatencyMs(c, ModelHead.Pooling, 128, matmulGflops: 100);
        Assert.Equal(flops / (CostModel.DefaultEfficiency * 100e9) * 1000, ms, 9);
        Assert.Equal(flops / (0.5 * 100e9) * 1000, CostModel.EstimateLatencyMs(c, ModelHead.Pooling, 128, 100, efficiency: 0.5), 9);
        double perSecond = CostModel.EstimateThroughput(c, ModelHead.Pooling, 128, 100, batch: 8);
        Assert.Equal(8 / (CostModel.EstimateLatencyMs(c, ModelHead.Pooling, 128, 100, batch: 8) / 1000), perSecond, 6);
        Assert.Throws<GptBertException>(() => CostModel.EstimateLatencyMs(c, ModelHead.Pooling, 128, 0));

        double a1 = CostModel.ActivationBytes(c, ModelHead.Pooling, 1, 128), a8 = CostModel.ActivationBytes(c, ModelHead.Pooling, 8, 128);
        Assert.Equal(8 * a1, a8, 6);
        // Inference peak: the larger of the attention step (6·d + heads·T) and the MLP step (2·d + 2·I) floats per token.
        Assert.Equal(128 * 4.0 * Math.Max(6 * 384 + 12 * 128, 2 * 384 + 2 * 1536), a1);
        Assert.True(CostModel.ActivationBytes(c, ModelHead.Pooling, 1, 128, training: true) > a1);
        double peak = CostModel.EstimatePeakMemoryMb(c, ModelHead.Pooling, 1, 128);
        Assert.Equal((CostModel.WeightBytes(c, ModelHead.Pooling) + a1) / (1024.0 * 1024), peak, 9);
        Assert.True(CostModel.EstimateTrainingMemoryMb(c, ModelHead.Pooling, 8, 128) > 4 * CostModel.WeightBytes(c, ModelHead.Pooling) / (1024.0 * 1024));
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
