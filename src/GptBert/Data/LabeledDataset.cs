using System.Collections;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace GptBert.Data;

/// <summary>One example for sequence classification: a text, an optional second text (pair tasks) and its label.</summary>
public sealed record LabeledExample(string Text, string? Pair, string Label);

/// <summary>File formats of labeled data.</summary>
public enum LabeledFormat
{
    /// <summary>From the extension: .csv, .tsv/.tab, .jsonl/.ndjson.</summary>
    Auto,
    Csv,
    Tsv,
    JsonLines,
}

/// <summary>How to read a labeled file. Column names apply to CSV/TSV headers and JSON Lines fields alike.</summary>
public sealed record LabeledFormatOptions
{
    public LabeledFormat Format { get; init; } = LabeledFormat.Auto;

    /// <summary>Column with the text. Default <c>text</c>.</summary>
    public string TextColumn { get; init; } = "text";

    /// <summary>
    /// Column with the second text of pair tasks. Null (default): <c>text_pair</c> is used when the file has it,
    /// otherwise examples have no pair. When set, the column must exist.
    /// </summary>
    public string? PairColumn { get; init; }

    /// <summary>Column with the label. Default <c>label</c>.</summary>
    public string LabelColumn { get; init; } = "label";

    /// <summary>
    /// Refuse a file whose examples all have one label (default true: a classifier cannot learn from it).
    /// Turn off for small evaluation files that may legitimately hold one class.
    /// </summary>
    public bool RequireTwoLabels { get; init; } = true;

    /// <summary>False for data without labels (search pairs): a missing label column gives every example the label "".</summary>
    public bool RequireLabel { get; init; } = true;

    /// <summary>
    /// False (default): a row that cannot be used (a NUL byte, invalid UTF-8, an empty text, a missing label, the wrong
    /// number of fields, broken quoting, a line that is not a JSON object) is skipped and counted in
    /// <see cref="LabeledDataset.Skipped"/>, unless more than <see cref="SkippedRows.MaxBadFraction"/> of the rows are such,
    /// when the file is refused as the wrong file. True: any such row refuses the file, naming its line.
    /// </summary>
    public bool Strict { get; init; }

    /// <summary>Called once per file that had rows skipped, with <see cref="SkippedRows.Summary"/> (hosts print it as a warning).</summary>
    public Action<string>? Warn { get; init; }

    /// <summary>The default pair column looked for when <see cref="PairColumn"/> is null.</summary>
    public const string DefaultPairColumn = "text_pair";

    /// <summary>Parses a format name as users type it: csv, tsv, jsonl (or json, ndjson), auto.</summary>
    public static LabeledFormat ParseFormat(string name) => name.Trim().ToLowerInvariant() switch
    {
        "csv" => LabeledFormat.Csv,
        "tsv" or "tab" => LabeledFormat.Tsv,
        "jsonl" or "json" or "ndjson" or "jsonlines" => LabeledFormat.JsonLines,
        "auto" or "" => LabeledFormat.Auto,
        _ => throw new GptBertException($"unknown data format '{name}'; use csv, tsv or jsonl"),
    };
}

/// <summary>A dataset cut three ways; the parts are disjoint and together are the whole.</summary>
public sealed record DatasetSplit(LabeledDataset Train, LabeledDataset Validation, LabeledDataset Test);

/// <summary>
/// Labeled examples for classification, loaded from CSV, TSV (RFC 4180 quoting, header row) or JSON Lines.
/// Loading validates everything up front (UTF-8, quoting, field counts, columns, empty values). Problems of the whole
/// file (a binary file, a missing column, a broken header) are a <see cref="GptBertException"/> naming the file and
/// line. A row that cannot be used is skipped and counted (<see cref="Skipped"/>) unless
/// <see cref="LabeledFormatOptions.Strict"/> is set; a file with more than 5% such rows is refused either way.
/// </summary>
public sealed class LabeledDataset : IReadOnlyList<LabeledExample>
{
    readonly LabeledExample[] examples;

    LabeledDataset(string name, string? path, LabeledExample[] examples, SkippedRows? skipped = null)
    {
        Name = name;
        SourcePath = path;
        this.examples = examples;
        HasPairs = examples.Any(e => e.Pair is not null);
        Skipped = skipped ?? SkippedRows.None(name, examples.Length);
    }

    /// <summary>The rows of the file that could not be used and were left out (none for data made in code, or for the parts of a split).</summary>
    public SkippedRows Skipped { get; }

    /// <summary>How messages name this dataset: the file name ("train.csv") or the name given.</summary>
    public string Name { get; }

    /// <summary>The file it was loaded from, if any.</summary>
    public string? SourcePath { get; }

    public IReadOnlyList<LabeledExample> Examples => examples;

    /// <summary>True when some example has a second text.</summary>
    public bool HasPairs { get; }

    public int Count => examples.Length;
    public LabeledExample this[int index] => examples[index];
    public IEnumerator<LabeledExample> GetEnumerator() => ((IEnumerable<LabeledExample>)examples).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => $"{Name} ({Count} examples, {LabelCounts().Count} labels)";

    /// <summary>Wraps examples made in code. No checks beyond non-null fields; may be empty.</summary>
    public static LabeledDataset FromExamples(IEnumerable<LabeledExample> examples, string name = "dataset")
    {
        var arr = examples.ToArray();
        foreach (var e in arr)
        {
            ArgumentNullException.ThrowIfNull(e);
            ArgumentNullException.ThrowIfNull(e.Text);
            ArgumentNullException.ThrowIfNull(e.Label);
        }
        return new LabeledDataset(name, null, arr);
    }

    /// <summary>Loads a labeled file; see <see cref="LabeledFormatOptions"/> for the format and column names.</summary>
    public static LabeledDataset Load(string path, LabeledFormatOptions? options = null)
    {
        options ??= new LabeledFormatOptions();
        var name = Path.GetFileName(path);
        if (Directory.Exists(path)) throw new GptBertException($"{path} is a folder; pass a .csv, .tsv or .jsonl file");
        if (!File.Exists(path)) throw new GptBertException($"{path}: no such file; check the path");
        var format = options.Format == LabeledFormat.Auto ? FormatOf(path) : options.Format;
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new GptBertException($"{path}: cannot read ({e.Message.TrimEnd('.')}); check that the file is readable", e);
        }
        var text = Utf8Text.DecodeLenient(bytes, name, out var badBytes);
        if (string.IsNullOrWhiteSpace(text))
            throw new GptBertException(format == LabeledFormat.JsonLines
                ? $"{name} is empty; it needs one JSON object per line, like {{\"{options.TextColumn}\": \"...\", \"{options.LabelColumn}\": \"...\"}}"
                : $"{name} is empty; it needs a header row ({options.TextColumn}{Sep(format)}{options.LabelColumn}) and one row per example");
        var rows = new Rows(name, options, badBytes);
        var list = format == LabeledFormat.JsonLines ? ReadJsonLines(text, name, options, rows) : ReadDelimited(text, name, format == LabeledFormat.Tsv ? '\t' : ',', options, rows);
        rows.Collector.ThrowIfTooMany();
        var skipped = rows.Collector.Result();
        var ds = new LabeledDataset(name, path, list.ToArray(), skipped);
        if (skipped.Count > 0) options.Warn?.Invoke(skipped.Summary());
        if (options.RequireTwoLabels)
        {
            var labels = ds.LabelCounts();
            if (labels.Count == 1)
                throw new GptBertException($"only one label '{labels.Keys.First()}' in {name}; classification needs at least two");
        }
        return ds;
    }

    static string Sep(LabeledFormat f) => f == LabeledFormat.Tsv ? "<tab>" : ",";

    /// <summary>The format implied by a file's extension.</summary>
    public static LabeledFormat FormatOf(string path)
    {
        var ext = Path.GetExtension(path).ToLowerInvariant();
        return ext switch
        {
            ".csv" => LabeledFormat.Csv,
            ".tsv" or ".tab" => LabeledFormat.Tsv,
            ".jsonl" or ".ndjson" => LabeledFormat.JsonLines,
            _ => throw new GptBertException($"{Path.GetFileName(path)}: cannot tell the format from the extension '{ext}'; use .csv, .tsv or .jsonl, or pass Format csv|tsv|jsonl") { RelatedParameters = ["Format"] },
        };
    }

    /// <summary>The bad bytes of the file and the policy for unusable rows, shared by the CSV/TSV and JSON Lines readers.</summary>
    sealed class Rows(string name, LabeledFormatOptions o, List<Utf8Text.BadSpan> badBytes)
    {
        public readonly BadRowCollector Collector = new(name, o.Strict);
        int next; // badBytes are in text order, and so are the rows asked about

        /// <summary>The first line with a NUL or invalid UTF-8 inside [start, end) of the text, if any.</summary>
        public Utf8Text.BadSpan? BadBytesIn(int start, int end)
        {
            while (next < badBytes.Count && badBytes[next].CharEnd <= start) next++;
            return next < badBytes.Count && badBytes[next].CharStart < end ? badBytes[next] : null;
        }

        /// <summary>Counts a row with bad bytes as unusable (or refuses the file in strict mode); the message is the decoder's.</summary>
        public void BadBytes(Utf8Text.BadSpan b, long line)
        {
            var e = b.Kind == BadRowKind.NulByte ? Utf8Text.Nul(name, b.ByteOffset, line) : Utf8Text.Invalid(name, b.ByteOffset, line);
            Collector.Add(line, b.Kind, e);
        }
    }

    static List<LabeledExample> ReadDelimited(string text, string name, char sep, LabeledFormatOptions o, Rows rows)
    {
        using var records = DelimitedText.Parse(text, sep, name, lenient: true).GetEnumerator();
        DelimitedRecord? header = null;
        while (records.MoveNext())
        {
            if (IsBlank(records.Current)) continue;
            header = records.Current;
            break;
        }
        if (header is null) throw new GptBertException($"{name} is empty; it needs a header row ({o.TextColumn}{Sep(sep == '\t' ? LabeledFormat.Tsv : LabeledFormat.Csv)}{o.LabelColumn}) and one row per example");
        // Without a readable header nothing can be read: these stay errors of the whole file.
        if (header.Error is not null) throw new GptBertException(header.Error);
        if (rows.BadBytesIn(header.Start, header.End) is { } badHeader)
            throw badHeader.Kind == BadRowKind.NulByte ? Utf8Text.Nul(name, badHeader.ByteOffset, header.Line) : Utf8Text.Invalid(name, badHeader.ByteOffset, header.Line);
        var cols = header.Fields.Select(f => f.Trim()).ToArray();
        for (int a = 0; a < cols.Length; a++)
            for (int b = a + 1; b < cols.Length; b++)
                if (cols[a] == cols[b] && cols[a] != "")
                    throw new GptBertException($"{name}: column '{cols[a]}' appears twice in the header (line {header.Line}); rename one of them");
        int textCol = Column(cols, o.TextColumn);
        if (textCol < 0) throw new GptBertException(NoColumn(name, o.TextColumn, cols, "TextColumn")) { Parameter = "TextColumn" };
        int labelCol = Column(cols, o.LabelColumn);
        if (labelCol < 0 && o.RequireLabel) throw new GptBertException(NoColumn(name, o.LabelColumn, cols, "LabelColumn")) { Parameter = "LabelColumn" };
        int pairCol = Column(cols, o.PairColumn ?? LabeledFormatOptions.DefaultPairColumn);
        if (pairCol < 0 && o.PairColumn is not null) throw new GptBertException(NoColumn(name, o.PairColumn, cols, "PairColumn")) { Parameter = "PairColumn" };
        var list = new List<LabeledExample>();
        while (records.MoveNext())
        {
            var r = records.Current;
            if (IsBlank(r)) continue;
            // Rows are judged in this order: bad bytes, broken quoting, field count, then the values.
            if (rows.BadBytesIn(r.Start, r.End) is { } bad) { rows.BadBytes(bad, r.Line); continue; }
            if (r.Error is not null) { rows.Collector.Add(r.Line, BadRowKind.BadQuoting, r.Error); continue; }
            if (r.Fields.Length != cols.Length)
            {
                rows.Collector.Add(r.Line, BadRowKind.RaggedRow,
                    $"{name} line {r.Line}: expected {cols.Length} fields, found {r.Fields.Length}; quote fields that contain {(sep == '\t' ? "tabs" : "commas")} and check the row against the header");
                continue;
            }
            // An empty pair cell means "no pair" (CSV cannot tell empty from missing).
            var pair = pairCol >= 0 && r.Fields[pairCol].Length > 0 ? r.Fields[pairCol] : null;
            if (Example(r.Fields[textCol], pair, labelCol >= 0 ? r.Fields[labelCol] : "", name, r.Line, o, rows.Collector) is { } e) list.Add(e);
        }
        if (list.Count == 0 && rows.Collector.Rows == 0) throw new GptBertException($"{name} has a header but no examples; add one row per example below it");
        return list;
    }

    static bool IsBlank(DelimitedRecord r) => r.Fields.Length == 1 && string.IsNullOrWhiteSpace(r.Fields[0]);

    /// <summary>The index of column <paramref name="wanted"/> (or of its one case-insensitive match), -1 if none.</summary>
    static int Column(string[] cols, string wanted)
    {
        int i = Array.IndexOf(cols, wanted);
        if (i < 0)
        {
            // Accept a different case when it is unambiguous ("Text" for "text").
            var ci = cols.Select((c, k) => (c, k)).Where(t => string.Equals(t.c, wanted, StringComparison.OrdinalIgnoreCase)).ToList();
            if (ci.Count == 1) i = ci[0].k;
        }
        return i;
    }

    static string NoColumn(string name, string wanted, string[] cols, string setting) =>
        $"{name}: no column '{wanted}' (columns: {string.Join(", ", cols)}); pass {setting} NAME";

    /// <summary>The example, or null when its label or text is empty (counted in <paramref name="rows"/>).</summary>
    static LabeledExample? Example(string text, string? pair, string label, string name, long line, LabeledFormatOptions o, BadRowCollector rows)
    {
        label = label.Trim();
        if (label.Length == 0 && o.RequireLabel)
        {
            rows.Add(line, BadRowKind.MissingLabel, $"{name} line {line}: empty label in column '{o.LabelColumn}'; give every example a label or remove the row");
            return null;
        }
        if (string.IsNullOrWhiteSpace(text))
        {
            rows.Add(line, BadRowKind.EmptyText, $"{name} line {line}: empty text in column '{o.TextColumn}'; fill it in or remove the row");
            return null;
        }
        rows.Good();
        return new LabeledExample(text, pair, label);
    }

    static List<LabeledExample> ReadJsonLines(string text, string name, LabeledFormatOptions o, Rows rows)
    {
        var list = new List<LabeledExample>();
        long lineNo = 0;
        string pairField = o.PairColumn ?? LabeledFormatOptions.DefaultPairColumn;
        string shape = $"{{\"{o.TextColumn}\": \"...\", \"{o.LabelColumn}\": \"...\"}}";
        int start = 0;
        while (start <= text.Length)
        {
            int nl = text.IndexOf('\n', start);
            int end = nl < 0 ? text.Length : nl;
            lineNo++;
            var line = text[start..end].TrimEnd('\r');
            int lineStart = start;
            start = end + 1;
            if (string.IsNullOrWhiteSpace(line)) continue;
            if (rows.BadBytesIn(lineStart, end) is { } bad) { rows.BadBytes(bad, lineNo); continue; }
            JsonDocument doc;
            try { doc = JsonDocument.Parse(line); }
            catch (JsonException e)
            {
                rows.Collector.Add(lineNo, BadRowKind.InvalidJson, $"{name} line {lineNo}: invalid JSON ({Json.Reason(e)}); each line must be one object like {shape}");
                continue;
            }
            using (doc)
            {
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                {
                    rows.Collector.Add(lineNo, BadRowKind.InvalidJson, $"{name} line {lineNo}: expected a JSON object like {shape}, found {Json.Kind(root.ValueKind)}");
                    continue;
                }
                string fields = string.Join(", ", root.EnumerateObject().Select(p => p.Name));
                var t = Field(root, o.TextColumn);
                if (t is null)
                {
                    rows.Collector.Add(lineNo, BadRowKind.EmptyText,
                        new GptBertException($"{name} line {lineNo}: no field '{o.TextColumn}' (fields: {fields}); pass TextColumn NAME") { Parameter = nameof(o.TextColumn) });
                    continue;
                }
                var l = Field(root, o.LabelColumn);
                if ((l is null || l.Value.ValueKind == JsonValueKind.Null) && o.RequireLabel)
                {
                    rows.Collector.Add(lineNo, BadRowKind.MissingLabel, l is null
                        ? new GptBertException($"{name} line {lineNo}: no field '{o.LabelColumn}' (fields: {fields}); pass LabelColumn NAME") { Parameter = nameof(o.LabelColumn) }
                        : new GptBertException($"{name} line {lineNo}: field '{o.LabelColumn}' is null; give every example a label or remove the row"));
                    continue;
                }
                var p = Field(root, pairField);
                if (p is null && o.PairColumn is not null)
                    throw new GptBertException($"{name} line {lineNo}: no field '{o.PairColumn}' (fields: {fields}); pass PairColumn NAME") { Parameter = nameof(o.PairColumn) };
                if (t.Value.ValueKind == JsonValueKind.Null)
                {
                    rows.Collector.Add(lineNo, BadRowKind.EmptyText, $"{name} line {lineNo}: field '{o.TextColumn}' is null; fill it in or remove the row");
                    continue;
                }
                if (t.Value.ValueKind != JsonValueKind.String)
                {
                    rows.Collector.Add(lineNo, BadRowKind.InvalidJson, $"{name} line {lineNo}: field '{o.TextColumn}' must be a string, found {Json.Kind(t.Value.ValueKind)}");
                    continue;
                }
                string? pair = null;
                if (p is { } pv && pv.ValueKind != JsonValueKind.Null)
                {
                    if (pv.ValueKind != JsonValueKind.String)
                    {
                        rows.Collector.Add(lineNo, BadRowKind.InvalidJson, $"{name} line {lineNo}: field '{pairField}' must be a string or null, found {Json.Kind(pv.ValueKind)}");
                        continue;
                    }
                    pair = pv.GetString();
                }
                string? label = l is not JsonElement lv || lv.ValueKind == JsonValueKind.Null ? "" : lv.ValueKind switch
                {
                    JsonValueKind.String => lv.GetString()!,
                    JsonValueKind.Number => lv.GetRawText(),
                    JsonValueKind.True => "true",
                    JsonValueKind.False => "false",
                    _ => null,
                };
                if (label is null)
                {
                    rows.Collector.Add(lineNo, BadRowKind.InvalidJson, $"{name} line {lineNo}: field '{o.LabelColumn}' must be a string or a number, found {Json.Kind(l!.Value.ValueKind)}");
                    continue;
                }
                if (Example(t.Value.GetString()!, pair, label, name, lineNo, o, rows.Collector) is { } e) list.Add(e);
            }
        }
        if (list.Count == 0 && rows.Collector.Rows == 0) throw new GptBertException($"{name} is empty; it needs one JSON object per line, like {shape}");
        return list;
    }

    static JsonElement? Field(JsonElement obj, string name)
    {
        if (obj.TryGetProperty(name, out var v)) return v;
        JsonElement? found = null;
        int n = 0;
        foreach (var p in obj.EnumerateObject())
            if (string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase)) { found = p.Value; n++; }
        return n == 1 ? found : null;
    }

    // ---------------------------------------------------------------- statistics

    /// <summary>Examples per label, in <see cref="LabelSet"/> order (numeric when all labels are integers, else ordinal).</summary>
    public IReadOnlyDictionary<string, int> LabelCounts()
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var e in examples) counts[e.Label] = counts.GetValueOrDefault(e.Label) + 1;
        var ordered = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var l in LabelSet.Order(counts.Keys)) ordered[l] = counts[l];
        return ordered;
    }

    /// <summary>The most frequent label (ties: the first in label order) and its count.</summary>
    public (string Label, int Count) MajorityLabel()
    {
        if (examples.Length == 0) throw new GptBertException($"{Name} has no examples; the majority label needs at least one");
        var best = ("", -1);
        foreach (var (l, c) in LabelCounts())
            if (c > best.Item2) best = (l, c);
        return best;
    }

    /// <summary>
    /// Accuracy of always predicting this dataset's majority label, measured on <paramref name="evaluation"/>
    /// (or on this dataset itself). The floor any trained classifier must beat.
    /// </summary>
    public double MajorityBaselineAccuracy(LabeledDataset? evaluation = null)
    {
        var (label, _) = MajorityLabel();
        var eval = evaluation ?? this;
        if (eval.Count == 0) throw new GptBertException($"{eval.Name} has no examples; accuracy needs at least one");
        return eval.examples.Count(e => e.Label == label) / (double)eval.Count;
    }

    // ---------------------------------------------------------------- splitting

    /// <summary>
    /// Cuts the dataset into train/validation/test parts of the given fractions (they must add up to 1).
    /// The same seed gives the same split on every machine and .NET version. With <paramref name="stratify"/>
    /// each label is split separately, so every part has (nearly) the same label proportions. Each part keeps
    /// the original order of its examples.
    /// </summary>
    public DatasetSplit Split(double train, double validation, double test, int seed, bool stratify = true)
    {
        foreach (var (f, what) in new[] { (train, "train"), (validation, "validation"), (test, "test") })
            if (!(f >= 0 && f <= 1)) throw new GptBertException($"the {what} fraction is {f}; each split fraction must be between 0 and 1");
        if (Math.Abs(train + validation + test - 1) > 1e-6)
            throw new GptBertException($"split fractions {train} + {validation} + {test} = {train + validation + test:0.######}; they must add up to 1 (e.g. 0.8, 0.1, 0.1)");
        var part = new int[examples.Length];   // 0 train, 1 validation, 2 test
        var groups = stratify
            ? examples.Select((e, i) => (e.Label, i)).GroupBy(t => t.Label, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => g.Select(t => t.i).ToArray())
            : [Enumerable.Range(0, examples.Length).ToArray()];
        var rng = new SeededRandom(seed);
        foreach (var idx in groups)
        {
            rng.Shuffle(idx);
            int nVal = (int)Math.Floor(idx.Length * validation + 0.5);
            int nTest = Math.Min((int)Math.Floor(idx.Length * test + 0.5), idx.Length - nVal);
            if (train == 0) nTest = idx.Length - nVal;
            for (int k = 0; k < idx.Length; k++) part[idx[k]] = k < nVal ? 1 : k < nVal + nTest ? 2 : 0;
        }
        LabeledDataset Part(int p, string what) =>
            new($"{Name} ({what})", SourcePath, examples.Where((_, i) => part[i] == p).ToArray());
        return new DatasetSplit(Part(0, "train"), Part(1, "validation"), Part(2, "test"));
    }

    /// <summary>The examples in a seeded random order (same seed, same order everywhere).</summary>
    public LabeledDataset Shuffle(int seed)
    {
        var arr = (LabeledExample[])examples.Clone();
        new SeededRandom(seed).Shuffle(arr);
        return new LabeledDataset(Name, SourcePath, arr, Skipped);
    }

    // ---------------------------------------------------------------- saving

    /// <summary>
    /// Writes the examples atomically as CSV, TSV (header <c>text[,text_pair],label</c>) or JSON Lines
    /// (<c>{"text", ["text_pair",] "label"}</c>), chosen by <paramref name="format"/> or the extension.
    /// </summary>
    public void Save(string path, LabeledFormat format = LabeledFormat.Auto)
    {
        if (format == LabeledFormat.Auto) format = FormatOf(path);
        if (format == LabeledFormat.JsonLines)
        {
            AtomicFile.Write(path, s =>
            {
                using var w = new StreamWriter(s, new UTF8Encoding(false), 1 << 16, leaveOpen: true);
                foreach (var e in examples) w.Write(ToJsonLine(e, HasPairs) + "\n");
            });
            return;
        }
        char sep = format == LabeledFormat.Tsv ? '\t' : ',';
        string[] header = HasPairs ? ["text", "text_pair", "label"] : ["text", "label"];
        DelimitedText.Write(path, examples.Select(e => (IEnumerable<string?>)(HasPairs ? [e.Text, e.Pair, e.Label] : [e.Text, e.Label])).Prepend(header), sep);
    }

    static readonly JsonWriterOptions JsonOut = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    static string ToJsonLine(LabeledExample e, bool pairs)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, JsonOut))
        {
            w.WriteStartObject();
            w.WriteString("text", e.Text);
            if (pairs) w.WriteString("text_pair", e.Pair);
            w.WriteString("label", e.Label);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }
}
