namespace GptBert.Tests.Cli;

/// <summary>`gptbert serve`'s command line: bad flags are one-line usage errors before anything is loaded or bound.</summary>
public class CliServeTests
{
    [Theory]
    [InlineData("--port", "70000")]
    [InlineData("--model", "=minilm")]
    [InlineData("--model", "a=minilm", "--model", "a=minilm")]
    [InlineData("--max-concurrent-requests", "0")]
    [InlineData("--request-timeout", "10")]
    [InlineData("--max-batch-tokens", "0")]
    public void BadFlagsAreUsageErrors(params string[] args)
    {
        var r = CliHarness.Run(null, ["serve", .. args]);
        CliHarness.AssertOneLineError(r, exitCode: 2);
    }

    [Fact]
    public void HelpNamesEveryLimit()
    {
        var r = CliHarness.Run(null, "serve", "--help");
        Assert.Equal(0, r.ExitCode);
        foreach (var flag in new[] { "--model", "--host", "--port", "--api-key", "--cors", "--max-batch-tokens", "--max-batch-wait-ms", "--no-batching",
                     "--max-concurrent-requests", "--max-queue", "--max-body-bytes", "--max-input-tokens", "--request-timeout", "--shutdown-timeout" })
            Assert.Contains(flag, r.Stdout);
    }
}
