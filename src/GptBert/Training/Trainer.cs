using System.Diagnostics;
using System.Text.Json;
using GptBert.Engine;
using GptBert.Models;
using GptBert.Tokenizers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GptBert.Training;

/// <summary>One line of the run log and of progress reporting.</summary>
public sealed record TrainingEvent(string Kind, long Step, long Tokens, double ElapsedSeconds, double? Loss = null,
    double? LearningRate = null, double? TokensPerSecond = null, double Progress = 0, IReadOnlyDictionary<string, double>? Metrics = null,
    string? Message = null);

public sealed record TrainingResult(long Steps, long Tokens, TimeSpan Elapsed, double? FinalTrainLoss,
    IReadOnlyDictionary<string, double>? BestMetrics, long? BestStep, string StopReason, string OutputDirectory);

/// <summary>
/// The one training loop for every objective and family: AdamW with decoupled weight decay (none on
/// biases and LayerNorm), warm-up then decay over a shared budget, gradient accumulation and clipping,
/// periodic evaluation with early stopping, atomic checkpoints and exact resume.
/// Determinism: the data order is a function of (seed, example cursor), and step s draws its dropout and
/// masking randomness from seeds derived from (seed, s), so a resumed run repeats an uninterrupted one.
/// </summary>
public sealed class Trainer(ITrainingObjective objective, ITextTokenizer tokenizer, TrainingOptions options, string outputDirectory)
{
    public Action<TrainingEvent>? OnEvent { get; init; }
    /// <summary>Test hook: called at the start of every step; throwing simulates a crash.</summary>
    public Action<long>? BeforeStep { get; init; }

    const string StateFile = "trainer_state.json";
    const string OptimizerFile = "optimizer.bin";

    sealed record State(long Step, long Tokens, double ElapsedSeconds, double? BestMetric, long? BestStep,
        Dictionary<string, double>? BestMetrics, int EvalsWithoutImprovement, long Seed,
        double? LossScale = null, int LossScaleCleanSteps = 0, long SkippedSteps = 0);

    public TrainingResult Train(bool resume = false)
    {
        options.Validate();
        var model = objective.Model;
        Directory.CreateDirectory(outputDirectory);
        long examplesPerStep = (long)options.BatchSize * options.GradientAccumulation;
        var opts = options.Resolve(objective.ExamplesPerEpoch);

        // Mixed precision: matrix products in 16 bits, weights, optimizer and losses in fp32 (see MixedPrecision).
        var halfType = MixedPrecision.Resolve(opts.Precision, model.parameters().First().device);
        var scaler = halfType == ScalarType.Float16 ? new LossScaler() : null;
        using var optimizer = CreateOptimizer(model, opts);
        var state = new State(0, 0, 0, null, null, null, 0, opts.Seed);
        if (resume && LatestCheckpoint(outputDirectory) is { } ckpt)
        {
            state = LoadCheckpoint(ckpt, model, optimizer);
            if (state.Seed != opts.Seed)
                throw new GptBertException($"Resume: {ckpt} was trained with Seed {state.Seed}, not {opts.Seed}; pass the same seed to continue it")
                { Parameter = "Seed", RelatedParameters = ["Resume"] };
            if (scaler is not null && state.LossScale is double ls) scaler.Restore(ls, state.LossScaleCleanSteps);
            Emit(new TrainingEvent("resume", state.Step, state.Tokens, state.ElapsedSeconds, Message: $"resumed from {ckpt}"));
        }
        else if (resume)
            Emit(new TrainingEvent("resume", 0, 0, 0, Message: "no checkpoint found; starting from scratch"));

        model.train();
        var clock = Stopwatch.StartNew();
        double elapsedBefore = state.ElapsedSeconds;
        double Elapsed() => elapsedBefore + clock.Elapsed.TotalSeconds;
        double evalSeconds = 0; // time spent evaluating (left out of a time budget with EvaluationOutsideTimeBudget)
        TimeSpan BudgetElapsed() => TimeSpan.FromSeconds(Elapsed() - (opts.EvaluationOutsideTimeBudget ? evalSeconds : 0));
        long step = state.Step, tokens = state.Tokens, skipped = state.SkippedSteps;
        double? lastLoss = null;
        double windowLoss = 0; int windowSteps = 0; long windowTokens = 0; double windowStart = Elapsed();
        string stopReason = "budget";
        var best = state;
        // The next k of EvalPoints (evaluate when progress reaches k / EvalPoints); after a resume, the first not yet passed.
        int nextPoint = opts.EvalPoints > 0 ? (int)Math.Floor(opts.Progress(step, tokens, TimeSpan.FromSeconds(elapsedBefore)) * opts.EvalPoints) + 1 : 1;
        // What a checkpoint records: the best so far plus where the run is now.
        State Snapshot() => best with
        {
            Step = step, Tokens = tokens, ElapsedSeconds = Elapsed(),
            LossScale = scaler?.Scale, LossScaleCleanSteps = scaler?.CleanSteps ?? 0, SkippedSteps = skipped,
        };

        while (true)
        {
            double progress = opts.Progress(step, tokens, BudgetElapsed());
            if (progress >= 1) break;
            BeforeStep?.Invoke(step);
            double lr = opts.LearningRateAt(progress);
            foreach (var g in optimizer.ParamGroups) g.LearningRate = lr;

            // Step s's randomness (dropout, masking, augmentation) depends on (seed, s) only.
            torch.manual_seed(Seeds.Mix(opts.Seed, step, 0xd40));
            var rng = new Data.SeededRandom(Seeds.Mix(opts.Seed, step, 0x3a5c)); // fixed sequence on every .NET version
            optimizer.zero_grad();
            double stepLoss = 0;
            long cursor = step * examplesPerStep;
            for (int micro = 0; micro < opts.GradientAccumulation; micro++)
            {
                using var scope = NewDisposeScope();
                using var batch = objective.GetBatch(cursor + (long)micro * opts.BatchSize, opts.BatchSize, rng);
                Tensor loss;
                using (MixedPrecision.Use(halfType)) loss = objective.Loss(batch) / opts.GradientAccumulation;
                (scaler?.ScaleLoss(loss) ?? loss).backward();
                float l = loss.item<float>();
                if (float.IsNaN(l) || float.IsInfinity(l))
                    throw new GptBertException($"training diverged at step {step + 1} (loss is {l}); lower LearningRate or raise WarmupFraction, then Resume from the last checkpoint")
                    { RelatedParameters = ["LearningRate", "WarmupFraction", "Resume"] };
                stepLoss += l;
                tokens += batch.Tokens; windowTokens += batch.Tokens;
            }
            if (scaler is null || scaler.UnscaleOrSkip(model.parameters()))
            {
                if (opts.ClipNorm > 0) nn.utils.clip_grad_norm_(model.parameters(), opts.ClipNorm);
                optimizer.step();
            }
            else
            {
                skipped++; // fp16 gradients overflowed: this step's update is dropped and the loss scale halved
                Emit(new TrainingEvent("skip", step + 1, tokens, Elapsed(), Message: $"fp16 gradients overflowed; step skipped, loss scale now {scaler.Scale:G}"));
            }
            step++;
            lastLoss = stepLoss; windowLoss += stepLoss; windowSteps++;

            double reached = opts.Progress(step, tokens, BudgetElapsed());
            bool last = reached >= 1;
            if (step % opts.LogEvery == 0 || last)
            {
                double now = Elapsed();
                Emit(new TrainingEvent("train", step, tokens, now, windowLoss / windowSteps, lr,
                    windowTokens / Math.Max(now - windowStart, 1e-9), opts.Progress(step, tokens, BudgetElapsed())));
                windowLoss = 0; windowSteps = 0; windowTokens = 0; windowStart = now;
            }

            bool stop = false;
            bool point = opts.EvalPoints > 0 && reached >= (double)nextPoint / opts.EvalPoints;
            while (opts.EvalPoints > 0 && reached >= (double)nextPoint / opts.EvalPoints) nextPoint++;
            if ((opts.EvalEvery > 0 && step % opts.EvalEvery == 0) || last || point)
            {
                IReadOnlyDictionary<string, double>? metrics;
                double evalStart = Elapsed();
                using (MixedPrecision.Use(halfType)) metrics = objective.Evaluate();
                model.train();
                evalSeconds += Elapsed() - evalStart;
                if (metrics is not null)
                {
                    Emit(new TrainingEvent("eval", step, tokens, Elapsed(), Progress: reached, Metrics: metrics));
                    if (!metrics.TryGetValue(objective.SelectionMetric, out double value))
                        throw new InvalidOperationException($"{objective.GetType().Name}.Evaluate() returned no '{objective.SelectionMetric}'");
                    bool improved = best.BestMetric is not double b || (objective.HigherIsBetter ? value > b : value < b);
                    if (improved)
                    {
                        best = best with { BestMetric = value, BestStep = step, BestMetrics = new(metrics), EvalsWithoutImprovement = 0 };
                        SaveModel(Path.Combine(outputDirectory, "best"), model);
                    }
                    else best = best with { EvalsWithoutImprovement = best.EvalsWithoutImprovement + 1 };
                    if (opts.EarlyStoppingPatience > 0 && best.EvalsWithoutImprovement >= opts.EarlyStoppingPatience)
                    {
                        stop = true; stopReason = $"early stopping: no {objective.SelectionMetric} improvement in {opts.EarlyStoppingPatience} evaluations";
                    }
                }
            }
            var current = Snapshot();
            if ((opts.SaveEvery > 0 && step % opts.SaveEvery == 0) || last || stop)
                SaveCheckpoint(current, model, optimizer);
            if (stop) break;
        }

        var final = Snapshot();
        if (LatestCheckpoint(outputDirectory) is not { } latest || StepOf(latest) != step) SaveCheckpoint(final, model, optimizer);
        // The directory itself holds the model to use: the best by validation metric, else the last.
        var bestDir = Path.Combine(outputDirectory, "best");
        if (final.BestStep is null || !Directory.Exists(bestDir))
        {
            bestDir = Path.Combine(outputDirectory, "final");
            SaveModel(bestDir, model);
        }
        MoveModelFiles(bestDir, outputDirectory, keepSource: bestDir.EndsWith("best"));
        Emit(new TrainingEvent("done", step, tokens, Elapsed(), lastLoss, Message: stopReason, Metrics: final.BestMetrics));
        return new TrainingResult(step, tokens, TimeSpan.FromSeconds(Elapsed()), lastLoss, final.BestMetrics, final.BestStep, stopReason, outputDirectory);
    }

    void Emit(TrainingEvent e) => OnEvent?.Invoke(e);

    /// <summary>AdamW with two groups: decay for matrices (weights, embeddings), none for biases and LayerNorm (1-D).</summary>
    static AdamW CreateOptimizer(PretrainedModel model, TrainingOptions o)
    {
        var decay = model.parameters().Where(p => p.requires_grad && p.dim() >= 2).ToList();
        var noDecay = model.parameters().Where(p => p.requires_grad && p.dim() < 2).ToList();
        var groups = new List<AdamW.ParamGroup>
        {
            new(decay, o.LearningRate, o.Beta1, o.Beta2, o.Epsilon, o.WeightDecay, false, false),
            new(noDecay, o.LearningRate, o.Beta1, o.Beta2, o.Epsilon, 0.0, false, false),
        };
        return new KeptAliveAdamW(groups, o.LearningRate, o.Beta1, o.Beta2, o.Epsilon, o.WeightDecay);
    }

    void SaveModel(string dir, PretrainedModel model)
    {
        var tmp = Path.Combine(outputDirectory, $".tmp-{Path.GetFileName(dir)}-{Environment.ProcessId}");
        WriteDirectoryAtomically(tmp, dir, () => { model.SavePretrained(tmp); tokenizer.SaveForModel(tmp, model.Config.MaxPositions); });
    }

    void SaveCheckpoint(State s, PretrainedModel model, AdamW optimizer)
    {
        var dir = Path.Combine(outputDirectory, $"checkpoint-{s.Step}");
        var tmp = Path.Combine(outputDirectory, $".tmp-checkpoint-{s.Step}-{Environment.ProcessId}");
        WriteDirectoryAtomically(tmp, dir, () =>
        {
            model.SavePretrained(tmp);
            tokenizer.SaveForModel(tmp, model.Config.MaxPositions);
            AtomicFile.Write(Path.Combine(tmp, OptimizerFile), stream =>
            {
                using var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
                optimizer.save_state_dict(w);
            });
            AtomicFile.WriteAllText(Path.Combine(tmp, StateFile), JsonSerializer.Serialize(s, JsonOptions));
        });
        Prune();
    }

    /// <summary>Builds a directory under a temporary name, then renames it into place: a crash or a full disk leaves the previous one intact.</summary>
    static void WriteDirectoryAtomically(string tmp, string dir, Action write)
    {
        try
        {
            if (Directory.Exists(tmp)) Directory.Delete(tmp, true);
            Directory.CreateDirectory(tmp);
            write();
            var old = dir + ".old";
            if (Directory.Exists(old)) Directory.Delete(old, true);
            if (Directory.Exists(dir)) Directory.Move(dir, old);
            Directory.Move(tmp, dir);
            if (Directory.Exists(old)) Directory.Delete(old, true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or GptBertException)
        {
            try { if (Directory.Exists(tmp)) Directory.Delete(tmp, true); } catch { /* best effort */ }
            if (e is GptBertException) throw;
            throw new GptBertException($"cannot write checkpoint {dir}: {e.Message.TrimEnd('.')}; free disk space or fix permissions, then Resume (earlier checkpoints are intact)", e)
            { RelatedParameters = ["Resume"] };
        }
    }

    void Prune()
    {
        var all = Checkpoints(outputDirectory).OrderByDescending(StepOf).ToList();
        foreach (var dir in all.Skip(Math.Max(1, options.KeepCheckpoints)))
            try { Directory.Delete(dir, true); } catch (IOException) { }
    }

    static IEnumerable<string> Checkpoints(string root) =>
        Directory.Exists(root)
            ? Directory.GetDirectories(root, "checkpoint-*").Where(d => File.Exists(Path.Combine(d, StateFile)) && StepOf(d) >= 0)
            : [];

    public static long StepOf(string dir) => long.TryParse(Path.GetFileName(dir)["checkpoint-".Length..], out var s) ? s : -1;

    public static string? LatestCheckpoint(string root) => Checkpoints(root).OrderByDescending(StepOf).FirstOrDefault();

    State LoadCheckpoint(string dir, PretrainedModel model, AdamW optimizer)
    {
        var weights = GptBert.Checkpoints.CheckpointFiles.LoadStateDict(dir);
        try { model.LoadStateDict(weights, dir); }
        finally { foreach (var t in weights.Values) t.Dispose(); }
        var optimizerPath = Path.Combine(dir, OptimizerFile);
        if (!File.Exists(optimizerPath))
            throw new GptBertException($"{dir} has no {OptimizerFile}; the checkpoint is incomplete, delete it to resume from an earlier one");
        using (var fs = File.OpenRead(optimizerPath))
        using (var r = new BinaryReader(fs))
            optimizer.load_state_dict(r);
        try
        {
            return JsonSerializer.Deserialize<State>(File.ReadAllText(Path.Combine(dir, StateFile)), JsonOptions)
                   ?? throw new GptBertException($"{dir}/{StateFile} is empty");
        }
        catch (JsonException e) { throw new GptBertException($"{dir}/{StateFile} is not valid JSON ({e.Message.Split('.')[0]}); delete that checkpoint to resume from an earlier one"); }
    }

    /// <summary>Puts the model files of <paramref name="from"/> into <paramref name="to"/>, each file replaced atomically.</summary>
    static void MoveModelFiles(string from, string to, bool keepSource)
    {
        foreach (var f in Directory.GetFiles(from))
        {
            var dest = Path.Combine(to, Path.GetFileName(f));
            if (keepSource) AtomicFile.Write(dest, s => { using var src = File.OpenRead(f); src.CopyTo(s); });
            else File.Move(f, dest, overwrite: true);
        }
        if (!keepSource) Directory.Delete(from, true);
    }

    static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };
}
