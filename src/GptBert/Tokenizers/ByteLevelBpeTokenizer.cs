using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;

namespace GptBert.Tokenizers;

/// <summary>Which special tokens a byte-level BPE tokenizer adds around its sequences.</summary>
public enum BpeTemplate
{
    /// <summary>GPT-2: nothing, or BOS/EOS around each sequence when AddBosToken/AddEosToken are set.</summary>
    Gpt2,
    /// <summary>RoBERTa: &lt;s&gt; A &lt;/s&gt; and &lt;s&gt; A &lt;/s&gt;&lt;/s&gt; B &lt;/s&gt; (BosToken as &lt;s&gt;, EosToken as &lt;/s&gt;).</summary>
    Roberta,
}

/// <summary>Settings of a byte-level BPE tokenizer (tokenizer_config.json of GPT2Tokenizer).</summary>
public sealed record ByteLevelBpeOptions
{
    public string? UnkToken { get; init; } = "<|endoftext|>";
    public string? BosToken { get; init; } = "<|endoftext|>";
    public string? EosToken { get; init; } = "<|endoftext|>";
    public string? PadToken { get; init; }
    public string? MaskToken { get; init; }
    public IReadOnlyList<string> AdditionalSpecialTokens { get; init; } = [];
    /// <summary>add_prefix_space: prepend a space to each text (so the first word is encoded like the others).</summary>
    public bool AddPrefixSpace { get; init; }
    /// <summary>trim_offsets: offsets exclude the leading/trailing spaces a token carries.</summary>
    public bool TrimOffsets { get; init; }
    public bool AddBosToken { get; init; }
    public bool AddEosToken { get; init; }
    public BpeTemplate Template { get; init; } = BpeTemplate.Gpt2;
    /// <summary>tokenizers' BPE ignore_merges: a word that is itself in the vocabulary becomes one token.</summary>
    public bool IgnoreMerges { get; init; }
    public int? ModelMaxLength { get; init; } = 1024;
    public bool CleanUpTokenizationSpaces { get; init; }
    public string TokenizerClass { get; init; } = "GPT2Tokenizer";
}

/// <summary>
/// Byte-level BPE (GPT-2, RoBERTa) with Hugging Face tokenizers semantics: added/special tokens split out of the raw
/// text, GPT-2 pre-tokenization regex (on code points), bytes_to_unicode mapping, merges applied lowest rank first.
/// </summary>
/// <remarks>
/// Implemented here instead of on Microsoft.ML.Tokenizers' BpeTokenizer/CodeGenTokenizer: those can only be built
/// from files/streams (a trainer needs vocab + merges in memory), run the pre-tokenization regex with .NET's
/// UTF-16 semantics (a supplementary-plane letter is not \p{L} there, unlike in HF), and their special-token and
/// offset handling are not HF's. Microsoft.ML.Tokenizers is used for the built-in GPT-2 data (tiktoken ranks, see
/// <see cref="Gpt2Data"/>) and as the reference in tests.
/// </remarks>
public sealed class ByteLevelBpeTokenizer : VocabularyTokenizer, ITextTokenizer
{
    readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> vocabLookup;
    readonly int[] tokenBytes;               // bytes each token stands for (its length in byte-level chars)
    readonly int[] byteIds = new int[256];   // id of each single-byte token, -1 when missing
    readonly Dictionary<long, int> mergeRank;
    readonly int[] mergeResult;              // rank → merged token id
    readonly (string Left, string Right)[] merges;
    readonly ConcurrentDictionary<string, int[]> cache = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> cacheLookup;
    const int CacheCapacity = 50_000;

    public ByteLevelBpeOptions Options { get; }

    /// <summary>
    /// Builds a tokenizer from a vocabulary (byte-level strings → ids, as in vocab.json, special tokens included) and
    /// merges in rank order (as in merges.txt).
    /// </summary>
    public ByteLevelBpeTokenizer(IReadOnlyDictionary<string, int> vocab, IReadOnlyList<(string Left, string Right)> merges,
        ByteLevelBpeOptions? options = null)
        : this(vocab, merges, options, null) { }

    internal ByteLevelBpeTokenizer(IReadOnlyDictionary<string, int> vocab, IReadOnlyList<(string Left, string Right)> merges,
        ByteLevelBpeOptions? options, IEnumerable<AddedToken>? extraAdded, EncodingTemplate? customTemplate = null)
        : base("BPE", new Dictionary<string, int>(vocab, StringComparer.Ordinal))
    {
        Options = options ?? new ByteLevelBpeOptions();
        if (vocab.Count == 0) throw new GptBertException("BPE vocabulary is empty; give vocab.json with the 256 byte tokens at least");
        vocabLookup = this.vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        tokenBytes = new int[idToToken.Length];
        for (int id = 0; id < idToToken.Length; id++) tokenBytes[id] = idToToken[id]?.Length ?? 0;
        Array.Fill(byteIds, -1);
        for (int b = 0; b < 256; b++)
            if (this.vocab.TryGetValue(ByteLevel.ByteToChar[b].ToString(), out var id)) byteIds[b] = id;

        this.merges = merges.ToArray();
        mergeRank = new Dictionary<long, int>(merges.Count);
        mergeResult = new int[merges.Count];
        for (int r = 0; r < merges.Count; r++)
        {
            var (l, rt) = merges[r];
            if (!this.vocab.TryGetValue(l, out var li) || !this.vocab.TryGetValue(rt, out var ri))
                throw new GptBertException($"BPE merge {r + 1} '{l} {rt}' uses a token that is not in the vocabulary; merges.txt and vocab.json do not match");
            if (!this.vocab.TryGetValue(l + rt, out var ni))
                throw new GptBertException($"BPE merge {r + 1} '{l} {rt}' makes '{l + rt}', which is not in the vocabulary; merges.txt and vocab.json do not match");
            mergeRank[Key(li, ri)] = r;    // a repeated merge keeps its last rank, as in tokenizers
            mergeResult[r] = ni;
        }
        cacheLookup = cache.GetAlternateLookup<ReadOnlySpan<char>>();

        SetAddedTokens([Options.UnkToken, Options.BosToken, Options.EosToken, Options.PadToken, Options.MaskToken, .. Options.AdditionalSpecialTokens], extraAdded);
        template = customTemplate ?? BuildTemplate();
    }

    EncodingTemplate BuildTemplate()
    {
        if (Options.Template == BpeTemplate.Roberta)
        {
            if (BosId is not int b || EosId is not int e)
                throw new GptBertException("RoBERTa-style BPE needs its <s> and </s> tokens (bos_token, eos_token) in vocab.json");
            return EncodingTemplate.Roberta(Options.BosToken!, b, Options.EosToken!, e);
        }
        string? bos = null, eos = null;
        if (Options.AddBosToken)
            bos = BosId is null ? throw new GptBertException($"add_bos_token is set but bos_token '{Options.BosToken}' is not in vocab.json") : Options.BosToken;
        if (Options.AddEosToken)
            eos = EosId is null ? throw new GptBertException($"add_eos_token is set but eos_token '{Options.EosToken}' is not in vocab.json") : Options.EosToken;
        return EncodingTemplate.BosEos(bos, BosId, eos, EosId);
    }

    static long Key(int left, int right) => ((long)left << 32) | (uint)right;

    /// <summary>Reads vocab.json and merges.txt.</summary>
    public static ByteLevelBpeTokenizer FromFiles(string vocabJsonPath, string mergesPath, ByteLevelBpeOptions? options = null) =>
        new(ReadVocabJson(vocabJsonPath), ReadMerges(mergesPath), options);

    internal static Dictionary<string, int> ReadVocabJson(string path)
    {
        try
        {
            using var s = File.OpenRead(path);
            return JsonSerializer.Deserialize<Dictionary<string, int>>(s)
                ?? throw new GptBertException($"'{path}' is empty; it should be a JSON object of token → id");
        }
        catch (JsonException e)
        {
            throw new GptBertException($"'{path}' is not a JSON object of token → id ({e.Message}); give a Hugging Face vocab.json", e);
        }
    }

    internal static List<(string, string)> ReadMerges(string path)
    {
        var list = new List<(string, string)>(50000);
        int lineNo = 0;
        foreach (var line in File.ReadLines(path, new UTF8Encoding(false)))
        {
            lineNo++;
            if (lineNo == 1 && line.StartsWith("#version", StringComparison.Ordinal)) continue;
            if (line.Length == 0) continue;
            list.Add(ParseMerge(line, $"'{path}' line {lineNo}"));
        }
        return list;
    }

    internal static (string, string) ParseMerge(string line, string where)
    {
        int sp = line.IndexOf(' ');
        if (sp <= 0 || sp == line.Length - 1 || line.IndexOf(' ', sp + 1) >= 0)
            throw new GptBertException($"{where}: '{line}' is not a merge of the form 'left right'; merges.txt needs two tokens per line");
        return (line[..sp], line[(sp + 1)..]);
    }

    public string Kind => "bpe";
    public int? PadId => Options.PadToken is null ? null : TokenToId(Options.PadToken);
    public int? UnkId => Options.UnkToken is null ? null : TokenToId(Options.UnkToken);
    public int? ClsId => Options.Template == BpeTemplate.Roberta ? BosId : null;
    public int? SepId => Options.Template == BpeTemplate.Roberta ? EosId : null;
    public int? MaskId => Options.MaskToken is null ? null : TokenToId(Options.MaskToken);
    public int? BosId => Options.BosToken is null ? null : TokenToId(Options.BosToken);
    public int? EosId => Options.EosToken is null ? null : TokenToId(Options.EosToken);
    public string? MaskToken => MaskId is null ? null : Options.MaskToken;
    public int? ModelMaxLength => Options.ModelMaxLength;
    /// <summary>The merges in rank order.</summary>
    public IReadOnlyList<(string Left, string Right)> Merges => merges;

    // GPT-2 has no pad token: pad with EOS (attention 0), as is customary.
    private protected override (int? Id, string? Token) BatchPadding =>
        PadId is not null ? (PadId, Options.PadToken) : (EosId, EosId is null ? null : Options.EosToken);

    internal override RawEncoding EncodeRaw(string text)
    {
        var raw = base.EncodeRaw(text);
        if (Options.TrimOffsets) TrimOffsets(raw);
        return raw;
    }

    [ThreadStatic] static char[]? tChars;
    [ThreadStatic] static int[]? tOrig;
    [ThreadStatic] static byte[]? tBytes;
    [ThreadStatic] static int[]? tByteStart, tByteEnd;

    private protected override void EncodeSegment(string text, int from, int to, RawEncoding raw)
    {
        // The segment, with the optional prefix space; orig[k] is where char k comes from in text.
        ReadOnlySpan<char> seg;
        int[]? orig = null;
        bool prefix = Options.AddPrefixSpace && text[from] != ' ';
        if (prefix)
        {
            int len = to - from + 1;
            var chars = tChars is { } c && c.Length >= len ? c : tChars = new char[Math.Max(len, 256)];
            orig = tOrig is { } o && o.Length >= len ? o : tOrig = new int[Math.Max(len, 256)];
            chars[0] = ' ';
            orig[0] = from;
            text.AsSpan(from, to - from).CopyTo(chars.AsSpan(1));
            for (int k = 1; k < len; k++) orig[k] = from + k - 1;
            seg = chars.AsSpan(0, len);
        }
        else seg = text.AsSpan(from, to - from);

        int i = 0;
        while (i < seg.Length)
        {
            int end = ByteLevel.NextPiece(seg, i);
            EncodePiece(seg, i, end, prefix ? orig : null, from, raw);
            i = end;
        }
    }

    /// <summary>BPE of one pre-token seg[start..end), tokens with char offsets into the original text.</summary>
    void EncodePiece(ReadOnlySpan<char> seg, int start, int end, int[]? orig, int from, RawEncoding raw)
    {
        var piece = seg[start..end];
        // UTF-8 bytes and, for each byte, the original char range it comes from.
        int maxBytes = piece.Length * 3;
        var bytes = tBytes is { } tb && tb.Length >= maxBytes ? tb : tBytes = new byte[Math.Max(maxBytes, 1024)];
        var bStart = tByteStart is { } bs && bs.Length >= maxBytes ? bs : tByteStart = new int[Math.Max(maxBytes, 1024)];
        var bEnd = tByteEnd is { } be && be.Length >= maxBytes ? be : tByteEnd = new int[Math.Max(maxBytes, 1024)];
        int nb = 0;
        for (int k = 0; k < piece.Length;)
        {
            int cp = UnicodeTables.CodePointAt(piece, k, out int len);
            if (cp < 0x10000 && char.IsSurrogate((char)cp)) cp = 0xFFFD;   // lone surrogate → U+FFFD, as Encoding.UTF8
            int os, oe;
            if (orig is null) { os = from + start + k; oe = os + len; }
            else
            {
                os = orig[start + k];
                // the prefix space maps to the char after it (as tokenizers' NormalizedString.prepend)
                oe = start + k == 0 ? os + LengthAt(seg, 1) : os + len;
            }
            int n = new Rune(cp).EncodeToUtf8(bytes.AsSpan(nb));
            for (int q = 0; q < n; q++) { bStart[nb + q] = os; bEnd[nb + q] = oe; }
            nb += n;
            k += len;
        }

        int[] tokens = GetOrComputeTokens(piece, bytes.AsSpan(0, nb));
        for (int t = 0; t < tokens.Length; t += 2)
        {
            int id = tokens[t], b0 = tokens[t + 1];
            int b1 = b0 + tokenBytes[id] - 1;
            raw.Add(id, idToToken[id]!, bStart[b0], bEnd[Math.Min(b1, nb - 1)]);
        }
    }

    static int LengthAt(ReadOnlySpan<char> s, int i)
    {
        UnicodeTables.CodePointAt(s, i, out int len);
        return len;
    }

    /// <summary>(id, first byte) pairs for a pre-token, cached by its text.</summary>
    int[] GetOrComputeTokens(ReadOnlySpan<char> piece, ReadOnlySpan<byte> bytes)
    {
        if (cacheLookup.TryGetValue(piece, out var hit)) return hit;
        var result = ComputeTokens(bytes);
        if (piece.Length <= 256)
        {
            if (cache.Count >= CacheCapacity) cache.Clear();
            cacheLookup.TryAdd(piece, result);
        }
        return result;
    }

    int[] ComputeTokens(ReadOnlySpan<byte> bytes)
    {
        int n = bytes.Length;
        if (Options.IgnoreMerges && n > 0)
        {
            Span<char> chars = n <= 512 ? stackalloc char[n] : new char[n];
            for (int k = 0; k < n; k++) chars[k] = ByteLevel.ByteToChar[bytes[k]];
            if (vocabLookup.TryGetValue(chars, out var whole)) return [whole, 0];
        }
        var sid = new int[n];
        var start = new int[n];
        var next = new int[n];
        var prev = new int[n];
        int m = 0;
        for (int k = 0; k < n; k++)
        {
            int id = byteIds[bytes[k]];
            if (id < 0) continue;            // a byte without a token is dropped (tokenizers' BPE without unk)
            sid[m] = id; start[m] = k; m++;
        }
        for (int k = 0; k < m; k++) { prev[k] = k - 1; next[k] = k + 1 < m ? k + 1 : -1; }

        if (m > 1)
        {
            var queue = new PriorityQueue<int, long>();
            for (int k = 0; k + 1 < m; k++)
                if (mergeRank.TryGetValue(Key(sid[k], sid[k + 1]), out int r)) queue.Enqueue(k, ((long)r << 32) | (uint)k);
            while (queue.TryDequeue(out int pos, out long pri))
            {
                int rank = (int)(pri >> 32);
                if (sid[pos] < 0) continue;
                int nx = next[pos];
                if (nx < 0) continue;
                if (!mergeRank.TryGetValue(Key(sid[pos], sid[nx]), out int cur) || cur != rank) continue;
                sid[pos] = mergeResult[rank];
                sid[nx] = -1;
                next[pos] = next[nx];
                if (next[nx] >= 0) prev[next[nx]] = pos;
                int pv = prev[pos];
                if (pv >= 0 && mergeRank.TryGetValue(Key(sid[pv], sid[pos]), out int r1)) queue.Enqueue(pv, ((long)r1 << 32) | (uint)pv);
                if (next[pos] >= 0 && mergeRank.TryGetValue(Key(sid[pos], sid[next[pos]]), out int r2)) queue.Enqueue(pos, ((long)r2 << 32) | (uint)pos);
            }
        }
        int count = 0;
        for (int k = 0; k < m; k++) if (sid[k] >= 0) count++;
        var result = new int[count * 2];
        int q = 0;
        for (int k = 0; k < m; k++)
        {
            if (sid[k] < 0) continue;
            result[q++] = sid[k];
            result[q++] = start[k];
        }
        return result;
    }

    /// <summary>tokenizers' ByteLevel process_offsets (trim_offsets=true): leave out the spaces a token carries.</summary>
    void TrimOffsets(RawEncoding raw)
    {
        char space = ByteLevel.ByteToChar[' '];
        for (int i = 0; i < raw.Count; i++)
        {
            string tok = raw.Tokens[i];
            var (s, e) = raw.Offsets[i];
            int lead = 0, trail = 0;
            while (lead < tok.Length && (tok[lead] == space || char.IsWhiteSpace(tok[lead]))) lead++;
            while (trail < tok.Length && (tok[tok.Length - 1 - trail] == space || char.IsWhiteSpace(tok[tok.Length - 1 - trail]))) trail++;
            if (lead == 0 && trail == 0) continue;
            if (lead > 0)
            {
                bool isFirst = i == 0 || s == 0;
                if (isFirst && Options.AddPrefixSpace && lead == 1) lead = 0;
                s = Math.Min(s + lead, e);
            }
            if (trail > 0 && e >= trail) e = Math.Max(e - trail, s);
            raw.Offsets[i] = (s, e);
        }
    }

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true)
    {
        var bytes = new List<byte>(64);
        foreach (string tok in TokensToDecode(ids, skipSpecialTokens))
        {
            bool mapped = true;
            foreach (char c in tok) if (ByteLevel.ByteOf(c) < 0) { mapped = false; break; }
            if (mapped) foreach (char c in tok) bytes.Add((byte)ByteLevel.ByteOf(c));
            else bytes.AddRange(Encoding.UTF8.GetBytes(tok));
        }
        // Invalid UTF-8 becomes U+FFFD (String::from_utf8_lossy, errors="replace").
        string s = Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
        return Options.CleanUpTokenizationSpaces ? TokenizerFiles.CleanUpTokenization(s) : s;
    }

    /// <summary>Writes vocab.json, merges.txt, tokenizer_config.json and special_tokens_map.json (GPT2Tokenizer format).</summary>
    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        AtomicFile.Write(Path.Combine(directory, "vocab.json"), s =>
        {
            using var w = new Utf8JsonWriter(s, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
            w.WriteStartObject();
            for (int id = 0; id < idToToken.Length; id++)
                if (idToToken[id] is { } tok) w.WriteNumber(tok, id);
            w.WriteEndObject();
        });
        var sb = new StringBuilder(merges.Length * 12);
        sb.Append("#version: 0.2\n");
        foreach (var (l, r) in merges) sb.Append(l).Append(' ').Append(r).Append('\n');
        AtomicFile.WriteAllText(Path.Combine(directory, "merges.txt"), sb.ToString());
        AtomicFile.Write(Path.Combine(directory, "tokenizer_config.json"), s => TokenizerFiles.WriteJson(s, w =>
        {
            w.WriteString("tokenizer_class", Options.TokenizerClass);
            w.WriteBoolean("add_prefix_space", Options.AddPrefixSpace);
            if (Options.TrimOffsets) w.WriteBoolean("trim_offsets", true);
            w.WriteBoolean("add_bos_token", Options.AddBosToken);
            if (Options.AddEosToken) w.WriteBoolean("add_eos_token", true);
            if (Options.IgnoreMerges) w.WriteBoolean("ignore_merges", true);
            if (Options.ModelMaxLength is int m) w.WriteNumber("model_max_length", m);
            w.WriteBoolean("clean_up_tokenization_spaces", Options.CleanUpTokenizationSpaces);
            w.WriteString("errors", "replace");
            WriteSpecialTokens(w);
        }));
        AtomicFile.Write(Path.Combine(directory, "special_tokens_map.json"), s => TokenizerFiles.WriteJson(s, WriteSpecialTokens));
    }

    void WriteSpecialTokens(Utf8JsonWriter w)
    {
        void Opt(string name, string? v) { if (v is not null) w.WriteString(name, v); else w.WriteNull(name); }
        Opt("bos_token", Options.BosToken);
        Opt("eos_token", Options.EosToken);
        Opt("unk_token", Options.UnkToken);
        if (Options.PadToken is not null) w.WriteString("pad_token", Options.PadToken);
        if (Options.MaskToken is not null) w.WriteString("mask_token", Options.MaskToken);
        TokenizerFiles.WriteAdditionalSpecialTokens(w, Options.AdditionalSpecialTokens);
    }
}
