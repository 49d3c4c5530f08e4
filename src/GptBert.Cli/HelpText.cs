using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Runtime.CompilerServices;

namespace GptBert.Cli;

/// <summary>
/// --help that teaches: System.CommandLine's help (description, usage, options) followed by the
/// command's "Examples:" section.
/// </summary>
public static class HelpText
{
    static readonly ConditionalWeakTable<Command, string> examples = new();
    static readonly ConditionalWeakTable<Command, string> summaries = new();

    /// <summary>One-line summary shown in the root command's list (the full description is in the command's own help).</summary>
    public static T WithSummary<T>(this T command, string summary) where T : Command
    {
        summaries.AddOrUpdate(command, summary);
        return command;
    }

    /// <summary>Registers the examples shown at the end of <paramref name="command"/>'s --help (one per line).</summary>
    public static T WithExamples<T>(this T command, string text) where T : Command
    {
        examples.AddOrUpdate(command, text);
        return command;
    }

    /// <summary>A recursive --help/-h/-? option whose output ends with the command's examples.</summary>
    public static HelpOption CreateOption()
    {
        var option = new HelpOption { Recursive = true };
        option.Action = new ExamplesHelpAction();
        return option;
    }

    public sealed class ExamplesHelpAction : SynchronousCommandLineAction
    {
        readonly HelpAction inner = new();

        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            var command = parseResult.CommandResult.Command;
            // The root and command groups (gptbert tokenizer) list their subcommands by summary; leaf commands get the full help.
            int rc = command.Parents.Any() && command.Subcommands.Count == 0
                ? inner.Invoke(parseResult)
                : WriteRootHelp(command, CommandPath(parseResult), parseResult.InvocationConfiguration.Output);
            if (examples.TryGetValue(command, out var text))
            {
                var w = parseResult.InvocationConfiguration.Output;
                w.WriteLine("Examples:");
                foreach (var line in text.Trim('\n', '\r').Split('\n'))
                    w.WriteLine(line.TrimEnd('\r').Length == 0 ? "" : "  " + line.TrimEnd('\r'));
                w.WriteLine();
            }
            return rc;
        }
    }

    /// <summary>"gptbert", "gptbert tokenizer": the command being helped, with its parents.</summary>
    static string CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var c = parse.CommandResult; c is not null; c = c.Parent as System.CommandLine.Parsing.CommandResult) names.Insert(0, c.Command.Name);
        return string.Join(' ', names);
    }

    /// <summary>The root help (and that of a command group): a short list of commands (each command's --help has the details).</summary>
    static int WriteRootHelp(Command root, string path, TextWriter w)
    {
        w.WriteLine(root.Parents.Any() ? "Description:\n  " + (root.Description ?? "").Trim().Replace("\n", "\n  ") : root.Description);
        w.WriteLine();
        w.WriteLine("Usage:");
        w.WriteLine($"  {path} COMMAND [options]");
        w.WriteLine($"  {path} COMMAND --help");
        w.WriteLine();
        w.WriteLine("Commands:");
        int width = root.Subcommands.Max(c => c.Name.Length) + 2;
        foreach (var c in root.Subcommands.Where(c => !c.Hidden))
        {
            string summary = summaries.TryGetValue(c, out var s) ? s : (c.Description ?? "").Split('\n')[0].Trim();
            w.WriteLine($"  {c.Name.PadRight(width)}{summary}");
        }
        w.WriteLine();
        w.WriteLine("Options:");
        var opts = root.Options.Where(o => !o.Hidden).Select(o => (Names: string.Join(", ", o.Aliases.Where(a => !a.StartsWith('/')).Order().Append(o.Name)), o.Description)).ToList();
        if (!root.Options.Any(o => o is HelpOption)) opts.Insert(0, ("-?, -h, --help", "Show help and usage information"));
        int ow = opts.Max(o => o.Names.Length) + 2;
        foreach (var (names, description) in opts) w.WriteLine($"  {names.PadRight(ow)}{description}");
        w.WriteLine();
        return 0;
    }
}
