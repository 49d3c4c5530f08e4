using GptBert.Models;
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
            throw new GptBertException($"--max-length {maxLength} exceeds the model's {model.Config.MaxPositions} positions");
        this.model = model; this.tokenizer = tokenizer; this.validation = validation; this.device = device; this.maxLength = maxLength;
        trainExamples = train;
        Labels = labels;
        this.train = train.Select(e => tokenizer.Encode(e.Text, e.Pair, maxLength: maxLength)).ToArray();
        trainLabels = train.Select(e => e.Label).ToArray();
        order = new EpochOrder(train.Count, seed);
        if (classWeights is not null) this.classWeights = tensor(classWeights.Select(w => (float)w).ToArray()).to(device);
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
        int B = encs.Count, T = encs.Max(e => e.Ids.Length);
        long pad = tokenizer.PadId ?? tokenizer.EosId ?? 0;
        var ids = new long[B * T]; var mask = new long[B * T]; var types = new long[B * T];
        long tokens = 0;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
            {
                bool real = t < encs[b].Ids.Length;
                ids[b * T + t] = real ? encs[b].Ids[t] : pad;
                mask[b * T + t] = real ? encs[b].AttentionMask[t] : 0;
                types[b * T + t] = real ? encs[b].TypeIds[t] : 0;
                if (real) tokens++;
            }
        return new TrainBatch
        {
            InputIds = tensor(ids, [B, T], device: device),
            AttentionMask = tensor(mask, [B, T], device: device),
            TokenTypeIds = tensor(types, [B, T], device: device),
            Labels = tensor(labels, device: device),
            Tokens = tokens,
        };
    }

    public Tensor Logits(TrainBatch batch) => model switch
    {
        BertForSequenceClassification m => m.Forward(batch.InputIds, batch.AttentionMask, batch.TokenTypeIds),
        GPT2ForSequenceClassification m => m.Forward(batch.InputIds, batch.AttentionMask),
        _ => throw new InvalidOperationException(),
    };

    public Tensor Loss(TrainBatch batch)
    {
        var logits = Logits(batch);
        return nn.functional.cross_entropy(logits, batch.Labels, weight: classWeights?.to(logits.dtype));
    }

    /// <summary>Predicted label ids and class probabilities for examples (eval mode, no gradients).</summary>
    public (int[] Predicted, float[][] Probabilities) Predict(IReadOnlyList<ClassificationExample> examples)
    {
        var predicted = new int[examples.Count];
        var probs = new float[examples.Count][];
        bool wasTraining = model.training;
        model.eval();
        using (no_grad())
            for (int start = 0; start < examples.Count; start += EvalBatchSize)
            {
                using var scope = NewDisposeScope();
                var chunk = examples.Skip(start).Take(EvalBatchSize).ToList();
                using var batch = Collate(chunk.Select(e => tokenizer.Encode(e.Text, e.Pair, maxLength: maxLength)).ToList(), chunk.Select(e => (long)e.Label).ToArray());
                var p = Logits(batch).softmax(-1).cpu();
                int K = (int)p.shape[1];
                var data = p.data<float>().ToArray();
                for (int j = 0; j < chunk.Count; j++)
                {
                    probs[start + j] = data.AsSpan(j * K, K).ToArray();
                    predicted[start + j] = Array.IndexOf(probs[start + j], probs[start + j].Max());
                }
            }
        model.train(wasTraining);
        return (predicted, probs);
    }

    public IReadOnlyDictionary<string, double>? Evaluate()
    {
        if (validation.Count == 0) return null;
        var (pred, probs) = Predict(validation);
        var gold = validation.Select(e => e.Label).ToArray();
        double nll = 0;
        for (int i = 0; i < gold.Length; i++) nll -= Math.Log(Math.Max(probs[i][gold[i]], 1e-12));
        var m = Reporting.ClassificationMetrics.Compute(gold, pred, Labels);
        return new Dictionary<string, double> { ["loss"] = nll / gold.Length, ["accuracy"] = m.Accuracy, ["macro_f1"] = m.MacroF1 };
    }
}
