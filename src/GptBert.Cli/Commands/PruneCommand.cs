using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using GptBert.Pipelines;
using GptBert.Training;

namespace GptBert.Cli.Commands;

/// <summary>`gptbert prune`: remove attention heads and FFN neurons (smaller matrices) or zero small weights (same shapes), optionally with a recovery fine-tune.</summary>
public static class PruneCommand
{
    const int DefaultMaxLength = 128;
    const double DefaultEpochs = 1;

    public static Command Create(CliContext ctx)
    {
        var command = new Command("prune", $$"""
            Prune a BERT or GPT-2 model. Structured pruning removes the least important attention heads (--heads, a fraction of
            all heads, chosen globally, at least one kept per layer) and FFN neurons (--ffn, the same fraction in every layer,
            because a Hugging Face config holds one intermediate_size / n_inner): the matrices physically shrink, the removed
            heads are recorded in config.json's pruned_heads exactly as transformers' prune_heads does, and the directory loads
            in GptBert and in transformers.
            Importance: with --data FILE, measured on your data with the model's own loss (a classifier on a labelled file with
            its labels, a GPT-2 language model or BERT MLM on text): Michel et al. 2019's |dL/d(head mask)| for heads and
            |activation x gradient| for FFN neurons, summed over up to --importance-examples examples. Without --data, the
            weight norm of each head's / neuron's slice of its output projection (a proxy that needs no data; it says so).
            The heads and neurons removed from each layer are printed (--json lists every index).
            Recovery: --train FILE fine-tunes the pruned model with the usual training flags (classifiers, prompt/completion,
            QA and NER data as in finetune; a language model on plain text continues pretraining) and saves the recovered
            model in --output (the pruned model before training in --output/pruned). Without a budget flag it trains for
            --epochs {{DefaultEpochs}}. --validation FILE measures quality (classifiers: macro-F1; language models: loss) before
            pruning, after pruning and after recovery.
            Unstructured --magnitude zeroes that fraction of the smallest layer weights in place (globally, or per matrix with
            --per-layer): same shapes, so dense kernels run exactly as fast and model.safetensors is exactly as large (zeros
            are stored like any float); it only helps a sparse runtime or a compressor. Prints parameter counts, size on disk
            and measured batch-1 latency before and after.
            """).WithSummary("Prune attention heads / FFN neurons (smaller model) or zero small weights; optional recovery fine-tune")
            .WithExamples("""
                gptbert prune --model runs/clf --output runs/clf-pruned --heads 0.3 --ffn 0.3
                gptbert prune --model runs/clf --output runs/clf-pruned --heads 0.3 --ffn 0.3 --data train.csv
                gptbert prune --model runs/clf --output runs/clf-pruned --heads 0.3 --ffn 0.3 --data train.csv --train train.csv --validation dev.csv --epochs 1
                gptbert prune --model ./gpt2 --output gpt2-sparse --magnitude 0.5 --per-layer
                gptbert prune --model runs/clf --output runs/clf-pruned --heads 0.3 --json
                """);
        var model = ModelOptions.Model(defaultModel: null, "Model to prune: a Hugging Face directory or a built-in name");
        var output = new Option<string>("--output", "-o") { Description = "Directory to write the pruned (with --train: recovered) model into", HelpName = "DIR", Required = true };
        var heads = new Option<double>("--heads") { Description = "Fraction of all attention heads to remove (0-1, lowest importance first)", HelpName = "FRACTION" };
        var ffn = new Option<double>("--ffn") { Description = "Fraction of FFN neurons to remove from every layer (0-1)", HelpName = "FRACTION" };
        var magnitude = new Option<double>("--magnitude") { Description = "Fraction of layer weights to zero by magnitude (0-1, shapes unchanged)", HelpName = "FRACTION" };
        var perLayer = new Option<bool>("--per-layer") { Description = "With --magnitude: reach the fraction in every weight matrix instead of globally" };
        var data = new Option<string?>("--data") { Description = "Measure head and neuron importance on this data with the model's loss (labelled file for a classifier, text for a language model; default: weight norms)", HelpName = "FILE" };
        var importanceExamples = new Option<int>("--importance-examples") { Description = "Examples (or blocks of text) of --data used to measure importance (default: 512)", HelpName = "N", DefaultValueFactory = _ => 512 };
        var trainFile = new Option<string?>("--train") { Description = "Recovery fine-tune of the pruned model on this file (as finetune's --train)", HelpName = "FILE" };
        var validation = new Option<string?>("--validation") { Description = "Measure quality on this file before pruning, after pruning and after recovery", HelpName = "FILE" };
        var maxLength = new Option<int?>("--max-length") { Description = $"Tokens per example for --data, --train and --validation (default: {DefaultMaxLength}, at most the model's limit)", HelpName = "N" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object on one line (removed heads/neurons per layer, parameters, bytes, latency, quality) instead of text" };
        foreach (var o in new Option[] { model, output, heads, ffn, magnitude, perLayer, data, importanceExamples, trainFile, validation, maxLength, json }) command.Options.Add(o);
        var common = CommonOptions.AddTo(command, input: false, jsonl: false, device: false, threads: false, noTruncate: false);
        var format = LabeledDataFlags.AddTo(command);
        var train = TrainingFlags.AddTo(command, new TrainingDefaults("default: 5e-5", EvalEvery: 0, SaveEvery: 0, Epochs: true,
            $"--epochs {DefaultEpochs.ToString(CultureInfo.InvariantCulture)} with --train"));
        command.SetAction(r =>
        {
            string source = r.GetValue(model)!;
            string outDir = r.GetValue(output)!;
            double h = r.GetValue(heads), f = r.GetValue(ffn), mag = r.GetValue(magnitude);
            foreach (var (name, v) in new[] { ("--heads", h), ("--ffn", f), ("--magnitude", mag) })
                if (v is < 0 or >= 1) throw new UsageException($"{name} {v} must be a fraction in [0, 1)");
            if (h == 0 && f == 0 && mag == 0) throw new UsageException("nothing to prune; give --heads, --ffn and/or --magnitude");
            if (mag > 0 && r.GetValue(trainFile) is not null)
                throw new UsageException("--magnitude and --train do not combine: recovery training refills the zeroed weights; recover first, then run prune --magnitude on the result");
            if (r.GetValue(data) is not null && h == 0 && f == 0)
                throw new UsageException("--data measures the importance of heads and FFN neurons; add --heads and/or --ffn, or drop --data (--magnitude ranks weights by size)");
            Check.AtLeast(r.GetValue(importanceExamples), 1, "--importance-examples");
            if (r.GetValue(trainFile) is null && (train.HasBudget(r) || TrainingFlags.Given(r, train.LearningRate)))
                throw new UsageException("the training flags (--epochs, --max-steps, --max-time, --lr, ...) set the recovery fine-tune; add --train FILE or drop them");
            int length = Check.AtLeast(r.GetValue(maxLength), 8, "--max-length") ?? DefaultMaxLength;
            string dir = ModelHub.ExistingDirectory(source);
            if (File.Exists(outDir)) throw new GptBertException($"--output {outDir} is a file; give a directory");
            if (Path.GetFullPath(Path.TrimEndingDirectorySeparator(outDir)) == Path.GetFullPath(Path.TrimEndingDirectorySeparator(dir)))
                throw new UsageException($"--output {outDir} is the model's own directory; give a new directory for the pruned model");
            if (r.GetValue(trainFile) is not null) TrainingFlags.CheckOutputDirectory(outDir, resume: false);
            train.ConfigureRuntime(r);
            var options = train.Build(r, 5e-5, new TrainingOptions { Epochs = DefaultEpochs });
            var spec = new PruneSpec
            {
                Model = source, Output = outDir, Heads = h, Ffn = f, Magnitude = mag, PerLayer = r.GetValue(perLayer),
                Data = r.GetValue(data), ImportanceExamples = r.GetValue(importanceExamples), ImportanceBatchSize = r.GetValue(train.BatchSize),
                Train = r.GetValue(trainFile), Validation = r.GetValue(validation), Tokenizer = common.TokenizerName(r),
                Format = format.Build(r, ctx), MaxLength = length, Device = r.GetValue(train.Device), Training = options,
            };
            var result = PruningRuns.Run(spec, TrainingFlags.ReportTo(ctx));
            if (r.GetValue(json)) WriteJson(ctx, outDir, result);
            else WriteText(ctx, spec, result);
            return ExitCodes.Ok;
        });
        return command;
    }

    static void WriteJson(CliContext ctx, string outDir, PruneResult p) => ctx.Out.JsonLine(w =>
    {
        w.WriteString("output", outDir);
        w.WriteString("architecture", p.Architecture);
        w.WriteString("importance", p.Importance);
        w.WriteNumber("parameters_before", p.ParametersBefore);
        w.WriteNumber("parameters_after", p.ParametersAfter);
        w.WriteNumber("pruned_heads", p.Layers.Sum(l => l.Heads.Length));
        w.WriteNumber("pruned_neurons", p.Layers.Sum(l => l.Neurons.Length));
        w.WriteStartArray("layers");
        foreach (var l in p.Layers)
        {
            w.WriteStartObject();
            w.WriteNumber("layer", l.Layer);
            Ints(w, "heads_removed", l.Heads);
            w.WriteNumber("heads_left", l.HeadsLeft);
            Ints(w, "neurons_removed", l.Neurons);
            w.WriteNumber("neurons_left", l.NeuronsLeft);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteNumber("zeroed_weights", p.Zeroed);
        w.WriteNumber("magnitude_considered_weights", p.Considered);
        w.WriteNumber("sparsity", p.Considered == 0 ? 0 : Math.Round((double)p.Zeroed / p.Considered, 4));
        w.WriteNumber("bytes_before", p.BytesBefore);
        w.WriteNumber("bytes_after", p.BytesAfter);
        w.WriteNumber("latency_ms_before", Math.Round(p.LatencyMsBefore, 2));
        w.WriteNumber("latency_ms_after", Math.Round(p.LatencyMsAfter, 2));
        if (p.Metric is not null) w.WriteString("metric", p.Metric);
        Metrics(w, "quality_before", p.QualityBefore);
        Metrics(w, "quality_pruned", p.QualityPruned);
        Metrics(w, "quality_recovered", p.QualityRecovered);
        if (p.Recovery is { } t)
        {
            w.WriteNumber("recovery_steps", t.Steps);
            w.WriteNumber("recovery_seconds", Math.Round(t.Elapsed.TotalSeconds, 1));
            if (t.FinalTrainLoss is double loss) w.WriteNumber("recovery_final_train_loss", loss);
            w.WriteString("pruned_directory", p.PrunedDirectory);
        }
    });

    static void Ints(Utf8JsonWriter w, string name, int[] values)
    {
        w.WriteStartArray(name);
        foreach (var v in values) w.WriteNumberValue(v);
        w.WriteEndArray();
    }

    static void Metrics(Utf8JsonWriter w, string name, IReadOnlyDictionary<string, double>? m)
    {
        if (m is null) return;
        w.WriteStartObject(name);
        foreach (var (k, v) in m) w.WriteNumber(k, v);
        w.WriteEndObject();
    }

    static void WriteText(CliContext ctx, PruneSpec spec, PruneResult p)
    {
        var o = ctx.Out;
        string F(double v, string fmt) => v.ToString(fmt, CultureInfo.InvariantCulture);
        int heads = p.Layers.Sum(l => l.Heads.Length), neurons = p.Layers.Sum(l => l.Neurons.Length);
        o.Line($"pruned {p.Architecture} from {spec.Model} into {p.PrunedDirectory ?? spec.Output}: {heads} heads and {neurons:N0} FFN neurons removed" +
               (p.Considered > 0 ? $", {p.Zeroed:N0} of {p.Considered:N0} layer weights zeroed ({F(100.0 * p.Zeroed / p.Considered, "F1")}% sparsity)" : ""));
        if (p.Layers.Count > 0)
        {
            o.Line($"  importance: {p.Importance}");
            foreach (var l in p.Layers)
                o.Line($"  layer {l.Layer}: heads removed [{string.Join(", ", l.Heads)}] ({l.HeadsLeft} left); FFN neurons removed {l.Neurons.Length} ({l.NeuronsLeft} left)" +
                       (l.Neurons.Length == 0 ? "" : $": {string.Join(", ", l.Neurons.Take(8))}{(l.Neurons.Length > 8 ? ", ... (--json lists all)" : "")}"));
        }
        o.Line($"  parameters {Output.HumanCount(p.ParametersBefore)} -> {Output.HumanCount(p.ParametersAfter)}; weights on disk {Output.HumanBytes(p.BytesBefore)} -> {Output.HumanBytes(p.BytesAfter)}");
        o.Line($"  batch-1 latency, one 128-token sequence (or the model's limit), median of 7, models alternated (measured here): {F(p.LatencyMsBefore, "F1")} ms -> {F(p.LatencyMsAfter, "F1")} ms ({F(p.LatencyMsBefore / p.LatencyMsAfter, "F2")}x)");
        if (spec.Magnitude > 0)
            o.Line("  magnitude pruning keeps every shape: dense kernels run as fast as before and model.safetensors is as large (zeros are stored like any float)");
        if (p.Metric is { } metric)
        {
            string Q(IReadOnlyDictionary<string, double>? m) => m is not null && m.TryGetValue(metric, out var v) ? TrainingSummary.Metric(v) : "-";
            o.Line($"  validation {metric}: before {Q(p.QualityBefore)}, pruned {Q(p.QualityPruned)}" + (p.Recovery is null ? "" : $", recovered {Q(p.QualityRecovered)}"));
        }
        if (p.Recovery is { } t)
        {
            o.Line($"  recovery training: {TrainingSummary.Totals(t)}; the pruned model before it is in {p.PrunedDirectory}");
            TrainingSummary.Files(ctx, spec.Output);
        }
    }
}
