using GptBert.Compare;
using GptBert.Data;
using GptBert.Pipelines;
using GptBert.Training;

namespace GptBert.Tests.Compare;

/// <summary>
/// The baselines on tasks whose answer is known by construction: one keyword decides the label (a bag of n-grams solves
/// it), or only the order of two words does (a bag of word 1-2-grams and character 1-3-grams cannot), and the verdict
/// that follows from them.
/// </summary>
public class BaselinesTests
{
    static readonly string[] Filler = ("river stone window garden pencil market cloud music silver orange table letter winter " +
        "bridge forest candle paper mirror harbor violin").Split(' ');

    static string Words(Random rng, int min, int max) => string.Join(" ", Enumerable.Range(0, rng.Next(min, max + 1)).Select(_ => Filler[rng.Next(Filler.Length)]));

    /// <summary>Label "alarm" when the text contains the word "zebra", else "calm"; everything else is random filler.</summary>
    public static LabeledDataset Keyword(int n, int seed)
    {
        var rng = new Random(seed);
        return LabeledDataset.FromExamples(Enumerable.Range(0, n).Select(i =>
        {
            bool yes = i % 2 == 0;
            var text = yes ? $"{Words(rng, 2, 6)} zebra {Words(rng, 2, 6)}" : $"{Words(rng, 2, 6)} {Words(rng, 2, 6)}";
            return new LabeledExample(text, null, yes ? "alarm" : "calm");
        }), $"keyword-{seed}");
    }

    /// <summary>
    /// Both "alpha" and "omega" in every text, with at least two filler words before, between and after them; the label is
    /// which comes first. The words are the same in both classes, so only their order tells.
    /// </summary>
    public static LabeledDataset Order(int n, int seed)
    {
        var rng = new Random(seed);
        return LabeledDataset.FromExamples(Enumerable.Range(0, n).Select(i =>
        {
            bool alphaFirst = i % 2 == 0;
            var (a, b) = alphaFirst ? ("alpha", "omega") : ("omega", "alpha");
            return new LabeledExample($"{Words(rng, 2, 5)} {a} {Words(rng, 2, 5)} {b} {Words(rng, 2, 5)}", null, alphaFirst ? "alpha-first" : "omega-first");
        }), $"order-{seed}");
    }

    static Baselines.Inputs Inputs(LabeledDataset train, LabeledDataset validation, LabeledDataset test, string[]? berts = null, int seeds = 2) =>
        new(train, validation, test, LabelSet.FromTraining(train), berts ?? [], seeds, 32, 5, TestUtil.TempDir("baselines"), null);

    [Fact]
    public void TfIdfSolvesTheKeywordTaskAndTheMajorityClassDoesNot()
    {
        var input = Inputs(Keyword(400, 1), Keyword(60, 2), Keyword(200, 3));
        var tfidf = Baselines.TfIdf(input);
        Assert.Equal("baseline", tfidf.Family);
        Assert.Equal(2, tfidf.Quality["accuracy"].N);
        Assert.True(tfidf.Quality["accuracy"].Mean >= 0.99, $"TF-IDF accuracy {tfidf.Quality["accuracy"].Mean:F3}");
        Assert.True(tfidf.Parameters > 100 && tfidf.SizeOnDiskBytes > 0 && tfidf.LatencyP50Ms > 0);

        var majority = Baselines.Majority(input);
        Assert.Equal(0.5, majority.Quality["accuracy"].Mean, 3);
        Assert.Equal(1 / 3.0, majority.Quality["macro_f1"].Mean, 3);   // F1 2/3 for the predicted class, 0 for the other
    }

    [Fact]
    public void TfIdfCannotSolveATaskThatNeedsWordOrder()
    {
        var input = Inputs(Order(400, 1), Order(60, 2), Order(200, 3));
        var tfidf = Baselines.TfIdf(input);
        Assert.True(tfidf.Quality["accuracy"].Mean < 0.8, $"TF-IDF accuracy {tfidf.Quality["accuracy"].Mean:F3} on a word-order task");
    }

    [Fact]
    public void FrozenMiniLmEmbeddingsWithLogisticRegressionLearnTheKeywordTask()
    {
        TestUtil.Init();
        var input = Inputs(Keyword(200, 1), Keyword(60, 2), Keyword(100, 3), [ModelHub.MiniLm], seeds: 1);
        var r = Baselines.FrozenEmbeddings(input, ModelHub.MiniLm);
        Assert.Equal("MiniLM embeddings + LR", r.Name);
        Assert.Equal("embeddings:minilm", r.Source);
        Assert.Contains("mean pooling", r.Architecture);
        Assert.True(r.Quality["accuracy"].Mean >= 0.9, $"accuracy {r.Quality["accuracy"].Mean:F3}");
        Assert.True(r.Parameters > 22_000_000 && r.LatencyP50Ms > 0);
    }

    [Fact]
    public void BaselineVerdictWhenNoTransformerIsClearlyBetter()
    {
        TestUtil.Init();
        var dir = TestUtil.TempDir("cmp-keyword");
        var train = Path.Combine(dir, "train.csv"); var test = Path.Combine(dir, "test.csv");
        Keyword(240, 1).Save(train);
        Keyword(120, 3).Save(test);
        // A few steps: the tiny transformers have learned little, TF-IDF has the task solved.
        var spec = new CompareSpec
        {
            Train = train, Test = test, WorkDirectory = Path.Combine(dir, "work"), FromScratch = true, ScratchParameters = 120_000,
            ScratchVocabSize = 320, BudgetSteps = 3, Seeds = 2, MaxLength = 24, LatencySamples = 5,
        };
        var report = ComparisonRunner.Run(spec, new RunReporting(Progress: TextWriter.Null));
        Assert.Equal("baseline", report.Verdict.Choice);
        Assert.NotEqual("baseline", report.Verdict.TransformerChoice);
        Assert.Equal(["majority class", "TF-IDF + linear"], report.Baselines.Select(b => b.Name));
        Assert.Contains(report.Verdict.Reasons, r => r.StartsWith("Against the baselines:") && r.Contains("use TF-IDF + linear"));
        var json = GptBert.Compare.Report.ReportJson.Serialize(report);
        Assert.Contains("\"verdict\": \"baseline\"", json);
        Assert.Contains("\"baselines\": [", json);
        Assert.Contains("TF-IDF + linear", GptBert.Compare.Report.ConsoleSummary.Render(report));

        var without = ComparisonRunner.Run(spec with { Baselines = false, WorkDirectory = Path.Combine(dir, "work2"), Seeds = 1 }, new RunReporting(Progress: TextWriter.Null));
        Assert.Empty(without.Baselines);
        Assert.NotEqual("baseline", without.Verdict.Choice);
    }
}
