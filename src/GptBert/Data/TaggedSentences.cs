using System.Text.Json;

namespace GptBert.Data;

/// <summary>One pre-tokenized sentence with a tag (BIO label, "O" outside entities) per word.</summary>
public sealed record TaggedSentence(IReadOnlyList<string> Words, IReadOnlyList<string> Tags);

/// <summary>
/// Token-classification data (NER) in the two formats transformers' run_ner.py reads:
/// <list type="bullet">
/// <item>CoNLL: one word per line, whitespace-separated columns, the tag in the last column (CoNLL-2003's
/// "EU NNP B-NP B-ORG" and a plain "EU B-ORG" both work); a blank line between sentences; -DOCSTART- lines skipped.</item>
/// <item>JSON Lines (.jsonl/.json): {"tokens": ["EU", "rejects", ...], "ner_tags": ["B-ORG", "O", ...]}, tags as strings.</item>
/// </list>
/// A sentence with an unusable line (one column only, a tags/tokens length mismatch, bad JSON) is skipped and counted;
/// more than 5% of sentences unusable refuses the file (<see cref="SkippedRows.MaxBadFraction"/>).
/// </summary>
public sealed class TaggedSentences
{
    public required string Name { get; init; }
    public required IReadOnlyList<TaggedSentence> Sentences { get; init; }
    public required SkippedRows Skipped { get; init; }

    public int Count => Sentences.Count;

    /// <summary>True for the files <see cref="Load"/> reads as JSON Lines (.jsonl, .json); anything else is read as CoNLL.</summary>
    public static bool IsJsonLines(string path) =>
        Path.GetExtension(path).ToLowerInvariant() is ".jsonl" or ".json" or ".ndjson";

    /// <summary>Reads a CoNLL or JSON Lines file (by extension, see <see cref="IsJsonLines"/>); skipped sentences are summarised to <paramref name="warn"/>.</summary>
    public static TaggedSentences Load(string path, Action<string>? warn = null)
    {
        var name = Path.GetFileName(path);
        if (Directory.Exists(path)) throw new GptBertException($"{path} is a folder; pass a CoNLL file (word and tag per line) or a .jsonl file");
        if (!File.Exists(path)) throw new GptBertException($"{path}: no such file; check the path");
        string text;
        try { text = Utf8Text.DecodeLenient(File.ReadAllBytes(path), name, out _); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new GptBertException($"{path}: cannot read ({e.Message.TrimEnd('.')}); check that the file is readable", e);
        }
        var result = IsJsonLines(path) ? ParseJsonLines(text, name) : ParseConll(text, name);
        if (result.Count == 0)
            throw new GptBertException(IsJsonLines(path)
                ? $"{name} has no sentences; it needs one JSON object per line, like {{\"tokens\": [\"Paris\", \"is\", \"big\"], \"ner_tags\": [\"B-LOC\", \"O\", \"O\"]}}"
                : $"{name} has no sentences; it needs one word and its tag per line (\"Paris B-LOC\") and a blank line between sentences");
        if (result.Skipped.Count > 0) warn?.Invoke("warning: " + result.Skipped.Summary("sentences"));
        return result;
    }

    /// <summary>CoNLL text: word ... tag per line, blank lines between sentences, -DOCSTART- lines ignored.</summary>
    public static TaggedSentences ParseConll(string text, string name)
    {
        var collector = new BadRowCollector(name, strict: false, unit: "sentences");
        var sentences = new List<TaggedSentence>();
        var words = new List<string>();
        var tags = new List<string>();
        (long Line, string Message)? bad = null;

        void Flush()
        {
            if (bad is { } b) collector.Add(b.Line, BadRowKind.MissingLabel, b.Message);
            else if (words.Count > 0) { collector.Good(); sentences.Add(new TaggedSentence(words.ToArray(), tags.ToArray())); }
            words.Clear(); tags.Clear(); bad = null;
        }

        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            var cols = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (cols.Length == 0) { Flush(); continue; }
            if (cols[0] == "-DOCSTART-") { Flush(); continue; }
            if (cols.Length < 2)
            {
                bad ??= (i + 1, $"{name} line {i + 1}: '{Clip(line)}' has no tag; each line needs a word and its tag (\"Paris B-LOC\")");
                continue;
            }
            words.Add(cols[0]);
            tags.Add(cols[^1]);
        }
        Flush();
        collector.ThrowIfTooMany();
        return new TaggedSentences { Name = name, Sentences = sentences, Skipped = collector.Result() };
    }

    /// <summary>JSON Lines: {"tokens": [...], "ner_tags": [...]} per line, tags as strings.</summary>
    public static TaggedSentences ParseJsonLines(string text, string name)
    {
        var collector = new BadRowCollector(name, strict: false, unit: "sentences");
        var sentences = new List<TaggedSentence>();
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (string.IsNullOrWhiteSpace(line)) continue;
            string where = $"{name} line {i + 1}";
            if (Parse(line, where, out var sentence) is { } problem) { collector.Add(i + 1, BadRowKind.InvalidJson, problem); continue; }
            collector.Good();
            sentences.Add(sentence!);
        }
        collector.ThrowIfTooMany();
        return new TaggedSentences { Name = name, Sentences = sentences, Skipped = collector.Result() };

        static string? Parse(string line, string where, out TaggedSentence? sentence)
        {
            sentence = null;
            JsonElement root;
            try { root = JsonDocument.Parse(line).RootElement; }
            catch (JsonException) { return $"{where} is not valid JSON; each line needs {{\"tokens\": [...], \"ner_tags\": [...]}}"; }
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("tokens", out var tokens) || !root.TryGetProperty("ner_tags", out var tags)
                || tokens.ValueKind != JsonValueKind.Array || tags.ValueKind != JsonValueKind.Array)
                return $"{where} needs the arrays \"tokens\" and \"ner_tags\"";
            if (tokens.EnumerateArray().Any(t => t.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(t.GetString())))
                return $"{where}: every token must be a non-empty string";
            if (tags.EnumerateArray().Any(t => t.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(t.GetString())))
                return $"{where}: ner_tags must be strings such as \"B-PER\" (numeric tag ids have no names; write the tag names)";
            var w = tokens.EnumerateArray().Select(t => t.GetString()!).ToArray();
            var g = tags.EnumerateArray().Select(t => t.GetString()!.Trim()).ToArray();
            if (w.Length == 0) return $"{where} has no tokens";
            if (w.Length != g.Length) return $"{where} has {w.Length} tokens but {g.Length} ner_tags; give one tag per token";
            sentence = new TaggedSentence(w, g);
            return null;
        }
    }

    /// <summary>The tags of the sentences, sorted (run_ner.py's get_label_list sorts the unique labels).</summary>
    public static List<string> LabelList(IEnumerable<TaggedSentence> sentences) =>
        sentences.SelectMany(s => s.Tags).Distinct().Order(StringComparer.Ordinal).ToList();

    static string Clip(string s) => s.Length <= 40 ? s : s[..40] + "...";
}
