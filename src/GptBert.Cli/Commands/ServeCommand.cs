using System.CommandLine;
using GptBert.Pipelines;
using GptBert.Server;

namespace GptBert.Cli.Commands;

/// <summary>`gptbert serve`: the OpenAI-compatible HTTP server (src/GptBert.Server) over the configured models.</summary>
public static class ServeCommand
{
    public const string ApiKeyVariable = "GPTBERT_API_KEY";

    public static Command Create(CliContext ctx)
    {
        var command = new Command("serve", """
            Serve models over HTTP with OpenAI's API (/v1/models, /v1/embeddings, /v1/completions, /v1/chat/completions)
            plus /v1/classify, /v1/fill-mask, /v1/rerank, /tokenize, /detokenize, /health, /ready and /metrics
            (Prometheus). Every --model is loaded once at start and requests name it; requests can never name a path.
            Binds 127.0.0.1 unless --host says otherwise. One JSON line per request goes to stdout; SIGTERM or Ctrl+C stops
            accepting, lets requests in flight finish (up to --shutdown-timeout) and exits 0.
            """).WithSummary("OpenAI-compatible HTTP server (embeddings, completions, chat, classify, ...)")
            .WithExamples("""
                gptbert serve                                          # minilm on http://127.0.0.1:8080
                gptbert serve --model minilm --model gpt=./gpt2 --port 9000
                gptbert serve --model clf=runs/era --host 0.0.0.0 --api-key "$KEY"
                GPTBERT_API_KEY=secret gptbert serve --model minilm --max-concurrent-requests 8
                """);
        var models = new Option<string[]>("--model", "-m")
        {
            Description = "A model to serve as NAME=DIR (repeatable); DIR is a Hugging Face GPT-2/BERT directory or a built-in (minilm); a bare NAME|DIR is named after itself (default: minilm)",
            HelpName = "NAME=DIR",
        };
        var host = new Option<string>("--host") { Description = "Address to listen on (default: 127.0.0.1; 0.0.0.0 for every interface)", HelpName = "IP", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port (default: 8080; 0 picks a free one)", HelpName = "N", DefaultValueFactory = _ => 8080 };
        var apiKey = new Option<string?>("--api-key") { Description = $"Require 'Authorization: Bearer KEY' on every route but /health and /ready (default: ${ApiKeyVariable}, else none)", HelpName = "KEY" };
        var cors = new Option<string[]>("--cors") { Description = "Allow browser requests from this origin (repeatable; default: no CORS)", HelpName = "ORIGIN" };
        var batchTokens = new Option<int>("--max-batch-tokens") { Description = "Dynamic batching: padded tokens per batch at most (default: 16384)", HelpName = "N", DefaultValueFactory = _ => 16384 };
        var batchWait = new Option<double>("--max-batch-wait-ms") { Description = "Dynamic batching: how long the first request of a batch waits for others when the model is idle (default: 0: run at once; requests that arrive while a batch runs form the next one)", HelpName = "MS", DefaultValueFactory = _ => 0 };
        var noBatching = new Option<bool>("--no-batching") { Description = "Run every request on its own (for benchmarks)" };
        var concurrent = new Option<int>("--max-concurrent-requests") { Description = "Model requests running at once (default: 32)", HelpName = "N", DefaultValueFactory = _ => 32 };
        var queue = new Option<int>("--max-queue") { Description = "Requests waiting for a slot at most; more get 429 + Retry-After (default: 128)", HelpName = "N", DefaultValueFactory = _ => 128 };
        var body = new Option<long>("--max-body-bytes") { Description = "Request body limit in bytes; larger gets 413 (default: 4194304)", HelpName = "N", DefaultValueFactory = _ => 4L * 1024 * 1024 };
        var inputTokens = new Option<int>("--max-input-tokens") { Description = "Tokens one request may send in all (default: 65536)", HelpName = "N", DefaultValueFactory = _ => 65536 };
        var timeout = new Option<string>("--request-timeout") { Description = "Cancel a request running longer (default: 5m)", HelpName = "DURATION", DefaultValueFactory = _ => "5m" };
        var shutdown = new Option<string>("--shutdown-timeout") { Description = "On SIGTERM, how long requests in flight may take to finish (default: 30s)", HelpName = "DURATION", DefaultValueFactory = _ => "30s" };
        var genBatch = new Option<int>("--max-generation-batch") { Description = "Sequences decoded together per GPT model (default: 16)", HelpName = "N", DefaultValueFactory = _ => 16 };
        foreach (var o in new Option[] { models, host, port, apiKey, cors, batchTokens, batchWait, noBatching, concurrent, queue, body, inputTokens, timeout, shutdown, genBatch })
            command.Options.Add(o);
        var common = CommonOptions.AddTo(command, input: false, jsonl: false, noTruncate: false);
        command.SetAction(r =>
        {
            ServerOptions options;
            try { options = Options(r); }
            catch (GptBertException e) when (e is not UsageException) { throw new UsageException(e.Message); }
            common.ConfigureRuntime(r);
            return Serve(ctx, options);
        });
        return command;

        ServerOptions Options(ParseResult r)
        {
            var specs = (r.GetValue(models) is { Length: > 0 } given ? given : [ModelHub.MiniLm]).Select(ModelSpec.Parse).ToList();
            var options = new ServerOptions
            {
                Models = specs,
                Host = r.GetValue(host)!,
                Port = r.GetValue(port),
                ApiKey = r.GetValue(apiKey) ?? (Environment.GetEnvironmentVariable(ApiKeyVariable) is { Length: > 0 } k ? k : null),
                CorsOrigins = r.GetValue(cors) ?? [],
                MaxBatchTokens = r.GetValue(batchTokens),
                MaxBatchWait = TimeSpan.FromMilliseconds(r.GetValue(batchWait)),
                Batching = !r.GetValue(noBatching),
                MaxGenerationBatch = Check.AtLeast(r.GetValue(genBatch), 1, "--max-generation-batch"),
                MaxConcurrentRequests = r.GetValue(concurrent),
                MaxQueuedRequests = r.GetValue(queue),
                MaxRequestBodyBytes = r.GetValue(body),
                MaxInputTokens = r.GetValue(inputTokens),
                RequestTimeout = Duration(r.GetValue(timeout)!, "--request-timeout"),
                ShutdownTimeout = Duration(r.GetValue(shutdown)!, "--shutdown-timeout"),
                Device = common.DeviceName(r),
                Tokenizer = common.TokenizerName(r),
            };
            options.Validate();
            return options;
        }
    }

    static int Serve(CliContext ctx, ServerOptions options)
    {
        void Progress(string line) { ctx.Stderr.WriteLine($"gptbert serve: {line}"); ctx.Stderr.Flush(); }
        var server = GptBertServer.Create(options);
        try { server.RunAsync(Progress).GetAwaiter().GetResult(); }
        finally { server.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
        return ExitCodes.Ok;
    }

    static TimeSpan Duration(string text, string option) =>
        Durations.TryParse(text, out var value, out var error) ? value : throw new UsageException($"{option} '{text}' {error}");
}
