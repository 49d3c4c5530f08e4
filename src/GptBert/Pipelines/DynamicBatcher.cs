using System.Threading.Channels;

namespace GptBert.Pipelines;

/// <summary>How <see cref="DynamicBatcher{TIn, TOut}"/> forms batches.</summary>
public sealed record BatchingOptions
{
    /// <summary>Padded tokens per batch at most (inputs × longest input); a single request larger than this runs alone.</summary>
    public int MaxBatchTokens { get; init; } = 16384;
    /// <summary>How long the first request of a batch waits for others to join it.</summary>
    public TimeSpan MaxWait { get; init; } = TimeSpan.Zero;
    /// <summary>False runs each request on its own, at once (for benchmarks: the unbatched baseline).</summary>
    public bool Enabled { get; init; } = true;
}

/// <summary>
/// Dynamic batching, as Text Embeddings Inference queues requests: concurrent requests for one model wait in one
/// queue, and a single loop takes as many as fit a token budget (or whatever arrived within a short wait) and runs
/// them as one call. Requests are never split, so each gets exactly the outputs of its own inputs, in order; a
/// request cancelled while queued is dropped before its batch runs.
/// </summary>
public sealed class DynamicBatcher<TIn, TOut> : IAsyncDisposable
{
    sealed record Work(IReadOnlyList<TIn> Items, int MaxCost, TaskCompletionSource<IReadOnlyList<TOut>> Done, CancellationToken Cancel);

    readonly Func<IReadOnlyList<TIn>, IReadOnlyList<TOut>> run;
    readonly Func<TIn, int> cost;
    readonly BatchingOptions options;
    readonly Channel<Work> queue = Channel.CreateUnbounded<Work>(new UnboundedChannelOptions { SingleReader = true });
    readonly Task loop;
    int depth;

    /// <param name="run">Runs one batch: one output per input, in input order.</param>
    /// <param name="cost">Tokens of one input (a batch costs inputs × the largest cost, as padding makes it).</param>
    /// <param name="onBatch">Called with the number of inputs of every batch run (metrics).</param>
    public DynamicBatcher(Func<IReadOnlyList<TIn>, IReadOnlyList<TOut>> run, Func<TIn, int> cost, BatchingOptions? options = null, Action<int>? onBatch = null)
    {
        this.run = run;
        this.cost = cost;
        this.options = options ?? new BatchingOptions();
        OnBatch = onBatch;
        loop = this.options.Enabled ? Task.Factory.StartNew(Loop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap() : Task.CompletedTask;
    }

    Action<int>? OnBatch { get; }

    /// <summary>Requests waiting for a batch (not counting the one running).</summary>
    public int QueueDepth => Volatile.Read(ref depth);

    /// <summary>Queues <paramref name="items"/> and returns their outputs once the batch they joined has run.</summary>
    public async Task<IReadOnlyList<TOut>> SubmitAsync(IReadOnlyList<TIn> items, CancellationToken cancellationToken = default)
    {
        if (items.Count == 0) return [];
        cancellationToken.ThrowIfCancellationRequested();
        if (!options.Enabled)
        {
            OnBatch?.Invoke(items.Count);
            return await Task.Run(() => run(items), cancellationToken);
        }
        var work = new Work(items, items.Max(cost), new TaskCompletionSource<IReadOnlyList<TOut>>(TaskCreationOptions.RunContinuationsAsynchronously), cancellationToken);
        Interlocked.Increment(ref depth);
        if (!queue.Writer.TryWrite(work))
        {
            Interlocked.Decrement(ref depth);
            throw new ObjectDisposedException(nameof(DynamicBatcher<TIn, TOut>));
        }
        using (cancellationToken.Register(() => work.Done.TrySetCanceled(cancellationToken)))
            return await work.Done.Task;
    }

    async Task Loop()
    {
        var reader = queue.Reader;
        Work? carried = null;
        while (carried is not null || await reader.WaitToReadAsync())
        {
            var batch = new List<Work>();
            int count = 0, maxCost = 0;
            bool Fits(Work w) => batch.Count == 0 || (long)(count + w.Items.Count) * Math.Max(maxCost, w.MaxCost) <= options.MaxBatchTokens;
            void Add(Work w)
            {
                Interlocked.Decrement(ref depth);
                if (w.Cancel.IsCancellationRequested) { w.Done.TrySetCanceled(w.Cancel); return; }
                batch.Add(w); count += w.Items.Count; maxCost = Math.Max(maxCost, w.MaxCost);
            }
            if (carried is not null) { Add(carried); carried = null; }
            var deadline = DateTime.UtcNow + options.MaxWait;
            while (carried is null)
            {
                if (reader.TryRead(out var next))
                {
                    if (Fits(next)) Add(next); else carried = next;
                    continue;
                }
                if (batch.Count == 0) break; // everything taken so far was cancelled: start over
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero) break;
                using var timeout = new CancellationTokenSource(left);
                try { if (!await reader.WaitToReadAsync(timeout.Token)) break; }
                catch (OperationCanceledException) { break; }
            }
            if (batch.Count == 0) continue;
            try
            {
                var inputs = batch.SelectMany(w => w.Items).ToList();
                OnBatch?.Invoke(inputs.Count);
                var outputs = run(inputs);
                int at = 0;
                foreach (var w in batch)
                {
                    w.Done.TrySetResult(outputs.Skip(at).Take(w.Items.Count).ToList());
                    at += w.Items.Count;
                }
            }
            catch (Exception e)
            {
                // One bad input fails its batch; run each request alone so only its own request sees the error.
                if (batch.Count == 1) batch[0].Done.TrySetException(e);
                else
                    foreach (var w in batch)
                        try { w.Done.TrySetResult(run(w.Items)); }
                        catch (Exception e1) { w.Done.TrySetException(e1); }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        queue.Writer.TryComplete();
        await loop;
    }
}
