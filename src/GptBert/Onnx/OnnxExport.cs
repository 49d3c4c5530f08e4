using GptBert.Checkpoints;
// ONNX export of GPT-2 and BERT, built node by node from the model's weights. Input and output names, dynamic axes and
// the "with past" decoder follow Hugging Face Optimum's exporter (optimum/exporters/onnx/config.py and base.py:
// TextEncoderOnnxConfig, TextDecoderOnnxConfig, OnnxConfigWithPast.add_past_key_values), so tools written for Optimum's
// files run ours unchanged. Each block mirrors the forward pass in Models/Bert.cs and Models/Gpt2.cs.
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using GptBert.Models;
using GptBert.Tokenizers;
using Onnx;
using static TorchSharp.torch;

namespace GptBert.OnnxExport;

/// <summary>One graph input or output: its name, ONNX element type ("int64", "float32") and dimensions (sizes or axis names).</summary>
public sealed record OnnxTensorSpec(string Name, string Dtype, IReadOnlyList<object> Shape);

/// <summary>What an exported graph takes and gives, as written to onnx_config.json.</summary>
/// <param name="Architecture">The transformers class exported (GPT2LMHeadModel, BertForMaskedLM, ...).</param>
/// <param name="Task">Optimum's name for the export ("feature-extraction", "text-generation-with-past", ...).</param>
/// <param name="UsePast">Whether the graph takes past_key_values.* and returns present.* (GPT2LMHeadModel).</param>
/// <param name="Quantization">null for float32; "int8-dynamic" for <see cref="OnnxExportOptions.Int8"/> exports.</param>
public sealed record OnnxSignature(string Architecture, string Task, bool UsePast, int Opset,
    IReadOnlyList<OnnxTensorSpec> Inputs, IReadOnlyList<OnnxTensorSpec> Outputs, string? Quantization = null)
{
    public bool HasInput(string name) => Inputs.Any(i => i.Name == name);
    public bool HasOutput(string name) => Outputs.Any(o => o.Name == name);
}

public sealed record OnnxExportOptions
{
    public const int DefaultOpset = 17;
    /// <summary>ONNX opset of the default domain; 17 (LayerNormalization's first) to 21.</summary>
    public int Opset { get; init; } = DefaultOpset;
    /// <summary>Dynamic int8 quantization of the weight matrices (DynamicQuantizeLinear + MatMulInteger), written as model.onnx too.</summary>
    public bool Int8 { get; init; }
    /// <summary>BertModel: also output pooler_output (when the model has a pooler). False for a pooler the checkpoint did not have.</summary>
    public bool Pooler { get; init; } = true;
}

/// <summary>Writes a self-contained ONNX directory (model.onnx, config.json, onnx_config.json, tokenizer files) for a loaded model.</summary>
public static class OnnxExporter
{
    public const string ModelFile = "model.onnx";
    public const string SignatureFile = "onnx_config.json";

    /// <summary>The heads that export, with Optimum's task name for each.</summary>
    public static readonly IReadOnlyDictionary<string, string> Tasks = new Dictionary<string, string>
    {
        ["BertModel"] = "feature-extraction",
        ["BertForSequenceClassification"] = "text-classification",
        ["BertForTokenClassification"] = "token-classification",
        ["BertForMaskedLM"] = "fill-mask",
        ["BertForQuestionAnswering"] = "question-answering",
        ["GPT2Model"] = "feature-extraction",
        ["GPT2LMHeadModel"] = "text-generation-with-past",
        ["GPT2ForSequenceClassification"] = "text-classification",
    };

    /// <summary>Builds the graph of <paramref name="model"/> (evaluation mode: no dropout).</summary>
    public static (ModelProto Model, OnnxSignature Signature) Build(PretrainedModel model, OnnxExportOptions? options = null)
    {
        options ??= new();
        if (options.Opset is < 17 or > 21)
            throw new GptBertException($"opset {options.Opset} is not supported; use 17 to 21 (LayerNormalization needs 17)") { Parameter = "Opset" };
        if (!Tasks.TryGetValue(model.Architecture, out var task))
            throw new GptBertException($"{model.Architecture} cannot be exported to ONNX; exportable heads: {string.Join(", ", Tasks.Keys)}") { Parameter = "Architecture" };
        var g = new OnnxGraph(model.Architecture);
        using var scope = NewDisposeScope();
        var weights = Int8Quantization.FloatStateDict(model); // a quantized model's int8 layers, dequantized
        var b = new Builder(g, weights, options.Int8);
        var (inputs, outputs, usePast) = model switch
        {
            BertModel or BertHeadModel => BuildBert(b, model, options.Pooler),
            _ => BuildGpt2(b, model),
        };
        var signature = new OnnxSignature(model.Architecture, task, usePast, options.Opset, inputs, outputs, options.Int8 ? "int8-dynamic" : null);
        var metadata = new Dictionary<string, string> { ["architecture"] = model.Architecture, ["task"] = task };
        int ir = options.Opset switch { <= 18 => 8, <= 20 => 9, _ => 10 };
        var proto = g.ToModel(options.Opset, Version, metadata);
        proto.IrVersion = ir;
        return (proto, signature);
    }

    /// <summary>
    /// Exports <paramref name="model"/> into <paramref name="directory"/>: model.onnx, config.json (architectures = the head),
    /// onnx_config.json (the signature), the tokenizer's files when one is given, and sentence-transformers' small
    /// config files from <paramref name="sourceDirectory"/> when it has them (max_seq_length, pooling).
    /// </summary>
    public static OnnxSignature Export(PretrainedModel model, ITextTokenizer? tokenizer, string directory, OnnxExportOptions? options = null, string? sourceDirectory = null)
    {
        var (proto, signature) = Build(model, options);
        long size = proto.CalculateSize();
        if (size >= int.MaxValue)
            throw new GptBertException($"the ONNX model would be {size / (1 << 20)} MiB; a single .onnx file holds at most 2 GiB and GptBert does not write external data files yet");
        Directory.CreateDirectory(directory);
        AtomicFile.Write(Path.Combine(directory, ModelFile), s => Google.Protobuf.MessageExtensions.WriteTo(proto, s));
        var config = model.Config with { Architectures = [model.Architecture] };
        config.TorchDtype ??= "float32";
        config.Save(Path.Combine(directory, "config.json"));
        WriteSignature(Path.Combine(directory, SignatureFile), signature);
        tokenizer?.SaveForModel(directory, model.Config.MaxPositions);
        if (sourceDirectory is not null && Path.GetFullPath(sourceDirectory) != Path.GetFullPath(directory))
            foreach (var file in new[] { "sentence_bert_config.json", "modules.json", "special_tokens_map.json", "generation_config.json", Path.Combine("1_Pooling", "config.json") })
            {
                var from = Path.Combine(sourceDirectory, file);
                if (!File.Exists(from)) continue;
                Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(directory, file))!);
                File.Copy(from, Path.Combine(directory, file), overwrite: true);
            }
        return signature;
    }

    static string Version => typeof(OnnxExporter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0";

    public static void WriteSignature(string path, OnnxSignature s)
    {
        JsonArray Specs(IEnumerable<OnnxTensorSpec> specs) => new(specs.Select(t => (JsonNode)new JsonObject
        {
            ["name"] = t.Name,
            ["dtype"] = t.Dtype,
            ["shape"] = new JsonArray(t.Shape.Select(d => d is string str ? JsonValue.Create(str) : (JsonNode)JsonValue.Create(Convert.ToInt64(d))).ToArray()),
        }).ToArray());
        var json = new JsonObject
        {
            ["format"] = "gptbert-onnx",
            ["format_version"] = 1,
            ["exporter"] = $"gptbert {Version}",
            ["architecture"] = s.Architecture,
            ["task"] = s.Task,
            ["opset"] = s.Opset,
            ["use_past"] = s.UsePast,
            ["quantization"] = s.Quantization,
            ["inputs"] = Specs(s.Inputs),
            ["outputs"] = Specs(s.Outputs),
        };
        AtomicFile.WriteAllText(path, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>Reads onnx_config.json; null when the file is absent.</summary>
    public static OnnxSignature? ReadSignature(string path)
    {
        if (!File.Exists(path)) return null;
        try
        {
            var o = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
            IReadOnlyList<OnnxTensorSpec> Specs(string key) => o[key]!.AsArray().Select(n => new OnnxTensorSpec(
                (string)n!["name"]!, (string)n["dtype"]!,
                n["shape"]!.AsArray().Select(d => d!.GetValueKind() == JsonValueKind.String ? (object)(string)d! : (long)d!).ToList())).ToList();
            return new OnnxSignature((string)o["architecture"]!, (string)o["task"]!, (bool)o["use_past"]!, (int)o["opset"]!,
                Specs("inputs"), Specs("outputs"), (string?)o["quantization"]);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException or FormatException)
        {
            throw new GptBertException($"{path} is not a valid onnx_config.json ({e.Message.Split('.')[0]}); export the model again with `gptbert export onnx`");
        }
    }

    const string Batch = "batch_size", Seq = "sequence_length", Past = "past_sequence_length", Total = "past_sequence_length + sequence_length";

    static OnnxTensorSpec Spec(string name, string dtype, params object[] shape) =>
        new(name, dtype, shape.Select(d => d is int i ? (long)i : d).ToList()); // sizes as long, axis names as string

    // ---------------------------------------------------------------- BERT (Models/Bert.cs)

    static (List<OnnxTensorSpec>, List<OnnxTensorSpec>, bool) BuildBert(Builder b, PretrainedModel model, bool pooler)
    {
        var c = (BertConfig)model.Config;
        var g = b.G;
        string p = model.BasePrefix.Length > 0 ? model.BasePrefix + "." : "";
        var inputs = new List<OnnxTensorSpec>
        {
            Spec("input_ids", "int64", Batch, Seq), Spec("attention_mask", "int64", Batch, Seq), Spec("token_type_ids", "int64", Batch, Seq),
        };
        foreach (var i in inputs) g.Input(i.Name, OnnxGraph.Int64, [.. i.Shape]);
        b.SetBatchShape("input_ids");

        // BertEmbeddings: word + position (0..T-1) + token type, then LayerNorm.
        g.Scope = "/" + (p + "embeddings").Replace('.', '/');
        var words = b.Embedding(p + "embeddings.word_embeddings.weight", "input_ids");                  // (B, T, H)
        var positions = g.Op("Range", [g.IntScalar(0), b.SeqLen, g.IntScalar(1)]);                         // (T)
        var pos = g.Op("Gather", [b.W(p + "embeddings.position_embeddings.weight"), positions]);          // (T, H)
        var types = g.Op("Gather", [b.W(p + "embeddings.token_type_embeddings.weight"), "token_type_ids"]); // (B, T, H)
        var x = b.LayerNorm(g.Op("Add", [g.Op("Add", [words, pos]), types]), p + "embeddings.LayerNorm", c.LayerNormEps);

        // Additive padding mask (B, 1, 1, T): 0 for tokens, float32's minimum for padding (as Bert.cs and transformers).
        g.Scope = "/mask";
        var keep = g.Op("Cast", ["attention_mask"], ("to", (long)OnnxGraph.Float));
        var mask = g.Op("Unsqueeze", [g.Op("Mul", [g.Op("Sub", [g.FloatScalar(1), keep]), g.FloatScalar(float.MinValue)]), g.Ints(1, 2)]);

        int H = c.HiddenSize, nh = c.NumAttentionHeads, hs = H / nh;
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            string l = $"{p}encoder.layer.{i}.";
            g.Scope = $"/{l}attention".Replace('.', '/');
            // BertSelfAttention: (B, T, H) → (B, nh, T, hs) per projection.
            var q = g.Op("Transpose", [g.Op("Reshape", [b.Linear(x, l + "attention.self.query", H, H), g.Ints(0, 0, nh, hs)])], ("perm", new long[] { 0, 2, 1, 3 }));
            var kT = g.Op("Transpose", [g.Op("Reshape", [b.Linear(x, l + "attention.self.key", H, H), g.Ints(0, 0, nh, hs)])], ("perm", new long[] { 0, 2, 3, 1 })); // (B, nh, hs, T)
            var v = g.Op("Transpose", [g.Op("Reshape", [b.Linear(x, l + "attention.self.value", H, H), g.Ints(0, 0, nh, hs)])], ("perm", new long[] { 0, 2, 1, 3 }));
            var ctx = b.Attention(q, kT, v, mask, 1.0 / Math.Sqrt(hs));                                       // (B, nh, T, hs)
            ctx = g.Op("Reshape", [g.Op("Transpose", [ctx], ("perm", new long[] { 0, 2, 1, 3 })), g.Ints(0, 0, H)]); // (B, T, H)
            // BertSelfOutput: dense, residual, LayerNorm.
            var a = b.LayerNorm(g.Op("Add", [b.Linear(ctx, l + "attention.output.dense", H, H), x]), l + "attention.output.LayerNorm", c.LayerNormEps);
            g.Scope = $"/{l}mlp".Replace('.', '/');
            var inter = b.Activation(b.Linear(a, l + "intermediate.dense", H, c.IntermediateSize), c.HiddenAct);
            x = b.LayerNorm(g.Op("Add", [b.Linear(inter, l + "output.dense", c.IntermediateSize, H), a]), l + "output.LayerNorm", c.LayerNormEps);
        }
        g.Scope = "/head";

        var outputs = new List<OnnxTensorSpec>();
        void Out(string name, string value, params object[] shape)
        {
            g.OpNamed(name, "Identity", [value]);
            g.Output(name, OnnxGraph.Float, shape);
            outputs.Add(Spec(name, "float32", shape));
        }
        string Pooler() // BertPooler: tanh(W·h[CLS] + b), (B, H)
        {
            var cls = g.Op("Gather", [x, g.IntScalar(0)], ("axis", 1L));
            return g.Op("Tanh", [b.Linear2D(cls, p + "pooler.dense")]);
        }
        int labels = c.NumLabels;
        switch (model)
        {
            case BertModel m:
                Out("last_hidden_state", x, Batch, Seq, H);
                if (m.HasPooler && pooler) Out("pooler_output", Pooler(), Batch, H);
                break;
            case BertForSequenceClassification:
                Out("logits", b.Linear2D(Pooler(), "classifier"), Batch, labels);
                break;
            case BertForTokenClassification:
                Out("logits", b.Linear(x, "classifier", H, labels), Batch, Seq, labels);
                break;
            case BertForMaskedLM:
            {
                // BertLMPredictionHead: transform (dense, act, LayerNorm), then the decoder tied to the word embeddings.
                var t = b.LayerNorm(b.Activation(b.Linear(x, "cls.predictions.transform.dense", H, H), c.HiddenAct), "cls.predictions.transform.LayerNorm", c.LayerNormEps);
                Out("logits", b.Linear(t, p + "embeddings.word_embeddings", H, c.VocabSize, bias: "cls.predictions.bias"), Batch, Seq, c.VocabSize);
                break;
            }
            case BertForQuestionAnswering:
            {
                var span = g.OpN("Split", [b.Linear(x, "qa_outputs", H, 2), g.Ints(1, 1)], 2, ("axis", -1L)); // 2 x (B, T, 1)
                Out("start_logits", g.Op("Squeeze", [span[0], g.Ints(-1)]), Batch, Seq);
                Out("end_logits", g.Op("Squeeze", [span[1], g.Ints(-1)]), Batch, Seq);
                break;
            }
            default:
                throw new GptBertException($"{model.Architecture} cannot be exported to ONNX; exportable heads: {string.Join(", ", Tasks.Keys)}");
        }
        return (inputs, outputs, false);
    }

    // ---------------------------------------------------------------- GPT-2 (Models/Gpt2.cs)

    static (List<OnnxTensorSpec>, List<OnnxTensorSpec>, bool) BuildGpt2(Builder b, PretrainedModel model)
    {
        var c = (Gpt2Config)model.Config;
        var g = b.G;
        bool usePast = model is GPT2LMHeadModel;
        bool positionInput = model is not GPT2ForSequenceClassification; // Optimum: position_ids for text-generation and feature-extraction
        string p = model.BasePrefix.Length > 0 ? model.BasePrefix + "." : "";
        int C = c.NEmbd, nh = c.NHead, hs = C / nh;

        var inputs = new List<OnnxTensorSpec> { Spec("input_ids", "int64", Batch, Seq) };
        inputs.Add(Spec("attention_mask", "int64", Batch, usePast ? Total : Seq));
        if (positionInput) inputs.Add(Spec("position_ids", "int64", Batch, Seq));
        if (usePast)
            for (int i = 0; i < c.NLayer; i++)
            {
                inputs.Add(Spec($"past_key_values.{i}.key", "float32", Batch, nh, Past, hs));
                inputs.Add(Spec($"past_key_values.{i}.value", "float32", Batch, nh, Past, hs));
            }
        foreach (var i in inputs) g.Input(i.Name, i.Dtype == "int64" ? OnnxGraph.Int64 : OnnxGraph.Float, [.. i.Shape]);
        b.SetBatchShape("input_ids");

        // Additive mask (B, 1, T, S), S = past + T: query t (at absolute position past + t) sees key s when s ≤ past + t and
        // s is not padding. Gpt2.cs's CausalMask, built from the shapes at run time.
        g.Scope = "/mask";
        var S = g.Op("Gather", [g.Op("Shape", ["attention_mask"]), g.IntScalar(1)]);
        var past = g.Op("Sub", [S, b.SeqLen]);
        var qPos = g.Op("Unsqueeze", [g.Op("Range", [past, S, g.IntScalar(1)]), g.Ints(1)]);        // (T, 1)
        var kPos = g.Op("Unsqueeze", [g.Op("Range", [g.IntScalar(0), S, g.IntScalar(1)]), g.Ints(0)]); // (1, S)
        var causal = g.Op("LessOrEqual", [kPos, qPos]);                                                 // (T, S)
        var real = g.Op("Cast", [g.Op("Unsqueeze", ["attention_mask", g.Ints(1, 2)])], ("to", (long)OnnxGraph.Bool)); // (B, 1, 1, S)
        var mask = g.Op("Where", [g.Op("And", [causal, real]), g.FloatScalar(0), g.FloatScalar(float.MinValue)]); // (B, 1, T, S)

        // Positions: given (Optimum's position_ids), or counted over real tokens as Gpt2.cs does without a cache.
        string positions = positionInput ? "position_ids"
            : g.Op("Max", [g.Op("Sub", [g.Op("CumSum", ["attention_mask", g.IntScalar(1)]), g.IntScalar(1)]), g.IntScalar(0)]);
        g.Scope = "/" + (p + "embeddings").Replace('.', '/');
        var x = g.Op("Add", [b.Embedding(p + "wte.weight", "input_ids"), g.Op("Gather", [b.W(p + "wpe.weight"), positions])]); // (B, T, C)

        var outputs = new List<OnnxTensorSpec>();
        var presents = new List<OnnxTensorSpec>();
        for (int i = 0; i < c.NLayer; i++)
        {
            string l = $"{p}h.{i}.";
            g.Scope = $"/{l}attn".Replace('.', '/');
            var h = b.LayerNorm(x, l + "ln_1", c.LayerNormEpsilon);
            var qkv = g.OpN("Split", [b.Conv1D(h, l + "attn.c_attn"), g.Ints(C, C, C)], 3, ("axis", 2L)); // 3 x (B, T, C)
            var q = g.Op("Transpose", [g.Op("Reshape", [qkv[0], g.Ints(0, 0, nh, hs)])], ("perm", new long[] { 0, 2, 1, 3 })); // (B, nh, T, hs)
            var k = g.Op("Transpose", [g.Op("Reshape", [qkv[1], g.Ints(0, 0, nh, hs)])], ("perm", new long[] { 0, 2, 1, 3 }));
            var v = g.Op("Transpose", [g.Op("Reshape", [qkv[2], g.Ints(0, 0, nh, hs)])], ("perm", new long[] { 0, 2, 1, 3 }));
            if (usePast)
            {
                k = g.OpNamed($"present.{i}.key", "Concat", [$"past_key_values.{i}.key", k], ("axis", 2L));   // (B, nh, S, hs)
                v = g.OpNamed($"present.{i}.value", "Concat", [$"past_key_values.{i}.value", v], ("axis", 2L));
                presents.Add(Spec(k, "float32", Batch, nh, Total, hs));
                presents.Add(Spec(v, "float32", Batch, nh, Total, hs));
            }
            double scale = (c.ScaleAttnWeights ? 1.0 / Math.Sqrt(hs) : 1.0) / (c.ScaleAttnByInverseLayerIdx ? i + 1 : 1);
            var kT = g.Op("Transpose", [k], ("perm", new long[] { 0, 1, 3, 2 }));                       // (B, nh, hs, S)
            var y = b.Attention(q, kT, v, mask, scale);                                                    // (B, nh, T, hs)
            y = g.Op("Reshape", [g.Op("Transpose", [y], ("perm", new long[] { 0, 2, 1, 3 })), g.Ints(0, 0, C)]); // (B, T, C)
            x = g.Op("Add", [x, b.Conv1D(y, l + "attn.c_proj")]);
            g.Scope = $"/{l}mlp".Replace('.', '/');
            var m = b.Activation(b.Conv1D(b.LayerNorm(x, l + "ln_2", c.LayerNormEpsilon), l + "mlp.c_fc"), c.ActivationFunction);
            x = g.Op("Add", [x, b.Conv1D(m, l + "mlp.c_proj")]);
        }
        g.Scope = "/head";
        x = b.LayerNorm(x, p + "ln_f", c.LayerNormEpsilon); // (B, T, C)

        void Out(string name, string value, params object[] shape)
        {
            g.OpNamed(name, "Identity", [value]);
            g.Output(name, OnnxGraph.Float, shape);
            outputs.Add(Spec(name, "float32", shape));
        }
        switch (model)
        {
            case GPT2Model:
                Out("last_hidden_state", x, Batch, Seq, C);
                break;
            case GPT2LMHeadModel:
                // lm_head is tied to wte: logits = h · wteᵀ (one copy of the matrix, shared with the Gather above).
                Out("logits", b.Linear(x, p + "wte", C, c.VocabSize, bias: null), Batch, Seq, c.VocabSize);
                foreach (var s in presents) g.Output(s.Name, OnnxGraph.Float, [.. s.Shape]);
                outputs.AddRange(presents);
                break;
            case GPT2ForSequenceClassification:
            {
                // The hidden state of the last real token: argmax over position·isReal (right or left padding).
                var idx = g.Op("Range", [g.IntScalar(0), b.SeqLen, g.IntScalar(1)]);                             // (T)
                var weighted = g.Op("Cast", [g.Op("Mul", ["attention_mask", idx])], ("to", (long)OnnxGraph.Float)); // (B, T)
                var last = g.Op("ArgMax", [weighted], ("axis", 1L), ("keepdims", 1L));                               // (B, 1)
                var pooled = g.Op("GatherND", [x, last], ("batch_dims", 1L));                                        // (B, C)
                Out("logits", b.Linear2D(pooled, "score", bias: false), Batch, c.NumLabels);
                break;
            }
        }
        return (inputs, outputs, usePast);
    }

    /// <summary>The building blocks shared by both families: linear layers, LayerNorm, activations, attention.</summary>
    sealed class Builder(OnnxGraph g, IReadOnlyDictionary<string, Tensor> weights, bool int8)
    {
        public OnnxGraph G => g;
        string batchShape = "";          // Shape(input_ids)[0:2] = [B, T]
        public string SeqLen { get; private set; } = "";
        readonly Dictionary<long, string> shapes = [];

        public void SetBatchShape(string ids)
        {
            g.Scope = "/shape";
            var shape = g.Op("Shape", [ids]);
            batchShape = g.Op("Slice", [shape, g.Ints(0), g.Ints(2)]);
            SeqLen = g.Op("Gather", [shape, g.IntScalar(1)]);
        }

        /// <summary>The state-dict tensor <paramref name="key"/>, added as an initializer under that name.</summary>
        public string W(string key) => weights.TryGetValue(key, out var t) ? g.Weight(key, t)
            : throw new GptBertException($"the model has no weight '{key}' to export; it does not match its config");

        Tensor Tensor(string key) => weights[key];

        /// <summary>(B, T, out) from (B, T, in): [out]-shaped shape tensors are computed once per size.</summary>
        string Shape3(long outFeatures)
        {
            if (!shapes.TryGetValue(outFeatures, out var s))
            {
                var saved = g.Scope;
                g.Scope = "/shape";
                shapes[outFeatures] = s = g.Op("Concat", [batchShape, g.Ints(outFeatures)], ("axis", 0L));
                g.Scope = saved;
            }
            return s;
        }

        /// <summary>
        /// nn.Linear on (B, T, in): weight (out, in) used as stored, y = x·Wᵀ + b, as Gemm(transB=1) on (B·T, in).
        /// <paramref name="bias"/> overrides the bias name ("cls.predictions.bias" for the tied MLM decoder; null for none).
        /// </summary>
        public string Linear(string x, string prefix, long inFeatures, long outFeatures, string? bias = "")
        {
            bias = bias == "" ? prefix + ".bias" : bias;
            var flat = g.Op("Reshape", [x, g.Ints(-1, inFeatures)]);                                // (B·T, in)
            string y = int8
                ? QuantizedMatMul(flat, prefix + ".weight", transposed: true, bias)
                : g.Op("Gemm", bias is null ? [flat, W(prefix + ".weight")] : [flat, W(prefix + ".weight"), W(bias)], ("transB", 1L));
            return g.Op("Reshape", [y, Shape3(outFeatures)]);                                        // (B, T, out)
        }

        /// <summary>nn.Linear on (B, in) rows.</summary>
        public string Linear2D(string x, string prefix, bool bias = true) =>
            int8 ? QuantizedMatMul(x, prefix + ".weight", transposed: true, bias ? prefix + ".bias" : null)
                 : g.Op("Gemm", bias ? [x, W(prefix + ".weight"), W(prefix + ".bias")] : [x, W(prefix + ".weight")], ("transB", 1L));

        /// <summary>GPT-2's Conv1D on (B, T, in): weight stored (in, out), y = x·W + b.</summary>
        public string Conv1D(string x, string prefix) =>
            int8 ? g.Op("Reshape", [QuantizedMatMul(g.Op("Reshape", [x, g.Ints(-1, Tensor(prefix + ".weight").shape[0])]), prefix + ".weight", transposed: false, prefix + ".bias"),
                                    Shape3(Tensor(prefix + ".weight").shape[1])])
                 : g.Op("Add", [g.Op("MatMul", [x, W(prefix + ".weight")]), W(prefix + ".bias")]);

        public string LayerNorm(string x, string prefix, double eps) =>
            g.Op("LayerNormalization", [x, W(prefix + ".weight"), W(prefix + ".bias")], ("axis", -1L), ("epsilon", (float)eps));

        /// <summary>Activations.cs: "gelu" is the exact erf form, "gelu_new" (and the other tanh names) the tanh approximation.</summary>
        public string Activation(string x, string name)
        {
            switch (name)
            {
                case "gelu": // 0.5·x·(1 + erf(x/√2))
                {
                    var erf = g.Op("Erf", [g.Op("Div", [x, g.FloatScalar((float)Math.Sqrt(2))])]);
                    return g.Op("Mul", [g.Op("Mul", [x, g.Op("Add", [erf, g.FloatScalar(1)])]), g.FloatScalar(0.5f)]);
                }
                case "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast": // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
                {
                    var cube = g.Op("Pow", [x, g.FloatScalar(3)]);
                    var inner = g.Op("Mul", [g.Op("Add", [x, g.Op("Mul", [cube, g.FloatScalar(0.044715f)])]), g.FloatScalar((float)Math.Sqrt(2 / Math.PI))]);
                    return g.Op("Mul", [g.Op("Mul", [x, g.FloatScalar(0.5f)]), g.Op("Add", [g.Op("Tanh", [inner]), g.FloatScalar(1)])]);
                }
                case "relu": return g.Op("Relu", [x]);
                default: throw new GptBertException($"activation \"{name}\" cannot be exported to ONNX (use gelu, gelu_new or relu)");
            }
        }

        /// <summary>softmax(q·kᵀ·scale + mask)·v, with kᵀ given (B, nh, hs, S).</summary>
        public string Attention(string q, string kT, string v, string mask, double scale)
        {
            var scores = g.Op("MatMul", [q, kT]);                                                      // (B, nh, T, S)
            if (scale != 1.0) scores = g.Op("Mul", [scores, g.FloatScalar((float)scale)]);
            var probs = g.Op("Softmax", [g.Op("Add", [scores, mask])], ("axis", -1L));
            return g.Op("MatMul", [probs, v]);                                                          // (B, nh, T, hs)
        }

        /// <summary>
        /// Dynamic int8 quantization of x·W (+ b), as onnxruntime.quantization.quantize_dynamic writes it: activations
        /// quantized per call to uint8 (DynamicQuantizeLinear), weights stored int8 (7-bit range) symmetric per output column, product
        /// in int32 (MatMulInteger), rescaled by x_scale·w_scale and the bias added in float.
        /// </summary>
        string QuantizedMatMul(string x2d, string weightKey, bool transposed, string? bias)
        {
            var qw = QuantizedWeight(weightKey, transposed);
            var dq = g.OpN("DynamicQuantizeLinear", [x2d], 3);                                      // x_q (uint8), x_scale, x_zero_point
            // b_zero_point: zeros of shape [out] (symmetric weights), added only where a product uses the weight.
            var zeroPoint = weightKey + "_zero_point";
            if (!g.HasInitializer(zeroPoint)) g.Raw(zeroPoint, OnnxGraph.Int8, [qw.Columns], new byte[qw.Columns]);
            var acc = g.Op("MatMulInteger", [dq[0], qw.InOut, dq[2], zeroPoint]);                    // (N, out) int32
            var scale = g.Op("Mul", [dq[1], qw.Scale]);                                              // (out)
            var y = g.Op("Mul", [g.Op("Cast", [acc], ("to", (long)OnnxGraph.Float)), scale]);
            return bias is null ? y : g.Op("Add", [y, W(bias)]);
        }

        /// <summary>
        /// Rows of an embedding table: Gather, on the float32 table, or with <c>int8</c> on the int8 table and its per-row
        /// scales (the same initializers the tied output head multiplies with), dequantized after the Gather.
        /// </summary>
        public string Embedding(string key, string ids)
        {
            if (!int8) return g.Op("Gather", [W(key), ids]);
            var qw = QuantizedWeight(key, transposed: true);                                         // table (V, H), scales (V)
            var rows = g.Op("Cast", [g.Op("Gather", [qw.Stored, ids])], ("to", (long)OnnxGraph.Float)); // (.., H)
            var scales = g.Op("Unsqueeze", [g.Op("Gather", [qw.Scale, ids]), g.Ints(-1)]);            // (.., 1)
            return g.Op("Mul", [rows, scales]);
        }

        readonly Dictionary<string, (string Stored, string InOut, string Scale, long Columns)> quantized = [];

        /// <summary>
        /// The int8 copy of weight <paramref name="key"/>, stored in its state-dict layout under "KEY_quantized" with
        /// "KEY_scale"; <c>InOut</c> is the (in, out) operand MatMulInteger takes (a Transpose of the
        /// stored (out, in) matrix for nn.Linear weights and embedding tables, which ONNX Runtime folds when it loads the model).
        /// </summary>
        (string Stored, string InOut, string Scale, long Columns) QuantizedWeight(string key, bool transposed)
        {
            if (quantized.TryGetValue(key, out var known)) return known;
            using var scope = NewDisposeScope();
            var w = Tensor(key).detach().to(ScalarType.Float32).cpu();
            if (transposed) w = w.t();                                                               // (in, out)
            // Symmetric per output column, zero point 0 (MatMulInteger's b_zero_point of shape [out]), in 7 bits (±63): ONNX
            // Runtime's u8·s8 kernel on x86 (VPMADDUBSW) adds pairs of products in int16, which saturates with full-range int8
            // weights (255·127·2 > 32767) — measured here as 25% error on a 32×100 product, 1.4% with 7 bits. This is
            // onnxruntime.quantization's reduce_range, which its documentation recommends on AVX2/AVX-512 machines.
            // The same integers as `gptbert quantize --scheme dynamic` writes (Int8Quantization.PerChannel, channels = columns).
            var (q, scale) = Int8Quantization.PerChannel(w, channelDim: 1, range: 63);   // (in, out), (out)
            if (transposed) q = q.t();                                                               // back to the state dict's (out, in)
            q = q.contiguous();
            long outF = scale.shape[0];
            var qBytes = TensorBytes.ToArray<sbyte>(q);
            var scales = TensorBytes.ToArray<float>(scale.contiguous());
            string stored = g.Raw(key + "_quantized", OnnxGraph.Int8, q.shape, System.Runtime.InteropServices.MemoryMarshal.AsBytes(qBytes.AsSpan()));
            string inOut = transposed ? g.Op("Transpose", [stored], ("perm", new long[] { 1, 0 })) : stored;
            var names = (stored, inOut, g.Raw(key + "_scale", OnnxGraph.Float, [outF], System.Runtime.InteropServices.MemoryMarshal.AsBytes(scales.AsSpan())), outF);
            quantized[key] = names;
            return names;
        }
    }
}
