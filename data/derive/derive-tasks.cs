#:project ../../src/GptBert/GptBert.csproj
// Rebuilds data/qa/ (rule-built extractive QA) and data/ner/ (silver entity tags) from the texts already shipped in
// data/bible-kjv/ and data/sotu/sotu.jsonl; no download needed. Run from the repository root:
//   dotnet run --file data/derive/derive-tasks.cs
// Deterministic (fixed seed, its own SplitMix64, splits by a hash of the text), so a rerun gives byte-identical files.
// It rewrites the generated part of data/README.md between the "generated:tasks" markers.

using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;
using GptBert;
using GptBert.Pipelines;

if (!File.Exists("GptBert.sln")) { Console.Error.WriteLine("run this from the repository root (where GptBert.sln is)"); return 2; }
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
var rng = new SplitMix64(1234);

// ------------------------------------------------------------------ sources: KJV verses and SOTU addresses
var verses = new List<Verse>();
foreach (var file in Directory.GetFiles("data/bible-kjv", "*.txt").Order(StringComparer.Ordinal))
{
    var name = Path.GetFileNameWithoutExtension(file)[3..];
    var book = string.Join(' ', name.Split('-').Select(w => w is "of" ? w : char.ToUpperInvariant(w[0]) + w[1..]));
    int chapter = 1, verse = 0;
    foreach (var line in File.ReadLines(file))
    {
        if (line.Trim().Length == 0) { if (verse > 0) { chapter++; verse = 0; } continue; }
        verse++;
        verses.Add(new Verse(book, chapter, verse, line.Trim()));
    }
}
var addresses = File.ReadLines("data/sotu/sotu.jsonl").Select(l =>
{
    using var d = JsonDocument.Parse(l);
    var r = d.RootElement;
    return new Sotu(r.GetProperty("year").GetInt32(), r.GetProperty("president").GetString()!, r.GetProperty("party").GetString()!, r.GetProperty("text").GetString()!);
}).ToList();
Console.WriteLine($"{verses.Count} verses, {addresses.Count} addresses");

// Capitalised words that the rules must not take for names.
var notNames = new HashSet<string>(StringComparer.Ordinal)
{
    "And", "The", "Then", "Now", "Which", "Who", "He", "She", "They", "It", "But", "For", "Behold", "Thou", "Ye", "I", "O", "So", "When",
    "If", "Lo", "Thus", "Yea", "Also", "Therefore", "Wherefore", "God", "Lord", "Spirit", "Ghost", "Holy", "Moabitess", "King", "Son",
    "Father", "Master", "Sir", "Saviour", "Christ", "Jews", "Gentiles", "Israel", "Judah",
};

// ------------------------------------------------------------------ QA: rules whose answers are spans by construction
var qa = new List<QaRow>();
var people = new SortedSet<string>(StringComparer.Ordinal); // KJV person names the rules found (the NER gazetteer)
string Ref(Verse v) => $"kjv {v.Book} {v.Chapter}:{v.Number}";
bool Name(string w) => w.Length > 1 && !notNames.Contains(w);

// (rule, pattern, questions: (question template, answer group)); {x}/{y} are filled from the groups. Groups x and y are names.
var rules = new (string Rule, Regex Pattern, (string Question, string Answer)[] Questions, string[] NameGroups)[]
{
    ("begat", new(@"\b(?<x>[A-Z][a-z]+) (?:lived (?<n>[a-z ]+? years), and (?:he )?)?begat (?<y>[A-Z][a-z]+)"), [("Whom did {x} beget?", "y"), ("How long did {x} live before he begat {y}?", "n")], ["x", "y"]),
    ("lived-after", new(@"\b(?<x>[A-Z][a-z]+) lived after he begat (?<y>[A-Z][a-z]+) (?<n>[a-z ]+? years)"), [("How long did {x} live after he begat {y}?", "n")], ["x", "y"]),
    ("days", new(@"all the days of (?<x>[A-Z][a-z]+) were (?<n>[a-z ]+? years)"), [("How many years were all the days of {x}?", "n")], ["x"]),
    ("age", new(@"\b(?<x>[A-Z][a-z]+) was (?<n>[a-z ]+? years) old"), [("How old was {x}?", "n")], ["x"]),
    ("son-of", new(@"\b(?<x>[A-Z][a-z]+),? the son of (?<y>[A-Z][a-z]+)"), [("Whose son was {x}?", "y")], ["x", "y"]),
    ("son-of-chain", new(@"the son of (?<x>[A-Z][a-z]+),? (?=which was the son of (?<y>[A-Z][a-z]+))"), [("Whose son was {x}?", "y")], ["x", "y"]),
    ("said-unto", new(@"\b(?<x>[A-Z][a-z]+) said unto (?<y>[A-Z][a-z]+)"), [("To whom did {x} speak?", "y"), ("Who spoke to {y}?", "x")], ["x", "y"]),
    ("answered", new(@"^And (?<x>[A-Z][a-z]+) answered"), [("Who answered?", "x")], ["x"]),
    ("called-name", new(@"called (?<p>his|her) name (?<x>[A-Z][a-z]+)"), [("What name was given?", "x")], ["x"]),
    ("king-of", new(@"\b(?<x>[A-Z][a-z]+),? (?:the )?king of (?<y>[A-Z][a-z]+)"), [("Who was king of {y}?", "x"), ("Of what was {x} king?", "y")], ["x"]),
    ("went-to", new(@"\b(?<x>[A-Z][a-z]+) (?<v>went|came|departed|returned|fled|journeyed) (?:up |down |out )?(?:in)?to (?<y>[A-Z][a-z]+)"), [("Where did {x} go?", "y")], ["x"]),
    ("sons-of", new(@"the sons of (?<x>[A-Z][a-z]+); (?<y>[A-Z][a-z]+)"), [("Who is named first among the sons of {x}?", "y")], ["x", "y"]),
    ("dwelt-in", new(@"\b(?<x>[A-Z][a-z]+) dwelt in (?<y>[A-Z][a-z]+)"), [("Where did {x} dwell?", "y")], ["x"]),
};
var ruleCounts = new SortedDictionary<string, int>(StringComparer.Ordinal);
foreach (var v in verses)
{
    var asked = new HashSet<string>(StringComparer.Ordinal);
    foreach (var (rule, pattern, questions, nameGroups) in rules)
        foreach (Match m in pattern.Matches(v.Text))
        {
            if (nameGroups.Any(g => !Name(m.Groups[g].Value))) continue;
            foreach (var g in nameGroups) people.Add(m.Groups[g].Value);
            foreach (var (template, answerGroup) in questions)
            {
                var answer = m.Groups[answerGroup];
                if (!answer.Success || answer.Length == 0) continue;
                var question = template.Replace("{x}", m.Groups["x"].Value).Replace("{y}", m.Groups["y"].Value);
                if (!asked.Add(question)) continue; // one answer per question and context
                qa.Add(new QaRow(question, v.Text, answer.Value, answer.Index, Ref(v), rule));
                ruleCounts[rule] = ruleCounts.GetValueOrDefault(rule) + 1;
            }
        }
}
int kjvQa = qa.Count;

// SOTU: the opening of each address (salutation and stage directions removed) with a sentence stating who and when.
var stage = new Regex(@"\s*[\(\[][A-Za-z .]{3,30}[\)\]]");
string Opening(string text)
{
    text = Regex.Replace(stage.Replace(text, ""), @"\s+", " ").Trim();
    int colon = text.IndexOf(':');
    if (colon >= 0 && colon < 120) text = text[(colon + 1)..].Trim(); // "Fellow-Citizens of the Senate and House of Representatives:"
    var sb = new StringBuilder();
    foreach (Match s in Regex.Matches(text, @"[^.!?]+[.!?]+(?=\s+[A-Z""]|\s*$)"))
    {
        if (sb.Length + s.Length > 360) break;
        sb.Append(s.Value.Trim()).Append(' ');
        if (sb.Length >= 160) break;
    }
    if (sb.Length == 0) // a first sentence longer than the limit: cut at a word
    {
        var cut = text[..Math.Min(text.Length, 300)];
        return cut[..Math.Max(cut.LastIndexOf(' '), 1)] + " ...";
    }
    return sb.ToString().Trim();
}
string[] templates = ["This address was delivered by {p} in {y}.", "{p} delivered this State of the Union address in {y}.", "In {y}, {p} sent this message to Congress."];
foreach (var a in addresses)
{
    var opening = Opening(a.Text);
    var meta = templates[rng.Next(templates.Length)].Replace("{p}", a.President).Replace("{y}", a.Year.ToString(CultureInfo.InvariantCulture));
    bool party = a.Party is not ("none" or "Whig & Democratic");
    if (party) meta += $" {a.President} was a member of the {a.Party} Party.";
    bool metaFirst = rng.Next(2) == 0;
    var context = metaFirst ? meta + " " + opening : opening + " " + meta;
    int at = context.IndexOf(meta, StringComparison.Ordinal);
    string source = $"sotu {a.Year} {a.President}";
    int p = context.IndexOf(a.President, at, StringComparison.Ordinal);
    qa.Add(new QaRow("Who delivered this address?", context, a.President, p, source, "sotu-president"));
    var year = a.Year.ToString(CultureInfo.InvariantCulture);
    qa.Add(new QaRow("In what year was this address delivered?", context, year, context.IndexOf(year, at, StringComparison.Ordinal), source, "sotu-year"));
    if (party)
        qa.Add(new QaRow("Which party did the president belong to?", context, a.Party, context.IndexOf($"the {a.Party} Party", at, StringComparison.Ordinal) + 4, source, "sotu-party"));
}
foreach (var r in qa)
    if (r.AnswerStart < 0 || string.CompareOrdinal(r.Context, r.AnswerStart, r.Answer, 0, r.Answer.Length) != 0)
        throw new InvalidOperationException($"not a span: {r.Source} {r.Question}");

// Split by context (every question of a context in one split): 75% train, 8% validation, 17% test.
var qaSplits = Split(qa, r => r.Context, 0.75, 0.08);
var jsonOptions = new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
Directory.CreateDirectory("data/qa");
foreach (var (split, rows) in qaSplits)
    AtomicFile.Write($"data/qa/{split}.jsonl", s =>
    {
        int n = 0;
        foreach (var r in rows)
        {
            using (var w = new Utf8JsonWriter(s, jsonOptions))
            {
                w.WriteStartObject();
                w.WriteString("id", $"{split}-{++n}");
                w.WriteString("question", r.Question);
                w.WriteString("context", r.Context);
                w.WriteString("answer", r.Answer);
                w.WriteNumber("answer_start", r.AnswerStart);
                w.WriteString("source", r.Source);
                w.WriteString("rule", r.Rule);
                w.WriteEndObject();
            }
            s.WriteByte((byte)'\n');
        }
    });
Console.WriteLine($"qa: {qa.Count} questions ({kjvQa} KJV, {qa.Count - kjvQa} SOTU): " + string.Join(", ", qaSplits.Select(s => $"{s.Split} {s.Rows.Count}")));

// ------------------------------------------------------------------ NER: silver PER/LOC tags from gazetteers
var kjvPlaces = new HashSet<string>(StringComparer.Ordinal)
{
    "Egypt", "Canaan", "Jerusalem", "Babylon", "Galilee", "Judaea", "Judea", "Bethlehem", "Nazareth", "Jordan", "Sodom", "Gomorrah", "Haran",
    "Bethel", "Hebron", "Moab", "Rome", "Damascus", "Samaria", "Capernaum", "Ephesus", "Antioch", "Tarsus", "Corinth", "Macedonia", "Syria",
    "Assyria", "Nineveh", "Goshen", "Zion", "Sion", "Lebanon", "Sinai", "Horeb", "Shinar", "Gerar", "Beersheba", "Midian", "Bethany",
    "Jericho", "Cana", "Caesarea", "Athens", "Cyprus", "Crete", "Achaia", "Arabia", "Ethiopia", "Persia", "Media", "Shushan", "Gaza",
    "Joppa", "Lystra", "Derbe", "Iconium", "Troas", "Philippi", "Thessalonica", "Berea", "Spain", "Italy", "Tyre", "Zoar", "Mamre",
    "Padanaram", "Mesopotamia", "Gilead", "Bashan", "Emmaus", "Decapolis", "Idumea", "Gethsemane", "Golgotha", "Patmos", "Laodicea",
    "Smyrna", "Pergamos", "Thyatira", "Sardis", "Bethsaida", "Chorazin", "Seir", "Paran", "Kadesh", "Shur", "Ur", "Salem", "Bethphage",
};
// Names that are a person and a place or a nation here: sentences holding them are left out rather than tagged wrongly.
var kjvAmbiguous = new HashSet<string>(StringComparer.Ordinal) { "Israel", "Judah", "Edom", "Asshur", "Ammon", "Sidon", "Heth", "Cush", "Mizraim", "Shechem", "Ephraim", "Benjamin", "Dan", "Gad", "Levi", "Simeon", "Reuben", "Zebulun", "Issachar", "Naphtali", "Asher", "Manasseh", "Elam", "Aram", "Lud", "Lord", "God" };
people.ExceptWith(kjvPlaces);
people.ExceptWith(kjvAmbiguous);

var sotuPlaces = new[]
{
    "United States", "America", "Mexico", "Canada", "Cuba", "Spain", "France", "Great Britain", "England", "Ireland", "Germany", "Russia",
    "China", "Japan", "Korea", "Vietnam", "Iraq", "Iran", "Afghanistan", "Israel", "Panama", "Philippines", "Hawaii", "Alaska", "Texas",
    "California", "Oregon", "Louisiana", "Florida", "Virginia", "New York", "New Orleans", "Ohio", "Missouri", "Kansas", "Europe", "Asia",
    "Africa", "Italy", "Austria", "Greece", "Brazil", "Chile", "Peru", "Argentina", "Venezuela", "Colombia", "Nicaragua", "Haiti",
    "Puerto Rico", "Samoa", "Guam", "Berlin", "Paris", "London", "Moscow", "Tokyo", "Geneva", "Kosovo", "Bosnia", "Somalia", "Kuwait",
    "Pakistan", "India", "Poland", "Ukraine", "Cambodia", "Laos", "Libya", "Egypt", "Syria", "Lebanon", "Hungary", "Sweden", "Norway",
    "Denmark", "Netherlands", "Belgium", "Portugal", "Switzerland", "Turkey", "Persia", "Morocco", "Algiers", "Tripoli", "Tunis",
    "Great Lakes", "Pennsylvania", "Maryland", "Georgia", "Carolina", "Tennessee", "Kentucky", "Illinois", "Indiana", "Michigan",
    "Wisconsin", "Iowa", "Minnesota", "Nebraska", "Colorado", "Utah", "Nevada", "Arizona", "New Mexico", "Oklahoma", "Arkansas",
    "Alabama", "Chicago", "Boston", "Philadelphia", "San Francisco", "Havana", "Manila", "Honolulu", "Yorktown", "Oregon Territory",
};
// SOTU persons: the presidents' names as the source writes them, and names after a title (General Grant, Mr. Lincoln).
var sotuPeople = new SortedSet<string>(addresses.Select(a => a.President), StringComparer.Ordinal);
var titled = new Regex(@"\b(?:Mr\.|Mrs\.|Dr\.|General|Governor|Senator|Admiral|Captain|Colonel) (?<n>[A-Z][a-z]{2,}(?: [A-Z][a-z]{2,})?)\b");
// A word the addresses also use in lower case ("Act", "Board", "Grant") is not taken for a name after a title.
var lowerWords = addresses.SelectMany(a => Regex.Matches(a.Text, @"\b[a-z]+\b").Select(m => m.Value)).ToHashSet(StringComparer.Ordinal);
var sotuNotNames = new HashSet<string>(StringComparer.Ordinal) { "The", "And", "Of", "United", "States", "Congress", "Government", "Department", "Navy", "Army", "Treasury", "State", "War", "Speaker", "Vice", "General", "Senate", "House", "Court", "Council", "Secretary", "President", "Commission", "Assembly", "Office", "Attorney", "Postmaster", "Interior", "Agriculture", "Commerce", "Labor", "Defense", "Health", "Education", "Union" };
foreach (var a in addresses)
    foreach (Match m in titled.Matches(a.Text))
        if (!m.Groups["n"].Value.Split(' ').Any(w => sotuNotNames.Contains(w) || lowerWords.Contains(w.ToLowerInvariant())) && !sotuPlaces.Contains(m.Groups["n"].Value))
            sotuPeople.Add(m.Groups["n"].Value);
// A lone "Washington" is the city as often as the man; sentences with it (outside "George Washington") are left out.
var sotuAmbiguous = new HashSet<string>(StringComparer.Ordinal) { "Washington", "Jackson", "Lincoln", "Madison", "Monroe", "Jefferson", "Columbia" };

const int SentencesPerCorpus = 1000;
var nerRows = new List<NerRow>();
// KJV: verses of 5-40 words with an entity of the gazetteers, and one verse in six without any (so O is learnt too);
// SentencesPerCorpus of them drawn at random (seeded), in corpus order.
var kjvGazetteer = Index(people.Select(p => (p, "PER")).Concat(kjvPlaces.Order(StringComparer.Ordinal).Select(p => (p, "LOC"))));
foreach (var v in verses)
{
    var words = TokenClassifier.SplitWords(v.Text).Select(w => w.Text).ToList();
    if (words.Count < 5 || words.Count > 40 || words.Any(kjvAmbiguous.Contains)) continue;
    var tags = Tag(words, kjvGazetteer);
    bool any = tags.Any(t => t != "O");
    if (any || rng.Next(6) == 0) nerRows.Add(new NerRow(words, tags, Ref(v)));
}
nerRows = Sample(nerRows, SentencesPerCorpus, rng);
int kjvNer = nerRows.Count;
// SOTU: sentences of 8-40 words; those with an entity, and one in twenty of the rest.
var sotuGazetteer = Index(sotuPeople.Select(p => (p, "PER")).Concat(sotuPlaces.Select(p => (p, "LOC"))));
var sotuCandidates = new List<NerRow>();
foreach (var a in addresses)
{
    var text = Regex.Replace(stage.Replace(a.Text, ""), @"\s+", " ");
    foreach (Match s in Regex.Matches(text, @"[^.!?]+[.!?]+(?=\s+[A-Z]|\s*$)"))
    {
        var sentence = s.Value.Trim();
        var words = TokenClassifier.SplitWords(sentence).Select(w => w.Text).ToList();
        if (words.Count < 8 || words.Count > 40) continue;
        if (words.Where((w, i) => sotuAmbiguous.Contains(w) && !(i > 0 && sotuPeople.Contains(words[i - 1] + " " + w))).Any()) continue;
        var tags = Tag(words, sotuGazetteer);
        if (tags.Any(t => t != "O") || rng.Next(20) == 0) sotuCandidates.Add(new NerRow(words, tags, $"sotu {a.Year} {a.President}"));
    }
}
nerRows.AddRange(Sample(sotuCandidates, SentencesPerCorpus, rng));
var nerSplits = Split(nerRows, r => string.Join(' ', r.Words), 0.8, 0.08);
Directory.CreateDirectory("data/ner");
foreach (var (split, rows) in nerSplits)
    AtomicFile.WriteAllText($"data/ner/{split}.conll", string.Join("\n", rows.Select(r => string.Concat(r.Words.Select((w, i) => $"{w} {r.Tags[i]}\n")))));
Console.WriteLine($"ner: {nerRows.Count} sentences ({kjvNer} KJV, {nerRows.Count - kjvNer} SOTU); {people.Count} KJV persons, {sotuPeople.Count} SOTU persons: "
    + string.Join(", ", nerSplits.Select(s => $"{s.Split} {s.Rows.Count}")));

// ------------------------------------------------------------------ README table
var table = new List<string>
{
    "| dataset | split | rows | from KJV / SOTU | detail |",
    "|---|---|---|---|---|",
};
foreach (var (split, rows) in qaSplits)
    table.Add($"| `qa` | {split} | {rows.Count} questions | {rows.Count(r => r.Source.StartsWith("kjv"))} / {rows.Count(r => r.Source.StartsWith("sotu"))} | {rows.Select(r => r.Context).Distinct().Count()} contexts |");
foreach (var (split, rows) in nerSplits)
    table.Add($"| `ner` | {split} | {rows.Count} sentences | {rows.Count(r => r.Source.StartsWith("kjv"))} / {rows.Count(r => r.Source.StartsWith("sotu"))} | {rows.Sum(r => r.Tags.Count(t => t == "B-PER"))} PER, {rows.Sum(r => r.Tags.Count(t => t == "B-LOC"))} LOC entities, {rows.Sum(r => r.Words.Count)} words |");
table.Add("");
table.Add("QA questions per rule: " + string.Join(", ", ruleCounts.Select(kv => $"{kv.Key} {kv.Value}")) + $", sotu-president/year/party {qa.Count - kjvQa}.");
var readmePath = "data/README.md";
var readme = File.ReadAllText(readmePath);
const string begin = "<!-- generated:tasks -->", end = "<!-- /generated:tasks -->";
int b = readme.IndexOf(begin, StringComparison.Ordinal), e = readme.IndexOf(end, StringComparison.Ordinal);
if (b >= 0 && e > b)
    AtomicFile.WriteAllText(readmePath, readme[..(b + begin.Length)] + "\n" + string.Join("\n", table) + "\n" + readme[e..]);
return 0;

// Tags words by the longest gazetteer entry (one or more words) starting at each word, BIO.
static List<string> Tag(List<string> words, Dictionary<string, List<(string[] Words, string Type)>> gazetteer)
{
    var tags = Enumerable.Repeat("O", words.Count).ToList();
    for (int i = 0; i < words.Count;)
    {
        var hit = gazetteer.TryGetValue(words[i], out var entries)
            ? entries.FirstOrDefault(g => i + g.Words.Length <= words.Count && g.Words.Select((w, k) => words[i + k] == w).All(x => x))
            : default;
        if (hit.Words is null) { i++; continue; }
        for (int k = 0; k < hit.Words.Length; k++) tags[i + k] = (k == 0 ? "B-" : "I-") + hit.Type;
        i += hit.Words.Length;
    }
    return tags;
}

// n rows drawn at random (seeded), in their original order.
static List<T> Sample<T>(List<T> rows, int n, SplitMix64 rng)
{
    var keep = rows.Select((r, i) => (i, key: rng.NextULong())).OrderBy(x => x.key).Take(n).Select(x => x.i).ToHashSet();
    return rows.Where((r, i) => keep.Contains(i)).ToList();
}

// Gazetteer entries indexed by their first word, longest first.
static Dictionary<string, List<(string[] Words, string Type)>> Index(IEnumerable<(string Name, string Type)> entries) =>
    entries.Select(e => (Words: e.Name.Split(' '), e.Type)).GroupBy(e => e.Words[0], StringComparer.Ordinal)
        .ToDictionary(g => g.Key, g => g.OrderByDescending(e => e.Words.Length).ToList(), StringComparer.Ordinal);

// Splits by a stable hash (FNV-1a) of each item's key: the same key always lands in the same split, order is kept.
static List<(string Split, List<T> Rows)> Split<T>(List<T> rows, Func<T, string> key, double train, double validation)
{
    var result = new List<(string, List<T>)> { ("train", []), ("validation", []), ("test", []) };
    foreach (var r in rows)
    {
        ulong h = 14695981039346656037;
        foreach (var c in Encoding.UTF8.GetBytes(key(r))) { h ^= c; h *= 1099511628211; }
        double u = (h % 1_000_000) / 1_000_000.0;
        result[u < train ? 0 : u < train + validation ? 1 : 2].Item2.Add(r);
    }
    return result;
}

record Verse(string Book, int Chapter, int Number, string Text);
record Sotu(int Year, string President, string Party, string Text);
record QaRow(string Question, string Context, string Answer, int AnswerStart, string Source, string Rule);
record NerRow(List<string> Words, List<string> Tags, string Source);

sealed class SplitMix64(ulong seed)
{
    ulong state = seed;
    public ulong NextULong()
    {
        ulong z = state += 0x9E3779B97F4A7C15;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }
    public int Next(int n) => (int)(NextULong() % (ulong)n);
}
