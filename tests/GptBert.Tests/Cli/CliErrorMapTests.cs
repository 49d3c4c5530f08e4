using System.Text.RegularExpressions;
using GptBert.Cli;

namespace GptBert.Tests.Cli;

/// <summary>
/// The library names settings, not flags (GptBertException.Parameter); the CLI turns each name into its flag
/// (CliErrors.Flags). Read from the sources of the library and of Compare, so a new message cannot slip past.
/// </summary>
public class CliErrorMapTests
{
    static readonly string[] LibrarySources = ["src/GptBert", "src/GptBert.Compare"];

    /// <summary>
    /// Files the lead is converting to settings at the time this test was written; remove each line once its file
    /// names settings instead of flags.
    /// </summary>
    static readonly string[] NotYetConverted = [];

    static IEnumerable<(string Path, string Text)> Sources() =>
        LibrarySources.SelectMany(dir => Directory.EnumerateFiles(RepoFiles.At(dir), "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .Select(f => (Path.GetRelativePath(RepoFiles.Root, f).Replace('\\', '/'), File.ReadAllText(f)));

    /// <summary>Source without comments (so documentation may mention flags and initializers).</summary>
    static string Code(string text) => Regex.Replace(text, @"^[ \t]*//.*$", "", RegexOptions.Multiline);

    static readonly Regex ParameterInit = new(@"(?<![\w.])(?:Parameter|RelatedParameters)\s*=(?![=>])\s*(?<value>\[[^\]]*\]|[^,;}\r\n]+)");
    static readonly Regex Name = new(@"""(?<literal>[A-Z][\w.]*)""|nameof\((?<nameof>[\w.]+)\)");

    /// <summary>Every setting name the library throws with, from `Parameter = ...` and `RelatedParameters = [...]`.</summary>
    static (List<(string Where, string Name)> Names, List<string> Computed) ThrownNames()
    {
        var names = new List<(string, string)>();
        var computed = new List<string>();
        foreach (var (path, text) in Sources())
            foreach (Match m in ParameterInit.Matches(Code(text)))
            {
                var value = m.Groups["value"].Value.Trim();
                var found = Name.Matches(value).Select(n => n.Groups["literal"].Success ? n.Groups["literal"].Value : n.Groups["nameof"].Value.Split('.')[^1]).ToList();
                if (found.Count == 0) computed.Add($"{path}: {m.Value.Trim()}");
                names.AddRange(found.Select(n => (path, n)));
            }
        return (names, computed);
    }

    [Fact]
    public void EveryParameterTheLibraryThrowsWithHasAFlag()
    {
        var (names, computed) = ThrownNames();
        Assert.True(computed.Count == 0,
            "write setting names as string literals or nameof() so this test can see them:\n  " + string.Join("\n  ", computed));
        Assert.True(names.Select(n => n.Name).Distinct().Count() >= 30, $"only {names.Count} names found; is the scan still reading the sources?");
        var missing = names.Where(n => !CliErrors.Flags.ContainsKey(n.Name)).Select(n => $"{n.Where}: {n.Name}").Distinct().ToList();
        Assert.True(missing.Count == 0, "add these settings to CliErrors.Flags:\n  " + string.Join("\n  ", missing));
    }

    [Fact]
    public void TheLibraryQuotesNoFlags()
    {
        // "--max-length" in a string or message; not the CSS custom properties of the HTML report ("--ink: #1f2430;", "var(--ink)").
        var flag = new Regex(@"(?<![\w-])--[a-z][a-z0-9-]*");
        var css = new Regex(@"var\(--[\w-]+\)|--[\w-]+:\s*#[0-9a-fA-F]+;");
        var found = Sources().Where(s => !NotYetConverted.Contains(s.Path))
            .SelectMany(s => Code(s.Text).Split('\n').Select((line, i) => (s.Path, Line: i + 1, Text: line)))
            .Where(l => !l.Text.TrimStart().StartsWith("///") && flag.IsMatch(css.Replace(l.Text, "")))
            .Select(l => $"{l.Path}:{l.Line}: {l.Text.Trim()}").ToList();
        Assert.True(found.Count == 0, "name the setting (and set GptBertException.Parameter) instead of a CLI flag:\n  " + string.Join("\n  ", found));
    }

    [Fact]
    public void TheCliWritesEachNamedSettingAsItsFlag()
    {
        Assert.Equal("--max-length must be at least 8 (got 3)",
            CliErrors.Message(new GptBertException("MaxLength must be at least 8 (got 3)") { Parameter = "MaxLength" }));
        Assert.Equal("--hidden 30 must be divisible by --heads 4",
            CliErrors.Message(new GptBertException("Hidden 30 must be divisible by Heads 4") { Parameter = "Hidden", RelatedParameters = ["Heads"] }));
        Assert.Equal("input 3 is longer than 8 tokens; shorten it, or drop --no-truncate to truncate it",
            CliErrors.Message(new GptBertException("input 3 is longer than 8 tokens; shorten it, or drop Overflow.Refuse to truncate it") { RelatedParameters = ["Overflow.Refuse"] }));
        // Only the settings the exception names, and only as words of their own: not inside paths, file names or other words.
        Assert.Equal("--gpt runs/Gpt/x is a BERT checkpoint; pass it as --bert instead (see Bert.txt, MaxLength)",
            CliErrors.Message(new GptBertException("Gpt runs/Gpt/x is a BERT checkpoint; pass it as Bert instead (see Bert.txt, MaxLength)") { Parameter = "Gpt", RelatedParameters = ["Bert"] }));
        Assert.Equal("MaxLength is fine", CliErrors.Message(new GptBertException("MaxLength is fine")));
        Assert.Equal("plain", CliErrors.Message(new IOException("plain")));
        // A usage error made from a library error keeps the CLI's words.
        Assert.Equal("--seeds must be at least 1 (got 0)",
            CliErrors.Usage(new GptBertException("Seeds must be at least 1 (got 0)") { Parameter = "Seeds" }).Message);
    }

    [Fact]
    public void LibraryErrorsReachTheUserInTheCliWords()
    {
        // TrainingOptions names LearningRate; `pretrain --lr 2` prints it as --lr (a usage error, exit code 2).
        var line = CliHarness.AssertOneLineError(CliHarness.Run(null, "pretrain", "--arch", "gpt", "--data", "x.txt", "--output",
            Path.Combine(TestUtil.TempDir("cli-map"), "out"), "--lr", "2"), exitCode: 2);
        Assert.Equal("error: --lr must be in (0, 1) (got 2)", line);
    }
}
