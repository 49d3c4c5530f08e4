using GptBert.Pipelines;

namespace GptBert.Tests.Pipelines;

/// <summary>The alternatives a decoding step reports, against log-softmax written out by hand.</summary>
public class TopLogProbsTests
{
    static double LogSoftmax(double[] x, int i) => x[i] - Math.Log(x.Sum(v => Math.Exp(v)));

    [Fact]
    public void GreedyReportsTheMostLikelyTokensOfTheLogits()
    {
        float[] logits = [1f, 3f, 2f, 3f, -1f];
        var (id, lp) = Sampling.Next(logits, [], new GenerationOptions { Greedy = true, TopLogProbs = 3 }, new Random(0), out var top);
        double[] x = [1, 3, 2, 3, -1];
        Assert.Equal(1, id); // the first of the two largest
        Assert.Equal(LogSoftmax(x, 1), lp, 1e-9);
        Assert.Equal([1, 3, 2], top.Select(t => t.Id)); // ties by lower id
        for (int k = 0; k < 3; k++) Assert.Equal(LogSoftmax(x, top[k].Id), top[k].LogProb, 1e-9);
    }

    [Fact]
    public void SamplingReportsTheDistributionItDrewFrom()
    {
        // Temperature 0.5 then top-k 2: only ids 1 and 3 keep probability, e^(4) : e^(6) after scaling.
        float[] logits = [1f, 2f, 0.5f, 3f];
        var options = new GenerationOptions { Temperature = 0.5, TopK = 2, TopLogProbs = 4 };
        var (id, lp) = Sampling.Next(logits, [], options, new Random(1), out var top);
        double[] kept = [4, 6];
        Assert.Equal([3, 1], top.Select(t => t.Id)); // zero-probability tokens are not listed
        Assert.Equal(LogSoftmax(kept, 1), top[0].LogProb, 1e-6);
        Assert.Equal(LogSoftmax(kept, 0), top[1].LogProb, 1e-6);
        Assert.Contains(top, t => t.Id == id && Math.Abs(t.LogProb - lp) < 1e-12);
    }

    [Fact]
    public void NoneUnlessAskedAndAtMostTwenty()
    {
        Sampling.Next([1f, 2f], [], new GenerationOptions { Greedy = true }, new Random(0), out var top);
        Assert.Empty(top);
        var e = Assert.Throws<GptBertException>(() => new GenerationOptions { TopLogProbs = 21 }.Validate());
        Assert.Contains("TopLogProbs", e.Message);
    }
}
