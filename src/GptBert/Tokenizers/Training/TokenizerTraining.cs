namespace GptBert.Tokenizers.Training;

/// <summary>Settings of <see cref="TokenizerTraining.Train"/>, shared by both kinds.</summary>
public sealed record TokenizerTrainingOptions
{
    /// <summary>Size of the vocabulary to learn (special tokens and alphabet included).</summary>
    public int VocabSize { get; init; } = 30000;
    /// <summary>A pair is merged only if it occurs at least this often.</summary>
    public long MinFrequency { get; init; } = 2;
    /// <summary>null: the kind's default (bpe: &lt;|endoftext|&gt;; wordpiece: [PAD] [UNK] [CLS] [SEP] [MASK]).</summary>
    public IReadOnlyList<string>? SpecialTokens { get; init; }
    /// <summary>wordpiece only: lowercase the text.</summary>
    public bool LowerCase { get; init; } = true;
    /// <summary>wordpiece only: strip accents; null follows LowerCase.</summary>
    public bool? StripAccents { get; init; }
    /// <summary>wordpiece only: keep at most this many characters in the alphabet (null: all).</summary>
    public int? LimitAlphabet { get; init; } = 1000;
    public Action<TrainingProgress>? ShowProgress { get; init; }
}

/// <summary>Entry point for training a tokenizer from a corpus (the CLI's <c>gptbert tokenizer train</c>).</summary>
public static class TokenizerTraining
{
    public const string Bpe = "bpe";
    public const string WordPiece = "wordpiece";
    public static IReadOnlyList<string> Kinds { get; } = [Bpe, WordPiece];

    /// <summary>Trains a "bpe" (GPT-2 byte-level BPE) or "wordpiece" (BERT) tokenizer on texts.</summary>
    public static ITextTokenizer Train(string kind, IEnumerable<string> texts, TokenizerTrainingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var o = options ?? new TokenizerTrainingOptions();
        switch (kind?.Trim().ToLowerInvariant())
        {
            case Bpe:
                var bpe = new BpeTrainerOptions { VocabSize = o.VocabSize, MinFrequency = o.MinFrequency, ShowProgress = o.ShowProgress };
                if (o.SpecialTokens is not null) bpe = bpe with { SpecialTokens = o.SpecialTokens };
                return new BpeTrainer(bpe).Train(texts);
            case WordPiece:
                var wp = new WordPieceTrainerOptions
                {
                    VocabSize = o.VocabSize, MinFrequency = o.MinFrequency, LowerCase = o.LowerCase, StripAccents = o.StripAccents,
                    LimitAlphabet = o.LimitAlphabet, ShowProgress = o.ShowProgress,
                };
                if (o.SpecialTokens is not null) wp = wp with { SpecialTokens = o.SpecialTokens };
                return new WordPieceTrainer(wp).Train(texts);
            default:
                throw new GptBertException($"unknown tokenizer kind '{kind}'; use Kind bpe (GPT-2 byte-level BPE) or Kind wordpiece (BERT)") { Parameter = "Kind" };
        }
    }

    /// <summary>Trains, then saves into outputDirectory (see <see cref="Save"/>).</summary>
    public static ITextTokenizer TrainAndSave(string kind, IEnumerable<string> texts, string outputDirectory, TokenizerTrainingOptions? options = null)
    {
        CheckOutput(kind?.Trim().ToLowerInvariant() ?? "", outputDirectory);   // fail before a long training run
        var tokenizer = Train(kind!, texts, options);
        Save(tokenizer, outputDirectory);
        return tokenizer;
    }

    /// <summary>
    /// Writes the tokenizer's Hugging Face files (bpe: vocab.json, merges.txt; wordpiece: vocab.txt; both:
    /// tokenizer_config.json, special_tokens_map.json). A new or empty directory is written as a whole (into a
    /// temporary sibling, then renamed); into an existing one each file is replaced atomically. Refuses a directory
    /// holding tokenizer files of another kind, which loaders would pick instead of the new ones.
    /// </summary>
    public static void Save(ITextTokenizer tokenizer, string outputDirectory)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        CheckOutput(tokenizer.Kind, outputDirectory);
        var dir = Path.TrimEndingDirectorySeparator(Path.GetFullPath(outputDirectory));
        try
        {
            if (Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any())
            {
                tokenizer.Save(dir);
                return;
            }
            var parent = Path.GetDirectoryName(dir) ?? throw new GptBertException($"cannot write the tokenizer into '{dir}'; give a directory below it");
            Directory.CreateDirectory(parent);
            var tmp = Path.Combine(parent, $".{Path.GetFileName(dir)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
            try
            {
                tokenizer.Save(tmp);
                if (Directory.Exists(dir)) Directory.Delete(dir);   // empty
                Directory.Move(tmp, dir);
            }
            catch
            {
                try { if (Directory.Exists(tmp)) Directory.Delete(tmp, true); } catch { /* best effort */ }
                throw;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new GptBertException($"cannot write the tokenizer to '{dir}': {e.Message.TrimEnd('.')}; check the path, free space and permissions", e);
        }
    }

    static void CheckOutput(string kind, string outputDirectory)
    {
        if (string.IsNullOrWhiteSpace(outputDirectory))
            throw new GptBertException("no output directory given for the tokenizer; pass Output DIR") { Parameter = "Output" };
        if (File.Exists(outputDirectory))
            throw new GptBertException($"output '{outputDirectory}' is a file; give a directory for the tokenizer files");
        if (!Directory.Exists(outputDirectory)) return;
        string[] foreign = kind switch
        {
            Bpe => ["tokenizer.json", "vocab.txt"],
            WordPiece => ["tokenizer.json", "vocab.json", "merges.txt"],
            _ => [],
        };
        foreach (var f in foreign)
            if (File.Exists(Path.Combine(outputDirectory, f)))
                throw new GptBertException($"output directory '{outputDirectory}' already has {f} from another tokenizer, which loaders would pick instead of the new files; delete it or choose an empty directory");
    }
}
