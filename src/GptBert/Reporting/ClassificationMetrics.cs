using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace GptBert.Reporting;

/// <summary>Precision, recall, F1 and support of one label (one row of a classification report).</summary>
public sealed record ClassMetrics(string Label, double Precision, double Recall, double F1, int Support);

/// <summary>
/// Single-label classification metrics with scikit-learn's conventions: a precision or recall whose
/// denominator is 0 counts as 0 (sklearn's <c>zero_division=0</c>), F1 is 0 when precision and recall
/// are both 0, and macro averages are the unweighted mean over every entry of <see cref="Labels"/> —
/// including a label that never occurs in gold (support 0), exactly like
/// <c>f1_score(y_true, y_pred, labels=range(len(labels)), average="macro")</c>.
/// The confusion matrix has one row per gold label and one column per predicted label.
/// </summary>
public sealed record ClassificationMetrics(
    IReadOnlyList<string> Labels,
    int Count,
    double Accuracy,
    double MacroPrecision,
    double MacroRecall,
    double MacroF1,
    double WeightedF1,
    IReadOnlyList<ClassMetrics> PerClass,
    int[][] ConfusionMatrix)
{
    /// <summary>
    /// Computes the metrics of <paramref name="predicted"/> against <paramref name="gold"/>; both hold
    /// indices into <paramref name="labels"/>.
    /// </summary>
    /// <exception cref="GptBertException">Different lengths, no examples, an index outside the labels, or duplicate labels.</exception>
    public static ClassificationMetrics Compute(IReadOnlyList<int> gold, IReadOnlyList<int> predicted, IReadOnlyList<string> labels)
    {
        ArgumentNullException.ThrowIfNull(gold);
        ArgumentNullException.ThrowIfNull(predicted);
        ArgumentNullException.ThrowIfNull(labels);
        CheckLabels(labels);
        if (gold.Count != predicted.Count)
            throw new GptBertException($"cannot compute metrics: {gold.Count} gold labels but {predicted.Count} predictions; give one prediction per example");
        if (gold.Count == 0)
            throw new GptBertException("cannot compute metrics: there are no examples; check that the evaluation data is not empty");

        int k = labels.Count;
        var cm = new int[k][];
        for (int i = 0; i < k; i++) cm[i] = new int[k];
        int correct = 0;
        for (int n = 0; n < gold.Count; n++)
        {
            int g = gold[n], p = predicted[n];
            CheckIndex(g, k, "gold", n);
            CheckIndex(p, k, "predicted", n);
            cm[g][p]++;
            if (g == p) correct++;
        }

        var perClass = new ClassMetrics[k];
        double sumP = 0, sumR = 0, sumF = 0, weightedF = 0;
        for (int c = 0; c < k; c++)
        {
            int tp = cm[c][c];
            int support = 0, predictedCount = 0;
            for (int j = 0; j < k; j++) { support += cm[c][j]; predictedCount += cm[j][c]; }
            double precision = predictedCount == 0 ? 0 : (double)tp / predictedCount;
            double recall = support == 0 ? 0 : (double)tp / support;
            double f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
            perClass[c] = new ClassMetrics(labels[c], precision, recall, f1, support);
            sumP += precision; sumR += recall; sumF += f1; weightedF += f1 * support;
        }

        return new ClassificationMetrics(
            labels.ToArray(), gold.Count, (double)correct / gold.Count,
            sumP / k, sumR / k, sumF / k, weightedF / gold.Count, perClass, cm);
    }

    /// <summary>
    /// The metrics of always predicting the most frequent gold label (ties go to the lowest index, as
    /// sklearn's <c>DummyClassifier(strategy="most_frequent")</c>) — the floor a model must beat.
    /// </summary>
    public static ClassificationMetrics MajorityBaseline(IReadOnlyList<int> gold, IReadOnlyList<string> labels)
    {
        ArgumentNullException.ThrowIfNull(gold);
        ArgumentNullException.ThrowIfNull(labels);
        CheckLabels(labels);
        if (gold.Count == 0)
            throw new GptBertException("cannot compute a majority baseline: there are no examples; check that the evaluation data is not empty");
        var counts = new int[labels.Count];
        for (int n = 0; n < gold.Count; n++)
        {
            CheckIndex(gold[n], labels.Count, "gold", n);
            counts[gold[n]]++;
        }
        int majority = 0;
        for (int c = 1; c < counts.Length; c++) if (counts[c] > counts[majority]) majority = c;
        return Compute(gold, Enumerable.Repeat(majority, gold.Count).ToArray(), labels);
    }

    /// <summary>Majority baseline when the labels have no names: labels are "0" … max(gold).</summary>
    public static ClassificationMetrics MajorityBaseline(IReadOnlyList<int> gold)
    {
        ArgumentNullException.ThrowIfNull(gold);
        int max = gold.Count == 0 ? 0 : gold.Max();
        if (max < 0) max = 0;
        var labels = Enumerable.Range(0, max + 1).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray();
        return MajorityBaseline(gold, labels);
    }

    static void CheckLabels(IReadOnlyList<string> labels)
    {
        if (labels.Count == 0)
            throw new GptBertException("cannot compute metrics: the label list is empty; give the names of the classes");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var l in labels)
        {
            if (l is null) throw new GptBertException("cannot compute metrics: a label name is missing (null); give every class a name");
            if (!seen.Add(l)) throw new GptBertException($"cannot compute metrics: label '{l}' appears twice; label names must be unique");
        }
    }

    static void CheckIndex(int index, int count, string what, int position)
    {
        if ((uint)index >= (uint)count)
            throw new GptBertException($"cannot compute metrics: {what} label {index} at example {position} is outside the {count} labels (0..{count - 1}); check the label mapping");
    }

    static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// The JSON object of <c>gptbert evaluate --json</c>: <c>accuracy</c>, <c>macro_f1</c>,
    /// <c>macro_precision</c>, <c>macro_recall</c>, <c>weighted_f1</c>, <c>per_class</c> (an object keyed by
    /// label: <c>precision</c>, <c>recall</c>, <c>f1</c>, <c>support</c>), <c>confusion_matrix</c>
    /// (rows = gold, columns = predicted, in <c>labels</c> order) and <c>labels</c>.
    /// </summary>
    public string ToJson(bool indented = true)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, JsonOptions with { Indented = indented }))
        {
            w.WriteStartObject();
            WriteJsonProperties(w);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Writes the properties of <see cref="ToJson"/> into an object the caller has started.</summary>
    public void WriteJsonProperties(Utf8JsonWriter w)
    {
        w.WriteNumber("accuracy", Accuracy);
        w.WriteNumber("macro_f1", MacroF1);
        w.WriteNumber("macro_precision", MacroPrecision);
        w.WriteNumber("macro_recall", MacroRecall);
        w.WriteNumber("weighted_f1", WeightedF1);
        w.WriteStartObject("per_class");
        foreach (var c in PerClass)
        {
            w.WriteStartObject(c.Label);
            w.WriteNumber("precision", c.Precision);
            w.WriteNumber("recall", c.Recall);
            w.WriteNumber("f1", c.F1);
            w.WriteNumber("support", c.Support);
            w.WriteEndObject();
        }
        w.WriteEndObject();
        w.WriteStartArray("confusion_matrix");
        foreach (var row in ConfusionMatrix)
        {
            w.WriteStartArray();
            foreach (var v in row) w.WriteNumberValue(v);
            w.WriteEndArray();
        }
        w.WriteEndArray();
        w.WriteStartArray("labels");
        foreach (var l in Labels) w.WriteStringValue(l);
        w.WriteEndArray();
    }

    /// <summary>
    /// A plain-text report laid out exactly like sklearn's <c>classification_report(digits=4)</c>, followed by the
    /// confusion matrix with gold labels down the side and predicted labels across the top.
    /// </summary>
    public string ToText()
    {
        var inv = CultureInfo.InvariantCulture;
        string F(double v) => v.ToString("F4", inv);
        int nameWidth = Math.Max("weighted avg".Length, Labels.Max(l => l.Length));
        const int col = 10;
        var sb = new StringBuilder();
        void Row(string name, string p, string r, string f, string s) =>
            sb.Append(name.PadLeft(nameWidth)).Append(' ').Append(p.PadLeft(col)).Append(r.PadLeft(col))
              .Append(f.PadLeft(col)).Append(s.PadLeft(col)).Append('\n');

        Row("", "precision", "recall", "f1-score", "support");
        sb.Append('\n');
        foreach (var c in PerClass)
            Row(c.Label, F(c.Precision), F(c.Recall), F(c.F1), c.Support.ToString(inv));
        sb.Append('\n');
        Row("accuracy", "", "", F(Accuracy), Count.ToString(inv));
        Row("macro avg", F(MacroPrecision), F(MacroRecall), F(MacroF1), Count.ToString(inv));
        double wp = 0, wr = 0;
        foreach (var c in PerClass) { wp += c.Precision * c.Support; wr += c.Recall * c.Support; }
        Row("weighted avg", F(wp / Count), F(wr / Count), F(WeightedF1), Count.ToString(inv));

        sb.Append('\n').Append("confusion matrix (rows = gold, columns = predicted)\n");
        const string corner = "gold \\ pred";
        int maxCount = ConfusionMatrix.SelectMany(r => r).DefaultIfEmpty(0).Max();
        int cell = Math.Max(maxCount.ToString(inv).Length, Labels.Max(l => l.Length)) + 2;
        int side = Math.Max(corner.Length, Labels.Max(l => l.Length));
        sb.Append(corner.PadLeft(side));
        foreach (var l in Labels) sb.Append(l.PadLeft(cell));
        sb.Append('\n');
        for (int i = 0; i < Labels.Count; i++)
        {
            sb.Append(Labels[i].PadLeft(side));
            foreach (var v in ConfusionMatrix[i]) sb.Append(v.ToString(inv).PadLeft(cell));
            sb.Append('\n');
        }
        return sb.ToString();
    }
}
