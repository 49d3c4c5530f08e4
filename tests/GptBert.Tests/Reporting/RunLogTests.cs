using System.Text;
using GptBert.Reporting;

namespace GptBert.Tests.Reporting;

public class RunLogTests
{
    static string NewLogPath() => Path.Combine(TestUtil.TempDir("runlog"), "run", RunLog.FileName);

    [Fact]
    public void AppendAndReadBack()
    {
        var path = NewLogPath(); // the "run" directory does not exist yet
        using (var log = RunLog.Open(path))
        {
            log.Append(new RunLogRecord { Step = 1, Loss = 10.5, Lr = 3e-4, Tokens = 4096, TokensPerS = 1234.5, ElapsedS = 0.25 });
            log.Append(new RunLogRecord
            {
                Step = 100, EvalLoss = 3.25,
                Metrics = new Dictionary<string, double> { ["eval_accuracy"] = 0.875, ["grad_norm"] = double.PositiveInfinity },
                Notes = new Dictionary<string, string> { ["event"] = "eval" },
            });
            log.Append(new RunLogRecord { Step = 101, Loss = double.NaN });
        }

        var text = File.ReadAllText(path);
        Assert.EndsWith("\n", text);
        var lines = text.TrimEnd('\n').Split('\n');
        Assert.Equal(3, lines.Length);
        Assert.Equal("""{"step":1,"loss":10.5,"lr":0.0003,"tokens":4096,"tokens_per_s":1234.5,"elapsed_s":0.25}""", lines[0]);
        Assert.Equal("""{"step":101,"loss":"NaN"}""", lines[2]);

        var records = RunLog.Read(path);
        Assert.Equal(3, records.Count);
        Assert.Equal(new RunLogRecord { Step = 1, Loss = 10.5, Lr = 3e-4, Tokens = 4096, TokensPerS = 1234.5, ElapsedS = 0.25 } with
        { Metrics = records[0].Metrics, Notes = records[0].Notes }, records[0]);
        Assert.Empty(records[0].Metrics);
        Assert.Equal(100, records[1].Step);
        Assert.Equal(3.25, records[1].EvalLoss);
        Assert.Null(records[1].Loss);
        Assert.Equal(0.875, records[1].Metrics["eval_accuracy"]);
        Assert.Equal(double.PositiveInfinity, records[1].Metrics["grad_norm"]);
        Assert.Equal("eval", records[1].Notes["event"]);
        Assert.Equal(0.875, records[1].Get("eval_accuracy"));
        Assert.Equal(3.25, records[1].Get("eval_loss"));
        Assert.Null(records[1].Get("missing"));
        Assert.True(double.IsNaN(records[2].Loss!.Value));
    }

    [Fact]
    public void ReopenAppends()
    {
        var path = NewLogPath();
        using (var log = RunLog.Open(path)) log.Append(new RunLogRecord { Step = 1, Loss = 2 });
        using (var log = RunLog.Open(path)) log.Append(new RunLogRecord { Step = 2, Loss = 1 });
        Assert.Equal([1L, 2L], RunLog.Read(path).Select(r => r.Step));
    }

    [Fact]
    public void PartialLastLineIsIgnoredAndCutOnReopen()
    {
        var path = NewLogPath();
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "{\"step\":1,\"loss\":3}\n{\"step\":2,\"loss\":2.5}\n{\"step\":3,\"lo");
        Assert.Equal([1L, 2L], RunLog.Read(path).Select(r => r.Step));

        using (var log = RunLog.Open(path)) log.Append(new RunLogRecord { Step = 4, Loss = 2 });
        Assert.Equal("{\"step\":1,\"loss\":3}\n{\"step\":2,\"loss\":2.5}\n{\"step\":4,\"loss\":2}\n", File.ReadAllText(path));
        Assert.Equal([1L, 2L, 4L], RunLog.Read(path).Select(r => r.Step));
    }

    [Fact]
    public void CompleteLastLineWithoutNewlineIsKept()
    {
        var path = NewLogPath();
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "{\"step\":1,\"loss\":3}\r\n\n{\"step\":2,\"loss\":2.5}");
        Assert.Equal([1L, 2L], RunLog.Read(path).Select(r => r.Step));
        using (var log = RunLog.Open(path)) log.Append(new RunLogRecord { Step = 3 });
        Assert.Equal([1L, 2L, 3L], RunLog.Read(path).Select(r => r.Step));
    }

    [Fact]
    public void TruncatedUtf8TailDoesNotCrash()
    {
        var path = NewLogPath();
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var bytes = Encoding.UTF8.GetBytes("{\"step\":1}\n{\"step\":2,\"event\":\"é");
        File.WriteAllBytes(path, bytes[..^1]); // cut inside the 2-byte é
        Assert.Equal([1L], RunLog.Read(path).Select(r => r.Step));
        using (var log = RunLog.Open(path)) log.Append(new RunLogRecord { Step = 2 });
        Assert.Equal([1L, 2L], RunLog.Read(path).Select(r => r.Step));
    }

    [Fact]
    public void ResumeDropsRecordsAfterTheCheckpoint()
    {
        var path = NewLogPath();
        using (var log = RunLog.Open(path))
            foreach (var s in new long[] { 10, 20, 30, 40 }) log.Append(new RunLogRecord { Step = s, Loss = s });
        using (var log = RunLog.Open(path, resumeFromStep: 20)) log.Append(new RunLogRecord { Step = 30, Loss = 0.5 });
        var records = RunLog.Read(path);
        Assert.Equal([10L, 20L, 30L], records.Select(r => r.Step));
        Assert.Equal(0.5, records[2].Loss);
    }

    [Fact]
    public void CorruptMiddleLineAndMissingFileAreUserErrors()
    {
        var path = NewLogPath();
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "{\"step\":1}\nnot json\n{\"step\":3}\n");
        var e = Assert.Throws<GptBertException>(() => RunLog.Read(path));
        Assert.Contains("line 2", e.Message);
        Assert.Throws<GptBertException>(() => RunLog.Read(Path.Combine(TestUtil.TempDir("runlog"), "missing.jsonl")));
    }

    [Fact]
    public void ReservedKeysCannotBeMetrics()
    {
        var path = NewLogPath();
        using var log = RunLog.Open(path);
        Assert.Throws<ArgumentException>(() => log.Append(new RunLogRecord { Step = 1, Metrics = new Dictionary<string, double> { ["loss"] = 1 } }));
    }

    [Fact]
    public void ConcurrentAppendsGiveWholeLines()
    {
        var path = NewLogPath();
        using (var log = RunLog.Open(path))
            Parallel.For(0, 400, new ParallelOptions { MaxDegreeOfParallelism = 4 },
                i => log.Append(new RunLogRecord { Step = i, Loss = i * 0.5, Notes = new Dictionary<string, string> { ["pad"] = new string('x', 200) } }));
        var records = RunLog.Read(path);
        Assert.Equal(Enumerable.Range(0, 400).Select(i => (long)i), records.Select(r => r.Step).Order());
    }

    [Fact]
    public void ReadWhileOpen()
    {
        var path = NewLogPath();
        using var log = RunLog.Open(path);
        log.Append(new RunLogRecord { Step = 1, Loss = 1 });
        Assert.Single(RunLog.Read(path)); // flushed per line, readable while training runs
    }
}
