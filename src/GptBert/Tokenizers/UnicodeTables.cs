using System.Globalization;
using System.Text;

namespace GptBert.Tokenizers;

/// <summary>
/// Character classes used by the BERT normalizer / pre-tokenizer and by the GPT-2 pre-tokenizer,
/// precomputed for the BMP from .NET's Unicode data (works with ICU globalization on).
/// Code points, not UTF-16 units, are classified, as in Rust/Python.
/// </summary>
internal static class UnicodeTables
{
    // BERT flags
    public const byte BertDrop = 1;        // \0, U+FFFD, control/format/private-use (except \t \n \r): removed by clean_text
    public const byte BertSpace = 2;       // whitespace (\t \n \r or White_Space)
    public const byte BertChinese = 4;     // CJK ideograph (spaced out by handle_chinese_chars)
    public const byte BertPunct = 8;       // ASCII punctuation or Unicode P*
    public const byte BertMn = 16;         // nonspacing mark (removed by strip_accents after NFD)
    public const byte BertAsciiSimple = 32; // ASCII char that every BERT step leaves alone except lowercasing

    // GPT-2 regex classes
    public const byte GptLetter = 1, GptNumber = 2, GptSpace = 3, GptOther = 4;

    static readonly byte[] bertBmp = new byte[0x10000];
    static readonly byte[] gptBmp = new byte[0x10000];

    static UnicodeTables()
    {
        for (int c = 0; c < 0x10000; c++)
        {
            if (c >= 0xD800 && c <= 0xDFFF)
            {
                // A lone surrogate is not a valid scalar; treat it like U+FFFD (removed by clean_text; "other" for GPT-2).
                bertBmp[c] = BertDrop;
                gptBmp[c] = GptOther;
                continue;
            }
            bertBmp[c] = ComputeBert(c);
            gptBmp[c] = ComputeGpt(c);
        }
    }

    public static byte Bert(int cp) => cp < 0x10000 ? bertBmp[cp] : ComputeBert(cp);
    public static byte Gpt(int cp) => cp < 0x10000 ? gptBmp[cp] : ComputeGpt(cp);

    static byte ComputeBert(int cp)
    {
        var cat = CharUnicodeInfo.GetUnicodeCategory(cp);
        byte f = 0;
        bool tnr = cp is '\t' or '\n' or '\r';
        // tokenizers' is_control: char::is_other() from unicode_categories = Cc, Cf, Co (not Cn).
        if (cp == 0 || cp == 0xFFFD || (!tnr && cat is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.PrivateUse))
            f |= BertDrop;
        if (tnr || IsWhiteSpace(cp)) f |= BertSpace;
        if (IsChineseChar(cp)) f |= BertChinese;
        if (IsAsciiPunct(cp) || cat is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
                or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
                or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation)
            f |= BertPunct;
        if (cat == UnicodeCategory.NonSpacingMark) f |= BertMn;
        if (cp < 0x80 && (f & (BertDrop | BertSpace | BertPunct)) == 0) f |= BertAsciiSimple;
        return f;
    }

    static byte ComputeGpt(int cp)
    {
        if (IsWhiteSpace(cp)) return GptSpace;
        var cat = CharUnicodeInfo.GetUnicodeCategory(cp);
        return cat switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => GptLetter,
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => GptNumber,
            _ => GptOther,
        };
    }

    /// <summary>Unicode White_Space (= Rust char::is_whitespace = regex \s); all such chars are in the BMP.</summary>
    static bool IsWhiteSpace(int cp) => cp < 0x10000 && char.IsWhiteSpace((char)cp);

    static bool IsAsciiPunct(int cp) => cp is (>= 33 and <= 47) or (>= 58 and <= 64) or (>= 91 and <= 96) or (>= 123 and <= 126);

    /// <summary>The CJK ranges of tokenizers' BertNormalizer (note 0x2B920, as in the Rust code, not Python's 0x2B820).</summary>
    public static bool IsChineseChar(int cp) => cp is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF)
        or (>= 0x20000 and <= 0x2A6DF) or (>= 0x2A700 and <= 0x2B73F) or (>= 0x2B740 and <= 0x2B81F)
        or (>= 0x2B920 and <= 0x2CEAF) or (>= 0xF900 and <= 0xFAFF) or (>= 0x2F800 and <= 0x2FA1F);

    /// <summary>Reads the code point at i (a lone surrogate reads as itself, length 1).</summary>
    public static int CodePointAt(ReadOnlySpan<char> s, int i, out int length)
    {
        char c = s[i];
        if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
        {
            length = 2;
            return char.ConvertToUtf32(c, s[i + 1]);
        }
        length = 1;
        return c;
    }

    // ---- BERT per-code-point transform (strip accents and/or lowercase), cached for the BMP ----

    static readonly string?[][] transformCache = [new string?[0x10000], new string?[0x10000], new string?[0x10000], new string?[0x10000]];

    /// <summary>
    /// What BertNormalizer's strip_accents (NFD, then drop Mn) and lowercase (Rust char::to_lowercase) make of one
    /// code point; the same as doing it on the whole string except for canonical reordering of combining marks,
    /// which only matters for marks that strip_accents keeps (practically none).
    /// </summary>
    public static string Transform(int cp, bool strip, bool lower)
    {
        if (cp < 0x10000)
        {
            var cache = transformCache[(strip ? 2 : 0) | (lower ? 1 : 0)];
            return cache[cp] ??= ComputeTransform(cp, strip, lower);
        }
        return ComputeTransform(cp, strip, lower);
    }

    static string ComputeTransform(int cp, bool strip, bool lower)
    {
        if (cp >= 0xD800 && cp <= 0xDFFF) return ((char)cp).ToString();
        string s = char.ConvertFromUtf32(cp);
        if (strip)
        {
            string d = s.Normalize(NormalizationForm.FormD);
            var sb = new StringBuilder(d.Length);
            for (int i = 0; i < d.Length;)
            {
                int c = CodePointAt(d, i, out int len);
                if (CharUnicodeInfo.GetUnicodeCategory(c) != UnicodeCategory.NonSpacingMark) sb.Append(d, i, len);
                i += len;
            }
            s = sb.ToString();
        }
        if (lower)
        {
            var sb = new StringBuilder(s.Length + 1);
            for (int i = 0; i < s.Length;)
            {
                int c = CodePointAt(s, i, out int len);
                if (c == 0x130) sb.Append("i\u0307");   // the one unconditional multi-char lowercase mapping (Rust uses full mappings)
                else sb.Append(Rune.ToLowerInvariant(new Rune(c)).ToString());
                i += len;
            }
            s = sb.ToString();
        }
        return s;
    }
}
