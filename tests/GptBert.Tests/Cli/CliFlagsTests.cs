using System.CommandLine;
using GptBert.Cli;
using static GptBert.Tests.Cli.CliHarness;

namespace GptBert.Tests.Cli;

/// <summary>One vocabulary across commands: a flag means the same wherever it appears; renamed flags keep their old spelling.</summary>
public class CliFlagsTests
{
    static IEnumerable<Command> Commands(Command c) => c.Subcommands.SelectMany(s => Commands(s).Prepend(s));

    static List<(string Command, Option Option)> Options(string name)
    {
        var root = CliApp.BuildRootCommand(new CliContext(new CliInput(TextReader.Null), TextWriter.Null, TextWriter.Null));
        return Commands(root).SelectMany(c => c.Options.Where(o => o.Name == name || o.Aliases.Contains(name)).Select(o => (c.Name, o))).ToList();
    }

    [Theory]
    [InlineData("--device", 11)]
    [InlineData("--threads", 11)]
    public void DeviceAndThreadsAreOneDefinition(string flag, int atLeast)
    {
        var all = Options(flag);
        Assert.True(all.Count >= atLeast, $"{flag} in only {all.Count} commands: {string.Join(", ", all.Select(o => o.Command))}");
        Assert.Single(all.Select(o => (o.Option.Description, o.Option.HelpName, o.Option.GetType())).Distinct());
    }

    [Theory]
    [InlineData("--max-steps", "pretrain", "finetune", "compare", "choose", "distill", "prune")]
    [InlineData("--max-time", "pretrain", "finetune", "compare", "choose", "distill", "prune")]
    [InlineData("--max-tokens", "pretrain", "finetune", "compare", "choose", "distill", "prune")]
    [InlineData("--epochs", "finetune", "distill", "prune")]
    public void BudgetFlagsHaveOneNameAndMeaning(string flag, params string[] commands)
    {
        var all = Options(flag);
        Assert.Equal(commands.Order(), all.Select(o => o.Command).Order());
        Assert.Single(all.Select(o => (o.Option.HelpName, o.Option.GetType())).Distinct());
        // Each description starts with the shared meaning; commands may add how their default or scope differs.
        var meaning = all.Select(o => o.Option.Description!.Split(" (")[0]).MinBy(m => m.Length)!;
        Assert.All(all, o => Assert.StartsWith(meaning, o.Option.Description));
    }

    [Fact]
    public void TopKIsTheSamplingFilterAndOnlyGenerateShowsIt()
    {
        var visible = Options("--top-k").Where(o => !o.Option.Hidden).ToList();
        Assert.Equal(["generate"], visible.Select(o => o.Command));
        Assert.Contains("Sampling filter", visible[0].Option.Description);
        Assert.Equal(["fill-mask", "qa", "rag", "rerank", "search", "similarity"], Options("--top").Select(o => o.Command).Order());
        foreach (var command in new[] { "fill-mask", "similarity", "rag", "rerank", "index search", "qa" })
        {
            var help = Run(null, [.. command.Split(' '), "--help"]);
            Assert.Contains("--top <N>", help.Stdout);
            Assert.DoesNotContain("--top-k <", help.Stdout);
        }
        Assert.Contains("--top-k <K>", Run(null, "generate", "--help").Stdout);
    }

    [Fact]
    public void OldSpellingsStillWorkButNotBothAtOnce()
    {
        string[] fill = ["fill-mask", "--model", TinyModels.BertMlm, "--tokenizer", "bert-base-uncased", "--threads", "2", "the [MASK] sat."];
        var top = Run(null, [.. fill, "--top", "2"]);
        Assert.True(top.ExitCode == 0, top.ToString());
        Assert.Equal(top.Stdout, Run(null, [.. fill, "--top-k", "2"]).Stdout);
        Assert.Equal(top.Stdout, Run(null, [.. fill, "-k", "2"]).Stdout);
        Assert.Contains("not both", AssertOneLineError(Run(null, [.. fill, "--top", "2", "--top-k", "3"]), exitCode: 2));
        Assert.Contains("--top must be at least 1", AssertOneLineError(Run(null, [.. fill, "--top-k", "0"]), exitCode: 2));

        var dir = TestUtil.TempDir("cli-flags");
        var train = Path.Combine(dir, "train.csv");
        File.WriteAllLines(train, ["text,label", .. Enumerable.Range(0, 30).Select(i => $"text {i},{(i % 2 == 0 ? "a" : "b")}")]);
        string[] compare = ["compare", "--train", train, "--test", train, "--from-scratch"];
        Assert.Contains("give one budget: --max-tokens, --max-steps or --max-time, not several",
            AssertOneLineError(Run(null, [.. compare, "--max-steps", "5", "--budget-time", "1m"]), exitCode: 2));
        Assert.Contains("--budget-steps '0' must be positive", AssertOneLineError(Run(null, [.. compare, "--budget-steps", "0"]), exitCode: 2));
        Assert.Contains("not both", AssertOneLineError(Run(null, [.. compare, "--max-steps", "5", "--budget-steps", "5"]), exitCode: 2));
        Assert.Contains("--threads must be at least 1", AssertOneLineError(Run(null, [.. compare, "--max-steps", "5", "--threads", "0"]), exitCode: 2));
    }

    [Fact]
    public void CommandsThatOnlyRunModelsAreRealCommands_AndTrainingCommandsAreNotAmongThem()
    {
        var root = CliApp.BuildRootCommand(new CliContext(new CliInput(TextReader.Null), TextWriter.Null, TextWriter.Null));
        var names = root.Subcommands.Select(c => c.Name).ToHashSet();
        foreach (var c in CliApp.ModelRunningCommands) Assert.Contains(c, names); // a renamed command would silently lose its setting
        foreach (var training in new[] { "pretrain", "finetune", "distill", "compare", "prune", "optimize", "encdec", "quantize", "export" })
        {
            Assert.Contains(training, names);
            Assert.False(CliApp.RunsModelsOnly([training, "--help"]));
        }
        Assert.True(CliApp.RunsModelsOnly(["embed", "hello"]));
        Assert.False(CliApp.RunsModelsOnly([]));
        Assert.False(CliApp.RunsModelsOnly(["--model", "embed"])); // the command comes first
    }
}
