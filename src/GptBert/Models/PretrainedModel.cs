using GptBert.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace GptBert.Models;

/// <summary>What loading a checkpoint did besides copying: head weights initialised fresh, checkpoint tensors not used.</summary>
public sealed record LoadReport(IReadOnlyList<string> NewlyInitialized, IReadOnlyList<string> Unused);

/// <summary>
/// A GPT-2 or BERT model whose state-dict keys are the Hugging Face ones. Loading accepts the key
/// forms found in the wild: with or without the base prefix ("transformer."/"bert."), with or without
/// buffers and tied copies, and refuses anything whose shapes disagree with the config.
/// </summary>
public abstract class PretrainedModel : nn.Module
{
    protected PretrainedModel(string name) : base(name) { }

    public abstract ModelConfig Config { get; }
    /// <summary>The transformers class name written to config.json's "architectures".</summary>
    public abstract string Architecture { get; }
    /// <summary>Name of the base-model field in head models ("transformer", "bert"); empty for base models.</summary>
    public virtual string BasePrefix => "";

    public long ParameterCount => parameters().Sum(p => p.numel());

    /// <summary>Checkpoint keys that are buffers or tied copies, never parameters of their own.</summary>
    static bool IsIgnorable(string key) =>
        key.EndsWith(".attn.bias") || key.EndsWith(".attn.masked_bias") || key.EndsWith("embeddings.position_ids")
        || key is "lm_head.weight" || key.EndsWith(".lm_head.weight") || key.EndsWith(".crossattention.bias") || key.EndsWith(".crossattention.masked_bias") || key.EndsWith("cls.predictions.decoder.weight") || key.EndsWith("cls.predictions.decoder.bias");

    static readonly string[] KnownBasePrefixes = ["transformer.", "bert."];

    /// <summary>Copies a state dict into this model with HF key forms and strict shape checks.</summary>
    /// <param name="inPlace">checkpoint keys whose values are already in the model (int8 layers): checked, not copied.</param>
    public LoadReport LoadStateDict(IReadOnlyDictionary<string, Tensor> checkpoint, string source, IReadOnlySet<string>? inPlace = null)
    {
        var own = state_dict();
        var mapped = new Dictionary<string, Tensor>();
        var unused = new List<string>();
        var skip = new HashSet<string>();
        string prefix = BasePrefix.Length > 0 ? BasePrefix + "." : "";
        foreach (var (key, tensor) in checkpoint)
        {
            string? target = null;
            if (own.ContainsKey(key)) target = key;
            else if (prefix.Length > 0 && own.ContainsKey(prefix + key)) target = prefix + key;       // bare base checkpoint into a head model
            else if (prefix.Length == 0 && KnownBasePrefixes.FirstOrDefault(key.StartsWith) is { } p && own.ContainsKey(key[p.Length..]))
                target = key[p.Length..];                                                              // head checkpoint into a base model
            if (target is null) { if (!IsIgnorable(key)) unused.Add(key); continue; }
            var want = own[target].shape;
            if (!want.SequenceEqual(tensor.shape))
                throw ShapeMismatch(source, key, tensor.shape, want);
            if (inPlace?.Contains(key) == true) skip.Add(target);
            if (!mapped.TryAdd(target, tensor))
                throw new GptBertException($"{source}: tensor '{target}' appears twice (with and without the '{BasePrefix}.' prefix)");
        }

        var missing = own.Keys.Where(k => !mapped.ContainsKey(k)).ToList();
        // The pooler is optional in checkpoints (a BertForMaskedLM has none); like transformers, start it fresh.
        var missingBase = missing.Where(k => (prefix.Length == 0 || k.StartsWith(prefix)) && !k.Contains("pooler.")).ToList();
        if (missingBase.Count > 0)
        {
            string family = Config.ModelType == "gpt2" ? "GPT-2" : "BERT";
            throw new GptBertException(missingBase.Count == own.Count
                ? $"{source}: no {family} weights found (e.g. '{missingBase[0]}'); is this a {family} checkpoint?"
                : $"{source}: checkpoint lacks {missingBase.Count} {family} tensor(s), e.g. '{missingBase[0]}'; the checkpoint is incomplete or for another architecture");
        }
        using (no_grad())
            foreach (var (k, t) in mapped)
                if (!skip.Contains(k)) own[k].copy_(t);
        return new LoadReport(missing, unused);
    }

    /// <summary>The one-line error for a checkpoint tensor whose shape is not the one config.json implies.</summary>
    internal static GptBertException ShapeMismatch(string source, string key, long[] have, long[] want) =>
        new($"{source}: tensor '{key}' has shape [{string.Join(", ", have)}] but the config needs [{string.Join(", ", want)}]; the checkpoint and config.json disagree");

    /// <summary>Writes config.json and model.safetensors in the Hugging Face layout (tied weights stored once, as HF does).</summary>
    public void SavePretrained(string directory)
    {
        if (Config.Quantization is not null)
            throw new GptBertException("an int8-quantized model in memory holds no float weights to save; save the fp32 model, or write int8 with gptbert quantize");
        Directory.CreateDirectory(directory);
        Config.Architectures = [Architecture];
        Config.TorchDtype ??= "float32";
        var sd = state_dict().ToDictionary(kv => kv.Key, kv => kv.Value);
        SafeTensors.Save(Path.Combine(directory, "model.safetensors"), sd, new Dictionary<string, string> { ["format"] = "pt" });
        Config.Save(Path.Combine(directory, "config.json"));
    }
}
