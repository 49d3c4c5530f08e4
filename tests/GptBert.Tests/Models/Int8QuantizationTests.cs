using GptBert.Checkpoints;
using GptBert.Engine;
using GptBert.Models;
using GptBert.Pipelines;
using GptBert.Training;
using TorchSharp;
using static GptBert.Tests.Cli.CliHarness;
using static TorchSharp.torch;
using Generator = GptBert.Pipelines.Generator;

namespace GptBert.Tests.Models;

/// <summary>
/// int8 models (gptbert quantize): close to fp32 within the quantization error, the int8 kernels really run, directories round
/// trip bit for bit, every loading path accepts them and training refuses them.
/// <para>
/// Tolerance: a 7-bit weight (±63) is off by at most half a step, max|W_c|/126; for a channel of K Gaussian weights the rms
/// error is about (2.5σ/63)/√12 ≈ 1.1% of σ (weight-only: 8 bits, ±127, half that). A uint8 activation row costs about
/// range/255/√12 relative to its rms; after GELU and attention a row's range reaches ~15 rms values, ≈ 1.7%. So a product
/// carries about 2% (dynamic) or 0.6% (weight-only); a tiny model has 8 products in series (4 per layer, 2 layers), whose
/// errors add roughly in quadrature: √8 · 2% ≈ 5.7% and √8 · 0.6% ≈ 1.7%. Hidden states and logits must stay within 8%
/// (dynamic) and 5% (weight-only) relative (Frobenius) error of fp32; measured: 2.6-4.8% dynamic, 1.7-2.5% weight-only.
/// </para>
/// </summary>
public class Int8QuantizationTests(Xunit.Abstractions.ITestOutputHelper output)
{
    static BertConfig TinyBert() => new()
    {
        VocabSize = 100, HiddenSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4, IntermediateSize = 128,
        MaxPositionEmbeddings = 64, HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0, InitializerRange = 0.2,
    };

    static Gpt2Config TinyGpt() => new()
    {
        VocabSize = 100, NPositions = 64, NEmbd = 64, NLayer = 2, NHead = 4, ResidPdrop = 0, EmbdPdrop = 0, AttnPdrop = 0,
        BosTokenId = null, EosTokenId = null, InitializerRange = 0.2,
    };

    static double RelativeError(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        return ((a - b).norm() / b.norm()).item<float>();
    }

    static double Tolerance(string scheme) => scheme == "dynamic" ? 0.08 : 0.05;

    static string SaveFp32(PretrainedModel model)
    {
        var dir = TestUtil.TempDir("int8-src");
        model.SavePretrained(dir);
        return dir;
    }

    static string Quantize(PretrainedModel model, string source, string scheme, bool int8Head = false)
    {
        var dir = TestUtil.TempDir("int8-" + scheme);
        Int8Quantization.Save(model, source, dir, new QuantizeOptions { Scheme = scheme, Int8LmHead = int8Head });
        return dir;
    }

    /// <summary>Drops every int8 layer, so the model computes in fp32 with the dequantized weights (put back in place).</summary>
    static void Dequantized(PretrainedModel m)
    {
        using var _ = no_grad();
        foreach (var (_, module) in Int8Quantization.LinearLayers(m))
            if (module is Dense d) { using var w = d.Quantized!.Dequantize(inOut: false); d.weight.set_(w); d.Quantized = null; }
            else { var c = (Conv1D)module; using var w = c.Quantized!.Dequantize(inOut: true); c.weight.set_(w); c.Quantized = null; }
        if (m is GPT2LMHeadModel lm) lm.LmHead = null;
    }

    [Theory]
    [InlineData("dynamic")]
    [InlineData("weight-only")]
    public void QuantizedTinyBertClassifierStaysWithinTheBound(string scheme)
    {
        TestUtil.Init(3);
        using var _ = no_grad();
        var cfg = TinyBert(); cfg.SetLabels(["neg", "pos", "neutral"]);
        using var fp = new BertForSequenceClassification(cfg);
        fp.eval();
        var dir = Quantize(fp, SaveFp32(fp), scheme);
        var (loaded, report) = ModelFactory.Load(dir);
        using var q = (BertForSequenceClassification)loaded;
        Assert.Empty(report.NewlyInitialized);
        Assert.Empty(report.Unused);
        Assert.Equal(scheme, q.Config.Quantization!.Scheme);
        Assert.Equal(2 * 6 + 2, q.Config.Quantization.Modules.Count); // q, k, v, attention output, intermediate, output per layer; pooler; classifier

        var ids = TestUtil.RandomIds(100, 3, 20);
        var mask = ones(3, 20, dtype: ScalarType.Int64); mask[2, 15..].fill_(0);
        var hq = q.bert.Forward(ids, mask).LastHiddenState; var hf = fp.bert.Forward(ids, mask).LastHiddenState;
        Assert.True(RelativeError(hq, hf) < Tolerance(scheme), $"hidden states: relative error {RelativeError(hq, hf)}");
        var lq = q.Forward(ids, mask); var lf = fp.Forward(ids, mask);
        Assert.True(RelativeError(lq, lf) < Tolerance(scheme), $"logits: relative error {RelativeError(lq, lf)}");
        output.WriteLine($"BERT {scheme}: hidden states {RelativeError(hq, hf):P2}, logits {RelativeError(lq, lf):P2} relative error");

        // The classifier's directory also loads as the bare encoder (embed on a classifier): the same int8 layers, the head unused.
        var (bare, bareReport) = ModelFactory.Load(dir, "BertModel");
        using (bare)
        {
            Assert.Equal(["classifier.weight", "classifier.bias"], bareReport.Unused.Order().Reverse());
            Assert.Equal(0, TestUtil.MaxAbsDiff(((BertModel)bare).Forward(ids, mask).LastHiddenState, hq));
        }

        // The int8 kernels ran: dynamic quantization of the activations changes the result relative to fp32 on the same
        // (dequantized) weights; weight-only computes that same fp32 product up to float rounding (the batch here has 60
        // rows, more than the weight-only kernel takes, so a 6-token input is checked on its own too).
        var one = ids[..1, ..6]; var oneMask = mask[..1, ..6];
        var kernel = q.bert.Forward(one, oneMask).LastHiddenState.clone();
        Dequantized(q);
        var fallback = q.bert.Forward(one, oneMask).LastHiddenState;
        if (scheme == "dynamic") Assert.True(TestUtil.MaxAbsDiff(kernel, fallback) > 0, "the dynamic int8 kernels did not run");
        else Assert.True(RelativeError(kernel, fallback) < 1e-5, $"weight-only vs dequantized fp32: {RelativeError(kernel, fallback)}");
    }

    [Theory]
    [InlineData("dynamic", false)]
    [InlineData("weight-only", false)]
    [InlineData("weight-only", true)]
    [InlineData("dynamic", true)]
    public void QuantizedTinyGptGeneratesGreedilyFromItsDirectory(string scheme, bool int8Head)
    {
        TestUtil.Init(4);
        using var _ = no_grad();
        using var fp = new GPT2LMHeadModel(TinyGpt());
        fp.eval();
        var dir = Quantize(fp, SaveFp32(fp), scheme, int8Head);
        var (loaded, report) = ModelFactory.Load(dir);
        var q = (GPT2LMHeadModel)loaded;
        Assert.Empty(report.Unused);
        Assert.Equal(int8Head, q.LmHead is not null);
        Assert.Equal(2 * 4, q.Config.Quantization!.Modules.Count); // c_attn, attn.c_proj, c_fc, mlp.c_proj per layer

        var ids = TestUtil.RandomIds(100, 2, 12);
        var lq = q.Forward(ids); var lf = fp.Forward(ids);
        Assert.True(RelativeError(lq, lf) < Tolerance(scheme), $"logits: relative error {RelativeError(lq, lf)}");
        // One decoding step with the cache (one row: the weight-only kernel's case).
        using (var cq = new KvCache()) using (var cf = new KvCache())
        {
            q.Forward(ids[..1, ..], cache: cq); fp.Forward(ids[..1, ..], cache: cf);
            var next = tensor(new long[,] { { 7 } });
            var sq = q.Forward(next, cache: cq); var sf = fp.Forward(next, cache: cf);
            Assert.True(RelativeError(sq, sf) < Tolerance(scheme), $"decode step: relative error {RelativeError(sq, sf)}");
            output.WriteLine($"GPT {scheme}, LM head {(int8Head ? "int8" : "fp32")}: logits {RelativeError(lq, lf):P2}, decode step {RelativeError(sq, sf):P2} relative error");
        }

        using var handle = new ModelHandle { Model = q, Tokenizer = new FakeTokenizer(100), Source = dir, Directory = dir, Device = CPU, MaxLength = 64 };
        var greedy = new GenerationOptions { Greedy = true, MaxNewTokens = 12, StopAtEos = false };
        var result = new Generator(handle).Generate("5 17 3", greedy);
        Assert.Equal(12, result.Ids.Count);
        Assert.All(result.Ids, id => Assert.InRange(id, 0, 99));
        // With and without the cache the quantized model picks the same tokens (each step is deterministic).
        Assert.Equal(result.Ids, new Generator(handle).Generate("5 17 3", greedy with { UseCache = false }).Ids);
    }

    [Fact]
    public void ConcurrentCallersGetTheSequentialResults()
    {
        TestUtil.Init(9);
        using var fp = new BertModel(TinyBert());
        fp.eval();
        var dir = Quantize(fp, SaveFp32(fp), "dynamic");
        var (loaded, _) = ModelFactory.Load(dir);
        using var q = (BertModel)loaded;
        var inputs = Enumerable.Range(0, 6).Select(i => TestUtil.RandomIds(100, 1 + i % 3, 5 + 7 * i)).ToArray();
        float[] Run(Tensor ids)
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            return q.Forward(ids, pool: false).LastHiddenState.data<float>().ToArray();
        }
        var sequential = inputs.Select(Run).ToArray();
        TorchRuntime.Configure(threads: 2);
        try
        {
            for (int round = 0; round < 3; round++)
            {
                var parallel = new float[inputs.Length][];
                Parallel.For(0, inputs.Length * 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => parallel[i % inputs.Length] = Run(inputs[i % inputs.Length]));
                for (int i = 0; i < inputs.Length; i++) Assert.Equal(sequential[i], parallel[i]);
            }
        }
        finally { TorchRuntime.Configure(threads: 1); }
    }

    [Fact]
    public void SaveThenLoadKeepsEveryInt8WeightBitForBit()
    {
        TestUtil.Init(5);
        using var _ = no_grad();
        using var gpt = new GPT2LMHeadModel(TinyGpt());
        var dir = Quantize(gpt, SaveFp32(gpt), "weight-only", int8Head: true);
        var header = SafeTensors.ReadHeader(Path.Combine(dir, "model.safetensors"));
        Assert.Equal("I8", header["transformer.h.0.attn.c_attn.weight"].Dtype);
        Assert.Equal([64, 192], header["transformer.h.0.attn.c_attn.weight"].Shape); // Conv1D (in, out)
        Assert.Equal("F32", header["transformer.h.0.attn.c_attn.weight_scale"].Dtype);
        Assert.Equal([192], header["transformer.h.0.attn.c_attn.weight_scale"].Shape);
        Assert.Equal("F32", header["transformer.wte.weight"].Dtype);
        Assert.Equal("I8", header["lm_head.weight"].Dtype);
        Assert.Equal("F32", header["transformer.h.0.ln_1.weight"].Dtype);

        // The file holds exactly round(W / scale) clamped to ±127, scale = max|W| / 127 per output channel (explicit arithmetic).
        var file = SafeTensors.Load(Path.Combine(dir, "model.safetensors"));
        var w = gpt.state_dict()["transformer.h.1.mlp.c_fc.weight"]; // (64, 256) = (in, out)
        var scale = w.abs().amax([0]) / 127.0;
        var expected = (w / scale.unsqueeze(0)).round().clamp(-127, 127).to(ScalarType.Int8);
        Assert.True(file["transformer.h.1.mlp.c_fc.weight"].eq(expected).all().item<bool>());
        Assert.True(TestUtil.MaxAbsDiff(file["transformer.h.1.mlp.c_fc.weight_scale"], scale) == 0);

        // Loaded: every int8 weight the kernels hold equals the file's, for Conv1D (transposed) and the LM head.
        var (loaded, _) = ModelFactory.Load(dir);
        using var q = (GPT2LMHeadModel)loaded;
        var layer = (Conv1D)q.named_modules().Single(m => m.name == "transformer.h.1.mlp.c_fc").module;
        var stored = file["transformer.h.1.mlp.c_fc.weight"].data<sbyte>().ToArray(); // (in 64, out 256)
        for (int k = 0; k < 64; k++)
            for (int n = 0; n < 256; n++) Assert.Equal(stored[k * 256 + n], layer.Quantized![n, k]);
        var head = file["lm_head.weight"].data<sbyte>().ToArray(); // (V 100, C 64)
        for (int n = 0; n < 100; n++)
            for (int k = 0; k < 64; k++) Assert.Equal(head[n * 64 + k], q.LmHead![n, k]);
        foreach (var t in file.Values) t.Dispose();
    }

    [Theory]
    [InlineData("dynamic")]
    [InlineData("weight-only")]
    public void AnInt8ModelHoldsNoFloatCopyAndItsFloatPathsUseTheFileIntegers(string scheme)
    {
        TestUtil.Init(7);
        using var _ = no_grad();
        using var fp = new GPT2LMHeadModel(TinyGpt());
        fp.eval();
        var dir = Quantize(fp, SaveFp32(fp), scheme);
        var file = SafeTensors.Load(Path.Combine(dir, "model.safetensors"));
        var (loaded, _) = ModelFactory.Load(dir);
        using var q = (GPT2LMHeadModel)loaded;

        // Every quantized layer's float weight keeps its shape (the state dict's contract) but no storage: stride 0 everywhere.
        foreach (var (name, module) in Int8Quantization.LinearLayers(q))
        {
            var w = ((Conv1D)module).weight;
            Assert.Equal(file[name + ".weight"].shape, w.shape);
            Assert.All(w.stride(), s => Assert.Equal(0, s));
        }
        // What a float consumer reads (the ONNX exporter, a distillation student's initialisation) is the file's integers times
        // their per-output-channel scales, exactly (Conv1D: (in, out), one scale per column).
        var floats = Int8Quantization.FloatStateDict(q);
        const string key = "transformer.h.1.mlp.c_fc.weight";
        var expected = file[key].to(ScalarType.Float32) * file[key + "_scale"].unsqueeze(0);
        Assert.Equal(0, TestUtil.MaxAbsDiff(floats[key], expected));

        // The float path (taken here because gradients are wanted: the int8 kernels are inference only) computes
        // x · (q · scale) + b: the same explicit product.
        var layer = (Conv1D)q.named_modules().Single(m => m.name == "transformer.h.1.mlp.c_fc").module;
        var x = randn(3, 64);
        Tensor y;
        using (enable_grad()) { var xg = x.clone().requires_grad_(true); y = layer.forward(xg).detach(); }
        var reference = x.matmul(expected) + file["transformer.h.1.mlp.c_fc.bias"];
        Assert.True(TestUtil.MaxAbsDiff(y, reference) < 1e-5, $"float path vs explicit product: {TestUtil.MaxAbsDiff(y, reference)}");

        // A model in memory without float weights is not saved as if it had them, and pruning asks for the fp32 model.
        var save = Assert.Throws<GptBertException>(() => q.SavePretrained(TestUtil.TempDir("int8-save")));
        Assert.Contains("gptbert quantize", save.Message);
        foreach (var t in file.Values) t.Dispose();
    }

    [Fact]
    public void MiniLmEmbeddingsKeepCosineAbove099()
    {
        TestUtil.Init();
        string[] texts =
        [
            "The cat sat on the mat.", "Stock markets fell sharply on Monday after the announcement.",
            "How do I reset my password?", "A quick brown fox jumps over the lazy dog near the river bank.",
            "Quantization trades a little accuracy for speed.",
        ];
        using var fp = ModelHub.Load(ModelHub.MiniLm, requireHead: false);
        var dir = TestUtil.TempDir("int8-minilm");
        Int8Quantization.Save(fp.Model, fp.Directory, dir, new QuantizeOptions());
        using var q = ModelHub.Load(dir, requireHead: false);
        Assert.Equal(fp.MaxLength, q.MaxLength); // sentence-transformers files came along
        Assert.Equal(Pooling.Mean, ModelHub.DeclaredPooling(dir));
        var a = new Embedder(fp).Embed(texts);
        var b = new Embedder(q).Embed(texts);
        output.WriteLine($"MiniLM cosines: {string.Join(", ", a.Select((v, i) => Embedder.Cosine(v, b[i]).ToString("F5")))}");
        for (int i = 0; i < texts.Length; i++)
            Assert.True(Embedder.Cosine(a[i], b[i]) >= 0.99, $"'{texts[i]}': cosine {Embedder.Cosine(a[i], b[i])}");
    }

    [Fact]
    public void TrainingAQuantizedModelIsRefusedInOneLine()
    {
        var qdir = TestUtil.TempDir("int8-cli-gpt");
        var r = Run(null, "quantize", "--model", Cli.TinyModels.Gpt2, "--output", qdir, "--scheme", "weight-only", "--json");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("weight-only", System.Text.Json.JsonDocument.Parse(r.Stdout).RootElement.GetProperty("scheme").GetString());

        var ex = Assert.Throws<GptBertException>(() => ModelFactory.Load(qdir, training: true));
        Assert.Contains("int8-quantized", ex.Message);
        var data = Path.Combine(TestUtil.TempDir("int8-data"), "corpus.txt");
        File.WriteAllText(data, string.Join("\n", Enumerable.Repeat("the cat sat on the mat and the dog sat on the log.", 50)));
        // pretrain's --init-from (the library's PretrainSpec.InitFrom, as compare's generation runs use it).
        var pretrain = Assert.Throws<GptBertException>(() => TrainingRuns.Pretrain(new PretrainSpec
        {
            Arch = "gpt", Data = data, InitFrom = qdir, Tokenizer = "gpt2", Output = TestUtil.TempDir("int8-pre"), Training = new() { MaxSteps = 1 },
        }));
        Assert.Contains("int8-quantized", pretrain.Message);
        var train = Path.Combine(TestUtil.TempDir("int8-train"), "train.csv");
        File.WriteAllText(train, "text,label\n" + string.Join("\n", Enumerable.Range(0, 20).Select(i => $"text {i},{(i % 2 == 0 ? "a" : "b")}")));
        var finetune = Run(null, "finetune", "--model", qdir, "--tokenizer", "gpt2", "--train", train, "--output", TestUtil.TempDir("int8-ft"), "--max-steps", "1");
        Assert.Contains("int8-quantized", AssertOneLineError(finetune));
        var prune = Run(null, "prune", "--model", qdir, "--output", TestUtil.TempDir("int8-prune"), "--heads", "0.25");
        Assert.Contains("int8-quantized", AssertOneLineError(prune));
        var again = Run(null, "quantize", "--model", qdir, "--output", TestUtil.TempDir("int8-again"));
        Assert.Contains("already quantized", AssertOneLineError(again));
    }

    [Fact]
    public void InferenceCommandsRunAQuantizedDirectory()
    {
        var bert = TestUtil.TempDir("int8-cli-bert");
        var r = Run(null, "quantize", "--model", Cli.TinyModels.Bert, "--output", bert);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.StartsWith("quantized 7 linear layers of BertModel to int8 (dynamic", r.StdoutLines[0]);
        var embed = Run(null, "embed", "--model", bert, "--tokenizer", "bert-base-uncased", "--jsonl", "The cat sat on the mat.");
        var fp = Run(null, "embed", "--model", Cli.TinyModels.Bert, "--tokenizer", "bert-base-uncased", "--jsonl", "The cat sat on the mat.");
        Assert.True(embed.ExitCode == 0, embed.ToString());
        float[] Vec(Cli.CliResult c) => c.JsonLines[0].GetProperty("embedding").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        Assert.True(Embedder.Cosine(Vec(embed), Vec(fp)) >= 0.99);
        var sim = Run(null, "similarity", "--model", bert, "--tokenizer", "bert-base-uncased", "a cat", "a kitten");
        Assert.True(sim.ExitCode == 0, sim.ToString());

        var mlm = TestUtil.TempDir("int8-cli-mlm");
        Assert.Equal(0, Run(null, "quantize", "--model", Cli.TinyModels.BertMlm, "--output", mlm).ExitCode);
        var fill = Run(null, "fill-mask", "--model", mlm, "--tokenizer", "bert-base-uncased", "The cat sat on the [MASK].");
        Assert.True(fill.ExitCode == 0, fill.ToString());

        string clfSource = TestUtil.TempDir("int8-clf-src"), clf = TestUtil.TempDir("int8-cli-clf");
        TestUtil.Init(6);
        var cfg = TinyBert(); cfg.VocabSize = 30522; cfg.SetLabels(["neg", "pos"]);
        using (var model = new BertForSequenceClassification(cfg)) model.SavePretrained(clfSource);
        Assert.Equal(0, Run(null, "quantize", "--model", clfSource, "--output", clf).ExitCode);
        var classify = Run(null, "classify", "--model", clf, "--tokenizer", "bert-base-uncased", "--jsonl", "a fine day");
        var classifyFp = Run(null, "classify", "--model", clfSource, "--tokenizer", "bert-base-uncased", "--jsonl", "a fine day");
        Assert.True(classify.ExitCode == 0, classify.ToString());
        Assert.Equal(classifyFp.JsonLines[0].GetProperty("label").GetString(), classify.JsonLines[0].GetProperty("label").GetString());

        var gpt = TestUtil.TempDir("int8-cli-gpt2");
        Assert.Equal(0, Run(null, "quantize", "--model", Cli.TinyModels.Gpt2, "--tokenizer", "gpt2", "--output", gpt, "--lm-head", "int8").ExitCode);
        var gen = Run(null, "generate", "--model", gpt, "--prompt", "Hello", "--greedy", "--max-new-tokens", "5"); // the tokenizer was saved with it
        Assert.True(gen.ExitCode == 0, gen.ToString());
        var bad = Run(null, "quantize", "--model", Cli.TinyModels.Bert, "--output", TestUtil.TempDir("int8-bad"), "--lm-head", "int8");
        Assert.Contains("GPT-2", AssertOneLineError(bad, exitCode: 2));
    }
}
