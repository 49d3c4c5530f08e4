using System.Text;

namespace GptBert.Tests.Data;

/// <summary>A temporary folder for one test, deleted afterwards.</summary>
internal sealed class DataDir : IDisposable
{
    public DataDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "gptbert-data-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    /// <summary>Writes UTF-8 text (no BOM, exactly as given) to a path relative to the folder; returns the full path.</summary>
    public string Write(string relative, string text) => WriteBytes(relative, new UTF8Encoding(false).GetBytes(text));

    public string WriteBytes(string relative, byte[] bytes)
    {
        var full = System.IO.Path.Combine(Path, relative);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        File.WriteAllBytes(full, bytes);
        return full;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch { /* best effort */ }
    }
}

internal static class DataTestUtil
{
    public static string DataPath(params string[] parts) => RepoFiles.At(["data", .. parts]);

    public static byte[] Utf8(string s) => new UTF8Encoding(false).GetBytes(s);

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    /// <summary>The message of a <see cref="GptBertException"/>, checked to be one line.</summary>
    public static string Message(Action action)
    {
        var e = Assert.Throws<GptBertException>(action);
        Assert.DoesNotContain('\n', e.Message);
        Assert.DoesNotContain('\r', e.Message);
        return e.Message;
    }
}
