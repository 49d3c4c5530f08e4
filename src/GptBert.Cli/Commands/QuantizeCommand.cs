using System.CommandLine;
using GptBert.Models;
using GptBert.Pipelines;
using GptBert.Tokenizers;

namespace GptBert.Cli.Commands;

/// <summary>`gptbert quantize`: write an int8 copy of a model that every inference command loads.</summary>
public static class QuantizeCommand
{
    public static Command Create(CliContext ctx)
    {
        var command = new Command("quantize", """
            Quantize a GPT-2 or BERT model to int8 for CPU inference. Every linear layer (BERT's nn.Linear, GPT-2's Conv1D, heads
            included) gets int8 weights with one symmetric scale per output channel; embeddings and LayerNorm stay fp32, and so
            does GPT-2's tied LM head unless --lm-head int8. The output directory describes itself (quantization_config in
            config.json; I8 weights and F32 scales in model.safetensors, under the Hugging Face names) and carries the
            tokenizer, so embed, similarity, classify, fill-mask, generate, chat, rerank, compare and serve load it like any
            model. It cannot be trained (finetune and pretrain --init-from refuse it): train the fp32 model, then quantize.
            Schemes:
              dynamic      activations quantized per row at run time (uint8, scale + zero point), int32 products
                           (AVX-VNNI vpdpbusd, or AVX2 vpmaddubsw on 7-bit weights, which cannot saturate): for encoders
                           and batches, where the products are compute-bound.
              weight-only  int8 weights, fp32 activations, weights widened in the kernel: for batch-1 decoding, which is
                           bound by reading the weights (a quarter of the bytes).
            """).WithSummary("Quantize a model to int8 (dynamic or weight-only) for faster CPU inference")
            .WithExamples("""
                gptbert quantize --model minilm --output minilm-int8
                gptbert embed --model minilm-int8 "The cat sat on the mat."
                gptbert quantize --model ./gpt2 --output gpt2-int8 --scheme weight-only --lm-head int8
                gptbert generate --model gpt2-int8 --prompt "Once upon a time" --max-new-tokens 30
                gptbert quantize --model runs/clf --output clf-int8 --json
                """);
        var model = ModelOptions.Model(defaultModel: null, "Model to quantize: a Hugging Face directory or a built-in name (minilm, arctic-xs)");
        var output = new Option<string>("--output", "-o") { Description = "Directory to write the quantized model into", HelpName = "DIR", Required = true };
        var scheme = new Option<string>("--scheme")
        {
            Description = "dynamic (int8 activations at run time; default) or weight-only (fp32 activations; for decoding)",
            HelpName = "dynamic|weight-only",
            DefaultValueFactory = _ => QuantizationConfig.DynamicScheme,
        };
        scheme.AcceptOnlyFromAmong(QuantizationConfig.DynamicScheme, QuantizationConfig.WeightOnlyScheme);
        var lmHead = new Option<string>("--lm-head")
        {
            Description = "GPT-2's tied output head: fp32 (default) or int8 (an int8 copy; the input embeddings stay fp32)",
            HelpName = "fp32|int8",
            DefaultValueFactory = _ => "fp32",
        };
        lmHead.AcceptOnlyFromAmong("fp32", "int8");
        var json = new Option<bool>("--json") { Description = "Print one JSON object (output, scheme, layers, sizes) instead of text" };
        foreach (var o in new Option[] { model, output, scheme, lmHead, json }) command.Options.Add(o);
        var common = CommonOptions.AddTo(command, input: false, jsonl: false, device: false, noTruncate: false);
        command.SetAction(r =>
        {
            string source = r.GetValue(model)!;
            string outDir = r.GetValue(output)!;
            string dir = ModelHub.ExistingDirectory(source);
            if (File.Exists(outDir)) throw new GptBertException($"--output {outDir} is a file; give a directory");
            if (Path.GetFullPath(Path.TrimEndingDirectorySeparator(outDir)) == Path.GetFullPath(Path.TrimEndingDirectorySeparator(dir)))
                throw new UsageException($"--output {outDir} is the model's own directory; give a new directory for the quantized model");
            var config = ModelConfig.Load(Path.Combine(dir, "config.json"));
            if (config.Quantization is not null)
                throw new GptBertException($"{source} is already quantized ({config.Quantization.Scheme}); quantize the fp32 model it came from");
            bool int8Head = r.GetValue(lmHead) == "int8";
            if (int8Head && config is not Gpt2Config)
                throw new UsageException($"--lm-head int8 applies to GPT-2 language models; {source} is a BERT (its linear layers are quantized anyway)");
            using var handle = common.LoadModel(r, source, architecture: null, requireHead: false, requireTokenizer: false);
            var report = Int8Quantization.Save(handle.Model, handle.Directory, outDir,
                new QuantizeOptions { Scheme = r.GetValue(scheme)!, Int8LmHead = int8Head });
            // --tokenizer for a model directory without one: saved beside the weights, so the output runs without the flag.
            if (handle.OptionalTokenizer is { } given && !ModelHub.HasTokenizer(handle.Directory))
                given.SaveForModel(outDir, handle.Config.MaxPositions);
            if (r.GetValue(json))
            {
                ctx.Out.JsonPretty(w =>
                {
                    w.WriteString("output", outDir);
                    w.WriteString("architecture", handle.Architecture);
                    w.WriteString("scheme", report.Config.Scheme);
                    w.WriteNumber("weight_range", report.Config.WeightRange);
                    w.WriteString("lm_head", report.Config.LmHead);
                    w.WriteNumber("layers", report.Layers);
                    w.WriteNumber("int8_parameters", report.Int8Parameters);
                    w.WriteNumber("fp32_parameters", report.Fp32Parameters);
                    w.WriteNumber("fp32_bytes", report.Fp32Bytes);
                    w.WriteNumber("bytes", report.Bytes);
                });
                return ExitCodes.Ok;
            }
            ctx.Out.Line($"quantized {report.Layers} linear layers of {handle.Architecture} to int8 ({report.Config.Scheme}, weights ±{report.Config.WeightRange} per output channel, LM head {report.Config.LmHead}) into {outDir}");
            ctx.Out.Line($"  {Output.HumanCount(report.Int8Parameters)} int8 + {Output.HumanCount(report.Fp32Parameters)} fp32 parameters; model.safetensors {Output.HumanBytes(report.Bytes)} (fp32: {Output.HumanBytes(report.Fp32Bytes)})");
            if (handle.OptionalTokenizer is null)
                ctx.Warn($"{source} has no tokenizer files, so none were copied; pass --tokenizer when running {outDir}");
            return ExitCodes.Ok;
        });
        return command;
    }
}
