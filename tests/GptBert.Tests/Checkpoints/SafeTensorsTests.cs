using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using GptBert.Checkpoints;
using TorchSharp;
using static GptBert.Tests.Checkpoints.CheckpointTestUtil;
using static TorchSharp.torch;

namespace GptBert.Tests.Checkpoints;

public class SafeTensorsTests
{
    // ---------- reading a file built byte by byte from the format description ----------

    [Fact]
    public void Load_HandBuiltFile_GivesValuesDtypesAndShapes()
    {
        // Data buffer laid out in an order different from the header order, as the format allows.
        var data = Concat(
            I64(1, -1, 1L << 40),                                   // b: I64 [3]     bytes 0..24
            F32(1.0f, -2.5f, 3.25f, 1e-3f),                         // a: F32 [2, 2]  bytes 24..40
            U16(0x3C00, 0xC000),                                    // c: F16 [2] = 1.0, -2.0       40..44
            U16(0x3F80, 0xC040),                                    // d: BF16 [2] = 1.0, -3.0      44..48
            [0, 7, 255],                                            // e: U8 [3]      48..51
            [1, 0],                                                 // f: BOOL [2]    51..53
            [0xFE, 0x05],                                           // g: I8 [2] = -2, 5            53..55
            U16(0xFFFF),                                            // h: I16 [1] = -1              55..57
            I32(-7),                                                // i: I32 [1]     57..61
            F64(0.1),                                               // j: F64 [] (scalar)           61..69
            F32(4.5f));                                             // k: F32 [1, 1]  69..73; z: F32 [0, 3] at 73..73
        string header = """
            {"a":{"dtype":"F32","shape":[2,2],"data_offsets":[24,40]},
             "b":{"dtype":"I64","shape":[3],"data_offsets":[0,24]},
             "c":{"dtype":"F16","shape":[2],"data_offsets":[40,44]},
             "d":{"dtype":"BF16","shape":[2],"data_offsets":[44,48]},
             "e":{"dtype":"U8","shape":[3],"data_offsets":[48,51]},
             "f":{"dtype":"BOOL","shape":[2],"data_offsets":[51,53]},
             "g":{"dtype":"I8","shape":[2],"data_offsets":[53,55]},
             "h":{"dtype":"I16","shape":[1],"data_offsets":[55,57]},
             "i":{"dtype":"I32","shape":[1],"data_offsets":[57,61]},
             "j":{"dtype":"F64","shape":[],"data_offsets":[61,69]},
             "k":{"dtype":"F32","shape":[1,1],"data_offsets":[69,73]},
             "z":{"dtype":"F32","shape":[0,3],"data_offsets":[73,73]},
             "__metadata__":{"format":"pt","note":"hand-built"}}
            """;
        var dir = TempDir("st-load");
        var path = Path.Combine(dir, "model.safetensors");
        File.WriteAllBytes(path, SafetensorsFile(header, data));

        var sd = SafeTensors.Load(path);
        Assert.Equal(["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "z"], sd.Keys.ToArray());

        Assert.Equal(ScalarType.Float32, sd["a"].dtype);
        Assert.Equal([2L, 2], sd["a"].shape);
        Assert.Equal([1.0f, -2.5f, 3.25f, 1e-3f], sd["a"].data<float>().ToArray());

        Assert.Equal(ScalarType.Int64, sd["b"].dtype);
        Assert.Equal([1L, -1, 1L << 40], sd["b"].data<long>().ToArray());

        Assert.Equal(ScalarType.Float16, sd["c"].dtype);
        Assert.Equal([1.0f, -2.0f], sd["c"].to(ScalarType.Float32).data<float>().ToArray());
        Assert.Equal(ScalarType.BFloat16, sd["d"].dtype);
        Assert.Equal([1.0f, -3.0f], sd["d"].to(ScalarType.Float32).data<float>().ToArray());

        Assert.Equal(ScalarType.Byte, sd["e"].dtype);
        Assert.Equal([0, 7, 255], sd["e"].data<byte>().ToArray());
        Assert.Equal(ScalarType.Bool, sd["f"].dtype);
        Assert.Equal([true, false], sd["f"].data<bool>().ToArray());
        Assert.Equal(ScalarType.Int8, sd["g"].dtype);
        Assert.Equal([(sbyte)-2, (sbyte)5], sd["g"].data<sbyte>().ToArray());
        Assert.Equal(ScalarType.Int16, sd["h"].dtype);
        Assert.Equal([(short)-1], sd["h"].data<short>().ToArray());
        Assert.Equal(ScalarType.Int32, sd["i"].dtype);
        Assert.Equal([-7], sd["i"].data<int>().ToArray());
        Assert.Equal(ScalarType.Float64, sd["j"].dtype);
        Assert.Empty(sd["j"].shape);
        Assert.Equal(0.1, sd["j"].item<double>());
        Assert.Equal([1L, 1], sd["k"].shape);
        Assert.Equal(4.5f, sd["k"].item<float>());
        Assert.Equal([0L, 3], sd["z"].shape);

        var header2 = SafeTensors.ReadHeader(path);
        Assert.Equal("BF16", header2["d"].Dtype);
        Assert.Equal([2L, 2], header2["a"].Shape);
        Assert.Equal("hand-built", SafeTensors.ReadMetadata(path)["note"]);
    }

    // ---------- writing: parse the produced bytes by hand ----------

    [Fact]
    public void Save_WritesSpecLayout_SortedKeysPaddedHeaderAndRawData()
    {
        var dir = TempDir("st-save");
        var path = Path.Combine(dir, "out.safetensors");
        var tensors = new Dictionary<string, Tensor>
        {
            ["zeta"] = tensor(new float[] { 1.5f, -2f }),
            ["alpha"] = tensor(new long[] { 7, -(1L << 50) }),
            ["mid.x"] = tensor(new float[] { 1f, -2f, 0.5f }).to(ScalarType.Float16).reshape(3, 1),
            ["Beta"] = tensor(new byte[] { 9 }),
        };
        SafeTensors.Save(path, tensors);
        var bytes = File.ReadAllBytes(path);

        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, n % 8);                                   // data starts 8-byte aligned
        var headerBytes = bytes.AsSpan(8, (int)n).ToArray();
        var json = Encoding.UTF8.GetString(headerBytes);
        Assert.StartsWith("{", json);
        int close = json.LastIndexOf('}');
        Assert.All(headerBytes[(close + 1)..], b => Assert.Equal((byte)' ', b));   // JSON, then only space padding
        Assert.True(headerBytes.Length - (close + 1) < 8, "padding is less than 8 bytes");

        using var doc = JsonDocument.Parse(json);
        var props = doc.RootElement.EnumerateObject().Select(p => p.Name).ToList();
        Assert.Equal(["__metadata__", "Beta", "alpha", "mid.x", "zeta"], props);   // ordinal order after metadata
        Assert.Equal("pt", doc.RootElement.GetProperty("__metadata__").GetProperty("format").GetString());

        long dataStart = 8 + (long)n;
        long expectedBegin = 0;
        var expect = new (string Name, string Dtype, long[] Shape, byte[] Data)[]
        {
            ("Beta", "U8", [1], [9]),
            ("alpha", "I64", [2], I64(7, -(1L << 50))),
            ("mid.x", "F16", [3, 1], U16(0x3C00, 0xC000, 0x3800)),
            ("zeta", "F32", [2], F32(1.5f, -2f)),
        };
        foreach (var (name, dtype, shape, data) in expect)
        {
            var e = doc.RootElement.GetProperty(name);
            Assert.Equal(dtype, e.GetProperty("dtype").GetString());
            Assert.Equal(shape, e.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray());
            var offs = e.GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()).ToArray();
            Assert.Equal(expectedBegin, offs[0]);                     // contiguous, in key order
            Assert.Equal(expectedBegin + data.Length, offs[1]);
            Assert.Equal(data, bytes.AsSpan((int)(dataStart + offs[0]), data.Length).ToArray());
            expectedBegin = offs[1];
        }
        Assert.Equal(dataStart + expectedBegin, bytes.Length);
        Assert.Equal([path], Directory.GetFiles(dir));   // no temp file left behind
    }

    [Fact]
    public void Save_UsesCallerMetadata_AndAddsFormatPt()
    {
        var dir = TempDir("st-meta");
        var path = Path.Combine(dir, "m.safetensors");
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["x"] = zeros(1) }, new Dictionary<string, string> { ["source"] = "unit test" });
        var meta = SafeTensors.ReadMetadata(path);
        Assert.Equal("unit test", meta["source"]);
        Assert.Equal("pt", meta["format"]);
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.Float16)]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Int64)]
    public void SaveThenLoad_IsBitExact(ScalarType dtype)
    {
        var g = new Generator(seed: 42);
        Tensor t = dtype == ScalarType.Int64
            ? randint(long.MinValue / 2, long.MaxValue / 2, [5, 7], dtype: ScalarType.Int64, generator: g)
            : randn([5, 7], generator: g).mul(1000).to(dtype);
        if (dtype != ScalarType.Int64)
        {
            // Specials survive bit-for-bit too.
            t[0, 0] = float.NaN; t[0, 1] = float.PositiveInfinity; t[0, 2] = float.NegativeInfinity; t[0, 3] = -0.0f;
        }
        var nonContiguous = t.t();   // saving must write row-major values of what the caller sees
        var dir = TempDir("st-rt");
        var path = Path.Combine(dir, "rt.safetensors");
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["t"] = t, ["tt"] = nonContiguous });
        var back = SafeTensors.Load(path);
        Assert.Equal(dtype, back["t"].dtype);
        Assert.Equal(t.shape, back["t"].shape);
        Assert.Equal(t.bytes.ToArray(), back["t"].bytes.ToArray());
        Assert.Equal([7L, 5], back["tt"].shape);
        Assert.Equal(nonContiguous.contiguous().bytes.ToArray(), back["tt"].bytes.ToArray());
    }

    [Fact]
    public void Save_AcceptsModuleParameters()
    {
        using var linear = nn.Linear(3, 2);
        var sd = linear.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.True(sd["weight"].requires_grad);
        var path = Path.Combine(TempDir("st-param"), "p.safetensors");
        SafeTensors.Save(path, sd);
        var back = SafeTensors.Load(path);
        Assert.Equal(sd["weight"].detach().bytes.ToArray(), back["weight"].bytes.ToArray());
        Assert.Equal(sd["bias"].detach().bytes.ToArray(), back["bias"].bytes.ToArray());
    }

    // ---------- validation ----------

    static string WriteRaw(byte[] content, string name = "model.safetensors")
    {
        var path = Path.Combine(TempDir("st-bad"), name);
        File.WriteAllBytes(path, content);
        return path;
    }

    static string LoadError(byte[] content)
    {
        var path = WriteRaw(content);
        var ex = Assert.Throws<GptBertException>(() => SafeTensors.Load(path));
        var ex2 = Assert.Throws<GptBertException>(() => SafeTensors.ReadHeader(path));
        Assert.Equal(ex.Message, ex2.Message);
        Assert.DoesNotContain('\n', ex.Message);
        return ex.Message;
    }

    [Fact]
    public void FileShorterThan8Bytes_IsReported()
    {
        var msg = LoadError([1, 2, 3, 4, 5]);
        Assert.Contains("model.safetensors", msg);
        Assert.Contains("5 bytes", msg);
        Assert.Contains("8-byte header length", msg);
    }

    [Fact]
    public void HeaderLengthBeyondFile_IsReported()
    {
        var msg = LoadError(SafetensorsFile("{}", [], headerLengthOverride: 1000));
        Assert.Contains("header length 1000 goes beyond the end", msg);
    }

    [Fact]
    public void BadJson_IsReported()
    {
        Assert.Contains("bad JSON header", LoadError(SafetensorsFile("{\"a\": {\"dtype\": \"F32\",", F32(1))));
        Assert.Contains("bad JSON header", LoadError(SafetensorsFile("[1, 2]", [])));
        Assert.Contains("bad JSON header", LoadError(SafetensorsFile("""{"a":{"dtype":"F32","shape":[1]}}""", F32(1))));
    }

    [Fact]
    public void OffsetsNotMatchingDtypeTimesShape_AreReported()
    {
        var msg = LoadError(SafetensorsFile("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}""", F32(1)));
        Assert.Contains("'x'", msg);
        Assert.Contains("data offsets [0, 4]", msg);
        Assert.Contains("needs 8 bytes", msg);
    }

    [Fact]
    public void OverlappingOffsets_AreReported()
    {
        var msg = LoadError(SafetensorsFile(
            """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", F32(1, 2, 3)));
        Assert.Contains("overlap", msg);
        Assert.Contains("'a'", msg);
        Assert.Contains("'b'", msg);
    }

    [Fact]
    public void HoleBetweenTensors_IsReported()
    {
        var msg = LoadError(SafetensorsFile(
            """{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""", F32(1, 2, 3)));
        Assert.Contains("hole of 4 bytes", msg);
    }

    [Fact]
    public void OffsetsEndingBeforeTheyBegin_AreReported()
    {
        var msg = LoadError(SafetensorsFile("""{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}""", F32(1, 2)));
        Assert.Contains("end before they begin", msg);
    }

    [Fact]
    public void TruncatedFile_NamesTensorAndByteRange()
    {
        string header = """{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"x":{"dtype":"F32","shape":[4],"data_offsets":[4,20]}}""";
        var full = SafetensorsFile(header, F32(9, 1, 2, 3, 4));
        var cut = full[..^8];                       // lose the last 8 bytes
        long dataStart = 8 + Encoding.UTF8.GetByteCount(header);
        var msg = LoadError(cut);
        Assert.Equal(
            $"model.safetensors is truncated: tensor 'x' needs bytes {dataStart + 4}..{dataStart + 20} but the file has {cut.Length}; re-download or re-save the checkpoint",
            msg);
    }

    [Fact]
    public void UndescribedTrailingBytes_AreReported()
    {
        var msg = LoadError(SafetensorsFile("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", F32(1, 2)));
        Assert.Contains("4 bytes after the last tensor", msg);
    }

    [Fact]
    public void UnsupportedDtype_IsReported()
    {
        var msg = LoadError(SafetensorsFile("""{"a":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}""", [1, 2]));
        Assert.Contains("'F8_E4M3'", msg);
        Assert.Contains("BF16", msg);
    }

    [Fact]
    public void MissingFile_IsReported()
    {
        var path = Path.Combine(TempDir("st-missing"), "nope.safetensors");
        var ex = Assert.Throws<GptBertException>(() => SafeTensors.Load(path));
        Assert.Contains("not found", ex.Message);
    }

    // ---------- atomic save ----------

    [Fact]
    public void Save_IntoMissingDirectory_FailsWithoutCreatingAnything()
    {
        var root = TempDir("st-nodir");
        var path = Path.Combine(root, "missing", "model.safetensors");
        var ex = Assert.Throws<GptBertException>(() => SafeTensors.Save(path, new Dictionary<string, Tensor> { ["a"] = ones(2) }));
        Assert.Contains("does not exist", ex.Message);
        Assert.False(Directory.Exists(Path.Combine(root, "missing")));
    }

    [Fact]
    public void Save_FailingHalfwayOverExistingFile_LeavesOldFileAndNoTempFile()
    {
        var dir = TempDir("st-atomic");
        var path = Path.Combine(dir, "model.safetensors");
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["old"] = tensor(new float[] { 1, 2, 3 }) });
        var before = File.ReadAllBytes(path);

        // "a" is written first; "z" lives on the meta device and has no data, so the write fails after the
        // header and "a" are already in the temporary file.
        var bad = new Dictionary<string, Tensor>
        {
            ["a"] = ones(1000),
            ["z"] = empty([4], device: new Device("meta")),
        };
        var ex = Assert.Throws<GptBertException>(() => SafeTensors.Save(path, bad));
        Assert.Contains("cannot save", ex.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(dir));
        Assert.Equal([3L], SafeTensors.ReadHeader(path)["old"].Shape);
    }

    [Fact]
    public void Save_OntoADirectoryPath_FailsCleanly()
    {
        var dir = TempDir("st-isdir");
        var target = Path.Combine(dir, "model.safetensors");
        Directory.CreateDirectory(target);
        var ex = Assert.Throws<GptBertException>(() => SafeTensors.Save(target, new Dictionary<string, Tensor> { ["a"] = ones(1) }));
        Assert.Contains("is a directory", ex.Message);
        Assert.Empty(Directory.GetFiles(dir));
    }

    [Fact]
    public void Save_IntoADirectoryNotEvenRootCanWriteTo_FailsNamingThePath_AndLeavesNoFile()
    {
        // Root ignores permission bits, so a chmod'ed directory proves nothing when the tests run as root (CI
        // does). procfs refuses to create files for every user, root included (ENOENT as root, EACCES or
        // ENOENT otherwise), and it is always mounted on Linux (.NET itself reads /proc/self).
        if (!OperatingSystem.IsLinux()) return;
        const string dir = "/proc/self";
        var path = Path.Combine(dir, "model.safetensors");
        Assert.True(Directory.Exists(dir));

        var ex = Assert.Throws<GptBertException>(() => SafeTensors.Save(path, new Dictionary<string, Tensor> { ["new"] = ones(1000) }));
        Assert.Contains("cannot save", ex.Message);
        Assert.Contains($"'{path}'", ex.Message);
        Assert.True(ex.InnerException is IOException or UnauthorizedAccessException, ex.InnerException?.GetType().Name);
        // neither the target nor the temporary file (".model.safetensors.<guid>.tmp") was left behind
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir, "*model.safetensors*"));
    }

    [Fact]
    public void Save_IntoReadOnlyDirectory_FailsAndKeepsOldFile()
    {
        if (OperatingSystem.IsWindows()) return;
        var dir = TempDir("st-ro");
        var path = Path.Combine(dir, "model.safetensors");
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["old"] = ones(2) });
        var before = File.ReadAllBytes(path);
        // A normal user: take away the write bit. Root (CAP_DAC_OVERRIDE) ignores that, so then make the directory
        // immutable instead (chattr +i binds root too; it needs CAP_LINUX_IMMUTABLE and a filesystem with the flag).
        File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        bool immutable = false;
        if (CanCreateFileIn(dir))
        {
            File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            immutable = Chattr("+i", dir);
            // Without it (a container lacking CAP_LINUX_IMMUTABLE, tmpfs) nothing can make a directory read-only for
            // root here; the procfs test above checks the failure path as root.
            if (!immutable) return;
        }
        try
        {
            Assert.False(CanCreateFileIn(dir));

            var ex = Assert.Throws<GptBertException>(() => SafeTensors.Save(path, new Dictionary<string, Tensor> { ["new"] = ones(3) }));
            Assert.Contains("cannot save", ex.Message);
            Assert.Contains($"'{path}'", ex.Message);
            Assert.Equal(before, File.ReadAllBytes(path));
            Assert.Equal([path], Directory.GetFiles(dir));
        }
        finally
        {
            if (immutable) Chattr("-i", dir);
            else File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    static bool CanCreateFileIn(string dir)
    {
        var probe = Path.Combine(dir, "probe");
        try { File.WriteAllText(probe, ""); File.Delete(probe); return true; }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException) { return false; }
    }

    /// <summary>Runs chattr FLAG DIR; false where chattr is missing or refuses (no capability, unsupported filesystem).</summary>
    static bool Chattr(string flag, string dir)
    {
        try
        {
            var psi = new System.Diagnostics.ProcessStartInfo("chattr") { RedirectStandardError = true, RedirectStandardOutput = true };
            psi.ArgumentList.Add(flag);
            psi.ArgumentList.Add(dir);
            using var p = System.Diagnostics.Process.Start(psi)!;
            p.StandardOutput.ReadToEnd();
            p.StandardError.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception) { return false; } // chattr not installed
    }

    [Fact]
    public void Save_RejectsReservedNameAndUnsupportedDtype_WithoutTouchingOldFile()
    {
        var dir = TempDir("st-reject");
        var path = Path.Combine(dir, "model.safetensors");
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["old"] = ones(2) });
        var before = File.ReadAllBytes(path);
        Assert.Contains("reserved", Assert.Throws<GptBertException>(() =>
            SafeTensors.Save(path, new Dictionary<string, Tensor> { ["__metadata__"] = ones(1) })).Message);
        Assert.Contains("ComplexFloat32", Assert.Throws<GptBertException>(() =>
            SafeTensors.Save(path, new Dictionary<string, Tensor> { ["c"] = zeros(2, dtype: ScalarType.ComplexFloat32) })).Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(dir));
    }

    // ---------- mapped loading: tensors whose data is aligned are views of the file, mapped copy-on-write ----------

    [Theory]
    [InlineData(0)] // the data starts 8-byte aligned: every tensor can be a view of the mapped file
    [InlineData(4)] // F32 aligned, I64 not: a mix of mapped and read
    [InlineData(1)] // nothing but the bytes aligned
    public void Load_AlignedOrNot_GivesTheFileValues_AndWritesNeverReachTheFile(int misalign)
    {
        const string tensors = """{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"I64","shape":[2],"data_offsets":[24,40]},"d":{"dtype":"F32","shape":[2],"data_offsets":[40,48]},"c":{"dtype":"U8","shape":[3],"data_offsets":[48,51]}}""";
        int length = Encoding.UTF8.GetByteCount(tensors);
        int pad = ((misalign - (8 + length)) % 8 + 8) % 8; // spaces after the JSON (the format allows them) put the data at ≡ misalign (mod 8)
        var file = SafetensorsFile(tensors + new string(' ', pad), Concat(F32(1, -2, 3.5f, 0, 1e-3f, -7), I64(1L << 40, -5), F32(8, 9), [9, 8, 7]));
        Assert.Equal(misalign, (8 + length + pad) % 8);
        var path = Path.Combine(TempDir("st-map"), "model.safetensors");
        File.WriteAllBytes(path, file);

        var sd = SafeTensors.Load(path);
        Assert.Equal([1, -2, 3.5f, 0, 1e-3f, -7], sd["a"].data<float>().ToArray());
        Assert.Equal([2L, 3], sd["a"].shape);
        Assert.Equal([1L << 40, -5], sd["b"].data<long>().ToArray());
        Assert.Equal([8f, 9], sd["d"].data<float>().ToArray());
        Assert.Equal([(byte)9, 8, 7], sd["c"].data<byte>().ToArray());
        if (misalign % 4 == 0) // views of one mapping of the file as floats: the two F32 tensors lie in memory as they lie in the file
            Assert.Equal(40, (long)SmallGemm_Data(sd["d"]) - (long)SmallGemm_Data(sd["a"]));
        // Writes stay in the process: the file and a second load see the old values.
        sd["a"].add_(100); sd["b"].add_(1); sd["c"].add_(1); sd["d"].add_(1);
        Assert.Equal(file, File.ReadAllBytes(path));
        var again = SafeTensors.Load(path);
        Assert.Equal(-2f, again["a"][0, 1].item<float>());
        Assert.Equal(-5L, again["b"][1].item<long>());
        foreach (var t in sd.Values.Concat(again.Values)) t.Dispose();
    }

    static IntPtr SmallGemm_Data(Tensor t) => GptBert.Engine.SmallGemm.Data(t);

    [Fact]
    public void Load_ThenReplaceTheFileByRename_KeepsTheLoadedValues()
    {
        // What SafeTensors.Save does to a file a process has loaded (write a temp file, rename over): the mapping keeps the old bytes.
        var path = Path.Combine(TempDir("st-map-rename"), "model.safetensors");
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["w"] = tensor(new float[] { 1, 2, 3, 4 }) });
        var sd = SafeTensors.Load(path);
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["w"] = tensor(new float[] { 5, 6, 7, 8 }) });
        Assert.Equal([1f, 2, 3, 4], sd["w"].data<float>().ToArray());
        Assert.Equal([5f, 6, 7, 8], SafeTensors.Load(path)["w"].data<float>().ToArray());
    }
}
