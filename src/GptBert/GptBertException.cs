namespace GptBert;

/// <summary>
/// A problem the user can fix (bad file, bad input, bad option). Its message is one line that names
/// the problem and what to do; the CLI prints it without a stack trace and exits non-zero.
/// </summary>
public class GptBertException(string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>
    /// The library's name of the setting at fault (e.g. <c>MaxNewTokens</c>), when one is; it appears once in the message,
    /// so a host can put its own name in its place (the CLI's flag, the server's JSON field).
    /// </summary>
    public string? Parameter { get; init; }
}
