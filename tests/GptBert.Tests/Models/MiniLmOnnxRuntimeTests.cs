using GptBert.Assets;
using GptBert.Models;
using GptBert.Pipelines;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using static TorchSharp.torch;

namespace GptBert.Tests.Models;

/// <summary>
/// The built-in MiniLM (weights imported from the shipped ONNX into our BertModel) against ONNX Runtime
/// running that very ONNX file: same token ids in, last_hidden_state and sentence embeddings out.
/// </summary>
public sealed class MiniLmOnnxRuntimeTests : IClassFixture<MiniLmOnnxRuntimeTests.Fixture>
{
    public sealed class Fixture : IDisposable
    {
        public readonly ModelHandle Handle;
        public readonly InferenceSession Session;

        public Fixture()
        {
            TestUtil.Init();
            Handle = ModelHub.Load("minilm");
            Session = new InferenceSession(BuiltIn.ReadMiniLmResource("model.onnx"), new SessionOptions { IntraOpNumThreads = 1 });
        }

        public void Dispose() { Handle.Dispose(); Session.Dispose(); }
    }

    readonly Fixture f;
    public MiniLmOnnxRuntimeTests(Fixture f) => this.f = f;

    static readonly string LongText = string.Join(" ", Enumerable.Repeat("The quick brown fox jumps over the lazy dog near the riverbank.", 20));

    public static readonly (string Text, string? Pair)[] Inputs =
    [
        ("Hello, World!", null),
        ("Call me Ishmael.", null),
        ("The whale breached and destroyed the whaleboat in a single blow.", null),
        ("café naïve résumé Ångström", null),
        ("東京タワーは高い。北京欢迎你", null),
        ("한국어 문장도 처리합니다", null),
        ("I love pizza 🍕🍕 and 😀 emoji 👩‍👩‍👧", null),
        ("price: $100 + tax = <total> ^ ~ | \\ { }", null),
        ("tabs\tand\nnewlines\r\nmixed", null),
        ("a", null),
        ("UPPER CASE and MiXeD cAsE", null),
        ("def f(x):\n    return x ** 2  # square", null),
        ("https://example.com/path?q=1&r=2 user@example.org", null),
        ("12345 3.14159 1e-10 -42", null),
        ("What is the capital of France?", "Paris is the capital and largest city of France."),
        ("How old is the universe?", "About 13.8 billion years."),
        ("Short.", "A much longer second segment that should carry token type ids of one throughout its length."),
        ("unaffable antidisestablishmentarianism supercalifragilisticexpialidocious", null),
        ("Ahab's leg; the Pequod's crew — \"Thar she blows!\"", null),
        (LongText, null),
        (LongText, "And a pair after a long first text."),
        ("", null),
    ];

    (float[] Hidden, long[] Shape) RunOrt(long[] ids, long[] mask, long[] types, int b, int t)
    {
        int[] dims = [b, t];
        var inputs = new List<NamedOnnxValue>();
        foreach (var name in f.Session.InputMetadata.Keys)
        {
            var data = name.Contains("mask") ? mask : name.Contains("type") ? types : ids;
            inputs.Add(NamedOnnxValue.CreateFromTensor(name, new DenseTensor<long>(data, dims)));
        }
        var outName = f.Session.OutputMetadata.Keys.First(k => k.Contains("last_hidden") || k.Contains("token_embeddings") || k == f.Session.OutputMetadata.Keys.First());
        using var results = f.Session.Run(inputs, [outName]);
        var tensor = results.First().AsTensor<float>();
        return (tensor.ToArray(), tensor.Dimensions.ToArray().Select(d => (long)d).ToArray());
    }

    [Fact]
    public void LastHiddenStateMatchesOnnxRuntimeOnVariedBatchedInputs()
    {
        var encs = f.Handle.Tokenizer.EncodeBatch(Inputs.Select(i => (i.Text, i.Pair)).ToList(), maxLength: 128, padToLongest: true);
        Assert.Contains(encs, e => e.Truncated);          // the long texts were truncated to 128
        Assert.Equal(128, encs.Max(e => e.Ids.Length));
        int B = encs.Count, T = encs[0].Ids.Length;
        var ids = encs.SelectMany(e => e.Ids.Select(x => (long)x)).ToArray();
        var mask = encs.SelectMany(e => e.AttentionMask.Select(x => (long)x)).ToArray();
        var types = encs.SelectMany(e => e.TypeIds.Select(x => (long)x)).ToArray();
        Assert.Contains(1L, types);

        var (expected, shape) = RunOrt(ids, mask, types, B, T);
        Assert.Equal(new long[] { B, T, 384 }, shape);

        using var _ = inference_mode();
        var bert = (BertModel)f.Handle.Model;
        var hidden = bert.Forward(tensor(ids, [B, T]), tensor(mask, [B, T]), tensor(types, [B, T])).LastHiddenState;
        var ours = hidden.data<float>().ToArray();
        double maxDiff = 0;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
            {
                if (mask[b * T + t] == 0) continue; // padding positions are not part of the output contract
                for (int h = 0; h < 384; h++)
                {
                    int i = (b * T + t) * 384 + h;
                    maxDiff = Math.Max(maxDiff, Math.Abs(ours[i] - expected[i]));
                }
            }
        Assert.True(maxDiff <= 1e-4, $"max |diff| of last_hidden_state = {maxDiff:E2}");
    }

    [Fact]
    public void SentenceEmbeddingsMatchOnnxRuntimeMeanPooling()
    {
        var texts = Inputs.Where(i => i.Pair is null && i.Text.Length > 0).Select(i => i.Text).ToList();
        var ours = new Embedder(f.Handle) { BatchSize = 8 }.Embed(texts, maxLength: 128);
        for (int n = 0; n < texts.Count; n++)
        {
            // Reference: ONNX Runtime on the text alone (no padding), then mean pooling + L2 norm by hand.
            var e = f.Handle.Tokenizer.Encode(texts[n], maxLength: 128);
            int T = e.Ids.Length;
            var (hidden, _) = RunOrt(e.Ids.Select(x => (long)x).ToArray(), Enumerable.Repeat(1L, T).ToArray(), new long[T], 1, T);
            var pooled = new double[384];
            for (int t = 0; t < T; t++) for (int h = 0; h < 384; h++) pooled[h] += hidden[t * 384 + h] / T;
            double norm = Math.Sqrt(pooled.Sum(x => x * x));
            var reference = pooled.Select(x => (float)(x / norm)).ToArray();

            Assert.Equal(384, ours[n].Length);
            Assert.InRange(Math.Sqrt(ours[n].Sum(x => (double)x * x)), 0.99999, 1.00001);
            double cos = Embedder.Cosine(ours[n], reference);
            Assert.True(cos >= 0.99999, $"'{texts[n]}': cosine {cos:F7}");
        }
    }

    [Fact]
    public void EmbeddingsAreSemanticallySensible()
    {
        var e = new Embedder(f.Handle).Embed(["A man is eating food.", "A man is eating a piece of bread.", "The stock market fell sharply today."]);
        Assert.True(Embedder.Cosine(e[0], e[1]) > Embedder.Cosine(e[0], e[2]) + 0.3);
    }
}
