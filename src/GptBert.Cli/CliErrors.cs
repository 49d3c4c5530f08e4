namespace GptBert.Cli;

/// <summary>A mistake in how the command was called (conflicting or missing options): exit code 2.</summary>
public sealed class UsageException(string message) : GptBertException(message);

/// <summary>Process exit codes of gptbert.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>Bad input, missing file or model, runtime problem the user can fix.</summary>
    public const int Error = 1;
    /// <summary>Bad command line (unknown option, bad option value, conflicting options).</summary>
    public const int Usage = 2;
}
