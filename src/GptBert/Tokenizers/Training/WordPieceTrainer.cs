using System.Runtime.InteropServices;
using System.Text;

namespace GptBert.Tokenizers.Training;

/// <summary>Settings of <see cref="WordPieceTrainer"/> (those of Hugging Face's BertWordPieceTokenizer.train).</summary>
public sealed record WordPieceTrainerOptions
{
    /// <summary>Size of the vocabulary to learn, special tokens and the alphabet included.</summary>
    public int VocabSize { get; init; } = 30000;
    /// <summary>A pair is merged only if it occurs at least this often (weighted by word frequency).</summary>
    public long MinFrequency { get; init; } = 2;
    /// <summary>BertNormalizer lowercase (do_lower_case).</summary>
    public bool LowerCase { get; init; } = true;
    /// <summary>BertNormalizer strip_accents; null follows LowerCase (as in Hugging Face).</summary>
    public bool? StripAccents { get; init; }
    /// <summary>Special tokens, given ids 0.. in this order; [UNK], [CLS] and [SEP] are required, [PAD] and [MASK]
    /// take their roles when present, any other is an additional special token.</summary>
    public IReadOnlyList<string> SpecialTokens { get; init; } = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
    public string ContinuingSubwordPrefix { get; init; } = "##";
    /// <summary>Keep only this many of the most frequent characters in the alphabet (null: all). Words with a dropped
    /// character lose it in training and become [UNK] when encoded.</summary>
    public int? LimitAlphabet { get; init; } = 1000;
    /// <summary>Called as training advances (word counting, merges).</summary>
    public Action<TrainingProgress>? ShowProgress { get; init; }
}

/// <summary>
/// Learns a BERT WordPiece vocabulary as Hugging Face tokenizers' WordPieceTrainer does: BERT normalization and
/// pre-tokenization into words, then BPE merges on characters where every non-initial character carries the
/// continuing-subword prefix ("a" + "##b" → "ab", "##a" + "##b" → "##ab"); the vocabulary is the BPE vocabulary.
/// Vocabulary ids: special tokens first (0..), the alphabet (sorted by code point), the "##" continuation characters
/// (sorted by code point), then the merged tokens in merge order.
/// </summary>
public sealed class WordPieceTrainer
{
    public WordPieceTrainerOptions Options { get; }

    public WordPieceTrainer(WordPieceTrainerOptions? options = null) => Options = options ?? new WordPieceTrainerOptions();

    /// <summary>Trains on texts (read once, in order) and returns the tokenizer.</summary>
    public WordPieceTokenizer Train(IEnumerable<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var o = Options;
        var specials = TrainerCommon.CheckSpecials(o.SpecialTokens);
        var roles = new WordPieceOptions();
        foreach (var required in new[] { roles.UnkToken, roles.ClsToken, roles.SepToken })
            if (!specials.Contains(required))
                throw new GptBertException($"the special tokens lack {required}, which a BERT WordPiece tokenizer needs; include [UNK], [CLS] and [SEP] (the default is [PAD] [UNK] [CLS] [SEP] [MASK])");
        if (string.IsNullOrEmpty(o.ContinuingSubwordPrefix) || o.ContinuingSubwordPrefix.Any(char.IsWhiteSpace))
            throw new GptBertException($"continuing-subword prefix '{o.ContinuingSubwordPrefix}' must be non-empty without whitespace; use \"##\"");
        if (o.MinFrequency < 0)
            throw new GptBertException($"minimum frequency {o.MinFrequency} is negative; use 0 or more (2 is usual)");
        if (o.LimitAlphabet is < 1)
            throw new GptBertException($"alphabet limit {o.LimitAlphabet} must be at least 1; leave it unset to keep every character");
        if (o.VocabSize < specials.Count + 1)
            throw new GptBertException($"VocabSize {o.VocabSize} is too small: the {specials.Count} special tokens and the alphabet alone need more; use at least a few hundred (thousands are typical)") { Parameter = "VocabSize" };

        var splitter = new BertWordSplitter(o.LowerCase, o.StripAccents ?? o.LowerCase);
        var wordCounts = TrainerCommon.CountWords(texts, specials, o.ShowProgress, splitter.Split);
        if (wordCounts.Count == 0)
            throw new GptBertException("the training corpus is empty: there are no words to learn from; give at least one text with words");

        // The alphabet: every code point of the words, weighted by word frequency (tokenizers' compute_alphabet).
        var alphabet = new Dictionary<int, long>();
        foreach (var (word, count) in wordCounts)
            for (int i = 0; i < word.Length;)
            {
                CollectionsMarshal.GetValueRefOrAddDefault(alphabet, UnicodeTables.CodePointAt(word, i, out int len), out _) += count;
                i += len;
            }
        var kept = alphabet.Select(kv => kv.Key).ToList();
        if (o.LimitAlphabet is int limit && kept.Count > limit)
            kept = alphabet.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key).Take(limit).Select(kv => kv.Key).ToList();
        kept.Sort();
        var keptSet = kept.ToHashSet();

        var idToToken = new List<string>(Math.Min(o.VocabSize, 1 << 20));
        var tokenToId = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var s in specials) TrainerCommon.AddToken(idToToken, tokenToId, s);
        foreach (int cp in kept) TrainerCommon.AddToken(idToToken, tokenToId, char.ConvertFromUtf32(cp));
        string prefix = o.ContinuingSubwordPrefix;
        var continuing = new SortedSet<int>();
        foreach (var word in wordCounts.Keys)
        {
            UnicodeTables.CodePointAt(word, 0, out int i);
            while (i < word.Length)
            {
                int cp = UnicodeTables.CodePointAt(word, i, out int len);
                if (keptSet.Contains(cp)) continuing.Add(cp);
                i += len;
            }
        }
        foreach (int cp in continuing) TrainerCommon.AddToken(idToToken, tokenToId, prefix + char.ConvertFromUtf32(cp));
        if (o.VocabSize < idToToken.Count)
            throw new GptBertException($"VocabSize {o.VocabSize} is too small: the special tokens ({specials.Count}) and this corpus's alphabet ({kept.Count} characters + {continuing.Count} {prefix}-continuations) alone need {idToToken.Count}; use at least {idToToken.Count} (thousands are typical)") { Parameter = "VocabSize" };

        var words = new List<(int[], long)>(wordCounts.Count);
        var syms = new List<int>(32);
        foreach (var (word, count) in wordCounts)
        {
            syms.Clear();
            for (int i = 0; i < word.Length;)
            {
                int cp = UnicodeTables.CodePointAt(word, i, out int len);
                if (keptSet.Contains(cp))
                {
                    string c = char.ConvertFromUtf32(cp);
                    syms.Add(tokenToId[i == 0 ? c : prefix + c]);
                }
                i += len;
            }
            words.Add((syms.ToArray(), count));
        }

        var learner = new MergeLearner(idToToken, tokenToId, words);
        learner.Learn(o.VocabSize, o.MinFrequency, prefix, o.ShowProgress);

        return new WordPieceTokenizer(idToToken, new WordPieceOptions
        {
            LowerCase = o.LowerCase,
            StripAccents = o.StripAccents,
            ContinuingSubwordPrefix = prefix,
            AdditionalSpecialTokens = specials.Where(s => s is not ("[PAD]" or "[UNK]" or "[CLS]" or "[SEP]" or "[MASK]")).ToList(),
        });
    }
}
