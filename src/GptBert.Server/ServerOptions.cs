namespace GptBert.Server;

/// <summary>One model to serve: the name requests use and the built-in name or Hugging Face directory it loads from.</summary>
public sealed record ModelSpec(string Name, string Source)
{
    /// <summary>"NAME=DIR", or a bare "minilm"/"DIR" (named after the built-in, or the directory's last folder).</summary>
    public static ModelSpec Parse(string text)
    {
        int eq = text.IndexOf('=');
        if (eq > 0) return Validate(new ModelSpec(text[..eq].Trim(), text[(eq + 1)..].Trim()), text);
        if (eq == 0) throw new GptBertException($"--model '{text}': the name before '=' is empty; write NAME=DIR");
        var source = text.Trim();
        var name = Pipelines.ModelHub.IsBuiltIn(source) ? source.ToLowerInvariant()
            : Path.GetFileName(Path.TrimEndingDirectorySeparator(source));
        return Validate(new ModelSpec(name, source), text);
    }

    static ModelSpec Validate(ModelSpec s, string text)
    {
        if (s.Name.Length == 0 || s.Source.Length == 0)
            throw new GptBertException($"--model '{text}': write NAME=DIR (or a built-in name such as minilm)");
        if (s.Name.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
            throw new GptBertException($"--model '{text}': the model name must not contain spaces");
        return s;
    }
}

/// <summary>Everything `gptbert serve` is configured with (its flags, one property each).</summary>
public sealed record ServerOptions
{
    public IReadOnlyList<ModelSpec> Models { get; init; } = [new("minilm", "minilm")];
    /// <summary>Address to bind; loopback unless the operator says otherwise.</summary>
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>0 picks a free port (tests); read it back from <see cref="GptBertServer.BaseAddress"/>.</summary>
    public int Port { get; init; } = 8080;
    /// <summary>When set, every route but /health and /ready needs "Authorization: Bearer KEY".</summary>
    public string? ApiKey { get; init; }
    /// <summary>Origins allowed by CORS; empty: no CORS headers at all.</summary>
    public IReadOnlyList<string> CorsOrigins { get; init; } = [];

    public int MaxBatchTokens { get; init; } = 16384;
    /// <summary>How long an idle model waits for more requests to join a batch; 0 (TEI's way): run at once, and whatever arrives while it runs forms the next batch.</summary>
    public TimeSpan MaxBatchWait { get; init; } = TimeSpan.Zero;
    public bool Batching { get; init; } = true;
    /// <summary>Sequences decoded together by one model's generation scheduler.</summary>
    public int MaxGenerationBatch { get; init; } = 16;

    /// <summary>Model requests running at once; more wait in a queue of <see cref="MaxQueuedRequests"/>, past which 429.</summary>
    public int MaxConcurrentRequests { get; init; } = 32;
    public int MaxQueuedRequests { get; init; } = 128;
    /// <summary>Request body limit in bytes (413 past it).</summary>
    public long MaxRequestBodyBytes { get; init; } = 4 * 1024 * 1024;
    /// <summary>Tokens one request may send in all its inputs together (400 past it).</summary>
    public int MaxInputTokens { get; init; } = 65536;
    /// <summary>A request running longer is cancelled (504, or the stream ends).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMinutes(5);
    /// <summary>How long SIGTERM waits for requests in flight before closing them.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public string Device { get; init; } = "cpu";
    /// <summary>Tokenizer override for every model (built-in name or directory); null: each model's own.</summary>
    public string? Tokenizer { get; init; }

    /// <summary>Where the one-JSON-line-per-request log goes (stdout when null).</summary>
    public TextWriter? RequestLog { get; init; }

    public void Validate()
    {
        if (Models.Count == 0) throw new GptBertException("give at least one --model NAME=DIR (or --model minilm)");
        var dup = Models.GroupBy(m => m.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new GptBertException($"two models are named '{dup.Key}'; give each --model a distinct NAME=");
        if (Port is < 0 or > 65535) throw new GptBertException($"--port must be 0-65535 (got {Port})");
        if (MaxBatchTokens < 1) throw new GptBertException($"--max-batch-tokens must be at least 1 (got {MaxBatchTokens})");
        if (MaxBatchWait < TimeSpan.Zero) throw new GptBertException("--max-batch-wait-ms must be ≥ 0");
        if (MaxConcurrentRequests < 1) throw new GptBertException($"--max-concurrent-requests must be at least 1 (got {MaxConcurrentRequests})");
        if (MaxQueuedRequests < 0) throw new GptBertException($"--max-queue must be ≥ 0 (got {MaxQueuedRequests})");
        if (MaxRequestBodyBytes < 1) throw new GptBertException($"--max-body-bytes must be at least 1 (got {MaxRequestBodyBytes})");
        if (MaxInputTokens < 1) throw new GptBertException($"--max-input-tokens must be at least 1 (got {MaxInputTokens})");
        if (ApiKey is { Length: 0 }) throw new GptBertException("--api-key is empty");
    }
}
