namespace GptBert.Compare;

// The records every part of the comparison shares: the runner fills them, the decision reads them,
// the report renders them, `--json` serializes them. Figures marked estimated came from the cost model.

/// <summary>Classify, generate and search; qa (extractive BERT vs generative GPT question answering) and ner (token classification), <see cref="TaskComparison"/>.</summary>
/// Summarize, translate and chat (text to text: GPT fine-tuned on prompt → completion or chat turns; summarize also extractive BERT), see TextTaskComparison.cs.
public enum CompareTask { Classify, Generate, Search, Qa, Ner, Summarize, Translate, Chat }

/// <summary>A figure measured once per seed: mean, sample standard deviation and the values.</summary>
public sealed record Measured(double Mean, double Std, IReadOnlyList<double> Values)
{
    public static Measured Of(IReadOnlyList<double> values)
    {
        if (values.Count == 0) return new Measured(double.NaN, double.NaN, values);
        double mean = values.Average();
        double std = values.Count > 1 ? Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1)) : 0;
        return new Measured(mean, std, values);
    }

    public static Measured Single(double v) => new(v, 0, [v]);
    public int N => Values.Count;
    /// <summary>Standard error of the mean (0 with one value: nothing is known about the spread).</summary>
    public double StdError => N > 1 ? Std / Math.Sqrt(N) : 0;
}

/// <summary>One training curve (one seed): train loss by step, validation loss by step.</summary>
public sealed record TrainingCurve(int Seed, IReadOnlyList<double> Steps, IReadOnlyList<double> TrainLoss,
    IReadOnlyList<double> EvalSteps, IReadOnlyList<double> EvalLoss)
{
    /// <summary>The validation metric the run selects its model by (macro_f1 for classify, loss for generate); null when none.</summary>
    public string? Metric { get; init; }
    /// <summary>Per evaluation (same order as <see cref="EvalSteps"/>): that metric, training tokens so far, seconds so far and the fraction of the budget used.</summary>
    public IReadOnlyList<double> EvalMetric { get; init; } = [];
    public IReadOnlyList<double> EvalTokens { get; init; } = [];
    public IReadOnlyList<double> EvalSeconds { get; init; } = [];
    public IReadOnlyList<double> EvalProgress { get; init; } = [];
}

/// <summary>
/// Whether a candidate's validation metric was still rising at the end of its budget (<see cref="BudgetCurves.Trend"/>):
/// the mean gain over the last 20% of the budget, the noise threshold it was held against, and the verdict of the rule.
/// </summary>
public sealed record BudgetTrend(string Metric, bool StillImproving, double Gain, double Threshold, int Seeds);

/// <summary>What was measured (or estimated) for one candidate model.</summary>
public sealed record CandidateResult
{
    public required string Name { get; init; }
    /// <summary>"gpt" or "bert".</summary>
    public required string Family { get; init; }
    /// <summary>Built-in name, directory, or "scratch".</summary>
    public required string Source { get; init; }
    public required string Architecture { get; init; }
    /// <summary>False when the family cannot do the task at all (BERT for generation); the reason says why.</summary>
    public bool Supported { get; init; } = true;
    public string? NotSupportedReason { get; init; }

    public long Parameters { get; init; }
    public long SizeOnDiskBytes { get; init; }
    /// <summary>Task quality by metric name: accuracy, macro_f1 (classify); loss_per_char, perplexity (generate); recall@1, recall@5, mrr (search);
    /// squad_f1, squad_exact_match (qa: as fractions, not percent); entity_f1, entity_precision, entity_recall, token_accuracy (ner: seqeval strict IOB2);
    /// rougeL, rouge1, rouge2 (summarize: F1); bleu, chrf (translate: as fractions, sacreBLEU prints them ×100); loss_per_token, perplexity (chat: assistant turns).</summary>
    public IReadOnlyDictionary<string, Measured> Quality { get; init; } = new Dictionary<string, Measured>();
    public Measured? TrainingSeconds { get; init; }
    /// <summary>Process CPU seconds of each training run (same order as <see cref="TrainingSeconds"/>): CPU per wall second shows contention.</summary>
    public Measured? TrainingCpuSeconds { get; init; }
    /// <summary>Wall and process CPU seconds of the speed probe (0 when none ran).</summary>
    public double ProbeSeconds { get; init; }
    public double ProbeCpuSeconds { get; init; }
    public double LatencyP50Ms { get; init; }
    public double LatencyP95Ms { get; init; }
    /// <summary>Examples per second at <see cref="BestBatchSize"/>.</summary>
    public double ThroughputPerSecond { get; init; }
    public int BestBatchSize { get; init; } = 1;
    /// <summary>Peak resident memory of the inference probe, measured (<see cref="MemoryMethod"/> says how), in MiB.</summary>
    public double PeakMemoryMb { get; init; }
    /// <summary>The cost model's estimate of peak inference memory (weights + activations at the best batch), kept for reference.</summary>
    public double PeakMemoryEstimateMb { get; init; }
    /// <summary>Peak resident memory of each training run (same order as <see cref="TrainingSeconds"/>), in MiB.</summary>
    public Measured? TrainingPeakMemoryMb { get; init; }
    /// <summary>How peak memory was measured: "child process" (the probe alone in a fresh process) or "in-process, VmHWM reset".</summary>
    public string? MemoryMethod { get; init; }
    /// <summary>The directory of the model measured (the first seed's run, or the pretrained model used as is); what `--optimize` builds variants of. Not in the JSON.</summary>
    [System.Text.Json.Serialization.JsonIgnore] public string? ModelDirectory { get; init; }
    /// <summary>FLOPs per token of one forward pass (cost model).</summary>
    public double FlopsPerToken { get; init; }
    public IReadOnlyList<int> Seeds { get; init; } = [];
    public IReadOnlyList<TrainingCurve> Curves { get; init; } = [];
    /// <summary>Still improving at the end of the budget? (null: the runs were not evaluated during training.)</summary>
    public BudgetTrend? Trend { get; init; }
    /// <summary>Names of the figures above that are estimates from the cost model rather than measurements.</summary>
    public IReadOnlySet<string> Estimated { get; init; } = new HashSet<string>();
}

/// <summary>What the data looks like, computed from the data itself.</summary>
public sealed record DatasetProfile
{
    public int TrainExamples { get; init; }
    public int ValidationExamples { get; init; }
    public int TestExamples { get; init; }
    /// <summary>Label → count in training data (classification).</summary>
    public IReadOnlyDictionary<string, int> LabelCounts { get; init; } = new Dictionary<string, int>();
    /// <summary>Count of the largest class / count of the smallest (1 = balanced).</summary>
    public double ImbalanceRatio { get; init; } = 1;
    public double MajorityBaselineAccuracy { get; init; }
    /// <summary>Text length in characters: mean, median, p95, max.</summary>
    public double MeanChars { get; init; }
    public double MedianChars { get; init; }
    public double P95Chars { get; init; }
    public int MaxChars { get; init; }
    /// <summary>Text length in tokens of the comparison's tokenizer(s): p95.</summary>
    public double P95Tokens { get; init; }
    /// <summary>Unicode scripts present, with their share of letters (e.g. Latin 0.98, Han 0.02).</summary>
    public IReadOnlyDictionary<string, double> Scripts { get; init; } = new Dictionary<string, double>();
    public bool HasPairs { get; init; }
    /// <summary>Per data file read: its rows and the rows left out because they could not be used (none skipped: an empty kinds list).</summary>
    public IReadOnlyList<GptBert.Data.SkippedRows> Skipped { get; init; } = [];
}

/// <summary>The user's constraints; null means no constraint.</summary>
public sealed record Requirements
{
    public double? LatencyMs { get; init; }
    public double? MemoryMb { get; init; }
    public double? DiskMb { get; init; }
    public bool NeedsGeneration { get; init; }
    public string Device { get; init; } = "cpu";
    public int Cores { get; init; } = Environment.ProcessorCount;
}

/// <summary>"gpt", "bert", "either", "neither" or "baseline", with the reasons that led there.</summary>
public sealed record Verdict(string Choice, IReadOnlyList<string> Reasons)
{
    /// <summary>
    /// The GPT-or-BERT choice as it would be without baselines ("gpt", "bert", "either" or "neither"); equal to
    /// <see cref="Choice"/> unless a baseline was recommended instead.
    /// </summary>
    public string? TransformerChoice { get; init; }
    /// <summary>True when a candidate other than the leader was still improving at the end of the budget: more budget may change the order.</summary>
    public bool BudgetDependent { get; init; }
}

/// <summary>Everything a comparison produced: what the console prints, the report renders and --json emits.</summary>
public sealed record ComparisonReport
{
    public required CompareTask Task { get; init; }
    public required DatasetProfile Profile { get; init; }
    public required Requirements Requirements { get; init; }
    public required IReadOnlyList<CandidateResult> Candidates { get; init; }
    /// <summary>Baselines measured next to the candidates (classify: majority class, TF-IDF + linear, frozen embeddings + LR); family "baseline".</summary>
    public IReadOnlyList<CandidateResult> Baselines { get; init; } = [];
    public required Verdict Verdict { get; init; }
    /// <summary>The command line that produced this report, exactly.</summary>
    public string Command { get; init; } = "";
    /// <summary>GptBert, TorchSharp/libtorch, .NET versions.</summary>
    public string Versions { get; init; } = "";
    public string Machine { get; init; } = "";
    public DateTime Date { get; init; } = DateTime.UtcNow;
    /// <summary>With a budget sweep: the verdict and quality at each budget and the crossovers (null without one).</summary>
    public BudgetSweepResult? Sweep { get; init; }
    /// <summary>Warnings about how comparable the figures are (contention: a run that got markedly less CPU than the others).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];
    /// <summary>The shared budget each candidate trained under, in words (e.g. "300 steps").</summary>
    public string Budget { get; init; } = "";
    /// <summary>Wall time of the comparison beyond the training and evaluation it ran, as a fraction of the total.</summary>
    public double OverheadFraction { get; init; }
    public double TotalSeconds { get; init; }
}
