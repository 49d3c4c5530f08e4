using System.CommandLine;
using GptBert.Engine;
using GptBert.Pipelines;

namespace GptBert.Cli;

/// <summary>
/// Options most commands share (--input, --jsonl, --device, --threads, --no-truncate, --tokenizer).
/// Each command gets its own instances (a System.CommandLine option belongs to one command).
/// </summary>
public sealed class CommonOptions
{
    public Option<string?>? Input { get; private init; }
    public Option<bool>? Jsonl { get; private init; }
    public Option<string>? Device { get; private init; }
    public Option<int?>? Threads { get; private init; }
    public Option<bool>? NoTruncate { get; private init; }
    public Option<string?>? Tokenizer { get; private init; }

    public static CommonOptions AddTo(Command command, bool input = true, bool jsonl = true, bool device = true,
        bool threads = true, bool noTruncate = true, bool tokenizer = true, string jsonlFields = "{\"text\": ..., \"text_pair\": ...}")
    {
        var o = new CommonOptions
        {
            Input = input ? new Option<string?>("--input", "-i")
            {
                Description = "Read texts from FILE, one per line (default: stdin; '-' also means stdin)",
                HelpName = "FILE",
            } : null,
            Jsonl = jsonl ? new Option<bool>("--jsonl")
            {
                Description = $"JSON Lines: input lines are objects {jsonlFields}; output is one JSON object per input line",
            } : null,
            Device = device ? RuntimeOptions.Device() : null,
            Threads = threads ? RuntimeOptions.Threads() : null,
            NoTruncate = noTruncate ? new Option<bool>("--no-truncate")
            {
                Description = "Refuse inputs longer than the limit (default: truncate them with a warning on stderr)",
            } : null,
            Tokenizer = tokenizer ? new Option<string?>("--tokenizer")
            {
                Description = "Tokenizer to use: a built-in (gpt2, bert-base-uncased) or a directory; overrides the model's or supplies a missing one",
                HelpName = "NAME|DIR",
            } : null,
        };
        foreach (var opt in new Option?[] { o.Input, o.Jsonl, o.Device, o.Threads, o.NoTruncate, o.Tokenizer })
            if (opt is not null) command.Options.Add(opt);
        return o;
    }

    public string? InputPath(ParseResult r) => Input is null ? null : r.GetValue(Input);
    public bool IsJsonl(ParseResult r) => Jsonl is not null && r.GetValue(Jsonl);
    public string DeviceName(ParseResult r) => Device is null ? "cpu" : r.GetValue(Device) ?? "cpu";
    public string? TokenizerName(ParseResult r) => Tokenizer is null ? null : r.GetValue(Tokenizer);
    public Overflow OverflowMode(ParseResult r) =>
        NoTruncate is not null && r.GetValue(NoTruncate) ? Overflow.Refuse : Overflow.TruncateWithWarning;

    public int? ThreadCount(ParseResult r) => Threads is null ? null : RuntimeOptions.ThreadCount(r, Threads);

    /// <summary>Applies --threads; call before loading a model and again before running it.</summary>
    public void ConfigureRuntime(ParseResult r) => TorchRuntime.Configure(ThreadCount(r));

    public InputReader Reader(CliContext ctx, ParseResult r, IReadOnlyList<string>? texts, params string[] textKeys) =>
        new(ctx, InputPath(r), texts, IsJsonl(r), textKeys);

    /// <summary>
    /// Loads a model with --device/--threads/--tokenizer applied. --threads is applied again after loading
    /// because device resolution re-runs the runtime's default configuration.
    /// </summary>
    public ModelHandle LoadModel(ParseResult r, string model, string? architecture, bool requireHead, bool requireTokenizer = true)
    {
        ConfigureRuntime(r);
        var handle = ModelHub.Load(model, architecture, TokenizerName(r), DeviceName(r), requireHead, requireTokenizer);
        ConfigureRuntime(r);
        return handle;
    }
}

/// <summary>--device and --threads: one definition for every command that runs or trains a model (each command gets its own instances).</summary>
public static class RuntimeOptions
{
    public static Option<string> Device() => new("--device")
    {
        Description = "Where to run: cpu, cuda, cuda:N or auto (CUDA when available)",
        HelpName = "cpu|cuda|auto",
        DefaultValueFactory = _ => "cpu",
    };

    public static Option<int?> Threads() => new("--threads")
    {
        Description = "CPU threads (default: all cores)",
        HelpName = "N",
    };

    /// <summary>--threads, refused below 1 (a usage error).</summary>
    public static int? ThreadCount(ParseResult r, Option<int?> threads)
    {
        var n = r.GetValue(threads);
        if (n is < 1) throw new UsageException($"--threads must be at least 1 (got {n})");
        return n;
    }

    /// <summary>Applies --threads to libtorch (it sticks for the rest of the process).</summary>
    public static void Configure(ParseResult r, Option<int?> threads) => TorchRuntime.Configure(ThreadCount(r, threads));
}

/// <summary>Small validation helpers for option values (violations are usage errors, exit code 2).</summary>
public static class Check
{
    public static int AtLeast(int value, int min, string option)
    {
        if (value < min) throw new UsageException($"{option} must be at least {min} (got {value})");
        return value;
    }

    public static int? AtLeast(int? value, int min, string option) => value is int v ? AtLeast(v, min, option) : null;
}
