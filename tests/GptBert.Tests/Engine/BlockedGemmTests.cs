using GptBert.Engine;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace GptBert.Tests.Engine;

public class BlockedGemmTests(ITestOutputHelper output)
{
    /// <summary>The product in fp64, from the definition.</summary>
    static Tensor Reference(Tensor x, Tensor w, Tensor? b, bool inOut)
    {
        var y = x.to(ScalarType.Float64).matmul((inOut ? w : w.t()).to(ScalarType.Float64));
        return (b is null ? y : y + b.to(ScalarType.Float64)).to(ScalarType.Float32);
    }

    /// <summary>Runs <paramref name="body"/> with every product of at least one row on BlockedGemm, then restores the switches.</summary>
    static void OnBlockedGemm(Action body)
    {
        int saved = BlockedGemm.MinRows;
        bool enabled = BlockedGemm.Enabled;
        BlockedGemm.MinRows = 1;
        BlockedGemm.Enabled = true;
        try { body(); }
        finally { BlockedGemm.MinRows = saved; BlockedGemm.Enabled = enabled; }
    }

    [Theory]
    [InlineData(64, 384, 384)]   // whole tiles and panels, one k block
    [InlineData(70, 384, 1536)]  // 6 rows past the last 8-row tile; several column blocks per thread
    [InlineData(9, 1536, 384)]   // three k blocks of 512, accumulated into y
    [InlineData(1, 37, 50)]      // one row; K not a multiple of 16 (scalar packing); a 2-column partial panel
    [InlineData(13, 1100, 100)]  // k blocks of 367 (not a multiple of 16); a partial panel after two full ones
    [InlineData(200, 64, 2304)]  // GPT-2's c_attn width
    public void ProductsEqualTheDefinitionInBothWeightLayoutsOnOneAndTwoThreads(int M, int K, int N)
    {
        TestUtil.Init();
        if (!BlockedGemm.Supported) { output.WriteLine("not run here: this CPU lacks AVX-512F, so products go to SmallGemm or libtorch"); return; }
        using var _ = no_grad();
        var x = randn(M, K); var b = randn(N);
        var w = randn(N, K) / Math.Sqrt(K);
        var wt = w.t().contiguous(); // (K, N), GPT-2's Conv1D layout
        OnBlockedGemm(() =>
        {
            foreach (int threads in new[] { 1, 2 })
            {
                TorchRuntime.Configure(threads: threads);
                try
                {
                    foreach (var bias in new[] { b, null })
                        Assert.True(TestUtil.MaxAbsDiff(SmallGemm.TryLinear(x, w, bias)!, Reference(x, w, bias, inOut: false)) < 1e-4,
                            $"linear {M}x{K}x{N}, bias {bias is not null}, {threads} threads");
                    Assert.True(TestUtil.MaxAbsDiff(SmallGemm.TryLinearInOut(x, wt, b)!, Reference(x, wt, b, inOut: true)) < 1e-4,
                        $"in-out {M}x{K}x{N}, {threads} threads");
                }
                finally { TorchRuntime.Configure(threads: 1); }
            }
        });
    }

    [Fact]
    public void AWeightChangedInPlaceIsReadFreshAndBatchedStridedInputsKeepTheirShape()
    {
        TestUtil.Init();
        if (!BlockedGemm.Supported) { output.WriteLine("not run here: this CPU lacks AVX-512F"); return; }
        using var _ = no_grad();
        OnBlockedGemm(() =>
        {
            var x = randn(2, 48, 40).transpose(1, 2); // (2, 40, 48), not contiguous: 80 rows
            var w = randn(96, 48);
            var y = SmallGemm.TryLinear(x, w, null)!;
            Assert.Equal(new long[] { 2, 40, 96 }, y.shape);
            Assert.True(TestUtil.MaxAbsDiff(y, x.matmul(w.t())) < 1e-4);
            w.mul_(2); // nothing packed survives a call: the next product sees the new weights
            Assert.True(TestUtil.MaxAbsDiff(SmallGemm.TryLinear(x, w, null)!, x.matmul(w.t())) < 1e-4);
        });
    }

    [Fact]
    public void ManyRowsGoToTheBlockedKernelAndFewToTheSmallOnes()
    {
        TestUtil.Init();
        using var _ = no_grad();
        var w = randn(48, 32);
        bool enabled = BlockedGemm.Enabled;
        try
        {
            BlockedGemm.Enabled = false; // without it, many rows are MKL's
            Assert.Null(SmallGemm.TryLinear(randn(SmallGemm.MaxRows + 1, 32), w, null));
            if (!BlockedGemm.Supported) return;
            BlockedGemm.Enabled = true;
            Assert.NotNull(SmallGemm.TryLinear(randn(SmallGemm.MaxRows + 1, 32), w, null));
            Assert.NotNull(SmallGemm.TryLinear(randn(4096, 32), w, null));
        }
        finally { BlockedGemm.Enabled = enabled; }
    }
}
