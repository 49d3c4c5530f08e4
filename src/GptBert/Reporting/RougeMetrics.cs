using System.Text.RegularExpressions;

namespace GptBert.Reporting;

/// <summary>Precision, recall and F-measure of one ROUGE variant, in [0, 1] like rouge-score.</summary>
public sealed record RougeValue(double Precision, double Recall, double FMeasure);

/// <summary>ROUGE-1, ROUGE-2 and ROUGE-L of one pair, or their means over a corpus.</summary>
public sealed record RougeScore(RougeValue Rouge1, RougeValue Rouge2, RougeValue RougeL, int Count);

/// <summary>
/// ROUGE-1, ROUGE-2 and ROUGE-L as Google's rouge-score package computes them per pair
/// (<c>RougeScorer(['rouge1','rouge2','rougeL'], use_stemmer=False).score(target, prediction)</c>):
/// its default tokenizer lowercases, replaces every run of characters outside [a-z0-9] by a space and
/// splits — so accented letters and CJK text produce no tokens at all, exactly as in rouge-score;
/// n-gram overlap is the clipped count, precision = overlap / max(predicted n-grams, 1), recall =
/// overlap / max(target n-grams, 1); ROUGE-L uses the longest common subsequence (0 when either side is
/// empty). The corpus score is the plain mean over pairs (rouge-score's BootstrapAggregator reports a
/// bootstrap estimate of that mean instead). Porter stemming (use_stemmer=True) is not implemented.
/// </summary>
public static class RougeMetrics
{
    static readonly Regex NonAlphanumeric = new("[^a-z0-9]+", RegexOptions.Compiled);

    /// <summary>rouge-score's tokenize.tokenize without a stemmer.</summary>
    public static string[] Tokenize(string text) =>
        NonAlphanumeric.Replace(text.ToLowerInvariant(), " ").Split(' ', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Scores one prediction against its target (reference).</summary>
    public static RougeScore Score(string prediction, string target)
    {
        var p = Tokenize(prediction);
        var t = Tokenize(target);
        return new RougeScore(NGram(t, p, 1), NGram(t, p, 2), Lcs(t, p), 1);
    }

    /// <summary>The mean of the per-pair scores.</summary>
    public static RougeScore Compute(IReadOnlyList<string> predictions, IReadOnlyList<string> targets)
    {
        ArgumentNullException.ThrowIfNull(predictions);
        ArgumentNullException.ThrowIfNull(targets);
        MetricInputs.CheckCounts(predictions.Count, targets.Count, "references");
        var scores = predictions.Select((p, i) => Score(p, targets[i])).ToList();
        static RougeValue Mean(IEnumerable<RougeValue> v)
        {
            var list = v.ToList();
            return new RougeValue(list.Average(x => x.Precision), list.Average(x => x.Recall), list.Average(x => x.FMeasure));
        }
        return new RougeScore(Mean(scores.Select(s => s.Rouge1)), Mean(scores.Select(s => s.Rouge2)), Mean(scores.Select(s => s.RougeL)), scores.Count);
    }

    static Dictionary<string, int> Counts(string[] tokens, int n)
    {
        var counts = new Dictionary<string, int>();
        for (int i = 0; i + n <= tokens.Length; i++)
        {
            string key = string.Join(' ', tokens, i, n);
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
        return counts;
    }

    static RougeValue NGram(string[] target, string[] prediction, int n)
    {
        var t = Counts(target, n);
        var p = Counts(prediction, n);
        int overlap = 0;
        foreach (var (gram, count) in p)
            if (t.TryGetValue(gram, out int c)) overlap += Math.Min(count, c);
        double precision = (double)overlap / Math.Max(p.Values.Sum(), 1);
        double recall = (double)overlap / Math.Max(t.Values.Sum(), 1);
        return new RougeValue(precision, recall, FMeasure(precision, recall));
    }

    static RougeValue Lcs(string[] target, string[] prediction)
    {
        if (target.Length == 0 || prediction.Length == 0) return new RougeValue(0, 0, 0);
        var table = new int[target.Length + 1, prediction.Length + 1];
        for (int i = 1; i <= target.Length; i++)
            for (int j = 1; j <= prediction.Length; j++)
                table[i, j] = target[i - 1] == prediction[j - 1] ? table[i - 1, j - 1] + 1 : Math.Max(table[i - 1, j], table[i, j - 1]);
        int lcs = table[target.Length, prediction.Length];
        double precision = (double)lcs / prediction.Length, recall = (double)lcs / target.Length;
        return new RougeValue(precision, recall, FMeasure(precision, recall));
    }

    static double FMeasure(double p, double r) => p + r > 0 ? 2 * p * r / (p + r) : 0;
}
