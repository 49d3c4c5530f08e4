using GptBert.Models;
using GptBert.Pipelines;
using GptBert.Tokenizers;
using static TorchSharp.torch;

namespace GptBert.Training;

/// <summary>A labelled example with its label already mapped to the model's id.</summary>
public sealed record ClassificationExample(string Text, string? Pair, int Label);

/// <summary>
/// Sequence classification for both families: BERT classifies from the pooled [CLS] state, GPT-2 from
/// the last real token. Cross-entropy with optional class weights for imbalanced data.
/// </summary>
public sealed class ClassificationObjective : ITrainingObjective
{
    readonly PretrainedModel model;
    readonly ITextTokenizer tokenizer;
    readonly TokenizedText[] train;
    readonly int[] trainLabels;
    readonly IReadOnlyList<ClassificationExample> validation;
    readonly EpochOrder order;
    readonly Device device;
    readonly Tensor? classWeights;
    readonly int maxLength;
    readonly TokenizedText[] validationEncodings; // tokenized once: evaluation runs many times
    public IReadOnlyList<string> Labels { get; }
    public int EvalBatchSize { get; init; } = 32;
    /// <summary>Optional augmentation applied to each training text as its batch is built (seeded by the step).</summary>
    public Func<string, Random, string>? Augment { get; init; }
    readonly IReadOnlyList<ClassificationExample> trainExamples;

    public ClassificationObjective(PretrainedModel model, ITextTokenizer tokenizer, IReadOnlyList<ClassificationExample> train,
        IReadOnlyList<ClassificationExample> validation, IReadOnlyList<string> labels, int maxLength, long seed, Device device,
        double[]? classWeights = null)
    {
        if (model is not (BertForSequenceClassification or GPT2ForSequenceClassification))
            throw new GptBertException($"classification needs BertForSequenceClassification or GPT2ForSequenceClassification, not {model.Architecture}");
        if (train.Count == 0) throw new GptBertException("no training examples");
        if (maxLength > model.Config.MaxPositions)
            throw new GptBertException($"MaxLength {maxLength} exceeds the model's {model.Config.MaxPositions} positions") { Parameter = "MaxLength" };
        this.model = model; this.tokenizer = tokenizer; this.validation = validation; this.device = device; this.maxLength = maxLength;
        trainExamples = train;
        Labels = labels;
        this.train = train.Select(e => tokenizer.Encode(e.Text, e.Pair, maxLength: maxLength)).ToArray();
        trainLabels = train.Select(e => e.Label).ToArray();
        order = new EpochOrder(train.Count, seed);
        if (classWeights is not null)
        {
            using var cpu = tensor(classWeights.Select(w => (float)w).ToArray());
            this.classWeights = cpu.to(device).DetachFromDisposeScope();
        }
        validationEncodings = validation.Select(e => tokenizer.Encode(e.Text, e.Pair, maxLength: maxLength)).ToArray();
    }

    public PretrainedModel Model => model;
    public long ExamplesPerEpoch => train.Length;
    public string SelectionMetric => "macro_f1";
    public bool HigherIsBetter => true;

    /// <summary>Inverse-frequency class weights (n / (k · count_c)), as sklearn's "balanced".</summary>
    public static double[] BalancedWeights(IReadOnlyList<int> labels, int numClasses)
    {
        var counts = new double[numClasses];
        foreach (var l in labels) counts[l]++;
        return counts.Select(c => c == 0 ? 0 : labels.Count / (numClasses * c)).ToArray();
    }

    public TrainBatch GetBatch(long cursor, int batchSize, Random rng)
    {
        var encs = new TokenizedText[batchSize];
        var labels = new long[batchSize];
        for (int b = 0; b < batchSize; b++)
        {
            long i = order[cursor + b];
            encs[b] = Augment is null ? train[i]
                : tokenizer.Encode(Augment(trainExamples[(int)i].Text, rng), trainExamples[(int)i].Pair, maxLength: maxLength);
            labels[b] = trainLabels[i];
        }
        return Collate(encs, labels);
    }

    TrainBatch Collate(IReadOnlyList<TokenizedText> encs, long[] labels)
    {
        var (ids, mask, types, real) = Batching.ToTensors(encs, tokenizer.PadId ?? tokenizer.EosId ?? 0, device);
        return new TrainBatch { InputIds = ids, AttentionMask = mask, TokenTypeIds = types, Labels = tensor(labels, device: device), Tokens = real };
    }

    /// <summary>(B, num_labels) logits: the forward <see cref="Classifier"/> runs at inference.</summary>
    public Tensor Logits(TrainBatch batch) => Classifier.Logits(model, batch.InputIds, batch.AttentionMask, batch.TokenTypeIds);

    public Tensor Loss(TrainBatch batch)
    {
        var logits = Logits(batch);
        // The weights follow the model's dtype (float64 in gradient checks); no copy in the usual float32 case.
        var weight = classWeights is null || classWeights.dtype == logits.dtype ? classWeights : classWeights.to(logits.dtype);
        return nn.functional.cross_entropy(logits, batch.Labels, weight: weight);
    }

    /// <summary>Predicted label ids and class probabilities for examples (eval mode, no gradients).</summary>
    public (int[] Predicted, float[][] Probabilities) Predict(IReadOnlyList<ClassificationExample> examples) =>
        Predict(examples.Select(e => tokenizer.Encode(e.Text, e.Pair, maxLength: maxLength)).ToArray());

    (int[] Predicted, float[][] Probabilities) Predict(IReadOnlyList<TokenizedText> encodings)
    {
        var predicted = new int[encodings.Count];
        var probs = new float[encodings.Count][];
        EvalBatches.Run(model, encodings.Count, EvalBatchSize, (start, n) =>
        {
            var chunk = Enumerable.Range(start, n).Select(i => encodings[i]).ToList();
            using var batch = Collate(chunk, new long[n]); // labels are not needed to predict
            var p = Classifier.Probabilities(Logits(batch));
            for (int j = 0; j < n; j++)
            {
                probs[start + j] = p[j];
                predicted[start + j] = Classifier.Predicted(p[j]);
            }
        });
        return (predicted, probs);
    }

    public IReadOnlyDictionary<string, double>? Evaluate()
    {
        if (validation.Count == 0) return null;
        var (pred, probs) = Predict(validationEncodings);
        var gold = validation.Select(e => e.Label).ToArray();
        double nll = 0;
        for (int i = 0; i < gold.Length; i++) nll -= Math.Log(Math.Max(probs[i][gold[i]], 1e-12));
        var m = Reporting.ClassificationMetrics.Compute(gold, pred, Labels);
        return new Dictionary<string, double> { ["loss"] = nll / gold.Length, ["accuracy"] = m.Accuracy, ["macro_f1"] = m.MacroF1 };
    }
}
