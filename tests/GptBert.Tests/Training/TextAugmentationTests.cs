using GptBert.Tokenizers;
using GptBert.Training;

namespace GptBert.Tests.Training;

public class TextAugmentationTests
{
    [Fact]
    public void InsertedWordsComeFromTheVocabularyWholeWordsOnly()
    {
        // "whale" is the only whole word of 3+ letters: special tokens, "##" pieces and short tokens are left out.
        var tok = new WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "whale", "##ing", "a", "to"]);
        var augment = TextAugmentation.For(tok);
        var rng = new Random(3);
        var inserted = Enumerable.Range(0, 50).Select(_ => augment.Apply("call me ishmael now", rng))
            .SelectMany(t => t.Split(' ')).Except(["call", "me", "ishmael", "now"]).Distinct().ToList();
        Assert.Equal(["whale"], inserted);
    }

    [Fact]
    public void VocabularyWithoutWholeWordsIsRefused()
    {
        var tok = new WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "##ing", "a"]);
        var e = Assert.Throws<GptBertException>(() => TextAugmentation.For(tok));
        Assert.StartsWith("Augment needs a vocabulary with whole words", e.Message);
        Assert.Equal("Augment", e.Parameter);
    }
}
