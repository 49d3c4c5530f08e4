using GptBert.Assets;
using GptBert.Models;
using GptBert.Pipelines;
using GptBert.Tokenizers;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace GptBert.OnnxExport;

/// <summary>
/// An exported directory (model.onnx, config.json, tokenizer files; see <see cref="OnnxExporter"/>) running in ONNX Runtime:
/// one <see cref="InferenceSession"/> per loaded model, whose <c>Run</c> is safe from several threads at once. No TorchSharp
/// call is made on this path, so it runs where libtorch is not deployed. Directories written by Hugging Face Optimum load
/// too: the inputs and outputs are read from the graph itself; onnx_config.json, when present, names the head.
/// </summary>
public sealed class OnnxModel : IEncoderRunner, IDecoderRunner
{
    readonly InferenceSession session;
    readonly HashSet<string> inputNames;
    readonly string[] outputNames;
    readonly int layers, heads, headSize;

    public string Source { get; }
    public string Directory { get; }
    public ModelConfig Config { get; }
    public string Architecture { get; }
    public ITextTokenizer Tokenizer { get; }
    public int MaxLength { get; }
    /// <summary>Names, types and axes of the graph's inputs and outputs, and the head.</summary>
    public OnnxSignature Signature { get; }

    OnnxModel(InferenceSession session, string source, string directory, ModelConfig config, ITextTokenizer tokenizer, int maxLength, OnnxSignature signature)
    {
        this.session = session;
        Source = source; Directory = directory; Config = config; Tokenizer = tokenizer; MaxLength = maxLength; Signature = signature;
        Architecture = signature.Architecture;
        inputNames = signature.Inputs.Select(i => i.Name).ToHashSet();
        outputNames = signature.Outputs.Select(o => o.Name).ToArray();
        if (config is Gpt2Config g) (layers, heads, headSize) = (g.NLayer, g.NHead, g.NEmbd / g.NHead);
    }

    /// <summary>
    /// Loads an exported directory (or the built-in <c>minilm</c>, exported once into the cache). <paramref name="tokenizer"/>
    /// overrides or supplies the tokenizer; <paramref name="threads"/> sets ONNX Runtime's intra-op threads (default: all cores).
    /// </summary>
    public static OnnxModel Load(string nameOrDirectory, string? tokenizer = null, int? threads = null)
    {
        string dir = ModelHub.IsBuiltIn(nameOrDirectory) ? EnsureBuiltIn() : nameOrDirectory;
        if (!System.IO.Directory.Exists(dir))
            throw new GptBertException($"model '{nameOrDirectory}' not found: not a built-in ({ModelHub.MiniLm}) and no such directory");
        var path = Path.Combine(dir, OnnxExporter.ModelFile);
        if (!File.Exists(path))
            throw new GptBertException($"{nameOrDirectory} has no {OnnxExporter.ModelFile}; the ONNX backend runs an exported directory: export it first (`gptbert export onnx`), or use Backend torch") { RelatedParameters = ["Backend"] };
        var config = ModelConfig.Load(Path.Combine(dir, "config.json"));
        var tok = ModelHub.LoadTokenizer(tokenizer, dir, nameOrDirectory, config);
        var options = new SessionOptions { IntraOpNumThreads = threads ?? 0, InterOpNumThreads = 1 };
        InferenceSession session;
        try { session = new InferenceSession(path, options); }
        catch (OnnxRuntimeException e)
        {
            throw new GptBertException($"ONNX Runtime cannot load {path} ({CliLine(e.Message)}); export it again with `gptbert export onnx`", e);
        }
        finally { options.Dispose(); }
        try
        {
            var signature = ReadSignature(session, dir, config);
            int max = Math.Min(ModelHub.ReadMaxSeqLength(dir) ?? config.MaxPositions, config.MaxPositions);
            return new OnnxModel(session, nameOrDirectory, dir, config, tok, max, signature);
        }
        catch { session.Dispose(); throw; }
    }

    static string CliLine(string message) => message.Split('\n')[0].Trim();

    /// <summary>The graph's own inputs and outputs; the head from onnx_config.json, else config.json's architectures.</summary>
    static OnnxSignature ReadSignature(InferenceSession session, string dir, ModelConfig config)
    {
        var written = OnnxExporter.ReadSignature(Path.Combine(dir, OnnxExporter.SignatureFile));
        static OnnxTensorSpec Spec(string name, NodeMetadata m) => new(name,
            m.ElementDataType switch { TensorElementType.Int64 => "int64", TensorElementType.Float => "float32", var t => t.ToString().ToLowerInvariant() },
            m.Dimensions.Select((d, i) => d >= 0 ? (object)(long)d : m.SymbolicDimensions[i]).ToList());
        var inputs = session.InputMetadata.Select(kv => Spec(kv.Key, kv.Value)).ToList();
        var outputs = session.OutputMetadata.Select(kv => Spec(kv.Key, kv.Value)).ToList();
        string arch = written?.Architecture ?? ModelFactory.DefaultArchitecture(config);
        bool past = inputs.Any(i => i.Name.StartsWith("past_key_values.", StringComparison.Ordinal));
        if (!inputs.Any(i => i.Name == "input_ids"))
            throw new GptBertException($"{dir}/{OnnxExporter.ModelFile} has no input_ids input (inputs: {string.Join(", ", inputs.Select(i => i.Name))}); it is not a GPT-2 or BERT export");
        return new OnnxSignature(arch, written?.Task ?? OnnxExporter.Tasks.GetValueOrDefault(arch, "unknown"), past,
            written?.Opset ?? 0, inputs, outputs, written?.Quantization);
    }

    static readonly object builtInGate = new();

    /// <summary>The built-in MiniLM exported to ONNX by GptBert once, under the cache beside its Hugging Face directory.</summary>
    static string EnsureBuiltIn()
    {
        var dir = Path.Combine(BuiltIn.CacheDirectory, "all-MiniLM-L6-v2-onnx");
        var marker = Path.Combine(dir, ".complete-v1");
        lock (builtInGate)
        {
            if (File.Exists(marker)) return dir;
            using (var handle = ModelHub.Load(ModelHub.MiniLm, requireHead: false))
                OnnxExporter.Export(handle.Model, handle.Tokenizer, dir, sourceDirectory: handle.Directory);
            AtomicFile.WriteAllText(marker, DateTime.UtcNow.ToString("O"));
            return dir;
        }
    }

    // ---------------------------------------------------------------- encoder

    public FloatTensor LastHiddenState(TokenBatch batch)
    {
        if (!Signature.HasOutput("last_hidden_state"))
            throw new GptBertException($"{Source} was exported as {Architecture}, whose graph has no last_hidden_state output; for embeddings export the base model (Architecture {(Config is Gpt2Config ? "GPT2Model" : "BertModel")})") { RelatedParameters = ["Architecture"] };
        return Run(batch, ["last_hidden_state"])["last_hidden_state"];
    }

    public IReadOnlyDictionary<string, FloatTensor> HeadOutputs(TokenBatch batch)
    {
        var wanted = outputNames.Where(n => !n.StartsWith("present.", StringComparison.Ordinal) && n is not "last_hidden_state" and not "pooler_output").ToArray();
        if (wanted.Length == 0)
            throw new GptBertException($"{Source} was exported as {Architecture}, which has no head; use its hidden states");
        if (Signature.UsePast)
        {
            // The decoder graph: an empty past for every layer.
            using var empty = EmptyPast(batch.BatchSize);
            return Run(batch, wanted, empty.Values);
        }
        return Run(batch, wanted);
    }

    Dictionary<string, FloatTensor> Run(TokenBatch batch, string[] outputs, IReadOnlyList<(string, OrtValue)>? extra = null)
    {
        long[] shape = [batch.BatchSize, batch.Length];
        var names = new List<string>();
        var values = new List<OrtValue>();
        try
        {
            void Add(string name, long[] data) { names.Add(name); values.Add(OrtValue.CreateTensorValueFromMemory(data, shape)); }
            Add("input_ids", batch.InputIds);
            if (inputNames.Contains("attention_mask")) Add("attention_mask", batch.AttentionMask);
            if (inputNames.Contains("token_type_ids")) Add("token_type_ids", batch.TokenTypeIds);
            if (inputNames.Contains("position_ids")) Add("position_ids", batch.PositionIds());
            foreach (var (n, v) in extra ?? []) { names.Add(n); values.Add(v); }
            using var runOptions = new RunOptions();
            using var results = session.Run(runOptions, names, values, outputs);
            var dict = new Dictionary<string, FloatTensor>();
            for (int i = 0; i < outputs.Length; i++) dict[outputs[i]] = ToFloat(results[i]);
            return dict;
        }
        finally
        {
            // Values from extra belong to the caller.
            for (int i = 0; i < values.Count; i++)
                if (extra is null || !extra.Any(e => ReferenceEquals(e.Item2, values[i]))) values[i].Dispose();
        }
    }

    static FloatTensor ToFloat(OrtValue v) =>
        new(v.GetTensorDataAsSpan<float>().ToArray(), v.GetTensorTypeAndShape().Shape.Select(d => (int)d).ToArray());

    // ---------------------------------------------------------------- decoder

    sealed class PastValues(List<(string, OrtValue)> values) : IDisposable
    {
        public List<(string, OrtValue)> Values => values;
        public void Dispose() { foreach (var (_, v) in values) v.Dispose(); values.Clear(); }
    }

    /// <summary>past_key_values.* with no positions: (B, nh, 0, hs), the first step of Optimum's "with past" decoder.</summary>
    PastValues EmptyPast(int batch)
    {
        var list = new List<(string, OrtValue)>();
        for (int i = 0; i < layers; i++)
            foreach (var kind in new[] { "key", "value" })
                list.Add(($"past_key_values.{i}.{kind}", OrtValue.CreateTensorValueFromMemory(Array.Empty<float>(), [batch, heads, 0, headSize])));
        return new PastValues(list);
    }

    sealed class OnnxCache : IDecoderCache
    {
        /// <summary>present.* of the last step, fed back as past_key_values.*; null before the first step.</summary>
        public OrtValue[]? Present;
        public long Length { get; set; }
        public void Dispose()
        {
            foreach (var v in Present ?? []) v.Dispose();
            Present = null;
        }
    }

    public IDecoderCache NewCache()
    {
        RequireDecoder();
        return new OnnxCache();
    }

    void RequireDecoder()
    {
        if (!Signature.UsePast || !Signature.HasOutput("logits"))
            throw new GptBertException($"generate needs a GPT-2 language model exported with its cache (GPT2LMHeadModel); {Source} was exported as {Architecture}");
    }

    public float[] NextTokenLogits(IReadOnlyList<int> ids, IDecoderCache? cache)
    {
        RequireDecoder();
        var onnxCache = cache switch
        {
            null => null,
            OnnxCache c => c,
            _ => throw new ArgumentException("the cache was made by another runner", nameof(cache)),
        };
        long past = onnxCache?.Length ?? 0, T = ids.Count;
        var names = new List<string> { "input_ids", "attention_mask" };
        var values = new List<OrtValue>
        {
            OrtValue.CreateTensorValueFromMemory(ids.Select(i => (long)i).ToArray(), [1, T]),
            OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, (int)(past + T)).ToArray(), [1, past + T]),
        };
        if (inputNames.Contains("position_ids"))
        {
            names.Add("position_ids");
            values.Add(OrtValue.CreateTensorValueFromMemory(Enumerable.Range((int)past, (int)T).Select(i => (long)i).ToArray(), [1, T]));
        }
        using var empty = onnxCache?.Present is null ? EmptyPast(1) : null;
        for (int i = 0; i < 2 * layers; i++)
        {
            names.Add($"past_key_values.{i / 2}.{(i % 2 == 0 ? "key" : "value")}");
            values.Add(onnxCache?.Present is { } p ? p[i] : empty!.Values[i].Item2);
        }
        var outputs = new List<string> { "logits" };
        for (int i = 0; i < layers; i++) { outputs.Add($"present.{i}.key"); outputs.Add($"present.{i}.value"); }
        IDisposableReadOnlyCollection<OrtValue> results;
        using var runOptions = new RunOptions();
        try { results = session.Run(runOptions, names, values, outputs); }
        finally
        {
            // The three id inputs are ours; the past values belong to the cache (or to `empty`).
            for (int i = 0; i < names.Count - 2 * layers; i++) values[i].Dispose();
        }
        try
        {
            var logits = results[0];
            long V = logits.GetTensorTypeAndShape().Shape[^1];
            var last = logits.GetTensorDataAsSpan<float>().Slice((int)((T - 1) * V), (int)V).ToArray();
            if (onnxCache is not null)
            {
                // Keep present.* as the next step's past (they outlive `results`, which is not disposed for them).
                onnxCache.Dispose();
                onnxCache.Present = results.Skip(1).ToArray();
                onnxCache.Length = past + T;
                logits.Dispose();
            }
            else
                foreach (var r in results) r.Dispose();
            return last;
        }
        catch
        {
            foreach (var r in results) r.Dispose();
            throw;
        }
    }

    public void Dispose() => session.Dispose();
}
