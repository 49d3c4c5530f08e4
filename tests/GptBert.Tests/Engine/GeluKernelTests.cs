using GptBert.Engine;
using TorchSharp;
using static TorchSharp.torch;

namespace GptBert.Tests.Engine;

public class GeluKernelTests
{
    [Fact]
    public void BothFormsEqualTheirDefinitionsOnOneAndTwoThreads()
    {
        TestUtil.Init();
        using var _ = no_grad();
        // Wide range, tails included; 140,002 values (not a multiple of 8 per thread: the scalar tails) split over threads.
        var x = cat([linspace(-12, 12, 1001), randn(139_001) * 4]).view(2, -1);
        var xd = x.to(ScalarType.Float64);
        // Definitions in fp64: 0.5·x·(1 + erf(x/√2)) and 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))).
        var exact = (0.5 * xd * (1 + special.erf(xd / Math.Sqrt(2)))).to(ScalarType.Float32);
        var tanhForm = (0.5 * xd * (1 + (Math.Sqrt(2 / Math.PI) * (xd + 0.044715 * xd.pow(3))).tanh())).to(ScalarType.Float32);
        foreach (int threads in new[] { 1, 2 })
        {
            TorchRuntime.Configure(threads: threads);
            try
            {
                // erf per Abramowitz and Stegun 7.1.26: |error| ≤ 1.5e-7, times 0.5·|x| ≤ 6 here; fp32 rounding on top.
                Assert.True(TestUtil.MaxAbsDiff(GeluKernel.TryGelu(x, tanh: false)!, exact) < 2e-6, $"erf form, {threads} threads");
                Assert.True(TestUtil.MaxAbsDiff(GeluKernel.TryGelu(x, tanh: true)!, tanhForm) < 2e-6, $"tanh form, {threads} threads");
            }
            finally { TorchRuntime.Configure(threads: 1); }
        }
    }

    [Fact]
    public void LeavesToLibtorchWhatItCannotDo()
    {
        TestUtil.Init();
        Assert.Null(GeluKernel.TryGelu(randn(4, 8).requires_grad_(), tanh: false)); // training: autograd must see the op
        using var _ = no_grad();
        Assert.Null(GeluKernel.TryGelu(randn(4, 8, dtype: ScalarType.Float64), tanh: false));
    }
}
