using System.CommandLine;
using System.Text.Json;
using GptBert.Data;
using GptBert.Pipelines;

namespace GptBert.Cli.Commands;

/// <summary>
/// `gptbert qa`: extractive answers (a span of the context) with a fine-tuned BertForQuestionAnswering, or generated
/// answers with a GPT-2 fine-tuned on QA prompts; with --data, SQuAD exact match and F1 of either on a test set.
/// </summary>
public static class QaCommand
{
    public static Command Create(CliContext ctx)
    {
        var command = new Command("qa", """
            Answer questions from a context with an extractive QA model (a directory from 'gptbert finetune --task qa', or
            any BertForQuestionAnswering in Hugging Face layout): the answer is a span of the context, found as
            transformers' run_qa.py decodes it (long contexts in overlapping windows, the best start/end pair of at most
            --max-answer-length tokens over all windows). Give --question and --context, or --input FILE (JSON Lines of
            {"question": .., "context": ..}; '-' reads stdin). Plain output: ANSWER<tab>SCORE<tab>START<tab>END (START/END:
            char offsets of the answer in the context, END exclusive; SCORE: its probability among the candidates);
            with --no-answer an empty ANSWER means the context does not answer the question (SQuAD v2.0).
            --json prints one JSON object (one question), --jsonl one object per line.
            A GPT-2 directory (from 'gptbert finetune --task qa --arch gpt' or --model GPT_DIR) answers generatively: it
            continues the prompt "Context: C\nQuestion: Q\nAnswer:" greedily up to the end of the line; plain output is
            the ANSWER alone, JSON {answer, generated: true}.
            Generate-then-rerank (GPT): --num-candidates N samples N answers (temperature 0.8, top-p 0.95, candidate i with
            seed --seed + i) and --rerank-with MODEL (default: built-in 'minilm') keeps the one it scores highest against
            the context (cosine of sentence embeddings; a cross-encoder directory scores the pair (context, answer)).
            --data FILE scores the model on a test set (SQuAD JSON, or JSON Lines with "answer" and "answer_start"):
            SQuAD exact match and F1 in percent, with the official answer normalisation (--json: one object).
            """).WithSummary("Answer questions from a context (extractive BERT or generative GPT); score a test set")
            .WithExamples("""
                gptbert qa --model runs/qa --question "Who wrote it?" --context "The book was written by Ada Lovelace in 1843."
                gptbert qa --model runs/qa --input questions.jsonl --jsonl > answers.jsonl
                gptbert qa --model runs/qa-v2 --no-answer --question "When?" --context "No dates here." --json
                gptbert qa --model runs/qa-gpt --data data/qa/test.jsonl
                gptbert qa --model runs/qa-gpt --data data/qa/test.jsonl --num-candidates 8 --rerank-with minilm --seed 1
                """);
        var model = ModelOptions.Model(defaultModel: null, "Question-answering model directory (from 'gptbert finetune --task qa')");
        var question = new Option<string?>("--question", "-q") { Description = "The question", HelpName = "TEXT" };
        var context = new Option<string?>("--context", "-c") { Description = "The text that holds the answer", HelpName = "TEXT" };
        var input = new Option<string?>("--input", "-i") { Description = "JSON Lines of {\"question\": .., \"context\": ..} ('-': stdin)", HelpName = "FILE" };
        var data = new Option<string?>("--data") { Description = "Score the model on this test set instead: SQuAD exact match and F1 (SQuAD JSON, or JSON Lines of {\"question\", \"context\", \"answer\", \"answer_start\"})", HelpName = "FILE" };
        var json = new Option<bool>("--json") { Description = "One JSON object: {answer, score, start, end} (a single question)" };
        var jsonl = new Option<bool>("--jsonl") { Description = "One JSON object per question: {answer, score, start, end}" };
        var maxLength = new Option<int?>("--max-length") { Description = "Tokens per window, special tokens included (default: 384, at most the model's limit)", HelpName = "N" };
        var docStride = new Option<int?>("--doc-stride") { Description = "Tokens shared by consecutive windows (default: min(128, max-length / 4))", HelpName = "N" };
        var maxAnswer = new Option<int>("--max-answer-length") { Description = "Longest answer in tokens", HelpName = "N", DefaultValueFactory = _ => 30 };
        var topK = new Option<int>("--top") { Description = "Answers per question, best first (default: 1; plain and --jsonl: one line each)", HelpName = "N", DefaultValueFactory = _ => 1 };
        var noAnswer = new Option<bool>("--no-answer") { Description = "Allow \"no answer\" (SQuAD v2.0 models): an empty answer when the [CLS] score beats the best span by more than --null-threshold" };
        var threshold = new Option<double>("--null-threshold") { Description = "With --no-answer: how much the null score must beat the best span by", HelpName = "X", DefaultValueFactory = _ => 0.0 };
        var numCandidates = new Option<int>("--num-candidates") { Description = "Generative (GPT) models: sample N answers and keep the one --rerank-with scores best against the context (default: 1 = greedy)", HelpName = "N", DefaultValueFactory = _ => 1 };
        var rerankWith = new Option<string?>("--rerank-with") { Description = "With --num-candidates: the judge, a sentence encoder (cosine to the context) or a cross-encoder directory (default: minilm)", HelpName = "NAME|DIR" };
        var seed = new Option<long>("--seed") { Description = "With --num-candidates: candidate i is sampled with seed S + i (temperature 0.8, top-p 0.95; default: 0)", HelpName = "S", DefaultValueFactory = _ => 0 };
        foreach (var o in new Option[] { model, question, context, input, data, json, jsonl, maxLength, docStride, maxAnswer, topK, noAnswer, threshold, numCandidates, rerankWith, seed })
            command.Options.Add(o);
        var common = CommonOptions.AddTo(command, input: false, jsonl: false, noTruncate: false);
        command.SetAction(r =>
        {
            string? q = r.GetValue(question), c = r.GetValue(context), file = r.GetValue(input);
            bool asJson = r.GetValue(json), asJsonl = r.GetValue(jsonl);
            if (asJson && asJsonl) throw new UsageException("give --json or --jsonl, not both");
            int n = Check.AtLeast(r.GetValue(numCandidates), 1, "--num-candidates");
            if (n == 1 && (r.GetResult(rerankWith) ?? r.GetResult(seed)) is { Implicit: false })
                throw new UsageException("--rerank-with and --seed apply to generate-then-rerank; add --num-candidates N (N ≥ 2)");
            if (n > 1 && !QuestionAnswerers.IsGenerative(r.GetValue(model)!))
                throw new UsageException("--num-candidates samples answers from a GPT; this model answers extractively (give a GPT-2 fine-tuned with --task qa)");
            using var judge = n > 1 ? RerankCommand.OpenJudge(common, r, r.GetValue(rerankWith) ?? ModelHub.MiniLm, ctx) : null;
            var reranking = judge is null ? null : new GenerateThenRerank(new CandidateOptions { NumCandidates = n, Seed = r.GetValue(seed) }, judge.Scorer);
            if (r.GetValue(data) is string testFile)
            {
                if (file is not null || q is not null || c is not null)
                    throw new UsageException("--data scores a test set; drop --question, --context and --input (or drop --data to answer them)");
                if (asJsonl) throw new UsageException("--data prints one score; use --json, not --jsonl");
                return Score(ctx, r, common, r.GetValue(model)!, testFile, asJson, QaOptionsFrom(r, maxLength, docStride, maxAnswer, noAnswer, threshold), reranking);
            }
            if (file is not null && (q is not null || c is not null))
                throw new UsageException("give --question and --context, or --input FILE, not both");
            if (file is null && (q is null || c is null))
                throw new UsageException("give --question TEXT and --context TEXT, or --input FILE (JSON Lines of {\"question\": .., \"context\": ..})");
            if (asJson && file is not null) throw new UsageException("--json prints one question's answer; use --jsonl with --input");
            int k = Check.AtLeast(r.GetValue(topK), 1, "--top");
            var inputs = file is null ? [(q!, c!)] : ReadInputs(ctx, file);
            common.ConfigureRuntime(r);
            var options = QaOptionsFrom(r, maxLength, docStride, maxAnswer, noAnswer, threshold);
            string source = r.GetValue(model)!;
            if (QuestionAnswerers.IsGenerative(source))
            {
                if (k > 1) throw new UsageException("--top applies to extractive (BERT) models; a GPT generates one answer");
                using var generative = new GenerativeAnswerer(source, common.TokenizerName(r), common.DeviceName(r), reranking: reranking);
                foreach (var (question1, context1) in inputs)
                {
                    var answer = generative.Answer(question1, context1);
                    if (asJson) ctx.Out.JsonPretty(j => { j.WriteString("answer", answer); j.WriteBoolean("generated", true); });
                    else if (asJsonl) ctx.Out.JsonLine(j => { j.WriteString("answer", answer); j.WriteBoolean("generated", true); });
                    else ctx.Out.Line(OneLine(answer));
                    ctx.Out.Flush();
                }
                return ExitCodes.Ok;
            }
            using var answerer = new QuestionAnswerer(source, common.TokenizerName(r), common.DeviceName(r), options);
            foreach (var chunk in inputs.Chunk(32))
            {
                var results = answerer.Answer(chunk, k);
                foreach (var answers in results)
                {
                    if (asJson)
                        ctx.Out.JsonPretty(j => { Write(j, answers[0]); if (k > 1) { j.WriteStartArray("answers"); foreach (var a in answers) { j.WriteStartObject(); Write(j, a); j.WriteEndObject(); } j.WriteEndArray(); } });
                    else if (asJsonl)
                        ctx.Out.JsonLine(j => { Write(j, answers[0]); if (k > 1) { j.WriteStartArray("answers"); foreach (var a in answers) { j.WriteStartObject(); Write(j, a); j.WriteEndObject(); } j.WriteEndArray(); } });
                    else
                        foreach (var a in answers) ctx.Out.Line($"{OneLine(a.Answer)}\t{Output.Score(a.Score)}\t{a.Start}\t{a.End}");
                }
                ctx.Out.Flush();
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    static QaOptions QaOptionsFrom(ParseResult r, Option<int?> maxLength, Option<int?> docStride, Option<int> maxAnswer, Option<bool> noAnswer, Option<double> threshold) => new()
    {
        MaxLength = Check.AtLeast(r.GetValue(maxLength), 8, "--max-length") ?? 384,
        DocStride = Check.AtLeast(r.GetValue(docStride), 1, "--doc-stride"),
        MaxAnswerLength = Check.AtLeast(r.GetValue(maxAnswer), 1, "--max-answer-length"),
        AllowNoAnswer = r.GetValue(noAnswer),
        NullScoreDiffThreshold = r.GetValue(threshold),
    };

    /// <summary>--data: answers every question of the test set with either kind of model and prints SQuAD EM and F1.</summary>
    static int Score(CliContext ctx, ParseResult r, CommonOptions common, string source, string testFile, bool asJson, QaOptions options, GenerateThenRerank? reranking)
    {
        var examples = QaData.Load(testFile, w => ctx.Stderr.WriteLine(w));
        common.ConfigureRuntime(r);
        using var answerer = QuestionAnswerers.Open(source, common.TokenizerName(r), common.DeviceName(r), options, reranking);
        var (score, _) = QuestionAnswerers.Evaluate(answerer, examples);
        bool generative = answerer is GenerativeAnswerer;
        if (asJson)
            ctx.Out.JsonPretty(j =>
            {
                j.WriteNumber("exact_match", score.ExactMatch);
                j.WriteNumber("f1", score.F1);
                j.WriteNumber("count", score.Count);
                j.WriteString("answers", generative ? "generated" : "extracted");
            });
        else
            ctx.Out.Line(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"exact match {score.ExactMatch:F1}, F1 {score.F1:F1} (SQuAD, percent) on {score.Count} questions of {Path.GetFileName(testFile)}; answers {(generative ? "generated" : "extracted")}"));
        return ExitCodes.Ok;
    }

    static void Write(Utf8JsonWriter j, QaPrediction a)
    {
        j.WriteString("answer", a.Answer);
        j.WriteNumber("score", a.Score);
        j.WriteNumber("start", a.Start);
        j.WriteNumber("end", a.End);
    }

    /// <summary>Plain output keeps one answer per line: line breaks and tabs inside a span print as spaces.</summary>
    static string OneLine(string s) => s.Replace('\n', ' ').Replace('\r', ' ').Replace('\t', ' ');

    static List<(string Question, string Context)> ReadInputs(CliContext ctx, string file)
    {
        TextReader reader;
        if (file == "-")
            reader = ctx.Stdin.Reader ?? new StreamReader(ctx.Stdin.Stream!, new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true));
        else if (!File.Exists(file)) throw new GptBertException($"--input {file} not found");
        else reader = new StreamReader(file);
        var result = new List<(string, string)>();
        using (reader)
        {
            int line = 0;
            for (string? raw; (raw = reader.ReadLine()) is not null;)
            {
                line++;
                if (string.IsNullOrWhiteSpace(raw)) continue;
                string where = file == "-" ? $"stdin line {line}" : $"{file} line {line}";
                try
                {
                    using var doc = JsonDocument.Parse(raw);
                    var o = doc.RootElement;
                    string? Str(string name) => o.ValueKind == JsonValueKind.Object && o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
                    var q = Str("question"); var c = Str("context");
                    if (q is null || c is null) throw new GptBertException($"{where}: needs string fields \"question\" and \"context\"");
                    result.Add((q, c));
                }
                catch (JsonException) { throw new GptBertException($"{where} is not a JSON object; each line needs {{\"question\": .., \"context\": ..}}"); }
            }
        }
        if (result.Count == 0) throw new GptBertException($"no input: {(file == "-" ? "stdin" : file)} has no questions; put one {{\"question\", \"context\"}} object per line");
        return result;
    }
}
