using GptBert.Checkpoints;
using System.Globalization;
using System.Text;
using GptBert.Models;
using GptBert.Tokenizers;
using static TorchSharp.torch;

namespace GptBert.Pipelines;

/// <summary>
/// Pre-tokenized words encoded for a token classifier: the model's tokens and, per token, the index of the word it came
/// from (-1 for special tokens), as transformers' BatchEncoding.word_ids() gives.
/// </summary>
public sealed record WordEncoding(TokenizedText Encoding, int[] WordIds)
{
    /// <summary>Token position of each word's first sub-token; -1 for a word truncated away or with no tokens.</summary>
    public int[] FirstTokens(int wordCount)
    {
        var first = Enumerable.Repeat(-1, wordCount).ToArray();
        for (int p = WordIds.Length - 1; p >= 0; p--)
            if (WordIds[p] >= 0) first[WordIds[p]] = p;
        return first;
    }

    /// <summary>Whether words were cut off by the maximum length.</summary>
    public bool Truncated => Encoding.Truncated;
}

/// <summary>A word of a raw text with its place in it (UTF-16 indices: <c>text[Start..End] == Text</c>).</summary>
public sealed record WordSpan(string Text, int Start, int End);

/// <summary>
/// A named entity found in a text: its label (the BIO tag without its B-/I- prefix), its text, and where it is.
/// <see cref="Start"/>/<see cref="End"/> are .NET string (UTF-16) indices; <see cref="CodePointStart"/>/<see cref="CodePointEnd"/>
/// count Unicode code points, as Python's str indices (and transformers' pipelines) do; they differ after an emoji or other
/// character outside the Basic Multilingual Plane. <see cref="Score"/>: the mean probability of the words' predicted tags.
/// </summary>
public sealed record Entity(string Label, string Text, int Start, int End, int CodePointStart, int CodePointEnd, double Score);

/// <summary>A word's predicted tag and its probability; null tag when the word was truncated away.</summary>
public sealed record WordTag(string? Tag, double Score);

/// <summary>
/// Token classification (NER) for both families, as transformers' run_ner.py and its "token-classification" pipeline:
/// words are sub-tokenized one by one, the label of a word sits on its first sub-token (the others and special tokens
/// get -100, ignored by the loss), and a word's prediction is read at its first sub-token. Raw text is split into words
/// (<see cref="SplitWords"/>) and the word tags are grouped into entities by BIO (<see cref="GroupEntities"/>).
/// A GPT-2 classifier is causal: the prediction for a word sees only that word and the words to its left.
/// </summary>
public sealed class TokenClassifier : IDisposable
{
    /// <summary>Label id of positions the loss ignores (PyTorch cross_entropy's default ignore_index).</summary>
    public const int IgnoreIndex = -100;

    readonly ModelHandle handle;
    readonly int maxLength;
    public IReadOnlyList<string> Labels { get; }
    public ModelHandle Handle => handle;
    public int BatchSize { get; init; } = 32;
    /// <summary>Told when a text is longer than the maximum length (its last words get no tag).</summary>
    public Action<string>? Warn { get; init; }
    /// <summary>What happens to texts longer than the maximum length: their last words go untagged with a warning, or they are refused.</summary>
    public Overflow Overflow { get; init; } = Overflow.TruncateWithWarning;

    public TokenClassifier(string modelDir, string? tokenizer = null, string? device = null, int? maxLength = null)
    {
        var cfg = ModelConfig.Load(Path.Combine(ModelHub.ExistingDirectory(modelDir), "config.json"));
        string declared = ModelFactory.DefaultArchitecture(cfg);
        if (!declared.EndsWith("ForTokenClassification", StringComparison.Ordinal))
            throw new GptBertException($"{modelDir} is a {declared}, not a token classifier; fine-tune one for token classification first (task ner)");
        handle = ModelHub.Load(modelDir, declared, tokenizer, device, requireHead: true);
        Labels = handle.Config.Labels;
        this.maxLength = Math.Min(maxLength ?? 512, handle.Config.MaxPositions);
    }

    /// <summary>
    /// Encodes pre-tokenized words. Each word is tokenized on its own; with a byte-level BPE (GPT-2) every word after the
    /// first gets a leading space, as it had in running text (transformers needs add_prefix_space=True for this, which also
    /// prefixes the first word; we leave the first word as it starts a text). Special tokens are added as for any input and
    /// the tokens are truncated to <paramref name="maxLength"/>, special tokens included.
    /// </summary>
    public static WordEncoding EncodeWords(ITextTokenizer tokenizer, IReadOnlyList<string> words, int maxLength)
    {
        bool prefixSpace = tokenizer.Kind == "bpe";
        var ids = new List<int>();
        var wordOf = new List<int>();
        for (int w = 0; w < words.Count; w++)
        {
            var piece = prefixSpace && w > 0 ? " " + words[w] : words[w];
            foreach (var id in tokenizer.Encode(piece, addSpecialTokens: false).Ids) { ids.Add(id); wordOf.Add(w); }
        }
        var enc = tokenizer.EncodeIds(ids, addSpecialTokens: true, maxLength: maxLength);
        int prefix = 0;
        while (prefix < enc.Length && enc.SequenceIds[prefix] < 0) prefix++;
        var wordIds = new int[enc.Length];
        for (int p = 0; p < enc.Length; p++)
            wordIds[p] = enc.SequenceIds[p] < 0 ? -1 : wordOf[p - prefix];
        return new WordEncoding(enc, wordIds);
    }

    /// <summary>Per-token training labels: the word's label id on its first sub-token, <see cref="IgnoreIndex"/> elsewhere.</summary>
    public static long[] AlignLabels(WordEncoding encoding, IReadOnlyList<int> wordLabels)
    {
        var labels = new long[encoding.WordIds.Length];
        for (int p = 0; p < labels.Length; p++)
        {
            int w = encoding.WordIds[p];
            labels[p] = w >= 0 && (p == 0 || encoding.WordIds[p - 1] != w) ? wordLabels[w] : IgnoreIndex;
        }
        return labels;
    }

    /// <summary>
    /// (B, T, num_labels) logits of a token classifier of either family for one padded batch: the one forward that training
    /// and inference share.
    /// </summary>
    public static Tensor Logits(PretrainedModel model, Tensor inputIds, Tensor? attentionMask, Tensor? tokenTypeIds) => model switch
    {
        BertForTokenClassification m => m.Forward(inputIds, attentionMask, tokenTypeIds),
        GPT2ForTokenClassification m => m.Forward(inputIds, attentionMask),
        _ => throw new GptBertException($"token classification needs BertForTokenClassification or GPT2ForTokenClassification, not {model.Architecture}"),
    };

    /// <summary>Mean cross-entropy over labelled positions of (B, T, K) logits and (B, T) labels; <see cref="IgnoreIndex"/> positions left out.</summary>
    public static Tensor Loss(Tensor logits, Tensor labels) =>
        nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), labels.reshape(-1), ignore_index: IgnoreIndex);

    /// <summary>
    /// Splits raw text into words as CoNLL data is split: at whitespace, with every punctuation or symbol character (emoji
    /// included) and every CJK character a word of its own (as BERT's basic tokenizer does). Offsets are UTF-16 indices.
    /// </summary>
    public static List<WordSpan> SplitWords(string text)
    {
        var words = new List<WordSpan>();
        int start = -1;
        void Close(int end) { if (start >= 0) words.Add(new WordSpan(text[start..end], start, end)); start = -1; }
        for (int i = 0; i < text.Length;)
        {
            var rune = RuneAt(text, i, out int n);
            if (Rune.IsWhiteSpace(rune) || Rune.IsControl(rune)) Close(i);
            else if (IsOwnWord(rune))
            {
                Close(i);
                // What modifies an emoji or letter stays with it: variation selectors, skin tones, combining marks,
                // and a zero-width joiner with the character it joins (❤️, 👍🏽, 👩‍💻).
                int end = i + n;
                while (end < text.Length)
                {
                    var next = RuneAt(text, end, out int m);
                    var cat = Rune.GetUnicodeCategory(next);
                    if (next.Value is 0xFE0F or (>= 0x1F3FB and <= 0x1F3FF) || cat is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark) end += m;
                    else if (next.Value == 0x200D && end + m < text.Length) { RuneAt(text, end + m, out int k); end += m + k; }
                    else break;
                }
                words.Add(new WordSpan(text[i..end], i, end));
                i = end;
                continue;
            }
            else if (start < 0) start = i;
            i += n;
        }
        Close(text.Length);
        return words;
    }

    static Rune RuneAt(string text, int i, out int length)
    {
        if (Rune.DecodeFromUtf16(text.AsSpan(i), out var rune, out length) != System.Buffers.OperationStatus.Done) { rune = Rune.ReplacementChar; length = 1; }
        return rune;
    }

    static bool IsOwnWord(Rune r)
    {
        var cat = Rune.GetUnicodeCategory(r);
        bool punctuationOrSymbol = cat is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation
            or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation or UnicodeCategory.FinalQuotePunctuation
            or UnicodeCategory.OtherPunctuation or UnicodeCategory.MathSymbol or UnicodeCategory.CurrencySymbol
            or UnicodeCategory.ModifierSymbol or UnicodeCategory.OtherSymbol;
        return punctuationOrSymbol || IsCjk(r.Value);
    }

    // BERT's _is_chinese_char ranges (CJK Unified Ideographs and extensions, compatibility ideographs).
    static bool IsCjk(int cp) =>
        cp is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF or >= 0x2A700 and <= 0x2B73F
            or >= 0x2B740 and <= 0x2B81F or >= 0x2B820 and <= 0x2CEAF or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;

    /// <summary>
    /// Groups word tags into entities as transformers' pipeline does with aggregation "simple" on words: B-X starts an
    /// entity; I-X continues an entity of type X and otherwise starts one; a tag without prefix counts as I-; O (or a
    /// word with no tag) ends it. Entity text is the original text from the first word's start to the last word's end.
    /// </summary>
    public static List<Entity> GroupEntities(string text, IReadOnlyList<WordSpan> words, IReadOnlyList<WordTag> tags)
    {
        var entities = new List<Entity>();
        string? type = null;
        int first = 0, last = 0;
        double scoreSum = 0;

        void Close()
        {
            if (type is null) return;
            int s = words[first].Start, e = words[last].End;
            int cps = CodePoints(text, 0, s);
            entities.Add(new Entity(type, text[s..e], s, e, cps, cps + CodePoints(text, s, e), scoreSum / (last - first + 1)));
            type = null;
        }

        for (int w = 0; w < words.Count; w++)
        {
            var (tag, score) = (tags[w].Tag, tags[w].Score);
            if (tag is null || tag == "O") { Close(); continue; }
            bool begin = tag.StartsWith("B-", StringComparison.Ordinal);
            string t = tag.StartsWith("B-", StringComparison.Ordinal) || tag.StartsWith("I-", StringComparison.Ordinal) ? tag[2..] : tag;
            if (begin || type != t) { Close(); type = t; first = w; scoreSum = 0; }
            last = w;
            scoreSum += score;
        }
        Close();
        return entities;
    }

    static int CodePoints(string s, int start, int end)
    {
        int n = 0;
        for (int i = start; i < end; i++) if (!char.IsLowSurrogate(s[i]) || i == start || !char.IsHighSurrogate(s[i - 1])) n++;
        return n;
    }

    /// <summary>The tag (and its probability) of every word, read at each word's first sub-token. Inference mode, batched.</summary>
    /// <param name="describe">names input i in messages ("line 3 of news.txt"); default "input i+1".</param>
    public IReadOnlyList<WordTag[]> TagWords(IReadOnlyList<IReadOnlyList<string>> sentences, Func<int, string>? describe = null,
        CancellationToken cancellationToken = default)
    {
        describe ??= i => $"input {i + 1}";
        var result = new WordTag[sentences.Count][];
        var tok = handle.Tokenizer;
        using var _ = inference_mode();
        for (int start = 0; start < sentences.Count; start += BatchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int n = Math.Min(BatchSize, sentences.Count - start);
            var encs = Enumerable.Range(start, n).Select(i => EncodeWords(tok, sentences[i], maxLength)).ToList();
            for (int j = 0; j < n; j++)
            {
                if (!encs[j].Truncated) continue;
                if (Overflow == Overflow.Refuse)
                    throw new GptBertException($"{describe(start + j)} is longer than {maxLength} tokens; shorten it, or allow truncation (its last words then get no tag)");
                Warn?.Invoke($"warning: {describe(start + j)} is longer than {maxLength} tokens; its last words get no tag");
            }
            using var scope = NewDisposeScope();
            var (ids, mask, types, _) = Batching.ToTensors(encs.Select(e => e.Encoding).ToList(), tok.PadId ?? tok.EosId ?? 0, handle.Device);
            using var probs = Logits(handle.Model, ids, mask, types).softmax(-1).to(ScalarType.Float32).cpu(); // (B, T, K)
            int T = (int)probs.shape[1], K = (int)probs.shape[2];
            var data = TensorBytes.ToArray<float>(probs);
            for (int j = 0; j < n; j++)
            {
                var words = sentences[start + j];
                var first = encs[j].FirstTokens(words.Count);
                result[start + j] = first.Select(p =>
                {
                    if (p < 0) return new WordTag(null, 0);
                    var row = data.AsSpan((j * T + p) * K, K);
                    int best = 0;
                    for (int k = 1; k < K; k++) if (row[k] > row[best]) best = k;
                    return new WordTag(Labels[best], row[best]);
                }).ToArray();
            }
        }
        return result;
    }

    /// <summary>Entities in each raw text: <see cref="SplitWords"/> → <see cref="TagWords"/> → <see cref="GroupEntities"/>.</summary>
    public IReadOnlyList<List<Entity>> Recognize(IReadOnlyList<string> texts, Func<int, string>? describe = null, CancellationToken cancellationToken = default)
    {
        var spans = texts.Select(SplitWords).ToList();
        var tags = TagWords(spans.Select(s => (IReadOnlyList<string>)s.Select(w => w.Text).ToList()).ToList(), describe, cancellationToken);
        return texts.Select((t, i) => GroupEntities(t, spans[i], tags[i])).ToList();
    }

    public void Dispose() => handle.Dispose();
}
