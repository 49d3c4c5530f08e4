using System.Globalization;
using System.Text.Json;
using GptBert.Pipelines;

namespace GptBert.Data;

/// <summary>
/// Extractive QA data: SQuAD v1.1/v2.0 JSON (data → paragraphs → {context, qas → {id, question, answers: [{text,
/// answer_start}], is_impossible}}) or JSON Lines {"question", "context", "answer", "answer_start"} (an empty or absent
/// answer means "no answer"; "id" optional). An answer whose answer_start does not point at its text is dropped, and a
/// question left with no answer (and not marked impossible) is skipped; both are counted in one warning.
/// </summary>
public static class QaData
{
    /// <summary>Whether <paramref name="path"/> is SQuAD JSON (.json) rather than JSON Lines.</summary>
    public static bool IsSquadJson(string path) => path.EndsWith(".json", StringComparison.OrdinalIgnoreCase);

    public static List<QaExample> Load(string path, Action<string>? warn = null)
    {
        if (!File.Exists(path)) throw new GptBertException($"QA data file '{path}' not found");
        int badAnswers = 0, skipped = 0;
        var examples = new List<QaExample>();
        void Add(string id, string question, string context, List<QaSpan> answers, bool impossible)
        {
            int before = answers.Count;
            answers = answers.Where(a => a.Start >= 0 && a.End <= context.Length && string.CompareOrdinal(context, a.Start, a.Text, 0, a.Text.Length) == 0 && a.Text.Length > 0).ToList();
            badAnswers += before - answers.Count;
            if (!impossible && answers.Count == 0 && before > 0) { skipped++; return; }
            examples.Add(new QaExample(id, question, context, answers, impossible || answers.Count == 0));
        }
        try
        {
            if (IsSquadJson(path)) ReadSquad(path, Add);
            else ReadJsonl(path, Add);
        }
        catch (JsonException e)
        {
            throw new GptBertException($"{path}: not valid {(IsSquadJson(path) ? "SQuAD JSON" : "JSON Lines")} ({e.Message}); give SQuAD v1.1/v2.0 JSON (.json) or JSON Lines of {{\"question\", \"context\", \"answer\", \"answer_start\"}}");
        }
        if (badAnswers > 0)
            warn?.Invoke($"warning: {path}: {badAnswers.ToString(CultureInfo.InvariantCulture)} answer(s) whose answer_start does not point at the answer text were dropped; {skipped.ToString(CultureInfo.InvariantCulture)} question(s) left with no answer were skipped");
        if (examples.Count == 0) throw new GptBertException($"{path} holds no usable question/context pairs");
        return examples;
    }

    static void ReadSquad(string path, Action<string, string, string, List<QaSpan>, bool> add)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        if (!doc.RootElement.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
            throw new GptBertException($"{path}: SQuAD JSON needs a top-level \"data\" array (data → paragraphs → qas)");
        int n = 0;
        foreach (var article in data.EnumerateArray())
            foreach (var paragraph in article.GetProperty("paragraphs").EnumerateArray())
            {
                string context = paragraph.GetProperty("context").GetString() ?? "";
                foreach (var qa in paragraph.GetProperty("qas").EnumerateArray())
                {
                    n++;
                    string id = qa.TryGetProperty("id", out var i) ? i.ToString() : n.ToString(CultureInfo.InvariantCulture);
                    bool impossible = qa.TryGetProperty("is_impossible", out var imp) && imp.ValueKind == JsonValueKind.True;
                    var answers = new List<QaSpan>();
                    if (qa.TryGetProperty("answers", out var ans) && ans.ValueKind == JsonValueKind.Array)
                        foreach (var a in ans.EnumerateArray())
                            answers.Add(new QaSpan(a.GetProperty("text").GetString() ?? "", a.GetProperty("answer_start").GetInt32()));
                    if (impossible) answers.Clear(); // v2.0 keeps plausible_answers apart; "answers" is empty
                    add(id, qa.GetProperty("question").GetString() ?? "", context, answers, impossible);
                }
            }
    }

    static void ReadJsonl(string path, Action<string, string, string, List<QaSpan>, bool> add)
    {
        int line = 0;
        foreach (var raw in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(raw)) continue;
            using var doc = JsonDocument.Parse(raw);
            var o = doc.RootElement;
            string? Str(string name) => o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            string question = Str("question") ?? throw new GptBertException($"{path} line {line}: no \"question\"; each line needs {{\"question\", \"context\", \"answer\", \"answer_start\"}}");
            string context = Str("context") ?? throw new GptBertException($"{path} line {line}: no \"context\"; each line needs {{\"question\", \"context\", \"answer\", \"answer_start\"}}");
            string answer = Str("answer") ?? "";
            var answers = new List<QaSpan>();
            if (answer.Length > 0)
            {
                int start = o.TryGetProperty("answer_start", out var s) && s.ValueKind == JsonValueKind.Number ? s.GetInt32()
                    : throw new GptBertException($"{path} line {line}: an answer needs its \"answer_start\" (the char offset of the answer in the context)");
                answers.Add(new QaSpan(answer, start));
            }
            add(Str("id") ?? line.ToString(CultureInfo.InvariantCulture), question, context, answers, answer.Length == 0);
        }
    }
}
