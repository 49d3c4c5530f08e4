using GptBert.Tokenizers;
using static GptBert.Tests.Cli.CliHarness;

namespace GptBert.Tests.Cli;

/// <summary>
/// The seed's own examples from the CLI, with tokenizers trained on the shipped Chinese corpus (data/fortunes-zh, from
/// Debian's fortunes-zh): a tiny GPT pretrained on the Tang poems continues 今天天气很好，我想去 and the text comes back as
/// CJK, not mojibake; a tiny BERT fine-tuned on a sentiment set built from templates (subject + adverb + a positive or
/// negative adjective, so every label is known by construction) labels 我很高兴 positive.
/// </summary>
public class ChineseExamplesTests
{
    const string Prompt = "今天天气很好，我想去";

    static bool IsCjk(char c) => c is >= '\u4e00' and <= '\u9fff' or >= '\u3000' and <= '\u303f' or >= '\uff00' and <= '\uffef';

    [Fact]
    public void GenerateContinuesTheChinesePromptInChinese()
    {
        var dir = TestUtil.TempDir("zh-gen");
        var tok = Path.Combine(dir, "tok");
        var poems = RepoFiles.At("data", "fortunes-zh", "tang300.txt");
        var t = Run(null, "tokenizer", "train", "--kind", "bpe", "--data", poems, "--vocab-size", "1500", "--output", tok);
        Assert.True(t.ExitCode == 0, t.ToString());
        // The tokenizer round-trips the prompt exactly: every character survives encoding and decoding.
        var tokenizer = TokenizerLoader.Load(tok);
        var ids = tokenizer.Encode(Prompt, addSpecialTokens: false).Ids;
        Assert.Equal(Prompt, tokenizer.Decode(ids, skipSpecialTokens: false));
        Assert.True(ids.Length < 3 * Prompt.Length, $"{ids.Length} tokens for {Prompt.Length} characters: the vocabulary learned no Chinese");

        var model = Path.Combine(dir, "gpt");
        var p = Run(null, "pretrain", "--arch", "gpt", "--data", poems, "--tokenizer", tok, "--output", model, "--layers", "2", "--hidden", "64", "--heads", "2",
            "--max-length", "32", "--batch-size", "16", "--max-steps", "40", "--lr", "3e-3", "--threads", "2", "--seed", "1");
        Assert.True(p.ExitCode == 0, p.ToString());

        var g = Run(null, "generate", "--model", model, "--prompt", Prompt, "--greedy", "--max-new-tokens", "12", "--jsonl", "--threads", "2");
        Assert.True(g.ExitCode == 0, g.ToString());
        var line = g.JsonLines.Single();
        string text = line.GetProperty("text").GetString()!;
        var newIds = Ints(line.GetProperty("ids"));
        // What was generated is what its ids decode to, and it is Chinese: no replacement characters, no Latin-1 mojibake.
        Assert.Equal(tokenizer.Decode(newIds, skipSpecialTokens: false), text);
        Assert.DoesNotContain('\uFFFD', text);
        Assert.DoesNotContain(text, c => c is >= '\u0080' and <= '\u00ff');
        Assert.Contains(text, IsCjk);

        // The plain-text output carries the same continuation, in UTF-8.
        var plain = Run(null, "generate", "--model", model, "--prompt", Prompt, "--greedy", "--max-new-tokens", "12", "--threads", "2");
        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.Contains(text.Trim(), plain.Stdout);
    }

    static readonly string[] Subjects = ["我", "他", "她", "我们", "你"];
    static readonly string[] Adverbs = ["很", "非常", "真", "特别"];
    static readonly string[] Positive = ["高兴", "开心", "快乐", "满意"];
    static readonly string[] Negative = ["难过", "伤心", "生气", "失望"];

    [Fact]
    public void ClassifyLabelsWoHenGaoXingPositive()
    {
        var dir = TestUtil.TempDir("zh-clf");
        // Known by construction: the adjective decides the label. Sentences with 你 are held out for the test.
        var rows = from s in Subjects from a in Adverbs from (string Word, string Label) adj in Positive.Select(w => (w, "positive")).Concat(Negative.Select(w => (w, "negative")))
                   select (Text: s + a + adj.Word, adj.Label, Held: s == "你");
        var all = rows.ToList();
        var train = Path.Combine(dir, "train.csv");
        File.WriteAllLines(train, ["text,label", .. Enumerable.Repeat(all.Where(r => !r.Held), 4).SelectMany(x => x).Select(r => $"{r.Text},{r.Label}")]);
        var validation = Path.Combine(dir, "validation.csv");
        File.WriteAllLines(validation, ["text,label", .. all.Where(r => r.Held).Select(r => $"{r.Text},{r.Label}")]);

        var tok = Path.Combine(dir, "tok");
        var t = Run(null, "tokenizer", "train", "--kind", "wordpiece", "--data", RepoFiles.At("data", "fortunes-zh", "chinese.txt"), "--vocab-size", "2000", "--output", tok);
        Assert.True(t.ExitCode == 0, t.ToString());
        var model = Path.Combine(dir, "bert");
        var f = Run(null, "finetune", "--arch", "bert", "--tokenizer", tok, "--train", train, "--validation", validation, "--output", model,
            "--layers", "2", "--hidden", "64", "--heads", "2", "--dropout", "0", "--max-length", "16", "--batch-size", "16", "--max-steps", "50",
            "--lr", "3e-3", "--threads", "2", "--seed", "1");
        Assert.True(f.ExitCode == 0, f.ToString());

        var c = Run(null, "classify", "--model", model, "--jsonl", "--threads", "2", "我很高兴");
        Assert.True(c.ExitCode == 0, c.ToString());
        Assert.Equal("positive", c.JsonLines.Single().GetProperty("label").GetString());

        // Held-out sentences (subject 你, never seen in training) are labelled by their adjective.
        var held = all.Where(r => r.Held).ToList();
        var h = Run(null, ["classify", "--model", model, "--jsonl", "--threads", "2", .. held.Select(r => r.Text)]);
        Assert.True(h.ExitCode == 0, h.ToString());
        var labels = h.JsonLines.Select(j => j.GetProperty("label").GetString()).ToList();
        double accuracy = held.Select((r, i) => labels[i] == r.Label ? 1.0 : 0.0).Average();
        Assert.True(accuracy >= 0.85, $"held-out accuracy {accuracy}: {string.Join(", ", held.Select((r, i) => $"{r.Text}→{labels[i]}"))}");
    }
}
