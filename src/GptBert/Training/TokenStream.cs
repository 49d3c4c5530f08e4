using System.IO.MemoryMappedFiles;
using GptBert.Tokenizers;

namespace GptBert.Training;

/// <summary>
/// A corpus tokenized once into one long stream of token ids (documents joined by a separator token),
/// stored as 32-bit ids on disk and memory-mapped, so corpora larger than memory train with random
/// access to fixed-length blocks (nanoGPT's train.bin, in the same spirit).
/// </summary>
public sealed class TokenStream : IDisposable
{
    readonly int[]? memory;
    readonly MemoryMappedFile? file;
    readonly MemoryMappedViewAccessor? view;

    public long Length { get; }

    TokenStream(int[] ids) { memory = ids; Length = ids.Length; }

    TokenStream(string path)
    {
        Length = new FileInfo(path).Length / sizeof(int);
        if (Length == 0) throw new GptBertException($"{path} holds no tokens; the corpus is empty");
        file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        view = file.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
    }

    public static TokenStream FromIds(int[] ids) => new(ids);

    /// <summary>Tokenizes documents into memory (small corpora and tests).</summary>
    public static TokenStream FromTexts(IEnumerable<string> documents, ITextTokenizer tokenizer, int? separatorId)
    {
        var ids = new List<int>();
        foreach (var doc in documents) Append(ids, doc, tokenizer, separatorId);
        if (ids.Count == 0) throw new GptBertException("the corpus is empty: no tokens after tokenization");
        return new TokenStream(ids.ToArray());
    }

    /// <summary>
    /// Streams documents through the tokenizer into <paramref name="path"/> (written atomically), then maps it.
    /// <paramref name="progress"/> receives the number of tokens written so far.
    /// </summary>
    public static TokenStream Build(string path, IEnumerable<string> documents, ITextTokenizer tokenizer, int? separatorId, Action<long>? progress = null)
    {
        long total = 0;
        AtomicFile.Write(path, stream =>
        {
            using var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
            var buffer = new List<int>();
            foreach (var doc in documents)
            {
                buffer.Clear();
                Append(buffer, doc, tokenizer, separatorId);
                foreach (var id in buffer) w.Write(id);
                total += buffer.Count;
                progress?.Invoke(total);
            }
        });
        if (total == 0) { File.Delete(path); throw new GptBertException("the corpus is empty: no tokens after tokenization"); }
        return new TokenStream(path);
    }

    public static TokenStream Open(string path) => new(path);

    /// <summary>Writes tokens [start, start + count) of <paramref name="source"/> to <paramref name="path"/> and maps it.</summary>
    public static TokenStream Slice(string path, TokenStream source, long start, long count)
    {
        if (count <= 0) throw new GptBertException("the corpus is too small to hold out validation tokens; add text or pass Validation FILE") { RelatedParameters = ["Validation"] };
        AtomicFile.Write(path, stream =>
        {
            using var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
            for (long i = start; i < start + count; i++) w.Write(source[i]);
        });
        return new TokenStream(path);
    }

    static void Append(List<int> ids, string doc, ITextTokenizer tokenizer, int? separatorId)
    {
        if (string.IsNullOrWhiteSpace(doc)) return;
        ids.AddRange(tokenizer.Encode(doc, addSpecialTokens: false).Ids);
        if (separatorId is int sep) ids.Add(sep);
    }

    public int this[long i] => memory is not null ? memory[i] : view!.ReadInt32(i * sizeof(int));

    /// <summary>Copies tokens [start, start + count) into <paramref name="dest"/>.</summary>
    public void Read(long start, Span<long> dest)
    {
        for (int i = 0; i < dest.Length; i++) dest[i] = this[start + i];
    }

    public void Dispose() { view?.Dispose(); file?.Dispose(); }
}
