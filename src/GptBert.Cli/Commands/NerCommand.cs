using System.CommandLine;
using GptBert.Pipelines;

namespace GptBert.Cli.Commands;

/// <summary>`gptbert ner`: the named entities of each input text, with character offsets, from a fine-tuned token classifier.</summary>
public static class NerCommand
{
    public static Command Create(CliContext ctx)
    {
        var command = new Command("ner", """
            Find named entities with a token classifier (a directory from 'gptbert finetune --task ner'). Reads TEXT arguments,
            --input FILE or stdin, one text per line; with --jsonl, objects {"text": ...}. Each text is split into words (at
            whitespace; every punctuation mark, symbol, emoji and CJK character is a word of its own), each word is tagged at
            its first sub-token, and B-/I- tags are grouped into entities. Offsets count Unicode characters (code points, as
            Python's str indices do) from the start of the text: text[start:end] is the entity. Plain output, one line per
            entity: INPUT<tab>LABEL<tab>START<tab>END<tab>SCORE<tab>TEXT (INPUT: the line or argument number, SCORE: the mean
            probability of the entity's word tags); --json or --jsonl: one object per text, {"text": .., "entities":
            [{"label": .., "text": .., "start": .., "end": .., "score": ..}, ..]}. A GPT-2 tagger reads left to right: a
            word's tag is predicted from that word and the words before it only.
            """).WithSummary("Named entities (with character offsets) from a token classifier")
            .WithExamples("""
                gptbert ner --model runs/ner "Ada Lovelace met Charles Babbage in London."
                gptbert ner --model runs/ner --input news.txt > entities.tsv
                echo '{"text": "Angela Merkel visited Paris."}' | gptbert ner --model runs/ner --jsonl
                gptbert ner --model runs/ner --json "Zoë flew from São Paulo to 東京."
                """);
        var texts = new Argument<string[]>("TEXT") { Description = "Texts to tag (default: --input FILE or stdin)", Arity = ArgumentArity.ZeroOrMore };
        var model = ModelOptions.Model(defaultModel: null, "Token classifier directory (from 'gptbert finetune --task ner')");
        var maxLength = new Option<int?>("--max-length") { Description = "Tokens per text, special tokens included; words past it get no tag (default: the model's limit, at most 512)", HelpName = "N" };
        var batchSize = ModelOptions.BatchSize();
        var json = new Option<bool>("--json") { Description = "Print one JSON object per text (plain-text input)" };
        command.Arguments.Add(texts);
        foreach (var o in new Option[] { model, maxLength, batchSize, json }) command.Options.Add(o);
        var common = CommonOptions.AddTo(command);
        command.SetAction(r =>
        {
            int? max = Check.AtLeast(r.GetValue(maxLength), 8, "--max-length");
            int batch = Check.AtLeast(r.GetValue(batchSize), 1, "--batch-size");
            bool asJson = common.IsJsonl(r) || r.GetValue(json);
            var reader = common.Reader(ctx, r, r.GetValue(texts));
            var items = reader.Open();
            common.ConfigureRuntime(r);
            using var tagger = new TokenClassifier(r.GetValue(model)!, common.TokenizerName(r), common.DeviceName(r), max)
            {
                BatchSize = batch,
                Warn = ctx.Stderr.WriteLine,
                Overflow = common.OverflowMode(r),
            };
            common.ConfigureRuntime(r);
            foreach (var chunk in items.Chunk(batch))
            {
                var found = tagger.Recognize(chunk.Select(i => i.Text).ToList(), i => reader.Where(chunk[i]));
                for (int i = 0; i < chunk.Length; i++)
                {
                    if (asJson)
                        ctx.Out.JsonLine(j =>
                        {
                            j.WriteString("text", chunk[i].Text);
                            j.WriteStartArray("entities");
                            foreach (var e in found[i])
                            {
                                j.WriteStartObject();
                                j.WriteString("label", e.Label);
                                j.WriteString("text", e.Text);
                                j.WriteNumber("start", e.CodePointStart);
                                j.WriteNumber("end", e.CodePointEnd);
                                j.WriteNumber("score", Math.Round(e.Score, 4));
                                j.WriteEndObject();
                            }
                            j.WriteEndArray();
                        });
                    else
                        foreach (var e in found[i])
                            ctx.Out.Line($"{chunk[i].Line}\t{e.Label}\t{e.CodePointStart}\t{e.CodePointEnd}\t{Output.Score(e.Score)}\t{e.Text}");
                }
                ctx.Out.Flush();
            }
            return ExitCodes.Ok;
        });
        return command;
    }
}
