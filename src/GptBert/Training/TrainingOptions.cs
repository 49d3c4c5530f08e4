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
    /// <summary>
    /// Also evaluate each time the run crosses k/N of its budget (k = 1..N; 0 = off): N points of the validation curve
    /// at the same fractions of the budget whatever its unit (steps, tokens or time).
    /// </summary>
    public int EvalPoints { get; init; }
    /// <summary>Time spent evaluating does not count toward <see cref="MaxTime"/> (a larger model's slower evaluations do not eat its training time).</summary>
    public bool EvaluationOutsideTimeBudget { get; init; }
    /// <summary>Write a checkpoint every N optimizer steps (0 = only at the end).</summary>
    public int SaveEvery { get; init; } = 100;
    public int KeepCheckpoints { get; init; } = 2;
    /// <summary>Stop after this many evaluations without improvement (0 = never).</summary>
    public int EarlyStoppingPatience { get; init; }
    public long LogEvery { get; init; } = 10;

    public void Validate()
    {
        if (BatchSize < 1) throw new GptBertException($"BatchSize must be at least 1 (got {BatchSize})") { Parameter = "BatchSize" };
        if (GradientAccumulation < 1) throw new GptBertException($"GradientAccumulation must be at least 1 (got {GradientAccumulation})") { Parameter = "GradientAccumulation" };
        if (!(LearningRate > 0 && LearningRate < 1)) throw new GptBertException($"LearningRate must be in (0, 1) (got {LearningRate})") { Parameter = "LearningRate" };
        if (!(WeightDecay >= 0)) throw new GptBertException($"WeightDecay must be ≥ 0 (got {WeightDecay})") { Parameter = "WeightDecay" };
        if (WarmupFraction is not (>= 0 and < 1)) throw new GptBertException($"WarmupFraction must be a fraction in [0, 1) (got {WarmupFraction})") { Parameter = "WarmupFraction" };
        if (!(ClipNorm >= 0)) throw new GptBertException($"ClipNorm must be ≥ 0 (got {ClipNorm})") { Parameter = "ClipNorm" };
        if (MaxSteps is <= 0) throw new GptBertException($"MaxSteps must be positive (got {MaxSteps})") { Parameter = "MaxSteps" };
        if (MaxTokens is <= 0) throw new GptBertException($"MaxTokens must be positive (got {MaxTokens})") { Parameter = "MaxTokens" };
        if (MaxTime is { } t && t <= TimeSpan.Zero) throw new GptBertException($"MaxTime must be positive (got {MaxTime})") { Parameter = "MaxTime" };
        if (Epochs is not (null or > 0)) throw new GptBertException($"Epochs must be positive (got {Epochs})") { Parameter = "Epochs" };
        if (EvalPoints < 0) throw new ArgumentOutOfRangeException(nameof(EvalPoints), EvalPoints, "must be ≥ 0"); // set by code, not by a flag
        if (MaxSteps is null && MaxTokens is null && MaxTime is null && Epochs is null)
            throw new GptBertException("no training budget: give MaxSteps, MaxTokens, MaxTime or Epochs")
            { RelatedParameters = [nameof(MaxSteps), nameof(MaxTokens), nameof(MaxTime), nameof(Epochs)] };
        if (Precision is not ("fp32" or "bf16" or "fp16")) throw new GptBertException($"Precision must be fp32, bf16 or fp16 (got {Precision})") { Parameter = "Precision" };
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
