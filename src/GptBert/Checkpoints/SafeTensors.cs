using System.Runtime.InteropServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace GptBert.Checkpoints;

/// <summary>
/// Reads and writes the safetensors format (https://github.com/huggingface/safetensors): an 8-byte
/// little-endian header length N, N bytes of UTF-8 JSON
/// <c>{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}</c>
/// (offsets relative to the byte after the header), then the raw little-endian tensor data.
/// Files are validated the way the reference implementation does: offsets must tile the data
/// buffer exactly (no holes, no overlaps) and every byte range must match dtype × shape.
/// </summary>
public static class SafeTensors
{
    /// <summary>Largest header the reference implementation accepts.</summary>
    const long MaxHeaderBytes = 100_000_000;

    static readonly (string Name, ScalarType Type)[] DTypes =
    [
        ("F64", ScalarType.Float64), ("F32", ScalarType.Float32), ("F16", ScalarType.Float16), ("BF16", ScalarType.BFloat16),
        ("I64", ScalarType.Int64), ("I32", ScalarType.Int32), ("I16", ScalarType.Int16), ("I8", ScalarType.Int8),
        ("U8", ScalarType.Byte), ("BOOL", ScalarType.Bool),
    ];

    static string SupportedList => string.Join(", ", DTypes.Select(d => d.Name));

    internal static ScalarType? TorchType(string dtype) =>
        DTypes.FirstOrDefault(d => d.Name == dtype) is { Name: not null } hit ? hit.Type : null;

    internal static string? DtypeName(ScalarType type) =>
        DTypes.FirstOrDefault(d => d.Type == type) is { Name: not null } hit ? hit.Name : null;

    internal sealed record Entry(string Name, string Dtype, ScalarType Type, long[] Shape, long Begin, long End);

    internal sealed record Header(long DataStart, List<Entry> Entries, Dictionary<string, string> Metadata);

    /// <summary>
    /// Loads every tensor (CPU, contiguous, the file's dtype), in header order. Tensors whose data is aligned in the file
    /// (all of them in files written by safetensors ≥ 0.3 or by us) are copy-on-write views of the file mapped into memory
    /// (libtorch's from_file, MAP_PRIVATE): no read, no copy, nothing written back; the rest are read. MiniLM's 90 MB:
    /// 180 ms read into fresh tensors, a few ms mapped.
    /// </summary>
    public static Dictionary<string, Tensor> Load(string path)
    {
        TensorBytes.EnsureLittleEndian();
        using var stream = OpenRead(path);
        var header = ParseHeader(stream, path);
        var result = new Dictionary<string, Tensor>(header.Entries.Count);
        var mapped = new Dictionary<ScalarType, Tensor>(); // the whole file as elements of each dtype it holds
        try
        {
            foreach (var e in header.Entries.OrderBy(e => e.Begin))
            {
                if (Mapped(path, stream.Length, header.DataStart, e, mapped) is { } view) { result.Add(e.Name, view); continue; }
                var t = empty(e.Shape, e.Type);
                result.Add(e.Name, t);
                stream.Position = header.DataStart + e.Begin;
                try { TensorBytes.ReadInto(t, stream); }
                catch (EndOfStreamException)
                {
                    // The file shrank while we read it (the header check already saw its length).
                    throw new GptBertException(Truncated(path, e, header.DataStart, stream.Length));
                }
            }
            // Hand the tensors back in header order.
            return header.Entries.ToDictionary(e => e.Name, e => result[e.Name]);
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
        finally
        {
            foreach (var m in mapped.Values) m.Dispose(); // the views keep the mapping alive
        }
    }

    /// <summary>Tensor <paramref name="e"/> as a view of the mapped file, or null when its data is not aligned to its element size.</summary>
    static Tensor? Mapped(string path, long fileLength, long dataStart, Entry e, Dictionary<ScalarType, Tensor> mapped)
    {
        long elementSize = TensorBytes.ElementSize(e.Type);
        long begin = dataStart + e.Begin, count = (e.End - e.Begin) / elementSize;
        if (begin % elementSize != 0 || count == 0) return null;
        if (!mapped.TryGetValue(e.Type, out var file))
        {
            try { file = from_file(path, shared: false, size: fileLength / elementSize, dtype: e.Type); }
            catch (Exception) { return null; } // a file system without mmap: read it instead
            mapped[e.Type] = file;
        }
        return file.narrow(0, begin / elementSize, count).view(e.Shape);
    }

    /// <summary>Name → (dtype, shape) for every tensor, in header order, after validating the whole header against the file.</summary>
    public static IReadOnlyDictionary<string, (string Dtype, long[] Shape)> ReadHeader(string path)
    {
        using var stream = OpenRead(path);
        var header = ParseHeader(stream, path);
        return header.Entries.ToDictionary(e => e.Name, e => (e.Dtype, e.Shape));
    }

    /// <summary>The header's "__metadata__" (empty when absent).</summary>
    public static IReadOnlyDictionary<string, string> ReadMetadata(string path)
    {
        using var stream = OpenRead(path);
        return ParseHeader(stream, path).Metadata;
    }

    /// <summary>
    /// Writes <paramref name="tensors"/> as safetensors: keys in ordinal order, each tensor copied to a
    /// contiguous CPU buffer one at a time, header padded with spaces to a multiple of 8 bytes, and
    /// "__metadata__" = <paramref name="metadata"/> (default {"format": "pt"}; "format": "pt" is added when
    /// missing because transformers refuses files without it). The file is written to a temporary file in
    /// the same directory and moved over <paramref name="path"/>, so a failed save leaves any old file intact.
    /// </summary>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        TensorBytes.EnsureLittleEndian();
        string fileName = Path.GetFileName(path);
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(dir))
            throw new GptBertException($"cannot save '{path}': directory '{dir}' does not exist; create it first");
        if (Directory.Exists(full))
            throw new GptBertException($"cannot save '{path}': it is a directory; give a file path");

        var keys = tensors.Keys.OrderBy(k => k, StringComparer.Ordinal).ToList();
        var entries = new List<Entry>(keys.Count);
        long offset = 0;
        foreach (var key in keys)
        {
            if (key == "__metadata__")
                throw new GptBertException($"cannot save '{path}': '__metadata__' is reserved and cannot name a tensor; rename it");
            var t = tensors[key] ?? throw new GptBertException($"cannot save '{path}': tensor '{key}' is null");
            var name = DtypeName(t.dtype)
                ?? throw new GptBertException($"cannot save '{path}': tensor '{key}' has dtype {t.dtype}, which safetensors files here cannot hold ({SupportedList}); convert it first");
            long bytes = t.NumberOfElements * t.ElementSize;
            entries.Add(new Entry(key, name, t.dtype, t.shape, offset, offset + bytes));
            offset += bytes;
        }

        var meta = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (metadata is not null) foreach (var (k, v) in metadata) meta[k] = v;
        if (!meta.ContainsKey("format")) meta["format"] = "pt";
        byte[] header = BuildHeader(entries, meta);

        string temp = Path.Combine(dir, $".{fileName}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                Span<byte> len = stackalloc byte[8];
                System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
                fs.Write(len);
                fs.Write(header);
                using (no_grad())
                    foreach (var e in entries) TensorBytes.WriteFrom(tensors[e.Name], fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ExternalException or InvalidOperationException)
        {
            TryDelete(temp);
            throw new GptBertException($"cannot save '{path}': {FirstLine(ex.Message)}; check the disk has space and the directory is writable (any existing file was left as it was)", ex);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Compact JSON header ("__metadata__" first, then tensors in the given order), space-padded to a multiple of 8.</summary>
    static byte[] BuildHeader(List<Entry> entries, IReadOnlyDictionary<string, string> metadata)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteStartObject("__metadata__");
            foreach (var (k, v) in metadata) w.WriteString(k, v);
            w.WriteEndObject();
            foreach (var e in entries)
            {
                w.WriteStartObject(e.Name);
                w.WriteString("dtype", e.Dtype);
                w.WriteStartArray("shape");
                foreach (var d in e.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(e.Begin);
                w.WriteNumberValue(e.End);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        int pad = (int)((8 - buffer.Length % 8) % 8);
        for (int i = 0; i < pad; i++) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }

    static FileStream OpenRead(string path)
    {
        try { return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan); }
        catch (FileNotFoundException) { throw new GptBertException($"'{path}' not found; check the path"); }
        catch (DirectoryNotFoundException) { throw new GptBertException($"'{path}' not found; check the path"); }
        catch (UnauthorizedAccessException ex) { throw new GptBertException($"cannot read '{path}': {FirstLine(ex.Message)}; check its permissions", ex); }
    }

    internal static Header ParseHeader(FileStream stream, string path)
    {
        string file = Path.GetFileName(path);
        long fileLength = stream.Length;
        const string fix = "re-download or re-save the checkpoint";
        if (fileLength < 8)
            throw new GptBertException($"{file} is not a safetensors file: it has {fileLength} bytes, fewer than the 8-byte header length; {fix}");

        Span<byte> lenBytes = stackalloc byte[8];
        stream.ReadExactly(lenBytes);
        ulong headerLength = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(lenBytes);
        if (headerLength > (ulong)(fileLength - 8))
            throw new GptBertException($"{file} is corrupt: its header length {headerLength} goes beyond the end of the {fileLength}-byte file; {fix}");
        if (headerLength > MaxHeaderBytes)
            throw new GptBertException($"{file} is corrupt: its header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit; {fix}");

        var json = new byte[headerLength];
        stream.ReadExactly(json);
        long dataStart = 8 + (long)headerLength;
        long dataLength = fileLength - dataStart;

        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow }); }
        catch (JsonException ex) { throw new GptBertException($"{file} has a bad JSON header ({FirstLine(ex.Message)}); {fix}", ex); }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new GptBertException($"{file} has a bad JSON header (it is a JSON {doc.RootElement.ValueKind}, not an object); {fix}");

            var entries = new List<Entry>();
            var metadata = new Dictionary<string, string>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (!seen.Add(prop.Name))
                    throw new GptBertException($"{file} has a bad JSON header (name '{prop.Name}' appears twice); {fix}");
                if (prop.Name == "__metadata__")
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object)
                        throw new GptBertException($"{file} has a bad JSON header (__metadata__ is not an object); {fix}");
                    foreach (var m in prop.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String)
                            throw new GptBertException($"{file} has a bad JSON header (__metadata__ value '{m.Name}' is not a string); {fix}");
                        metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                entries.Add(ParseEntry(file, prop, fix));
            }

            // The data offsets must tile [0, dataLength) in order: no overlaps, no holes.
            var ordered = entries.OrderBy(e => e.Begin).ThenBy(e => e.End).ToList();
            long expected = 0;
            Entry? previous = null;
            foreach (var e in ordered)
            {
                if (e.Begin < expected)
                    throw new GptBertException($"{file} is corrupt: data offsets of tensors '{previous!.Name}' [{previous.Begin}, {previous.End}] and '{e.Name}' [{e.Begin}, {e.End}] overlap; {fix}");
                if (e.Begin > expected)
                    throw new GptBertException(previous is null
                        ? $"{file} is corrupt: data offsets leave bytes 0..{e.Begin} unused before tensor '{e.Name}'; {fix}"
                        : $"{file} is corrupt: data offsets leave a hole of {e.Begin - expected} bytes between tensors '{previous.Name}' and '{e.Name}'; {fix}");
                expected = e.End;
                previous = e;
            }
            foreach (var e in ordered)
                if (e.End > dataLength)
                    throw new GptBertException(Truncated(path, e, dataStart, fileLength));
            if (expected < dataLength)
                throw new GptBertException($"{file} is corrupt: {dataLength - expected} bytes after the last tensor are not described by the header; {fix}");

            return new Header(dataStart, entries, metadata);
        }
    }

    static Entry ParseEntry(string file, JsonProperty prop, string fix)
    {
        string name = prop.Name;
        string Bad(string what) => $"{file} has a bad JSON header (tensor '{name}' {what}); {fix}";
        if (prop.Value.ValueKind != JsonValueKind.Object) throw new GptBertException(Bad("is not an object"));

        if (!prop.Value.TryGetProperty("dtype", out var dtypeEl) || dtypeEl.ValueKind != JsonValueKind.String)
            throw new GptBertException(Bad("has no string 'dtype'"));
        string dtype = dtypeEl.GetString()!;
        var type = TorchType(dtype)
            ?? throw new GptBertException($"{file}: tensor '{name}' has dtype '{dtype}', which GptBert does not support ({SupportedList}); convert the checkpoint to one of those");

        if (!prop.Value.TryGetProperty("shape", out var shapeEl) || shapeEl.ValueKind != JsonValueKind.Array)
            throw new GptBertException(Bad("has no 'shape' array"));
        var shape = new List<long>();
        foreach (var d in shapeEl.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long v) || v < 0)
                throw new GptBertException(Bad($"has a shape entry '{d.GetRawText()}' that is not a non-negative integer"));
            shape.Add(v);
        }

        if (!prop.Value.TryGetProperty("data_offsets", out var offEl) || offEl.ValueKind != JsonValueKind.Array || offEl.GetArrayLength() != 2)
            throw new GptBertException(Bad("has no 'data_offsets' pair"));
        var offs = new long[2];
        for (int i = 0; i < 2; i++)
        {
            var o = offEl[i];
            if (o.ValueKind != JsonValueKind.Number || !o.TryGetInt64(out offs[i]) || offs[i] < 0)
                throw new GptBertException(Bad($"has a data offset '{o.GetRawText()}' that is not a non-negative integer"));
        }
        if (offs[1] < offs[0])
            throw new GptBertException($"{file} is corrupt: tensor '{name}' has data offsets [{offs[0]}, {offs[1]}] that end before they begin; {fix}");

        long elementSize = TensorBytes.ElementSize(type);
        long? numel = TensorBytes.Numel(shape);
        long? needed = null;
        if (numel is { } n) { try { needed = checked(n * elementSize); } catch (OverflowException) { } }
        if (needed is null)
            throw new GptBertException($"{file} is corrupt: tensor '{name}' has an impossibly large shape {TensorBytes.FormatShape(shape)}; {fix}");
        if (offs[1] - offs[0] != needed)
            throw new GptBertException($"{file} is corrupt: tensor '{name}' has data offsets [{offs[0]}, {offs[1]}] ({offs[1] - offs[0]} bytes) but {dtype} × {TensorBytes.FormatShape(shape)} needs {needed} bytes; {fix}");
        return new Entry(name, dtype, type, shape.ToArray(), offs[0], offs[1]);
    }

    static string Truncated(string path, Entry e, long dataStart, long fileLength) =>
        $"{Path.GetFileName(path)} is truncated: tensor '{e.Name}' needs bytes {dataStart + e.Begin}..{dataStart + e.End} but the file has {fileLength}; re-download or re-save the checkpoint";

    static void TryDelete(string path)
    {
        try { if (File.Exists(path)) File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    internal static string FirstLine(string message)
    {
        var line = message.Split('\n', 2)[0].Trim();
        return line.TrimEnd('.');
    }
}
