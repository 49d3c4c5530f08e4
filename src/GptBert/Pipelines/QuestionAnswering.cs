using GptBert.Checkpoints;
using GptBert.Models;
using GptBert.Tokenizers;
using static TorchSharp.torch;

namespace GptBert.Pipelines;

/// <summary>An answer span in its context: the text and its UTF-16 char offsets [Start, End).</summary>
public sealed record QaSpan(string Text, int Start)
{
    public int End => Start + Text.Length;
}

/// <summary>
/// One extractive QA example (a SQuAD "qa" with its paragraph). No answers (or <see cref="IsImpossible"/>) means
/// "no answer in this context" (SQuAD v2.0).
/// </summary>
public sealed record QaExample(string Id, string Question, string Context, IReadOnlyList<QaSpan> Answers, bool IsImpossible = false)
{
    public bool HasAnswer => !IsImpossible && Answers.Count > 0;
}

/// <summary>
/// Feature and decoding settings; the defaults are those of transformers' examples/pytorch/question-answering/run_qa.py.
/// </summary>
public sealed record QaOptions
{
    /// <summary>Tokens per window, special tokens included (run_qa --max_seq_length 384).</summary>
    public int MaxLength { get; init; } = 384;
    /// <summary>Tokens shared by consecutive windows of a long context (run_qa --doc_stride 128); null: min(128, MaxLength / 4).</summary>
    public int? DocStride { get; init; }
    /// <summary>Longest answer in tokens (--max_answer_length 30).</summary>
    public int MaxAnswerLength { get; init; } = 30;
    /// <summary>Start and end candidates per window (--n_best_size 20).</summary>
    public int NBest { get; init; } = 20;
    /// <summary>SQuAD v2.0: "no answer" is allowed (--version_2_with_negative).</summary>
    public bool AllowNoAnswer { get; init; }
    /// <summary>"No answer" wins when the null score beats the best span by more than this (--null_score_diff_threshold 0.0).</summary>
    public double NullScoreDiffThreshold { get; init; }

    public int Stride => DocStride ?? Math.Min(128, MaxLength / 4);
}

/// <summary>
/// One model input: [CLS] question [SEP] window [SEP], where the window is a run of the context's tokens.
/// <see cref="StartPosition"/>/<see cref="EndPosition"/> are the training labels (token indices in <see cref="Encoding"/>;
/// 0, the [CLS], when the answer is not wholly inside the window or there is none).
/// </summary>
public sealed record QaFeature(int ExampleIndex, TokenizedText Encoding, int ContextStart, int ContextEnd, int StartPosition, int EndPosition)
{
    /// <summary>Whether token <paramref name="i"/> belongs to the context (only those can start or end an answer).</summary>
    public bool IsContext(int i) => i >= ContextStart && i < ContextEnd;
}

/// <summary>An answer: the exact characters of the context (empty for "no answer"), its probability among the candidates, and its offsets.</summary>
public sealed record QaPrediction(string Answer, double Score, int Start, int End)
{
    public bool IsNoAnswer => Answer.Length == 0 && Start == End;
}

/// <summary>
/// Extractive question answering as transformers' run_qa.py prepares and decodes it (prepare_train_features,
/// prepare_validation_features, utils_qa.postprocess_qa_predictions): the question first, the context second and
/// split into overlapping windows (truncation only_second with a stride), start/end logits decoded per window and
/// the best span over all windows mapped back to the original characters through the token offsets.
/// </summary>
public static class QuestionAnswering
{
    /// <summary>
    /// The windows of one example. The context is tokenized once (offsets into the context); each window takes
    /// MaxLength − |question| − 3 of its tokens and starts Stride tokens before the previous window ended, as the
    /// fast tokenizers' return_overflowing_tokens does. With <paramref name="answer"/>, labels are set as
    /// prepare_train_features sets them.
    /// </summary>
    public static List<QaFeature> Features(ITextTokenizer tok, string question, string context, QaSpan? answer, int exampleIndex, QaOptions options)
    {
        int cls = tok.ClsId ?? throw new GptBertException("extractive question answering needs a tokenizer with [CLS] and [SEP] (a BERT WordPiece vocab)");
        int sep = tok.SepId ?? throw new GptBertException("extractive question answering needs a tokenizer with [CLS] and [SEP] (a BERT WordPiece vocab)");
        question = question.TrimStart(); // run_qa strips the question's left whitespace (some SQuAD questions start with many spaces)
        var q = tok.Encode(question, addSpecialTokens: false);
        var c = tok.Encode(context, addSpecialTokens: false);
        int room = options.MaxLength - q.Length - 3;
        int stride = options.Stride;
        if (room <= stride)
            throw new GptBertException($"the question takes {q.Length} tokens, leaving {Math.Max(room, 0)} of MaxLength {options.MaxLength} for the context, which must be more than the doc stride {stride}; shorten the question, raise MaxLength or lower DocStride")
            { Parameter = "MaxLength", RelatedParameters = ["DocStride"] };

        var features = new List<QaFeature>();
        for (int from = 0; ; from += room - stride)
        {
            int to = Math.Min(from + room, c.Length);
            int n = 1 + q.Length + 1 + (to - from) + 1;
            var ids = new int[n]; var tokens = new string[n]; var types = new int[n]; var mask = new int[n];
            var offsets = new (int, int)[n]; var seqIds = new int[n];
            int k = 0;
            void Put(int id, string token, int type, (int, int) offset, int seq)
            {
                ids[k] = id; tokens[k] = token; types[k] = type; mask[k] = 1; offsets[k] = offset; seqIds[k] = seq; k++;
            }
            Put(cls, tok.IdToToken(cls), 0, (0, 0), -1);
            for (int i = 0; i < q.Length; i++) Put(q.Ids[i], q.Tokens[i], 0, q.Offsets[i], 0);
            Put(sep, tok.IdToToken(sep), 0, (0, 0), -1);
            int contextStart = k;
            for (int i = from; i < to; i++) Put(c.Ids[i], c.Tokens[i], 1, c.Offsets[i], 1);
            int contextEnd = k;
            Put(sep, tok.IdToToken(sep), 1, (0, 0), -1);
            var encoding = new TokenizedText(ids, tokens, types, mask, offsets, seqIds, Truncated: from > 0 || to < c.Length);

            int start = 0, end = 0;
            if (answer is not null && contextEnd > contextStart)
            {
                int startChar = answer.Start, endChar = answer.End;
                // run_qa: the answer must lie wholly inside the window, else the label is the [CLS] index.
                if (offsets[contextStart].Item1 <= startChar && offsets[contextEnd - 1].Item2 >= endChar)
                {
                    start = contextStart;
                    while (start < contextEnd && offsets[start].Item1 <= startChar) start++;
                    start--;
                    end = contextEnd - 1;
                    while (end >= contextStart && offsets[end].Item2 >= endChar) end--;
                    end++;
                }
            }
            features.Add(new QaFeature(exampleIndex, encoding, contextStart, contextEnd, start, end));
            if (to >= c.Length) break;
        }
        return features;
    }

    sealed record Candidate(double Score, int Start, int End);

    /// <summary>
    /// The answer of one example from its windows' start and end logits, as postprocess_qa_predictions decodes it:
    /// the NBest highest start and end logits of each window, pairs inside the context with end ≥ start and at most
    /// MaxAnswerLength tokens, scored start + end; the best over all windows. With AllowNoAnswer, the smallest
    /// [CLS] score over the windows is the null score, and "no answer" wins when it beats the best span by more than
    /// NullScoreDiffThreshold. The score is the softmax probability over the NBest candidates (the null one included).
    /// Differs from postprocess_qa_predictions in one way: a span seen in two overlapping windows is one candidate
    /// (its best score), not two, so it is returned once and the probabilities are not split between copies.
    /// </summary>
    public static QaPrediction Decode(string context, IReadOnlyList<QaFeature> features, IReadOnlyList<(float[] Start, float[] End)> logits, QaOptions options) =>
        Decode(context, features, logits, options, 1)[0];

    /// <summary>The <paramref name="topK"/> best answers (see <see cref="Decode(string, IReadOnlyList{QaFeature}, IReadOnlyList{ValueTuple{float[], float[]}}, QaOptions)"/>).</summary>
    public static IReadOnlyList<QaPrediction> Decode(string context, IReadOnlyList<QaFeature> features, IReadOnlyList<(float[] Start, float[] End)> logits,
        QaOptions options, int topK)
    {
        var spans = new Dictionary<(int, int), double>();
        double? nullScore = null;
        for (int f = 0; f < features.Count; f++)
        {
            var feature = features[f];
            var (startLogits, endLogits) = logits[f];
            double featureNull = startLogits[0] + endLogits[0];
            if (nullScore is null || featureNull < nullScore) nullScore = featureNull;
            foreach (int s in TopIndices(startLogits, feature.Encoding.Length, options.NBest))
                foreach (int e in TopIndices(endLogits, feature.Encoding.Length, options.NBest))
                {
                    if (!feature.IsContext(s) || !feature.IsContext(e) || e < s || e - s + 1 > options.MaxAnswerLength) continue;
                    var span = (feature.Encoding.Offsets[s].Start, feature.Encoding.Offsets[e].End);
                    double score = startLogits[s] + endLogits[e];
                    if (!spans.TryGetValue(span, out double old) || score > old) spans[span] = score;
                }
        }
        var candidates = spans.Select(kv => new Candidate(kv.Value, kv.Key.Item1, kv.Key.Item2))
            .OrderByDescending(x => x.Score).ThenBy(x => x.Start).Take(options.NBest).ToList();
        Candidate? nullCandidate = options.AllowNoAnswer && nullScore is double ns ? new Candidate(ns, 0, 0) : null;
        var all = nullCandidate is null ? candidates : [.. candidates, nullCandidate];
        if (all.Count == 0) return [new QaPrediction("", 0, 0, 0)]; // no span fits (e.g. an empty context)
        double max = all.Max(x => x.Score);
        double sum = all.Sum(x => Math.Exp(x.Score - max));
        double Probability(Candidate x) => Math.Exp(x.Score - max) / sum;
        QaPrediction ToPrediction(Candidate x) => x == nullCandidate ? new QaPrediction("", Probability(x), 0, 0)
            : new QaPrediction(context[x.Start..x.End], Probability(x), x.Start, x.End);

        var ranked = candidates.Select(ToPrediction).ToList();
        if (nullCandidate is not null)
        {
            bool noAnswer = candidates.Count == 0 || nullCandidate.Score - candidates[0].Score > options.NullScoreDiffThreshold;
            if (noAnswer) ranked.Insert(0, ToPrediction(nullCandidate));
            else ranked.Insert(Math.Max(1, candidates.Count(x => x.Score >= nullCandidate.Score)), ToPrediction(nullCandidate)); // the best span stays first
        }
        return ranked.Take(Math.Max(1, topK)).ToList();
    }

    /// <summary>Indices of the n largest values among the first <paramref name="length"/> (np.argsort(logits)[-1:-n-1:-1]).</summary>
    static IEnumerable<int> TopIndices(float[] values, int length, int n) =>
        Enumerable.Range(0, Math.Min(length, values.Length)).OrderByDescending(i => values[i]).ThenBy(i => i).Take(n);
}

/// <summary>
/// A fine-tuned BertForQuestionAnswering loaded for prediction: windows → start/end logits (inference mode) →
/// <see cref="QuestionAnswering.Decode(string, IReadOnlyList{QaFeature}, IReadOnlyList{ValueTuple{float[], float[]}}, QaOptions, int)"/>.
/// Training's QuestionAnsweringObjective evaluates through the same <see cref="Logits"/>.
/// </summary>
public sealed class QuestionAnswerer : IQuestionAnswerer
{
    readonly ModelHandle handle;
    public QaOptions Options { get; }
    public ModelHandle Handle => handle;
    /// <summary>Windows per forward pass.</summary>
    public int BatchSize { get; init; } = 32;

    public QuestionAnswerer(string modelDir, string? tokenizer = null, string? device = null, QaOptions? options = null)
    {
        var cfg = ModelConfig.Load(Path.Combine(ModelHub.ExistingDirectory(modelDir), "config.json"));
        if (ModelFactory.DefaultArchitecture(cfg) != "BertForQuestionAnswering")
            throw new GptBertException($"{modelDir} is a {ModelFactory.DefaultArchitecture(cfg)}, not a question-answering model; fine-tune one for extractive question answering first (task qa)");
        handle = ModelHub.Load(modelDir, "BertForQuestionAnswering", tokenizer, device, requireHead: true);
        options ??= new QaOptions();
        Options = options with { MaxLength = Math.Min(options.MaxLength, handle.Config.MaxPositions) };
    }

    /// <summary>The text of the best answer to each (question, context).</summary>
    public IReadOnlyList<string> AnswerTexts(IReadOnlyList<(string Question, string Context)> inputs) => Answer(inputs).Select(a => a.Answer).ToList();

    /// <summary>The best answer to each (question, context).</summary>
    public IReadOnlyList<QaPrediction> Answer(IReadOnlyList<(string Question, string Context)> inputs) =>
        Answer(inputs, 1).Select(a => a[0]).ToList();

    /// <summary>The <paramref name="topK"/> best answers to each (question, context), best first.</summary>
    public IReadOnlyList<IReadOnlyList<QaPrediction>> Answer(IReadOnlyList<(string Question, string Context)> inputs, int topK)
    {
        var features = inputs.Select((x, i) => QuestionAnswering.Features(handle.Tokenizer, x.Question, x.Context, null, i, Options)).ToList();
        var logits = Logits((BertForQuestionAnswering)handle.Model, features.SelectMany(f => f).ToList(),
            handle.Tokenizer.PadId ?? 0, handle.Device, BatchSize);
        var result = new List<IReadOnlyList<QaPrediction>>();
        int at = 0;
        for (int i = 0; i < inputs.Count; i++)
        {
            var mine = logits.Skip(at).Take(features[i].Count).ToList();
            at += features[i].Count;
            result.Add(QuestionAnswering.Decode(inputs[i].Context, features[i], mine, Options, topK));
        }
        return result;
    }

    /// <summary>Start and end logits of each feature (eval mode, no gradients), <paramref name="batchSize"/> windows per pass.</summary>
    public static List<(float[] Start, float[] End)> Logits(BertForQuestionAnswering model, IReadOnlyList<QaFeature> features, long padId, Device device, int batchSize = 32)
    {
        var result = new List<(float[], float[])>(features.Count);
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var _ = no_grad();
            for (int from = 0; from < features.Count; from += batchSize)
            {
                using var scope = NewDisposeScope();
                var chunk = features.Skip(from).Take(batchSize).Select(f => f.Encoding).ToList();
                var (ids, mask, types, _) = Batching.ToTensors(chunk, padId, device);
                var s = model.Forward(ids, mask, types);
                using var start = s.StartLogits.to(ScalarType.Float32).cpu();
                using var end = s.EndLogits.to(ScalarType.Float32).cpu();
                var st = TensorBytes.ToArray<float>(start);
                var en = TensorBytes.ToArray<float>(end);
                int T = (int)start.shape[1];
                for (int b = 0; b < chunk.Count; b++)
                    result.Add((st[(b * T)..((b + 1) * T)], en[(b * T)..((b + 1) * T)]));
            }
        }
        finally { model.train(wasTraining); }
        return result;
    }

    public void Dispose() => handle.Dispose();
}
