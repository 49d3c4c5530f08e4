using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace GptBert.Tokenizers;

/// <summary>Settings of a BERT WordPiece tokenizer (tokenizer_config.json of BertTokenizer).</summary>
public sealed record WordPieceOptions
{
    /// <summary>do_lower_case.</summary>
    public bool LowerCase { get; init; } = true;
    /// <summary>strip_accents; null follows LowerCase (as in Hugging Face).</summary>
    public bool? StripAccents { get; init; }
    /// <summary>tokenize_chinese_chars.</summary>
    public bool HandleChineseChars { get; init; } = true;
    /// <summary>BertNormalizer clean_text (always true for BertTokenizer configs).</summary>
    public bool CleanText { get; init; } = true;
    public string UnkToken { get; init; } = "[UNK]";
    public string ClsToken { get; init; } = "[CLS]";
    public string SepToken { get; init; } = "[SEP]";
    public string PadToken { get; init; } = "[PAD]";
    public string MaskToken { get; init; } = "[MASK]";
    public IReadOnlyList<string> AdditionalSpecialTokens { get; init; } = [];
    public string ContinuingSubwordPrefix { get; init; } = "##";
    public int MaxInputCharsPerWord { get; init; } = 100;
    public int? ModelMaxLength { get; init; } = 512;
    /// <summary>clean_up_tokenization_spaces for Decode (" ' " → "'", " n't" → "n't", ...).</summary>
    public bool CleanUpTokenizationSpaces { get; init; } = true;
}

/// <summary>
/// BERT WordPiece tokenizer with the exact rules of Hugging Face tokenizers' BertNormalizer + BertPreTokenizer +
/// WordPiece + BertProcessing, including offsets into the original text.
/// </summary>
/// <remarks>
/// Written here rather than taken from FastBertTokenizer (NuGet 1.2.6, not referenced). Its public API (checked on
/// 1.2.6) encodes one text into input_ids / attention_mask / token_type_ids spans and decodes; it has no offsets,
/// no token strings, no text pairs and no longest_first truncation, which this interface needs, and its exactness
/// on edge cases (CJK ranges, Cf removal, NFD alignment, special tokens in raw text) is outside our control.
/// Microsoft.ML.Tokenizers' BertTokenizer was not used either, so that every HF rule and its offsets live (and are
/// tested) in one place under our control. Here each code point is normalized into a reused buffer that records
/// the original range of every normalized char; the pre-tokenizer and a greedy longest-match WordPiece then run on
/// that buffer with span-based dictionary lookups (no per-char or per-token string allocation; ~10M tokens/s).
/// </remarks>
public sealed class WordPieceTokenizer : ITextTokenizer
{
    readonly string?[] idToToken;
    readonly Dictionary<string, int> vocab;
    readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> wordStart;
    readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> wordContinue;
    readonly int maxStartChars, maxContinueChars;
    readonly bool strip, lower, cleanText, chinese;
    readonly int unkId;
    readonly AddedTokenMatcher added;
    readonly HashSet<int> specialIds;
    readonly EncodingTemplate template;

    public WordPieceOptions Options { get; }

    /// <summary>Builds a tokenizer from the tokens of vocab.txt (id = index; for a duplicate, the last one wins, as in HF).</summary>
    public WordPieceTokenizer(IReadOnlyList<string> vocab, WordPieceOptions? options = null)
        : this(ToDictionary(vocab), vocab.Count, options) { }

    /// <summary>Builds a tokenizer from a token → id map (tokenizer.json "model.vocab").</summary>
    public WordPieceTokenizer(IReadOnlyDictionary<string, int> vocab, WordPieceOptions? options = null)
        : this(new Dictionary<string, int>(vocab, StringComparer.Ordinal), 0, options) { }

    WordPieceTokenizer(Dictionary<string, int> vocab, int minSize, WordPieceOptions? options)
    {
        Options = options ?? new WordPieceOptions();
        if (vocab.Count == 0) throw new GptBertException("WordPiece vocabulary is empty; give at least the special tokens and some words");
        if (Options.MaxInputCharsPerWord < 1) throw new GptBertException("WordPiece MaxInputCharsPerWord must be at least 1");
        this.vocab = vocab;
        int size = minSize;
        foreach (var (tok, id) in vocab)
        {
            if (id < 0) throw new GptBertException($"WordPiece vocabulary has a negative id {id} for token '{tok}'; ids must be 0..n-1");
            size = Math.Max(size, id + 1);
        }
        idToToken = new string?[size];
        foreach (var (tok, id) in vocab) idToToken[id] = tok;

        string prefix = Options.ContinuingSubwordPrefix;
        var cont = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (tok, id) in vocab)
        {
            maxStartChars = Math.Max(maxStartChars, tok.Length);
            if (prefix.Length > 0 && tok.Length > prefix.Length && tok.StartsWith(prefix, StringComparison.Ordinal))
            {
                cont[tok[prefix.Length..]] = id;
                maxContinueChars = Math.Max(maxContinueChars, tok.Length - prefix.Length);
            }
        }
        if (prefix.Length == 0) { foreach (var kv in vocab) cont[kv.Key] = kv.Value; maxContinueChars = maxStartChars; }
        wordStart = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        wordContinue = cont.GetAlternateLookup<ReadOnlySpan<char>>();

        lower = Options.LowerCase;
        strip = Options.StripAccents ?? Options.LowerCase;
        cleanText = Options.CleanText;
        chinese = Options.HandleChineseChars;

        unkId = vocab.TryGetValue(Options.UnkToken, out var u) ? u
            : throw new GptBertException($"WordPiece vocabulary has no unknown token '{Options.UnkToken}'; add it to vocab.txt or set unk_token in tokenizer_config.json");
        int clsId = vocab.TryGetValue(Options.ClsToken, out var c) ? c
            : throw new GptBertException($"WordPiece vocabulary has no '{Options.ClsToken}' token; add it to vocab.txt or set cls_token in tokenizer_config.json");
        int sepId = vocab.TryGetValue(Options.SepToken, out var s) ? s
            : throw new GptBertException($"WordPiece vocabulary has no '{Options.SepToken}' token; add it to vocab.txt or set sep_token in tokenizer_config.json");
        template = EncodingTemplate.Bert(Options.ClsToken, clsId, Options.SepToken, sepId);

        var specials = new List<AddedToken>();
        foreach (var t in new[] { Options.PadToken, Options.UnkToken, Options.ClsToken, Options.SepToken, Options.MaskToken }
                     .Concat(Options.AdditionalSpecialTokens))
            if (vocab.TryGetValue(t, out var id)) specials.Add(new AddedToken(t, id, Special: true));
        added = new AddedTokenMatcher(specials);
        specialIds = specials.Select(t => t.Id).ToHashSet();
    }

    internal WordPieceTokenizer(IReadOnlyDictionary<string, int> vocab, WordPieceOptions options,
        IEnumerable<AddedToken> extraAdded, EncodingTemplate? customTemplate) : this(vocab, options)
    {
        var all = added.Tokens.Concat(extraAdded).ToList();
        added = new AddedTokenMatcher(all);
        foreach (var t in all) if (t.Special) specialIds.Add(t.Id);
        if (customTemplate is not null) template = customTemplate;
    }

    static Dictionary<string, int> ToDictionary(IReadOnlyList<string> tokens)
    {
        var d = new Dictionary<string, int>(tokens.Count, StringComparer.Ordinal);
        for (int i = 0; i < tokens.Count; i++) d[tokens[i]] = i;
        return d;
    }

    /// <summary>Reads vocab.txt (one token per line, trailing whitespace trimmed as in tokenizers).</summary>
    public static WordPieceTokenizer FromVocabFile(string vocabPath, WordPieceOptions? options = null)
    {
        if (!File.Exists(vocabPath)) throw new GptBertException($"WordPiece vocabulary '{vocabPath}' not found; give a vocab.txt with one token per line");
        return new WordPieceTokenizer(ReadVocabLines(File.ReadAllBytes(vocabPath)), options);
    }

    internal static List<string> ReadVocabLines(byte[] bytes)
    {
        var text = new UTF8Encoding(false).GetString(bytes);
        if (text.Length > 0 && text[0] == '\uFEFF') text = text[1..];
        // Like Rust's BufRead::lines(): split on '\n' only (a final newline adds no line), then trim_end.
        var list = new List<string>(32000);
        int pos = 0;
        while (pos < text.Length)
        {
            int nl = text.IndexOf('\n', pos);
            int end = nl < 0 ? text.Length : nl;
            list.Add(text.AsSpan(pos, end - pos).TrimEnd().ToString());
            pos = nl < 0 ? text.Length : nl + 1;
        }
        return list;
    }

    public string Kind => "wordpiece";
    public int VocabSize => idToToken.Length;
    public int? PadId => TokenToId(Options.PadToken);
    public int? UnkId => unkId;
    public int? ClsId => TokenToId(Options.ClsToken);
    public int? SepId => TokenToId(Options.SepToken);
    public int? MaskId => TokenToId(Options.MaskToken);
    public int? BosId => null;
    public int? EosId => null;
    public string? MaskToken => MaskId is null ? null : Options.MaskToken;
    public int? ModelMaxLength => Options.ModelMaxLength;

    public string IdToToken(int id) =>
        (uint)id < (uint)idToToken.Length && idToToken[id] is { } t ? t
            : throw new GptBertException($"token id {id} is not in this WordPiece vocabulary (0..{idToToken.Length - 1})");

    public int? TokenToId(string token) => vocab.TryGetValue(token, out var id) ? id : null;

    public TokenizedText Encode(string text, string? pair = null, bool addSpecialTokens = true, int? maxLength = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var a = EncodeRaw(text);
        var b = pair is null ? null : EncodeRaw(pair);
        return template.Build(a, b, addSpecialTokens, maxLength);
    }

    public IReadOnlyList<TokenizedText> EncodeBatch(IReadOnlyList<(string Text, string? Pair)> inputs,
        bool addSpecialTokens = true, int? maxLength = null, bool padToLongest = true)
    {
        var results = new TokenizedText[inputs.Count];
        for (int i = 0; i < results.Length; i++) results[i] = Encode(inputs[i].Text, inputs[i].Pair, addSpecialTokens, maxLength);
        return padToLongest ? EncodingTemplate.PadToLongest(results, PadId, Options.PadToken) : results;
    }

    /// <summary>The tokens of text alone (no special tokens), offsets into text.</summary>
    internal RawEncoding EncodeRaw(string text)
    {
        var raw = new RawEncoding();
        added.Split(text, (s, e) => EncodeSegment(text, s, e, raw), (t, s, e) => raw.Add(t.Id, t.Content, s, e));
        return raw;
    }

    // ---- normalization (BertNormalizer) with alignments, into per-thread buffers ----

    [ThreadStatic] static char[]? tBuf;
    [ThreadStatic] static int[]? tStart;
    [ThreadStatic] static int[]? tEnd;

    static void Ensure(ref char[] buf, ref int[] os, ref int[] oe, int needed)
    {
        if (buf.Length >= needed) return;
        int size = Math.Max(needed, buf.Length * 2);
        Array.Resize(ref buf, size);
        Array.Resize(ref os, size);
        Array.Resize(ref oe, size);
        tBuf = buf; tStart = os; tEnd = oe;
    }

    void EncodeSegment(string text, int from, int to, RawEncoding raw)
    {
        var buf = tBuf ??= new char[1024];
        var os = tStart ??= new int[1024];
        var oe = tEnd ??= new int[1024];
        Ensure(ref buf, ref os, ref oe, (to - from) + 16);

        int n = 0;
        int i = from;
        while (i < to)
        {
            char ch = text[i];
            if (ch < 0x80)
            {
                byte f = UnicodeTables.Bert(ch);
                if ((f & UnicodeTables.BertAsciiSimple) != 0)
                {
                    if (n >= buf.Length) Ensure(ref buf, ref os, ref oe, n + 1 + (to - i));
                    buf[n] = lower && ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
                    os[n] = i; oe[n] = i + 1; n++;
                    i++;
                    continue;
                }
            }
            int cp = UnicodeTables.CodePointAt(text, i, out int len);
            byte flags = UnicodeTables.Bert(cp);
            if (n + 8 >= buf.Length) Ensure(ref buf, ref os, ref oe, n + 16 + 2 * (to - i));
            if (cleanText)
            {
                if ((flags & UnicodeTables.BertDrop) != 0) { i += len; continue; }
                if ((flags & UnicodeTables.BertSpace) != 0)
                {
                    buf[n] = ' '; os[n] = i; oe[n] = i + len; n++;
                    i += len;
                    continue;
                }
            }
            bool spaced = chinese && (flags & UnicodeTables.BertChinese) != 0;
            if (spaced) { buf[n] = ' '; os[n] = i; oe[n] = i + len; n++; }
            if (cp < 0x80)
            {
                buf[n] = lower && cp >= 'A' && cp <= 'Z' ? (char)(cp + 32) : (char)cp;
                os[n] = i; oe[n] = i + 1; n++;
            }
            else if (strip || lower)
            {
                string t = UnicodeTables.Transform(cp, strip, lower);
                if (n + t.Length + 2 >= buf.Length) Ensure(ref buf, ref os, ref oe, n + t.Length + 16 + 2 * (to - i));
                foreach (char tc in t) { buf[n] = tc; os[n] = i; oe[n] = i + len; n++; }
            }
            else
            {
                for (int k = 0; k < len; k++) { buf[n] = text[i + k]; os[n] = i; oe[n] = i + len; n++; }
            }
            if (spaced) { buf[n] = ' '; os[n] = i; oe[n] = i + len; n++; }
            i += len;
        }

        // ---- BertPreTokenizer: split on whitespace (dropped), isolate punctuation ----
        int p = 0;
        while (p < n)
        {
            int cp = UnicodeTables.CodePointAt(buf.AsSpan(0, n), p, out int l);
            byte f = UnicodeTables.Bert(cp);
            if ((f & UnicodeTables.BertSpace) != 0) { p += l; continue; }
            if ((f & UnicodeTables.BertPunct) != 0) { WordPiece(buf, os, oe, p, p + l, raw); p += l; continue; }
            int ws = p;
            p += l;
            while (p < n)
            {
                char c = buf[p];
                if (c < 0x80)
                {
                    if ((UnicodeTables.Bert(c) & UnicodeTables.BertAsciiSimple) != 0) { p++; continue; }
                    if ((UnicodeTables.Bert(c) & (UnicodeTables.BertSpace | UnicodeTables.BertPunct)) != 0) break;
                    p++;
                    continue;
                }
                cp = UnicodeTables.CodePointAt(buf.AsSpan(0, n), p, out l);
                if ((UnicodeTables.Bert(cp) & (UnicodeTables.BertSpace | UnicodeTables.BertPunct)) != 0) break;
                p += l;
            }
            WordPiece(buf, os, oe, ws, p, raw);
        }
    }

    /// <summary>Greedy longest-match-first WordPiece over buf[ws..we); the whole word becomes [UNK] if any part fails.</summary>
    void WordPiece(char[] buf, int[] os, int[] oe, int ws, int we, RawEncoding raw)
    {
        int max = Options.MaxInputCharsPerWord;
        if (we - ws > max)
        {
            int codePoints = 0;
            for (int k = ws; k < we; k++) if (!char.IsLowSurrogate(buf[k]) || k == ws || !char.IsHighSurrogate(buf[k - 1])) codePoints++;
            if (codePoints > max) { raw.Add(unkId, Options.UnkToken, os[ws], oe[we - 1]); return; }
        }
        int first = raw.Count;
        int start = ws;
        while (start < we)
        {
            bool isStart = start == ws;
            int end = Math.Min(we, start + (isStart ? maxStartChars : maxContinueChars));
            int found = -1;
            while (end > start)
            {
                if (end < we && char.IsLowSurrogate(buf[end]) && char.IsHighSurrogate(buf[end - 1])) { end--; continue; }
                var piece = new ReadOnlySpan<char>(buf, start, end - start);
                if (isStart ? wordStart.TryGetValue(piece, out found) : wordContinue.TryGetValue(piece, out found)) break;
                found = -1;
                end--;
            }
            if (found < 0)
            {
                raw.Truncate(first);
                raw.Add(unkId, Options.UnkToken, os[ws], oe[we - 1]);
                return;
            }
            raw.Add(found, idToToken[found]!, os[start], oe[end - 1]);
            start = end;
        }
    }

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true)
    {
        var sb = new StringBuilder();
        string prefix = Options.ContinuingSubwordPrefix;
        bool first = true;
        foreach (int id in ids)
        {
            if (skipSpecialTokens && specialIds.Contains(id)) continue;
            if ((uint)id >= (uint)idToToken.Length || idToToken[id] is not { } tok) continue;   // unknown ids are skipped, as in tokenizers
            if (first) sb.Append(tok);
            else if (prefix.Length > 0 && tok.StartsWith(prefix, StringComparison.Ordinal)) sb.Append(tok, prefix.Length, tok.Length - prefix.Length);
            else sb.Append(' ').Append(tok);
            first = false;
        }
        // tokenizers' WordPiece decoder (cleanup=true) always removes the space before . ? ! , ;
        // transformers' clean_up_tokenization_spaces does that plus the contractions.
        string s = sb.ToString();
        return Options.CleanUpTokenizationSpaces
            ? TokenizerFiles.CleanUpTokenization(s)
            : s.Replace(" .", ".").Replace(" ?", "?").Replace(" !", "!").Replace(" ,", ",");
    }

    /// <summary>Writes vocab.txt, tokenizer_config.json and special_tokens_map.json (BertTokenizer format).</summary>
    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        var sb = new StringBuilder(idToToken.Length * 8);
        for (int i = 0; i < idToToken.Length; i++)
        {
            var tok = idToToken[i];
            if (tok is null)
                throw new GptBertException($"cannot save the WordPiece vocabulary: id {i} has no token (vocab.txt needs ids 0..n-1 without gaps)");
            if (tok.Contains('\n') || tok.AsSpan().TrimEnd().Length != tok.Length)
                throw new GptBertException($"cannot save WordPiece token {i} '{tok}' to vocab.txt: it has a line break or ends with whitespace");
            sb.Append(tok).Append('\n');
        }
        AtomicFile.WriteAllText(Path.Combine(directory, "vocab.txt"), sb.ToString());
        AtomicFile.Write(Path.Combine(directory, "tokenizer_config.json"), s => WriteJson(s, w =>
        {
            w.WriteString("tokenizer_class", "BertTokenizer");
            w.WriteBoolean("do_lower_case", Options.LowerCase);
            if (Options.StripAccents is bool sa) w.WriteBoolean("strip_accents", sa); else w.WriteNull("strip_accents");
            w.WriteBoolean("tokenize_chinese_chars", Options.HandleChineseChars);
            if (!Options.CleanText) w.WriteBoolean("clean_text", false);
            if (Options.ModelMaxLength is int m) w.WriteNumber("model_max_length", m);
            w.WriteBoolean("clean_up_tokenization_spaces", Options.CleanUpTokenizationSpaces);
            if (Options.ContinuingSubwordPrefix != "##") w.WriteString("wordpieces_prefix", Options.ContinuingSubwordPrefix);
            if (Options.MaxInputCharsPerWord != 100) w.WriteNumber("max_input_chars_per_word", Options.MaxInputCharsPerWord);
            WriteSpecialTokens(w);
        }));
        AtomicFile.Write(Path.Combine(directory, "special_tokens_map.json"), s => WriteJson(s, WriteSpecialTokens));
    }

    void WriteSpecialTokens(Utf8JsonWriter w)
    {
        w.WriteString("unk_token", Options.UnkToken);
        w.WriteString("sep_token", Options.SepToken);
        w.WriteString("pad_token", Options.PadToken);
        w.WriteString("cls_token", Options.ClsToken);
        w.WriteString("mask_token", Options.MaskToken);
        if (Options.AdditionalSpecialTokens.Count > 0)
        {
            w.WriteStartArray("additional_special_tokens");
            foreach (var t in Options.AdditionalSpecialTokens) w.WriteStringValue(t);
            w.WriteEndArray();
        }
    }

    internal static void WriteJson(Stream s, Action<Utf8JsonWriter> body)
    {
        using var w = new Utf8JsonWriter(s, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        w.WriteStartObject();
        body(w);
        w.WriteEndObject();
    }
}
