using System.Security.Cryptography;
using System.Text.Json;
using GptBert.Tests.Compare;
using GptBert.Tokenizers.Training;

namespace GptBert.Tests.Cli;

/// <summary>
/// The same command with the same seed gives the same model, byte for byte, on every path that builds a model from
/// scratch: the initial weights are part of what --seed fixes. (Prompt/completion fine-tuning once built its GPT before
/// seeding, so two identical runs trained different models and a memorisation test failed now and then.)
/// </summary>
public class CliSeedTests
{
    static string Hash(string dir) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(Path.Combine(dir, "model.safetensors"))));

    [Theory]
    [InlineData("completion")]
    [InlineData("qa")]
    [InlineData("classify")]
    public void TwoRunsWithOneSeedGiveTheSameModel(string kind)
    {
        var dir = TestUtil.TempDir("seed-" + kind);
        var tok = Path.Combine(dir, "tok");
        var fruit = TaskComparisonTests.FruitQuestions(40, 1);
        TokenizerTraining.TrainAndSave(TokenizerTraining.Bpe, fruit.SelectMany(q => new[] { q.Q, q.C }), tok, new TokenizerTrainingOptions { VocabSize = 300 });
        string train = Path.Combine(dir, "train" + (kind == "classify" ? ".csv" : ".jsonl"));
        string[] task = [];
        switch (kind)
        {
            case "completion":
                File.WriteAllLines(train, fruit.Select(q => JsonSerializer.Serialize(new { prompt = q.Q, completion = " " + q.A })));
                break;
            case "qa":
                TaskComparisonTests.WriteQa(train, fruit);
                task = ["--task", "qa"];
                break;
            default:
                File.WriteAllLines(train, ["text,label", .. fruit.Select((q, i) => $"{q.C.Replace(',', ' ')},{(i % 2 == 0 ? "a" : "b")}")]);
                break;
        }
        string Train(string name)
        {
            string output = Path.Combine(dir, name);
            var r = CliHarness.Run(null, ["finetune", .. task, "--arch", "gpt", "--layers", "1", "--hidden", "16", "--heads", "2", "--max-length", "32",
                "--tokenizer", tok, "--train", train, "--output", output, "--max-steps", "3", "--batch-size", "4", "--seed", "7", "--threads", "1"]);
            Assert.True(r.ExitCode == 0, r.ToString());
            return Hash(output);
        }
        Assert.Equal(Train("a"), Train("b"));
    }
}
