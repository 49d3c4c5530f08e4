using GptBert.Engine;
using GptBert.Models;
using GptBert.Training;
using static TorchSharp.torch;

namespace GptBert.Tests.Training;

public class TrainerTests
{
    /// <summary>A 24-token pattern repeated: after a few tokens of context every next token is determined.</summary>
    static int[] Periodic(int n, int vocab)
    {
        var rng = new Random(5);
        var pattern = Enumerable.Range(0, 24).Select(_ => 5 + rng.Next(vocab - 5)).ToArray();
        return Enumerable.Range(0, n).Select(i => pattern[i % pattern.Length]).ToArray();
    }

    [Fact]
    public void CausalLmLossFalls()
    {
        TestUtil.Init();
        var tok = TrainingTestUtil.Vocab();
        using var model = new GPT2LMHeadModel(TrainingTestUtil.TinyGpt(tok.VocabSize));
        using var stream = TokenStream.FromIds(Periodic(4000, tok.VocabSize));
        var obj = new CausalLmObjective(model, stream, stream, blockSize: 32, seed: 1, CPU) { EvalBatches = 2 };
        var before = obj.Evaluate()!["loss"];
        var dir = TestUtil.TempDir("clm");
        var result = new Trainer(obj, tok, new TrainingOptions { MaxSteps = 80, BatchSize = 8, LearningRate = 5e-3, EvalEvery = 0, SaveEvery = 0 }, dir).Train();
        var after = obj.Evaluate()!["loss"];
        Assert.True(before > Math.Log(tok.VocabSize) - 0.5, $"an untrained model is near uniform: {before}");
        Assert.True(after < 1.0, $"loss {before:F3} → {after:F3}");
        Assert.Equal(80, result.Steps);
        Assert.Equal(80L * 8 * 32, result.Tokens);
        Assert.True(File.Exists(Path.Combine(dir, "model.safetensors")));
        Assert.NotNull(Trainer.LatestCheckpoint(dir));
        // The WordPiece vocabulary says 512 tokens, the model has 64 positions: transformers must truncate to 64.
        var tokConfig = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "tokenizer_config.json"))).RootElement;
        Assert.Equal(64, tokConfig.GetProperty("model_max_length").GetInt32());
        Assert.Equal(64, GptBert.Tokenizers.TokenizerLoader.Load(dir).ModelMaxLength);
    }

    [Fact]
    public void MaskedLmLossFalls()
    {
        TestUtil.Init();
        var tok = TrainingTestUtil.Vocab();
        using var model = new BertForMaskedLM(TrainingTestUtil.TinyBert(tok.VocabSize));
        var text = string.Join(" ", Enumerable.Repeat("the cat sat on the mat . the dog ran on the log .", 60));
        using var stream = TokenStream.FromTexts([text], tok, tok.SepId);
        var obj = new MaskedLmObjective(model, tok, stream, stream, maxLength: 24, seed: 1, CPU) { EvalBatches = 4 };
        var before = obj.Evaluate()!["loss"];
        new Trainer(obj, tok, new TrainingOptions { MaxSteps = 80, BatchSize = 8, LearningRate = 3e-3, EvalEvery = 0, SaveEvery = 0 }, TestUtil.TempDir("mlm")).Train();
        var after = obj.Evaluate()!["loss"];
        Assert.True(after < before * 0.6, $"loss {before:F3} → {after:F3}");
    }

    [Fact]
    public void MaskedLmWithNextSentencePredictionTrains()
    {
        TestUtil.Init();
        var tok = TrainingTestUtil.Vocab();
        using var model = new BertForPreTraining(TrainingTestUtil.TinyBert(tok.VocabSize));
        var text = string.Join(" ", Enumerable.Repeat("the cat sat on the mat . the dog ran on the log .", 40));
        using var stream = TokenStream.FromTexts([text], tok, tok.SepId);
        var obj = new MaskedLmObjective(model, tok, stream, stream, maxLength: 24, seed: 1, CPU) { EvalBatches = 4 };
        Assert.True(obj.NextSentence);
        using var batch = obj.GetBatch(0, 16, new Random(3));
        var nsp = batch.NextSentenceLabels!.data<long>().ToArray();
        Assert.Contains(0L, nsp);
        Assert.Contains(1L, nsp);
        Assert.Contains(1L, batch.TokenTypeIds!.data<long>().ToArray());
        var before = obj.Evaluate()!["loss"];
        new Trainer(obj, tok, new TrainingOptions { MaxSteps = 60, BatchSize = 8, LearningRate = 3e-3, EvalEvery = 0, SaveEvery = 0 }, TestUtil.TempDir("nsp")).Train();
        Assert.True(obj.Evaluate()!["loss"] < before);
    }

    static (List<ClassificationExample> Examples, string[] Labels) Sentiment()
    {
        string[] labels = ["negative", "positive"];
        var ex = new List<ClassificationExample>
        {
            new("the film was great", null, 1), new("a very good movie", null, 1), new("the cat was great", null, 1), new("good dog", null, 1),
            new("the film was awful", null, 0), new("a very bad movie", null, 0), new("the cat was awful", null, 0), new("bad dog", null, 0),
        };
        return (ex, labels);
    }

    [Theory]
    [InlineData("bert")]
    [InlineData("gpt")]
    public void TinyModelOverfitsTinyLabeledSet(string family)
    {
        TestUtil.Init();
        var tok = TrainingTestUtil.Vocab();
        var (ex, labels) = Sentiment();
        ModelConfig cfg = family == "bert" ? TrainingTestUtil.TinyBert(tok.VocabSize) : TrainingTestUtil.TinyGpt(tok.VocabSize);
        cfg.SetLabels(labels);
        using var model = family == "bert" ? (PretrainedModel)new BertForSequenceClassification((BertConfig)cfg) : new GPT2ForSequenceClassification((Gpt2Config)cfg);
        var obj = new ClassificationObjective(model, tok, ex, ex, labels, maxLength: 16, seed: 3, CPU);
        var result = new Trainer(obj, tok, new TrainingOptions { MaxSteps = 80, BatchSize = 4, LearningRate = 2e-3, EvalEvery = 20, SaveEvery = 0, WarmupFraction = 0.1 }, TestUtil.TempDir("cls")).Train();
        var (pred, _) = obj.Predict(ex);
        Assert.Equal(ex.Select(e => e.Label), pred);
        Assert.Equal(1.0, result.BestMetrics!["accuracy"]);
    }

    [Fact]
    public void EvalPointsEvaluateAtEqualFractionsOfATokenBudget()
    {
        TestUtil.Init();
        var tok = TrainingTestUtil.Vocab();
        var (ex, labels) = Sentiment();
        var cfg = TrainingTestUtil.TinyBert(tok.VocabSize);
        cfg.SetLabels(labels);
        using var model = new BertForSequenceClassification(cfg);
        var obj = new ClassificationObjective(model, tok, ex, ex, labels, maxLength: 16, seed: 3, CPU);
        var evals = new List<TrainingEvent>();
        long budget = 2000;
        new Trainer(obj, tok, new TrainingOptions { MaxTokens = budget, BatchSize = 4, LearningRate = 2e-3, EvalEvery = 0, SaveEvery = 0, EvalPoints = 4 },
            TestUtil.TempDir("evalpoints")) { OnEvent = e => { if (e.Kind == "eval") evals.Add(e); } }.Train();
        // One evaluation as each quarter of the budget is first reached (the last is the end of the run), and no other.
        Assert.Equal(4, evals.Count);
        for (int k = 1; k <= 4; k++)
        {
            Assert.True(evals[k - 1].Tokens >= k * budget / 4, $"evaluation {k} at {evals[k - 1].Tokens} tokens");
            Assert.Equal((double)Math.Min(evals[k - 1].Tokens, budget) / budget, evals[k - 1].Progress, 9);
        }
        Assert.True(evals[0].Tokens < budget / 2);
        Assert.True(evals[^1].Tokens >= budget);
    }

    [Theory]
    [InlineData("bf16")]
    [InlineData("fp16")]
    public void MixedPrecisionTrainingLearnsAndKeepsFp32Weights(string precision)
    {
        MixedPrecision.AssumeNativeCpuSupport = true; // libtorch emulates what this CPU lacks: slow, but the arithmetic is the same
        try
        {
            TestUtil.Init();
            var tok = TrainingTestUtil.Vocab();
            using var model = new GPT2LMHeadModel(TrainingTestUtil.TinyGpt(tok.VocabSize));
            using var stream = TokenStream.FromIds(Periodic(4000, tok.VocabSize));
            var obj = new CausalLmObjective(model, stream, stream, blockSize: 32, seed: 1, CPU) { EvalBatches = 2 };
            var dir = TestUtil.TempDir("clm-" + precision);
            var result = new Trainer(obj, tok, new TrainingOptions { MaxSteps = 80, BatchSize = 8, LearningRate = 5e-3, EvalEvery = 0, SaveEvery = 40, Precision = precision }, dir).Train();
            var after = obj.Evaluate()!["loss"];
            Assert.True(after < 1.0, $"{precision} loss after training {after:F3}");
            Assert.All(model.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype)); // master weights stay fp32
            var saved = GptBert.Checkpoints.SafeTensors.Load(Path.Combine(dir, "model.safetensors"));
            Assert.All(saved.Values, t => Assert.Equal(ScalarType.Float32, t.dtype));
            foreach (var t in saved.Values) t.Dispose();
            var state = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(Trainer.LatestCheckpoint(dir)!, "trainer_state.json"))).RootElement;
            if (precision == "fp16") Assert.True(state.GetProperty("LossScale").GetDouble() >= 1, "fp16 keeps its loss scale in the checkpoint");
            else Assert.Equal(System.Text.Json.JsonValueKind.Null, state.GetProperty("LossScale").ValueKind);
            Assert.Equal(80, result.Steps);
        }
        finally { MixedPrecision.AssumeNativeCpuSupport = false; }
    }

    [Theory]
    [InlineData("fp32")]
    [InlineData("fp16")] // the loss scale resumes too
    public void ResumedRunEndsWithTheSameParametersAsAnUninterruptedOne(string precision)
    {
        MixedPrecision.AssumeNativeCpuSupport = true;
        try { ResumeMatches(precision); }
        finally { MixedPrecision.AssumeNativeCpuSupport = false; }
    }

    void ResumeMatches(string precision)
    {
        var tok = TrainingTestUtil.Vocab();
        var opts = new TrainingOptions { MaxSteps = 8, BatchSize = 4, GradientAccumulation = 2, LearningRate = 2e-3, EvalEvery = 0, SaveEvery = 3, KeepCheckpoints = 3, Seed = 11, Precision = precision };
        var ids = Periodic(3000, tok.VocabSize);

        Dictionary<string, Tensor> Run(string dir, long? crashAt, TrainingOptions? options = null)
        {
            var opts2 = options ?? opts;
            TestUtil.Init(99); // the same initial weights for every run
            var model = new GPT2LMHeadModel(TrainingTestUtil.TinyGpt(tok.VocabSize, dropout: 0.1)); // dropout on: RNG must resume too
            using var stream = TokenStream.FromIds(ids);
            var obj = new CausalLmObjective(model, stream, null, 16, opts2.Seed, CPU);
            if (crashAt is long c)
            {
                var crashing = new Trainer(obj, tok, opts, dir) { BeforeStep = s => { if (s == c) throw new InvalidOperationException("simulated kill"); } };
                Assert.Throws<InvalidOperationException>(() => crashing.Train());
                model.Dispose();
                TestUtil.Init(12345); // a fresh process would start from other random weights
                model = new GPT2LMHeadModel(TrainingTestUtil.TinyGpt(tok.VocabSize, dropout: 0.1));
                obj = new CausalLmObjective(model, stream, null, 16, opts.Seed, CPU);
                new Trainer(obj, tok, opts, dir).Train(resume: true);
            }
            else new Trainer(obj, tok, opts2, dir).Train();
            return model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        }

        var straight = Run(TestUtil.TempDir("straight"), null);
        var resumed = Run(TestUtil.TempDir("resumed"), crashAt: 5); // killed during step 6; checkpoint-3 is the latest
        foreach (var (k, v) in straight)
            Assert.True(TestUtil.MaxAbsDiff(v, resumed[k]) <= 1e-6, $"{k} differs by {TestUtil.MaxAbsDiff(v, resumed[k])}");
        // The comparison has teeth: a different training seed (data order, dropout) ends elsewhere.
        var otherSeed = Run(TestUtil.TempDir("seed12"), null, opts with { Seed = 12 });
        Assert.Contains(straight, kv => TestUtil.MaxAbsDiff(kv.Value, otherSeed[kv.Key]) > 1e-4);
    }

    [Fact]
    public void FailedCheckpointWriteLeavesThePreviousOneIntact()
    {
        TestUtil.Init();
        var tok = new FailingTokenizer(TrainingTestUtil.Vocab(), failOnSave: 2);
        using var model = new GPT2LMHeadModel(TrainingTestUtil.TinyGpt(tok.VocabSize));
        using var stream = TokenStream.FromIds(Periodic(2000, tok.VocabSize));
        var obj = new CausalLmObjective(model, stream, null, 16, 1, CPU);
        var dir = TestUtil.TempDir("diskfull");
        var e = Assert.Throws<GptBertException>(() =>
            new Trainer(obj, tok, new TrainingOptions { MaxSteps = 6, BatchSize = 2, EvalEvery = 0, SaveEvery = 2 }, dir).Train());
        Assert.Contains("checkpoint", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        var latest = Trainer.LatestCheckpoint(dir);
        Assert.EndsWith("checkpoint-2", latest);
        Assert.Empty(Directory.GetDirectories(dir, ".tmp-*"));
        var (loaded, _) = ModelFactory.Load(latest!);   // still complete and loadable
        loaded.Dispose();
    }

    [Fact]
    public void LearningRateScheduleFollowsWarmupAndDecay()
    {
        var o = new TrainingOptions { LearningRate = 1e-3, WarmupFraction = 0.1, MaxSteps = 100 };
        Assert.Equal(0, o.LearningRateAt(0));
        Assert.Equal(0.5e-3, o.LearningRateAt(0.05), 12);
        Assert.Equal(1e-3, o.LearningRateAt(0.1), 12);
        Assert.Equal(0.5e-3, o.LearningRateAt(0.55), 12);       // linear: halfway through the decay
        Assert.Equal(0, o.LearningRateAt(1.0), 12);
        var c = o with { Schedule = LrSchedule.Cosine };
        Assert.Equal(0.5e-3, c.LearningRateAt(0.55), 12);        // cos(π/2) = 0 → half
        Assert.Equal(1e-3 * 0.5 * (1 + Math.Cos(Math.PI * 0.25)), c.LearningRateAt(0.325), 12);
        Assert.Equal(0.3, o.Progress(30, 0, TimeSpan.Zero), 12);
        Assert.Equal(0.5, (o with { MaxTokens = 1000 }).Progress(30, 500, TimeSpan.Zero), 12); // the budget that ends first
        Assert.Throws<GptBertException>(() => new TrainingOptions().Validate()); // no budget
    }
}

/// <summary>A tokenizer whose Save fails with an I/O error on the n-th call: a disk filling up mid-checkpoint.</summary>
sealed class FailingTokenizer(GptBert.Tokenizers.ITextTokenizer inner, int failOnSave) : GptBert.Tokenizers.ITextTokenizer
{
    int saves;
    public string Kind => inner.Kind; public int VocabSize => inner.VocabSize;
    public int? PadId => inner.PadId; public int? UnkId => inner.UnkId; public int? ClsId => inner.ClsId; public int? SepId => inner.SepId;
    public int? MaskId => inner.MaskId; public int? BosId => inner.BosId; public int? EosId => inner.EosId; public string? MaskToken => inner.MaskToken;
    public GptBert.Tokenizers.TokenizedText Encode(string text, string? pair = null, bool addSpecialTokens = true, int? maxLength = null) => inner.Encode(text, pair, addSpecialTokens, maxLength);
    public IReadOnlyList<GptBert.Tokenizers.TokenizedText> EncodeBatch(IReadOnlyList<(string Text, string? Pair)> inputs, bool addSpecialTokens = true, int? maxLength = null, bool padToLongest = true) => inner.EncodeBatch(inputs, addSpecialTokens, maxLength, padToLongest);
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true) => inner.Decode(ids, skipSpecialTokens);
    public string IdToToken(int id) => inner.IdToToken(id);
    public int? TokenToId(string token) => inner.TokenToId(token);
    public void Save(string directory)
    {
        if (++saves == failOnSave) throw new IOException("No space left on device");
        inner.Save(directory);
    }
}
