using System.Diagnostics;

namespace GptBert.Engine;

/// <summary>
/// A fork-join pool for kernels that take tens of microseconds, where waking a .NET thread-pool thread
/// would cost as much as the work: dedicated threads spin for a short while after each job (as OpenMP and
/// ONNX Runtime's pools do) and only then sleep. The calling thread always does part 0 itself.
/// </summary>
public static class Workers
{
    /// <summary>How long an idle worker spins before it sleeps: long enough to bridge the other ops of a forward pass.</summary>
    static readonly long SpinTicks = Stopwatch.Frequency / 2000; // 0.5 ms

    static readonly object gate = new();
    static Worker[] pool = [];

    /// <summary>
    /// Runs body(0..parts-1) in parallel and returns when all are done; exceptions are rethrown here.
    /// <paramref name="background"/>, when given, runs on the first worker after its part is done and reported, while
    /// the caller goes on; it must return soon after the function it is given says a new job has arrived.
    /// </summary>
    public static void Run(int parts, Action<int> body, Action<Func<bool>>? background = null)
    {
        if (parts <= 1) { body(0); return; }
        Worker[] workers;
        lock (gate)
        {
            if (pool.Length < parts - 1)
            {
                var grown = new Worker[parts - 1];
                pool.CopyTo(grown, 0);
                for (int i = pool.Length; i < grown.Length; i++) grown[i] = new Worker(i + 1);
                pool = grown;
            }
            workers = pool;
        }
        // One caller at a time: the workers hold one job each.
        lock (workers)
        {
            for (int i = 0; i < parts - 1; i++) workers[i].Start(body, i == 0 ? background : null);
            Exception? error = null;
            try { body(0); }
            catch (Exception e) { error = e; }
            for (int i = 0; i < parts - 1; i++) error ??= workers[i].Join();
            if (error is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(error).Throw();
        }
    }

    sealed class Worker
    {
        readonly int part;
        readonly SemaphoreSlim wake = new(0);
        Action<int>? job;
        volatile bool done = true;
        int sleeping;
        Exception? error;

        public Worker(int part)
        {
            this.part = part;
            new Thread(Loop) { IsBackground = true, Name = $"gptbert-worker-{part}" }.Start();
        }

        Action<Func<bool>>? after;

        public void Start(Action<int> body, Action<Func<bool>>? background)
        {
            error = null;
            done = false;
            after = background;
            Interlocked.Exchange(ref job, body); // full fences on both sides: no lost wake-up
            if (Volatile.Read(ref sleeping) == 1) wake.Release();
        }

        public Exception? Join()
        {
            var spin = new SpinWait();
            while (!done) spin.SpinOnce(sleep1Threshold: -1);
            return error;
        }

        void Loop()
        {
            while (true)
            {
                long idleSince = Stopwatch.GetTimestamp();
                Action<int>? body;
                while ((body = Volatile.Read(ref job)) is null)
                {
                    if (Stopwatch.GetTimestamp() - idleSince < SpinTicks) { Thread.SpinWait(20); continue; }
                    Interlocked.Exchange(ref sleeping, 1);
                    if (Volatile.Read(ref job) is null) wake.Wait();
                    Interlocked.Exchange(ref sleeping, 0);
                    idleSince = Stopwatch.GetTimestamp();
                }
                Volatile.Write(ref job, null);
                var background = after;
                try { body(part); }
                catch (Exception e) { error = e; }
                done = true;
                if (background is not null)
                    try { background(() => Volatile.Read(ref job) is not null); }
                    catch (Exception) { /* a hint that failed changes nothing */ }
            }
        }
    }
}
