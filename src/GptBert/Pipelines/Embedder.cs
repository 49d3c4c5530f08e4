using GptBert.Models;
using GptBert.Tokenizers;

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
        // Tokenize a window at a time, so memory stays bounded on large inputs, then batch each window by token length.
        const int Window = 4096;
        for (int start = 0; start < texts.Count; start += Window)
        {
            int n = Math.Min(Window, texts.Count - start);
            var inputs = new (string, string?)[n];
            for (int i = 0; i < n; i++) inputs[i] = (texts[start + i], null);
            var enc = runner.Tokenizer.EncodeBatch(inputs, addSpecialTokens: true, maxLength: max, padToLongest: false);
            Batching.CheckTruncation(enc, runner.Config, max, Overflow, Warn, start, null);
            Embed(enc, cancellationToken).CopyTo(result, start);
        }
        return result;
    }

    /// <summary>
    /// One embedding per tokenized input (special tokens included, as <see cref="Tokenizers.ITextTokenizer.Encode"/> or
    /// <see cref="Tokenizers.ITextTokenizer.EncodeIds"/> give them), in input order; batched by <see cref="LengthBatches"/>.
    /// </summary>
    public float[][] Embed(IReadOnlyList<TokenizedText> encodings, CancellationToken cancellationToken = default)
    {
        var lengths = new int[encodings.Count];
        for (int i = 0; i < lengths.Length; i++)
        {
            lengths[i] = encodings[i].Length;
            if (lengths[i] == 0) throw new GptBertException($"input {i + 1} has no tokens; every input needs at least one");
            if (lengths[i] > runner.Config.MaxPositions)
                throw new GptBertException($"input {i + 1} has {lengths[i]} tokens; the model takes at most {runner.Config.MaxPositions}");
        }
        var result = new float[encodings.Count][];
        long padId = runner.Tokenizer.PadId ?? runner.Tokenizer.EosId ?? 0;
        foreach (var idx in LengthBatches(lengths, BatchSize))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var rows = new TokenizedText[idx.Length];
            for (int j = 0; j < idx.Length; j++) rows[j] = encodings[idx[j]];
            var batch = TokenBatch.From(rows, padId);
            var hidden = runner.LastHiddenState(batch); // (B, T, H)
            for (int j = 0; j < idx.Length; j++) result[idx[j]] = Pool(hidden, batch, j);
        }
        return result;
    }

    /// <summary>
    /// A forward pass costs about a fixed amount plus a linear amount per padded token; the fixed part is what
    /// <see cref="LengthBatches"/> weighs padding against, in tokens. MiniLM on 2 threads (bench/results/embedding-throughput.md):
    /// 1x16 4.1 ms and 1x128 20.1 ms give 0.14 ms a token and 1.9 ms a pass, about 13 tokens; 16 rounds it up.
    /// </summary>
    public const int PassCostInTokens = 16;

    /// <summary>
    /// Splits inputs of these token lengths into padded batches: runs of the longest-first order (ties keep input
    /// order), each at most <paramref name="maxBatch"/> inputs, chosen to minimise padded tokens plus
    /// <paramref name="passCost"/> tokens per batch (exactly, by dynamic programming over the cut points). Inputs of
    /// similar length share a batch; a few short ones do not pay the longest one's padding.
    /// </summary>
    public static IReadOnlyList<int[]> LengthBatches(IReadOnlyList<int> lengths, int maxBatch, int passCost = PassCostInTokens)
    {
        int n = lengths.Count;
        if (n == 0) return [];
        maxBatch = Math.Max(1, maxBatch);
        var order = Enumerable.Range(0, n).OrderByDescending(i => lengths[i]).ThenBy(i => i).ToArray();
        var best = new long[n + 1];
        var cut = new int[n + 1];
        for (int i = 1; i <= n; i++)
        {
            best[i] = long.MaxValue;
            for (int j = Math.Max(0, i - maxBatch); j < i; j++)
            {
                // Batch order[j..i-1] pads to its first (longest) input.
                long cost = best[j] + passCost + (long)(i - j) * lengths[order[j]];
                if (cost < best[i]) { best[i] = cost; cut[i] = j; }
            }
        }
        var batches = new List<int[]>();
        for (int i = n; i > 0; i = cut[i]) batches.Add(order[cut[i]..i]);
        batches.Reverse();
        return batches;
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
