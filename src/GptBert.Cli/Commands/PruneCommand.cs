using System.CommandLine;
using System.Diagnostics;
using GptBert.Models;
using GptBert.Pipelines;
using static TorchSharp.torch;

namespace GptBert.Cli.Commands;

/// <summary>`gptbert prune`: remove attention heads and FFN neurons (smaller matrices) or zero small weights (same shapes).</summary>
public static class PruneCommand
{
    public static Command Create(CliContext ctx)
    {
        var command = new Command("prune", """
            Prune a BERT or GPT-2 model. Structured pruning removes the least important attention heads (--heads, a fraction of
            all heads, chosen globally, at least one kept per layer) and FFN neurons (--ffn, the same fraction in every layer,
            because a Hugging Face config holds one intermediate_size / n_inner): the matrices physically shrink, the removed
            heads are recorded in config.json's pruned_heads exactly as transformers' prune_heads does, and the directory loads
            in GptBert and in transformers. Importance is the weight norm of each head's / neuron's slice of its output
            projection (Michel et al. 2019's gradient score is in the library, Pruning.Measure, for callers with a loss).
            Unstructured --magnitude zeroes that fraction of the smallest layer weights in place (globally, or per matrix with
            --per-layer): same shapes, so dense kernels run exactly as fast and the file is as large; it only helps a sparse
            runtime or a compressor. Prints parameter counts, size on disk and measured batch-1 latency before and after.
            Fine-tune the output afterwards (gptbert finetune --model OUT) to recover accuracy.
            """).WithSummary("Prune attention heads / FFN neurons (smaller model) or zero small weights")
            .WithExamples("""
                gptbert prune --model runs/clf --output runs/clf-pruned --heads 0.3 --ffn 0.3
                gptbert prune --model ./gpt2 --output gpt2-sparse --magnitude 0.5 --per-layer
                gptbert prune --model runs/clf --output runs/clf-pruned --heads 0.3 --json
                """);
        var model = ModelOptions.Model(defaultModel: null, "Model to prune: a Hugging Face directory or a built-in name");
        var output = new Option<string>("--output", "-o") { Description = "Directory to write the pruned model into", HelpName = "DIR", Required = true };
        var heads = new Option<double>("--heads") { Description = "Fraction of all attention heads to remove (0-1, lowest importance first)", HelpName = "FRACTION" };
        var ffn = new Option<double>("--ffn") { Description = "Fraction of FFN neurons to remove from every layer (0-1)", HelpName = "FRACTION" };
        var magnitude = new Option<double>("--magnitude") { Description = "Fraction of layer weights to zero by magnitude (0-1, shapes unchanged)", HelpName = "FRACTION" };
        var perLayer = new Option<bool>("--per-layer") { Description = "With --magnitude: reach the fraction in every weight matrix instead of globally" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object (parameters, bytes, latency) instead of text" };
        foreach (var o in new Option[] { model, output, heads, ffn, magnitude, perLayer, json }) command.Options.Add(o);
        var common = CommonOptions.AddTo(command, input: false, jsonl: false, device: false, noTruncate: false);
        command.SetAction(r =>
        {
            string source = r.GetValue(model)!;
            string outDir = r.GetValue(output)!;
            double h = r.GetValue(heads), f = r.GetValue(ffn), mag = r.GetValue(magnitude);
            foreach (var (name, v) in new[] { ("--heads", h), ("--ffn", f), ("--magnitude", mag) })
                if (v is < 0 or >= 1) throw new UsageException($"{name} {v} must be a fraction in [0, 1)");
            if (h == 0 && f == 0 && mag == 0) throw new UsageException("nothing to prune; give --heads, --ffn and/or --magnitude");
            string dir = ModelHub.ExistingDirectory(source);
            if (File.Exists(outDir)) throw new GptBertException($"--output {outDir} is a file; give a directory");
            if (Path.GetFullPath(Path.TrimEndingDirectorySeparator(outDir)) == Path.GetFullPath(Path.TrimEndingDirectorySeparator(dir)))
                throw new UsageException($"--output {outDir} is the model's own directory; give a new directory for the pruned model");
            using var handle = common.LoadModel(r, source, architecture: null, requireHead: false, requireTokenizer: false);
            var before = handle.Model;
            before.eval();
            long paramsBefore = before.ParameterCount;
            double msBefore = Latency(before);
            var pruned = before;
            if (h > 0 || f > 0)
            {
                var imp = Pruning.Measure(before);
                var chosenHeads = h > 0 ? Pruning.ChooseHeads(before.Config, imp, h) : null;
                var chosenNeurons = f > 0 ? Pruning.ChooseNeurons(imp, f) : null;
                pruned = Pruning.Prune(before, chosenHeads, chosenNeurons);
                pruned.eval();
            }
            (long Zeroed, long Total) sparse = (0, 0);
            if (mag > 0) sparse = Pruning.Magnitude(pruned, mag, r.GetValue(perLayer));
            double msAfter = Latency(pruned);
            pruned.SavePretrained(outDir);
            Int8Quantization.CopyCompanionFiles(dir, outDir);
            long bytesBefore = new FileInfo(Path.Combine(dir, "model.safetensors")) is { Exists: true } fb ? fb.Length : 0;
            long bytesAfter = new FileInfo(Path.Combine(outDir, "model.safetensors")).Length;
            var prunedHeads = pruned.Config.PrunedHeads?.Sum(p => p.Value.Count) ?? 0;
            if (r.GetValue(json))
            {
                ctx.Out.JsonPretty(w =>
                {
                    w.WriteString("output", outDir);
                    w.WriteNumber("parameters_before", paramsBefore);
                    w.WriteNumber("parameters_after", pruned.ParameterCount);
                    w.WriteNumber("pruned_heads", prunedHeads);
                    w.WriteNumber("zeroed_weights", sparse.Zeroed);
                    w.WriteNumber("bytes_before", bytesBefore);
                    w.WriteNumber("bytes_after", bytesAfter);
                    w.WriteNumber("latency_ms_before", Math.Round(msBefore, 2));
                    w.WriteNumber("latency_ms_after", Math.Round(msAfter, 2));
                });
            }
            else
            {
                ctx.Out.Line($"pruned {handle.Architecture} into {outDir}: {prunedHeads} heads pruned in total (pruned_heads in config.json), {sparse.Zeroed:N0} of {sparse.Total:N0} layer weights zeroed");
                ctx.Out.Line($"  parameters {Output.HumanCount(paramsBefore)} -> {Output.HumanCount(pruned.ParameterCount)}; model.safetensors {Output.HumanBytes(bytesBefore)} -> {Output.HumanBytes(bytesAfter)}");
                ctx.Out.Line($"  batch-1 latency, 128 tokens, median of 5 (measured here): {msBefore:F1} ms -> {msAfter:F1} ms ({msBefore / msAfter:F2}x)");
                if (mag > 0) ctx.Out.Line("  magnitude pruning keeps every shape: dense kernels run as fast as before and the file is as large");
            }
            if (!ReferenceEquals(pruned, before)) pruned.Dispose();
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>Median wall time of the encoder / decoder stack on one 128-token sequence (no head, no_grad).</summary>
    static double Latency(PretrainedModel m)
    {
        Func<Tensor, Tensor>? run = m switch
        {
            BertModel b => ids => b.Forward(ids, pool: false).LastHiddenState,
            BertHeadModel b => ids => b.bert.Forward(ids, pool: false).LastHiddenState,
            GPT2LMHeadModel g => ids => g.transformer.Forward(ids),
            GPT2Model g => ids => g.Forward(ids),
            _ => null,
        };
        if (run is null) return double.NaN;
        using var _ = no_grad();
        int t = Math.Min(128, m.Config.MaxPositions);
        using var ids = randint(0, m.Config.VocabSize, [1, t], dtype: int64, generator: new TorchSharp.torch.Generator(0));
        var times = new List<double>();
        for (int i = 0; i < 6; i++)
        {
            using var scope = NewDisposeScope();
            var sw = Stopwatch.StartNew();
            run(ids);
            if (i > 0) times.Add(sw.Elapsed.TotalMilliseconds);
        }
        return times.Order().ElementAt(times.Count / 2);
    }
}
