using GptBert.Data;
using GptBert.Engine;
using GptBert.Models;
using GptBert.Reporting;
using GptBert.Training;

namespace GptBert.Pipelines;

public sealed record Classification(string Label, IReadOnlyDictionary<string, double> Scores);

/// <summary>A fine-tuned sequence classifier (either family) loaded for evaluation and prediction.</summary>
public sealed class Classifier : IDisposable
{
    readonly ModelHandle? handle;
    readonly ClassificationObjective? objective;
    readonly IEncoderRunner? runner; // another engine (ONNX Runtime); null: TorchSharp through the objective
    readonly int maxLength;
    public IReadOnlyList<string> Labels { get; }
    /// <summary>The TorchSharp model; a classifier built on another engine has none (use <see cref="Model"/>).</summary>
    public ModelHandle Handle => handle ?? throw new InvalidOperationException($"this classifier runs {runner!.Source} on {runner.GetType().Name}, not on TorchSharp; use Model");
    /// <summary>The model, whichever engine runs it.</summary>
    public ILoadedModel Model => runner ?? (ILoadedModel)handle!;

    public Classifier(string modelDir, string? tokenizer = null, string? device = null, int? maxLength = null)
    {
        var cfg = ModelConfig.Load(Path.Combine(ModelHub.ExistingDirectory(modelDir), "config.json"));
        var arch = cfg is Gpt2Config ? "GPT2ForSequenceClassification" : "BertForSequenceClassification";
        if (!ModelFactory.DefaultArchitecture(cfg).EndsWith("ForSequenceClassification"))
            throw new GptBertException($"{modelDir} is a {ModelFactory.DefaultArchitecture(cfg)}, not a classifier; fine-tune it first with `gptbert finetune`");
        handle = ModelHub.Load(modelDir, arch, tokenizer, device, requireHead: true);
        Labels = handle.Config.Labels;
        objective = new ClassificationObjective(handle.Model, handle.Tokenizer, [new("-", null, 0)], [], Labels,
            Math.Min(maxLength ?? 512, handle.Config.MaxPositions), 0, handle.Device);
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

    (int[] Predicted, float[][] Probabilities) Predict(IReadOnlyList<ClassificationExample> examples) =>
        runner is null ? objective!.Predict(examples) : RunnerPredictions.Classify(runner, examples.Select(e => (e.Text, e.Pair)).ToList(), maxLength);

    public IReadOnlyList<Classification> Classify(IReadOnlyList<(string Text, string? Pair)> inputs)
    {
        var (pred, probs) = Predict(inputs.Select(i => new ClassificationExample(i.Text, i.Pair, 0)).ToList());
        return pred.Select((p, i) => new Classification(Labels[p],
            Labels.Select((l, k) => (l, k)).ToDictionary(x => x.l, x => (double)probs[i][x.k]))).ToList();
    }

    /// <summary>Accuracy, macro-F1, per-class precision/recall and the confusion matrix on a labelled file.</summary>
    public ClassificationMetrics Evaluate(LabeledDataset data)
    {
        var labels = LabelSet.FromLabels(Labels);
        var unseen = labels.Unseen(data);
        if (unseen.Count > 0)
            throw new GptBertException($"{data.Name} has labels the model was not trained on: {string.Join(", ", unseen)} (model labels: {string.Join(", ", Labels)})");
        var gold = data.Select(e => labels.Encode(e.Label)).ToArray();
        var (pred, _) = Predict(data.Select((e, i) => new ClassificationExample(e.Text, e.Pair, gold[i])).ToList());
        return ClassificationMetrics.Compute(gold, pred, Labels);
    }

    public void Dispose() => handle?.Dispose();
}
