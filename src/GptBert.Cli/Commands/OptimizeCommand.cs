using System.CommandLine;
using System.Globalization;
using GptBert.Compare;
using GptBert.Compare.Report;
using GptBert.Pipelines;
using GptBert.Training;

namespace GptBert.Cli.Commands;

/// <summary>`gptbert optimize`: build every size/speed variant of a model that applies and measure each the same way.</summary>
public static class OptimizeCommand
{
    public static Command Create(CliContext ctx)
    {
        var command = new Command("optimize", $"""
            Build the variants of a model that apply and measure each on your test data, to pick a size/speed/quality
            trade-off by measurement: fp32 (the model as given), bf16 (autocast; only where the CPU has native bf16,
            otherwise listed as skipped), int8 dynamic and int8 weight-only (gptbert quantize), ONNX fp32 and ONNX int8
            in ONNX Runtime (gptbert export onnx), pruned (30% of heads and 30% of FFN neurons, gptbert prune; with --train
            the importance is measured on it and the pruned model is fine-tuned on it to recover, an embedding model by
            distillation from the unpruned one; without, weight-norm importance and "no recovery") and
            distilled (only with --train: a 2-layer student, gptbert distill). Each is built into a subdirectory of
            --report (or a temporary folder) and measured: quality, latency p50/p95 at batch 1, throughput at batch 32,
            size of the weight files and peak resident memory (each probe in its own child process), with the quality
            delta and speedup against fp32 and the Pareto-optimal variants (no other is both better and faster) marked.
            The task comes from the model's config.json: a classifier is scored by accuracy and macro-F1 on --data (a
            labelled file, as 'gptbert evaluate'); a BERT encoder (e.g. minilm) by search recall@1/@5 and MRR on --data
            query/document pairs (columns text, text_pair, as 'compare --task search'); a GPT-2 language model by perplexity
            and loss per token on --data text (latency: 16 new tokens after a 12-word prompt). --train is the task's
            training data: labelled file, sentences (one per line) or text. A variant that cannot apply is listed with the
            reason. --report DIR writes report.md, a self-contained report.html, report.json and {OptimizeReports.ParetoFile}.
            """).WithSummary("Build int8, ONNX, pruned and distilled variants of a model and measure each (table + Pareto chart)")
            .WithExamples("""
                gptbert optimize --model runs/clf --data test.csv --train train.csv --report optimize-report
                gptbert optimize --model minilm --data pairs-test.csv --variants fp32,int8-dynamic,onnx-int8
                gptbert optimize --model ./gpt2 --data test.txt --json | jq '.variants[] | {name, latency_p50_ms}'
                """);
        var model = ModelOptions.Model(defaultModel: null, "Model to optimize: a Hugging Face directory or a built-in name (minilm, arctic-xs)");
        var data = new Option<string>("--data") { Description = "Test data: labelled file (classifier), query/document pairs (embedding model) or text (GPT-2)", HelpName = "FILE", Required = true };
        var train = new Option<string?>("--train") { Description = "Training data for the distilled student and the pruned model's recovery (without it: no distilled variant, no recovery)", HelpName = "FILE" };
        var validation = new Option<string?>("--validation") { Description = "Validation data for the classifier's distillation (labelled file)", HelpName = "FILE" };
        var report = new Option<string?>("--report") { Description = "Directory for report.html, report.md, report.json, the Pareto chart and the variants", HelpName = "DIR" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object (task, metric, variants with every measured figure) instead of the table" };
        var variants = new Option<string?>("--variants") { Description = $"Variants to build, comma-separated (default: all that apply): {string.Join(",", Optimizer.VariantNames)}", HelpName = "LIST" };
        var budget = new Option<string>("--distill-budget")
        {
            Description = "Training budget of the distillation and of the pruned model's recovery: optimizer steps (200steps, or 200) or a time (90s, 5m)",
            HelpName = "STEPS|TIME", DefaultValueFactory = _ => "200steps",
        };
        var studentLayers = new Option<int>("--student-layers") { Description = "Layers of the distilled student (default 2; at most the model's layers minus one)", HelpName = "N", DefaultValueFactory = _ => 2 };
        var pruneHeads = new Option<double>("--prune-heads") { Description = "Fraction of attention heads the pruned variant removes (default 0.3)", HelpName = "FRACTION", DefaultValueFactory = _ => 0.3 };
        var pruneFfn = new Option<double>("--prune-ffn") { Description = "Fraction of FFN neurons the pruned variant removes (default 0.3)", HelpName = "FRACTION", DefaultValueFactory = _ => 0.3 };
        var maxLength = new Option<int?>("--max-length") { Description = "Tokens per input (default: the model's limit as evaluate/embed use it; GPT-2: 128-token windows)", HelpName = "N" };
        var samples = new Option<int>("--latency-samples") { Description = "Timed batch-1 calls per variant (default 30)", HelpName = "N", DefaultValueFactory = _ => 30 };
        var noIsolation = new Option<bool>("--no-isolation") { Description = "Measure speed and memory in this process instead of a child process per variant (faster; peak memory then includes this process's own)" };
        var threads = RuntimeOptions.Threads();
        foreach (var o in new Option[] { model, data, train, validation, report, json, variants, budget, studentLayers, pruneHeads, pruneFfn, maxLength, samples, noIsolation, threads })
            command.Options.Add(o);
        var format = LabeledDataFlags.AddTo(command);
        command.SetAction(r =>
        {
            var names = r.GetValue(variants) is string list
                ? list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToList()
                : null;
            if (names is { Count: 0 }) throw new UsageException($"--variants is empty; give some of {string.Join(",", Optimizer.VariantNames)}");
            foreach (var n in names ?? [])
                if (!Optimizer.VariantNames.Contains(n))
                    throw new UsageException($"unknown variant '{n}' in --variants; choose from {string.Join(",", Optimizer.VariantNames)}");
            var (steps, time) = ParseBudget(r.GetValue(budget)!);
            foreach (var (flag, v) in new[] { ("--prune-heads", r.GetValue(pruneHeads)), ("--prune-ffn", r.GetValue(pruneFfn)) })
                if (v is < 0 or >= 1) throw new UsageException($"{flag} {v.ToString(CultureInfo.InvariantCulture)} must be a fraction in [0, 1)");
            string dataPath = r.GetValue(data)!;
            if (!File.Exists(dataPath) && !Directory.Exists(dataPath)) throw new GptBertException($"--data {dataPath}: no such file");
            string? reportDir = r.GetValue(report);
            if (reportDir is not null && File.Exists(reportDir)) throw new GptBertException($"--report {reportDir} is a file; give a directory");
            bool temporary = reportDir is null;
            string work = reportDir is not null ? Path.Combine(reportDir, "variants") : Path.Combine(Path.GetTempPath(), $"gptbert-optimize-{Environment.ProcessId}-{Guid.NewGuid():N}");
            int? threadCount = RuntimeOptions.ThreadCount(r, threads);
            RuntimeOptions.Configure(r, threads);
            var spec = new OptimizeSpec
            {
                Model = r.GetValue(model)!, Data = dataPath, Train = r.GetValue(train), Validation = r.GetValue(validation), WorkDirectory = work,
                Variants = names, MaxLength = Check.AtLeast(r.GetValue(maxLength), 8, "--max-length"), LatencySamples = Check.AtLeast(r.GetValue(samples), 1, "--latency-samples"),
                TrainSteps = steps, TrainTime = time, StudentLayers = Check.AtLeast(r.GetValue(studentLayers), 1, "--student-layers"),
                PruneHeads = r.GetValue(pruneHeads), PruneFfn = r.GetValue(pruneFfn), Threads = threadCount, Format = format.Build(r, ctx),
                Isolation = r.GetValue(noIsolation) ? null : CompareCommand.ChildRunner(),
                Command = "gptbert " + string.Join(' ', r.Tokens.Select(t => t.Value.Contains(' ') ? $"\"{t.Value}\"" : t.Value)),
            };
            OptimizeReport result;
            try
            {
                result = Optimizer.Run(spec, new RunReporting(ctx.Stderr, ctx.StderrIsTerminal, Info: m => { ctx.Stderr.WriteLine(m); ctx.Stderr.Flush(); }));
            }
            finally
            {
                if (temporary && Directory.Exists(work)) try { Directory.Delete(work, true); } catch (IOException) { }
            }
            if (reportDir is not null)
            {
                OptimizeReports.Write(result, reportDir);
                ctx.Stderr.WriteLine($"report: {Path.GetFullPath(Path.Combine(reportDir, HtmlReport.HtmlFile))} (+ report.md, report.json, {OptimizeReports.ParetoFile}; variants in {work})");
            }
            if (r.GetValue(json)) ctx.Out.Line(OptimizeReports.Json(result, indented: false));
            else ctx.Out.Write(OptimizeReports.Console(result));
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>"200steps" or "200" (optimizer steps), or a time ("90s", "5m").</summary>
    public static (long? Steps, TimeSpan? Time) ParseBudget(string text)
    {
        string t = text.Trim();
        string count = t.EndsWith("steps", StringComparison.OrdinalIgnoreCase) ? t[..^5] : t;
        if (count.Length > 0 && count.All(char.IsDigit))
        {
            if (!Durations.TryParseCount(count, out long n, out var e) || n < 1)
                throw new UsageException($"--distill-budget {text}: {e ?? "must be at least 1 step"}");
            return (n, null);
        }
        if (Durations.TryParse(t, out var time, out var error) && time > TimeSpan.Zero) return (null, time);
        throw new UsageException($"--distill-budget '{text}' {error ?? "must be positive"}; write e.g. 200steps or 90s");
    }
}
