using Prometheus;

namespace GptBert.Server;

/// <summary>
/// The server's Prometheus metrics, in a registry of its own (two servers in one process, as in tests, count
/// separately). Served as Prometheus text at /metrics.
/// </summary>
public sealed class ServerMetrics
{
    public CollectorRegistry Registry { get; } = Metrics.NewCustomRegistry();

    public Counter Requests { get; }
    public Histogram RequestDuration { get; }
    public Gauge QueueDepth { get; }
    public Gauge Running { get; }
    public Histogram BatchSize { get; }
    public Counter PromptTokens { get; }
    public Counter GeneratedTokens { get; }
    public Histogram TimeToFirstToken { get; }
    public Histogram TimePerOutputToken { get; }

    public ServerMetrics()
    {
        var f = Metrics.WithCustomRegistry(Registry);
        string[] request = ["route", "model", "status"];
        Requests = f.CreateCounter("gptbert_requests_total", "HTTP requests answered, by route pattern, model and status (499: the client went away).",
            new CounterConfiguration { LabelNames = request });
        RequestDuration = f.CreateHistogram("gptbert_request_duration_seconds", "Time from a request's arrival to its last byte, by route, model and status.",
            new HistogramConfiguration { LabelNames = request, Buckets = Histogram.ExponentialBuckets(0.0005, 2, 18) });
        QueueDepth = f.CreateGauge("gptbert_queue_depth", "Requests waiting: 'requests' for a concurrency slot, 'MODEL/TASK' for a dynamic batch.",
            new GaugeConfiguration { LabelNames = ["queue"] });
        Running = f.CreateGauge("gptbert_requests_running", "Model requests holding a concurrency slot (running now).");
        BatchSize = f.CreateHistogram("gptbert_batch_size", "Inputs per forward pass formed by dynamic batching, by model and task.",
            new HistogramConfiguration { LabelNames = ["model", "task"], Buckets = Histogram.ExponentialBuckets(1, 2, 10) });
        PromptTokens = f.CreateCounter("gptbert_prompt_tokens_total", "Input tokens of served requests (prompts, texts to embed or classify), by model.",
            new CounterConfiguration { LabelNames = ["model"] });
        GeneratedTokens = f.CreateCounter("gptbert_generated_tokens_total", "Tokens generated, by model.",
            new CounterConfiguration { LabelNames = ["model"] });
        TimeToFirstToken = f.CreateHistogram("gptbert_time_to_first_token_seconds", "Time from a generation request's arrival to its first generated token, by model.",
            new HistogramConfiguration { LabelNames = ["model"], Buckets = Histogram.ExponentialBuckets(0.001, 2, 16) });
        TimePerOutputToken = f.CreateHistogram("gptbert_time_per_output_token_seconds", "Mean time between generated tokens after the first, one observation per sequence, by model.",
            new HistogramConfiguration { LabelNames = ["model"], Buckets = Histogram.ExponentialBuckets(0.0001, 2, 16) });
    }
}
