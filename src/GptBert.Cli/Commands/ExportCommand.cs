using System.CommandLine;
using GptBert.Models;
using GptBert.OnnxExport;
using GptBert.Pipelines;

namespace GptBert.Cli.Commands;

/// <summary>`gptbert export onnx`: write a model as an ONNX directory that ONNX Runtime (and tools written for Optimum) can run.</summary>
public static class ExportCommand
{
    public static Command Create(CliContext ctx)
    {
        var command = new Command("export", """
            Export a model to another format. 'gptbert export onnx' writes an ONNX directory for ONNX Runtime.
            """).WithSummary("Export a model to ONNX ('export onnx')")
            .WithExamples("""
                gptbert export onnx --model minilm --output minilm-onnx
                gptbert export onnx --help
                """);
        command.Subcommands.Add(CreateOnnx(ctx));
        return command;
    }

    /// <summary>Optimum's task names, accepted by --head beside the transformers class names.</summary>
    static readonly Dictionary<string, (string Bert, string? Gpt2)> TaskHeads = new()
    {
        ["feature-extraction"] = ("BertModel", "GPT2Model"),
        ["text-classification"] = ("BertForSequenceClassification", "GPT2ForSequenceClassification"),
        ["token-classification"] = ("BertForTokenClassification", null),
        ["fill-mask"] = ("BertForMaskedLM", null),
        ["question-answering"] = ("BertForQuestionAnswering", null),
        ["text-generation"] = ("", "GPT2LMHeadModel"),
        ["text-generation-with-past"] = ("", "GPT2LMHeadModel"),
    };

    static Command CreateOnnx(CliContext ctx)
    {
        var command = new Command("onnx", $"""
            Export a GPT-2 or BERT model to ONNX (opset 17 by default), built node by node from its weights, into a
            self-contained directory: model.onnx, config.json, onnx_config.json (the head, inputs and outputs) and the
            tokenizer files. Names follow Hugging Face Optimum: inputs input_ids, attention_mask (+ token_type_ids for BERT,
            position_ids and past_key_values.N.key/value for the GPT-2 language model), outputs last_hidden_state
            (+ pooler_output), logits, start_logits/end_logits, present.N.key/value; axes batch_size, sequence_length,
            past_sequence_length. The head is config.json's architecture unless --head names another:
            {string.Join(", ", OnnxExporter.Tasks.Keys)} (or Optimum's task names: {string.Join(", ", TaskHeads.Keys)}).
            Run the directory with --backend onnx on embed, similarity, classify, generate and fill-mask.
            """).WithSummary("Export a model to an ONNX directory")
            .WithExamples("""
                gptbert export onnx --model minilm --output minilm-onnx
                gptbert embed --backend onnx --model minilm-onnx "The cat sat on the mat."
                gptbert export onnx --model ./gpt2 --output gpt2-onnx && gptbert generate --backend onnx --model gpt2-onnx --prompt "Hello"
                gptbert export onnx --model runs/clf --output clf-onnx --int8
                """);
        var model = ModelOptions.Model(defaultModel: null, "Model directory (Hugging Face layout) or built-in name (minilm)");
        var output = new Option<string>("--output", "-o") { Description = "Directory to write model.onnx and its files into", HelpName = "DIR", Required = true };
        var head = new Option<string?>("--head") { Description = "Head to export (default: config.json's architecture), a transformers class or an Optimum task name", HelpName = "CLASS|TASK" };
        var opset = new Option<int>("--opset") { Description = $"ONNX opset, 17 to 21 (default: {OnnxExportOptions.DefaultOpset})", HelpName = "N", DefaultValueFactory = _ => OnnxExportOptions.DefaultOpset };
        var int8 = new Option<bool>("--int8") { Description = "Quantize the weight matrices to int8 (dynamic quantization: DynamicQuantizeLinear + MatMulInteger); about 4x smaller" };
        foreach (var o in new Option[] { model, output, head, opset, int8 }) command.Options.Add(o);
        var common = CommonOptions.AddTo(command, input: false, jsonl: false, device: false, noTruncate: false);
        command.SetAction(r =>
        {
            int op = r.GetValue(opset);
            if (op is < 17 or > 21) throw new UsageException($"--opset must be 17 to 21 (got {op}; LayerNormalization needs 17)");
            string source = r.GetValue(model)!;
            string outDir = r.GetValue(output)!;
            string dir = ModelHub.ExistingDirectory(source);
            var config = ModelConfig.Load(Path.Combine(dir, "config.json"));
            string arch = ResolveHead(r.GetValue(head), config);
            if (File.Exists(outDir)) throw new GptBertException($"--output {outDir} is a file; give a directory");
            if (Path.GetFullPath(Path.TrimEndingDirectorySeparator(outDir)) == Path.GetFullPath(Path.TrimEndingDirectorySeparator(dir)))
                throw new UsageException($"--output {outDir} is the model's own directory; give a new directory for the ONNX files");
            common.ConfigureRuntime(r);
            using var handle = common.LoadModel(r, source, arch, requireHead: false, requireTokenizer: false);
            // A head the checkpoint lacks would export random weights; BERT's pooler alone is optional (MiniLM has none).
            var fresh = handle.Report.NewlyInitialized;
            var missingHead = fresh.FirstOrDefault(k => !k.Contains("pooler."));
            if (missingHead is not null)
                throw new GptBertException($"{source} has no trained weights for {arch}'s head (e.g. '{missingHead}'); export the head it was saved with (--head {ModelFactory.DefaultArchitecture(config)}) or fine-tune it first");
            bool pooler = !fresh.Any(k => k.Contains("pooler."));
            if (handle.OptionalTokenizer is null)
                ctx.Warn($"{source} has no tokenizer files, so none are written; pass --tokenizer here, or later when running the export");
            var signature = OnnxExporter.Export(handle.Model, handle.OptionalTokenizer, outDir,
                new OnnxExportOptions { Opset = op, Int8 = r.GetValue(int8), Pooler = pooler }, sourceDirectory: handle.Directory);
            long bytes = new FileInfo(Path.Combine(outDir, OnnxExporter.ModelFile)).Length;
            ctx.Out.Line($"exported {signature.Architecture} ({signature.Task}, opset {signature.Opset}{(signature.Quantization is { } q ? ", " + q : "")}) to {outDir}");
            ctx.Out.Line($"  {OnnxExporter.ModelFile} {Output.HumanBytes(bytes)}; files: {string.Join(", ", Directory.EnumerateFiles(outDir, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(outDir, f)).Order())}");
            ctx.Out.Line($"  inputs:  {Describe(signature.Inputs)}");
            ctx.Out.Line($"  outputs: {Describe(signature.Outputs)}");
            return ExitCodes.Ok;
        });
        return command;
    }

    static string ResolveHead(string? head, ModelConfig config)
    {
        if (head is null) return ModelFactory.DefaultArchitecture(config);
        bool gpt = config is Gpt2Config;
        if (TaskHeads.TryGetValue(head, out var byTask))
        {
            var arch = gpt ? byTask.Gpt2 : byTask.Bert;
            if (string.IsNullOrEmpty(arch))
                throw new UsageException($"--head {head} does not apply to a {(gpt ? "GPT-2" : "BERT")} model; use one of {string.Join(", ", Heads(gpt))}");
            return arch;
        }
        if (!Heads(gpt).Contains(head))
            throw new UsageException($"unknown --head '{head}' for a {(gpt ? "GPT-2" : "BERT")} model; exportable: {string.Join(", ", Heads(gpt))}");
        return head;
    }

    static IEnumerable<string> Heads(bool gpt) => OnnxExporter.Tasks.Keys.Where(k => k.StartsWith(gpt ? "GPT2" : "Bert"));

    /// <summary>"input_ids [batch_size, sequence_length] int64, ..."; the per-layer cache tensors folded into one entry.</summary>
    static string Describe(IReadOnlyList<OnnxTensorSpec> specs)
    {
        string One(OnnxTensorSpec s) => $"{s.Name} [{string.Join(", ", s.Shape)}] {s.Dtype}";
        var plain = specs.Where(s => !s.Name.StartsWith("past_key_values.") && !s.Name.StartsWith("present.")).Select(One).ToList();
        foreach (var prefix in new[] { "past_key_values", "present" })
        {
            var layer = specs.Where(s => s.Name.StartsWith(prefix + ".")).ToList();
            if (layer.Count == 0) continue;
            var first = layer[0];
            plain.Add($"{prefix}.{{0..{layer.Count / 2 - 1}}}.key/value [{string.Join(", ", first.Shape)}] {first.Dtype}");
        }
        return string.Join(", ", plain);
    }
}
