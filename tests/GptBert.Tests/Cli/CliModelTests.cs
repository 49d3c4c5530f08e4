using System.Text.Json;
using GptBert.Models;
using static GptBert.Tests.Cli.CliHarness;

namespace GptBert.Tests.Cli;

public class CliGenerateTests
{
    static string[] Args(params string[] extra) => ["generate", "--model", TinyModels.Gpt2, "--tokenizer", "gpt2", "--threads", "2", .. extra];

    [Fact]
    public void GreedyJsonlGivesExactlyMaxNewTokensAndIsRepeatable()
    {
        var a = Run("{\"text\": \"Hello world\"}\n", Args("--greedy", "--max-new-tokens", "5", "--jsonl"));
        Assert.True(a.ExitCode == 0, a.ToString());
        var row = Assert.Single(a.JsonLines);
        Assert.Equal(5, Ints(row.GetProperty("ids")).Length);
        Assert.Equal("length", row.GetProperty("finish_reason").GetString());
        Assert.Equal(JsonValueKind.String, row.GetProperty("text").ValueKind);

        var b = Run("{\"text\": \"Hello world\"}\n", Args("--greedy", "--max-new-tokens", "5", "--jsonl"));
        Assert.Equal(a.Stdout, b.Stdout);
    }

    [Fact]
    public void PlainOutputEchoesPromptThenContinuation()
    {
        var jsonl = Run(null, Args("--prompt", "Once upon a time", "--greedy", "--max-new-tokens", "4", "--jsonl"));
        var text = jsonl.JsonLines.Single().GetProperty("text").GetString();
        var plain = Run(null, Args("--prompt", "Once upon a time", "--greedy", "--max-new-tokens", "4"));
        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.Equal("Once upon a time" + text + "\n", plain.Stdout.Replace("\r\n", "\n"));
    }

    [Fact]
    public void BatchedPromptsGiveWhatOneAtATimeGives()
    {
        var input = string.Join("\n", new[] { "Hello world", "Call me Ishmael.", "It was", "The quick brown fox jumps over", "A" }
            .Select(t => JsonSerializer.Serialize(new { text = t }))) + "\n";
        foreach (var mode in new[] { new[] { "--greedy" }, ["--seed", "3", "--top-k", "0"] })
        {
            var one = Run(input, Args([.. mode, "--max-new-tokens", "7", "--jsonl", "--batch-size", "1"]));
            var batched = Run(input, Args([.. mode, "--max-new-tokens", "7", "--jsonl", "--batch-size", "3"]));
            Assert.True(batched.ExitCode == 0, batched.ToString());
            Assert.Equal(5, batched.JsonLines.Count());
            Assert.Equal(one.Stdout, batched.Stdout); // same lines, same order
        }
    }

    [Fact]
    public void SeededSamplingIsRepeatable()
    {
        string[] args = Args("--prompt", "The", "--max-new-tokens", "6", "--seed", "7", "--top-k", "0", "--jsonl");
        var a = Run(null, args);
        var b = Run(null, args);
        Assert.True(a.ExitCode == 0, a.ToString());
        Assert.Equal(a.Stdout, b.Stdout);
    }

    [Fact]
    public void PromptLongerThanContextTruncatesWithWarningOrRefuses()
    {
        string prompt = string.Join(' ', Enumerable.Repeat("word", 100)); // 100 tokens > 64 positions
        var r = Run(null, Args("--prompt", prompt, "--greedy", "--max-new-tokens", "3", "--jsonl"));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(3, Ints(r.JsonLines.Single().GetProperty("ids")).Length);
        Assert.Contains("warning:", r.Stderr);
        Assert.Contains("truncated", r.Stderr);

        var refused = Run(null, Args("--prompt", prompt, "--greedy", "--max-new-tokens", "3", "--no-truncate"));
        var line = AssertOneLineError(refused);
        Assert.Contains("--no-truncate", line);
    }

    [Fact]
    public void BertModelCannotGenerate()
    {
        AssertOneLineError(Run(null, "generate", "--model", TinyModels.BertMlm, "--tokenizer", "bert-base-uncased", "--prompt", "hi"));
    }
}

public class CliFillMaskTests
{
    static string[] Args(params string[] extra) => ["fill-mask", "--model", TinyModels.BertMlm, "--tokenizer", "bert-base-uncased", "--threads", "2", .. extra];

    [Fact]
    public void InputWithoutMaskIsOneLineError()
    {
        var line = AssertOneLineError(Run("first [MASK] line\nno mask here\n", Args()));
        Assert.Contains("line 2", line);
        Assert.Contains("[MASK]", line);
    }

    [Fact]
    public void JsonlGivesTopKCandidatesPerMask()
    {
        var r = Run("{\"text\": \"paris is the [MASK] of [MASK].\"}\n", Args("--top-k", "3", "--jsonl"));
        Assert.True(r.ExitCode == 0, r.ToString());
        var masks = r.JsonLines.Single().GetProperty("masks").EnumerateArray().ToArray();
        // [CLS]=0 paris=1 is=2 the=3 [MASK]=4 of=5 [MASK]=6 .=7 [SEP]=8
        Assert.Equal([4, 6], masks.Select(m => m.GetProperty("position").GetInt32()));
        foreach (var m in masks)
        {
            var c = m.GetProperty("candidates").EnumerateArray().ToArray();
            Assert.Equal(3, c.Length);
            var scores = c.Select(x => x.GetProperty("score").GetDouble()).ToArray();
            Assert.True(scores[0] >= scores[1] && scores[1] >= scores[2]);
            Assert.True(scores.All(s => s > 0 && s <= 1) && scores.Sum() <= 1.0001);
            Assert.All(c, x => Assert.False(string.IsNullOrEmpty(x.GetProperty("token").GetString())));
        }

        var plain = Run(null, Args("--top-k", "2", "the [MASK] sat."));
        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.Equal(4, plain.StdoutLines.Length); // text, mask header, 2 candidates
    }

    [Fact]
    public void EncoderWithoutMlmHeadIsRefused()
    {
        var line = AssertOneLineError(Run(null, "fill-mask", "--model", TinyModels.Bert, "--tokenizer", "bert-base-uncased", "a [MASK]."));
        Assert.Contains("head", line);
    }
}

public class CliEncoderTests
{
    static string[] Args(string command, params string[] extra) => [command, "--model", TinyModels.Bert, "--tokenizer", "bert-base-uncased", "--threads", "2", .. extra];

    [Fact]
    public void MiniLmEmbedsTwoLinesAsUnitVectors()
    {
        // The only test that loads the built-in MiniLM (converted once into the cache).
        var r = Run("{\"text\": \"The cat sat on the mat.\"}\n{\"text\": \"A dog barked.\"}\n", "embed", "--jsonl");
        Assert.True(r.ExitCode == 0, r.ToString());
        var rows = r.JsonLines;
        Assert.Equal(2, rows.Length);
        foreach (var row in rows)
        {
            var v = row.GetProperty("embedding").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            Assert.Equal(384, v.Length);
            Assert.Equal(1.0, Math.Sqrt(v.Sum(x => x * x)), 4);
        }
        Assert.NotEqual(rows[0].GetProperty("embedding").ToString(), rows[1].GetProperty("embedding").ToString());
    }

    [Fact]
    public void EmbedPlainPrintsOneLinePerText()
    {
        var r = Run("alpha\nbeta\n", Args("embed"));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(2, r.StdoutLines.Length);
        Assert.All(r.StdoutLines, l => Assert.Equal(32, l.Split(' ').Length));
    }

    [Fact]
    public void LongInputTruncatesWithWarningNamingTheLineOrRefuses()
    {
        string longText = string.Join(' ', Enumerable.Repeat("word", 100)); // > 64 positions
        var r = Run($"{{\"text\": \"short\"}}\n{{\"text\": \"{longText}\"}}\n", Args("embed", "--jsonl"));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(2, r.JsonLines.Length);
        var warning = Assert.Single(r.StderrLines);
        Assert.StartsWith("warning:", warning);
        Assert.Contains("line 2", warning);

        var line = AssertOneLineError(Run($"short\n{longText}\n", Args("embed", "--no-truncate")));
        Assert.Contains("line 2", line);
    }

    [Fact]
    public void SimilarityOfTwoTextsAndRanking()
    {
        var same = Run(null, Args("similarity", "a red apple", "a red apple"));
        Assert.True(same.ExitCode == 0, same.ToString());
        Assert.Equal("1.0000", same.Stdout.Trim());

        var ranked = Run("{\"text\": \"green tea\"}\n{\"text\": \"red apple\"}\n{\"text\": \"blue sky\"}\n",
            Args("similarity", "--query", "red apple", "--top-k", "2", "--jsonl"));
        Assert.True(ranked.ExitCode == 0, ranked.ToString());
        var rows = ranked.JsonLines;
        Assert.Equal(2, rows.Length);
        Assert.Equal(1, rows[0].GetProperty("rank").GetInt32());
        Assert.Equal("red apple", rows[0].GetProperty("text").GetString());
        Assert.Equal(1, rows[0].GetProperty("index").GetInt32());
        Assert.Equal(1.0, rows[0].GetProperty("score").GetDouble(), 4);
        Assert.True(rows[1].GetProperty("score").GetDouble() <= rows[0].GetProperty("score").GetDouble());

        var pairs = Run("{\"text\": \"x y\", \"text_pair\": \"x y\"}\n{\"text\": \"a\", \"text_pair\": \"b\"}\n", Args("similarity", "--jsonl"));
        Assert.True(pairs.ExitCode == 0, pairs.ToString());
        Assert.Equal(2, pairs.JsonLines.Length);
        Assert.Equal(1.0, pairs.JsonLines[0].GetProperty("score").GetDouble(), 4);

        var plainRanked = Run("green tea\nred apple\nblue sky\n", Args("similarity", "--query", "red apple"));
        Assert.True(plainRanked.ExitCode == 0, plainRanked.ToString());
        Assert.Equal(3, plainRanked.StdoutLines.Length); // default --top-k 10 > 3 texts
        Assert.StartsWith("1\t1.0000\tred apple", plainRanked.StdoutLines[0]);

        var tsv = Run("a b\ta b\n", Args("similarity"));
        Assert.Equal("1.0000", tsv.Stdout.Trim());

        AssertOneLineError(Run(null, Args("similarity", "only one")), exitCode: 2);
    }

    [Fact]
    public void InfoDescribesTheModel()
    {
        var r = Run(null, "info", TinyModels.Gpt2, "--tokenizer", "gpt2", "--json");
        Assert.True(r.ExitCode == 0, r.ToString());
        var j = JsonDocument.Parse(r.Stdout).RootElement;
        Assert.Equal("GPT2LMHeadModel", j.GetProperty("architecture").GetString());
        using (var m = new GPT2LMHeadModel(new Gpt2Config { VocabSize = 50257, NEmbd = 32, NLayer = 2, NHead = 2, NPositions = 64 }))
            Assert.Equal(m.ParameterCount, j.GetProperty("parameters").GetInt64());
        Assert.Equal(2, j.GetProperty("layers").GetInt32());
        Assert.Equal(32, j.GetProperty("hidden_size").GetInt32());
        Assert.Equal(2, j.GetProperty("heads").GetInt32());
        Assert.Equal(64, j.GetProperty("max_context").GetInt32());
        Assert.Equal(50257, j.GetProperty("vocab_size").GetInt32());
        Assert.Equal("bpe", j.GetProperty("tokenizer").GetString());
        Assert.Equal("float32", j.GetProperty("dtype").GetString());
        Assert.True(j.GetProperty("size_on_disk_bytes").GetInt64() > 4 * 50257 * 32);

        var plain = Run(null, "info", TinyModels.Gpt2, "--tokenizer", "gpt2");
        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.Contains("parameters:", plain.Stdout);
        Assert.Contains("MiB", plain.Stdout);
    }

    [Fact]
    public void InfoOnADirectoryWithoutTokenizerFilesDescribesTheModelAndSaysSo()
    {
        var plain = Run(null, "info", TinyModels.Gpt2);
        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.Contains("GPT2LMHeadModel", plain.Stdout);
        Assert.Contains("parameters:", plain.Stdout);
        Assert.Contains("vocab size:   50257", plain.Stdout);
        Assert.Contains("tokenizer:    none (pass --tokenizer to commands that need text)", plain.Stdout);

        var json = Run(null, "info", TinyModels.Gpt2, "--json");
        Assert.True(json.ExitCode == 0, json.ToString());
        var j = JsonDocument.Parse(json.Stdout).RootElement;
        Assert.Equal(JsonValueKind.Null, j.GetProperty("tokenizer").ValueKind);
        Assert.Equal(JsonValueKind.Null, j.GetProperty("tokenizer_vocab_size").ValueKind);
        Assert.Equal(50257, j.GetProperty("vocab_size").GetInt32());
    }
}
