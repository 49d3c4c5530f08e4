using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using System.Text.RegularExpressions;
using GptBert.Cli.Commands;

namespace GptBert.Cli;

/// <summary>
/// The gptbert command line: builds the command tree, parses, runs, and turns every failure into one
/// "error: ..." line on stderr with exit code 1 (2 for usage errors). Tests call <see cref="Run(string[], TextReader, TextWriter, TextWriter)"/>.
/// </summary>
public static class CliApp
{
    public const string DebugVariable = "GPTBERT_DEBUG";

    public static int Run(string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr) =>
        Run(args, new CliInput(stdin), stdout, stderr);

    public static int Run(string[] args, CliInput stdin, TextWriter stdout, TextWriter stderr, bool stderrIsTerminal = false)
    {
        var ctx = new CliContext(stdin, stdout, stderr) { StderrIsTerminal = stderrIsTerminal };
        try
        {
            var root = BuildRootCommand(ctx);
            var parse = root.Parse(args);
            if (parse.Action is ParseErrorAction)
                return UsageError(ctx, parse.Errors.Select(e => Prettify(e.Message)).Distinct(), parse);
            if (parse.Action is not HelpText.ExamplesHelpAction && FindUnknownOption(parse) is { } unknown)
                return UsageError(ctx, [$"unrecognized option '{unknown}' (to pass a text that starts with '-', put it after --)"], parse);
            int rc = parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
            stdout.Flush();
            return rc;
        }
        catch (Exception e)
        {
            try { stdout.Flush(); } catch (IOException) { }
            return ReportException(ctx, e);
        }
    }

    /// <summary>Commands that run models and train none: their process lets OpenMP's idle workers sleep (<see cref="GptBert.Engine.TorchRuntime.SetOpenMpPassive"/>).</summary>
    public static readonly IReadOnlySet<string> ModelRunningCommands = new HashSet<string>
    {
        "embed", "similarity", "fill-mask", "generate", "translate", "summarize", "chat", "classify", "qa", "ner",
        "evaluate", "score", "index", "rag", "rerank", "serve",
    };

    /// <summary>Whether <paramref name="args"/> name one of <see cref="ModelRunningCommands"/> (the command comes first).</summary>
    public static bool RunsModelsOnly(string[] args) => args.Length > 0 && ModelRunningCommands.Contains(args[0]);

    public static Command BuildRootCommand(CliContext ctx)
    {
        // A plain Command as root keeps the program name "gptbert" in help wherever it runs (tests, dotnet run).
        var root = new Command("gptbert", "Run GPT-2 and BERT models (Hugging Face directories, or the built-in MiniLM) from the command line.")
            .WithExamples("""
                gptbert embed "The cat sat on the mat."
                gptbert similarity "a cat" "a kitten"
                gptbert tokenize --tokenizer gpt2 "Hello world"
                gptbert generate --model ./gpt2 --prompt "Once upon a time" --max-new-tokens 30
                gptbert pretrain --arch gpt --data corpus.txt --output runs/gpt --max-time 10m
                gptbert finetune --model minilm --train train.csv --validation dev.csv --output runs/clf
                gptbert COMMAND --help          options and examples of one command
                """);
        root.Options.Add(HelpText.CreateOption());
        var version = new Option<bool>("--version") { Description = "Show versions of gptbert, GptBert, TorchSharp and libtorch" };
        root.Options.Add(version);
        root.SetAction(r =>
        {
            if (r.GetValue(version)) return VersionCommand.Print(ctx);
            return new HelpText.ExamplesHelpAction().Invoke(r);
        });
        root.Subcommands.Add(InfoCommand.Create(ctx));
        root.Subcommands.Add(TokenizeCommand.Create(ctx));
        root.Subcommands.Add(EmbedCommand.Create(ctx));
        root.Subcommands.Add(SimilarityCommand.Create(ctx));
        root.Subcommands.Add(FillMaskCommand.Create(ctx));
        root.Subcommands.Add(GenerateCommand.Create(ctx));
        root.Subcommands.Add(TranslateCommand.Create(ctx));
        root.Subcommands.Add(SummarizeCommand.Create(ctx));
        root.Subcommands.Add(ChatCommand.Create(ctx));
        root.Subcommands.Add(ClassifyCommand.Create(ctx));
        root.Subcommands.Add(QaCommand.Create(ctx));
        root.Subcommands.Add(NerCommand.Create(ctx));
        root.Subcommands.Add(ExportCommand.Create(ctx));
        root.Subcommands.Add(QuantizeCommand.Create(ctx));
        root.Subcommands.Add(PruneCommand.Create(ctx));
        root.Subcommands.Add(OptimizeCommand.Create(ctx));
        root.Subcommands.Add(TokenizerCommand.Create(ctx));
        root.Subcommands.Add(PretrainCommand.Create(ctx));
        root.Subcommands.Add(FinetuneCommand.Create(ctx));
        root.Subcommands.Add(EvaluateCommand.Create(ctx));
        root.Subcommands.Add(DistillCommand.Create(ctx));
        root.Subcommands.Add(EncdecCommand.Create(ctx));
        root.Subcommands.Add(ScoreCommand.Create(ctx));
        root.Subcommands.Add(CompareCommand.Create(ctx, choose: false));
        root.Subcommands.Add(CompareCommand.Create(ctx, choose: true));
        root.Subcommands.Add(IndexCommand.Create(ctx));
        root.Subcommands.Add(RagCommand.Create(ctx));
        root.Subcommands.Add(RerankCommand.Create(ctx));
        root.Subcommands.Add(ServeCommand.Create(ctx));
        root.Subcommands.Add(VersionCommand.Create(ctx));
        return root;
    }

    /// <summary>
    /// System.CommandLine binds an unknown "--foo" to a positional TEXT argument; treat such tokens
    /// (before "--") as unknown options instead.
    /// </summary>
    static string? FindUnknownOption(ParseResult parse)
    {
        var positional = new HashSet<Token>(ReferenceEqualityComparer.Instance);
        foreach (var a in parse.CommandResult.Children.OfType<ArgumentResult>())
            foreach (var t in a.Tokens) positional.Add(t);
        foreach (var t in parse.Tokens)
        {
            if (t.Type == TokenType.DoubleDash) break;
            if (positional.Contains(t) && t.Value.Length > 1 && t.Value[0] == '-' && !double.TryParse(t.Value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _))
                return t.Value;
        }
        return null;
    }

    static int UsageError(CliContext ctx, IEnumerable<string> messages, ParseResult parse)
    {
        // "gptbert", "gptbert embed", "gptbert tokenizer train"
        var names = new List<string>();
        for (var c = parse.CommandResult; c is not null; c = c.Parent as CommandResult) names.Insert(0, c.Command.Name);
        string path = string.Join(' ', names);
        ctx.Stderr.WriteLine($"error: {OneLine(string.Join("; ", messages))} (see '{path} --help')");
        ctx.Stderr.Flush();
        return ExitCodes.Usage;
    }

    /// <summary>Prints one line for any failure (plus the stack trace when GPTBERT_DEBUG=1); returns the exit code.</summary>
    public static int ReportException(CliContext ctx, Exception e)
    {
        bool debug = Environment.GetEnvironmentVariable(DebugVariable) is { Length: > 0 } d && d != "0";
        var user = Unwrap(e);
        int rc;
        switch (user)
        {
            case UsageException u:
                ctx.Stderr.WriteLine($"error: {OneLine(CliErrors.Message(u))}");
                rc = ExitCodes.Usage;
                break;
            case GptBertException g:
                ctx.Stderr.WriteLine($"error: {OneLine(CliErrors.Message(g))}");
                rc = ExitCodes.Error;
                break;
            case FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException or IOException:
                ctx.Stderr.WriteLine($"error: {OneLine(user.Message)}");
                rc = ExitCodes.Error;
                break;
            case OperationCanceledException:
                ctx.Stderr.WriteLine("error: cancelled");
                rc = 130;
                break;
            default:
                ctx.Stderr.WriteLine($"error: unexpected {user.GetType().Name}: {OneLine(user.Message)}" +
                    (debug ? "" : $" (this is a bug or an unsupported case; set {DebugVariable}=1 for the stack trace)"));
                rc = ExitCodes.Error;
                break;
        }
        if (debug) ctx.Stderr.WriteLine(e.ToString());
        ctx.Stderr.Flush();
        return rc;
    }

    static Exception Unwrap(Exception e)
    {
        while (e.InnerException is { } inner
               && (e is AggregateException { InnerExceptions.Count: 1 } or System.Reflection.TargetInvocationException
                   || (e is TypeInitializationException && inner is GptBertException)))
            e = inner;
        return e;
    }

    /// <summary>Collapses a message onto one line.</summary>
    public static string OneLine(string message)
    {
        var s = Regex.Replace(message.Trim(), @"\s*[\r\n]+\s*", " ");
        return s.Length > 2000 ? s[..2000] + "…" : s;
    }

    static readonly Regex ExpectedType = new(@"as expected type '(?:System\.Nullable`1\[)?System\.([A-Za-z0-9]+)\]?'");

    /// <summary>"Cannot parse argument 'x' for option '--top-k' as expected type 'System.Int32'" → "... as an integer".</summary>
    static string Prettify(string message) => ExpectedType.Replace(message, m => m.Groups[1].Value switch
    {
        "Int32" or "Int64" => "as an integer",
        "Double" or "Single" => "as a number",
        "Boolean" => "as true/false",
        var t => $"as {t}",
    }).TrimEnd('.');
}
