using System.Text.Json;
using GptBert.Models;
using GptBert.Tokenizers;
using static TorchSharp.torch;

namespace GptBert.Training;

/// <summary>One source/target pair as token ids: the source with the encoder tokenizer's special tokens, the target ending in the decoder's end-of-text.</summary>
public sealed record Seq2SeqExample(int[] Source, int[] Target);

/// <summary>
/// Source/target pairs for an encoder-decoder, from the JSON Lines files the repository ships for translation and
/// summarization: each line's {"source", "target"} (data/translation), else {"document", "summary"} (data/summarization),
/// else {"prompt", "completion"} (the prompt is the source as written). The bare fields come first because an encoder reads
/// the source as it is; a GPT needs the prompt template, an encoder-decoder does not.
/// </summary>
public static class Seq2SeqData
{
    static readonly (string Source, string Target)[] Fields = [("source", "target"), ("document", "summary"), ("prompt", "completion")];

    /// <summary>The (source, target) strings of one JSON line, by <see cref="Fields"/> in order; null when none is there.</summary>
    public static (string Source, string Target)? Pair(JsonElement o)
    {
        if (o.ValueKind != JsonValueKind.Object) return null;
        foreach (var (s, t) in Fields)
            if (o.TryGetProperty(s, out var sv) && sv.ValueKind == JsonValueKind.String && o.TryGetProperty(t, out var tv) && tv.ValueKind == JsonValueKind.String)
                return (sv.GetString()!, tv.GetString()!);
        return null;
    }

    /// <summary>
    /// Tokenizes a pair: the source with the encoder tokenizer's special tokens, at most <paramref name="maxSource"/> tokens;
    /// the target (trimmed) without special tokens, cut to leave room for the end-of-text token that closes it.
    /// </summary>
    public static Seq2SeqExample Encode(ITextTokenizer source, ITextTokenizer target, string src, string tgt, int maxSource, int maxTarget)
    {
        var s = source.Encode(src, addSpecialTokens: true, maxLength: maxSource).Ids;
        var t = target.Encode(tgt.Trim(), addSpecialTokens: false).Ids;
        int? eos = target.EosId;
        int room = maxTarget - (eos is null ? 0 : 1);
        if (t.Length > room) t = t[..room];
        return new Seq2SeqExample(s, [.. t, .. eos is int e ? new[] { e } : []]);
    }

    /// <summary>Reads a pairs file; unusable rows are skipped with a warning, more than 5% of them fail the file.</summary>
    public static List<Seq2SeqExample> Load(string path, ITextTokenizer source, ITextTokenizer target, int maxSource, int maxTarget, Action<string>? warn = null)
    {
        if (!File.Exists(path)) throw new GptBertException($"{path} not found; give a JSON Lines file of {{\"source\", \"target\"}} pairs") { Parameter = "Train" };
        var examples = new List<Seq2SeqExample>();
        var bad = new List<(int Line, string Why)>();
        int line = 0, rows = 0;
        foreach (var text in File.ReadLines(path))
        {
            line++;
            if (text.Trim().Length == 0) continue;
            rows++;
            try
            {
                var pair = Pair(JsonDocument.Parse(text).RootElement)
                    ?? throw new FormatException("needs \"source\" and \"target\" (or \"document\" and \"summary\", or \"prompt\" and \"completion\") strings");
                if (pair.Source.Trim().Length == 0 || pair.Target.Trim().Length == 0) throw new FormatException("empty source or target");
                examples.Add(Encode(source, target, pair.Source, pair.Target, maxSource, maxTarget));
            }
            catch (Exception e) when (e is JsonException or FormatException)
            {
                bad.Add((line, e.Message.Split('\n')[0]));
            }
        }
        if (rows == 0) throw new GptBertException($"{path} has no pairs") { Parameter = "Train" };
        if (bad.Count > 0)
        {
            string first = string.Join("; ", bad.Take(3).Select(b => $"line {b.Line}: {b.Why}"));
            if (bad.Count > rows * 0.05)
                throw new GptBertException($"{path}: {bad.Count} of {rows} rows cannot be used ({first}); is this a source/target pairs file?") { Parameter = "Train" };
            warn?.Invoke($"warning: {path}: skipped {bad.Count} of {rows} rows ({first})");
        }
        return examples;
    }
}

/// <summary>
/// Sequence-to-sequence training of an <see cref="EncoderDecoderModel"/> as transformers' EncoderDecoderModel.forward(labels)
/// does it: the labels are the target ids (right-padded with −100), the decoder inputs are the labels shifted right behind
/// decoder_start_token_id (shift_tokens_right, teacher forcing), and the loss is the cross-entropy of every target token,
/// the end-of-text included. Sources are right-padded with the encoder's pad id under an attention mask, which also masks
/// the cross-attention. Validation: the same loss per target token and its perplexity.
/// </summary>
public sealed class Seq2SeqObjective : ITrainingObjective
{
    readonly EncoderDecoderModel model;
    readonly IReadOnlyList<Seq2SeqExample> train, validation;
    readonly EpochOrder order;
    readonly Device device;
    readonly long sourcePad;
    public int EvalBatchSize { get; init; } = 16;
    public int MaxEvalExamples { get; init; } = 512;

    public Seq2SeqObjective(EncoderDecoderModel model, IReadOnlyList<Seq2SeqExample> train, IReadOnlyList<Seq2SeqExample> validation, long seed, Device device, int sourcePadId)
    {
        if (train.Count == 0) throw new GptBertException("no training pairs") { Parameter = "Train" };
        int maxTarget = model.Cfg.Decoder.NPositions, maxSource = model.Cfg.Encoder.MaxPositionEmbeddings;
        if (train.Concat(validation).FirstOrDefault(e => e.Target.Length > maxTarget || e.Source.Length > maxSource) is { } tooLong)
            throw new GptBertException($"a pair has {tooLong.Source.Length} source / {tooLong.Target.Length} target tokens; the model takes {maxSource} / {maxTarget}; lower MaxLength") { Parameter = "MaxLength" };
        if (train.Any(e => e.Target.Length == 0)) throw new GptBertException("a pair has an empty target") { Parameter = "Train" };
        this.model = model; this.train = train; this.validation = validation; this.device = device; sourcePad = sourcePadId;
        order = new EpochOrder(train.Count, seed);
    }

    public PretrainedModel Model => model;
    public long ExamplesPerEpoch => train.Count;
    public string SelectionMetric => "loss";
    public bool HigherIsBetter => false;

    public TrainBatch GetBatch(long cursor, int batchSize, Random rng) =>
        Batch(Enumerable.Range(0, batchSize).Select(b => train[(int)order[cursor + b]]).ToList());

    /// <summary>Right-padded sources (B, S) with their mask; labels (B, T): the targets, −100 past each one's end.</summary>
    internal TrainBatch Batch(IReadOnlyList<Seq2SeqExample> examples)
    {
        int B = examples.Count, S = examples.Max(e => e.Source.Length), T = examples.Max(e => e.Target.Length);
        var ids = new long[B * S];
        var mask = new long[B * S];
        var labels = new long[B * T];
        Array.Fill(ids, sourcePad);
        Array.Fill(labels, -100L);
        long tokens = 0;
        for (int b = 0; b < B; b++)
        {
            var e = examples[b];
            for (int s = 0; s < e.Source.Length; s++) { ids[b * S + s] = e.Source[s]; mask[b * S + s] = 1; }
            for (int t = 0; t < e.Target.Length; t++) labels[b * T + t] = e.Target[t];
            tokens += e.Source.Length + e.Target.Length;
        }
        return new TrainBatch
        {
            InputIds = tensor(ids, [B, S], device: device),
            AttentionMask = tensor(mask, [B, S], device: device),
            Labels = tensor(labels, [B, T], device: device),
            Tokens = tokens,
        };
    }

    public Tensor Loss(TrainBatch batch) => model.LabelsLoss(batch.InputIds, batch.AttentionMask, batch.Labels);

    public IReadOnlyDictionary<string, double>? Evaluate()
    {
        if (validation.Count == 0) return null;
        var examples = validation.Take(MaxEvalExamples).ToList();
        bool wasTraining = model.training;
        double sum = 0; long count = 0;
        model.eval();
        using (no_grad())
            for (int start = 0; start < examples.Count; start += EvalBatchSize)
            {
                using var scope = NewDisposeScope();
                var part = examples.Skip(start).Take(EvalBatchSize).ToList();
                using var batch = Batch(part);
                long n = part.Sum(e => e.Target.Length); // the loss is a mean over target tokens: weight it back
                sum += Loss(batch).item<float>() * n; count += n;
            }
        model.train(wasTraining);
        double loss = sum / Math.Max(count, 1);
        return new Dictionary<string, double> { ["loss"] = loss, ["perplexity"] = Math.Exp(loss) };
    }
}
