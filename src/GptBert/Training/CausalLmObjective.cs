using GptBert.Models;
using static TorchSharp.torch;

namespace GptBert.Training;

/// <summary>
/// GPT pretraining: next-token prediction on fixed-length blocks cut from the token stream
/// (non-overlapping blocks of BlockSize + 1 tokens, shuffled per epoch).
/// </summary>
public sealed class CausalLmObjective : ITrainingObjective
{
    readonly GPT2LMHeadModel model;
    readonly TokenStream train;
    readonly TokenStream? validation;
    readonly int blockSize;
    readonly EpochOrder order;
    readonly Device device;
    public int EvalBatches { get; init; } = 20;
    public int EvalBatchSize { get; init; } = 8;

    public CausalLmObjective(GPT2LMHeadModel model, TokenStream train, TokenStream? validation, int blockSize, long seed, Device device)
    {
        if (blockSize > model.transformer.Cfg.NPositions)
            throw new GptBertException($"MaxLength {blockSize} exceeds the model's {model.transformer.Cfg.NPositions} positions") { Parameter = "MaxLength" };
        if (train.Length < blockSize + 1)
            throw new GptBertException($"the training corpus has {train.Length} tokens, fewer than one block of {blockSize + 1}; add text or lower MaxLength") { RelatedParameters = ["MaxLength"] };
        this.model = model; this.train = train; this.validation = validation; this.blockSize = blockSize; this.device = device;
        order = new EpochOrder(ExamplesPerEpoch, seed);
    }

    public PretrainedModel Model => model;
    public long ExamplesPerEpoch => (train.Length - 1) / blockSize;
    public string SelectionMetric => "loss";
    public bool HigherIsBetter => false;

    public TrainBatch GetBatch(long cursor, int batchSize, Random rng)
    {
        var ids = new long[batchSize * (blockSize + 1)];
        for (int b = 0; b < batchSize; b++)
            train.Read(order[cursor + b] * blockSize, ids.AsSpan(b * (blockSize + 1), blockSize + 1));
        return Blocks(ids, batchSize);
    }

    TrainBatch Blocks(long[] ids, int batchSize)
    {
        using var all = tensor(ids, [batchSize, blockSize + 1]);
        // Inputs are tokens 0..T-1, labels 1..T: the loss needs no further shift.
        return new TrainBatch
        {
            InputIds = all[.., ..blockSize].contiguous().to(device),
            Labels = all[.., 1..].contiguous().to(device),
            Tokens = (long)batchSize * blockSize,
        };
    }

    public Tensor Loss(TrainBatch batch)
    {
        var logits = model.Forward(batch.InputIds); // (B, T, V)
        return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), batch.Labels.reshape(-1));
    }

    /// <summary>Mean next-token loss over evenly spaced held-out blocks (the same blocks every time).</summary>
    public IReadOnlyDictionary<string, double>? Evaluate()
    {
        if (validation is null || validation.Length < blockSize + 1) return null;
        long blocks = (validation.Length - 1) / blockSize;
        int n = (int)Math.Min(blocks, (long)EvalBatches * EvalBatchSize);
        double sum = 0; int count = 0;
        bool wasTraining = model.training;
        model.eval();
        using (no_grad())
            for (int start = 0; start < n; start += EvalBatchSize)
            {
                int bs = Math.Min(EvalBatchSize, n - start);
                var ids = new long[bs * (blockSize + 1)];
                for (int b = 0; b < bs; b++)
                    validation.Read((start + b) * blocks / n * blockSize, ids.AsSpan(b * (blockSize + 1), blockSize + 1));
                using var scope = NewDisposeScope();
                using var batch = Blocks(ids, bs);
                sum += Loss(batch).item<float>() * bs; count += bs;
            }
        model.train(wasTraining);
        double loss = sum / count;
        return new Dictionary<string, double> { ["loss"] = loss, ["perplexity"] = Math.Exp(loss) };
    }
}
