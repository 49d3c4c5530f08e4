namespace GptBert.Cli;

/// <summary>
/// Where stdin comes from. The real program passes the raw byte stream (so invalid UTF-8 can be reported
/// with its byte offset); tests may pass a TextReader.
/// </summary>
public sealed class CliInput
{
    public Stream? Stream { get; }
    public TextReader? Reader { get; }
    /// <summary>True when stdin is an interactive terminal (a hint is printed before reading it).</summary>
    public bool IsTerminal { get; }

    public CliInput(Stream stream, bool isTerminal = false) { Stream = stream; IsTerminal = isTerminal; }
    public CliInput(TextReader reader, bool isTerminal = false) { Reader = reader; IsTerminal = isTerminal; }

    public static CliInput Empty => new(TextReader.Null);
}

/// <summary>The streams one invocation works with.</summary>
public sealed class CliContext(CliInput stdin, TextWriter stdout, TextWriter stderr)
{
    public CliInput Stdin { get; } = stdin;
    public TextWriter Stderr { get; } = stderr;
    public Output Out { get; } = new(stdout);
    /// <summary>True when stderr is an interactive terminal (progress lines are then redrawn in place).</summary>
    public bool StderrIsTerminal { get; init; }

    /// <summary>Writes a warning (one line) to stderr, prefixed "warning: " unless it already is.</summary>
    public void Warn(string message)
    {
        message = CliApp.OneLine(message);
        Stderr.WriteLine(message.StartsWith("warning:", StringComparison.Ordinal) ? message : "warning: " + message);
        Stderr.Flush();
    }
}
