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
        new($"{name}: NUL byte at byte offset {offset} (line {line}); this looks like a binary file, pass text files only");

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

    /// <summary>
    /// Decodes a whole file's bytes (already in memory) as strict UTF-8, dropping a BOM. An invalid byte or a
    /// NUL is reported with its byte offset and 1-based line.
    /// </summary>
    public static string DecodeAll(byte[] bytes, string name)
    {
        int start = Bom(bytes, name);
        var span = bytes.AsSpan(start);
        int bad = FirstInvalid(span);
        if (bad >= 0) throw Invalid(name, start + bad, LineAt(span, bad));
        int nul = span.IndexOf((byte)0);
        if (nul >= 0) throw Nul(name, start + nul, LineAt(span, nul));
        return Strict.GetString(span);
    }

    static long LineAt(ReadOnlySpan<byte> bytes, int index) => bytes[..index].Count((byte)'\n') + 1;

    public static string Decode(ReadOnlySpan<byte> bytes) => Strict.GetString(bytes);
}

/// <summary>
/// Reads a file line by line as strict UTF-8 without loading it whole: bytes are split at '\n'
/// (a trailing '\r' is dropped) and each line is validated and decoded on its own. Keeps the 1-based
/// line number and the byte position so errors and progress can point into the file.
/// </summary>
internal sealed class Utf8LineReader : IDisposable
{
    /// <summary>Longest line accepted; beyond it the file is almost certainly not line-structured text.</summary>
    public const int MaxLineBytes = 64 << 20;

    readonly Stream stream;
    readonly string name;
    byte[] buffer = new byte[1 << 16];
    int start, end;          // unread bytes are buffer[start..end)
    long bufferOffset;       // file offset of buffer[0]
    bool eof, first = true;

    public Utf8LineReader(Stream stream, string name)
    {
        this.stream = stream;
        this.name = name;
    }

    public static Utf8LineReader Open(string path, string name)
    {
        try
        {
            return new Utf8LineReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan), name);
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
            while (end < 3 && !eof) ReadMore();
            start = Utf8Text.Bom(buffer.AsSpan(0, end), name);
        }
        int scanFrom = start;
        while (true)
        {
            int nl = buffer.AsSpan(scanFrom, end - scanFrom).IndexOf((byte)'\n');
            if (nl >= 0)
            {
                int lineEnd = scanFrom + nl;
                line = DecodeLine(start, lineEnd);
                start = lineEnd + 1;
                return true;
            }
            if (eof)
            {
                if (end == start) { line = ""; return false; }
                line = DecodeLine(start, end);
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

    string DecodeLine(int from, int to)
    {
        LineNumber++;
        int len = to - from;
        if (len > 0 && buffer[to - 1] == (byte)'\r') len--;
        var bytes = buffer.AsSpan(from, len);
        int bad = Utf8Text.FirstInvalid(bytes);
        if (bad >= 0) throw Utf8Text.Invalid(name, bufferOffset + from + bad, LineNumber);
        int nul = bytes.IndexOf((byte)0);
        if (nul >= 0) throw Utf8Text.Nul(name, bufferOffset + from + nul, LineNumber);
        return Utf8Text.Decode(bytes);
    }

    public void Dispose() => stream.Dispose();
}
