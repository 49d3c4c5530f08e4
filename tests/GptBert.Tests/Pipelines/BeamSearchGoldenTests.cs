using System.Text.Json;
using GptBert.Pipelines;

namespace GptBert.Tests.Pipelines;

/// <summary>
/// Beam search against transformers 4.40's generate(num_beams=...) on the same tiny GPT-2 (Golden/beam-gpt2 and
/// Golden/beam-search.json, written by tools/hf-check/beam_golden.py): the same ids, token for token, and the same
/// sequence score, for 2-5 beams, positive, zero and negative length penalties, both early-stopping rules and
/// repetition penalties above and below 1.
/// </summary>
public class BeamSearchGoldenTests
{
    static readonly JsonElement Golden = JsonDocument.Parse(File.ReadAllText(
        RepoFiles.At("tests", "GptBert.Tests", "Pipelines", "Golden", "beam-search.json"))).RootElement;

    [Fact]
    public void EveryCaseMatchesTransformers()
    {
        using var h = ModelHub.Load(RepoFiles.At("tests", "GptBert.Tests", "Pipelines", "Golden", "beam-gpt2"));
        int cases = 0, endedWithEos = 0;
        foreach (var c in Golden.GetProperty("cases").EnumerateArray())
        {
            var prompt = c.GetProperty("prompt").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var expected = c.GetProperty("generated").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var options = new GenerationOptions
            {
                Greedy = true, MaxNewTokens = c.GetProperty("max_new_tokens").GetInt32(),
                RepetitionPenalty = c.GetProperty("repetition_penalty").GetDouble(),
            };
            var beams = new BeamOptions
            {
                NumBeams = c.GetProperty("num_beams").GetInt32(), LengthPenalty = c.GetProperty("length_penalty").GetDouble(),
                EarlyStopping = c.GetProperty("early_stopping").GetBoolean(),
            };
            var result = BeamSearch.Generate(h, prompt, options, beams);
            string what = $"case {cases}: prompt [{string.Join(",", prompt)}], {beams}, repetition {options.RepetitionPenalty}";
            Assert.True(expected.SequenceEqual(result.Ids), $"{what}: expected [{string.Join(",", expected)}], got [{string.Join(",", result.Ids)}]");
            Assert.True(Math.Abs(c.GetProperty("sequence_score").GetDouble() - result.Score) < 1e-4, $"{what}: score {result.Score} vs {c.GetProperty("sequence_score").GetDouble()}");
            if (result.Finish == FinishReason.EndOfText) endedWithEos++;
            cases++;
        }
        Assert.Equal(108, cases);
        Assert.Equal(Golden.GetProperty("cases_ending_with_eos").GetInt32(), endedWithEos);
    }

    [Fact]
    public void BeamsRefuseSamplingAndOneBeam()
    {
        Assert.Equal("NumBeams", Assert.Throws<GptBertException>(() => new BeamOptions { NumBeams = 1 }.Validate()).Parameter);
        using var h = ModelHub.Load(RepoFiles.At("tests", "GptBert.Tests", "Pipelines", "Golden", "beam-gpt2"));
        Assert.Throws<GptBertException>(() => BeamSearch.Generate(h, [5, 6], new GenerationOptions { Greedy = false }, new BeamOptions()));
    }

    [Fact]
    public void GenerateNumBeamsGivesTransformersIds()
    {
        // The golden model's tokenizer maps '!'..'P' to ids 0..47, so "&2*" is the prompt [5, 17, 9].
        var c = Golden.GetProperty("cases").EnumerateArray().First(c =>
            c.GetProperty("num_beams").GetInt32() == 3 && c.GetProperty("length_penalty").GetDouble() == 1.0 && !c.GetProperty("early_stopping").GetBoolean()
            && c.GetProperty("repetition_penalty").GetDouble() == 1.0 && c.GetProperty("prompt").GetArrayLength() == 3);
        string dir = RepoFiles.At("tests", "GptBert.Tests", "Pipelines", "Golden", "beam-gpt2");
        var r = Cli.CliHarness.Run(null, "generate", "--model", dir, "--prompt", "&2*", "--num-beams", "3", "--max-new-tokens", "12", "--jsonl", "--threads", "2");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(c.GetProperty("generated").EnumerateArray().Select(e => e.GetInt32()), Cli.CliHarness.Ints(r.JsonLines[0].GetProperty("ids")));
        Assert.Equal(c.GetProperty("sequence_score").GetDouble(), r.JsonLines[0].GetProperty("score").GetDouble(), 4);
        Cli.CliHarness.AssertOneLineError(Cli.CliHarness.Run(null, "generate", "--model", dir, "--prompt", "&", "--num-beams", "3", "--temperature", "0.5"), 2);
        Cli.CliHarness.AssertOneLineError(Cli.CliHarness.Run(null, "generate", "--model", dir, "--prompt", "&", "--length-penalty", "2"), 2);
    }
}
