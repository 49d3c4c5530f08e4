using GptBert.Tokenizers;

namespace GptBert.Tests.Tokenizers;

public class TokenizerVocabularyTests
{
    [Fact]
    public void EntriesListTokensInIdOrderAndSkipGaps()
    {
        var tok = new WordPieceTokenizer(new Dictionary<string, int> { ["[UNK]"] = 0, ["[CLS]"] = 1, ["[SEP]"] = 2, ["##ing"] = 5, ["sing"] = 4 });
        Assert.Equal(6, tok.VocabSize);
        Assert.Equal([(0, "[UNK]"), (1, "[CLS]"), (2, "[SEP]"), (4, "sing"), (5, "##ing")], tok.Entries().ToList());
    }
}
