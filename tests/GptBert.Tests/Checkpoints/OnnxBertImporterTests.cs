using Google.Protobuf;
using GptBert.Assets;
using GptBert.Checkpoints;
using Microsoft.ML.OnnxRuntime;
using DenseTensorLong = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<long>;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace GptBert.Tests.Checkpoints;

/// <summary>The shipped all-MiniLM-L6-v2 ONNX, read and imported once for the whole class.</summary>
public sealed class MiniLmOnnxFixture : IDisposable
{
    public byte[] Bytes { get; } = BuiltIn.ReadMiniLmResource("model.onnx");
    public Onnx.ModelProto Model { get; }
    public Dictionary<string, Tensor> Weights { get; }
    public OnnxBertInfo Info { get; }

    public MiniLmOnnxFixture()
    {
        Model = Onnx.ModelProto.Parser.ParseFrom(Bytes);
        Weights = OnnxBertImporter.Import(Bytes, out var info);
        Info = info;
    }

    public void Dispose()
    {
        foreach (var t in Weights.Values) t.Dispose();
    }
}

public class OnnxBertImporterTests(MiniLmOnnxFixture fx) : IClassFixture<MiniLmOnnxFixture>
{
    // sentence-transformers/all-MiniLM-L6-v2 config.json: vocab 30522, hidden 384, 6 layers, 12 heads,
    // intermediate 1536, 512 positions, 2 token types, layer_norm_eps 1e-12, hidden_act "gelu".
    const int Hidden = 384, Layers = 6, Heads = 12, Inter = 1536;

    static IEnumerable<string> ExpectedNames()
    {
        yield return "embeddings.word_embeddings.weight";
        yield return "embeddings.position_embeddings.weight";
        yield return "embeddings.token_type_embeddings.weight";
        yield return "embeddings.LayerNorm.weight";
        yield return "embeddings.LayerNorm.bias";
        for (int i = 0; i < Layers; i++)
            foreach (var m in new[] { "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
                                      "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm" })
            {
                yield return $"encoder.layer.{i}.{m}.weight";
                yield return $"encoder.layer.{i}.{m}.bias";
            }
        yield return "pooler.dense.weight";
        yield return "pooler.dense.bias";
    }

    [Fact]
    public void Import_GivesExactlyTheBertModelNames_WithHfShapes()
    {
        Assert.Equal(ExpectedNames().Order(StringComparer.Ordinal), fx.Weights.Keys.Order(StringComparer.Ordinal));
        Assert.Equal([30522L, Hidden], fx.Weights["embeddings.word_embeddings.weight"].shape);
        Assert.Equal([512L, Hidden], fx.Weights["embeddings.position_embeddings.weight"].shape);
        Assert.Equal([2L, Hidden], fx.Weights["embeddings.token_type_embeddings.weight"].shape);
        for (int i = 0; i < Layers; i++)
        {
            Assert.Equal([(long)Hidden, Hidden], fx.Weights[$"encoder.layer.{i}.attention.self.query.weight"].shape);
            Assert.Equal([(long)Inter, Hidden], fx.Weights[$"encoder.layer.{i}.intermediate.dense.weight"].shape);
            Assert.Equal([(long)Hidden, Inter], fx.Weights[$"encoder.layer.{i}.output.dense.weight"].shape);
            Assert.Equal([(long)Inter], fx.Weights[$"encoder.layer.{i}.intermediate.dense.bias"].shape);
        }
        Assert.All(fx.Weights.Values, t => Assert.Equal(ScalarType.Float32, t.dtype));
        Assert.All(fx.Weights.Values, t => Assert.True(t.is_contiguous()));
    }

    [Fact]
    public void Info_MatchesTheModelsConfig()
    {
        Assert.Equal(new OnnxBertInfo(VocabSize: 30522, HiddenSize: Hidden, NumLayers: Layers, NumHeads: Heads, IntermediateSize: Inter,
            MaxPositions: 512, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu", HasPooler: true), fx.Info);
    }

    [Fact]
    public void WordEmbeddings_AreTheInitializerBytes()
    {
        var init = fx.Model.Graph.Initializer.Single(t => t.Name == "embeddings.word_embeddings.weight");
        Assert.True(init.RawData.Span.SequenceEqual(fx.Weights["embeddings.word_embeddings.weight"].bytes));
    }

    [Fact]
    public void LinearWeights_AreTheTransposeOfTheMatMulFeedingTheirBias()
    {
        // Walk the graph here: Add(bias, MatMul(x, W)) means Linear weight = Wᵀ.
        var g = fx.Model.Graph;
        var producer = g.Node.SelectMany(n => n.Output.Select(o => (o, n))).ToDictionary(p => p.o, p => p.n);
        var inits = g.Initializer.ToDictionary(t => t.Name);
        int checkedCount = 0;
        for (int i = 0; i < Layers; i++)
            foreach (var m in new[] { "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense", "intermediate.dense", "output.dense" })
            {
                string bias = $"encoder.layer.{i}.{m}.bias";
                var add = g.Node.Single(n => n.OpType == "Add" && n.Input.Contains(bias));
                var matmul = producer[add.Input.Single(x => x != bias)];
                Assert.Equal("MatMul", matmul.OpType);
                var w = inits[matmul.Input[1]];
                using var onnxW = tensor(w.RawData.ToByteArray().Chunk(4).Select(b => BitConverter.ToSingle(b)).ToArray()).reshape(w.Dims[0], w.Dims[1]);
                var ours = fx.Weights[$"encoder.layer.{i}.{m}.weight"];
                Assert.True(ours.eq(onnxW.t()).all().item<bool>(), $"{m} of layer {i} is not the transpose of {w.Name}");
                checkedCount++;
            }
        Assert.Equal(Layers * 6, checkedCount);
    }

    [Fact]
    public void ImportedWeights_ReproduceOnnxRuntimeOutputs()
    {
        // Run the real graph in ONNX Runtime, then an independent BERT forward pass over the imported weights.
        long[] ids = [101, 7592, 1010, 2088, 999, 2023, 2003, 1037, 3231, 102];
        long[] types = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1];
        int len = ids.Length;
        float[] ortHidden, ortPooled;
        using (var session = new InferenceSession(fx.Bytes))
        {
            var inputs = new List<NamedOnnxValue>
            {
                NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensorLong(ids, [1, len])),
                NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensorLong(Enumerable.Repeat(1L, len).ToArray(), [1, len])),
                NamedOnnxValue.CreateFromTensor("token_type_ids", new DenseTensorLong(types, [1, len])),
            };
            using var results = session.Run(inputs);
            ortHidden = results.Single(r => r.Name == "last_hidden_state").AsTensor<float>().ToArray();
            ortPooled = results.Single(r => r.Name != "last_hidden_state").AsTensor<float>().ToArray();
        }

        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var w = fx.Weights;
        Tensor Lin(Tensor x, string p) => F.linear(x, w[p + ".weight"], w[p + ".bias"]);
        Tensor Ln(Tensor x, string p) => F.layer_norm(x, [Hidden], w[p + ".weight"], w[p + ".bias"], 1e-12);

        var idT = tensor(ids).unsqueeze(0);
        var x = w["embeddings.word_embeddings.weight"].index_select(0, idT[0]).unsqueeze(0)
              + w["embeddings.position_embeddings.weight"].narrow(0, 0, len).unsqueeze(0)
              + w["embeddings.token_type_embeddings.weight"].index_select(0, tensor(types)).unsqueeze(0);
        x = Ln(x, "embeddings.LayerNorm");
        int d = Hidden / Heads;
        for (int i = 0; i < Layers; i++)
        {
            string p = $"encoder.layer.{i}.";
            Tensor Split(Tensor t) => t.reshape(1, len, Heads, d).transpose(1, 2);
            var q = Split(Lin(x, p + "attention.self.query"));
            var k = Split(Lin(x, p + "attention.self.key"));
            var v = Split(Lin(x, p + "attention.self.value"));
            var probs = F.softmax(q.matmul(k.transpose(-1, -2)) / Math.Sqrt(d), -1);
            var ctx = probs.matmul(v).transpose(1, 2).reshape(1, len, Hidden);
            x = Ln(Lin(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm");
            var h = F.gelu(Lin(x, p + "intermediate.dense"));
            x = Ln(Lin(h, p + "output.dense") + x, p + "output.LayerNorm");
        }
        var pooled = Lin(x.select(1, 0), "pooler.dense").tanh();

        float[] ours = x.flatten().data<float>().ToArray();
        Assert.Equal(ortHidden.Length, ours.Length);
        Assert.True(MaxDiff(ortHidden, ours) < 1e-4, $"last_hidden_state differs by {MaxDiff(ortHidden, ours)}");
        float[] oursPooled = pooled.flatten().data<float>().ToArray();
        Assert.True(MaxDiff(ortPooled, oursPooled) < 1e-4, $"pooler output differs by {MaxDiff(ortPooled, oursPooled)}");
    }

    static float MaxDiff(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max();

    [Fact]
    public void MissingInitializer_IsNamedInTheError()
    {
        var broken = fx.Model.Clone();
        var victim = broken.Graph.Initializer.Single(t => t.Name == "encoder.layer.3.output.LayerNorm.bias");
        broken.Graph.Initializer.Remove(victim);
        var ex = Assert.Throws<GptBertException>(() => OnnxBertImporter.Import(broken.ToByteArray()));
        Assert.Contains("encoder.layer.3.output.LayerNorm.bias", ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void NotAnOnnxModel_IsReported()
    {
        var ex = Assert.Throws<GptBertException>(() => OnnxBertImporter.Import([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3]));
        Assert.Contains("ONNX", ex.Message);
    }

    [Fact]
    public void Inspect_ListsTheMapping()
    {
        var report = OnnxBertImporter.Inspect(fx.Bytes);
        Assert.Contains("encoder.layer.0.attention.self.query.weight [384, 384] <- ", report);
        Assert.Contains("(transposed)", report);
        Assert.Contains("NumHeads = 12", report);
    }
}
