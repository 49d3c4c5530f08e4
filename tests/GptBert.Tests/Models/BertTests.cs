using GptBert.Checkpoints;
using GptBert.Engine;
using GptBert.Models;
using static TorchSharp.torch;

namespace GptBert.Tests.Models;

public class BertTests
{
    static BertConfig Tiny() => new()
    {
        VocabSize = 120, HiddenSize = 32, NumHiddenLayers = 2, NumAttentionHeads = 4, IntermediateSize = 64,
        MaxPositionEmbeddings = 40, HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0,
    };

    [Fact]
    public void ParameterNamesAndShapesAreHuggingFaces()
    {
        TestUtil.Init();
        using var m = new BertForPreTraining(BertConfig.Base());
        var sd = m.state_dict();
        Assert.Equal([30522, 768], sd["bert.embeddings.word_embeddings.weight"].shape);
        Assert.Equal([512, 768], sd["bert.embeddings.position_embeddings.weight"].shape);
        Assert.Equal([2, 768], sd["bert.embeddings.token_type_embeddings.weight"].shape);
        Assert.Equal([768], sd["bert.embeddings.LayerNorm.weight"].shape);
        Assert.Equal([768, 768], sd["bert.encoder.layer.0.attention.self.query.weight"].shape);
        Assert.Equal([768], sd["bert.encoder.layer.11.attention.output.LayerNorm.bias"].shape);
        Assert.Equal([3072, 768], sd["bert.encoder.layer.0.intermediate.dense.weight"].shape);
        Assert.Equal([768, 3072], sd["bert.encoder.layer.0.output.dense.weight"].shape);
        Assert.Equal([768, 768], sd["bert.pooler.dense.weight"].shape);
        Assert.Equal([768, 768], sd["cls.predictions.transform.dense.weight"].shape);
        Assert.Equal([768], sd["cls.predictions.transform.LayerNorm.weight"].shape);
        Assert.Equal([30522], sd["cls.predictions.bias"].shape);
        Assert.Equal([2, 768], sd["cls.seq_relationship.weight"].shape);
        Assert.DoesNotContain("cls.predictions.decoder.weight", sd.Keys); // tied to the word embeddings

        using var b = new BertModel(BertConfig.Base());
        Assert.Equal(109_482_240, b.ParameterCount); // bert-base-uncased BertModel, as transformers counts it
        using var mini = new BertModel(BertConfig.MiniLmL6());
        Assert.Equal(22_713_216, mini.ParameterCount); // all-MiniLM-L6-v2
    }

    [Fact]
    public void HeadModelsHaveTheirHfHeads()
    {
        TestUtil.Init();
        var c = Tiny();
        c.SetLabels(["a", "b", "c"]);
        using var seq = new BertForSequenceClassification(c);
        Assert.Equal([3, 32], seq.state_dict()["classifier.weight"].shape);
        Assert.Contains("bert.pooler.dense.weight", seq.state_dict().Keys);
        using var tok = new BertForTokenClassification(c);
        Assert.DoesNotContain("bert.pooler.dense.weight", tok.state_dict().Keys);
        using var qa = new BertForQuestionAnswering(c);
        Assert.Equal([2, 32], qa.state_dict()["qa_outputs.weight"].shape);
        using var mlm = new BertForMaskedLM(c);
        Assert.DoesNotContain("bert.pooler.dense.weight", mlm.state_dict().Keys);
        using var nsp = new BertForNextSentencePrediction(c);
        Assert.Contains("cls.seq_relationship.bias", nsp.state_dict().Keys);

        using var _ = no_grad();
        foreach (var m in new nn.Module[] { seq, tok, qa, mlm, nsp }) m.eval();
        var ids = TestUtil.RandomIds(c.VocabSize, 2, 6);
        Assert.Equal([2, 3], seq.Forward(ids).shape);
        Assert.Equal([2, 6, 3], tok.Forward(ids).shape);
        var span = qa.Forward(ids);
        Assert.Equal([2, 6], span.StartLogits.shape);
        Assert.Equal([2, 6, 120], mlm.Forward(ids).shape);
        Assert.Equal([2, 2], nsp.Forward(ids).shape);
    }

    [Fact]
    public void OneLayerMatchesExplicitArithmetic()
    {
        TestUtil.Init();
        var c = Tiny();
        c.NumHiddenLayers = 1;
        using var m = new BertForMaskedLM(c);
        m.eval();
        var ids = TestUtil.RandomIds(c.VocabSize, 2, 5);
        var types = tensor(new long[] { 0, 0, 0, 1, 1, 0, 0, 1, 1, 1 }, [2, 5]);
        var mask = tensor(new long[] { 1, 1, 1, 1, 1, 1, 1, 1, 0, 0 }, [2, 5]);
        using var _ = no_grad();
        var logits = m.Forward(ids, mask, types);

        var w = m.state_dict();
        Tensor W(string k) => w[k];
        Tensor Ln(Tensor x, string p)
        {
            var mu = x.mean([-1], keepdim: true);
            var v = (x - mu).pow(2).mean([-1], keepdim: true);
            return (x - mu) / (v + c.LayerNormEps).sqrt() * W(p + ".weight") + W(p + ".bias");
        }
        Tensor Lin(Tensor x, string p) => x.matmul(W(p + ".weight").t()) + W(p + ".bias");
        Tensor Gelu(Tensor x) => 0.5 * x * (1 + special.erf(x / Math.Sqrt(2)));
        long B = 2, T = 5, H = 32, nh = 4, hs = 8;
        var e = "bert.embeddings.";
        var x = W(e + "word_embeddings.weight").index_select(0, ids.flatten()).view(B, T, H)
                + W(e + "position_embeddings.weight")[..(int)T]
                + W(e + "token_type_embeddings.weight").index_select(0, types.flatten()).view(B, T, H);
        x = Ln(x, e + "LayerNorm");
        var l = "bert.encoder.layer.0.";
        Tensor Heads(Tensor t) => t.view(B, T, nh, hs).permute(0, 2, 1, 3);
        var q = Heads(Lin(x, l + "attention.self.query"));
        var k = Heads(Lin(x, l + "attention.self.key"));
        var v = Heads(Lin(x, l + "attention.self.value"));
        var scores = q.matmul(k.transpose(-1, -2)) / Math.Sqrt(hs);
        scores = scores.masked_fill(mask.view(B, 1, 1, T).eq(0), double.NegativeInfinity);
        var y = scores.softmax(-1).matmul(v).permute(0, 2, 1, 3).reshape(B, T, H);
        var a = Ln(Lin(y, l + "attention.output.dense") + x, l + "attention.output.LayerNorm");
        var o = Ln(Lin(Gelu(Lin(a, l + "intermediate.dense")), l + "output.dense") + a, l + "output.LayerNorm");
        var t = Ln(Gelu(Lin(o, "cls.predictions.transform.dense")), "cls.predictions.transform.LayerNorm");
        var expected = t.matmul(W(e + "word_embeddings.weight").t()) + W("cls.predictions.bias");

        // Padded positions' outputs are irrelevant; compare the real ones.
        Assert.True(TestUtil.MaxAbsDiff(logits[0], expected[0]) < 1e-4);
        Assert.True(TestUtil.MaxAbsDiff(logits[1, ..3], expected[1, ..3]) < 1e-4);
    }

    [Fact]
    public void LoadsPrefixedAndBareKeysBothWays()
    {
        TestUtil.Init();
        var c = Tiny();
        using var src = new BertForPreTraining(c);
        src.eval();
        var prefixed = src.state_dict();
        // BertModel from a "bert."-prefixed pretraining checkpoint: heads unused, nothing missing.
        using var bare = new BertModel(c);
        var r1 = bare.LoadStateDict(prefixed, "prefixed");
        Assert.Empty(r1.NewlyInitialized);
        Assert.Contains("cls.seq_relationship.weight", r1.Unused);
        // A classifier from a bare BertModel checkpoint (e.g. MiniLM): encoder loads, classifier is new.
        var bareKeys = bare.state_dict();
        Assert.Contains("embeddings.word_embeddings.weight", bareKeys.Keys);
        using var cls = new BertForSequenceClassification(c);
        var r2 = cls.LoadStateDict(bareKeys, "bare");
        Assert.Equal(["classifier.weight", "classifier.bias"], r2.NewlyInitialized.Order().Reverse().ToArray());
        using var _ = no_grad();
        cls.eval();
        var ids = TestUtil.RandomIds(c.VocabSize, 1, 7);
        var h1 = src.bert.Forward(ids).LastHiddenState;
        var h2 = cls.bert.Forward(ids).LastHiddenState;
        Assert.Equal(0.0, TestUtil.MaxAbsDiff(h1, h2));
    }

    [Fact]
    public void MissingEncoderWeightsAreRefused()
    {
        TestUtil.Init();
        var c = Tiny();
        using var m = new BertModel(c);
        var sd = m.state_dict().Where(kv => !kv.Key.Contains("layer.1.")).ToDictionary(kv => kv.Key, kv => kv.Value);
        var e = Assert.Throws<GptBertException>(() => m.LoadStateDict(sd, "ckpt"));
        Assert.Contains("layer.1.", e.Message);
        using var gpt = new GPT2Model(new Gpt2Config { VocabSize = 50, NPositions = 8, NEmbd = 8, NLayer = 1, NHead = 2 });
        var e2 = Assert.Throws<GptBertException>(() => gpt.LoadStateDict(m.state_dict(), "bert-ckpt"));
        Assert.Contains("GPT-2", e2.Message);
    }

    [Fact]
    public void SaveLoadRoundTripForEveryHead()
    {
        TestUtil.Init();
        var c = Tiny();
        foreach (var arch in ModelFactory.BertArchitectures)
        {
            using var m = ModelFactory.Create(c with { }, arch);
            var dir = TestUtil.TempDir(arch);
            m.SavePretrained(dir);
            var (loaded, report) = ModelFactory.Load(dir);
            Assert.Equal(arch, loaded.Architecture);
            Assert.Empty(report.NewlyInitialized);
            var a = m.state_dict(); var b = loaded.state_dict();
            Assert.Equal(a.Keys.Order(), b.Keys.Order());
            foreach (var k in a.Keys) Assert.Equal(0.0, TestUtil.MaxAbsDiff(a[k], b[k]));
            loaded.Dispose();
        }
    }

    [Fact]
    public void AHeadTheCheckpointLacksStartsAsTheConstructorWouldStartItFromTheSameSeed()
    {
        TestUtil.Init();
        var dir = TestUtil.TempDir("base");
        using (var bare = ModelFactory.Create(Tiny(), "BertModel")) bare.SavePretrained(dir);
        // What a load did before it built models uninitialised: build with the model's own init, then read the file.
        TorchRuntime.Seed(7);
        using var expected = ModelFactory.Create(ModelConfig.Load(Path.Combine(dir, "config.json")), "BertForSequenceClassification");
        expected.LoadStateDict(CheckpointFiles.LoadStateDict(dir), dir, null);
        var nextExpected = rand(3);
        TorchRuntime.Seed(7);
        var (loaded, report) = ModelFactory.Load(dir, "BertForSequenceClassification");
        using var _ = loaded;
        var nextLoaded = rand(3);
        Assert.Contains("classifier.weight", report.NewlyInitialized);
        var a = expected.state_dict(); var b = loaded.state_dict();
        foreach (var k in a.Keys) Assert.Equal(0.0, TestUtil.MaxAbsDiff(a[k], b[k]));
        Assert.Equal(0.0, TestUtil.MaxAbsDiff(nextExpected, nextLoaded)); // the generator is where it was: later draws (dropout) are unchanged
    }

    [Fact]
    public void AnEmbeddingBuiltUninitialisedHasItsFullTableAndLooksUpRows()
    {
        TestUtil.Init();
        using (WeightInit.Skip())
        {
            using var table = WeightInit.Embedding(10, 4, paddingIdx: 5);
            Assert.Equal([10L, 4], table.weight!.shape);
            Assert.Equal(["weight"], table.named_parameters().Select(p => p.name).ToArray()); // the HF name the state dict uses
            using (no_grad()) table.weight!.copy_(arange(40, dtype: ScalarType.Float32).view(10, 4));
            using var rows = table.forward(tensor(new long[] { 9, 5, 0 }));
            Assert.Equal([36f, 37, 38, 39, 20, 21, 22, 23, 0, 1, 2, 3], rows.data<float>().ToArray()); // row r holds 4r .. 4r+3
        }
        using var drawn = WeightInit.Embedding(2000, 8); // outside Skip: libtorch's normal(0, 1), as before
        Assert.InRange(drawn.weight!.std().item<float>(), 0.95, 1.05);
    }

    [Fact]
    public void ConfigJsonErrorsAreOneLine()
    {
        var dir = TestUtil.TempDir("cfg");
        File.WriteAllText(Path.Combine(dir, "config.json"), "{ \"model_type\": \"bert\", ");
        var messages = new List<string>();
        var e = Assert.Throws<GptBertException>(() => ModelFactory.Load(dir));
        messages.Add(e.Message);
        Assert.Contains("not valid JSON", e.Message);
        File.WriteAllText(Path.Combine(dir, "config.json"), "{ \"model_type\": \"t5\" }");
        e = Assert.Throws<GptBertException>(() => ModelFactory.Load(dir));
        messages.Add(e.Message);
        Assert.Contains("unknown architecture", e.Message);
        File.WriteAllText(Path.Combine(dir, "config.json"), "{ \"model_type\": \"bert\", \"architectures\": [\"BertForCausalLM\"] }");
        e = Assert.Throws<GptBertException>(() => ModelFactory.Load(dir));
        messages.Add(e.Message);
        Assert.Contains("BertForCausalLM", e.Message);
        File.WriteAllText(Path.Combine(dir, "config.json"), "{ \"model_type\": \"bert\", \"hidden_size\": 100, \"num_attention_heads\": 12 }");
        e = Assert.Throws<GptBertException>(() => ModelFactory.Load(dir));
        messages.Add(e.Message);
        Assert.Contains("divisible", e.Message);
        Assert.All(messages, m => Assert.DoesNotContain('\n', m));
    }

    [Fact]
    public void ForwardLeavesNoLiveTensors()
    {
        TestUtil.Init();
        var c = Tiny();
        using var m = new BertForPreTraining(c);
        m.eval();
        var ids = TestUtil.RandomIds(c.VocabSize, 2, 6);
        var mask = ones(2, 6, dtype: ScalarType.Int64);
        TorchSharp.DisposeScopeManager.Statistics.Reset();
        using (no_grad())
        using (NewDisposeScope())
            m.Forward(ids, mask);
        Assert.Equal(0, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void ConfigJsonKeepsHfFieldNamesAndUnknownFields()
    {
        var dir = TestUtil.TempDir("cfgjson");
        var path = Path.Combine(dir, "config.json");
        // A bert-base-uncased config.json as transformers writes it, with fields we do not model.
        File.WriteAllText(path, """
            {"architectures": ["BertForMaskedLM"], "attention_probs_dropout_prob": 0.1, "gradient_checkpointing": false,
             "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": 768, "initializer_range": 0.02,
             "intermediate_size": 3072, "layer_norm_eps": 1e-12, "max_position_embeddings": 512, "model_type": "bert",
             "num_attention_heads": 12, "num_hidden_layers": 12, "pad_token_id": 0, "position_embedding_type": "absolute",
             "transformers_version": "4.6.0.dev0", "type_vocab_size": 2, "use_cache": true, "vocab_size": 30522}
            """);
        var c = (BertConfig)ModelConfig.Load(path);
        Assert.Equal(768, c.HiddenSize);
        Assert.Equal(1e-12, c.LayerNormEps);
        Assert.Equal("BertForMaskedLM", ModelFactory.DefaultArchitecture(c));
        var again = Path.Combine(dir, "again.json");
        c.Save(again);
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(again));
        var names = doc.RootElement.EnumerateObject().Select(p => p.Name).ToList();
        Assert.Equal("model_type", names[0]);
        Assert.Single(names, n => n.Equals("model_type", StringComparison.OrdinalIgnoreCase) || n == "ModelType");
        Assert.Equal("4.6.0.dev0", doc.RootElement.GetProperty("transformers_version").GetString());
        Assert.True(doc.RootElement.GetProperty("use_cache").GetBoolean());
        Assert.Equal(3072, doc.RootElement.GetProperty("intermediate_size").GetInt32());
    }
}
