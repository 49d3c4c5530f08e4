namespace GptBert.Tokenizers;

/// <summary>BertNormalizer's settings: lowercase, strip_accents, clean_text and handle_chinese_chars.</summary>
internal readonly record struct BertNormalization(bool Lower, bool Strip, bool CleanText = true, bool Chinese = true);

/// <summary>
/// Hugging Face's BertNormalizer + BertPreTokenizer on one stretch of text, for <see cref="WordPieceTokenizer"/> and
/// the WordPiece trainer. Each code point is normalized into a reused buffer that records the original range of
/// every normalized char (for offsets); words are then read off that buffer without allocating.
/// </summary>
internal sealed class BertNormalizedText
{
    char[] chars = new char[1024];
    int[] starts = new int[1024];
    int[] ends = new int[1024];
    int n;

    public int Length => n;
    /// <summary>The normalized chars; valid up to <see cref="Length"/> until the next <see cref="Normalize"/>.</summary>
    public char[] Chars => chars;
    /// <summary>Where in the original text normalized char k starts.</summary>
    public int[] Starts => starts;
    /// <summary>Where in the original text normalized char k ends (exclusive).</summary>
    public int[] Ends => ends;

    /// <summary>Normalizes text[from..to), replacing what the buffer held.</summary>
    public void Normalize(string text, int from, int to, BertNormalization settings)
    {
        n = 0;
        var span = text.AsSpan(0, to);
        bool lower = settings.Lower, strip = settings.Strip;
        int i = from;
        while (i < to)
        {
            char ch = text[i];
            if (ch < 0x80 && (UnicodeTables.Bert(ch) & UnicodeTables.BertAsciiSimple) != 0)
            {
                Put(lower && ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch, i, i + 1);
                i++;
                continue;
            }
            int cp = UnicodeTables.CodePointAt(span, i, out int len);
            int end = i + len;
            byte flags = UnicodeTables.Bert(cp);
            if (settings.CleanText)
            {
                if ((flags & UnicodeTables.BertDrop) != 0) { i = end; continue; }
                if ((flags & UnicodeTables.BertSpace) != 0) { Put(' ', i, end); i = end; continue; }
            }
            bool spaced = settings.Chinese && (flags & UnicodeTables.BertChinese) != 0;
            if (spaced) Put(' ', i, end);
            if (cp < 0x80) Put(lower && cp >= 'A' && cp <= 'Z' ? (char)(cp + 32) : (char)cp, i, end);
            else if (strip || lower) foreach (char t in UnicodeTables.Transform(cp, strip, lower)) Put(t, i, end);
            else for (int k = i; k < end; k++) Put(text[k], i, end);
            if (spaced) Put(' ', i, end);
            i = end;
        }
    }

    void Put(char c, int start, int end)
    {
        if (n == chars.Length)
        {
            Array.Resize(ref chars, n * 2);
            Array.Resize(ref starts, n * 2);
            Array.Resize(ref ends, n * 2);
        }
        chars[n] = c;
        starts[n] = start;
        ends[n] = end;
        n++;
    }

    /// <summary>
    /// BertPreTokenizer: the next word at or after <paramref name="pos"/> as [start, end) in the buffer. Whitespace is
    /// dropped and every punctuation char is a word of its own.
    /// </summary>
    public bool NextWord(ref int pos, out int start, out int end)
    {
        var s = new ReadOnlySpan<char>(chars, 0, n);
        while (pos < n)
        {
            int cp = UnicodeTables.CodePointAt(s, pos, out int l);
            byte f = UnicodeTables.Bert(cp);
            if ((f & UnicodeTables.BertSpace) != 0) { pos += l; continue; }
            start = pos;
            pos += l;
            if ((f & UnicodeTables.BertPunct) == 0)
            {
                while (pos < n)
                {
                    char c = s[pos];
                    if (c < 0x80)
                    {
                        byte fc = UnicodeTables.Bert(c);
                        if ((fc & UnicodeTables.BertAsciiSimple) == 0 && (fc & (UnicodeTables.BertSpace | UnicodeTables.BertPunct)) != 0) break;
                        pos++;
                        continue;
                    }
                    cp = UnicodeTables.CodePointAt(s, pos, out l);
                    if ((UnicodeTables.Bert(cp) & (UnicodeTables.BertSpace | UnicodeTables.BertPunct)) != 0) break;
                    pos += l;
                }
            }
            end = pos;
            return true;
        }
        start = end = pos;
        return false;
    }
}
