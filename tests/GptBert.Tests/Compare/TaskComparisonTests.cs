using System.Text.Json;
using GptBert.Compare;
using GptBert.Compare.Report;
using GptBert.Data;
using GptBert.Pipelines;
using GptBert.Training;
using GptBert.Tests.Cli;

namespace GptBert.Tests.Compare;

/// <summary>
/// `compare --task qa|ner`: tiny-budget end-to-end comparisons on known-by-construction data (copy-a-span QA,
/// capitalised-word NER), the shipped data/qa and data/ner checked against their schema (every answer a span of its
/// context, well-formed BIO), and the CLI's refusals.
/// </summary>
public class TaskComparisonTests
{
    static readonly string[] Fruits = "apple berry cherry grape lemon mango".Split(' ');
    static readonly string[] Fillers = "the of and to in on at by".Split(' ');

    /// <summary>Copy-a-span QA: "which fruit ?" over 6 filler words with one fruit at a random place; the answer is that fruit.</summary>
    internal static List<(string Q, string C, string A, int Start)> FruitQuestions(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ =>
        {
            var words = Enumerable.Range(0, 6).Select(_ => Fillers[rng.Next(Fillers.Length)]).ToList();
            string answer = Fruits[rng.Next(Fruits.Length)];
            int i = rng.Next(words.Count + 1);
            words.Insert(i, answer);
            return ("which fruit ?", string.Join(' ', words), answer, words.Take(i).Sum(w => w.Length + 1));
        }).ToList();
    }

    internal static string WriteQa(string path, List<(string Q, string C, string A, int Start)> rows)
    {
        File.WriteAllLines(path, rows.Select(r => JsonSerializer.Serialize(new { question = r.Q, context = r.C, answer = r.A, answer_start = r.Start })));
        return path;
    }

    /// <summary>Capitalised-word NER: lowercase filler words with one- or two-word capitalised names tagged PER.</summary>
    static string WriteNer(string path, int n, int seed)
    {
        var rng = new Random(seed);
        string[] names = ["Ada", "Bob", "Cy", "Dee", "Eve", "Flo"];
        var sb = new System.Text.StringBuilder();
        for (int s = 0; s < n; s++)
        {
            var words = Enumerable.Range(0, 5).Select(_ => (Word: Fillers[rng.Next(Fillers.Length)], Tag: "O")).ToList();
            int at = rng.Next(words.Count + 1);
            var name = new List<(string, string)> { (names[rng.Next(names.Length)], "B-PER") };
            if (rng.Next(2) == 0) name.Add((names[rng.Next(names.Length)], "I-PER"));
            words.InsertRange(at, name);
            foreach (var (w, t) in words) sb.Append(w).Append(' ').Append(t).Append('\n');
            sb.Append('\n');
        }
        File.WriteAllText(path, sb.ToString());
        return path;
    }

    static CompareSpec Spec(string dir, CompareTask task, string train, string test) => new()
    {
        Task = task, Train = train, Test = test, WorkDirectory = Path.Combine(dir, "work"), FromScratch = true, ScratchParameters = 60_000,
        ScratchVocabSize = 300, BudgetSteps = 40, Seeds = 1, MaxLength = 32, BatchSize = 16, ScratchLearningRate = 3e-3, LatencySamples = 3, EvalPoints = 2,
    };

    static JsonElement Json(ComparisonReport report) => JsonDocument.Parse(ReportJson.Serialize(report)).RootElement.Clone();

    [Fact]
    public void QaComparesExtractiveBertWithGenerativeGptBySquadF1()
    {
        TestUtil.Init();
        var dir = TestUtil.TempDir("cmp-qa");
        var train = WriteQa(Path.Combine(dir, "train.jsonl"), FruitQuestions(200, 1));
        var test = WriteQa(Path.Combine(dir, "test.jsonl"), FruitQuestions(20, 2));
        var report = ComparisonRunner.Run(Spec(dir, CompareTask.Qa, train, test), new RunReporting(Progress: TextWriter.Null));

        Assert.Equal(CompareTask.Qa, report.Task);
        var gpt = report.Candidates.Single(c => c.Family == "gpt");
        var bert = report.Candidates.Single(c => c.Family == "bert");
        Assert.Equal("GPT2LMHeadModel", gpt.Architecture);            // generative: a language model answers
        Assert.Equal("BertForQuestionAnswering", bert.Architecture);  // extractive: a start/end head
        Assert.All(report.Candidates, c =>
        {
            Assert.InRange(c.Quality["squad_f1"].Mean, 0, 1);
            Assert.InRange(c.Quality["squad_exact_match"].Mean, 0, c.Quality["squad_f1"].Mean); // EM never exceeds F1
            Assert.True(c.LatencyP50Ms > 0 && c.ThroughputPerSecond > 0 && c.SizeOnDiskBytes > 0 && c.Parameters > 0);
        });
        // The budget curves follow each family's selection metric: exact match (extractive), answer loss (generative).
        Assert.Equal("exact_match", bert.Curves.Single().Metric);
        Assert.Equal("loss", gpt.Curves.Single().Metric);

        var json = Json(report);
        Assert.Equal("qa", json.GetProperty("task").GetString());
        Assert.Equal("squad_f1", json.GetProperty("primary_metric").GetString());
        Assert.Contains(json.GetProperty("verdict").GetString(), new[] { "gpt", "bert", "either" });
        Assert.Contains(json.GetProperty("reasons").EnumerateArray(), r => r.GetString()!.Contains("SQuAD F1"));
        Assert.All(json.GetProperty("candidates").EnumerateArray(), c => Assert.True(c.GetProperty("quality").TryGetProperty("squad_f1", out _)));
        Assert.Contains("SQuAD F1", MarkdownReport.Render(report, []));
    }

    [Fact]
    public void NerComparesTokenClassifiersBySeqevalEntityF1()
    {
        TestUtil.Init();
        var dir = TestUtil.TempDir("cmp-ner");
        var train = WriteNer(Path.Combine(dir, "train.conll"), 200, 1);
        var test = WriteNer(Path.Combine(dir, "test.conll"), 20, 2);
        var report = ComparisonRunner.Run(Spec(dir, CompareTask.Ner, train, test), new RunReporting(Progress: TextWriter.Null));

        Assert.Equal(["BertForTokenClassification", "GPT2ForTokenClassification"], report.Candidates.Select(c => c.Architecture).Order());
        Assert.All(report.Candidates, c =>
        {
            foreach (var m in new[] { "entity_f1", "entity_precision", "entity_recall", "token_accuracy" }) Assert.InRange(c.Quality[m].Mean, 0, 1);
            // F1 is the harmonic mean of precision and recall (seqeval), so it lies between them.
            var (p, r, f) = (c.Quality["entity_precision"].Mean, c.Quality["entity_recall"].Mean, c.Quality["entity_f1"].Mean);
            Assert.InRange(f, Math.Min(p, r) - 1e-9, Math.Max(p, r) + 1e-9);
        });
        var json = Json(report);
        Assert.Equal("ner", json.GetProperty("task").GetString());
        Assert.Equal("entity_f1", json.GetProperty("primary_metric").GetString());
        Assert.Contains(json.GetProperty("verdict").GetString(), new[] { "gpt", "bert", "either" });
        Assert.Contains(json.GetProperty("reasons").EnumerateArray(), r => r.GetString()!.Contains("entity F1"));
    }

    // ------------------------------------------------------------------ the shipped data

    [Theory]
    [InlineData("train", 400, 2000)]
    [InlineData("validation", 30, 400)]
    [InlineData("test", 150, 500)]
    public void ShippedQaAnswersAreSpansOfTheirContexts(string split, int min, int max)
    {
        var path = RepoFiles.At("data", "qa", split + ".jsonl");
        var lines = File.ReadAllLines(path).Where(l => l.Length > 0).ToList();
        Assert.InRange(lines.Count, min, max);
        foreach (var line in lines)
        {
            var o = JsonDocument.Parse(line).RootElement;
            string context = o.GetProperty("context").GetString()!, answer = o.GetProperty("answer").GetString()!;
            int start = o.GetProperty("answer_start").GetInt32();
            Assert.False(string.IsNullOrWhiteSpace(o.GetProperty("question").GetString()));
            Assert.True(answer.Length > 0 && start >= 0 && start + answer.Length <= context.Length, line);
            Assert.True(context.Substring(start, answer.Length) == answer, line);
            Assert.Matches("^(kjv|sotu) ", o.GetProperty("source").GetString());
        }
        // The reader agrees: every row is kept, none skipped for a bad answer_start.
        var warnings = new List<string>();
        Assert.Equal(lines.Count, QaData.Load(path, warnings.Add).Count);
        Assert.Empty(warnings);
    }

    [Fact]
    public void ShippedQaSplitsShareNoContext()
    {
        HashSet<string> Contexts(string split) => File.ReadLines(RepoFiles.At("data", "qa", split + ".jsonl"))
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("context").GetString()!).ToHashSet();
        var train = Contexts("train");
        Assert.Empty(Contexts("test").Intersect(train));
        Assert.Empty(Contexts("validation").Intersect(train));
    }

    [Theory]
    [InlineData("train", 800)]
    [InlineData("validation", 50)]
    [InlineData("test", 100)]
    public void ShippedNerIsWellFormedBio(string split, int min)
    {
        var path = RepoFiles.At("data", "ner", split + ".conll");
        var allowed = new HashSet<string> { "O", "B-PER", "I-PER", "B-LOC", "I-LOC" };
        string previous = "O";
        int sentences = 0, entities = 0, lineNo = 0;
        bool inSentence = false;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (line.Length == 0) { previous = "O"; inSentence = false; continue; }
            if (!inSentence) { sentences++; inSentence = true; }
            var cols = line.Split(' ');
            Assert.True(cols.Length == 2 && cols[0].Length > 0, $"{split} line {lineNo}: '{line}'");
            var tag = cols[1];
            Assert.Contains(tag, allowed);
            // Strict BIO: I-X only continues a B-X or I-X of the same type.
            if (tag.StartsWith("I-")) Assert.True(previous is not "O" && previous[2..] == tag[2..], $"{split} line {lineNo}: {tag} after {previous}");
            if (tag.StartsWith("B-")) entities++;
            previous = tag;
        }
        Assert.True(sentences >= min, $"{split}: {sentences} sentences");
        Assert.True(entities >= sentences / 2, $"{split}: {entities} entities in {sentences} sentences");
        var data = TaggedSentences.Load(path);
        Assert.Equal(sentences, data.Count);
        Assert.Equal(0, data.Skipped.Count);
    }

    // ------------------------------------------------------------------ CLI

    [Theory]
    [InlineData("compare", "--task", "bogus", "--train", "t.jsonl", "--test", "t.jsonl", "--from-scratch", "--max-steps", "5")]
    [InlineData("compare", "--task", "qa", "--max-steps", "5")]
    [InlineData("compare", "--task", "ner", "--from-scratch")]
    public void CompareUsageErrorsAreOneLine(params string[] args)
    {
        var line = CliHarness.AssertOneLineError(CliHarness.Run(null, args), exitCode: 2);
        if (args[2] == "bogus") Assert.Contains("qa, ner, summarize, translate or chat", line);
    }

    [Fact]
    public void CompareHelpTeachesTheNewTasks()
    {
        var r = CliHarness.Run(null, "compare", "--help");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("classify|generate|search|qa|ner", r.Stdout);
        Assert.Contains("--task qa", r.Stdout);
        Assert.Contains("data/qa", r.Stdout);
    }
}
