using System.Text;
using System.Text.RegularExpressions;

namespace GptBert.Reporting;

/// <summary>Corpus BLEU with its parts, as sacreBLEU prints them: <c>BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ...)</c>.</summary>
public sealed record BleuScore(double Score, IReadOnlyList<double> Precisions, double BrevityPenalty, int HypothesisLength, int ReferenceLength)
{
    public override string ToString() =>
        FormattableString.Invariant($"BLEU = {Score:0.00} {string.Join('/', Precisions.Select(p => p.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture)))} (BP = {BrevityPenalty:0.000} hyp_len = {HypothesisLength} ref_len = {ReferenceLength})");
}

/// <summary>
/// Corpus BLEU exactly as sacreBLEU 2.x computes it by default (<c>sacrebleu.corpus_bleu(hyps, [refs])</c>):
/// the 13a tokenizer (mteval-v13a), n-grams up to order 4 clipped by the maximum count over the
/// references, the closest reference length per sentence (ties go to the shorter), brevity penalty
/// <c>exp(1 - r/c)</c> when the hypotheses are shorter, and "exp" smoothing (a zero-match order gets
/// <c>100 / (2^k * total)</c>, k counting the zero orders so far). No lowercasing.
/// Written here rather than taken from a package: no maintained .NET sacreBLEU port is served.
/// </summary>
public static class Bleu
{
    public const int MaxOrder = 4;

    /// <summary>Corpus BLEU of <paramref name="hypotheses"/> against one reference each.</summary>
    public static BleuScore Corpus(IReadOnlyList<string> hypotheses, IReadOnlyList<string> references) =>
        Corpus(hypotheses, references.Select(r => (IReadOnlyList<string>)[r]).ToList());

    /// <summary>Corpus BLEU; <paramref name="references"/>[i] holds every reference of hypothesis i.</summary>
    public static BleuScore Corpus(IReadOnlyList<string> hypotheses, IReadOnlyList<IReadOnlyList<string>> references)
    {
        ArgumentNullException.ThrowIfNull(hypotheses);
        ArgumentNullException.ThrowIfNull(references);
        if (hypotheses.Count != references.Count)
            throw new GptBertException($"BLEU needs one reference entry per hypothesis ({hypotheses.Count} hypotheses, {references.Count} references).");
        var correct = new long[MaxOrder];
        var total = new long[MaxOrder];
        long sysLen = 0, refLen = 0;
        for (int s = 0; s < hypotheses.Count; s++)
        {
            var hyp = Tokenize13a(hypotheses[s]);
            if (references[s].Count == 0) throw new GptBertException($"Hypothesis {s} has no reference.");
            var refs = references[s].Select(Tokenize13a).ToList();
            // Closest reference length; on a tie the shorter one (sacreBLEU's extract_reference_info).
            int closest = refs[0].Length, closestDiff = int.MaxValue;
            foreach (var r in refs)
            {
                int diff = Math.Abs(hyp.Length - r.Length);
                if (diff < closestDiff || (diff == closestDiff && r.Length < closest)) { closestDiff = diff; closest = r.Length; }
            }
            sysLen += hyp.Length;
            refLen += closest;
            // Clip each hypothesis n-gram by its maximum count in any single reference.
            var maxRef = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var r in refs)
                foreach (var (ng, c) in NGrams(r, 1, MaxOrder))
                    if (!maxRef.TryGetValue(ng, out int m) || c > m) maxRef[ng] = c;
            foreach (var (ng, c) in NGrams(hyp, 1, MaxOrder))
            {
                int n = ng.Count(ch => ch == '\u0001') + 1;
                total[n - 1] += c;
                if (maxRef.TryGetValue(ng, out int m)) correct[n - 1] += Math.Min(c, m);
            }
        }
        return FromStatistics(correct, total, sysLen, refLen);
    }

    /// <summary>sacreBLEU's <c>compute_bleu</c> with smooth_method="exp" and no effective order.</summary>
    public static BleuScore FromStatistics(IReadOnlyList<long> correct, IReadOnlyList<long> total, long sysLen, long refLen)
    {
        var precisions = new double[MaxOrder];
        double bp = sysLen < refLen ? (sysLen > 0 ? Math.Exp(1 - (double)refLen / sysLen) : 0.0) : 1.0;
        if (correct[0] == 0) return new BleuScore(0.0, precisions, bp, (int)sysLen, (int)refLen);
        double smooth = 1.0;
        for (int n = 0; n < MaxOrder; n++)
        {
            if (total[n] == 0) break;
            if (correct[n] == 0) { smooth *= 2; precisions[n] = 100.0 / (smooth * total[n]); }
            else precisions[n] = 100.0 * correct[n] / total[n];
        }
        // sacreBLEU's my_log maps 0 to -9999999999, which drives the score to 0.
        double logSum = precisions.Sum(p => p == 0 ? -9999999999.0 : Math.Log(p));
        return new BleuScore(bp * Math.Exp(logSum / MaxOrder), precisions, bp, (int)sysLen, (int)refLen);
    }

    static readonly (Regex Pattern, string Replacement)[] Rules13a =
    [
        (new Regex(@"([\{-\~\[-\` -\&\(-\+\:-\@\/])", RegexOptions.Compiled), " $1 "),
        (new Regex(@"([^0-9])([\.,])", RegexOptions.Compiled), "$1 $2 "), // period/comma unless preceded by a digit
        (new Regex(@"([\.,])([^0-9])", RegexOptions.Compiled), " $1 $2"), // period/comma unless followed by a digit
        (new Regex(@"([0-9])(-)", RegexOptions.Compiled), "$1 $2 "),      // dash after a digit
    ];

    /// <summary>sacreBLEU's <c>Tokenizer13a</c> (mteval-v13a.pl's tokenization); returns the tokens.</summary>
    public static string[] Tokenize13a(string line)
    {
        line = line.Replace("<skipped>", "").Replace("-\n", "").Replace("\n", " ");
        if (line.Contains('&'))
            line = line.Replace("&quot;", "\"").Replace("&amp;", "&").Replace("&lt;", "<").Replace("&gt;", ">");
        line = $" {line} ";
        foreach (var (pattern, replacement) in Rules13a) line = pattern.Replace(line, replacement);
        return line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>Counts of every n-gram of orders <paramref name="min"/>..<paramref name="max"/>, tokens joined by U+0001.</summary>
    internal static Dictionary<string, int> NGrams(IReadOnlyList<string> tokens, int min, int max)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int n = min; n <= max; n++)
            for (int i = 0; i + n <= tokens.Count; i++)
            {
                var key = string.Join('\u0001', tokens.Skip(i).Take(n));
                counts[key] = counts.GetValueOrDefault(key) + 1;
            }
        return counts;
    }
}

/// <summary>
/// Corpus chrF as sacreBLEU 2.x computes it by default (<c>sacrebleu.corpus_chrf</c>): character
/// n-grams of orders 1..6 over the sentence with all whitespace removed, word order 0 (2 gives chrF++,
/// words split on whitespace with sacreBLEU's punctuation splitting), beta 2, statistics summed over the
/// corpus and, per sentence, taken from the reference with the best sentence chrF. Precision and recall
/// are averaged over the orders where both sides have n-grams (sacreBLEU's default, not eps smoothing).
/// </summary>
public static class ChrF
{
    public static double Corpus(IReadOnlyList<string> hypotheses, IReadOnlyList<string> references, int charOrder = 6, int wordOrder = 0, double beta = 2) =>
        Corpus(hypotheses, references.Select(r => (IReadOnlyList<string>)[r]).ToList(), charOrder, wordOrder, beta);

    public static double Corpus(IReadOnlyList<string> hypotheses, IReadOnlyList<IReadOnlyList<string>> references, int charOrder = 6, int wordOrder = 0, double beta = 2)
    {
        ArgumentNullException.ThrowIfNull(hypotheses);
        ArgumentNullException.ThrowIfNull(references);
        if (hypotheses.Count != references.Count)
            throw new GptBertException($"chrF needs one reference entry per hypothesis ({hypotheses.Count} hypotheses, {references.Count} references).");
        var corpus = new long[3 * (charOrder + wordOrder)];
        for (int s = 0; s < hypotheses.Count; s++)
        {
            var hypNgrams = Extract(hypotheses[s], charOrder, wordOrder);
            long[]? best = null;
            double bestF = -1;
            foreach (var reference in references[s])
            {
                var stats = Statistics(hypNgrams, Extract(reference, charOrder, wordOrder));
                double f = FScore(stats, beta);
                if (f > bestF) { bestF = f; best = stats; }
            }
            if (best is null) throw new GptBertException($"Hypothesis {s} has no reference.");
            for (int i = 0; i < corpus.Length; i++) corpus[i] += best[i];
        }
        return FScore(corpus, beta);
    }

    static List<Dictionary<string, int>> Extract(string sentence, int charOrder, int wordOrder)
    {
        var result = new List<Dictionary<string, int>>();
        // Characters are Unicode code points, as Python's str slicing sees them.
        var chars = string.Concat(sentence.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
            .EnumerateRunes().Select(r => r.ToString()).ToArray();
        for (int n = 1; n <= charOrder; n++)
        {
            var counts = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int i = 0; i + n <= chars.Length; i++)
            {
                var key = string.Concat(chars.AsSpan(i, n).ToArray());
                counts[key] = counts.GetValueOrDefault(key) + 1;
            }
            result.Add(counts);
        }
        if (wordOrder > 0)
        {
            var words = WordsForChrFPlusPlus(sentence);
            for (int n = 1; n <= wordOrder; n++) result.Add(Bleu.NGrams(words, n, n));
        }
        return result;
    }

    /// <summary>sacreBLEU's <c>_remove_punctuation</c> for chrF++: a leading or trailing punctuation character becomes its own word.</summary>
    static List<string> WordsForChrFPlusPlus(string sentence)
    {
        var words = new List<string>();
        foreach (var w in sentence.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
        {
            if (w.Length == 1) { words.Add(w); continue; }
            bool first = IsPunct(w[0]);
            if (IsPunct(w[^1])) { words.Add(w[..^1]); words.Add(w[^1..]); }
            else if (first) { words.Add(w[..1]); words.Add(w[1..]); }
            else words.Add(w);
        }
        return words;
        static bool IsPunct(char c) => "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".Contains(c); // Python's string.punctuation
    }

    static long[] Statistics(List<Dictionary<string, int>> hyp, List<Dictionary<string, int>> reference)
    {
        var stats = new long[3 * hyp.Count];
        for (int n = 0; n < hyp.Count; n++)
        {
            long match = 0;
            foreach (var (ng, c) in hyp[n]) if (reference[n].TryGetValue(ng, out int r)) match += Math.Min(c, r);
            stats[3 * n] = hyp[n].Values.Sum();
            stats[3 * n + 1] = reference[n].Values.Sum();
            stats[3 * n + 2] = match;
        }
        return stats;
    }

    /// <summary>sacreBLEU's <c>CHRF._compute_f_score</c> without eps smoothing.</summary>
    public static double FScore(IReadOnlyList<long> stats, double beta)
    {
        double factor = beta * beta, avgPrec = 0, avgRec = 0;
        int effective = 0;
        for (int i = 0; i < stats.Count / 3; i++)
        {
            long nHyp = stats[3 * i], nRef = stats[3 * i + 1], nMatch = stats[3 * i + 2];
            if (nHyp > 0 && nRef > 0) { avgPrec += (double)nMatch / nHyp; avgRec += (double)nMatch / nRef; effective++; }
        }
        if (effective == 0) return 0.0;
        avgPrec /= effective;
        avgRec /= effective;
        if (avgPrec + avgRec == 0) return 0.0;
        return 100 * (1 + factor) * avgPrec * avgRec / (factor * avgPrec + avgRec);
    }
}

/// <summary>Precision, recall and F1 of one ROUGE variant (rouge-score's <c>Score</c>).</summary>
public sealed record RougeScore(double Precision, double Recall, double F1);

/// <summary>Mean per-pair ROUGE-1, ROUGE-2 and ROUGE-L F1 (0-1), plus the pair count.</summary>
public sealed record RougeSummary(double Rouge1, double Rouge2, double RougeL, int Count);

/// <summary>
/// ROUGE-1/2/L as Google's rouge-score package computes them with <c>use_stemmer=False</c>
/// (<c>rouge_scorer.RougeScorer(["rouge1","rouge2","rougeL"]).score(target, prediction)</c>): its
/// default tokenizer lowercases, turns every character outside [a-z0-9] into a space (so accented and
/// CJK letters vanish) and splits; ROUGE-N counts clipped n-gram overlaps; ROUGE-L is the longest common
/// subsequence of the whole pair (not the summary-level rougeLsum). Porter stemming is not implemented.
/// The corpus figure is the mean of the per-pair F1s.
/// </summary>
public static class Rouge
{
    static readonly Regex NonAlphanumeric = new("[^a-z0-9]+", RegexOptions.Compiled);

    /// <summary>rouge-score's <c>tokenize.tokenize</c> without stemming.</summary>
    public static string[] Tokenize(string text) =>
        NonAlphanumeric.Replace(text.ToLowerInvariant(), " ").Split(' ', StringSplitOptions.RemoveEmptyEntries);

    public static RougeScore RougeN(string target, string prediction, int n)
    {
        var t = Bleu.NGrams(Tokenize(target), n, n);
        var p = Bleu.NGrams(Tokenize(prediction), n, n);
        long overlap = 0;
        foreach (var (ng, c) in t) if (p.TryGetValue(ng, out int pc)) overlap += Math.Min(c, pc);
        double precision = (double)overlap / Math.Max(p.Values.Sum(), 1);
        double recall = (double)overlap / Math.Max(t.Values.Sum(), 1);
        return new RougeScore(precision, recall, F(precision, recall));
    }

    public static RougeScore RougeL(string target, string prediction)
    {
        var t = Tokenize(target);
        var p = Tokenize(prediction);
        if (t.Length == 0 || p.Length == 0) return new RougeScore(0, 0, 0);
        var table = new int[t.Length + 1, p.Length + 1];
        for (int i = 1; i <= t.Length; i++)
            for (int j = 1; j <= p.Length; j++)
                table[i, j] = t[i - 1] == p[j - 1] ? table[i - 1, j - 1] + 1 : Math.Max(table[i - 1, j], table[i, j - 1]);
        double lcs = table[t.Length, p.Length];
        double precision = lcs / p.Length, recall = lcs / t.Length;
        return new RougeScore(precision, recall, F(precision, recall));
    }

    /// <summary>Mean per-pair F1 of ROUGE-1, ROUGE-2 and ROUGE-L.</summary>
    public static RougeSummary Corpus(IReadOnlyList<string> predictions, IReadOnlyList<string> targets)
    {
        ArgumentNullException.ThrowIfNull(predictions);
        ArgumentNullException.ThrowIfNull(targets);
        if (predictions.Count != targets.Count)
            throw new GptBertException($"ROUGE needs one reference per prediction ({predictions.Count} predictions, {targets.Count} references).");
        if (predictions.Count == 0) throw new GptBertException("ROUGE needs at least one prediction/reference pair.");
        double r1 = 0, r2 = 0, rl = 0;
        for (int i = 0; i < predictions.Count; i++)
        {
            r1 += RougeN(targets[i], predictions[i], 1).F1;
            r2 += RougeN(targets[i], predictions[i], 2).F1;
            rl += RougeL(targets[i], predictions[i]).F1;
        }
        int count = predictions.Count;
        return new RougeSummary(r1 / count, r2 / count, rl / count, count);
    }

    static double F(double precision, double recall) =>
        precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
}
