using System.Text.Json;
using GptBert.Data;
using GptBert.Pipelines;
using GptBert.Tests.Cli;
using GptBert.Tokenizers;
using GptBert.Training;

namespace GptBert.Tests.Pipelines;

/// <summary>
/// Extractive QA: run_qa.py's windows and labels, postprocess_qa_predictions' decoding mapped back through offsets,
/// the SQuAD/JSONL reader, and a tiny BERT that learns a copy-a-span task through `gptbert finetune --task qa`.
/// </summary>
public class QuestionAnsweringTests
{
    static readonly ITextTokenizer Bert = TokenizerLoader.Load(TokenizerLoader.BertBaseUncased);

    /// <summary>The token indices of <paramref name="f"/> whose offsets start at <paramref name="start"/> and end at <paramref name="end"/>.</summary>
    static (int S, int E) TokensOf(QaFeature f, int start, int end)
    {
        int s = Enumerable.Range(f.ContextStart, f.ContextEnd - f.ContextStart).Single(i => f.Encoding.Offsets[i].Start == start);
        int e = Enumerable.Range(f.ContextStart, f.ContextEnd - f.ContextStart).Single(i => f.Encoding.Offsets[i].End == end);
        return (s, e);
    }

    /// <summary>Logits that put all the weight on (s, e) (and <paramref name="score"/> on each), zero elsewhere.</summary>
    static (float[], float[]) Peak(QaFeature f, int s, int e, float score = 10)
    {
        var start = new float[f.Encoding.Length]; var end = new float[f.Encoding.Length];
        start[s] = score; end[e] = score;
        return (start, end);
    }

    [Theory]
    [InlineData("Zoë Ångström")]   // accents: uncased BERT strips them, the answer keeps them
    [InlineData("北京市")]           // CJK: one token per character
    [InlineData("😀")]              // an emoji: one [UNK] over a surrogate pair
    [InlineData("naïve café 😀 東京")]
    public void AnswersMapBackToTheExactOriginalCharacters(string answer)
    {
        string context = $"Le livre de  {answer}  est là, près du parc.";
        int startChar = context.IndexOf(answer, StringComparison.Ordinal);
        var features = QuestionAnswering.Features(Bert, "  Qui?", context, new QaSpan(answer, startChar), 0, new QaOptions { MaxLength = 64 });
        var f = Assert.Single(features);
        var (s, e) = TokensOf(f, startChar, startChar + answer.Length);
        // The training labels are those tokens (run_qa's prepare_train_features).
        Assert.Equal((s, e), (f.StartPosition, f.EndPosition));
        Assert.Equal(0, f.Encoding.SequenceIds[f.ContextStart - 1] + 1); // [SEP] before the context
        Assert.Equal("[CLS]", f.Encoding.Tokens[0]);
        Assert.Equal(1, f.Encoding.TypeIds[f.ContextStart]);

        var p = QuestionAnswering.Decode(context, features, [Peak(f, s, e)], new QaOptions());
        Assert.Equal(answer, p.Answer);
        Assert.Equal((startChar, startChar + answer.Length), (p.Start, p.End));
        Assert.Equal(answer, context[p.Start..p.End]);
    }

    [Fact]
    public void WindowsFollowTheStrideAndAnAnswerInTwoWindowsIsReturnedOnce()
    {
        // 60 one-token words; MaxLength 24 with a 3-token question ("where is it" → 3 tokens) leaves 24 − 3 − 3 = 18
        // context tokens per window; stride 6 → windows start at tokens 0, 12, 24, 36, 48 (step 18 − 6 = 12).
        var words = Enumerable.Range(0, 60).Select(i => i % 2 == 0 ? "red" : "blue").ToArray();
        words[14] = "paris"; words[15] = "france";
        string context = string.Join(' ', words);
        var options = new QaOptions { MaxLength = 24, DocStride = 6 };
        var features = QuestionAnswering.Features(Bert, "where is it", context, null, 0, options);
        Assert.Equal(5, features.Count);
        for (int w = 0; w < features.Count; w++)
        {
            var f = features[w];
            Assert.Equal(1 + 3 + 1, f.ContextStart);
            int first = 12 * w, last = Math.Min(first + 18, 60) - 1;
            Assert.Equal(WordStart(words, first), f.Encoding.Offsets[f.ContextStart].Start);
            Assert.Equal(WordStart(words, last) + words[last].Length, f.Encoding.Offsets[f.ContextEnd - 1].End);
            Assert.Equal(f.ContextEnd + 1, f.Encoding.Length); // the final [SEP]
            Assert.True(f.Encoding.Length <= 24);
        }

        // "paris france" (tokens 14-15) lies in window 0 (tokens 0-17) and window 1 (tokens 12-29).
        int startChar = WordStart(words, 14), endChar = WordStart(words, 15) + "france".Length;
        var labelled = QuestionAnswering.Features(Bert, "where is it", context, new QaSpan(context[startChar..endChar], startChar), 0, options);
        Assert.Equal([true, true, false, false, false], labelled.Select(f => f.StartPosition != 0).ToArray());
        var logits = labelled.Select((f, w) => w < 2 ? Peak(f, f.StartPosition, f.EndPosition, w == 0 ? 10 : 9) : (new float[f.Encoding.Length], new float[f.Encoding.Length])).ToList();

        var top = QuestionAnswering.Decode(context, labelled, logits, options, topK: 20);
        Assert.Equal("paris france", top[0].Answer);
        Assert.Equal((startChar, endChar), (top[0].Start, top[0].End));
        Assert.Single(top, a => a.Start == startChar && a.End == endChar);
        Assert.Equal(top.Count, top.Select(a => (a.Start, a.End)).Distinct().Count());
    }

    static int WordStart(string[] words, int index) => words.Take(index).Sum(w => w.Length + 1);

    [Fact]
    public void NoAnswerWinsOnlyWhenTheNullScoreBeatsTheBestSpanByTheThreshold()
    {
        string context = "the cat sat on the mat";
        var f = Assert.Single(QuestionAnswering.Features(Bert, "who sat", context, null, 0, new QaOptions { MaxLength = 32 }));
        var (s, e) = TokensOf(f, 4, 7); // "cat"
        var (start, end) = Peak(f, s, e, 5); // span score 10
        start[0] = 6; end[0] = 6;            // null score 12
        var v2 = new QaOptions { AllowNoAnswer = true };
        var none = QuestionAnswering.Decode(context, [f], [(start, end)], v2);
        Assert.True(none.IsNoAnswer);
        Assert.Equal("", none.Answer);
        // 12 − 10 = 2 is not more than a threshold of 2.5: the span stands.
        Assert.Equal("cat", QuestionAnswering.Decode(context, [f], [(start, end)], v2 with { NullScoreDiffThreshold = 2.5 }).Answer);
        // SQuAD v1.1 decoding never answers "nothing".
        Assert.Equal("cat", QuestionAnswering.Decode(context, [f], [(start, end)], new QaOptions()).Answer);
        // Spans longer than MaxAnswerLength or ending before they start are never candidates.
        var (s2, e2) = TokensOf(f, 0, context.Length);
        var (ls, le) = Peak(f, s2, e2, 10);
        Assert.NotEqual(context, QuestionAnswering.Decode(context, [f], [(ls, le)], new QaOptions { MaxAnswerLength = 3 }).Answer);
        var (mat, _) = TokensOf(f, 19, 22);
        var rs = new float[f.Encoding.Length]; var re = new float[f.Encoding.Length];
        rs[mat] = 20; re[e] = 20; // the best start ("mat") comes after the best end ("cat")
        var p = QuestionAnswering.Decode(context, [f], [(rs, re)], new QaOptions());
        Assert.True(p.End > p.Start && p.Answer != context[19..22] + context[4..7]);
    }

    /// <summary>
    /// Decoding against transformers' postprocess_qa_predictions on 48 seeded cases (Golden/qa-postprocess.json, written by
    /// tools/qa-check/postprocess_golden.py): windows of a context with a stride, random logits, SQuAD v1.1 and v2.0
    /// settings with several n-best sizes, answer lengths and null thresholds; the answers are the same text.
    /// </summary>
    [Fact]
    public void DecodingMatchesTransformersPostprocessQaPredictions()
    {
        var golden = JsonDocument.Parse(File.ReadAllText(RepoFiles.At("tests", "GptBert.Tests", "Pipelines", "Golden", "qa-postprocess.json"))).RootElement;
        int n = 0;
        foreach (var c in golden.GetProperty("cases").EnumerateArray())
        {
            string context = c.GetProperty("context").GetString()!;
            var features = new List<QaFeature>();
            var logits = new List<(float[], float[])>();
            foreach (var f in c.GetProperty("features").EnumerateArray())
            {
                var offsets = f.GetProperty("offsets").EnumerateArray()
                    .Select(o => o.ValueKind == JsonValueKind.Null ? ((int, int)?)null : (o[0].GetInt32(), o[1].GetInt32())).ToArray();
                int first = Array.FindIndex(offsets, o => o is not null), last = Array.FindLastIndex(offsets, o => o is not null);
                int T = offsets.Length;
                var enc = new TokenizedText(new int[T], new string[T], new int[T], Enumerable.Repeat(1, T).ToArray(),
                    offsets.Select(o => o ?? (0, 0)).ToArray(), offsets.Select(o => o is null ? -1 : 1).ToArray(), false);
                features.Add(new QaFeature(0, enc, first, last + 1, 0, 0));
                logits.Add((f.GetProperty("start_logits").EnumerateArray().Select(x => (float)x.GetDouble()).ToArray(),
                            f.GetProperty("end_logits").EnumerateArray().Select(x => (float)x.GetDouble()).ToArray()));
            }
            var options = new QaOptions
            {
                AllowNoAnswer = c.GetProperty("version_2_with_negative").GetBoolean(), NBest = c.GetProperty("n_best_size").GetInt32(),
                MaxAnswerLength = c.GetProperty("max_answer_length").GetInt32(), NullScoreDiffThreshold = c.GetProperty("null_score_diff_threshold").GetDouble(),
            };
            string expected = c.GetProperty("answer").GetString()!;
            if (expected == "empty") expected = ""; // transformers' placeholder when no span qualifies
            string actual = QuestionAnswering.Decode(context, features, logits, options).Answer;
            Assert.True(expected == actual, $"case {n}: expected '{expected}', got '{actual}'");
            n++;
        }
        Assert.Equal(48, n);
    }

    [Theory]
    [InlineData("qa", "--model", "m", "--question", "Who?")]
    [InlineData("qa", "--model", "m", "--question", "Who?", "--context", "Me.", "--input", "q.jsonl")]
    [InlineData("finetune", "--task", "qa", "--arch", "bert", "--train", "t.jsonl", "--output", "o", "--augment")]
    [InlineData("finetune", "--arch", "bert", "--train", "t.csv", "--output", "o", "--doc-stride", "16")]
    public void UsageErrorsAreOneLineWithTheFix(params string[] args)
    {
        CliHarness.AssertOneLineError(CliHarness.Run(null, args), exitCode: 2);
    }

    [Fact]
    public void SquadJsonV2AndJsonlAreReadAndBadAnswerStartsAreSkippedWithACountedWarning()
    {
        var dir = TestUtil.TempDir("qa-data");
        var squad = Path.Combine(dir, "dev-v2.0.json");
        File.WriteAllText(squad, """
            {"version": "v2.0", "data": [{"title": "T", "paragraphs": [
              {"context": "Ada Lovelace wrote the first program in 1843.", "qas": [
                {"id": "q1", "question": "Who wrote it?", "answers": [{"text": "Ada Lovelace", "answer_start": 0}, {"text": "Lovelace", "answer_start": 4}], "is_impossible": false},
                {"id": "q2", "question": "When?", "answers": [{"text": "1843", "answer_start": 40}, {"text": "1843", "answer_start": 3}], "is_impossible": false},
                {"id": "q3", "question": "Where?", "answers": [], "plausible_answers": [{"text": "program", "answer_start": 27}], "is_impossible": true},
                {"id": "q4", "question": "What?", "answers": [{"text": "program", "answer_start": 5}], "is_impossible": false}
              ]}]}]}
            """);
        var warnings = new List<string>();
        var examples = QaData.Load(squad, warnings.Add);
        Assert.Equal(["q1", "q2", "q3"], examples.Select(e => e.Id).ToArray());
        Assert.Equal(2, examples[0].Answers.Count);
        Assert.Equal("1843", Assert.Single(examples[1].Answers).Text); // the bad second answer dropped
        Assert.True(examples[2].IsImpossible);
        Assert.False(examples[2].HasAnswer);
        var w = Assert.Single(warnings);
        Assert.Contains("2 answer(s) whose answer_start does not point at the answer text", w);
        Assert.Contains("1 question(s) left with no answer were skipped", w);

        var jsonl = Path.Combine(dir, "train.jsonl");
        File.WriteAllLines(jsonl,
        [
            """{"question": "Qui?", "context": "C'est Zoë.", "answer": "Zoë", "answer_start": 6}""",
            """{"question": "Où?", "context": "Nulle part.", "answer": ""}""",
            """{"question": "Quoi?", "context": "Rien.", "answer": "Rien", "answer_start": 2}""",
        ]);
        warnings.Clear();
        var rows = QaData.Load(jsonl, warnings.Add);
        Assert.Equal(2, rows.Count);
        Assert.Equal("Zoë", rows[0].Answers[0].Text);
        Assert.False(rows[1].HasAnswer);
        Assert.Contains("1 answer(s)", Assert.Single(warnings));
    }

    [Fact]
    public void TinyBertLearnsCopyASpanThroughFinetuneAndTheSavedModelAnswers()
    {
        // Contexts of 6 filler words with a "colour fruit" pair at a random place; "which fruit ?" is answered by the
        // two-word span (start on the colour, end on the fruit): a span by construction, at a different place each time.
        var fruits = "apple berry cherry grape lemon mango".Split(' ');
        var colours = "red blue green pink grey black".Split(' ');
        var fillers = "the of and to in on at by".Split(' ');
        var dir = TestUtil.TempDir("qa-learn");
        var vocab = new List<string> { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "which", "fruit", "?" };
        vocab.AddRange([.. fruits, .. colours, .. fillers]);
        var tokDir = Path.Combine(dir, "tok");
        new WordPieceTokenizer(vocab).Save(tokDir);
        var rng = new Random(7);
        List<(string Q, string C, string A, int Start)> Make(int n) => Enumerable.Range(0, n).Select(_ =>
        {
            var ctx = Enumerable.Range(0, 6).Select(_ => fillers[rng.Next(fillers.Length)]).ToList();
            string answer = colours[rng.Next(colours.Length)] + " " + fruits[rng.Next(fruits.Length)];
            int i = rng.Next(ctx.Count + 1);
            ctx.Insert(i, answer);
            return ("which fruit ?", string.Join(' ', ctx), answer, ctx.Take(i).Sum(w => w.Length + 1));
        }).ToList();
        string Write(string name, List<(string Q, string C, string A, int Start)> rows)
        {
            var path = Path.Combine(dir, name);
            File.WriteAllLines(path, rows.Select(r => JsonSerializer.Serialize(new { question = r.Q, context = r.C, answer = r.A, answer_start = r.Start })));
            return path;
        }
        var train = Write("train.jsonl", Make(600));
        var dev = Make(40);
        var devPath = Write("dev.jsonl", dev);
        var output = Path.Combine(dir, "out");

        var r = CliHarness.Run(null, "finetune", "--task", "qa", "--arch", "bert", "--layers", "2", "--hidden", "32", "--heads", "2", "--dropout", "0",
            "--tokenizer", tokDir, "--max-length", "20", "--train", train, "--validation", devPath, "--output", output,
            "--max-steps", "120", "--batch-size", "32", "--lr", "3e-3", "--eval-every", "60", "--threads", "2", "--seed", "1");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("exact match", r.Stdout);
        var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "config.json"))).RootElement;
        Assert.Equal("BertForQuestionAnswering", config.GetProperty("architectures")[0].GetString());

        // The saved directory loads back and answers: exact match computed here, by string equality.
        using (var qa = new QuestionAnswerer(output, options: new QaOptions { MaxLength = 20 }))
        {
            var answers = qa.Answer(dev.Select(d => (d.Q, d.C)).ToList());
            double em = dev.Select((d, i) => answers[i].Answer == d.A && answers[i].Start == d.Start ? 1.0 : 0.0).Average();
            Assert.True(em >= 0.9, $"exact match {em} after training; {r.Stdout}");
        }

        // The CLI answers with offsets into the context.
        var one = dev[0];
        var c = CliHarness.Run(null, "qa", "--model", output, "--question", one.Q, "--context", one.C, "--json", "--max-length", "20", "--threads", "2");
        Assert.True(c.ExitCode == 0, c.ToString());
        var j = JsonDocument.Parse(c.Stdout).RootElement;
        Assert.Equal(one.C[j.GetProperty("start").GetInt32()..j.GetProperty("end").GetInt32()], j.GetProperty("answer").GetString());
        Assert.InRange(j.GetProperty("score").GetDouble(), 0, 1);
        var input = Path.Combine(dir, "questions.jsonl");
        File.WriteAllLines(input, dev.Take(3).Select(d => JsonSerializer.Serialize(new { question = d.Q, context = d.C })));
        var many = CliHarness.Run(null, "qa", "--model", output, "--input", input, "--jsonl", "--max-length", "20", "--threads", "2");
        Assert.True(many.ExitCode == 0, many.ToString());
        Assert.Equal(3, many.JsonLines.Length);

        // A classifier directory is refused with the fix, in one line.
        var notQa = CliHarness.Run(null, "qa", "--model", tokDir, "--question", "q", "--context", "c");
        Assert.NotEqual(0, notQa.ExitCode);
    }
}
