using System.CommandLine;
using System.Globalization;
using GptBert.Pipelines;

namespace GptBert.Cli.Commands;

/// <summary>`gptbert info MODEL`: what a model is, how big, and what it can take.</summary>
public static class InfoCommand
{
    public static Command Create(CliContext ctx)
    {
        var command = new Command("info", """
            Describe a model: architecture, parameter count, size on disk, dtype, maximum context, layers/hidden size/heads,
            vocabulary and tokenizer. MODEL is a Hugging Face directory (config.json + model.safetensors or
            pytorch_model.bin) or a built-in: 'minilm', 'arctic-xs'.
            """).WithSummary("Describe a model: architecture, parameters, size, context, tokenizer")
            .WithExamples("""
                gptbert info minilm
                gptbert info ./gpt2 --json
                gptbert info minilm --mermaid > minilm.mmd      architecture diagram
                gptbert info ./my-gpt2 --tokenizer gpt2        directory without tokenizer files
                """);
        var model = new Argument<string>("MODEL") { Description = "Model directory or built-in name (minilm, arctic-xs)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of text" };
        var mermaid = new Option<bool>("--mermaid") { Description = "Print the architecture as a Mermaid flowchart (paste into Markdown inside ```mermaid)" };
        command.Arguments.Add(model);
        command.Options.Add(json);
        command.Options.Add(mermaid);
        var common = CommonOptions.AddTo(command, input: false, jsonl: false, noTruncate: false);
        command.SetAction(r =>
        {
            using var handle = common.LoadModel(r, r.GetValue(model)!, architecture: null, requireHead: false, requireTokenizer: false);
            if (r.GetValue(mermaid))
            {
                if (r.GetValue(json)) throw new UsageException("give --json or --mermaid, not both");
                ctx.Out.Write(GptBert.Models.ModelDiagram.Mermaid(handle.Config, handle.Model.Architecture));
                return ExitCodes.Ok;
            }
            var info = ModelInfo.Of(handle);
            int maxContext = handle.Config.MaxPositions;
            if (r.GetValue(json))
            {
                ctx.Out.JsonPretty(j =>
                {
                    j.WriteString("model", info.Source);
                    j.WriteString("directory", Path.GetFullPath(info.Directory));
                    j.WriteString("model_type", info.ModelType);
                    j.WriteString("architecture", info.Architecture);
                    j.WriteNumber("parameters", info.Parameters);
                    j.WriteNumber("size_on_disk_bytes", info.SizeOnDiskBytes);
                    j.WriteString("size_on_disk", Output.HumanBytes(info.SizeOnDiskBytes));
                    j.WriteString("dtype", info.Dtype);
                    j.WriteNumber("max_context", maxContext);
                    j.WriteNumber("default_max_length", info.MaxContext);
                    j.WriteNumber("layers", info.Layers);
                    j.WriteNumber("hidden_size", info.Hidden);
                    j.WriteNumber("heads", info.Heads);
                    j.WriteNumber("vocab_size", info.VocabSize);
                    j.WriteString("tokenizer", info.TokenizerKind);
                    if (info.TokenizerVocabSize is int n) j.WriteNumber("tokenizer_vocab_size", n);
                    else j.WriteNull("tokenizer_vocab_size");
                    j.WriteString("device", info.Device);
                });
            }
            else
            {
                var inv = CultureInfo.InvariantCulture;
                void Row(string name, string value) => ctx.Out.Line($"{name + ":",-14}{value}");
                Row("model", info.Source == info.Directory ? info.Source : $"{info.Source} ({info.Directory})");
                Row("architecture", $"{info.Architecture} ({info.ModelType})");
                Row("parameters", $"{info.Parameters.ToString("N0", inv)} ({Output.HumanCount(info.Parameters)})");
                Row("size on disk", $"{Output.HumanBytes(info.SizeOnDiskBytes)} ({info.SizeOnDiskBytes.ToString("N0", inv)} bytes)");
                Row("dtype", info.Dtype);
                Row("max context", info.MaxContext == maxContext
                    ? $"{maxContext} tokens"
                    : $"{maxContext} tokens (inputs default to {info.MaxContext})");
                Row("layers", info.Layers.ToString(inv));
                Row("hidden size", info.Hidden.ToString(inv));
                Row("heads", info.Heads.ToString(inv));
                Row("vocab size", info.VocabSize.ToString(inv));
                Row("tokenizer", info.TokenizerVocabSize is int n
                    ? $"{info.TokenizerKind} ({n.ToString(inv)} tokens)"
                    : "none (pass --tokenizer to commands that need text)");
                Row("device", info.Device);
            }
            return ExitCodes.Ok;
        });
        return command;
    }
}
