using System.CommandLine;
using System.Text.Json;
using GptBert.Pipelines;
using GptBert.Tokenizers;

namespace GptBert.Cli.Commands;

/// <summary>`gptbert chat`: a terminal conversation with a GPT-2 model through its chat template, or JSON Lines for scripts.</summary>
public static class ChatCommand
{
    public static Command Create(CliContext ctx)
    {
        var command = new Command("chat", """
            Talk to a GPT-2 language model: each line you type is a user message; the reply streams as it is generated.
            Messages go through the model's chat template (tokenizer_config.json's chat_template; a model without one gets
            "role: content" lines and stops where the model starts the next user turn). The conversation is kept
            within the model's context window: when it no longer fits with room for --max-new-tokens, the oldest turns
            are dropped first (a --system message always stays). Type /reset to start over, /exit (or end of input) to
            quit. --jsonl reads one {"messages": [{"role", "content"}, ...]} conversation per line and prints one
            {"message": {"role": "assistant", "content"}, "finish_reason", "prompt_tokens", "completion_tokens"} each.
            """).WithSummary("Chat with a GPT-2 model (terminal, or JSON Lines for scripts)")
            .WithExamples("""
                gptbert chat --model runs/chat --system "You are a helpful sailor."
                echo '{"messages": [{"role": "user", "content": "Name a whale."}]}' | gptbert chat --model runs/chat --jsonl
                """);
        var model = new Option<string>("--model", "-m") { Description = "GPT-2 language model directory", HelpName = "DIR", Required = true };
        var system = new Option<string?>("--system") { Description = "A system message at the start of the conversation", HelpName = "TEXT" };
        var maxNew = new Option<int>("--max-new-tokens", "-n") { Description = "Reply tokens at most (default: 128)", HelpName = "N", DefaultValueFactory = _ => 128 };
        var temperature = new Option<double>("--temperature") { Description = "Sampling temperature; 0 = greedy (default: 0.7)", HelpName = "T", DefaultValueFactory = _ => 0.7 };
        var topP = new Option<double>("--top-p") { Description = "Nucleus sampling (default: 0.9)", HelpName = "P", DefaultValueFactory = _ => 0.9 };
        var seed = new Option<int?>("--seed") { Description = "Random seed for repeatable replies", HelpName = "N" };
        foreach (var o in new Option[] { model, system, maxNew, temperature, topP, seed }) command.Options.Add(o);
        var common = CommonOptions.AddTo(command, input: true, noTruncate: false);
        command.SetAction(r =>
        {
            double t = r.GetValue(temperature);
            if (t < 0) throw new UsageException($"--temperature must be ≥ 0 (got {t})");
            using var handle = common.LoadModel(r, r.GetValue(model)!, "GPT2LMHeadModel", requireHead: true);
            var template = ChatTemplate.ForModel(handle.Directory);
            var options = new GenerationOptions
            {
                MaxNewTokens = r.GetValue(maxNew), Greedy = t == 0, Temperature = t == 0 ? 1 : t, TopP = r.GetValue(topP), TopK = 0,
                Stop = template.Stops, Seed = r.GetValue(seed),
            };
            try { options.Validate(); }
            catch (GptBertException e) { throw CliErrors.Usage(e); }
            var generator = new Generator(handle) { Warn = ctx.Warn };
            int window = handle.Config.MaxPositions;
            int reserve = Math.Min(options.MaxNewTokens, window - 1);

            (string Text, FinishReason Finish, int Prompt, int Completion) Reply(IReadOnlyList<ChatTurn> conversation, bool stream)
            {
                var (kept, prompt) = template.Fit(handle.Tokenizer, conversation, window, reserve);
                var text = new System.Text.StringBuilder();
                int n = 0;
                FinishReason finish = FinishReason.Length;
                foreach (var token in generator.GenerateAsync(prompt, options).ToBlockingEnumerable())
                {
                    if (token.Id >= 0) n++;
                    text.Append(token.TextDelta);
                    if (token.Finish is FinishReason f) finish = f;
                    if (stream && token.TextDelta.Length > 0) { ctx.Out.Write(token.TextDelta); ctx.Out.Flush(); }
                }
                return (text.ToString().Trim(), finish, prompt.Count, n);
            }

            TextReader input = common.InputPath(r) is string path ? File.OpenText(path)
                : ctx.Stdin.Reader ?? new StreamReader(ctx.Stdin.Stream ?? Stream.Null, new System.Text.UTF8Encoding(false));
            if (common.IsJsonl(r))
            {
                int lineNo = 0;
                while (input.ReadLine() is string line)
                {
                    lineNo++;
                    if (line.Trim().Length == 0) continue;
                    var conversation = ReadMessages(line, lineNo);
                    if (r.GetValue(system) is string s && (conversation.Count == 0 || conversation[0].Role != "system")) conversation.Insert(0, new ChatTurn("system", s));
                    var (text, finish, promptTokens, completionTokens) = Reply(conversation, stream: false);
                    ctx.Out.JsonLine(j =>
                    {
                        j.WriteStartObject("message");
                        j.WriteString("role", "assistant");
                        j.WriteString("content", text);
                        j.WriteEndObject();
                        j.WriteString("finish_reason", finish == FinishReason.Length ? "length" : "stop");
                        j.WriteNumber("prompt_tokens", promptTokens);
                        j.WriteNumber("completion_tokens", completionTokens);
                    });
                    ctx.Out.Flush();
                }
                return ExitCodes.Ok;
            }

            var history = new List<ChatTurn>();
            if (r.GetValue(system) is string sys) history.Add(new ChatTurn("system", sys));
            bool terminal = ctx.Stdin.IsTerminal && ctx.StderrIsTerminal;
            if (terminal) ctx.Stderr.WriteLine($"chatting with {handle.Source} ({window}-token window); /reset starts over, /exit quits");
            while (true)
            {
                if (terminal) { ctx.Stderr.Write("> "); ctx.Stderr.Flush(); }
                var line = input.ReadLine();
                if (line is null || line.Trim() == "/exit") break;
                if (line.Trim().Length == 0) continue;
                if (line.Trim() == "/reset")
                {
                    history.RemoveAll(m => m.Role != "system");
                    if (terminal) ctx.Stderr.WriteLine("(conversation cleared)");
                    continue;
                }
                history.Add(new ChatTurn("user", line));
                var (reply, _, _, _) = Reply(history, stream: true);
                ctx.Out.Line();
                ctx.Out.Flush();
                history.Add(new ChatTurn("assistant", reply));
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    static List<ChatTurn> ReadMessages(string line, int lineNo)
    {
        try
        {
            var j = JsonDocument.Parse(line).RootElement;
            if (j.ValueKind != JsonValueKind.Object || !j.TryGetProperty("messages", out var m) || m.ValueKind != JsonValueKind.Array || m.GetArrayLength() == 0)
                throw new UsageException($"input line {lineNo}: needs {{\"messages\": [{{\"role\": .., \"content\": ..}}, ..]}}");
            return m.EnumerateArray().Select(e =>
                e.ValueKind == JsonValueKind.Object && e.TryGetProperty("role", out var role) && role.ValueKind == JsonValueKind.String
                    && e.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String
                    ? new ChatTurn(role.GetString()!, c.GetString()!)
                    : throw new UsageException($"input line {lineNo}: each message needs \"role\" and \"content\" strings")).ToList();
        }
        catch (JsonException e) { throw new UsageException($"input line {lineNo}: not valid JSON ({e.Message.Split('.')[0]})"); }
    }
}
