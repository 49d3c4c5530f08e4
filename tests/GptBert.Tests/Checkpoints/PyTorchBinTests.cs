using System.IO.Compression;
using System.Text;
using GptBert.Checkpoints;
using TorchSharp;
using static GptBert.Tests.Checkpoints.CheckpointTestUtil;
using static TorchSharp.torch;

namespace GptBert.Tests.Checkpoints;

public class PyTorchBinTests
{
    static string Write(byte[] bytes, string name = "pytorch_model.bin")
    {
        var path = Path.Combine(TempDir("bin"), name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    static float[] F(Tensor t) => t.contiguous().to(ScalarType.Float32).data<float>().ToArray();

    [Fact]
    public void Load_RealTorchSave_GivesEveryTensorAsTorchPrintedIt()
    {
        var sd = PyTorchBin.Load(Write(TorchSaveFixtures.PytorchModelBin));
        Assert.Equal(
            ["dense.weight", "dense.bias", "half", "bf16", "long", "int", "bool", "u8", "f64", "slice", "prefix", "transposed", "tied", "scalar", "empty"],
            sd.Keys.ToArray());

        Assert.Equal(ScalarType.Float32, sd["dense.weight"].dtype);
        Assert.Equal([2L, 3], sd["dense.weight"].shape);
        Assert.Equal([0.5f, -1.25f, 2.0f, 3.0f, -0.125f, 1e-3f], F(sd["dense.weight"]));
        Assert.Equal([0.25f, -4.0f], F(sd["dense.bias"]));

        Assert.Equal(ScalarType.Float16, sd["half"].dtype);
        Assert.Equal([1.5f, -2.0f, 65504.0f], F(sd["half"]));
        Assert.Equal(ScalarType.BFloat16, sd["bf16"].dtype);
        Assert.Equal([1.0f, -0.5f, 3.00405527047391e+38f], F(sd["bf16"]));

        Assert.Equal(ScalarType.Int64, sd["long"].dtype);
        Assert.Equal([2L, 2], sd["long"].shape);
        Assert.Equal([1L, -2, 3, 1099511627776], sd["long"].contiguous().data<long>().ToArray());
        Assert.Equal(ScalarType.Int32, sd["int"].dtype);
        Assert.Equal([7, -8], sd["int"].data<int>().ToArray());
        Assert.Equal(ScalarType.Bool, sd["bool"].dtype);
        Assert.Equal([true, false, true], sd["bool"].data<bool>().ToArray());
        Assert.Equal(ScalarType.Byte, sd["u8"].dtype);
        Assert.Equal([0, 255], sd["u8"].data<byte>().ToArray());
        Assert.Equal(ScalarType.Float64, sd["f64"].dtype);
        Assert.Equal(1.25, sd["f64"].item<double>());

        // A view at storage offset 4 of a shared 12-element storage, and another view of it at offset 0.
        Assert.Equal([2L, 3], sd["slice"].shape);
        Assert.Equal([4f, 5, 6, 7, 8, 9], F(sd["slice"]));
        Assert.Equal([0f, 1, 2, 3], F(sd["prefix"]));
        // Stride (1, 3): the values torch printed in row-major order of the (3, 2) view.
        Assert.Equal([3L, 2], sd["transposed"].shape);
        Assert.Equal([0f, 3, 1, 4, 2, 5], F(sd["transposed"]));
        Assert.True(sd["transposed"].is_contiguous());

        Assert.Equal(F(sd["dense.weight"]), F(sd["tied"]));
        Assert.NotSame(sd["dense.weight"], sd["tied"]);   // each name its own handle, so callers may dispose all values
        Assert.Empty(sd["scalar"].shape);
        Assert.Equal(3.5f, sd["scalar"].item<float>());
        Assert.Equal([0L, 4], sd["empty"].shape);

        foreach (var t in sd.Values) t.Dispose();
    }

    [Fact]
    public void TiedTensors_ShareStorage_LikeTorchLoad()
    {
        var sd = PyTorchBin.Load(Write(TorchSaveFixtures.PytorchModelBin));
        using (no_grad()) sd["dense.weight"][0, 0] = 42f;
        Assert.Equal(42f, sd["tied"][0, 0].item<float>());
    }

    [Fact]
    public void Load_ArchivePrefixAndProtocol4_FromRealTorch()
    {
        var a = PyTorchBin.Load(Write(TorchSaveFixtures.ArchivePrefixBin));
        Assert.Equal(["w"], a.Keys.ToArray());
        Assert.Equal([1f, 2, 3], F(a["w"]));

        var p4 = PyTorchBin.Load(Write(TorchSaveFixtures.Protocol4Bin));
        Assert.Equal(["a.weight", "a.bias"], p4.Keys.ToArray());
        Assert.Equal([1f, 2, 3, 4], F(p4["a.weight"]));
        Assert.Equal(ScalarType.Float16, p4["a.bias"].dtype);
        Assert.Equal([-1f, 0.5f], F(p4["a.bias"]));
    }

    // ---------- damaged or hostile files ----------

    static byte[] Rewrite(byte[] zipBytes, Action<ZipArchive> edit)
    {
        var ms = new MemoryStream();
        ms.Write(zipBytes);
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Update, leaveOpen: true)) edit(zip);
        return ms.ToArray();
    }

    static void Replace(ZipArchive zip, string name, byte[] content)
    {
        zip.GetEntry(name)!.Delete();
        using var s = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
        s.Write(content);
    }

    /// <summary>A zip holding archive/data.pkl = <paramref name="pickle"/>, written opcode by opcode in the test.</summary>
    static byte[] ZipWithPickle(byte[] pickle)
    {
        var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            using (var s = zip.CreateEntry("archive/data.pkl", CompressionLevel.NoCompression).Open()) s.Write(pickle);
            using (var s = zip.CreateEntry("archive/version", CompressionLevel.NoCompression).Open()) s.Write("3\n"u8);
        }
        return ms.ToArray();
    }

    [Fact]
    public void TruncatedStorage_IsReported()
    {
        // dense.weight's storage "0" holds 6 floats (24 bytes); keep only 8.
        var bytes = Rewrite(TorchSaveFixtures.PytorchModelBin, z => Replace(z, "pytorch_model/data/0", new byte[8]));
        var ex = Assert.Throws<GptBertException>(() => PyTorchBin.Load(Write(bytes)));
        Assert.Equal("pytorch_model.bin is truncated: storage '0' needs 24 bytes but the archive holds 8; re-download the checkpoint", ex.Message);
    }

    [Fact]
    public void MissingStorageRecord_IsReported()
    {
        var bytes = Rewrite(TorchSaveFixtures.PytorchModelBin, z => z.GetEntry("pytorch_model/data/1")!.Delete());
        var ex = Assert.Throws<GptBertException>(() => PyTorchBin.Load(Write(bytes)));
        Assert.Contains("'pytorch_model/data/1' is missing", ex.Message);
    }

    [Fact]
    public void CutOffFile_IsReported()
    {
        var bytes = TorchSaveFixtures.PytorchModelBin;
        var ex = Assert.Throws<GptBertException>(() => PyTorchBin.Load(Write(bytes[..(bytes.Length / 2)])));
        Assert.Contains("truncated or corrupt", ex.Message);
    }

    [Fact]
    public void ArbitraryPythonGlobal_IsRefused_NotCalled()
    {
        // PROTO 2; GLOBAL 'posix system'; BINUNICODE 'echo'; TUPLE1; REDUCE; STOP  (pickletools opcode table)
        var pickle = new List<byte> { 0x80, 0x02, (byte)'c' };
        pickle.AddRange("posix\nsystem\n"u8.ToArray());
        pickle.Add((byte)'X'); pickle.AddRange(BitConverter.GetBytes(4)); pickle.AddRange("echo"u8.ToArray());
        pickle.AddRange([0x85, (byte)'R', (byte)'.']);
        var ex = Assert.Throws<GptBertException>(() => PyTorchBin.Load(Write(ZipWithPickle(pickle.ToArray()))));
        Assert.Contains("posix.system", ex.Message);
    }

    [Fact]
    public void NonTensorValue_IsReported()
    {
        // PROTO 2; EMPTY_DICT; BINUNICODE 'step'; BININT1 5; SETITEM; STOP  → {'step': 5}
        var pickle = new List<byte> { 0x80, 0x02, (byte)'}', (byte)'X' };
        pickle.AddRange(BitConverter.GetBytes(4)); pickle.AddRange("step"u8.ToArray());
        pickle.AddRange([(byte)'K', 5, (byte)'s', (byte)'.']);
        var ex = Assert.Throws<GptBertException>(() => PyTorchBin.Load(Write(ZipWithPickle(pickle.ToArray()))));
        Assert.Contains("entry 'step' is a int, not a tensor", ex.Message);
    }

    [Fact]
    public void CorruptPickle_IsReported()
    {
        var ex = Assert.Throws<GptBertException>(() => PyTorchBin.Load(Write(ZipWithPickle([0x80, 0x02, 0xff]))));
        Assert.Contains("corrupt data.pkl", ex.Message);
        Assert.Contains("opcode 0xff", ex.Message);
    }

    [Fact]
    public void LegacyFormat_AndNonCheckpoint_AreReported()
    {
        // Pre-1.6 torch.save files start with a pickled magic number: PROTO 2, LONG1 ...
        var legacy = Assert.Throws<GptBertException>(() => PyTorchBin.Load(Write([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19])));
        Assert.Contains("legacy", legacy.Message);
        var junk = Assert.Throws<GptBertException>(() => PyTorchBin.Load(Write(Encoding.ASCII.GetBytes("<html>not found</html>"))));
        Assert.Contains("not a PyTorch checkpoint", junk.Message);
    }
}
