using System.CommandLine;
using GptBert.Pipelines;

namespace GptBert.Cli.Commands;

/// <summary>`gptbert generate`: continue a prompt with a GPT-2 language model, streaming tokens as they come.</summary>
public static class GenerateCommand
{
    public static Command Create(CliContext ctx)
    {
        var command = new Command("generate", """
            Continue a prompt with a GPT-2 language model (a directory saved as GPT2LMHeadModel, e.g. gpt2). The prompt is
            --prompt TEXT, or each line of --input FILE / stdin. Plain output prints the prompt and streams the continuation
            as it is produced; --jsonl prints {"ids": [new token ids], "text": continuation, "finish_reason":
            "length"|"eos"|"stop"} per prompt. Sampling (temperature, top-k 50, top-p) is the default; --greedy picks the
            most likely token each step; --seed makes sampling repeatable.
            Generate-then-rerank: --num-candidates N samples N continuations (candidate i with seed --seed + i) and
            --rerank-with MODEL (default: built-in 'minilm') keeps the one it scores highest against --reference (default:
            the prompt): a sentence encoder by the cosine of the embeddings, a sequence classifier (cross-encoder) by
            P(relevant); --jsonl adds every candidate with its score.
            """).WithSummary("Continue a prompt with GPT-2, streaming tokens")
            .WithExamples("""
                gptbert generate --model ./gpt2 --prompt "Once upon a time" --max-new-tokens 40
                gptbert generate --model ./gpt2 --prompt "The answer is" --greedy --stop "."
                gptbert generate --model ./gpt2 --prompt "Call me" --top-p 0.9 --temperature 0.8 --seed 1
                echo '{"text": "Hello, my name is"}' | gptbert generate --model ./gpt2 --jsonl --seed 42
                gptbert generate --model ./gpt2 --prompt "The whale" --num-candidates 8 --rerank-with minilm --reference "a story about the sea"
                """);
        var prompt = new Option<string?>("--prompt", "-p") { Description = "The text to continue (default: --input FILE or stdin, one prompt per line)", HelpName = "TEXT" };
        var model = ModelOptions.Model(defaultModel: null, "GPT-2 model directory (Hugging Face layout)");
        var maxNew = new Option<int>("--max-new-tokens", "-n") { Description = "Tokens to generate at most (default: 50)", HelpName = "N", DefaultValueFactory = _ => 50 };
        var greedy = new Option<bool>("--greedy") { Description = "Always take the most likely token (deterministic; ignores temperature/top-k/top-p)" };
        var temperature = new Option<double>("--temperature") { Description = "Sampling temperature, > 0 (default: 1.0; lower is more conservative)", HelpName = "T", DefaultValueFactory = _ => 1.0 };
        var topK = new Option<int>("--top-k") { Description = "Sampling filter: sample among the K most likely tokens (default: 50; 0 = all). In fill-mask and similarity, --top is how many results to show", HelpName = "K", DefaultValueFactory = _ => 50 };
        var topP = new Option<double>("--top-p") { Description = "Nucleus sampling: smallest set of tokens with total probability >= P, in (0, 1] (default: 1.0 = off)", HelpName = "P", DefaultValueFactory = _ => 1.0 };
        var repetition = new Option<double>("--repetition-penalty") { Description = "Penalise tokens already present, > 0 (default: 1.0 = off; 1.2 is typical)", HelpName = "R", DefaultValueFactory = _ => 1.0 };
        var stop = new Option<string[]>("--stop") { Description = "Stop when this text is generated (repeatable); it is not printed", HelpName = "TEXT" };
        var seed = new Option<int?>("--seed") { Description = "Random seed for repeatable sampling", HelpName = "N" };
        var noCache = new Option<bool>("--no-cache") { Description = "Recompute all positions each step instead of reusing the key/value cache (slower; for checking)" };
        var numBeams = new Option<int>("--num-beams") { Description = "Beam search with N beams (deterministic, as transformers' num_beams; default: 1 = greedy or sampling). The whole answer prints at the end", HelpName = "N", DefaultValueFactory = _ => 1 };
        var lengthPenalty = new Option<double>("--length-penalty") { Description = "With --num-beams: scores are sum(log p) / length^L; > 0 favours longer outputs, < 0 shorter (default: 1.0)", HelpName = "L", DefaultValueFactory = _ => 1.0 };
        var earlyStopping = new Option<bool>("--early-stopping") { Description = "With --num-beams: stop as soon as N hypotheses have finished" };
        var batch = new Option<int>("--batch-size") { Description = "With --jsonl: prompts decoded together, continuous batching (default: 8; 1 = one at a time). Results do not depend on it", HelpName = "N", DefaultValueFactory = _ => 8 };
        var numCandidates = new Option<int>("--num-candidates") { Description = "Sample N continuations and print the one --rerank-with scores best against --reference (default: 1)", HelpName = "N", DefaultValueFactory = _ => 1 };
        var rerankWith = new Option<string?>("--rerank-with") { Description = "With --num-candidates: the judge, a sentence encoder or a cross-encoder directory (default: minilm)", HelpName = "NAME|DIR" };
        var reference = new Option<string?>("--reference") { Description = "With --num-candidates: the text candidates are judged against (default: the prompt)", HelpName = "TEXT" };
        foreach (var o in new Option[] { prompt, model, maxNew, greedy, temperature, topK, topP, repetition, stop, seed, noCache, numBeams, lengthPenalty, earlyStopping, batch, numCandidates, rerankWith, reference }) command.Options.Add(o);
        var common = CommonOptions.AddTo(command, jsonlFields: "{\"text\": prompt}");
        var backend = BackendOption.AddTo(command);
        command.SetAction(r =>
        {
            var options = new GenerationOptions
            {
                MaxNewTokens = r.GetValue(maxNew),
                Greedy = r.GetValue(greedy),
                Temperature = r.GetValue(temperature),
                TopK = r.GetValue(topK),
                TopP = r.GetValue(topP),
                RepetitionPenalty = r.GetValue(repetition),
                Stop = (r.GetValue(stop) ?? []).Where(s => s.Length > 0).ToList(),
                Seed = r.GetValue(seed),
                UseCache = !r.GetValue(noCache),
                Overflow = common.OverflowMode(r),
            };
            var beams = new BeamOptions { NumBeams = r.GetValue(numBeams), LengthPenalty = r.GetValue(lengthPenalty), EarlyStopping = r.GetValue(earlyStopping) };
            bool beamSearch = beams.NumBeams != 1;
            if (beamSearch) options = options with { Greedy = true };
            try { options.Validate(); if (beamSearch) beams.Validate(); }
            catch (GptBertException e) { throw CliErrors.Usage(e); }
            if (!beamSearch && (r.GetResult(lengthPenalty) is { Implicit: false } || r.GetValue(earlyStopping)))
                throw new UsageException("--length-penalty and --early-stopping apply to beam search; add --num-beams N (N ≥ 2)");
            if (beamSearch && (r.GetResult(temperature) is { Implicit: false } || r.GetResult(topK) is { Implicit: false } || r.GetResult(topP) is { Implicit: false }))
                throw new UsageException("--num-beams searches for the most likely text and does not sample; drop --temperature/--top-k/--top-p, or drop --num-beams");
            int candidates = Check.AtLeast(r.GetValue(numCandidates), 1, "--num-candidates");
            if (candidates == 1 && (r.GetResult(rerankWith) ?? r.GetResult(reference)) is { Implicit: false })
                throw new UsageException("--rerank-with and --reference apply to generate-then-rerank; add --num-candidates N (N ≥ 2)");
            if (candidates > 1 && (beamSearch || options.Greedy))
                throw new UsageException("--num-candidates samples its candidates; drop --greedy and --num-beams");
            bool jsonl = common.IsJsonl(r);
            string? p = r.GetValue(prompt);
            var reader = common.Reader(ctx, r, p is null ? null : [p], "text", "prompt");
            var prompts = reader.Open();
            using var runner = backend.Value(r) == Backend.Onnx ? (IDecoderRunner)backend.LoadOnnx(r, common, r.GetValue(model)!)
                : new TorchRunner(common.LoadModel(r, r.GetValue(model)!, "GPT2LMHeadModel", requireHead: true), ownsHandle: true);
            var generator = new Generator(runner) { Warn = ctx.Warn };
            if (candidates > 1)
            {
                using var judge = RerankCommand.OpenJudge(common, r, r.GetValue(rerankWith) ?? ModelHub.MiniLm, ctx);
                long seed0 = r.GetValue(seed) ?? 0;
                foreach (var item in prompts)
                {
                    if (item.Pair is not null)
                        throw new GptBertException($"{reader.Where(item)}: generate takes a single prompt; remove \"text_pair\"");
                    var ranked = CandidateReranking.GenerateAndPick(i => generator.Generate(item.Text, options with { Seed = seed0 + i }).Text,
                        candidates, r.GetValue(reference) ?? item.Text, judge.Scorer);
                    if (jsonl)
                        ctx.Out.JsonLine(j =>
                        {
                            j.WriteString("text", ranked.Best);
                            j.WriteNumber("chosen", ranked.Chosen);
                            j.WriteStartArray("candidates");
                            for (int i = 0; i < ranked.Texts.Count; i++)
                            {
                                j.WriteStartObject();
                                j.WriteString("text", ranked.Texts[i]);
                                j.WriteNumber("score", ranked.Scores[i]);
                                j.WriteEndObject();
                            }
                            j.WriteEndArray();
                        });
                    else ctx.Out.Line(item.Text + ranked.Best);
                    ctx.Out.Flush();
                }
                return ExitCodes.Ok;
            }
            if (beamSearch)
            {
                if (runner is not TorchRunner beamRunner) throw new UsageException("--num-beams runs on the TorchSharp backend; drop --backend onnx");
                foreach (var item in prompts)
                {
                    if (item.Pair is not null)
                        throw new GptBertException($"{reader.Where(item)}: generate takes a single prompt; remove \"text_pair\"");
                    var best = BeamSearch.Generate(beamRunner.Handle, generator.EncodePrompt(item.Text, options), options, beams);
                    if (jsonl)
                        ctx.Out.JsonLine(j =>
                        {
                            Output.WriteArray(j, "ids", best.Ids);
                            j.WriteString("text", best.Text);
                            j.WriteString("finish_reason", FinishName(best.Finish));
                            j.WriteNumber("score", best.Score);
                        });
                    else ctx.Out.Line(item.Text + best.Text);
                    ctx.Out.Flush();
                }
                return ExitCodes.Ok;
            }
            int batchSize = Check.AtLeast(r.GetValue(batch), 1, "--batch-size");
            if (jsonl && batchSize > 1 && options.UseCache && runner is TorchRunner torch)
            {
                // Continuous batching: up to batchSize prompts decode together; lines come out in input order.
                using var scheduler = new GenerationScheduler(torch.Handle, batchSize);
                var window = new Queue<Task<GenerationResult>>();
                void PrintOldest() => WriteJson(ctx, window.Dequeue().GetAwaiter().GetResult());
                foreach (var item in prompts)
                {
                    if (item.Pair is not null)
                        throw new GptBertException($"{reader.Where(item)}: generate takes a single prompt; remove \"text_pair\"");
                    if (window.Count == batchSize) PrintOldest();
                    window.Enqueue(scheduler.GenerateTextAsync(generator.EncodePrompt(item.Text, options), options));
                }
                while (window.Count > 0) PrintOldest();
                return ExitCodes.Ok;
            }
            bool first = true;
            foreach (var item in prompts)
            {
                if (item.Pair is not null)
                    throw new GptBertException($"{reader.Where(item)}: generate takes a single prompt; remove \"text_pair\"");
                GenerationResult result;
                if (jsonl)
                    result = generator.Generate(item.Text, options);
                else
                {
                    if (!first) ctx.Out.Line();
                    ctx.Out.Write(item.Text);
                    ctx.Out.Flush();
                    result = generator.Generate(item.Text, options, t =>
                    {
                        if (t.TextDelta.Length == 0) return;
                        ctx.Out.Write(t.TextDelta);
                        ctx.Out.Flush();
                    });
                    ctx.Out.Line();
                    ctx.Out.Flush();
                }
                if (jsonl) WriteJson(ctx, result);
                first = false;
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    static void WriteJson(CliContext ctx, GenerationResult result)
    {
        ctx.Out.JsonLine(j =>
        {
            Output.WriteArray(j, "ids", result.Ids);
            j.WriteString("text", result.Text);
            j.WriteString("finish_reason", FinishName(result.Finish));
        });
        ctx.Out.Flush();
    }

    static string FinishName(FinishReason f) => f switch
    {
        FinishReason.EndOfText => "eos",
        FinishReason.Stop => "stop",
        _ => "length",
    };
}
