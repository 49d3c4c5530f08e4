using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Google.Protobuf;
using Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace GptBert.Checkpoints;

/// <summary>What an exported BERT ONNX graph says about the model's configuration.</summary>
/// <param name="NumHeads">Attention heads, read from the reshape constants of layer 0's query projection.</param>
/// <param name="LayerNormEps">The epsilon added before the square root in the embeddings LayerNorm (null when the graph does not show one).</param>
/// <param name="HiddenAct">"gelu" when the feed-forward uses Erf (exact GELU); null when it is not recognised.</param>
/// <param name="HasPooler">Whether the graph has pooler.dense (BertModel's pooler output).</param>
public sealed record OnnxBertInfo(
    int VocabSize,
    int HiddenSize,
    int NumLayers,
    int NumHeads,
    int IntermediateSize,
    int MaxPositions,
    int TypeVocabSize,
    double? LayerNormEps,
    string? HiddenAct,
    bool HasPooler);

/// <summary>
/// Recovers Hugging Face <c>BertModel</c> weights from a BERT graph exported to ONNX by torch.onnx
/// (such as the shipped all-MiniLM-L6-v2). Embeddings, LayerNorms and biases keep their state-dict names
/// as initializers; each Linear weight is an anonymous initializer stored transposed ([in, out]) that
/// feeds a MatMul whose result goes to an Add with the named bias, and that bias names the layer.
/// A Gemm (the pooler) names its weight directly and says by transB whether it is transposed.
/// </summary>
public static class OnnxBertImporter
{
    const int OnnxFloat = 1, OnnxInt64 = 7;

    /// <summary>Imports the weights, keyed by BertModel state-dict names without a prefix; Linear weights are [out, in].</summary>
    public static Dictionary<string, Tensor> Import(byte[] onnxModel) => Import(onnxModel, out _);

    /// <inheritdoc cref="Import(byte[])"/>
    public static Dictionary<string, Tensor> Import(byte[] onnxModel, out OnnxBertInfo info)
    {
        var g = new Graph(Parse(onnxModel));
        var plan = Plan(g);
        info = plan.Info;
        var result = new Dictionary<string, Tensor>(plan.Sources.Count);
        try
        {
            foreach (var (name, src) in plan.Sources)
            {
                var t = ToTensor(src.Initializer);
                if (src.Transpose)
                {
                    var tt = t.t().contiguous();
                    t.Dispose();
                    t = tt;
                }
                result.Add(name, t);
            }
            return result;
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
    }

    /// <summary>The configuration facts alone (the graph is checked as strictly as by <see cref="Import(byte[])"/>).</summary>
    public static OnnxBertInfo ReadInfo(byte[] onnxModel) => Plan(new Graph(Parse(onnxModel))).Info;

    /// <summary>
    /// A readable report for debugging an export: the inferred config, every state-dict name with its shape
    /// and source initializer (and whether it is transposed), and the initializers left unused.
    /// </summary>
    public static string Inspect(byte[] onnxModel)
    {
        var model = Parse(onnxModel);
        var g = new Graph(model);
        var sb = new StringBuilder();
        sb.AppendLine($"producer {model.ProducerName} {model.ProducerVersion}, opset {string.Join(",", model.OpsetImport.Select(o => $"{(o.Domain.Length == 0 ? "ai.onnx" : o.Domain)}:{o.Version}"))}");
        sb.AppendLine($"{g.Initializers.Count} initializers, {model.Graph.Node.Count} nodes");
        sb.AppendLine($"inputs: {string.Join(", ", model.Graph.Input.Select(i => i.Name))}; outputs: {string.Join(", ", model.Graph.Output.Select(o => o.Name))}");
        Planned plan;
        try { plan = Plan(g); }
        catch (GptBertException ex)
        {
            sb.AppendLine("import fails: " + ex.Message);
            foreach (var t in g.Initializers.Values) sb.AppendLine($"  initializer {t.Name} dtype {t.DataType} {TensorBytes.FormatShape(t.Dims)}");
            return sb.ToString();
        }
        sb.AppendLine(plan.Info.ToString());
        foreach (var (name, src) in plan.Sources)
            sb.AppendLine($"  {name} {TensorBytes.FormatShape(src.Shape)} <- {src.Initializer.Name}{(src.Transpose ? " (transposed)" : "")}");
        var used = plan.Sources.Values.Select(s => s.Initializer.Name).ToHashSet();
        foreach (var t in g.Initializers.Values.Where(t => !used.Contains(t.Name)))
            sb.AppendLine($"  unused initializer {t.Name} dtype {t.DataType} {TensorBytes.FormatShape(t.Dims)}");
        return sb.ToString();
    }

    static ModelProto Parse(byte[] onnxModel)
    {
        ArgumentNullException.ThrowIfNull(onnxModel);
        TensorBytes.EnsureLittleEndian();
        try
        {
            var m = ModelProto.Parser.ParseFrom(onnxModel);
            if (m.Graph is null || m.Graph.Node.Count == 0)
                throw new GptBertException("the ONNX model has no graph; give an exported BERT model.onnx");
            return m;
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new GptBertException($"not a valid ONNX model ({SafeTensors.FirstLine(ex.Message)}); give an exported BERT model.onnx", ex);
        }
    }

    sealed class Graph
    {
        public readonly Dictionary<string, TensorProto> Initializers = new(StringComparer.Ordinal);
        public readonly Dictionary<string, NodeProto> Producer = new(StringComparer.Ordinal);
        public readonly Dictionary<string, List<NodeProto>> Consumers = new(StringComparer.Ordinal);
        public readonly List<NodeProto> Nodes;

        public Graph(ModelProto model)
        {
            foreach (var t in model.Graph.Initializer)
                if (!Initializers.TryAdd(t.Name, t))
                    throw new GptBertException($"the ONNX model has two initializers named '{t.Name}'; re-export it");
            Nodes = model.Graph.Node.ToList();
            foreach (var n in Nodes)
            {
                foreach (var o in n.Output) if (o.Length > 0) Producer[o] = n;
                foreach (var i in n.Input)
                {
                    if (i.Length == 0) continue;
                    if (!Consumers.TryGetValue(i, out var list)) Consumers[i] = list = [];
                    list.Add(n);
                }
            }
        }

        public IReadOnlyList<NodeProto> ConsumersOf(string name) => Consumers.TryGetValue(name, out var l) ? l : [];

        /// <summary>Values of a constant int64 tensor (initializer or Constant node), null when it is computed at run time.</summary>
        public long[]? ConstInts(string name)
        {
            var t = ConstTensor(name);
            if (t is null || t.DataType != OnnxInt64) return null;
            if (t.Int64Data.Count > 0) return t.Int64Data.ToArray();
            return MemoryMarshal.Cast<byte, long>(t.RawData.Span).ToArray();
        }

        public double? ConstScalar(string name)
        {
            var t = ConstTensor(name);
            if (t is null || t.DataType != OnnxFloat) return null;
            if (t.FloatData.Count == 1) return t.FloatData[0];
            return t.RawData.Length == 4 ? MemoryMarshal.Cast<byte, float>(t.RawData.Span)[0] : null;
        }

        TensorProto? ConstTensor(string name)
        {
            if (Initializers.TryGetValue(name, out var init)) return init;
            if (Producer.TryGetValue(name, out var n) && n.OpType == "Constant")
                return n.Attribute.FirstOrDefault(a => a.Name == "value")?.T;
            return null;
        }
    }

    sealed record Source(TensorProto Initializer, bool Transpose)
    {
        public long[] Shape => Transpose ? [Initializer.Dims[1], Initializer.Dims[0]] : Initializer.Dims.ToArray();
    }

    sealed record Planned(Dictionary<string, Source> Sources, OnnxBertInfo Info);

    static Planned Plan(Graph g)
    {
        const string fix = "the ONNX model is not a BERT export GptBert understands; use a Hugging Face checkpoint directory instead";
        // name -> every place the name was found; anything but exactly one is an error.
        var found = new Dictionary<string, List<Source>>(StringComparer.Ordinal);
        void Add(string name, Source s)
        {
            if (!found.TryGetValue(name, out var l)) found[name] = l = [];
            l.Add(s);
        }

        var linearWeights = new HashSet<string>(StringComparer.Ordinal);
        foreach (var n in g.Nodes)
        {
            if (n.OpType == "MatMul" && n.Input.Count == 2 && g.Initializers.TryGetValue(n.Input[1], out var w) && w.Dims.Count == 2)
            {
                // x @ W then + bias: the Add's other input is the named bias.
                var adds = g.ConsumersOf(n.Output[0]);
                if (adds is not [{ OpType: "Add" } add]) continue;
                var biasName = add.Input.FirstOrDefault(i => i != n.Output[0]);
                if (biasName is null || !biasName.EndsWith(".bias", StringComparison.Ordinal) || !g.Initializers.ContainsKey(biasName)) continue;
                Add(biasName[..^".bias".Length] + ".weight", new Source(w, Transpose: true));
                linearWeights.Add(w.Name);
            }
            else if (n.OpType == "Gemm" && n.Input.Count == 3 && g.Initializers.TryGetValue(n.Input[1], out var gw) && gw.Dims.Count == 2
                     && n.Input[2].EndsWith(".bias", StringComparison.Ordinal) && g.Initializers.ContainsKey(n.Input[2]))
            {
                long Attr(string a, long dflt) => n.Attribute.FirstOrDefault(x => x.Name == a)?.I ?? dflt;
                float FAttr(string a) => n.Attribute.FirstOrDefault(x => x.Name == a)?.F ?? 1f;
                if (Attr("transA", 0) != 0 || FAttr("alpha") != 1f || FAttr("beta") != 1f)
                    throw new GptBertException($"ONNX Gemm '{n.Name}' for '{n.Input[2]}' has transA/alpha/beta GptBert does not handle; {fix}");
                // Gemm: Y = A · op(B) + C with op(B) = Bᵀ when transB=1, so B is already [out, in] then.
                Add(n.Input[2][..^".bias".Length] + ".weight", new Source(gw, Transpose: Attr("transB", 0) == 0));
                linearWeights.Add(gw.Name);
            }
        }

        foreach (var t in g.Initializers.Values)
        {
            if (linearWeights.Contains(t.Name) || t.Name == "embeddings.position_ids") continue;
            if (t.Name.StartsWith("embeddings.", StringComparison.Ordinal) || t.Name.StartsWith("encoder.layer.", StringComparison.Ordinal)
                || t.Name.StartsWith("pooler.", StringComparison.Ordinal))
                Add(t.Name, new Source(t, Transpose: false));
        }

        // Layers 0..L-1, from the names seen.
        var layerIds = found.Keys.Where(k => k.StartsWith("encoder.layer.", StringComparison.Ordinal))
            .Select(k => k.Split('.')[2]).Select(s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int i) ? i : -1).ToHashSet();
        if (layerIds.Count == 0)
            throw new GptBertException($"the ONNX model has no encoder.layer.* weights; {fix}");
        int layers = layerIds.Max() + 1;
        if (layerIds.Contains(-1) || layerIds.Count != layers)
            throw new GptBertException($"the ONNX model's encoder layers are not numbered 0..{layers - 1} (found {string.Join(", ", layerIds.Order())}); {fix}");
        bool hasPooler = found.ContainsKey("pooler.dense.bias") || found.ContainsKey("pooler.dense.weight");

        var expected = ExpectedNames(layers, hasPooler).ToList();
        var missing = expected.Where(e => !found.ContainsKey(e)).ToList();
        if (missing.Count > 0)
            throw new GptBertException($"the ONNX model lacks {missing.Count} BERT weight(s), e.g. '{string.Join("', '", missing.Take(3))}'; {fix}");
        var twice = expected.FirstOrDefault(e => found[e].Count > 1);
        if (twice is not null)
            throw new GptBertException($"the ONNX model has {found[twice].Count} candidates for '{twice}' ({string.Join(", ", found[twice].Select(s => s.Initializer.Name))}); {fix}");
        var unexpected = found.Keys.Except(expected).ToList();
        if (unexpected.Count > 0)
            throw new GptBertException($"the ONNX model has weights BertModel does not have, e.g. '{unexpected[0]}'; {fix}");

        var sources = expected.ToDictionary(e => e, e => found[e][0]);
        foreach (var (name, s) in sources)
            if (s.Initializer.DataType != OnnxFloat)
                throw new GptBertException($"ONNX initializer '{s.Initializer.Name}' for '{name}' has ONNX dtype {s.Initializer.DataType}, not float32; {fix}");

        long[] Shape(string n) => sources[n].Shape;
        var word = Shape("embeddings.word_embeddings.weight");
        if (word.Length != 2) throw new GptBertException($"embeddings.word_embeddings.weight has shape {TensorBytes.FormatShape(word)}, not 2-D; {fix}");
        long vocab = word[0], hidden = word[1];
        long maxPos = Shape("embeddings.position_embeddings.weight")[0];
        long typeVocab = Shape("embeddings.token_type_embeddings.weight")[0];
        long inter = Shape("encoder.layer.0.intermediate.dense.weight")[0];
        var want = new Dictionary<string, long[]>
        {
            ["embeddings.position_embeddings.weight"] = [maxPos, hidden],
            ["embeddings.token_type_embeddings.weight"] = [typeVocab, hidden],
            ["embeddings.LayerNorm.weight"] = [hidden], ["embeddings.LayerNorm.bias"] = [hidden],
        };
        for (int i = 0; i < layers; i++)
        {
            string p = $"encoder.layer.{i}.";
            foreach (var qkv in new[] { "query", "key", "value" })
            {
                want[$"{p}attention.self.{qkv}.weight"] = [hidden, hidden];
                want[$"{p}attention.self.{qkv}.bias"] = [hidden];
            }
            want[$"{p}attention.output.dense.weight"] = [hidden, hidden];
            want[$"{p}attention.output.dense.bias"] = [hidden];
            want[$"{p}attention.output.LayerNorm.weight"] = [hidden];
            want[$"{p}attention.output.LayerNorm.bias"] = [hidden];
            want[$"{p}intermediate.dense.weight"] = [inter, hidden];
            want[$"{p}intermediate.dense.bias"] = [inter];
            want[$"{p}output.dense.weight"] = [hidden, inter];
            want[$"{p}output.dense.bias"] = [hidden];
            want[$"{p}output.LayerNorm.weight"] = [hidden];
            want[$"{p}output.LayerNorm.bias"] = [hidden];
        }
        if (hasPooler)
        {
            want["pooler.dense.weight"] = [hidden, hidden];
            want["pooler.dense.bias"] = [hidden];
        }
        foreach (var (name, shape) in want)
            if (!Shape(name).SequenceEqual(shape))
                throw new GptBertException($"ONNX weight '{name}' has shape {TensorBytes.FormatShape(Shape(name))} but hidden size {hidden} needs {TensorBytes.FormatShape(shape)}; {fix}");
        foreach (var (name, s) in sources)
        {
            long bytes = (TensorBytes.Numel(s.Initializer.Dims) ?? -1) * 4;
            if (s.Initializer.DataLocation == TensorProto.Types.DataLocation.External || s.Initializer.ExternalData.Count > 0)
                throw new GptBertException($"ONNX initializer '{s.Initializer.Name}' for '{name}' lives in an external data file, which GptBert does not read; re-export with the weights inside the .onnx");
            if (s.Initializer.RawData.Length != bytes && s.Initializer.FloatData.Count * 4L != bytes)
                throw new GptBertException($"ONNX initializer '{s.Initializer.Name}' for '{name}' holds {s.Initializer.RawData.Length + s.Initializer.FloatData.Count * 4L} bytes but shape {TensorBytes.FormatShape(s.Initializer.Dims)} needs {bytes}; the ONNX file is corrupt");
        }

        int heads = InferHeads(g, hidden, fix);
        var info = new OnnxBertInfo(
            VocabSize: checked((int)vocab), HiddenSize: checked((int)hidden), NumLayers: layers, NumHeads: heads,
            IntermediateSize: checked((int)inter), MaxPositions: checked((int)maxPos), TypeVocabSize: checked((int)typeVocab),
            LayerNormEps: InferEps(g), HiddenAct: g.Nodes.Any(n => n.OpType == "Erf") ? "gelu" : null, HasPooler: hasPooler);
        return new Planned(sources, info);
    }

    static IEnumerable<string> ExpectedNames(int layers, bool pooler)
    {
        yield return "embeddings.word_embeddings.weight";
        yield return "embeddings.position_embeddings.weight";
        yield return "embeddings.token_type_embeddings.weight";
        yield return "embeddings.LayerNorm.weight";
        yield return "embeddings.LayerNorm.bias";
        string[] parts =
        [
            "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
            "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm",
        ];
        for (int i = 0; i < layers; i++)
            foreach (var part in parts)
            {
                yield return $"encoder.layer.{i}.{part}.weight";
                yield return $"encoder.layer.{i}.{part}.bias";
            }
        if (pooler)
        {
            yield return "pooler.dense.weight";
            yield return "pooler.dense.bias";
        }
    }

    /// <summary>
    /// The query projection (MatMul + Add with encoder.layer.0.attention.self.query.bias) is reshaped to
    /// [batch, seq, heads, head_dim]; the target shape is a Concat (or constant) whose last two entries are constants.
    /// </summary>
    static int InferHeads(Graph g, long hidden, string fix)
    {
        const string bias = "encoder.layer.0.attention.self.query.bias";
        var add = g.ConsumersOf(bias).FirstOrDefault(n => n.OpType == "Add");
        var reshape = add is null ? null : g.ConsumersOf(add.Output[0]).FirstOrDefault(n => n.OpType == "Reshape");
        if (reshape is null || reshape.Input.Count < 2)
            throw new GptBertException($"cannot find the reshape of layer 0's query into attention heads in the ONNX graph; {fix}");
        var dims = ResolveShape(g, reshape.Input[1]);
        if (dims is null || dims.Count < 2 || dims[^1] is not { } headDim || dims[^2] is not { } heads || heads <= 0 || headDim <= 0)
            throw new GptBertException($"the ONNX graph does not give layer 0's attention heads as constants; {fix}");
        if (heads * headDim != hidden)
            throw new GptBertException($"the ONNX graph splits hidden size {hidden} into {heads} heads of {headDim}, which does not multiply out; {fix}");
        return checked((int)heads);
    }

    /// <summary>Entries of a shape tensor: constants, or null where computed at run time.</summary>
    static List<long?>? ResolveShape(Graph g, string name)
    {
        if (g.ConstInts(name) is { } c) return c.Select(v => (long?)v).ToList();
        if (!g.Producer.TryGetValue(name, out var n)) return null;
        if (n.OpType == "Concat")
        {
            var all = new List<long?>();
            foreach (var input in n.Input)
            {
                if (g.ConstInts(input) is { } ci) all.AddRange(ci.Select(v => (long?)v));
                else all.Add(null);   // a dynamic piece (batch or sequence length), one entry each in torch exports
            }
            return all;
        }
        return null;
    }

    /// <summary>The epsilon in embeddings.LayerNorm: Mul(Div(x - mean, Sqrt(Add(var, eps))), weight).</summary>
    static double? InferEps(Graph g)
    {
        var mul = g.ConsumersOf("embeddings.LayerNorm.weight").FirstOrDefault(n => n.OpType == "Mul");
        if (mul is null) return null;
        var divName = mul.Input.FirstOrDefault(i => i != "embeddings.LayerNorm.weight");
        if (divName is null || !g.Producer.TryGetValue(divName, out var div) || div.OpType != "Div" || div.Input.Count != 2) return null;
        if (!g.Producer.TryGetValue(div.Input[1], out var sqrt) || sqrt.OpType != "Sqrt") return null;
        if (!g.Producer.TryGetValue(sqrt.Input[0], out var add) || add.OpType != "Add") return null;
        foreach (var i in add.Input)
            if (g.ConstScalar(i) is { } eps) return ToDecimalFloat(eps);
        return null;
    }

    /// <summary>The shortest decimal that round-trips through float32 (1e-12 rather than 9.9999999600419e-13).</summary>
    static double ToDecimalFloat(double value) => double.Parse(((float)value).ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    static Tensor ToTensor(TensorProto t)
    {
        long[] dims = t.Dims.ToArray();
        if (t.RawData.Length > 0) return TensorBytes.FromBytes(t.RawData.Span, ScalarType.Float32, dims);
        var floats = t.FloatData.ToArray();
        return TensorBytes.FromBytes(MemoryMarshal.AsBytes(floats.AsSpan()), ScalarType.Float32, dims);
    }
}
