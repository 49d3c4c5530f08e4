using System.Text.Json;
using static GptBert.Tests.Cli.CliHarness;

namespace GptBert.Tests.Cli;

public class CliTokenizeTests
{
    [Fact]
    public void BertIdsMatchHuggingFace()
    {
        // transformers: BertTokenizerFast.from_pretrained("bert-base-uncased")("Hello, World!").input_ids
        var r = Run(null, "tokenize", "--tokenizer", "bert-base-uncased", "Hello, World!");
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.StdoutLines;
        Assert.Equal("tokens: [CLS] hello , world ! [SEP]", lines[0]);
        Assert.Equal([101, 7592, 1010, 2088, 999, 102], lines[1]["ids:".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse));
        Assert.Equal("", r.Stderr);
    }

    [Fact]
    public void BertJsonlFromStdinWithPairAndWithoutSpecialTokens()
    {
        var r = Run("{\"text\": \"Hello, World!\"}\n\n{\"text\": \"Who?\", \"text_pair\": \"Me.\"}\n", "tokenize", "--tokenizer", "bert-base-uncased", "--jsonl");
        Assert.True(r.ExitCode == 0, r.ToString());
        var rows = r.JsonLines;
        Assert.Equal(2, rows.Length); // the blank line is skipped
        Assert.Equal([101, 7592, 1010, 2088, 999, 102], Ints(rows[0].GetProperty("ids")));
        Assert.Equal(["[CLS]", "who", "?", "[SEP]", "me", ".", "[SEP]"], rows[1].GetProperty("tokens").EnumerateArray().Select(t => t.GetString()));

        var plain = Run(null, "tokenize", "--tokenizer", "bert-base-uncased", "--no-special-tokens", "--jsonl", "Hello, World!");
        Assert.Equal([7592, 1010, 2088, 999], Ints(plain.JsonLines.Single().GetProperty("ids")));
    }

    [Fact]
    public void Gpt2JsonlAddsNoSpecialTokens()
    {
        var r = Run("{\"text\":\"Hello world\"}\n", "tokenize", "--tokenizer", "gpt2", "--jsonl");
        Assert.True(r.ExitCode == 0, r.ToString());
        var row = Assert.Single(r.JsonLines);
        Assert.Equal([15496, 995], Ints(row.GetProperty("ids")));
        Assert.Equal(["Hello", "Ġworld"], row.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()));
    }

    [Fact]
    public void MaxLengthTruncatesWithWarningOrRefuses()
    {
        var r = Run(null, "tokenize", "--tokenizer", "bert-base-uncased", "--max-length", "4", "--jsonl", "one two three four five");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(4, Ints(r.JsonLines.Single().GetProperty("ids")).Length);
        Assert.Contains("warning:", r.Stderr);
        Assert.Contains("truncated", r.Stderr);

        var refused = Run(null, "tokenize", "--tokenizer", "bert-base-uncased", "--max-length", "4", "--no-truncate", "one two three four five");
        var line = AssertOneLineError(refused);
        Assert.Contains("argument 1", line);
        Assert.Equal("", refused.Stdout);
    }

    [Fact]
    public void ModelDirectoryWithoutTokenizerNeedsTokenizerOption()
    {
        var line = AssertOneLineError(Run(null, "tokenize", "--model", TinyModels.Gpt2, "hi"));
        Assert.Contains("--tokenizer", line);
        var usage = AssertOneLineError(Run(null, "tokenize", "hi"), exitCode: 2);
        Assert.Contains("--tokenizer", usage);
    }
}
