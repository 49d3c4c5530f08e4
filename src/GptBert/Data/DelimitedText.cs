using System.Text;

namespace GptBert.Data;

/// <summary>One record of a CSV/TSV file: its fields and the 1-based line where it starts.</summary>
public sealed record DelimitedRecord(long Line, string[] Fields)
{
    /// <summary>Where the record lies in the parsed text: [Start, End) in characters, line break excluded.</summary>
    public int Start { get; init; }
    public int End { get; init; }

    /// <summary>When parsing leniently: why the record's quoting is broken (its fields are then what could be read); null when it is fine.</summary>
    public string? Error { get; init; }
}

/// <summary>
/// CSV and TSV with RFC 4180 quoting: a field may be wrapped in double quotes, and then may contain the
/// separator, line breaks, and quotes written twice (<c>""</c>). Records end at LF, CRLF or CR; CRLF inside
/// a quoted field becomes LF. Completely empty lines are skipped. Malformed input (an unterminated quote,
/// text after a closing quote) is reported with the file name and line number.
/// </summary>
public static class DelimitedText
{
    /// <summary>Parses <paramref name="text"/> (already decoded) into records; <paramref name="name"/> is used in error messages.</summary>
    public static IEnumerable<DelimitedRecord> Parse(string text, char separator, string name) => Parse(text, separator, name, lenient: false);

    /// <summary>
    /// Parses <paramref name="text"/> into records. Strictly (<paramref name="lenient"/> false), broken quoting throws.
    /// Leniently, a record with broken quoting comes back with <see cref="DelimitedRecord.Error"/> set and parsing goes on
    /// at the next line: after text following a closing quote, the next line break; after a quote that is never closed,
    /// the line after the one where it opened (so one stray quote costs one row, not the rest of the file).
    /// </summary>
    public static IEnumerable<DelimitedRecord> Parse(string text, char separator, string name, bool lenient)
    {
        if (separator is '"' or '\n' or '\r')
            throw new ArgumentException("the separator cannot be a quote or a line break", nameof(separator));
        int i = 0, n = text.Length;
        long line = 1;
        var fields = new List<string>();
        var sb = new StringBuilder();
        while (i < n)
        {
            long recordLine = line;
            int recordStart = i, recordEnd = i;
            string? error = null;
            fields.Clear();
            // A record that is just a line break: skip it.
            if (text[i] is '\n' or '\r')
            {
                i += text[i] == '\r' && i + 1 < n && text[i + 1] == '\n' ? 2 : 1;
                line++;
                continue;
            }
            while (true)
            {
                sb.Clear();
                if (i < n && text[i] == '"')
                {
                    long quoteLine = line;
                    int quoteAt = i;
                    i++;
                    bool unterminated = false;
                    while (true)
                    {
                        if (i >= n)
                        {
                            var message = $"{name} line {quoteLine}: unterminated quoted field; close it with \" (a quote inside a quoted field is written \"\")";
                            if (!lenient) throw new GptBertException(message);
                            // Go back to the end of the line where the quote opened and carry on from there.
                            error = message;
                            unterminated = true;
                            int lineEnd = text.IndexOfAny(['\n', '\r'], quoteAt);
                            i = lineEnd < 0 ? n : lineEnd;
                            line = quoteLine;
                            sb.Clear().Append(text, quoteAt + 1, i - quoteAt - 1);
                            break;
                        }
                        char c = text[i];
                        if (c == '"')
                        {
                            if (i + 1 < n && text[i + 1] == '"') { sb.Append('"'); i += 2; continue; }
                            i++;
                            break;
                        }
                        if (c == '\r')
                        {
                            sb.Append('\n');
                            i += i + 1 < n && text[i + 1] == '\n' ? 2 : 1;
                            line++;
                            continue;
                        }
                        if (c == '\n') line++;
                        sb.Append(c);
                        i++;
                    }
                    if (!unterminated && i < n && text[i] != separator && text[i] is not ('\n' or '\r'))
                    {
                        var message = $"{name} line {line}: unexpected {Show(text[i])} after a closing quote; quote the whole field and write a quote inside it as \"\"";
                        if (!lenient) throw new GptBertException(message);
                        error ??= message;
                        // Skip the rest of this line: the record ends at the next line break.
                        while (i < n && text[i] is not ('\n' or '\r')) i++;
                    }
                }
                else
                {
                    int start = i;
                    while (i < n && text[i] != separator && text[i] is not ('\n' or '\r')) i++;
                    sb.Append(text, start, i - start);
                }
                fields.Add(sb.ToString());
                if (error is null && i < n && text[i] == separator) { i++; continue; }
                recordEnd = i;
                // End of record: line break or end of text.
                if (i < n)
                {
                    i += text[i] == '\r' && i + 1 < n && text[i + 1] == '\n' ? 2 : 1;
                    line++;
                }
                break;
            }
            yield return new DelimitedRecord(recordLine, fields.ToArray()) { Start = recordStart, End = recordEnd, Error = error };
        }
    }

    static string Show(char c) => c switch { '\t' => "tab", ' ' => "space", _ => $"'{c}'" };

    /// <summary>A field as it should be written: quoted (with quotes doubled) when it contains the separator, a quote, a line break or edge spaces.</summary>
    public static string Quote(string? field, char separator)
    {
        field ??= "";
        bool needs = field.Length > 0 && (field.IndexOfAny([separator, '"', '\n', '\r']) >= 0 || char.IsWhiteSpace(field[0]) || char.IsWhiteSpace(field[^1]));
        return needs ? "\"" + field.Replace("\"", "\"\"") + "\"" : field;
    }

    /// <summary>One record: the quoted fields joined by the separator, ending with '\n'.</summary>
    public static string FormatRecord(IEnumerable<string?> fields, char separator) =>
        string.Join(separator, fields.Select(f => Quote(f, separator))) + "\n";

    /// <summary>Writes records (the first is usually the header) to a file atomically, as UTF-8 without BOM and LF line ends.</summary>
    public static void Write(string path, IEnumerable<IEnumerable<string?>> records, char separator)
    {
        AtomicFile.Write(path, s =>
        {
            using var w = new StreamWriter(s, new UTF8Encoding(false), 1 << 16, leaveOpen: true);
            foreach (var r in records) w.Write(FormatRecord(r, separator));
        });
    }
}
