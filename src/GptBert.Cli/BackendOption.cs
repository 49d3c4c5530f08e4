using System.CommandLine;
using GptBert.OnnxExport;
using GptBert.Pipelines;

namespace GptBert.Cli;

/// <summary>--backend torch|onnx, shared by the inference commands: which engine runs the model.</summary>
public sealed class BackendOption
{
    public Option<string> Option { get; }

    BackendOption(Option<string> option) => Option = option;

    public static BackendOption AddTo(Command command)
    {
        var o = new Option<string>("--backend")
        {
            Description = "Engine: torch (TorchSharp, the default) or onnx (ONNX Runtime on a directory from 'gptbert export onnx'; no libtorch needed)",
            HelpName = "torch|onnx",
            DefaultValueFactory = _ => "torch",
        };
        o.AcceptOnlyFromAmong("torch", "onnx");
        command.Options.Add(o);
        return new BackendOption(o);
    }

    public Backend Value(ParseResult r) => r.GetValue(Option) == "onnx" ? Backend.Onnx : Backend.Torch;

    /// <summary>
    /// The model on the chosen engine. TorchSharp: loaded as <paramref name="architecture"/> with --device/--threads/--tokenizer
    /// (the runner owns the handle). ONNX: the exported directory in ONNX Runtime on the CPU, --threads as its intra-op threads.
    /// </summary>
    public IEncoderRunner LoadEncoder(ParseResult r, CommonOptions common, string model, string? architecture, bool requireHead) =>
        Value(r) == Backend.Onnx ? LoadOnnx(r, common, model)
            : new TorchRunner(common.LoadModel(r, model, architecture, requireHead), ownsHandle: true);

    public OnnxModel LoadOnnx(ParseResult r, CommonOptions common, string model)
    {
        var device = common.DeviceName(r);
        if (device != "cpu")
            throw new UsageException($"--backend onnx runs on the CPU (ONNX Runtime's CPU provider); drop --device {device} or use --backend torch");
        return OnnxModel.Load(model, common.TokenizerName(r), common.ThreadCount(r));
    }
}
