using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace GptBert.Models;

/// <summary>
/// Fields every Hugging Face config.json shares. Unknown fields are kept in <see cref="Extra"/> so a
/// config we load and save again loses nothing.
/// </summary>
public abstract record ModelConfig
{
    [JsonPropertyName("model_type")] public abstract string ModelType { get; }
    [JsonPropertyName("architectures")] public List<string>? Architectures { get; set; }
    [JsonPropertyName("vocab_size")] public int VocabSize { get; set; }
    [JsonPropertyName("initializer_range")] public double InitializerRange { get; set; } = 0.02;
    [JsonPropertyName("pad_token_id")] public int? PadTokenId { get; set; }
    [JsonPropertyName("id2label")] public Dictionary<string, string>? Id2Label { get; set; }
    [JsonPropertyName("label2id")] public Dictionary<string, int>? Label2Id { get; set; }
    [JsonPropertyName("problem_type")] public string? ProblemType { get; set; }
    [JsonPropertyName("torch_dtype")] public string? TorchDtype { get; set; }
    /// <summary>Set in directories written by <c>gptbert quantize</c> (<see cref="QuantizationConfig"/>).</summary>
    [JsonPropertyName("quantization_config")] public QuantizationConfig? Quantization { get; set; }

    /// <summary>
    /// Heads removed per layer, in the layer's ORIGINAL head numbering ({"0": [1, 3]}), as transformers' prune_heads records
    /// them: the layer's q/k/v and output projection hold only the remaining heads; the head size stays (see Pruning.cs).
    /// </summary>
    [JsonPropertyName("pruned_heads")] public Dictionary<string, List<int>>? PrunedHeads { get; set; }

    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }

    /// <summary>Original indices of the heads pruned from <paramref name="layer"/> (sorted, distinct).</summary>
    public int[] PrunedHeadsOf(int layer) =>
        PrunedHeads?.GetValueOrDefault(layer.ToString()) is { } h ? h.Distinct().Order().ToArray() : [];

    /// <summary>Checks pruned_heads names existing layers and heads and leaves each layer at least one head.</summary>
    protected void ValidatePrunedHeads(string source, int layers, int heads)
    {
        foreach (var (k, v) in PrunedHeads ?? [])
        {
            Require(int.TryParse(k, out int l) && l >= 0 && l < layers, source, $"pruned_heads names layer \"{k}\" but the model has layers 0..{layers - 1}");
            Require(v.All(h => h >= 0 && h < heads), source, $"pruned_heads for layer {k} names a head outside 0..{heads - 1}");
            Require(v.Distinct().Count() < heads, source, $"pruned_heads removes every head of layer {k}; keep at least one");
        }
    }

    /// <summary>Number of labels for classification heads (HF: len(id2label), default 2).</summary>
    [JsonIgnore] public int NumLabels => Id2Label is { Count: > 0 } ? Id2Label.Count : 2;

    /// <summary>Labels in id order ("LABEL_0".. when the config names none).</summary>
    [JsonIgnore]
    public IReadOnlyList<string> Labels =>
        Enumerable.Range(0, NumLabels).Select(i => Id2Label?.GetValueOrDefault(i.ToString()) ?? $"LABEL_{i}").ToList();

    public void SetLabels(IReadOnlyList<string> labels)
    {
        Id2Label = labels.Select((l, i) => (l, i)).ToDictionary(p => p.i.ToString(), p => p.l);
        Label2Id = labels.Select((l, i) => (l, i)).ToDictionary(p => p.l, p => p.i);
    }

    /// <summary>Maximum number of positions the model can attend over.</summary>
    [JsonIgnore] public abstract int MaxPositions { get; }

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowReadingFromString,
    };

    /// <summary>Reads config.json and returns a GPT-2 or BERT config by its model_type.</summary>
    public static ModelConfig Load(string path)
    {
        if (!File.Exists(path))
            throw new GptBertException($"{path} not found; a model directory needs config.json (Hugging Face layout)");
        string text = File.ReadAllText(path);
        JsonNode? node;
        try { node = JsonNode.Parse(text); }
        catch (JsonException e) { throw new GptBertException($"{path} is not valid JSON ({e.Message.Split('.')[0]}); fix or re-save the config"); }
        string? type = node?["model_type"] is JsonValue v && v.TryGetValue<string>(out var t) ? t
            : node?["model_type"] is null ? null
            : throw new GptBertException($"{path}: model_type must be a string such as \"gpt2\" or \"bert\"");
        try
        {
            ModelConfig? cfg = type switch
            {
                "gpt2" => JsonSerializer.Deserialize<Gpt2Config>(text, JsonOptions),
                "bert" => JsonSerializer.Deserialize<BertConfig>(text, JsonOptions),
                EncoderDecoderConfig.Type => EncoderDecoderConfig.Parse(node!.AsObject(), path),
                null => throw new GptBertException($"{path} has no model_type; expected \"gpt2\" or \"bert\""),
                _ => throw new GptBertException($"unknown architecture model_type=\"{type}\" in {path}; GptBert supports gpt2 and bert"),
            };
            cfg!.Validate(path);
            return cfg;
        }
        catch (JsonException e) { throw new GptBertException($"{path}: bad value ({e.Message.Split('.')[0]})"); }
    }

    public void Save(string path) => AtomicFile.WriteAllText(path, ToJsonObject().ToJsonString(JsonOptions) + "\n");

    /// <summary>The config.json object, model_type first.</summary>
    public virtual JsonObject ToJsonObject()
    {
        var json = JsonSerializer.Serialize(this, GetType(), JsonOptions);
        // model_type is a get-only abstract property; make sure it is written first like HF does.
        var node = JsonNode.Parse(json)!.AsObject();
        node.Remove("model_type");
        node.Remove(nameof(ModelType)); // the override is serialized under its C# name; HF wants only model_type
        var ordered = new JsonObject { ["model_type"] = ModelType };
        foreach (var (k, v) in node.ToList()) { node.Remove(k); ordered[k] = v; }
        return ordered;
    }

    /// <summary>Throws a one-line error when sizes are missing or inconsistent.</summary>
    public abstract void Validate(string source);

    protected static void Require(bool ok, string source, string what)
    {
        if (!ok) throw new GptBertException($"{source}: {what}");
    }

    /// <summary>
    /// Fields transformers reads that would change what the model computes, but that GptBert does not implement: a config
    /// that sets them is refused rather than run as something else. (Fields that change nothing numerically, such as
    /// chunk_size_feed_forward or output_attentions, stay in <see cref="Extra"/>.)
    /// </summary>
    protected void RefuseUnimplemented(string source)
    {
        if (Extra is null) return;
        foreach (var (field, unsetValue) in new (string, string)[] { ("add_cross_attention", "false"), ("is_decoder", "false") })
            if (Extra.TryGetValue(field, out var v) && v.ValueKind is not JsonValueKind.Null && v.GetRawText().Replace(" ", "") != unsetValue
                && !(v.ValueKind == JsonValueKind.False && unsetValue == "false"))
                throw new GptBertException($"{source}: \"{field}\": {v.GetRawText()} changes what the model computes and GptBert does not implement it; remove the field or use a model without it");
    }
}
