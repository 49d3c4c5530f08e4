using GptBert.Engine;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace GptBert.Tests.Engine;

public class AttentionKernelTests(ITestOutputHelper output)
{
    /// <summary>softmax(q·kᵀ·scale + mask)·v in fp64, from the definition; causal masks key j &gt; query i.</summary>
    static Tensor Reference(Tensor q, Tensor k, Tensor v, Tensor? mask, bool causal, double scale)
    {
        var s = q.to(ScalarType.Float64).matmul(k.to(ScalarType.Float64).transpose(-2, -1)) * scale;
        if (mask is not null) s = s + mask.to(ScalarType.Float64);
        if (causal) s = s.masked_fill(ones(q.shape[2], k.shape[2], dtype: ScalarType.Bool).triu(1), double.NegativeInfinity);
        return s.softmax(-1).matmul(v.to(ScalarType.Float64)).to(ScalarType.Float32);
    }

    /// <summary>(B, nh, T, hs) as the models make it: a transposed view of (B, T, nh, hs).</summary>
    static Tensor Heads(long b, long t, long nh, long hs) => randn(b, t, nh, hs).transpose(1, 2);

    [Theory]
    [InlineData(2, 3, 20, 20, 32, false)]  // MiniLM's head size, 20 tokens: a partial key panel and a partial row block
    [InlineData(1, 2, 130, 130, 64, false)] // BERT-base's head size (one full value panel + 16 columns), 3 key panels
    [InlineData(2, 2, 37, 37, 32, true)]   // causal, blocks straddling the diagonal
    [InlineData(1, 1, 1, 9, 8, false)]     // one query over a cache of 9 keys, tiny heads
    [InlineData(1, 2, 5, 50, 100, false)]  // fewer queries than keys, head size above one panel
    [InlineData(3, 1, 1, 1, 16, false)]    // one key
    public void AttentionEqualsTheDefinition(int b, int nh, int tq, int tk, int hs, bool causal)
    {
        TestUtil.Init();
        if (!AttentionKernel.Enabled) { output.WriteLine("not run here: this CPU lacks AVX-512F, so attention stays in libtorch"); return; }
        using var _ = no_grad();
        var q = Heads(b, tq, nh, hs); var k = Heads(b, tk, nh, hs); var v = Heads(b, tk, nh, hs);
        double scale = 1 / Math.Sqrt(hs);
        foreach (int threads in new[] { 1, 2 })
        {
            TorchRuntime.Configure(threads: threads);
            try
            {
                var y = AttentionKernel.TryAttention(q, k, v, null, 0, causal, scale);
                Assert.NotNull(y);
                Assert.Equal(new long[] { b, nh, tq, hs }, y!.shape);
                Assert.True(TestUtil.MaxAbsDiff(y, Reference(q, k, v, null, causal, scale)) < 1e-5, $"{threads} threads");
                if (causal) continue;
                // BERT's padding mask: additive (B, 1, 1, Tk), float.MinValue on the last keys of the first sequence.
                var keep = ones(b, tk); keep[0, TensorIndex.Slice(Math.Max(1, tk - 3))] = 0;
                var padding = zeros(b, 1, 1, tk).masked_fill(keep.view(b, 1, 1, tk).eq(0), float.MinValue);
                Assert.True(TestUtil.MaxAbsDiff(AttentionKernel.TryAttention(q, k, v, padding, 0, false, 0.3)!, Reference(q, k, v, padding, false, 0.3)) < 1e-5, "padding mask");
                // GPT-2's mask with a cache: additive (B, 1, Tq, Tk), a different value per query row.
                var rows = randn(b, 1, tq, tk);
                Assert.True(TestUtil.MaxAbsDiff(AttentionKernel.TryAttention(q, k, v, rows, 0, false, scale)!, Reference(q, k, v, rows, false, scale)) < 1e-5, "per-row mask");
            }
            finally { TorchRuntime.Configure(threads: 1); }
        }
    }

    [Fact]
    public void AQueryWhoseKeysAreAllMaskedOutGetsZerosAndTheOthersAreUntouched()
    {
        TestUtil.Init();
        if (!AttentionKernel.Enabled) { output.WriteLine("not run here: this CPU lacks AVX-512F"); return; }
        using var _ = no_grad();
        var q = Heads(1, 4, 2, 16); var k = Heads(1, 6, 2, 16); var v = Heads(1, 6, 2, 16);
        var mask = zeros(1, 1, 4, 6);
        mask[0, 0, 2] = float.NegativeInfinity; // query 2 may see nothing
        var y = AttentionKernel.TryAttention(q, k, v, mask, 0, false, 0.25)!;
        Assert.Equal(0, y[0, TensorIndex.Colon, 2].abs().max().item<float>());
        var others = tensor(new long[] { 0, 1, 3 });
        Assert.True(TestUtil.MaxAbsDiff(y.index_select(2, others), Reference(q, k, v, mask, false, 0.25).index_select(2, others)) < 1e-5);
    }

    [Fact]
    public void LeavesToLibtorchWhatItCannotDo()
    {
        TestUtil.Init();
        var q = Heads(1, 4, 2, 16); var k = Heads(1, 4, 2, 16); var v = Heads(1, 4, 2, 16);
        Assert.Null(AttentionKernel.TryAttention(q.requires_grad_(), k, v, null, 0, false, 0.25)); // training: autograd must see the op
        using var _ = no_grad();
        Assert.Null(AttentionKernel.TryAttention(q, k, v, null, 0.1, false, 0.25)); // dropout
        Assert.Null(AttentionKernel.TryAttention(q, k, v, ones(1, 1, 4, 4, dtype: ScalarType.Bool), 0, false, 0.25)); // a boolean mask
        Assert.Null(AttentionKernel.TryAttention(q, Heads(1, 6, 2, 16), Heads(1, 6, 2, 16), null, 0, true, 0.25)); // causal over a longer cache
        Assert.Null(AttentionKernel.TryAttention(q.to(ScalarType.Float64), k.to(ScalarType.Float64), v.to(ScalarType.Float64), null, 0, false, 0.25));
    }
}
