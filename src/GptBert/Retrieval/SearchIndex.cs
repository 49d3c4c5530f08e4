using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cloud.Unum.USearch;
using GptBert.Pipelines;
using Lucene.Net.Analysis.Standard;
using Lucene.Net.Documents;
using Lucene.Net.Index;
using Lucene.Net.QueryParsers.Classic;
using Lucene.Net.Search;
using Lucene.Net.Search.Similarities;
using Lucene.Net.Util;
using LuceneDirectory = Lucene.Net.Store.Directory;
using FSDirectory = Lucene.Net.Store.FSDirectory;

namespace GptBert.Retrieval;

/// <summary>How a query is matched: embeddings, words (BM25), or both fused by reciprocal rank.</summary>
public enum SearchMode { Dense, Lexical, Hybrid }

/// <summary>One result: its rank (from 1), the chunk, the score that ranked it, and each method's own score where it found the chunk.</summary>
public sealed record SearchHit(int Rank, int ChunkId, double Score, Chunk Chunk, double? DenseScore, double? LexicalScore);

/// <summary>What an index is built with.</summary>
public sealed record IndexOptions
{
    public ChunkingOptions Chunking { get; init; } = new();
    /// <summary>Also build a BM25 word index (Lucene.Net), for lexical and hybrid search.</summary>
    public bool Lexical { get; init; } = true;
    /// <summary>Also build an HNSW graph (USearch) for approximate search; null: when there are at least <see cref="SearchIndex.ApproximateFrom"/> chunks.</summary>
    public bool? Approximate { get; init; }
}

/// <summary>
/// A passage index on disk: chunks of the user's documents, their sentence embeddings (L2-normalised, so a dot product
/// is the cosine), searched exactly by default (SIMD dot products over every vector: exact and fast up to about a
/// million chunks), approximately through a USearch HNSW graph when built with one, lexically through a Lucene.Net
/// BM25 index, or both fused by reciprocal rank (Cormack et al. 2009, k = 60).
/// </summary>
/// <remarks>
/// Layout of the directory: <c>index.json</c> (format, the embedding model, dimension, pooling, chunking, counts),
/// <c>chunks.jsonl</c> (one chunk a line: source, start, end, tokens, text), <c>vectors.f32</c> (chunks × dimension
/// float32, little-endian, row-major), <c>hnsw.usearch</c> when approximate, <c>bm25/</c> (a Lucene index) when lexical.
/// </remarks>
public sealed class SearchIndex : IDisposable
{
    public const string FormatName = "gptbert-index";
    public const int FormatVersion = 1;
    /// <summary>Chunks from which an index gets an HNSW graph unless told otherwise.</summary>
    public const int ApproximateFrom = 100_000;
    const LuceneVersion Lucene = LuceneVersion.LUCENE_48;

    readonly float[] vectors;
    USearchIndex? hnsw;
    LuceneDirectory? bm25Directory;
    DirectoryReader? bm25Reader;

    public string Model { get; }
    public int Dimension { get; }
    public string Pooling { get; }
    public ChunkingOptions Chunking { get; }
    public IReadOnlyList<Chunk> Chunks { get; }
    public int Documents { get; }
    public bool HasLexical => bm25Reader is not null;
    public bool HasApproximate => hnsw is not null;

    SearchIndex(string model, int dimension, string pooling, ChunkingOptions chunking, IReadOnlyList<Chunk> chunks, int documents, float[] vectors)
    {
        Model = model; Dimension = dimension; Pooling = pooling; Chunking = chunking; Chunks = chunks; Documents = documents;
        this.vectors = vectors;
    }

    /// <summary>Chunks and embeds <paramref name="documents"/> (source name, text); <paramref name="progress"/> gets chunks embedded so far and the total.</summary>
    public static SearchIndex Build(Embedder embedder, string model, IEnumerable<(string Source, string Text)> documents, IndexOptions options,
        Action<int, int>? progress = null, CancellationToken cancellationToken = default)
    {
        options.Chunking.Validate();
        var chunks = new List<Chunk>();
        int docs = 0;
        foreach (var (source, text) in documents)
        {
            docs++;
            chunks.AddRange(Chunker.Split(source, text, embedder.Model.Tokenizer, options.Chunking));
        }
        if (chunks.Count == 0) throw new GptBertException("the documents have no text to index") { Parameter = "Input" };
        int dim = embedder.Dimension;
        var vectors = new float[(long)chunks.Count * dim];
        const int Step = 256;
        for (int at = 0; at < chunks.Count; at += Step)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var part = chunks.Skip(at).Take(Step).Select(c => c.Text).ToList();
            var embedded = embedder.Embed(part, cancellationToken: cancellationToken);
            for (int i = 0; i < embedded.Length; i++) embedded[i].CopyTo(vectors, (long)(at + i) * dim);
            progress?.Invoke(at + part.Count, chunks.Count);
        }
        if (!embedder.Normalize) Normalize(vectors, dim);
        var index = new SearchIndex(model, dim, embedder.Pooling.ToString().ToLowerInvariant(), options.Chunking, chunks, docs, vectors);
        if (options.Approximate ?? chunks.Count >= ApproximateFrom) index.hnsw = BuildHnsw(vectors, dim);
        if (options.Lexical)
        {
            var ram = new Lucene.Net.Store.RAMDirectory();
            index.WriteLexical(ram);
            index.bm25Directory = ram;
            index.bm25Reader = DirectoryReader.Open(ram);
        }
        return index;
    }

    /// <summary>An index over given vectors (chunk i is "v{i}"), for tests of the search itself.</summary>
    internal static SearchIndex FromVectors(float[] vectors, int dim, bool approximate)
    {
        int n = vectors.Length / dim;
        var chunks = Enumerable.Range(0, n).Select(i => new Chunk("vectors", i, i + 1, $"v{i}", 1)).ToList();
        var index = new SearchIndex("vectors", dim, "mean", new ChunkingOptions(), chunks, 1, vectors);
        if (approximate) index.hnsw = BuildHnsw(vectors, dim);
        return index;
    }

    static void Normalize(float[] vectors, int dim)
    {
        for (long at = 0; at < vectors.LongLength; at += dim)
        {
            var row = vectors.AsSpan((int)at, dim);
            float norm = TensorPrimitives.Norm(row);
            if (norm > 0) TensorPrimitives.Divide(row, norm, row);
        }
    }

    static USearchIndex BuildHnsw(float[] vectors, int dim)
    {
        // Connectivity 16, expansion 128 when adding and 64 when searching: USearch's and hnswlib's usual settings.
        var index = new USearchIndex(MetricKind.Cos, ScalarKind.Float32, (ulong)dim, 16, 128, 64, false);
        int n = vectors.Length / dim;
        for (int i = 0; i < n; i++) index.Add((ulong)i, vectors.AsSpan(i * dim, dim).ToArray());
        return index;
    }

    /// <summary>The vector of chunk <paramref name="id"/>.</summary>
    public ReadOnlySpan<float> Vector(int id) => vectors.AsSpan(id * Dimension, Dimension);

    /// <summary>
    /// The <paramref name="k"/> rows of <paramref name="vectors"/> (n × dim) with the largest dot product with
    /// <paramref name="query"/>, best first (ties by lower id): exact search.
    /// </summary>
    public static IReadOnlyList<(int Id, double Score)> ExactTopK(ReadOnlySpan<float> vectors, int dim, ReadOnlySpan<float> query, int k)
    {
        int n = vectors.Length / dim;
        k = Math.Min(k, n);
        if (k <= 0) return [];
        // A min-heap of the best k so far.
        var heap = new PriorityQueue<int, (float Score, int NegId)>(k + 1);
        for (int i = 0; i < n; i++)
        {
            float s = TensorPrimitives.Dot(vectors.Slice(i * dim, dim), query);
            if (heap.Count < k) heap.Enqueue(i, (s, -i));
            else if (heap.TryPeek(out _, out var worst) && (s > worst.Score || s == worst.Score && -i > worst.NegId))
                heap.EnqueueDequeue(i, (s, -i));
        }
        var result = new (int, double)[heap.Count];
        for (int j = result.Length - 1; j >= 0; j--)
        {
            heap.TryDequeue(out int id, out var p);
            result[j] = (id, p.Score);
        }
        return result;
    }

    /// <summary>
    /// Reciprocal rank fusion: each id scores Σ 1 / (k + rank) over the rankings it appears in (rank from 1; k = 60 as
    /// Cormack, Clarke and Büttcher 2009 set it); best first, ties by lower id.
    /// </summary>
    public static IReadOnlyList<(int Id, double Score)> ReciprocalRankFusion(IEnumerable<IReadOnlyList<int>> rankings, int k = 60)
    {
        var scores = new Dictionary<int, double>();
        foreach (var ranking in rankings)
            for (int r = 0; r < ranking.Count; r++)
                scores[ranking[r]] = scores.GetValueOrDefault(ranking[r]) + 1.0 / (k + r + 1);
        return scores.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key).Select(kv => (kv.Key, kv.Value)).ToList();
    }

    /// <summary>Dense search with an embedded query (L2-normalised): exact, or through the HNSW graph when <paramref name="approximate"/>.</summary>
    public IReadOnlyList<(int Id, double Score)> DenseSearch(float[] query, int k, bool approximate = false)
    {
        if (query.Length != Dimension)
            throw new GptBertException($"the query vector has {query.Length} dimensions; this index holds {Dimension}-dimensional vectors of {Model}") { Parameter = "Model" };
        if (!approximate) return ExactTopK(vectors, Dimension, query, k);
        if (hnsw is null) throw new GptBertException("this index has no approximate (HNSW) graph; rebuild it with Approximate, or search exactly") { Parameter = "Approximate" };
        int found = hnsw.Search(query, Math.Min(k, Chunks.Count), out ulong[] keys, out float[] distances);
        // USearch's cosine metric gives distance 1 − cosine.
        return Enumerable.Range(0, found).Select(i => ((int)keys[i], 1.0 - distances[i])).ToList();
    }

    /// <summary>BM25 search (Lucene.Net's StandardAnalyzer and BM25Similarity, k1 = 1.2, b = 0.75) over the chunks' words.</summary>
    public IReadOnlyList<(int Id, double Score)> LexicalSearch(string query, int k)
    {
        if (bm25Reader is null)
            throw new GptBertException("this index has no word (BM25) index; rebuild it without NoLexical, or search by embeddings") { Parameter = "Lexical" };
        var searcher = new IndexSearcher(bm25Reader) { Similarity = new BM25Similarity() };
        using var analyzer = new StandardAnalyzer(Lucene);
        var parser = new QueryParser(Lucene, "text", analyzer) { DefaultOperator = Operator.OR };
        Query q;
        try { q = parser.Parse(QueryParserBase.Escape(query)); }
        catch (ParseException) { return []; }
        catch (Lucene.Net.Search.BooleanQuery.TooManyClausesException) { return []; }
        var top = searcher.Search(q, Math.Max(1, Math.Min(k, Chunks.Count)));
        return top.ScoreDocs.Select(d => (int.Parse(searcher.Doc(d.Doc).Get("id"), System.Globalization.CultureInfo.InvariantCulture), (double)d.Score)).ToList();
    }

    /// <summary>
    /// The <paramref name="k"/> best chunks for a query: dense (the embedded query), lexical (its words), or hybrid
    /// (both, each taking its best max(4k, 50), fused by reciprocal rank).
    /// </summary>
    public IReadOnlyList<SearchHit> Search(Embedder embedder, string query, int k, SearchMode mode = SearchMode.Dense, bool approximate = false)
    {
        if (k < 1) throw new GptBertException($"TopK must be at least 1 (got {k})") { Parameter = "TopK" };
        if (embedder.Dimension != Dimension)
            throw new GptBertException($"the model gives {embedder.Dimension}-dimensional embeddings; this index holds {Dimension}-dimensional vectors of {Model}; search with the model the index was built with") { Parameter = "Model" };
        int pool = Math.Max(4 * k, 50);
        IReadOnlyList<(int Id, double Score)> dense = mode == SearchMode.Lexical ? [] : DenseSearch(embedder.Embed([query])[0], mode == SearchMode.Hybrid ? pool : k, approximate);
        IReadOnlyList<(int Id, double Score)> lexical = mode == SearchMode.Dense ? [] : LexicalSearch(query, mode == SearchMode.Hybrid ? pool : k);
        var denseById = dense.ToDictionary(d => d.Id, d => d.Score);
        var lexicalById = lexical.ToDictionary(d => d.Id, d => d.Score);
        var ranked = mode switch
        {
            SearchMode.Dense => dense,
            SearchMode.Lexical => lexical,
            _ => ReciprocalRankFusion([dense.Select(d => d.Id).ToList(), lexical.Select(d => d.Id).ToList()]),
        };
        return ranked.Take(k).Select((r, i) => new SearchHit(i + 1, r.Id, r.Score, Chunks[r.Id],
            denseById.TryGetValue(r.Id, out var ds) ? ds : null, lexicalById.TryGetValue(r.Id, out var ls) ? ls : null)).ToList();
    }

    /// <summary>Writes the index to <paramref name="directory"/> atomically: built beside it, then swapped in.</summary>
    public void Save(string directory)
    {
        directory = Path.GetFullPath(directory);
        if (File.Exists(directory)) throw new GptBertException($"{directory} is a file; give a directory for the index") { Parameter = "Output" };
        string parent = Path.GetDirectoryName(directory)!;
        System.IO.Directory.CreateDirectory(parent);
        string tmp = Path.Combine(parent, $".{Path.GetFileName(directory)}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}");
        System.IO.Directory.CreateDirectory(tmp);
        try
        {
            using (var f = File.Create(Path.Combine(tmp, "vectors.f32")))
            {
                if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("big-endian machines");
                f.Write(MemoryMarshal.AsBytes(vectors.AsSpan()));
            }
            using (var w = new StreamWriter(Path.Combine(tmp, "chunks.jsonl")))
                for (int i = 0; i < Chunks.Count; i++)
                {
                    var c = Chunks[i];
                    w.WriteLine(JsonSerializer.Serialize(new JsonObject
                    {
                        ["id"] = i, ["source"] = c.Source, ["start"] = c.Start, ["end"] = c.End, ["tokens"] = c.Tokens, ["text"] = c.Text,
                    }));
                }
            hnsw?.Save(Path.Combine(tmp, "hnsw.usearch"));
            bool lexical = HasLexical;
            if (lexical)
                using (var fs = FSDirectory.Open(Path.Combine(tmp, "bm25"))) WriteLexical(fs);
            var meta = new JsonObject
            {
                ["format"] = FormatName, ["version"] = FormatVersion,
                ["model"] = Model, ["dimension"] = Dimension, ["pooling"] = Pooling, ["normalized"] = true,
                ["chunk_tokens"] = Chunking.MaxTokens, ["chunk_overlap"] = Chunking.OverlapTokens,
                ["chunks"] = Chunks.Count, ["documents"] = Documents,
                ["approximate"] = hnsw is not null, ["lexical"] = lexical,
                ["created"] = DateTimeOffset.UtcNow.ToString("O"),
            };
            File.WriteAllText(Path.Combine(tmp, "index.json"), meta.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            if (System.IO.Directory.Exists(directory))
            {
                if (!File.Exists(Path.Combine(directory, "index.json")) && System.IO.Directory.EnumerateFileSystemEntries(directory).Any())
                    throw new GptBertException($"{directory} exists and is not a GptBert index; give a new or empty directory") { Parameter = "Output" };
                string old = tmp + ".old";
                System.IO.Directory.Move(directory, old);
                System.IO.Directory.Move(tmp, directory);
                System.IO.Directory.Delete(old, true);
            }
            else System.IO.Directory.Move(tmp, directory);
        }
        finally
        {
            if (System.IO.Directory.Exists(tmp)) System.IO.Directory.Delete(tmp, true);
        }
    }

    void WriteLexical(LuceneDirectory dir)
    {
        using var analyzer = new StandardAnalyzer(Lucene);
        using var writer = new IndexWriter(dir, new IndexWriterConfig(Lucene, analyzer) { Similarity = new BM25Similarity(), OpenMode = OpenMode.CREATE });
        for (int i = 0; i < Chunks.Count; i++)
            writer.AddDocument(new Document
            {
                new StringField("id", i.ToString(System.Globalization.CultureInfo.InvariantCulture), Field.Store.YES),
                new TextField("text", Chunks[i].Text, Field.Store.NO),
            });
        writer.Commit();
    }

    void OpenLexical(string path)
    {
        bm25Directory = FSDirectory.Open(path);
        bm25Reader = DirectoryReader.Open(bm25Directory);
    }

    /// <summary>Opens an index that <see cref="Save"/> wrote.</summary>
    public static SearchIndex Load(string directory)
    {
        string metaPath = Path.Combine(directory, "index.json");
        if (!File.Exists(metaPath))
            throw new GptBertException($"{directory} is not a GptBert index (no index.json); build one with index build") { Parameter = "Index" };
        JsonNode meta;
        try { meta = JsonNode.Parse(File.ReadAllText(metaPath)) ?? throw new JsonException("empty"); }
        catch (JsonException e) { throw new GptBertException($"{metaPath} is not valid JSON ({e.Message}); rebuild the index") { Parameter = "Index" }; }
        if ((string?)meta["format"] != FormatName || (int?)meta["version"] is not FormatVersion)
            throw new GptBertException($"{metaPath} is not a version-{FormatVersion} {FormatName}; rebuild the index with this version") { Parameter = "Index" };
        int dim = (int)meta["dimension"]!;
        var chunks = new List<Chunk>();
        foreach (var line in File.ReadLines(Path.Combine(directory, "chunks.jsonl")))
        {
            if (line.Length == 0) continue;
            var c = JsonNode.Parse(line)!;
            chunks.Add(new Chunk((string)c["source"]!, (int)c["start"]!, (int)c["end"]!, (string)c["text"]!, (int)c["tokens"]!));
        }
        var bytes = File.ReadAllBytes(Path.Combine(directory, "vectors.f32"));
        if (bytes.LongLength != (long)chunks.Count * dim * sizeof(float))
            throw new GptBertException($"{directory}: vectors.f32 has {bytes.LongLength} bytes, not {chunks.Count} chunks × {dim} floats; the index is damaged, rebuild it") { Parameter = "Index" };
        var vectors = MemoryMarshal.Cast<byte, float>(bytes).ToArray();
        var chunking = new ChunkingOptions { MaxTokens = (int)meta["chunk_tokens"]!, OverlapTokens = (int)meta["chunk_overlap"]! };
        var index = new SearchIndex((string)meta["model"]!, dim, (string?)meta["pooling"] ?? "mean", chunking, chunks, (int?)meta["documents"] ?? 0, vectors);
        string hnswPath = Path.Combine(directory, "hnsw.usearch");
        if ((bool?)meta["approximate"] == true && File.Exists(hnswPath)) index.hnsw = new USearchIndex(hnswPath, false);
        if ((bool?)meta["lexical"] == true) index.OpenLexical(Path.Combine(directory, "bm25"));
        return index;
    }

    public void Dispose()
    {
        hnsw?.Dispose();
        bm25Reader?.Dispose();
        bm25Directory?.Dispose();
    }
}
