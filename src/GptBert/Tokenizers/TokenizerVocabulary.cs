namespace GptBert.Tokenizers;

public static class TokenizerVocabulary
{
    /// <summary>
    /// Every (id, token) of the tokenizer's vocabulary in id order. Ids without a token (gaps a vocabulary file
    /// may leave) are skipped; any tokenizer may refuse such an id with an exception, so that is what is caught.
    /// </summary>
    public static IEnumerable<(int Id, string Token)> Entries(this ITextTokenizer tok)
    {
        for (int id = 0; id < tok.VocabSize; id++)
        {
            string token;
            try { token = tok.IdToToken(id); } catch (Exception) { continue; }
            yield return (id, token);
        }
    }
}
