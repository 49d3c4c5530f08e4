using GptBert.Models;
using GptBert.Tokenizers;

namespace GptBert.Tests.Training;

static class TrainingTestUtil
{
    /// <summary>A small real WordPiece vocabulary: specials, letters, a few words and continuations.</summary>
    public static WordPieceTokenizer Vocab()
    {
        var words = "the cat dog sat ran on mat log a big small red blue good bad great awful film movie was is very not".Split(' ');
        var vocab = new List<string> { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "," };
        vocab.AddRange(words);
        vocab.AddRange("abcdefghijklmnopqrstuvwxyz".Select(c => c.ToString()));
        vocab.AddRange("abcdefghijklmnopqrstuvwxyz".Select(c => "##" + c));
        vocab.AddRange(["##s", "##ed", "##ing"]);
        return new WordPieceTokenizer(vocab.Distinct().ToList());
    }

    public static Gpt2Config TinyGpt(int vocab, double dropout = 0) => new()
    {
        VocabSize = vocab, NPositions = 64, NEmbd = 32, NLayer = 2, NHead = 2, ResidPdrop = dropout, EmbdPdrop = dropout, AttnPdrop = dropout,
    };

    public static BertConfig TinyBert(int vocab, double dropout = 0) => new()
    {
        VocabSize = vocab, HiddenSize = 32, NumHiddenLayers = 2, NumAttentionHeads = 2, IntermediateSize = 64, MaxPositionEmbeddings = 64,
        HiddenDropoutProb = dropout, AttentionProbsDropoutProb = dropout,
    };
}
