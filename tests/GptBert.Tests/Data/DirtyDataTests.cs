using GptBert.Data;
using static GptBert.Tests.Data.DataTestUtil;

namespace GptBert.Tests.Data;

/// <summary>
/// Real files have a bad row now and then. Each kind of unusable row is skipped and counted by default, refuses the
/// file in strict mode (naming its line), and a file mostly made of them is refused either way; real binaries are
/// refused, text with a stray NUL is not.
/// </summary>
public class DirtyDataTests
{
    /// <summary>A header and 40 good rows, labels a/b alternating; row k (1-based) is on line k + 1.</summary>
    static List<byte[]> GoodCsv(int rows = 40) =>
        [Utf8("text,label\n"), .. Enumerable.Range(1, rows).Select(i => Utf8($"text number {i},{(i % 2 == 0 ? "a" : "b")}\n"))];

    /// <summary>The same as JSON Lines; row k is on line k.</summary>
    static List<byte[]> GoodJsonl(int rows = 40) =>
        [.. Enumerable.Range(1, rows).Select(i => Utf8($"{{\"text\": \"text number {i}\", \"label\": \"{(i % 2 == 0 ? "a" : "b")}\"}}\n"))];

    public static TheoryData<string, string, BadRowKind, long, string> BadRows => new()
    {
        // file, the bad row, its kind, its line (inserted after the 20th data row), what the strict message says
        { "train.csv", "text with a \0 NUL inside,a\n", BadRowKind.NulByte, 22, "NUL byte at byte offset" },
        { "train.csv", "caf\u00E9-latin1,a\n", BadRowKind.InvalidUtf8, 22, "invalid UTF-8 at byte offset" },
        { "train.csv", " ,a\n", BadRowKind.EmptyText, 22, "empty text in column 'text'" },
        { "train.csv", "a text without a label,\n", BadRowKind.MissingLabel, 22, "empty label in column 'label'" },
        { "train.csv", "one,two,three\n", BadRowKind.RaggedRow, 22, "expected 2 fields, found 3" },
        { "train.csv", "\"quoted\" tail,a\n", BadRowKind.BadQuoting, 22, "after a closing quote" },
        { "train.csv", "\"never closed,a\n", BadRowKind.BadQuoting, 22, "unterminated quoted field" },
        { "train.tsv", "one\ttwo\tthree\n", BadRowKind.RaggedRow, 22, "expected 2 fields, found 3" },
        { "train.jsonl", "{\"text\": \"x\0y\", \"label\": \"a\"}\n", BadRowKind.NulByte, 21, "NUL byte" },
        { "train.jsonl", "{\"text\": \"\", \"label\": \"a\"}\n", BadRowKind.EmptyText, 21, "empty text" },
        { "train.jsonl", "{\"text\": \"no label here\"}\n", BadRowKind.MissingLabel, 21, "no field 'label'" },
        { "train.jsonl", "{\"text\": \"null label\", \"label\": null}\n", BadRowKind.MissingLabel, 21, "field 'label' is null" },
        { "train.jsonl", "{\"text\": \"cut off\", \"lab\n", BadRowKind.InvalidJson, 21, "invalid JSON" },
        { "train.jsonl", "[\"not\", \"an object\"]\n", BadRowKind.InvalidJson, 21, "expected a JSON object" },
    };

    static byte[] WithBadRow(string file, string badRow)
    {
        var rows = file.EndsWith(".jsonl") ? GoodJsonl() : GoodCsv();
        if (file.EndsWith(".tsv")) rows = [.. rows.Select(r => Utf8(System.Text.Encoding.UTF8.GetString(r).Replace(',', '\t')))];
        // The Latin-1 'é' is one byte 0xE9: not UTF-8.
        var bad = badRow.Contains('\u00E9') ? Concat(Utf8(badRow[..badRow.IndexOf('\u00E9')]), [0xE9], Utf8(badRow[(badRow.IndexOf('\u00E9') + 1)..])) : Utf8(badRow);
        int at = file.EndsWith(".jsonl") ? 20 : 21; // after the 20th data row
        rows.Insert(at, bad);
        return Concat([.. rows]);
    }

    [Theory]
    [MemberData(nameof(BadRows))]
    public void AnUnusableRowIsSkippedAndCounted(string file, string badRow, BadRowKind kind, long line, string _)
    {
        using var d = new DataDir();
        var path = d.WriteBytes(file, WithBadRow(file, badRow));
        var warnings = new List<string>();
        var ds = LabeledDataset.Load(path, new LabeledFormatOptions { Warn = warnings.Add });
        Assert.Equal(40, ds.Count);
        Assert.Equal(Enumerable.Range(1, 40).Select(i => $"text number {i}"), ds.Select(e => e.Text));
        Assert.Equal(1, ds.Skipped.Count);
        Assert.Equal(41, ds.Skipped.Rows);
        var k = Assert.Single(ds.Skipped.Kinds);
        Assert.Equal(kind, k.Kind);
        Assert.Equal([line], k.FirstLines);
        var warning = Assert.Single(warnings);
        Assert.Equal($"{file}: skipped 1 of 41 rows that cannot be used: 1 {SkippedRows.Describe(kind)} (line {line})", warning);
    }

    [Theory]
    [MemberData(nameof(BadRows))]
    public void StrictModeRefusesTheFileAtTheBadRow(string file, string badRow, BadRowKind _, long line, string says)
    {
        using var d = new DataDir();
        var path = d.WriteBytes(file, WithBadRow(file, badRow));
        var e = Assert.Throws<GptBertException>(() => LabeledDataset.Load(path, new LabeledFormatOptions { Strict = true }));
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains(says, e.Message);
        Assert.Contains($"line {line}", e.Message);
        Assert.Contains("(Strict: a file with an unusable row is refused", e.Message);
        Assert.Contains("Strict", e.Parameters);
        Assert.Contains("(--strict: a file with an unusable row is refused", GptBert.Cli.CliErrors.Message(e));
    }

    [Fact]
    public void ManyKindsAreCountedWithTheirFirstLines()
    {
        using var d = new DataDir();
        var rows = GoodCsv(200);
        // Seven empty texts (lines kept: the first five) and two ragged rows: 9 of 209 rows = 4.3%, under 5%.
        for (int i = 0; i < 7; i++) rows.Insert(10 + 20 * i, Utf8(",a\n"));
        rows.Insert(5, Utf8("x,y,z\n"));
        rows.Insert(6, Utf8("x,y,z\n"));
        var ds = LabeledDataset.Load(d.WriteBytes("train.csv", Concat([.. rows])));
        Assert.Equal(200, ds.Count);
        Assert.Equal(9, ds.Skipped.Count);
        Assert.Equal(209, ds.Skipped.Rows);
        Assert.Equal("train.csv: skipped 9 of 209 rows that cannot be used: 7 with an empty text (lines 13, 33, 53, 73, 93, ...), 2 with the wrong number of fields (lines 6, 7)",
            ds.Skipped.Summary());
    }

    [Fact]
    public void AFileMostlyUnusableIsRefusedEvenWhenSkipping()
    {
        using var d = new DataDir();
        // 3 bad of 43 (7%): a wrong file, not a dirty one. The message names the first bad row and the share.
        var rows = GoodCsv();
        rows.Insert(3, Utf8("x,y,z\n"));
        rows.Insert(9, Utf8(",a\n"));
        rows.Insert(20, Utf8(",b\n"));
        var msg = Message(() => LabeledDataset.Load(d.WriteBytes("train.csv", Concat([.. rows]))));
        Assert.StartsWith("train.csv line 4: expected 2 fields, found 3", msg);
        Assert.Contains("(3 of 43 rows cannot be used, 7%: more than the 5% skipped from a dirty file, so the file is refused; is it the right file?)", msg);

        // A Latin-1 file: nearly every row has an 'é'.
        var latin1 = Concat([Utf8("text,label\n"), .. Enumerable.Range(0, 30).Select(i => Concat(Utf8($"caf"), [0xE9], Utf8($" {i},a\n")))]);
        Assert.Contains("re-encode the file as UTF-8", Message(() => LabeledDataset.Load(d.WriteBytes("latin1.csv", latin1))));
    }

    [Fact]
    public void ABrokenHeaderIsAnErrorOfTheWholeFile()
    {
        using var d = new DataDir();
        var bytes = Concat([Concat(Utf8("te"), [0xFF], Utf8("xt,label\n")), .. GoodCsv().Skip(1)]);
        Assert.StartsWith("train.csv: invalid UTF-8 at byte offset 2 (line 1)", Message(() => LabeledDataset.Load(d.WriteBytes("train.csv", bytes))));
    }

    [Fact]
    public void BinaryFilesAreRefusedButAStrayNulIsNot()
    {
        using var d = new DataDir();
        // A PNG renamed .csv: its signature says what it is.
        byte[] png = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, .. Utf8("IHDR"), 0, 0, 1, 0, 0, 0, 1, 0, 8, 6, 0, 0, 0];
        Assert.StartsWith("image.csv is a PNG image (by its first bytes), not a text file", Message(() => LabeledDataset.Load(d.WriteBytes("image.csv", png))));
        Assert.Contains("image.txt is a PNG image", Message(() => TextCorpus.Open(d.WriteBytes("image.txt", png)).Lines().ToList()));
        // A file full of NULs (a binary without a known signature, or UTF-16 without a BOM).
        var utf16 = System.Text.Encoding.Unicode.GetBytes("text,label\nhello,a\nworld,b\n");
        Assert.Contains("looks like a binary file (or UTF-16 text without a byte order mark)", Message(() => LabeledDataset.Load(d.WriteBytes("u16.csv", utf16))));
        Assert.Contains("looks like a binary file", Message(() => TextCorpus.Open(d.WriteBytes("u16.txt", utf16)).Lines().ToList()));
        // A text file that happens to begin like a signature ("MZ", "PAR1") is text.
        Assert.Equal(2, LabeledDataset.Load(d.Write("mz.csv", "text,label\nMZ is a code,a\nPAR1 too,b\n"), new LabeledFormatOptions { TextColumn = "text" }).Count);
        // One stray NUL in a text file: that row is skipped, the rest is read.
        var rows = GoodCsv();
        rows.Insert(30, Concat(Utf8("stray"), [0], Utf8(" nul,a\n")));
        var ds = LabeledDataset.Load(d.WriteBytes("stray.csv", Concat([.. rows])));
        Assert.Equal(40, ds.Count);
        Assert.Equal(BadRowKind.NulByte, Assert.Single(ds.Skipped.Kinds).Kind);
    }

    [Fact]
    public void CorpusLinesAreSkippedCountedOrRefused()
    {
        using var d = new DataDir();
        var lines = Enumerable.Range(1, 60).Select(i => Utf8($"line {i}\n")).ToList();
        lines.Insert(10, Concat(Utf8("bad "), [0xC3, 0x28], Utf8("\n")));   // line 11: invalid UTF-8
        lines.Insert(20, Concat(Utf8("nul "), [0], Utf8("\n")));             // line 21: a NUL
        var f = d.WriteBytes("corpus.txt", Concat([.. lines]));
        var warnings = new List<string>();
        var c = TextCorpus.Open(f, new TextCorpusOptions { Warn = warnings.Add });
        Assert.Equal(Enumerable.Range(1, 60).Select(i => $"line {i}"), c.Lines());
        Assert.Equal(Enumerable.Range(1, 60).Select(i => $"line {i}"), c.Lines());   // a second pass: same, no second warning
        var s = Assert.Single(c.Skipped);
        Assert.Equal(62, s.Rows);
        Assert.Equal([BadRowKind.NulByte, BadRowKind.InvalidUtf8], s.Kinds.Select(k => k.Kind));
        Assert.Equal($"{f}: skipped 2 of 62 lines that cannot be used: 1 with a NUL byte (line 21), 1 with invalid UTF-8 (line 11)", Assert.Single(warnings));

        var strict = Message(() => TextCorpus.Open(f, new TextCorpusOptions { Strict = true }).Lines().ToList());
        Assert.StartsWith($"{f}: invalid UTF-8 at byte offset", strict);
        Assert.Contains("(line 11)", strict);

        // JSON Lines corpus: a line that is not an object with the text field is a bad line too.
        var jl = d.Write("c.jsonl", string.Concat(Enumerable.Range(1, 30).Select(i => $"{{\"text\": \"doc {i}\"}}\n")) + "{\"body\": \"x\"}\n");
        var cj = TextCorpus.Open(jl);
        Assert.Equal(30, cj.Documents().Count());
        Assert.Equal(BadRowKind.InvalidJson, Assert.Single(Assert.Single(cj.Skipped).Kinds).Kind);

        // Mostly bad: refused at the end of the file.
        var worse = d.WriteBytes("worse.txt", Concat([.. Enumerable.Range(0, 10).Select(i => Concat(Utf8("x"), [0xFF], Utf8("\n"))), Utf8("fine\n")]));
        Assert.Contains("10 of 11 lines cannot be used", Message(() => TextCorpus.Open(worse).Lines().ToList()));
    }
}
