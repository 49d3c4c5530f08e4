using System.Text;
using GptBert.Data;
using GptBert.Tokenizers;

namespace GptBert.Compare;

/// <summary>
/// Computes a <see cref="DatasetProfile"/> from the data itself: sizes, label balance, text lengths in characters
/// (and in tokens, when a tokenizer is given) and the Unicode scripts of the letters.
/// </summary>
/// <remarks>
/// <para>Lengths and scripts cover every text the comparison feeds the models: train, validation and test together.
/// The length of a pair example is the length of its text plus its pair. Label counts and the imbalance ratio are
/// those of the training data; the majority baseline is that of the training majority label measured on the test set
/// (else the validation set, else the training set), the floor any classifier must beat on the data it is scored on.</para>
/// <para>Percentiles interpolate linearly between the two nearest ranks (NumPy's default), so the median of an even
/// count is the mean of the two middle values.</para>
/// <para>Token lengths come from at most <see cref="TokenSampleSize"/> texts (all of them when there are fewer), chosen
/// by reservoir sampling with a fixed seed, so the same data always gives the same figure. They include the
/// tokenizer's special tokens and are never truncated.</para>
/// </remarks>
public static class DatasetProfiler
{
    /// <summary>Largest number of texts tokenized for <see cref="DatasetProfile.P95Tokens"/>.</summary>
    public const int TokenSampleSize = 2000;

    /// <summary>The scripts <see cref="ScriptOf"/> names, in display order; letters of any other script count as "Other".</summary>
    public static readonly IReadOnlyList<string> ScriptNames =
        ["Latin", "Greek", "Cyrillic", "Arabic", "Hebrew", "Devanagari", "Han", "Hiragana", "Katakana", "Hangul", "Thai", "Other"];

    /// <summary>Profile of labeled data for the classify task.</summary>
    public static DatasetProfile Profile(LabeledDataset train, LabeledDataset? validation = null, LabeledDataset? test = null,
        ITextTokenizer? tokenizer = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        if (train.Count == 0) throw new GptBertException($"{train.Name} has no examples; a dataset profile needs training data");
        var counts = train.LabelCounts();
        double imbalance = counts.Count == 0 ? 1 : counts.Values.Max() / (double)counts.Values.Min();
        var scoredOn = test is { Count: > 0 } ? test : validation is { Count: > 0 } ? validation : train;
        var texts = new[] { train, validation, test }.Where(d => d is not null).SelectMany(d => d!).Select(e => (e.Text, e.Pair));
        var profile = Measure(texts, tokenizer);
        return profile with
        {
            TrainExamples = train.Count,
            ValidationExamples = validation?.Count ?? 0,
            TestExamples = test?.Count ?? 0,
            LabelCounts = counts,
            ImbalanceRatio = imbalance,
            MajorityBaselineAccuracy = train.MajorityBaselineAccuracy(scoredOn),
            HasPairs = train.HasPairs || (validation?.HasPairs ?? false) || (test?.HasPairs ?? false),
        };
    }

    /// <summary>
    /// Profile of unlabeled texts for the generate and search tasks: no labels, so label counts stay empty, the
    /// imbalance ratio 1 and the majority baseline 0. <paramref name="train"/> is enumerated once (it may be a stream).
    /// </summary>
    public static DatasetProfile ProfileCorpus(IEnumerable<string> train, IEnumerable<string>? validation = null,
        IEnumerable<string>? test = null, ITextTokenizer? tokenizer = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        int nTrain = 0, nValidation = 0, nTest = 0;
        IEnumerable<(string, string?)> Count(IEnumerable<string>? texts, Action increment)
        {
            if (texts is null) yield break;
            foreach (var t in texts) { increment(); yield return (t, null); }
        }
        var all = Count(train, () => nTrain++).Concat(Count(validation, () => nValidation++)).Concat(Count(test, () => nTest++));
        var profile = Measure(all, tokenizer);
        if (nTrain == 0) throw new GptBertException("the training texts are empty; a dataset profile needs at least one text");
        return profile with { TrainExamples = nTrain, ValidationExamples = nValidation, TestExamples = nTest };
    }

    /// <summary>Share of letters per script over <paramref name="texts"/>, largest first; empty when there are no letters.</summary>
    public static IReadOnlyDictionary<string, double> Scripts(IEnumerable<string> texts)
    {
        var letters = new long[ScriptNames.Count];
        foreach (var t in texts) CountScripts(t, letters);
        return Shares(letters);
    }

    /// <summary>
    /// The script of a letter by its code point range (the Unicode blocks of each script), or null when
    /// <paramref name="codePoint"/> is not a letter (digits, punctuation, spaces, combining marks).
    /// </summary>
    public static string? ScriptOf(int codePoint)
    {
        if (!Rune.IsValid(codePoint) || !Rune.IsLetter(new Rune(codePoint))) return null;
        return codePoint switch
        {
            <= 0x024F or (>= 0x0250 and <= 0x02AF) or (>= 0x1D00 and <= 0x1DBF) or (>= 0x1E00 and <= 0x1EFF)
                or (>= 0x2C60 and <= 0x2C7F) or (>= 0xA720 and <= 0xA7FF) or (>= 0xAB30 and <= 0xAB6F)
                or (>= 0xFF21 and <= 0xFF3A) or (>= 0xFF41 and <= 0xFF5A) => "Latin",
            (>= 0x0370 and <= 0x03FF) or (>= 0x1F00 and <= 0x1FFF) => "Greek",
            (>= 0x0400 and <= 0x052F) or (>= 0x1C80 and <= 0x1C8F) or (>= 0x2DE0 and <= 0x2DFF) or (>= 0xA640 and <= 0xA69F) => "Cyrillic",
            (>= 0x0590 and <= 0x05FF) or (>= 0xFB1D and <= 0xFB4F) => "Hebrew",
            (>= 0x0600 and <= 0x06FF) or (>= 0x0750 and <= 0x077F) or (>= 0x0870 and <= 0x08FF)
                or (>= 0xFB50 and <= 0xFDFF) or (>= 0xFE70 and <= 0xFEFF) => "Arabic",
            (>= 0x0900 and <= 0x097F) or (>= 0xA8E0 and <= 0xA8FF) => "Devanagari",
            >= 0x0E00 and <= 0x0E7F => "Thai",
            (>= 0x1100 and <= 0x11FF) or (>= 0x3130 and <= 0x318F) or (>= 0xA960 and <= 0xA97F) or (>= 0xAC00 and <= 0xD7FF)
                or (>= 0xFFA0 and <= 0xFFDC) => "Hangul",
            (>= 0x3040 and <= 0x309F) or (>= 0x1B000 and <= 0x1B16F) => "Hiragana",
            (>= 0x30A0 and <= 0x30FF) or (>= 0x31F0 and <= 0x31FF) or (>= 0xFF66 and <= 0xFF9F) => "Katakana",
            0x3005 or 0x3006 or (>= 0x3400 and <= 0x4DBF) or (>= 0x4E00 and <= 0x9FFF) or (>= 0xF900 and <= 0xFAFF)
                or (>= 0x20000 and <= 0x323AF) => "Han",
            _ => "Other",
        };
    }

    /// <summary>Everything but the sizes and labels: lengths, token p95, scripts, pairs.</summary>
    static DatasetProfile Measure(IEnumerable<(string Text, string? Pair)> texts, ITextTokenizer? tokenizer)
    {
        var lengths = new List<int>();
        var letters = new long[ScriptNames.Count];
        var sample = new List<(string, string?)>();
        var rng = new SeededRandom(20240601);
        bool pairs = false;
        long seen = 0;
        foreach (var (text, pair) in texts)
        {
            lengths.Add(text.Length + (pair?.Length ?? 0));
            CountScripts(text, letters);
            if (pair is not null) { CountScripts(pair, letters); pairs = true; }
            // Reservoir sampling (Algorithm R): every text ends up in the sample with the same probability.
            seen++;
            if (tokenizer is null) continue;
            if (sample.Count < TokenSampleSize) sample.Add((text, pair));
            else if (rng.NextDouble() * seen < TokenSampleSize) sample[rng.Next(TokenSampleSize)] = (text, pair);
        }
        if (lengths.Count == 0) return new DatasetProfile();
        lengths.Sort();
        var asDouble = lengths.Select(l => (double)l).ToList();
        double p95Tokens = 0;
        if (tokenizer is not null)
        {
            var tokens = sample.Select(s => (double)tokenizer.Encode(s.Item1, s.Item2).Length).Order().ToList();
            p95Tokens = Percentile(tokens, 0.95);
        }
        return new DatasetProfile
        {
            MeanChars = asDouble.Average(),
            MedianChars = Percentile(asDouble, 0.5),
            P95Chars = Percentile(asDouble, 0.95),
            MaxChars = lengths[^1],
            P95Tokens = p95Tokens,
            Scripts = Shares(letters),
            HasPairs = pairs,
        };
    }

    /// <summary>Linear interpolation between closest ranks of sorted values (NumPy's default "linear" method).</summary>
    public static double Percentile(IReadOnlyList<double> sorted, double q)
    {
        if (sorted.Count == 0) return double.NaN;
        double pos = q * (sorted.Count - 1);
        int lo = (int)Math.Floor(pos), hi = Math.Min(lo + 1, sorted.Count - 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }

    static void CountScripts(string text, long[] letters)
    {
        foreach (var rune in text.EnumerateRunes())
            if (ScriptOf(rune.Value) is { } script) letters[IndexOf(script)]++;
    }

    static int IndexOf(string script)
    {
        for (int i = 0; i < ScriptNames.Count; i++) if (ScriptNames[i] == script) return i;
        return ScriptNames.Count - 1;
    }

    static IReadOnlyDictionary<string, double> Shares(long[] letters)
    {
        long total = letters.Sum();
        var shares = new Dictionary<string, double>();
        if (total == 0) return shares;
        foreach (int i in Enumerable.Range(0, letters.Length).Where(i => letters[i] > 0).OrderByDescending(i => letters[i]).ThenBy(i => i))
            shares[ScriptNames[i]] = letters[i] / (double)total;
        return shares;
    }
}
