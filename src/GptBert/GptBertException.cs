namespace GptBert;

/// <summary>
/// A problem the user can fix (bad file, bad input, bad option). Its message is one line that names
/// the problem and what to do; the CLI prints it without a stack trace and exits non-zero.
/// </summary>
/// <remarks>
/// The library does not know how its host spells a setting (a CLI flag, a JSON field of a request), so a
/// message names settings by their library names (the property or parameter, e.g. <c>MaxNewTokens must be
/// at least 1 (got 0)</c>) and lists them in <see cref="Parameter"/> and <see cref="RelatedParameters"/>;
/// a host rewrites each name into its own word (the CLI's map is GptBert.Cli.CliErrors.Flags).
/// </remarks>
public class GptBertException(string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>
    /// The setting whose value is at fault, by its library name (<c>MaxNewTokens</c>, <c>VocabSize</c>), written
    /// in the message as is; null when the problem is in a file or an input rather than a setting.
    /// </summary>
    public string? Parameter { get; init; }

    /// <summary>Other settings the message names, typically as the fix ("lower LearningRate or raise WarmupFraction").</summary>
    public IReadOnlyList<string> RelatedParameters { get; init; } = [];

    /// <summary>
    /// The same problem in other words (a reader adding how many rows it affects, say): <paramref name="message"/> naming the
    /// settings this exception names, plus <paramref name="alsoRelated"/>.
    /// </summary>
    public GptBertException Reworded(string message, params string[] alsoRelated) => new(message, this, alsoRelated);

    // "this." on purpose: CliErrorMapTests reads `Parameter = ...` initializers to find every setting the library names, and
    // these copy names that were already written (and checked) where the original exception was made.
    GptBertException(string message, GptBertException names, string[] alsoRelated) : this(message, names.InnerException)
    {
        this.Parameter = names.Parameter;
        this.RelatedParameters = [.. names.RelatedParameters, .. alsoRelated.Where(a => a != names.Parameter && !names.RelatedParameters.Contains(a))];
    }

    /// <summary>Every setting named in the message: <see cref="Parameter"/> first, then <see cref="RelatedParameters"/>.</summary>
    public IEnumerable<string> Parameters => Parameter is null ? RelatedParameters : RelatedParameters.Prepend(Parameter);
}
