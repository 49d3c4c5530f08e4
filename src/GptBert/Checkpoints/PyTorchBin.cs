using System.IO.Compression;
using TorchSharp;
using static TorchSharp.torch;

namespace GptBert.Checkpoints;

/// <summary>
/// Reads state dicts written by <c>torch.save</c> (the zip format PyTorch uses since 1.6, e.g.
/// Hugging Face <c>pytorch_model.bin</c>): <c>&lt;archive&gt;/data.pkl</c> is a pickle of an
/// OrderedDict whose tensors are <c>torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)</c>
/// calls; each storage is a persistent id <c>('storage', torch.FloatStorage, key, location, numel)</c>
/// whose bytes are the archive entry <c>&lt;archive&gt;/data/&lt;key&gt;</c>.
/// Unpickling is restricted to those few torch/collections names (like <c>torch.load(weights_only=True)</c>),
/// so a checkpoint cannot run code. Views keep sharing their storage (tied weights stay tied); views
/// that are not contiguous are copied into contiguous tensors.
/// </summary>
public static class PyTorchBin
{
    static readonly Dictionary<string, ScalarType> StorageTypes = new()
    {
        ["DoubleStorage"] = ScalarType.Float64, ["FloatStorage"] = ScalarType.Float32, ["HalfStorage"] = ScalarType.Float16,
        ["BFloat16Storage"] = ScalarType.BFloat16, ["LongStorage"] = ScalarType.Int64, ["IntStorage"] = ScalarType.Int32,
        ["ShortStorage"] = ScalarType.Int16, ["CharStorage"] = ScalarType.Int8, ["ByteStorage"] = ScalarType.Byte,
        ["BoolStorage"] = ScalarType.Bool,
    };

    // dtype globals as _rebuild_tensor_v3 names them (torch.float32 pickles as GLOBAL 'torch float32').
    static readonly Dictionary<string, ScalarType> DtypeNames = new()
    {
        ["float64"] = ScalarType.Float64, ["double"] = ScalarType.Float64, ["float32"] = ScalarType.Float32, ["float"] = ScalarType.Float32,
        ["float16"] = ScalarType.Float16, ["half"] = ScalarType.Float16, ["bfloat16"] = ScalarType.BFloat16,
        ["int64"] = ScalarType.Int64, ["long"] = ScalarType.Int64, ["int32"] = ScalarType.Int32, ["int"] = ScalarType.Int32,
        ["int16"] = ScalarType.Int16, ["short"] = ScalarType.Int16, ["int8"] = ScalarType.Int8, ["uint8"] = ScalarType.Byte,
        ["bool"] = ScalarType.Bool,
    };

    /// <summary>Loads the state dict (name → CPU tensor, in the file's order).</summary>
    public static Dictionary<string, Tensor> Load(string path)
    {
        TensorBytes.EnsureLittleEndian();
        string file = Path.GetFileName(path);
        const string resave = "re-save it with torch.save(model.state_dict(), path) or convert it to safetensors";
        FileStream stream;
        try { stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16); }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        { throw new GptBertException($"'{path}' not found; check the path"); }
        catch (UnauthorizedAccessException ex)
        { throw new GptBertException($"cannot read '{path}': {SafeTensors.FirstLine(ex.Message)}; check its permissions", ex); }

        using (stream)
        {
            Span<byte> magic = stackalloc byte[4];
            int got = stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false);
            if (got < 4 || !(magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4))
            {
                if (got >= 2 && magic[0] == 0x80 && magic[1] <= 5)
                    throw new GptBertException($"{file} uses the legacy (pre-1.6) torch.save format, which GptBert does not read; {resave}");
                throw new GptBertException($"{file} is not a PyTorch checkpoint (not a torch.save zip archive); re-download it or point at the right file");
            }
            stream.Position = 0;

            ZipArchive zip;
            try { zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true); }
            catch (InvalidDataException ex)
            { throw new GptBertException($"{file} is truncated or corrupt ({SafeTensors.FirstLine(ex.Message)}); re-download the checkpoint", ex); }

            using (zip)
                return Read(zip, file, resave);
        }
    }

    static Dictionary<string, Tensor> Read(ZipArchive zip, string file, string resave)
    {
        var pickles = zip.Entries.Where(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) && e.FullName.Count(c => c == '/') == 1).ToList();
        if (pickles.Count != 1)
            throw new GptBertException(pickles.Count == 0
                ? $"{file} is a zip archive without <archive>/data.pkl, so not a torch.save checkpoint; re-download it or point at the right file"
                : $"{file} holds {pickles.Count} data.pkl records; it is not a plain torch.save checkpoint; {resave}");
        string prefix = pickles[0].FullName[..^"data.pkl".Length];
        if (zip.GetEntry(prefix + "constants.pkl") is not null || zip.Entries.Any(e => e.FullName.StartsWith(prefix + "code/", StringComparison.Ordinal)))
            throw new GptBertException($"{file} is a TorchScript archive (torch.jit.save), not a state dict; {resave}");
        if (zip.GetEntry(prefix + "byteorder") is { } order)
        {
            using var r = new StreamReader(order.Open());
            var text = r.ReadToEnd().Trim();
            if (text != "little")
                throw new GptBertException($"{file} was saved with byte order '{text}'; GptBert reads only little-endian checkpoints; re-save it on a little-endian machine");
        }

        byte[] pickle;
        try
        {
            using var ps = pickles[0].Open();
            using var ms = new MemoryStream();
            ps.CopyTo(ms);
            pickle = ms.ToArray();
        }
        catch (InvalidDataException ex)
        { throw new GptBertException($"{file} is truncated or corrupt ({SafeTensors.FirstLine(ex.Message)}); re-download the checkpoint", ex); }

        var loader = new StorageLoader(zip, prefix, file);
        object? root;
        try
        {
            var unpickler = new Unpickler(pickle, (f, a) => Reduce(f, a, loader, file, resave), pid => loader.Persistent(pid), (target, state) => Build(target, file, resave));
            root = unpickler.Load();
        }
        catch (PickleException ex)
        {
            loader.DisposeAll();
            throw new GptBertException($"{file} has a corrupt data.pkl ({ex.Message}); re-download the checkpoint");
        }
        catch
        {
            loader.DisposeAll();
            throw;
        }

        try
        {
            if (root is not PyDict dict)
                throw new GptBertException($"{file} holds a {Describe(root)}, not a state dict of tensors; {resave}");
            var result = new Dictionary<string, Tensor>(dict.Items.Count);
            var handed = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
            foreach (var (key, value) in dict.Items)
            {
                if (key is not string name)
                    throw new GptBertException($"{file} holds a dict with non-string key {Describe(key)}, not a state dict; {resave}");
                if (value is not Tensor t)
                    throw new GptBertException($"{file}: entry '{name}' is a {Describe(value)}, not a tensor; the file is not a plain state dict; {resave}");
                // The same pickled object under two names (tied weights) gets its own handle per name, sharing storage,
                // so callers can dispose every value.
                result[name] = handed.Add(t) ? t : t.detach();
            }
            loader.DisposeStorages();
            return result;
        }
        catch
        {
            loader.DisposeAll();
            throw;
        }
    }

    static object? Reduce(PyGlobal func, PyTuple args, StorageLoader loader, string file, string resave)
    {
        switch (func.Module, func.Name)
        {
            case ("collections", "OrderedDict") when args.Count == 0:
            case ("builtins", "dict") when args.Count == 0:
                return new PyDict();
            case ("torch._utils", "_rebuild_tensor_v2"):      // (storage, offset, size, stride, requires_grad, hooks[, metadata])
                if (args.Count < 4) break;
                return loader.Rebuild(args[0], args[1], args[2], args[3], null);
            case ("torch._utils", "_rebuild_tensor"):         // (storage, offset, size, stride)
                if (args.Count != 4) break;
                return loader.Rebuild(args[0], args[1], args[2], args[3], null);
            case ("torch._utils", "_rebuild_tensor_v3"):      // (storage, offset, size, stride, requires_grad, hooks, dtype[, metadata])
                if (args.Count < 7) break;
                return loader.Rebuild(args[0], args[1], args[2], args[3], args[6]);
            case ("torch._utils", "_rebuild_parameter"):      // (data, requires_grad, hooks)
            case ("torch._utils", "_rebuild_parameter_with_state"):
                if (args.Count < 1 || args[0] is not Tensor) break;
                return args[0];
            case ("torch._tensor", "_rebuild_from_type_v2"):  // (func, new_type, args, state)
                if (args.Count < 3 || args[0] is not PyGlobal inner || args[2] is not PyTuple innerArgs) break;
                if (args[1] is PyGlobal type && !IsTensorType(type))
                    throw new GptBertException($"{file} holds a tensor subclass {type}, which GptBert does not load; {resave}");
                return Reduce(inner, innerArgs, loader, file, resave);
        }
        if (IsAllowed(func))
            throw new GptBertException($"{file} calls {func} with arguments GptBert does not understand; {resave}");
        throw new GptBertException($"{file} references the Python object {func}, which GptBert does not load (only plain state dicts of tensors); {resave}");
    }

    static bool IsTensorType(PyGlobal g) =>
        (g.Module, g.Name) is ("torch", "Tensor") or ("torch.nn.parameter", "Parameter") or ("torch.nn", "Parameter");

    static bool IsAllowed(PyGlobal g) =>
        g.Module is "torch._utils" or "torch._tensor" or "collections";

    static void Build(object? target, string file, string resave)
    {
        // torch.save stores OrderedDict attributes (the state dict's _metadata) and parameter state via BUILD; neither matters here.
        if (target is PyDict or Tensor) return;
        throw new GptBertException($"{file} sets state on a {Describe(target)}, which GptBert does not load; {resave}");
    }

    internal static string Describe(object? o) => o switch
    {
        null => "None",
        PyDict => "dict",
        PyTuple => "tuple",
        List<object?> => "list",
        string => "string",
        long or System.Numerics.BigInteger => "int",
        double => "float",
        bool => "bool",
        byte[] => "bytes",
        PyGlobal g => $"Python object {g}",
        StorageRef => "bare storage",
        Tensor => "tensor",
        _ => o.GetType().Name,
    };

    internal sealed class StorageRef(string key, ScalarType? dtype, long count)
    {
        public string Key { get; } = key;
        /// <summary>Null for an UntypedStorage, whose dtype the rebuild call names.</summary>
        public ScalarType? Dtype { get; } = dtype;
        /// <summary>Elements for a typed storage, bytes for an untyped one.</summary>
        public long Count { get; } = count;
    }

    /// <summary>Reads each storage once and builds tensors as strided views of it.</summary>
    sealed class StorageLoader(ZipArchive zip, string prefix, string file)
    {
        readonly Dictionary<string, Tensor> storages = [];
        readonly List<Tensor> built = [];

        public object Persistent(object? pid)
        {
            if (pid is not PyTuple { Count: >= 5 } t || t[0] is not "storage" || t[1] is not PyGlobal type || t[2] is not string key || t[4] is not long count)
                throw new PickleException("a persistent id is not ('storage', type, key, location, numel)");
            if (type.Module != "torch")
                throw new PickleException($"unknown storage type {type}");
            if (type.Name == "UntypedStorage") return new StorageRef(key, null, count);
            if (!StorageTypes.TryGetValue(type.Name, out var dtype))
                throw new GptBertException($"{file} has a storage of type torch.{type.Name}, which GptBert does not load (supported: {string.Join(", ", StorageTypes.Keys)}); convert the checkpoint to float32 or float16");
            return new StorageRef(key, dtype, count);
        }

        public Tensor Rebuild(object? storageObj, object? offsetObj, object? sizeObj, object? strideObj, object? dtypeObj)
        {
            if (storageObj is not StorageRef sref) throw new PickleException("a tensor is rebuilt from something that is not a storage");
            long offset = offsetObj as long? ?? throw new PickleException("a tensor's storage offset is not an int");
            long[] size = Longs(sizeObj, "size"), stride = Longs(strideObj, "stride");
            if (size.Length != stride.Length) throw new PickleException("a tensor's size and stride differ in length");

            ScalarType dtype;
            long numel;
            if (sref.Dtype is { } typed)
            {
                dtype = typed;
                numel = sref.Count;
                if (dtypeObj is PyGlobal named && DtypeNames.TryGetValue(named.Name, out var want) && want != typed)
                    throw new PickleException($"storage '{sref.Key}' is {typed} but a tensor reads it as {want}");
            }
            else
            {
                if (dtypeObj is not PyGlobal { Module: "torch" } named || !DtypeNames.TryGetValue(named.Name, out dtype))
                    throw new GptBertException($"{file} has a tensor of dtype {dtypeObj as PyGlobal}, which GptBert does not load; convert the checkpoint to float32 or float16");
                long es = TensorBytes.ElementSize(dtype);
                if (sref.Count % es != 0) throw new PickleException($"storage '{sref.Key}' has {sref.Count} bytes, not a whole number of {dtype}");
                numel = sref.Count / es;
            }

            var storage = GetStorage(sref.Key, dtype, numel);
            if (size.Any(s => s < 0) || stride.Any(s => s < 0) || offset < 0)
                throw new PickleException($"a tensor on storage '{sref.Key}' has a negative size, stride or offset");
            long elements = TensorBytes.Numel(size) ?? throw new PickleException("a tensor's size overflows");
            if (elements > 0)
            {
                long last = offset;
                try { for (int i = 0; i < size.Length; i++) last = checked(last + (size[i] - 1) * stride[i]); }
                catch (OverflowException) { throw new PickleException("a tensor's strides overflow"); }
                if (last >= numel)
                    throw new GptBertException($"{file} is corrupt: a tensor of size {TensorBytes.FormatShape(size)} at offset {offset} reaches element {last} of storage '{sref.Key}', which has {numel}; re-download the checkpoint");
            }
            var view = storage.as_strided(size, stride, offset);
            Tensor result = view;
            if (!view.is_contiguous())
            {
                result = view.contiguous();
                view.Dispose();
            }
            built.Add(result);
            return result;
        }

        Tensor GetStorage(string key, ScalarType dtype, long numel)
        {
            if (storages.TryGetValue(key, out var existing))
            {
                if (existing.dtype != dtype || existing.NumberOfElements != numel)
                    throw new PickleException($"storage '{key}' is used both as {existing.dtype}[{existing.NumberOfElements}] and {dtype}[{numel}]");
                return existing;
            }
            var entry = zip.GetEntry(prefix + "data/" + key)
                ?? throw new GptBertException($"{file} is truncated or corrupt: storage record '{prefix}data/{key}' is missing; re-download the checkpoint");
            long bytes = numel * TensorBytes.ElementSize(dtype);
            if (entry.Length != bytes)
                throw new GptBertException(entry.Length < bytes
                    ? $"{file} is truncated: storage '{key}' needs {bytes} bytes but the archive holds {entry.Length}; re-download the checkpoint"
                    : $"{file} is corrupt: storage '{key}' should hold {bytes} bytes but the archive holds {entry.Length}; re-download the checkpoint");
            var t = empty(numel, dtype);
            try
            {
                using var s = entry.Open();
                TensorBytes.ReadInto(t, s);
            }
            catch (Exception ex) when (ex is EndOfStreamException or InvalidDataException or IOException)
            {
                t.Dispose();
                throw new GptBertException($"{file} is truncated or corrupt: storage '{key}' cannot be read ({SafeTensors.FirstLine(ex.Message)}); re-download the checkpoint", ex);
            }
            storages[key] = t;
            return t;
        }

        static long[] Longs(object? o, string what) => o is PyTuple t && t.Items.All(i => i is long)
            ? t.Items.Select(i => (long)i!).ToArray()
            : throw new PickleException($"a tensor's {what} is not a tuple of ints");

        /// <summary>The views keep the storage memory alive; the storage handles themselves can go.</summary>
        public void DisposeStorages()
        {
            foreach (var s in storages.Values) s.Dispose();
            storages.Clear();
        }

        public void DisposeAll()
        {
            foreach (var t in built) t.Dispose();
            built.Clear();
            DisposeStorages();
        }
    }
}
