using System.Text.RegularExpressions;

namespace GptBert.Cli;

/// <summary>A mistake in how the command was called (conflicting or missing options): exit code 2.</summary>
public sealed class UsageException(string message) : GptBertException(message);

/// <summary>Process exit codes of gptbert.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>Bad input, missing file or model, runtime problem the user can fix.</summary>
    public const int Error = 1;
    /// <summary>Bad command line (unknown option, bad option value, conflicting options).</summary>
    public const int Usage = 2;
}

/// <summary>
/// The library's errors in the CLI's words. A <see cref="GptBertException"/> names settings by their library names
/// (<see cref="GptBertException.Parameters"/>: "MaxNewTokens must be at least 1 (got 0)"); the CLI prints each as the
/// flag that sets it ("--max-new-tokens must be at least 1 (got 0)").
/// </summary>
public static class CliErrors
{
    /// <summary>
    /// Library setting name (<see cref="GptBertException.Parameter"/>, <see cref="GptBertException.RelatedParameters"/>)
    /// → the flag that sets it. A library message that names a new setting needs one line here
    /// (CliErrorTests checks that every name the library throws with has one).
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> Flags = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        // models, tokenizers and inference
        ["Model"] = "--model",
        // encoder-decoder warm start
        ["Encoder"] = "--encoder",
        ["Decoder"] = "--decoder",
        ["Tokenizer"] = "--tokenizer",
        ["Device"] = "--device",
        ["Threads"] = "--threads",
        ["MaxLength"] = "--max-length",
        ["DocStride"] = "--doc-stride",
        ["PromptFormat"] = "--prompt-format",
        ["Sentences"] = "--sentences",
        // optimize
        ["Data"] = "--data",
        ["Variants"] = "--variants",
        ["PruneHeads"] = "--prune-heads",
        ["PruneFfn"] = "--prune-ffn",
        ["TrainBudget"] = "--distill-budget",
        ["BatchSize"] = "--batch-size",
        ["Overflow.Refuse"] = "--no-truncate",
        // generation
        ["Prompt"] = "--prompt",
        ["MaxNewTokens"] = "--max-new-tokens",
        ["Greedy"] = "--greedy",
        ["Temperature"] = "--temperature",
        ["TopK"] = "--top-k",
        ["TopP"] = "--top-p",
        ["RepetitionPenalty"] = "--repetition-penalty",
        ["Seed"] = "--seed",
        ["Stop"] = "--stop",
        ["MaxBatchSize"] = "--max-batch-size",
        ["NumBeams"] = "--num-beams",
        ["LengthPenalty"] = "--length-penalty",
        // retrieval
        ["ChunkTokens"] = "--chunk-tokens",
        ["ChunkOverlap"] = "--chunk-overlap",
        ["Input"] = "--input",
        ["Index"] = "--index",
        ["Approximate"] = "--approximate",
        ["Lexical"] = "--mode",
        ["Template"] = "--template",
        ["Negatives"] = "--negatives",
        ["Train"] = "--train",
        ["SkipTop"] = "--skip-top",
        // RAG evaluation and generate-then-rerank
        ["Data"] = "--data",
        ["Cutoffs"] = "--recall-at",
        ["NumCandidates"] = "--num-candidates",
        ["RerankDepth"] = "--rerank-depth",
        // export
        ["Opset"] = "--opset",
        ["Backend"] = "--backend",
        ["Architecture"] = "--head",
        // labeled data
        ["Format"] = "--format",
        ["TextColumn"] = "--text-column",
        ["PairColumn"] = "--pair-column",
        ["LabelColumn"] = "--label-column",
        ["Strict"] = "--strict",
        // tokenizer training
        ["Kind"] = "--kind",
        ["VocabSize"] = "--vocab-size",
        ["Output"] = "--output",
        // pretrain and finetune
        ["Arch"] = "--arch",
        ["CausalRatio"] = "--causal-ratio",
        ["Layers"] = "--layers",
        ["Hidden"] = "--hidden",
        ["Heads"] = "--heads",
        ["Shape"] = "--layers/--hidden/--heads",
        ["Validation"] = "--validation",
        ["Augment"] = "--augment",
        ["Resume"] = "--resume",
        ["GradientAccumulation"] = "--grad-accum",
        ["LearningRate"] = "--lr",
        ["WeightDecay"] = "--weight-decay",
        ["WarmupFraction"] = "--warmup",
        ["ClipNorm"] = "--clip-norm",
        ["MaxSteps"] = "--max-steps",
        ["MaxTokens"] = "--max-tokens",
        ["MaxTime"] = "--max-time",
        ["Epochs"] = "--epochs",
        ["Precision"] = "--precision",
        // compare and choose
        ["Task"] = "--task",
        ["Test"] = "--test",
        ["Gpt"] = "--gpt",
        ["Bert"] = "--bert",
        ["GptBert"] = "--gpt-bert",
        ["FromScratch"] = "--from-scratch",
        ["ScratchParameters"] = "--params",
        ["ScratchVocabSize"] = "--vocab-size",
        ["Seeds"] = "--seeds",
        ["BudgetSteps"] = "--max-steps",
        ["BudgetTime"] = "--max-time",
        ["BudgetTokens"] = "--max-tokens",
        ["BudgetSweep"] = "--budget-sweep",
        // distill
        ["Teacher"] = "--teacher",
        ["Student"] = "--student",
        ["Alpha"] = "--alpha",
        // prune
        ["Data"] = "--data",
        ["Ffn"] = "--ffn",
        ["Magnitude"] = "--magnitude",
    };

    /// <summary>The message as the CLI prints it: every setting the exception names, written as its flag.</summary>
    public static string Message(Exception e)
    {
        if (e is not GptBertException g) return e.Message;
        var message = g.Message;
        foreach (var name in g.Parameters.Distinct())
            if (Flags.TryGetValue(name, out var flag))
                // The name as a word of its own: "MaxLength" in "MaxLength must be", not in "MaxLengthX", "--MaxLength"
                // or a path such as "runs/Bert/x" or "Bert.txt" that a message quotes.
                message = Regex.Replace(message, $@"(?<![\w.\-/\\]){Regex.Escape(name)}(?![\w\-/\\]|\.\w)", flag.Replace("$", "$$"));
        return message;
    }

    /// <summary>A library error about the command line's values, as a usage error (exit code 2) in the CLI's words.</summary>
    public static UsageException Usage(GptBertException e) => e as UsageException ?? new UsageException(Message(e));
}
