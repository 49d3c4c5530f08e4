using GptBert.Reporting;

namespace GptBert.Tests.Cli;

/// <summary>`gptbert score` through the in-process CLI: sacreBLEU's and seqeval's documented examples, and its errors.</summary>
public class CliScoreTests
{
    static (string Hyp, string Ref) Files(string hyp, string reference)
    {
        var dir = TestUtil.TempDir("score");
        var h = Path.Combine(dir, "hyp.txt");
        var r = Path.Combine(dir, "ref.txt");
        File.WriteAllText(h, hyp);
        File.WriteAllText(r, reference);
        return (h, r);
    }

    [Fact]
    public void BleuWithTwoReferencesPrintsSacrebleusLine()
    {
        var (h, r) = Files(
            "The dog bit the man.\nIt wasn't surprising.\nThe man had just bitten him.\n",
            "[\"The dog bit the man.\", \"The dog had bit the man.\"]\n[\"It was not unexpected.\", \"No one was surprised.\"]\n[\"The man bit him first.\", \"The man had bitten the dog.\"]\n");
        var result = CliHarness.Run(null, "score", "--metric", "bleu", "--predictions", h, "--references", r);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)", result.StdoutLines.Single());
        var chrf = CliHarness.Run(null, "score", "-m", "chrf", "-p", h, "-r", r);
        Assert.Equal("chrF2 = 59.73", chrf.StdoutLines.Single());
    }

    [Fact]
    public void SeqevalJsonInBothModes()
    {
        var (h, r) = Files("I-NP I-NP O\n", "B-NP I-NP O\n");
        var strict = CliHarness.Run(null, "score", "--metric", "seqeval", "--predictions", h, "--references", r, "--json").JsonLines.Single();
        Assert.Equal(0.0, strict.GetProperty("f1").GetDouble());
        Assert.Equal("strict", strict.GetProperty("mode").GetString());
        var lenient = CliHarness.Run(null, "score", "--metric", "seqeval", "--mode", "default", "--predictions", h, "--references", r, "--json").JsonLines.Single();
        Assert.Equal(1.0, lenient.GetProperty("f1").GetDouble());
        Assert.Equal(1, lenient.GetProperty("per_type").GetProperty("NP").GetProperty("support").GetInt32());
    }

    [Fact]
    public void SquadReferencesAsJsonLists()
    {
        var (h, r) = Files("Santa Clara\n\n", "[\"Levi's Stadium\", \"Santa Clara, California\"]\n[]\n");
        var json = CliHarness.Run(null, "score", "--metric", "squad", "--predictions", h, "--references", r, "--json").JsonLines.Single();
        Assert.Equal(50, json.GetProperty("exact_match").GetDouble(), 1e-9);
        Assert.Equal(90, json.GetProperty("f1").GetDouble(), 1e-9);
    }

    [Fact]
    public void MismatchedLineCountsAreAOneLineError()
    {
        var (h, r) = Files("a\nb\n", "a\n");
        var line = CliHarness.AssertOneLineError(CliHarness.Run(null, "score", "--metric", "rouge", "--predictions", h, "--references", r));
        Assert.Contains("--predictions has 2 lines but --references has 1", line);
    }

    [Fact]
    public void HelpTeachesWithExamples()
    {
        var help = CliHarness.Run(null, "score", "--help");
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("sacreBLEU", help.Stdout);
        Assert.Contains("gptbert score --metric bleu", help.Stdout);
    }
}
