using System.Globalization;

namespace GptBert.Data;

/// <summary>Why a row (of a labelled file) or a line (of a corpus) could not be used.</summary>
public enum BadRowKind
{
    /// <summary>A NUL byte: text files have none (a stray one is damage, many mean a binary file).</summary>
    NulByte,
    /// <summary>Bytes that are not UTF-8 (e.g. a Latin-1 'é').</summary>
    InvalidUtf8,
    /// <summary>The text column is empty, blank or absent.</summary>
    EmptyText,
    /// <summary>The label column is empty, blank, null or absent.</summary>
    MissingLabel,
    /// <summary>A CSV/TSV row with more or fewer fields than the header.</summary>
    RaggedRow,
    /// <summary>A CSV/TSV row whose quoting is broken (text after a closing quote, a quote never closed).</summary>
    BadQuoting,
    /// <summary>A JSON Lines row that is not a JSON object with string fields.</summary>
    InvalidJson,
}

/// <summary>One kind of unusable row in a file: how many, and the first few (1-based) line numbers.</summary>
public sealed record SkippedKind(BadRowKind Kind, int Count, IReadOnlyList<long> FirstLines)
{
    /// <summary>"2 with a NUL byte (lines 17, 240)".</summary>
    public override string ToString()
    {
        var lines = string.Join(", ", FirstLines.Select(l => l.ToString(CultureInfo.InvariantCulture)));
        string more = Count > FirstLines.Count ? ", ..." : "";
        return $"{Count.ToString(CultureInfo.InvariantCulture)} {SkippedRows.Describe(Kind)} ({(FirstLines.Count == 1 ? "line" : "lines")} {lines}{more})";
    }
}

/// <summary>
/// What a reader left out of one file because it could not be used (<see cref="BadRowKind"/>), counted by kind with
/// the first few line numbers, so that nothing is dropped silently: the comparison report and <c>--json</c> show it.
/// </summary>
/// <param name="File">The file, as messages name it.</param>
/// <param name="Rows">Data rows (or corpus lines) read, the skipped ones included; header and blank lines not counted.</param>
/// <param name="Kinds">Skipped rows by kind, in the order of <see cref="BadRowKind"/>; empty when none was skipped.</param>
public sealed record SkippedRows(string File, long Rows, IReadOnlyList<SkippedKind> Kinds)
{
    /// <summary>Line numbers kept per kind for messages and reports.</summary>
    public const int LinesKept = 5;

    /// <summary>
    /// A file with more unusable rows than this fraction (5%) is refused even when rows may be skipped: that is a wrong
    /// file (another encoding, another format, a binary), not a dirty one.
    /// </summary>
    public const double MaxBadFraction = 0.05;

    /// <summary>Rows skipped in all.</summary>
    public int Count => Kinds.Sum(k => k.Count);

    /// <summary>Nothing was skipped from <paramref name="file"/>, which had <paramref name="rows"/> rows.</summary>
    public static SkippedRows None(string file, long rows = 0) => new(file, rows, []);

    /// <summary>"train.csv: skipped 3 of 2,403 rows that cannot be used: 2 with a NUL byte (lines 17, 240), 1 with an empty text (line 99)".</summary>
    public string Summary(string unit = "rows") =>
        Count == 0
            ? $"{File}: {Rows.ToString("N0", CultureInfo.InvariantCulture)} {unit}, none skipped"
            : $"{File}: skipped {Count.ToString("N0", CultureInfo.InvariantCulture)} of {Rows.ToString("N0", CultureInfo.InvariantCulture)} {unit} that cannot be used: {string.Join(", ", Kinds)}";

    /// <summary>How a kind reads after a count: "with a NUL byte", "ragged (wrong number of fields)".</summary>
    public static string Describe(BadRowKind kind) => kind switch
    {
        BadRowKind.NulByte => "with a NUL byte",
        BadRowKind.InvalidUtf8 => "with invalid UTF-8",
        BadRowKind.EmptyText => "with an empty text",
        BadRowKind.MissingLabel => "with a missing label",
        BadRowKind.RaggedRow => "with the wrong number of fields",
        BadRowKind.BadQuoting => "with broken quoting",
        BadRowKind.InvalidJson => "that are not a valid JSON object",
        _ => kind.ToString(),
    };
}

/// <summary>
/// Collects the unusable rows of one file as a reader meets them and applies the policy: in strict mode the first one
/// refuses the file; otherwise rows are skipped, unless more than <see cref="SkippedRows.MaxBadFraction"/> of them are
/// bad, when the file is refused naming the first bad row. Messages keep the reader's own text for that row.
/// </summary>
internal sealed class BadRowCollector(string file, bool strict, string unit = "rows")
{
    readonly Dictionary<BadRowKind, (int Count, List<long> Lines)> kinds = [];
    GptBertException? first;

    public long Rows { get; private set; }
    public int Bad { get; private set; }

    /// <summary>A usable row.</summary>
    public void Good() => Rows++;

    /// <summary>Takes back the last <see cref="Good"/> (a later check found the row unusable).</summary>
    public void Retract() => Rows--;

    /// <summary>An unusable row: its line, kind and the one-line message naming the problem.</summary>
    public void Add(long line, BadRowKind kind, string message) => Add(line, kind, new GptBertException(message));

    /// <summary>An unusable row, as the <see cref="GptBertException"/> the reader made for it (its message and the settings it names).</summary>
    public void Add(long line, BadRowKind kind, GptBertException problem)
    {
        Rows++;
        Bad++;
        first ??= problem;
        if (strict)
            throw problem.Reworded($"{problem.Message} (Strict: a file with an unusable row is refused; without it such rows are skipped and counted)", "Strict");
        if (!kinds.TryGetValue(kind, out var k)) kinds[kind] = k = (0, []);
        if (k.Lines.Count < SkippedRows.LinesKept) k.Lines.Add(line);
        kinds[kind] = (k.Count + 1, k.Lines);
    }

    /// <summary>True when more than <paramref name="fraction"/> (default <see cref="SkippedRows.MaxBadFraction"/>) of the rows so far are bad.</summary>
    public bool TooMany(double fraction = SkippedRows.MaxBadFraction) => Bad > 0 && Bad > fraction * Rows;

    /// <summary>
    /// Throws when more than <paramref name="fraction"/> of the rows are bad: at the end of the file with the default, or
    /// early (a streamed corpus) with a higher fraction that only a wrong file reaches.
    /// </summary>
    public void ThrowIfTooMany(double fraction = SkippedRows.MaxBadFraction)
    {
        if (!TooMany(fraction)) return;
        double share = Bad / (double)Rows;
        throw first!.Reworded(
            $"{first.Message} ({Bad.ToString("N0", CultureInfo.InvariantCulture)} of {Rows.ToString("N0", CultureInfo.InvariantCulture)} {unit} cannot be used, " +
            $"{share.ToString("0.#%", CultureInfo.InvariantCulture)}: more than the {SkippedRows.MaxBadFraction.ToString("0%", CultureInfo.InvariantCulture)} skipped from a dirty file, so the file is refused; is it the right file?)");
    }

    public SkippedRows Result() => new(file, Rows,
        kinds.OrderBy(k => k.Key).Select(k => new SkippedKind(k.Key, k.Value.Count, k.Value.Lines.ToArray())).ToList());
}
