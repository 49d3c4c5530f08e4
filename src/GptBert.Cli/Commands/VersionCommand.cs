using System.CommandLine;
using System.Reflection;
using GptBert.Engine;

namespace GptBert.Cli.Commands;

/// <summary>`gptbert version` (same as `gptbert --version`).</summary>
public static class VersionCommand
{
    public static Command Create(CliContext ctx)
    {
        var command = new Command("version",
            "Show the versions of gptbert, the GptBert library, TorchSharp and libtorch, and whether CUDA is available (same as --version).")
            .WithSummary("Versions of gptbert, GptBert, TorchSharp and libtorch")
            .WithExamples("""
                gptbert version
                gptbert --version
                """);
        command.SetAction(_ => Print(ctx));
        return command;
    }

    public static int Print(CliContext ctx)
    {
        ctx.Out.Line($"gptbert {VersionOf(typeof(VersionCommand).Assembly)}");
        ctx.Out.Line($"GptBert {VersionOf(typeof(GptBertException).Assembly)}");
        ctx.Out.Line(TorchRuntime.Describe());
        return ExitCodes.Ok;
    }

    static string VersionOf(Assembly a)
    {
        var v = a.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                ?? a.GetName().Version?.ToString() ?? "unknown";
        int plus = v.IndexOf('+'); // drop the source-revision suffix the SDK appends
        return plus > 0 ? v[..plus] : v;
    }
}
