using System.CommandLine;
using System.Text;
using GptBert.Pipelines;
using GptBert.Retrieval;

namespace GptBert.Cli.Commands;

/// <summary>`gptbert index build|search`: a passage index of the user's documents (embeddings, optional HNSW, BM25).</summary>
public static class IndexCommand
{
    public static Command Create(CliContext ctx)
    {
        var command = new Command("index", """
            A search index over your documents: each is cut into passages on sentence boundaries (--chunk-tokens,
            --chunk-overlap), embedded with an encoder (default: built-in 'minilm'), and stored in a directory with a
            BM25 word index beside the vectors. Search is exact by default (every vector, SIMD dot products); an HNSW
            graph (USearch) is added from 100,000 passages or with --approximate. `gptbert rag` answers questions from it.
            """).WithSummary("Build and search a passage index (embeddings + BM25) of your documents");
        command.Subcommands.Add(Build(ctx));
        command.Subcommands.Add(Search(ctx));
        command.Subcommands.Add(Negatives(ctx));
        return command;
    }

    /// <summary>Documents from files and directories: a .jsonl file gives one document per line ({"text": .., "id": ..}), any other file is one document; directories are read for *.txt, *.md and *.jsonl.</summary>
    internal static IEnumerable<(string Source, string Text)> ReadDocuments(IReadOnlyList<string> paths)
    {
        foreach (var path in paths)
        {
            if (Directory.Exists(path))
            {
                var files = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
                    .Where(f => Path.GetExtension(f) is ".txt" or ".md" or ".jsonl").Order(StringComparer.Ordinal).ToList();
                if (files.Count == 0) throw new UsageException($"--input {path}: the directory has no .txt, .md or .jsonl files");
                foreach (var d in files.SelectMany(f => ReadFile(f, Path.GetRelativePath(path, f)))) yield return d;
            }
            else if (File.Exists(path)) foreach (var d in ReadFile(path, path)) yield return d;
            else throw new UsageException($"--input {path}: no such file or directory");
        }
    }

    static IEnumerable<(string, string)> ReadFile(string path, string name)
    {
        if (Path.GetExtension(path) != ".jsonl")
        {
            yield return (name, File.ReadAllText(path, Encoding.UTF8).Replace("\0", ""));
            yield break;
        }
        int line = 0;
        foreach (var text in File.ReadLines(path, Encoding.UTF8))
        {
            line++;
            if (text.Trim().Length == 0) continue;
            System.Text.Json.JsonElement j;
            try { j = System.Text.Json.JsonDocument.Parse(text).RootElement; }
            catch (System.Text.Json.JsonException e) { throw new UsageException($"{path}:{line}: not a JSON object ({e.Message.Split('.')[0]}); each line is {{\"text\": ..}}"); }
            if (j.ValueKind != System.Text.Json.JsonValueKind.Object || !j.TryGetProperty("text", out var t) || t.ValueKind != System.Text.Json.JsonValueKind.String)
                throw new UsageException($"{path}:{line}: each line needs a \"text\" string");
            string id = j.TryGetProperty("id", out var i) ? (i.ValueKind == System.Text.Json.JsonValueKind.String ? i.GetString()! : i.GetRawText()) : $"{name}:{line}";
            yield return (id, t.GetString()!);
        }
    }

    static Command Build(CliContext ctx)
    {
        var command = new Command("build", "Chunk, embed and index documents into a directory").WithSummary("Build an index from files or directories")
            .WithExamples("""
                gptbert index build --input data/moby-dick --output moby.index
                gptbert index build --input notes/ faq.jsonl --output kb.index --chunk-tokens 96 --chunk-overlap 16
                """);
        var input = new Option<string[]>("--input", "-i") { Description = "Files or directories to index (repeatable): .txt/.md files are one document each, .jsonl one per line {\"text\", \"id\"}", HelpName = "PATH", Required = true, AllowMultipleArgumentsPerToken = true };
        var output = new Option<string>("--output", "-o") { Description = "Index directory to write (replaced atomically if it is an index)", HelpName = "DIR", Required = true };
        var chunkTokens = new Option<int>("--chunk-tokens") { Description = "Tokens per passage at most (default: 128; at most the model's limit less its special tokens)", HelpName = "N", DefaultValueFactory = _ => 128 };
        var overlap = new Option<int>("--chunk-overlap") { Description = "Tokens of whole sentences repeated from the previous passage, at most (default: 16)", HelpName = "N", DefaultValueFactory = _ => 16 };
        var approximate = new Option<bool>("--approximate") { Description = "Also build an HNSW graph for approximate search (default: from 100,000 passages)" };
        var noLexical = new Option<bool>("--no-bm25") { Description = "Skip the BM25 word index (then only embedding search)" };
        var model = ModelOptions.Model(defaultModel: ModelHub.MiniLm);
        var batchSize = ModelOptions.BatchSize();
        foreach (var o in new Option[] { input, output, chunkTokens, overlap, approximate, noLexical, model, batchSize }) command.Options.Add(o);
        var common = CommonOptions.AddTo(command, input: false, jsonl: false, noTruncate: false);
        command.SetAction(r =>
        {
            var chunking = new ChunkingOptions { MaxTokens = r.GetValue(chunkTokens), OverlapTokens = r.GetValue(overlap) };
            try { chunking.Validate(); }
            catch (GptBertException e) { throw CliErrors.Usage(e); }
            int batch = Check.AtLeast(r.GetValue(batchSize), 1, "--batch-size");
            var paths = r.GetValue(input)!;
            string outDir = r.GetValue(output)!;
            var documents = ReadDocuments(paths).ToList(); // read first: a missing file fails before the model loads
            string modelName = r.GetValue(model)!;
            using var handle = common.LoadModel(r, modelName, architecture: null, requireHead: false);
            int specials = handle.Tokenizer.Encode("", addSpecialTokens: true).Length;
            if (chunking.MaxTokens + specials > handle.MaxLength)
                throw new UsageException($"--chunk-tokens {chunking.MaxTokens} + {specials} special tokens is over the model's {handle.MaxLength}-token limit; use --chunk-tokens {handle.MaxLength - specials} or less");
            var embedder = new Embedder(handle) { BatchSize = batch };
            var sw = System.Diagnostics.Stopwatch.StartNew();
            var lastShown = TimeSpan.Zero;
            void Progress(int done, int total)
            {
                // One line every 5 seconds (and the last), with an ETA from the rate so far.
                if (done < total && sw.Elapsed - lastShown < TimeSpan.FromSeconds(5)) return;
                lastShown = sw.Elapsed;
                ctx.Stderr.WriteLine($"embedded {done}/{total} passages ({100.0 * done / total:F0}%) | {Durations.Format(sw.Elapsed)}{Eta(sw.Elapsed, done, total)}");
            }
            using var index = SearchIndex.Build(embedder, modelName, documents,
                new IndexOptions { Chunking = chunking, Lexical = !r.GetValue(noLexical), Approximate = r.GetValue(approximate) ? true : null }, Progress);
            index.Save(outDir);
            ctx.Stderr.WriteLine($"indexed {index.Documents} documents as {index.Chunks.Count} passages ({index.Dimension}-dimensional {modelName} embeddings{(index.HasLexical ? ", BM25" : "")}{(index.HasApproximate ? ", HNSW" : "")}) in {Durations.Format(sw.Elapsed)} → {outDir}");
            return ExitCodes.Ok;
        });
        return command;
    }

    static string Eta(TimeSpan elapsed, int done, int total) =>
        done > 0 && done < total ? $" | ETA {Durations.Format(elapsed * ((double)(total - done) / done))}" : "";

    static Command Search(CliContext ctx)
    {
        var command = new Command("search", """
            The passages of an index that best match a query: by embeddings (--mode dense), by words (--mode bm25), or both
            fused by reciprocal rank (--mode hybrid, the default when the index has BM25). Prints rank, score, source:start-end
            and the passage; --jsonl one object per hit.
            """).WithSummary("Search an index")
            .WithExamples("""
                gptbert index search --index moby.index --query "the whiteness of the whale" --top 3
                gptbert index search --index kb.index --query "refund policy" --mode bm25 --jsonl
                """);
        var index = new Option<string>("--index") { Description = "Index directory (from index build)", HelpName = "DIR", Required = true };
        var query = new Option<string>("--query", "-q") { Description = "What to search for", HelpName = "TEXT", Required = true };
        var top = new Option<int>("--top") { Description = "How many passages (default: 5)", HelpName = "N", DefaultValueFactory = _ => 5 };
        var mode = new Option<string?>("--mode") { Description = "dense, bm25 or hybrid (default: hybrid when the index has BM25, else dense)", HelpName = "MODE" };
        var approximate = new Option<bool>("--approximate") { Description = "Search the HNSW graph instead of every vector (the index must have one)" };
        var model = new Option<string?>("--model", "-m") { Description = "Embedding model (default: the one the index was built with)", HelpName = "NAME|DIR" };
        foreach (var o in new Option[] { index, query, top, mode, approximate, model }) command.Options.Add(o);
        var common = CommonOptions.AddTo(command, input: false, noTruncate: false);
        command.SetAction(r =>
        {
            int k = Check.AtLeast(r.GetValue(top), 1, "--top");
            string q = r.GetValue(query)!;
            if (q.Trim().Length == 0) throw new UsageException("--query is empty");
            using var idx = OpenIndex(r.GetValue(index)!);
            var searchMode = ParseMode(r.GetValue(mode), idx);
            using var handle = common.LoadModel(r, r.GetValue(model) ?? idx.Model, architecture: null, requireHead: false);
            var hits = idx.Search(new Embedder(handle), q, k, searchMode, r.GetValue(approximate));
            Print(ctx, hits, common.IsJsonl(r));
            return ExitCodes.Ok;
        });
        return command;
    }

    static Command Negatives(CliContext ctx)
    {
        var command = new Command("negatives", """
            Training data for a cross-encoder reranker: reads (query, relevant document) pairs (columns text and text_pair
            of a CSV/TSV/JSONL file) and writes JSON Lines {"text": query, "text_pair": document, "label": "1"|"0"}: every
            pair as a positive, plus for each query the --negatives documents of the other pairs that the bi-encoder
            (--model, default 'minilm') ranks highest but that are not relevant to it (hard negatives). Fine-tune a
            cross-encoder on the result with 'gptbert finetune --train OUT', then use it with 'gptbert rerank --model'.
            With --index DIR the negatives are that index's passages instead, ranked by its own search (--mode, default
            hybrid, with the index's encoder): the passages a reranker in 'gptbert rag --rerank-with' will be shown; a
            passage that contains one of the query's relevant documents is never a negative.
            """).WithSummary("Mine hard negatives for training a cross-encoder reranker")
            .WithExamples("""
                gptbert index negatives --pairs qa-pairs.csv --output rerank-train.jsonl --negatives 3
                gptbert finetune --model minilm --train rerank-train.jsonl --output runs/cross-encoder --epochs 2
                gptbert index negatives --pairs question-passage.jsonl --index kjv.index --output rerank-train.jsonl --negatives 4
                """);
        var pairsFile = new Option<string>("--pairs") { Description = "Query → relevant document pairs (columns text, text_pair)", HelpName = "FILE", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "JSON Lines file to write", HelpName = "FILE", Required = true };
        var negatives = new Option<int>("--negatives") { Description = "Hard negatives per query (default: 3)", HelpName = "N", DefaultValueFactory = _ => 3 };
        var skipTop = new Option<int>("--skip-top") { Description = "Leave out this many best-ranked non-relevant documents (likely unlabelled positives; default: 0)", HelpName = "N", DefaultValueFactory = _ => 0 };
        var model = ModelOptions.Model(defaultModel: ModelHub.MiniLm);
        var index = new Option<string?>("--index") { Description = "Mine the negatives from this index's passages (from index build), ranked by its search, instead of from the pairs' documents", HelpName = "DIR" };
        var mode = new Option<string?>("--mode") { Description = "With --index: dense, bm25 or hybrid (default: hybrid when the index has BM25, else dense)", HelpName = "MODE" };
        foreach (var o in new Option[] { pairsFile, output, negatives, skipTop, model, index, mode }) command.Options.Add(o);
        var common = CommonOptions.AddTo(command, input: false, jsonl: false, noTruncate: false);
        command.SetAction(r =>
        {
            int n = Check.AtLeast(r.GetValue(negatives), 0, "--negatives");
            int skip = Check.AtLeast(r.GetValue(skipTop), 0, "--skip-top");
            string path = r.GetValue(pairsFile)!;
            if (!File.Exists(path)) throw new UsageException($"--pairs {path}: no such file");
            var data = GptBert.Data.LabeledDataset.Load(path, new GptBert.Data.LabeledFormatOptions { RequireLabel = false, RequireTwoLabels = false });
            var pairs = data.Where(e => e.Pair is not null).Select(e => (e.Text, e.Pair!)).ToList();
            if (pairs.Count == 0) throw new UsageException($"--pairs {path}: no rows with both text (query) and text_pair (relevant document)");
            string? indexDir = r.GetValue(index);
            if (indexDir is null && r.GetValue(mode) is not null) throw new UsageException("--mode applies to mining from an index; add --index DIR");
            if (indexDir is not null && r.GetResult(model) is { Implicit: false }) throw new UsageException("--index mines with the index's own encoder; drop --model");
            using var idx = indexDir is null ? null : OpenIndex(indexDir);
            using var handle = common.LoadModel(r, idx?.Model ?? r.GetValue(model)!, architecture: null, requireHead: false);
            var embedder = new Embedder(handle) { Warn = ctx.Warn };
            var rows = idx is null ? NegativeMining.Mine(embedder, pairs, n, skip) : NegativeMining.Mine(idx, embedder, pairs, n, skip, ParseMode(r.GetValue(mode), idx));
            var sb = new StringBuilder();
            foreach (var row in rows)
                sb.Append(System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, string> { ["text"] = row.Query, ["text_pair"] = row.Document, ["label"] = row.Relevant ? "1" : "0" })).Append('\n');
            AtomicFile.WriteAllText(r.GetValue(output)!, sb.ToString());
            ctx.Stderr.WriteLine($"wrote {rows.Count(x => x.Relevant)} positives and {rows.Count(x => !x.Relevant)} hard negatives for {pairs.Select(p => p.Text).Distinct().Count()} queries → {r.GetValue(output)}");
            return ExitCodes.Ok;
        });
        return command;
    }

    internal static SearchIndex OpenIndex(string dir)
    {
        if (!Directory.Exists(dir)) throw new UsageException($"--index {dir}: no such directory; build one with 'gptbert index build'");
        return SearchIndex.Load(dir);
    }

    internal static SearchMode ParseMode(string? mode, SearchIndex index) => mode switch
    {
        null => index.HasLexical ? SearchMode.Hybrid : SearchMode.Dense,
        "dense" => SearchMode.Dense,
        "bm25" or "lexical" => index.HasLexical ? SearchMode.Lexical : throw new UsageException("--mode bm25: this index was built with --no-bm25; rebuild it, or use --mode dense"),
        "hybrid" => index.HasLexical ? SearchMode.Hybrid : throw new UsageException("--mode hybrid: this index was built with --no-bm25; rebuild it, or use --mode dense"),
        _ => throw new UsageException($"--mode {mode}: use dense, bm25 or hybrid"),
    };

    internal static void Print(CliContext ctx, IReadOnlyList<SearchHit> hits, bool jsonl)
    {
        foreach (var h in hits)
        {
            if (jsonl)
                ctx.Out.JsonLine(j =>
                {
                    j.WriteNumber("rank", h.Rank);
                    j.WriteNumber("score", h.Score);
                    if (h.DenseScore is double d) j.WriteNumber("dense_score", d);
                    if (h.LexicalScore is double l) j.WriteNumber("bm25_score", l);
                    j.WriteString("source", h.Chunk.Source);
                    j.WriteNumber("start", h.Chunk.Start);
                    j.WriteNumber("end", h.Chunk.End);
                    j.WriteString("text", h.Chunk.Text);
                });
            else ctx.Out.Line($"{h.Rank}\t{Output.Score(h.Score)}\t{h.Chunk.Source}:{h.Chunk.Start}-{h.Chunk.End}\t{h.Chunk.Text.ReplaceLineEndings(" ")}");
        }
    }
}
