using GptBert.Models;
using GptBert.Reporting;
using GptBert.Tokenizers;

namespace GptBert.Pipelines;

/// <summary>Answers questions from a context: the one interface of the extractive (BERT) and generative (GPT) answerers.</summary>
public interface IQuestionAnswerer : IDisposable
{
    /// <summary>The model's loaded weights, tokenizer and device.</summary>
    ModelHandle Handle { get; }
    /// <summary>The best answer text to each (question, context); "" for "no answer".</summary>
    IReadOnlyList<string> AnswerTexts(IReadOnlyList<(string Question, string Context)> inputs);
}

/// <summary>
/// Generative question answering: a GPT-2 fine-tuned on prompts "Context: C\nQuestion: Q\nAnswer:" with the completion
/// " A" (the loss on the answer and the end-of-text token only, as Training.CompletionData.QuestionAnswering builds it), answering greedily up to
/// the first newline or end-of-text. The answer is free text, not necessarily a span of the context; SQuAD exact match
/// and F1 score it all the same. A prompt longer than the model's window loses its start (the context's first tokens),
/// in training as in answering, so the question and "Answer:" are always seen.
/// <para>Fine-tuning records in config.json (<see cref="WindowKey"/>) its max length and the room it kept for answers (the
/// longest training answer + end-of-text); every training prompt was cut to max length − room tokens, whatever its own
/// answer's length. The answerer cuts prompts the same way and writes at most up to max length: positions past it were
/// never trained (an answer written there came out as a fragment, "grap" for "grape"), and a cut that depended on the
/// answer would have told the model the answer's length. Without the record (other GPT-2s) the generator's rule applies:
/// the prompt's oldest tokens go so that prompt + MaxNewTokens fit n_positions.</para>
/// </summary>
public sealed class GenerativeAnswerer : IQuestionAnswerer
{
    /// <summary>The prompt of every example; <c>{context}</c> and <c>{question}</c> are replaced.</summary>
    public const string PromptFormat = "Context: {context}\nQuestion: {question}\nAnswer:";

    readonly ModelHandle handle;
    readonly Generator generator;
    readonly GenerationOptions options;
    readonly (int MaxLength, int AnswerRoom)? window;
    public ModelHandle Handle => handle;

    /// <summary>The config.json field fine-tuning writes: {"max_length": tokens of prompt + answer in training, "answer_room": tokens kept for the answer}.</summary>
    public const string WindowKey = "gptbert_generative_qa";

    /// <summary>Records the fine-tuning window in <paramref name="config"/> (saved with the model as <see cref="WindowKey"/>).</summary>
    public static void RecordWindow(ModelConfig config, int maxLength, int answerRoom)
    {
        config.Extra ??= [];
        config.Extra[WindowKey] = System.Text.Json.JsonSerializer.SerializeToElement(new { max_length = maxLength, answer_room = answerRoom });
    }

    /// <summary>The recorded window, or null when config.json has none.</summary>
    public static (int MaxLength, int AnswerRoom)? WindowOf(ModelConfig config) =>
        config.Extra?.GetValueOrDefault(WindowKey) is { ValueKind: System.Text.Json.JsonValueKind.Object } w
        && w.TryGetProperty("max_length", out var m) && m.TryGetInt32(out int max) && w.TryGetProperty("answer_room", out var r) && r.TryGetInt32(out int room)
        && max >= 2 && room >= 1 && room < max
            ? (Math.Min(max, config.MaxPositions), room) : null;

    readonly GenerateThenRerank? reranking;

    /// <param name="reranking">Generate-then-rerank: sample N answers and keep the one the judge scores highest against the context (null: greedy).</param>
    public GenerativeAnswerer(string modelDir, string? tokenizer = null, string? device = null, int maxNewTokens = 24, GenerateThenRerank? reranking = null)
    {
        reranking?.Candidates.Validate();
        this.reranking = reranking;
        var cfg = ModelConfig.Load(Path.Combine(ModelHub.ExistingDirectory(modelDir), "config.json"));
        if (cfg is not Gpt2Config)
            throw new GptBertException($"{modelDir} is not a GPT-2; generative question answering needs a GPT-2 fine-tuned on question answering (task qa)");
        handle = ModelHub.Load(modelDir, "GPT2LMHeadModel", tokenizer, device);
        generator = new Generator(handle) { Warn = null };
        options = new GenerationOptions { Greedy = true, MaxNewTokens = maxNewTokens, Stop = ["\n"], StopAtEos = true };
        window = WindowOf(handle.Config);
    }

    /// <summary>The prompt of one question.</summary>
    public static string Prompt(string question, string context) =>
        PromptFormat.Replace("{context}", context.Replace('\n', ' '), StringComparison.Ordinal).Replace("{question}", question.Trim().Replace('\n', ' '), StringComparison.Ordinal);

    /// <summary>The completion the model learns: a space and the first answer ("" for "no answer": the model learns to stop at once).</summary>
    public static string Completion(QaExample example) => example.HasAnswer ? " " + example.Answers[0].Text : "";

    /// <summary>
    /// The answer to one question: the greedy continuation of its prompt up to the first newline, trimmed; with
    /// generate-then-rerank, the sampled answer the judge scores highest against the context.
    /// </summary>
    public string Answer(string question, string context)
    {
        if (reranking is not null)
            return CandidateReranking.GenerateAndPick(o => Generate(question, context, o), options, reranking.Candidates, context, reranking.Judge).Best;
        return Generate(question, context, options);
    }

    /// <summary>The continuation of the question's prompt under <paramref name="o"/>, up to the first newline, trimmed.</summary>
    string Generate(string question, string context, GenerationOptions o)
    {
        string text;
        if (window is { } w)
        {
            // The prompt cut as fine-tuning cut it (the answer gets the room it had in training, at trained positions).
            var (maxLength, room) = w;
            var ids = handle.Tokenizer.Encode(Prompt(question, context), addSpecialTokens: false).Ids;
            int keep = Math.Min(ids.Length, maxLength - room);
            var prompt = ids[(ids.Length - keep)..];
            text = generator.GenerateTextAsync(prompt, o with { MaxNewTokens = Math.Min(o.MaxNewTokens, maxLength - keep) }).GetAwaiter().GetResult().Text;
        }
        else text = generator.Generate(Prompt(question, context), o).Text;
        int newline = text.IndexOf('\n');
        return (newline >= 0 ? text[..newline] : text).Trim();
    }

    public IReadOnlyList<string> AnswerTexts(IReadOnlyList<(string Question, string Context)> inputs) =>
        inputs.Select(x => Answer(x.Question, x.Context)).ToList();

    public void Dispose() => handle.Dispose();
}

/// <summary>Opens either kind of question-answering model and scores one on a test set with SQuAD exact match and F1.</summary>
public static class QuestionAnswerers
{
    /// <summary>A GPT-2 directory answers generatively (<see cref="GenerativeAnswerer"/>); anything else extractively (<see cref="QuestionAnswerer"/>).</summary>
    /// <param name="reranking">For a GPT: generate-then-rerank (see <see cref="GenerativeAnswerer"/>); ignored by an extractive model.</param>
    public static IQuestionAnswerer Open(string modelDir, string? tokenizer = null, string? device = null, QaOptions? options = null, GenerateThenRerank? reranking = null)
    {
        var cfg = ModelConfig.Load(Path.Combine(ModelHub.ExistingDirectory(modelDir), "config.json"));
        return cfg is Gpt2Config ? new GenerativeAnswerer(modelDir, tokenizer, device, reranking: reranking) : new QuestionAnswerer(modelDir, tokenizer, device, options);
    }

    /// <summary>Whether <paramref name="modelDir"/> holds a GPT-2 (a generative answerer).</summary>
    public static bool IsGenerative(string modelDir) =>
        ModelConfig.Load(Path.Combine(ModelHub.ExistingDirectory(modelDir), "config.json")) is Gpt2Config;

    /// <summary>Answers every question (in batches of 32) and scores the answers (SQuAD EM and F1, in percent, as <see cref="SquadMetrics"/>).</summary>
    public static (SquadScore Score, IReadOnlyList<string> Predictions) Evaluate(IQuestionAnswerer answerer, IReadOnlyList<QaExample> examples)
    {
        if (examples.Count == 0) throw new GptBertException("the QA test set is empty; give SQuAD JSON or JSON Lines of {\"question\", \"context\", \"answer\", \"answer_start\"}");
        var predictions = new List<string>(examples.Count);
        foreach (var chunk in examples.Chunk(32))
            predictions.AddRange(answerer.AnswerTexts(chunk.Select(e => (e.Question, e.Context)).ToList()));
        var gold = examples.Select(e => (IReadOnlyList<string>)e.Answers.Select(a => a.Text).ToList()).ToList();
        return (SquadMetrics.Compute(predictions, gold), predictions);
    }
}
