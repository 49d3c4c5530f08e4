using GptBert.Engine;
using static TorchSharp.torch;

namespace GptBert.Tests;

public static class TestUtil
{
    static TestUtil() => TorchRuntime.Configure(threads: 1);

    public static void Init(long seed = 1234)
    {
        TorchRuntime.Configure(threads: 1);
        TorchRuntime.Seed(seed);
    }

    /// <summary>This test run's scratch folder, deleted when the run ends (a full suite writes gigabytes of models).</summary>
    static readonly Lazy<string> runRoot = new(() =>
    {
        var parent = Path.Combine(Path.GetTempPath(), "gptbert-tests");
        // The test host may be ended before ProcessExit runs: clear folders of runs whose process is gone.
        if (Directory.Exists(parent))
            foreach (var old in Directory.GetDirectories(parent))
                if (!RunIsAlive(Path.GetFileName(old)))
                    try { Directory.Delete(old, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        var root = Path.Combine(parent, $"run-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(root);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(root, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        };
        return root;
    });

    static bool RunIsAlive(string folder)
    {
        var parts = folder.Split('-');
        if (parts.Length != 3 || parts[0] != "run" || !int.TryParse(parts[1], out int pid)) return false;
        try { using var p = System.Diagnostics.Process.GetProcessById(pid); return !p.HasExited; }
        catch (ArgumentException) { return false; }
    }

    public static string TempDir(string name = "t")
    {
        var d = Path.Combine(runRoot.Value, $"{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(d);
        return d;
    }

    public static double MaxAbsDiff(Tensor a, Tensor b) => (a - b).abs().max().item<float>();

    public static Tensor RandomIds(long vocab, params long[] shape) => randint(0, vocab, shape, dtype: ScalarType.Int64);
}
