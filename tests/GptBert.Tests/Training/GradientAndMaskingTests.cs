using GptBert.Models;
using TorchSharp;
using GptBert.Training;
using static TorchSharp.torch;

namespace GptBert.Tests.Training;

public class GradientAndMaskingTests
{
    /// <summary>
    /// Central differences (L(w+h) − L(w−h)) / 2h in float64 against autograd, for a few coordinates of
    /// every kind of parameter the loss touches.
    /// </summary>
    static void CheckGradients(PretrainedModel model, Func<Tensor> loss, int coordinatesPerTensor = 2)
    {
        model.to(ScalarType.Float64);
        model.eval(); // no dropout: the loss must be a deterministic function of the weights
        model.zero_grad();
        loss().backward();
        var rng = new Random(7);
        int checkedCount = 0;
        foreach (var (name, p) in model.named_parameters())
        {
            var grad = p.grad;
            Assert.True(grad is not null, $"{name} got no gradient");
            var flatP = p.detach().view(-1);
            var flatG = grad!.view(-1);
            for (int c = 0; c < coordinatesPerTensor; c++)
            {
                long i = rng.NextInt64(flatP.shape[0]);
                double h = 1e-6, orig = flatP[i].item<double>();
                double lp, lm;
                using (no_grad())
                {
                    flatP[i] = orig + h; lp = loss().item<double>();
                    flatP[i] = orig - h; lm = loss().item<double>();
                    flatP[i] = orig;
                }
                double numeric = (lp - lm) / (2 * h), analytic = flatG[i].item<double>();
                Assert.True(Math.Abs(numeric - analytic) <= 1e-6 + 1e-4 * Math.Abs(numeric),
                    $"{name}[{i}]: autograd {analytic:E6} vs finite difference {numeric:E6}");
                checkedCount++;
            }
        }
        Assert.True(checkedCount > 20);
    }

    [Fact]
    public void CausalLmGradientsMatchFiniteDifferences()
    {
        TestUtil.Init();
        var c = TrainingTestUtil.TinyGpt(40);
        c.NEmbd = 16; c.NLayer = 1;
        using var m = new GPT2LMHeadModel(c);
        var ids = TestUtil.RandomIds(40, 2, 6);
        CheckGradients(m, () => GPT2LMHeadModel.CausalLmLoss(m.Forward(ids), ids));
    }

    [Fact]
    public void MaskedLmAndNspGradientsMatchFiniteDifferences()
    {
        TestUtil.Init();
        var tok = TrainingTestUtil.Vocab();
        var c = TrainingTestUtil.TinyBert(tok.VocabSize);
        c.HiddenSize = 16; c.NumHiddenLayers = 1; c.IntermediateSize = 32;
        using var m = new BertForPreTraining(c);
        var text = string.Join(" ", Enumerable.Repeat("the cat sat on the mat . the dog ran on the log .", 10));
        using var stream = TokenStream.FromTexts([text], tok, tok.SepId);
        var obj = new MaskedLmObjective(m, tok, stream, null, maxLength: 12, seed: 1, CPU);
        using var batch = obj.GetBatch(0, 3, new Random(1));
        CheckGradients(m, () => obj.Loss(batch));
    }

    [Theory]
    [InlineData("bert")]
    [InlineData("gpt")]
    public void ClassificationGradientsMatchFiniteDifferences(string family)
    {
        TestUtil.Init();
        var tok = TrainingTestUtil.Vocab();
        ModelConfig c = family == "bert" ? TrainingTestUtil.TinyBert(tok.VocabSize) with { HiddenSize = 16, NumHiddenLayers = 1, IntermediateSize = 32 }
                                         : TrainingTestUtil.TinyGpt(tok.VocabSize) with { NEmbd = 16, NLayer = 1 };
        c.SetLabels(["a", "b", "c"]);
        using var m = family == "bert" ? (PretrainedModel)new BertForSequenceClassification((BertConfig)c) : new GPT2ForSequenceClassification((Gpt2Config)c);
        var ex = new List<ClassificationExample> { new("the cat sat", null, 0), new("a big red dog ran on the mat", null, 2), new("bad film", null, 1) };
        var obj = new ClassificationObjective(m, tok, ex, [], ["a", "b", "c"], 16, 1, CPU, classWeights: [1.0, 2.0, 0.5]);
        using var batch = obj.GetBatch(0, 3, new Random(1));
        Assert.Contains(0L, batch.AttentionMask!.data<long>().ToArray()); // padded batch: the mask must matter
        CheckGradients(m, () => obj.Loss(batch));
    }

    [Fact]
    public void MaskingStatisticsFollowBert()
    {
        var tok = TrainingTestUtil.Vocab();
        var masking = MlmMasking.For(tok);
        var rng = new Random(123);
        int n = 200_000;
        var ids = new long[n];
        var gen = new Random(5);
        for (int i = 0; i < n; i++)
            ids[i] = i % 50 == 0 ? tok.ClsId!.Value : i % 50 == 49 ? tok.SepId!.Value : i % 97 == 0 ? tok.PadId!.Value : 7 + gen.Next(tok.VocabSize - 7);
        var original = (long[])ids.Clone();
        var labels = masking.Apply(ids, rng);
        int maskable = 0, chosen = 0, toMask = 0, toRandom = 0, kept = 0;
        for (int i = 0; i < n; i++)
        {
            bool special = masking.SpecialIds.Contains((int)original[i]);
            if (special)
            {
                Assert.Equal(-100, labels[i]);           // never chosen
                Assert.Equal(original[i], ids[i]);        // never altered
                continue;
            }
            maskable++;
            if (labels[i] == -100) { Assert.Equal(original[i], ids[i]); continue; }
            chosen++;
            Assert.Equal(original[i], labels[i]);
            if (ids[i] == masking.MaskId) toMask++;
            else if (ids[i] == original[i]) kept++;
            else { toRandom++; Assert.DoesNotContain((int)ids[i], masking.SpecialIds); }
        }
        // Binomial tolerances: ±5 standard deviations.
        double rate = (double)chosen / maskable;
        Assert.InRange(rate, 0.15 - 5 * Math.Sqrt(0.15 * 0.85 / maskable), 0.15 + 5 * Math.Sqrt(0.15 * 0.85 / maskable));
        double sd8 = Math.Sqrt(0.8 * 0.2 / chosen), sd1 = Math.Sqrt(0.1 * 0.9 / chosen);
        Assert.InRange((double)toMask / chosen, 0.8 - 5 * sd8, 0.8 + 5 * sd8);
        // A random replacement equals the original with probability ~1/V: "kept" is 10% plus that sliver.
        Assert.InRange((double)toRandom / chosen, 0.1 - 5 * sd1 - 0.01, 0.1 + 5 * sd1);
        Assert.InRange((double)kept / chosen, 0.1 - 5 * sd1, 0.1 + 5 * sd1 + 0.01);
    }

    [Fact]
    public void WholeWordMaskingTakesWordPiecesTogether()
    {
        var tok = TrainingTestUtil.Vocab();
        var masking = MlmMasking.For(tok, wholeWord: true);
        var enc = tok.Encode(string.Join(" ", Enumerable.Repeat("catsed dogsing the mat", 400)), addSpecialTokens: false);
        var ids = enc.Ids.Select(i => (long)i).ToArray();
        var labels = masking.Apply(ids, new Random(3));
        for (int i = 1; i < ids.Length; i++)
            if (tok.IdToToken(enc.Ids[i]).StartsWith("##"))
                Assert.Equal(labels[i - 1] == -100, labels[i] == -100); // a piece is chosen exactly when its word is
        Assert.Contains(labels, l => l != -100);
    }
}
