using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace GptBert.Reporting;

/// <summary>
/// One line of a run log. The common fields of a training or evaluation step are typed; any other
/// number (eval_accuracy, eval_macro_f1, grad_norm, epoch …) goes in <see cref="Metrics"/> and any other
/// text (event, checkpoint …) in <see cref="Notes"/>, under their JSON names. In the file every field is
/// a top-level key of one flat JSON object; absent fields are left out. NaN and ±∞ are written as the
/// strings "NaN", "Infinity", "-Infinity" (a diverged loss is worth logging) and read back as numbers.
/// </summary>
public sealed record RunLogRecord
{
    static readonly IReadOnlyDictionary<string, double> NoMetrics = new Dictionary<string, double>();
    static readonly IReadOnlyDictionary<string, string> NoNotes = new Dictionary<string, string>();

    /// <summary>JSON names of the typed fields; <see cref="Metrics"/> and <see cref="Notes"/> may not use them.</summary>
    public static readonly IReadOnlySet<string> ReservedKeys =
        new HashSet<string>(StringComparer.Ordinal) { "step", "loss", "lr", "tokens", "tokens_per_s", "elapsed_s", "eval_loss" };

    /// <summary>Optimizer step (JSON <c>step</c>).</summary>
    public long Step { get; init; }
    /// <summary>Training loss (JSON <c>loss</c>).</summary>
    public double? Loss { get; init; }
    /// <summary>Learning rate (JSON <c>lr</c>).</summary>
    public double? Lr { get; init; }
    /// <summary>Tokens seen so far, cumulative (JSON <c>tokens</c>).</summary>
    public long? Tokens { get; init; }
    /// <summary>Throughput (JSON <c>tokens_per_s</c>).</summary>
    public double? TokensPerS { get; init; }
    /// <summary>Seconds since the run started (JSON <c>elapsed_s</c>).</summary>
    public double? ElapsedS { get; init; }
    /// <summary>Validation loss (JSON <c>eval_loss</c>).</summary>
    public double? EvalLoss { get; init; }
    /// <summary>Other numbers by JSON name, e.g. <c>eval_accuracy</c>, <c>eval_macro_f1</c>, <c>grad_norm</c>.</summary>
    public IReadOnlyDictionary<string, double> Metrics { get; init; } = NoMetrics;
    /// <summary>Other text by JSON name, e.g. <c>event</c> = "resume".</summary>
    public IReadOnlyDictionary<string, string> Notes { get; init; } = NoNotes;

    /// <summary>The number stored under a JSON name (typed field or <see cref="Metrics"/>), or null.</summary>
    public double? Get(string key) => key switch
    {
        "step" => Step,
        "loss" => Loss,
        "lr" => Lr,
        "tokens" => Tokens,
        "tokens_per_s" => TokensPerS,
        "elapsed_s" => ElapsedS,
        "eval_loss" => EvalLoss,
        _ => Metrics.TryGetValue(key, out var v) ? v : null,
    };

    static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The record as one compact JSON object (no newline).</summary>
    public string ToJson()
    {
        var buffer = new ArrayBufferWriter<byte>();
        WriteJson(buffer);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    internal void WriteJson(IBufferWriter<byte> buffer)
    {
        using var w = new Utf8JsonWriter(buffer, JsonOptions);
        w.WriteStartObject();
        w.WriteNumber("step", Step);
        Number(w, "loss", Loss);
        Number(w, "lr", Lr);
        if (Tokens is { } t) w.WriteNumber("tokens", t);
        Number(w, "tokens_per_s", TokensPerS);
        Number(w, "elapsed_s", ElapsedS);
        Number(w, "eval_loss", EvalLoss);
        foreach (var (k, v) in Metrics)
        {
            CheckKey(k);
            Number(w, k, v);
        }
        foreach (var (k, v) in Notes)
        {
            CheckKey(k);
            if (Metrics.ContainsKey(k)) throw new ArgumentException($"run log key '{k}' is both a metric and a note");
            w.WriteString(k, v);
        }
        w.WriteEndObject();
    }

    static void CheckKey(string key)
    {
        if (ReservedKeys.Contains(key))
            throw new ArgumentException($"run log key '{key}' is a typed field of RunLogRecord; set the property instead");
    }

    static void Number(Utf8JsonWriter w, string name, double? value)
    {
        if (value is not { } v) return;
        if (double.IsFinite(v)) w.WriteNumber(name, v);
        else w.WriteString(name, double.IsNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity");
    }

    /// <summary>Parses one JSON object line; null when it is not a JSON object.</summary>
    public static RunLogRecord? Parse(string line)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(line); }
        catch (JsonException) { return null; }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) return null;
            long step = 0;
            double? loss = null, lr = null, tps = null, elapsed = null, evalLoss = null;
            long? tokens = null;
            var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
            var notes = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                var d = AsDouble(p.Value);
                switch (p.Name)
                {
                    case "step": if (d is { } s && double.IsFinite(s)) step = (long)s; break;
                    case "loss": loss = d; break;
                    case "lr": lr = d; break;
                    case "tokens": if (d is { } tk && double.IsFinite(tk)) tokens = (long)tk; break;
                    case "tokens_per_s": tps = d; break;
                    case "elapsed_s": elapsed = d; break;
                    case "eval_loss": evalLoss = d; break;
                    default:
                        if (d is { } m) metrics[p.Name] = m;
                        else if (p.Value.ValueKind == JsonValueKind.String) notes[p.Name] = p.Value.GetString()!;
                        else if (p.Value.ValueKind is JsonValueKind.True or JsonValueKind.False) notes[p.Name] = p.Value.GetRawText();
                        break;
                }
            }
            return new RunLogRecord
            {
                Step = step, Loss = loss, Lr = lr, Tokens = tokens, TokensPerS = tps, ElapsedS = elapsed, EvalLoss = evalLoss,
                Metrics = metrics, Notes = notes,
            };
        }
    }

    static double? AsDouble(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Number => e.GetDouble(),
        JsonValueKind.String => e.GetString() switch
        {
            "NaN" => double.NaN,
            "Infinity" => double.PositiveInfinity,
            "-Infinity" => double.NegativeInfinity,
            _ => null,
        },
        _ => null,
    };
}

/// <summary>
/// A JSON Lines run log (<c>log.jsonl</c>): one <see cref="RunLogRecord"/> per line, each written with a
/// single write and flushed to the operating system at once, so a crash or kill loses at most the line
/// being written and never corrupts earlier ones. <see cref="Open"/> appends to an existing log (resume);
/// a partial last line left by a crash is cut off first. <see cref="Read"/> ignores a partial last line.
/// Thread-safe.
/// </summary>
public sealed class RunLog : IDisposable
{
    /// <summary>The usual file name inside a run directory.</summary>
    public const string FileName = "log.jsonl";

    readonly FileStream _stream;
    readonly object _lock = new();
    bool _disposed;

    /// <summary>Full path of the log file.</summary>
    public string Path { get; }

    RunLog(string path, FileStream stream)
    {
        Path = path;
        _stream = stream;
    }

    /// <summary>
    /// Opens <paramref name="path"/> for appending, creating it (and its directory) if needed. With
    /// <paramref name="resumeFromStep"/>, records with a larger step — logged after the checkpoint being
    /// resumed — are removed first, so the curves do not run twice over the same steps.
    /// </summary>
    public static RunLog Open(string path, long? resumeFromStep = null)
    {
        var full = System.IO.Path.GetFullPath(path);
        try
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
            if (resumeFromStep is { } keepUpTo && File.Exists(full))
            {
                var kept = ReadLines(full).Where(l => l.Record.Step <= keepUpTo).Select(l => l.Text + "\n");
                AtomicFile.WriteAllText(full, string.Concat(kept));
            }
            var fs = new FileStream(full, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, 1, FileOptions.None);
            try
            {
                CutPartialLastLine(fs);
                fs.Seek(0, SeekOrigin.End);
                return new RunLog(full, fs);
            }
            catch
            {
                fs.Dispose();
                throw;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new GptBertException($"cannot open run log {full}: {e.Message.TrimEnd('.')}; check free space and permissions");
        }
    }

    /// <summary>If the file does not end with a newline, keeps its last line only when it is a whole JSON object.</summary>
    static void CutPartialLastLine(FileStream fs)
    {
        long length = fs.Length;
        if (length == 0) return;
        fs.Seek(length - 1, SeekOrigin.Begin);
        if (fs.ReadByte() == '\n') return;
        // Find the start of the last line.
        const int chunk = 4096;
        var buf = new byte[chunk];
        long pos = length, lineStart = 0;
        while (pos > 0)
        {
            int n = (int)Math.Min(chunk, pos);
            pos -= n;
            fs.Seek(pos, SeekOrigin.Begin);
            fs.ReadExactly(buf, 0, n);
            int i = Array.LastIndexOf(buf, (byte)'\n', n - 1, n);
            if (i >= 0) { lineStart = pos + i + 1; break; }
        }
        var tail = new byte[length - lineStart];
        fs.Seek(lineStart, SeekOrigin.Begin);
        fs.ReadExactly(tail);
        if (RunLogRecord.Parse(Encoding.UTF8.GetString(tail)) is not null)
        {
            fs.Seek(0, SeekOrigin.End);
            fs.WriteByte((byte)'\n');
        }
        else
        {
            fs.SetLength(lineStart);
        }
        fs.Flush(flushToDisk: true);
    }

    /// <summary>Appends one record as one line and flushes it.</summary>
    public void Append(RunLogRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var buffer = new ArrayBufferWriter<byte>();
        record.WriteJson(buffer);
        buffer.Write("\n"u8);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            try
            {
                _stream.Write(buffer.WrittenSpan);
                _stream.Flush();
            }
            catch (IOException e)
            {
                throw new GptBertException($"cannot write run log {Path}: {e.Message.TrimEnd('.')}; check free space");
            }
        }
    }

    /// <summary>Flushes the log to disk and closes it.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            try { _stream.Flush(flushToDisk: true); }
            catch (IOException) { /* closing anyway; every line was already handed to the OS */ }
            _stream.Dispose();
        }
    }

    /// <summary>
    /// Reads every record of a run log. A last line without its newline that is not a whole JSON object
    /// (a write cut short by a crash) is ignored; blank lines are skipped.
    /// </summary>
    /// <exception cref="GptBertException">The file is missing, or a line other than the last is not a JSON object.</exception>
    public static IReadOnlyList<RunLogRecord> Read(string path) => ReadLines(System.IO.Path.GetFullPath(path)).Select(l => l.Record).ToList();

    static List<(string Text, RunLogRecord Record)> ReadLines(string full)
    {
        string text;
        try
        {
            // FileShare.ReadWrite: a training process may be appending while a report reads.
            using var fs = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(fs, new UTF8Encoding(false));
            text = reader.ReadToEnd();
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new GptBertException($"run log not found: {full}; give the log.jsonl of a training run");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new GptBertException($"cannot read run log {full}: {e.Message.TrimEnd('.')}");
        }

        var result = new List<(string, RunLogRecord)>();
        var lines = text.Split('\n');
        // The element after the last '\n' is "" for a complete file, or the unterminated last line.
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (line.Trim().Length == 0) continue;
            bool unterminated = i == lines.Length - 1;
            var record = RunLogRecord.Parse(line);
            if (record is null)
            {
                if (unterminated) break;
                throw new GptBertException($"run log {full} line {(i + 1).ToString(CultureInfo.InvariantCulture)} is not a JSON object; fix or delete that line");
            }
            result.Add((line, record));
        }
        return result;
    }
}
