using System.Text.RegularExpressions;
using GptBert.Data;
using static GptBert.Tests.Data.DataTestUtil;

namespace GptBert.Tests.Data;

/// <summary>The datasets under data/ load with the library and match what data/README.md says about them.</summary>
public class ShippedDataTests
{
    static readonly string Readme = File.ReadAllText(DataPath("README.md"));

    public static TheoryData<string> Datasets => new() { "sotu-era", "sotu-party", "fortune-category" };

    [Theory]
    [MemberData(nameof(Datasets))]
    public void ClassificationDatasetLoadsAndMatchesTheReadme(string name)
    {
        var train = LabeledDataset.Load(DataPath("classification", name, "train.csv"));
        var labels = LabelSet.FromTraining(train);
        Assert.True(labels.Count >= 2);
        var texts = new HashSet<string>(StringComparer.Ordinal);
        foreach (var split in new[] { "train", "validation", "test" })
        {
            var ds = split == "train" ? train : LabeledDataset.Load(DataPath("classification", name, split + ".csv"));
            labels.Validate(ds);
            Assert.False(ds.HasPairs);
            var counts = string.Join(", ", ds.LabelCounts().Select(kv => $"{kv.Key}: {kv.Value}"));
            var row = $"| `classification/{name}` | {split} | {ds.Count} | {counts} | {train.MajorityBaselineAccuracy(ds):0.000} |";
            Assert.Contains(row, Readme);
            foreach (var e in ds) Assert.True(texts.Add(e.Text), $"{name}: a text occurs twice (or in two splits): {e.Text[..Math.Min(60, e.Text.Length)]}");
        }
    }

    [Fact]
    public void SotuSplitsKeepWholeAddressesTogether()
    {
        foreach (var name in new[] { "sotu-era", "sotu-party" })
        {
            var speeches = new[] { "train", "validation", "test" }.Select(s =>
                DelimitedText.Parse(File.ReadAllText(DataPath("classification", name, s + ".csv")), ',', s).Skip(1)
                    .Select(r => r.Fields[2] + " " + r.Fields[3]).ToHashSet()).ToArray();
            Assert.Empty(speeches[0].Intersect(speeches[1]));
            Assert.Empty(speeches[0].Intersect(speeches[2]));
            Assert.Empty(speeches[1].Intersect(speeches[2]));
        }
    }

    [Fact]
    public void CorporaReadAsTheReadmeSays()
    {
        var rows = Regex.Matches(Readme, @"^\| `(data/[^`]+)` \| (\d+) \| ([\d,]+) \| ([\d,]+) \| ([\d,]+) \|$", RegexOptions.Multiline);
        Assert.Equal(4, rows.Count);
        foreach (Match m in rows)
        {
            var path = Path.Combine(RepoFiles.Root, m.Groups[1].Value);
            var options = path.EndsWith("fortunes") ? new TextCorpusOptions { DocumentSeparator = "%" } : null;
            var st = TextCorpus.Open(path, options).Measure();
            long N(int g) => long.Parse(m.Groups[g].Value.Replace(",", ""));
            Assert.Equal((N(2), N(3), N(4), N(5)), ((long)st.Files, st.Documents, st.Lines, st.Characters));
        }
    }

    [Fact]
    public void SotuCorpusHasEveryAddressWithItsParty()
    {
        var lines = File.ReadLines(DataPath("sotu", "sotu.jsonl")).ToList();
        Assert.Equal(233, lines.Count);
        Assert.StartsWith("{\"year\":1790,\"president\":\"George Washington\",\"party\":\"none\",\"text\":\"Fellow-Citizens", lines[0]);
        Assert.Contains("\"year\":2021,\"president\":\"Joseph R Biden\",\"party\":\"Democratic\"", lines[^1]);
        Assert.Contains(File.ReadLines(DataPath("moby-dick", "moby-dick.txt")), l => l.StartsWith("Call me Ishmael. Some years ago"));
        Assert.Equal("In the beginning God created the heaven and the earth.", File.ReadLines(DataPath("bible-kjv", "01-genesis.txt")).First());
    }

    [Fact]
    public void DataFolderStaysSmall()
    {
        long total = Directory.GetFiles(DataPath(), "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        Assert.True(total < 25L << 20, $"data/ is {total >> 20} MiB");
    }
}
