using System.CommandLine;
using GptBert.Data;
using GptBert.Pipelines;
using GptBert.Reporting;

namespace GptBert.Cli.Commands;

/// <summary>`gptbert evaluate`: accuracy, macro-F1, per-class precision/recall and the confusion matrix of a classifier.</summary>
public static class EvaluateCommand
{
    public static Command Create(CliContext ctx)
    {
        var command = new Command("evaluate", """
            Measure a fine-tuned classifier (a directory from 'gptbert finetune') on labeled data (.csv, .tsv or .jsonl, the
            same layout as for finetune): accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix (rows =
            gold labels, columns = predictions), with the majority-class baseline for context. --json prints one JSON object:
            accuracy, macro_f1, macro_precision, macro_recall, weighted_f1, per_class {label: {precision, recall, f1,
            support}}, confusion_matrix, labels, count and majority_baseline {label, accuracy, macro_f1}.
            """).WithSummary("Accuracy, macro-F1, per-class scores and confusion matrix of a classifier")
            .WithExamples("""
                gptbert evaluate --model runs/clf --data test.csv
                gptbert evaluate --model runs/clf --data test.jsonl --json | jq .macro_f1
                gptbert evaluate --model runs/stars --data reviews-test.tsv --text-column review --label-column stars
                """);
        var model = ModelOptions.Model(defaultModel: null, "Classifier directory (from 'gptbert finetune')");
        var data = new Option<string>("--data") { Description = "Labeled evaluation data (.csv, .tsv or .jsonl)", HelpName = "FILE", Required = true };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of the text report" };
        var maxLength = new Option<int?>("--max-length") { Description = "Tokens per example, longer ones are truncated (default: the model's limit, at most 512)", HelpName = "N" };
        foreach (var o in new Option[] { model, data, json, maxLength }) command.Options.Add(o);
        var format = LabeledDataFlags.AddTo(command);
        var common = CommonOptions.AddTo(command, input: false, jsonl: false, noTruncate: false);
        command.SetAction(r =>
        {
            int? max = Check.AtLeast(r.GetValue(maxLength), 1, "--max-length");
            // Read the data before loading the model, so mistakes in it fail fast.
            var dataset = LabeledDataset.Load(r.GetValue(data)!, format.Build(r, ctx) with { RequireTwoLabels = false });
            common.ConfigureRuntime(r);
            using var classifier = new Classifier(r.GetValue(model)!, common.TokenizerName(r), common.DeviceName(r), max);
            common.ConfigureRuntime(r);
            if (max > classifier.Handle.Config.MaxPositions)
                throw new UsageException($"--max-length {max} exceeds what {r.GetValue(model)} supports ({classifier.Handle.Config.MaxPositions} positions)");
            var metrics = classifier.Evaluate(dataset);
            var labels = LabelSet.FromLabels(classifier.Labels);
            var gold = dataset.Select(e => labels.Encode(e.Label)).ToArray();
            var baseline = ClassificationMetrics.MajorityBaseline(gold, classifier.Labels);
            // The baseline's label: the most frequent gold label, ties to the lowest index (as MajorityBaseline picks it).
            var counts = new int[classifier.Labels.Count];
            foreach (var g in gold) counts[g]++;
            int top = 0;
            for (int c = 1; c < counts.Length; c++) if (counts[c] > counts[top]) top = c;
            string majority = classifier.Labels[top];

            if (r.GetValue(json))
            {
                ctx.Out.JsonLine(j =>
                {
                    metrics.WriteJsonProperties(j);
                    j.WriteNumber("count", metrics.Count);
                    j.WriteStartObject("majority_baseline");
                    j.WriteString("label", majority);
                    j.WriteNumber("accuracy", baseline.Accuracy);
                    j.WriteNumber("macro_f1", baseline.MacroF1);
                    j.WriteEndObject();
                });
                return ExitCodes.Ok;
            }
            var o = ctx.Out;
            o.Line($"{dataset.Name}: {metrics.Count} examples, {metrics.Labels.Count} labels; model {r.GetValue(model)}");
            o.Line($"accuracy {TrainingSummary.Metric(metrics.Accuracy)}, macro-F1 {TrainingSummary.Metric(metrics.MacroF1)}");
            o.Line($"majority baseline (always '{majority}'): accuracy {TrainingSummary.Metric(baseline.Accuracy)}, macro-F1 {TrainingSummary.Metric(baseline.MacroF1)}");
            o.Line();
            o.Write(metrics.ToText().Replace("\n", Environment.NewLine));
            return ExitCodes.Ok;
        });
        return command;
    }
}
