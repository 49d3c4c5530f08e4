using System.Text.Json;
using GptBert.Pipelines;
using GptBert.Tests.Cli;
using GptBert.Tests.Compare;
using GptBert.Tokenizers;
using GptBert.Tokenizers.Training;
using GptBert.Training;

namespace GptBert.Tests.Pipelines;

/// <summary>
/// Generative question answering with a GPT: the prompt format and its loss mask (the answer and end-of-text only),
/// truncation from the prompt's start, and a tiny GPT that learns a copy-the-fruit task through
/// `gptbert finetune --task qa --arch gpt`, answers with `gptbert qa`, and is scored by `gptbert qa --data`.
/// </summary>
public class GenerativeQuestionAnsweringTests
{
    static ITextTokenizer Bpe(string dir)
    {
        var texts = TaskComparisonTests.FruitQuestions(200, 5).SelectMany(q => new[] { q.Q, q.C, "Context: Question: Answer:" });
        return TokenizerTraining.TrainAndSave(TokenizerTraining.Bpe, texts, dir, new TokenizerTrainingOptions { VocabSize = 1000 });
    }

    [Fact]
    public void PromptIsContextQuestionAnswerAndOnlyTheAnswerAndEndOfTextAreTrained()
    {
        var dir = TestUtil.TempDir("gqa-mask");
        var tok = Bpe(Path.Combine(dir, "tok"));
        var example = new QaExample("1", "which fruit ?", "the lemon of", [new QaSpan("lemon", 4)]);
        Assert.Equal("Context: the lemon of\nQuestion: which fruit ?\nAnswer:", GenerativeAnswerer.Prompt(example.Question, example.Context));

        var full = CompletionData.QuestionAnswering(tok, example, 512);
        var prompt = tok.Encode("Context: the lemon of\nQuestion: which fruit ?\nAnswer:", addSpecialTokens: false).Ids;
        int[] answer = [.. tok.Encode(" lemon", addSpecialTokens: false).Ids, tok.EosId!.Value];
        Assert.Equal([.. prompt, .. answer], full.Ids);
        Assert.Equal([.. prompt.Select(_ => false), .. answer.Select(_ => true)], full.Trained);

        // Too long: the prompt loses its first tokens; the question, "Answer:" and the trained answer stay.
        int max = answer.Length + 6;
        var cut = CompletionData.QuestionAnswering(tok, example, max);
        Assert.Equal(max, cut.Ids.Length);
        Assert.Equal([.. prompt[^6..], .. answer], cut.Ids);
        Assert.Equal(answer.Length, cut.Trained.Count(t => t));
        Assert.All(cut.Trained.Take(6), t => Assert.False(t));
    }

    [Fact]
    public void TinyGptLearnsToAnswerGenerativelyAndQaDataScoresIt()
    {
        var dir = TestUtil.TempDir("gqa-learn");
        var tokDir = Path.Combine(dir, "tok");
        Bpe(tokDir);
        var train = TaskComparisonTests.WriteQa(Path.Combine(dir, "train.jsonl"), TaskComparisonTests.FruitQuestions(400, 1));
        var dev = TaskComparisonTests.FruitQuestions(30, 2);
        var devPath = TaskComparisonTests.WriteQa(Path.Combine(dir, "dev.jsonl"), dev);
        var output = Path.Combine(dir, "out");

        var r = CliHarness.Run(null, "finetune", "--task", "qa", "--arch", "gpt", "--layers", "2", "--hidden", "64", "--heads", "2", "--dropout", "0",
            "--tokenizer", tokDir, "--max-length", "32", "--train", train, "--validation", devPath, "--output", output,
            "--max-steps", "150", "--batch-size", "32", "--lr", "3e-3", "--eval-every", "75", "--threads", "2", "--seed", "1");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("answer loss", r.Stdout);
        var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "config.json"))).RootElement;
        Assert.Equal("GPT2LMHeadModel", config.GetProperty("architectures")[0].GetString());

        // Exact match computed here by string equality, then by `qa --data` (SQuAD normalisation; the same on these words).
        double em;
        List<string> wrong;
        using (var answerer = new GenerativeAnswerer(output))
        {
            var answers = dev.Select(d => answerer.Answer(d.Q, d.C)).ToList();
            em = dev.Select((d, i) => answers[i] == d.A ? 1.0 : 0.0).Average();
            wrong = dev.Select((d, i) => (d, a: answers[i])).Where(x => x.a != x.d.A).Take(5).Select(x => $"'{x.d.C}' → '{x.a}' (gold '{x.d.A}')").ToList();
        }
        Assert.True(em >= 0.8, $"exact match {em} after training; {string.Join("; ", wrong)}; {r.Stdout}");
        var scored = CliHarness.Run(null, "qa", "--model", output, "--data", devPath, "--json", "--threads", "2");
        Assert.True(scored.ExitCode == 0, scored.ToString());
        var j = JsonDocument.Parse(scored.Stdout).RootElement;
        Assert.Equal(100 * em, j.GetProperty("exact_match").GetDouble(), 6);
        Assert.Equal(dev.Count, j.GetProperty("count").GetInt32());
        Assert.Equal("generated", j.GetProperty("answers").GetString());

        var one = dev[0];
        var plain = CliHarness.Run(null, "qa", "--model", output, "--question", one.Q, "--context", one.C, "--threads", "2");
        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.Single(plain.StdoutLines);
    }

    /// <summary>
    /// A GPT whose context is as long as its training examples (what `compare --task qa` trains: n_positions = max length):
    /// every answer must be whole. Training kept max length − answer tokens of each prompt; answering must keep as much,
    /// not max length − MaxNewTokens (which cut the context to its last few tokens, and answers to fragments such as "grap").
    /// </summary>
    [Fact]
    public void AnswersAreWholeWhenTheContextIsAsLongAsTrainingExamples()
    {
        var dir = TestUtil.TempDir("gqa-ctx");
        var tokDir = Path.Combine(dir, "tok");
        var rows = TaskComparisonTests.FruitQuestions(400, 1);
        // A small vocabulary learned from the questions and contexts only (as compare learns one): "Context" takes several
        // tokens and most fruits two or three, so answers are multi-token.
        var tok = TokenizerTraining.TrainAndSave(TokenizerTraining.Bpe, rows.SelectMany(r => new[] { r.Q, r.C }), tokDir, new TokenizerTrainingOptions { VocabSize = 300 });
        var train = TaskComparisonTests.WriteQa(Path.Combine(dir, "train.jsonl"), rows);
        var dev = TaskComparisonTests.FruitQuestions(30, 2);
        var output = Path.Combine(dir, "out");
        // Prompts of 34-36 tokens: with their answer and end-of-text most exceed the fine-tuning length, so training cut
        // their first tokens ("Context:"), and an answerer that keeps the whole prompt writes past every trained position.
        const int maxLength = 36;
        int Length(string q, string c) => tok.Encode(GenerativeAnswerer.Prompt(q, c), addSpecialTokens: false).Ids.Length;
        int Answer(string a) => tok.Encode(" " + a, addSpecialTokens: false).Ids.Length;
        Assert.True(dev.Count(d => Length(d.Q, d.C) + Answer(d.A) + 1 > maxLength) >= dev.Count / 3, string.Join(" ", dev.Select(d => $"{Length(d.Q, d.C)}+{Answer(d.A)}")));
        TestUtil.Init(1);
        TrainingRuns.Finetune(new FinetuneSpec
        {
            Task = "qa", Arch = "gpt", Shape = new ModelShape(Layers: 2, Hidden: 64, Heads: 2, MaxLength: maxLength, Dropout: 0), Tokenizer = tokDir,
            Train = train, Output = output, MaxLength = maxLength,
            Training = new TrainingOptions { MaxSteps = 150, BatchSize = 32, LearningRate = 3e-3, Seed = 1, EvalEvery = 0, SaveEvery = 0, LogEvery = 50 },
        });
        using var answerer = new GenerativeAnswerer(output);
        Assert.Equal(128, answerer.Handle.Config.MaxPositions);  // a from-scratch GPT has at least 128 positions
        var answers = dev.Select(d => answerer.Answer(d.Q, d.C)).ToList();
        double em = dev.Select((d, i) => answers[i] == d.A ? 1.0 : 0.0).Average();
        var wrong = dev.Select((d, i) => (d, a: answers[i])).Where(x => x.a != x.d.A).Take(5).Select(x => $"'{x.d.C}' → '{x.a}' (gold '{x.d.A}')");
        Assert.True(em >= 0.8, $"exact match {em}; {string.Join("; ", wrong)}");
    }

    [Theory]
    [InlineData("qa", "--model", "m", "--data", "d.jsonl", "--question", "Who?")]
    [InlineData("qa", "--model", "m", "--data", "d.jsonl", "--jsonl")]
    public void DataUsageErrorsAreOneLine(params string[] args)
    {
        CliHarness.AssertOneLineError(CliHarness.Run(null, args), exitCode: 2);
    }
}
