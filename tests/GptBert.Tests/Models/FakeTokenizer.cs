using GptBert.Tokenizers;

namespace GptBert.Tests.Models;

/// <summary>Ids written as decimal numbers separated by spaces: lets model tests drive pipelines without a vocabulary.</summary>
sealed class FakeTokenizer(int vocab) : ITextTokenizer
{
    public string Kind => "fake";
    public int VocabSize => vocab;
    public int? PadId => 0; public int? UnkId => null; public int? ClsId => null; public int? SepId => null;
    public int? MaskId => null; public int? BosId => null; public int? EosId => null; public string? MaskToken => null;

    public TokenizedText Encode(string text, string? pair = null, bool addSpecialTokens = true, int? maxLength = null)
    {
        var ids = text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
        int n = ids.Length;
        return new TokenizedText(ids, ids.Select(i => i.ToString()).ToArray(), new int[n], Enumerable.Repeat(1, n).ToArray(),
            new (int, int)[n], new int[n], false);
    }

    public IReadOnlyList<TokenizedText> EncodeBatch(IReadOnlyList<(string Text, string? Pair)> inputs, bool addSpecialTokens = true, int? maxLength = null, bool padToLongest = true) =>
        inputs.Select(i => Encode(i.Text)).ToList();

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true) => string.Concat(ids.Select(i => $" {i}"));
    public string IdToToken(int id) => id.ToString();
    public int? TokenToId(string token) => int.Parse(token);
    public void Save(string directory) { }
}
