namespace GptBert.Tokenizers;

/// <summary>
/// The result of encoding one text (or one text pair), with Hugging Face (fast tokenizer) semantics.
/// </summary>
/// <param name="Ids">Token ids, including special tokens and padding.</param>
/// <param name="Tokens">Token strings (vocabulary entries, e.g. "##ing" or "Ġworld").</param>
/// <param name="TypeIds">Segment ids: 0 for the first text (and its special tokens), 1 for the pair part.</param>
/// <param name="AttentionMask">1 for real tokens, 0 for padding.</param>
/// <param name="Offsets">Char (UTF-16) offsets into the input string the token came from; (0,0) for special
/// tokens and padding; for pairs, offsets of pair tokens are into the pair string.</param>
/// <param name="SequenceIds">0 for the first text, 1 for the pair, -1 for special tokens and padding.</param>
/// <param name="Truncated">True when tokens were dropped to honour maxLength.</param>
public sealed record TokenizedText(int[] Ids, string[] Tokens, int[] TypeIds, int[] AttentionMask,
    (int Start, int End)[] Offsets, int[] SequenceIds, bool Truncated)
{
    public int Length => Ids.Length;
}

/// <summary>A text tokenizer (WordPiece for BERT, byte-level BPE for GPT-2).</summary>
public interface ITextTokenizer
{
    /// <summary>"wordpiece" or "bpe".</summary>
    string Kind { get; }
    int VocabSize { get; }
    int? PadId { get; }
    int? UnkId { get; }
    int? ClsId { get; }
    int? SepId { get; }
    int? MaskId { get; }
    int? BosId { get; }
    int? EosId { get; }
    string? MaskToken { get; }

    /// <summary>model_max_length from tokenizer_config.json, when known (512 for BERT, 1024 for GPT-2).</summary>
    int? ModelMaxLength => null;

    /// <summary>
    /// Encodes a text (and optional pair). maxLength includes the special tokens; when the tokens do not fit,
    /// the longest sequence is truncated first (Hugging Face "longest_first").
    /// </summary>
    TokenizedText Encode(string text, string? pair = null, bool addSpecialTokens = true, int? maxLength = null);

    /// <summary>Encodes many inputs; with padToLongest, right-pads every result to the longest one.</summary>
    IReadOnlyList<TokenizedText> EncodeBatch(IReadOnlyList<(string Text, string? Pair)> inputs,
        bool addSpecialTokens = true, int? maxLength = null, bool padToLongest = true);

    /// <summary>
    /// Ids the caller already tokenized, with this tokenizer's special tokens added as <see cref="Encode"/> adds them
    /// ([CLS] ids [SEP] for BERT; nothing for GPT-2) and truncated to maxLength.
    /// </summary>
    TokenizedText EncodeIds(IReadOnlyList<int> ids, bool addSpecialTokens = true, int? maxLength = null) =>
        throw new NotSupportedException($"{GetType().Name} cannot take token ids; give text");

    string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true);
    string IdToToken(int id);
    int? TokenToId(string token);

    /// <summary>Writes Hugging Face tokenizer files into directory (created if needed), each atomically.</summary>
    void Save(string directory);
}
