using GptBert.Models;
using static TorchSharp.torch;

namespace GptBert.Training;

/// <summary>One micro-batch on the model's device.</summary>
public sealed class TrainBatch : IDisposable
{
    public required Tensor InputIds { get; init; }
    public Tensor? AttentionMask { get; init; }
    public Tensor? TokenTypeIds { get; init; }
    public required Tensor Labels { get; init; }
    public Tensor? NextSentenceLabels { get; init; }
    /// <summary>Run the model with bidirectional attention (GPT-BERT's masked batches); false: its usual attention.</summary>
    public bool Bidirectional { get; init; }
    /// <summary>Real (non-padding) tokens in the batch: what token budgets count.</summary>
    public long Tokens { get; init; }

    public void Dispose()
    {
        InputIds.Dispose(); AttentionMask?.Dispose(); TokenTypeIds?.Dispose(); Labels.Dispose(); NextSentenceLabels?.Dispose();
    }
}

/// <summary>
/// What is being learned: builds deterministic batches, computes the loss, evaluates. The trainer is the
/// same for every objective, so GPT and BERT train under one loop, one budget and one checkpoint format.
/// </summary>
public interface ITrainingObjective
{
    PretrainedModel Model { get; }
    /// <summary>Training examples per epoch (blocks for language modelling, rows for classification).</summary>
    long ExamplesPerEpoch { get; }
    /// <summary>
    /// The micro-batch of <paramref name="batchSize"/> examples starting at <paramref name="cursor"/> in the
    /// (seeded, per-epoch shuffled) example order. Randomness beyond the order (masking) comes from <paramref name="rng"/>.
    /// </summary>
    TrainBatch GetBatch(long cursor, int batchSize, Random rng);
    Tensor Loss(TrainBatch batch);
    /// <summary>Validation metrics ("loss" always, task metrics as they apply); null when there is no validation data.</summary>
    IReadOnlyDictionary<string, double>? Evaluate();
    /// <summary>The metric that picks the best checkpoint and drives early stopping.</summary>
    string SelectionMetric { get; }
    bool HigherIsBetter { get; }
}

/// <summary>The evaluation loop every objective shares: eval mode, no gradients, one dispose scope per batch, mode restored.</summary>
public static class EvalBatches
{
    /// <summary>Calls <paramref name="body"/>(start, n) for consecutive batches of at most <paramref name="batchSize"/> of <paramref name="count"/> items.</summary>
    public static void Run(TorchSharp.torch.nn.Module model, int count, int batchSize, Action<int, int> body)
    {
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using (no_grad())
                for (int start = 0; start < count; start += batchSize)
                {
                    using var scope = NewDisposeScope();
                    body(start, Math.Min(batchSize, count - start));
                }
        }
        finally { model.train(wasTraining); }
    }
}

/// <summary>Seeded per-epoch permutations: example order is a pure function of (seed, cursor), so resuming is exact.</summary>
public sealed class EpochOrder(long count, long seed)
{
    readonly Dictionary<long, long[]> cache = [];

    public long this[long cursor]
    {
        get
        {
            long epoch = cursor / count;
            if (!cache.TryGetValue(epoch, out var perm))
            {
                if (cache.Count > 2) cache.Clear();
                perm = new long[count];
                for (long i = 0; i < count; i++) perm[i] = i;
                new Data.SeededRandom(Seeds.Mix(seed, epoch, 0x5eed)).Shuffle((IList<long>)perm);
                cache[epoch] = perm;
            }
            return perm[cursor % count];
        }
    }
}
