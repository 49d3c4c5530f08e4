namespace GptBert.Tokenizers.Training;

internal delegate void WordSink(ReadOnlySpan<char> word);

/// <summary>
/// The words a <see cref="WordPieceTokenizer"/> with the same settings sees (BertNormalizer + BertPreTokenizer),
/// through the same <see cref="BertNormalizedText"/>, for counting words in training.
/// </summary>
internal sealed class BertWordSplitter(bool lower, bool strip, bool cleanText = true, bool chinese = true)
{
    readonly BertNormalizedText normalized = new();
    readonly BertNormalization settings = new(lower, strip, cleanText, chinese);

    /// <summary>Calls onWord for each word of text[from..to) (whitespace dropped, each punctuation char a word).</summary>
    public void Split(string text, int from, int to, WordSink onWord)
    {
        normalized.Normalize(text, from, to, settings);
        int pos = 0;
        while (normalized.NextWord(ref pos, out int start, out int end)) onWord(normalized.Chars.AsSpan(start, end - start));
    }
}
