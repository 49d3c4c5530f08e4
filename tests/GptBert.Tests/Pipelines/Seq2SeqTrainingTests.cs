using System.Text.Json;
using GptBert.Checkpoints;
using GptBert.Models;
using GptBert.Pipelines;
using GptBert.Tokenizers;
using GptBert.Training;
using static GptBert.Tests.Cli.CliHarness;
using static TorchSharp.torch;

namespace GptBert.Tests.Pipelines;

/// <summary>Warm start of an encoder-decoder from a BERT and a GPT-2 directory, training on pairs through the Trainer, and the CLI.</summary>
public class Seq2SeqTrainingTests
{
    const int ByteEos = 256;

    /// <summary>A tiny BERT directory with a small WordPiece vocabulary (letters are words of their own).</summary>
    static string TinyBertDir(int hidden)
    {
        TestUtil.Init(11);
        var dir = TestUtil.TempDir("bert");
        var tok = Training.TrainingTestUtil.Vocab();
        var cfg = new BertConfig
        {
            VocabSize = tok.VocabSize, HiddenSize = hidden, NumHiddenLayers = 2, NumAttentionHeads = 4, IntermediateSize = 64,
            MaxPositionEmbeddings = 32, HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0, PadTokenId = tok.PadId,
        };
        using (var m = new BertModel(cfg)) m.SavePretrained(dir);
        tok.Save(dir);
        return dir;
    }

    /// <summary>A tiny GPT-2 directory with a byte-level BPE of 256 byte tokens and &lt;|endoftext|&gt; = 256, no merges.</summary>
    static string TinyGptDir()
    {
        TestUtil.Init(12);
        var dir = TestUtil.TempDir("gpt");
        var vocab = Enumerable.Range(0, 256).ToDictionary(b => ByteLevel.ByteToChar[b].ToString(), b => b);
        vocab["<|endoftext|>"] = ByteEos;
        var tok = new ByteLevelBpeTokenizer(vocab, []);
        var cfg = new Gpt2Config
        {
            VocabSize = 257, NPositions = 32, NEmbd = 32, NLayer = 2, NHead = 4, ResidPdrop = 0, EmbdPdrop = 0, AttnPdrop = 0,
            BosTokenId = ByteEos, EosTokenId = ByteEos,
        };
        using (var m = new GPT2LMHeadModel(cfg)) m.SavePretrained(dir);
        tok.Save(dir);
        return dir;
    }

    [Fact]
    public void WarmStartCopiesBothModelsAndInitialisesOnlyTheCrossAttention()
    {
        string bert = TinyBertDir(hidden: 48), gpt = TinyGptDir();
        var output = Path.Combine(TestUtil.TempDir("b2g"), "model");
        var report = Seq2Seq.WarmStart(bert, gpt, output);
        if (Environment.GetEnvironmentVariable("ENCDEC_OURS_SAVE") is { } keep) CopyDirectory(output, keep); // tools/hf-check/encdec_golden.py --ours

        // New: per decoder block the cross-attention's three Conv1Ds and its LayerNorm; enc_to_dec_proj (48 → 32).
        var expectedNew = Enumerable.Range(0, 2).SelectMany(i => new[] { "q_attn", "c_attn", "c_proj" }
                .SelectMany(l => new[] { $"decoder.transformer.h.{i}.crossattention.{l}.weight", $"decoder.transformer.h.{i}.crossattention.{l}.bias" })
                .Concat([$"decoder.transformer.h.{i}.ln_cross_attn.weight", $"decoder.transformer.h.{i}.ln_cross_attn.bias"]))
            .Concat(["enc_to_dec_proj.weight", "enc_to_dec_proj.bias"]).Order().ToList();
        Assert.Equal(expectedNew, report.NewlyInitialized.Order().ToList());
        Assert.True(report.Projection);

        // Every other tensor is the source checkpoint's, bit for bit.
        var saved = CheckpointFiles.LoadStateDict(output);
        var bertSd = CheckpointFiles.LoadStateDict(bert);
        var gptSd = CheckpointFiles.LoadStateDict(gpt);
        foreach (var (k, t) in bertSd) Assert.True(saved["encoder." + k].equal(t).all().item<bool>(), k);
        foreach (var (k, t) in gptSd) Assert.True(saved["decoder." + k].equal(t).all().item<bool>(), k);
        Assert.Equal(bertSd.Count, report.EncoderTensors);
        Assert.Equal(gptSd.Count, report.DecoderTensors);
        Assert.Equal(saved.Count, bertSd.Count + gptSd.Count + expectedNew.Count);

        // The new layers start as GPT-2 starts layers: LayerNorm 1/0, zero biases, weights N(0, 0.02), c_proj N(0, 0.02/√(2·2)).
        Assert.True(saved["decoder.transformer.h.1.ln_cross_attn.weight"].eq(1).all().item<bool>());
        Assert.True(saved["decoder.transformer.h.1.crossattention.c_attn.bias"].eq(0).all().item<bool>());
        double std = saved["decoder.transformer.h.0.crossattention.c_attn.weight"].std().item<float>();
        Assert.InRange(std, 0.017, 0.023);
        double projStd = saved["decoder.transformer.h.0.crossattention.c_proj.weight"].std().item<float>();
        Assert.InRange(projStd, 0.0075, 0.0125);

        // config.json: transformers' layout; decoder_start and pad = the GPT-2 tokenizer's <|endoftext|>.
        var cfg = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "config.json"))).RootElement;
        Assert.Equal("encoder-decoder", cfg.GetProperty("model_type").GetString());
        Assert.Equal(ByteEos, cfg.GetProperty("decoder_start_token_id").GetInt32());
        Assert.Equal(ByteEos, cfg.GetProperty("pad_token_id").GetInt32());
        Assert.True(cfg.GetProperty("decoder").GetProperty("add_cross_attention").GetBoolean());
        // Two tokenizers: the decoder's at the top, the encoder's in encoder_tokenizer/; ModelHub loads both.
        Assert.True(File.Exists(Path.Combine(output, "vocab.json")));
        Assert.True(File.Exists(Path.Combine(output, "encoder_tokenizer", "vocab.txt")));
        using var handle = ModelHub.Load(output);
        Assert.IsType<EncoderDecoderModel>(handle.Model);
        Assert.Equal("bpe", handle.Tokenizer.Kind);
        Assert.Equal("wordpiece", handle.SourceTokenizer!.Kind);
        Assert.Empty(handle.Report.NewlyInitialized);
    }

    static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)), overwrite: true);
        foreach (var d in Directory.GetDirectories(from)) CopyDirectory(d, Path.Combine(to, Path.GetFileName(d)));
    }

    /// <summary>Pairs "c a f" → "f a c": three letters out of six, reversed; every pair is known by construction.</summary>
    static void WritePairs(string path, int count, int seed)
    {
        var rng = new Random(seed);
        const string letters = "abcdef";
        var lines = Enumerable.Range(0, count).Select(_ =>
        {
            var s = Enumerable.Range(0, 3).Select(_ => letters[rng.Next(letters.Length)].ToString()).ToArray();
            return JsonSerializer.Serialize(new { source = string.Join(" ", s), target = string.Join(" ", s.Reverse()) });
        });
        File.WriteAllLines(path, lines);
    }

    [Fact]
    public void AWarmStartedModelLearnsToReverseThroughFinetuneAndTranslates()
    {
        string bert = TinyBertDir(hidden: 32), gpt = TinyGptDir();
        var root = TestUtil.TempDir("b2g-train");
        var start = Path.Combine(root, "start");
        Seq2Seq.WarmStart(bert, gpt, start);
        string train = Path.Combine(root, "train.jsonl"), validation = Path.Combine(root, "validation.jsonl"), test = Path.Combine(root, "test.jsonl");
        WritePairs(train, 400, 1);
        WritePairs(validation, 40, 2);
        WritePairs(test, 40, 3);
        var output = Path.Combine(root, "run");
        var result = TrainingRuns.Finetune(new FinetuneSpec
        {
            Model = start, Train = train, Validation = validation, Output = output, MaxLength = 32,
            Training = new TrainingOptions { MaxSteps = 150, BatchSize = 32, LearningRate = 3e-3, EvalEvery = 0, SaveEvery = 0, Seed = 5 },
        });
        Assert.NotNull(result.BestMetrics);
        // The saved model carries both tokenizers (the encoder's moved from best/ with the weights).
        Assert.True(File.Exists(Path.Combine(output, "encoder_tokenizer", "vocab.txt")));

        using var handle = ModelHub.Load(output);
        var translator = new Translator(handle, new GenerationOptions { MaxNewTokens = 12 });
        var examples = translator.LoadExamples(test);
        var eval = translator.Evaluate(examples);
        int exact = eval.Hypotheses.Zip(eval.References).Count(p => p.First == p.Second);
        // 150 steps reach 40/40 here (validation loss ~0.17); the threshold leaves room for other machines.
        Assert.True(exact >= 30, $"{exact}/40 reversed exactly; e.g. '{examples[0].Source}' → '{eval.Hypotheses[0]}' (validation loss {result.BestMetrics!["loss"]:F3})");
        // Beam search agrees on this easy task.
        var beam = new Translator(handle, new GenerationOptions { MaxNewTokens = 12 }, new BeamOptions { NumBeams = 3 });
        Assert.Equal(string.Join(" ", "b e a".Split(' ').Reverse()), beam.Translate("b e a"));
    }

    [Fact]
    public void CliInitReportsTheNewLayersAndRefusesWrongInputsInOneLine()
    {
        string bert = TinyBertDir(hidden: 32), gpt = TinyGptDir();
        var root = TestUtil.TempDir("b2g-cli");
        var output = Path.Combine(root, "b2g");
        var r = Run(null, "encdec", "init", "--encoder", bert, "--decoder", gpt, "--output", output, "--json");
        Assert.True(r.ExitCode == 0, r.ToString());
        var j = JsonDocument.Parse(r.Stdout).RootElement;
        Assert.False(j.GetProperty("enc_to_dec_proj").GetBoolean()); // both 32 wide
        Assert.Equal(16, j.GetProperty("newly_initialized").GetArrayLength()); // 2 blocks × (q_attn, c_attn, c_proj, ln_cross_attn) × (weight, bias)
        Assert.All(j.GetProperty("newly_initialized").EnumerateArray(), k => Assert.Contains("cross", k.GetString()));

        // Encoder and decoder swapped: the encoder must be a BERT.
        Assert.Contains("encoder must be a BERT", AssertOneLineError(Run(null, "encdec", "init", "--encoder", gpt, "--decoder", bert, "--output", Path.Combine(root, "x"))));
        Assert.Contains("decoder must be a GPT-2", AssertOneLineError(Run(null, "encdec", "init", "--encoder", bert, "--decoder", bert, "--output", Path.Combine(root, "y"))));
        // An existing, non-empty output is not overwritten.
        Assert.Contains("--output", AssertOneLineError(Run(null, "encdec", "init", "--encoder", bert, "--decoder", gpt, "--output", output)));
        // A missing required option is a usage error.
        AssertOneLineError(Run(null, "encdec", "init", "--encoder", bert, "--output", Path.Combine(root, "z")), exitCode: 2);
        // translate takes the encoder-decoder, and refuses a prompt format it would ignore.
        var t = Run("a b c\n", "translate", "--model", output, "--max-new-tokens", "3");
        Assert.True(t.ExitCode == 0, t.ToString());
        Assert.Contains("--prompt-format", AssertOneLineError(Run("a\n", "translate", "--model", output, "--prompt-format", "X {src}"), exitCode: 2));
        Assert.Contains("--prompt-format", AssertOneLineError(Run(null, "summarize", "--model", output, "--text", "A b. C d.", "--prompt-format", "X {document}"), exitCode: 2));
        var sum = Run(null, "summarize", "--model", output, "--text", "a b c. d e f.", "--max-new-tokens", "3", "--json");
        Assert.True(sum.ExitCode == 0, sum.ToString());
        Assert.Equal("abstractive", JsonDocument.Parse(sum.Stdout).RootElement.GetProperty("method").GetString()); // an encoder-decoder writes summaries
        // A directory without its encoder tokenizer is refused with the fix.
        Directory.Delete(Path.Combine(output, "encoder_tokenizer"), true);
        Assert.Contains("encoder_tokenizer", AssertOneLineError(Run("a\n", "translate", "--model", output)));
    }
}
