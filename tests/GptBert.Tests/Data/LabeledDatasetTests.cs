using GptBert.Data;
using static GptBert.Tests.Data.DataTestUtil;

namespace GptBert.Tests.Data;

public class LabeledDatasetTests
{
    static LabeledDataset LoadText(DataDir d, string name, string content, LabeledFormatOptions? o = null) =>
        LabeledDataset.Load(d.Write(name, content), o);

    [Fact]
    public void CsvQuotingEdgeCases()
    {
        using var d = new DataDir();
        var csv =
            "text,label\r\n" +
            "\"Hello, world\",greeting\r\n" +                       // embedded comma
            "\"She said \"\"hi\"\" twice\",quote\r\n" +              // "" escapes
            "\"line one\r\nline two\nline three\",multi\r\n" +      // line breaks inside quotes (CRLF becomes LF)
            "plain text,  spaced label  \r\n" +                     // label is trimmed
            "\"\"\"\",quote\r\n" +                                  // a field that is just a quote
            "\r\n" +                                                // blank line: skipped
            "\"a,b\",\"c\"";                                        // quoted label, no final newline
        var ds = LoadText(d, "train.csv", csv);
        Assert.Equal(
        [
            new LabeledExample("Hello, world", null, "greeting"),
            new LabeledExample("She said \"hi\" twice", null, "quote"),
            new LabeledExample("line one\nline two\nline three", null, "multi"),
            new LabeledExample("plain text", null, "spaced label"),
            new LabeledExample("\"", null, "quote"),
            new LabeledExample("a,b", null, "c"),
        ], ds.Examples);
        Assert.Equal("train.csv", ds.Name);
        Assert.False(ds.HasPairs);
    }

    [Fact]
    public void RecordLinesCountPhysicalLines()
    {
        var recs = DelimitedText.Parse("h1,h2\n\"a\nb\",1\n\nc,2\r\nd,\"x\r\ny\"\re,3", ',', "t").ToList();
        Assert.Equal([1L, 2L, 5L, 6L, 8L], recs.Select(r => r.Line));
        Assert.Equal(["d", "x\ny"], recs[3].Fields);
        Assert.Equal(["e", "3"], recs[4].Fields);
        Assert.Equal(["", ""], DelimitedText.Parse(",", ',', "t").Single().Fields);
    }

    [Fact]
    public void TsvWithQuotesAndPairs()
    {
        using var d = new DataDir();
        var tsv = "label\ttext\ttext_pair\n" +
                  "entail\tA man sleeps.\tA person rests.\n" +
                  "contra\t\"tab\there\"\t\"He said \"\"no\"\".\"\n" +
                  "neutral\tcomma, fine\tno \"quotes\" needed mid-field\n";
        var ds = LoadText(d, "pairs.tsv", tsv);
        Assert.True(ds.HasPairs);
        Assert.Equal(new LabeledExample("tab\there", "He said \"no\".", "contra"), ds[1]);
        Assert.Equal(new LabeledExample("comma, fine", "no \"quotes\" needed mid-field", "neutral"), ds[2]);
    }

    [Fact]
    public void ConfigurableColumnsAndExplicitFormat()
    {
        using var d = new DataDir();
        var o = new LabeledFormatOptions { TextColumn = "sentence", LabelColumn = "y", PairColumn = "s2", Format = LabeledFormat.Csv };
        var ds = LoadText(d, "data.txt", "id,sentence,s2,y\n1,one,uno,a\n2,two,dos,b\n", o);
        Assert.Equal([new LabeledExample("one", "uno", "a"), new LabeledExample("two", "dos", "b")], ds.Examples);

        // A header differing only in case is accepted.
        var ci = LoadText(d, "ci.csv", "Text,Label\nx,a\ny,b\n");
        Assert.Equal("x", ci[0].Text);
    }

    [Fact]
    public void JsonLines()
    {
        using var d = new DataDir();
        var jl = "{\"text\": \"good \\\"film\\\"\", \"label\": \"pos\"}\n" +
                 "\n" +
                 "{\"text\": \"bad, film\", \"label\": 0, \"text_pair\": null}\r\n" +
                 "{\"label\": true, \"text\": \"é\", \"text_pair\": \"second\", \"extra\": [1, 2]}\n";
        var ds = LoadText(d, "train.jsonl", jl);
        Assert.Equal(
        [
            new LabeledExample("good \"film\"", null, "pos"),
            new LabeledExample("bad, film", null, "0"),
            new LabeledExample("é", "second", "true"),
        ], ds.Examples);
        Assert.True(ds.HasPairs);
    }

    [Fact]
    public void MissingColumnNamesTheColumnsAndTheSetting()
    {
        using var d = new DataDir();
        Assert.Equal("train.csv: no column 'label' (columns: a, b, c); pass LabelColumn NAME",
            Message(() => LoadText(d, "train.csv", "a,b,c\n1,2,3\n", new LabeledFormatOptions { TextColumn = "a" })));
        Assert.Equal("train.csv: no column 'text' (columns: a, b, c); pass TextColumn NAME",
            Message(() => LoadText(d, "train.csv", "a,b,c\n1,2,3\n")));
        Assert.Equal("train.tsv: no column 'premise' (columns: text, label); pass PairColumn NAME",
            Message(() => LoadText(d, "train.tsv", "text\tlabel\nx\ty\n", new LabeledFormatOptions { PairColumn = "premise" })));
        // Half the rows lack the label: a wrong file, refused with the first bad row's message and the count.
        var e = Assert.Throws<GptBertException>(() => LoadText(d, "train.jsonl", "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"b\", \"lbl\": \"y\"}\n"));
        Assert.StartsWith("train.jsonl line 2: no field 'label' (fields: text, lbl); pass LabelColumn NAME (1 of 2 rows cannot be used, 50%", e.Message);
        Assert.Equal("LabelColumn", e.Parameter);
        // The command line says it with its flag.
        Assert.StartsWith("train.jsonl line 2: no field 'label' (fields: text, lbl); pass --label-column NAME (1 of 2", GptBert.Cli.CliErrors.Message(e));
        Assert.Contains("column 'text' appears twice", Message(() => LoadText(d, "dup.csv", "text,label,text\n")));
    }

    static string SixteenGoodLines => "text,label\n" + string.Concat(Enumerable.Range(1, 15).Select(i => $"t{i},{(i % 2 == 0 ? "a" : "b")}\n"));

    [Fact]
    public void MalformedRowsReportTheirLine()
    {
        using var d = new DataDir();
        // Line 17 is the first bad one.
        var wrongCount = SixteenGoodLines + "only one field\nmore,a\n";
        Assert.StartsWith("train.csv line 17: expected 2 fields, found 1",
            Message(() => LoadText(d, "train.csv", wrongCount)));

        var three = "a,text,label\n1,x,y\n2,\"multi\nline\",z\n4,w\n";
        Assert.StartsWith("three.csv line 5: expected 3 fields, found 2", Message(() => LoadText(d, "three.csv", three)));

        var unterminated = SixteenGoodLines + "\"never closed,a\nmore,b\n";
        Assert.StartsWith("train.csv line 17: unterminated quoted field; close it with \" (a quote inside a quoted field is written \"\") (1 of 17 rows",
            Message(() => LoadText(d, "train.csv", unterminated)));

        var afterQuote = "text,label\n\"quoted\" tail,a\n";
        Assert.StartsWith("train.csv line 2: unexpected space after a closing quote",
            Message(() => LoadText(d, "train.csv", afterQuote)));

        Assert.StartsWith("train.csv line 3: empty label in column 'label'; give every example a label or remove the row",
            Message(() => LoadText(d, "train.csv", "text,label\nx,a\ny, \n")));
        Assert.StartsWith("train.csv line 2: empty text in column 'text'; fill it in or remove the row",
            Message(() => LoadText(d, "train.csv", "text,label\n,a\ny,b\n")));
    }

    [Fact]
    public void BadJsonLineReportsItsLine()
    {
        using var d = new DataDir();
        var jl = "{\"text\": \"a\", \"label\": \"x\"}\n\n{\"text\": \"b\", \"label\": }\n";
        var msg = Message(() => LoadText(d, "train.jsonl", jl));
        Assert.StartsWith("train.jsonl line 3: invalid JSON (", msg);
        Assert.Contains("; each line must be one object like {\"text\": \"...\", \"label\": \"...\"} (1 of 2 rows cannot be used", msg);

        Assert.StartsWith("train.jsonl line 1: expected a JSON object",
            Message(() => LoadText(d, "train.jsonl", "[\"text\", \"label\"]\n")));
        Assert.StartsWith("train.jsonl line 1: field 'label' is null; give every example a label or remove the row",
            Message(() => LoadText(d, "train.jsonl", "{\"text\": \"a\", \"label\": null}\n")));
        Assert.StartsWith("train.jsonl line 1: field 'label' must be a string or a number, found an array",
            Message(() => LoadText(d, "train.jsonl", "{\"text\": \"a\", \"label\": [1]}\n")));
    }

    [Fact]
    public void EmptyFiles()
    {
        using var d = new DataDir();
        Assert.Equal("train.csv is empty; it needs a header row (text,label) and one row per example",
            Message(() => LoadText(d, "train.csv", "")));
        Assert.StartsWith("train.tsv is empty", Message(() => LoadText(d, "train.tsv", "\n\n  \n")));
        Assert.Equal("train.csv has a header but no examples; add one row per example below it",
            Message(() => LoadText(d, "train.csv", "text,label\n\n")));
        Assert.StartsWith("train.jsonl is empty; it needs one JSON object per line",
            Message(() => LoadText(d, "train.jsonl", "\n")));
        Assert.StartsWith("train.csv is empty", Message(() => LoadText(d, "train.csv", "\uFEFF")));
    }

    [Fact]
    public void SingleLabelIsRefusedUnlessAllowed()
    {
        using var d = new DataDir();
        var f = d.Write("train.csv", "text,label\na,x\nb,x\n");
        Assert.Equal("only one label 'x' in train.csv; classification needs at least two", Message(() => LabeledDataset.Load(f)));
        Assert.Equal(2, LabeledDataset.Load(f, new LabeledFormatOptions { RequireTwoLabels = false }).Count);
    }

    [Fact]
    public void InvalidUtf8InLabeledFile()
    {
        using var d = new DataDir();
        var f = d.WriteBytes("train.csv", Concat(Utf8("text,label\ncaf"), [0xE9], Utf8(",x\n")));
        Assert.StartsWith("train.csv: invalid UTF-8 at byte offset 14 (line 2); re-encode the file as UTF-8 (e.g. iconv -f latin1 -t UTF-8 FILE) (1 of 1 rows",
            Message(() => LabeledDataset.Load(f)));
    }

    [Fact]
    public void PathAndFormatErrors()
    {
        using var d = new DataDir();
        Assert.Contains("no such file", Message(() => LabeledDataset.Load(Path.Combine(d.Path, "nope.csv"))));
        Assert.Contains("cannot tell the format from the extension '.txt'", Message(() => LoadText(d, "x.txt", "text,label\n")));
        Assert.Contains("is a folder", Message(() => LabeledDataset.Load(d.Path)));
        Assert.Equal(LabeledFormat.Tsv, LabeledFormatOptions.ParseFormat("TSV"));
        Assert.Contains("use csv, tsv or jsonl", Message(() => LabeledFormatOptions.ParseFormat("xml")));
    }

    [Theory]
    [InlineData("out.csv")]
    [InlineData("out.tsv")]
    [InlineData("out.jsonl")]
    public void SaveThenLoadRoundTrips(string file)
    {
        using var d = new DataDir();
        var examples = new[]
        {
            new LabeledExample("comma, \"quote\"\ttab\nnewline", "pair, too", "a"),
            new LabeledExample("  edge spaces  ", null, "b"),
            new LabeledExample("ünïcødé 😀", "x", "a"),
        };
        var path = Path.Combine(d.Path, file);
        LabeledDataset.FromExamples(examples).Save(path);
        var back = LabeledDataset.Load(path);
        Assert.Equal(examples, back.Examples);
    }

    [Fact]
    public void LabelCountsAndMajorityBaseline()
    {
        var train = LabeledDataset.FromExamples(
            new[] { "a", "b", "b", "c", "b", "a" }.Select((l, i) => new LabeledExample($"t{i}", null, l)), "train");
        Assert.Equal(["a: 2", "b: 3", "c: 1"], train.LabelCounts().Select(kv => $"{kv.Key}: {kv.Value}"));
        Assert.Equal(("b", 3), train.MajorityLabel());
        Assert.Equal(0.5, train.MajorityBaselineAccuracy());
        var test = LabeledDataset.FromExamples(new[] { "b", "a", "a", "c" }.Select(l => new LabeledExample("x", null, l)), "test");
        Assert.Equal(0.25, train.MajorityBaselineAccuracy(test));

        // Ties go to the first label in order; integer labels are ordered numerically.
        var tie = LabeledDataset.FromExamples(new[] { "10", "2", "10", "2", "9" }.Select(l => new LabeledExample("x", null, l)));
        Assert.Equal(["2", "9", "10"], tie.LabelCounts().Keys);
        Assert.Equal(("2", 2), tie.MajorityLabel());
    }
}
