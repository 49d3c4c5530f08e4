using GptBert.Models;
using GptBert.Tokenizers;
using static TorchSharp.torch;

namespace GptBert.Training;

/// <summary>
/// GPT-BERT pretraining (Charpentier &amp; Samuel 2024, arXiv 2410.24159; see Models/GptBert.cs): each batch is causal with
/// probability <see cref="CausalRatio"/> (next-token prediction, causal attention), otherwise masked next-token prediction
/// (MNTP): BERT's masking on the block, bidirectional attention, and the label of a masked token at position i put at
/// position i − 1, so both objectives train the same next-token head. Blocks are cut from the token stream as for GPT.
/// </summary>
public sealed class GptBertObjective : ITrainingObjective
{
    readonly GPT2LMHeadModel model;
    readonly TokenStream train;
    readonly TokenStream? validation;
    readonly int blockSize;
    readonly MlmMasking masking;
    readonly EpochOrder order;
    readonly Device device;
    readonly long seed;
    public double CausalRatio { get; }
    public int EvalBatches { get; init; } = 20;
    public int EvalBatchSize { get; init; } = 8;

    /// <param name="causalRatio">fraction of causal batches, in [0, 1] (the paper's 1:15 is 1/16).</param>
    public GptBertObjective(GPT2LMHeadModel model, ITextTokenizer tokenizer, TokenStream train, TokenStream? validation, int blockSize,
        long seed, Device device, double causalRatio = GptBertSettings.DefaultCausalRatio, double maskProbability = 0.15)
    {
        if (!(causalRatio >= 0 && causalRatio <= 1))
            throw new GptBertException($"CausalRatio is the fraction of causal batches and must be between 0 and 1 (got {causalRatio}); the paper's 1:15 is 0.0625") { Parameter = "CausalRatio" };
        if (blockSize > model.transformer.Cfg.NPositions)
            throw new GptBertException($"MaxLength {blockSize} exceeds the model's {model.transformer.Cfg.NPositions} positions") { Parameter = "MaxLength" };
        if (train.Length < blockSize + 1)
            throw new GptBertException($"the training corpus has {train.Length} tokens, fewer than one block of {blockSize + 1}; add text or lower MaxLength") { RelatedParameters = ["MaxLength"] };
        var bert = MlmMasking.For(tokenizer);
        masking = new MlmMasking { MaskId = bert.MaskId, VocabSize = bert.VocabSize, SpecialIds = bert.SpecialIds, Probability = maskProbability };
        this.model = model; this.train = train; this.validation = validation; this.blockSize = blockSize; this.device = device; this.seed = seed;
        CausalRatio = causalRatio;
        order = new EpochOrder(ExamplesPerEpoch, seed);
    }

    public PretrainedModel Model => model;
    public long ExamplesPerEpoch => (train.Length - 1) / blockSize;
    public string SelectionMetric => "loss";
    public bool HigherIsBetter => false;

    /// <summary>
    /// One MNTP example from a block of T + 1 tokens: the input is tokens 0..T−1 with BERT's masking applied to positions
    /// 1..T−1 (position 0 has no position before it to predict from); labels[i − 1] is the original token i where i was
    /// chosen, −100 elsewhere (and at T − 1).
    /// </summary>
    public static (long[] Input, long[] Labels) MaskedNextToken(ReadOnlySpan<long> block, MlmMasking masking, Random rng)
    {
        int T = block.Length - 1;
        var input = block[..T].ToArray();
        var chosen = masking.Apply(input.AsSpan(1), rng); // chosen[k] is about input position k + 1
        var labels = new long[T];
        chosen.CopyTo(labels, 0);
        labels[T - 1] = -100;
        return (input, labels);
    }

    public TrainBatch GetBatch(long cursor, int batchSize, Random rng)
    {
        bool causal = rng.NextDouble() < CausalRatio;
        return Build(train, Enumerable.Range(0, batchSize).Select(b => order[cursor + b] * blockSize).ToArray(), causal, rng);
    }

    TrainBatch Build(TokenStream stream, long[] starts, bool causal, Random rng)
    {
        int B = starts.Length, T = blockSize;
        var ids = new long[B * T]; var labels = new long[B * T];
        var block = new long[T + 1];
        for (int b = 0; b < B; b++)
        {
            stream.Read(starts[b], block);
            if (causal)
            {
                block.AsSpan(0, T).CopyTo(ids.AsSpan(b * T));
                block.AsSpan(1, T).CopyTo(labels.AsSpan(b * T)); // labels are already shifted: position t predicts token t + 1
            }
            else
            {
                var (input, lab) = MaskedNextToken(block, masking, rng);
                input.CopyTo(ids, b * T); lab.CopyTo(labels, b * T);
            }
        }
        return new TrainBatch
        {
            InputIds = tensor(ids, [B, T], device: device), Labels = tensor(labels, [B, T], device: device),
            Bidirectional = !causal, Tokens = (long)B * T,
        };
    }

    public Tensor Loss(TrainBatch batch)
    {
        var logits = model.Forward(batch.InputIds, bidirectional: batch.Bidirectional); // (B, T, V)
        return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), batch.Labels.reshape(-1), ignore_index: -100);
    }

    /// <summary>"loss" (and "perplexity"): the causal next-token loss on held-out blocks, as for GPT; "masked_loss": the MNTP loss on the same blocks with a fixed masking seed.</summary>
    public IReadOnlyDictionary<string, double>? Evaluate()
    {
        if (validation is null || validation.Length < blockSize + 1) return null;
        long blocks = (validation.Length - 1) / blockSize;
        int n = (int)Math.Min(blocks, (long)EvalBatches * EvalBatchSize);
        var rng = new Random(Seeds.Mix(seed, 0x6b7b));
        double causalSum = 0, maskedSum = 0; int count = 0;
        bool wasTraining = model.training;
        model.eval();
        using (no_grad())
            for (int start = 0; start < n; start += EvalBatchSize)
            {
                int bs = Math.Min(EvalBatchSize, n - start);
                var starts = Enumerable.Range(start, bs).Select(i => (long)i * blocks / n * blockSize).ToArray();
                using var scope = NewDisposeScope();
                using (var c = Build(validation, starts, causal: true, rng)) causalSum += Loss(c).item<float>() * bs;
                using (var m = Build(validation, starts, causal: false, rng)) maskedSum += Loss(m).item<float>() * bs;
                count += bs;
            }
        model.train(wasTraining);
        double loss = causalSum / count;
        return new Dictionary<string, double> { ["loss"] = loss, ["perplexity"] = Math.Exp(loss), ["masked_loss"] = maskedSum / count };
    }
}
