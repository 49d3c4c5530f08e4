using GptBert.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GptBert.Tests.Training;

public class LossScalerTests
{
    static Parameter WithGrad(params float[] g)
    {
        var p = new Parameter(zeros(g.Length));
        p.grad = tensor(g);
        return p;
    }

    [Fact]
    public void FiniteGradientsAreUnscaledExactly()
    {
        var scaler = new LossScaler(initialScale: 1024);
        var p = WithGrad(1024f, -512f, 3f);
        Assert.True(scaler.UnscaleOrSkip([p]));
        Assert.Equal([1f, -0.5f, 3f / 1024], p.grad!.data<float>().ToArray()); // powers of two: exact
        Assert.Equal(1024, scaler.Scale);
        Assert.Equal(1, scaler.CleanSteps);
    }

    [Theory]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NaN)]
    public void OverflowSkipsTheStepAndHalvesTheScale(float bad)
    {
        var scaler = new LossScaler(initialScale: 1024);
        Assert.True(scaler.UnscaleOrSkip([WithGrad(1f)]));
        var ok = WithGrad(2f); var broken = WithGrad(1f, bad);
        Assert.False(scaler.UnscaleOrSkip([ok, broken]));
        Assert.Equal(512, scaler.Scale);
        Assert.Equal(0, scaler.CleanSteps);
        Assert.Equal(2f, ok.grad!.data<float>()[0]); // a skipped step leaves gradients alone
    }

    [Fact]
    public void ScaleGrowsAfterTheIntervalOfCleanSteps()
    {
        var scaler = new LossScaler(initialScale: 8, growthInterval: 3);
        for (int i = 0; i < 2; i++) Assert.True(scaler.UnscaleOrSkip([WithGrad(8f)]));
        Assert.Equal(8, scaler.Scale);
        Assert.True(scaler.UnscaleOrSkip([WithGrad(8f)]));
        Assert.Equal(16, scaler.Scale);
        Assert.Equal(0, scaler.CleanSteps);
        scaler.Restore(4, 2);
        Assert.True(scaler.UnscaleOrSkip([WithGrad(8f)]));
        Assert.Equal(8, scaler.Scale);
    }
}
