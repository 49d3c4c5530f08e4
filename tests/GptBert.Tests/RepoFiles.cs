namespace GptBert.Tests;

/// <summary>Files of the repository the tests read (shipped data, samples); kept apart from TestUtil, which loads libtorch.</summary>
public static class RepoFiles
{
    /// <summary>The repository root (the folder holding GptBert.sln), found upwards from the test binaries.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>A path inside the repository, e.g. At("data", "samples", "moby-dick-openings.txt").</summary>
    public static string At(params string[] parts) => Path.Combine([Root, .. parts]);

    static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "GptBert.sln"))) return d.FullName;
        throw new InvalidOperationException("GptBert.sln not found above " + AppContext.BaseDirectory);
    }
}
