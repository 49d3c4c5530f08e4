using GptBert.Tokenizers;

namespace GptBert.Tests.Tokenizers;

public class TokenizerLoaderTests
{
    [Fact]
    public void BuiltInNames()
    {
        Assert.True(TokenizerLoader.IsBuiltIn("gpt2"));
        Assert.True(TokenizerLoader.IsBuiltIn("bert-base-uncased"));
        Assert.True(TokenizerLoader.IsBuiltIn("GPT2"));
        Assert.False(TokenizerLoader.IsBuiltIn("gpt3"));
        Assert.Equal("bpe", TokenizerLoader.Load("gpt2").Kind);
        Assert.Equal("wordpiece", TokenizerLoader.Load("bert-base-uncased").Kind);
        Assert.Same(TokenizerLoader.Load("gpt2"), TokenizerLoader.Load("gpt2"));
    }

    static string OneLine(GptBertException e)
    {
        Assert.DoesNotContain('\n', e.Message);
        return e.Message;
    }

    [Fact]
    public void MissingDirectoryNamesItAndTheBuiltIns()
    {
        var path = Path.Combine(Path.GetTempPath(), "no-such-tokenizer-" + Guid.NewGuid().ToString("N"));
        var msg = OneLine(Assert.Throws<GptBertException>(() => TokenizerLoader.Load(path)));
        Assert.Contains(path, msg);
        Assert.Contains("gpt2", msg);
        Assert.Contains("bert-base-uncased", msg);
    }

    [Fact]
    public void EmptyDirectoryListsTheExpectedFiles()
    {
        using var dir = new TempDir();
        var msg = OneLine(Assert.Throws<GptBertException>(() => TokenizerLoader.Load(dir.Path)));
        Assert.Contains(dir.Path, msg);
        Assert.Contains("vocab.txt", msg);
        Assert.Contains("vocab.json + merges.txt", msg);
        Assert.Contains("tokenizer.json", msg);
    }

    [Fact]
    public void HalfABpeTokenizerSaysWhatIsMissing()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("vocab.json"), """{"a": 0}""");
        var msg = OneLine(Assert.Throws<GptBertException>(() => TokenizerLoader.Load(dir.Path)));
        Assert.Contains("merges.txt", msg);
        Assert.Contains(dir.Path, msg);
    }

    [Fact]
    public void BrokenFilesGiveOneLineErrors()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("vocab.json"), "{not json");
        File.WriteAllText(dir.File("merges.txt"), "#version: 0.2\n");
        var msg = OneLine(Assert.Throws<GptBertException>(() => TokenizerLoader.Load(dir.Path)));
        Assert.Contains("vocab.json", msg);

        File.WriteAllText(dir.File("vocab.json"), """{"a": 0, "b": 1}""");
        File.WriteAllText(dir.File("merges.txt"), "#version: 0.2\na b\n");
        msg = OneLine(Assert.Throws<GptBertException>(() => TokenizerLoader.Load(dir.Path)));
        Assert.Contains("'ab'", msg);

        File.WriteAllText(dir.File("merges.txt"), "#version: 0.2\nabc\n");
        msg = OneLine(Assert.Throws<GptBertException>(() => TokenizerLoader.Load(dir.Path)));
        Assert.Contains("merges.txt", msg);

        using var wp = new TempDir();
        File.WriteAllLines(wp.File("vocab.txt"), ["[PAD]", "[CLS]", "[SEP]", "hello"]);
        msg = OneLine(Assert.Throws<GptBertException>(() => TokenizerLoader.Load(wp.Path)));
        Assert.Contains("[UNK]", msg);

        File.WriteAllLines(wp.File("vocab.txt"), ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello"]);
        File.WriteAllText(wp.File("tokenizer_config.json"), "{ broken");
        msg = OneLine(Assert.Throws<GptBertException>(() => TokenizerLoader.Load(wp.Path)));
        Assert.Contains("tokenizer_config.json", msg);
    }

    [Fact]
    public void UnsupportedTokenizerJsonIsRefusedClearly()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("tokenizer.json"), """{"model": {"type": "Unigram", "vocab": []}}""");
        var msg = OneLine(Assert.Throws<GptBertException>(() => TokenizerLoader.Load(dir.Path)));
        Assert.Contains("Unigram", msg);
    }

    [Fact]
    public void VocabFilePathLoadsItsDirectory()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir.File("vocab.txt"), ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello"]);
        var tok = TokenizerLoader.Load(dir.File("vocab.txt"));
        Assert.Equal([2, 5, 3], tok.Encode("Hello").Ids);
        Assert.Equal(6, tok.VocabSize);
    }
}
