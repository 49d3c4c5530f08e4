using GptBert.Models;
using GptBert.Pipelines;
using GptBert.Tests.Cli;
using GptBert.Tokenizers;
using GptBert.Training;
using static TorchSharp.torch;

namespace GptBert.Tests.Training;

/// <summary>
/// Supervised fine-tuning on prompt/completion and chat data: the loss mask covers exactly the completion or the
/// assistant turns, the loss is the masked cross-entropy written out by hand, and a tiny GPT learns a reply that is
/// known by construction.
/// </summary>
public class CompletionObjectiveTests
{
    static readonly ITextTokenizer Gpt2 = TokenizerLoader.Load("gpt2");

    [Fact]
    public void CompletionsTrainOnTheCompletionAndEndOfText()
    {
        var ex = CompletionData.Completion(Gpt2, "Translate to French: cat =>", " chat");
        var prompt = Gpt2.Encode("Translate to French: cat =>", addSpecialTokens: false).Ids;
        Assert.Equal(prompt, ex.Ids[..prompt.Length]);
        Assert.All(ex.Trained[..prompt.Length], t => Assert.False(t));
        Assert.All(ex.Trained[prompt.Length..], t => Assert.True(t));
        Assert.Equal(" chat", Gpt2.Decode(ex.Ids[prompt.Length..^1]));
        Assert.Equal(Gpt2.EosId, ex.Ids[^1]);
    }

    [Fact]
    public void ChatTrainsOnExactlyTheAssistantTurns()
    {
        ChatTurn[] messages = [new("system", "Be brief."), new("user", "Hi!"), new("assistant", "Hello there."), new("user", "Name a whale."), new("assistant", "Moby Dick.")];
        foreach (var template in new[] { ChatTemplate.Default, ChatTemplate.Parse("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}") })
        {
            var ex = CompletionData.Chat(Gpt2, template, messages);
            Assert.Equal(template.Render(messages, addGenerationPrompt: false), Gpt2.Decode(ex.Ids, skipSpecialTokens: false));
            // Runs of trained tokens, decoded: one per assistant turn, each its content and what the template closes it with.
            var runs = new List<string>();
            for (int i = 0; i < ex.Ids.Length; i++)
            {
                if (!ex.Trained[i]) continue;
                int j = i;
                while (j < ex.Ids.Length && ex.Trained[j]) j++;
                runs.Add(Gpt2.Decode(ex.Ids[i..j], skipSpecialTokens: false));
                i = j;
            }
            if (template.IsDefault) Assert.Equal([" Hello there.\n", " Moby Dick.\n"], runs);
            else Assert.Equal(["Hello there.<|end|>", "Moby Dick.<|end|>"], runs);
        }
        Assert.Throws<FormatException>(() => CompletionData.Chat(Gpt2, ChatTemplate.Default, [new("user", "Hi")]));
    }

    [Fact]
    public void LossIsTheCrossEntropyOfTheTrainedNextTokens()
    {
        TestUtil.Init(3);
        using var model = new GPT2LMHeadModel(new Gpt2Config { VocabSize = 50, NEmbd = 16, NLayer = 1, NHead = 2, NPositions = 32, ResidPdrop = 0, EmbdPdrop = 0, AttnPdrop = 0 });
        model.eval();
        CompletionExample[] examples =
        [
            new([1, 2, 3, 4, 5], [false, false, true, true, true]),
            new([7, 8, 9], [false, true, true]),
        ];
        var objective = new CompletionObjective(model, examples, [], 1, CPU, padId: 0);
        using var batch = objective.Batch(examples);
        double loss = objective.Loss(batch).item<float>();
        // By hand: each example alone, no padding; position t's log-softmax at token t+1 for every trained t+1.
        double sum = 0; int n = 0;
        foreach (var e in examples)
        {
            using var logits = model.Forward(tensor(e.Ids.Select(i => (long)i).ToArray(), [1, e.Ids.Length]));
            var lp = logits.log_softmax(-1);
            for (int t = 0; t + 1 < e.Ids.Length; t++)
                if (e.Trained[t + 1]) { sum -= lp[0, t, e.Ids[t + 1]].item<float>(); n++; }
        }
        Assert.Equal(sum / n, loss, 5);
    }

    [Fact]
    public void FinetuneLearnsAFixedReplyFromPromptCompletionFiles()
    {
        string dir = TestUtil.TempDir("sft");
        var rng = new Random(4);
        string[] words = ["whale", "ship", "sea", "storm", "captain", "harpoon", "sail", "deck"];
        var lines = Enumerable.Range(0, 60).Select(_ =>
            System.Text.Json.JsonSerializer.Serialize(new { prompt = string.Join(' ', Enumerable.Range(0, 2 + rng.Next(4)).Select(_ => words[rng.Next(words.Length)])) + " ->", completion = " aye aye" }));
        string train = Path.Combine(dir, "train.jsonl");
        File.WriteAllLines(train, lines);
        string output = Path.Combine(dir, "out");
        var r = CliHarness.Run(null, "finetune", "--arch", "gpt", "--layers", "1", "--hidden", "32", "--heads", "2", "--max-length", "32",
            "--train", train, "--output", output, "--max-steps", "120", "--batch-size", "8", "--lr", "3e-3", "--seed", "1", "--threads", "2");
        Assert.True(r.ExitCode == 0, r.ToString());
        var gen = CliHarness.Run(null, "generate", "--model", output, "--prompt", "sea storm ->", "--greedy", "--max-new-tokens", "4", "--jsonl", "--threads", "2");
        Assert.True(gen.ExitCode == 0, gen.ToString());
        Assert.StartsWith(" aye aye", gen.JsonLines[0].GetProperty("text").GetString());
    }
}
