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

    public static string TempDir(string name = "t")
    {
        var d = Path.Combine(Path.GetTempPath(), "gptbert-tests", $"{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(d);
        return d;
    }

    public static double MaxAbsDiff(Tensor a, Tensor b) => (a - b).abs().max().item<float>();

    public static Tensor RandomIds(long vocab, params long[] shape) => randint(0, vocab, shape, dtype: ScalarType.Int64);
}
