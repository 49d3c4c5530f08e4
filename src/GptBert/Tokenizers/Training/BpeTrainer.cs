using System.Text;

namespace GptBert.Tokenizers.Training;

/// <summary>Settings of <see cref="BpeTrainer"/> (those of Hugging Face's ByteLevelBPETokenizer.train).</summary>
public sealed record BpeTrainerOptions
{
    /// <summary>Size of the vocabulary to learn, special tokens and the 256 byte symbols included.</summary>
    public int VocabSize { get; init; } = 30000;
    /// <summary>A pair is merged only if it occurs at least this often (weighted by word frequency).</summary>
    public long MinFrequency { get; init; } = 2;
    /// <summary>Special tokens, given the first ids in this order. "&lt;|endoftext|&gt;" becomes the tokenizer's
    /// unk/bos/eos token (GPT-2); "&lt;s&gt;", "&lt;/s&gt;", "&lt;unk&gt;", "&lt;pad&gt;", "&lt;mask&gt;" take the
    /// RoBERTa roles; any other is an additional special token.</summary>
    public IReadOnlyList<string> SpecialTokens { get; init; } = [Gpt2Data.EndOfText];
    /// <summary>Called as training advances (word counting, merges).</summary>
    public Action<TrainingProgress>? ShowProgress { get; init; }
}

/// <summary>
/// Learns a GPT-2 style byte-level BPE from a corpus, as Hugging Face tokenizers' BpeTrainer does for
/// ByteLevelBPETokenizer: GPT-2 pre-tokenization into words, bytes mapped to GPT-2's byte-level chars, word
/// frequencies, an initial alphabet of all 256 byte symbols (so every text round-trips), then merges.
/// Vocabulary ids: special tokens first (0..), then the 256 byte symbols in code point order of their chars (the
/// order of GPT-2's vocab.json), then the merged tokens in merge order.
/// </summary>
public sealed class BpeTrainer
{
    public BpeTrainerOptions Options { get; }

    public BpeTrainer(BpeTrainerOptions? options = null) => Options = options ?? new BpeTrainerOptions();

    /// <summary>Trains on texts (read once, in order) and returns the tokenizer.</summary>
    public ByteLevelBpeTokenizer Train(IEnumerable<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var specials = TrainerCommon.CheckSpecials(Options.SpecialTokens);
        if (Options.MinFrequency < 0)
            throw new GptBertException($"minimum frequency {Options.MinFrequency} is negative; use 0 or more (2 is usual)");

        // Initial vocabulary: specials, then the byte symbols sorted by char (as tokenizers' compute_alphabet sorts).
        var idToToken = new List<string>(Math.Min(Math.Max(Options.VocabSize, 0), 1 << 20));
        var tokenToId = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var s in specials) TrainerCommon.AddToken(idToToken, tokenToId, s);
        foreach (char c in ByteLevel.ByteToChar.Order()) TrainerCommon.AddToken(idToToken, tokenToId, c.ToString());
        if (Options.VocabSize < idToToken.Count)
            throw new GptBertException($"VocabSize {Options.VocabSize} is too small: the byte alphabet (256) and special tokens ({specials.Count}) alone need {idToToken.Count}; use at least {idToToken.Count} (thousands are typical)") { Parameter = "VocabSize" };
        var byteIds = new int[256];
        for (int b = 0; b < 256; b++) byteIds[b] = tokenToId[ByteLevel.ByteToChar[b].ToString()];

        var wordCounts = TrainerCommon.CountWords(texts, specials, Options.ShowProgress, SplitWords);
        if (wordCounts.Count == 0)
            throw new GptBertException("the training corpus is empty: there is no text to learn from; give at least one non-empty text");

        var words = new List<(int[], long)>(wordCounts.Count);
        var buffer = new byte[256];
        foreach (var (word, count) in wordCounts)
        {
            int max = Encoding.UTF8.GetMaxByteCount(word.Length);
            if (buffer.Length < max) buffer = new byte[Math.Max(max, buffer.Length * 2)];
            int n = Encoding.UTF8.GetBytes(word, buffer);   // a lone surrogate becomes U+FFFD, as in the tokenizer
            var syms = new int[n];
            for (int i = 0; i < n; i++) syms[i] = byteIds[buffer[i]];
            words.Add((syms, count));
        }

        var learner = new MergeLearner(idToToken, tokenToId, words);
        var merges = learner.Learn(Options.VocabSize, Options.MinFrequency, null, Options.ShowProgress);

        var mergeStrings = merges.Select(m => (idToToken[m.Left], idToToken[m.Right])).ToList();
        return new ByteLevelBpeTokenizer(tokenToId, mergeStrings, TokenizerOptions(specials));
    }

    /// <summary>GPT-2 pre-tokenization: the words of text[from..to) as the tokenizer cuts them.</summary>
    static void SplitWords(string text, int from, int to, WordSink onWord)
    {
        var seg = text.AsSpan(from, to - from);
        for (int i = 0; i < seg.Length;)
        {
            int end = ByteLevel.NextPiece(seg, i);
            onWord(seg[i..end]);
            i = end;
        }
    }

    ByteLevelBpeOptions TokenizerOptions(IReadOnlyList<string> specials)
    {
        string? Has(string t) => specials.Contains(t) ? t : null;
        string? eot = Has(Gpt2Data.EndOfText);
        var o = new ByteLevelBpeOptions
        {
            UnkToken = Has("<unk>") ?? eot,
            BosToken = Has("<s>") ?? eot,
            EosToken = Has("</s>") ?? eot,
            PadToken = Has("<pad>"),
            MaskToken = Has("<mask>"),
        };
        var roles = new[] { o.UnkToken, o.BosToken, o.EosToken, o.PadToken, o.MaskToken };
        return o with { AdditionalSpecialTokens = specials.Where(s => !roles.Contains(s)).ToList() };
    }
}
