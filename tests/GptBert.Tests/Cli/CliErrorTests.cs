using System.Text;
using GptBert.Cli;
using static GptBert.Tests.Cli.CliHarness;

namespace GptBert.Tests.Cli;

public class CliErrorTests
{
    [Fact]
    public void InvalidUtf8InInputFileNamesLineAndByteOffset()
    {
        var file = Path.Combine(TestUtil.TempDir("cli-utf8"), "bad.txt");
        // line 1 "hello\n" is bytes 0-5; line 2 starts at 6; 0xFF is its third byte, at offset 8.
        File.WriteAllBytes(file, [.. "hello\nab"u8, 0xFF, .. "cd\n"u8]);
        var line = AssertOneLineError(Run(null, "tokenize", "--tokenizer", "gpt2", "--input", file));
        Assert.Contains("invalid UTF-8", line);
        Assert.Contains("line 2", line);
        Assert.Contains("byte offset 8", line);
    }

    [Fact]
    public void InvalidUtf8OnStdinIsReportedToo()
    {
        // A truncated 3-byte sequence (E2 82 without its last byte) at the end of line 1.
        var r = RunBytes([.. "x\u20ac"u8[..^1], (byte)'\n'], "tokenize", "--tokenizer", "gpt2");
        var line = AssertOneLineError(r);
        Assert.Contains("stdin", line);
        Assert.Contains("line 1, byte offset 1", line);
    }

    [Fact]
    public void ByteOffsetsAreRightAcrossBufferBoundariesWithBomAndCrlf()
    {
        var bytes = new List<byte>();
        bytes.AddRange(Encoding.UTF8.GetPreamble());
        bytes.AddRange("first\r\n\r\n"u8.ToArray());
        bytes.AddRange(Enumerable.Repeat((byte)'a', 100_000));
        bytes.Add((byte)'\n');
        long badAt = bytes.Count + 2;
        bytes.AddRange("é ?"u8.ToArray()); // "é" is 2 bytes; the space after it (3rd byte of the line) becomes invalid
        bytes[(int)badAt] = 0xC0;           // 0xC0 never appears in UTF-8
        bytes.Add((byte)'\n');

        var lines = new List<(int, string)>();
        var e = Assert.Throws<GptBertException>(() => { foreach (var l in InputReader.ReadLines(new MemoryStream(bytes.ToArray()), "f")) lines.Add(l); });
        Assert.Equal([(1, "first"), (2, ""), (3, new string('a', 100_000))], lines);
        Assert.Contains($"line 4, byte offset {badAt}", e.Message);
    }

    [Fact]
    public void EmptyInputIsOneLineError()
    {
        var line = AssertOneLineError(Run("", "embed"));
        Assert.StartsWith("error: no input", line);

        var file = Path.Combine(TestUtil.TempDir("cli-empty"), "empty.txt");
        File.WriteAllText(file, "\n  \n");
        Assert.StartsWith("error: no input", AssertOneLineError(Run(null, "tokenize", "--tokenizer", "gpt2", "--input", file)));
    }

    [Fact]
    public void MissingInputFileIsOneLineError()
    {
        var line = AssertOneLineError(Run(null, "tokenize", "--tokenizer", "gpt2", "--input", "/no/such/file.txt"));
        Assert.Contains("/no/such/file.txt", line);
    }

    [Fact]
    public void BadJsonLineNamesTheLine()
    {
        var line = AssertOneLineError(Run("{\"text\": \"ok\"}\n{\"text\": \"unterminated}\n", "tokenize", "--tokenizer", "gpt2", "--jsonl"));
        Assert.Contains("line 2", line);
        Assert.Contains("JSON", line);

        var missing = AssertOneLineError(Run("{\"txt\": \"typo\"}\n", "tokenize", "--tokenizer", "gpt2", "--jsonl"));
        Assert.Contains("line 1", missing);
        Assert.Contains("\"text\"", missing);
    }

    [Theory]
    [InlineData("tokenize", "--tokenizer", "gpt2", "--bogus", "x")]
    [InlineData("embed", "--no-such-option")]
    [InlineData("no-such-command")]
    [InlineData("generate", "--model", "m", "--max-new-tokens", "many")]
    [InlineData("embed", "--pooling", "median", "x")]
    public void UsageErrorsExitWithTwoAndNoStackTrace(params string[] args)
    {
        var r = Run("", args);
        AssertOneLineError(r, exitCode: 2);
        Assert.Contains("--help", r.Stderr);
        Assert.Equal("", r.Stdout);
    }

    [Fact]
    public void TextAfterDoubleDashMayStartWithDash()
    {
        var r = Run(null, "tokenize", "--tokenizer", "gpt2", "--jsonl", "--", "-5 degrees");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Single(r.JsonLines);
    }

    [Fact]
    public void CudaDeviceWithoutCudaIsOneLineError()
    {
        var r = Run(null, "embed", "--device", "cuda", "hello");
        if (TorchSharp.torch.cuda.is_available()) return; // only meaningful on a CPU-only build/machine
        var line = AssertOneLineError(r);
        Assert.Contains("CUDA", line);
        Assert.Contains("--device cpu", line);
    }

    [Fact]
    public void MissingModelDirectoryIsOneLineError()
    {
        var dir = Path.Combine(TestUtil.TempDir("cli-missing"), "nope");
        var line = AssertOneLineError(Run(null, "embed", "--model", dir, "hello"));
        Assert.Contains("not found", line);
        AssertOneLineError(Run(null, "info", dir));
    }

    [Fact]
    public void CorruptConfigJsonIsOneLineError()
    {
        var dir = TestUtil.TempDir("cli-corrupt");
        File.WriteAllText(Path.Combine(dir, "config.json"), "{\"model_type\": \"gpt2\", \"n_embd\": ");
        var line = AssertOneLineError(Run(null, "generate", "--model", dir, "--prompt", "hi", "--tokenizer", "gpt2"));
        Assert.Contains("config.json", line);
        Assert.Contains("JSON", line);
    }

    [Fact]
    public void BadOptionValuesAreUsageErrors()
    {
        Assert.Contains("--threads", AssertOneLineError(Run(null, "embed", "--threads", "0", "x"), exitCode: 2));
        Assert.Contains("--temperature", AssertOneLineError(Run(null, "generate", "--model", TinyModels.Gpt2, "--tokenizer", "gpt2", "--prompt", "x", "--temperature", "0"), exitCode: 2));
        Assert.Contains("--input", AssertOneLineError(Run(null, "embed", "--input", "f.txt", "text"), exitCode: 2));
    }

    [Fact]
    public void UnexpectedExceptionsAreOneLineWithDebugHint()
    {
        var err = new StringWriter();
        int rc = CliApp.ReportException(new CliContext(CliInput.Empty, new StringWriter(), err), new InvalidOperationException("boom\nsecond line"));
        Assert.Equal(ExitCodes.Error, rc);
        var text = err.ToString().TrimEnd();
        if (Environment.GetEnvironmentVariable(CliApp.DebugVariable) is { Length: > 0 }) return;
        Assert.DoesNotContain('\n', text);
        Assert.Contains("boom second line", text);
        Assert.Contains("GPTBERT_DEBUG=1", text);
    }
}
