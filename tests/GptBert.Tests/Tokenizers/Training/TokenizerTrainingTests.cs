using GptBert.Tokenizers;
using GptBert.Tokenizers.Training;
using static GptBert.Tests.Tokenizers.Training.TrainingTestUtil;

namespace GptBert.Tests.Tokenizers.Training;

public class TokenizerTrainingTests
{
    static IEnumerable<string> Corpus => MobyParagraphs.Take(30);

    /// <summary>A corpus that fails the test if anything reads it.</summary>
    static IEnumerable<string> Untouchable()
    {
        throw new Xunit.Sdk.XunitException("the corpus was read although the options were already invalid");
#pragma warning disable CS0162
        yield break;
#pragma warning restore CS0162
    }

    [Fact]
    public void TrainsBothKinds()
    {
        var bpe = TokenizerTraining.Train("bpe", Corpus, new TokenizerTrainingOptions { VocabSize = 600 });
        Assert.IsType<ByteLevelBpeTokenizer>(bpe);
        Assert.Equal(600, bpe.VocabSize);
        Assert.Equal("<|endoftext|>", bpe.IdToToken(0));

        var wp = TokenizerTraining.Train(" WordPiece ", Corpus, new TokenizerTrainingOptions { VocabSize = 600 });
        Assert.IsType<WordPieceTokenizer>(wp);
        Assert.Equal(600, wp.VocabSize);
        Assert.Equal("[MASK]", wp.IdToToken(4));

        var custom = TokenizerTraining.Train("wordpiece", Corpus, new TokenizerTrainingOptions
        {
            VocabSize = 600, SpecialTokens = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]", "[EXTRA]"], LowerCase = false,
        });
        Assert.Equal((3, 0, 1, 2, 4), (custom.PadId, custom.UnkId, custom.ClsId, custom.SepId, custom.MaskId));
        Assert.Equal(["[CLS]", "[EXTRA]", "[SEP]"], custom.Encode("[EXTRA]").Tokens);
        Assert.NotNull(custom.TokenToId("I"));   // cased

        var msg = OneLine(Assert.Throws<GptBertException>(() => TokenizerTraining.Train("unigram", Corpus)));
        Assert.Contains("'unigram'", msg);
        Assert.Contains("Kind bpe", msg);
    }

    [Fact]
    public void TrainAndSaveWritesAFreshDirectoryWhole()
    {
        using var root = new TempDir();
        var outDir = Path.Combine(root.Path, "a", "tok");
        var progress = new List<TrainingProgress>();
        var tok = TokenizerTraining.TrainAndSave("bpe", Corpus, outDir + Path.DirectorySeparatorChar, new TokenizerTrainingOptions { VocabSize = 500, ShowProgress = progress.Add });
        Assert.Equal(["merges.txt", "special_tokens_map.json", "tokenizer_config.json", "vocab.json"],
            Directory.GetFiles(outDir).Select(Path.GetFileName).Order());
        Assert.Equal(["tok"], Directory.GetFileSystemEntries(Path.Combine(root.Path, "a")).Select(Path.GetFileName));   // no temp left
        var loaded = TokenizerLoader.Load(outDir);
        foreach (var t in Corpus) Assert.Equal(tok.Encode(t).Ids, loaded.Encode(t).Ids);
        Assert.Equal(new TrainingProgress("Compute merges", 500, 500), progress[^1]);

        // An existing empty directory is fine too.
        var empty = Path.Combine(root.Path, "empty");
        Directory.CreateDirectory(empty);
        TokenizerTraining.TrainAndSave("wordpiece", Corpus, empty, new TokenizerTrainingOptions { VocabSize = 500 });
        Assert.Equal(500, TokenizerLoader.Load(empty).VocabSize);
    }

    [Fact]
    public void RetrainingIntoTheSameDirectoryReplacesTheFiles()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("README.md"), "keep me");
        TokenizerTraining.TrainAndSave("wordpiece", Corpus, dir.Path, new TokenizerTrainingOptions { VocabSize = 500 });
        Assert.Equal(500, TokenizerLoader.Load(dir.Path).VocabSize);
        TokenizerTraining.TrainAndSave("wordpiece", Corpus, dir.Path, new TokenizerTrainingOptions { VocabSize = 700 });
        Assert.Equal(700, TokenizerLoader.Load(dir.Path).VocabSize);
        Assert.Equal("keep me", File.ReadAllText(dir.File("README.md")));
        Assert.DoesNotContain(Directory.GetFiles(dir.Path), f => f.EndsWith(".tmp"));
    }

    [Fact]
    public void RefusesADirectoryWithAnotherKindOfTokenizerBeforeTraining()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("vocab.txt"), "[PAD]\n[UNK]\n");
        var msg = OneLine(Assert.Throws<GptBertException>(() => TokenizerTraining.TrainAndSave("bpe", Untouchable(), dir.Path)));
        Assert.Contains("vocab.txt", msg);
        using var dir2 = new TempDir();
        File.WriteAllText(dir2.File("tokenizer.json"), "{}");
        Assert.Contains("tokenizer.json", OneLine(Assert.Throws<GptBertException>(() => TokenizerTraining.TrainAndSave("wordpiece", Untouchable(), dir2.Path))));
        Assert.Contains("is a file", OneLine(Assert.Throws<GptBertException>(() => TokenizerTraining.TrainAndSave("bpe", Untouchable(), dir2.File("tokenizer.json")))));
    }

    [Fact]
    public void InvalidOptionsFailBeforeReadingTheCorpus()
    {
        var msg = OneLine(Assert.Throws<GptBertException>(() =>
            TokenizerTraining.Train("bpe", Untouchable(), new TokenizerTrainingOptions { VocabSize = 100 })));
        Assert.Equal("VocabSize 100 is too small: the byte alphabet (256) and special tokens (1) alone need 257; use at least 257 (thousands are typical)", msg);
        Assert.Contains("VocabSize 4 is too small", OneLine(Assert.Throws<GptBertException>(() =>
            TokenizerTraining.Train("wordpiece", Untouchable(), new TokenizerTrainingOptions { VocabSize = 4 }))));
        Assert.Contains("empty", OneLine(Assert.Throws<GptBertException>(() => TokenizerTraining.Train("bpe", []))));
        Assert.Contains("empty", OneLine(Assert.Throws<GptBertException>(() => TokenizerTraining.Train("wordpiece", ["", " "]))));
    }
}
