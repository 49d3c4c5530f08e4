using System.Text.Json;
using GptBert.Compare;
using GptBert.Engine;
using GptBert.Models;
using GptBert.Tests.Training;
using GptBert.Tokenizers;
using static GptBert.Tests.Cli.CliHarness;

namespace GptBert.Tests.Cli;

/// <summary>
/// `gptbert optimize`: the report's figures are the measured ones (sizes are the files' bytes, quality is what evaluate
/// says of the same directory), variants that cannot apply carry a reason, the JSON has its fields, and mistakes are one line.
/// </summary>
public class CliOptimizeTests
{
    static string Save(string name, PretrainedModel model, ITextTokenizer tok)
    {
        var dir = TestUtil.TempDir(name);
        using (model) model.SavePretrained(dir);
        tok.SaveForModel(dir, model.Config.MaxPositions);
        return dir;
    }

    static string Classifier(string name)
    {
        TestUtil.Init(3);
        var tok = TrainingTestUtil.Vocab();
        var config = TrainingTestUtil.TinyBert(tok.VocabSize);
        config.SetLabels(["neg", "pos"]);
        return Save(name, new BertForSequenceClassification(config), tok);
    }

    static string LabelledFile(string dir)
    {
        var path = Path.Combine(dir, "data.csv");
        File.WriteAllLines(path, ["text,label", "good film,pos", "great movie,pos", "bad film,neg", "awful movie,neg", "very good,pos", "not good,neg",
            "the cat was good,pos", "the dog was bad,neg", "a great film,pos", "an awful log,neg"]);
        return path;
    }

    static readonly string[] Fields = ["name", "measured", "reason", "description", "backend", "quality", "quality_delta", "latency_p50_ms", "latency_p95_ms",
        "throughput_per_second", "throughput_batch", "speedup", "size_bytes", "files", "peak_memory_mb", "memory_method", "pareto_optimal", "notes", "estimated"];

    [Fact]
    public void ClassifierReportHoldsTheMeasuredFigures()
    {
        var model = Classifier("cli-optimize-clf");
        var root = TestUtil.TempDir("cli-optimize");
        var data = LabelledFile(root);
        var report = Path.Combine(root, "report");
        var r = Run(null, "optimize", "--model", model, "--data", data, "--train", data, "--distill-budget", "2steps", "--latency-samples", "3",
            "--threads", "1", "--no-isolation", "--report", report, "--json");
        Assert.True(r.ExitCode == 0, r.ToString());
        var j = r.JsonLines.Single();
        Assert.Equal("classify", j.GetProperty("task").GetString());
        Assert.Equal("macro_f1", j.GetProperty("metric").GetString());
        var rows = j.GetProperty("variants").EnumerateArray().ToDictionary(v => v.GetProperty("name").GetString()!);
        Assert.Equal(Optimizer.VariantNames, rows.Keys.ToArray());
        foreach (var row in rows.Values)
            foreach (var f in Fields) Assert.True(row.TryGetProperty(f, out _), $"{row.GetProperty("name")} lacks {f}");

        // bf16 runs only where the CPU computes it natively; otherwise the row says so.
        if (!MixedPrecision.CpuHasNative(TorchSharp.torch.ScalarType.BFloat16))
        {
            Assert.False(rows["bf16"].GetProperty("measured").GetBoolean());
            Assert.Contains("no native bf16 on this CPU", rows["bf16"].GetProperty("reason").GetString());
        }

        var measured = rows.Values.Where(v => v.GetProperty("measured").GetBoolean()).ToList();
        Assert.Contains(measured, v => v.GetProperty("name").GetString() == "distilled");
        Assert.Contains(measured, v => v.GetProperty("name").GetString() == "onnx-int8");
        var fp32 = rows["fp32"];
        double fp32F1 = fp32.GetProperty("quality").GetProperty("macro_f1").GetDouble(), fp32P50 = fp32.GetProperty("latency_p50_ms").GetDouble();
        foreach (var v in measured)
        {
            string dir = v.GetProperty("directory").GetString()!;
            // Size: the weight file's bytes, read here from the file system.
            string weights = v.GetProperty("backend").GetString() == "onnx" ? "model.onnx" : "model.safetensors";
            Assert.Equal(new FileInfo(Path.Combine(dir, weights)).Length, v.GetProperty("size_bytes").GetInt64());
            Assert.Equal([weights], v.GetProperty("files").EnumerateArray().Select(e => e.GetString()!).ToArray());
            // Delta and speedup: arithmetic on the row's own figures and fp32's.
            double f1 = v.GetProperty("quality").GetProperty("macro_f1").GetDouble();
            Assert.Equal(f1 - fp32F1, v.GetProperty("quality_delta").GetDouble(), 12);
            Assert.Equal(fp32P50 / v.GetProperty("latency_p50_ms").GetDouble(), v.GetProperty("speedup").GetDouble(), 9);
            Assert.True(v.GetProperty("latency_p95_ms").GetDouble() >= v.GetProperty("latency_p50_ms").GetDouble());
            Assert.True(v.GetProperty("peak_memory_mb").GetDouble() > 0);
            Assert.Equal(32, v.GetProperty("throughput_batch").GetInt32());
            Assert.Empty(v.GetProperty("estimated").EnumerateArray());
        }
        // The int8 model is 4x smaller in its linear layers, the ONNX int8 file smaller than the ONNX fp32 one.
        Assert.True(rows["onnx-int8"].GetProperty("size_bytes").GetInt64() < rows["onnx-fp32"].GetProperty("size_bytes").GetInt64());

        // Pareto: recomputed here from the rows' quality and p50.
        foreach (var v in measured)
        {
            double q = v.GetProperty("quality").GetProperty("macro_f1").GetDouble(), t = v.GetProperty("latency_p50_ms").GetDouble();
            bool dominated = measured.Any(o => !o.GetProperty("name").GetString()!.Equals(v.GetProperty("name").GetString())
                && o.GetProperty("quality").GetProperty("macro_f1").GetDouble() >= q && o.GetProperty("latency_p50_ms").GetDouble() <= t
                && (o.GetProperty("quality").GetProperty("macro_f1").GetDouble() > q || o.GetProperty("latency_p50_ms").GetDouble() < t));
            Assert.Equal(!dominated, v.GetProperty("pareto_optimal").GetBoolean());
        }

        // Quality: what `evaluate` says of the same directories on the same file.
        foreach (var (name, dir) in new[] { ("fp32", model), ("int8-dynamic", rows["int8-dynamic"].GetProperty("directory").GetString()!), ("distilled", rows["distilled"].GetProperty("directory").GetString()!) })
        {
            var eval = Run(null, "evaluate", "--model", dir, "--data", data, "--json", "--threads", "1");
            Assert.True(eval.ExitCode == 0, eval.ToString());
            var e = eval.JsonLines.Single();
            var q = rows[name].GetProperty("quality");
            Assert.Equal(e.GetProperty("accuracy").GetDouble(), q.GetProperty("accuracy").GetDouble(), 9);
            Assert.Equal(e.GetProperty("macro_f1").GetDouble(), q.GetProperty("macro_f1").GetDouble(), 9);
        }

        // The report files: self-contained HTML (no scripts, no external references), Markdown with the table, the chart.
        var html = File.ReadAllText(Path.Combine(report, "report.html"));
        Assert.DoesNotContain("<script", html);
        Assert.DoesNotContain("href=", html);
        Assert.DoesNotContain("src=", html);
        Assert.Contains("<svg", html);
        Assert.Contains("no native bf16", File.ReadAllText(Path.Combine(report, "report.md")) + (MixedPrecision.CpuHasNative(TorchSharp.torch.ScalarType.BFloat16) ? "no native bf16" : ""));
        Assert.Contains("Pareto", File.ReadAllText(Path.Combine(report, "chart-pareto.svg")));
        using var saved = JsonDocument.Parse(File.ReadAllText(Path.Combine(report, "report.json")));
        Assert.Equal(rows.Count, saved.RootElement.GetProperty("variants").GetArrayLength());
    }

    [Fact]
    public void VariantsThatCannotApplySayWhy()
    {
        var model = Classifier("cli-optimize-clf-skip");
        var root = TestUtil.TempDir("cli-optimize-skip");
        var data = LabelledFile(root);
        var r = Run(null, "optimize", "--model", model, "--data", data, "--variants", "pruned,distilled", "--latency-samples", "2", "--threads", "1", "--no-isolation");
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.StdoutLines;
        // fp32 is always measured: the deltas and speedups are relative to it.
        Assert.Contains(lines, l => l.StartsWith("fp32 "));
        Assert.Contains(lines, l => l.StartsWith("distilled ") && l.Contains("needs training data"));
        Assert.Contains(lines, l => l.StartsWith("pruned ") && l.Contains("points"));
        var json = Run(null, "optimize", "--model", model, "--data", data, "--variants", "pruned", "--latency-samples", "2", "--threads", "1", "--no-isolation", "--json");
        var pruned = json.JsonLines.Single().GetProperty("variants").EnumerateArray().Single(v => v.GetProperty("name").GetString() == "pruned");
        Assert.Contains(pruned.GetProperty("notes").EnumerateArray(), n => n.GetString()!.StartsWith("no recovery"));
    }

    [Fact]
    public void LanguageModelPerplexityAgreesAcrossEngines()
    {
        TestUtil.Init(5);
        var tok = TrainingTestUtil.Vocab();
        var gpt = Save("cli-optimize-gpt", new GPT2LMHeadModel(TrainingTestUtil.TinyGpt(tok.VocabSize)), tok);
        var root = TestUtil.TempDir("cli-optimize-gpt-data");
        var text = Path.Combine(root, "test.txt");
        File.WriteAllText(text, "the cat sat on the mat.\n\nthe dog ran on the log. a big red dog was not good.\n");
        var r = Run(null, "optimize", "--model", gpt, "--data", text, "--variants", "onnx-fp32", "--latency-samples", "2", "--threads", "1", "--no-isolation", "--json");
        Assert.True(r.ExitCode == 0, r.ToString());
        var j = r.JsonLines.Single();
        Assert.Equal("generate", j.GetProperty("task").GetString());
        Assert.False(j.GetProperty("higher_is_better").GetBoolean());
        var rows = j.GetProperty("variants").EnumerateArray().ToDictionary(v => v.GetProperty("name").GetString()!);
        double torchPpl = rows["fp32"].GetProperty("quality").GetProperty("perplexity").GetDouble();
        double onnxPpl = rows["onnx-fp32"].GetProperty("quality").GetProperty("perplexity").GetDouble();
        // A random model over a ~90-token vocabulary: perplexity near the vocabulary size, and loss per token = ln(perplexity).
        Assert.InRange(torchPpl, tok.VocabSize / 3.0, tok.VocabSize * 3.0);
        Assert.Equal(torchPpl, onnxPpl, torchPpl * 1e-4);
        Assert.Equal(Math.Log(torchPpl), rows["fp32"].GetProperty("quality").GetProperty("loss_per_token").GetDouble(), 9);
        Assert.Equal(1, rows["fp32"].GetProperty("throughput_batch").GetInt32());
    }

    [Fact]
    public void EmbeddingModelIsScoredBySearch()
    {
        TestUtil.Init(6);
        var tok = TrainingTestUtil.Vocab();
        var bert = Save("cli-optimize-bert", new BertModel(TrainingTestUtil.TinyBert(tok.VocabSize)), tok);
        var root = TestUtil.TempDir("cli-optimize-search");
        var pairs = Path.Combine(root, "pairs.csv");
        File.WriteAllLines(pairs, ["text,text_pair", "cat,the cat sat on the mat", "dog,the dog ran on the log", "film,a good film", "movie,an awful movie"]);
        var r = Run(null, "optimize", "--model", bert, "--data", pairs, "--variants", "int8-dynamic,distilled", "--latency-samples", "2", "--threads", "1", "--no-isolation", "--json");
        Assert.True(r.ExitCode == 0, r.ToString());
        var j = r.JsonLines.Single();
        Assert.Equal("search", j.GetProperty("task").GetString());
        Assert.Equal("mrr", j.GetProperty("metric").GetString());
        var rows = j.GetProperty("variants").EnumerateArray().ToDictionary(v => v.GetProperty("name").GetString()!);
        foreach (var name in new[] { "fp32", "int8-dynamic" })
        {
            var q = rows[name].GetProperty("quality");
            // 4 queries, 4 documents: recall@5 covers every document; MRR lies between 1/4 and 1.
            Assert.Equal(1.0, q.GetProperty("recall@5").GetDouble());
            Assert.InRange(q.GetProperty("mrr").GetDouble(), 0.25, 1.0);
            Assert.True(q.GetProperty("recall@1").GetDouble() <= q.GetProperty("mrr").GetDouble());
        }
        Assert.Contains("needs training data", rows["distilled"].GetProperty("reason").GetString());
    }

    [Fact]
    public void MistakesAreOneLineErrors()
    {
        var model = Classifier("cli-optimize-errors");
        var root = TestUtil.TempDir("cli-optimize-err");
        var data = LabelledFile(root);
        string[] Args(params string[] more) => ["optimize", "--model", model, "--data", data, "--no-isolation", .. more];
        Assert.Contains("unknown variant 'fp16'", AssertOneLineError(Run(null, Args("--variants", "fp32,fp16")), exitCode: 2));
        Assert.Contains("--distill-budget", AssertOneLineError(Run(null, Args("--distill-budget", "soon")), exitCode: 2));
        Assert.Contains("--prune-heads", AssertOneLineError(Run(null, Args("--prune-heads", "1.5")), exitCode: 2));
        Assert.Contains("no such file", AssertOneLineError(Run(null, ["optimize", "--model", model, "--data", Path.Combine(root, "missing.csv")])));
        Assert.Contains("not one of", AssertOneLineError(Run(null, ["optimize", "--model", model, "--data", WriteOther(root), "--no-isolation"])));
        var quantized = Path.Combine(root, "q");
        Assert.Equal(0, Run(null, "quantize", "--model", model, "--output", quantized).ExitCode);
        Assert.Contains("already quantized", AssertOneLineError(Run(null, ["optimize", "--model", quantized, "--data", data])));
    }

    static string WriteOther(string root)
    {
        var path = Path.Combine(root, "other.csv");
        File.WriteAllLines(path, ["text,label", "good film,great", "bad film,terrible"]);
        return path;
    }

    [Fact]
    public void ParetoAndRecommendationByConstruction()
    {
        VariantResult Row(string name, double q, double p50, double p95) => new()
        {
            Name = name, Description = name, Measured = true, Quality = new Dictionary<string, double> { ["macro_f1"] = q },
            LatencyP50Ms = p50, LatencyP95Ms = p95,
        };
        var rows = Optimizer.Relative([Row("fp32", 0.90, 10, 12), Row("int8-dynamic", 0.895, 4, 5), Row("onnx-fp32", 0.90, 11, 13),
            Row("distilled", 0.80, 2, 3), new VariantResult { Name = "bf16", Description = "", Reason = "skipped" }], "macro_f1", higher: true);
        var byName = rows.ToDictionary(r => r.Name);
        Assert.True(byName["fp32"].ParetoOptimal);       // best quality (tied with onnx-fp32, which is slower)
        Assert.False(byName["onnx-fp32"].ParetoOptimal);
        Assert.True(byName["int8-dynamic"].ParetoOptimal);
        Assert.True(byName["distilled"].ParetoOptimal);  // fastest
        Assert.Equal(-0.005, byName["int8-dynamic"].QualityDelta!.Value, 12);
        Assert.Equal(2.5, byName["int8-dynamic"].Speedup!.Value, 12);
        Assert.Null(byName["bf16"].Speedup);
        var report = new OptimizeReport { Task = OptimizeTask.Classify, Model = "m", Data = "d", Metric = "macro_f1", Variants = rows };
        // Without a budget: the fastest within 1 point of fp32. With a 4 ms p95 budget: only the distilled one fits.
        Assert.Equal("int8-dynamic", Optimizer.Recommend(report, null)!.Name);
        Assert.Equal("distilled", Optimizer.Recommend(report, 4)!.Name);
        Assert.Equal("int8-dynamic", Optimizer.Recommend(report, 5)!.Name);
        Assert.Null(Optimizer.Recommend(report, 1));
        Assert.Equal("int8-dynamic meets your 5 ms budget (p95 5 ms) at \u22120.5 points macro_f1, 2.5x fp32's speed",
            Optimizer.RecommendationText(report, Optimizer.Recommend(report, 5), 5));
    }

    [Fact]
    public void CompareOptimizesTheVerdictsBestCandidate()
    {
        CandidateResult Cand(string name, string family, double f1, string? dir) => new()
        {
            Name = name, Family = family, Source = name, Architecture = "x", ModelDirectory = dir,
            Quality = new Dictionary<string, Measured> { ["macro_f1"] = Measured.Single(f1) },
        };
        ComparisonReport Report(string choice, params CandidateResult[] c) => new()
        {
            Task = CompareTask.Classify, Profile = new DatasetProfile(), Requirements = new Requirements(), Candidates = c, Verdict = new Verdict(choice, []),
        };
        var gpt = Cand("GPT", "gpt", 0.9, "g");
        var bert = Cand("BERT", "bert", 0.8, "b");
        var bert2 = Cand("BERT 2", "bert", 0.85, "b2");
        Assert.Same(bert2, Optimizer.Winner(Report("bert", gpt, bert, bert2)));   // the verdict's family, then the best quality
        Assert.Same(gpt, Optimizer.Winner(Report("either", gpt, bert, bert2)));   // no family named: the best overall
        Assert.Null(Optimizer.Winner(Report("bert", Cand("GPT", "gpt", 0.9, null)))); // nothing with a directory to optimize
    }
}
