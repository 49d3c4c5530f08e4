using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace GptBert.Reporting;

/// <summary>Corpus BLEU and its statistics, on sacreBLEU's 0-100 scale.</summary>
public sealed record BleuScore(double Score, double[] Precisions, double BrevityPenalty, int HypothesisLength, int ReferenceLength)
{
    public double Ratio => ReferenceLength == 0 ? 0 : (double)HypothesisLength / ReferenceLength;

    /// <summary>sacreBLEU's one-line format: <c>BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"BLEU = {Score:F2} {string.Join('/', Precisions.Select(p => p.ToString("F1", CultureInfo.InvariantCulture)))} (BP = {BrevityPenalty:F3} ratio = {Ratio:F3} hyp_len = {HypothesisLength} ref_len = {ReferenceLength})");
}

/// <summary>Corpus chrF (or chrF++) on sacreBLEU's 0-100 scale.</summary>
public sealed record ChrfScore(double Score, int CharOrder, int WordOrder, double Beta)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"chrF{Beta:0.##}{new string('+', WordOrder)} = {Score:F2}");
}

/// <summary>
/// BLEU and chrF exactly as sacreBLEU 2.x computes them with its defaults:
/// BLEU: the 13a tokenizer (mteval-v13a), case-sensitive, n-grams up to 4 clipped by the maximum count
/// in any reference, corpus-level sums of matches and totals, 'exp' smoothing (the k-th order with no
/// match gets precision 100 / (2^k · total)), the brevity penalty against the closest reference length
/// (the shorter one on ties). chrF: character n-grams up to 6 with whitespace removed, beta 2, optional
/// word n-grams (chrF++ is word order 2, words split off a leading or trailing punctuation mark), the
/// best-scoring reference per segment, statistics summed over the corpus, no eps smoothing.
/// Every prediction has one or more references; empty references are skipped (sacreBLEU's way of giving
/// segments a variable number of references).
/// </summary>
public static class BleuMetrics
{
    public const int MaxOrder = 4;

    // sacrebleu.tokenizers.tokenizer_re.TokenizerRegexp, the part 13a applies after its unescaping.
    static readonly (Regex Pattern, string Replacement)[] Rules =
    [
        (new Regex(@"([\x7B-\x7E\x5B-\x60\x20-\x26\x28-\x2B\x3A-\x40/])", RegexOptions.Compiled), " $1 "), // symbols
        (new Regex(@"([^0-9])([\.,])", RegexOptions.Compiled), "$1 $2 "),  // period and comma unless preceded by a digit
        (new Regex(@"([\.,])([^0-9])", RegexOptions.Compiled), " $1 $2"),  // ... unless followed by a digit
        (new Regex(@"([0-9])(-)", RegexOptions.Compiled), "$1 $2 "),       // dash after a digit
    ];

    /// <summary>sacreBLEU's Tokenizer13a.</summary>
    public static string Tokenize13a(string line)
    {
        line = line.Replace("<skipped>", "").Replace("-\n", "").Replace("\n", " ");
        if (line.Contains('&'))
            line = line.Replace("&quot;", "\"").Replace("&amp;", "&").Replace("&lt;", "<").Replace("&gt;", ">");
        line = $" {line} ";
        foreach (var (pattern, replacement) in Rules) line = pattern.Replace(line, replacement);
        return string.Join(' ', line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
    }

    /// <summary>Corpus BLEU of <paramref name="predictions"/>, each against its list of references.</summary>
    public static BleuScore Bleu(IReadOnlyList<string> predictions, IReadOnlyList<IReadOnlyList<string>> references)
    {
        ArgumentNullException.ThrowIfNull(predictions);
        ArgumentNullException.ThrowIfNull(references);
        MetricInputs.CheckCounts(predictions.Count, references.Count, "reference lists");
        var correct = new long[MaxOrder];
        var total = new long[MaxOrder];
        long hypLen = 0, refLen = 0;
        for (int i = 0; i < predictions.Count; i++)
        {
            var hyp = Words(predictions[i]);
            var refs = Used(references[i], i).Select(Words).ToList();
            hypLen += hyp.Length;
            refLen += ClosestLength(hyp.Length, refs.Select(r => r.Length));
            for (int n = 1; n <= MaxOrder; n++)
            {
                var maxRef = new Dictionary<string, int>();
                foreach (var r in refs)
                    foreach (var (gram, c) in WordNGrams(r, n))
                        if (c > maxRef.GetValueOrDefault(gram)) maxRef[gram] = c;
                foreach (var (gram, c) in WordNGrams(hyp, n))
                {
                    total[n - 1] += c;
                    correct[n - 1] += Math.Min(c, maxRef.GetValueOrDefault(gram));
                }
            }
        }
        return ComputeBleu(correct, total, (int)hypLen, (int)refLen);
    }

    /// <summary>sacrebleu.metrics.bleu.BLEU.compute_bleu with smooth_method='exp', effective_order=False.</summary>
    public static BleuScore ComputeBleu(long[] correct, long[] total, int hypLen, int refLen)
    {
        var precisions = new double[MaxOrder];
        double bp = hypLen < refLen ? (hypLen > 0 ? Math.Exp(1 - (double)refLen / hypLen) : 0) : 1;
        // sacreBLEU stops early when no n-gram of any order matches (its issue #141): score 0, precisions 0.
        if (correct.All(c => c == 0)) return new BleuScore(0, precisions, bp, hypLen, refLen);
        double smooth = 1;
        for (int n = 0; n < MaxOrder; n++)
        {
            if (total[n] == 0) break;
            if (correct[n] == 0) { smooth *= 2; precisions[n] = 100.0 / (smooth * total[n]); }
            else precisions[n] = 100.0 * correct[n] / total[n];
        }
        // my_log(0) = -9999999999 in sacreBLEU, which makes the score 0 when some order has no n-grams at all.
        double logSum = precisions.Sum(p => p == 0 ? -9999999999.0 : Math.Log(p));
        return new BleuScore(bp * Math.Exp(logSum / MaxOrder), precisions, bp, hypLen, refLen);
    }

    static string[] Words(string text) => Tokenize13a(text.TrimEnd()).Split(' ', StringSplitOptions.RemoveEmptyEntries);

    static IEnumerable<string> Used(IReadOnlyList<string> refs, int index)
    {
        var used = refs.Where(r => r is { Length: > 0 }).ToList();
        if (used.Count == 0)
        {
            if (refs.Count == 0) throw new GptBertException($"cannot score prediction {index + 1}: it has no reference; give at least one");
            used.Add("");
        }
        return used;
    }

    static int ClosestLength(int hypLen, IEnumerable<int> refLens)
    {
        int bestDiff = -1, best = -1;
        foreach (int len in refLens)
        {
            int diff = Math.Abs(hypLen - len);
            if (bestDiff == -1 || diff < bestDiff) { bestDiff = diff; best = len; }
            else if (diff == bestDiff && len < best) best = len;
        }
        return best;
    }

    static Dictionary<string, int> WordNGrams(string[] tokens, int n)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i + n <= tokens.Length; i++)
        {
            string key = string.Join(' ', tokens, i, n);
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
        return counts;
    }

    // ---------------------------------------------------------------- chrF

    const string Puncts = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

    /// <summary>Corpus chrF (word order 0) or chrF++ (word order 2), as sacreBLEU's CHRF.</summary>
    public static ChrfScore Chrf(IReadOnlyList<string> predictions, IReadOnlyList<IReadOnlyList<string>> references,
        int charOrder = 6, int wordOrder = 0, double beta = 2)
    {
        ArgumentNullException.ThrowIfNull(predictions);
        ArgumentNullException.ThrowIfNull(references);
        MetricInputs.CheckCounts(predictions.Count, references.Count, "reference lists");
        if (charOrder < 1 || wordOrder < 0) throw new GptBertException("chrF needs a character order of at least 1 and a word order of at least 0");
        int order = charOrder + wordOrder;
        var corpus = new long[3 * order];
        for (int i = 0; i < predictions.Count; i++)
        {
            var hyp = Extract(predictions[i], charOrder, wordOrder);
            long[]? best = null;
            double bestF = -1;
            foreach (var reference in Used(references[i], i))
            {
                var refGrams = Extract(reference, charOrder, wordOrder);
                var stats = new long[3 * order];
                for (int k = 0; k < order; k++)
                {
                    long hypCount = 0, match = 0;
                    foreach (var (gram, c) in hyp[k])
                    {
                        hypCount += c;
                        if (refGrams[k].TryGetValue(gram, out int rc)) match += Math.Min(c, rc);
                    }
                    stats[3 * k] = hypCount;
                    stats[3 * k + 1] = refGrams[k].Values.Sum();
                    stats[3 * k + 2] = match;
                }
                double f = ChrfFromStats(stats, order, beta);
                if (f > bestF) { bestF = f; best = stats; }
            }
            for (int k = 0; k < corpus.Length; k++) corpus[k] += best![k];
        }
        return new ChrfScore(ChrfFromStats(corpus, order, beta), charOrder, wordOrder, beta);
    }

    /// <summary>sacrebleu.metrics.chrf.CHRF._compute_f_score without eps smoothing.</summary>
    static double ChrfFromStats(long[] stats, int order, double beta)
    {
        double factor = beta * beta, avgP = 0, avgR = 0;
        int effective = 0;
        for (int k = 0; k < order; k++)
        {
            long nHyp = stats[3 * k], nRef = stats[3 * k + 1], nMatch = stats[3 * k + 2];
            if (nHyp > 0 && nRef > 0)
            {
                avgP += (double)nMatch / nHyp;
                avgR += (double)nMatch / nRef;
                effective++;
            }
        }
        if (effective == 0) return 0;
        avgP /= effective;
        avgR /= effective;
        return avgP + avgR == 0 ? 0 : 100 * (1 + factor) * avgP * avgR / (factor * avgP + avgR);
    }

    // Character n-grams (whitespace removed, counted in Unicode code points like Python strings), then word n-grams.
    static List<Dictionary<string, int>> Extract(string text, int charOrder, int wordOrder)
    {
        var result = new List<Dictionary<string, int>>();
        var runes = string.Concat(text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
            .EnumerateRunes().Select(r => r.ToString()).ToArray();
        for (int n = 1; n <= charOrder; n++)
        {
            var counts = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int i = 0; i + n <= runes.Length; i++)
            {
                string key = string.Concat(runes.AsSpan(i, n).ToArray());
                counts[key] = counts.GetValueOrDefault(key) + 1;
            }
            result.Add(counts);
        }
        if (wordOrder > 0)
        {
            var words = SplitPunctuation(text);
            for (int n = 1; n <= wordOrder; n++) result.Add(WordNGrams(words, n));
        }
        return result;
    }

    // CHRF._remove_punctuation: one leading or trailing punctuation mark becomes its own word ("(hi)" -> "(hi", ")").
    static string[] SplitPunctuation(string text)
    {
        var words = new List<string>();
        foreach (var w in text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
        {
            if (w.Length == 1) words.Add(w);
            else if (Puncts.Contains(w[^1])) { words.Add(w[..^1]); words.Add(w[^1..]); }
            else if (Puncts.Contains(w[0])) { words.Add(w[..1]); words.Add(w[1..]); }
            else words.Add(w);
        }
        return words.ToArray();
    }
}
