using GptBert.Data;
using static GptBert.Tests.Data.DataTestUtil;

namespace GptBert.Tests.Data;

public class TextCorpusTests
{
    [Fact]
    public void LinesAndDocumentsOfOneFile()
    {
        using var d = new DataDir();
        // BOM, CRLF, several blank lines between documents, whitespace-only line, no final newline.
        var f = d.WriteBytes("a.txt", Concat([0xEF, 0xBB, 0xBF], Utf8("Call me Ishmael.\r\nSome years ago.\r\n\r\n\r\nIt is a way I have.\n   \nLast line")));
        var c = TextCorpus.Open(f);
        Assert.Equal([f], c.Files);
        Assert.Equal(new FileInfo(f).Length, c.TotalBytes);
        Assert.Equal(["Call me Ishmael.", "Some years ago.", "It is a way I have.", "Last line"], c.Lines().ToArray());
        Assert.Equal(["Call me Ishmael.\nSome years ago.", "It is a way I have.", "Last line"], c.Documents().ToArray());

        var docs = c.ReadDocuments().ToList();
        Assert.Equal([1L, 5L, 7L], docs.Select(x => x.Line));
        Assert.All(docs, x => Assert.Equal(f, x.File));
        Assert.Equal(c.TotalBytes, docs[^1].BytesRead);
        Assert.True(docs[0].BytesRead < docs[1].BytesRead);

        var lines = c.ReadLines().ToList();
        Assert.Equal([1L, 2L, 5L, 7L], lines.Select(x => x.Line));

        Assert.Equal(new CorpusStats(1, c.TotalBytes, 4, 3, docs.Sum(x => x.Text.Length)), c.Measure());
        Assert.Equal(c.TotalBytes, TextCorpus.CountBytes(f));
    }

    [Fact]
    public void EnumerationsAreRepeatable()
    {
        using var d = new DataDir();
        var c = TextCorpus.Open(d.Write("a.txt", "one\ntwo\n"));
        Assert.Equal(c.Lines().ToArray(), c.Lines().ToArray());
        Assert.Equal(2, c.Lines().Count());
    }

    [Fact]
    public void FolderIsRecursiveSortedAndSkipsHiddenAndOtherExtensions()
    {
        using var d = new DataDir();
        d.Write("x.txt", "x\n");
        d.Write("b/y.txt", "y\n");
        d.Write("b/c/z.txt", "z\n");
        d.Write("b/notes.md", "md\n");
        d.Write(".hidden/h.txt", "hidden\n");
        d.Write("b/.partial.txt", "partial\n");
        var c = TextCorpus.Open(d.Path);
        Assert.Equal([Path.Combine(d.Path, "b", "c", "z.txt"), Path.Combine(d.Path, "b", "y.txt"), Path.Combine(d.Path, "x.txt")], c.Files);
        Assert.Equal(["z", "y", "x"], c.Lines().ToArray());
        Assert.Equal(6, c.TotalBytes);

        var md = TextCorpus.Open(d.Path, new TextCorpusOptions { FilePattern = "*.md" });
        Assert.Equal(["md"], md.Lines().ToArray());
    }

    [Fact]
    public void GlobPatterns()
    {
        using var d = new DataDir();
        d.Write("top.txt", "top\n");
        d.Write("a/one.txt", "one\n");
        d.Write("a/b/two.txt", "two\n");
        d.Write("a/b/two.md", "md\n");
        d.Write("a/b/ab.txt", "ab\n");
        string G(params string[] p) => Path.Combine([d.Path, .. p]);

        Assert.Equal(["ab", "two", "one", "top"], TextCorpus.Open(G("**", "*.txt")).Lines().ToArray());
        Assert.Equal(["top"], TextCorpus.Open(G("*.txt")).Lines().ToArray());
        Assert.Equal(["ab", "two", "one"], TextCorpus.Open(G("a", "**", "*.txt")).Lines().ToArray());
        Assert.Equal(["ab"], TextCorpus.Open(G("a", "b", "??.txt")).Lines().ToArray());
        Assert.Equal(["ab", "md", "two"], TextCorpus.Open(G("a", "*", "*")).Lines().ToArray());
        Assert.Equal(["md"], TextCorpus.Open(G("**", "*.md")).Lines().ToArray());

        var msg = Message(() => TextCorpus.Open(G("**", "*.csv")));
        Assert.Contains("no files match", msg);
        msg = Message(() => TextCorpus.Open(G("nope", "*.txt")));
        Assert.Contains("does not exist", msg);
    }

    [Fact]
    public void RelativeGlobKeepsRelativePaths()
    {
        using var d = new DataDir();
        d.Write("p/q.txt", "q\n");
        // Relative to the current directory (not changed here: tests run in parallel).
        var rel = Path.GetRelativePath(Environment.CurrentDirectory, d.Path);
        var c = TextCorpus.Open(rel + "/p/**/*.txt");
        Assert.Equal([Path.Combine(rel, "p", "q.txt")], c.Files);
        Assert.False(Path.IsPathRooted(c.Files[0]));
        Assert.Equal(["q"], c.Lines().ToArray());
    }

    [Fact]
    public void InvalidUtf8IsReportedWithByteOffsetAndLine()
    {
        using var d = new DataDir();
        // "hello\n" is bytes 0-5, "wor" 6-8, the bad byte is at offset 9 on line 2.
        var f = d.WriteBytes("bad.txt", Concat(Utf8("hello\nwor"), [0xFF], Utf8("ld\n")));
        var c = TextCorpus.Open(f);
        var msg = Message(() => c.Lines().ToList());
        Assert.StartsWith($"{f}: invalid UTF-8 at byte offset 9 (line 2); re-encode the file as UTF-8 (e.g. iconv -f latin1 -t UTF-8 FILE) (1 of 2 lines cannot be used", msg);
    }

    [Theory]
    [InlineData(new byte[] { 0x61, 0xC3, 0x28 }, 1)]                  // lead byte followed by a non-continuation
    [InlineData(new byte[] { 0x61, 0x62, 0xE2, 0x82 }, 2)]            // truncated 3-byte sequence at end of file
    [InlineData(new byte[] { 0x61, 0xC0, 0xAF }, 1)]                  // overlong encoding of '/'
    [InlineData(new byte[] { 0x61, 0xED, 0xA0, 0x80 }, 1)]            // UTF-16 surrogate encoded in UTF-8
    [InlineData(new byte[] { 0xEF, 0xBB, 0xBF, 0x61, 0x80 }, 4)]      // after a BOM: the offset counts the BOM
    [InlineData(new byte[] { 0x61, 0x0A, 0xE2, 0x0A, 0x82, 0xAC }, 2)] // a newline cannot continue a sequence
    public void InvalidSequencesFoundAtTheirFirstByte(byte[] bytes, int offset)
    {
        using var d = new DataDir();
        var f = d.WriteBytes("bad.txt", bytes);
        var msg = Message(() => TextCorpus.Open(f).Documents().ToList());
        Assert.Contains($"invalid UTF-8 at byte offset {offset} ", msg);
    }

    [Fact]
    public void InvalidByteFarIntoTheFileHasTheRightOffsetAndLine()
    {
        using var d = new DataDir();
        // 3000 lines of 49 bytes + '\n' (150,000 bytes, several read buffers), then "ab" and a bad byte.
        var line = Utf8(new string('é', 24) + "x\n");   // 24*2 + 1 + 1 = 50 bytes
        Assert.Equal(50, line.Length);
        var bytes = Concat([.. Enumerable.Repeat(line, 3000).SelectMany(b => b)], Utf8("ab"), [0xFE], Utf8("\nlast\n"));
        var f = d.WriteBytes("big.txt", bytes);
        // One bad line in 3,002 is skipped and counted; strict mode refuses the corpus at it.
        var c = TextCorpus.Open(f);
        Assert.Equal(new string('é', 24) + "x", c.Lines().First());
        Assert.Equal(3001, c.Lines().Count());
        var skipped = Assert.Single(c.Skipped);
        Assert.Equal(new SkippedKind(BadRowKind.InvalidUtf8, 1, [3001]).ToString(), Assert.Single(skipped.Kinds).ToString());
        var msg = Message(() => TextCorpus.Open(f, new TextCorpusOptions { Strict = true }).Lines().Count());
        Assert.Contains("invalid UTF-8 at byte offset 150002 (line 3001)", msg);
    }

    [Fact]
    public void LongLinesAndCharactersAcrossBufferBoundaries()
    {
        using var d = new DataDir();
        var longLine = string.Concat(Enumerable.Repeat("añ€😀", 60_000));   // 600,000 bytes, one line
        var f = d.Write("long.txt", "short\n" + longLine + "\nend");
        Assert.Equal(["short", longLine, "end"], TextCorpus.Open(f).Lines().ToArray());
    }

    [Fact]
    public void Utf16AndBinaryFilesAreRefused()
    {
        using var d = new DataDir();
        var u16 = d.WriteBytes("u16.txt", [0xFF, 0xFE, 0x61, 0x00]);
        Assert.Contains("is UTF-16 text, not UTF-8", Message(() => TextCorpus.Open(u16).Lines().ToList()));
        var bin = d.WriteBytes("bin.txt", Concat(Utf8("ok\nab"), [0x00], Utf8("c\n")));
        Assert.Contains("NUL byte at byte offset 5 (line 2)", Message(() => TextCorpus.Open(bin).Lines().ToList()));
    }

    [Fact]
    public void StreamingReadsOnlyWhatIsConsumed()
    {
        using var d = new DataDir();
        var path = Path.Combine(d.Path, "huge.txt");
        // 48 MiB: a first line, many more lines, and an invalid byte at the very end. Taking the first
        // lines must neither read to the end (it would hit the bad byte) nor allocate anything near the size.
        using (var fs = File.Create(path))
        {
            fs.Write(Utf8("the first line\nthe second line\n"));
            var block = Utf8(string.Concat(Enumerable.Repeat(new string('a', 1023) + "\n", 1024)));
            for (int i = 0; i < 48; i++) fs.Write(block);
            fs.Write([0xFF]);
        }
        var corpus = TextCorpus.Open(path);
        Assert.True(corpus.TotalBytes > 48L << 20);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var first = corpus.ReadLines().Take(2).ToList();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(["the first line", "the second line"], first.Select(x => x.Text));
        Assert.True(allocated < 1 << 20, $"allocated {allocated} bytes to read two lines");
        Assert.True(first[1].BytesRead < 1 << 20);
    }

    [Fact]
    public void DocumentSeparatorLines()
    {
        using var d = new DataDir();
        var f = d.Write("cookies.txt", "First fortune.\n\n\t-- Someone\n%\nSecond\nfortune.\n%\n%\n\nThird.\n%\n");
        var c = TextCorpus.Open(f, new TextCorpusOptions { DocumentSeparator = "%" });
        Assert.Equal(["First fortune.\n\n\t-- Someone", "Second\nfortune.", "Third."], c.Documents().ToArray());
        Assert.Equal(["First fortune.", "\t-- Someone", "Second", "fortune.", "Third."], c.Lines().ToArray());
        Assert.Equal(3, c.Measure().Documents);
        Assert.Equal(c.Documents().Sum(x => x.Length), c.Measure().Characters);
    }

    [Fact]
    public void DocumentsNeverSpanFiles()
    {
        using var d = new DataDir();
        d.Write("1.txt", "a\nb");
        d.Write("2.txt", "c\nd\n");
        var c = TextCorpus.Open(d.Path);
        Assert.Equal(["a\nb", "c\nd"], c.Documents().ToArray());
        var docs = c.ReadDocuments().ToList();
        Assert.Equal(Path.Combine(d.Path, "2.txt"), docs[1].File);
        Assert.Equal(c.TotalBytes, docs[^1].BytesRead);
        Assert.Equal(3, docs[0].BytesRead);
    }

    [Fact]
    public void JsonLinesFilesAreOneDocumentPerLine()
    {
        using var d = new DataDir();
        var f = d.Write("c.jsonl", "{\"year\": 1790, \"text\": \"First para.\\n\\nSecond para.\"}\n\n{\"text\": \"Another \\u00e9\"}\n");
        var c = TextCorpus.Open(f);
        Assert.Equal(["First para.\n\nSecond para.", "Another é"], c.Documents().ToArray());
        Assert.Equal(["First para.", "Second para.", "Another é"], c.Lines().ToArray());
        Assert.Equal([1L, 3L], c.ReadDocuments().Select(x => x.Line));

        var g = d.Write("g.jsonl", "{\"body\": \"x\"}\n");
        Assert.Equal(["x"], TextCorpus.Open(g, new TextCorpusOptions { JsonTextField = "body" }).Lines().ToArray());
        Assert.StartsWith($"{g} line 1: no field 'text' (fields: body); set the JSON text field to one of them (1 of 1 lines", Message(() => TextCorpus.Open(g).Lines().ToList()));

        var bad = d.Write("bad.jsonl", "{\"text\": \"ok\"}\n{\"text\": oops}\n");
        var msg = Message(() => TextCorpus.Open(bad).Lines().ToList());
        Assert.StartsWith($"{bad} line 2: invalid JSON (", msg);
        var num = d.Write("num.jsonl", "{\"text\": 5}\n");
        Assert.Contains("line 1: field 'text' must be a string, found a number", Message(() => TextCorpus.Open(num).Lines().ToList()));
    }

    [Fact]
    public void EmptyCorporaAreClearErrors()
    {
        using var d = new DataDir();
        var empty = d.Write("empty.txt", "");
        Assert.Equal($"{empty} is empty; a corpus needs some text", Message(() => TextCorpus.Open(empty)));

        var blank = d.Write("blank.txt", "\n  \n\t\n");
        var c = TextCorpus.Open(blank);
        Assert.Equal($"{blank} has no text (only blank lines); a corpus needs some text", Message(() => c.Lines().ToList()));
        Assert.Contains("has no text", Message(() => c.Documents().ToList()));
        Assert.Contains("has no text", Message(() => c.Measure()));

        var folder = Path.Combine(d.Path, "f");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "a.txt"), "");
        File.WriteAllText(Path.Combine(folder, "b.txt"), "");
        Assert.Contains("is empty: its 2 files have no bytes", Message(() => TextCorpus.Open(folder)));

        var none = Path.Combine(d.Path, "none");
        Directory.CreateDirectory(none);
        File.WriteAllText(Path.Combine(none, "a.csv"), "x");
        Assert.Contains("no *.txt files in this folder or its subfolders", Message(() => TextCorpus.Open(none)));

        var missing = Path.Combine(d.Path, "missing.txt");
        Assert.Equal($"{missing}: no such file or folder; check the path", Message(() => TextCorpus.Open(missing)));
    }
}
