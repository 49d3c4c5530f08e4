using System.CommandLine;
using GptBert.Pipelines;

namespace GptBert.Cli.Commands;

/// <summary>`gptbert similarity`: cosine similarity of sentence embeddings.</summary>
public static class SimilarityCommand
{
    public static Command Create(CliContext ctx)
    {
        var command = new Command("similarity", """
            Cosine similarity of sentence embeddings (default model: built-in 'minilm'), in one of three modes:
              two texts:   gptbert similarity TEXT TEXT                 prints the score
              ranking:     gptbert similarity --query TEXT [--input FILE] prints rank, score and text, best first;
                           --jsonl: {"rank": .., "score": .., "text": .., "index": ..} (index: 0-based input position)
              pairs:       gptbert similarity [--input FILE]             one score per input line; plain lines are
                           TEXT<tab>TEXT, --jsonl lines {"text": .., "text_pair": ..}; --jsonl output {"score": ..}
            """).WithSummary("Cosine similarity of two texts, or rank texts by a query")
            .WithExamples("""
                gptbert similarity "How do I reset my password?" "I forgot my password"
                gptbert similarity --query "refund policy" --input faq.txt --top 3
                gptbert similarity --query "refund policy" --input faq.jsonl --jsonl
                printf 'a cat\ta kitten\n' | gptbert similarity
                """);
        var texts = new Argument<string[]>("TEXT") { Description = "Two texts to compare (or, with --query, the texts to rank)", Arity = ArgumentArity.ZeroOrMore };
        var query = new Option<string?>("--query", "-q") { Description = "Rank the input texts by similarity to TEXT", HelpName = "TEXT" };
        // --top, not --top-k: in `generate` --top-k is the sampling filter (as in transformers); --top-k and -k still work here.
        var top = new RenamedOption<int>(new Option<int>("--top")
        {
            Description = "With --query: how many best matches to print (default: 10; 0 = all; formerly --top-k, which in 'generate' is the sampling filter)",
            HelpName = "N",
            DefaultValueFactory = _ => 10,
        }, "--top-k", "-k");
        var model = ModelOptions.Model(defaultModel: ModelHub.MiniLm);
        var maxLength = ModelOptions.MaxLength();
        var batchSize = ModelOptions.BatchSize();
        command.Arguments.Add(texts);
        command.Options.Add(query);
        top.AddTo(command);
        foreach (var o in new Option[] { model, maxLength, batchSize }) command.Options.Add(o);
        var common = CommonOptions.AddTo(command);
        var backend = BackendOption.AddTo(command);
        command.SetAction(r =>
        {
            int? max = Check.AtLeast(r.GetValue(maxLength), 1, "--max-length");
            int batch = Check.AtLeast(r.GetValue(batchSize), 1, "--batch-size");
            int k = Check.AtLeast(top.GetValue(r), 0, "--top");
            string? q = r.GetValue(query);
            var args = r.GetValue(texts) ?? [];
            bool jsonl = common.IsJsonl(r);

            // Decide the mode and read the input before loading the model, so mistakes fail fast.
            InputReader reader;
            List<InputItem> items;
            if (q is not null)
            {
                reader = common.Reader(ctx, r, args);
                items = reader.ReadAll();
            }
            else if (args.Length == 2)
            {
                if (common.InputPath(r) is not null) throw new UsageException("give two texts or --input FILE, not both");
                reader = common.Reader(ctx, r, args);
                items = [new InputItem(1, args[0], args[1])];
            }
            else if (args.Length == 0)
            {
                reader = common.Reader(ctx, r, null);
                items = reader.ReadAll().Select(i => AsPair(reader, i, jsonl)).ToList();
            }
            else
                throw new UsageException($"similarity takes two texts (got {args.Length}); to rank many texts use --query TEXT");

            using var handle = backend.LoadEncoder(r, common, r.GetValue(model)!, architecture: null, requireHead: false);
            var overflow = common.OverflowMode(r);
            int limit = ModelOptions.ResolveMaxLength(handle, max);
            string hint = ModelOptions.LimitHint(handle, limit);
            var embedder = new Embedder(handle) { BatchSize = batch, Overflow = overflow, Warn = null, Normalize = true };

            if (q is not null)
            {
                var all = new List<string>(items.Count + 1) { q };
                foreach (var item in items)
                {
                    if (item.Pair is not null)
                        throw new GptBertException($"{reader.Where(item)}: with --query each line is one text; remove \"text_pair\"");
                    Truncation.Check(ctx, reader, handle.Tokenizer, item, limit, overflow, hint);
                    all.Add(item.Text);
                }
                if (handle.Tokenizer.Encode(q).Ids.Length > limit)
                {
                    if (overflow == Overflow.Refuse) throw new GptBertException($"--query is longer than the {limit}-token limit; shorten it{hint}, or drop --no-truncate");
                    ctx.Warn($"--query is longer than {limit} tokens; truncated");
                }
                var vectors = embedder.Embed(all, limit);
                var ranked = Enumerable.Range(0, items.Count)
                    .Select(i => (Index: i, Score: Embedder.Cosine(vectors[0], vectors[i + 1])))
                    .OrderByDescending(x => x.Score).ThenBy(x => x.Index)
                    .Take(k == 0 ? int.MaxValue : k).ToList();
                for (int rank = 0; rank < ranked.Count; rank++)
                {
                    var (index, score) = ranked[rank];
                    if (jsonl)
                        ctx.Out.JsonLine(j =>
                        {
                            j.WriteNumber("rank", rank + 1);
                            j.WriteNumber("score", score);
                            j.WriteString("text", items[index].Text);
                            j.WriteNumber("index", index);
                        });
                    else ctx.Out.Line($"{rank + 1}\t{Output.Score(score)}\t{items[index].Text}");
                }
                return ExitCodes.Ok;
            }

            bool fromArgs = args.Length == 2;
            foreach (var chunk in items.Chunk(EmbedCommand.ChunkSize / 2))
            {
                var flat = new List<string>(chunk.Length * 2);
                foreach (var item in chunk)
                {
                    Truncation.Check(ctx, reader, handle.Tokenizer, item with { Pair = null }, limit, overflow, hint);
                    Truncation.Check(ctx, reader, handle.Tokenizer, item with { Line = fromArgs ? 2 : item.Line, Text = item.Pair!, Pair = null }, limit, overflow, hint);
                    flat.Add(item.Text);
                    flat.Add(item.Pair!);
                }
                var vectors = embedder.Embed(flat, limit);
                for (int i = 0; i < chunk.Length; i++)
                {
                    double score = Embedder.Cosine(vectors[2 * i], vectors[2 * i + 1]);
                    if (jsonl) ctx.Out.JsonLine(j => j.WriteNumber("score", score));
                    else ctx.Out.Line(Output.Score(score));
                }
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>Pairs mode: a JSON line needs "text_pair"; a plain line is split at its first tab.</summary>
    static InputItem AsPair(InputReader reader, InputItem item, bool jsonl)
    {
        if (item.Pair is not null) return item;
        if (jsonl)
            throw new GptBertException($"{reader.Where(item)}: missing \"text_pair\"; pairs mode compares \"text\" with \"text_pair\" (or use --query TEXT to rank texts)");
        int tab = item.Text.IndexOf('\t');
        if (tab < 0)
            throw new GptBertException($"{reader.Where(item)}: expected two texts separated by a tab (or use --query TEXT to rank lines, or give two texts as arguments)");
        return item with { Text = item.Text[..tab], Pair = item.Text[(tab + 1)..] };
    }
}
