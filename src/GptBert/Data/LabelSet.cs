using System.Collections;
using System.Globalization;

namespace GptBert.Data;

/// <summary>
/// The labels of a classification task, fixed from the training data: label i is class index i of the model.
/// Order: numeric when every label is an integer ("2" before "10"), otherwise ordinal. Validation and test
/// sets are checked against it, since a label never seen in training can never be predicted.
/// </summary>
public sealed class LabelSet : IReadOnlyList<string>
{
    readonly string[] labels;
    readonly Dictionary<string, int> index;

    LabelSet(string[] labels)
    {
        this.labels = labels;
        index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < labels.Length; i++) index[labels[i]] = i;
    }

    /// <summary>The distinct labels of <paramref name="train"/>; at least two are required.</summary>
    public static LabelSet FromTraining(LabeledDataset train)
    {
        if (train.Count == 0) throw new GptBertException($"{train.Name} has no examples; training needs labeled examples");
        var set = new LabelSet(Order(train.Select(e => e.Label).Distinct(StringComparer.Ordinal)).ToArray());
        if (set.Count == 1) throw new GptBertException($"only one label '{set[0]}' in {train.Name}; classification needs at least two");
        return set;
    }

    /// <summary>Labels in the given order (e.g. as saved with a model's config: id2label). Duplicates are refused.</summary>
    public static LabelSet FromLabels(IEnumerable<string> labels)
    {
        var arr = labels.ToArray();
        var dup = arr.GroupBy(l => l, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new GptBertException($"label '{dup.Key}' is listed twice; each label must appear once");
        if (arr.Any(string.IsNullOrWhiteSpace)) throw new GptBertException("a label is empty; every label needs a name");
        return new LabelSet(arr);
    }

    /// <summary>The label order used everywhere: numeric if all labels are integers, else ordinal.</summary>
    public static IEnumerable<string> Order(IEnumerable<string> labels)
    {
        var list = labels.ToList();
        if (list.Count > 0 && list.All(l => long.TryParse(l, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _)))
            return list.OrderBy(l => long.Parse(l, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture)).ThenBy(l => l, StringComparer.Ordinal);
        return list.OrderBy(l => l, StringComparer.Ordinal);
    }

    public int Count => labels.Length;
    public string this[int i] => labels[i];
    public IEnumerator<string> GetEnumerator() => ((IEnumerable<string>)labels).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public bool Contains(string label) => index.ContainsKey(label);

    /// <summary>Class index of <paramref name="label"/>, or -1.</summary>
    public int IndexOf(string label) => index.TryGetValue(label, out int i) ? i : -1;

    /// <summary>Class index of <paramref name="label"/>; throws when it was not seen in training.</summary>
    public int Encode(string label) => index.TryGetValue(label, out int i) ? i
        : throw new GptBertException($"label '{label}' was never seen in training (labels: {string.Join(", ", labels)}); drop it or add examples of it to the training set");

    /// <summary>Class indices of all examples of <paramref name="data"/>, after <see cref="Validate"/>.</summary>
    public int[] Encode(LabeledDataset data)
    {
        Validate(data);
        return data.Select(e => index[e.Label]).ToArray();
    }

    /// <summary>Labels of <paramref name="data"/> missing from this set, in label order.</summary>
    public IReadOnlyList<string> Unseen(LabeledDataset data) =>
        Order(data.Select(e => e.Label).Distinct(StringComparer.Ordinal).Where(l => !index.ContainsKey(l))).ToList();

    /// <summary>Throws when <paramref name="data"/> (validation or test) has labels the training data never had.</summary>
    public void Validate(LabeledDataset data)
    {
        var unseen = Unseen(data);
        if (unseen.Count > 0)
            throw new GptBertException($"{data.Name} has labels never seen in training: {string.Join(", ", unseen)}; drop those rows or add examples of them to the training set");
    }

    public override string ToString() => string.Join(", ", labels);
}
