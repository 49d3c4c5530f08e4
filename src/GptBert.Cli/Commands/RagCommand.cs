using System.CommandLine;
using GptBert.Pipelines;
using GptBert.Retrieval;

namespace GptBert.Cli.Commands;

/// <summary>`gptbert rag`: retrieve passages with an encoder's index, answer with a GPT-2 generator.</summary>
public static class RagCommand
{
    public static Command Create(CliContext ctx)
    {
        var command = new Command("rag", """
            Retrieval-augmented generation: finds the passages of an index (from 'gptbert index build') that best match the
            question, puts as many as fit into the generator's context window (best first, leaving --max-new-tokens for the
            answer), and lets a GPT-2 model answer from them. Prints the answer, then its numbered sources
            (source:start-end); --json prints one object with the answer, the sources and the prompt's token count.
            The prompt is --template with {sources} and {question} (default: "Answer the question from the sources.
            \n\n{sources}Question: {question}\nAnswer:"); --template qa is "Context: {context}\nQuestion: {question}\nAnswer:",
            the prompt of a GPT fine-tuned with 'finetune --task qa --arch gpt' ({context}: the passages joined by spaces).
            Generation stops at a blank line (a newline with --template qa) unless --stop says otherwise.

            Reranking: --rerank-with DIR retrieves --rerank-depth passages (default: 20) by --mode, rescores each against
            the question as 'gptbert rerank' does (a cross-encoder, i.e. a sequence classifier fine-tuned on question/passage
            pairs: P(relevant); any other model, e.g. 'minilm': the cosine of sentence embeddings) and quotes the best
            --top of the new order. Train a cross-encoder with 'gptbert index negatives' and 'gptbert finetune' (see
            bench/cross-encoder.sh).

            Evaluation: --data QUESTIONS.jsonl (QA JSON Lines {"question", "context", "answer", "answer_start"} whose
            context is the gold passage, like data/rag/test.jsonl over an index of data/bible-kjv) searches the index for
            every question and prints recall@1/5/10 (--recall-at) and MRR for each retrieval mode (dense, and bm25 and
            hybrid when the index has BM25), and, with --generator, answers every question (--mode, --top passages) and
            prints SQuAD exact match and F1. A retrieved passage is a hit when its text contains the whole gold passage
            (whitespace runs collapsed); "reachable" counts the questions whose gold passage lies whole in some passage
            of the index, the ceiling of recall. With --rerank-with, a row "MODE+rerank" follows: the first --rerank-depth
            passages of MODE in the reranker's order (so the recall cutoffs must be at most the depth), and the answers
            quote the reranked passages.
            """).WithSummary("Answer questions from an index's passages with a GPT-2 model; evaluate retrieval and answers")
            .WithExamples("""
                gptbert rag --index moby.index --generator ./gpt2-qa --question "Who is Ahab?"
                gptbert rag --index kb.index --generator ./gpt2 --question "How do refunds work?" --top 6 --json
                gptbert index build --input data/bible-kjv --output kjv.index
                gptbert rag --index kjv.index --data data/rag/test.jsonl
                gptbert rag --index kjv.index --data data/rag/test.jsonl --generator runs/qa-gpt --template qa --top 1 --json
                gptbert rag --index kjv.index --data data/rag/test.jsonl --rerank-with runs/cross-encoder --rerank-depth 20
                """);
        var index = new Option<string>("--index") { Description = "Index directory (from index build)", HelpName = "DIR", Required = true };
        var generatorDir = new Option<string>("--generator", "-g") { Description = "GPT-2 language model directory that writes the answer (--tokenizer overrides its tokenizer); optional with --data (then only retrieval is scored)", HelpName = "DIR" };
        var question = new Option<string?>("--question", "-q") { Description = "The question (or --data)", HelpName = "TEXT" };
        var data = new Option<string?>("--data") { Description = "Evaluate on a question set: QA JSON Lines whose context is the gold passage (e.g. data/rag/test.jsonl)", HelpName = "FILE" };
        var recallAt = new Option<string>("--recall-at") { Description = "With --data: recall cutoffs, comma-separated (default: 1,5,10)", HelpName = "K,K,..", DefaultValueFactory = _ => "1,5,10" };
        var top = new Option<int>("--top") { Description = "Passages to retrieve (default: 4); fewer are quoted if they do not fit", HelpName = "N", DefaultValueFactory = _ => 4 };
        var mode = new Option<string?>("--mode") { Description = "Retrieval: dense, bm25 or hybrid (default: hybrid when the index has BM25)", HelpName = "MODE" };
        var maxNew = new Option<int>("--max-new-tokens", "-n") { Description = "Answer tokens at most (default: 64)", HelpName = "N", DefaultValueFactory = _ => 64 };
        var template = new Option<string?>("--template") { Description = "Prompt with {question} and {sources} (numbered passages) or {context} (passages joined by spaces); 'qa' is \"Context: {context}\\nQuestion: {question}\\nAnswer:\", the format of finetune --task qa --arch gpt (\\n for new lines)", HelpName = "TEXT" };
        var stop = new Option<string[]>("--stop") { Description = "Stop when this text is generated (repeatable; default: a blank line)", HelpName = "TEXT" };
        var sample = new Option<bool>("--sample") { Description = "Sample the answer (temperature 0.7, top-p 0.9) instead of the greedy default" };
        var seed = new Option<int?>("--seed") { Description = "Random seed with --sample", HelpName = "N" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object: question, answer, finish_reason, prompt_tokens, sources" };
        var rerankWith = new Option<string?>("--rerank-with") { Description = "Rerank the retrieved passages with this model: a cross-encoder directory (a sequence classifier; P(relevant)) or a sentence encoder (cosine), as 'gptbert rerank' scores them", HelpName = "NAME|DIR" };
        var rerankDepth = new Option<int>("--rerank-depth") { Description = $"With --rerank-with: passages the first stage retrieves for the reranker (default: {RerankOptions.DefaultDepth}); at least --top and the recall cutoffs", HelpName = "N", DefaultValueFactory = _ => RerankOptions.DefaultDepth };
        foreach (var o in new Option[] { index, generatorDir, question, data, recallAt, top, mode, maxNew, template, stop, sample, seed, json, rerankWith, rerankDepth }) command.Options.Add(o);
        var common = CommonOptions.AddTo(command, input: false, jsonl: false, noTruncate: false);
        command.SetAction(r =>
        {
            int k = Check.AtLeast(r.GetValue(top), 1, "--top");
            string? q = r.GetValue(question), dataPath = r.GetValue(data), generatorPath = r.GetValue(generatorDir);
            if ((q is null) == (dataPath is null)) throw new UsageException("give --question TEXT to answer one question, or --data QUESTIONS.jsonl to evaluate on a question set");
            if (q is not null && q.Trim().Length == 0) throw new UsageException("--question is empty");
            if (q is not null && generatorPath is null) throw new UsageException("--question needs --generator DIR (a GPT-2 that writes the answer)");
            // A QA-format answer is one line; a free answer ends at a blank line.
            var stops = r.GetValue(stop) is { Length: > 0 } given ? given.Where(s => s.Length > 0).Select(s => s.Replace("\\n", "\n")).ToList()
                : r.GetValue(template) is "qa" ? ["\n"] : ["\n\n"];
            bool sampled = r.GetValue(sample);
            var options = new GenerationOptions
            {
                MaxNewTokens = r.GetValue(maxNew), Greedy = !sampled, Temperature = sampled ? 0.7 : 1.0, TopP = sampled ? 0.9 : 1.0, TopK = 0,
                Stop = stops, Seed = r.GetValue(seed),
            };
            try { options.Validate(); }
            catch (GptBertException e) { throw CliErrors.Usage(e); }
            string promptTemplate = r.GetValue(template) is "qa" ? Rag.QaTemplate : r.GetValue(template)?.Replace("\\n", "\n") ?? Rag.DefaultTemplate;
            var cutoffs = dataPath is null ? [] : ParseCutoffs(r.GetValue(recallAt)!);
            string? rerankSource = r.GetValue(rerankWith);
            int depth = Check.AtLeast(r.GetValue(rerankDepth), 1, "--rerank-depth");
            if (rerankSource is null && r.GetResult(rerankDepth) is { Implicit: false }) throw new UsageException("--rerank-depth applies to reranking; add --rerank-with DIR (a cross-encoder)");
            if (rerankSource is not null)
            {
                if (dataPath is not null && cutoffs.Max() > depth)
                    throw new UsageException($"--rerank-depth {depth} is below the largest --recall-at cutoff ({cutoffs.Max()}); reranking only reorders what the first stage retrieved, so use --rerank-depth {cutoffs.Max()} or more");
                if (generatorPath is not null && k > depth)
                    throw new UsageException($"--rerank-depth {depth} is below --top {k}; rerank at least as many passages as the prompt quotes");
            }
            var questions = dataPath is null ? null : LoadQuestions(ctx, dataPath);
            using var idx = IndexCommand.OpenIndex(r.GetValue(index)!);
            var searchMode = IndexCommand.ParseMode(r.GetValue(mode), idx);
            // The index's own encoder and tokenizer (--tokenizer, like --device's model, is the generator's).
            using var encoder = ModelHub.Load(idx.Model, architecture: null, tokenizer: null, device: common.DeviceName(r), requireHead: false);
            using var decoder = generatorPath is null ? null : common.LoadModel(r, generatorPath, "GPT2LMHeadModel", requireHead: true);
            // The judge of 'gptbert rerank' and generate-then-rerank: a cross-encoder when the model is a sequence classifier.
            using var judge = rerankSource is null ? null : RerankCommand.OpenJudge(common, r, rerankSource, ctx);
            var rerank = judge is null ? null : new RerankOptions(judge.Scorer, depth);
            if (questions is not null)
                return Evaluate(ctx, dataPath!, questions, idx, new Embedder(encoder), decoder is null ? null : new Generator(decoder) { Warn = ctx.Warn },
                    options, k, r.GetResult(mode) is { Implicit: false } ? searchMode : null, searchMode, promptTemplate, cutoffs, rerank, r.GetValue(json));
            q ??= "";
            var generator = new Generator(decoder!) { Warn = ctx.Warn };
            bool asJson = r.GetValue(json);
            var answer = Rag.Answer(idx, new Embedder(encoder), generator, q, options, k, searchMode, promptTemplate, rerank);
            if (answer.Prompt.Dropped.Count > 0)
                ctx.Warn($"note: {answer.Prompt.Dropped.Count} of {k} passages did not fit the generator's {decoder!.Config.MaxPositions}-token window with a {options.MaxNewTokens}-token answer");
            if (asJson)
            {
                ctx.Out.JsonLine(j =>
                {
                    j.WriteString("question", q);
                    j.WriteString("answer", answer.Answer);
                    j.WriteString("finish_reason", answer.Finish.ToString().ToLowerInvariant());
                    j.WriteNumber("prompt_tokens", answer.Prompt.Tokens);
                    j.WriteStartArray("sources");
                    for (int i = 0; i < answer.Prompt.Used.Count; i++)
                    {
                        var h = answer.Prompt.Used[i];
                        j.WriteStartObject();
                        j.WriteNumber("number", i + 1);
                        j.WriteNumber("score", h.Score);
                        j.WriteString("source", h.Chunk.Source);
                        j.WriteNumber("start", h.Chunk.Start);
                        j.WriteNumber("end", h.Chunk.End);
                        j.WriteString("text", h.Chunk.Text);
                        j.WriteEndObject();
                    }
                    j.WriteEndArray();
                });
                return ExitCodes.Ok;
            }
            ctx.Out.Line(answer.Answer);
            ctx.Out.Line();
            ctx.Out.Line("Sources:");
            for (int i = 0; i < answer.Prompt.Used.Count; i++)
            {
                var h = answer.Prompt.Used[i];
                string text = h.Chunk.Text.ReplaceLineEndings(" ");
                ctx.Out.Line($"[{i + 1}] {h.Chunk.Source}:{h.Chunk.Start}-{h.Chunk.End} ({Output.Score(h.Score)}) {(text.Length > 120 ? text[..117] + "..." : text)}");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    static IReadOnlyList<int> ParseCutoffs(string text)
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var list = new List<int>();
        foreach (var p in parts)
            if (!int.TryParse(p, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int v) || v < 1)
                throw new UsageException($"--recall-at {text}: give positive whole numbers separated by commas, e.g. 1,5,10");
            else list.Add(v);
        if (list.Count == 0) throw new UsageException("--recall-at is empty; give cutoffs such as 1,5,10");
        return list.Distinct().Order().ToList();
    }

    static List<QaExample> LoadQuestions(CliContext ctx, string path)
    {
        if (!File.Exists(path)) throw new UsageException($"--data {path}: no such file; give QA JSON Lines whose context is the gold passage, e.g. data/rag/test.jsonl");
        var questions = GptBert.Data.QaData.Load(path, ctx.Warn).Where(e => e.HasAnswer).ToList();
        if (questions.Count == 0) throw new UsageException($"--data {path}: no answerable questions; each line needs \"question\", \"context\" (the gold passage), \"answer\" and \"answer_start\"");
        return questions;
    }

    static int Evaluate(CliContext ctx, string dataPath, List<QaExample> questions, SearchIndex idx, Embedder embedder, Generator? generator,
        GenerationOptions options, int top, SearchMode? onlyMode, SearchMode answerMode, string template, IReadOnlyList<int> cutoffs, RerankOptions? rerank, bool asJson)
    {
        var modes = onlyMode is SearchMode m ? [m] : idx.HasLexical ? new[] { SearchMode.Dense, SearchMode.Lexical, SearchMode.Hybrid } : [SearchMode.Dense];
        int reachable = RagEvaluation.Reachable(idx, questions);
        var retrieval = modes.Select(mode => RagEvaluation.EvaluateRetrieval(idx, embedder, questions, mode, cutoffs)).ToList();
        // The reranked row: the first stage is the mode the answers use (--mode, default hybrid).
        if (rerank is not null)
        {
            try { retrieval.Add(RagEvaluation.EvaluateRetrieval(idx, embedder, questions, answerMode, cutoffs, rerank)); }
            catch (GptBertException e) { throw CliErrors.Usage(e); }
        }
        var answers = generator is null ? null : RagEvaluation.EvaluateAnswers(idx, embedder, generator, questions, options, top, answerMode, template, rerank);
        if (asJson)
        {
            ctx.Out.JsonPretty(j =>
            {
                j.WriteString("data", dataPath);
                j.WriteNumber("questions", questions.Count);
                j.WriteNumber("reachable", reachable);
                j.WriteNumber("passages", idx.Chunks.Count);
                j.WriteStartArray("retrieval");
                foreach (var e in retrieval)
                {
                    j.WriteStartObject();
                    j.WriteString("mode", e.Name);
                    foreach (var (kk, v) in e.Score.Recall) j.WriteNumber($"recall@{kk}", v);
                    j.WriteNumber("mrr", e.Score.Mrr);
                    j.WriteNumber("depth", e.Score.Depth);
                    if (e.RerankDepth is int d)
                    {
                        j.WriteNumber("rerank_depth", d);
                        j.WriteNumber("rerank_ms_per_question", e.RerankTime.TotalMilliseconds / questions.Count);
                    }
                    j.WriteEndObject();
                }
                j.WriteEndArray();
                if (answers is not null)
                {
                    j.WriteStartObject("answers");
                    j.WriteString("mode", answers.Name);
                    j.WriteNumber("top", top);
                    j.WriteNumber("exact_match", answers.Score.ExactMatch);
                    j.WriteNumber("f1", answers.Score.F1);
                    j.WriteStartArray("predictions");
                    for (int i = 0; i < questions.Count; i++)
                    {
                        j.WriteStartObject();
                        j.WriteString("id", questions[i].Id);
                        j.WriteString("question", questions[i].Question);
                        j.WriteString("answer", answers.Answers[i].Answer);
                        j.WriteString("gold", questions[i].Answers[0].Text);
                        j.WriteEndObject();
                    }
                    j.WriteEndArray();
                    j.WriteEndObject();
                }
            });
            ctx.Out.Flush();
            return ExitCodes.Ok;
        }
        ctx.Out.Line($"{questions.Count} questions from {dataPath}; {idx.Chunks.Count} passages; {reachable} questions have their gold passage whole in a passage (the recall ceiling)");
        int width = Math.Max(10, retrieval.Max(e => e.Name.Length) + 1);
        ctx.Out.Line("retrieval".PadRight(width) + string.Concat(retrieval[0].Score.Recall.Keys.Select(kk => $"{"recall@" + kk,11}")) + $"{"MRR",8}");
        foreach (var e in retrieval)
            ctx.Out.Line(e.Name.PadRight(width) + string.Concat(e.Score.Recall.Values.Select(v => $"{Output.Score(v),11}")) + $"{Output.Score(e.Score.Mrr),8}");
        foreach (var e in retrieval.Where(e => e.RerankDepth is not null))
            ctx.Out.Line($"{e.Name}: the first {e.RerankDepth} {RagEvaluation.ModeName(e.Mode)} passages reordered by the reranker ({e.RerankTime.TotalMilliseconds / questions.Count:F0} ms a question)");
        if (answers is not null)
            ctx.Out.Line($"answers ({answers.Name}, top {top}): exact match {answers.Score.ExactMatch:F1}, F1 {answers.Score.F1:F1} (SQuAD, percent)");
        ctx.Out.Flush();
        return ExitCodes.Ok;
    }
}
