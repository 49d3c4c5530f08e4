using System.Text.Json;
using GptBert.Reporting;

namespace GptBert.Tests.Reporting;

public class ClassificationMetricsTests
{
    const double Tol = 1e-12;

    [Fact]
    public void SklearnDocExample()
    {
        // sklearn's f1_score docstring: y_true=[0,1,2,0,1,2], y_pred=[0,2,1,0,0,1]
        // → macro 0.2666…, micro 0.3333…, weighted 0.2666…, per class [0.8, 0, 0].
        // By hand: class 0 is predicted at positions 0,3,4 (3 times), correct at 0,3 (tp=2), gold count 2:
        //   P = 2/3, R = 2/2 = 1, F1 = 2·(2/3)·1/(2/3+1) = (4/3)/(5/3) = 0.8.
        // Class 1 is predicted at 2,5 (gold 2,1) and class 2 at 1 (gold 1): no true positives → 0, 0, 0.
        // accuracy = 2/6; macro F1 = 0.8/3 = 0.26667; macro P = (2/3)/3 = 2/9; macro R = 1/3;
        // weighted F1 = (0.8·2 + 0·2 + 0·2)/6 = 0.26667.
        var m = ClassificationMetrics.Compute([0, 1, 2, 0, 1, 2], [0, 2, 1, 0, 0, 1], ["0", "1", "2"]);
        Assert.Equal(1.0 / 3, m.Accuracy, Tol);
        Assert.Equal(0.8 / 3, m.MacroF1, Tol);
        Assert.Equal(0.2667, m.MacroF1, 4);
        Assert.Equal(2.0 / 9, m.MacroPrecision, Tol);
        Assert.Equal(1.0 / 3, m.MacroRecall, Tol);
        Assert.Equal(1.6 / 6, m.WeightedF1, Tol);
        Assert.Equal([0.8, 0, 0], m.PerClass.Select(c => Math.Round(c.F1, 12)));
        Assert.Equal([2, 2, 2], m.PerClass.Select(c => c.Support));
        Assert.Equal(6, m.Count);
    }

    // labels cat=0 dog=1 bird=2 fish=3; bird is never predicted, fish never occurs in gold.
    static readonly int[] Gold = [0, 0, 0, 1, 1, 2, 2, 2];
    static readonly int[] Pred = [0, 0, 1, 1, 3, 0, 1, 1];
    static readonly string[] Labels = ["cat", "dog", "bird", "fish"];

    [Fact]
    public void NeverPredictedAndAbsentFromGold()
    {
        var m = ClassificationMetrics.Compute(Gold, Pred, Labels);
        // Confusion (rows gold, cols pred):
        //   cat : cat,cat,dog        → [2,1,0,0]
        //   dog : dog,fish           → [0,1,0,1]
        //   bird: cat,dog,dog        → [1,2,0,0]
        //   fish: (none)             → [0,0,0,0]
        Assert.Equal(new[] { 2, 1, 0, 0 }, m.ConfusionMatrix[0]);
        Assert.Equal(new[] { 0, 1, 0, 1 }, m.ConfusionMatrix[1]);
        Assert.Equal(new[] { 1, 2, 0, 0 }, m.ConfusionMatrix[2]);
        Assert.Equal(new[] { 0, 0, 0, 0 }, m.ConfusionMatrix[3]);
        // correct = 2 (cat) + 1 (dog) = 3 of 8
        Assert.Equal(3.0 / 8, m.Accuracy, Tol);
        // cat : tp 2, predicted 3 (column 2+0+1), support 3 → P 2/3, R 2/3, F1 2/3
        AssertClass(m.PerClass[0], "cat", 2.0 / 3, 2.0 / 3, 2.0 / 3, 3);
        // dog : tp 1, predicted 4 (1+1+2), support 2 → P 1/4, R 1/2, F1 2·(1/8)/(3/4) = 1/3
        AssertClass(m.PerClass[1], "dog", 0.25, 0.5, 1.0 / 3, 2);
        // bird: never predicted → P 0/0 := 0; tp 0 of support 3 → R 0; F1 0
        AssertClass(m.PerClass[2], "bird", 0, 0, 0, 3);
        // fish: predicted once, wrong → P 0/1 = 0; support 0 → R 0/0 := 0; F1 0
        AssertClass(m.PerClass[3], "fish", 0, 0, 0, 0);
        // Macro over all 4 labels (sklearn with labels=[0,1,2,3], zero_division=0):
        //   P = (2/3 + 1/4 + 0 + 0)/4 = 11/48; R = (2/3 + 1/2)/4 = 7/24; F1 = (2/3 + 1/3)/4 = 1/4
        Assert.Equal(11.0 / 48, m.MacroPrecision, Tol);
        Assert.Equal(7.0 / 24, m.MacroRecall, Tol);
        Assert.Equal(0.25, m.MacroF1, Tol);
        // Weighted F1 = (2/3·3 + 1/3·2 + 0·3 + 0·0)/8 = (8/3)/8 = 1/3
        Assert.Equal(1.0 / 3, m.WeightedF1, Tol);
    }

    static void AssertClass(ClassMetrics c, string label, double p, double r, double f1, int support)
    {
        Assert.Equal(label, c.Label);
        Assert.Equal(p, c.Precision, Tol);
        Assert.Equal(r, c.Recall, Tol);
        Assert.Equal(f1, c.F1, Tol);
        Assert.Equal(support, c.Support);
    }

    [Fact]
    public void PerfectPrediction()
    {
        var m = ClassificationMetrics.Compute([1, 0, 1], [1, 0, 1], ["neg", "pos"]);
        Assert.Equal(1, m.Accuracy);
        Assert.Equal(1, m.MacroF1);
        Assert.Equal(1, m.WeightedF1);
    }

    [Fact]
    public void MajorityBaseline()
    {
        // Gold counts: cat 3, dog 2, bird 3 → tie between cat and bird, lowest index wins → always "cat".
        // accuracy 3/8; cat P = 3/8, R = 1, F1 = 2·(3/8)/(3/8 + 1) = (6/8)/(11/8) = 6/11; others 0.
        // macro F1 over 4 labels = (6/11)/4 = 3/22.
        var m = ClassificationMetrics.MajorityBaseline(Gold, Labels);
        Assert.Equal(3.0 / 8, m.Accuracy, Tol);
        Assert.Equal(3.0 / 22, m.MacroF1, Tol);
        // Every prediction is in the "cat" column.
        Assert.Equal([8, 0, 0, 0], Enumerable.Range(0, 4).Select(col => m.ConfusionMatrix.Sum(row => row[col])));

        // Without names: labels are 0..max(gold) = 3 labels here; 2 of 5 are "1" → always 1:
        // P = 2/5, R = 1, F1 = 2·0.4/1.4 = 4/7; macro = (4/7)/3.
        var n = ClassificationMetrics.MajorityBaseline([1, 0, 1, 2, 0]);
        Assert.Equal(["0", "1", "2"], n.Labels);
        // counts 0:2, 1:2, 2:1 → tie 0/1 → 0 wins (lowest index)
        Assert.Equal(2.0 / 5, n.Accuracy, Tol);
        Assert.Equal(4.0 / 7 / 3, n.MacroF1, Tol);
    }

    [Fact]
    public void JsonShape()
    {
        var m = ClassificationMetrics.Compute(Gold, Pred, Labels);
        using var doc = JsonDocument.Parse(m.ToJson());
        var root = doc.RootElement;
        var keys = root.EnumerateObject().Select(p => p.Name).ToArray();
        foreach (var required in new[] { "accuracy", "macro_f1", "per_class", "confusion_matrix", "labels" })
            Assert.Contains(required, keys);
        Assert.Equal(["accuracy", "macro_f1", "macro_precision", "macro_recall", "weighted_f1", "per_class", "confusion_matrix", "labels"], keys);

        Assert.Equal(0.375, root.GetProperty("accuracy").GetDouble(), Tol);
        Assert.Equal(0.25, root.GetProperty("macro_f1").GetDouble(), Tol);
        Assert.Equal(Labels, root.GetProperty("labels").EnumerateArray().Select(e => e.GetString()));

        var perClass = root.GetProperty("per_class");
        Assert.Equal(Labels, perClass.EnumerateObject().Select(p => p.Name));
        var dog = perClass.GetProperty("dog");
        Assert.Equal(["precision", "recall", "f1", "support"], dog.EnumerateObject().Select(p => p.Name));
        Assert.Equal(0.25, dog.GetProperty("precision").GetDouble(), Tol);
        Assert.Equal(0.5, dog.GetProperty("recall").GetDouble(), Tol);
        Assert.Equal(2, dog.GetProperty("support").GetInt32());

        // Rows are gold, columns predicted: the one gold dog predicted as fish is at [dog][fish].
        var cm = root.GetProperty("confusion_matrix").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetInt32()).ToArray()).ToArray();
        Assert.Equal(4, cm.Length);
        Assert.Equal(1, cm[1][3]);
        Assert.Equal(0, cm[3][1]);
        Assert.Equal(new[] { 1, 2, 0, 0 }, cm[2]);

        // Compact form is one line.
        Assert.DoesNotContain('\n', m.ToJson(indented: false));
    }

    [Fact]
    public void JsonKeepsNonAsciiLabels()
    {
        var m = ClassificationMetrics.Compute([0, 1], [0, 1], ["négatif", "\"quoted\""]);
        using var doc = JsonDocument.Parse(m.ToJson());
        Assert.Equal(["négatif", "\"quoted\""], doc.RootElement.GetProperty("per_class").EnumerateObject().Select(p => p.Name));
        Assert.Contains("négatif", m.ToJson());
    }

    [Fact]
    public void TextReportMatchesSklearn()
    {
        // Printed by scikit-learn 1.2.1 (Debian python3-sklearn):
        // classification_report(gold, pred, labels=[0,1,2,3], target_names=["cat","dog","bird","fish"], digits=4, zero_division=0)
        const string sklearn = """
                          precision    recall  f1-score   support

                     cat     0.6667    0.6667    0.6667         3
                     dog     0.2500    0.5000    0.3333         2
                    bird     0.0000    0.0000    0.0000         3
                    fish     0.0000    0.0000    0.0000         0

                accuracy                         0.3750         8
               macro avg     0.2292    0.2917    0.2500         8
            weighted avg     0.3125    0.3750    0.3333         8

            """;
        var text = ClassificationMetrics.Compute(Gold, Pred, Labels).ToText();
        Assert.StartsWith(sklearn.Replace("\r\n", "\n") + "\n", text);
    }

    [Fact]
    public void TextReport()
    {
        var text = ClassificationMetrics.Compute(Gold, Pred, Labels).ToText();
        var lines = text.Split('\n');
        Assert.Contains("precision", lines[0]);
        Assert.Contains("f1-score", lines[0]);
        // Report rows (header, labels, averages) are right-aligned to the same width.
        var reportRows = lines.TakeWhile(l => !l.StartsWith("confusion", StringComparison.Ordinal)).Where(l => l.Length > 0).ToArray();
        Assert.Equal(1 + 4 + 3, reportRows.Length);
        Assert.Single(reportRows.Select(l => l.Length).Distinct());
        Assert.Contains(reportRows, l => l.TrimStart().StartsWith("dog", StringComparison.Ordinal) && l.Contains("0.2500") && l.Contains("0.5000") && l.Contains("0.3333") && l.TrimEnd().EndsWith('2'));
        Assert.Contains(reportRows, l => l.TrimStart().StartsWith("accuracy", StringComparison.Ordinal) && l.Contains("0.3750") && l.TrimEnd().EndsWith('8'));
        Assert.Contains(reportRows, l => l.TrimStart().StartsWith("macro avg", StringComparison.Ordinal) && l.Contains("0.2500"));

        // Confusion matrix: header with the labels, then one row per gold label.
        int at = Array.FindIndex(lines, l => l.StartsWith("confusion matrix", StringComparison.Ordinal));
        Assert.True(at > 0);
        var header = lines[at + 1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["gold", "\\", "pred", "cat", "dog", "bird", "fish"], header);
        var bird = lines[at + 4].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["bird", "1", "2", "0", "0"], bird);
        // Columns line up: every matrix line has the same length.
        Assert.Single(lines.Skip(at + 1).Take(5).Select(l => l.Length).Distinct());
    }

    [Fact]
    public void UserErrors()
    {
        Assert.Throws<GptBertException>(() => ClassificationMetrics.Compute([0, 1], [0], ["a", "b"]));
        Assert.Throws<GptBertException>(() => ClassificationMetrics.Compute([], [], ["a", "b"]));
        var e = Assert.Throws<GptBertException>(() => ClassificationMetrics.Compute([0, 2], [0, 1], ["a", "b"]));
        Assert.DoesNotContain('\n', e.Message);
        Assert.Throws<GptBertException>(() => ClassificationMetrics.Compute([0, 1], [0, -1], ["a", "b"]));
        Assert.Throws<GptBertException>(() => ClassificationMetrics.Compute([0, 1], [0, 1], ["a", "a"]));
        Assert.Throws<GptBertException>(() => ClassificationMetrics.Compute([0], [0], []));
        Assert.Throws<GptBertException>(() => ClassificationMetrics.MajorityBaseline([], ["a"]));
    }
}
