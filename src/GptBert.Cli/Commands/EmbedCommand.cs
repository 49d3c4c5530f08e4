using System.CommandLine;
using GptBert.Pipelines;

namespace GptBert.Cli.Commands;

/// <summary>`gptbert embed`: one sentence embedding per input text.</summary>
public static class EmbedCommand
{
    /// <summary>Texts embedded per step; output streams after each chunk.</summary>
    internal const int ChunkSize = 1024;

    public static Command Create(CliContext ctx)
    {
        var command = new Command("embed", """
            Compute sentence embeddings (the model's pooling + L2 normalisation, as sentence-transformers does). The default
            model is the built-in all-MiniLM-L6-v2 ('minilm': mean pooling, 384 dimensions, 256-token inputs); 'arctic-xs' is
            Snowflake arctic-embed-xs ([CLS] pooling, 384 dimensions, 512-token inputs). Reads TEXT arguments,
            --input FILE or stdin, one text per line. Output per text: one line of numbers; with --jsonl, {"embedding": [...]}.
            """).WithSummary("Sentence embeddings (default: built-in MiniLM)")
            .WithExamples("""
                gptbert embed "The cat sat on the mat."
                gptbert embed --input sentences.txt --jsonl > vectors.jsonl
                echo '{"text": "Call me Ishmael."}' | gptbert embed --jsonl
                gptbert embed --model ./my-bert --max-length 128 --batch-size 64 --input texts.txt
                """);
        var texts = new Argument<string[]>("TEXT") { Description = "Texts to embed (default: --input FILE or stdin)", Arity = ArgumentArity.ZeroOrMore };
        var model = ModelOptions.Model(defaultModel: ModelHub.MiniLm);
        var maxLength = ModelOptions.MaxLength();
        var batchSize = ModelOptions.BatchSize();
        var pooling = new Option<string?>("--pooling")
        {
            Description = "How token vectors become one vector: mean, cls or last-token (default: what the model declares, e.g. cls for arctic-xs; else mean)",
        };
        pooling.AcceptOnlyFromAmong("mean", "cls", "last-token");
        var noNormalize = new Option<bool>("--no-normalize") { Description = "Do not scale embeddings to unit length" };
        command.Arguments.Add(texts);
        foreach (var o in new Option[] { model, maxLength, batchSize, pooling, noNormalize }) command.Options.Add(o);
        var common = CommonOptions.AddTo(command);
        var backend = BackendOption.AddTo(command);
        command.SetAction(r =>
        {
            int? max = Check.AtLeast(r.GetValue(maxLength), 1, "--max-length");
            int batch = Check.AtLeast(r.GetValue(batchSize), 1, "--batch-size");
            bool jsonl = common.IsJsonl(r);
            var reader = common.Reader(ctx, r, r.GetValue(texts));
            var items = reader.Open();
            using var handle = backend.LoadEncoder(r, common, r.GetValue(model)!, architecture: null, requireHead: false);
            var declared = new Embedder(handle).Pooling;
            var embedder = new Embedder(handle)
            {
                BatchSize = batch,
                Pooling = r.GetValue(pooling) switch { "cls" => Pooling.Cls, "last-token" => Pooling.LastToken, "mean" => Pooling.Mean, _ => declared },
                Normalize = !r.GetValue(noNormalize),
                Overflow = common.OverflowMode(r),
                Warn = null, // Truncation.Check has already warned, naming the line
            };
            int limit = ModelOptions.ResolveMaxLength(handle, max);
            foreach (var chunk in items.Chunk(ChunkSize))
            {
                foreach (var item in chunk)
                {
                    if (item.Pair is not null)
                        throw new GptBertException($"{reader.Where(item)}: embed takes single texts; remove \"text_pair\" (use 'gptbert similarity' to compare two texts)");
                    Truncation.Check(ctx, reader, handle.Tokenizer, item, limit, common.OverflowMode(r), ModelOptions.LimitHint(handle, limit));
                }
                var vectors = embedder.Embed(chunk.Select(i => i.Text).ToList(), limit);
                foreach (var v in vectors)
                {
                    if (jsonl) ctx.Out.JsonLine(j => Output.WriteArray(j, "embedding", v));
                    else ctx.Out.Line(string.Join(' ', v.Select(Output.Number)));
                }
                ctx.Out.Flush();
            }
            return ExitCodes.Ok;
        });
        return command;
    }
}
