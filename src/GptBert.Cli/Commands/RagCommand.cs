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
            \n\n{sources}Question: {question}\nAnswer:"); generation stops at a blank line unless --stop says otherwise.
            """).WithSummary("Answer a question from an index's passages with a GPT-2 model")
            .WithExamples("""
                gptbert rag --index moby.index --generator ./gpt2-qa --question "Who is Ahab?"
                gptbert rag --index kb.index --generator ./gpt2 --question "How do refunds work?" --top 6 --json
                """);
        var index = new Option<string>("--index") { Description = "Index directory (from index build)", HelpName = "DIR", Required = true };
        var generatorDir = new Option<string>("--generator", "-g") { Description = "GPT-2 language model directory that writes the answer (--tokenizer overrides its tokenizer)", HelpName = "DIR", Required = true };
        var question = new Option<string>("--question", "-q") { Description = "The question", HelpName = "TEXT", Required = true };
        var top = new Option<int>("--top") { Description = "Passages to retrieve (default: 4); fewer are quoted if they do not fit", HelpName = "N", DefaultValueFactory = _ => 4 };
        var mode = new Option<string?>("--mode") { Description = "Retrieval: dense, bm25 or hybrid (default: hybrid when the index has BM25)", HelpName = "MODE" };
        var maxNew = new Option<int>("--max-new-tokens", "-n") { Description = "Answer tokens at most (default: 64)", HelpName = "N", DefaultValueFactory = _ => 64 };
        var template = new Option<string?>("--template") { Description = "Prompt with {sources} and {question} (\\n for new lines)", HelpName = "TEXT" };
        var stop = new Option<string[]>("--stop") { Description = "Stop when this text is generated (repeatable; default: a blank line)", HelpName = "TEXT" };
        var sample = new Option<bool>("--sample") { Description = "Sample the answer (temperature 0.7, top-p 0.9) instead of the greedy default" };
        var seed = new Option<int?>("--seed") { Description = "Random seed with --sample", HelpName = "N" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object: question, answer, finish_reason, prompt_tokens, sources" };
        foreach (var o in new Option[] { index, generatorDir, question, top, mode, maxNew, template, stop, sample, seed, json }) command.Options.Add(o);
        var common = CommonOptions.AddTo(command, input: false, jsonl: false, noTruncate: false);
        command.SetAction(r =>
        {
            int k = Check.AtLeast(r.GetValue(top), 1, "--top");
            string q = r.GetValue(question)!;
            if (q.Trim().Length == 0) throw new UsageException("--question is empty");
            var stops = r.GetValue(stop) is { Length: > 0 } given ? given.Where(s => s.Length > 0).ToList() : ["\n\n"];
            bool sampled = r.GetValue(sample);
            var options = new GenerationOptions
            {
                MaxNewTokens = r.GetValue(maxNew), Greedy = !sampled, Temperature = sampled ? 0.7 : 1.0, TopP = sampled ? 0.9 : 1.0, TopK = 0,
                Stop = stops, Seed = r.GetValue(seed),
            };
            try { options.Validate(); }
            catch (GptBertException e) { throw CliErrors.Usage(e); }
            string promptTemplate = r.GetValue(template)?.Replace("\\n", "\n") ?? Rag.DefaultTemplate;
            using var idx = IndexCommand.OpenIndex(r.GetValue(index)!);
            var searchMode = IndexCommand.ParseMode(r.GetValue(mode), idx);
            // The index's own encoder and tokenizer (--tokenizer, like --device's model, is the generator's).
            using var encoder = ModelHub.Load(idx.Model, architecture: null, tokenizer: null, device: common.DeviceName(r), requireHead: false);
            using var decoder = common.LoadModel(r, r.GetValue(generatorDir)!, "GPT2LMHeadModel", requireHead: true);
            var generator = new Generator(decoder) { Warn = ctx.Warn };
            bool asJson = r.GetValue(json);
            var answer = Rag.Answer(idx, new Embedder(encoder), generator, q, options, k, searchMode, promptTemplate);
            if (answer.Prompt.Dropped.Count > 0)
                ctx.Warn($"note: {answer.Prompt.Dropped.Count} of {k} passages did not fit the generator's {decoder.Config.MaxPositions}-token window with a {options.MaxNewTokens}-token answer");
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
}
