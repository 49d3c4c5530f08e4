using System.CommandLine;
using GptBert.Pipelines;

namespace GptBert.Cli.Commands;

/// <summary>`gptbert translate`: translate sentences with a GPT fine-tuned on prompt/completion pairs, or score it on a test set (BLEU, chrF).</summary>
public static class TranslateCommand
{
    public static Command Create(CliContext ctx)
    {
        var command = new Command("translate", """
            Translate sentences with a GPT-2 model fine-tuned on prompt/completion pairs (see data/translation and
            `gptbert finetune --train`). Each source sentence (one per line of --input FILE or stdin, or the "text"/"source"
            field with --jsonl) is put into --prompt-format (default "English: {src}\nFrench:", the format of the shipped
            data), the model continues greedily (or with --num-beams) and stops at the first newline.
            With --data TEST.jsonl ({"source","target"} or {"prompt","completion"} lines) it translates the test set and
            prints corpus BLEU and chrF computed as sacreBLEU does by default (13a tokenizer, exp smoothing; chrF2 with
            character order 6). --json prints the scores as one JSON object.
            An encoder-decoder directory (`gptbert encdec init`, then `gptbert finetune` on the pairs) works the same way,
            except that its encoder reads the bare source sentence (no --prompt-format).
            """).WithSummary("Translate with a fine-tuned GPT; score a test set with BLEU/chrF")
            .WithExamples("""
                gptbert translate --model ./gpt-en-fr --input sentences.txt
                echo "The cat is black." | gptbert translate --model ./gpt-en-fr --num-beams 4
                gptbert translate --model ./gpt-en-fr --data data/translation/en-fr/test.jsonl --json
                gptbert translate --model ./gpt-en-de --prompt-format "English: {src}\nGerman:" --data data/translation/en-de/test.jsonl
                gptbert translate --model runs/b2g-fr --data data/translation/en-fr/test.jsonl --num-beams 4      an encoder-decoder
                """);
        var model = ModelOptions.Model(defaultModel: null, "GPT-2 model directory fine-tuned on translation pairs, or a fine-tuned encoder-decoder (gptbert encdec)");
        var data = new Option<string?>("--data") { Description = "JSONL test set to translate and score with BLEU and chrF", HelpName = "FILE" };
        var format = new Option<string>("--prompt-format") { Description = "Prompt template; {src} is the source sentence, \\n a newline (default: \"English: {src}\\nFrench:\")", HelpName = "TEMPLATE", DefaultValueFactory = _ => Translator.DefaultPromptFormat.Replace("\n", "\\n") };
        var maxNew = new Option<int>("--max-new-tokens", "-n") { Description = "Tokens to generate at most per sentence (default: 64)", HelpName = "N", DefaultValueFactory = _ => 64 };
        var numBeams = new Option<int>("--num-beams") { Description = "Beam search with N beams (default: 1 = greedy)", HelpName = "N", DefaultValueFactory = _ => 1 };
        var lengthPenalty = new Option<double>("--length-penalty") { Description = "With --num-beams: scores are sum(log p) / length^L (default: 1.0)", HelpName = "L", DefaultValueFactory = _ => 1.0 };
        var json = new Option<bool>("--json") { Description = "With --data: print the scores as one JSON object" };
        foreach (var o in new Option[] { model, data, format, maxNew, numBeams, lengthPenalty, json }) command.Options.Add(o);
        var common = CommonOptions.AddTo(command, jsonlFields: "{\"text\": source}");
        command.SetAction(r =>
        {
            var beams = new BeamOptions { NumBeams = Check.AtLeast(r.GetValue(numBeams), 1, "--num-beams"), LengthPenalty = r.GetValue(lengthPenalty) };
            var options = new GenerationOptions { MaxNewTokens = Check.AtLeast(r.GetValue(maxNew), 1, "--max-new-tokens"), Greedy = true, Overflow = common.OverflowMode(r) };
            try { options.Validate(); if (beams.NumBeams > 1) beams.Validate(); }
            catch (GptBertException e) { throw CliErrors.Usage(e); }
            if (beams.NumBeams == 1 && r.GetResult(lengthPenalty) is { Implicit: false })
                throw new UsageException("--length-penalty applies to beam search; add --num-beams N (N ≥ 2)");
            string template = r.GetValue(format)!.Replace("\\n", "\n", StringComparison.Ordinal);
            Translator.CheckPromptFormat(template);
            // An encoder-decoder (gptbert encdec init, then finetune) reads the bare source; the prompt format is a GPT's.
            string arch = Seq2Seq.GeneratorArchitecture(r.GetValue(model)!);
            if (arch == "EncoderDecoderModel" && r.GetResult(format) is { Implicit: false })
                throw new UsageException("--prompt-format applies to a GPT; an encoder-decoder reads the source sentence as it is (drop --prompt-format)");
            using var handle = common.LoadModel(r, r.GetValue(model)!, arch, requireHead: true);
            var translator = new Translator(handle, options, beams.NumBeams > 1 ? beams : null) { PromptFormat = template };
            string? dataPath = r.GetValue(data);
            if (dataPath is not null)
            {
                var examples = translator.LoadExamples(dataPath);
                var result = translator.Evaluate(examples);
                if (r.GetValue(json))
                    ctx.Out.JsonPretty(j =>
                    {
                        j.WriteNumber("bleu", result.Bleu.Score);
                        j.WriteNumber("chrf", result.ChrF.Score);
                        j.WriteStartArray("precisions");
                        foreach (var p in result.Bleu.Precisions) j.WriteNumberValue(p);
                        j.WriteEndArray();
                        j.WriteNumber("brevity_penalty", result.Bleu.BrevityPenalty);
                        j.WriteNumber("hyp_len", result.Bleu.HypothesisLength);
                        j.WriteNumber("ref_len", result.Bleu.ReferenceLength);
                        j.WriteNumber("count", examples.Count);
                    });
                else
                {
                    ctx.Out.Line($"{examples.Count} sentences from {dataPath}");
                    ctx.Out.Line(result.Bleu.ToString());
                    ctx.Out.Line(result.ChrF.ToString());
                }
                ctx.Out.Flush();
                return ExitCodes.Ok;
            }
            bool jsonl = common.IsJsonl(r);
            var reader = common.Reader(ctx, r, null, "text", "source");
            foreach (var item in reader.Open())
            {
                string translation = translator.Translate(item.Text);
                if (jsonl) ctx.Out.JsonLine(j => { j.WriteString("source", item.Text); j.WriteString("translation", translation); });
                else ctx.Out.Line(translation);
                ctx.Out.Flush();
            }
            return ExitCodes.Ok;
        });
        return command;
    }
}
