using GptBert.Checkpoints;
using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;
using static TorchSharp.torch;

namespace GptBert.OnnxExport;

/// <summary>
/// Builds an ONNX graph node by node on the generated ONNX protobuf classes (OnnxSharp's <c>Onnx.*</c>): each call adds
/// one node and returns the name of its output, so graph code reads like the model's forward pass. Initializers come
/// from torch tensors under the names the caller gives (the Hugging Face state-dict keys); constants are small int64 or
/// float initializers with generated names.
/// </summary>
public sealed class OnnxGraph
{
    public const int Float = (int)TensorProto.Types.DataType.Float;
    public const int Int64 = (int)TensorProto.Types.DataType.Int64;
    public const int Bool = (int)TensorProto.Types.DataType.Bool;
    public const int Int8 = (int)TensorProto.Types.DataType.Int8;
    public const int UInt8 = (int)TensorProto.Types.DataType.Uint8;
    public const int Int32 = (int)TensorProto.Types.DataType.Int32;

    readonly GraphProto graph;
    readonly HashSet<string> initializers = new(StringComparer.Ordinal);
    readonly Dictionary<string, string> constants = new(StringComparer.Ordinal);
    readonly Dictionary<string, int> opCounts = new(StringComparer.Ordinal);
    /// <summary>Prefix of the node names added next ("/bert/encoder/layer.0/attention"), as torch.onnx names them; only for reading the graph.</summary>
    public string Scope { get; set; } = "";

    public OnnxGraph(string name) => graph = new GraphProto { Name = name };

    /// <summary>Adds a node with one output and returns the output's name.</summary>
    public string Op(string opType, IReadOnlyList<string> inputs, params (string Name, object Value)[] attributes) =>
        OpN(opType, inputs, 1, attributes)[0];

    /// <summary>Adds a node with <paramref name="outputs"/> outputs and returns their names.</summary>
    public string[] OpN(string opType, IReadOnlyList<string> inputs, int outputs, params (string Name, object Value)[] attributes)
    {
        int n = opCounts[Scope + opType] = opCounts.GetValueOrDefault(Scope + opType) + 1;
        string node = $"{Scope}/{opType}{(n == 1 ? "" : "_" + (n - 1))}";
        var proto = new NodeProto { OpType = opType, Name = node };
        proto.Input.AddRange(inputs);
        var names = Enumerable.Range(0, outputs).Select(i => $"{node}_output_{i}").ToArray();
        proto.Output.AddRange(names);
        foreach (var (name, value) in attributes) proto.Attribute.Add(Attribute(name, value));
        graph.Node.Add(proto);
        return names;
    }

    /// <summary>Adds a node whose single output has a chosen name (a graph output such as "logits").</summary>
    public string OpNamed(string output, string opType, IReadOnlyList<string> inputs, params (string Name, object Value)[] attributes)
    {
        var proto = new NodeProto { OpType = opType, Name = $"{Scope}/{opType}_{output}" };
        proto.Input.AddRange(inputs);
        proto.Output.Add(output);
        foreach (var (name, value) in attributes) proto.Attribute.Add(Attribute(name, value));
        graph.Node.Add(proto);
        return output;
    }

    static AttributeProto Attribute(string name, object value) => value switch
    {
        long i => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = i },
        int i => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = i },
        float f => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = f },
        double f => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = (float)f },
        long[] ints => Ints(name, ints),
        int[] ints => Ints(name, ints.Select(i => (long)i).ToArray()),
        string s => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(s) },
        TensorProto t => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Tensor, T = t },
        _ => throw new ArgumentException($"attribute {name}: unsupported value type {value.GetType().Name}"),
    };

    static AttributeProto Ints(string name, long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    /// <summary>Adds a float32 initializer named <paramref name="name"/> holding <paramref name="tensor"/> (any dtype, any device) once; returns the name.</summary>
    public string Weight(string name, Tensor tensor)
    {
        if (!initializers.Add(name)) return name;
        using var scope = NewDisposeScope();
        var cpu = tensor.detach().to(ScalarType.Float32).cpu().contiguous();
        var data = TensorBytes.ToArray<float>(cpu);
        graph.Initializer.Add(TensorOf(name, Float, cpu.shape, MemoryMarshal.AsBytes(data.AsSpan())));
        return name;
    }

    /// <summary>Adds an initializer from raw little-endian bytes (quantized weights, scales).</summary>
    public string Raw(string name, int dataType, long[] shape, ReadOnlySpan<byte> bytes)
    {
        if (!initializers.Add(name)) throw new ArgumentException($"initializer '{name}' added twice");
        graph.Initializer.Add(TensorOf(name, dataType, shape, bytes));
        return name;
    }

    public bool HasInitializer(string name) => initializers.Contains(name);

    /// <summary>An int64 constant (a shape, axes, an index); equal constants are shared.</summary>
    public string Ints(params long[] values) => Constant("i64:" + string.Join(",", values), Int64, [values.Length], MemoryMarshal.AsBytes(values.AsSpan()));

    /// <summary>An int64 scalar (rank 0), as Range and Gather with a scalar index take.</summary>
    public string IntScalar(long value) => Constant($"i64s:{value}", Int64, [], MemoryMarshal.AsBytes(new[] { value }.AsSpan()));

    /// <summary>A float32 scalar (rank 0).</summary>
    public string FloatScalar(float value) =>
        Constant($"f32s:{BitConverter.SingleToInt32Bits(value)}", Float, [], MemoryMarshal.AsBytes(new[] { value }.AsSpan()));

    string Constant(string key, int dataType, long[] shape, ReadOnlySpan<byte> bytes)
    {
        if (constants.TryGetValue(key, out var name)) return name;
        name = $"const_{constants.Count}";
        constants[key] = name;
        initializers.Add(name);
        graph.Initializer.Add(TensorOf(name, dataType, shape, bytes));
        return name;
    }

    static TensorProto TensorOf(string name, int dataType, long[] shape, ReadOnlySpan<byte> bytes)
    {
        var t = new TensorProto { Name = name, DataType = dataType, RawData = ByteString.CopyFrom(bytes) };
        t.Dims.AddRange(shape);
        return t;
    }

    /// <summary>Declares a graph input; a dimension is a size (long/int) or a symbolic name (string) such as "batch_size".</summary>
    public string Input(string name, int elemType, params object[] dims)
    {
        graph.Input.Add(ValueInfo(name, elemType, dims));
        return name;
    }

    /// <summary>Declares a graph output produced by an existing value (the value must already carry this name).</summary>
    public void Output(string name, int elemType, params object[] dims) => graph.Output.Add(ValueInfo(name, elemType, dims));

    static ValueInfoProto ValueInfo(string name, int elemType, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d switch
            {
                string s => new TensorShapeProto.Types.Dimension { DimParam = s },
                long v => new TensorShapeProto.Types.Dimension { DimValue = v },
                int v => new TensorShapeProto.Types.Dimension { DimValue = v },
                _ => throw new ArgumentException($"dimension {d} of {name}: use a size or a name"),
            });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = elemType, Shape = shape } },
        };
    }

    /// <summary>The finished model: IR version 8 (what opset 17 pairs with), the given opset of the default domain.</summary>
    public ModelProto ToModel(int opset, string producerVersion, IReadOnlyDictionary<string, string>? metadata = null, IEnumerable<(string Domain, int Version)>? extraOpsets = null)
    {
        var model = new ModelProto
        {
            IrVersion = 8,
            ProducerName = "gptbert",
            ProducerVersion = producerVersion,
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        foreach (var (domain, version) in extraOpsets ?? []) model.OpsetImport.Add(new OperatorSetIdProto { Domain = domain, Version = version });
        foreach (var (k, v) in metadata ?? new Dictionary<string, string>())
            model.MetadataProps.Add(new StringStringEntryProto { Key = k, Value = v });
        return model;
    }
}
