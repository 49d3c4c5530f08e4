using GptBert.Models;

namespace GptBert.Pipelines;

public enum Pooling { Mean, Cls, LastToken }

/// <summary>
/// Sentence embeddings as sentence-transformers computes them: encoder → pooling → L2 normalisation. The pooling is
/// the one the model directory declares (sentence-transformers' 1_Pooling/config.json: [CLS] for arctic-embed-xs),
/// else attention-masked mean pooling (MiniLM; GPT-2 models pool their last hidden state the same way by default).
/// The encoder runs on TorchSharp (a <see cref="ModelHandle"/>) or on any other <see cref="IEncoderRunner"/> (ONNX Runtime).
/// </summary>
public sealed class Embedder
{
    readonly IEncoderRunner runner;
    readonly ModelHandle? handle;

    public Embedder(ModelHandle handle) : this(new TorchRunner(handle)) { }

    /// <summary>An embedder on another engine, e.g. an exported directory in ONNX Runtime (<see cref="OnnxExport.OnnxModel"/>).</summary>
    public Embedder(IEncoderRunner runner)
    {
        this.runner = runner;
        handle = (runner as TorchRunner)?.Handle;
        Pooling = ModelHub.DeclaredPooling(runner.Directory) ?? Pooling.Mean;
    }

    /// <summary>The TorchSharp model; an embedder built on another engine has none (use <see cref="Model"/>).</summary>
    public ModelHandle Handle => handle ?? throw new InvalidOperationException($"this embedder runs {runner.Source} on {runner.GetType().Name}, not on TorchSharp; use Model");
    /// <summary>The model, whichever engine runs it.</summary>
    public ILoadedModel Model => runner;
    public Pooling Pooling { get; init; }
    public bool Normalize { get; init; } = true;
    public int BatchSize { get; init; } = 32;
    public Overflow Overflow { get; init; } = Overflow.TruncateWithWarning;
    public Action<string>? Warn { get; init; }

    public int Dimension => runner.Config switch { BertConfig b => b.HiddenSize, Gpt2Config g => g.NEmbd, _ => 0 };

    /// <summary>One embedding per text, in input order. Safe to call from several threads at once; cancellation is checked between batches.</summary>
    public float[][] Embed(IReadOnlyList<string> texts, int? maxLength = null, CancellationToken cancellationToken = default)
    {
        int max = Math.Min(maxLength ?? runner.MaxLength, runner.Config.MaxPositions);
        var result = new float[texts.Count][];
        // Like sentence-transformers: sort by length so each batch pads little, then restore order.
        var order = Enumerable.Range(0, texts.Count).OrderByDescending(i => texts[i].Length).ToArray();
        for (int start = 0; start < order.Length; start += BatchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var idx = order.Skip(start).Take(BatchSize).ToArray();
            var batch = TokenBatch.Encode(runner, idx.Select(i => (texts[i], (string?)null)).ToList(), max, Overflow, Warn, inputIndices: idx);
            var hidden = runner.LastHiddenState(batch); // (B, T, H)
            for (int j = 0; j < idx.Length; j++) result[idx[j]] = Pool(hidden, batch, j);
        }
        return result;
    }

    /// <summary>Row <paramref name="b"/>'s vector (H) from the hidden states (B, T, H): pooled over its real tokens, then L2-normalised.</summary>
    float[] Pool(FloatTensor hidden, TokenBatch batch, int b)
    {
        int T = hidden.Shape[1], H = hidden.Shape[2];
        var rows = hidden.Row(b); // (T, H)
        var mask = batch.AttentionMask.AsSpan(b * batch.Length, batch.Length);
        var sum = new double[H];
        switch (Pooling)
        {
            case Pooling.Cls:
                for (int h = 0; h < H; h++) sum[h] = rows[h];
                break;
            case Pooling.LastToken:
            {
                long n = 0;
                foreach (var m in mask) n += m;
                var last = rows.Slice((int)Math.Max(n - 1, 0) * H, H);
                for (int h = 0; h < H; h++) sum[h] = last[h];
                break;
            }
            default:
            {
                double count = 0;
                for (int t = 0; t < T; t++)
                {
                    if (mask[t] == 0) continue;
                    count += mask[t];
                    var row = rows.Slice(t * H, H);
                    for (int h = 0; h < H; h++) sum[h] += row[h];
                }
                double inv = 1 / Math.Max(count, 1e-9);
                for (int h = 0; h < H; h++) sum[h] *= inv;
                break;
            }
        }
        double scale = 1;
        if (Normalize)
        {
            double norm = Math.Sqrt(sum.Sum(v => v * v));
            scale = 1 / Math.Max(norm, 1e-12); // torch.nn.functional.normalize's eps
        }
        var result = new float[H];
        for (int h = 0; h < H; h++) result[h] = (float)(sum[h] * scale);
        return result;
    }

    public static double Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
        return dot / Math.Max(Math.Sqrt(na) * Math.Sqrt(nb), 1e-12);
    }
}
