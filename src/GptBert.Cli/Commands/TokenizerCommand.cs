using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using GptBert.Tokenizers.Training;

namespace GptBert.Cli.Commands;

/// <summary>`gptbert tokenizer train`: learn a BPE (GPT-2) or WordPiece (BERT) vocabulary from a corpus.</summary>
public static class TokenizerCommand
{
    public const int DefaultVocabSize = 30000;

    public static Command Create(CliContext ctx)
    {
        var command = new Command("tokenizer", """
            Work with tokenizers. 'gptbert tokenizer train' learns a new vocabulary from your text; to split text with an
            existing tokenizer, use 'gptbert tokenize'.
            """).WithSummary("Train a BPE or WordPiece tokenizer on a corpus ('tokenizer train')")
            .WithExamples("""
                gptbert tokenizer train --kind wordpiece --data corpus.txt --vocab-size 8000 --output my-wordpiece
                gptbert tokenizer train --help
                """);
        command.Subcommands.Add(CreateTrain(ctx));
        return command;
    }

    static Command CreateTrain(CliContext ctx)
    {
        var command = new Command("train", $"""
            Learn a tokenizer from plain text, as Hugging Face's tokenizers library trains one, and save it in Hugging Face
            layout: --kind bpe is GPT-2's byte-level BPE (vocab.json + merges.txt; every text round-trips), --kind wordpiece
            is BERT's WordPiece (vocab.txt; [PAD] [UNK] [CLS] [SEP] [MASK]). --data is a .txt file, a folder of .txt files
            or a glob; each non-blank line is one training text. The directory works wherever a tokenizer is accepted
            (--tokenizer DIR of tokenize, pretrain, finetune). Prints the vocabulary size, the time taken and a sample
            encoding.
            """).WithSummary("Train a BPE or WordPiece tokenizer")
            .WithExamples("""
                gptbert tokenizer train --kind bpe --data data/moby-dick --vocab-size 8000 --output tok-bpe
                gptbert tokenizer train --kind wordpiece --data "data/**/*.txt" --vocab-size 16000 --min-frequency 3 --output tok-wp
                gptbert tokenizer train --kind wordpiece --data corpus.txt --no-lowercase --output tok-cased
                gptbert tokenize --tokenizer tok-bpe "Call me Ishmael."
                """);
        var kind = new Option<string>("--kind") { Description = "bpe (GPT-2 byte-level BPE) or wordpiece (BERT)", HelpName = "bpe|wordpiece", Required = true };
        kind.AcceptOnlyFromAmong(TokenizerTraining.Kinds.ToArray());
        var data = new Option<string>("--data") { Description = "Training text: a .txt file, a folder of .txt files, or a glob (data/**/*.txt)", HelpName = "PATH", Required = true };
        var vocabSize = new Option<int>("--vocab-size") { Description = $"Vocabulary size to learn, special tokens and alphabet included (default: {DefaultVocabSize})", HelpName = "N", DefaultValueFactory = _ => DefaultVocabSize };
        var minFrequency = new Option<long>("--min-frequency") { Description = "Merge only pairs seen at least this often (default: 2)", HelpName = "N", DefaultValueFactory = _ => 2 };
        var lowercase = new Option<bool>("--lowercase") { Description = "wordpiece: lowercase and strip accents, like bert-base-uncased (the default)" };
        var noLowercase = new Option<bool>("--no-lowercase") { Description = "wordpiece: keep case and accents, like bert-base-cased" };
        var output = new Option<string>("--output", "-o") { Description = "Directory to write the tokenizer files into", HelpName = "DIR", Required = true };
        foreach (var o in new Option[] { kind, data, vocabSize, minFrequency, lowercase, noLowercase, output }) command.Options.Add(o);
        command.SetAction(r =>
        {
            string k = r.GetValue(kind)!;
            int size = Check.AtLeast(r.GetValue(vocabSize), 1, "--vocab-size");
            long minFreq = r.GetValue(minFrequency);
            if (minFreq < 0) throw new UsageException($"--min-frequency must be at least 0 (got {minFreq})");
            bool lower = r.GetValue(lowercase), noLower = r.GetValue(noLowercase);
            if (lower && noLower) throw new UsageException("give --lowercase or --no-lowercase, not both");
            if (k == TokenizerTraining.Bpe && (lower || noLower))
                throw new UsageException($"{(lower ? "--lowercase" : "--no-lowercase")} applies to --kind wordpiece; byte-level BPE keeps the text as it is");
            string outDir = r.GetValue(output)!;
            var corpus = PretrainCommand.RequireText(r.GetValue(data)!);

            string? stage = null;
            long lines = 0;
            string? sample = null;
            IEnumerable<string> Texts()
            {
                foreach (var line in corpus.Lines())
                {
                    lines++;
                    sample ??= line;
                    yield return line;
                }
            }
            var options = new TokenizerTrainingOptions
            {
                VocabSize = size,
                MinFrequency = minFreq,
                LowerCase = !noLower,
                ShowProgress = p =>
                {
                    if (p.Stage == stage) return;
                    stage = p.Stage;
                    ctx.Stderr.WriteLine($"{p.Stage.ToLowerInvariant()} ...");
                    ctx.Stderr.Flush();
                },
            };
            ctx.Stderr.WriteLine($"training a {k} tokenizer on {corpus.Files.Count} file(s), {Output.HumanBytes(corpus.TotalBytes)} ...");
            ctx.Stderr.Flush();
            var clock = Stopwatch.StartNew();
            var tokenizer = TokenizerTraining.TrainAndSave(k, Texts(), outDir, options);
            clock.Stop();

            var inv = CultureInfo.InvariantCulture;
            if (tokenizer.VocabSize < size)
                ctx.Warn($"learned {tokenizer.VocabSize} tokens, fewer than --vocab-size {size}: the corpus has no more pairs seen at least --min-frequency {minFreq} times");
            var o = ctx.Out;
            o.Line($"trained {k} tokenizer: {tokenizer.VocabSize.ToString("N0", inv)} tokens in {Durations.Format(clock.Elapsed)} " +
                   $"({lines.ToString("N0", inv)} lines, {Output.HumanBytes(corpus.TotalBytes)})");
            IEnumerable<string?> files = Directory.Exists(outDir) ? Directory.GetFiles(outDir).Select(Path.GetFileName).Order(StringComparer.Ordinal) : [];
            o.Line($"saved:  {outDir} ({string.Join(", ", files)})");
            if (sample is not null)
            {
                string text = Shorten(sample, 80);
                var enc = tokenizer.Encode(text);
                o.Line($"sample: {text}");
                o.Line($"tokens: {string.Join(' ', enc.Tokens)}");
                o.Line($"ids:    {string.Join(' ', enc.Ids)}");
            }
            o.Line($"use it: gptbert tokenize --tokenizer {outDir} \"some text\"");
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>The first <paramref name="max"/> characters, cut at a space when there is one.</summary>
    static string Shorten(string text, int max)
    {
        text = text.Trim();
        if (text.Length <= max) return text;
        int cut = text.LastIndexOf(' ', max);
        return text[..(cut > max / 2 ? cut : max)];
    }
}
