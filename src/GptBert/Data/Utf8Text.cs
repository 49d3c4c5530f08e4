using System.Text;
using System.Text.Unicode;

namespace GptBert.Data;

/// <summary>
/// Strict UTF-8 for data files: every byte is checked, and a bad one is reported by file, byte offset
/// and line, so the user can find it (e.g. <c>xxd -s OFFSET -l 16 FILE</c>).
/// </summary>
internal static class Utf8Text
{
    static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static GptBertException Invalid(string name, long offset, long line) =>
        new($"{name}: invalid UTF-8 at byte offset {offset} (line {line}); re-encode the file as UTF-8 (e.g. iconv -f latin1 -t UTF-8 FILE)");

    public static GptBertException Utf16(string name) =>
        new($"{name} is UTF-16 text, not UTF-8 (byte offset 0, line 1); re-encode the file as UTF-8 (e.g. iconv -f UTF-16 -t UTF-8 FILE)");

    public static GptBertException Nul(string name, long offset, long line) =>
        new($"{name}: NUL byte at byte offset {offset} (line {line}); text has none: remove it (e.g. tr -d '\\000' < FILE > CLEAN) or fix what wrote the file");

    /// <summary>How much of the start of a file <see cref="RefuseBinary"/> looks at.</summary>
    public const int BinaryProbeBytes = 64 << 10;

    /// <summary>
    /// NUL bytes beyond this share of the probed start (and at least <see cref="BinaryNulMinimum"/> of them) mean a binary
    /// file: a text file damaged by a stray NUL has one or a few, a binary (or UTF-16) file has them everywhere.
    /// </summary>
    public const double BinaryNulFraction = 0.01;
    public const int BinaryNulMinimum = 8;

    /// <summary>File signatures of common binary formats someone might rename to .csv or .txt.</summary>
    static readonly (byte[] Magic, string What)[] Signatures =
    [
        ([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A], "a PNG image"),
        ([0xFF, 0xD8, 0xFF], "a JPEG image"),
        ("GIF87a"u8.ToArray(), "a GIF image"),
        ("GIF89a"u8.ToArray(), "a GIF image"),
        ("%PDF-"u8.ToArray(), "a PDF document"),
        ([(byte)'P', (byte)'K', 0x03, 0x04], "a ZIP archive (or an .xlsx/.docx file)"),
        ([0x1F, 0x8B], "a gzip file"),
        ("BZh"u8.ToArray(), "a bzip2 file"),
        ([0xFD, (byte)'7', (byte)'z', (byte)'X', (byte)'Z', 0x00], "an xz file"),
        ([0x28, 0xB5, 0x2F, 0xFD], "a Zstandard file"),
        ([(byte)'7', (byte)'z', 0xBC, 0xAF, 0x27, 0x1C], "a 7-Zip archive"),
        ([0x7F, (byte)'E', (byte)'L', (byte)'F'], "an ELF executable"),
        ("MZ"u8.ToArray(), "a Windows executable"),
        ("PAR1"u8.ToArray(), "a Parquet file"),
        ("SQLite format 3\0"u8.ToArray(), "an SQLite database"),
        ([0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1], "an old Office document (.xls/.doc)"),
        ([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'], "a NumPy array"),
    ];

    /// <summary>
    /// Refuses a file that is not text at all: one that starts with a known binary signature (a PNG renamed .csv), or
    /// whose start is full of NUL bytes. A text file with a stray NUL passes (its row is skipped or refused later).
    /// </summary>
    public static void RefuseBinary(ReadOnlySpan<byte> start, string name)
    {
        var probe = start[..Math.Min(start.Length, BinaryProbeBytes)];
        int nuls = probe.Count((byte)0);
        // A signature counts only with bytes text never has after it, so a text that happens to begin with "MZ" or "PAR1" passes.
        bool textLike = nuls == 0 && FirstInvalid(probe[..TrimPartial(probe)]) < 0;
        foreach (var (magic, what) in Signatures)
            if (!textLike && start.StartsWith(magic))
                throw new GptBertException($"{name} is {what} (by its first bytes), not a text file; pass UTF-8 text (CSV, TSV, JSON Lines or plain text)");
        if (nuls >= BinaryNulMinimum && nuls > BinaryNulFraction * probe.Length)
            throw new GptBertException(
                $"{name} looks like a binary file (or UTF-16 text without a byte order mark): {nuls} of its first {probe.Length} bytes are NUL; pass UTF-8 text (e.g. iconv -f UTF-16 -t UTF-8 FILE if it is UTF-16)");
    }

    /// <summary>Index of the first byte of the first invalid (or truncated) UTF-8 sequence in <paramref name="bytes"/>, or -1.</summary>
    public static int FirstInvalid(ReadOnlySpan<byte> bytes)
    {
        if (Utf8.IsValid(bytes)) return -1;
        int i = 0;
        while (i < bytes.Length)
        {
            var status = Rune.DecodeFromUtf8(bytes[i..], out _, out int consumed);
            if (status != System.Buffers.OperationStatus.Done) return i;
            i += consumed;
        }
        return -1;
    }

    /// <summary>Length of a UTF-8 byte order mark at the start of <paramref name="bytes"/> (0 or 3); throws on a UTF-16 BOM.</summary>
    public static int Bom(ReadOnlySpan<byte> bytes, string name)
    {
        if (bytes.Length >= 2 && ((bytes[0] == 0xFF && bytes[1] == 0xFE) || (bytes[0] == 0xFE && bytes[1] == 0xFF))) throw Utf16(name);
        return bytes.Length >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0;
    }

    /// <summary>A stretch of decoded text that came from a line with bad bytes: [CharStart, CharEnd) of the text, the byte offset of the first bad byte.</summary>
    public readonly record struct BadSpan(int CharStart, int CharEnd, long ByteOffset, BadRowKind Kind);

    /// <summary>
    /// Decodes a whole file's bytes (already in memory) without refusing it for a bad line: a BOM is dropped, a binary
    /// file refused (<see cref="RefuseBinary"/>), and each line (split at any line-break byte) holding invalid UTF-8 or a
    /// NUL is decoded with U+FFFD replacements and listed in <paramref name="bad"/> so the reader can skip (or refuse) the
    /// row it belongs to.
    /// </summary>
    public static string DecodeLenient(byte[] bytes, string name, out List<BadSpan> bad)
    {
        int start = Bom(bytes, name);
        var span = bytes.AsSpan(start);
        RefuseBinary(span, name);
        bad = [];
        if (Utf8.IsValid(span) && !span.Contains((byte)0)) return Strict.GetString(span);
        var sb = new StringBuilder(span.Length);
        int i = 0;
        while (i < span.Length)
        {
            int brk = span[i..].IndexOfAny((byte)'\n', (byte)'\r');
            int end = brk < 0 ? span.Length : i + brk;
            var line = span[i..end];
            int invalid = FirstInvalid(line), nul = line.IndexOf((byte)0);
            int charStart = sb.Length;
            sb.Append(Lenient.GetString(line));
            if (invalid >= 0 || nul >= 0)
            {
                // The earlier problem names the line; either way the line cannot be used.
                bool isNul = nul >= 0 && (invalid < 0 || nul < invalid);
                bad.Add(new BadSpan(charStart, sb.Length, start + i + (isNul ? nul : invalid), isNul ? BadRowKind.NulByte : BadRowKind.InvalidUtf8));
            }
            if (end < span.Length) sb.Append((char)span[end]);
            i = end + 1;
        }
        return sb.ToString();
    }

    /// <summary>Length of <paramref name="probe"/> without a UTF-8 sequence cut off at its end (the probe stops mid-file).</summary>
    static int TrimPartial(ReadOnlySpan<byte> probe)
    {
        int n = probe.Length;
        for (int back = 1; back <= 3 && back <= n; back++)
        {
            byte b = probe[n - back];
            if ((b & 0xC0) == 0x80) continue;       // continuation byte: keep looking for its lead
            int need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
            return need > back ? n - back : n;
        }
        return n;
    }

    static readonly UTF8Encoding Lenient = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    public static string Decode(ReadOnlySpan<byte> bytes) => Strict.GetString(bytes);
}

/// <summary>
/// Reads a file line by line as strict UTF-8 without loading it whole: bytes are split at '\n'
/// (a trailing '\r' is dropped) and each line is validated and decoded on its own. Keeps the 1-based
/// line number and the byte position so errors and progress can point into the file. A file that starts like a
/// binary is refused (<see cref="Utf8Text.RefuseBinary"/>). A line with invalid UTF-8 or a NUL throws, or, when a
/// <see cref="BadRowCollector"/> is given, is handed to it (which may throw: strict mode, too many) and skipped.
/// </summary>
internal sealed class Utf8LineReader : IDisposable
{
    readonly BadRowCollector? bad;

    /// <summary>Longest line accepted; beyond it the file is almost certainly not line-structured text.</summary>
    public const int MaxLineBytes = 64 << 20;

    readonly Stream stream;
    readonly string name;
    byte[] buffer = new byte[1 << 16];
    int start, end;          // unread bytes are buffer[start..end)
    long bufferOffset;       // file offset of buffer[0]
    bool eof, first = true;

    public Utf8LineReader(Stream stream, string name, BadRowCollector? bad = null)
    {
        this.stream = stream;
        this.name = name;
        this.bad = bad;
    }

    public static Utf8LineReader Open(string path, string name, BadRowCollector? bad = null)
    {
        try
        {
            return new Utf8LineReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan), name, bad);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new GptBertException($"{name}: cannot read ({e.Message.TrimEnd('.')}); check that the file exists and is readable", e);
        }
    }

    /// <summary>1-based number of the line last returned.</summary>
    public long LineNumber { get; private set; }

    /// <summary>Bytes of the file consumed so far (through the end of the line last returned).</summary>
    public long Position => bufferOffset + start;

    public bool TryReadLine(out string line)
    {
        if (first)
        {
            first = false;
            // The whole first buffer (64 KiB), to tell a binary file from text before any line is returned.
            while (end < buffer.Length && !eof) ReadMore();
            start = Utf8Text.Bom(buffer.AsSpan(0, end), name);
            Utf8Text.RefuseBinary(buffer.AsSpan(start, end - start), name);
        }
        while (true)
        {
            if (!TryReadAnyLine(out line, out var problem)) return false;
            if (problem is null) return true;
            if (bad is null) throw problem.Value.Error;
            bad.Add(LineNumber, problem.Value.Kind, problem.Value.Error);
        }
    }

    bool TryReadAnyLine(out string line, out (BadRowKind Kind, GptBertException Error)? problem)
    {
        int scanFrom = start;
        while (true)
        {
            int nl = buffer.AsSpan(scanFrom, end - scanFrom).IndexOf((byte)'\n');
            if (nl >= 0)
            {
                int lineEnd = scanFrom + nl;
                line = DecodeLine(start, lineEnd, out problem);
                start = lineEnd + 1;
                return true;
            }
            if (eof)
            {
                problem = null;
                if (end == start) { line = ""; return false; }
                line = DecodeLine(start, end, out problem);
                start = end;
                return true;
            }
            int scanned = end - start;
            ReadMore();
            scanFrom = start + scanned;
        }
    }

    void ReadMore()
    {
        if (end == buffer.Length)
        {
            if (start > 0)
            {
                // Move the unfinished line to the front.
                Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                bufferOffset += start;
                end -= start;
                start = 0;
            }
            else
            {
                if (buffer.Length >= MaxLineBytes)
                    throw new GptBertException($"{name} line {LineNumber + 1} is longer than {MaxLineBytes >> 20} MiB; is it really a text file? split it into shorter lines");
                Array.Resize(ref buffer, Math.Min(buffer.Length * 2, MaxLineBytes));
            }
        }
        int n;
        try { n = stream.Read(buffer, end, buffer.Length - end); }
        catch (IOException e) { throw new GptBertException($"{name}: read failed at byte offset {bufferOffset + end} ({e.Message.TrimEnd('.')}); check the disk and the file", e); }
        if (n == 0) eof = true;
        end += n;
    }

    string DecodeLine(int from, int to, out (BadRowKind Kind, GptBertException Error)? problem)
    {
        LineNumber++;
        problem = null;
        int len = to - from;
        if (len > 0 && buffer[to - 1] == (byte)'\r') len--;
        var bytes = buffer.AsSpan(from, len);
        int invalid = Utf8Text.FirstInvalid(bytes);
        if (invalid >= 0) { problem = (BadRowKind.InvalidUtf8, Utf8Text.Invalid(name, bufferOffset + from + invalid, LineNumber)); return ""; }
        int nul = bytes.IndexOf((byte)0);
        if (nul >= 0) { problem = (BadRowKind.NulByte, Utf8Text.Nul(name, bufferOffset + from + nul, LineNumber)); return ""; }
        var text = Utf8Text.Decode(bytes);
        if (bad is not null && !string.IsNullOrWhiteSpace(text)) bad.Good();
        return text;
    }

    public void Dispose() => stream.Dispose();
}
