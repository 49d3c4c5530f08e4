namespace GptBert.Tokenizers.Training;

internal delegate void WordSink(ReadOnlySpan<char> word);

/// <summary>
/// BertNormalizer + BertPreTokenizer without offsets: the words a <see cref="WordPieceTokenizer"/> with the same
/// settings sees (the same per-code-point rules as its EncodeSegment, which also tracks offsets and so is not shared).
/// </summary>
internal sealed class BertWordSplitter(bool lower, bool strip, bool cleanText = true, bool chinese = true)
{
    char[] buf = new char[1024];
    int n;

    void Put(char c)
    {
        if (n == buf.Length) Array.Resize(ref buf, buf.Length * 2);
        buf[n++] = c;
    }

    /// <summary>Calls onWord for each word of text[from..to) (whitespace dropped, each punctuation char a word).</summary>
    public void Split(string text, int from, int to, WordSink onWord)
    {
        n = 0;
        int i = from;
        while (i < to)
        {
            char ch = text[i];
            if (ch < 0x80 && (UnicodeTables.Bert(ch) & UnicodeTables.BertAsciiSimple) != 0)
            {
                Put(lower && ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch);
                i++;
                continue;
            }
            int cp = UnicodeTables.CodePointAt(text.AsSpan(0, to), i, out int len);
            byte flags = UnicodeTables.Bert(cp);
            if (cleanText)
            {
                if ((flags & UnicodeTables.BertDrop) != 0) { i += len; continue; }
                if ((flags & UnicodeTables.BertSpace) != 0) { Put(' '); i += len; continue; }
            }
            bool spaced = chinese && (flags & UnicodeTables.BertChinese) != 0;
            if (spaced) Put(' ');
            if (cp < 0x80) Put(lower && cp >= 'A' && cp <= 'Z' ? (char)(cp + 32) : (char)cp);
            else if (strip || lower) foreach (char t in UnicodeTables.Transform(cp, strip, lower)) Put(t);
            else for (int k = 0; k < len; k++) Put(text[i + k]);
            if (spaced) Put(' ');
            i += len;
        }

        var s = new ReadOnlySpan<char>(buf, 0, n);
        int p = 0;
        while (p < n)
        {
            int cp = UnicodeTables.CodePointAt(s, p, out int l);
            byte f = UnicodeTables.Bert(cp);
            if ((f & UnicodeTables.BertSpace) != 0) { p += l; continue; }
            if ((f & UnicodeTables.BertPunct) != 0) { onWord(s.Slice(p, l)); p += l; continue; }
            int ws = p;
            p += l;
            while (p < n)
            {
                cp = UnicodeTables.CodePointAt(s, p, out l);
                if ((UnicodeTables.Bert(cp) & (UnicodeTables.BertSpace | UnicodeTables.BertPunct)) != 0) break;
                p += l;
            }
            onWord(s[ws..p]);
        }
    }
}
