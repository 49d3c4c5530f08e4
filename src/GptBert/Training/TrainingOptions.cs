namespace GptBert.Training;

public enum LrSchedule { Linear, Cosine, Constant }

/// <summary>
/// Everything that decides how a run trains. One budget applies to every family: training stops at
/// whichever of max steps, max tokens or wall-clock time comes first, so GPT and BERT can be given
/// exactly the same compute.
/// </summary>
public sealed record TrainingOptions
{
    public int BatchSize { get; init; } = 16;
    public int GradientAccumulation { get; init; } = 1;
    public double LearningRate { get; init; } = 5e-4;
    public double WeightDecay { get; init; } = 0.01;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double Epsilon { get; init; } = 1e-8;
    /// <summary>Fraction of the budget spent warming the learning rate up linearly from 0.</summary>
    public double WarmupFraction { get; init; } = 0.05;
    public LrSchedule Schedule { get; init; } = LrSchedule.Linear;
    /// <summary>Clip the global gradient norm to this (0 = no clipping).</summary>
    public double ClipNorm { get; init; } = 1.0;
    public long Seed { get; init; } = 42;
    public string Precision { get; init; } = "fp32";

    public long? MaxSteps { get; init; }
    public long? MaxTokens { get; init; }
    public TimeSpan? MaxTime { get; init; }
    /// <summary>Passes over the training data (converted to steps once the data size is known).</summary>
    public double? Epochs { get; init; }

    /// <summary>Evaluate on the validation data every N optimizer steps (0 = only at the end).</summary>
    public int EvalEvery { get; init; } = 100;
    /// <summary>Write a checkpoint every N optimizer steps (0 = only at the end).</summary>
    public int SaveEvery { get; init; } = 100;
    public int KeepCheckpoints { get; init; } = 2;
    /// <summary>Stop after this many evaluations without improvement (0 = never).</summary>
    public int EarlyStoppingPatience { get; init; }
    public long LogEvery { get; init; } = 10;

    public void Validate()
    {
        static void Check(bool ok, string message) { if (!ok) throw new GptBertException(message); }
        Check(BatchSize >= 1, $"--batch-size must be at least 1 (got {BatchSize})");
        Check(GradientAccumulation >= 1, $"--grad-accum must be at least 1 (got {GradientAccumulation})");
        Check(LearningRate > 0 && LearningRate < 1, $"--lr must be in (0, 1) (got {LearningRate})");
        Check(WeightDecay >= 0, $"--weight-decay must be ≥ 0 (got {WeightDecay})");
        Check(WarmupFraction is >= 0 and < 1, $"--warmup must be a fraction in [0, 1) (got {WarmupFraction})");
        Check(ClipNorm >= 0, $"--clip-norm must be ≥ 0 (got {ClipNorm})");
        Check(MaxSteps is null or > 0, $"--max-steps must be positive (got {MaxSteps})");
        Check(MaxTokens is null or > 0, $"--max-tokens must be positive (got {MaxTokens})");
        Check(MaxTime is null || MaxTime > TimeSpan.Zero, $"--max-time must be positive (got {MaxTime})");
        Check(Epochs is null or > 0, $"--epochs must be positive (got {Epochs})");
        Check(MaxSteps is not null || MaxTokens is not null || MaxTime is not null || Epochs is not null,
            "no training budget: give --max-steps, --max-tokens, --max-time or --epochs");
        Check(Precision is "fp32" or "bf16" or "fp16", $"--precision must be fp32, bf16 or fp16 (got {Precision})");
    }

    /// <summary>Turns --epochs into a step budget once the data size is known (max steps, when given, wins).</summary>
    public TrainingOptions Resolve(long examplesPerEpoch) =>
        Epochs is double epochs && MaxSteps is null
            ? this with { MaxSteps = Math.Max(1, (long)Math.Ceiling(epochs * examplesPerEpoch / ((double)BatchSize * GradientAccumulation))) }
            : this;

    /// <summary>Progress in [0, 1]: the largest fraction of any budget used so far.</summary>
    public double Progress(long step, long tokens, TimeSpan elapsed)
    {
        double p = 0;
        if (MaxSteps is long s) p = Math.Max(p, (double)step / s);
        if (MaxTokens is long t) p = Math.Max(p, (double)tokens / t);
        if (MaxTime is TimeSpan m) p = Math.Max(p, elapsed / m);
        return Math.Min(1, p);
    }

    /// <summary>Learning rate at a point of the budget: linear warm-up, then linear or cosine decay to 0.</summary>
    public double LearningRateAt(double progress)
    {
        if (WarmupFraction > 0 && progress < WarmupFraction) return LearningRate * progress / WarmupFraction;
        double decay = WarmupFraction >= 1 ? 1 : (progress - WarmupFraction) / (1 - WarmupFraction);
        decay = Math.Clamp(decay, 0, 1);
        return Schedule switch
        {
            LrSchedule.Constant => LearningRate,
            LrSchedule.Cosine => LearningRate * 0.5 * (1 + Math.Cos(Math.PI * decay)),
            _ => LearningRate * (1 - decay),
        };
    }
}
