using System.Diagnostics;

namespace GptBert.Engine;

/// <summary>
/// A fork-join pool for kernels that take tens of microseconds, where waking a .NET thread-pool thread
/// would cost as much as the work: dedicated threads spin for a short while after each job (as OpenMP and
/// ONNX Runtime's pools do) and only then sleep.
/// <para>
/// Thread safety: any number of threads may call <see cref="Run"/> at once. Each call claims idle workers
/// (a compare-and-swap on each worker, so no worker ever holds two callers' jobs) and the caller and its
/// claimed workers take parts from a shared counter until none is left. A caller that finds no idle worker
/// runs every part itself instead of waiting, so independent callers never queue behind one another. Which
/// thread runs a part never changes what the part computes, so results do not depend on concurrency.
/// </para>
/// </summary>
public static class Workers
{
    /// <summary>How long an idle worker spins before it sleeps: long enough to bridge the other ops of a forward pass.</summary>
    static readonly long SpinTicks = Stopwatch.Frequency / 2000; // 0.5 ms

    static readonly object growGate = new();
    static volatile Worker[] pool = [];

    /// <summary>Workers started so far (they live for the rest of the process).</summary>
    public static int Count => pool.Length;

    /// <summary>
    /// Runs body(0..parts-1) in parallel and returns when all are done; exceptions are rethrown here.
    /// <paramref name="background"/>, when given, runs on one claimed worker after its parts are done and reported,
    /// while the caller goes on; it must return soon after the function it is given says a new job has arrived.
    /// </summary>
    public static void Run(int parts, Action<int> body, Action<Func<bool>>? background = null)
    {
        if (parts <= 1) { body(0); return; }
        var job = new Job(parts, body);
        var claimed = Claim(parts - 1);
        for (int i = 0; i < claimed.Count; i++) claimed[i].Start(job, i == 0 ? background : null);
        Exception? error = job.Drain();
        for (int i = 0; i < claimed.Count; i++) error ??= claimed[i].Join();
        if (error is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(error).Throw();
    }

    /// <summary>Claims up to <paramref name="wanted"/> idle workers, starting new ones while the pool is smaller than that.</summary>
    static List<Worker> Claim(int wanted)
    {
        var claimed = new List<Worker>(wanted);
        var workers = pool;
        if (workers.Length < wanted)
            lock (growGate)
            {
                workers = pool;
                if (workers.Length < wanted)
                {
                    var grown = new Worker[wanted];
                    workers.CopyTo(grown, 0);
                    for (int i = workers.Length; i < wanted; i++) grown[i] = new Worker(i + 1);
                    pool = workers = grown;
                }
            }
        foreach (var w in workers)
        {
            if (claimed.Count == wanted) break;
            if (w.TryClaim()) claimed.Add(w);
        }
        return claimed;
    }

    /// <summary>One Run call: the parts left to take, shared by the caller and the workers it claimed.</summary>
    sealed class Job(int parts, Action<int> body)
    {
        int next;

        /// <summary>Takes and runs parts until none is left; the first exception is returned (the other parts still run).</summary>
        public Exception? Drain()
        {
            Exception? error = null;
            int p;
            while ((p = Interlocked.Increment(ref next) - 1) < parts)
            {
                try { body(p); }
                catch (Exception e) { error ??= e; }
            }
            return error;
        }
    }

    sealed class Worker
    {
        readonly SemaphoreSlim wake = new(0);
        int busy; // 1 while a caller owns this worker (claimed until Join)
        Job? job;
        Action<Func<bool>>? after;
        volatile bool done = true;
        int sleeping;
        Exception? error;

        public Worker(int index) => new Thread(Loop) { IsBackground = true, Name = $"gptbert-worker-{index}" }.Start();

        public bool TryClaim() => Interlocked.CompareExchange(ref busy, 1, 0) == 0;

        public void Start(Job work, Action<Func<bool>>? background)
        {
            error = null;
            done = false;
            after = background;
            Interlocked.Exchange(ref job, work); // full fences on both sides: no lost wake-up
            if (Volatile.Read(ref sleeping) == 1) wake.Release();
        }

        /// <summary>Waits for this worker's share of the job, then releases it to other callers.</summary>
        public Exception? Join()
        {
            var spin = new SpinWait();
            while (!done) spin.SpinOnce(sleep1Threshold: -1);
            var e = error;
            // The background hint may still run; it stops as soon as the next job arrives, whoever sends it.
            Volatile.Write(ref busy, 0);
            return e;
        }

        void Loop()
        {
            while (true)
            {
                long idleSince = Stopwatch.GetTimestamp();
                Job? work;
                while ((work = Volatile.Read(ref job)) is null)
                {
                    if (Stopwatch.GetTimestamp() - idleSince < SpinTicks) { Thread.SpinWait(20); continue; }
                    Interlocked.Exchange(ref sleeping, 1);
                    if (Volatile.Read(ref job) is null) wake.Wait();
                    Interlocked.Exchange(ref sleeping, 0);
                    idleSince = Stopwatch.GetTimestamp();
                }
                Volatile.Write(ref job, null);
                var background = after;
                error = work.Drain();
                done = true;
                if (background is not null)
                    try { background(() => Volatile.Read(ref job) is not null); }
                    catch (Exception) { /* a hint that failed changes nothing */ }
            }
        }
    }
}
