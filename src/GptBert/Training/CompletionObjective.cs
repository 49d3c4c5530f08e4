using System.Text.Json;
using GptBert.Models;
using GptBert.Pipelines;
using GptBert.Tokenizers;
using static TorchSharp.torch;

namespace GptBert.Training;

/// <summary>One supervised example for a causal LM: token ids, and which of them the loss trains on.</summary>
public sealed record CompletionExample(int[] Ids, bool[] Trained);

/// <summary>
/// Supervised fine-tuning data for a GPT: JSON Lines of {"prompt": .., "completion": ..} (OpenAI's legacy fine-tuning
/// format; translation, summarization and generative QA as "source → target") or {"messages": [{"role", "content"}..]}
/// (chat, rendered through the model's chat template). The loss covers only the completion (and the end-of-text token
/// after it) or only the assistant turns, as TRL's completion-only training and transformers' assistant-token masks do.
/// </summary>
public static class CompletionData
{
    /// <summary>True when the file's first JSON line has "messages", or "prompt" and "completion".</summary>
    public static bool IsCompletionFile(string path)
    {
        if (!path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) && !path.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) return false;
        foreach (var line in File.ReadLines(path))
        {
            if (line.Trim().Length == 0) continue;
            try
            {
                var j = JsonDocument.Parse(line).RootElement;
                return j.ValueKind == JsonValueKind.Object && (j.TryGetProperty("messages", out _) || j.TryGetProperty("prompt", out _) && j.TryGetProperty("completion", out _));
            }
            catch (JsonException) { return false; }
        }
        return false;
    }

    /// <summary>
    /// Reads and tokenizes a completion or chat file, truncated to <paramref name="maxLength"/> tokens (the end is cut,
    /// as transformers truncates). Rows that cannot be used (bad JSON, missing fields, nothing left to train on) are
    /// skipped and counted in <paramref name="warn"/>; more than 5% of them fail the file.
    /// </summary>
    public static List<CompletionExample> Load(string path, ITextTokenizer tokenizer, ChatTemplate template, int maxLength, Action<string>? warn = null)
    {
        var examples = new List<CompletionExample>();
        var bad = new List<(int Line, string Why)>();
        int line = 0, rows = 0;
        foreach (var text in File.ReadLines(path))
        {
            line++;
            if (text.Trim().Length == 0) continue;
            rows++;
            try
            {
                var j = JsonDocument.Parse(text).RootElement;
                CompletionExample ex;
                if (j.ValueKind == JsonValueKind.Object && j.TryGetProperty("messages", out var m)) ex = Chat(tokenizer, template, Messages(m));
                else if (j.ValueKind == JsonValueKind.Object && j.TryGetProperty("prompt", out var p) && j.TryGetProperty("completion", out var c)
                         && p.ValueKind == JsonValueKind.String && c.ValueKind == JsonValueKind.String)
                    ex = Completion(tokenizer, p.GetString()!, c.GetString()!);
                else throw new FormatException("needs \"messages\", or \"prompt\" and \"completion\" strings");
                if (ex.Ids.Length > maxLength) ex = new CompletionExample(ex.Ids[..maxLength], ex.Trained[..maxLength]);
                if (!ex.Trained.Skip(1).Any(t => t)) throw new FormatException($"nothing to train on within {maxLength} tokens");
                examples.Add(ex);
            }
            catch (Exception e) when (e is JsonException or FormatException or GptBertException)
            {
                bad.Add((line, e.Message.Split('\n')[0]));
            }
        }
        if (rows == 0) throw new GptBertException($"{path} has no examples") { Parameter = "Train" };
        if (bad.Count > 0)
        {
            string first = string.Join("; ", bad.Take(3).Select(b => $"line {b.Line}: {b.Why}"));
            if (bad.Count > rows * 0.05)
                throw new GptBertException($"{path}: {bad.Count} of {rows} rows cannot be used ({first}); is this a prompt/completion or messages file?") { Parameter = "Train" };
            warn?.Invoke($"warning: {path}: skipped {bad.Count} of {rows} rows ({first})");
        }
        return examples;
    }

    static List<ChatTurn> Messages(JsonElement m)
    {
        if (m.ValueKind != JsonValueKind.Array || m.GetArrayLength() == 0) throw new FormatException("\"messages\" must be a non-empty array");
        return m.EnumerateArray().Select(e =>
            e.ValueKind == JsonValueKind.Object && e.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String
                && e.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String
                ? new ChatTurn(r.GetString()!, c.GetString()!)
                : throw new FormatException("each message needs \"role\" and \"content\" strings")).ToList();
    }

    /// <summary>Prompt tokens (not trained), completion tokens and the end-of-text token (trained).</summary>
    public static CompletionExample Completion(ITextTokenizer tokenizer, string prompt, string completion)
    {
        var p = tokenizer.Encode(prompt, addSpecialTokens: false).Ids;
        var c = tokenizer.Encode(completion, addSpecialTokens: false).Ids;
        int? eos = tokenizer.EosId;
        int[] ids = [.. p, .. c, .. eos is int e ? new[] { e } : []];
        var trained = new bool[ids.Length];
        for (int i = p.Length; i < ids.Length; i++) trained[i] = true;
        return new CompletionExample(ids, trained);
    }

    /// <summary>
    /// A generative question-answering example of at most <paramref name="maxLength"/> tokens: the prompt of
    /// <see cref="GenerativeAnswerer.Prompt"/> (not trained), the answer and the end-of-text token (trained). When it is too
    /// long, tokens are dropped from the start of the prompt, as the generator drops them from a prompt that does not fit.
    /// With <paramref name="answerRoom"/> the prompt keeps at most maxLength − answerRoom tokens whatever this answer's length
    /// (<see cref="GenerativeAnswerer"/> does the same, knowing no answer): a cut that depended on the answer would tell the
    /// model the answer's length, which it cannot be told when answering.
    /// </summary>
    public static CompletionExample QuestionAnswering(ITextTokenizer tokenizer, QaExample example, int maxLength, int answerRoom = 0)
    {
        var prompt = tokenizer.Encode(GenerativeAnswerer.Prompt(example.Question, example.Context), addSpecialTokens: false).Ids;
        var answer = tokenizer.Encode(GenerativeAnswerer.Completion(example), addSpecialTokens: false).Ids;
        int[] completion = [.. answer, .. tokenizer.EosId is int e ? new[] { e } : []];
        if (completion.Length >= maxLength) completion = completion[..(maxLength - 1)];
        int keep = Math.Min(prompt.Length, maxLength - Math.Max(completion.Length, Math.Min(answerRoom, maxLength - 1)));
        int[] ids = [.. prompt[(prompt.Length - keep)..], .. completion];
        var trained = new bool[ids.Length];
        for (int i = keep; i < ids.Length; i++) trained[i] = true;
        return new CompletionExample(ids, trained);
    }

    /// <summary>
    /// The room generative QA keeps for answers: the longest answer + end-of-text of <paramref name="examples"/> in tokens,
    /// at most half of <paramref name="maxLength"/> (a longer answer keeps its own room).
    /// </summary>
    public static int AnswerRoom(ITextTokenizer tokenizer, IEnumerable<QaExample> examples, int maxLength) =>
        Math.Min(maxLength / 2, examples.Select(e => tokenizer.Encode(GenerativeAnswerer.Completion(e), addSpecialTokens: false).Ids.Length + 1).DefaultIfEmpty(1).Max());

    /// <summary>
    /// A conversation through the chat template, the assistant turns trained: each assistant message is the text between
    /// the rendering of the turns before it (with the generation prompt) and the rendering that includes it. The pieces
    /// are tokenized separately so the mask falls exactly on token boundaries.
    /// </summary>
    public static CompletionExample Chat(ITextTokenizer tokenizer, ChatTemplate template, IReadOnlyList<ChatTurn> messages)
    {
        if (!messages.Any(m => m.Role == "assistant")) throw new FormatException("the conversation has no assistant turn to train on");
        string full = template.Render(messages, addGenerationPrompt: false);
        var cuts = new List<(int Start, int End)>();
        for (int k = 0; k < messages.Count; k++)
        {
            if (messages[k].Role != "assistant") continue;
            string before = template.Render(messages.Take(k).ToList(), addGenerationPrompt: true);
            string with = template.Render(messages.Take(k + 1).ToList(), addGenerationPrompt: false);
            if (!with.StartsWith(before, StringComparison.Ordinal) || !full.StartsWith(with, StringComparison.Ordinal))
                throw new GptBertException("the chat template does not render conversations as growing prefixes, so the assistant turns cannot be located for training");
            cuts.Add((before.Length, with.Length));
        }
        var ids = new List<int>();
        var trained = new List<bool>();
        void Piece(int start, int end, bool train)
        {
            if (end <= start) return;
            var piece = tokenizer.Encode(full[start..end], addSpecialTokens: false).Ids;
            ids.AddRange(piece);
            trained.AddRange(Enumerable.Repeat(train, piece.Length));
        }
        int at = 0;
        foreach (var (s, e) in cuts)
        {
            Piece(at, s, false);
            Piece(s, e, true);
            at = e;
        }
        Piece(at, full.Length, false);
        return new CompletionExample([.. ids], [.. trained]);
    }
}

/// <summary>
/// Supervised fine-tuning of a GPT on <see cref="CompletionExample"/>s: next-token cross-entropy over the trained
/// positions only (labels −100 elsewhere, as transformers ignores them), examples right-padded per batch.
/// Validation: the same masked loss and its perplexity.
/// </summary>
public sealed class CompletionObjective : ITrainingObjective
{
    readonly GPT2LMHeadModel model;
    readonly IReadOnlyList<CompletionExample> train, validation;
    readonly EpochOrder order;
    readonly Device device;
    readonly long padId;
    public int EvalBatchSize { get; init; } = 8;
    public int MaxEvalExamples { get; init; } = 256;

    public CompletionObjective(GPT2LMHeadModel model, IReadOnlyList<CompletionExample> train, IReadOnlyList<CompletionExample> validation, long seed, Device device, int padId)
    {
        if (train.Count == 0) throw new GptBertException("no training examples") { Parameter = "Train" };
        int max = model.transformer.Cfg.NPositions;
        if (train.Concat(validation).FirstOrDefault(e => e.Ids.Length > max) is { } tooLong)
            throw new GptBertException($"an example has {tooLong.Ids.Length} tokens; the model takes {max}; lower MaxLength") { Parameter = "MaxLength" };
        this.model = model; this.train = train; this.validation = validation; this.device = device; this.padId = padId;
        order = new EpochOrder(train.Count, seed);
    }

    public PretrainedModel Model => model;
    public long ExamplesPerEpoch => train.Count;
    public string SelectionMetric => "loss";
    public bool HigherIsBetter => false;

    public TrainBatch GetBatch(long cursor, int batchSize, Random rng) =>
        Batch(Enumerable.Range(0, batchSize).Select(b => train[(int)order[cursor + b]]).ToList());

    /// <summary>Right-padded inputs; labels are the inputs where trained and −100 elsewhere (the loss shifts them).</summary>
    internal TrainBatch Batch(IReadOnlyList<CompletionExample> examples)
    {
        int B = examples.Count, T = examples.Max(e => e.Ids.Length);
        var ids = new long[B * T];
        var mask = new long[B * T];
        var labels = new long[B * T];
        Array.Fill(ids, padId);
        Array.Fill(labels, -100L);
        long tokens = 0;
        for (int b = 0; b < B; b++)
        {
            var e = examples[b];
            for (int t = 0; t < e.Ids.Length; t++)
            {
                ids[b * T + t] = e.Ids[t];
                mask[b * T + t] = 1;
                if (e.Trained[t]) labels[b * T + t] = e.Ids[t];
            }
            tokens += e.Ids.Length;
        }
        return new TrainBatch
        {
            InputIds = tensor(ids, [B, T], device: device),
            AttentionMask = tensor(mask, [B, T], device: device),
            Labels = tensor(labels, [B, T], device: device),
            Tokens = tokens,
        };
    }

    public Tensor Loss(TrainBatch batch)
    {
        var logits = model.Forward(batch.InputIds, batch.AttentionMask); // (B, T, V)
        long V = logits.shape[^1];
        // Position t predicts token t + 1.
        var shifted = logits[.., ..^1].reshape(-1, V);
        var targets = batch.Labels[.., 1..].reshape(-1);
        return nn.functional.cross_entropy(shifted, targets, ignore_index: -100);
    }

    public IReadOnlyDictionary<string, double>? Evaluate()
    {
        if (validation.Count == 0) return null;
        var examples = validation.Take(MaxEvalExamples).ToList();
        double sum = 0; long count = 0;
        bool wasTraining = model.training;
        model.eval();
        using (no_grad())
            for (int start = 0; start < examples.Count; start += EvalBatchSize)
            {
                using var scope = NewDisposeScope();
                var part = examples.Skip(start).Take(EvalBatchSize).ToList();
                using var batch = Batch(part);
                // Weighted by trained tokens, so the mean is per token, not per batch.
                long n = part.Sum(e => e.Trained.Skip(1).Count(t => t));
                sum += Loss(batch).item<float>() * n; count += n;
            }
        model.train(wasTraining);
        double loss = sum / Math.Max(count, 1);
        return new Dictionary<string, double> { ["loss"] = loss, ["perplexity"] = Math.Exp(loss) };
    }
}
