namespace GptBert;

/// <summary>
/// A problem the user can fix (bad file, bad input, bad option). Its message is one line that names
/// the problem and what to do; the CLI prints it without a stack trace and exits non-zero.
/// </summary>
public class GptBertException(string message, Exception? inner = null) : Exception(message, inner);
