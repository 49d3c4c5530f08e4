using GptBert.Models;
using GptBert.OnnxExport;
using GptBert.Pipelines;
using GptBert.Tests.Models;
using GptBert.Tokenizers;


namespace GptBert.Tests.OnnxExport;

/// <summary>
/// The pipelines on the ONNX Runtime backend against the same pipelines on TorchSharp: generation token for token (greedy
/// and seeded sampling, with and without the cache), classification probabilities, and the built-in MiniLM's embeddings.
/// </summary>
public class OnnxBackendTests
{
    /// <summary>A tiny GPT-2 (GPT-2's 50257-token vocabulary, hidden 32) saved with the gpt2 tokenizer, and its ONNX export.</summary>
    static readonly Lazy<(string Torch, string Onnx)> gpt2 = new(() =>
    {
        TestUtil.Init(21);
        var c = OnnxExportTests.TinyGpt2() with { VocabSize = 50257, NPositions = 64 };
        return SaveAndExport("onnx-gpt2", OnnxExportTests.Randomized(new GPT2LMHeadModel(c)), TokenizerLoader.Gpt2);
    });

    static (string Torch, string Onnx) SaveAndExport(string name, PretrainedModel model, string tokenizer)
    {
        using (model)
        {
            var dir = TestUtil.TempDir(name);
            var tok = TokenizerLoader.Load(tokenizer);
            model.SavePretrained(dir);
            tok.SaveForModel(dir, model.Config.MaxPositions);
            var onnx = TestUtil.TempDir(name + "-onnx");
            OnnxExporter.Export(model, tok, onnx);
            return (dir, onnx);
        }
    }

    [Fact]
    public void Gpt2GenerationOnOnnxRuntimeIsTokenForTokenTheTorchSharpGenerator()
    {
        var (torchDir, onnxDir) = gpt2.Value;
        using var handle = ModelHub.Load(torchDir, "GPT2LMHeadModel");
        using var onnx = OnnxModel.Load(onnxDir, threads: 1);
        Assert.Equal("GPT2LMHeadModel", onnx.Architecture);
        var torchGen = new Generator(handle);
        var onnxGen = new Generator(onnx);

        var plain = new GenerationOptions { Greedy = true, MaxNewTokens = 24, StopAtEos = false };
        Assert.Equal(torchGen.Generate("The whale", plain).Ids, onnxGen.Generate("The whale", plain).Ids);
        // A random model's greedy output soon repeats one token; a repetition penalty keeps it moving (still argmax decoding).
        var greedy = plain with { RepetitionPenalty = 3 };
        var expected = torchGen.Generate("The whale", greedy);
        Assert.True(expected.Ids.Distinct().Count() > 8, $"the tiny model's greedy output is too repetitive to test with: {string.Join(" ", expected.Ids)}");
        Assert.Equal(expected.Ids, onnxGen.Generate("The whale", greedy).Ids);
        Assert.Equal(expected.Ids, onnxGen.Generate("The whale", greedy with { UseCache = false }).Ids);
        Assert.Equal(expected.Text, onnxGen.Generate("The whale", greedy).Text);

        var sampled = new GenerationOptions { TopK = 0, Seed = 5, MaxNewTokens = 24, StopAtEos = false };
        Assert.Equal(torchGen.Generate("Call me", sampled).Ids, onnxGen.Generate("Call me", sampled).Ids);

        // The next-token logits themselves, from a whole prompt and then through the cache.
        var torchRunner = new TorchRunner(handle);
        var prompt = handle.Tokenizer.Encode("It was the best of times", addSpecialTokens: false).Ids;
        using var tc = torchRunner.NewCache();
        using var oc = onnx.NewCache();
        for (int step = 0; step < 3; step++)
        {
            IReadOnlyList<int> feed = step == 0 ? prompt : [100 + step];
            var a = torchRunner.NextTokenLogits(feed, tc);
            var b = onnx.NextTokenLogits(feed, oc);
            Assert.Equal(tc.Length, oc.Length);
            Assert.True(a.Zip(b).Max(p => Math.Abs(p.First - p.Second)) <= 1e-4, $"step {step}");
        }
    }

    [Fact]
    public void GenerationOnAnEncoderExportIsRefusedInOneLine()
    {
        TestUtil.Init(22);
        var (_, onnxDir) = SaveAndExport("onnx-bert-gen", new BertModel(OnnxExportTests.TinyBert() with { VocabSize = 30522 }), TokenizerLoader.BertBaseUncased);
        using var onnx = OnnxModel.Load(onnxDir);
        var e = Assert.Throws<GptBertException>(() => new Generator(onnx).Generate("hello", new GenerationOptions { MaxNewTokens = 2 }));
        Assert.Contains("generate needs a GPT-2 language model", e.Message);
    }

    [Theory]
    [InlineData("BertForSequenceClassification")]
    [InlineData("GPT2ForSequenceClassification")]
    public void ClassifierOnOnnxRuntimeGivesTheTorchSharpProbabilities(string architecture)
    {
        TestUtil.Init(23);
        bool gpt = architecture.StartsWith("GPT2");
        ModelConfig config = gpt ? OnnxExportTests.TinyGpt2() with { VocabSize = 50257, NPositions = 64 } : OnnxExportTests.TinyBert() with { VocabSize = 30522, MaxPositionEmbeddings = 64 };
        var (torchDir, onnxDir) = SaveAndExport("onnx-clf", OnnxExportTests.Randomized(ModelFactory.Create(config, architecture)),
            gpt ? TokenizerLoader.Gpt2 : TokenizerLoader.BertBaseUncased);
        (string, string?)[] inputs =
        [
            ("A short one.", null), ("A much longer text with many more tokens than the first, to pad the batch.", null),
            ("Pairs too?", "Yes, with a second segment."), ("x", null),
        ];
        using var torch = new Classifier(torchDir);
        using var onnx = OnnxModel.Load(onnxDir);
        var viaOnnx = new Classifier(onnx);
        Assert.Equal(torch.Labels, viaOnnx.Labels);
        var a = torch.Classify(inputs);
        var b = viaOnnx.Classify(inputs);
        for (int i = 0; i < inputs.Length; i++)
        {
            Assert.Equal(a[i].Label, b[i].Label);
            foreach (var (label, p) in a[i].Scores) Assert.True(Math.Abs(p - b[i].Scores[label]) <= 1e-5, $"{inputs[i]}: {label} {p} vs {b[i].Scores[label]}");
        }
        Assert.True(a.Select(c => c.Scores.Values.Max()).Distinct().Count() > 1, "a degenerate classifier says nothing");
    }

    [Fact]
    public void ExportedMiniLmEmbedsAsTheTorchSharpPath()
    {
        TestUtil.Init();
        using var handle = ModelHub.Load(ModelHub.MiniLm, requireHead: false);
        using var onnx = OnnxModel.Load(ModelHub.MiniLm, threads: 1);
        Assert.Equal(256, onnx.MaxLength); // sentence_bert_config.json travelled with the export
        var texts = MiniLmOnnxRuntimeTests.Inputs.Where(i => i.Pair is null && i.Text.Length > 0).Select(i => i.Text).ToList();
        var ours = new Embedder(handle) { BatchSize = 8 }.Embed(texts, maxLength: 128);
        var exported = new Embedder(onnx) { BatchSize = 8 }.Embed(texts, maxLength: 128);
        for (int i = 0; i < texts.Count; i++)
        {
            double cos = Embedder.Cosine(ours[i], exported[i]);
            Assert.True(cos >= 0.99999, $"'{texts[i]}': cosine {cos:F7}");
        }
    }

    [Fact]
    public void ADirectoryWithoutModelOnnxIsRefusedWithTheFix()
    {
        var (torchDir, _) = gpt2.Value;
        var e = Assert.Throws<GptBertException>(() => OnnxModel.Load(torchDir));
        Assert.Contains("has no model.onnx", e.Message);
        Assert.Contains("gptbert export onnx", e.Message);
    }
}
