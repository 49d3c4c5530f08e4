using GptBert.Checkpoints;
using GptBert.Models;
using GptBert.Pipelines;
using GptBert.Tokenizers;
using static TorchSharp.torch;

namespace GptBert.Training;

/// <summary>A pre-tokenized sentence with each word's label already mapped to the model's id.</summary>
public sealed record TokenClassificationExample(IReadOnlyList<string> Words, int[] Labels);

/// <summary>
/// Token classification (NER) for both families, as transformers' run_ner.py trains it: each word's label on its first
/// sub-token, the other sub-tokens and special tokens ignored (-100), cross-entropy over the labelled positions.
/// Validation reports the loss and the token accuracy over labelled positions (first sub-tokens), which picks the best
/// checkpoint.
/// </summary>
public sealed class TokenClassificationObjective : ITrainingObjective
{
    readonly PretrainedModel model;
    readonly ITextTokenizer tokenizer;
    readonly (WordEncoding Encoding, long[] Labels)[] train, validation;
    readonly int[] validationWords;
    readonly EpochOrder order;
    readonly Device device;
    public IReadOnlyList<string> Labels { get; }
    public int MaxLength { get; }
    public int EvalBatchSize { get; init; } = 32;

    public TokenClassificationObjective(PretrainedModel model, ITextTokenizer tokenizer, IReadOnlyList<TokenClassificationExample> train,
        IReadOnlyList<TokenClassificationExample> validation, IReadOnlyList<string> labels, int maxLength, long seed, Device device)
    {
        if (model is not (BertForTokenClassification or GPT2ForTokenClassification))
            throw new GptBertException($"token classification needs BertForTokenClassification or GPT2ForTokenClassification, not {model.Architecture}");
        if (train.Count == 0) throw new GptBertException("no training sentences");
        if (maxLength > model.Config.MaxPositions)
            throw new GptBertException($"MaxLength {maxLength} exceeds the model's {model.Config.MaxPositions} positions") { Parameter = "MaxLength" };
        this.model = model; this.tokenizer = tokenizer; this.device = device;
        Labels = labels;
        MaxLength = maxLength;
        this.train = train.Select(Encode).ToArray();
        this.validation = validation.Select(Encode).ToArray();
        validationWords = validation.Select(e => e.Words.Count).ToArray();
        order = new EpochOrder(train.Count, seed);
    }

    (WordEncoding, long[]) Encode(TokenClassificationExample e)
    {
        var enc = TokenClassifier.EncodeWords(tokenizer, e.Words, MaxLength);
        return (enc, TokenClassifier.AlignLabels(enc, e.Labels));
    }

    public PretrainedModel Model => model;
    public long ExamplesPerEpoch => train.Length;
    public string SelectionMetric => "accuracy";
    public bool HigherIsBetter => true;

    public TrainBatch GetBatch(long cursor, int batchSize, Random rng) =>
        Collate(Enumerable.Range(0, batchSize).Select(b => train[order[cursor + b]]).ToList());

    TrainBatch Collate(IReadOnlyList<(WordEncoding Encoding, long[] Labels)> rows)
    {
        var (ids, mask, types, real) = Batching.ToTensors(rows.Select(r => r.Encoding.Encoding).ToList(), tokenizer.PadId ?? tokenizer.EosId ?? 0, device);
        int B = rows.Count, T = rows.Max(r => r.Labels.Length);
        var labels = new long[B * T];
        Array.Fill(labels, TokenClassifier.IgnoreIndex); // padding is ignored like special tokens
        for (int b = 0; b < B; b++) rows[b].Labels.CopyTo(labels, b * T);
        return new TrainBatch { InputIds = ids, AttentionMask = mask, TokenTypeIds = types, Labels = tensor(labels, [B, T], device: device), Tokens = real };
    }

    public Tensor Loss(TrainBatch batch)
    {
        var logits = TokenClassifier.Logits(model, batch.InputIds, batch.AttentionMask, batch.TokenTypeIds); // (B, T, K)
        return TokenClassifier.Loss(logits, batch.Labels);
    }

    /// <summary>The predicted label id of every word (-1 where a word has no token left after truncation). Eval mode, no gradients.</summary>
    public int[][] Predict(IReadOnlyList<IReadOnlyList<string>> sentences) =>
        PredictEncoded(sentences.Select(s => (TokenClassifier.EncodeWords(tokenizer, s, MaxLength), new long[0])).ToArray(), sentences.Select(s => s.Count).ToArray()).Predicted;

    (int[][] Predicted, double Nll, long Labelled, long Correct) PredictEncoded((WordEncoding Encoding, long[] Labels)[] rows, int[] wordCounts)
    {
        var predicted = new int[rows.Length][];
        double nll = 0;
        long labelled = 0, correct = 0;
        EvalBatches.Run(model, rows.Length, EvalBatchSize, (start, n) =>
        {
            var chunk = rows.Skip(start).Take(n).Select(r => (r.Encoding, r.Labels.Length == 0 ? new long[r.Encoding.WordIds.Length] : r.Labels)).ToList();
            using var batch = Collate(chunk);
            var logp = TokenClassifier.Logits(model, batch.InputIds, batch.AttentionMask, batch.TokenTypeIds).log_softmax(-1).to(ScalarType.Float32).cpu(); // (B, T, K)
            int T = (int)logp.shape[1], K = (int)logp.shape[2];
            var data = TensorBytes.ToArray<float>(logp);
            for (int j = 0; j < n; j++)
            {
                var (enc, gold) = rows[start + j];
                var first = enc.FirstTokens(wordCounts[start + j]);
                predicted[start + j] = first.Select(p => p < 0 ? -1 : ArgMax(data.AsSpan((j * T + p) * K, K))).ToArray();
                for (int p = 0; p < gold.Length; p++)
                {
                    if (gold[p] == TokenClassifier.IgnoreIndex) continue;
                    var row = data.AsSpan((j * T + p) * K, K);
                    nll -= row[(int)gold[p]];
                    labelled++;
                    if (ArgMax(row) == gold[p]) correct++;
                }
            }
        });
        return (predicted, nll, labelled, correct);
    }

    static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int k = 1; k < row.Length; k++) if (row[k] > row[best]) best = k;
        return best;
    }

    public IReadOnlyDictionary<string, double>? Evaluate()
    {
        if (validation.Length == 0) return null;
        var (_, nll, labelled, correct) = PredictEncoded(validation, validationWords);
        if (labelled == 0) return null;
        return new Dictionary<string, double> { ["loss"] = nll / labelled, ["accuracy"] = correct / (double)labelled };
    }
}
