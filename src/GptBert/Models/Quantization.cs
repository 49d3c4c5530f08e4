// int8 quantization of a GPT-2 or BERT model (gptbert quantize): what is quantized and how, how the directory is written
// and read back, and the layer that runs the int8 kernels of Engine/Int8Gemm.cs in place of a linear layer's float product.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using System.Text.Json.Serialization;
using GptBert.Checkpoints;
using GptBert.Engine;
using TorchSharp;
using static TorchSharp.torch;

namespace GptBert.Models;

/// <summary>
/// config.json's "quantization_config" for a directory written by <c>gptbert quantize</c>: which layers hold int8 weights and how
/// to run them. Every listed module's "weight" tensor is I8 in the module's own layout (nn.Linear (out, in), GPT-2 Conv1D
/// (in, out)), symmetric per output channel, with an F32 "weight_scale" of shape (out): W ≈ weight · weight_scale.
/// </summary>
public sealed record QuantizationConfig
{
    public const string Method = "gptbert-int8";
    public const string DynamicScheme = "dynamic";
    public const string WeightOnlyScheme = "weight-only";
    public const string ScaleSuffix = "_scale";
    /// <summary>The tied GPT-2 output head's own int8 copy of wte (the embeddings stay fp32).</summary>
    public const string LmHeadKey = "lm_head.weight";

    [JsonPropertyName("quant_method")] public string QuantMethod { get; set; } = Method;
    /// <summary>"dynamic" (activations quantized per row at run time, int32 products) or "weight-only" (fp32 activations).</summary>
    [JsonPropertyName("scheme")] public string Scheme { get; set; } = DynamicScheme;
    [JsonPropertyName("bits")] public int Bits { get; set; } = 8;
    /// <summary>Largest |q| written: 63 for dynamic (7-bit range: no int16 saturation in vpmaddubsw), 127 for weight-only.</summary>
    [JsonPropertyName("weight_range")] public int WeightRange { get; set; } = 63;
    [JsonPropertyName("per_channel")] public bool PerChannel { get; set; } = true;
    [JsonPropertyName("symmetric")] public bool Symmetric { get; set; } = true;
    [JsonPropertyName("activations")] public string Activations { get; set; } = "uint8, per row, asymmetric (scale and zero point at run time)";
    /// <summary>"fp32" or "int8": the tied GPT-2 LM head (lm_head.weight + lm_head.weight_scale when int8).</summary>
    [JsonPropertyName("lm_head")] public string LmHead { get; set; } = "fp32";
    /// <summary>Names of the quantized modules (nn.Linear / Conv1D), as in the state dict.</summary>
    [JsonPropertyName("modules")] public List<string> Modules { get; set; } = [];

    [JsonIgnore] public bool IsWeightOnly => Scheme == WeightOnlyScheme;

    public void Validate(string source)
    {
        if (QuantMethod != Method)
            throw new GptBertException($"{source}: quantization_config.quant_method \"{QuantMethod}\" is not one GptBert runs (only {Method}, written by gptbert quantize); use the fp32 model");
        if (Scheme is not (DynamicScheme or WeightOnlyScheme))
            throw new GptBertException($"{source}: quantization_config.scheme \"{Scheme}\" is unknown (dynamic or weight-only); re-run gptbert quantize");
        if (Bits != 8 || WeightRange is < 1 or > 127 || !PerChannel || !Symmetric)
            throw new GptBertException($"{source}: quantization_config describes weights GptBert does not run (bits {Bits}, range {WeightRange}); re-run gptbert quantize");
        if (LmHead is not ("fp32" or "int8"))
            throw new GptBertException($"{source}: quantization_config.lm_head must be fp32 or int8 (got \"{LmHead}\")");
    }
}

/// <summary>What <see cref="Int8Quantization.Save"/> writes.</summary>
public sealed record QuantizeOptions
{
    /// <summary>"dynamic" or "weight-only".</summary>
    public string Scheme { get; init; } = QuantizationConfig.DynamicScheme;
    /// <summary>Also quantize the tied GPT-2 LM head (an int8 copy of wte; the embeddings stay fp32).</summary>
    public bool Int8LmHead { get; init; }
}

/// <summary>What a quantization wrote: layers, sizes.</summary>
public sealed record QuantizeReport(QuantizationConfig Config, int Layers, long Int8Parameters, long Fp32Parameters, long Fp32Bytes, long Bytes);

/// <summary>
/// The int8 form of one linear layer, run in place of its float product by <see cref="Dense"/>, <see cref="Conv1D"/> and the
/// GPT-2 LM head when the input is fp32 on the CPU and no gradient is wanted; anything else (a GPU, mixed precision, many rows
/// of a weight-only layer) falls back to the float product on the dequantized weights the module also holds.
/// </summary>
public sealed unsafe class QuantizedLinear
{
    /// <summary>Rows up to which the weight-only kernel runs; above, the float GEMM on the dequantized weights is faster.</summary>
    public static int WeightOnlyMaxRows { get; set; } = 8;

    public int N { get; }
    public int K { get; }
    public bool WeightOnly { get; }
    readonly Int8Weights packed;
    readonly float[] scales;

    /// <param name="weights">(N, K) row-major int8.</param>
    public QuantizedLinear(ReadOnlySpan<sbyte> weights, int n, int k, ReadOnlySpan<float> scale, bool weightOnly)
    {
        N = n; K = k; WeightOnly = weightOnly;
        scales = GC.AllocateArray<float>(n, pinned: true);
        scale.CopyTo(scales);
        packed = new Int8Weights(weights, n, k);
    }

    /// <summary>W[n, k] as held for the kernels.</summary>
    public sbyte this[int n, int k] => packed[n, k];

    /// <summary>The scale of output channel <paramref name="n"/>.</summary>
    public float Scale(int n) => scales[n];

    /// <summary>
    /// The float weights W[n, k] · scale[n] this layer stands for, as a new tensor on <paramref name="device"/>: (N, K) as
    /// nn.Linear holds them, or (K, N) with <paramref name="inOut"/> (GPT-2's Conv1D). For the paths the int8 kernels do not
    /// take; the model itself keeps only the int8 weights.
    /// </summary>
    public Tensor Dequantize(bool inOut, Device? device = null)
    {
        var w = inOut ? empty(K, N, ScalarType.Float32) : empty(N, K, ScalarType.Float32);
        packed.Dequantize(new Span<float>((void*)SmallGemm.Data(w), N * K), scales, inOut);
        if (device is null || device.type == DeviceType.CPU) return w;
        using (w) return w.to(device);
    }

    /// <summary>From an int8 tensor in (N, K) layout, or (K, N) with <paramref name="inOut"/> (GPT-2's Conv1D), and its (N) scales.</summary>
    public static QuantizedLinear FromTensors(Tensor q, Tensor scale, bool inOut, bool weightOnly)
    {
        using var scope = NewDisposeScope();
        var nk = (inOut ? q.t() : q).contiguous().cpu();
        int n = (int)nk.shape[0], k = (int)nk.shape[1];
        return new QuantizedLinear(TensorBytes.ToArray<sbyte>(nk), n, k, TensorBytes.ToArray<float>(scale.to(ScalarType.Float32).contiguous().cpu()), weightOnly);
    }

    /// <summary>y = activation(x·Wᵀ + b) through the int8 kernels (the activation applied block by block inside them), or null when this input takes the float path.</summary>
    public Tensor? TryForward(Tensor x, Tensor? bias, Activation activation = Activation.None)
    {
        if (!Avx2.IsSupported || x.dtype != ScalarType.Float32 || x.device_type != DeviceType.CPU || x.dim() == 0 || x.shape[^1] != K) return null;
        if (MixedPrecision.Current is not null || torch.is_grad_enabled() && x.requires_grad) return null;
        if (bias is not null && (bias.dtype != ScalarType.Float32 || bias.device_type != DeviceType.CPU || !bias.is_contiguous() || bias.numel() != N)) return null;
        long m = x.numel() / K;
        if (m < 1 || m > int.MaxValue / Math.Max(K, N) || WeightOnly && m > WeightOnlyMaxRows || !WeightOnly && K > Int8Gemm.MaxK) return null;

        using var scope = NewDisposeScope();
        var xc = x.is_contiguous() ? x : x.contiguous();
        var shape = x.shape.ToArray(); shape[^1] = N;
        var y = empty(shape, ScalarType.Float32);
        float* xp = (float*)SmallGemm.Data(xc), yp = (float*)SmallGemm.Data(y);
        float* bp = bias is null ? null : (float*)SmallGemm.Data(bias);
        fixed (float* sp = scales)
        {
            if (WeightOnly) Int8Gemm.WeightOnlyLinear(xp, (int)m, packed, sp, bp, yp, activation: activation);
            else Int8Gemm.DynamicLinear(xp, (int)m, packed, sp, bp, yp, activation: activation);
        }
        GC.KeepAlive(xc); GC.KeepAlive(bias);
        return y.MoveToOuterDisposeScope();
    }
}

/// <summary>Quantizes models to int8 and reads quantized directories back (see <see cref="QuantizationConfig"/>).</summary>
public static class Int8Quantization
{
    /// <summary>
    /// Symmetric per-channel int8 of <paramref name="weight"/>: scale[c] = max|W[c]| / <paramref name="range"/> over the channel
    /// (dimension <paramref name="channelDim"/> of a matrix), q = round(W / scale) clamped to ±range (round half to even).
    /// The ONNX int8 export uses the same function, so both int8 forms of a model hold the same integers at the same range.
    /// </summary>
    public static (Tensor Q, Tensor Scale) PerChannel(Tensor weight, int channelDim, int range)
    {
        using var scope = NewDisposeScope();
        var w = weight.detach().to(ScalarType.Float32).cpu();
        var scale = (w.abs().amax([1 - channelDim]) / (double)range).clamp_min(1e-12f);        // (C)
        var s = channelDim == 0 ? scale.unsqueeze(1) : scale.unsqueeze(0);
        var q = (w / s).round().clamp(-range, range).to(ScalarType.Int8).contiguous();
        return (q.MoveToOuterDisposeScope(), scale.contiguous().MoveToOuterDisposeScope());
    }

    /// <summary>The linear layers a quantization covers: every nn.Linear (<see cref="Dense"/>) and GPT-2 <see cref="Conv1D"/>, by state-dict name.</summary>
    public static IEnumerable<(string Name, nn.Module Module)> LinearLayers(PretrainedModel model) =>
        model.named_modules().Where(m => m.module is Dense or Conv1D).Select(m => (m.name, (nn.Module)m.module));

    /// <summary>
    /// Writes <paramref name="model"/> quantized to <paramref name="output"/>: config.json with quantization_config, model.safetensors
    /// with I8 weights and F32 scales (everything else as it was), and the tokenizer and sentence-transformers files of
    /// <paramref name="sourceDirectory"/>. The model itself is left unchanged.
    /// </summary>
    public static QuantizeReport Save(PretrainedModel model, string sourceDirectory, string output, QuantizeOptions options)
    {
        if (model.Config.Quantization is not null)
            throw new GptBertException($"{sourceDirectory} is already quantized; quantize the fp32 model it came from");
        bool weightOnly = options.Scheme switch
        {
            QuantizationConfig.DynamicScheme => false,
            QuantizationConfig.WeightOnlyScheme => true,
            _ => throw new GptBertException($"unknown quantization scheme '{options.Scheme}'; use dynamic or weight-only"),
        };
        if (options.Int8LmHead && model is not GPT2LMHeadModel)
            throw new GptBertException($"an int8 LM head applies to GPT-2 language models (GPT2LMHeadModel), not {model.Architecture}; leave it fp32");
        int range = weightOnly ? 127 : 63;
        var config = new QuantizationConfig
        {
            Scheme = options.Scheme, WeightRange = range,
            Activations = weightOnly ? "fp32" : new QuantizationConfig().Activations,
            LmHead = options.Int8LmHead ? "int8" : "fp32",
        };
        using var scope = NewDisposeScope();
        var state = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value);
        long int8Params = 0;
        foreach (var (name, module) in LinearLayers(model))
        {
            var (weight, channelDim) = module switch
            {
                Dense d => ((Tensor)d.weight, 0),
                Conv1D c => (c.weight, 1),
                _ => throw new InvalidOperationException(),
            };
            var (q, s) = PerChannel(weight, channelDim, range);
            state[name + ".weight"] = q;
            state[name + ".weight" + QuantizationConfig.ScaleSuffix] = s;
            int8Params += q.numel();
            config.Modules.Add(name);
        }
        if (options.Int8LmHead && model is GPT2LMHeadModel lm)
        {
            var (q, s) = PerChannel(lm.transformer.wte.weight!, 0, range);
            state[QuantizationConfig.LmHeadKey] = q;
            state[QuantizationConfig.LmHeadKey + QuantizationConfig.ScaleSuffix] = s;
        }

        Directory.CreateDirectory(output);
        CopyCompanionFiles(sourceDirectory, output);
        var path = Path.Combine(output, CheckpointFiles.SafeTensorsFile);
        SafeTensors.Save(path, state, new Dictionary<string, string> { ["format"] = "pt", ["quantization"] = QuantizationConfig.Method });
        model.Config.Architectures = [model.Architecture];
        model.Config.TorchDtype ??= "float32";
        model.Config.Quantization = config;
        try { model.Config.Save(Path.Combine(output, "config.json")); }
        finally { model.Config.Quantization = null; }
        long fp32Params = model.parameters().Sum(p => p.numel()) - int8Params;
        return new QuantizeReport(config, config.Modules.Count, int8Params, fp32Params, model.parameters().Sum(p => p.numel() * 4), new FileInfo(path).Length);
    }

    /// <summary>Tokenizer, generation and sentence-transformers files beside the weights (not the weights, config.json or hidden files).</summary>
    public static void CopyCompanionFiles(string source, string output)
    {
        if (Path.GetFullPath(source) == Path.GetFullPath(output)) return;
        var weights = new HashSet<string> { CheckpointFiles.SafeTensorsFile, CheckpointFiles.SafeTensorsIndexFile, CheckpointFiles.PyTorchFile, CheckpointFiles.PyTorchIndexFile, "config.json" };
        foreach (var file in Directory.EnumerateFiles(source))
        {
            var name = Path.GetFileName(file);
            if (name.StartsWith('.') || weights.Contains(name) || name.EndsWith(".safetensors") || name.EndsWith(".bin") || name.EndsWith(".onnx")) continue;
            AtomicFile.WriteAllBytes(Path.Combine(output, name), File.ReadAllBytes(file));
        }
        // sentence-transformers module folders (pooling, normalisation): small JSON files.
        foreach (var dir in Directory.EnumerateDirectories(source).Where(d => System.Text.RegularExpressions.Regex.IsMatch(Path.GetFileName(d), @"^\d+_[A-Za-z]+$")))
        {
            var target = Path.Combine(output, Path.GetFileName(dir));
            Directory.CreateDirectory(target);
            foreach (var file in Directory.EnumerateFiles(dir))
                AtomicFile.WriteAllBytes(Path.Combine(target, Path.GetFileName(file)), File.ReadAllBytes(file));
        }
    }

    /// <summary>
    /// Before a quantized checkpoint is copied into <paramref name="model"/>: builds the int8 layers from the I8 weights and their
    /// scales and releases the float storage of those layers' weights (each becomes a zero-stride placeholder of its shape, so
    /// an int8 model holds its linear layers in int8 only; the float paths dequantize per call, see <see cref="Dense.Quantized"/>).
    /// Those entries of <paramref name="state"/> become placeholders of the same shape, so the strict loader still checks every
    /// shape; the returned keys are the ones already in place, which the loader must not copy.
    /// </summary>
    public static HashSet<string> Attach(PretrainedModel model, Dictionary<string, Tensor> state, QuantizationConfig config, string source)
    {
        var held = new HashSet<string>();
        config.Validate(source);
        // The scope keeps every temporary alive until the end: a tensor no longer referenced can be finalized while libtorch
        // still reads it (large pinned allocations below make collections, and so finalizers, likelier).
        using var scope = NewDisposeScope();
        var modules = model.named_modules().ToDictionary(m => m.name, m => m.module);
        string prefix = model.BasePrefix.Length > 0 ? model.BasePrefix + "." : "";
        nn.Module? Find(string name) =>
            modules.GetValueOrDefault(name) ?? (prefix.Length > 0 ? modules.GetValueOrDefault(prefix + name) : null)
            ?? new[] { "transformer.", "bert." }.Where(name.StartsWith).Select(p => modules.GetValueOrDefault(name[p.Length..])).FirstOrDefault(m => m is not null);
        foreach (var name in config.Modules)
        {
            string key = name + ".weight", scaleKey = key + QuantizationConfig.ScaleSuffix;
            var (q, s) = Take(state, key, scaleKey, source);
            var module = Find(name);
            bool inOut = module is Conv1D;
            if (module is not null && module is not (Dense or Conv1D))
                throw new GptBertException($"{source}: quantization_config names '{name}', which is not a linear layer here; the config and weights disagree");
            if (!inOut && module is null && q.shape.Length == 2)
                inOut = model.Config is Gpt2Config && !name.EndsWith("score"); // a head this architecture lacks: only dequantized (then unused)
            RequireScale(q, s, inOut ? 1 : 0, key, source);
            if (module is not null)
            {
                var layer = QuantizedLinear.FromTensors(q, s, inOut, config.IsWeightOnly);
                Tensor weight;
                if (module is Dense d) { d.Quantized = layer; weight = d.weight; } else { var c = (Conv1D)module; c.Quantized = layer; weight = c.weight; }
                if (!weight.shape.SequenceEqual(q.shape))
                    throw PretrainedModel.ShapeMismatch(source, key, q.shape, weight.shape);
                ReleaseFloat(weight);
                state[key] = Placeholder(q.shape).MoveToOuterDisposeScope();
                held.Add(key);
            }
            else state[key] = Dequantize(q, s, inOut ? 1 : 0).MoveToOuterDisposeScope(); // a head this model lacks: unused
            q.Dispose(); s.Dispose();
        }
        if (state.ContainsKey(QuantizationConfig.LmHeadKey) && state[QuantizationConfig.LmHeadKey].dtype == ScalarType.Int8)
        {
            var (q, s) = Take(state, QuantizationConfig.LmHeadKey, QuantizationConfig.LmHeadKey + QuantizationConfig.ScaleSuffix, source);
            RequireScale(q, s, 0, QuantizationConfig.LmHeadKey, source);
            if (model is GPT2LMHeadModel lm) lm.LmHead = QuantizedLinear.FromTensors(q, s, inOut: false, config.IsWeightOnly);
            q.Dispose(); s.Dispose();
        }
        var stray = state.FirstOrDefault(kv => kv.Value.dtype == ScalarType.Int8);
        if (stray.Key is not null)
            throw new GptBertException($"{source}: tensor '{stray.Key}' is int8 but quantization_config does not list its module; re-run gptbert quantize");
        return held;
    }

    /// <summary>A float32 tensor of <paramref name="shape"/> whose every element is one stored zero (stride 0: 4 bytes).</summary>
    static Tensor Placeholder(long[] shape)
    {
        using var one = zeros(1, ScalarType.Float32);
        return one.expand(shape);
    }

    /// <summary>Points a weight at a placeholder of its shape, freeing its float storage.</summary>
    static void ReleaseFloat(Tensor weight)
    {
        using var _ = no_grad();
        using var placeholder = Placeholder(weight.shape);
        weight.set_(placeholder); // returns weight itself: not to be disposed
    }

    /// <summary>
    /// The model's state dict with every int8 layer's weight dequantized to float32 (new tensors, in the layer's own layout): what
    /// a float consumer (the ONNX exporter) reads from a quantized model. A float model's state dict is returned as it is.
    /// </summary>
    public static Dictionary<string, Tensor> FloatStateDict(PretrainedModel model)
    {
        var state = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value);
        if (model.Config.Quantization is null) return state;
        foreach (var (name, module) in LinearLayers(model))
        {
            if (module is Dense { Quantized: { } dq }) state[name + ".weight"] = dq.Dequantize(inOut: false);
            else if (module is Conv1D { Quantized: { } cq }) state[name + ".weight"] = cq.Dequantize(inOut: true);
        }
        return state;
    }

    static (Tensor Q, Tensor Scale) Take(Dictionary<string, Tensor> state, string key, string scaleKey, string source)
    {
        if (!state.Remove(key, out var q))
            throw new GptBertException($"{source}: quantization_config lists '{key}' but the checkpoint lacks it; the directory is incomplete, re-run gptbert quantize");
        if (!state.Remove(scaleKey, out var s))
            throw new GptBertException($"{source}: int8 tensor '{key}' has no '{scaleKey}'; the directory is incomplete, re-run gptbert quantize");
        if (q.dtype != ScalarType.Int8)
            throw new GptBertException($"{source}: '{key}' should be int8 (I8) in a quantized checkpoint but is {q.dtype}; re-run gptbert quantize");
        return (q, s);
    }

    static void RequireScale(Tensor q, Tensor s, int channelDim, string key, string source)
    {
        if (q.dim() != 2 || s.dim() != 1 || s.shape[0] != q.shape[channelDim])
            throw new GptBertException($"{source}: '{key}' [{string.Join(", ", q.shape)}] and its scales [{string.Join(", ", s.shape)}] do not match (one scale per output channel); re-run gptbert quantize");
    }

    static Tensor Dequantize(Tensor q, Tensor scale, int channelDim)
    {
        var s = scale.to(ScalarType.Float32);
        return q.to(ScalarType.Float32) * (channelDim == 0 ? s.unsqueeze(1) : s.unsqueeze(0));
    }

    /// <summary>The one-line refusal when training is asked of a quantized model.</summary>
    public static GptBertException TrainingRefused(string source) => new(
        $"{source} is an int8-quantized model (quantization_config in config.json) and runs inference only; train the fp32 model it was quantized from, then quantize the result");
}
