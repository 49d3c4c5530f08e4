using System.CommandLine;
using System.Text.Json;
using GptBert.Reporting;

namespace GptBert.Cli.Commands;

/// <summary>`gptbert score`: the standard metric of a task, from a predictions file and a references file.</summary>
public static class ScoreCommand
{
    static readonly string[] Metrics = ["bleu", "chrf", "rouge", "squad", "seqeval"];

    public static Command Create(CliContext ctx)
    {
        var command = new Command("score", """
            Score predictions against references with a task's standard metric, computed as its reference
            implementation does. Both files hold one item per line, in the same order (line N of the
            predictions goes with line N of the references).
              bleu     corpus BLEU as sacreBLEU's defaults (13a tokenizer, 4-grams, exp smoothing), 0-100
              chrf     corpus chrF as sacreBLEU (character 6-grams, beta 2); --word-order 2 gives chrF++
              rouge    ROUGE-1/2/L precision, recall, F1 as rouge-score (no stemming), mean over pairs, 0-1
              squad    exact match and F1 with the official SQuAD normalisation, 0-100; an empty line or []
                       in the references means "no answer" (SQuAD v2.0)
              seqeval  entity precision/recall/F1 as seqeval, 0-1; lines are space-separated tags
                       (B-PER I-PER O); --mode strict (IOB2, default) or --mode default (conlleval)
            Several references for one prediction (bleu, chrf, squad): write the reference line as a JSON
            list of strings, e.g. ["Denver Broncos", "the Broncos"].
            """).WithSummary("Score predictions with BLEU, chrF, ROUGE, SQuAD EM/F1 or seqeval")
            .WithExamples("""
                gptbert score --metric bleu --predictions hyp.txt --references ref.txt
                gptbert score --metric chrf --word-order 2 --predictions hyp.txt --references ref.txt
                gptbert score --metric rouge --predictions summaries.txt --references abstracts.txt --json
                gptbert score --metric squad --predictions answers.txt --references gold.jsonl
                gptbert score --metric seqeval --mode default --predictions pred.tags --references gold.tags
                """);
        var metric = new Option<string>("--metric", "-m") { Description = "bleu, chrf, rouge, squad or seqeval", HelpName = "METRIC", Required = true };
        metric.AcceptOnlyFromAmong(Metrics);
        var predictions = new Option<string>("--predictions", "-p") { Description = "File of predictions, one per line", HelpName = "FILE", Required = true };
        var references = new Option<string>("--references", "-r") { Description = "File of references, one per line (a JSON list of strings for several)", HelpName = "FILE", Required = true };
        var mode = new Option<string>("--mode") { Description = "seqeval only: strict (IOB2, the default) or default (conlleval-compatible, lenient)", HelpName = "MODE", DefaultValueFactory = _ => "strict" };
        mode.AcceptOnlyFromAmong("strict", "default");
        var wordOrder = new Option<int>("--word-order") { Description = "chrf only: word n-gram order (0 = chrF, the default; 2 = chrF++)", HelpName = "N", DefaultValueFactory = _ => 0 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of the text report" };
        foreach (var o in new Option[] { metric, predictions, references, mode, wordOrder, json }) command.Options.Add(o);
        command.SetAction(r =>
        {
            string m = r.GetValue(metric)!;
            int words = Check.AtLeast(r.GetValue(wordOrder), 0, "--word-order");
            if (words != 0 && m != "chrf") throw new UsageException("--word-order applies to --metric chrf only; remove it");
            var hyp = ReadLines(r.GetValue(predictions)!, "--predictions");
            var refs = ReadLines(r.GetValue(references)!, "--references");
            if (hyp.Length != refs.Length)
                throw new GptBertException($"--predictions has {hyp.Length} lines but --references has {refs.Length}; give one reference line per prediction line");
            bool asJson = r.GetValue(json);
            switch (m)
            {
                case "bleu":
                {
                    var s = BleuMetrics.Bleu(hyp, refs.Select(ReferenceList).ToList());
                    if (asJson) ctx.Out.JsonLine(j =>
                    {
                        j.WriteString("metric", "bleu");
                        j.WriteNumber("score", s.Score);
                        Output.WriteArray(j, "precisions", s.Precisions.Select(p => (float)p));
                        j.WriteNumber("bp", s.BrevityPenalty);
                        j.WriteNumber("ratio", s.Ratio);
                        j.WriteNumber("hyp_len", s.HypothesisLength);
                        j.WriteNumber("ref_len", s.ReferenceLength);
                    });
                    else ctx.Out.Line(s.ToString());
                    break;
                }
                case "chrf":
                {
                    var s = BleuMetrics.Chrf(hyp, refs.Select(ReferenceList).ToList(), wordOrder: words);
                    if (asJson) ctx.Out.JsonLine(j =>
                    {
                        j.WriteString("metric", words == 0 ? "chrf" : "chrf++");
                        j.WriteNumber("score", s.Score);
                        j.WriteNumber("char_order", s.CharOrder);
                        j.WriteNumber("word_order", s.WordOrder);
                        j.WriteNumber("beta", s.Beta);
                    });
                    else ctx.Out.Line(s.ToString());
                    break;
                }
                case "rouge":
                {
                    var single = refs.Select((line, i) =>
                    {
                        var list = ReferenceList(line);
                        if (list.Count != 1) throw new GptBertException($"--references line {i + 1}: rouge takes exactly one reference per prediction; keep one");
                        return list[0];
                    }).ToList();
                    var s = RougeMetrics.Compute(hyp, single);
                    var rows = new[] { ("rouge1", s.Rouge1), ("rouge2", s.Rouge2), ("rougeL", s.RougeL) };
                    if (asJson) ctx.Out.JsonLine(j =>
                    {
                        j.WriteString("metric", "rouge");
                        j.WriteNumber("count", s.Count);
                        foreach (var (name, v) in rows)
                        {
                            j.WriteStartObject(name);
                            j.WriteNumber("precision", v.Precision);
                            j.WriteNumber("recall", v.Recall);
                            j.WriteNumber("fmeasure", v.FMeasure);
                            j.WriteEndObject();
                        }
                    });
                    else
                    {
                        ctx.Out.Line($"{"",-8}{"precision",10}{"recall",10}{"f1",10}   (mean over {s.Count} pairs)");
                        foreach (var (name, v) in rows)
                            ctx.Out.Line($"{name,-8}{Output.Score(v.Precision),10}{Output.Score(v.Recall),10}{Output.Score(v.FMeasure),10}");
                    }
                    break;
                }
                case "squad":
                {
                    var s = SquadMetrics.Compute(hyp, refs.Select(l => (IReadOnlyList<string>)ReferenceList(l)).ToList());
                    if (asJson) ctx.Out.JsonLine(j =>
                    {
                        j.WriteString("metric", "squad");
                        j.WriteNumber("exact_match", s.ExactMatch);
                        j.WriteNumber("f1", s.F1);
                        j.WriteNumber("count", s.Count);
                    });
                    else ctx.Out.Line(FormattableString.Invariant($"exact_match = {s.ExactMatch:F2}  f1 = {s.F1:F2}  (n = {s.Count})"));
                    break;
                }
                default:
                {
                    var seqMode = r.GetValue(mode) == "default" ? SeqevalMode.Default : SeqevalMode.StrictIob2;
                    static IReadOnlyList<string> Tags(string line) => line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                    var s = SeqevalMetrics.Compute(refs.Select(Tags).ToList(), hyp.Select(Tags).ToList(), seqMode);
                    if (asJson) ctx.Out.JsonLine(j =>
                    {
                        j.WriteString("metric", "seqeval");
                        j.WriteString("mode", seqMode == SeqevalMode.Default ? "default" : "strict");
                        j.WriteNumber("precision", s.Precision);
                        j.WriteNumber("recall", s.Recall);
                        j.WriteNumber("f1", s.F1);
                        j.WriteNumber("support", s.Support);
                        j.WriteStartObject("per_type");
                        foreach (var t in s.PerType)
                        {
                            j.WriteStartObject(t.Label);
                            j.WriteNumber("precision", t.Precision);
                            j.WriteNumber("recall", t.Recall);
                            j.WriteNumber("f1", t.F1);
                            j.WriteNumber("support", t.Support);
                            j.WriteEndObject();
                        }
                        j.WriteEndObject();
                    });
                    else
                    {
                        ctx.Out.Line($"{"",-12}{"precision",10}{"recall",10}{"f1",10}{"support",10}");
                        foreach (var t in s.PerType)
                            ctx.Out.Line($"{t.Label,-12}{Output.Score(t.Precision),10}{Output.Score(t.Recall),10}{Output.Score(t.F1),10}{t.Support,10}");
                        ctx.Out.Line($"{"micro avg",-12}{Output.Score(s.Precision),10}{Output.Score(s.Recall),10}{Output.Score(s.F1),10}{s.Support,10}");
                    }
                    break;
                }
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    static string[] ReadLines(string path, string option)
    {
        if (!File.Exists(path)) throw new GptBertException($"{option} file not found: {path}; check the path");
        return File.ReadAllLines(path);
    }

    /// <summary>A reference line: a JSON list of strings gives several references, anything else is one.</summary>
    static IReadOnlyList<string> ReferenceList(string line)
    {
        var trimmed = line.TrimStart();
        if (trimmed.StartsWith('['))
        {
            try
            {
                var list = JsonSerializer.Deserialize<List<string>>(trimmed);
                if (list is not null) return list;
            }
            catch (JsonException) { } // not a list of strings: the line is one reference that starts with '['
        }
        return [line];
    }
}
