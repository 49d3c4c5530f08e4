using GptBert.Engine;
using TorchSharp;
using static TorchSharp.torch;

namespace GptBert.Tests.Engine;

public class SmallGemmTests
{
    /// <summary>The product in fp64, from the definition.</summary>
    static Tensor Reference(Tensor x, Tensor w, Tensor? b, bool inOut)
    {
        var y = x.to(ScalarType.Float64).matmul((inOut ? w : w.t()).to(ScalarType.Float64));
        return (b is null ? y : y + b.to(ScalarType.Float64)).to(ScalarType.Float32);
    }

    [Theory]
    [InlineData(1, 384, 1536)]
    [InlineData(16, 384, 384)]
    [InlineData(32, 1536, 384)]
    [InlineData(3, 13, 9)]     // every tail: odd rows, K not a multiple of 8, N not a multiple of 4 or 16
    [InlineData(5, 8, 33)]
    [InlineData(7, 100, 17)]
    public void ProductsEqualTheDefinitionInBothWeightLayouts(int M, int K, int N)
    {
        TestUtil.Init();
        using var _ = no_grad();
        var x = randn(M, K); var b = randn(N);
        var w = randn(N, K) / Math.Sqrt(K);
        foreach (var bias in new[] { b, null })
        {
            var y = SmallGemm.TryLinear(x, w, bias);
            Assert.NotNull(y);
            Assert.True(TestUtil.MaxAbsDiff(y!, Reference(x, w, bias, inOut: false)) < 1e-5, $"linear {M}x{K}x{N}");
        }
        var wt = w.t().contiguous(); // (K, N), GPT-2's Conv1D layout
        var y2 = SmallGemm.TryLinearInOut(x, wt, b);
        Assert.NotNull(y2);
        Assert.True(TestUtil.MaxAbsDiff(y2!, Reference(x, wt, b, inOut: true)) < 1e-5, $"in-out {M}x{K}x{N}");
        // Split over two threads, each column run computed by one of them.
        TorchRuntime.Configure(threads: 2);
        try
        {
            Assert.True(TestUtil.MaxAbsDiff(SmallGemm.TryLinear(x, w, b)!, Reference(x, w, b, inOut: false)) < 1e-5, $"linear {M}x{K}x{N}, 2 threads");
            Assert.True(TestUtil.MaxAbsDiff(SmallGemm.TryLinearInOut(x, wt, b)!, Reference(x, wt, b, inOut: true)) < 1e-5, $"in-out {M}x{K}x{N}, 2 threads");
        }
        finally { TorchRuntime.Configure(threads: 1); }
    }

    [Fact]
    public void BatchedAndStridedInputsKeepTheirShape()
    {
        TestUtil.Init();
        using var _ = no_grad();
        var x = randn(2, 24, 5).transpose(1, 2); // (2, 5, 24), not contiguous
        var w = randn(40, 24);
        var y = SmallGemm.TryLinear(x, w, null)!;
        Assert.Equal(new long[] { 2, 5, 40 }, y.shape);
        Assert.True(TestUtil.MaxAbsDiff(y, x.matmul(w.t())) < 1e-5);
    }

    [Fact]
    public void LeavesToLibtorchWhatItCannotDo()
    {
        TestUtil.Init();
        var w = randn(16, 16).requires_grad_();
        Assert.Null(SmallGemm.TryLinear(randn(4, 16), w, null)); // a gradient is wanted: autograd must see the op
        using (no_grad())
        {
            Assert.NotNull(SmallGemm.TryLinear(randn(4, 16), w, null));
            Assert.Null(SmallGemm.TryLinear(randn(4, 16, dtype: ScalarType.Float64), w.detach().to(ScalarType.Float64), null));
            Assert.Null(SmallGemm.TryLinear(randn(4, 15), w, null)); // shapes disagree: libtorch reports it
        }
    }

    [Fact]
    public void OpsUseTheKernelsOnlyForInference()
    {
        TestUtil.Init();
        var w = randn(12, 20).requires_grad_(); var b = randn(12).requires_grad_();
        var x = randn(3, 20);
        var trained = Ops.Linear(x, w, b);
        trained.sum().backward(); // autograd went through libtorch
        Assert.NotNull(w.grad);
        using var _ = no_grad();
        Assert.True(TestUtil.MaxAbsDiff(Ops.Linear(x, w, b), trained) < 1e-5);
    }

    [Fact]
    public void SmallInferenceForwardsRunLibtorchOnOneThreadAndRestoreIt()
    {
        TestUtil.Init();
        TorchRuntime.Configure(threads: 2);
        try
        {
            var small = TestUtil.RandomIds(100, 1, 16);
            using (no_grad())
            {
                using (var scope = SmallGemm.ForwardScope(small))
                {
                    Assert.NotNull(scope);
                    Assert.Equal(1, torch.get_num_threads());
                    // Only this thread's count changed: another thread (new or already running) still sees the host's 2.
                    Assert.Equal(2, new TaskFactory().StartNew(() => torch.get_num_threads(), TaskCreationOptions.LongRunning).Result);
                }
                Assert.Equal(2, torch.get_num_threads());
                // Many rows: on our workers too where the CPU has AVX-512 (BlockedGemm, AttentionKernel), else libtorch's threads and MKL.
                using (var many = SmallGemm.ForwardScope(TestUtil.RandomIds(100, 1, SmallGemm.MaxRows + 1)))
                    Assert.Equal(BlockedGemm.Enabled && AttentionKernel.Enabled, many is not null);
                Assert.Equal(2, torch.get_num_threads());
            }
            Assert.Null(SmallGemm.ForwardScope(small)); // training: autograd needs libtorch's ops
        }
        finally { TorchRuntime.Configure(threads: 1); }
    }

    [Fact]
    public void BackgroundWorkRunsAfterThePartsAndYieldsToTheNextJob()
    {
        int ran = 0, stoppedByJob = 0;
        var started = new ManualResetEventSlim();
        Workers.Run(2, _ => { }, stop =>
        {
            Interlocked.Increment(ref ran);
            started.Set();
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (!stop() && DateTime.UtcNow < deadline) Thread.SpinWait(100);
            if (stop()) Interlocked.Increment(ref stoppedByJob);
        });
        Assert.True(started.Wait(5000), "background work did not start");
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var seen = new int[2];
        Workers.Run(2, p => Interlocked.Increment(ref seen[p])); // must not wait for the background loop's 10 s
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"the next job waited {sw.Elapsed}");
        Assert.Equal([1, 1], seen);
        Assert.Equal(1, ran);
        Assert.Equal(1, stoppedByJob);
    }

    [Fact]
    public void WorkersRunEveryPartAndRethrow()
    {
        var seen = new int[5];
        for (int round = 0; round < 50; round++) Workers.Run(5, p => Interlocked.Increment(ref seen[p]));
        Assert.All(seen, n => Assert.Equal(50, n));
        var e = Assert.Throws<InvalidOperationException>(() => Workers.Run(3, p => { if (p == 2) throw new InvalidOperationException("part 2"); }));
        Assert.Equal("part 2", e.Message);
        Workers.Run(3, p => Interlocked.Increment(ref seen[p])); // still usable after a failure
        Assert.Equal(51, seen[2]);
    }
}
