using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace GptBert.Cli;

/// <summary>One input text (and optional pair) with the line it came from (1-based).</summary>
public sealed record InputItem(int Line, string Text, string? Pair = null);

/// <summary>
/// Reads the texts a command works on: given on the command line, from --input FILE, or from stdin.
/// Plain mode: one text per line. JSON Lines mode (--jsonl): one object per line, {"text": ..., "text_pair": ...}.
/// Blank lines are skipped. Bytes are validated as strict UTF-8; a bad byte is reported by line and byte offset.
/// Reading is lazy so long inputs stream, but <see cref="Open"/> reads the first item eagerly, so "no input"
/// is reported before a model is loaded.
/// </summary>
public sealed class InputReader
{
    readonly CliContext ctx;
    readonly string? path;
    readonly IReadOnlyList<string>? texts;
    readonly bool jsonl;
    readonly string[] textKeys;

    /// <param name="ctx">Streams of this invocation.</param>
    /// <param name="path">--input FILE ("-" means stdin), or null.</param>
    /// <param name="texts">Texts given on the command line; when non-empty they are the input.</param>
    /// <param name="jsonl">Parse file/stdin lines as JSON objects.</param>
    /// <param name="textKeys">Accepted names of the text field in JSON lines (first is the documented one).</param>
    public InputReader(CliContext ctx, string? path, IReadOnlyList<string>? texts, bool jsonl, params string[] textKeys)
    {
        if (path is not null && texts is { Count: > 0 })
            throw new UsageException("give the text on the command line or with --input FILE, not both");
        this.ctx = ctx;
        this.path = path == "-" ? null : path;
        this.texts = texts is { Count: > 0 } ? texts : null;
        this.jsonl = jsonl;
        this.textKeys = textKeys.Length > 0 ? textKeys : ["text"];
    }

    /// <summary>Name of the source in messages: the file, "stdin" or "argument".</summary>
    public string SourceName => texts is not null ? "argument" : path ?? "stdin";

    /// <summary>"line 3 of notes.txt" / "argument 2".</summary>
    public string Where(InputItem item) => texts is not null ? $"argument {item.Line}" : $"line {item.Line} of {SourceName}";

    /// <summary>Reads the first item now (throws "no input" when there is none) and the rest lazily.</summary>
    public IEnumerable<InputItem> Open()
    {
        var e = Read().GetEnumerator();
        bool any;
        try { any = e.MoveNext(); }
        catch { e.Dispose(); throw; }
        if (!any)
        {
            e.Dispose();
            throw new GptBertException(texts is null && path is null
                ? "no input: stdin was empty; give the text as an argument, use --input FILE, or pipe text in (one text per line)"
                : $"no input: {SourceName} has no text (only blank lines or empty); put one text per line");
        }
        return Rest(e);

        static IEnumerable<InputItem> Rest(IEnumerator<InputItem> e)
        {
            using (e)
            {
                do yield return e.Current;
                while (e.MoveNext());
            }
        }
    }

    /// <summary>All items at once (same checks as <see cref="Open"/>).</summary>
    public List<InputItem> ReadAll() => Open().ToList();

    IEnumerable<InputItem> Read()
    {
        if (texts is not null)
        {
            for (int i = 0; i < texts.Count; i++) yield return new InputItem(i + 1, texts[i]);
            yield break;
        }
        IEnumerable<(int Line, string Text)> lines;
        if (path is not null)
        {
            if (Directory.Exists(path)) throw new GptBertException($"--input {path} is a directory; give a text file (one text per line)");
            if (!File.Exists(path)) throw new GptBertException($"--input {path}: file not found");
            lines = ReadLinesFromFile(path);
        }
        else
        {
            if (ctx.Stdin.IsTerminal)
            {
                ctx.Stderr.WriteLine(jsonl
                    ? "reading JSON lines from the terminal; end with Ctrl-D (Ctrl-Z on Windows)"
                    : "reading texts from the terminal, one per line; end with Ctrl-D (Ctrl-Z on Windows)");
                ctx.Stderr.Flush();
            }
            lines = ctx.Stdin.Stream is { } s ? ReadLines(s, "stdin") : ReadLines(ctx.Stdin.Reader ?? TextReader.Null);
        }
        foreach (var (line, text) in lines)
        {
            if (string.IsNullOrWhiteSpace(text)) continue;
            yield return jsonl ? ParseJsonLine(line, text) : new InputItem(line, text);
        }
    }

    IEnumerable<(int, string)> ReadLinesFromFile(string file)
    {
        FileStream fs;
        try { fs = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new GptBertException($"--input {file}: cannot read ({e.Message})");
        }
        using (fs)
            foreach (var l in ReadLines(fs, file)) yield return l;
    }

    static IEnumerable<(int, string)> ReadLines(TextReader reader)
    {
        int n = 0;
        while (reader.ReadLine() is { } line) yield return (++n, line);
    }

    /// <summary>
    /// Splits a byte stream at '\n' (dropping a trailing '\r'), decoding each line as strict UTF-8.
    /// A leading UTF-8 BOM is skipped; a UTF-16 BOM gets its own message.
    /// </summary>
    public static IEnumerable<(int Line, string Text)> ReadLines(Stream stream, string name)
    {
        var buffer = new byte[1 << 16];
        var line = new ArrayBufferWriter<byte>(256);
        long offset = 0;     // absolute offset of buffer[0]
        long lineStart = 0;  // absolute offset of the current line's first byte
        int lineNo = 1;
        bool first = true;
        int read;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            int start = 0;
            if (first)
            {
                first = false;
                if (read >= 2 && (buffer[0], buffer[1]) is (0xFF, 0xFE) or (0xFE, 0xFF))
                    throw new GptBertException($"{name} is UTF-16 text, not UTF-8 (line 1, byte offset 0); convert it, e.g. iconv -f UTF-16 -t UTF-8");
                if (read >= 3 && buffer[0] == 0xEF && buffer[1] == 0xBB && buffer[2] == 0xBF) { start = 3; lineStart = 3; }
            }
            for (int i = start; i < read; i++)
            {
                if (buffer[i] != (byte)'\n') continue;
                line.Write(buffer.AsSpan(start, i - start));
                yield return (lineNo, Decode(line.WrittenSpan, name, lineNo, lineStart));
                line.Clear();
                lineNo++;
                start = i + 1;
                lineStart = offset + i + 1;
            }
            line.Write(buffer.AsSpan(start, read - start));
            offset += read;
        }
        if (line.WrittenCount > 0) yield return (lineNo, Decode(line.WrittenSpan, name, lineNo, lineStart));
    }

    static string Decode(ReadOnlySpan<byte> bytes, string name, int lineNo, long lineStart)
    {
        if (bytes.Length > 0 && bytes[^1] == (byte)'\r') bytes = bytes[..^1];
        var chars = new char[bytes.Length];
        var status = Utf8.ToUtf16(bytes, chars, out int bytesRead, out int charsWritten, replaceInvalidSequences: false);
        if (status != System.Buffers.OperationStatus.Done)
        {
            // bytesRead is where the invalid (or truncated) sequence starts.
            throw new GptBertException(
                $"{name}: invalid UTF-8 at line {lineNo}, byte offset {lineStart + bytesRead} (byte 0x{bytes[bytesRead]:X2}, byte {bytesRead + 1} of the line); save the input as UTF-8, e.g. iconv -f latin1 -t UTF-8");
        }
        return new string(chars, 0, charsWritten);
    }

    InputItem ParseJsonLine(int line, string text)
    {
        string where = $"{SourceName} line {line}";
        JsonDocument doc;
        try { doc = JsonDocument.Parse(text); }
        catch (JsonException e)
        {
            throw new GptBertException($"{where}: not valid JSON ({FirstSentence(e.Message)}); with --jsonl each input line is an object like {{\"{textKeys[0]}\": \"...\"}} (drop --jsonl to read plain text lines)");
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new GptBertException($"{where}: expected a JSON object like {{\"{textKeys[0]}\": \"...\"}}, got {Kind(root.ValueKind)}");
            string? value = null;
            foreach (var key in textKeys)
            {
                if (!root.TryGetProperty(key, out var t)) continue;
                if (t.ValueKind != JsonValueKind.String)
                    throw new GptBertException($"{where}: \"{key}\" must be a string, got {Kind(t.ValueKind)}");
                value = t.GetString();
                break;
            }
            if (value is null)
                throw new GptBertException($"{where}: missing \"{textKeys[0]}\" (a string); --jsonl expects objects like {{\"{textKeys[0]}\": \"...\"}}");
            string? pair = null;
            if (root.TryGetProperty("text_pair", out var p) && p.ValueKind != JsonValueKind.Null)
            {
                if (p.ValueKind != JsonValueKind.String)
                    throw new GptBertException($"{where}: \"text_pair\" must be a string or null, got {Kind(p.ValueKind)}");
                pair = p.GetString();
            }
            return new InputItem(line, value, pair);
        }
    }

    static string Kind(JsonValueKind k) => k switch
    {
        JsonValueKind.Array => "an array", JsonValueKind.Object => "an object", JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number", JsonValueKind.True or JsonValueKind.False => "a boolean", _ => "null",
    };

    static string FirstSentence(string message)
    {
        message = CliApp.OneLine(message);
        int i = message.IndexOf(". ", StringComparison.Ordinal);
        return (i > 0 ? message[..i] : message).TrimEnd('.');
    }
}
