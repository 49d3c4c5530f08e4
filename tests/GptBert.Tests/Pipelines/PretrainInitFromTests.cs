using GptBert.Models;
using GptBert.Pipelines;
using GptBert.Training;

namespace GptBert.Tests.Pipelines;

/// <summary>`pretrain` continuing from a checkpoint (PretrainSpec.InitFrom): built-in names and tokenizer checks.</summary>
public class PretrainInitFromTests
{
    static string TinyGpt2(string name, int vocabSize)
    {
        TestUtil.Init(42);
        var dir = TestUtil.TempDir(name);
        using var model = new GPT2LMHeadModel(new Gpt2Config { VocabSize = vocabSize, NEmbd = 32, NLayer = 2, NHead = 2, NPositions = 64 });
        model.SavePretrained(dir);
        return dir;
    }

    static string Corpus(string dir)
    {
        var path = Path.Combine(dir, "corpus.txt");
        File.WriteAllText(path, string.Join("\n", Enumerable.Range(0, 40).Select(i => $"Call me Ishmael, said sailor number {i}, and the whale swam on.")));
        return path;
    }

    static PretrainSpec Spec(string arch, string initFrom, string dir, string? tokenizer = null) => new()
    {
        Arch = arch, InitFrom = initFrom, Tokenizer = tokenizer, Data = Corpus(dir), Output = Path.Combine(dir, "out"),
        Shape = new ModelShape(MaxLength: 16),
        Training = new TrainingOptions { MaxSteps = 1, BatchSize = 2, EvalEvery = 0, SaveEvery = 0, LogEvery = 1 },
    };

    [Fact]
    public void TokenizerLargerThanTheModelVocabularyFailsBeforeTokenizing()
    {
        var model = TinyGpt2("init-small-vocab", vocabSize: 100);
        var dir = TestUtil.TempDir("init-mismatch");
        var spec = Spec("gpt", model, dir, tokenizer: "gpt2");
        var ex = Assert.Throws<GptBertException>(() => TrainingRuns.Pretrain(spec, new RunReporting(Progress: TextWriter.Null)));
        Assert.DoesNotContain('\n', ex.Message);
        Assert.Contains("50257", ex.Message);
        Assert.Contains("100", ex.Message);
        Assert.Contains("pass a matching Tokenizer", ex.Message);
        Assert.Equal("Tokenizer", ex.Parameter);
        Assert.False(File.Exists(Path.Combine(spec.Output, "tokens-train.bin")));
    }

    [Fact]
    public void DirectoryWithoutTokenizerNeedsTokenizerOption()
    {
        var model = TinyGpt2("init-no-tokenizer", vocabSize: 50257);
        var dir = TestUtil.TempDir("init-no-tokenizer-run");
        var ex = Assert.Throws<GptBertException>(() => TrainingRuns.Pretrain(Spec("gpt", model, dir), new RunReporting(Progress: TextWriter.Null)));
        Assert.Contains("no tokenizer files", ex.Message);
        Assert.Contains("pass Tokenizer NAME|DIR (e.g. Tokenizer gpt2)", ex.Message);
        Assert.Contains("pass --tokenizer NAME|DIR (e.g. --tokenizer gpt2)", GptBert.Cli.CliErrors.Message(ex));

        var result = TrainingRuns.Pretrain(Spec("gpt", model, dir, tokenizer: "gpt2"), new RunReporting(Progress: TextWriter.Null));
        Assert.Equal(1, result.Steps);
    }

    [Fact]
    public void BuiltInNameResolvesToItsDirectoryAndTokenizer()
    {
        var dir = TestUtil.TempDir("init-minilm");
        var result = TrainingRuns.Pretrain(Spec("bert", ModelHub.MiniLm, dir), new RunReporting(Progress: TextWriter.Null));
        Assert.Equal(1, result.Steps);
        var config = (BertConfig)ModelConfig.Load(Path.Combine(result.OutputDirectory, "config.json"));
        Assert.Equal(384, config.HiddenSize);
        Assert.Equal(30522, config.VocabSize);
    }
}
