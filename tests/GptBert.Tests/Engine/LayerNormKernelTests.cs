using GptBert.Engine;
using TorchSharp;
using static TorchSharp.torch;

namespace GptBert.Tests.Engine;

public class LayerNormKernelTests
{
    /// <summary>LayerNorm(x + r) in fp64, from the definition: (v − mean) / √(var + eps) · w + b, var the biased variance.</summary>
    static Tensor Reference(Tensor x, Tensor r, Tensor w, Tensor b, double eps)
    {
        var v = x.to(ScalarType.Float64) + r.to(ScalarType.Float64);
        var mean = v.mean([-1], keepdim: true);
        var var_ = (v - mean).pow(2).mean([-1], keepdim: true);
        return ((v - mean) / (var_ + eps).sqrt() * w.to(ScalarType.Float64) + b.to(ScalarType.Float64)).to(ScalarType.Float32);
    }

    [Theory]
    [InlineData(1, 1, 384)]
    [InlineData(2, 37, 384)]   // rows split over two threads
    [InlineData(3, 5, 13)]     // a width that is not a multiple of 8
    [InlineData(64, 128, 64)]
    public void AddAndNormEqualTheDefinitionOnOneAndTwoThreads(int b, int t, int h)
    {
        TestUtil.Init();
        using var _ = no_grad();
        var x = randn(b, t, h) * 3 + 1; var r = randn(b, t, h); var w = randn(h); var bias = randn(h);
        foreach (int threads in new[] { 1, 2 })
        {
            TorchRuntime.Configure(threads: threads);
            try
            {
                var y = LayerNormKernel.TryAddLayerNorm(x, r, w, bias, 1e-12);
                Assert.NotNull(y);
                Assert.True(TestUtil.MaxAbsDiff(y!, Reference(x, r, w, bias, 1e-12)) < 2e-5, $"{threads} threads");
                Assert.True(TestUtil.MaxAbsDiff(LayerNormKernel.TryAddLayerNorm(x, r, w, bias, 0.5)!, Reference(x, r, w, bias, 0.5)) < 2e-5, "eps 0.5");
            }
            finally { TorchRuntime.Configure(threads: 1); }
        }
        // A strided input (a transposed view) reads the same values.
        var xt = randn(b, h, t).transpose(1, 2);
        Assert.True(TestUtil.MaxAbsDiff(LayerNormKernel.TryAddLayerNorm(xt, r, w, bias, 1e-5)!, Reference(xt, r, w, bias, 1e-5)) < 2e-5);
    }

    [Fact]
    public void LeavesToLibtorchWhatItCannotDo()
    {
        TestUtil.Init();
        var x = randn(2, 8); var w = randn(8); var b = randn(8);
        Assert.Null(LayerNormKernel.TryAddLayerNorm(x.requires_grad_(), randn(2, 8), w, b, 1e-5)); // training: autograd must see the ops
        using var _ = no_grad();
        Assert.Null(LayerNormKernel.TryAddLayerNorm(randn(2, 8), randn(1, 8), w, b, 1e-5)); // a broadcast residual
        Assert.Null(LayerNormKernel.TryAddLayerNorm(randn(2, 8, dtype: ScalarType.Float64), randn(2, 8, dtype: ScalarType.Float64), w, b, 1e-5));
        Assert.Null(LayerNormKernel.TryAddLayerNorm(randn(2, 8), randn(2, 8), randn(7), b, 1e-5));
    }
}
