using System.CommandLine;
using GptBert.Pipelines;

namespace GptBert.Cli.Commands;

/// <summary>`gptbert fill-mask`: the most likely words for each [MASK] (BERT masked language model).</summary>
public static class FillMaskCommand
{
    public static Command Create(CliContext ctx)
    {
        var command = new Command("fill-mask", """
            Predict the words behind each [MASK] with a BERT masked-language model (a directory saved as BertForMaskedLM
            or BertForPreTraining, e.g. bert-base-uncased) or a GPT-BERT (pretrain --arch gpt-bert: run bidirectionally,
            the prediction for a [MASK] at token i read at token i-1, token 0 being the start token): the --top N candidates with probabilities. Reads TEXT arguments,
            --input FILE or stdin, one text per line. --jsonl output per text:
            {"masks": [{"position": i, "candidates": [{"id": .., "token": .., "score": ..}]}]} (position: token index, [CLS] = 0).
            """).WithSummary("The most likely words for each [MASK] (BERT masked LM)")
            .WithExamples("""
                gptbert fill-mask --model ./bert-base-uncased "The capital of France is [MASK]."
                gptbert fill-mask --model ./bert-base-uncased --top 3 --input masked.txt --jsonl
                """);
        var texts = new Argument<string[]>("TEXT") { Description = "Texts containing [MASK] (default: --input FILE or stdin)", Arity = ArgumentArity.ZeroOrMore };
        var model = ModelOptions.Model(defaultModel: null, "BERT model directory with a masked-LM head (Hugging Face layout)");
        // --top, not --top-k: in `generate` --top-k is the sampling filter (as in transformers); --top-k and -k still work here.
        var top = new RenamedOption<int>(new Option<int>("--top")
        {
            Description = "Candidates per [MASK] (default: 5; formerly --top-k, which in 'generate' is the sampling filter)",
            HelpName = "N",
            DefaultValueFactory = _ => 5,
        }, "--top-k", "-k");
        command.Arguments.Add(texts);
        command.Options.Add(model);
        top.AddTo(command);
        var common = CommonOptions.AddTo(command);
        var backend = BackendOption.AddTo(command);
        command.SetAction(r =>
        {
            int k = Check.AtLeast(top.GetValue(r), 1, "--top");
            bool jsonl = common.IsJsonl(r);
            var overflow = common.OverflowMode(r);
            var reader = common.Reader(ctx, r, r.GetValue(texts));
            var items = reader.Open();
            string source = r.GetValue(model)!;
            // A GPT-BERT (pretrain --arch gpt-bert) is a GPT2LMHeadModel that FillMask runs bidirectionally.
            string arch = GptBert.Models.GptBertVocabulary.IsGptBert(ModelHub.ResolveDirectory(source)) ? "GPT2LMHeadModel" : "BertForMaskedLM";
            using var handle = backend.LoadEncoder(r, common, source, arch, requireHead: true);
            var fill = new FillMask(handle) { Overflow = overflow, Warn = null };
            string mask = handle.Tokenizer.MaskToken ?? "[MASK]";
            bool first = true;
            foreach (var item in items)
            {
                Truncation.Check(ctx, reader, handle.Tokenizer, item, handle.MaxLength, overflow, "");
                var enc = handle.Tokenizer.Encode(item.Text, item.Pair, addSpecialTokens: true, maxLength: handle.MaxLength);
                if (handle.Tokenizer.MaskId is not int maskId)
                    throw new GptBertException($"the tokenizer of {handle.Source} has no mask token; fill-mask needs a BERT tokenizer with {mask}");
                if (!enc.Ids.Contains(maskId))
                    throw new GptBertException(enc.Truncated
                        ? $"{reader.Where(item)} has no {mask} token within its first {handle.MaxLength} tokens; put {mask} earlier or shorten the text"
                        : $"{reader.Where(item)} has no {mask} token; write {mask} where a word should be predicted, e.g. \"Paris is the {mask} of France.\"");
                var predictions = fill.Predict(item.Text, k, item.Pair, item.Line - 1);
                if (jsonl)
                {
                    ctx.Out.JsonLine(j =>
                    {
                        j.WriteStartArray("masks");
                        foreach (var p in predictions)
                        {
                            j.WriteStartObject();
                            j.WriteNumber("position", p.Position);
                            j.WriteStartArray("candidates");
                            foreach (var c in p.Candidates)
                            {
                                j.WriteStartObject();
                                j.WriteNumber("id", c.Id);
                                j.WriteString("token", c.Token);
                                j.WriteNumber("score", c.Score);
                                j.WriteEndObject();
                            }
                            j.WriteEndArray();
                            j.WriteEndObject();
                        }
                        j.WriteEndArray();
                    });
                }
                else
                {
                    if (!first) ctx.Out.Line();
                    ctx.Out.Line(item.Pair is null ? item.Text : $"{item.Text} | {item.Pair}");
                    for (int m = 0; m < predictions.Count; m++)
                    {
                        var p = predictions[m];
                        ctx.Out.Line(predictions.Count == 1 ? $"{mask} (token {p.Position}):" : $"{mask} #{m + 1} (token {p.Position}):");
                        foreach (var c in p.Candidates)
                            ctx.Out.Line($"  {Output.Probability(c.Score)}  {c.Token}  (id {c.Id})");
                    }
                }
                first = false;
                ctx.Out.Flush();
            }
            return ExitCodes.Ok;
        });
        return command;
    }
}
