using System.Text.Json;
using System.Text.Json.Nodes;

namespace GptBert.Tokenizers;

public static class TokenizerSaving
{
    /// <summary>
    /// Saves <paramref name="tok"/> next to a model's weights with <c>model_max_length</c> no larger than the model's
    /// positions: transformers truncates to that value, and a tokenizer trained or loaded for 512/1024 tokens on a
    /// 128-position model would make it index past the position table.
    /// </summary>
    public static void SaveForModel(this ITextTokenizer tok, string dir, int maxPositions)
    {
        tok.Save(dir);
        var path = Path.Combine(dir, "tokenizer_config.json");
        if (!File.Exists(path)) return;
        if (JsonNode.Parse(File.ReadAllText(path)) is not JsonObject config) return;
        if (config["model_max_length"] is JsonValue v && v.TryGetValue<double>(out var current) && current <= maxPositions) return;
        config["model_max_length"] = maxPositions;
        AtomicFile.WriteAllText(path, config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
