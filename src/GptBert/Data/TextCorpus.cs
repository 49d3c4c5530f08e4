using System.Text;
using System.Text.Json;

namespace GptBert.Data;

/// <summary>How <see cref="TextCorpus"/> finds files and splits them into documents.</summary>
public sealed record TextCorpusOptions
{
    /// <summary>Which files a folder contributes (matched against the file name, searched recursively). Default <c>*.txt</c>.</summary>
    public string FilePattern { get; init; } = "*.txt";

    /// <summary>
    /// Null (default): documents are separated by blank lines. Otherwise a line equal to this string (after trimming
    /// trailing spaces) ends a document and blank lines stay inside documents, e.g. <c>"%"</c> for fortune files.
    /// </summary>
    public string? DocumentSeparator { get; init; }

    /// <summary>For <c>.jsonl</c>/<c>.ndjson</c> files (one JSON object per line, one document each): the string field holding the text.</summary>
    public string JsonTextField { get; init; } = "text";

    /// <summary>
    /// False (default): a line that cannot be used (invalid UTF-8, a NUL byte; in JSON Lines files, a line that is not an
    /// object with the text field as a string) is skipped and counted (<see cref="TextCorpus.Skipped"/>), unless more than
    /// <see cref="SkippedRows.MaxBadFraction"/> of a file's lines are such, when the file is refused. True: any such line
    /// refuses the corpus, naming its file and line.
    /// </summary>
    public bool Strict { get; init; }

    /// <summary>Called once per file with skipped lines, after its first full reading, with <see cref="SkippedRows.Summary"/>.</summary>
    public Action<string>? Warn { get; init; }
}

/// <summary>One line or document of a corpus, with where it came from and how far the reading has got.</summary>
/// <param name="Text">The line, or the document's lines joined with '\n'.</param>
/// <param name="File">The file, as the corpus lists it.</param>
/// <param name="Line">1-based line of the file where the text starts (for JSON Lines: the JSON line).</param>
/// <param name="BytesRead">Bytes of the whole corpus read so far; <c>BytesRead / TotalBytes</c> is the progress.</param>
public sealed record CorpusText(string Text, string File, long Line, long BytesRead);

/// <summary>Totals of a corpus after one full pass.</summary>
/// <param name="Files">Number of files.</param>
/// <param name="Bytes">Size on disk.</param>
/// <param name="Lines">Non-blank lines (document separator lines not counted).</param>
/// <param name="Documents">Documents.</param>
/// <param name="Characters">UTF-16 characters in the documents (lines joined with '\n').</param>
public sealed record CorpusStats(int Files, long Bytes, long Lines, long Documents, long Characters);

/// <summary>
/// A plain-text corpus for pretraining: a file, a folder (recursively, <c>*.txt</c> by default) or a glob
/// (<c>data/**/*.txt</c>). Text is streamed: enumerating never holds more than the current line (or document)
/// in memory, so corpora far larger than memory work. Every byte is checked as strict UTF-8; a bad byte is
/// reported with file, byte offset and line. Files ending in <c>.jsonl</c> or <c>.ndjson</c> are read as one
/// JSON object per line whose <see cref="TextCorpusOptions.JsonTextField"/> is one document.
/// <para>Two views: <see cref="Lines"/> (every non-blank line) and <see cref="Documents"/> (runs of
/// non-blank lines separated by blank lines, or by <see cref="TextCorpusOptions.DocumentSeparator"/> lines).
/// A document never spans two files. Enumerations are independent and can be repeated (one per epoch).</para>
/// </summary>
public sealed class TextCorpus
{
    readonly TextCorpusOptions options;
    readonly long[] sizes;

    TextCorpus(string source, IReadOnlyList<string> files, long[] sizes, TextCorpusOptions options)
    {
        Source = source;
        Files = files;
        this.sizes = sizes;
        this.options = options;
        TotalBytes = sizes.Sum();
    }

    readonly Dictionary<string, SkippedRows> skipped = new(StringComparer.Ordinal);

    /// <summary>
    /// Per file read to its end so far, what was skipped (<see cref="TextCorpusOptions.Strict"/>); files with nothing skipped
    /// are listed too, with their line counts. Filled as enumerations reach the end of each file.
    /// </summary>
    public IReadOnlyList<SkippedRows> Skipped
    {
        get { lock (skipped) return Files.Where(skipped.ContainsKey).Select(f => skipped[f]).ToList(); }
    }

    /// <summary>Lines checked between early looks at the share of bad lines, so a wrong file fails without being read to its end.</summary>
    const int EarlyCheckLines = 1000;

    /// <summary>Share of bad lines that refuses a file before its end (the 5% rule is applied at the end): only a wrong file gets there.</summary>
    const double EarlyBadFraction = 0.5;

    /// <summary>What was opened, as given.</summary>
    public string Source { get; }

    /// <summary>The files, in reading order (ordinal by path).</summary>
    public IReadOnlyList<string> Files { get; }

    /// <summary>Total size of the files in bytes (for progress; <see cref="CorpusText.BytesRead"/> runs up to it).</summary>
    public long TotalBytes { get; }

    /// <summary>
    /// Lists the files of <paramref name="pathOrFolderOrGlob"/> and their sizes; reads no text yet. Throws a
    /// <see cref="GptBertException"/> when the path does not exist, nothing matches, or all files are empty.
    /// </summary>
    public static TextCorpus Open(string pathOrFolderOrGlob, TextCorpusOptions? options = null)
    {
        options ??= new TextCorpusOptions();
        var files = FileSet.Resolve(pathOrFolderOrGlob, options.FilePattern);
        var sizes = new long[files.Count];
        for (int i = 0; i < files.Count; i++)
        {
            try { sizes[i] = new FileInfo(files[i]).Length; }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new GptBertException($"{files[i]}: cannot read ({e.Message.TrimEnd('.')}); check that the file exists and is readable", e);
            }
        }
        var corpus = new TextCorpus(pathOrFolderOrGlob, files, sizes, options);
        if (corpus.TotalBytes == 0)
            throw new GptBertException(files.Count == 1
                ? $"{files[0]} is empty; a corpus needs some text"
                : $"corpus {pathOrFolderOrGlob} is empty: its {files.Count} files have no bytes; add text or point at other files");
        return corpus;
    }

    /// <summary>Total bytes of the files <paramref name="pathOrFolderOrGlob"/> names (no text is read).</summary>
    public static long CountBytes(string pathOrFolderOrGlob, TextCorpusOptions? options = null) =>
        Open(pathOrFolderOrGlob, options).TotalBytes;

    /// <summary>Every non-blank line, streamed.</summary>
    public IEnumerable<string> Lines() => ReadLines().Select(t => t.Text);

    /// <summary>Every document, streamed.</summary>
    public IEnumerable<string> Documents() => ReadDocuments().Select(t => t.Text);

    /// <summary>Every non-blank line with its file, line number and the progress so far.</summary>
    public IEnumerable<CorpusText> ReadLines()
    {
        bool any = false;
        foreach (var p in Pieces())
        {
            if (p.Boundary || string.IsNullOrWhiteSpace(p.Text)) continue;
            any = true;
            yield return new CorpusText(p.Text, p.File, p.Line, p.BytesRead);
        }
        if (!any) throw NoText();
    }

    /// <summary>Every document with its file, first line and the progress so far.</summary>
    public IEnumerable<CorpusText> ReadDocuments()
    {
        bool any = false;
        var lines = new List<string>();
        long firstLine = 0;
        foreach (var p in Pieces())
        {
            if (!p.Boundary)
            {
                if (lines.Count == 0 && string.IsNullOrWhiteSpace(p.Text)) continue;   // leading blank lines
                if (lines.Count == 0) firstLine = p.Line;
                lines.Add(p.Text);
                continue;
            }
            while (lines.Count > 0 && string.IsNullOrWhiteSpace(lines[^1])) lines.RemoveAt(lines.Count - 1);
            if (lines.Count == 0) continue;
            any = true;
            var text = lines.Count == 1 ? lines[0] : string.Join('\n', lines);
            lines.Clear();
            yield return new CorpusText(text, p.File, firstLine, p.BytesRead);
        }
        if (!any) throw NoText();
    }

    /// <summary>Reads the whole corpus once (validating all of it) and counts files, bytes, lines, documents and characters.</summary>
    public CorpusStats Measure()
    {
        long lines = 0, docs = 0, chars = 0;
        bool inDoc = false;
        long docChars = 0, pendingBlank = 0;
        foreach (var p in Pieces())
        {
            if (p.Boundary)
            {
                if (inDoc) { docs++; chars += docChars; }
                inDoc = false; docChars = 0; pendingBlank = 0;
                continue;
            }
            if (string.IsNullOrWhiteSpace(p.Text))
            {
                if (inDoc) pendingBlank += p.Text.Length + 1;
                continue;
            }
            lines++;
            if (inDoc) docChars += pendingBlank + 1;
            pendingBlank = 0;
            docChars += p.Text.Length;
            inDoc = true;
        }
        if (docs == 0) throw NoText();
        return new CorpusStats(Files.Count, TotalBytes, lines, docs, chars);
    }

    GptBertException NoText() => new(Files.Count == 1
        ? $"{Files[0]} has no text (only blank lines); a corpus needs some text"
        : $"corpus {Source} has no text: its {Files.Count} files contain only blank lines; add text or point at other files");

    readonly record struct Piece(bool Boundary, string Text, string File, long Line, long BytesRead);

    /// <summary>
    /// All lines of all files in order, with a boundary after each document: at blank lines (default), at
    /// separator lines, after each JSON line, and at the end of each file. Blank lines come through only
    /// when a separator is set (they are then part of documents).
    /// </summary>
    IEnumerable<Piece> Pieces()
    {
        long before = 0;
        var sep = options.DocumentSeparator?.TrimEnd();
        for (int f = 0; f < Files.Count; f++)
        {
            var file = Files[f];
            bool json = file.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) || file.EndsWith(".ndjson", StringComparison.OrdinalIgnoreCase);
            var bad = new BadRowCollector(file, options.Strict, "lines");
            using var reader = Utf8LineReader.Open(file, file, bad);
            while (reader.TryReadLine(out var line))
            {
                long done = before + reader.Position;
                if (bad.Rows % EarlyCheckLines == 0 && bad.Rows > 0) bad.ThrowIfTooMany(EarlyBadFraction);
                if (json)
                {
                    if (string.IsNullOrWhiteSpace(line)) continue;
                    string text;
                    try { text = JsonText(line, file, reader.LineNumber); }
                    catch (GptBertException e)
                    {
                        // The reader counted the line as good; it is not.
                        bad.Retract();
                        bad.Add(reader.LineNumber, BadRowKind.InvalidJson, e);
                        continue;
                    }
                    foreach (var l in text.Split('\n'))
                        yield return new Piece(false, l.TrimEnd('\r'), file, reader.LineNumber, done);
                    yield return new Piece(true, "", file, reader.LineNumber, done);
                }
                else if (sep is null)
                {
                    yield return string.IsNullOrWhiteSpace(line)
                        ? new Piece(true, "", file, reader.LineNumber, done)
                        : new Piece(false, line, file, reader.LineNumber, done);
                }
                else if (line.TrimEnd() == sep)
                {
                    yield return new Piece(true, "", file, reader.LineNumber, done);
                }
                else
                {
                    yield return new Piece(false, line, file, reader.LineNumber, done);
                }
            }
            bad.ThrowIfTooMany();
            var result = bad.Result();
            bool first;
            lock (skipped) { first = !skipped.ContainsKey(file); skipped[file] = result; }
            if (first && result.Count > 0) options.Warn?.Invoke(result.Summary("lines"));
            // The file may have grown or shrunk since Open; progress counts what was listed.
            before += sizes[f];
            yield return new Piece(true, "", file, reader.LineNumber, before);
        }
    }

    string JsonText(string line, string file, long lineNo)
    {
        var field = options.JsonTextField;
        JsonDocument doc;
        try { doc = JsonDocument.Parse(line); }
        catch (JsonException e)
        {
            throw new GptBertException($"{file} line {lineNo}: invalid JSON ({Json.Reason(e)}); each line must be one object like {{\"{field}\": \"...\"}}");
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new GptBertException($"{file} line {lineNo}: expected a JSON object like {{\"{field}\": \"...\"}}, found {Json.Kind(root.ValueKind)}");
            if (!root.TryGetProperty(field, out var t))
                throw new GptBertException($"{file} line {lineNo}: no field '{field}' (fields: {string.Join(", ", root.EnumerateObject().Select(p => p.Name))}); set the JSON text field to one of them");
            if (t.ValueKind != JsonValueKind.String)
                throw new GptBertException($"{file} line {lineNo}: field '{field}' must be a string, found {Json.Kind(t.ValueKind)}");
            return t.GetString()!;
        }
    }
}

/// <summary>Small JSON helpers shared by the data readers.</summary>
internal static class Json
{
    public static string Kind(JsonValueKind k) => k switch
    {
        JsonValueKind.Array => "an array", JsonValueKind.Object => "an object", JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number", JsonValueKind.True or JsonValueKind.False => "a boolean", _ => "null",
    };

    /// <summary>The parser's complaint without its "LineNumber: 0 | BytePositionInLine: 7." tail, plus the column.</summary>
    public static string Reason(JsonException e)
    {
        var m = e.Message.ReplaceLineEndings(" ");
        int i = m.IndexOf(" LineNumber:", StringComparison.Ordinal);
        if (i > 0) m = m[..i];
        m = m.Trim().TrimEnd('.');
        return e.BytePositionInLine is { } col ? $"{m} at column {col + 1}" : m;
    }
}
