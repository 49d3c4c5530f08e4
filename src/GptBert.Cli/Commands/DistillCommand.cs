using System.CommandLine;
using System.Globalization;
using GptBert.Training;

namespace GptBert.Cli.Commands;

/// <summary>`gptbert distill`: train a smaller student to imitate a teacher (knowledge distillation).</summary>
public static class DistillCommand
{
    const int DefaultMaxLength = 128;
    const double DefaultEpochs = 3;

    public static Command Create(CliContext ctx)
    {
        var command = new Command("distill", $$"""
            Knowledge distillation: train a smaller, faster student to imitate a teacher. The student is --student DIR, or a
            fresh model of the teacher's family and tokenizer sized by --layers (and --hidden/--heads, default the teacher's);
            a fresh student of the teacher's width starts from every other teacher layer (layer i from teacher layer
            i*L_teacher/L_student, as DistilBERT) with the teacher's embeddings and head (--no-init-from-teacher: random).
            --task classify (default): the teacher is a fine-tuned classifier (from 'gptbert finetune', either family);
            --train/--validation are labelled files as for finetune, with the teacher's labels. Loss = alpha * T^2 *
            KL(teacher || student at temperature T) + (1 - alpha) * cross-entropy with the hard labels (Hinton et al. 2015;
            defaults T 2, alpha 0.5 as DistilBERT). The teacher's logits are computed once, cached in
            --output/teacher-outputs.safetensors (or --teacher-cache FILE) and reused by every epoch and later runs.
            --task embed: the student (a BERT, mean pooled) learns the teacher's sentence embeddings (MSE on the normalised
            vectors, as sentence-transformers' distillation); its width must equal the teacher's embedding size. --train is
            one sentence per line (or {"text": ...} JSON Lines). The output loads in embed, similarity and index.
            --task mlm / clm: token-level distillation on a text corpus (files, folder or glob as for pretrain) for a BERT
            with an MLM head / a GPT-2: KL at T on the masked / next-token positions plus the hard LM loss; the teacher runs on
            the fly (its logits are too large to cache).
            Training stops at the first budget reached (default --epochs {{DefaultEpochs}}); the best student by validation
            metric is saved in --output, an ordinary model directory (it loads in transformers too). Prints both models' sizes
            and, with --validation (or the held-out part for embed), both models' validation metric; classify also prints
            both models' median batch-1 latency on the validation texts.
            """).WithSummary("Distill a teacher into a smaller, faster student (classify, embed, mlm, clm)")
            .WithExamples("""
                gptbert distill --teacher runs/clf --train train.csv --validation dev.csv --layers 2 --output runs/clf-2l
                gptbert distill --teacher runs/clf --student runs/tiny --train train.csv --temperature 4 --alpha 0.9 --output runs/s
                gptbert distill --task embed --teacher minilm --train sentences.txt --layers 2 --output runs/minilm-2l
                gptbert distill --task mlm --teacher ./bert-mlm --train corpus/ --layers 3 --max-steps 2000 --output runs/bert-3l
                gptbert distill --task clm --teacher ./gpt2 --train corpus.txt --layers 4 --max-time 30m --output runs/gpt-4l
                """);
        var task = new Option<string>("--task") { Description = "What is distilled: classify (soft labels), embed (sentence embeddings), mlm or clm (token distributions)", HelpName = "classify|embed|mlm|clm", DefaultValueFactory = _ => "classify" };
        task.AcceptOnlyFromAmong("classify", "embed", "mlm", "clm");
        var teacher = new Option<string>("--teacher") { Description = "Teacher: a built-in name or model directory (classify: a fine-tuned classifier)", HelpName = "NAME|DIR", Required = true };
        var student = new Option<string?>("--student") { Description = "Student directory to start from (instead of --layers/--hidden/--heads)", HelpName = "DIR" };
        var trainFile = new Option<string>("--train") { Description = "Training data: labelled file (classify), sentences (embed) or a corpus (mlm, clm)", HelpName = "FILE", Required = true };
        var validation = new Option<string?>("--validation") { Description = "Validation data in the same form (both models are measured on it)", HelpName = "FILE" };
        var output = new Option<string>("--output", "-o") { Description = "Directory for the student, checkpoints, log.jsonl and the teacher cache", HelpName = "DIR", Required = true };
        var temperature = new Option<double>("--temperature") { Description = $"Softmax temperature T of the soft targets (default: {DistillationLoss.DefaultTemperature.ToString(CultureInfo.InvariantCulture)})", HelpName = "T", DefaultValueFactory = _ => DistillationLoss.DefaultTemperature };
        var alpha = new Option<double>("--alpha") { Description = $"Weight of the soft (teacher) loss; 1 - alpha weighs the hard-label loss (default: {DistillationLoss.DefaultAlpha.ToString(CultureInfo.InvariantCulture)})", HelpName = "A", DefaultValueFactory = _ => DistillationLoss.DefaultAlpha };
        var layers = new Option<int?>("--layers") { Description = "Fresh student: transformer layers", HelpName = "N" };
        var hidden = new Option<int?>("--hidden") { Description = "Fresh student: hidden size (default: the teacher's)", HelpName = "N" };
        var heads = new Option<int?>("--heads") { Description = "Fresh student: attention heads (default: the teacher's, or hidden/64 for another width)", HelpName = "N" };
        var noInit = new Option<bool>("--no-init-from-teacher") { Description = "Start a fresh student from random weights instead of every other teacher layer" };
        var cache = new Option<string?>("--teacher-cache") { Description = "File for the teacher's outputs (default: teacher-outputs.safetensors in --output); reused when teacher and data match", HelpName = "FILE" };
        var maxLength = new Option<int?>("--max-length") { Description = $"Tokens per example or block (default: {DefaultMaxLength}, at most the models' limit)", HelpName = "N" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object (sizes, teacher passes, both models' metrics) instead of the text summary" };
        foreach (var o in new Option[] { task, teacher, student, trainFile, validation, output, temperature, alpha, layers, hidden, heads, noInit, cache, maxLength, json })
            command.Options.Add(o);
        var format = LabeledDataFlags.AddTo(command);
        var train = TrainingFlags.AddTo(command, new TrainingDefaults("default: 5e-5 from --student or teacher layers, 5e-4 from random weights", EvalEvery: 0, SaveEvery: 0, Epochs: true,
            $"--epochs {DefaultEpochs.ToString(CultureInfo.InvariantCulture)}"));
        command.SetAction(r =>
        {
            string? studentDir = r.GetValue(student);
            var given = new Option[] { layers, hidden, heads }.Where(o => TrainingFlags.Given(r, o)).Select(o => o.Name).ToList();
            if (studentDir is null && r.GetValue(layers) is null)
                throw new UsageException("give --student DIR, or --layers N (with optional --hidden and --heads) for a fresh student of the teacher's family");
            if (studentDir is not null && given.Count > 0)
                throw new UsageException($"give --student or {string.Join("/", given)}, not both: --student {studentDir} has its own size");
            Check.AtLeast(r.GetValue(layers), 1, "--layers");
            Check.AtLeast(r.GetValue(hidden), 1, "--hidden");
            Check.AtLeast(r.GetValue(heads), 1, "--heads");
            int length = Check.AtLeast(r.GetValue(maxLength), 8, "--max-length") ?? DefaultMaxLength;
            train.ConfigureRuntime(r);
            bool fromTeacher = studentDir is not null || (!r.GetValue(noInit) && r.GetValue(hidden) is null);
            var options = train.Build(r, fromTeacher ? 5e-5 : 5e-4, new TrainingOptions { Epochs = DefaultEpochs });
            string outDir = r.GetValue(output)!;
            bool resume = r.GetValue(train.Resume);
            TrainingFlags.CheckOutputDirectory(outDir, resume);
            // The note comes with the pipeline's first line, after the teacher and data have loaded (a mistake there prints only the error).
            string? note = train.HasBudget(r) ? null
                : $"note: no training budget given (--epochs, --max-steps, --max-tokens or --max-time); training for --epochs {DefaultEpochs.ToString(CultureInfo.InvariantCulture)}";
            var spec = new DistillSpec
            {
                Task = r.GetValue(task)!,
                Teacher = r.GetValue(teacher)!,
                Student = studentDir,
                Shape = studentDir is null ? new StudentShape(r.GetValue(layers), r.GetValue(hidden), r.GetValue(heads)) : null,
                InitFromTeacher = !r.GetValue(noInit),
                Train = r.GetValue(trainFile)!,
                Validation = r.GetValue(validation),
                Output = outDir,
                Temperature = r.GetValue(temperature),
                Alpha = r.GetValue(alpha),
                MaxLength = length,
                Format = format.Build(r, ctx),
                TeacherCache = r.GetValue(cache),
                Device = r.GetValue(train.Device),
                Training = options,
                Resume = resume,
            };
            var result = DistillationRuns.Distill(spec, TrainingFlags.ReportTo(ctx, firstNote: note));
            string metric = result.SelectionMetric;
            double? Get(IReadOnlyDictionary<string, double>? m) => m is not null && m.TryGetValue(metric, out var v) ? v : null;
            if (r.GetValue(json))
            {
                ctx.Out.JsonLine(j =>
                {
                    j.WriteString("task", result.Task);
                    j.WriteString("output", outDir);
                    j.WriteNumber("teacher_parameters", result.TeacherParameters);
                    j.WriteNumber("student_parameters", result.StudentParameters);
                    j.WriteNumber("teacher_layers", result.TeacherLayers);
                    j.WriteNumber("student_layers", result.StudentLayers);
                    if (result.InitializedFromLayers is { } init)
                    {
                        j.WriteStartArray("initialized_from_layers");
                        foreach (var l in init) j.WriteNumberValue(l);
                        j.WriteEndArray();
                    }
                    j.WriteNumber("teacher_forward_examples", result.TeacherForwardExamples);
                    j.WriteNumber("steps", result.Training.Steps);
                    j.WriteString("metric", metric);
                    if (Get(result.TeacherMetrics) is double t) j.WriteNumber("teacher_metric", t); else j.WriteNull("teacher_metric");
                    if (Get(result.StudentMetrics) is double s) j.WriteNumber("student_metric", s); else j.WriteNull("student_metric");
                    if (result.TeacherLatencyMs is double tl && result.StudentLatencyMs is double sl)
                    {
                        j.WriteNumber("teacher_latency_ms", tl);
                        j.WriteNumber("student_latency_ms", sl);
                    }
                });
                return ExitCodes.Ok;
            }
            var o = ctx.Out;
            o.Line($"distilled {spec.Teacher} into {outDir} ({spec.Task}): {TrainingSummary.Totals(result.Training)}");
            o.Line($"teacher:    {result.TeacherParameters.ToString("N0", CultureInfo.InvariantCulture)} parameters, {result.TeacherLayers} layers");
            o.Line($"student:    {result.StudentParameters.ToString("N0", CultureInfo.InvariantCulture)} parameters, {result.StudentLayers} layers " +
                   $"({(100.0 * result.StudentParameters / result.TeacherParameters).ToString("F0", CultureInfo.InvariantCulture)}% of the teacher's)" +
                   (result.InitializedFromLayers is { } from ? $", initialised from teacher layers {string.Join(", ", from)}" : ""));
            o.Line($"teacher passes: {result.TeacherForwardExamples.ToString("N0", CultureInfo.InvariantCulture)} {(spec.Task is "mlm" or "clm" ? "blocks (on the fly)" : "inputs (cached for every epoch)")}");
            if (Get(result.TeacherMetrics) is double tm && Get(result.StudentMetrics) is double sm)
                o.Line($"validation {metric}: teacher {TrainingSummary.Metric(tm)}, student {TrainingSummary.Metric(sm)} (step {result.Training.BestStep})");
            else if (Get(result.StudentMetrics) is double only)
                o.Line($"validation {metric}: student {TrainingSummary.Metric(only)}");
            if (result.TeacherLatencyMs is double tms && result.StudentLatencyMs is double sms)
                o.Line($"batch-1 latency (median of validation texts): teacher {tms.ToString("F1", CultureInfo.InvariantCulture)} ms, " +
                       $"student {sms.ToString("F1", CultureInfo.InvariantCulture)} ms ({(tms / sms).ToString("F1", CultureInfo.InvariantCulture)}x faster)");
            TrainingSummary.Files(ctx, outDir);
            o.Line(spec.Task switch
            {
                "classify" => $"next:       gptbert evaluate --model {outDir} --data TEST_FILE",
                "embed" => $"next:       gptbert similarity --model {outDir} \"a sentence\" \"another sentence\"",
                _ => $"next:       gptbert info --model {outDir}",
            });
            return ExitCodes.Ok;
        });
        return command;
    }
}
