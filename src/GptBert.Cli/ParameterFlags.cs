namespace GptBert.Cli;

/// <summary>
/// The library names a setting at fault by its own name (<see cref="GptBertException.Parameter"/>, e.g. <c>MaxNewTokens</c>);
/// the CLI shows its flag instead. One line per setting.
/// </summary>
public static class ParameterFlags
{
    public static readonly IReadOnlyDictionary<string, string> Flags = new Dictionary<string, string>
    {
        ["MaxNewTokens"] = "--max-new-tokens",
        ["Temperature"] = "--temperature",
        ["TopK"] = "--top-k",
        ["TopP"] = "--top-p",
        ["RepetitionPenalty"] = "--repetition-penalty",
        ["Stop"] = "--stop",
        ["Prompt"] = "--prompt",
        ["Threads"] = "--threads",
        ["Device"] = "--device",
        ["MaxBatchSize"] = "--max-batch-size",
        ["Overflow"] = "drop --no-truncate",
    };

    /// <summary>The exception's message with the library's name of the setting (as a whole word) replaced by the CLI flag.</summary>
    public static string Message(GptBertException e)
    {
        if (e.Parameter is not { } p || !Flags.TryGetValue(p, out var flag)) return e.Message;
        return System.Text.RegularExpressions.Regex.Replace(e.Message, $@"\b{p}\b", flag);
    }
}
