namespace GptBert.Tokenizers;

/// <summary>GPT-2's byte ↔ unicode mapping (bytes_to_unicode) and its pre-tokenization regex.</summary>
internal static class ByteLevel
{
    /// <summary>byte → printable char, as GPT-2's bytes_to_unicode().</summary>
    public static readonly char[] ByteToChar = BuildByteToChar();
    /// <summary>char → byte, -1 where the char is not a byte-level char.</summary>
    public static readonly short[] CharToByte = BuildCharToByte();

    static char[] BuildByteToChar()
    {
        var map = new char[256];
        int n = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? (char)b : (char)(256 + n++);
        }
        return map;
    }

    static short[] BuildCharToByte()
    {
        var map = new short[324];
        Array.Fill(map, (short)-1);
        for (int b = 0; b < 256; b++) map[ByteToChar[b]] = (short)b;
        return map;
    }

    public static int ByteOf(char c) => c < CharToByte.Length ? CharToByte[c] : -1;

    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        return string.Create(bytes.Length, bytes.ToArray(), static (span, b) =>
        {
            for (int i = 0; i < b.Length; i++) span[i] = ByteToChar[b[i]];
        });
    }

    /// <summary>The bytes of a byte-level token string, or null if some char is not a byte-level char.</summary>
    public static byte[]? Decode(string token)
    {
        var bytes = new byte[token.Length];
        for (int i = 0; i < token.Length; i++)
        {
            int b = ByteOf(token[i]);
            if (b < 0) return null;
            bytes[i] = (byte)b;
        }
        return bytes;
    }

    /// <summary>
    /// GPT-2's pre-tokenizer <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c>,
    /// written out by hand and on code points (as the Rust/Oniguruma and Python regex engines match it; .NET's Regex
    /// would see a supplementary letter such as U+1D400 as two surrogates, which are not \p{L}).
    /// Returns the end of the piece that starts at i.
    /// </summary>
    public static int NextPiece(ReadOnlySpan<char> s, int i)
    {
        int n = s.Length;
        char c = s[i];
        if (c == '\'' && i + 1 < n)
        {
            char d = s[i + 1];
            if (d is 's' or 't' or 'm' or 'd') return i + 2;
            if (i + 2 < n)
            {
                char e = s[i + 2];
                if ((d == 'r' && e == 'e') || (d == 'v' && e == 'e') || (d == 'l' && e == 'l')) return i + 3;
            }
        }
        int j = i;
        if (c == ' ' && i + 1 < n)
        {
            int nextClass = UnicodeTables.Gpt(UnicodeTables.CodePointAt(s, i + 1, out _));
            if (nextClass != UnicodeTables.GptSpace) j = i + 1;     // " ?X+" with the space
        }
        int cp = UnicodeTables.CodePointAt(s, j, out int len);
        int cls = UnicodeTables.Gpt(cp);
        if (cls != UnicodeTables.GptSpace)
        {
            // \p{L}+ , \p{N}+ or [^\s\p{L}\p{N}]+ : a run of the same class
            j += len;
            while (j < n)
            {
                cp = UnicodeTables.CodePointAt(s, j, out len);
                if (UnicodeTables.Gpt(cp) != cls) break;
                j += len;
            }
            return j;
        }
        // whitespace run from i (all White_Space chars are single UTF-16 units)
        int k = i + 1;
        while (k < n && UnicodeTables.Gpt(s[k]) == UnicodeTables.GptSpace) k++;
        if (k == n) return k;               // \s+(?!\S) at the end of the text
        if (k - i >= 2) return k - 1;       // \s+(?!\S): leave the last space for the next word
        return k;                           // \s+ : a single space before a non-space
    }
}
