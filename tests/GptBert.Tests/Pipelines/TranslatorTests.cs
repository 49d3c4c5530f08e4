using System.Text.Json;
using GptBert.Pipelines;
using GptBert.Tests.Cli;

namespace GptBert.Tests.Pipelines;

/// <summary>
/// The translate path end to end on a task known by construction: a tiny GPT fine-tuned to memorise eight
/// sentence pairs, in the shipped data's prompt format, must reproduce them exactly, so `translate --data`
/// on those pairs must report BLEU = chrF = 100.
/// </summary>
public class TranslatorTests
{
    static readonly (string En, string Fr)[] Pairs =
    [
        ("the cat is black", "le chat est noir"),
        ("the dog is white", "le chien est blanc"),
        ("the house is big", "la maison est grande"),
        ("the car is red", "la voiture est rouge"),
        ("the sea is blue", "la mer est bleue"),
        ("the tree is tall", "l' arbre est grand"),
        ("the bread is warm", "le pain est chaud"),
        ("the book is old", "le livre est vieux"),
    ];

    [Fact]
    public void MemorisedPairsScorePerfectBleuAndChrF()
    {
        string dir = TestUtil.TempDir("translate");
        string train = Path.Combine(dir, "train.jsonl"), test = Path.Combine(dir, "test.jsonl");
        File.WriteAllLines(train, Enumerable.Repeat(Pairs, 8).SelectMany(p => p)
            .Select(p => JsonSerializer.Serialize(new { prompt = $"English: {p.En}\nFrench:", completion = " " + p.Fr })));
        File.WriteAllLines(test, Pairs.Select(p => JsonSerializer.Serialize(new { source = p.En, target = p.Fr })));
        string output = Path.Combine(dir, "out");
        var r = CliHarness.Run(null, "finetune", "--arch", "gpt", "--layers", "2", "--hidden", "32", "--heads", "2", "--max-length", "32",
            "--train", train, "--output", output, "--max-steps", "250", "--batch-size", "8", "--lr", "5e-3", "--seed", "1", "--threads", "2"); // 250: seeds 1-3 all memorise (150 left seed 1 at BLEU 89)
        Assert.True(r.ExitCode == 0, r.ToString());

        var eval = CliHarness.Run(null, "translate", "--model", output, "--data", test, "--json", "--threads", "2");
        Assert.True(eval.ExitCode == 0, eval.ToString());
        using var doc = JsonDocument.Parse(eval.Stdout);
        Assert.Equal(100.0, doc.RootElement.GetProperty("bleu").GetDouble(), 6);
        Assert.Equal(100.0, doc.RootElement.GetProperty("chrf").GetDouble(), 6);
        Assert.Equal(8, doc.RootElement.GetProperty("count").GetInt32());

        // Beam search over the same prompts agrees, and one sentence translates on its own.
        var beam = CliHarness.Run(null, "translate", "--model", output, "--data", test, "--json", "--num-beams", "3", "--threads", "2");
        Assert.True(beam.ExitCode == 0, beam.ToString());
        using var beamDoc = JsonDocument.Parse(beam.Stdout);
        Assert.Equal(100.0, beamDoc.RootElement.GetProperty("bleu").GetDouble(), 6);
    }

    [Fact]
    public void PromptFormatNeedsThePlaceholder()
    {
        var bad = CliHarness.Run(null, "translate", "--model", "nowhere", "--data", "x.jsonl", "--prompt-format", "English:");
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("{src}", bad.Stderr);
    }
}
