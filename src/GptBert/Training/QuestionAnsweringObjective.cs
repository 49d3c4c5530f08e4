using GptBert.Models;
using GptBert.Pipelines;
using GptBert.Tokenizers;
using static TorchSharp.torch;

namespace GptBert.Training;

/// <summary>
/// Extractive question answering (BertForQuestionAnswering): every window of every training example is one training
/// example, labelled with its answer's start and end token (the [CLS] index when the answer is not in the window or
/// there is none); the loss is the mean of the start and end cross-entropies, as transformers computes it.
/// Validation decodes whole examples over their windows and scores exact match.
/// </summary>
public sealed class QuestionAnsweringObjective : ITrainingObjective
{
    readonly BertForQuestionAnswering model;
    readonly ITextTokenizer tokenizer;
    readonly List<QaFeature> train;
    readonly IReadOnlyList<QaExample> validation;
    readonly List<List<QaFeature>> validationFeatures;
    readonly EpochOrder order;
    readonly Device device;
    readonly QaOptions options;
    public int EvalBatchSize { get; init; } = 32;

    public QuestionAnsweringObjective(PretrainedModel model, ITextTokenizer tokenizer, IReadOnlyList<QaExample> train,
        IReadOnlyList<QaExample> validation, QaOptions options, long seed, Device device)
    {
        this.model = model as BertForQuestionAnswering
            ?? throw new GptBertException($"extractive question answering needs BertForQuestionAnswering, not {model.Architecture}");
        if (train.Count == 0) throw new GptBertException("no training examples");
        if (options.MaxLength > model.Config.MaxPositions)
            throw new GptBertException($"MaxLength {options.MaxLength} exceeds the model's {model.Config.MaxPositions} positions") { Parameter = "MaxLength" };
        this.tokenizer = tokenizer; this.validation = validation; this.device = device; this.options = options;
        // run_qa trains on the first answer of each question.
        this.train = train.SelectMany((e, i) => QuestionAnswering.Features(tokenizer, e.Question, e.Context, e.HasAnswer ? e.Answers[0] : null, i, options)).ToList();
        validationFeatures = validation.Select((e, i) => QuestionAnswering.Features(tokenizer, e.Question, e.Context, e.HasAnswer ? e.Answers[0] : null, i, options)).ToList();
        order = new EpochOrder(this.train.Count, seed);
    }

    public PretrainedModel Model => model;
    public long ExamplesPerEpoch => train.Count;
    /// <summary>Windows (features) the training examples became.</summary>
    public int TrainFeatures => train.Count;
    public string SelectionMetric => "exact_match";
    public bool HigherIsBetter => true;

    public TrainBatch GetBatch(long cursor, int batchSize, Random rng)
    {
        var chunk = new QaFeature[batchSize];
        for (int b = 0; b < batchSize; b++) chunk[b] = train[(int)order[cursor + b]];
        return Collate(chunk);
    }

    TrainBatch Collate(IReadOnlyList<QaFeature> features)
    {
        var (ids, mask, types, real) = Batching.ToTensors(features.Select(f => f.Encoding).ToList(), tokenizer.PadId ?? 0, device);
        var labels = new long[features.Count * 2];
        for (int b = 0; b < features.Count; b++) { labels[2 * b] = features[b].StartPosition; labels[2 * b + 1] = features[b].EndPosition; }
        return new TrainBatch { InputIds = ids, AttentionMask = mask, TokenTypeIds = types, Labels = tensor(labels, [features.Count, 2], device: device), Tokens = real };
    }

    /// <summary>(start CE + end CE) / 2; Labels is (B, 2): start and end token positions.</summary>
    public Tensor Loss(TrainBatch batch)
    {
        var s = model.Forward(batch.InputIds, batch.AttentionMask, batch.TokenTypeIds); // 2 x (B, T)
        var start = nn.functional.cross_entropy(s.StartLogits, batch.Labels[.., 0]);
        var end = nn.functional.cross_entropy(s.EndLogits, batch.Labels[.., 1]);
        return (start + end) / 2;
    }

    /// <summary>The best answer to each example (all its windows decoded together).</summary>
    public List<QaPrediction> Predict(IReadOnlyList<QaExample> examples) =>
        Predict(examples.Select((e, i) => QuestionAnswering.Features(tokenizer, e.Question, e.Context, null, i, options)).ToList(), examples);

    List<QaPrediction> Predict(List<List<QaFeature>> features, IReadOnlyList<QaExample> examples)
    {
        var logits = QuestionAnswerer.Logits(model, features.SelectMany(f => f).ToList(), tokenizer.PadId ?? 0, device, EvalBatchSize);
        var result = new List<QaPrediction>();
        int at = 0;
        for (int i = 0; i < examples.Count; i++)
        {
            result.Add(QuestionAnswering.Decode(examples[i].Context, features[i], logits.GetRange(at, features[i].Count), options));
            at += features[i].Count;
        }
        return result;
    }

    public IReadOnlyDictionary<string, double>? Evaluate()
    {
        if (validation.Count == 0) return null;
        var all = validationFeatures.SelectMany(f => f).ToList();
        double loss = 0;
        EvalBatches.Run(model, all.Count, EvalBatchSize, (start, n) =>
        {
            using var batch = Collate(all.GetRange(start, n));
            loss += Loss(batch).item<float>() * n;
        });
        var predictions = Predict(validationFeatures, validation);
        double exact = validation.Select((e, i) => IsExactMatch(predictions[i].Answer, e) ? 1.0 : 0.0).Average();
        return new Dictionary<string, double> { ["loss"] = loss / all.Count, ["exact_match"] = exact };
    }

    /// <summary>
    /// Whether <paramref name="answer"/> equals one of the gold answers (or is empty for a question without one) after
    /// trimming and case folding: a simple exact match for checkpoint selection; the official SQuAD normalisation
    /// (articles and punctuation removed) is the evaluation metric's job.
    /// </summary>
    public static bool IsExactMatch(string answer, QaExample gold) =>
        gold.HasAnswer ? gold.Answers.Any(a => string.Equals(a.Text.Trim(), answer.Trim(), StringComparison.OrdinalIgnoreCase))
            : answer.Length == 0;
}
