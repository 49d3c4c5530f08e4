namespace GptBert.Tokenizers;

/// <summary>
/// What <see cref="WordPieceTokenizer"/> and <see cref="ByteLevelBpeTokenizer"/> share: the vocabulary both ways,
/// added (special) tokens cut out of the raw text before the model's own splitting, the template that adds special
/// tokens and truncates, and batch padding. Each subclass splits the text between added tokens
/// (<see cref="EncodeSegment"/>) and decodes in its own way.
/// </summary>
/// <remarks>
/// Not an <see cref="ITextTokenizer"/> itself: the subclasses are, with these public members as part of it.
/// </remarks>
public abstract class VocabularyTokenizer
{
    private protected readonly Dictionary<string, int> vocab;
    private protected readonly string?[] idToToken;
    readonly string name; // "WordPiece" or "BPE", for messages

    // Set once by the subclass constructor, which needs its options and vocabulary to build them.
    private protected AddedTokenMatcher added = new([]);
    private protected HashSet<int> specialIds = [];
    private protected EncodingTemplate template = EncodingTemplate.None;

    /// <param name="minSize">at least this many ids (vocab.txt: a duplicated line leaves its first id without a token).</param>
    private protected VocabularyTokenizer(string name, Dictionary<string, int> vocab, int minSize = 0)
    {
        this.name = name;
        this.vocab = vocab;
        int size = minSize;
        foreach (var (tok, id) in vocab)
        {
            if (id < 0) throw new GptBertException($"{name} vocabulary has a negative id {id} for token '{tok}'; ids must be 0..n-1");
            size = Math.Max(size, id + 1);
        }
        idToToken = new string?[size];
        foreach (var (tok, id) in vocab) idToToken[id] = tok;
    }

    /// <summary>Makes the options' special tokens that the vocabulary has, and any extra added tokens, split out of raw text.</summary>
    private protected void SetAddedTokens(IEnumerable<string?> specialTokens, IEnumerable<AddedToken>? extra)
    {
        var tokens = new List<AddedToken>();
        foreach (var t in specialTokens)
            if (t is not null && vocab.TryGetValue(t, out var id)) tokens.Add(new AddedToken(t, id, Special: true));
        if (extra is not null) tokens.AddRange(extra);
        added = new AddedTokenMatcher(tokens);
        specialIds = tokens.Where(t => t.Special).Select(t => t.Id).ToHashSet();
    }

    public int VocabSize => idToToken.Length;

    public string IdToToken(int id) =>
        (uint)id < (uint)idToToken.Length && idToToken[id] is { } t ? t
            : throw new GptBertException($"token id {id} is not in this {name} vocabulary (0..{idToToken.Length - 1})");

    public int? TokenToId(string token) => vocab.TryGetValue(token, out var id) ? id : null;

    public TokenizedText Encode(string text, string? pair = null, bool addSpecialTokens = true, int? maxLength = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var a = EncodeRaw(text);
        var b = pair is null ? null : EncodeRaw(pair);
        return template.Build(a, b, addSpecialTokens, maxLength);
    }

    /// <summary>
    /// Token ids the caller already has (OpenAI's token-array inputs), put through the same template as
    /// <see cref="Encode"/>: special tokens added, truncated to maxLength. Tokens are the vocabulary's; offsets are (0, 0).
    /// </summary>
    public TokenizedText EncodeIds(IReadOnlyList<int> ids, bool addSpecialTokens = true, int? maxLength = null)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var raw = new RawEncoding();
        foreach (var id in ids) raw.Add(id, IdToToken(id), 0, 0);
        return template.Build(raw, null, addSpecialTokens, maxLength);
    }

    public IReadOnlyList<TokenizedText> EncodeBatch(IReadOnlyList<(string Text, string? Pair)> inputs,
        bool addSpecialTokens = true, int? maxLength = null, bool padToLongest = true)
    {
        var results = new TokenizedText[inputs.Count];
        for (int i = 0; i < results.Length; i++) results[i] = Encode(inputs[i].Text, inputs[i].Pair, addSpecialTokens, maxLength);
        if (!padToLongest) return results;
        var (padId, padToken) = BatchPadding;
        return EncodingTemplate.PadToLongest(results, padId, padToken);
    }

    /// <summary>The token (and its id) that pads a batch; a null one makes batches of different lengths an error.</summary>
    private protected abstract (int? Id, string? Token) BatchPadding { get; }

    /// <summary>The tokens of text alone (no special tokens), offsets into text.</summary>
    internal virtual RawEncoding EncodeRaw(string text)
    {
        var raw = new RawEncoding();
        added.Split(text, (s, e) => EncodeSegment(text, s, e, raw), (t, s, e) => raw.Add(t.Id, t.Content, s, e));
        return raw;
    }

    /// <summary>Tokenizes text[from..to), a stretch without added tokens, appending to raw with offsets into text.</summary>
    private protected abstract void EncodeSegment(string text, int from, int to, RawEncoding raw);

    /// <summary>The tokens of ids to decode: special ones left out when asked, unknown ids skipped (as tokenizers does).</summary>
    private protected IEnumerable<string> TokensToDecode(IEnumerable<int> ids, bool skipSpecialTokens)
    {
        foreach (int id in ids)
        {
            if (skipSpecialTokens && specialIds.Contains(id)) continue;
            if ((uint)id < (uint)idToToken.Length && idToToken[id] is { } tok) yield return tok;
        }
    }
}
