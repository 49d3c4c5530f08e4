using System.Text;
using System.Text.RegularExpressions;

namespace GptBert.Reporting;

/// <summary>SQuAD scores in percent, as the official evaluation scripts print them.</summary>
public sealed record SquadScore(double ExactMatch, double F1, int Count);

/// <summary>
/// SQuAD exact match and token F1 as the official evaluation scripts compute them
/// (evaluate-v1.1.py / evaluate-v2.0.py): answers are normalised (lowercase, ASCII punctuation removed,
/// the articles a/an/the removed, whitespace collapsed), F1 is the bag-of-tokens overlap, and each
/// prediction takes its best score over the gold answers. No-answer handling follows v2.0: a gold list
/// whose answers all normalise to nothing (or is empty) means "no answer", and scores 1 only when the
/// prediction is empty too. (v1.1 has no unanswerable questions; the one difference is that v1.1 scores
/// F1 0 when both sides normalise to nothing, v2.0 scores 1.) Scores are percentages, like the scripts.
/// </summary>
public static class SquadMetrics
{
    // string.punctuation in Python: ASCII only, so "，" or "¿" are kept, as in the official script.
    const string Punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
    static readonly Regex Articles = new(@"\b(a|an|the)\b", RegexOptions.Compiled | RegexOptions.CultureInvariant);

    /// <summary>normalize_answer of the official script: lower, remove punctuation, remove articles, fix whitespace.</summary>
    public static string Normalize(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (char c in text.ToLowerInvariant())
            if (!Punctuation.Contains(c)) sb.Append(c);
        string noArticles = Articles.Replace(sb.ToString(), " ");
        return string.Join(' ', noArticles.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
    }

    static string[] Tokens(string text) => Normalize(text).Split(' ', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>compute_exact: 1 when the normalised strings are equal.</summary>
    public static double Exact(string prediction, string gold) => Normalize(prediction) == Normalize(gold) ? 1 : 0;

    /// <summary>compute_f1 (v2.0): token-overlap F1; when either side has no tokens, 1 if both have none, else 0.</summary>
    public static double F1(string prediction, string gold)
    {
        var p = Tokens(prediction);
        var g = Tokens(gold);
        if (p.Length == 0 || g.Length == 0) return p.Length == g.Length ? 1 : 0;
        var counts = new Dictionary<string, int>();
        foreach (var t in g) counts[t] = counts.GetValueOrDefault(t) + 1;
        int same = 0;
        foreach (var t in p)
            if (counts.TryGetValue(t, out int c) && c > 0) { counts[t] = c - 1; same++; }
        if (same == 0) return 0;
        double precision = (double)same / p.Length, recall = (double)same / g.Length;
        return 2 * precision * recall / (precision + recall);
    }

    /// <summary>
    /// Scores each prediction against its gold answers (max over the answers) and averages, in percent.
    /// An empty answer list, or answers that all normalise to "", mean the question has no answer.
    /// </summary>
    public static SquadScore Compute(IReadOnlyList<string> predictions, IReadOnlyList<IReadOnlyList<string>> answers)
    {
        ArgumentNullException.ThrowIfNull(predictions);
        ArgumentNullException.ThrowIfNull(answers);
        MetricInputs.CheckCounts(predictions.Count, answers.Count, "answer lists");
        double em = 0, f1 = 0;
        for (int i = 0; i < predictions.Count; i++)
        {
            // evaluate-v2.0.py: gold_answers = [a for a in answers if normalize_answer(a)] or ['']
            var gold = answers[i].Where(a => Normalize(a).Length > 0).ToList();
            if (gold.Count == 0) gold.Add("");
            em += gold.Max(g => Exact(predictions[i], g));
            f1 += gold.Max(g => F1(predictions[i], g));
        }
        int n = predictions.Count;
        return new SquadScore(100 * em / n, 100 * f1 / n, n);
    }
}

/// <summary>Shared argument checks of the metric functions (one-line, fixable messages).</summary>
static class MetricInputs
{
    public static void CheckCounts(int predictions, int references, string what)
    {
        if (predictions != references)
            throw new GptBertException($"cannot score: {predictions} predictions but {references} {what}; give exactly one per prediction, in the same order");
        if (predictions == 0)
            throw new GptBertException("cannot score: there are no predictions; check that the input is not empty");
    }
}
