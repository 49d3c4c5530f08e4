using System.Text;
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
public sealed class WordPieceTokenizer : VocabularyTokenizer, ITextTokenizer
{
    readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> wordStart;
    readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> wordContinue;
    readonly int maxStartChars, maxContinueChars;
    readonly BertNormalization normalization;
    readonly int unkId;

    public WordPieceOptions Options { get; }

    /// <summary>Builds a tokenizer from the tokens of vocab.txt (id = index; for a duplicate, the last one wins, as in HF).</summary>
    public WordPieceTokenizer(IReadOnlyList<string> vocab, WordPieceOptions? options = null)
        : this(ToDictionary(vocab), vocab.Count, options, null, null) { }

    /// <summary>Builds a tokenizer from a token → id map (tokenizer.json "model.vocab").</summary>
    public WordPieceTokenizer(IReadOnlyDictionary<string, int> vocab, WordPieceOptions? options = null)
        : this(vocab, options, null, null) { }

    /// <summary>tokenizer.json: its added tokens and post-processor template on top of the options' special tokens.</summary>
    internal WordPieceTokenizer(IReadOnlyDictionary<string, int> vocab, WordPieceOptions? options,
        IEnumerable<AddedToken>? extraAdded, EncodingTemplate? customTemplate)
        : this(new Dictionary<string, int>(vocab, StringComparer.Ordinal), 0, options, extraAdded, customTemplate) { }

    WordPieceTokenizer(Dictionary<string, int> vocab, int minSize, WordPieceOptions? options,
        IEnumerable<AddedToken>? extraAdded, EncodingTemplate? customTemplate) : base("WordPiece", vocab, minSize)
    {
        Options = options ?? new WordPieceOptions();
        if (vocab.Count == 0) throw new GptBertException("WordPiece vocabulary is empty; give at least the special tokens and some words");
        if (Options.MaxInputCharsPerWord < 1) throw new GptBertException("WordPiece MaxInputCharsPerWord must be at least 1");

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

        normalization = new BertNormalization(Options.LowerCase, Options.StripAccents ?? Options.LowerCase, Options.CleanText, Options.HandleChineseChars);

        unkId = vocab.TryGetValue(Options.UnkToken, out var u) ? u
            : throw new GptBertException($"WordPiece vocabulary has no unknown token '{Options.UnkToken}'; add it to vocab.txt or set unk_token in tokenizer_config.json");
        int clsId = vocab.TryGetValue(Options.ClsToken, out var c) ? c
            : throw new GptBertException($"WordPiece vocabulary has no '{Options.ClsToken}' token; add it to vocab.txt or set cls_token in tokenizer_config.json");
        int sepId = vocab.TryGetValue(Options.SepToken, out var s) ? s
            : throw new GptBertException($"WordPiece vocabulary has no '{Options.SepToken}' token; add it to vocab.txt or set sep_token in tokenizer_config.json");
        template = customTemplate ?? EncodingTemplate.Bert(Options.ClsToken, clsId, Options.SepToken, sepId);
        SetAddedTokens([Options.PadToken, Options.UnkToken, Options.ClsToken, Options.SepToken, Options.MaskToken, .. Options.AdditionalSpecialTokens], extraAdded);
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
    public int? PadId => TokenToId(Options.PadToken);
    public int? UnkId => unkId;
    public int? ClsId => TokenToId(Options.ClsToken);
    public int? SepId => TokenToId(Options.SepToken);
    public int? MaskId => TokenToId(Options.MaskToken);
    public int? BosId => null;
    public int? EosId => null;
    public string? MaskToken => MaskId is null ? null : Options.MaskToken;
    public int? ModelMaxLength => Options.ModelMaxLength;

    private protected override (int? Id, string? Token) BatchPadding => (PadId, Options.PadToken);

    // One normalization buffer per thread keeps encoding allocation-free and thread-safe.
    [ThreadStatic] static BertNormalizedText? tText;

    private protected override void EncodeSegment(string text, int from, int to, RawEncoding raw)
    {
        var normalized = tText ??= new BertNormalizedText();
        normalized.Normalize(text, from, to, normalization);
        int pos = 0;
        while (normalized.NextWord(ref pos, out int start, out int end)) WordPiece(normalized, start, end, raw);
    }

    /// <summary>Greedy longest-match-first WordPiece over the normalized chars [ws..we); the whole word becomes [UNK] if any part fails.</summary>
    void WordPiece(BertNormalizedText normalized, int ws, int we, RawEncoding raw)
    {
        char[] buf = normalized.Chars;
        int[] os = normalized.Starts, oe = normalized.Ends;
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
        foreach (string tok in TokensToDecode(ids, skipSpecialTokens))
        {
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
        AtomicFile.Write(Path.Combine(directory, "tokenizer_config.json"), s => TokenizerFiles.WriteJson(s, w =>
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
        AtomicFile.Write(Path.Combine(directory, "special_tokens_map.json"), s => TokenizerFiles.WriteJson(s, WriteSpecialTokens));
    }

    void WriteSpecialTokens(Utf8JsonWriter w)
    {
        w.WriteString("unk_token", Options.UnkToken);
        w.WriteString("sep_token", Options.SepToken);
        w.WriteString("pad_token", Options.PadToken);
        w.WriteString("cls_token", Options.ClsToken);
        w.WriteString("mask_token", Options.MaskToken);
        TokenizerFiles.WriteAdditionalSpecialTokens(w, Options.AdditionalSpecialTokens);
    }
}
