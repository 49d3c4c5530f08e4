using System.Text.Json;
using GptBert.Models;
using GptBert.Tests.Training;
using GptBert.Tokenizers;
using static GptBert.Tests.Cli.CliHarness;
using static TorchSharp.torch;

namespace GptBert.Tests.Cli;

/// <summary>
/// `gptbert prune` with --data (importance measured on data), --train (recovery fine-tune) and --validation.
/// The importance test is known by construction: layer 0's head 1 has zero value weights (its context is 0, so it cannot
/// change the loss) but a 10x output projection (the largest weight norm), and neuron 5 of each layer has a zero input
/// row (GELU(0) = 0) but a 10x output column. Measured on data, exactly those score 0 and go first; by weight norm they stay.
/// </summary>
public class CliPruneTests
{
    const int Hs = 8; // hidden 32 / 4 heads

    static BertConfig Config(int vocab) => TrainingTestUtil.TinyBert(vocab) with { NumAttentionHeads = 4 };

    static string Save(string name, PretrainedModel model)
    {
        var dir = TestUtil.TempDir(name);
        using (model) model.SavePretrained(dir);
        TrainingTestUtil.Vocab().SaveForModel(dir, model.Config.MaxPositions);
        return dir;
    }

    static string Classifier(string name, bool construct, long seed)
    {
        TestUtil.Init(seed);
        var config = Config(TrainingTestUtil.Vocab().VocabSize);
        config.SetLabels(["neg", "pos"]);
        var m = new BertForSequenceClassification(config);
        if (construct)
            using (no_grad())
            {
                var sd = m.state_dict();
                sd["bert.encoder.layer.0.attention.self.value.weight"].narrow(0, 1 * Hs, Hs).zero_();
                sd["bert.encoder.layer.0.attention.self.value.bias"].narrow(0, 1 * Hs, Hs).zero_();
                sd["bert.encoder.layer.0.attention.output.dense.weight"].narrow(1, 1 * Hs, Hs).mul_(10);
                for (int l = 0; l < 2; l++)
                {
                    sd[$"bert.encoder.layer.{l}.intermediate.dense.weight"].narrow(0, 5, 1).zero_();
                    sd[$"bert.encoder.layer.{l}.intermediate.dense.bias"].narrow(0, 5, 1).zero_();
                    sd[$"bert.encoder.layer.{l}.output.dense.weight"].narrow(1, 5, 1).mul_(10);
                }
            }
        return Save(name, m);
    }

    /// <summary>An easy task: "good" in the sentence means pos, "bad" means neg; filler words around it.</summary>
    static string Labelled(string dir, string name, int rows, int seed)
    {
        var filler = "the cat dog sat ran on mat log a big small red blue film movie was is very".Split(' ');
        var rng = new Random(seed);
        var lines = new List<string> { "text,label" };
        for (int i = 0; i < rows; i++)
        {
            bool pos = i % 2 == 0;
            var words = Enumerable.Range(0, 4).Select(_ => filler[rng.Next(filler.Length)]).ToList();
            words.Insert(rng.Next(words.Count + 1), pos ? "good" : "bad");
            lines.Add($"{string.Join(' ', words)},{(pos ? "pos" : "neg")}");
        }
        var path = Path.Combine(dir, name);
        File.WriteAllLines(path, lines);
        return path;
    }

    static int[] Removed(JsonElement j, int layer, string key) => Ints(j.GetProperty("layers")[layer].GetProperty(key));

    [Fact]
    public void DataImportanceRemovesTheHeadAndNeuronsThatCannotMatterAndWeightNormKeepsThem()
    {
        var model = Classifier("cli-prune-known", construct: true, seed: 11);
        var root = TestUtil.TempDir("cli-prune-known-data");
        var data = Labelled(root, "train.csv", 24, 1);
        string[] Args(string output, params string[] more) =>
            ["prune", "--model", model, "--output", Path.Combine(root, output), "--heads", "0.125", "--ffn", "0.015625", "--threads", "1", "--json", .. more];

        var r = Run(null, Args("measured", "--data", data, "--batch-size", "8"));
        Assert.True(r.ExitCode == 0, r.ToString());
        var j = JsonDocument.Parse(r.Stdout).RootElement;
        Assert.StartsWith("Michel", j.GetProperty("importance").GetString());
        Assert.Equal([1], Removed(j, 0, "heads_removed"));
        Assert.Empty(Removed(j, 1, "heads_removed"));
        Assert.Equal([5], Removed(j, 0, "neurons_removed"));
        Assert.Equal([5], Removed(j, 1, "neurons_removed"));
        Assert.Equal(3, j.GetProperty("layers")[0].GetProperty("heads_left").GetInt32());
        Assert.Equal(63, j.GetProperty("layers")[1].GetProperty("neurons_left").GetInt32());
        var (loaded, _) = ModelFactory.Load(Path.Combine(root, "measured"));
        using (loaded)
        {
            Assert.Equal([1], loaded.Config.PrunedHeadsOf(0));
            Assert.Equal(63, ((BertConfig)loaded.Config).IntermediateSize);
        }

        var w = Run(null, Args("by-norm"));
        Assert.True(w.ExitCode == 0, w.ToString());
        var k = JsonDocument.Parse(w.Stdout).RootElement;
        Assert.Contains("weight norm", k.GetProperty("importance").GetString());
        Assert.DoesNotContain(1, Removed(k, 0, "heads_removed"));
        Assert.DoesNotContain(5, Removed(k, 0, "neurons_removed"));

        // The text report names the removed heads per layer and the score used.
        var t = Run(null, ["prune", "--model", model, "--output", Path.Combine(root, "text"), "--heads", "0.125", "--data", data, "--threads", "1"]);
        Assert.True(t.ExitCode == 0, t.ToString());
        Assert.Contains("layer 0: heads removed [1] (3 left)", t.Stdout);
        Assert.Contains("importance: Michel et al.", t.Stdout);
    }

    [Fact]
    public void RecoveryTrainingLowersLossAndRaisesAccuracyOfThePrunedModel()
    {
        var model = Classifier("cli-prune-recover", construct: false, seed: 12);
        var root = TestUtil.TempDir("cli-prune-recover-data");
        var train = Labelled(root, "train.csv", 64, 2);
        var validation = Labelled(root, "validation.csv", 32, 3);
        var output = Path.Combine(root, "recovered");
        var r = Run(null, "prune", "--model", model, "--output", output, "--heads", "0.25", "--ffn", "0.25", "--data", train,
            "--train", train, "--validation", validation, "--max-steps", "120", "--batch-size", "8", "--lr", "3e-3", "--warmup", "0",
            "--threads", "1", "--json");
        Assert.True(r.ExitCode == 0, r.ToString());
        var j = JsonDocument.Parse(r.Stdout).RootElement;
        Assert.Equal("macro_f1", j.GetProperty("metric").GetString());
        double Q(string which, string key) => j.GetProperty(which).GetProperty(key).GetDouble();
        Assert.True(Q("quality_recovered", "loss") < Q("quality_pruned", "loss") - 0.1, r.Stdout);
        Assert.True(Q("quality_recovered", "accuracy") >= 0.9, r.Stdout);
        Assert.True(Q("quality_pruned", "accuracy") <= 0.75, r.Stdout); // a random classifier: near chance before recovery
        Assert.Equal(120, j.GetProperty("recovery_steps").GetInt32());
        // The recovered model is the pruned shape, loads with its pruned_heads, and the untrained pruned model is kept beside it.
        var (loaded, _) = ModelFactory.Load(output);
        using (loaded) Assert.Equal(2, loaded.Config.PrunedHeads!.Values.Sum(v => v.Count));
        Assert.True(File.Exists(Path.Combine(output, "pruned", "config.json")));
        var eval = Run(null, "evaluate", "--model", output, "--data", validation, "--json");
        Assert.True(eval.ExitCode == 0, eval.ToString());
    }

    [Fact]
    public void MistakesAreOneLineErrorsAndHelpTeaches()
    {
        var model = Classifier("cli-prune-errors", construct: false, seed: 13);
        var root = TestUtil.TempDir("cli-prune-errors-data");
        var data = Labelled(root, "train.csv", 4, 4);
        string Out(string n) => Path.Combine(root, n);
        Assert.Contains("--train", AssertOneLineError(Run(null, "prune", "--model", model, "--output", Out("a"), "--heads", "0.5", "--epochs", "1"), exitCode: 2));
        Assert.Contains("--magnitude and --train", AssertOneLineError(Run(null, "prune", "--model", model, "--output", Out("b"), "--magnitude", "0.5", "--train", data), exitCode: 2));
        Assert.Contains("--heads and/or --ffn", AssertOneLineError(Run(null, "prune", "--model", model, "--output", Out("c"), "--magnitude", "0.5", "--data", data), exitCode: 2));
        var other = Path.Combine(root, "other.csv");
        File.WriteAllLines(other, ["text,label", "good film,yes", "bad film,no"]);
        Assert.Contains("was not trained on", AssertOneLineError(Run(null, "prune", "--model", model, "--output", Out("d"), "--heads", "0.5", "--data", other)));
        // A bare encoder has no loss to measure importance with.
        TestUtil.Init(14);
        var encoder = Save("cli-prune-encoder", new BertModel(Config(TrainingTestUtil.Vocab().VocabSize)));
        var e = AssertOneLineError(Run(null, "prune", "--model", encoder, "--output", Out("e"), "--heads", "0.5", "--data", data));
        Assert.Contains("no head to compute a loss", e);
        Assert.Contains("--data", Run(null, "prune", "--help").Stdout);
        Assert.Contains("Michel et al. 2019", Run(null, "prune", "--help").Stdout);
    }
}
