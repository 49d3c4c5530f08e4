using GptBert.Pipelines;
using GptBert.Tokenizers;

namespace GptBert.Tests.Cli;

/// <summary>`gptbert chat` and the history rule behind it: a conversation kept within the window, oldest turns dropped first.</summary>
public class CliChatTests
{
    static readonly ITextTokenizer Gpt2 = TokenizerLoader.Load("gpt2");

    [Fact]
    public void HistoryKeepsTheSystemMessageAndDropsTheOldestTurns()
    {
        var t = ChatTemplate.Default;
        var conversation = new List<ChatTurn> { new("system", "Be brief.") };
        for (int i = 0; i < 12; i++)
        {
            conversation.Add(new("user", $"question number {i} about whales and ships"));
            conversation.Add(new("assistant", $"answer number {i}"));
        }
        conversation.Add(new("user", "last question"));
        for (int window = 30; window <= 400; window += 37)
        {
            var (kept, prompt) = t.Fit(Gpt2, conversation, window, reserve: 10);
            Assert.True(prompt.Count + 10 <= window);
            Assert.Equal(t.Encode(Gpt2, kept), prompt);
            Assert.Equal("system", kept[0].Role);
            Assert.Equal(conversation.TakeLast(kept.Count - 1), kept.Skip(1)); // a suffix: the newest turns
            // One more turn would not have fitted.
            if (kept.Count < conversation.Count)
                Assert.True(t.Encode(Gpt2, [kept[0], conversation[^kept.Count], .. kept.Skip(1)]).Count + 10 > window);
        }
        Assert.Throws<GptBertException>(() => t.Fit(Gpt2, conversation, 12, reserve: 10));
    }

    [Fact]
    public void JsonlRepliesGreedilyThroughTheTemplate()
    {
        var input = "{\"messages\": [{\"role\": \"user\", \"content\": \"Name a whale.\"}]}\n";
        var r = CliHarness.Run(input, "chat", "--model", TinyModels.Gpt2, "--tokenizer", "gpt2", "--jsonl", "--temperature", "0", "--max-new-tokens", "6", "--threads", "2");
        Assert.True(r.ExitCode == 0, r.ToString());
        var reply = r.JsonLines[0];
        Assert.Equal("assistant", reply.GetProperty("message").GetProperty("role").GetString());
        var prompt = ChatTemplate.Default.Encode(Gpt2, [new ChatTurn("user", "Name a whale.")]);
        Assert.Equal(prompt.Count, reply.GetProperty("prompt_tokens").GetInt32());
        Assert.InRange(reply.GetProperty("completion_tokens").GetInt32(), 1, 6);

        // Interactive: two user lines, two replies; /exit ends.
        var chat = CliHarness.Run("Hello\nHow are you?\n/exit\nnot read\n", "chat", "--model", TinyModels.Gpt2, "--tokenizer", "gpt2", "--temperature", "0", "--max-new-tokens", "3", "--threads", "2");
        Assert.True(chat.ExitCode == 0, chat.ToString());
        Assert.Equal(2, chat.Stdout.Split('\n').Length - 1);
        CliHarness.AssertOneLineError(CliHarness.Run("{\"text\": 1}\n", "chat", "--model", TinyModels.Gpt2, "--tokenizer", "gpt2", "--jsonl"), 2);
    }
}
