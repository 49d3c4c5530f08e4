using System.CommandLine;
using GptBert.Pipelines;
using GptBert.Tokenizers;

namespace GptBert.Cli.Commands;

/// <summary>`gptbert tokenize`: token ids and token strings as Hugging Face's tokenizers return them.</summary>
public static class TokenizeCommand
{
    public static Command Create(CliContext ctx)
    {
        var command = new Command("tokenize", """
            Split text into tokens and ids exactly as Hugging Face tokenizers do (BERT adds [CLS] ... [SEP], GPT-2 adds
            nothing). Reads TEXT arguments, --input FILE or stdin, one text per line. Output per text: a 'tokens:' and an
            'ids:' line; with --jsonl, {"ids": [...], "tokens": [...]}.
            """).WithSummary("Token ids and tokens, as Hugging Face tokenizers give them")
            .WithExamples("""
                gptbert tokenize --tokenizer bert-base-uncased "Hello, World!"
                echo '{"text": "Hello world"}' | gptbert tokenize --tokenizer gpt2 --jsonl
                echo '{"text": "Who?", "text_pair": "Me."}' | gptbert tokenize --tokenizer bert-base-uncased --jsonl
                gptbert tokenize --model ./my-bert --no-special-tokens --input texts.txt
                """);
        var texts = new Argument<string[]>("TEXT") { Description = "Texts to tokenize (default: --input FILE or stdin)", Arity = ArgumentArity.ZeroOrMore };
        var model = new Option<string?>("--model", "-m") { Description = "Use this model's tokenizer (directory or built-in 'minilm')", HelpName = "NAME|DIR" };
        var noSpecial = new Option<bool>("--no-special-tokens") { Description = "Do not add [CLS]/[SEP] (BERT); GPT-2 adds none anyway" };
        var maxLength = new Option<int?>("--max-length") { Description = "Truncate to N tokens (special tokens included); with --no-truncate, refuse longer texts", HelpName = "N" };
        command.Arguments.Add(texts);
        command.Options.Add(model);
        command.Options.Add(noSpecial);
        command.Options.Add(maxLength);
        var common = CommonOptions.AddTo(command, device: false, threads: false);
        command.SetAction(r =>
        {
            int? max = Check.AtLeast(r.GetValue(maxLength), 1, "--max-length");
            bool special = !r.GetValue(noSpecial);
            bool jsonl = common.IsJsonl(r);
            var overflow = common.OverflowMode(r);
            var reader = common.Reader(ctx, r, r.GetValue(texts));
            var items = reader.Open();
            var tokenizer = LoadTokenizer(common.TokenizerName(r), r.GetValue(model));
            bool first = true;
            foreach (var item in items)
            {
                var enc = tokenizer.Encode(item.Text, item.Pair, addSpecialTokens: special, maxLength: max);
                if (enc.Truncated)
                {
                    if (overflow == Overflow.Refuse)
                        throw new GptBertException($"{reader.Where(item)} is longer than --max-length {max} tokens; shorten it, raise --max-length, or drop --no-truncate");
                    ctx.Warn($"{reader.Where(item)} truncated to {max} tokens");
                }
                if (jsonl)
                {
                    ctx.Out.JsonLine(j =>
                    {
                        Output.WriteArray(j, "ids", enc.Ids);
                        Output.WriteArray(j, "tokens", enc.Tokens);
                    });
                }
                else
                {
                    if (!first) ctx.Out.Line();
                    ctx.Out.Line("tokens: " + string.Join(' ', enc.Tokens));
                    ctx.Out.Line("ids:    " + string.Join(' ', enc.Ids));
                }
                first = false;
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>--tokenizer wins; otherwise the tokenizer files of --model's directory (or the built-in's cache).</summary>
    static ITextTokenizer LoadTokenizer(string? tokenizer, string? model)
    {
        if (tokenizer is not null) return TokenizerLoader.Load(tokenizer);
        if (model is null)
            throw new UsageException("tokenize needs --tokenizer NAME|DIR (e.g. gpt2, bert-base-uncased) or --model NAME|DIR");
        string dir = ModelHub.ExistingDirectory(model);
        return ModelHub.HasTokenizer(dir) ? TokenizerLoader.Load(dir) : throw ModelHub.NoTokenizer(model);
    }
}
