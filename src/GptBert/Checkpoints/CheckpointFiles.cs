using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace GptBert.Checkpoints;

/// <summary>Finds and loads the weights of a Hugging Face model directory.</summary>
public static class CheckpointFiles
{
    public const string SafeTensorsFile = "model.safetensors";
    public const string SafeTensorsIndexFile = "model.safetensors.index.json";
    public const string PyTorchFile = "pytorch_model.bin";
    public const string PyTorchIndexFile = "pytorch_model.bin.index.json";

    static readonly string[] Preference = [SafeTensorsFile, SafeTensorsIndexFile, PyTorchFile, PyTorchIndexFile];

    // Weight files of other frameworks, named in the error so the user knows why nothing loads.
    static readonly (string File, string What)[] Unsupported =
    [
        ("tf_model.h5", "TensorFlow"), ("flax_model.msgpack", "Flax"), ("model.onnx", "ONNX"), ("onnx/model.onnx", "ONNX"),
        ("model.ckpt.index", "TensorFlow 1"),
    ];

    /// <summary>
    /// The weights file <see cref="LoadStateDict"/> would read: model.safetensors, else
    /// model.safetensors.index.json (sharded), else pytorch_model.bin, else pytorch_model.bin.index.json.
    /// </summary>
    public static string FindWeightsFile(string directory)
    {
        if (!Directory.Exists(directory))
            throw new GptBertException($"model directory '{directory}' not found; pass the folder that holds config.json and the weights");
        foreach (var name in Preference)
        {
            var p = Path.Combine(directory, name);
            if (File.Exists(p)) return p;
        }
        var others = Unsupported.Where(u => File.Exists(Path.Combine(directory, u.File))).Select(u => $"{u.File} ({u.What})").ToList();
        string found = others.Count > 0 ? $" (found only {string.Join(", ", others)}, which GptBert cannot read)" : "";
        throw new GptBertException(
            $"no weights in '{directory}'{found}: expected {SafeTensorsFile}, {SafeTensorsIndexFile} or {PyTorchFile}; download the model's PyTorch weights into that folder");
    }

    /// <summary>Loads the directory's weights as name → CPU tensor (see <see cref="FindWeightsFile"/> for the order of preference).</summary>
    public static Dictionary<string, Tensor> LoadStateDict(string directory)
    {
        var path = FindWeightsFile(directory);
        return Path.GetFileName(path) switch
        {
            SafeTensorsFile => SafeTensors.Load(path),
            PyTorchFile => PyTorchBin.Load(path),
            SafeTensorsIndexFile => LoadSharded(path, SafeTensors.Load),
            _ => LoadSharded(path, PyTorchBin.Load),
        };
    }

    /// <summary>Reads an HF shard index ({"weight_map": {tensor: shard file}}) and loads every shard it names.</summary>
    static Dictionary<string, Tensor> LoadSharded(string indexPath, Func<string, Dictionary<string, Tensor>> loadShard)
    {
        string index = Path.GetFileName(indexPath);
        string dir = Path.GetDirectoryName(indexPath)!;
        var weightMap = ReadWeightMap(indexPath);

        var shards = weightMap.Values.Distinct(StringComparer.Ordinal).ToList();
        foreach (var shard in shards)
        {
            if (shard.Length == 0 || Path.IsPathRooted(shard) || shard.Split('/', '\\').Any(part => part is ".." or ""))
                throw new GptBertException($"{index} names shard '{shard}', which is not a file inside the model directory; fix or re-download the index");
            if (!File.Exists(Path.Combine(dir, shard)))
                throw new GptBertException($"sharded checkpoint in '{dir}' is missing shard '{shard}' listed in {index}; re-download it");
        }

        var result = new Dictionary<string, Tensor>();
        try
        {
            foreach (var shard in shards)
            {
                var part = loadShard(Path.Combine(dir, shard));
                if (part.Keys.FirstOrDefault(result.ContainsKey) is { } dup)
                {
                    foreach (var t in part.Values) t.Dispose();
                    throw new GptBertException($"tensor '{dup}' appears in more than one shard of '{dir}' (again in '{shard}'); re-download the checkpoint");
                }
                foreach (var (name, t) in part) result.Add(name, t);
            }
            var missing = weightMap.Keys.Where(k => !result.ContainsKey(k)).ToList();
            if (missing.Count > 0)
                throw new GptBertException($"{index} lists {missing.Count} tensor(s) absent from their shards, e.g. '{missing[0]}' in '{weightMap[missing[0]]}'; re-download the checkpoint");
            return result;
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
    }

    static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        string index = Path.GetFileName(indexPath);
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllBytes(indexPath)); }
        catch (JsonException ex) { throw new GptBertException($"{index} is not valid JSON ({SafeTensors.FirstLine(ex.Message)}); re-download it", ex); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new GptBertException($"{index} has no \"weight_map\" object; re-download it");
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in map.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String)
                    throw new GptBertException($"{index}: weight_map entry '{p.Name}' is not a file name; re-download it");
                result[p.Name] = p.Value.GetString()!;
            }
            if (result.Count == 0) throw new GptBertException($"{index} has an empty weight_map; re-download it");
            return result;
        }
    }
}
