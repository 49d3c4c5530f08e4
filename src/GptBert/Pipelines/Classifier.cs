using GptBert.Checkpoints;
using GptBert.Data;
using GptBert.Models;
using GptBert.Reporting;
using static TorchSharp.torch;

namespace GptBert.Pipelines;

public sealed record Classification(string Label, IReadOnlyDictionary<string, double> Scores);

/// <summary>
/// A fine-tuned sequence classifier (either family) loaded for evaluation and prediction. Inference only:
/// tokenize a batch → the model's forward → softmax, under inference mode; training's
/// ClassificationObjective scores its validation data through the same <see cref="Logits"/> and
/// <see cref="Probabilities(Tensor)"/>.
/// </summary>
public sealed class Classifier : IDisposable
{
    readonly ModelHandle? handle;
    readonly IEncoderRunner? runner; // another engine (ONNX Runtime); null: TorchSharp
    readonly int maxLength;
    public IReadOnlyList<string> Labels { get; }
    /// <summary>The TorchSharp model; a classifier built on another engine has none (use <see cref="Model"/>).</summary>
    public ModelHandle Handle => handle ?? throw new InvalidOperationException($"this classifier runs {runner!.Source} on {runner.GetType().Name}, not on TorchSharp; use Model");
    /// <summary>The model, whichever engine runs it.</summary>
    public ILoadedModel Model => runner ?? (ILoadedModel)handle!;
    /// <summary>Inputs per forward pass.</summary>
    public int BatchSize { get; init; } = 32;
    /// <summary>What happens to inputs longer than the maximum length (as <see cref="Embedder"/>).</summary>
    public Overflow Overflow { get; init; } = Overflow.TruncateWithWarning;
    public Action<string>? Warn { get; init; }

    public Classifier(string modelDir, string? tokenizer = null, string? device = null, int? maxLength = null)
    {
        var cfg = ModelConfig.Load(Path.Combine(ModelHub.ExistingDirectory(modelDir), "config.json"));
        var arch = cfg is Gpt2Config ? "GPT2ForSequenceClassification" : "BertForSequenceClassification";
        if (!ModelFactory.DefaultArchitecture(cfg).EndsWith("ForSequenceClassification"))
            throw new GptBertException($"{modelDir} is a {ModelFactory.DefaultArchitecture(cfg)}, not a classifier; fine-tune it first with `gptbert finetune`");
        handle = ModelHub.Load(modelDir, arch, tokenizer, device, requireHead: true);
        Labels = handle.Config.Labels;
        this.maxLength = Math.Min(maxLength ?? 512, handle.Config.MaxPositions);
    }

    /// <summary>A classifier on another engine (e.g. an exported directory in ONNX Runtime); the caller keeps ownership of <paramref name="runner"/>.</summary>
    public Classifier(IEncoderRunner runner, int? maxLength = null)
    {
        if (!runner.Architecture.EndsWith("ForSequenceClassification"))
            throw new GptBertException($"{runner.Source} is a {runner.Architecture}, not a classifier; fine-tune it first with `gptbert finetune`");
        this.runner = runner;
        Labels = runner.Config.Labels;
        this.maxLength = Math.Min(maxLength ?? 512, runner.Config.MaxPositions);
    }

    /// <summary>Label and class probabilities per input. Safe to call from several threads at once; cancellation is checked between batches.</summary>
    public IReadOnlyList<Classification> Classify(IReadOnlyList<(string Text, string? Pair)> inputs, CancellationToken cancellationToken = default)
    {
        var probs = Probabilities(inputs, cancellationToken);
        return probs.Select(p => new Classification(Labels[Predicted(p)],
            Labels.Select((l, k) => (l, k)).ToDictionary(x => x.l, x => (double)p[x.k]))).ToList();
    }

    /// <summary>Class probabilities per input, in input order (the softmax of <see cref="Logits(IReadOnlyList{ValueTuple{string, string}}, CancellationToken)"/>).</summary>
    public float[][] Probabilities(IReadOnlyList<(string Text, string? Pair)> inputs, CancellationToken cancellationToken = default) =>
        Logits(inputs, cancellationToken).Select(l => RunnerPredictions.Softmax(l)).ToArray();

    /// <summary>Raw logits (num_labels per input), in input order: what a one-label model (a cross-encoder, a regressor) gives.</summary>
    public float[][] Logits(IReadOnlyList<(string Text, string? Pair)> inputs, CancellationToken cancellationToken = default)
    {
        if (runner is not null) return RunnerPredictions.Logits(runner, inputs, maxLength);
        var handle = Handle;
        var result = new float[inputs.Count][];
        // As Embedder: longest first, so each batch pads little; results go back to their input positions.
        var order = Enumerable.Range(0, inputs.Count).OrderByDescending(i => inputs[i].Text.Length + (inputs[i].Pair?.Length ?? 0)).ToArray();
        using var _ = inference_mode();
        for (int start = 0; start < order.Length; start += BatchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var idx = order.Skip(start).Take(BatchSize).ToArray();
            using var scope = NewDisposeScope();
            using var batch = Batching.Encode(handle, idx.Select(i => inputs[i]).ToList(), maxLength, Overflow, Warn, inputIndices: idx);
            using var logits = Logits(handle.Model, batch.InputIds, batch.AttentionMask, batch.TokenTypeIds).to(ScalarType.Float32).cpu();
            int K = (int)logits.shape[1];
            var data = TensorBytes.ToArray<float>(logits);
            for (int j = 0; j < idx.Length; j++) result[idx[j]] = data.AsSpan(j * K, K).ToArray();
        }
        return result;
    }

    /// <summary>Accuracy, macro-F1, per-class precision/recall and the confusion matrix on a labelled file.</summary>
    public ClassificationMetrics Evaluate(LabeledDataset data)
    {
        var labels = LabelSet.FromLabels(Labels);
        var unseen = labels.Unseen(data);
        if (unseen.Count > 0)
            throw new GptBertException($"{data.Name} has labels the model was not trained on: {string.Join(", ", unseen)} (model labels: {string.Join(", ", Labels)})");
        var gold = data.Select(e => labels.Encode(e.Label)).ToArray();
        var pred = Probabilities(data.Select(e => (e.Text, e.Pair)).ToList()).Select(Predicted).ToArray();
        return ClassificationMetrics.Compute(gold, pred, Labels);
    }

    /// <summary>
    /// (B, num_labels) logits of a sequence classifier of either family for one padded batch: BERT classifies
    /// from the pooled [CLS] state, GPT-2 from the last real token. The one forward that inference and training share.
    /// </summary>
    public static Tensor Logits(PretrainedModel model, Tensor inputIds, Tensor? attentionMask, Tensor? tokenTypeIds) => model switch
    {
        BertForSequenceClassification m => m.Forward(inputIds, attentionMask, tokenTypeIds),
        GPT2ForSequenceClassification m => m.Forward(inputIds, attentionMask),
        _ => throw new GptBertException($"classification needs BertForSequenceClassification or GPT2ForSequenceClassification, not {model.Architecture}"),
    };

    /// <summary>Softmax of (B, K) logits as one float array of K probabilities per row.</summary>
    public static float[][] Probabilities(Tensor logits)
    {
        using var p = logits.softmax(-1).to(ScalarType.Float32).cpu(); // (B, K)
        int B = (int)p.shape[0], K = (int)p.shape[1];
        var data = TensorBytes.ToArray<float>(p);
        return Enumerable.Range(0, B).Select(b => data.AsSpan(b * K, K).ToArray()).ToArray();
    }

    /// <summary>The most probable class (the first on ties).</summary>
    public static int Predicted(float[] probabilities) => Array.IndexOf(probabilities, probabilities.Max());

    public void Dispose() => handle?.Dispose();
}
