using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using GptBert.Data;
using GptBert.Engine;
using GptBert.Pipelines;
using GptBert.Training;
using RunLog = GptBert.Reporting.RunLog;

namespace GptBert.Cli;

/// <summary>Defaults that differ between `pretrain` and `finetune`.</summary>
public sealed record TrainingDefaults(string LearningRateHelp, int EvalEvery, int SaveEvery, bool Epochs, string BudgetHelp);

/// <summary>
/// The options of the training commands (`pretrain`, `finetune`): optimisation, budget, checkpoints, device.
/// Each command gets its own instances (a System.CommandLine option belongs to one command).
/// </summary>
public sealed class TrainingFlags
{
    public required Option<int> BatchSize { get; init; }
    public required Option<int> GradAccum { get; init; }
    public required Option<double?> LearningRate { get; init; }
    public required Option<double> WeightDecay { get; init; }
    public required Option<double> Warmup { get; init; }
    public required Option<string> Schedule { get; init; }
    public required Option<double> ClipNorm { get; init; }
    public required Option<long?> MaxSteps { get; init; }
    public required Option<long?> MaxTokens { get; init; }
    public required Option<TimeSpan?> MaxTime { get; init; }
    public Option<double?>? Epochs { get; init; }
    public required Option<long> Seed { get; init; }
    public required Option<string> Precision { get; init; }
    public required Option<int> EvalEvery { get; init; }
    public required Option<int> SaveEvery { get; init; }
    public required Option<int> KeepCheckpoints { get; init; }
    public required Option<int> EarlyStopping { get; init; }
    public required Option<bool> Resume { get; init; }
    public required Option<string> Device { get; init; }
    public required Option<int?> Threads { get; init; }

    public static TrainingFlags AddTo(Command command, TrainingDefaults d)
    {
        var f = new TrainingFlags
        {
            BatchSize = new("--batch-size") { Description = "Examples per micro-batch (default: 16)", HelpName = "N", DefaultValueFactory = _ => 16 },
            GradAccum = new("--grad-accum") { Description = "Micro-batches per optimizer step (gradient accumulation; default: 1)", HelpName = "N", DefaultValueFactory = _ => 1 },
            LearningRate = new("--lr") { Description = $"Peak learning rate of AdamW ({d.LearningRateHelp})", HelpName = "LR" },
            WeightDecay = new("--weight-decay") { Description = "AdamW weight decay, not applied to biases and LayerNorm (default: 0.01)", HelpName = "W", DefaultValueFactory = _ => 0.01 },
            Warmup = new("--warmup") { Description = "Fraction of the budget spent warming the learning rate up from 0, in [0, 1) (default: 0.05)", HelpName = "FRACTION", DefaultValueFactory = _ => 0.05 },
            Schedule = new("--schedule") { Description = "Learning-rate decay after warm-up: linear (default), cosine or constant", HelpName = "linear|cosine|constant", DefaultValueFactory = _ => "linear" },
            ClipNorm = new("--clip-norm") { Description = "Clip the global gradient norm to this (0 = off; default: 1.0)", HelpName = "NORM", DefaultValueFactory = _ => 1.0 },
            MaxSteps = BudgetOptions.MaxSteps($"(no budget flag given: {d.BudgetHelp})"),
            MaxTokens = BudgetOptions.MaxTokens(),
            MaxTime = BudgetOptions.MaxTime(),
            Epochs = d.Epochs ? BudgetOptions.Epochs() : null,
            Seed = new("--seed") { Description = "Random seed: initialisation, data order, dropout, masking (default: 42)", HelpName = "N", DefaultValueFactory = _ => 42 },
            Precision = new("--precision") { Description = "Compute precision: fp32 (default), or bf16/fp16 mixed precision (matrix products in 16 bits, fp32 weights; fp16 adds loss scaling). Refused where the device has no native support (bf16 needs avx512_bf16/AMX on a CPU)", HelpName = "fp32|bf16|fp16", DefaultValueFactory = _ => "fp32" },
            EvalEvery = new("--eval-every") { Description = $"Evaluate on the validation data every N steps (0 = only at the end; default: {d.EvalEvery})", HelpName = "N", DefaultValueFactory = _ => d.EvalEvery },
            SaveEvery = new("--save-every") { Description = $"Write a checkpoint every N steps (0 = only at the end; default: {d.SaveEvery})", HelpName = "N", DefaultValueFactory = _ => d.SaveEvery },
            KeepCheckpoints = new("--keep-checkpoints") { Description = "How many of the latest checkpoints to keep (default: 2)", HelpName = "N", DefaultValueFactory = _ => 2 },
            EarlyStopping = new("--early-stopping") { Description = "Stop after N evaluations without improvement (0 = never; default: 0)", HelpName = "PATIENCE", DefaultValueFactory = _ => 0 },
            Resume = new("--resume") { Description = "Continue the run in --output from its latest checkpoint (same data and --seed); without a checkpoint, start fresh" },
            Device = RuntimeOptions.Device(),
            Threads = RuntimeOptions.Threads(),
        };
        f.Schedule.AcceptOnlyFromAmong("linear", "cosine", "constant");
        f.Precision.AcceptOnlyFromAmong("fp32", "bf16", "fp16");
        foreach (var o in new Option?[] { f.BatchSize, f.GradAccum, f.LearningRate, f.WeightDecay, f.Warmup, f.Schedule, f.ClipNorm,
                     f.MaxSteps, f.MaxTokens, f.MaxTime, f.Epochs, f.Seed, f.Precision, f.EvalEvery, f.SaveEvery, f.KeepCheckpoints,
                     f.EarlyStopping, f.Resume, f.Device, f.Threads })
            if (o is not null) command.Options.Add(o);
        return f;
    }

    /// <summary>True when the option was typed on the command line (not just defaulted).</summary>
    public static bool Given(ParseResult r, Option option) => r.GetResult(option) is OptionResult { Implicit: false };

    public bool HasBudget(ParseResult r) =>
        r.GetValue(MaxSteps) is not null || r.GetValue(MaxTokens) is not null || r.GetValue(MaxTime) is not null
        || (Epochs is not null && r.GetValue(Epochs) is not null);

    /// <summary>--threads applied to libtorch (it sticks for the rest of the process).</summary>
    public void ConfigureRuntime(ParseResult r) => RuntimeOptions.Configure(r, Threads);

    /// <summary>
    /// The training options from the command line. <paramref name="defaultBudget"/> applies when no budget flag
    /// is given (the caller says so on stderr). Bad values are usage errors (exit code 2).
    /// </summary>
    public TrainingOptions Build(ParseResult r, double learningRate, TrainingOptions defaultBudget)
    {
        var epochs = Epochs is null ? null : r.GetValue(Epochs);
        if (epochs is not null && r.GetValue(MaxSteps) is not null)
            throw new UsageException("give --epochs or --max-steps, not both (--max-tokens and --max-time may be combined with either: training stops at whichever comes first)");
        Check.AtLeast(r.GetValue(EvalEvery), 0, "--eval-every");
        Check.AtLeast(r.GetValue(SaveEvery), 0, "--save-every");
        Check.AtLeast(r.GetValue(KeepCheckpoints), 1, "--keep-checkpoints");
        Check.AtLeast(r.GetValue(EarlyStopping), 0, "--early-stopping");
        if (r.GetValue(EarlyStopping) > 0 && r.GetValue(EvalEvery) == 0)
            throw new UsageException($"--early-stopping {r.GetValue(EarlyStopping)} needs evaluations during training; add --eval-every N (with --eval-every 0 the model is only evaluated at the end)");
        var options = new TrainingOptions
        {
            BatchSize = r.GetValue(BatchSize),
            GradientAccumulation = r.GetValue(GradAccum),
            LearningRate = r.GetValue(LearningRate) ?? learningRate,
            WeightDecay = r.GetValue(WeightDecay),
            WarmupFraction = r.GetValue(Warmup),
            Schedule = r.GetValue(Schedule) switch { "cosine" => LrSchedule.Cosine, "constant" => LrSchedule.Constant, _ => LrSchedule.Linear },
            ClipNorm = r.GetValue(ClipNorm),
            Seed = r.GetValue(Seed),
            Precision = r.GetValue(Precision) ?? "fp32",
            MaxSteps = r.GetValue(MaxSteps),
            MaxTokens = r.GetValue(MaxTokens),
            MaxTime = r.GetValue(MaxTime),
            Epochs = epochs,
            EvalEvery = r.GetValue(EvalEvery),
            SaveEvery = r.GetValue(SaveEvery),
            KeepCheckpoints = r.GetValue(KeepCheckpoints),
            EarlyStoppingPatience = r.GetValue(EarlyStopping),
        };
        if (!HasBudget(r))
            options = options with { MaxSteps = defaultBudget.MaxSteps, MaxTokens = defaultBudget.MaxTokens, MaxTime = defaultBudget.MaxTime, Epochs = defaultBudget.Epochs };
        try { options.Validate(); }
        catch (UsageException) { throw; }
        catch (GptBertException e) { throw CliErrors.Usage(e); }
        return options;
    }

    /// <summary>
    /// Where a run reports: the progress line and the pipeline's info lines go to stderr; <paramref name="firstNote"/>,
    /// if any, just before the first info line (so a run that fails on its data prints only the error).
    /// </summary>
    public static RunReporting ReportTo(CliContext ctx, string? firstNote = null) => new(
        Progress: ctx.Stderr,
        Interactive: ctx.StderrIsTerminal,
        Info: message =>
        {
            if (firstNote is not null) ctx.Stderr.WriteLine(firstNote);
            firstNote = null;
            ctx.Stderr.WriteLine(message);
            ctx.Stderr.Flush();
        });

    /// <summary>
    /// Refuses to train into a directory that already holds a run unless --resume is given: a fresh run
    /// there would mix its log and checkpoints with the old ones.
    /// </summary>
    public static void CheckOutputDirectory(string output, bool resume)
    {
        if (File.Exists(output))
            throw new GptBertException($"--output {output} is a file; give a directory for the model, checkpoints and log");
        if (resume || !Directory.Exists(output)) return;
        var checkpoint = Trainer.LatestCheckpoint(output);
        bool log = File.Exists(Path.Combine(output, RunLog.FileName));
        if (checkpoint is not null || log)
            throw new GptBertException(
                $"--output {output} already holds a training run ({(checkpoint is not null ? Path.GetFileName(checkpoint) : RunLog.FileName)}); pass --resume to continue it, or choose a new --output directory (or delete this one)");
    }

    /// <summary>The training-from-scratch shape as a usage error when it is invalid.</summary>
    public static void Validate(ModelShape shape)
    {
        try { shape.Validate(); }
        catch (GptBertException e) { throw CliErrors.Usage(e); }
    }
}

/// <summary>
/// The training budget flags, one definition for `pretrain`, `finetune`, `compare` and `choose`: --max-steps, --max-tokens,
/// --max-time and --epochs mean the same everywhere (a run stops at the first one reached).
/// </summary>
public static class BudgetOptions
{
    public static Option<long?> MaxSteps(string more = "") =>
        new("--max-steps") { Description = $"Budget: stop after N optimizer steps{Space(more)}", HelpName = "N", CustomParser = ParseCount };

    public static Option<long?> MaxTokens(string more = "") =>
        new("--max-tokens") { Description = $"Budget: stop after N training tokens (accepts K/M/B, e.g. 5M){Space(more)}", HelpName = "N", CustomParser = ParseCount };

    public static Option<TimeSpan?> MaxTime(string more = "") =>
        new("--max-time") { Description = $"Budget: stop after this much training time, e.g. 90s, 10m, 1h30m, 00:10:00{Space(more)}", HelpName = "TIME", CustomParser = ParseTime };

    public static Option<double?> Epochs(string more = "") =>
        new("--epochs") { Description = $"Budget: passes over the training data (may be fractional, e.g. 0.5){Space(more)}", HelpName = "N" };

    static string Space(string more) => more.Length == 0 ? "" : " " + more;

    static long? ParseCount(ArgumentResult a)
    {
        var text = a.Tokens.Single().Value;
        if (Durations.TryParseCount(text, out long n, out var error)) return n;
        a.AddError($"{OptionName(a)} '{text}' {error}");
        return null;
    }

    static TimeSpan? ParseTime(ArgumentResult a)
    {
        var text = a.Tokens.Single().Value;
        if (Durations.TryParse(text, out var t, out var error)) return t;
        a.AddError($"{OptionName(a)} '{text}' {error}");
        return null;
    }

    static string OptionName(ArgumentResult a) => a.Parent is OptionResult o ? o.Option.Name : "value";
}

/// <summary>--layers, --hidden, --heads, --dropout (model size when training from scratch).</summary>
public sealed class ShapeFlags
{
    static readonly ModelShape Default = new();

    public required Option<int?> Layers { get; init; }
    public required Option<int?> Hidden { get; init; }
    public required Option<int?> Heads { get; init; }
    public required Option<double?> Dropout { get; init; }

    public static ShapeFlags AddTo(Command command, string when = "")
    {
        var f = new ShapeFlags
        {
            Layers = new("--layers") { Description = $"Transformer layers{when} (default: {Default.Layers})", HelpName = "N" },
            Hidden = new("--hidden") { Description = $"Hidden size{when}; divisible by --heads (default: {Default.Hidden})", HelpName = "N" },
            Heads = new("--heads") { Description = $"Attention heads{when} (default: {Default.Heads})", HelpName = "N" },
            Dropout = new("--dropout") { Description = $"Dropout probability{when} (default: {Default.Dropout.ToString(CultureInfo.InvariantCulture)})", HelpName = "P" },
        };
        foreach (var o in new Option[] { f.Layers, f.Hidden, f.Heads, f.Dropout }) command.Options.Add(o);
        return f;
    }

    /// <summary>The size flags that were typed (for "these only apply when training from scratch").</summary>
    public IEnumerable<string> Given(ParseResult r) =>
        new Option[] { Layers, Hidden, Heads, Dropout }.Where(o => TrainingFlags.Given(r, o)).Select(o => o.Name);

    public ModelShape Build(ParseResult r, int maxLength)
    {
        var dropout = r.GetValue(Dropout) ?? Default.Dropout;
        if (dropout is < 0 or >= 1) throw new UsageException($"--dropout must be in [0, 1) (got {dropout.ToString(CultureInfo.InvariantCulture)})");
        var shape = new ModelShape(
            Check.AtLeast(r.GetValue(Layers) ?? Default.Layers, 1, "--layers"),
            Check.AtLeast(r.GetValue(Hidden) ?? Default.Hidden, 1, "--hidden"),
            Check.AtLeast(r.GetValue(Heads) ?? Default.Heads, 1, "--heads"),
            maxLength, dropout);
        TrainingFlags.Validate(shape);
        return shape;
    }
}

/// <summary>--format, --text-column, --pair-column, --label-column: how labeled CSV/TSV/JSON Lines files are read.</summary>
public sealed class LabeledDataFlags
{
    public required Option<string> Format { get; init; }
    public required Option<string> TextColumn { get; init; }
    public required Option<string?> PairColumn { get; init; }
    public required Option<string> LabelColumn { get; init; }
    public required Option<bool> Strict { get; init; }

    public static LabeledDataFlags AddTo(Command command)
    {
        var f = new LabeledDataFlags
        {
            Format = new("--format") { Description = "Format of the labeled files: csv, tsv or jsonl (default: from the extension)", HelpName = "csv|tsv|jsonl", DefaultValueFactory = _ => "auto" },
            TextColumn = new("--text-column") { Description = "Column (CSV/TSV header) or field (JSON Lines) with the text (default: text)", HelpName = "NAME", DefaultValueFactory = _ => "text" },
            PairColumn = new("--pair-column") { Description = "Column with the second text of pair tasks (default: text_pair when present)", HelpName = "NAME" },
            LabelColumn = new("--label-column") { Description = "Column with the label (default: label)", HelpName = "NAME", DefaultValueFactory = _ => "label" },
            Strict = StrictOption(),
        };
        f.Format.AcceptOnlyFromAmong("auto", "csv", "tsv", "jsonl");
        foreach (var o in new Option[] { f.Format, f.TextColumn, f.PairColumn, f.LabelColumn, f.Strict }) command.Options.Add(o);
        return f;
    }

    /// <summary>--strict, for labelled files and corpora alike.</summary>
    public static Option<bool> StrictOption() => new("--strict")
    {
        Description = "Refuse a data file with any row that cannot be used (NUL byte, invalid UTF-8, empty text, missing label, " +
                      "wrong number of fields, broken quoting or JSON), naming its line. Default: skip such rows with a warning that counts " +
                      "them and names their lines; a file with more than 5% of them is refused either way",
    };

    /// <summary>The reading options; skipped rows are reported on stderr as one warning per file.</summary>
    public LabeledFormatOptions Build(ParseResult r, CliContext ctx) => new()
    {
        Format = LabeledFormatOptions.ParseFormat(r.GetValue(Format) ?? "auto"),
        TextColumn = r.GetValue(TextColumn) ?? "text",
        PairColumn = r.GetValue(PairColumn),
        LabelColumn = r.GetValue(LabelColumn) ?? "label",
        Strict = r.GetValue(Strict),
        Warn = ctx.Warn,
    };
}
