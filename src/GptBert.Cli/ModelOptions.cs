using System.CommandLine;
using GptBert.Pipelines;

namespace GptBert.Cli;

/// <summary>--model, --max-length and --batch-size, shared by the model commands.</summary>
public static class ModelOptions
{
    public static Option<string> Model(string? defaultModel, string? description = null)
    {
        var o = new Option<string>("--model", "-m")
        {
            Description = description ?? (defaultModel is null
                ? "Model directory (Hugging Face layout)"
                : $"Model directory (Hugging Face layout) or built-in name (default: {defaultModel})"),
            HelpName = "NAME|DIR",
        };
        if (defaultModel is null) o.Required = true;
        else o.DefaultValueFactory = _ => defaultModel;
        return o;
    }

    public static Option<int?> MaxLength() => new("--max-length")
    {
        Description = "Maximum tokens per text, special tokens included (default: the model's, e.g. 256 for minilm)",
        HelpName = "N",
    };

    public static Option<int> BatchSize() => new("--batch-size")
    {
        Description = "Texts per forward pass (default: 32)",
        HelpName = "N",
        DefaultValueFactory = _ => 32,
    };

    /// <summary>--max-length or the model's default, refusing values the model cannot take.</summary>
    public static int ResolveMaxLength(ILoadedModel handle, int? requested)
    {
        int positions = handle.Config.MaxPositions;
        if (requested > positions)
            throw new UsageException($"--max-length {requested} exceeds what {handle.Source} supports ({positions} positions)");
        return requested ?? handle.MaxLength;
    }

    public static string LimitHint(ILoadedModel handle, int limit) =>
        limit < handle.Config.MaxPositions ? $" or raise --max-length (model limit {handle.Config.MaxPositions})" : "";
}
