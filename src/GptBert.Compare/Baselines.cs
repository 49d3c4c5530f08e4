using System.Diagnostics;
using GptBert.Data;
using GptBert.Pipelines;
using GptBert.Reporting;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using Microsoft.ML.Transforms.Text;

namespace GptBert.Compare;

/// <summary>
/// The baselines every classify comparison runs next to the transformers, so that a verdict for GPT or BERT is only
/// given when a transformer beats what is cheaper:
/// <list type="bullet">
/// <item><b>majority class</b>: always the training set's most frequent label;</item>
/// <item><b>TF-IDF + linear</b>: word 1-2-grams and character 1-3-grams, TF-IDF weighted and L2-normalised
/// (ML.NET's <c>FeaturizeText</c>), and a multinomial logistic regression trained by SDCA (<c>SdcaMaximumEntropy</c>),
/// one run per comparison seed (SDCA shuffles);</item>
/// <item><b>frozen embeddings + logistic regression</b>: for each pretrained BERT candidate, its sentence embedding
/// (its own pooling, at the comparison's max length; text and pair embedded separately and concatenated) standardised
/// and fed to L-BFGS logistic regression (<c>LbfgsMaximumEntropy</c>), whose L2 strength is picked on the validation
/// set from <see cref="L2Grid"/>.</item>
/// </list>
/// Every baseline is scored on the same test set with the same metrics as the candidates
/// (<see cref="ClassificationMetrics"/>), and its batch-1 latency is timed the same way. Results are
/// <see cref="CandidateResult"/>s of family <see cref="Family"/>, kept in <see cref="ComparisonReport.Baselines"/>, apart
/// from the GPT/BERT candidates.
/// </summary>
public static class Baselines
{
    public const string Family = "baseline";
    public const string MajoritySource = "majority", TfIdfSource = "tfidf", EmbeddingsSourcePrefix = "embeddings:";

    /// <summary>L2 strengths tried for the embedding baseline's logistic regression (picked by validation macro-F1).</summary>
    public static readonly float[] L2Grid = [0.01f, 0.1f, 1f];

    sealed class TextRow
    {
        public string Text { get; set; } = "";
        public string Pair { get; set; } = "";
        public string Label { get; set; } = "";
    }

    sealed class VectorRow
    {
        public float[] Features { get; set; } = [];
        public string Label { get; set; } = "";
    }

    sealed class Prediction
    {
        public string PredictedLabel { get; set; } = "";
    }

    /// <summary>What the baselines need from the comparison: the data, the pretrained BERT candidates to embed with, and the settings.</summary>
    public sealed record Inputs(LabeledDataset Train, LabeledDataset Validation, LabeledDataset Test, LabelSet Labels,
        IReadOnlyList<string> PretrainedBerts, int Seeds, int MaxLength, int LatencySamples, string WorkDirectory, string? Device);

    /// <summary>Runs every baseline; <paramref name="info"/> gets one line per baseline.</summary>
    public static List<CandidateResult> Run(Inputs input, Action<string>? info = null)
    {
        var results = new List<CandidateResult> { Majority(input) };
        info?.Invoke($"[baselines] majority class: macro-F1 {results[0].Quality["macro_f1"].Mean:F3}");
        results.Add(TfIdf(input));
        info?.Invoke($"[baselines] TF-IDF + linear: macro-F1 {results[^1].Quality["macro_f1"].Mean:F3}");
        foreach (var bert in input.PretrainedBerts)
        {
            results.Add(FrozenEmbeddings(input, bert));
            info?.Invoke($"[baselines] {results[^1].Name}: macro-F1 {results[^1].Quality["macro_f1"].Mean:F3}");
        }
        return results;
    }

    static Dictionary<string, Measured> Quality(List<ClassificationMetrics> runs) => new()
    {
        ["accuracy"] = Measured.Of(runs.Select(m => m.Accuracy).ToList()),
        ["macro_f1"] = Measured.Of(runs.Select(m => m.MacroF1).ToList()),
    };

    static ClassificationMetrics Score(LabeledDataset test, LabelSet labels, IReadOnlyList<string> predicted) =>
        ClassificationMetrics.Compute(labels.Encode(test), predicted.Select(p => labels.IndexOf(p) is var i && i >= 0 ? i : 0).ToArray(), labels);

    /// <summary>Always the training majority label.</summary>
    public static CandidateResult Majority(Inputs input)
    {
        var (label, _) = input.Train.MajorityLabel();
        var m = Score(input.Test, input.Labels, Enumerable.Repeat(label, input.Test.Count).ToList());
        return new CandidateResult
        {
            Name = "majority class", Family = Family, Source = MajoritySource, Architecture = $"always '{label}'",
            Quality = Quality([m]), Seeds = [],
        };
    }

    static readonly TextFeaturizingEstimator.Options TextOptions = new()
    {
        CaseMode = TextNormalizingEstimator.CaseMode.Lower,
        KeepDiacritics = true,
        KeepPunctuations = true,
        KeepNumbers = true,
        WordFeatureExtractor = new WordBagEstimator.Options { NgramLength = 2, UseAllLengths = true, Weighting = NgramExtractingEstimator.WeightingCriteria.TfIdf },
        CharFeatureExtractor = new WordBagEstimator.Options { NgramLength = 3, UseAllLengths = true, Weighting = NgramExtractingEstimator.WeightingCriteria.TfIdf },
        Norm = TextFeaturizingEstimator.NormFunction.L2,
    };

    static IEnumerable<TextRow> Rows(LabeledDataset d) => d.Select(e => new TextRow { Text = e.Text, Pair = e.Pair ?? "", Label = e.Label });

    /// <summary>SDCA epochs: on sotu-era 300 reach the macro-F1 of SDCA's automatic choice (0.805) in a third of its time; 30 stop at 0.716.</summary>
    public const int SdcaIterations = 300;

    /// <summary>
    /// TF-IDF word and character n-grams + multinomial logistic regression (SDCA). The featurizer is fitted once on the
    /// training texts; the classifier once per seed (SDCA shuffles).
    /// </summary>
    public static CandidateResult TfIdf(Inputs input)
    {
        var runs = new List<ClassificationMetrics>();
        var seconds = new List<double>();
        bool pairs = input.Train.HasPairs;
        var ml = new MLContext(1);
        var sw = Stopwatch.StartNew();
        var trainView = ml.Data.LoadFromEnumerable(Rows(input.Train));
        var featurizer = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.Text.FeaturizeText("Features", TextOptions, pairs ? ["Text", "Pair"] : ["Text"]))
            .Fit(trainView);
        var trainFeatures = ml.Data.Cache(featurizer.Transform(trainView));
        var testFeatures = ml.Data.Cache(featurizer.Transform(ml.Data.LoadFromEnumerable(Rows(input.Test))));
        double featurizeSeconds = sw.Elapsed.TotalSeconds;
        long features = VectorSize(trainFeatures.Schema["Features"].Type);
        ITransformer? first = null;
        for (int seed = 1; seed <= input.Seeds; seed++)
        {
            sw.Restart();
            var seeded = new MLContext(seed);
            var classifier = seeded.MulticlassClassification.Trainers.SdcaMaximumEntropy(new SdcaMaximumEntropyMulticlassTrainer.Options
                {
                    LabelColumnName = "Label", FeatureColumnName = "Features", NumberOfThreads = 1, MaximumNumberOfIterations = SdcaIterations,
                })
                .Append(seeded.Transforms.Conversion.MapKeyToValue("PredictedLabel"))
                .Fit(trainFeatures);
            seconds.Add(featurizeSeconds + sw.Elapsed.TotalSeconds);
            var predicted = classifier.Transform(testFeatures).GetColumn<string>("PredictedLabel").ToList();
            runs.Add(Score(input.Test, input.Labels, predicted));
            first ??= classifier;
        }
        var model = featurizer.Append(first!);
        var engine = ml.Model.CreatePredictionEngine<TextRow, Prediction>(model);
        var (p50, p95) = Latency(input, e => engine.Predict(new TextRow { Text = e.Text, Pair = e.Pair ?? "" }));
        long size = SavedSize(ml, model, input, "tfidf", view: trainView);
        return new CandidateResult
        {
            Name = "TF-IDF + linear", Family = Family, Source = TfIdfSource,
            Architecture = "word 1-2-grams + char 1-3-grams, TF-IDF, SDCA logistic regression",
            Parameters = features * input.Labels.Count + input.Labels.Count, SizeOnDiskBytes = size,
            Quality = Quality(runs), TrainingSeconds = Measured.Of(seconds), LatencyP50Ms = p50, LatencyP95Ms = p95,
            Seeds = Enumerable.Range(1, input.Seeds).ToList(),
        };
    }

    /// <summary>The frozen sentence embeddings of a pretrained BERT + logistic regression (L-BFGS, L2 from <see cref="L2Grid"/> on validation).</summary>
    public static CandidateResult FrozenEmbeddings(Inputs input, string bert)
    {
        var sw = Stopwatch.StartNew();
        using var handle = ModelHub.Load(bert, architecture: null, device: input.Device, requireHead: false);
        var embedder = new Embedder(handle) { Warn = null };
        bool pairs = input.Train.HasPairs;
        float[][] Embed(LabeledDataset d)
        {
            var a = embedder.Embed(d.Select(e => e.Text).ToList(), input.MaxLength);
            if (!pairs) return a;
            var b = embedder.Embed(d.Select(e => e.Pair ?? "").ToList(), input.MaxLength);
            return a.Zip(b, (x, y) => x.Concat(y).ToArray()).ToArray();
        }
        var trainX = Embed(input.Train);
        double embedSeconds = sw.Elapsed.TotalSeconds;
        var validationX = Embed(input.Validation);
        var testX = Embed(input.Test);
        int dim = trainX[0].Length;

        var ml = new MLContext(1);
        var schema = SchemaDefinition.Create(typeof(VectorRow));
        schema["Features"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, dim);
        IDataView View(float[][] x, LabeledDataset d) =>
            ml.Data.LoadFromEnumerable(x.Zip(d, (v, e) => new VectorRow { Features = v, Label = e.Label }).ToList(), schema);
        var trainView = View(trainX, input.Train);

        ITransformer Fit(float l2) => ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.NormalizeMeanVariance("Features"))
            .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(new LbfgsMaximumEntropyMulticlassTrainer.Options
            {
                LabelColumnName = "Label", FeatureColumnName = "Features", L2Regularization = l2, L1Regularization = 0, NumberOfThreads = 1,
            }))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"))
            .Fit(trainView);
        List<string> Predict(ITransformer m, float[][] x, LabeledDataset d) => m.Transform(View(x, d)).GetColumn<string>("PredictedLabel").ToList();

        sw.Restart();
        ITransformer? best = null;
        double bestF1 = -1;
        float bestL2 = L2Grid[0];
        foreach (var l2 in L2Grid)
        {
            var m = Fit(l2);
            double f1 = input.Validation.Count == 0 ? 0 : Score(input.Validation, input.Labels, Predict(m, validationX, input.Validation)).MacroF1;
            if (f1 > bestF1) (best, bestF1, bestL2) = (m, f1, l2);
        }
        double fitSeconds = sw.Elapsed.TotalSeconds;
        var metrics = Score(input.Test, input.Labels, Predict(best!, testX, input.Test));

        var engine = ml.Model.CreatePredictionEngine<VectorRow, Prediction>(best!, inputSchemaDefinition: schema);
        var (p50, p95) = Latency(input, e =>
        {
            var v = embedder.Embed([e.Text], input.MaxLength)[0];
            if (pairs) v = v.Concat(embedder.Embed([e.Pair ?? ""], input.MaxLength)[0]).ToArray();
            engine.Predict(new VectorRow { Features = v });
        });
        string title = ModelHub.DisplayName(bert, "bert").Replace(" (pretrained BERT)", "");
        return new CandidateResult
        {
            Name = $"{title} embeddings + LR", Family = Family, Source = EmbeddingsSourcePrefix + bert,
            Architecture = $"frozen {title} sentence embeddings ({embedder.Pooling.ToString().ToLowerInvariant()} pooling), standardised, L-BFGS logistic regression (L2 {bestL2:0.###})",
            Parameters = handle.Model.ParameterCount + (long)dim * input.Labels.Count + input.Labels.Count,
            SizeOnDiskBytes = ComparisonRunner.WeightsBytes(handle.Directory) + SavedSize(ml, best!, input, "embeddings-lr", trainView),
            Quality = Quality([metrics]), TrainingSeconds = Measured.Single(embedSeconds + fitSeconds),
            LatencyP50Ms = p50, LatencyP95Ms = p95, Seeds = [1],
        };
    }

    static long VectorSize(DataViewType t) => t is VectorDataViewType v ? v.Size : 1;

    /// <summary>Median and p95 of timing one prediction (batch 1) on test examples, after a warm-up, as <see cref="SpeedProbe"/> does.</summary>
    static (double P50, double P95) Latency(Inputs input, Action<LabeledExample> predictOne)
    {
        var test = input.Test;
        for (int i = 0; i < Math.Min(3, test.Count); i++) predictOne(test[i]);
        var times = new List<double>();
        for (int i = 0; i < Math.Max(1, input.LatencySamples); i++)
        {
            var sw = Stopwatch.StartNew();
            predictOne(test[i % test.Count]);
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        return (SpeedProbe.Percentile(times, 0.5), SpeedProbe.Percentile(times, 0.95));
    }

    /// <summary>Bytes of the fitted ML.NET model as a saved .zip in the work directory.</summary>
    static long SavedSize(MLContext ml, ITransformer model, Inputs input, string name, IDataView view)
    {
        var dir = Path.Combine(input.WorkDirectory, "baselines");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, name + ".zip");
        ml.Model.Save(model, view.Schema, path);
        return new FileInfo(path).Length;
    }
}
