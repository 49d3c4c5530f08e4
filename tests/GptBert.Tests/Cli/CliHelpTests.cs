using static GptBert.Tests.Cli.CliHarness;

namespace GptBert.Tests.Cli;

public class CliHelpTests
{
    [Theory]
    [InlineData("info")]
    [InlineData("tokenize")]
    [InlineData("embed")]
    [InlineData("similarity")]
    [InlineData("fill-mask")]
    [InlineData("prune")]
    [InlineData("optimize")]
    [InlineData("generate")]
    [InlineData("version")]
    [InlineData("pretrain")]
    [InlineData("finetune")]
    [InlineData("evaluate")]
    [InlineData("distill")]
    [InlineData("classify")]
    [InlineData("qa")]
    [InlineData("ner")]
    [InlineData("summarize")]
    [InlineData("tokenizer")]
    [InlineData("tokenizer", "train")]
    [InlineData("encdec")]
    [InlineData("encdec", "init")]
    public void EveryCommandHelpHasDescriptionAndExamples(params string[] command)
    {
        var r = Run(null, [.. command, "--help"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("Description:", r.Stdout);
        Assert.Contains("Examples:", r.Stdout);
        Assert.Contains($"gptbert {string.Join(' ', command)}", r.Stdout[r.Stdout.IndexOf("Examples:", StringComparison.Ordinal)..]);
        Assert.Equal("", r.Stderr);
    }

    [Fact]
    public void RootHelpListsCommands()
    {
        var r = Run(null, "--help");
        Assert.Equal(0, r.ExitCode);
        foreach (var c in new[] { "info", "tokenize", "embed", "similarity", "fill-mask", "generate", "version", "classify", "tokenizer", "pretrain", "finetune", "evaluate" })
            Assert.Contains($"  {c} ", r.Stdout);
    }

    [Fact]
    public void UsageErrorsOfNestedCommandsPointAtTheirHelp()
    {
        var r = Run(null, "tokenizer", "train", "--kind", "bpe", "--bogus");
        Assert.Contains("gptbert tokenizer train --help", AssertOneLineError(r, exitCode: 2));
    }

    [Fact]
    public void VersionReportsLibraries()
    {
        foreach (var args in new[] { new[] { "version" }, new[] { "--version" } })
        {
            var r = Run(null, args);
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Contains("gptbert ", r.Stdout);
            Assert.Contains("GptBert ", r.Stdout);
            Assert.Contains("TorchSharp", r.Stdout);
            Assert.Contains("libtorch", r.Stdout);
        }
    }
}
