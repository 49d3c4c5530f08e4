using System.CommandLine;
using System.CommandLine.Parsing;

namespace GptBert.Cli;

/// <summary>
/// An option with older spellings that keep working but are not listed in --help (a hidden option of the same
/// type beside it), so renaming a flag breaks no script. Giving both spellings is a usage error.
/// </summary>
public sealed class RenamedOption<T>
{
    public Option<T> Option { get; }
    /// <summary>The old spellings, hidden from --help.</summary>
    public Option<T> Old { get; }

    public RenamedOption(Option<T> option, string oldName, params string[] oldAliases)
    {
        Option = option;
        Old = new Option<T>(oldName, oldAliases) { Hidden = true, HelpName = option.HelpName, Arity = option.Arity };
        if (option.CustomParser is { } parser) Old.CustomParser = parser;
    }

    public RenamedOption<T> AddTo(Command command)
    {
        command.Options.Add(Option);
        command.Options.Add(Old);
        return this;
    }

    /// <summary>The value given under either spelling (the new one's default when neither is given).</summary>
    public T? GetValue(ParseResult r)
    {
        bool old = r.GetResult(Old) is OptionResult { Implicit: false };
        if (old && r.GetResult(Option) is OptionResult { Implicit: false })
            throw new UsageException($"give {Option.Name} or {Old.Name}, not both ({Old.Name} is its older name)");
        return old ? r.GetValue(Old) : r.GetValue(Option);
    }
}
