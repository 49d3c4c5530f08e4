using System.CommandLine;
using GptBert.Data;
using GptBert.Pipelines;
using GptBert.Training;

namespace GptBert.Cli.Commands;

/// <summary>`gptbert pretrain`: train a GPT (causal LM) or BERT (masked LM, optionally + NSP) from scratch on plain text.</summary>
public static class PretrainCommand
{
    public const long DefaultMaxSteps = 1000;

    public static Command Create(CliContext ctx)
    {
        var command = new Command("pretrain", $"""
            Train a language model from scratch on plain text: --arch gpt (GPT-2, next-token prediction) or --arch bert
            (BERT, masked-language modelling; --nsp adds next-sentence prediction). --data is a .txt file, a folder of .txt
            files or a glob; documents are separated by blank lines, and the last 5% of its tokens are held out for validation
            unless --validation is given. Training stops at the first budget reached (--max-steps, --max-tokens,
            --max-time; default --max-steps {DefaultMaxSteps}). --output gets the model (config.json, model.safetensors,
            tokenizer files: the best by validation loss), checkpoints (continue with --resume), log.jsonl and
            training-curves.svg. Progress goes to stderr; a summary to stdout at the end.
            --arch gpt-bert trains one GPT-2 on both objectives (GPT-BERT, Charpentier & Samuel 2024): a fraction
            --causal-ratio of the batches are causal, the rest masked next-token prediction (BERT's masking, bidirectional
            attention, the prediction for token i read at position i-1). The tokenizer gets a [MASK] token; the directory
            is a GPT2LMHeadModel for 'generate' and is also used bidirectionally by 'fill-mask' and 'finetune'.
            """).WithSummary("Train a GPT, BERT or GPT-BERT from scratch on plain text")
            .WithExamples("""
                gptbert pretrain --arch gpt --data data/moby-dick --output runs/gpt --max-time 10m
                gptbert pretrain --arch bert --data corpus.txt --output runs/bert --layers 4 --hidden 256 --heads 4 --max-steps 2000
                gptbert pretrain --arch bert --data corpus.txt --tokenizer my-wordpiece --whole-word-masking --nsp --output runs/bert
                gptbert pretrain --arch gpt --data corpus.txt --output runs/gpt --max-steps 4000 --resume
                gptbert pretrain --arch gpt-bert --causal-ratio 0.0625 --data data/moby-dick --output runs/gpt-bert --max-time 10m
                """);
        var arch = new Option<string>("--arch") { Description = "Model family: gpt (causal LM), bert (masked LM) or gpt-bert (both, one GPT-2)", HelpName = "gpt|bert|gpt-bert", Required = true };
        arch.AcceptOnlyFromAmong("gpt", "bert", "gpt-bert");
        var causalRatio = new Option<double>("--causal-ratio")
        {
            Description = "gpt-bert: fraction of batches that are causal, the rest masked next-token prediction (default: 0.0625 = 1/16, the paper's 1:15)",
            HelpName = "R", DefaultValueFactory = _ => GptBert.Models.GptBertSettings.DefaultCausalRatio,
        };
        var data = new Option<string>("--data") { Description = "Training text: a .txt file, a folder of .txt files, or a glob (data/**/*.txt)", HelpName = "PATH", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "Directory for the model, checkpoints, log.jsonl and training-curves.svg", HelpName = "DIR", Required = true };
        var validation = new Option<string?>("--validation") { Description = "Validation text (default: the last 5% of the tokens of --data are held out)", HelpName = "PATH" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "Tokenizer: a built-in (gpt2, bert-base-uncased) or a directory, e.g. from 'gptbert tokenizer train' (default: gpt2 for gpt, bert-base-uncased for bert)", HelpName = "NAME|DIR" };
        var maxLength = new Option<int>("--max-length") { Description = "Tokens per training block (context length; default: 128)", HelpName = "N", DefaultValueFactory = _ => 128 };
        var nsp = new Option<bool>("--nsp") { Description = "bert: also train next-sentence prediction (BertForPreTraining)" };
        var wwm = new Option<bool>("--whole-word-masking") { Description = "bert: mask whole words (all their ## pieces) instead of single tokens" };
        foreach (var o in new Option[] { arch, data, output, validation, tokenizer }) command.Options.Add(o);
        var shape = ShapeFlags.AddTo(command);
        command.Options.Add(maxLength);
        command.Options.Add(nsp);
        command.Options.Add(wwm);
        command.Options.Add(causalRatio);
        var strict = LabeledDataFlags.StrictOption();
        command.Options.Add(strict);
        var train = TrainingFlags.AddTo(command, new TrainingDefaults("default: 5e-4", EvalEvery: 100, SaveEvery: 100, Epochs: false,
            $"--max-steps {DefaultMaxSteps}"));
        command.SetAction(r =>
        {
            string family = r.GetValue(arch)!;
            if (family != "gpt-bert" && r.GetResult(causalRatio) is { Implicit: false })
                throw new UsageException("--causal-ratio is a GPT-BERT setting; drop it or use --arch gpt-bert");
            double ratio = r.GetValue(causalRatio);
            if (!(ratio >= 0 && ratio <= 1)) throw new UsageException($"--causal-ratio must be between 0 and 1 (got {ratio}); it is the fraction of causal batches, e.g. 0.0625");
            if (family != "bert" && r.GetValue(nsp)) throw new UsageException("--nsp (next-sentence prediction) is a BERT objective; drop it or use --arch bert");
            if (family != "bert" && r.GetValue(wwm)) throw new UsageException("--whole-word-masking is a BERT objective; drop it or use --arch bert");
            int length = Check.AtLeast(r.GetValue(maxLength), 8, "--max-length");
            var modelShape = shape.Build(r, length);
            var options = train.Build(r, 5e-4, new TrainingOptions { MaxSteps = DefaultMaxSteps });
            train.ConfigureRuntime(r);
            string outDir = r.GetValue(output)!;
            bool resume = r.GetValue(train.Resume);
            TrainingFlags.CheckOutputDirectory(outDir, resume);

            // Fail fast on an unreadable, empty or blank corpus, before the tokenizer and model are built.
            string dataPath = r.GetValue(data)!;
            var corpus = RequireText(dataPath);
            if (r.GetValue(validation) is { } v) RequireText(v);

            if (!train.HasBudget(r))
                ctx.Stderr.WriteLine($"note: no training budget given (--max-steps, --max-tokens or --max-time); training for --max-steps {DefaultMaxSteps}");
            var spec = new PretrainSpec
            {
                Arch = family,
                Data = dataPath,
                Output = outDir,
                Validation = r.GetValue(validation),
                Tokenizer = r.GetValue(tokenizer),
                Shape = modelShape,
                NextSentencePrediction = r.GetValue(nsp),
                WholeWordMasking = r.GetValue(wwm),
                CausalRatio = ratio,
                Device = r.GetValue(train.Device),
                Training = options,
                Resume = resume,
                Corpus = new TextCorpusOptions { Strict = r.GetValue(strict), Warn = ctx.Warn },
            };
            var result = TrainingRuns.Pretrain(spec, TrainingFlags.ReportTo(ctx));

            var o = ctx.Out;
            o.Line($"pretrained {family}: {TrainingSummary.Totals(result)}");
            if (result.FinalTrainLoss is double loss) o.Line($"final training loss:  {TrainingSummary.Metric(loss)}");
            if (result.BestMetrics is { } best && best.TryGetValue("loss", out var vl))
            {
                string ppl = best.TryGetValue("perplexity", out var p) ? $" (perplexity {p.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)})" : "";
                o.Line($"best validation loss: {TrainingSummary.Metric(vl)}{ppl} at step {result.BestStep}");
            }
            else o.Line("best validation loss: none (no validation tokens)");
            TrainingSummary.Files(ctx, outDir);
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>Opens a corpus and reads up to its first line: empty files, blank-only files and bad paths fail here.</summary>
    internal static TextCorpus RequireText(string path)
    {
        var corpus = TextCorpus.Open(path);
        _ = corpus.Lines().Take(1).Count();
        return corpus;
    }
}
