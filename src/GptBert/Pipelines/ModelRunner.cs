using GptBert.Checkpoints;
using GptBert.Models;
using GptBert.Tokenizers;
using static TorchSharp.torch;

namespace GptBert.Pipelines;

/// <summary>Which engine runs a model's forward passes: TorchSharp (libtorch, the default) or ONNX Runtime on an exported directory.</summary>
public enum Backend { Torch, Onnx }

/// <summary>
/// What the inference pipelines need to know about a loaded model, whichever engine runs it: <see cref="ModelHandle"/>
/// (TorchSharp) and <see cref="OnnxExport.OnnxModel"/> (ONNX Runtime) both are one.
/// </summary>
public interface ILoadedModel : IDisposable
{
    /// <summary>Built-in name or directory the user gave.</summary>
    string Source { get; }
    /// <summary>The directory the model was read from.</summary>
    string Directory { get; }
    ModelConfig Config { get; }
    /// <summary>The transformers class that runs (BertModel, GPT2LMHeadModel, ...).</summary>
    string Architecture { get; }
    ITextTokenizer Tokenizer { get; }
    /// <summary>Default maximum tokens per input.</summary>
    int MaxLength { get; }
}

/// <summary>A float32 result on the CPU, row-major, with its shape.</summary>
public sealed record FloatTensor(float[] Data, int[] Shape)
{
    /// <summary>Elements per index of the first dimension.</summary>
    public int RowSize => Shape.Skip(1).Aggregate(1, (a, b) => a * b);
    public ReadOnlySpan<float> Row(int i) => Data.AsSpan(i * RowSize, RowSize);
}

/// <summary>A right-padded batch of token ids, (B, T) row-major, as every engine takes it.</summary>
public sealed record TokenBatch(int BatchSize, int Length, long[] InputIds, long[] AttentionMask, long[] TokenTypeIds, IReadOnlyList<TokenizedText> Encodings)
{
    /// <summary>Right-pads encodings of any lengths with <paramref name="padId"/> (mask 0).</summary>
    public static TokenBatch From(IReadOnlyList<TokenizedText> enc, long padId)
    {
        int B = enc.Count, T = enc.Max(e => e.Ids.Length);
        var ids = new long[B * T]; var mask = new long[B * T]; var types = new long[B * T];
        Array.Fill(ids, padId);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < enc[b].Ids.Length; t++)
            {
                ids[b * T + t] = enc[b].Ids[t];
                mask[b * T + t] = enc[b].AttentionMask[t];
                types[b * T + t] = enc[b].TypeIds[t];
            }
        return new TokenBatch(B, T, ids, mask, types, enc);
    }

    /// <summary>Tokenizes inputs for <paramref name="model"/> and pads them; reports or refuses truncation as <see cref="Batching.Encode"/> does.</summary>
    public static TokenBatch Encode(ILoadedModel model, IReadOnlyList<(string Text, string? Pair)> inputs, int maxLength,
        Overflow overflow, Action<string>? warn, int firstIndex = 0, IReadOnlyList<int>? inputIndices = null)
    {
        var enc = model.Tokenizer.EncodeBatch(inputs, addSpecialTokens: true, maxLength: maxLength, padToLongest: true);
        Batching.CheckTruncation(enc, model.Config, maxLength, overflow, warn, firstIndex, inputIndices);
        return From(enc, model.Tokenizer.PadId ?? model.Tokenizer.EosId ?? 0);
    }

    /// <summary>
    /// GPT-2 position ids for these rows: positions count real tokens only ((cumsum(mask) − 1) clamped at 0), as Gpt2.cs
    /// computes them when given an attention mask; for right padding that is 0..n−1.
    /// </summary>
    public long[] PositionIds()
    {
        var pos = new long[InputIds.Length];
        for (int b = 0; b < BatchSize; b++)
        {
            long seen = 0;
            for (int t = 0; t < Length; t++)
            {
                seen += AttentionMask[b * Length + t];
                pos[b * Length + t] = Math.Max(seen - 1, 0);
            }
        }
        return pos;
    }
}

/// <summary>An encoder pass: ids + mask (+ segments) → the base model's hidden states or the head's outputs.</summary>
public interface IEncoderRunner : ILoadedModel
{
    /// <summary>The base model's last hidden state (B, T, H).</summary>
    FloatTensor LastHiddenState(TokenBatch batch);

    /// <summary>
    /// The head's outputs under Hugging Face's names: "logits" ((B, num_labels) for sequence classification, (B, T, V) for
    /// masked LM, (B, T, num_labels) for token classification), "start_logits"/"end_logits" (B, T) for question answering.
    /// </summary>
    IReadOnlyDictionary<string, FloatTensor> HeadOutputs(TokenBatch batch);
}

/// <summary>Keys and values of the positions a decoder has seen, owned by one sequence; its type belongs to the runner that made it.</summary>
public interface IDecoderCache : IDisposable
{
    /// <summary>Positions in the cache.</summary>
    long Length { get; }
}

/// <summary>An incremental decoder pass, one sequence: ids (+ the cache of earlier positions) → next-token logits (+ the grown cache).</summary>
public interface IDecoderRunner : ILoadedModel
{
    IDecoderCache NewCache();

    /// <summary>
    /// Logits (V) of the last position. With a cache, <paramref name="ids"/> are the tokens after the cached ones and the
    /// cache grows by them; without, they are the whole sequence.
    /// </summary>
    float[] NextTokenLogits(IReadOnlyList<int> ids, IDecoderCache? cache);
}

/// <summary>The TorchSharp engine behind the runner interfaces: the model of a <see cref="ModelHandle"/>, as the pipelines always ran it.</summary>
public sealed class TorchRunner(ModelHandle handle, bool ownsHandle = false) : IEncoderRunner, IDecoderRunner
{
    public ModelHandle Handle => handle;
    public string Source => handle.Source;
    public string Directory => handle.Directory;
    public ModelConfig Config => handle.Config;
    public string Architecture => handle.Model.Architecture;
    public ITextTokenizer Tokenizer => handle.Tokenizer;
    public int MaxLength => handle.MaxLength;

    (Tensor Ids, Tensor Mask, Tensor Types) Tensors(TokenBatch b) =>
        (tensor(b.InputIds, [b.BatchSize, b.Length], device: handle.Device),
         tensor(b.AttentionMask, [b.BatchSize, b.Length], device: handle.Device),
         tensor(b.TokenTypeIds, [b.BatchSize, b.Length], device: handle.Device));

    static FloatTensor ToFloat(Tensor t) => new(TensorBytes.ToArray<float>(t.to(ScalarType.Float32)), t.shape.Select(d => (int)d).ToArray());

    public FloatTensor LastHiddenState(TokenBatch batch)
    {
        using var _ = inference_mode();
        using var scope = NewDisposeScope();
        var (ids, mask, types) = Tensors(batch);
        var hidden = handle.Model switch
        {
            BertModel m => m.Forward(ids, mask, types, pool: false).LastHiddenState,
            BertHeadModel m => m.bert.Forward(ids, mask, types, pool: false).LastHiddenState,
            GPT2Model m => m.Forward(ids, mask),
            GPT2LMHeadModel m => m.transformer.Forward(ids, mask),
            GPT2ForSequenceClassification m => m.transformer.Forward(ids, mask),
            GPT2ForTokenClassification m => m.transformer.Forward(ids, mask),
            var m => throw new GptBertException($"{m.Architecture} cannot produce embeddings"),
        }; // (B, T, H)
        return ToFloat(hidden);
    }

    public IReadOnlyDictionary<string, FloatTensor> HeadOutputs(TokenBatch batch)
    {
        using var _ = inference_mode();
        using var scope = NewDisposeScope();
        var (ids, mask, types) = Tensors(batch);
        return handle.Model switch
        {
            BertForSequenceClassification m => Logits(m.Forward(ids, mask, types)),
            BertForTokenClassification m => Logits(m.Forward(ids, mask, types)),
            BertForMaskedLM m => Logits(m.Forward(ids, mask, types)),
            BertForPreTraining m => Logits(m.Forward(ids, mask, types).PredictionLogits),
            BertForNextSentencePrediction m => Logits(m.Forward(ids, mask, types)),
            BertForQuestionAnswering m => m.Forward(ids, mask, types) is var s
                ? new Dictionary<string, FloatTensor> { ["start_logits"] = ToFloat(s.StartLogits), ["end_logits"] = ToFloat(s.EndLogits) } : null!,
            GPT2LMHeadModel m => Logits(m.Forward(ids, mask)),
            GPT2ForSequenceClassification m => Logits(m.Forward(ids, mask)),
            GPT2ForTokenClassification m => Logits(m.Forward(ids, mask)),
            var m => throw new GptBertException($"{m.Architecture} has no head; use its hidden states"),
        };
    }

    static Dictionary<string, FloatTensor> Logits(Tensor t) => new() { ["logits"] = ToFloat(t) };

    public IDecoderCache NewCache() => new TorchCache();

    public float[] NextTokenLogits(IReadOnlyList<int> ids, IDecoderCache? cache)
    {
        var lm = Generator.LanguageModel(handle);
        var kv = cache switch
        {
            null => null,
            TorchCache c => c.Kv,
            _ => throw new ArgumentException("the cache was made by another runner", nameof(cache)),
        };
        using var _ = inference_mode();
        using var scope = NewDisposeScope();
        var input = tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Count], device: handle.Device);
        var output = lm.Forward(input, cache: kv); // (1, T, V)
        return TensorBytes.ToArray<float>(output[0, -1].to(ScalarType.Float32).cpu());
    }

    sealed class TorchCache : IDecoderCache
    {
        public readonly KvCache Kv = new();
        public long Length => Kv.Length;
        public void Dispose() => Kv.Dispose();
    }

    public void Dispose()
    {
        if (ownsHandle) handle.Dispose();
    }
}

/// <summary>The postprocessing of the pipelines' heads on any <see cref="IEncoderRunner"/> (the TorchSharp path keeps its own, on tensors).</summary>
internal static class RunnerPredictions
{
    const int BatchSize = 32;

    /// <summary>Predicted label ids and class probabilities (softmax of the "logits" output), <see cref="BatchSize"/> inputs per pass, truncated to <paramref name="maxLength"/>.</summary>
    public static (int[] Predicted, float[][] Probabilities) Classify(IEncoderRunner runner, IReadOnlyList<(string Text, string? Pair)> inputs, int maxLength)
    {
        var predicted = new int[inputs.Count];
        var probs = new float[inputs.Count][];
        for (int start = 0; start < inputs.Count; start += BatchSize)
        {
            var chunk = inputs.Skip(start).Take(BatchSize).ToList();
            var batch = TokenBatch.Encode(runner, chunk, maxLength, Overflow.TruncateWithWarning, warn: null);
            var logits = runner.HeadOutputs(batch)["logits"]; // (B, K)
            for (int j = 0; j < chunk.Count; j++)
            {
                probs[start + j] = Softmax(logits.Row(j));
                predicted[start + j] = Array.IndexOf(probs[start + j], probs[start + j].Max());
            }
        }
        return (predicted, probs);
    }

    /// <summary>The "logits" output per input, <see cref="BatchSize"/> inputs per pass, truncated to <paramref name="maxLength"/>.</summary>
    public static float[][] Logits(IEncoderRunner runner, IReadOnlyList<(string Text, string? Pair)> inputs, int maxLength)
    {
        var result = new float[inputs.Count][];
        for (int start = 0; start < inputs.Count; start += BatchSize)
        {
            var chunk = inputs.Skip(start).Take(BatchSize).ToList();
            var batch = TokenBatch.Encode(runner, chunk, maxLength, Overflow.TruncateWithWarning, warn: null);
            var logits = runner.HeadOutputs(batch)["logits"]; // (B, K)
            for (int j = 0; j < chunk.Count; j++) result[start + j] = logits.Row(j).ToArray();
        }
        return result;
    }

    public static float[] Softmax(ReadOnlySpan<float> logits)
    {
        float max = float.NegativeInfinity;
        foreach (var v in logits) max = Math.Max(max, v);
        var result = new float[logits.Length];
        double sum = 0;
        for (int i = 0; i < logits.Length; i++) sum += result[i] = MathF.Exp(logits[i] - max);
        for (int i = 0; i < result.Length; i++) result[i] = (float)(result[i] / sum);
        return result;
    }
}
