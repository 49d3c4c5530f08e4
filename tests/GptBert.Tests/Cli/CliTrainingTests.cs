using System.Globalization;
using System.Text.Json;
using GptBert.Cli;
using GptBert.Data;
using static GptBert.Tests.Cli.CliHarness;

namespace GptBert.Tests.Cli;

/// <summary>Shipped data the training commands are tested on, and tiny files derived from it.</summary>
internal static class TrainingData
{
    /// <summary>data/samples/moby-dick-openings.txt: 75 KB, one paragraph per line, no blank lines (one document).</summary>
    public static string Moby => RepoFiles.At("data", "samples", "moby-dick-openings.txt");

    /// <summary>A few paragraphs of Moby-Dick as a validation file.</summary>
    public static string MobyValidation(string dir)
    {
        var path = Path.Combine(dir, "validation.txt");
        File.WriteAllLines(path, File.ReadAllLines(Moby).Where(l => l.Trim().Length > 0).Skip(120).Take(10));
        return path;
    }

    public static readonly string[] Labels = ["computers", "food", "law"];

    /// <summary>The first <paramref name="perLabel"/> examples of each of three labels of a fortune-category split, as CSV.</summary>
    public static string FortuneSubset(string split, int perLabel, string dir)
    {
        var all = LabeledDataset.Load(RepoFiles.At("data", "classification", "fortune-category", split + ".csv"));
        var picked = Labels.SelectMany(l => all.Where(e => e.Label == l).Take(perLabel)).ToList();
        var path = Path.Combine(dir, split + ".csv");
        LabeledDataset.FromExamples(picked).Save(path);
        return path;
    }
}

public class CliTokenizerTrainTests
{
    [Theory]
    [InlineData("bpe", "vocab.json")]
    [InlineData("wordpiece", "vocab.txt")]
    public void TrainedTokenizerDirectoryLoadsWithTokenize(string kind, string vocabFile)
    {
        var dir = Path.Combine(TestUtil.TempDir("cli-tok-" + kind), "tok");
        var r = Run(null, "tokenizer", "train", "--kind", kind, "--data", TrainingData.Moby, "--vocab-size", "1000", "--output", dir);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains($"trained {kind} tokenizer: 1,000 tokens", r.Stdout);
        Assert.Contains("sample: Call me Ishmael.", r.Stdout);
        Assert.Contains("tokens: ", r.Stdout);
        Assert.True(File.Exists(Path.Combine(dir, vocabFile)));
        Assert.DoesNotContain("error", r.Stderr);

        var t = Run(null, "tokenize", "--tokenizer", dir, "--jsonl", "Call me Ishmael.");
        Assert.True(t.ExitCode == 0, t.ToString());
        var ids = Ints(t.JsonLines.Single().GetProperty("ids"));
        Assert.NotEmpty(ids);
        Assert.All(ids, id => Assert.InRange(id, 0, 999));
    }

    [Fact]
    public void WordPieceKeepsCaseWithNoLowercase()
    {
        var dir = Path.Combine(TestUtil.TempDir("cli-tok-cased"), "tok");
        var r = Run(null, "tokenizer", "train", "--kind", "wordpiece", "--data", TrainingData.Moby, "--vocab-size", "800", "--no-lowercase", "--output", dir);
        Assert.True(r.ExitCode == 0, r.ToString());
        var t = Run(null, "tokenize", "--tokenizer", dir, "--jsonl", "Ishmael");
        var tokens = t.JsonLines.Single().GetProperty("tokens").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Contains(tokens, tok => tok.StartsWith('I'));
    }

    [Fact]
    public void BadKindAndConflictingCaseFlagsAreUsageErrors()
    {
        var dir = Path.Combine(TestUtil.TempDir("cli-tok-bad"), "tok");
        Assert.Contains("foo", AssertOneLineError(Run(null, "tokenizer", "train", "--kind", "foo", "--data", TrainingData.Moby, "--output", dir), exitCode: 2));
        Assert.Contains("--lowercase", AssertOneLineError(Run(null, "tokenizer", "train", "--kind", "bpe", "--lowercase", "--data", TrainingData.Moby, "--output", dir), exitCode: 2));
        Assert.Contains("not both", AssertOneLineError(Run(null, "tokenizer", "train", "--kind", "wordpiece", "--lowercase", "--no-lowercase", "--data", TrainingData.Moby, "--output", dir), exitCode: 2));
        Assert.Contains("gptbert tokenizer --help", AssertOneLineError(Run(null, "tokenizer"), exitCode: 2));
        Assert.False(Directory.Exists(dir));
    }

    [Fact]
    public void EmptyCorpusAndTinyVocabAreOneLineErrors()
    {
        var dir = TestUtil.TempDir("cli-tok-empty");
        var empty = Path.Combine(dir, "empty.txt");
        File.WriteAllText(empty, "");
        Assert.Contains("empty", AssertOneLineError(Run(null, "tokenizer", "train", "--kind", "bpe", "--data", empty, "--output", Path.Combine(dir, "t"))));

        var r = Run(null, "tokenizer", "train", "--kind", "bpe", "--data", TrainingData.Moby, "--vocab-size", "100", "--output", Path.Combine(dir, "t"));
        Assert.Equal(1, r.ExitCode);
        Assert.Single(r.StderrLines, l => l.StartsWith("error: ", StringComparison.Ordinal));
        Assert.Contains("--vocab-size", r.Stderr);
    }
}

public class CliPretrainTests
{
    static readonly string[] Tiny = ["--layers", "1", "--hidden", "32", "--heads", "2", "--max-length", "32", "--batch-size", "2", "--threads", "2"];

    static string[] Pretrain(string arch, string output, string validation, params string[] extra) =>
        ["pretrain", "--arch", arch, "--data", TrainingData.Moby, "--validation", validation, "--output", output, .. Tiny, .. extra];

    [Fact]
    public void GptRunWritesModelLogCurvesCheckpointAndResumes()
    {
        var dir = TestUtil.TempDir("cli-pretrain-gpt");
        var output = Path.Combine(dir, "run");
        var validation = TrainingData.MobyValidation(dir);

        var r = Run(null, Pretrain("gpt", output, validation, "--max-steps", "5"));
        Assert.True(r.ExitCode == 0, r.ToString());
        foreach (var f in new[] { "config.json", "model.safetensors", "log.jsonl", "training-curves.svg", "vocab.json", "merges.txt" })
            Assert.True(File.Exists(Path.Combine(output, f)), $"{f} missing\n{r}");
        Assert.True(Directory.Exists(Path.Combine(output, "checkpoint-5")), r.ToString());
        Assert.Contains("pretrained gpt: 5 steps", r.Stdout);
        Assert.Contains("tokens/s", r.Stdout);
        Assert.Contains("best validation loss:", r.Stdout);
        Assert.Contains(Path.Combine(output, "log.jsonl"), r.Stdout);
        Assert.Contains(Path.Combine(output, "training-curves.svg"), r.Stdout);
        Assert.DoesNotContain("note:", r.Stderr);

        // A fresh run into the same directory is refused; --resume continues from checkpoint-5 to step 8.
        Assert.Contains("--resume", AssertOneLineError(Run(null, Pretrain("gpt", output, validation, "--max-steps", "8"))));
        var resumed = Run(null, Pretrain("gpt", output, validation, "--max-steps", "8", "--resume"));
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains("pretrained gpt: 8 steps", resumed.Stdout);
        Assert.Contains("resumed from", resumed.Stderr);
        Assert.True(Directory.Exists(Path.Combine(output, "checkpoint-8")));
        var steps = File.ReadAllLines(Path.Combine(output, "log.jsonl"))
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt64()).ToList();
        Assert.Equal(8, steps[^1]);
        Assert.DoesNotContain(steps, s => s > 8);

        // The directory is a usable GPT-2 model.
        var info = Run(null, "info", output);
        Assert.True(info.ExitCode == 0, info.ToString());
        Assert.Contains("GPT2LMHeadModel", info.Stdout);
    }

    [Fact]
    public void BertRunWithNspAndWholeWordMasking()
    {
        var dir = TestUtil.TempDir("cli-pretrain-bert");
        var output = Path.Combine(dir, "run");
        var r = Run(null, Pretrain("bert", output, TrainingData.MobyValidation(dir), "--max-steps", "5", "--nsp", "--whole-word-masking"));
        Assert.True(r.ExitCode == 0, r.ToString());
        foreach (var f in new[] { "config.json", "model.safetensors", "log.jsonl", "training-curves.svg", "vocab.txt" })
            Assert.True(File.Exists(Path.Combine(output, f)), $"{f} missing\n{r}");
        Assert.True(Directory.Exists(Path.Combine(output, "checkpoint-5")));
        Assert.Contains("BertForPreTraining", File.ReadAllText(Path.Combine(output, "config.json")));
        Assert.Contains("pretrained bert: 5 steps", r.Stdout);
    }

    [Fact]
    public void TrainedWordPieceAndNoBudgetDefaultToThousandSteps()
    {
        var dir = TestUtil.TempDir("cli-pretrain-default");
        var tok = Path.Combine(dir, "tok");
        Assert.Equal(0, Run(null, "tokenizer", "train", "--kind", "wordpiece", "--data", TrainingData.Moby, "--vocab-size", "1000", "--output", tok).ExitCode);
        var output = Path.Combine(dir, "run");
        var r = Run(null, "pretrain", "--arch", "bert", "--data", TrainingData.Moby, "--validation", TrainingData.MobyValidation(dir), "--tokenizer", tok,
            "--output", output, "--layers", "1", "--hidden", "16", "--heads", "2", "--max-length", "16", "--batch-size", "4",
            "--eval-every", "0", "--save-every", "0", "--threads", "2");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("note: no training budget given", r.Stderr);
        Assert.Contains("--max-steps 1000", r.Stderr);
        Assert.Contains("pretrained bert: 1,000 steps", r.Stdout);
        Assert.Contains("\"vocab_size\": 1000", File.ReadAllText(Path.Combine(output, "config.json")));
    }

    [Fact]
    public void EmptyOrBlankCorpusIsOneLineErrorAndASingleDocumentTrains()
    {
        var dir = TestUtil.TempDir("cli-pretrain-empty");
        var empty = Path.Combine(dir, "empty.txt");
        File.WriteAllText(empty, "");
        var blank = Path.Combine(dir, "blank.txt");
        File.WriteAllText(blank, "\n  \n\n");
        foreach (var data in new[] { empty, blank })
        {
            var line = AssertOneLineError(Run(null, "pretrain", "--arch", "gpt", "--data", data, "--output", Path.Combine(dir, "out"), "--max-steps", "5"));
            Assert.Contains(Path.GetFileName(data), line);
        }
        Assert.False(File.Exists(Path.Combine(dir, "out", "log.jsonl")));
        // Moby-Dick's openings are one document (no blank lines): the last 5% of its tokens are held out for validation.
        var single = Run(null, "pretrain", "--arch", "gpt", "--data", TrainingData.Moby, "--output", Path.Combine(dir, "one"), "--max-steps", "3",
            "--layers", "1", "--hidden", "32", "--heads", "2", "--max-length", "32");
        Assert.True(single.ExitCode == 0, single.ToString());
        Assert.True(new FileInfo(Path.Combine(dir, "one", "tokens-validation.bin")).Length > 0);
    }

    [Theory]
    [InlineData("bf16", new[] { "avx512_bf16", "amx_bf16", "bf16" })]
    [InlineData("fp16", new[] { "avx512_fp16", "amx_fp16", "fphp" })]
    public void ReducedPrecisionRunsWhereTheCpuHasItAndIsRefusedWhereNot(string precision, string[] nativeFlags)
    {
        var dir = TestUtil.TempDir("cli-pretrain-" + precision);
        var r = Run(null, Pretrain("gpt", Path.Combine(dir, "out"), TrainingData.MobyValidation(dir), "--max-steps", "3", "--precision", precision));
        if (GptBert.Engine.MixedPrecision.CpuFlags().Overlaps(nativeFlags))
        {
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.True(File.Exists(Path.Combine(dir, "out", "model.safetensors")));
        }
        else
        {
            var line = AssertOneLineError(r);
            Assert.Contains($"--precision {precision}", line);
            Assert.Contains("fp32", line);
            Assert.False(File.Exists(Path.Combine(dir, "out", "log.jsonl")), "refused before any work");
        }
    }

    [Theory]
    [InlineData("--nsp")]
    [InlineData("--whole-word-masking")]
    [InlineData("--max-time", "10")]
    [InlineData("--max-time", "soon")]
    [InlineData("--max-tokens", "lots")]
    [InlineData("--hidden", "30", "--heads", "4")]
    [InlineData("--max-length", "4")]
    [InlineData("--lr", "2")]
    [InlineData("--schedule", "exponential")]
    [InlineData("--precision", "fp64")]
    [InlineData("--warmup", "1.5")]
    public void ContradictoryOrBadFlagsAreUsageErrors(params string[] flags)
    {
        var dir = TestUtil.TempDir("cli-pretrain-usage");
        var output = Path.Combine(dir, "out");
        var r = Run(null, ["pretrain", "--arch", "gpt", "--data", TrainingData.Moby, "--output", output, .. flags]);
        var line = AssertOneLineError(r, exitCode: 2);
        Assert.True(line.Contains(flags[0]) || line.Contains(flags[^1]), line);
        Assert.Equal("", r.Stdout);
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void ArchIsRequiredAndChecked()
    {
        AssertOneLineError(Run(null, "pretrain", "--data", TrainingData.Moby, "--output", "x"), exitCode: 2);
        Assert.Contains("roberta", AssertOneLineError(Run(null, "pretrain", "--arch", "roberta", "--data", TrainingData.Moby, "--output", "x"), exitCode: 2));
    }
}

public class CliFinetuneTests
{
    static readonly string[] Tiny = ["--arch", "bert", "--layers", "1", "--hidden", "32", "--heads", "2", "--max-length", "32", "--threads", "2"];

    sealed record Trained(string Model, string Test, CliResult Result);

    /// <summary>One tiny classifier trained from scratch (3 labels, 72 examples, 30 steps), shared by the tests below.</summary>
    static readonly Lazy<Trained> trained = new(() =>
    {
        var dir = TestUtil.TempDir("cli-finetune");
        var train = TrainingData.FortuneSubset("train", 24, dir);
        var validation = TrainingData.FortuneSubset("validation", 6, dir);
        var test = TrainingData.FortuneSubset("test", 5, dir);
        var output = Path.Combine(dir, "clf");
        var r = Run(null, ["finetune", .. Tiny, "--train", train, "--validation", validation, "--output", output, "--max-steps", "30", "--batch-size", "8"]);
        return new Trained(output, test, r);
    });

    static Trained Model
    {
        get
        {
            var t = trained.Value;
            Assert.True(t.Result.ExitCode == 0, t.Result.ToString());
            return t;
        }
    }

    [Fact]
    public void FromScratchPrintsSummaryAndSavesAClassifier()
    {
        var t = Model;
        Assert.Contains("fine-tuned bert from scratch on train.csv: 30 steps", t.Result.Stdout);
        Assert.Matches(@"best validation: +accuracy [01]\.\d{4}, macro-F1 [01]\.\d{4}", t.Result.Stdout);
        Assert.Contains("majority baseline:", t.Result.Stdout);
        Assert.Contains($"model:      {t.Model}", t.Result.Stdout);
        var config = File.ReadAllText(Path.Combine(t.Model, "config.json"));
        Assert.Contains("BertForSequenceClassification", config);
        foreach (var label in TrainingData.Labels) Assert.Contains($"\"{label}\"", config);
        Assert.True(File.Exists(Path.Combine(t.Model, "log.jsonl")));
        Assert.True(File.Exists(Path.Combine(t.Model, "training-curves.svg")));
    }

    [Fact]
    public void EvaluateJsonIsOneObjectWithTheMetrics()
    {
        var t = Model;
        var r = Run(null, "evaluate", "--model", t.Model, "--data", t.Test, "--json", "--threads", "2");
        Assert.True(r.ExitCode == 0, r.ToString());
        using var doc = JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement;
        foreach (var key in new[] { "accuracy", "macro_f1", "per_class", "confusion_matrix", "labels" })
            Assert.True(root.TryGetProperty(key, out _), $"no \"{key}\" in {r.Stdout}");
        Assert.InRange(root.GetProperty("accuracy").GetDouble(), 0, 1);
        Assert.InRange(root.GetProperty("macro_f1").GetDouble(), 0, 1);
        Assert.Equal(TrainingData.Labels, root.GetProperty("labels").EnumerateArray().Select(e => e.GetString()).ToArray());
        var cm = root.GetProperty("confusion_matrix").EnumerateArray().Select(row => Ints(row)).ToArray();
        Assert.Equal(15, cm.Sum(row => row.Sum()));
        Assert.Equal(5, cm[0].Sum());
        foreach (var label in TrainingData.Labels)
            Assert.Equal(5, root.GetProperty("per_class").GetProperty(label).GetProperty("support").GetInt32());
        Assert.InRange(root.GetProperty("majority_baseline").GetProperty("accuracy").GetDouble(), 0, 1);
    }

    [Fact]
    public void EvaluateTextShowsReportConfusionMatrixAndBaseline()
    {
        var t = Model;
        var r = Run(null, "evaluate", "--model", t.Model, "--data", t.Test, "--threads", "2");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Matches(@"accuracy [01]\.\d{4}, macro-F1 [01]\.\d{4}", r.Stdout);
        Assert.Contains("majority baseline (always 'computers')", r.Stdout);
        Assert.Contains("precision", r.Stdout);
        Assert.Contains("recall", r.Stdout);
        Assert.Contains("confusion matrix", r.Stdout);
    }

    [Fact]
    public void ClassifyJsonlReturnsTrainingLabelsAndProbabilities()
    {
        var t = Model;
        var stdin = "{\"text\": \"Bus error -- please leave by the rear door.\"}\n\n{\"text\": \"Never eat more than you can lift.\"}\n{\"text\": \"The law is an ass.\"}\n";
        var r = Run(stdin, "classify", "--model", t.Model, "--jsonl", "--threads", "2");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(3, r.JsonLines.Length);
        foreach (var row in r.JsonLines)
        {
            Assert.Contains(row.GetProperty("label").GetString(), TrainingData.Labels);
            var scores = row.GetProperty("scores").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetDouble());
            Assert.Equal(TrainingData.Labels, scores.Keys.ToArray());
            Assert.Equal(1.0, scores.Values.Sum(), 3);
            Assert.Equal(scores.Values.Max(), scores[row.GetProperty("label").GetString()!]);
        }
    }

    [Fact]
    public void ClassifyPlainPrintsLabelScoreTextPerLineInBatches()
    {
        var t = Model;
        var texts = Enumerable.Range(0, 40).Select(i => $"fortune number {i}").ToList();
        var r = Run(string.Join("\n", texts) + "\n", "classify", "--model", t.Model, "--batch-size", "16", "--threads", "2");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(40, r.StdoutLines.Length);
        for (int i = 0; i < 40; i++)
        {
            var parts = r.StdoutLines[i].Split('\t');
            Assert.Equal(3, parts.Length);
            Assert.Contains(parts[0], TrainingData.Labels);
            Assert.InRange(double.Parse(parts[1], CultureInfo.InvariantCulture), 0, 1);
            Assert.Equal(texts[i], parts[2]);
        }
    }

    [Fact]
    public void EvaluateWithLabelsUnseenInTrainingIsOneLineError()
    {
        var t = Model;
        var file = Path.Combine(TestUtil.TempDir("cli-unseen"), "unseen.csv");
        File.WriteAllText(file, "text,label\nBus error,computers\nThe cat sat.,zoology\n");
        var line = AssertOneLineError(Run(null, "evaluate", "--model", t.Model, "--data", file));
        Assert.Contains("zoology", line);
    }

    [Fact]
    public void FinetunesAPretrainedGptDirectory()
    {
        var dir = TestUtil.TempDir("cli-finetune-gpt");
        var train = TrainingData.FortuneSubset("train", 8, dir);
        var output = Path.Combine(dir, "clf");
        var r = Run(null, "finetune", "--model", TinyModels.Gpt2, "--tokenizer", "gpt2", "--train", train, "--output", output,
            "--max-steps", "3", "--batch-size", "4", "--max-length", "32", "--threads", "2");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("no --validation", r.Stderr);
        Assert.Contains("GPT2ForSequenceClassification", File.ReadAllText(Path.Combine(output, "config.json")));
        var c = Run(null, "classify", "--model", output, "--jsonl", "--", "hello");
        Assert.True(c.ExitCode == 0, c.ToString());
        Assert.Contains(c.JsonLines.Single().GetProperty("label").GetString(), TrainingData.Labels);
    }

    static string Csv(string name, string content)
    {
        var file = Path.Combine(TestUtil.TempDir("cli-csv"), name);
        File.WriteAllText(file, content);
        return file;
    }

    static string FinetuneError(string train, params string[] extra) =>
        AssertOneLineError(Run(null, ["finetune", .. Tiny, "--train", train, "--output", Path.Combine(TestUtil.TempDir("cli-ft-err"), "out"), "--max-steps", "3", .. extra]));

    [Fact]
    public void MissingLabelColumnNamesTheColumnAndTheColumnsFound()
    {
        var line = FinetuneError(Csv("nolabel.csv", "text,category\nhello,a\nbye,b\n"));
        Assert.Contains("'label'", line);
        Assert.Contains("text, category", line);
        Assert.Contains("--label-column", line);
    }

    [Fact]
    public void MalformedRowsNameTheLine()
    {
        var extraField = FinetuneError(Csv("fields.csv", "text,label\nhello,a\nbye,b,c\nfoo,a\n"));
        Assert.Contains("line 3", extraField);
        var quote = FinetuneError(Csv("quote.csv", "text,label\n\"hello,a\nbye,b\n"));
        Assert.Contains("line 2", quote);
    }

    [Fact]
    public void SingleLabelTrainingSetIsRefused()
    {
        var line = FinetuneError(Csv("one.csv", "text,label\nhello,a\nbye,a\nfoo,a\n"));
        Assert.Contains("only one label 'a'", line);
    }

    [Fact]
    public void Fp16IsRefusedOnACpuWithoutIt()
    {
        if (GptBert.Engine.MixedPrecision.CpuHasNative(TorchSharp.torch.ScalarType.Float16)) return; // native here: nothing to refuse
        var line = FinetuneError(RepoFiles.At("data", "classification", "fortune-category", "validation.csv"), "--precision", "fp16");
        Assert.Contains("--precision fp16", line);
        Assert.Contains("no native fp16", line);
    }

    [Fact]
    public void TokenizerWithMoreTokensThanTheModelIsRefused()
    {
        var dir = TestUtil.TempDir("cli-ft-vocab");
        var line = AssertOneLineError(Run(null, "finetune", "--model", TinyModels.Bert, "--tokenizer", "gpt2",
            "--train", RepoFiles.At("data", "classification", "fortune-category", "validation.csv"), "--output", Path.Combine(dir, "out"), "--max-steps", "3"));
        Assert.Contains("50257", line);
        Assert.Contains("30522", line);
        Assert.False(Directory.Exists(Path.Combine(dir, "out")));
    }

    [Theory]
    [InlineData()]                                                     // neither --model nor --arch
    [InlineData("--model", "minilm", "--arch", "bert")]
    [InlineData("--model", "minilm", "--layers", "2")]
    [InlineData("--arch", "bert", "--epochs", "1", "--max-steps", "3")]
    [InlineData("--arch", "bert", "--format", "xml")]
    [InlineData("--arch", "bert", "--max-time", "5")]
    [InlineData("--arch", "bert", "--early-stopping", "2")]                 // evaluation only at the end (--eval-every 0)
    public void ContradictoryFlagsAreUsageErrors(params string[] flags)
    {
        var dir = TestUtil.TempDir("cli-ft-usage");
        var r = Run(null, ["finetune", "--train", RepoFiles.At("data", "classification", "fortune-category", "validation.csv"), "--output", Path.Combine(dir, "out"), .. flags]);
        AssertOneLineError(r, exitCode: 2);
        Assert.Equal("", r.Stdout);
        Assert.False(Directory.Exists(Path.Combine(dir, "out")));
    }
}

public class DurationsTests
{
    [Theory]
    [InlineData("90s", 90)]
    [InlineData("10m", 600)]
    [InlineData("1h30m", 5400)]
    [InlineData("1h 30m", 5400)]
    [InlineData("1.5h", 5400)]
    [InlineData("2m30s", 150)]
    [InlineData("00:10:00", 600)]
    [InlineData("1:00:00", 3600)]
    [InlineData("1d", 86400)]
    [InlineData("45 minutes", 2700)]
    public void ParsesDurations(string text, double seconds)
    {
        Assert.True(Durations.TryParse(text, out var t, out var error), error);
        Assert.Equal(seconds, t.TotalSeconds, 6);
    }

    [Theory]
    [InlineData("10")]
    [InlineData("")]
    [InlineData("0s")]
    [InlineData("-5m")]
    [InlineData("10 parsecs")]
    [InlineData("1:2")]
    public void RefusesAmbiguousOrBadDurations(string text)
    {
        Assert.False(Durations.TryParse(text, out _, out var error));
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Theory]
    [InlineData("500000", 500_000)]
    [InlineData("2M", 2_000_000)]
    [InlineData("1.5B", 1_500_000_000)]
    [InlineData("10k", 10_000)]
    [InlineData("1e6", 1_000_000)]
    public void ParsesCounts(string text, long expected)
    {
        Assert.True(Durations.TryParseCount(text, out var n, out var error), error);
        Assert.Equal(expected, n);
    }

    [Theory]
    [InlineData("lots")]
    [InlineData("0")]
    [InlineData("-3")]
    public void RefusesBadCounts(string text) => Assert.False(Durations.TryParseCount(text, out _, out _));
}
