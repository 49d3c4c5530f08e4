using System.Diagnostics;
using GptBert.Data;
using GptBert.Engine;
using GptBert.Models;
using GptBert.OnnxExport;
using GptBert.Pipelines;
using GptBert.Reporting;
using GptBert.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace GptBert.Compare;

/// <summary>What the model is measured on: classification (accuracy, macro-F1), search with its embeddings (recall@k, MRR) or language modelling (perplexity).</summary>
public enum OptimizeTask { Classify, Search, Generate }

/// <summary>What `gptbert optimize` was asked to do.</summary>
public sealed record OptimizeSpec
{
    /// <summary>Built-in name or directory of the fp32 model every variant is built from.</summary>
    public required string Model { get; init; }
    /// <summary>Test data: labelled file (classify), query/document pairs (search) or text (generate).</summary>
    public required string Data { get; init; }
    /// <summary>Training data for the distilled student and the pruned model's recovery (null: no distillation, no recovery).</summary>
    public string? Train { get; init; }
    public string? Validation { get; init; }
    /// <summary>Each variant is built into a subdirectory named after it.</summary>
    public required string WorkDirectory { get; init; }
    /// <summary>Variant names to build (null: all of <see cref="Optimizer.VariantNames"/>).</summary>
    public IReadOnlyList<string>? Variants { get; init; }
    /// <summary>Tokens per input (null: as evaluate and embed do, the model's limit; generate: min(128, positions)).</summary>
    public int? MaxLength { get; init; }
    public int LatencySamples { get; init; } = 30;
    /// <summary>The batch size throughput is measured at (generate: batch 1, one request after another).</summary>
    public int ThroughputBatch { get; init; } = 32;
    /// <summary>Training budget of distillation and of the pruned model's recovery (the first reached ends it).</summary>
    public long? TrainSteps { get; init; } = 200;
    public TimeSpan? TrainTime { get; init; }
    /// <summary>Layers of the distilled student (at most the model's layers minus one).</summary>
    public int StudentLayers { get; init; } = 2;
    public double PruneHeads { get; init; } = 0.3;
    public double PruneFfn { get; init; } = 0.3;
    public string? Device { get; init; }
    public int? Threads { get; init; }
    public LabeledFormatOptions? Format { get; init; }
    /// <summary>Runs each speed probe in a child process so its peak memory is the variant's alone (null: in this process, VmHWM reset).</summary>
    public ChildProcessRunner? Isolation { get; init; }
    public string Command { get; init; } = "";
}

/// <summary>One variant's row: measured figures, or why it was not built.</summary>
public sealed record VariantResult
{
    /// <summary>fp32, bf16, int8-dynamic, int8-weight-only, onnx-fp32, onnx-int8, pruned or distilled.</summary>
    public required string Name { get; init; }
    /// <summary>What the variant is, in words.</summary>
    public required string Description { get; init; }
    /// <summary>False when the variant was not built or measured; <see cref="Reason"/> says why.</summary>
    public bool Measured { get; init; }
    public string? Reason { get; init; }
    public string? Directory { get; init; }
    /// <summary>torch or onnx.</summary>
    public string Backend { get; init; } = "torch";
    public IReadOnlyDictionary<string, double> Quality { get; init; } = new Dictionary<string, double>();
    public double LatencyP50Ms { get; init; }
    public double LatencyP95Ms { get; init; }
    /// <summary>Examples (generate: requests) per second at <see cref="ThroughputBatch"/>.</summary>
    public double Throughput { get; init; }
    public int ThroughputBatch { get; init; }
    /// <summary>Bytes of the weight files (<see cref="Files"/>): what a deployment copies.</summary>
    public long SizeBytes { get; init; }
    public IReadOnlyList<string> Files { get; init; } = [];
    public double PeakMemoryMb { get; init; }
    /// <summary>How peak memory was measured ("child process" or "in-process, VmHWM reset").</summary>
    public string? MemoryMethod { get; init; }
    /// <summary>Primary metric minus fp32's (in the metric's units; fractions, not points).</summary>
    public double? QualityDelta { get; init; }
    /// <summary>fp32's latency p50 over this one's.</summary>
    public double? Speedup { get; init; }
    public bool ParetoOptimal { get; init; }
    /// <summary>How it was built and anything a reader must know (no recovery, emulated, ...).</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];
    /// <summary>Figures that are estimates rather than measurements (none today: every figure is measured).</summary>
    public IReadOnlyList<string> Estimated { get; init; } = [];
}

/// <summary>Everything `gptbert optimize` measured.</summary>
public sealed record OptimizeReport
{
    public required OptimizeTask Task { get; init; }
    public required string Model { get; init; }
    public required string Data { get; init; }
    /// <summary>The metric Pareto optimality, the quality delta and recommendations use.</summary>
    public required string Metric { get; init; }
    public bool HigherIsBetter { get; init; } = true;
    public required IReadOnlyList<VariantResult> Variants { get; init; }
    /// <summary>What a latency figure times, in words.</summary>
    public string LatencyUnit { get; init; } = "";
    public string Command { get; init; } = "";
    public string Versions { get; init; } = "";
    public string Machine { get; init; } = "";
    public DateTime Date { get; init; } = DateTime.UtcNow;
    public double TotalSeconds { get; init; }
}

/// <summary>
/// Builds the variants of one model that apply (fp32, bf16 autocast where the CPU has it, int8 dynamic and weight-only,
/// ONNX fp32 and int8, pruned, distilled) with the library's own quantizer, exporter, pruner and distiller, and measures
/// each the same way: quality on the test data (the metric `evaluate` / `compare` compute), latency p50/p95 at batch 1
/// and throughput (<see cref="SpeedProbe"/>), size of the weight files and peak resident memory (<see cref="PeakMemory"/>).
/// A variant that cannot apply is listed with the reason.
/// </summary>
public static class Optimizer
{
    public const string Fp32 = "fp32", Bf16 = "bf16", Int8Dynamic = "int8-dynamic", Int8WeightOnly = "int8-weight-only",
        OnnxFp32 = "onnx-fp32", OnnxInt8 = "onnx-int8", Pruned = "pruned", Distilled = "distilled";

    public static readonly IReadOnlyList<string> VariantNames = [Fp32, Bf16, Int8Dynamic, Int8WeightOnly, OnnxFp32, OnnxInt8, Pruned, Distilled];

    /// <summary>The task a model is measured on, from its config.json (as the inference commands pick theirs).</summary>
    public static OptimizeTask TaskOf(ModelConfig config, string source)
    {
        string arch = ModelFactory.DefaultArchitecture(config);
        if (arch.EndsWith("ForSequenceClassification")) return OptimizeTask.Classify;
        if (config is Gpt2Config) return OptimizeTask.Generate;
        if (config is BertConfig && arch is "BertModel" or "BertForMaskedLM" or "BertForPreTraining") return OptimizeTask.Search;
        throw new GptBertException($"{source} is a {arch}; optimize measures classifiers, BERT embedding models and GPT-2 language models");
    }

    static string Architecture(OptimizeTask task, ModelConfig config) => task switch
    {
        OptimizeTask.Classify => config is Gpt2Config ? "GPT2ForSequenceClassification" : "BertForSequenceClassification",
        OptimizeTask.Search => "BertModel",
        _ => "GPT2LMHeadModel",
    };

    public static (string Metric, bool HigherIsBetter) PrimaryMetric(OptimizeTask task) => task switch
    {
        OptimizeTask.Classify => ("macro_f1", true),
        OptimizeTask.Search => ("mrr", true),
        _ => ("perplexity", false),
    };

    /// <summary>The weight files of a model directory (what a deployment copies besides small JSON and tokenizer files).</summary>
    public static IReadOnlyList<string> WeightFiles(string dir) =>
        System.IO.Directory.GetFiles(dir).Select(Path.GetFileName).Where(f => f is not null && (
            f == "model.safetensors" || (f.StartsWith("model-") && f.EndsWith(".safetensors")) ||
            (f.StartsWith("pytorch_model") && f.EndsWith(".bin")) || f.EndsWith(".onnx") || f.EndsWith(".onnx_data")))
        .Select(f => f!).Order(StringComparer.Ordinal).ToList();

    public static OptimizeReport Run(OptimizeSpec spec, RunReporting? reporting = null)
    {
        var total = Stopwatch.StartNew();
        void Info(string m) => reporting?.Info?.Invoke(m);
        var wanted = spec.Variants ?? VariantNames;
        foreach (var v in wanted)
            if (!VariantNames.Contains(v))
                throw new GptBertException($"unknown variant '{v}'; choose from {string.Join(", ", VariantNames)}") { Parameter = "Variants" };
        if (!wanted.Contains(Fp32))
            wanted = [Fp32, .. wanted]; // every delta and speedup is relative to it
        if (spec.PruneHeads is < 0 or >= 1 || spec.PruneFfn is < 0 or >= 1)
            throw new GptBertException("PruneHeads and PruneFfn must be fractions in [0, 1)") { RelatedParameters = ["PruneHeads", "PruneFfn"] };
        if (spec.TrainSteps is <= 0 || spec.TrainTime is { } tt && tt <= TimeSpan.Zero)
            throw new GptBertException("the distillation budget must be positive") { Parameter = "TrainBudget" };

        string dir = ModelHub.ExistingDirectory(spec.Model);
        var config = ModelConfig.Load(Path.Combine(dir, "config.json"));
        if (config.Quantization is not null)
            throw new GptBertException($"{spec.Model} is already quantized ({config.Quantization.Scheme}); optimize the fp32 model it came from") { Parameter = "Model" };
        var task = TaskOf(config, spec.Model);
        string arch = Architecture(task, config);
        var (metric, higher) = PrimaryMetric(task);
        var data = TestData.Load(task, spec, config);
        if (spec.Train is not null && !File.Exists(spec.Train) && !System.IO.Directory.Exists(spec.Train))
            throw new GptBertException($"training file '{spec.Train}' not found") { Parameter = "Train" };
        System.IO.Directory.CreateDirectory(spec.WorkDirectory);

        var progress = new ProgressReporter(new ProgressBudget(Steps: wanted.Count), reporting?.Progress, reporting?.Interactive);
        var rows = new List<VariantResult>();
        int done = 0;
        foreach (var name in VariantNames.Where(wanted.Contains))
        {
            progress.Message($"[{name}] building and measuring ({done + 1}/{wanted.Count})");
            VariantResult row;
            try { row = Variant(name, spec, dir, task, arch, config, data, Info); }
            catch (GptBertException e) { row = Skipped(name, $"failed: {e.Message}"); }
            // A libtorch error in one variant's build or run (seen once, not reproduced): the row says so and the others are still measured.
            catch (System.Runtime.InteropServices.ExternalException e) { row = Skipped(name, $"failed in libtorch: {e.Message.Split('\n')[0][..Math.Min(200, e.Message.Split('\n')[0].Length)]}"); }
            rows.Add(row);
            if (row.Measured) Info($"[{name}] {metric} {row.Quality.GetValueOrDefault(metric):F4}, p50 {row.LatencyP50Ms:F2} ms, {row.SizeBytes:N0} bytes");
            else Info($"[{name}] {row.Reason}");
            progress.Report(++done);
        }
        progress.Finish();

        rows = Relative(rows, metric, higher);
        return new OptimizeReport
        {
            Task = task, Model = spec.Model, Data = spec.Data, Metric = metric, HigherIsBetter = higher, Variants = rows,
            LatencyUnit = task == OptimizeTask.Generate ? $"one request: {GenerateTokens} new tokens, greedy, after a {PromptWords}-word prompt" : "one input",
            Command = spec.Command, Versions = ComparisonRunner.Versions(), Machine = ComparisonRunner.Machine(), TotalSeconds = total.Elapsed.TotalSeconds,
        };
    }

    /// <summary>Quality delta and speedup against fp32, and Pareto optimality (quality against latency p50) among the measured rows.</summary>
    internal static List<VariantResult> Relative(List<VariantResult> rows, string metric, bool higher)
    {
        var baseRow = rows.FirstOrDefault(r => r.Name == Fp32 && r.Measured);
        var measured = rows.Where(r => r.Measured && r.Quality.ContainsKey(metric)).ToList();
        double Q(VariantResult r) => higher ? r.Quality[metric] : -r.Quality[metric];
        bool Dominated(VariantResult r) => measured.Any(o => !ReferenceEquals(o, r)
            && Q(o) >= Q(r) && o.LatencyP50Ms <= r.LatencyP50Ms && (Q(o) > Q(r) || o.LatencyP50Ms < r.LatencyP50Ms));
        return rows.Select(r => !r.Measured || !r.Quality.ContainsKey(metric) ? r : r with
        {
            QualityDelta = baseRow is null ? null : r.Quality[metric] - baseRow.Quality[metric],
            Speedup = baseRow is null ? null : baseRow.LatencyP50Ms / r.LatencyP50Ms,
            ParetoOptimal = !Dominated(r),
        }).ToList();
    }

    static VariantResult Skipped(string name, string reason) => new() { Name = name, Description = Describe(name), Measured = false, Reason = reason };

    static string Describe(string name) => name switch
    {
        Fp32 => "the model as given",
        Bf16 => "bf16 autocast: matrix products in bf16, weights fp32",
        Int8Dynamic => "int8 weights, int8 activations quantized at run time",
        Int8WeightOnly => "int8 weights, fp32 activations",
        OnnxFp32 => "ONNX Runtime, fp32",
        OnnxInt8 => "ONNX Runtime, int8 dynamic quantization",
        Pruned => "attention heads and FFN neurons removed",
        Distilled => "a smaller student distilled from the model",
        _ => name,
    };

    static VariantResult Variant(string name, OptimizeSpec spec, string dir, OptimizeTask task, string arch, ModelConfig config, TestData data, Action<string> info)
    {
        string outDir = Path.Combine(spec.WorkDirectory, name);
        var notes = new List<string>();
        switch (name)
        {
            case Fp32:
                return Measure(name, dir, "torch", bf16: false, spec, task, arch, data, notes);
            case Bf16:
                if (!MixedPrecision.CpuHasNative(ScalarType.BFloat16))
                    return Skipped(name, "skipped: no native bf16 on this CPU (libtorch would emulate it, slower than fp32)");
                notes.Add("same files as fp32: the weights stay fp32, matrix products run in bf16");
                return Measure(name, dir, "torch", bf16: true, spec, task, arch, data, notes);
            case Int8Dynamic or Int8WeightOnly:
            {
                Fresh(outDir);
                using (var handle = ModelHub.Load(dir, arch, device: "cpu"))
                    Int8Quantization.Save(handle.Model, dir, outDir, new QuantizeOptions { Scheme = name == Int8Dynamic ? QuantizationConfig.DynamicScheme : QuantizationConfig.WeightOnlyScheme });
                notes.Add(name == Int8Dynamic ? "as gptbert quantize builds it (dynamic scheme)" : "as gptbert quantize builds it (weight-only scheme)");
                return Measure(name, outDir, "torch", bf16: false, spec, task, arch, data, notes);
            }
            case OnnxFp32 or OnnxInt8:
            {
                if (!OnnxExporter.Tasks.ContainsKey(arch))
                    return Skipped(name, $"skipped: the ONNX exporter has no {arch}");
                Fresh(outDir);
                using (var handle = ModelHub.Load(dir, arch, device: "cpu"))
                {
                    bool pooler = !handle.Report.NewlyInitialized.Any(k => k.Contains("pooler."));
                    OnnxExporter.Export(handle.Model, handle.Tokenizer, outDir, new OnnxExportOptions { Int8 = name == OnnxInt8, Pooler = pooler }, sourceDirectory: dir);
                }
                notes.Add(name == OnnxInt8 ? "as gptbert export onnx builds it, int8" : "as gptbert export onnx builds it");
                if (task == OptimizeTask.Generate) notes.Add("perplexity through the exported graph token by token (its key/value cache)");
                return Measure(name, outDir, "onnx", bf16: false, spec, task, arch, data, notes);
            }
            case Pruned:
            {
                if (spec.PruneHeads == 0 && spec.PruneFfn == 0) return Skipped(name, "skipped: nothing to prune (heads and FFN fractions are 0)");
                Fresh(outDir);
                if (task != OptimizeTask.Search && spec.Train is not null)
                {
                    // What `gptbert prune --data TRAIN --train TRAIN` does: importance measured on the training data (Michel et al.),
                    // then the recovery fine-tune of the pruned model on it.
                    var result = PruningRuns.Run(new PruneSpec
                    {
                        Model = spec.Model, Output = outDir, Heads = spec.PruneHeads, Ffn = spec.PruneFfn, Data = spec.Train, Train = spec.Train,
                        Validation = task == OptimizeTask.Classify ? spec.Validation ?? spec.Train : spec.Validation, Format = spec.Format,
                        MaxLength = spec.MaxLength ?? 128, Device = spec.Device,
                        Training = new TrainingOptions { MaxSteps = spec.TrainSteps, MaxTime = spec.TrainTime, LearningRate = 5e-5, EvalEvery = 0, SaveEvery = 0, KeepCheckpoints = 1, Seed = 1 },
                    }, new RunReporting(TextWriter.Null, false));
                    Clean(outDir);
                    notes.Add($"{spec.PruneHeads * 100:0.#}% of heads + {spec.PruneFfn * 100:0.#}% of FFN neurons, importance: {result.Importance} (as gptbert prune measures it on data)");
                    notes.Add($"recovered: {BudgetText(spec)} of fine-tuning on the training data (as gptbert prune recovers)");
                    return Measure(name, outDir, "torch", bf16: false, spec, task, arch, data, notes);
                }
                using (var handle = ModelHub.Load(dir, arch, device: "cpu"))
                {
                    var model = handle.Model;
                    model.eval();
                    var imp = Pruning.Measure(model);
                    var heads = spec.PruneHeads > 0 ? Pruning.ChooseHeads(model.Config, imp, spec.PruneHeads) : null;
                    var neurons = spec.PruneFfn > 0 ? Pruning.ChooseNeurons(imp, spec.PruneFfn) : null;
                    using var pruned = Pruning.Prune(model, heads, neurons);
                    pruned.SavePretrained(outDir);
                    Int8Quantization.CopyCompanionFiles(dir, outDir);
                }
                notes.Add($"{spec.PruneHeads * 100:0.#}% of heads + {spec.PruneFfn * 100:0.#}% of FFN neurons by weight-norm importance (gptbert prune)");
                if (spec.Train is null) notes.Add("no recovery (give training data for a recovery fine-tune)");
                else
                {
                    // Recovery: the pruned model fine-tuned as a student of the unpruned one (soft targets and hard labels for a classifier).
                    var recovered = Path.Combine(spec.WorkDirectory, name + "-recovered");
                    Fresh(recovered);
                    Distill(spec, task, student: outDir, layers: null, recovered, info);
                    Clean(recovered);
                    outDir = recovered;
                    notes.Add($"recovered: {BudgetText(spec)} of distillation from the unpruned model on the training data");
                }
                return Measure(name, outDir, "torch", bf16: false, spec, task, arch, data, notes);
            }
            case Distilled:
            {
                if (spec.Train is null) return Skipped(name, "skipped: needs training data to distill on");
                int teacherLayers = config switch { BertConfig b => b.NumHiddenLayers, Gpt2Config g => g.NLayer, _ => 0 };
                int layers = Math.Min(spec.StudentLayers, teacherLayers - 1);
                if (layers < 1) return Skipped(name, $"skipped: the model has {teacherLayers} layer(s); a student needs fewer");
                Fresh(outDir);
                Distill(spec, task, student: null, layers, outDir, info);
                Clean(outDir);
                notes.Add($"{layers}-layer student from every other layer of the {teacherLayers}-layer model, {BudgetText(spec)} (gptbert distill)");
                return Measure(name, outDir, "torch", bf16: false, spec, task, arch, data, notes);
            }
            default:
                throw new InvalidOperationException(name);
        }
    }

    static string BudgetText(OptimizeSpec spec) =>
        spec.TrainSteps is long s && spec.TrainTime is null ? $"{s} steps"
        : spec.TrainTime is { } t && spec.TrainSteps is null ? ProgressReporter.FormatDuration(t)
        : $"{spec.TrainSteps} steps or {ProgressReporter.FormatDuration(spec.TrainTime ?? TimeSpan.Zero)}, whichever came first";

    static void Distill(OptimizeSpec spec, OptimizeTask task, string? student, int? layers, string output, Action<string> info)
    {
        DistillationRuns.Distill(new DistillSpec
        {
            Task = task switch { OptimizeTask.Classify => "classify", OptimizeTask.Search => "embed", _ => "clm" },
            Teacher = spec.Model, Student = student, Shape = layers is int l ? new StudentShape(l) : null,
            Train = spec.Train!, Validation = task == OptimizeTask.Classify ? spec.Validation : null, Output = output,
            MaxLength = spec.MaxLength ?? 128, Format = spec.Format, Device = spec.Device,
            TeacherCache = Path.Combine(spec.WorkDirectory, $"teacher-outputs-{Path.GetFileName(output)}.safetensors"),
            Training = new TrainingOptions
            {
                MaxSteps = spec.TrainSteps, MaxTime = spec.TrainTime, LearningRate = 5e-5, EvalEvery = 0, SaveEvery = 0, KeepCheckpoints = 1, Seed = 1,
            },
        }, new RunReporting(TextWriter.Null, false, Info: null));
        File.Delete(Path.Combine(spec.WorkDirectory, $"teacher-outputs-{Path.GetFileName(output)}.safetensors"));
        info($"[{Path.GetFileName(output)}] trained");
    }

    /// <summary>Only the model is kept in a trained variant's directory (checkpoints and logs go), so its size is the model's.</summary>
    static void Clean(string dir)
    {
        foreach (var d in System.IO.Directory.GetDirectories(dir).Where(d => Path.GetFileName(d).StartsWith("checkpoint")))
            System.IO.Directory.Delete(d, true);
    }

    static void Fresh(string dir)
    {
        if (System.IO.Directory.Exists(dir)) System.IO.Directory.Delete(dir, true);
        System.IO.Directory.CreateDirectory(dir);
    }

    static VariantResult Measure(string name, string modelDir, string backend, bool bf16, OptimizeSpec spec, OptimizeTask task, string arch, TestData data, List<string> notes)
    {
        IReadOnlyDictionary<string, double> quality;
        using (bf16 ? MixedPrecision.Use(ScalarType.BFloat16) : null)
            quality = Quality(modelDir, backend, spec, task, arch, data);
        var work = new ChildWork
        {
            Kind = "optimize-probe", ModelDirectory = Path.GetFullPath(modelDir), Texts = data.ProbeTexts, Pairs = data.ProbePairs,
            MaxLength = data.MaxLength ?? 0, Samples = spec.LatencySamples, Device = spec.Device, Threads = spec.Threads,
            Task = task.ToString(), Backend = backend, Bf16 = bf16, ThroughputBatch = task == OptimizeTask.Generate ? 1 : spec.ThroughputBatch,
        };
        double p50, p95, throughput, peak;
        string method;
        if (spec.Isolation is { } child)
        {
            var r = child.Run(work);
            (p50, p95, throughput, peak, method) = (r.P50Ms, r.P95Ms, r.Throughput, r.PeakMemoryMb, "child process");
        }
        else
        {
            bool reset = PeakMemory.Reset();
            var speed = Probe(work);
            (p50, p95, throughput, peak) = (speed.P50Ms, speed.P95Ms, speed.Throughput, PeakMemory.PeakMb());
            method = reset ? "in-process, VmHWM reset (includes this process's own memory)" : "in-process peak working set (not reset: includes everything before)";
        }
        var files = WeightFiles(modelDir);
        return new VariantResult
        {
            Name = name, Description = Describe(name), Measured = true, Directory = modelDir, Backend = backend, Quality = quality,
            LatencyP50Ms = p50, LatencyP95Ms = p95, Throughput = throughput, ThroughputBatch = work.ThroughputBatch,
            SizeBytes = files.Sum(f => new FileInfo(Path.Combine(modelDir, f)).Length), Files = files,
            PeakMemoryMb = peak, MemoryMethod = method, Notes = notes,
        };
    }

    // ---- quality ------------------------------------------------------------------------------------------------

    /// <summary>The task's quality on the test data: the figures `evaluate` (classify) and `compare` (search, generate) compute.</summary>
    static IReadOnlyDictionary<string, double> Quality(string modelDir, string backend, OptimizeSpec spec, OptimizeTask task, string arch, TestData data)
    {
        using var runner = Open(modelDir, backend, task, arch, spec.Device, spec.Threads);
        switch (task)
        {
            case OptimizeTask.Classify:
            {
                var classifier = new Classifier((IEncoderRunner)runner, data.MaxLength) { Warn = null };
                var m = classifier.Evaluate(data.Labeled!);
                return new Dictionary<string, double> { ["accuracy"] = m.Accuracy, ["macro_f1"] = m.MacroF1 };
            }
            case OptimizeTask.Search:
            {
                var embedder = new Embedder((IEncoderRunner)runner) { Pooling = ModelHub.DeclaredPooling(modelDir) ?? Pooling.Mean, Warn = null };
                var q = embedder.Embed(data.Pairs!.Select(p => p.Query).ToList(), data.MaxLength);
                var d = embedder.Embed(data.Documents!, data.MaxLength);
                var (r1, r5, mrr) = SearchComparison.Score(q, d, data.Relevant!);
                return new Dictionary<string, double> { ["recall@1"] = r1, ["recall@5"] = r5, ["mrr"] = mrr };
            }
            default:
            {
                int max = data.MaxLength!.Value;
                var (lossPerChar, ppl) = backend == "torch"
                    ? GenerationComparison.Score(modelDir, data.Texts!, max, TorchRuntime.ResolveDevice(spec.Device))
                    : DecoderScore((IDecoderRunner)runner, data.Texts!, max);
                return new Dictionary<string, double> { ["perplexity"] = ppl, ["loss_per_token"] = Math.Log(ppl), ["loss_per_char"] = lossPerChar };
            }
        }
    }

    static ILoadedModel Open(string modelDir, string backend, OptimizeTask task, string arch, string? device, int? threads) =>
        backend == "onnx" ? OnnxModel.Load(modelDir, null, threads)
            : new TorchRunner(ModelHub.Load(modelDir, arch, device: device, requireHead: task == OptimizeTask.Classify), ownsHandle: true);

    /// <summary>
    /// <see cref="GenerationComparison.Score"/> through a decoder runner (ONNX Runtime): the same windows of maxLength + 1
    /// tokens, each fed token by token through the runner's key/value cache; nats per character and per-token perplexity.
    /// </summary>
    internal static (double LossPerChar, double Perplexity) DecoderScore(IDecoderRunner model, IReadOnlyList<string> texts, int maxLength)
    {
        var tok = model.Tokenizer;
        double nll = 0; long tokens = 0, chars = 0;
        foreach (var text in texts)
        {
            var ids = new List<int>();
            if (tok.EosId is int eos) ids.Add(eos);
            ids.AddRange(tok.Encode(text, addSpecialTokens: false).Ids);
            chars += text.Length;
            for (int start = 0; start + 1 < ids.Count; start += maxLength)
            {
                int end = Math.Min(ids.Count, start + maxLength + 1);
                using var cache = model.NewCache();
                for (int t = start; t + 1 < end; t++)
                {
                    var logits = model.NextTokenLogits([ids[t]], cache);
                    double max = logits.Max(), sum = 0;
                    foreach (var l in logits) sum += Math.Exp(l - max);
                    nll += max + Math.Log(sum) - logits[ids[t + 1]];
                    tokens++;
                }
            }
        }
        return (nll / Math.Max(1, chars), Math.Exp(nll / Math.Max(1, tokens)));
    }

    // ---- speed --------------------------------------------------------------------------------------------------

    const int GenerateTokens = 16, PromptWords = 12;

    /// <summary>
    /// Latency at batch 1 and throughput at the work's batch size of one variant (<see cref="SpeedProbe.Measure{T}"/>):
    /// classify and embed one input per call; generate one request of 16 new tokens (greedy) after a 12-word prompt, as compare does.
    /// Runs in a child process (<see cref="ChildProcessRunner"/>) or here.
    /// </summary>
    public static SpeedProbe.Result Probe(ChildWork work)
    {
        var task = Enum.Parse<OptimizeTask>(work.Task!);
        string dir = work.ModelDirectory!;
        var config = work.Backend == "onnx" ? OnnxModelConfig(dir) : ModelConfig.Load(Path.Combine(dir, "config.json"));
        using var runner = Open(dir, work.Backend ?? "torch", task, Architecture(task, config), work.Device, work.Threads);
        using var _ = work.Bf16 ? MixedPrecision.Use(ScalarType.BFloat16) : null;
        int? max = work.MaxLength > 0 ? work.MaxLength : null;
        var batches = new[] { work.ThroughputBatch };
        switch (task)
        {
            case OptimizeTask.Classify:
            {
                var classifier = new Classifier((IEncoderRunner)runner, max) { Warn = null };
                var inputs = work.Texts.Select((t, i) => (t, i < work.Pairs.Count ? work.Pairs[i] : null)).ToList();
                return SpeedProbe.Measure<(string, string?)>(b => classifier.Classify(b), inputs, work.Samples, batches);
            }
            case OptimizeTask.Search:
            {
                var embedder = new Embedder((IEncoderRunner)runner) { Pooling = ModelHub.DeclaredPooling(dir) ?? Pooling.Mean, Warn = null };
                return SpeedProbe.Measure<string>(b => embedder.Embed(b, max), work.Texts, work.Samples, batches);
            }
            default:
            {
                var gen = new GptBert.Pipelines.Generator((IDecoderRunner)runner);
                var options = new GenerationOptions { Greedy = true, MaxNewTokens = GenerateTokens, StopAtEos = false };
                var prompts = work.Texts.Select(t => string.Join(' ', t.Split(' ').Take(PromptWords))).ToList();
                return SpeedProbe.Measure<string>(b => { foreach (var p in b) gen.Generate(p, options); }, prompts, work.Samples, [1]);
            }
        }
    }

    static ModelConfig OnnxModelConfig(string dir) => ModelConfig.Load(Path.Combine(dir, "config.json"));

    /// <summary>The test data of a task, read once; and the texts the speed probe times.</summary>
    sealed class TestData
    {
        public LabeledDataset? Labeled;
        public List<(string Query, string Doc)>? Pairs;
        public List<string>? Documents;
        public int[]? Relevant;
        public List<string>? Texts;
        public int? MaxLength;
        public List<string> ProbeTexts = [];
        public List<string?> ProbePairs = [];

        public static TestData Load(OptimizeTask task, OptimizeSpec spec, ModelConfig config)
        {
            var format = spec.Format ?? new LabeledFormatOptions();
            var d = new TestData { MaxLength = spec.MaxLength };
            if (spec.MaxLength > config.MaxPositions)
                throw new GptBertException($"MaxLength {spec.MaxLength} exceeds what {spec.Model} supports ({config.MaxPositions} positions)") { Parameter = "MaxLength" };
            switch (task)
            {
                case OptimizeTask.Classify:
                    d.Labeled = LabeledDataset.Load(spec.Data, format with { RequireTwoLabels = false });
                    var unknown = d.Labeled.Select(e => e.Label).FirstOrDefault(l => !config.Labels.Contains(l));
                    if (unknown is not null)
                        throw new GptBertException($"label '{unknown}' in {spec.Data} is not one of {spec.Model}'s labels ({string.Join(", ", config.Labels)})") { Parameter = "Data" };
                    d.ProbeTexts = d.Labeled.Select(e => e.Text).ToList();
                    d.ProbePairs = d.Labeled.Select(e => e.Pair).ToList();
                    break;
                case OptimizeTask.Search:
                    d.Pairs = SearchComparison.LoadPairs(spec.Data, format with { RequireTwoLabels = false, RequireLabel = false }).Pairs;
                    d.Documents = d.Pairs.Select(p => p.Doc).Distinct().ToList();
                    d.Relevant = d.Pairs.Select(p => d.Documents.IndexOf(p.Doc)).ToArray();
                    d.ProbeTexts = d.Pairs.Select(p => p.Query).ToList();
                    break;
                default:
                    var corpus = TextCorpus.Open(spec.Data, new TextCorpusOptions { Strict = format.Strict, Warn = format.Warn });
                    d.Texts = corpus.Documents().Where(t => !string.IsNullOrWhiteSpace(t)).ToList();
                    if (d.Texts.Count == 0) throw new GptBertException($"{spec.Data} has no text to score the model on") { Parameter = "Data" };
                    d.MaxLength = spec.MaxLength ?? Math.Min(128, config.MaxPositions);
                    d.ProbeTexts = d.Texts;
                    break;
            }
            return d;
        }
    }

    // ---- recommendation -----------------------------------------------------------------------------------------

    /// <summary>
    /// The variant to recommend: with a latency budget (p95, batch 1), the best quality among those within it (ties: the
    /// faster); without one, the fastest whose quality is within <paramref name="tolerance"/> of fp32's (fractions: 0.01 =
    /// 1 point; perplexity: 1%). Null when none qualifies.
    /// </summary>
    public static VariantResult? Recommend(OptimizeReport r, double? latencyBudgetMs, double tolerance = 0.01)
    {
        var measured = r.Variants.Where(v => v.Measured && v.Quality.ContainsKey(r.Metric)).ToList();
        double Q(VariantResult v) => r.HigherIsBetter ? v.Quality[r.Metric] : -v.Quality[r.Metric];
        if (latencyBudgetMs is double budget)
            return measured.Where(v => v.LatencyP95Ms <= budget).OrderByDescending(Q).ThenBy(v => v.LatencyP50Ms).FirstOrDefault();
        var fp32 = measured.FirstOrDefault(v => v.Name == Fp32);
        if (fp32 is null) return null;
        double slack = r.HigherIsBetter ? tolerance : tolerance * fp32.Quality[r.Metric];
        return measured.Where(v => Q(v) >= Q(fp32) - slack).OrderBy(v => v.LatencyP50Ms).FirstOrDefault();
    }

    /// <summary>
    /// The candidate of a comparison whose variants `--optimize` measures: among the measured candidates with a model
    /// directory, those of the verdict's family (all when the verdict names none), the best by the primary test metric.
    /// </summary>
    public static CandidateResult? Winner(ComparisonReport r)
    {
        if (Report.ReportFormat.PrimaryMetric(r) is not { } metric) return null;
        bool lower = Report.ReportFormat.LowerIsBetter(metric);
        var candidates = r.Candidates.Where(c => c.Supported && c.ModelDirectory is not null && c.Quality.TryGetValue(metric, out var q) && double.IsFinite(q.Mean)).ToList();
        string choice = r.Verdict.TransformerChoice ?? r.Verdict.Choice;
        var family = candidates.Where(c => c.Family == choice).ToList();
        if (family.Count > 0) candidates = family;
        return lower ? candidates.MinBy(c => c.Quality[metric].Mean) : candidates.MaxBy(c => c.Quality[metric].Mean);
    }

    /// <summary>"MiniLM (BERT), int8-dynamic meets your 5 ms budget (p95 3.1 ms) at −0.8 points macro_f1, 2.9x fp32's speed".</summary>
    public static string VerdictLine(CandidateResult candidate, OptimizeReport r, double? latencyBudgetMs) =>
        $"{candidate.Name}, {RecommendationText(r, Recommend(r, latencyBudgetMs), latencyBudgetMs)}";

    /// <summary>"int8-dynamic meets your 5 ms budget (p95 3.1 ms) at −0.8 points" and the like.</summary>
    public static string RecommendationText(OptimizeReport r, VariantResult? best, double? latencyBudgetMs)
    {
        if (best is null)
            return latencyBudgetMs is double b ? $"no variant meets your {b:0.###} ms budget (p95 at batch 1)" : "no variant keeps fp32's quality";
        string delta = DeltaText(r, best);
        string speed = best.Speedup is double s ? $", {s:0.0#}x fp32's speed" : "";
        return latencyBudgetMs is double budget
            ? $"{best.Name} meets your {budget:0.###} ms budget (p95 {best.LatencyP95Ms:0.##} ms) at {delta}{speed}"
            : $"{best.Name} is the fastest within {(r.HigherIsBetter ? "1 point" : "1%")} of fp32: {delta}{speed}";
    }

    /// <summary>The quality delta in words: points for fractions (accuracy, F1, recall, MRR), metric units otherwise.</summary>
    public static string DeltaText(OptimizeReport r, VariantResult v)
    {
        if (v.QualityDelta is not double d) return "n/a";
        if (v.Name == Fp32) return "fp32's quality";
        string sign = d > 0 ? "+" : d < 0 ? "\u2212" : "\u00b1";
        return r.HigherIsBetter ? $"{sign}{Math.Abs(d) * 100:0.0} points {r.Metric}" : $"{sign}{Math.Abs(d):0.###} {r.Metric}";
    }
}
