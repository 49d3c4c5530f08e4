using GptBert.Models;
using static TorchSharp.torch;

namespace GptBert.Pipelines;

public enum Pooling { Mean, Cls, LastToken }

/// <summary>
/// Sentence embeddings as sentence-transformers computes them: encoder → pooling → L2 normalisation. The pooling is
/// the one the model directory declares (sentence-transformers' 1_Pooling/config.json: [CLS] for arctic-embed-xs),
/// else attention-masked mean pooling (MiniLM; GPT-2 models pool their last hidden state the same way by default).
/// </summary>
public sealed class Embedder(ModelHandle handle)
{
    public ModelHandle Handle => handle;
    public Pooling Pooling { get; init; } = ModelHub.DeclaredPooling(handle.Directory) ?? Pooling.Mean;
    public bool Normalize { get; init; } = true;
    public int BatchSize { get; init; } = 32;
    public Overflow Overflow { get; init; } = Overflow.TruncateWithWarning;
    public Action<string>? Warn { get; init; }

    public int Dimension => handle.Config switch { BertConfig b => b.HiddenSize, Gpt2Config g => g.NEmbd, _ => 0 };

    /// <summary>One embedding per text, in input order. Safe to call from several threads at once; cancellation is checked between batches.</summary>
    public float[][] Embed(IReadOnlyList<string> texts, int? maxLength = null, CancellationToken cancellationToken = default)
    {
        int max = Math.Min(maxLength ?? handle.MaxLength, handle.Config.MaxPositions);
        var result = new float[texts.Count][];
        // Like sentence-transformers: sort by length so each batch pads little, then restore order.
        var order = Enumerable.Range(0, texts.Count).OrderByDescending(i => texts[i].Length).ToArray();
        using var _ = inference_mode();
        for (int start = 0; start < order.Length; start += BatchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var idx = order.Skip(start).Take(BatchSize).ToArray();
            using var scope = NewDisposeScope();
            using var batch = Batching.Encode(handle, idx.Select(i => (texts[i], (string?)null)).ToList(), max, Overflow, Warn, inputIndices: idx);
            var emb = Forward(batch); // (B, H)
            var data = emb.to(ScalarType.Float32).cpu().data<float>().ToArray();
            int H = (int)emb.shape[1];
            for (int j = 0; j < idx.Length; j++) result[idx[j]] = data.AsSpan(j * H, H).ToArray();
        }
        return result;
    }

    Tensor Forward(Batch batch)
    {
        var hidden = handle.Model switch
        {
            BertModel m => m.Forward(batch.InputIds, batch.AttentionMask, batch.TokenTypeIds, pool: false).LastHiddenState,
            BertHeadModel m => m.bert.Forward(batch.InputIds, batch.AttentionMask, batch.TokenTypeIds, pool: false).LastHiddenState,
            GPT2Model m => m.Forward(batch.InputIds, batch.AttentionMask),
            GPT2LMHeadModel m => m.transformer.Forward(batch.InputIds, batch.AttentionMask),
            GPT2ForSequenceClassification m => m.transformer.Forward(batch.InputIds, batch.AttentionMask),
            var m => throw new GptBertException($"{m.Architecture} cannot produce embeddings"),
        }; // (B, T, H)
        var mask = batch.AttentionMask.unsqueeze(-1).to(hidden.dtype); // (B, T, 1)
        var pooled = Pooling switch
        {
            Pooling.Cls => hidden[.., 0],
            Pooling.LastToken => hidden[arange(hidden.shape[0], device: hidden.device), batch.AttentionMask.sum(1) - 1],
            _ => (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9),
        }; // (B, H)
        return Normalize ? nn.functional.normalize(pooled, p: 2, dim: 1) : pooled;
    }

    public static double Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
        return dot / Math.Max(Math.Sqrt(na) * Math.Sqrt(nb), 1e-12);
    }
}
