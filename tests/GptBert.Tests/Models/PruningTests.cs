using GptBert.Models;
using static TorchSharp.torch;

namespace GptBert.Tests.Models;

/// <summary>
/// Pruning is checked against its definition: removing a head equals masking it (head mask 0 on its attention
/// probabilities makes its context 0, which is the same as zeroing its slice of the output projection); removing an FFN
/// neuron equals zeroing its column of the second FFN matrix.
/// </summary>
public class PruningTests
{
    static BertConfig TinyBert() => new()
    {
        VocabSize = 60, HiddenSize = 32, NumHiddenLayers = 2, NumAttentionHeads = 4, IntermediateSize = 48,
        MaxPositionEmbeddings = 16, HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0,
    };

    static Gpt2Config TinyGpt2() => new() { VocabSize = 60, NPositions = 16, NEmbd = 32, NLayer = 2, NHead = 4, NInner = 48, ResidPdrop = 0, EmbdPdrop = 0, AttnPdrop = 0 };

    static readonly Dictionary<int, int[]> Heads = new() { [0] = [1, 3], [1] = [0] };
    static readonly int[][] Neurons = [[0, 5, 7, 40], [2, 3, 4, 47]];
    const int Hs = 8; // 32 / 4

    static Tensor Ids() => tensor(new long[] { 3, 17, 5, 42, 8, 1, 30, 11, 9, 2, 4, 59 }).view(2, 6);

    /// <summary>A copy of <paramref name="m"/> with the heads' output-projection slices and the neurons' columns zeroed.</summary>
    static void MaskInPlace(PretrainedModel m, bool gpt2)
    {
        using var _ = no_grad();
        var sd = m.state_dict();
        foreach (var (l, hs) in Heads)
        {
            var wo = gpt2 ? sd[$"transformer.h.{l}.attn.c_proj.weight"] : sd[$"encoder.layer.{l}.attention.output.dense.weight"];
            foreach (var h in hs) wo.narrow(gpt2 ? 0 : 1, h * Hs, Hs).zero_();
        }
        for (int l = 0; l < 2; l++)
        {
            var w2 = gpt2 ? sd[$"transformer.h.{l}.mlp.c_proj.weight"] : sd[$"encoder.layer.{l}.output.dense.weight"];
            foreach (var n in Neurons[l]) w2.narrow(gpt2 ? 0 : 1, n, 1).zero_();
        }
    }

    static string TempDir() => Path.Combine(Path.GetTempPath(), "gptbert-prune-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void BertPrunedEqualsMaskedAndRoundTrips()
    {
        TestUtil.Init();
        manual_seed(1);
        using var m = new BertModel(TinyBert());
        m.eval();
        using var pruned = (BertModel)Pruning.Prune(m, Heads, Neurons);
        pruned.eval();
        Assert.Equal([16, 32], pruned.state_dict()["encoder.layer.0.attention.self.query.weight"].shape); // 2 heads of 8 left
        Assert.Equal([32, 24], pruned.state_dict()["encoder.layer.1.attention.output.dense.weight"].shape);
        Assert.Equal([44, 32], pruned.state_dict()["encoder.layer.1.intermediate.dense.weight"].shape);
        MaskInPlace(m, gpt2: false);
        using var _ = no_grad();
        var want = m.Forward(Ids()).LastHiddenState;
        var got = pruned.Forward(Ids()).LastHiddenState;
        Assert.True(allclose(got, want, rtol: 1e-4, atol: 1e-5), $"max diff {(got - want).abs().max().item<float>()}");

        string dir = TempDir();
        try
        {
            pruned.SavePretrained(dir);
            Assert.Contains("\"pruned_heads\"", File.ReadAllText(Path.Combine(dir, "config.json")));
            var (loaded, _) = ModelFactory.Load(dir);
            using var l = (BertModel)loaded;
            l.eval();
            Assert.Equal([1, 3], l.Config.PrunedHeadsOf(0));
            Assert.Equal(44, ((BertConfig)l.Config).IntermediateSize);
            Assert.True(allclose(l.Forward(Ids()).LastHiddenState, got, atol: 1e-6));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Gpt2PrunedEqualsMaskedAndRoundTripsAndPrunesAgain()
    {
        TestUtil.Init();
        manual_seed(2);
        using var m = new GPT2LMHeadModel(TinyGpt2());
        m.eval();
        using var pruned = (GPT2LMHeadModel)Pruning.Prune(m, Heads, Neurons);
        pruned.eval();
        Assert.Equal([32, 3 * 16], pruned.state_dict()["transformer.h.0.attn.c_attn.weight"].shape);
        Assert.Equal([44, 32], pruned.state_dict()["transformer.h.1.mlp.c_proj.weight"].shape);
        using var _ = no_grad();
        var got = pruned.Forward(Ids());
        // Pruning the rest of layer 0 by ORIGINAL index (head 2) must work on the already-pruned model.
        using var twice = (GPT2LMHeadModel)Pruning.Prune(pruned, new Dictionary<int, int[]> { [0] = [2] });
        Assert.Equal([1, 2, 3], twice.Config.PrunedHeadsOf(0));
        Assert.Equal([32, 3 * 8], twice.state_dict()["transformer.h.0.attn.c_attn.weight"].shape);
        MaskInPlace(m, gpt2: true);
        var want = m.Forward(Ids());
        Assert.True(allclose(got, want, rtol: 1e-4, atol: 1e-5), $"max diff {(got - want).abs().max().item<float>()}");

        string dir = TempDir();
        try
        {
            pruned.SavePretrained(dir);
            var (loaded, _) = ModelFactory.Load(dir);
            using var l = loaded;
            l.eval();
            Assert.Equal([0], l.Config.PrunedHeadsOf(1));
            Assert.True(allclose(((GPT2LMHeadModel)l).Forward(Ids()), got, atol: 1e-5));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void HeadWithZeroOutputProjectionHasZeroImportanceAndGoesFirst()
    {
        TestUtil.Init();
        manual_seed(3);
        using var m = new BertModel(TinyBert());
        using (no_grad()) m.state_dict()["encoder.layer.1.attention.output.dense.weight"].narrow(1, 2 * Hs, Hs).zero_();
        var batches = Enumerable.Range(0, 2).Select(_ => (Func<Tensor>)(() => m.Forward(Ids()).LastHiddenState.square().mean()));
        var imp = Pruning.Measure(m, batches);
        Assert.StartsWith("Michel", imp.Method);
        Assert.Equal(0f, imp.Heads[1][2]);
        Assert.All(imp.Heads.SelectMany(h => h).Where((_, i) => i != 6), v => Assert.True(v > 0));
        var chosen = Pruning.ChooseHeads(m.Config, imp, 1.0 / 8);
        Assert.Equal([2], Assert.Single(chosen, p => p.Key == 1).Value);
        Assert.Single(chosen);
        Assert.Equal(0f, Pruning.Measure(m).Heads[1][2]); // the weight-norm proxy agrees

        // At most all-but-one head per layer: a fraction of 1 leaves exactly one head in each layer.
        var all = Pruning.ChooseHeads(m.Config, imp, 1.0);
        Assert.All(all.Values, v => Assert.Equal(3, v.Length));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MagnitudeHitsSparsityExactlyAndKeepsTheLargest(bool perLayer)
    {
        TestUtil.Init();
        manual_seed(4);
        using var m = new BertModel(TinyBert());
        string[] keys = ["attention.self.query.weight", "attention.self.key.weight", "attention.self.value.weight", "attention.output.dense.weight", "intermediate.dense.weight", "output.dense.weight"];
        var names = Enumerable.Range(0, 2).SelectMany(l => keys.Select(k => $"encoder.layer.{l}.{k}")).ToList();
        var before = names.ToDictionary(n => n, n => m.state_dict()[n].detach().clone());
        var embBefore = m.state_dict()["embeddings.word_embeddings.weight"].detach().clone();
        var (zeroed, total) = Pruning.Magnitude(m, 0.5, perLayer);
        long n = names.Sum(k => before[k].numel());
        Assert.Equal(n, total);
        Assert.Equal((long)Math.Round(0.5 * n), zeroed);
        var sd = m.state_dict();
        Assert.Equal(zeroed, names.Sum(k => sd[k].eq(0).sum().item<long>()));
        Assert.True(allclose(sd["embeddings.word_embeddings.weight"], embBefore, rtol: 0, atol: 0));
        foreach (var group in perLayer ? names.Select(k => new[] { k }) : [names.ToArray()])
        {
            var kept = cat(group.Select(k => before[k].masked_select(sd[k].ne(0)).abs()).ToArray());
            var dropped = cat(group.Select(k => before[k].masked_select(sd[k].eq(0)).abs()).ToArray());
            Assert.True(kept.min().item<float>() >= dropped.max().item<float>());
            if (perLayer) Assert.Equal((long)Math.Round(0.5 * before[group[0]].numel()), dropped.numel());
        }
    }
}
