using System.Diagnostics;
using GptBert.Data;
using GptBert.Models;
using GptBert.Pipelines;
using GptBert.Tokenizers;
using static TorchSharp.torch;

namespace GptBert.Training;

/// <summary>What `gptbert prune` does, as data: which model, how much of it, measured on what, recovered how.</summary>
public sealed record PruneSpec
{
    public required string Model { get; init; }
    public required string Output { get; init; }
    /// <summary>Fraction of all attention heads to remove (0: none).</summary>
    public double Heads { get; init; }
    /// <summary>Fraction of every layer's FFN neurons to remove (0: none).</summary>
    public double Ffn { get; init; }
    /// <summary>Fraction of layer weights to zero by magnitude (0: none).</summary>
    public double Magnitude { get; init; }
    public bool PerLayer { get; init; }
    /// <summary>Data the importance is measured on (the model's own loss on it); null: the weight-norm proxy.</summary>
    public string? Data { get; init; }
    /// <summary>At most this many examples (classify) or blocks (language models) of <see cref="Data"/> are used.</summary>
    public int ImportanceExamples { get; init; } = 512;
    public int ImportanceBatchSize { get; init; } = 16;
    /// <summary>Recovery fine-tune on this file after pruning (null: none).</summary>
    public string? Train { get; init; }
    /// <summary>Quality is measured on this file before pruning, after pruning and after recovery.</summary>
    public string? Validation { get; init; }
    public string? Tokenizer { get; init; }
    public LabeledFormatOptions? Format { get; init; }
    public int MaxLength { get; init; } = 128;
    public string? Device { get; init; }
    public TrainingOptions Training { get; init; } = new() { Epochs = 1, LearningRate = 5e-5, EvalEvery = 0, SaveEvery = 0 };
}

/// <summary>What was removed from one layer: original head indices and the FFN neurons' indices before this pruning.</summary>
public sealed record PrunedLayer(int Layer, int[] Heads, int HeadsLeft, int[] Neurons, int NeuronsLeft);

public sealed record PruneResult
{
    public required string Architecture { get; init; }
    /// <summary>How importance was scored (Michel et al. on data, or the weight-norm proxy).</summary>
    public required string Importance { get; init; }
    public required IReadOnlyList<PrunedLayer> Layers { get; init; }
    public required long ParametersBefore { get; init; }
    public required long ParametersAfter { get; init; }
    public required long BytesBefore { get; init; }
    public required long BytesAfter { get; init; }
    public long Zeroed { get; init; }
    public long Considered { get; init; }
    public required double LatencyMsBefore { get; init; }
    public required double LatencyMsAfter { get; init; }
    /// <summary>The metric quality is reported in (macro_f1 for classifiers, loss for language models).</summary>
    public string? Metric { get; init; }
    public IReadOnlyDictionary<string, double>? QualityBefore { get; init; }
    public IReadOnlyDictionary<string, double>? QualityPruned { get; init; }
    public IReadOnlyDictionary<string, double>? QualityRecovered { get; init; }
    public TrainingResult? Recovery { get; init; }
    /// <summary>With recovery training, the pruned model before training (inside Output); else null.</summary>
    public string? PrunedDirectory { get; init; }
}

/// <summary>
/// The pipeline behind `gptbert prune`: importance (Michel et al. 2019 on the model's own loss over data, or the weight-norm
/// proxy), structured pruning, magnitude pruning, an optional recovery fine-tune through the ordinary training runs, and
/// quality on a validation file before pruning, after pruning and after recovery.
/// </summary>
public static class PruningRuns
{
    public static PruneResult Run(PruneSpec spec, RunReporting? reporting = null)
    {
        if (spec.Heads is < 0 or >= 1) throw new GptBertException($"Heads {spec.Heads} must be a fraction in [0, 1)") { Parameter = "Heads" };
        if (spec.Ffn is < 0 or >= 1) throw new GptBertException($"Ffn {spec.Ffn} must be a fraction in [0, 1)") { Parameter = "Ffn" };
        if (spec.Magnitude is < 0 or >= 1) throw new GptBertException($"Magnitude {spec.Magnitude} must be a fraction in [0, 1)") { Parameter = "Magnitude" };
        if (spec.Heads == 0 && spec.Ffn == 0 && spec.Magnitude == 0)
            throw new GptBertException("nothing to prune: give a fraction of heads, FFN neurons and/or weights by magnitude") { RelatedParameters = ["Heads", "Ffn", "Magnitude"] };
        if (spec.Magnitude > 0 && spec.Train is not null)
            throw new GptBertException("magnitude pruning and recovery training do not combine: training refills the zeroed weights (no sparsity mask is kept); recover first, then prune by magnitude in a second run")
                { RelatedParameters = ["Magnitude", "Train"] };
        string dir = ModelHub.ExistingDirectory(spec.Model);
        bool needsData = spec.Data is not null || spec.Validation is not null || spec.Train is not null;
        using var handle = ModelHub.Load(spec.Model, null, spec.Tokenizer, spec.Device, requireHead: false, requireTokenizer: needsData);
        var model = handle.Model;
        if (model.Config.Quantization is not null)
            throw new GptBertException($"{spec.Model} is int8-quantized; prune the fp32 model it came from, then quantize the pruned one") { Parameter = "Model" };
        var tok = handle.OptionalTokenizer;
        int maxLength = Math.Min(spec.MaxLength, model.Config.MaxPositions);
        void Info(string m) => reporting?.Info?.Invoke(m);

        string? metric = spec.Validation is null ? null : SelectionMetric(model);
        var before = spec.Validation is null ? null : Evaluate(model, tok!, spec.Validation, spec.Format, maxLength, handle.Device);
        long paramsBefore = model.ParameterCount;
        model.eval();
        double msBefore = LatencyMs(model);

        PretrainedModel pruned = model;
        var layers = new List<PrunedLayer>();
        string importance = "none (magnitude pruning only)";
        try
        {
            if (spec.Heads > 0 || spec.Ffn > 0)
            {
                PruningImportance imp;
                if (spec.Data is null) imp = Pruning.Measure(model);
                else
                {
                    var (objective, owned) = ObjectiveFor(model, tok!, spec.Data, spec.Format, maxLength, spec.Training.Seed, handle.Device);
                    using var _o = owned;
                    long n = Math.Min(objective.ExamplesPerEpoch, spec.ImportanceExamples);
                    Info($"measuring head and neuron importance on {n} {(objective is ClassificationObjective ? "examples" : "blocks")} of {Path.GetFileName(spec.Data)} ...");
                    imp = Pruning.Measure(model, Losses(objective, n, spec.ImportanceBatchSize, spec.Training.Seed));
                }
                importance = imp.Method;
                var heads = spec.Heads > 0 ? Pruning.ChooseHeads(model.Config, imp, spec.Heads) : null;
                var neurons = spec.Ffn > 0 ? Pruning.ChooseNeurons(imp, spec.Ffn) : null;
                for (int l = 0; l < imp.Heads.Length; l++)
                {
                    var h = heads?.GetValueOrDefault(l) ?? [];
                    var f = neurons?[l] ?? [];
                    layers.Add(new PrunedLayer(l, h, imp.Heads[l].Length - h.Length, f, imp.Neurons[l].Length - f.Length));
                }
                pruned = Pruning.Prune(model, heads, neurons);
                pruned.eval();
            }
            (long Zeroed, long Total) sparse = spec.Magnitude > 0 ? Pruning.Magnitude(pruned, spec.Magnitude, spec.PerLayer) : (0, 0);
            // Structured pruning: the two models alternate over 3 rounds (median of each), so a busy machine hits both alike.
            double msAfter;
            if (ReferenceEquals(pruned, model)) msAfter = LatencyMs(pruned);
            else
            {
                var rounds = Enumerable.Range(0, 3).Select(_ => (B: LatencyMs(model), A: LatencyMs(pruned))).ToList();
                msBefore = rounds.Select(x => x.B).Order().ElementAt(1);
                msAfter = rounds.Select(x => x.A).Order().ElementAt(1);
            }
            long paramsAfter = pruned.ParameterCount;
            var quality = spec.Validation is null ? null : Evaluate(pruned, tok!, spec.Validation, spec.Format, maxLength, handle.Device);

            string savedTo = spec.Train is null ? spec.Output : Path.Combine(spec.Output, "pruned");
            pruned.SavePretrained(savedTo);
            Int8Quantization.CopyCompanionFiles(dir, savedTo);
            var result = new PruneResult
            {
                Architecture = model.Architecture, Importance = importance, Layers = layers,
                ParametersBefore = paramsBefore, ParametersAfter = paramsAfter,
                BytesBefore = WeightsBytes(dir), BytesAfter = WeightsBytes(savedTo),
                Zeroed = sparse.Zeroed, Considered = sparse.Total, LatencyMsBefore = msBefore, LatencyMsAfter = msAfter,
                Metric = metric, QualityBefore = before, QualityPruned = quality,
            };
            if (spec.Train is null) return result;

            Info($"recovery training of the pruned model ({Path.GetFileName(spec.Train)}) ...");
            var training = Recover(pruned, savedTo, spec, maxLength, reporting);
            IReadOnlyDictionary<string, double>? recovered = null;
            if (spec.Validation is not null)
            {
                using var after = ModelHub.Load(spec.Output, null, spec.Tokenizer, spec.Device, requireHead: false);
                recovered = Evaluate(after.Model, after.Tokenizer, spec.Validation, spec.Format, maxLength, after.Device);
            }
            return result with { Recovery = training, QualityRecovered = recovered, PrunedDirectory = savedTo };
        }
        finally
        {
            if (!ReferenceEquals(pruned, model)) pruned.Dispose();
        }
    }

    /// <summary>The recovery fine-tune: the same runs as `finetune` (labelled, completion, QA, NER data) or, for a language model on plain text, `pretrain` continued from the pruned model.</summary>
    static TrainingResult Recover(PretrainedModel pruned, string prunedDir, PruneSpec spec, int maxLength, RunReporting? reporting)
    {
        bool plainText = pruned is (GPT2LMHeadModel or BertForMaskedLM or BertForPreTraining) && !CompletionData.IsCompletionFile(spec.Train!);
        if (plainText)
            return TrainingRuns.Pretrain(new PretrainSpec
            {
                Arch = pruned is GPT2LMHeadModel ? "gpt" : "bert", Data = spec.Train!, Validation = spec.Validation, Output = spec.Output,
                InitFrom = prunedDir, Tokenizer = spec.Tokenizer, Shape = new ModelShape(MaxLength: maxLength), Device = spec.Device,
                Training = spec.Training, NextSentencePrediction = pruned is BertForPreTraining,
            }, reporting);
        if (pruned is not (BertForSequenceClassification or GPT2ForSequenceClassification or GPT2LMHeadModel))
            throw new GptBertException($"recovery training supports classifiers and language models; {pruned.Architecture} is not one: fine-tune the pruned directory with its own task instead")
                { Parameter = "Train" };
        return TrainingRuns.Finetune(new FinetuneSpec
        {
            Model = prunedDir, Train = spec.Train!, Validation = spec.Validation, Output = spec.Output, Tokenizer = spec.Tokenizer,
            Format = spec.Format, MaxLength = maxLength, Device = spec.Device, Training = spec.Training,
        }, reporting);
    }

    /// <summary>
    /// The model's own training objective over <paramref name="file"/> (every example is both trained on and evaluated):
    /// a classifier on a labelled file (its labels must be the model's), a GPT-2 LM or BERT MLM on text. The second item
    /// owns the token stream, if any.
    /// </summary>
    public static (ITrainingObjective Objective, IDisposable? Owned) ObjectiveFor(PretrainedModel model, ITextTokenizer tok, string file,
        LabeledFormatOptions? format, int maxLength, long seed, Device device)
    {
        if (!File.Exists(file)) throw new GptBertException($"{file} does not exist") { Parameter = "Data" };
        switch (model)
        {
            case BertForSequenceClassification or GPT2ForSequenceClassification:
            {
                var labels = LabelSet.FromLabels(model.Config.Labels);
                var set = LabeledDataset.Load(file, (format ?? new LabeledFormatOptions()) with { RequireTwoLabels = false });
                if (labels.Unseen(set) is { Count: > 0 } unseen)
                    throw new GptBertException($"{file} has label '{unseen[0]}', which {model.Architecture} was not trained on (its labels: {string.Join(", ", labels)})") { Parameter = "Data" };
                var examples = TrainingRuns.ToExamples(set, labels);
                if (examples.Count == 0) throw new GptBertException($"{file} has no labelled examples") { Parameter = "Data" };
                return (new ClassificationObjective(model, tok, examples, examples, labels, maxLength, seed, device), null);
            }
            case GPT2LMHeadModel g:
            {
                var stream = TokenStream.FromTexts(TextCorpus.Open(file).Documents(), tok, tok.EosId);
                return (new CausalLmObjective(g, stream, stream, maxLength, seed, device), stream);
            }
            case BertForMaskedLM or BertForPreTraining:
            {
                var stream = TokenStream.FromTexts(TextCorpus.Open(file).Documents(), tok, tok.SepId);
                return (new MaskedLmObjective(model, tok, stream, stream, maxLength, seed, device), stream);
            }
            default:
                throw new GptBertException($"{model.Architecture} has no head to compute a loss on data with: measure importance on a fine-tuned classifier " +
                    "(labelled data) or a language model (text), or leave the data out to score by weight norms") { Parameter = "Data" };
        }
    }

    static string SelectionMetric(PretrainedModel model) =>
        model is BertForSequenceClassification or GPT2ForSequenceClassification ? "macro_f1" : "loss";

    /// <summary>Validation metrics of the model's own objective on <paramref name="file"/> (classify: loss, accuracy, macro_f1; LMs: loss).</summary>
    public static IReadOnlyDictionary<string, double> Evaluate(PretrainedModel model, ITextTokenizer tok, string file, LabeledFormatOptions? format, int maxLength, Device device)
    {
        var (objective, owned) = ObjectiveFor(model, tok, file, format, maxLength, seed: 0, device);
        using var _ = owned;
        return objective.Evaluate() ?? throw new GptBertException($"{file} has no examples to evaluate on") { Parameter = "Validation" };
    }

    /// <summary>One loss closure per batch over the first <paramref name="examples"/> examples in the objective's seeded order.</summary>
    public static IEnumerable<Func<Tensor>> Losses(ITrainingObjective objective, long examples, int batchSize, long seed)
    {
        var rng = new Random((int)seed);
        for (long c = 0; c < examples; c += batchSize)
        {
            long cursor = c;
            int size = (int)Math.Min(batchSize, examples - c);
            yield return () =>
            {
                var batch = objective.GetBatch(cursor, size, rng); // its tensors belong to the caller's dispose scope
                return objective.Loss(batch);
            };
        }
    }

    /// <summary>Bytes of the weight files in a model directory.</summary>
    public static long WeightsBytes(string dir) =>
        Directory.EnumerateFiles(dir).Where(f => f.EndsWith(".safetensors") || f.EndsWith(".bin")).Sum(f => new FileInfo(f).Length);

    /// <summary>Median wall time of the encoder / decoder stack on one 128-token sequence (no head, no_grad), 7 runs after 3 warm-ups.</summary>
    public static double LatencyMs(PretrainedModel m)
    {
        Func<Tensor, Tensor>? run = m switch
        {
            BertModel b => ids => b.Forward(ids, pool: false).LastHiddenState,
            BertHeadModel b => ids => b.bert.Forward(ids, pool: false).LastHiddenState,
            GPT2LMHeadModel g => ids => g.transformer.Forward(ids),
            GPT2Model g => ids => g.Forward(ids),
            _ => null,
        };
        if (run is null) return double.NaN;
        using var _ = no_grad();
        int t = Math.Min(128, m.Config.MaxPositions);
        using var ids = randint(0, m.Config.VocabSize, [1, t], dtype: int64, generator: new TorchSharp.torch.Generator(0)).to(m.parameters().First().device);
        var times = new List<double>();
        for (int i = 0; i < 10; i++)
        {
            using var scope = NewDisposeScope();
            var sw = Stopwatch.StartNew();
            run(ids);
            if (i >= 3) times.Add(sw.Elapsed.TotalMilliseconds);
        }
        return times.Order().ElementAt(times.Count / 2);
    }
}
