using GptBert.Pipelines;
using GptBert.Tests.Cli;

namespace GptBert.Tests.Pipelines;

/// <summary>
/// Generate-then-rerank: the pick is the candidate a known-by-construction scorer ranks first (ties: the earliest),
/// candidates are sampled with seeds Seed + i, and the summarizer returns the judge's pick among exactly the samples
/// its GPT draws with those seeds; the CLI's one-line errors.
/// </summary>
public class CandidateRerankingTests
{
    [Fact]
    public void ThePickIsTheCandidateTheScorerRanksFirst()
    {
        string[] candidates = ["a", "bbb", "cc", "dddd", "ee"];
        // Scorer by construction: the length of the candidate; "dddd" is longest.
        var ranked = CandidateReranking.Pick(candidates, candidates.Select(c => (double)c.Length).ToList());
        Assert.Equal(3, ranked.Chosen);
        Assert.Equal("dddd", ranked.Best);
        // Ties go to the earliest; NaN never wins over a number.
        Assert.Equal(1, CandidateReranking.Pick(candidates, [0.1, 0.9, 0.9, 0.2, 0.9]).Chosen);
        Assert.Equal(2, CandidateReranking.Pick(candidates, [double.NaN, -1, 5, double.NaN, 4]).Chosen);
        Assert.Equal(0, CandidateReranking.Pick(["only"], [-3]).Chosen);

        Assert.Equal("NumCandidates", Assert.Throws<GptBertException>(() => CandidateReranking.Pick([], [])).Parameter);
        Assert.Contains("one per candidate", Assert.Throws<GptBertException>(() => CandidateReranking.Pick(candidates, [1, 2])).Message);
    }

    [Fact]
    public void CandidatesAreSampledWithSeedPlusIndexAndJudgedAgainstTheReference()
    {
        var seen = new List<GenerationOptions>();
        string Generate(GenerationOptions o) { seen.Add(o); return $"candidate {o.Seed}"; }
        var baseOptions = new GenerationOptions { Greedy = true, MaxNewTokens = 7, Stop = ["\n"] };
        var options = new CandidateOptions { NumCandidates = 4, Seed = 10, Temperature = 0.7, TopP = 0.9 };
        string? judgedReference = null;
        // The judge prefers the candidate whose seed is 12.
        var ranked = CandidateReranking.GenerateAndPick(Generate, baseOptions, options, "the document", (reference, cands) =>
        {
            judgedReference = reference;
            return cands.Select(c => c == "candidate 12" ? 1.0 : 0.0).ToList();
        });
        Assert.Equal("candidate 12", ranked.Best);
        Assert.Equal("the document", judgedReference);
        Assert.Equal([10L, 11L, 12L, 13L], seen.Select(o => o.Seed!.Value));
        Assert.All(seen, o => { Assert.False(o.Greedy); Assert.Equal(0.7, o.Temperature); Assert.Equal(0.9, o.TopP); Assert.Equal(0, o.TopK); Assert.Equal(7, o.MaxNewTokens); });

        Assert.Equal("NumCandidates", Assert.Throws<GptBertException>(() => new CandidateOptions { NumCandidates = 0 }.Validate()).Parameter);
        Assert.Equal("Temperature", Assert.Throws<GptBertException>(() => new CandidateOptions { Temperature = 0 }.Validate()).Parameter);
        Assert.Equal("TopP", Assert.Throws<GptBertException>(() => new CandidateOptions { TopP = 1.5 }.Validate()).Parameter);
    }

    [Fact]
    public void TheSummarizerReturnsTheJudgesPickAmongItsOwnSamples()
    {
        TestUtil.Init(1);
        using var gpt = ModelHub.Load(TinyModels.Gpt2, "GPT2LMHeadModel", "gpt2", "cpu");
        var options = new GenerationOptions { MaxNewTokens = 6 };
        var candidates = new CandidateOptions { NumCandidates = 5, Seed = 3, Temperature = 1.0, TopP = 1.0 };
        // A judge known by construction: the candidate with the most characters (a random tiny GPT writes varied lengths).
        CandidateScorer longest = (_, cands) => cands.Select(c => (double)c.Length).ToList();
        var summarizer = Summarizer.Abstractive(gpt, options, reranking: new GenerateThenRerank(candidates, longest));
        const string doc = "The whale surfaced near the ship. The crew lowered the boats.";
        var summary = summarizer.Summarize(doc);
        var ranked = summary.Candidates!;

        // The candidates are what the model samples with seeds 3..7, cut at the first newline and trimmed.
        var generator = new Generator(gpt);
        var expected = Enumerable.Range(0, 5).Select(i =>
        {
            string text = generator.Generate(summarizer.FormatPrompt(doc), candidates.ForCandidate(options with { Greedy = true, Stop = ["\n"] }, i)).Text;
            int nl = text.IndexOf('\n');
            return (nl >= 0 ? text[..nl] : text).Trim();
        }).ToList();
        Assert.Equal(expected, ranked.Texts);
        int longestIndex = Enumerable.Range(0, 5).OrderByDescending(i => expected[i].Length).ThenBy(i => i).First();
        Assert.Equal(longestIndex, ranked.Chosen);
        Assert.Equal(expected[longestIndex], summary.Text);

        // Evaluation shares the candidates: rerank-5 is the judge's pick, sample-1 is candidate 0, oracle-5 is at least as good as both.
        var rows = summarizer.EvaluateReranking([new SummarizationExample(doc, summarizer.FormatPrompt(doc), "The whale surfaced.")]);
        Assert.Equal(["abstractive", "sample-1", "rerank-5", "oracle-5"], rows.Select(r => r.Name));
        Assert.Equal(expected[longestIndex], rows[2].Summaries[0]);
        Assert.Equal(expected[0], rows[1].Summaries[0]);
        Assert.True(rows[3].Rouge.RougeL.FMeasure >= Math.Max(rows[1].Rouge.RougeL.FMeasure, rows[2].Rouge.RougeL.FMeasure));
    }

    [Fact]
    public void CliRefusesRerankingWhereItDoesNotApply()
    {
        // Extractive summaries are not sampled; --rerank-with without --num-candidates; beams and candidates together.
        CliHarness.AssertOneLineError(CliHarness.Run(null, "summarize", "--text", "One. Two.", "--num-candidates", "4"), 2);
        CliHarness.AssertOneLineError(CliHarness.Run(null, "summarize", "--model", TinyModels.Gpt2, "--tokenizer", "gpt2", "--text", "One. Two.", "--rerank-with", "minilm"), 2);
        CliHarness.AssertOneLineError(CliHarness.Run(null, "summarize", "--model", TinyModels.Gpt2, "--tokenizer", "gpt2", "--text", "One. Two.", "--num-candidates", "2", "--num-beams", "2"), 2);
        CliHarness.AssertOneLineError(CliHarness.Run(null, "summarize", "--model", TinyModels.Gpt2, "--tokenizer", "gpt2", "--text", "One. Two.", "--num-candidates", "2", "--temperature", "0"), 2);

        var ok = CliHarness.Run(null, "summarize", "--model", TinyModels.Gpt2, "--tokenizer", "gpt2", "--text", "The whale surfaced. The crew rowed.",
            "--num-candidates", "3", "--max-new-tokens", "4", "--seed", "2", "--json", "--threads", "2");
        Assert.True(ok.ExitCode == 0, ok.ToString());
        var c = System.Text.Json.JsonDocument.Parse(ok.Stdout).RootElement.GetProperty("candidates");
        Assert.Equal(3, c.GetArrayLength());
        Assert.Equal(1, c.EnumerateArray().Count(x => x.GetProperty("chosen").GetBoolean()));
        var chosen = c.EnumerateArray().First(x => x.GetProperty("chosen").GetBoolean());
        Assert.Equal(chosen.GetProperty("text").GetString(), System.Text.Json.JsonDocument.Parse(ok.Stdout).RootElement.GetProperty("summary").GetString());
        Assert.Equal(c.EnumerateArray().Max(x => x.GetProperty("score").GetDouble()), chosen.GetProperty("score").GetDouble());
    }
}

/// <summary>`generate --num-candidates`: the printed text is the candidate with the best score, and each candidate is the seed S + i sample.</summary>
public class CliGenerateRerankTests
{
    [Fact]
    public void GeneratePrintsTheBestScoredOfItsSeededSamples()
    {
        var r = CliHarness.Run(null, "generate", "--model", TinyModels.Gpt2, "--tokenizer", "gpt2", "--prompt", "The whale", "--max-new-tokens", "4",
            "--num-candidates", "3", "--seed", "5", "--reference", "the sea", "--jsonl", "--threads", "2");
        Assert.True(r.ExitCode == 0, r.ToString());
        var o = r.JsonLines[0];
        var c = o.GetProperty("candidates").EnumerateArray().ToList();
        Assert.Equal(3, c.Count);
        int chosen = o.GetProperty("chosen").GetInt32();
        Assert.Equal(c.Max(x => x.GetProperty("score").GetDouble()), c[chosen].GetProperty("score").GetDouble());
        Assert.Equal(c[chosen].GetProperty("text").GetString(), o.GetProperty("text").GetString());
        // Candidate 1 is the sample with seed 6.
        var one = CliHarness.Run(null, "generate", "--model", TinyModels.Gpt2, "--tokenizer", "gpt2", "--prompt", "The whale", "--max-new-tokens", "4", "--seed", "6", "--jsonl", "--threads", "2");
        Assert.Equal(one.JsonLines[0].GetProperty("text").GetString(), c[1].GetProperty("text").GetString());

        CliHarness.AssertOneLineError(CliHarness.Run(null, "generate", "--model", TinyModels.Gpt2, "--tokenizer", "gpt2", "--prompt", "x", "--num-candidates", "2", "--greedy"), 2);
        CliHarness.AssertOneLineError(CliHarness.Run(null, "generate", "--model", TinyModels.Gpt2, "--tokenizer", "gpt2", "--prompt", "x", "--reference", "y"), 2);
    }
}

/// <summary>Generative QA with generate-then-rerank: the answer is the judge's pick among the seeded samples.</summary>
public class GenerativeAnswerRerankTests
{
    [Fact]
    public void TheAnswerIsTheJudgesPickAndTheCliRefusesExtractiveModels()
    {
        TestUtil.Init(1);
        var candidates = new CandidateOptions { NumCandidates = 4, Seed = 9 };
        var judged = new List<IReadOnlyList<string>>();
        string? reference = null;
        // Known by construction: the judge prefers the shortest candidate (ties: the earliest).
        CandidateScorer shortest = (r, c) => { reference = r; judged.Add(c); return c.Select(x => -(double)x.Length).ToList(); };
        string dir = TestUtil.TempDir("qa-rerank-gpt");
        foreach (var f in Directory.GetFiles(TinyModels.Gpt2)) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)), true);
        GptBert.Tokenizers.TokenizerLoader.Load("gpt2").Save(dir);
        using var answerer = new GenerativeAnswerer(dir, maxNewTokens: 5, reranking: new GenerateThenRerank(candidates, shortest));
        string answer = answerer.Answer("Who?", "Ahab hunts the whale.");
        Assert.Equal("Ahab hunts the whale.", reference);
        var c = judged.Single();
        Assert.Equal(4, c.Count);
        Assert.Equal(c.OrderBy(x => x.Length).First(), answer);

        CliHarness.AssertOneLineError(CliHarness.Run(null, "qa", "--model", TinyModels.BertMlm, "--question", "Who?", "--context", "Ahab.", "--num-candidates", "3"), 2);
        CliHarness.AssertOneLineError(CliHarness.Run(null, "qa", "--model", dir, "--question", "Who?", "--context", "Ahab.", "--rerank-with", "minilm"), 2);
    }
}
