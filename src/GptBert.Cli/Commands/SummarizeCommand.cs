using System.CommandLine;
using System.Text;
using System.Text.Json;
using GptBert.Models;
using GptBert.Pipelines;
using GptBert.Reporting;

namespace GptBert.Cli.Commands;

/// <summary>`gptbert summarize`: extractive (encoder), abstractive (fine-tuned GPT) or lead summaries; ROUGE on a test set.</summary>
public static class SummarizeCommand
{
    public static Command Create(CliContext ctx)
    {
        var command = new Command("summarize", """
            Summarize documents three ways:
              extractive   the --sentences most central sentences by an encoder's sentence embeddings (the mean cosine
                           similarity to the other sentences: LexRank's degree centrality), in document order;
                           the default for a BERT model, e.g. the built-in 'minilm' (the default model)
              abstractive  a GPT-2 model fine-tuned on prompt/completion pairs (`gptbert finetune --train
                           data/summarization/train.jsonl`) writes the summary: greedy or --num-beams, up to the
                           first newline; the default for a GPT model
              lead         the first --sentences sentences (the standard baseline; needs no model)
            The document is --text TEXT, or the whole of --input FILE ('-': stdin); with --jsonl each input line is a
            {"document": ..} (or {"text": ..}) object and each output line {"summary", "sentences": [{"text", "start",
            "end", "score"}]} (start/end: UTF-16 char offsets into the document, end exclusive). --json prints one such
            object. Sentences end at . ! ? … followed by whitespace, at CJK full stops and at line breaks.
            With --data TEST.jsonl ({"document","summary"} lines, like data/summarization/test.jsonl) it summarizes the
            test set and prints ROUGE-1/2/L F1 (as rouge-score computes them, no stemming) for the method and for the
            lead baseline with the same number of sentences.
            Generate-then-rerank (abstractive): --num-candidates N samples N summaries (temperature --temperature, top-p
            --top-p, candidate i with seed --seed + i) and --rerank-with MODEL keeps the one it scores highest against the
            document: a sentence encoder (default: built-in 'minilm') by the cosine of the embeddings, a sequence
            classifier (cross-encoder) by P(relevant) of the pair (document, summary). With --data it prints, on the same
            candidates, greedy ("abstractive"), one random sample ("sample-1"), the reranked pick ("rerank-N") and the
            candidate with the best ROUGE-L ("oracle-N", the ceiling of any judge).
            """).WithSummary("Summarize documents (extractive, abstractive or lead); ROUGE on a test set")
            .WithExamples("""
                gptbert summarize --input article.txt --sentences 3
                gptbert summarize --text "First sentence. Second one. Third one." --json
                gptbert summarize --model runs/gpt-sum --input README.txt --num-beams 4
                gptbert summarize --input docs.jsonl --jsonl > summaries.jsonl
                gptbert summarize --data data/summarization/test.jsonl
                gptbert summarize --model runs/gpt-sum --data data/summarization/test.jsonl --json
                gptbert summarize --model runs/gpt-sum --input README.txt --num-candidates 8 --rerank-with minilm
                gptbert summarize --model runs/gpt-sum --data data/summarization/test.jsonl --num-candidates 8 --seed 1
                """);
        var model = ModelOptions.Model(ModelHub.MiniLm, "Encoder for extractive summaries (built-in 'minilm' by default, or a BERT directory) or a GPT-2 directory fine-tuned on summaries");
        var text = new Option<string?>("--text", "-t") { Description = "The document to summarize", HelpName = "TEXT" };
        var input = new Option<string?>("--input", "-i") { Description = "Read the document from FILE (the whole file; '-': stdin); with --jsonl, one {\"document\": ..} per line", HelpName = "FILE" };
        var method = new Option<string?>("--method") { Description = "extractive, abstractive or lead (default: extractive for an encoder, abstractive for a GPT)", HelpName = "METHOD" };
        method.AcceptOnlyFromAmong("extractive", "abstractive", "lead");
        var sentences = new Option<int>("--sentences", "-s") { Description = "Sentences in an extractive or lead summary (default: 1)", HelpName = "N", DefaultValueFactory = _ => 1 };
        var data = new Option<string?>("--data") { Description = "JSONL test set to summarize and score with ROUGE, next to the lead baseline", HelpName = "FILE" };
        var format = new Option<string>("--prompt-format") { Description = "Abstractive prompt; {document} is the document, \\n a newline (default: \"Summarize: {document}\\nSummary:\")", HelpName = "TEMPLATE", DefaultValueFactory = _ => Summarizer.DefaultPromptFormat.Replace("\n", "\\n") };
        var maxNew = new Option<int>("--max-new-tokens", "-n") { Description = "Abstractive: tokens to generate at most (default: 64)", HelpName = "N", DefaultValueFactory = _ => 64 };
        var numBeams = new Option<int>("--num-beams") { Description = "Abstractive: beam search with N beams (default: 1 = greedy)", HelpName = "N", DefaultValueFactory = _ => 1 };
        var lengthPenalty = new Option<double>("--length-penalty") { Description = "With --num-beams: scores are sum(log p) / length^L (default: 1.0)", HelpName = "L", DefaultValueFactory = _ => 1.0 };
        var numCandidates = new Option<int>("--num-candidates") { Description = "Abstractive: sample N summaries and keep the one --rerank-with scores best (default: 1 = no reranking)", HelpName = "N", DefaultValueFactory = _ => 1 };
        var rerankWith = new Option<string?>("--rerank-with") { Description = "With --num-candidates: the judge, a sentence encoder (cosine to the document) or a cross-encoder directory (default: minilm)", HelpName = "NAME|DIR" };
        var temperature = new Option<double>("--temperature") { Description = "With --num-candidates: sampling temperature (default: 0.8)", HelpName = "T", DefaultValueFactory = _ => 0.8 };
        var topP = new Option<double>("--top-p") { Description = "With --num-candidates: nucleus sampling threshold (default: 0.95)", HelpName = "P", DefaultValueFactory = _ => 0.95 };
        var seed = new Option<long>("--seed") { Description = "With --num-candidates: candidate i is sampled with seed S + i (default: 0)", HelpName = "S", DefaultValueFactory = _ => 0 };
        var json = new Option<bool>("--json") { Description = "One JSON object: the summary of one document, or with --data the scores" };
        var jsonl = new Option<bool>("--jsonl") { Description = "JSON Lines: input lines are {\"document\": ..} objects; one {\"summary\", \"sentences\"} object per line out" };
        foreach (var o in new Option[] { model, text, input, method, sentences, data, format, maxNew, numBeams, lengthPenalty, numCandidates, rerankWith, temperature, topP, seed, json, jsonl }) command.Options.Add(o);
        var common = CommonOptions.AddTo(command, input: false, jsonl: false);
        command.SetAction(r =>
        {
            string? txt = r.GetValue(text), file = r.GetValue(input), dataPath = r.GetValue(data);
            bool asJson = r.GetValue(json), asJsonl = r.GetValue(jsonl);
            if (asJson && asJsonl) throw new UsageException("give --json or --jsonl, not both");
            if ((txt is not null ? 1 : 0) + (file is not null ? 1 : 0) + (dataPath is not null ? 1 : 0) != 1)
                throw new UsageException("give one of --text TEXT, --input FILE ('-' for stdin) or --data TEST.jsonl");
            if (asJsonl && file is null) throw new UsageException("--jsonl reads {\"document\": ..} lines from --input FILE ('-' for stdin); use --json with --text");
            int n = Check.AtLeast(r.GetValue(sentences), 1, "--sentences");
            var beams = new BeamOptions { NumBeams = Check.AtLeast(r.GetValue(numBeams), 1, "--num-beams"), LengthPenalty = r.GetValue(lengthPenalty) };
            var options = new GenerationOptions { MaxNewTokens = Check.AtLeast(r.GetValue(maxNew), 1, "--max-new-tokens"), Greedy = true, Overflow = common.OverflowMode(r) };
            try { options.Validate(); if (beams.NumBeams > 1) beams.Validate(); }
            catch (GptBertException e) { throw CliErrors.Usage(e); }
            if (beams.NumBeams == 1 && r.GetResult(lengthPenalty) is { Implicit: false })
                throw new UsageException("--length-penalty applies to beam search; add --num-beams N (N ≥ 2)");
            string template = r.GetValue(format)!.Replace("\\n", "\n", StringComparison.Ordinal);
            PromptCompleter.CheckTemplate(template, "{document}");

            // The method: as given, else what the model is (config.json's model_type); lead needs no model.
            string modelName = r.GetValue(model)!;
            SummaryMethod how = r.GetValue(method) switch
            {
                "extractive" => SummaryMethod.Extractive,
                "abstractive" => SummaryMethod.Abstractive,
                "lead" => SummaryMethod.Lead,
                _ => Summarizer.DefaultMethod(ModelConfig.Load(Path.Combine(ModelHub.ExistingDirectory(modelName), "config.json")).ModelType),
            };
            bool generates = how == SummaryMethod.Abstractive;
            if (!generates && (beams.NumBeams > 1 || r.GetResult(maxNew) is { Implicit: false }))
                throw new UsageException($"--num-beams and --max-new-tokens apply to abstractive summaries; this is {how.ToString().ToLowerInvariant()} (give a GPT --model or --method abstractive)");
            if (generates && r.GetResult(sentences) is { Implicit: false })
                throw new UsageException("--sentences applies to extractive and lead summaries; an abstractive summary is as long as the model writes it (limit it with --max-new-tokens)");

            var candidates = new CandidateOptions { NumCandidates = Check.AtLeast(r.GetValue(numCandidates), 1, "--num-candidates"), Temperature = r.GetValue(temperature), TopP = r.GetValue(topP), Seed = r.GetValue(seed) };
            bool reranks = candidates.NumCandidates > 1;
            if (!reranks && (r.GetResult(rerankWith) ?? r.GetResult(temperature) ?? r.GetResult(topP) ?? r.GetResult(seed)) is { Implicit: false })
                throw new UsageException("--rerank-with, --temperature, --top-p and --seed apply to generate-then-rerank; add --num-candidates N (N ≥ 2)");
            if (reranks && !generates) throw new UsageException($"--num-candidates applies to abstractive summaries; this is {how.ToString().ToLowerInvariant()} (give a GPT --model)");
            if (reranks && beams.NumBeams > 1) throw new UsageException("give --num-beams or --num-candidates, not both: candidates are sampled");
            try { candidates.Validate(); }
            catch (GptBertException e) { throw CliErrors.Usage(e); }
            using var judge = reranks ? RerankCommand.OpenJudge(common, r, r.GetValue(rerankWith) ?? ModelHub.MiniLm, ctx) : null;

            using var handle = how switch
            {
                SummaryMethod.Lead => null,
                SummaryMethod.Abstractive => common.LoadModel(r, modelName, "GPT2LMHeadModel", requireHead: true),
                _ => common.LoadModel(r, modelName, architecture: null, requireHead: false),
            };
            var summarizer = how switch
            {
                SummaryMethod.Lead => Summarizer.Lead(n),
                SummaryMethod.Abstractive => Summarizer.Abstractive(handle!, options, beams.NumBeams > 1 ? beams : null, template, ctx.Warn,
                    judge is null ? null : new GenerateThenRerank(candidates, judge.Scorer)),
                _ => Summarizer.Extractive(new Embedder(handle!) { Overflow = common.OverflowMode(r), Warn = ctx.Warn }, n),
            };

            if (dataPath is not null)
            {
                var examples = summarizer.LoadExamples(dataPath);
                var scores = reranks ? summarizer.EvaluateReranking(examples).ToList() : new List<SummarizationScore> { summarizer.Evaluate(examples) };
                if (how != SummaryMethod.Lead) scores.Add(Summarizer.Lead(n).Evaluate(examples));
                if (asJson)
                    ctx.Out.JsonPretty(j =>
                    {
                        j.WriteString("data", dataPath);
                        j.WriteNumber("count", examples.Count);
                        j.WriteStartArray("methods");
                        foreach (var s in scores)
                        {
                            j.WriteStartObject();
                            j.WriteString("method", s.Name);
                            foreach (var (name, v) in Rows(s.Rouge))
                            {
                                j.WriteStartObject(name);
                                j.WriteNumber("precision", v.Precision);
                                j.WriteNumber("recall", v.Recall);
                                j.WriteNumber("fmeasure", v.FMeasure);
                                j.WriteEndObject();
                            }
                            j.WriteEndObject();
                        }
                        j.WriteEndArray();
                    });
                else
                {
                    ctx.Out.Line($"{examples.Count} documents from {dataPath}; ROUGE F1 (rouge-score tokenizer, no stemming), mean over documents");
                    ctx.Out.Line($"{"method",-16}{"rouge1",10}{"rouge2",10}{"rougeL",10}");
                    foreach (var s in scores)
                        ctx.Out.Line($"{s.Name,-16}{Output.Score(s.Rouge.Rouge1.FMeasure),10}{Output.Score(s.Rouge.Rouge2.FMeasure),10}{Output.Score(s.Rouge.RougeL.FMeasure),10}");
                }
                ctx.Out.Flush();
                return ExitCodes.Ok;
            }

            foreach (var document in Documents(ctx, txt, file, asJsonl))
            {
                var summary = summarizer.Summarize(document);
                if (asJson) ctx.Out.JsonPretty(j => Write(j, summary));
                else if (asJsonl) ctx.Out.JsonLine(j => Write(j, summary));
                else ctx.Out.Line(summary.Text);
                ctx.Out.Flush();
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    static (string, RougeValue)[] Rows(RougeScore s) => [("rouge1", s.Rouge1), ("rouge2", s.Rouge2), ("rougeL", s.RougeL)];

    static void Write(Utf8JsonWriter j, DocumentSummary s)
    {
        j.WriteString("summary", s.Text);
        j.WriteString("method", s.Method.ToString().ToLowerInvariant());
        if (s.Candidates is { } c)
        {
            j.WriteStartArray("candidates");
            for (int i = 0; i < c.Texts.Count; i++)
            {
                j.WriteStartObject();
                j.WriteString("text", c.Texts[i]);
                j.WriteNumber("score", c.Scores[i]);
                j.WriteBoolean("chosen", i == c.Chosen);
                j.WriteEndObject();
            }
            j.WriteEndArray();
        }
        j.WriteStartArray("sentences");
        foreach (var x in s.Sentences)
        {
            j.WriteStartObject();
            j.WriteString("text", x.Text);
            j.WriteNumber("index", x.Index);
            j.WriteNumber("start", x.Start);
            j.WriteNumber("end", x.End);
            j.WriteNumber("score", x.Score);
            j.WriteEndObject();
        }
        j.WriteEndArray();
    }

    /// <summary>The documents to summarize: --text, the whole --input file or stdin, or its JSON lines.</summary>
    static IEnumerable<string> Documents(CliContext ctx, string? text, string? file, bool jsonl)
    {
        if (text is not null) { yield return text; yield break; }
        TextReader reader;
        if (file == "-") reader = ctx.Stdin.Reader ?? new StreamReader(ctx.Stdin.Stream!, new UTF8Encoding(false, throwOnInvalidBytes: true));
        else if (!File.Exists(file)) throw new GptBertException($"--input {file} not found");
        else reader = new StreamReader(file!, new UTF8Encoding(false, throwOnInvalidBytes: true));
        using (reader)
        {
            if (!jsonl) { yield return reader.ReadToEnd(); yield break; }
            int line = 0, count = 0;
            for (string? raw; (raw = reader.ReadLine()) is not null;)
            {
                line++;
                if (string.IsNullOrWhiteSpace(raw)) continue;
                string where = file == "-" ? $"stdin line {line}" : $"{file} line {line}";
                string? document;
                try
                {
                    using var doc = JsonDocument.Parse(raw);
                    var o = doc.RootElement;
                    string? Str(string name) => o.ValueKind == JsonValueKind.Object && o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
                    document = Str("document") ?? Str("text");
                }
                catch (JsonException) { throw new GptBertException($"{where} is not a JSON object; each line needs {{\"document\": ..}}"); }
                if (document is null) throw new GptBertException($"{where}: needs a string field \"document\" (or \"text\")");
                count++;
                yield return document;
            }
            if (count == 0) throw new GptBertException($"no input: {(file == "-" ? "stdin" : file)} has no documents; put one {{\"document\": ..}} object per line");
        }
    }
}
