using GptBert.Checkpoints;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using GptBert.Models;
using static TorchSharp.torch;

namespace GptBert.Pipelines;

/// <summary>
/// Continuous batching for GPT-2 generation (as vLLM and TGI schedule decoding): one decoding loop owns a running batch of
/// sequences; a new request is prefilled on its own (its first token comes at once) and joins the batch at the next step
/// boundary; a finished, cancelled or abandoned sequence leaves at the next boundary. Each sequence keeps its own positions:
/// the shared KV cache is left-padded and an attention mask hides the padding, so position ids and attention are those of
/// the sequence alone (equal to <see cref="Generator"/>'s up to float rounding). Sixteen concurrent streams therefore cost
/// about sixteen rows of one forward per step instead of sixteen forwards.
/// </summary>
public sealed class GenerationScheduler : ITextGenerator, IAsyncDisposable, IDisposable
{
    readonly ModelHandle handle;
    readonly GPT2LMHeadModel lm;
    readonly Channel<Request> pending = Channel.CreateUnbounded<Request>(new UnboundedChannelOptions { SingleReader = true });
    readonly Thread loop;
    readonly CancellationTokenSource disposing = new();
    int waiting, active;

    public GenerationScheduler(ModelHandle handle, int maxBatchSize = 16)
    {
        if (maxBatchSize < 1) throw new GptBertException($"MaxBatchSize must be at least 1 (got {maxBatchSize})") { Parameter = "MaxBatchSize" };
        this.handle = handle;
        lm = Generator.LanguageModel(handle);
        MaxBatchSize = maxBatchSize;
        loop = new Thread(Loop) { IsBackground = true, Name = "gptbert-decode" };
        loop.Start();
    }

    public ModelHandle Handle => handle;
    public int MaxBatchSize { get; }
    /// <summary>Requests submitted but not yet in the running batch.</summary>
    public int Waiting => Volatile.Read(ref waiting);
    /// <summary>Sequences in the running batch.</summary>
    public int Active => Volatile.Read(ref active);
    /// <summary>Called on the decoding thread after every batched step with the batch size (for metrics); must be quick.</summary>
    public Action<int>? OnStep { get; init; }

    sealed class Request(IReadOnlyList<int> promptIds, GenerationOptions options, SequenceDecoder decoder, CancellationToken ct)
    {
        public readonly IReadOnlyList<int> PromptIds = promptIds;
        public readonly GenerationOptions Options = options;
        public readonly SequenceDecoder Decoder = decoder;
        public readonly CancellationToken Ct = ct;
        public readonly Channel<GeneratedToken> Output = Channel.CreateUnbounded<GeneratedToken>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        public volatile bool Abandoned;
        public bool Gone => Abandoned || Ct.IsCancellationRequested;

        public void Emit(IReadOnlyList<GeneratedToken> tokens)
        {
            foreach (var t in tokens) Output.Writer.TryWrite(t);
            if (Decoder.Finished) Output.Writer.TryComplete();
        }

        public void Fail(Exception e) => Output.Writer.TryComplete(e);
    }

    public async IAsyncEnumerable<GeneratedToken> GenerateAsync(IReadOnlyList<int> promptIds, GenerationOptions options,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        options.Validate();
        SequenceDecoder.CheckPrompt(handle, promptIds, options);
        ObjectDisposedException.ThrowIf(disposing.IsCancellationRequested, this);
        var request = new Request(promptIds, options with { UseCache = true }, new SequenceDecoder(handle, promptIds, options), cancellationToken);
        Interlocked.Increment(ref waiting);
        if (!pending.Writer.TryWrite(request)) throw new ObjectDisposedException(nameof(GenerationScheduler));
        try
        {
            while (await request.Output.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                while (request.Output.Reader.TryRead(out var t))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    yield return t;
                }
        }
        finally { request.Abandoned = true; } // the loop drops it at the next step boundary
    }

    // The running batch, owned by the decoding thread.
    readonly List<Request> rows = [];
    KvCache? cache;
    Tensor? mask; // (B, S) 1 for real positions, 0 for left padding

    void Loop()
    {
        var stop = disposing.Token;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                if (rows.Count == 0)
                {
                    // Nothing running: sleep until a request arrives.
                    if (!pending.Reader.WaitToReadAsync(stop).AsTask().GetAwaiter().GetResult()) break;
                }
                Admit();
                DropFinished();
                if (rows.Count > 0) DecodeStep();
                DropFinished();
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested) { break; }
            catch (Exception e)
            {
                // A failed step fails the sequences in it, not the scheduler.
                foreach (var r in rows) r.Fail(e);
                rows.Clear();
                Reset();
            }
        }
        foreach (var r in rows) r.Fail(new ObjectDisposedException(nameof(GenerationScheduler)));
        while (pending.Reader.TryRead(out var p)) p.Fail(new ObjectDisposedException(nameof(GenerationScheduler)));
        rows.Clear();
        Reset();
    }

    /// <summary>Prefills waiting requests, one at a time, and adds them to the batch while there is room.</summary>
    void Admit()
    {
        while (rows.Count < MaxBatchSize && pending.Reader.TryRead(out var r))
        {
            Interlocked.Decrement(ref waiting);
            if (r.Gone) { r.Fail(new OperationCanceledException(r.Ct)); continue; }
            try
            {
                var own = new KvCache();
                float[] logits;
                using (inference_mode())
                using (var scope = NewDisposeScope())
                {
                    var ids = tensor(r.PromptIds.Select(i => (long)i).ToArray(), [1, r.PromptIds.Count], device: handle.Device);
                    var output = lm.Forward(ids, cache: own); // (1, T, V)
                    logits = TensorBytes.ToArray<float>(output[0, -1].to(ScalarType.Float32).cpu());
                }
                r.Emit(r.Decoder.Step(logits));
                if (r.Decoder.Finished) { own.Dispose(); continue; }
                Join(r, own);
            }
            catch (Exception e) { r.Fail(e); }
        }
        Volatile.Write(ref active, rows.Count);
    }

    /// <summary>Adds a prefilled sequence to the batch: the shorter side is left-padded so that all rows end at the same position.</summary>
    void Join(Request r, KvCache own)
    {
        long length = own.Length;
        if (cache is null || rows.Count == 0)
        {
            Reset();
            cache = own;
            mask = ones(1, length, dtype: ScalarType.Int64, device: handle.Device).DetachFromDisposeScope();
            rows.Add(r);
            return;
        }
        using var scope = NewDisposeScope();
        long S = cache.Length;
        if (length < S) own.Transform(t => nn.functional.pad(t, [0, 0, S - length, 0]));
        else if (length > S)
        {
            cache.Transform(t => nn.functional.pad(t, [0, 0, length - S, 0]));
            Replace(ref mask, nn.functional.pad(mask!, [length - S, 0]));
        }
        long total = Math.Max(S, length);
        var row = cat([zeros(1, total - length, dtype: ScalarType.Int64, device: handle.Device), ones(1, length, dtype: ScalarType.Int64, device: handle.Device)], 1);
        cache.AppendRows(own);
        Replace(ref mask, cat([mask!, row], 0));
        rows.Add(r);
    }

    /// <summary>One forward for every running sequence: each row feeds its last token.</summary>
    void DecodeStep()
    {
        int B = rows.Count;
        var feed = new long[B];
        for (int b = 0; b < B; b++) feed[b] = rows[b].Decoder.Context[^1];
        float[] logits;
        long V;
        using (inference_mode())
        using (var scope = NewDisposeScope())
        {
            Replace(ref mask, cat([mask!, ones(B, 1, dtype: ScalarType.Int64, device: handle.Device)], 1));
            var input = tensor(feed, [B, 1], device: handle.Device);
            var output = lm.Forward(input, mask, cache); // (B, 1, V)
            V = output.shape[2];
            logits = TensorBytes.ToArray<float>(output[.., -1].to(ScalarType.Float32).cpu().contiguous());
        }
        for (int b = 0; b < B; b++)
        {
            var r = rows[b];
            if (r.Gone) continue;
            try { r.Emit(r.Decoder.Step(logits.AsSpan((int)(b * V), (int)V))); }
            catch (Exception e) { r.Fail(e); r.Abandoned = true; }
        }
        OnStep?.Invoke(B);
    }

    /// <summary>Removes finished and abandoned rows, and positions that no remaining row uses.</summary>
    void DropFinished()
    {
        var keep = new List<long>();
        for (int b = 0; b < rows.Count; b++)
        {
            var r = rows[b];
            if (r.Decoder.Finished) continue;
            if (r.Gone) { r.Fail(new OperationCanceledException(r.Ct)); continue; }
            keep.Add(b);
        }
        if (keep.Count == rows.Count) return;
        var kept = keep.Select(b => rows[(int)b]).ToList();
        rows.Clear();
        rows.AddRange(kept);
        Volatile.Write(ref active, rows.Count);
        if (rows.Count == 0) { Reset(); return; }
        using var scope = NewDisposeScope();
        var index = tensor(keep.ToArray(), device: handle.Device);
        Replace(ref mask, mask!.index_select(0, index));
        // Leading positions that are padding in every remaining row can go.
        long unused = mask!.sum(dim: 0).nonzero()[0, 0].item<long>();
        cache!.Transform(t => t.index_select(0, index)[.., .., (int)unused..].contiguous());
        if (unused > 0) Replace(ref mask, mask![.., (int)unused..].contiguous());
    }

    static void Replace(ref Tensor? field, Tensor value)
    {
        var old = field;
        field = value.DetachFromDisposeScope();
        if (!ReferenceEquals(old, field)) old?.Dispose();
    }

    void Reset()
    {
        cache?.Dispose(); cache = null;
        mask?.Dispose(); mask = null;
        Volatile.Write(ref active, 0);
    }

    public void Dispose()
    {
        if (disposing.IsCancellationRequested) return;
        disposing.Cancel();
        pending.Writer.TryComplete();
        loop.Join();
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
