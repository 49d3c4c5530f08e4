using System.CommandLine;
using System.Globalization;
using GptBert.Data;
using GptBert.Models;
using GptBert.Pipelines;
using GptBert.Tokenizers;
using GptBert.Training;

namespace GptBert.Cli.Commands;

/// <summary>`gptbert finetune`: train a sequence classifier from a pretrained model (or from scratch) on labeled data.</summary>
public static class FinetuneCommand
{
    public const double DefaultEpochs = 3;
    const int DefaultMaxLength = 128;
    const int QaDefaultMaxLength = 384; // run_qa.py's --max_seq_length

    public static Command Create(CliContext ctx)
    {
        var command = new Command("finetune", $$"""
            Train a text classifier on labeled data. --model is the starting point: the built-in 'minilm', or any GPT-2 or
            BERT directory (Hugging Face layout; a new classification head is added unless it already has these labels).
            Without --model, --arch gpt|bert with --layers/--hidden/--heads trains a classifier from scratch. --train and
            --validation are CSV/TSV files with a header (text,label; text_pair for pair tasks) or JSON Lines objects
            ({"text": ..., "label": ...}); without --validation, 10% of --train is held out (stratified). Training stops
            at the first budget reached (--epochs, --max-steps, --max-time; default --epochs {{DefaultEpochs}}); the model with
            the best validation macro-F1 is saved in --output, with checkpoints, log.jsonl and training-curves.svg.
            Progress goes to stderr; a summary to stdout at the end.
            Generation tasks: a .jsonl --train of {"prompt": .., "completion": ..} (translation, summarization, answers) or
            {"messages": [{"role": .., "content": ..}, ..]} (chat, rendered with the model's chat_template, or "role: content"
            lines) fine-tunes a GPT-2 language model instead, with the loss on the completions or assistant turns only;
            the best model by validation loss is saved, ready for 'generate'.
            --task qa: question answering. A BERT learns extractive QA (a start/end head, BertForQuestionAnswering); a GPT
            (--arch gpt, or a GPT-2 --model) learns generative QA on prompts "Context: C\nQuestion: Q\nAnswer:" with the
            loss on the answer (best model by validation loss). Either way --train is
            SQuAD v1.1/v2.0 JSON (.json) or JSON Lines of {"question", "context", "answer", "answer_start"} (empty answer:
            none); long contexts become windows of --max-length (default 384) tokens sharing --doc-stride tokens (BERT); the best
            model (BERT: by validation exact match) is saved, ready for 'gptbert qa'.
            --task ner trains a token classifier (named entities) instead: --train and --validation are CoNLL files (a word
            and its tag per line, the tag in the last column, a blank line between sentences) or JSON Lines objects
            {"tokens": [...], "ner_tags": ["B-PER", "O", ...]}; each word's tag is learnt on its first sub-token; the best
            model by validation token accuracy is saved, ready for 'gptbert ner'.
            An encoder-decoder --model (from 'gptbert encdec init') trains on source/target pairs: .jsonl lines with
            {"source", "target"} (data/translation), {"document", "summary"} (data/summarization) or {"prompt", "completion"};
            the encoder reads the source, the decoder learns the target with teacher forcing (loss on the target tokens);
            the best model by validation loss is saved with both tokenizers, ready for 'translate' and 'summarize'.
            """).WithSummary("Fine-tune a classifier, or a GPT on prompt/completion or chat data")
            .WithExamples("""
                gptbert finetune --model minilm --train train.csv --validation dev.csv --output runs/clf
                gptbert finetune --model ./gpt2 --train train.jsonl --output runs/gpt-clf --epochs 2 --lr 3e-5 --max-length 64
                gptbert finetune --arch bert --layers 2 --hidden 128 --heads 2 --train train.csv --output runs/tiny --max-steps 500
                gptbert finetune --model minilm --train reviews.tsv --text-column review --label-column stars --balance-classes --output runs/stars
                gptbert finetune --model ./gpt2 --train chats.jsonl --output runs/chat --epochs 2      {"messages": [...]} per line
                gptbert finetune --task qa --model minilm --train train-v2.0.json --validation dev-v2.0.json --output runs/qa
                gptbert finetune --task ner --model minilm --train train.conll --validation dev.conll --output runs/ner
                gptbert finetune --model runs/b2g --train data/translation/en-fr/train.jsonl --output runs/b2g-fr --epochs 3      an encoder-decoder
                """);
        var task = new Option<string>("--task") { Description = "What to learn: classify (a label per text; prompt/completion data trains a GPT), qa (extractive question answering: SQuAD JSON or JSONL) or ner (a tag per word)", HelpName = "classify|qa|ner", DefaultValueFactory = _ => "classify" };
        task.AcceptOnlyFromAmong("classify", "qa", "ner");
        var model = new Option<string?>("--model", "-m") { Description = "Starting model: built-in 'minilm' or 'arctic-xs', or a GPT-2/BERT directory (omit, with --arch, to train from scratch)", HelpName = "NAME|DIR" };
        var arch = new Option<string?>("--arch") { Description = "Train from scratch instead of --model: gpt or bert, sized by --layers/--hidden/--heads", HelpName = "gpt|bert" };
        arch.AcceptOnlyFromAmong("gpt", "bert");
        var trainFile = new Option<string>("--train") { Description = "Labeled training data (.csv, .tsv or .jsonl)", HelpName = "FILE", Required = true };
        var validation = new Option<string?>("--validation") { Description = "Labeled validation data (default: 10% of --train, stratified)", HelpName = "FILE" };
        var output = new Option<string>("--output", "-o") { Description = "Directory for the classifier, checkpoints, log.jsonl and training-curves.svg", HelpName = "DIR", Required = true };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "Tokenizer: a built-in (gpt2, bert-base-uncased) or a directory (default: the model's; from scratch: gpt2 or bert-base-uncased)", HelpName = "NAME|DIR" };
        var maxLength = new Option<int?>("--max-length") { Description = $"Tokens per example, longer ones are truncated (default: {DefaultMaxLength}, at most the model's limit)", HelpName = "N" };
        var augment = new Option<bool>("--augment") { Description = "Augment training texts (random word deletion, swap and insertion of vocabulary words)" };
        var balance = new Option<bool>("--balance-classes") { Description = "Weight the loss by inverse class frequency (for imbalanced labels)" };
        var docStride = new Option<int?>("--doc-stride") { Description = "--task qa: tokens shared by consecutive windows of a long context (default: min(128, max-length / 4))", HelpName = "N" };
        command.Options.Add(task);
        foreach (var o in new Option[] { model, arch, trainFile, validation, output, tokenizer }) command.Options.Add(o);
        var shape = ShapeFlags.AddTo(command, " (from scratch)");
        foreach (var o in new Option[] { maxLength, docStride, augment, balance }) command.Options.Add(o);
        var format = LabeledDataFlags.AddTo(command);
        var train = TrainingFlags.AddTo(command, new TrainingDefaults("default: 5e-5 with --model, 5e-4 from scratch", EvalEvery: 0, SaveEvery: 0, Epochs: true,
            $"--epochs {DefaultEpochs.ToString(CultureInfo.InvariantCulture)}"));
        command.SetAction(r =>
        {
            string? start = r.GetValue(model);
            string? family = r.GetValue(arch);
            bool ner = r.GetValue(task) == "ner";
            if (ner && (r.GetValue(balance) || r.GetValue(augment)))
                throw new UsageException("--balance-classes and --augment apply to --task classify only; drop them for --task ner");
            if (start is null && family is null)
                throw new UsageException("give --model NAME|DIR to fine-tune (e.g. --model minilm), or --arch gpt|bert (with --layers/--hidden/--heads) to train from scratch");
            if (start is not null && family is not null)
                throw new UsageException($"give --model or --arch, not both: --model {start} already fixes the architecture (--arch is for training from scratch)");
            if (start is not null && shape.Given(r).ToList() is { Count: > 0 } sizes)
                throw new UsageException($"{string.Join(", ", sizes)} {(sizes.Count == 1 ? "applies" : "apply")} only when training from scratch with --arch; --model {start} has its own size");

            bool qa = r.GetValue(task) == "qa";
            if (qa && (r.GetValue(augment) || r.GetValue(balance)))
                throw new UsageException("--augment and --balance-classes apply to classification; drop them with --task qa");
            if (!qa && r.GetValue(docStride) is not null)
                throw new UsageException("--doc-stride applies to --task qa (the windows of long contexts); add --task qa or drop it");
            int defaultLength = qa ? QaDefaultMaxLength : DefaultMaxLength;
            int? requested = Check.AtLeast(r.GetValue(maxLength), 8, "--max-length");
            int length;
            ModelShape modelShape = new();
            string? tok = r.GetValue(tokenizer);
            train.ConfigureRuntime(r);
            if (start is not null)
            {
                var config = StartConfig(start);
                if (config.Quantization is not null) throw Int8Quantization.TrainingRefused(start);
                int positions = config.MaxPositions;
                if (requested > positions)
                    throw new UsageException($"--max-length {requested} exceeds what {start} supports ({positions} positions)");
                length = requested ?? Math.Min(defaultLength, positions);
                if (tok is not null) ModelHub.CheckTokenizerFits(TokenizerLoader.Load(tok), config, start);
            }
            else
            {
                length = requested ?? defaultLength;
                modelShape = shape.Build(r, length);
            }

            var options = train.Build(r, start is null ? 5e-4 : 5e-5, new TrainingOptions { Epochs = DefaultEpochs });
            string outDir = r.GetValue(output)!;
            bool resume = r.GetValue(train.Resume);
            TrainingFlags.CheckOutputDirectory(outDir, resume);
            var formatOptions = format.Build(r, ctx);
            if (!train.HasBudget(r))
                ctx.Stderr.WriteLine($"note: no training budget given (--epochs, --max-steps, --max-tokens or --max-time); training for --epochs {DefaultEpochs.ToString(CultureInfo.InvariantCulture)}");

            var spec = new FinetuneSpec
            {
                Model = start,
                Arch = family,
                Shape = modelShape,
                Train = r.GetValue(trainFile)!,
                Validation = r.GetValue(validation),
                Output = outDir,
                Tokenizer = tok,
                Format = formatOptions,
                MaxLength = length,
                BalanceClasses = r.GetValue(balance),
                Augment = r.GetValue(augment),
                Device = r.GetValue(train.Device),
                Training = options,
                Resume = resume,
                Task = r.GetValue(task)!,
                DocStride = Check.AtLeast(r.GetValue(docStride), 1, "--doc-stride"),
            };
            // The note comes with the pipeline's first line (how many examples it holds out), after the data has loaded.
            var result = TrainingRuns.Finetune(spec, TrainingFlags.ReportTo(ctx,
                firstNote: spec.Validation is null ? "note: no --validation given, so part of --train is held out for validation" : null));

            var o = ctx.Out;
            string from = start ?? $"{family} from scratch";
            o.Line($"fine-tuned {from} on {Path.GetFileName(spec.Train)}: {TrainingSummary.Totals(result)}");
            if (result.FinalTrainLoss is double loss) o.Line($"final training loss: {TrainingSummary.Metric(loss)}");
            if (start is not null && Seq2Seq.IsEncoderDecoder(start))
            {
                if (result.BestMetrics is { } s2s && s2s.TryGetValue("loss", out var targetLoss))
                    o.Line($"best validation:     target loss {TrainingSummary.Metric(targetLoss)} (step {result.BestStep})");
                TrainingSummary.Files(ctx, outDir);
                o.Line($"next:       gptbert translate --model {outDir} --data TEST.jsonl   (or gptbert summarize --model {outDir} --data TEST.jsonl)");
                return ExitCodes.Ok;
            }
            if (qa)
            {
                if (result.BestMetrics is { } m && m.TryGetValue("exact_match", out var em))
                    o.Line($"best validation:     exact match {TrainingSummary.Metric(em)}, loss {(m.TryGetValue("loss", out var l) ? TrainingSummary.Metric(l) : "-")} (step {result.BestStep})");
                else if (result.BestMetrics is { } g && g.TryGetValue("loss", out var gl)) // a GPT answering generatively: selected by the answers' loss
                    o.Line($"best validation:     answer loss {TrainingSummary.Metric(gl)} (step {result.BestStep}; generative QA: score it with gptbert qa --data FILE)");
                TrainingSummary.Files(ctx, outDir);
                o.Line($"next:       gptbert qa --model {outDir} --question QUESTION --context CONTEXT");
                return ExitCodes.Ok;
            }
            if (ner && result.BestMetrics is { } bestNer)
                o.Line($"best validation:     token accuracy {(bestNer.TryGetValue("accuracy", out var a) ? TrainingSummary.Metric(a) : "-")}, loss {(bestNer.TryGetValue("loss", out var l) ? TrainingSummary.Metric(l) : "-")} (step {result.BestStep})");
            else if (result.BestMetrics is { } best)
            {
                string Get(string key) => best.TryGetValue(key, out var v) ? TrainingSummary.Metric(v) : "-";
                o.Line($"best validation:     accuracy {Get("accuracy")}, macro-F1 {Get("macro_f1")}, loss {Get("loss")} (step {result.BestStep})");
            }
            if (!ner && spec.Validation is not null && Baseline(spec.Train, spec.Validation, formatOptions) is { } baseline)
                o.Line($"majority baseline:   accuracy {TrainingSummary.Metric(baseline.Accuracy)} (always '{baseline.Label}')");
            TrainingSummary.Files(ctx, outDir);
            o.Line(ner ? $"next:       echo \"Ada Lovelace met Charles Babbage in London.\" | gptbert ner --model {outDir}"
                : $"next:       gptbert evaluate --model {outDir} --data TEST_FILE");
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>config.json of --model (the built-in is converted on first use).</summary>
    static ModelConfig StartConfig(string model) => ModelConfig.Load(Path.Combine(ModelHub.ExistingDirectory(model), "config.json"));

    /// <summary>Always predicting the training set's most frequent label, measured on the validation set.</summary>
    static (string Label, double Accuracy)? Baseline(string train, string validation, LabeledFormatOptions format)
    {
        try
        {
            format = format with { Warn = null }; // read once more: the run has warned about skipped rows already
            var t = LabeledDataset.Load(train, format);
            var v = LabeledDataset.Load(validation, format with { RequireTwoLabels = false });
            return (t.MajorityLabel().Label, t.MajorityBaselineAccuracy(v));
        }
        catch (GptBertException) { return null; }
    }
}
