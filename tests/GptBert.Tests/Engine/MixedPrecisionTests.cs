using GptBert.Engine;
using GptBert.Models;
using GptBert.Tests.Training;
using GptBert.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace GptBert.Tests.Engine;

public class MixedPrecisionTests
{
    static Tensor RoundTo(Tensor t, ScalarType dtype) => t.to(dtype).to(ScalarType.Float32);

    [Theory]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void LinearComputesOnRoundedOperandsAndReturnsFp32(ScalarType dtype)
    {
        TestUtil.Init();
        var x = randn(5, 7, 24); var w = randn(40, 24) * 0.2; var b = randn(40) * 0.1;
        Tensor y;
        using (MixedPrecision.Use(dtype)) y = Ops.Linear(x, w, b);
        Assert.Equal(ScalarType.Float32, y.dtype);
        // The reference: the same product in fp64 on operands rounded to 16 bits, then rounded to 16 bits.
        var reference = (RoundTo(x, dtype).to(ScalarType.Float64).matmul(RoundTo(w, dtype).to(ScalarType.Float64).t()) + RoundTo(b, dtype).to(ScalarType.Float64)).to(ScalarType.Float32);
        double eps = dtype == ScalarType.BFloat16 ? 1.0 / 128 : 1.0 / 1024; // two roundings of the result at most
        Assert.True(((y - reference).abs() - eps * reference.abs()).max().item<float>() <= 2e-3, "16-bit linear departs from the rounded-operand reference");
        // The result really went through 16 bits: every value is representable in that type.
        Assert.Equal(0, TestUtil.MaxAbsDiff(y, RoundTo(y, dtype)));
        Assert.True(TestUtil.MaxAbsDiff(y, Ops.Linear(x, w, b)) > 0, "outside the scope the product is fp32 again");
    }

    [Fact]
    public void ScopesNestAndRestore()
    {
        Assert.Null(MixedPrecision.Current);
        using (MixedPrecision.Use(ScalarType.BFloat16))
        {
            using (MixedPrecision.Use(null)) Assert.Null(MixedPrecision.Current);
            Assert.Equal(ScalarType.BFloat16, MixedPrecision.Current);
        }
        Assert.Null(MixedPrecision.Current);
    }

    [Fact]
    public void GradientsReachTheFp32WeightsThroughTheCasts()
    {
        TestUtil.Init();
        var w = (randn(16, 32) * 0.3).requires_grad_(); var b = zeros(16).requires_grad_();
        var x = randn(64, 32);
        Tensor Grad(ScalarType? dtype)
        {
            w.grad?.zero_();
            using (MixedPrecision.Use(dtype)) Ops.Linear(x, w, b).pow(2).sum().backward();
            return w.grad!.clone();
        }
        var full = Grad(null);
        var half = Grad(ScalarType.BFloat16);
        Assert.Equal(ScalarType.Float32, half.dtype);
        double rel = ((half - full).norm() / full.norm()).item<float>();
        Assert.True(rel is > 0 and < 0.02, $"bf16 gradient relative error {rel}");
    }

    [Fact]
    public void BertAndGptForwardsAgreeWithFp32WithinBf16Rounding()
    {
        TestUtil.Init();
        using var bert = new BertModel(TrainingTestUtil.TinyBert(100));
        using var gpt = new GPT2LMHeadModel(TrainingTestUtil.TinyGpt(100));
        bert.eval(); gpt.eval();
        using var _ = no_grad();
        var ids = TestUtil.RandomIds(100, 3, 12);
        var mask = ones(3, 12, dtype: ScalarType.Int64); mask[1, 8..] = tensor(0L); mask[2, 3..] = tensor(0L); // padding exercises the additive mask
        foreach (var (name, run) in new (string, Func<Tensor>)[]
                 {
                     ("bert", () => bert.Forward(ids, mask).LastHiddenState),
                     ("gpt", () => gpt.Forward(ids, mask)),
                 })
        {
            var full = run();
            Tensor half;
            using (MixedPrecision.Use(ScalarType.BFloat16)) half = run();
            Assert.False(half.isnan().any().item<bool>(), $"{name}: NaN under bf16");
            double cos = nn.functional.cosine_similarity(full.flatten(), half.flatten(), 0).item<float>();
            Assert.True(cos > 0.999, $"{name}: cosine {cos}");
            Assert.True(TestUtil.MaxAbsDiff(full, half) > 0, $"{name}: bf16 changed nothing, so it did not run");
        }
    }

    [Fact]
    public void Fp32NeverNeedsHardwareSupportAndNamesAreChecked()
    {
        Assert.Null(MixedPrecision.Resolve("fp32", CPU));
        var e = Assert.Throws<GptBertException>(() => MixedPrecision.Resolve("fp8", CPU));
        Assert.Contains("fp32, bf16 or fp16", e.Message);
    }

    [Theory]
    [InlineData("bf16", new[] { "avx512_bf16", "amx_bf16", "bf16" })]
    [InlineData("fp16", new[] { "avx512_fp16", "amx_fp16", "fphp" })]
    public void CpuPrecisionFollowsTheCpuFlags(string precision, string[] nativeFlags)
    {
        bool native = MixedPrecision.CpuFlags().Overlaps(nativeFlags); // the flags oneDNN dispatches on, listed independently here
        Assert.Equal(native, MixedPrecision.CpuHasNative(precision == "bf16" ? ScalarType.BFloat16 : ScalarType.Float16));
        if (native) Assert.NotNull(MixedPrecision.Resolve(precision, CPU));
        else
        {
            var e = Assert.Throws<GptBertException>(() => MixedPrecision.Resolve(precision, CPU));
            Assert.Equal("Precision", e.Parameter);
            Assert.Contains($"Precision {precision}", e.Message);
            Assert.Contains("Precision fp32", e.Message);
            Assert.Contains($"--precision {precision}", GptBert.Cli.CliErrors.Message(e)); // as the CLI prints it
            Assert.Contains("--precision fp32", GptBert.Cli.CliErrors.Message(e));
            Assert.DoesNotContain("\n", e.Message);
        }
    }
}
