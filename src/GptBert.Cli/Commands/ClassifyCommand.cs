using System.CommandLine;
using GptBert.Pipelines;

namespace GptBert.Cli.Commands;

/// <summary>`gptbert classify`: the label (and class probabilities) of each input text with a fine-tuned classifier.</summary>
public static class ClassifyCommand
{
    public static Command Create(CliContext ctx)
    {
        var command = new Command("classify", """
            Label texts with a fine-tuned classifier (a directory from 'gptbert finetune'). Reads TEXT arguments, --input FILE
            or stdin, one text per line; with --jsonl, objects {"text": ..., "text_pair": ...} (text_pair for pair tasks).
            Texts are classified --batch-size at a time and results are printed as each batch is done. Plain output per
            text: LABEL<tab>SCORE<tab>TEXT (SCORE: the probability of LABEL); --jsonl: {"label": .., "score": ..,
            "scores": {label: probability, ...}}.
            """).WithSummary("Label texts with a fine-tuned classifier")
            .WithExamples("""
                gptbert classify --model runs/clf "I loved every minute of it."
                gptbert classify --model runs/clf --input reviews.txt > labels.tsv
                echo '{"text": "A man is eating.", "text_pair": "Someone eats."}' | gptbert classify --model runs/nli --jsonl
                """);
        var texts = new Argument<string[]>("TEXT") { Description = "Texts to classify (default: --input FILE or stdin)", Arity = ArgumentArity.ZeroOrMore };
        var model = ModelOptions.Model(defaultModel: null, "Classifier directory (from 'gptbert finetune')");
        var maxLength = new Option<int?>("--max-length") { Description = "Tokens per text, special tokens included (default: the model's limit, at most 512)", HelpName = "N" };
        var batchSize = ModelOptions.BatchSize();
        command.Arguments.Add(texts);
        foreach (var o in new Option[] { model, maxLength, batchSize }) command.Options.Add(o);
        var common = CommonOptions.AddTo(command);
        var backend = BackendOption.AddTo(command);
        command.SetAction(r =>
        {
            int? max = Check.AtLeast(r.GetValue(maxLength), 1, "--max-length");
            int batch = Check.AtLeast(r.GetValue(batchSize), 1, "--batch-size");
            bool jsonl = common.IsJsonl(r);
            var overflow = common.OverflowMode(r);
            var reader = common.Reader(ctx, r, r.GetValue(texts));
            var items = reader.Open();
            common.ConfigureRuntime(r);
            string source = r.GetValue(model)!;
            using var onnx = backend.Value(r) == Backend.Onnx ? backend.LoadOnnx(r, common, source) : null;
            using var classifier = onnx is not null ? new Classifier(onnx, max) : new Classifier(source, common.TokenizerName(r), common.DeviceName(r), max);
            common.ConfigureRuntime(r);
            int positions = classifier.Model.Config.MaxPositions;
            if (max > positions)
                throw new UsageException($"--max-length {max} exceeds what {source} supports ({positions} positions)");
            int limit = Math.Min(max ?? 512, positions);
            string hint = limit < positions ? $" or raise --max-length (model limit {positions})" : "";
            var tokenizer = classifier.Model.Tokenizer;
            foreach (var chunk in items.Chunk(batch))
            {
                foreach (var item in chunk) Truncation.Check(ctx, reader, tokenizer, item, limit, overflow, hint);
                var results = classifier.Classify(chunk.Select(i => (i.Text, i.Pair)).ToList());
                for (int i = 0; i < chunk.Length; i++)
                {
                    var c = results[i];
                    double score = c.Scores[c.Label];
                    if (jsonl)
                        ctx.Out.JsonLine(j =>
                        {
                            j.WriteString("label", c.Label);
                            j.WriteNumber("score", score);
                            j.WriteStartObject("scores");
                            foreach (var (label, p) in c.Scores) j.WriteNumber(label, p);
                            j.WriteEndObject();
                        });
                    else
                    {
                        var item = chunk[i];
                        ctx.Out.Line($"{c.Label}\t{Output.Score(score)}\t{(item.Pair is null ? item.Text : item.Text + "\t" + item.Pair)}");
                    }
                }
                ctx.Out.Flush();
            }
            return ExitCodes.Ok;
        });
        return command;
    }
}
