using System.Text.Json;
using GptBert.Compare.Report;
using GptBert.Data;

namespace GptBert.Tests.Compare.Report;

/// <summary>Rows a reader skipped are shown in the data section of every report and in the JSON: nothing is dropped silently.</summary>
public class SkippedRowsReportTests
{
    static readonly SkippedRows Dirty = new("data/train.csv", 2403,
    [
        new SkippedKind(BadRowKind.NulByte, 2, [17, 240]),
        new SkippedKind(BadRowKind.EmptyText, 1, [99]),
    ]);

    [Fact]
    public void Skipped_rows_are_in_the_data_section_and_the_json()
    {
        var r = ReportFixtures.Classify() with { };
        r = r with { Profile = r.Profile with { Skipped = [Dirty, SkippedRows.None("test.csv", 300)] } };
        const string line = "train.csv 3 of 2,403 rows: 2 with a NUL byte (lines 17, 240), 1 with an empty text (line 99); test.csv none of 300";
        Assert.Equal(line, EvidenceTable.ProfileLines(r).Single(l => l.Label == "skipped rows").Text);
        Assert.Contains("skipped rows   " + line, ConsoleSummary.Render(r).Replace("  skipped rows", "skipped rows"));
        Assert.Contains(line, MarkdownReport.Render(r));
        Assert.Contains(System.Net.WebUtility.HtmlEncode(line).Replace("&#39;", "'"), HtmlReport.Render(r));

        using var json = JsonDocument.Parse(ReportJson.Serialize(r));
        var files = json.RootElement.GetProperty("profile").GetProperty("skipped");
        Assert.Equal(2, files.GetArrayLength());
        var train = files[0];
        Assert.Equal("data/train.csv", train.GetProperty("file").GetString());
        Assert.Equal(2403, train.GetProperty("rows").GetInt64());
        Assert.Equal(3, train.GetProperty("count").GetInt32());
        Assert.Equal("nul_byte", train.GetProperty("kinds")[0].GetProperty("kind").GetString());
        Assert.Equal([17L, 240L], train.GetProperty("kinds")[0].GetProperty("first_lines").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal(0, files[1].GetProperty("count").GetInt32());
    }

    [Fact]
    public void Clean_files_say_so_with_their_row_counts()
    {
        var r = ReportFixtures.Classify();
        r = r with { Profile = r.Profile with { Skipped = [SkippedRows.None("train.csv", 2400), SkippedRows.None("test.csv", 300)] } };
        Assert.Equal("none (train.csv 2,400 rows, test.csv 300 rows)", EvidenceTable.ProfileLines(r).Single(l => l.Label == "skipped rows").Text);
    }
}
