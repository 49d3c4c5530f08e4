using System.CommandLine;
using System.Globalization;
using GptBert.Compare;
using GptBert.Compare.Report;
using GptBert.Engine;
using GptBert.Pipelines;
using GptBert.Training;

namespace GptBert.Cli.Commands;

/// <summary>
/// `gptbert compare` (both families under one budget, side by side) and `gptbert choose` (the same
/// measurements plus the user's requirements, ending in a verdict). With no arguments `choose` runs the
/// built-in default: the shipped State of the Union era dataset, GPT and BERT from scratch at a matched
/// size plus the built-in MiniLM, 3 seeds, 100,000 training tokens each.
/// </summary>
public static class CompareCommand
{
    const string DefaultDataset = "data/classification/sotu-era";
    /// <summary>The shipped sets --task qa and --task ner use when no --train/--test is given (data/README.md).</summary>
    const string QaDataset = "data/qa", NerDataset = "data/ner";
    /// <summary>The shipped sets of --task summarize, translate and chat (data/README.md), and their --max-length defaults.</summary>
    const string SummarizeDataset = "data/summarization", TranslateDataset = "data/translation/en-fr", ChatDataset = "data/chat";
    const int SummarizeDefaultMaxLength = 384, TranslateDefaultMaxLength = 128, ChatDefaultMaxLength = 128;
    /// <summary>--max-length for --task qa when none is given: question and context together (the shipped contexts are up to ~120 tokens).</summary>
    const int QaDefaultMaxLength = 160;
    /// <summary>The built-in default's budget: training tokens per run (see the README for why this amount).</summary>
    public const long DefaultTokens = 100_000;

    public static Command Create(CliContext ctx, bool choose)
    {
        var command = choose
            ? new Command("choose", """
                Recommend GPT or BERT for a task, your data and your hardware, by measurement: trains and measures the
                candidates like 'gptbert compare', then applies your requirements (--latency-ms, --memory-mb, --disk-mb,
                --needs-generation, --device) and prints the verdict (GPT, BERT, either is fine, or neither fits the budget)
                with its reasons and the evidence table. With no arguments it runs the built-in default on the shipped
                State of the Union era dataset (data/classification/sotu-era): a GPT and a BERT trained from scratch at a
                matched size and the built-in MiniLM, 3 seeds each, 100,000 training tokens per run (a compute budget: the same
                on a busy machine) — about 9 minutes on 2 idle cores. Every run's CPU time is recorded against its wall time and a
                run that got markedly less CPU than the others is named in a warning; validation quality is tracked over each
                run's budget, and a verdict that may change with more budget says so (--budget-sweep measures it).
                A self-contained HTML report (plus Markdown and JSON) is written to --report (default ./gptbert-report).
                """).WithSummary("GPT or BERT for your task, data and hardware: measured, with a verdict")
            : new Command("compare", """
                Train and measure a GPT and a BERT under the same budget on your data and put the results side by side:
                test quality (accuracy, macro-F1) as mean ± std over seeds, training time, latency p50/p95 at batch 1,
                throughput at the best batch size, peak memory (measured: training runs and the inference probe run in child processes),
                size on disk, parameters and FLOPs per token, next to the baselines; a budget curve per candidate and, with
                --budget-sweep, the verdict at each budget and where the best candidate changes.
                Candidates: --gpt/--bert (a built-in: minilm or arctic-xs, or a Hugging Face directory), and/or --from-scratch
                (a GPT and a BERT with --params parameters each and same-size vocabularies learned from --train).
                --task qa compares extractive question answering (BERT: a span of the context) with generative (GPT: the
                answer generated after "Context: ..\nQuestion: ..\nAnswer:") by SQuAD F1 and exact match; --task ner compares
                BERT and GPT-2 token classifiers by seqeval entity F1 (strict IOB2) and token accuracy. Without --train/--test
                they use the shipped data/qa and data/ner; their runs and probes are measured in this process.
                --task summarize compares BERT extractive summaries (--bert: the most central sentence, no training) with a GPT
                fine-tuned to write them and the lead-1 baseline by ROUGE-1/2/L F1 (default data data/summarization);
                --task translate compares GPTs fine-tuned on prompt → translation (two sizes with --from-scratch, and --gpt)
                with copying the source, by BLEU and chrF (default data data/translation/en-fr; BERT alone has no decoder).
                For both, --from-scratch also trains a BERT→GPT encoder-decoder (about --params in all, half a side),
                shown as a third family (encdec): BERT's way into generation; the verdict stays GPT vs BERT;
                --task chat fine-tunes a GPT on {"messages": [...]} conversations and reports its loss per assistant token
                (default data data/chat; BERT: not applicable, encoders do not generate).
                The verdict uses no requirements; see 'gptbert choose' for those.
                """).WithSummary("Train and measure GPT and BERT side by side under one budget");
        command.WithExamples(choose
            ? """
              gptbert choose
              gptbert choose --train train.csv --test test.csv --bert minilm --from-scratch --max-tokens 200k --latency-ms 20
              gptbert choose --budget-sweep 20k,80k,320k
              gptbert choose --task generate --train corpus.txt --test heldout.txt --from-scratch --max-steps 500 --json
              """
            : """
              gptbert compare --task classify --train train.csv --test test.csv --bert minilm --from-scratch --max-steps 300
              gptbert compare --train train.csv --validation dev.csv --test test.csv --gpt ./my-gpt2 --bert ./my-bert --max-time 5m --seeds 3 --report out/
              gptbert compare --task qa --from-scratch --params 1M --max-tokens 200k --seeds 2
              gptbert compare --task ner --train train.conll --test test.conll --bert minilm --from-scratch --max-steps 300 --json
              gptbert compare --task summarize --bert minilm --from-scratch --params 2M --max-tokens 200k --seeds 1
              gptbert compare --task translate --from-scratch --max-tokens 200k --seeds 1
              gptbert compare --task chat --from-scratch --max-tokens 200k --seeds 1
              """);

        var task = new Option<string>("--task")
        {
            Description = "classify (labeled CSV/TSV/JSONL), generate (plain-text corpora; BERT is reported as not a generator), search (query → document pairs in columns text and text_pair), " +
                          $"qa (SQuAD JSON or JSON Lines of question, context, answer, answer_start: BERT extracts a span, GPT generates the answer; scored by SQuAD F1 and exact match; default data {QaDataset}) " +
                          $"ner (CoNLL or JSON Lines token tags: BERT vs GPT-2 token classification; scored by seqeval entity F1, strict IOB2, and token accuracy; default data {NerDataset}), " +
                          $"summarize (JSON Lines of document, summary, prompt, completion: extractive BERT vs abstractive GPT vs lead-1, ROUGE; default data {SummarizeDataset}), " +
                          $"translate (JSON Lines of prompt, completion, source: GPT vs copying the source, BLEU and chrF; default data {TranslateDataset}) " +
                          $"or chat (JSON Lines of messages: GPT loss per assistant token; default data {ChatDataset})",
            HelpName = "classify|generate|search|qa|ner|summarize|translate|chat", DefaultValueFactory = _ => "classify",
        };
        var train = new Option<string?>("--train") { Description = choose ? $"Labeled training data (default: {DefaultDataset}/train.csv)" : "Labeled training data (.csv, .tsv or .jsonl)", HelpName = "FILE" };
        var validation = new Option<string?>("--validation") { Description = "Labeled validation data (default: 10% of --train, stratified)", HelpName = "FILE" };
        var test = new Option<string?>("--test") { Description = "Labeled test data the verdict is measured on", HelpName = "FILE" };
        var gpt = new Option<string?>("--gpt") { Description = "A GPT-2 candidate: Hugging Face directory", HelpName = "NAME|DIR" };
        var bert = new Option<string?>("--bert") { Description = "A BERT candidate: built-in 'minilm' or 'arctic-xs', or a Hugging Face directory", HelpName = "NAME|DIR" };
        var gptBert = new Option<string?>("--gpt-bert") { Description = "A GPT-BERT candidate (third family): a directory from 'pretrain --arch gpt-bert'; classify fine-tunes it bidirectionally, generate continues it with its mixed objective", HelpName = "DIR" };
        var scratch = new Option<bool>("--from-scratch") { Description = "Also train a GPT and a BERT from scratch at a matched parameter count" };
        var parameters = new Option<string?>("--params") { Description = "Parameters of each from-scratch model (e.g. 2M, 500k; default 2M)", HelpName = "N" };
        var vocab = new Option<int>("--vocab-size") { Description = "Vocabulary learned for each from-scratch model (default 4000)", HelpName = "N", DefaultValueFactory = _ => 4000 };
        // The budget flags of pretrain and finetune, with the same meaning; one of them per comparison (formerly --budget-steps, --budget-time).
        var steps = new RenamedOption<long?>(BudgetOptions.MaxSteps("(per training run, the same for every candidate; one of --max-tokens, --max-steps, --max-time; formerly --budget-steps)"), "--budget-steps");
        var tokens = BudgetOptions.MaxTokens($"(per training run, the same for every candidate: a compute budget that means the same on a busy machine{(choose ? $"; default {DefaultTokens.ToString("N0", CultureInfo.InvariantCulture)} for the built-in default" : "")})");
        var time = new RenamedOption<TimeSpan?>(BudgetOptions.MaxTime("(per training run, the same for every candidate; formerly --budget-time)"), "--budget-time");
        var sweep = new Option<string?>("--budget-sweep")
        {
            Description = "Run the whole comparison at each of these budgets per run and report the verdict at each and where the best candidate changes " +
                          "(instead of one budget flag): training tokens (20k,80k,320k; K/M/B suffixes), times (20s,80s,5m; a lowercase m is minutes) " +
                          "or optimizer steps (100steps,400steps); increasing, one unit",
            HelpName = "B1,B2,...",
        };
                var seeds = new Option<int>("--seeds") { Description = "Training runs per candidate with seeds 1..N (default 3)", HelpName = "N", DefaultValueFactory = _ => 3 };
        var maxLength = new Option<int?>("--max-length") { Description = $"Tokens per example (default 64; --task qa: {QaDefaultMaxLength}, summarize: {SummarizeDefaultMaxLength}, translate: {TranslateDefaultMaxLength}, chat: {ChatDefaultMaxLength})", HelpName = "N" };
        var batch = new Option<int>("--batch-size") { Description = "Examples per training step (default 16)", HelpName = "N", DefaultValueFactory = _ => 16 };
        var report = new Option<string?>("--report") { Description = choose ? "Directory for report.html, report.md, report.json and charts (default ./gptbert-report)" : "Directory for report.html, report.md, report.json and charts", HelpName = "DIR" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object (verdict, reasons, candidates, ...) instead of the text summary" };
        var noBaselines = new Option<bool>("--no-baselines") { Description = "Skip the baselines (classify: majority class, TF-IDF + linear, frozen embeddings of each pretrained BERT + logistic regression), which are otherwise measured next to the candidates and recommended (verdict 'baseline') when no transformer beats them by more than the seed noise" };
        var optimize = new Option<bool>("--optimize") { Description = "Then build and measure the winning candidate's variants (int8, ONNX, pruned, distilled: 'gptbert optimize') and name in the verdict the best one that meets --latency-ms (choose), else the fastest within 1 point of its fp32 quality" };
        var work = new Option<string?>("--work-dir") { Description = "Where the candidates' runs are written (default: a 'runs' folder inside --report, or a temporary folder)", HelpName = "DIR" };
        var device = RuntimeOptions.Device();
        var threads = RuntimeOptions.Threads();
        foreach (var o in new Option[] { task, train, validation, test, gpt, bert, gptBert, scratch, parameters, vocab }) command.Options.Add(o);
        command.Options.Add(tokens);
        steps.AddTo(command);
        time.AddTo(command);
        command.Options.Add(sweep);
        foreach (var o in new Option[] { seeds, maxLength, batch, noBaselines, report, json, work, device, threads, optimize }) command.Options.Add(o);
        var latency = new Option<double?>("--latency-ms") { Description = "Maximum latency p95 at batch 1, in ms", HelpName = "MS" };
        var memory = new Option<double?>("--memory-mb") { Description = "Maximum peak inference memory, in MiB", HelpName = "MB" };
        var disk = new Option<double?>("--disk-mb") { Description = "Maximum model size on disk, in MiB", HelpName = "MB" };
        var generation = new Option<bool>("--needs-generation") { Description = "The application must generate text (rules out BERT)" };
        var cores = new Option<int?>("--cores") { Description = "Cores of the target machine (informational; measurements use this machine)", HelpName = "N" };
        if (choose) foreach (var o in new Option[] { latency, memory, disk, generation, cores }) command.Options.Add(o);
        var format = LabeledDataFlags.AddTo(command);

        command.SetAction(r =>
        {
            var compareTask = r.GetValue(task) switch
            {
                "classify" => CompareTask.Classify,
                "generate" => CompareTask.Generate,
                "search" => CompareTask.Search,
                "qa" => CompareTask.Qa,
                "ner" => CompareTask.Ner,
                "summarize" => CompareTask.Summarize,
                "translate" => CompareTask.Translate,
                "chat" => CompareTask.Chat,
                var other => throw new UsageException($"unknown --task '{other}'; use classify, generate, search, qa, ner, summarize, translate or chat"),
            };
            string? trainPath = r.GetValue(train), testPath = r.GetValue(test), validationPath = r.GetValue(validation);
            bool builtIn = choose && trainPath is null && testPath is null;
            // qa and ner without data: the shipped sets (rule-built QA, silver NER) of data/README.md.
            string? shippedNote = null; // printed once the command is known to be valid
            if (compareTask is CompareTask.Qa or CompareTask.Ner && trainPath is null && testPath is null)
            {
                var (dataset, ext) = compareTask == CompareTask.Qa ? (QaDataset, ".jsonl") : (NerDataset, ".conll");
                var dataDir = FindShipped(dataset, "train" + ext);
                trainPath = Path.Combine(dataDir, "train" + ext);
                validationPath ??= Path.Combine(dataDir, "validation" + ext);
                testPath = Path.Combine(dataDir, "test" + ext);
                shippedNote = compareTask == CompareTask.Qa
                    ? $"data: {dataset} (shipped; derived by rules from the KJV and State of the Union addresses, answers are spans by construction)"
                    : $"data: {dataset} (shipped; silver PER/LOC tags from gazetteers over the KJV and State of the Union addresses)";
            }
            if (compareTask is CompareTask.Summarize or CompareTask.Translate or CompareTask.Chat && trainPath is null && testPath is null)
            {
                var (dataset, what) = compareTask switch
                {
                    CompareTask.Summarize => (SummarizeDataset, "AppStream descriptions → one-line summaries"),
                    CompareTask.Translate => (TranslateDataset, "English → French program messages from Debian's gettext catalogues"),
                    _ => (ChatDataset, "conversations derived from the fortunes"),
                };
                var dataDir = FindShipped(dataset, "train.jsonl");
                (trainPath, testPath) = (Path.Combine(dataDir, "train.jsonl"), Path.Combine(dataDir, "test.jsonl"));
                validationPath ??= Path.Combine(dataDir, "validation.jsonl");
                shippedNote = $"data: {dataset} (shipped; {what})";
            }
            string? gptArg = r.GetValue(gpt), bertArg = r.GetValue(bert);
            bool fromScratch = r.GetValue(scratch);
            long? budgetSteps = steps.GetValue(r);
            TimeSpan? budgetTime = time.GetValue(r);
            long? budgetTokens = r.GetValue(tokens);
            var sweepBudgets = r.GetValue(sweep) is string sw ? ParseSweep(sw) : null;
            if (sweepBudgets is not null && (budgetSteps is not null || budgetTime is not null || budgetTokens is not null))
                throw new UsageException("give --budget-sweep or one budget (--max-tokens, --max-steps, --max-time), not both");
            if (builtIn && compareTask is CompareTask.Qa or CompareTask.Ner or CompareTask.Summarize or CompareTask.Translate or CompareTask.Chat)
            {
                if (gptArg is null && bertArg is null && !fromScratch) { fromScratch = true; bertArg = ModelHub.MiniLm; }
                if (budgetSteps is null && budgetTime is null && budgetTokens is null && sweepBudgets is null) budgetTokens = DefaultTokens;
            }
            else if (builtIn)
            {
                var dataDir = FindShipped(DefaultDataset, "train.csv");
                trainPath = Path.Combine(dataDir, "train.csv");
                validationPath ??= Path.Combine(dataDir, "validation.csv");
                testPath = Path.Combine(dataDir, "test.csv");
                if (gptArg is null && bertArg is null && !fromScratch) { fromScratch = true; bertArg = ModelHub.MiniLm; }
                if (budgetSteps is null && budgetTime is null && budgetTokens is null && sweepBudgets is null) budgetTokens = DefaultTokens;
                string perRun = sweepBudgets is not null ? string.Join(", ", sweepBudgets.Select(b => b.Text)) : budgetTokens is long bt ? $"{bt.ToString("N0", CultureInfo.InvariantCulture)} training tokens"
                    : budgetSteps is long bs ? $"{bs} steps" : Durations.Format(budgetTime ?? TimeSpan.Zero);
                ctx.Stderr.WriteLine($"built-in default: {DefaultDataset} (State of the Union passage → era), GPT and BERT from scratch + MiniLM, {r.GetValue(seeds)} seeds, {perRun} per run");
            }
            if (trainPath is null || testPath is null)
                throw new UsageException("give --train FILE and --test FILE" + (choose ? " (or no arguments at all for the built-in default)" : ""));
            if (builtIn && compareTask is CompareTask.Generate or CompareTask.Search)
                throw new UsageException($"the built-in default is a classification task; give --train FILE --test FILE for --task {r.GetValue(task)}");
            long scratchParams = 2_000_000;
            if (r.GetValue(parameters) is string p)
            {
                if (!Durations.TryParseCount(p, out scratchParams, out var perr)) throw new UsageException($"--params {p}: {perr}");
                if (!fromScratch) throw new UsageException("--params applies only with --from-scratch");
            }
            string? reportDir = r.GetValue(report) ?? (choose ? "gptbert-report" : null);
            bool temporaryWork = r.GetValue(work) is null && reportDir is null;
            string workDir = r.GetValue(work)
                ?? (reportDir is not null ? Path.Combine(reportDir, "runs") : Path.Combine(Path.GetTempPath(), $"gptbert-compare-{Environment.ProcessId}"));

            RuntimeOptions.Configure(r, threads);
            var spec = new CompareSpec
            {
                Task = compareTask, Train = trainPath, Validation = validationPath, Test = testPath, Gpt = gptArg, Bert = bertArg, GptBert = r.GetValue(gptBert),
                FromScratch = fromScratch, ScratchParameters = scratchParams, ScratchVocabSize = Check.AtLeast(r.GetValue(vocab), 300, "--vocab-size"),
                BudgetSteps = budgetSteps, BudgetTokens = budgetTokens, BudgetTime = budgetTime, Seeds = Check.AtLeast(r.GetValue(seeds), 1, "--seeds"),
                MaxLength = Check.AtLeast(r.GetValue(maxLength), 8, "--max-length") ?? compareTask switch
                {
                    CompareTask.Qa => QaDefaultMaxLength, CompareTask.Summarize => SummarizeDefaultMaxLength,
                    CompareTask.Translate => TranslateDefaultMaxLength, CompareTask.Chat => ChatDefaultMaxLength, _ => 64,
                }, BatchSize = Check.AtLeast(r.GetValue(batch), 1, "--batch-size"),
                Device = r.GetValue(device), Isolation = ChildRunner(), Format = format.Build(r, ctx), WorkDirectory = workDir, Baselines = !r.GetValue(noBaselines),
                Requirements = new Requirements
                {
                    LatencyMs = choose ? r.GetValue(latency) : null, MemoryMb = choose ? r.GetValue(memory) : null, DiskMb = choose ? r.GetValue(disk) : null,
                    NeedsGeneration = choose && r.GetValue(generation), Device = r.GetValue(device) ?? "cpu",
                    Cores = (choose ? r.GetValue(cores) : null) ?? Environment.ProcessorCount,
                },
                Command = "gptbert " + string.Join(' ', CommandLineArgs(r)),
            };
            if (spec.Requirements.LatencyMs is <= 0 || spec.Requirements.MemoryMb is <= 0 || spec.Requirements.DiskMb is <= 0)
                throw new UsageException("--latency-ms, --memory-mb and --disk-mb must be positive");

            // Budget and candidate mistakes are usage errors (exit 2), caught before any work.
            try
            {
                if (sweepBudgets is not null) { BudgetSweep.Validate(sweepBudgets); sweepBudgets[0].Apply(spec).Validate(); }
                else spec.Validate();
            }
            catch (GptBertException e) { throw CliErrors.Usage(e); }
            if (shippedNote is not null) ctx.Stderr.WriteLine(shippedNote);
            ComparisonReport result;
            OptimizeReport? optimized = null;
            try
            {
                var reporting = new RunReporting(ctx.Stderr, ctx.StderrIsTerminal, Info: m => { ctx.Stderr.WriteLine(m); ctx.Stderr.Flush(); });
                result = sweepBudgets is not null ? BudgetSweep.Run(spec, sweepBudgets, reporting) : ComparisonRunner.Run(spec, reporting);
                if (r.GetValue(optimize)) result = OptimizeWinner(ctx, result, spec, reporting, out optimized);
            }
            finally
            {
                // Checkpoints of every candidate and seed (MiniLM: ~90 MB each) are not kept without --report/--work-dir.
                if (temporaryWork && Directory.Exists(workDir)) try { Directory.Delete(workDir, true); } catch (IOException) { }
            }
            if (reportDir is not null)
            {
                var files = HtmlReport.Write(result, reportDir);
                ctx.Stderr.WriteLine($"report: {Path.GetFullPath(Path.Combine(reportDir, "report.html"))} (+ report.md, report.json, charts)");
                if (optimized is not null)
                {
                    OptimizeReports.Write(optimized, Path.Combine(reportDir, "optimize"));
                    ctx.Stderr.WriteLine($"optimize report: {Path.GetFullPath(Path.Combine(reportDir, "optimize", "report.html"))}");
                }
            }
            if (r.GetValue(json)) ctx.Out.Line(ReportJson.Serialize(result));
            else
            {
                ctx.Out.Write(ConsoleSummary.Render(result));
                if (optimized is not null) ctx.Out.Write(Environment.NewLine + OptimizeReports.Console(optimized));
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>
    /// --optimize: the winning candidate's variants measured by <see cref="Optimizer"/> on the test file (with the training
    /// file for distillation and recovery, except for search, whose training pairs are not sentences), and the best variant
    /// under the latency requirement added to the verdict's reasons.
    /// </summary>
    static ComparisonReport OptimizeWinner(CliContext ctx, ComparisonReport result, CompareSpec spec, RunReporting reporting, out OptimizeReport? optimized)
    {
        optimized = null;
        var winner = result.Task is CompareTask.Classify or CompareTask.Search or CompareTask.Generate ? Optimizer.Winner(result) : null;
        if (winner is null)
        {
            ctx.Warn($"--optimize: no candidate to optimize for --task {ReportFormat.Task(result.Task)} (optimize measures classifiers, embedding models and GPT-2 language models)");
            return result;
        }
        ctx.Stderr.WriteLine($"optimize: building and measuring the variants of {winner.Name}");
        optimized = Optimizer.Run(new OptimizeSpec
        {
            Model = winner.ModelDirectory!, Data = spec.Test, Train = result.Task == CompareTask.Search ? null : spec.Train,
            Validation = result.Task == CompareTask.Classify ? spec.Validation : null, WorkDirectory = Path.Combine(spec.WorkDirectory, "optimize"),
            MaxLength = spec.MaxLength, Format = spec.Format, Device = spec.Device, Threads = TorchRuntime.Threads, Isolation = spec.Isolation,
            Command = spec.Command,
        }, reporting);
        string line = "optimized: " + Optimizer.VerdictLine(winner, optimized, result.Requirements.LatencyMs);
        return result with { Verdict = result.Verdict with { Reasons = [.. result.Verdict.Reasons, line] } };
    }

    /// <summary>
    /// "20k,80k,320k" (training tokens), "20s,80s,5m" (times), "100steps,400steps" (optimizer steps). A value ending in
    /// "steps" is steps; one ending in a digit, k/K, capital M, b/B is a token count; anything else is a time (so "5m" is five
    /// minutes and "5M" five million tokens). Units, order and positivity are checked by <see cref="BudgetSweep.Validate"/>.
    /// </summary>
    public static List<SweepBudget> ParseSweep(string text)
    {
        var budgets = new List<SweepBudget>();
        foreach (var raw in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            string error;
            if (raw.EndsWith("steps", StringComparison.OrdinalIgnoreCase))
            {
                if (Durations.TryParseCount(raw[..^5], out long n, out var e)) { budgets.Add(new SweepBudget(BudgetUnit.Steps, n)); continue; }
                error = e ?? "is not a number of steps";
            }
            else if (char.IsDigit(raw[^1]) || raw[^1] is 'k' or 'K' or 'M' or 'b' or 'B')
            {
                if (Durations.TryParseCount(raw, out long n, out var e)) { budgets.Add(new SweepBudget(BudgetUnit.Tokens, n)); continue; }
                error = e ?? "is not a token count";
            }
            else
            {
                if (Durations.TryParse(raw, out var t, out var e)) { budgets.Add(new SweepBudget(BudgetUnit.Seconds, t.TotalSeconds)); continue; }
                error = e ?? "is not a time";
            }
            throw new UsageException($"--budget-sweep '{raw}' {error}; write e.g. 20k,80k,320k (tokens), 20s,80s,5m (times) or 100steps,400steps");
        }
        return budgets;
    }

    /// <summary>The hidden verb of a measuring child process (Program.cs): <c>gptbert __child WORK.json RESULT.json</c>.</summary>
    public const string ChildVerb = "__child";

    /// <summary>Child processes run this CLI itself: its native launcher when there is one, else the .dll through dotnet.</summary>
    public static ChildProcessRunner ChildRunner()
    {
        var dll = typeof(CompareCommand).Assembly.Location;
        var launcher = OperatingSystem.IsWindows() ? Path.ChangeExtension(dll, ".exe") : Path.ChangeExtension(dll, null);
        return File.Exists(launcher) ? new ChildProcessRunner(launcher, [ChildVerb]) : new ChildProcessRunner("dotnet", [dll, ChildVerb]);
    }

    static IEnumerable<string> CommandLineArgs(ParseResult r) => r.Tokens.Select(t => t.Value.Contains(' ') ? $"\"{t.Value}\"" : t.Value);

    /// <summary>A shipped dataset, looked for above the program and the current directory (a clone's data/ folder).</summary>
    static string FindShipped(string dataset, string file)
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            {
                var candidate = Path.Combine(d.FullName, dataset);
                if (File.Exists(Path.Combine(candidate, file))) return candidate;
            }
        throw new GptBertException($"the shipped dataset {dataset} was not found (run from a GptBert clone); or give --train FILE --test FILE");
    }
}
