using System.Text.Json;
using GptBert.Assets;
using GptBert.Checkpoints;
using GptBert.Engine;
using GptBert.Models;
using GptBert.Tokenizers;
using TorchSharp;

namespace GptBert.Pipelines;

/// <summary>
/// Resolves a model argument: a built-in name ("minilm") or a Hugging Face directory. Built-ins are
/// converted once into an HF/sentence-transformers directory under the cache and loaded from there.
/// </summary>
public static class ModelHub
{
    public const string MiniLm = "minilm";
    public static readonly string[] BuiltInNames = [MiniLm, "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"];

    public static bool IsBuiltIn(string name) => BuiltInNames.Contains(name.Trim().ToLowerInvariant());

    /// <summary>The HF directory behind a model argument: a built-in's cache (converted on first use), else the path as given.</summary>
    public static string ResolveDirectory(string nameOrDirectory) => IsBuiltIn(nameOrDirectory) ? EnsureMiniLm() : nameOrDirectory;

    /// <summary><see cref="ResolveDirectory"/>, refusing a path that does not exist with the fix in one line.</summary>
    public static string ExistingDirectory(string nameOrDirectory)
    {
        string dir = ResolveDirectory(nameOrDirectory);
        if (!Directory.Exists(dir))
            throw new GptBertException($"model '{nameOrDirectory}' not found: not a built-in ({MiniLm}) and no such directory");
        return dir;
    }

    /// <summary>How comparison reports name a candidate: "MiniLM (pretrained BERT)" or "FOLDER (GPT)" / "FOLDER (BERT, detail)".</summary>
    public static string DisplayName(string nameOrDirectory, string family, string? detail = null) =>
        IsBuiltIn(nameOrDirectory) ? "MiniLM (pretrained BERT)"
            : $"{Path.GetFileName(Path.TrimEndingDirectorySeparator(nameOrDirectory))} ({(family == "gpt" ? "GPT" : "BERT")}{(detail is null ? "" : ", " + detail)})";

    /// <summary>
    /// Loads <paramref name="nameOrDirectory"/> as <paramref name="architecture"/> (null: what config.json says).
    /// When <paramref name="requireHead"/> is set, a checkpoint without that head's weights is refused instead
    /// of running with random ones. Without <paramref name="requireTokenizer"/>, a directory that has no tokenizer
    /// files (and no <paramref name="tokenizer"/> given) loads without one, for describing the model.
    /// </summary>
    public static ModelHandle Load(string nameOrDirectory, string? architecture = null, string? tokenizer = null,
        string? device = null, bool requireHead = true, bool requireTokenizer = true)
    {
        var dev = TorchRuntime.ResolveDevice(device);
        string dir = ExistingDirectory(nameOrDirectory);
        var (model, report) = ModelFactory.Load(dir, architecture);
        if (requireHead && report.NewlyInitialized.Count > 0)
        {
            model.Dispose();
            throw new GptBertException(
                $"{nameOrDirectory} has no trained weights for {architecture}'s head (e.g. '{report.NewlyInitialized[0]}'); use a checkpoint saved as {architecture} or fine-tune one first");
        }
        ITextTokenizer? tok;
        try
        {
            tok = tokenizer is null && !requireTokenizer && !HasTokenizer(dir) ? null
                : LoadTokenizer(tokenizer, dir, nameOrDirectory, model.Config);
        }
        catch { model.Dispose(); throw; }
        model.to(dev);
        return new ModelHandle
        {
            Model = model, OptionalTokenizer = tok, Source = nameOrDirectory, Directory = dir, Device = dev,
            MaxLength = Math.Min(ReadMaxSeqLength(dir) ?? model.Config.MaxPositions, model.Config.MaxPositions),
            Report = report,
        };
    }

    static readonly string[] TokenizerFiles = ["vocab.txt", "vocab.json", "tokenizer.json"];

    /// <summary>Whether a model directory carries its own tokenizer files.</summary>
    public static bool HasTokenizer(string dir) => TokenizerFiles.Any(f => File.Exists(Path.Combine(dir, f)));

    /// <summary>
    /// The tokenizer for the model in <paramref name="dir"/>: <paramref name="overrideName"/> (--tokenizer) when given,
    /// else the directory's own files. One with more ids than the model's vocab_size is refused.
    /// </summary>
    public static ITextTokenizer LoadTokenizer(string? overrideName, string dir, string source, ModelConfig config)
    {
        var tok = overrideName is not null ? TokenizerLoader.Load(overrideName)
            : HasTokenizer(dir) ? TokenizerLoader.Load(dir)
            : throw NoTokenizer(source, config);
        CheckTokenizerFits(tok, config, source);
        return tok;
    }

    /// <summary>The error for a model directory without tokenizer files; the example follows the family when known.</summary>
    public static GptBertException NoTokenizer(string source, ModelConfig? config = null) => new(
        $"{source} has no tokenizer files (vocab.txt, vocab.json + merges.txt, or tokenizer.json); pass Tokenizer NAME|DIR" +
        (config is null ? "" : $" (e.g. Tokenizer {(config is Gpt2Config ? TokenizerLoader.Gpt2 : TokenizerLoader.BertBaseUncased)})"))
    { RelatedParameters = ["Tokenizer"] };

    /// <summary>Ids past the embedding table would fail deep inside the model, so a larger tokenizer is refused up front.</summary>
    public static void CheckTokenizerFits(ITextTokenizer tok, ModelConfig config, string source)
    {
        if (tok.VocabSize > config.VocabSize)
            throw new GptBertException(
                $"the tokenizer has {tok.VocabSize} tokens but {source} has vocab_size {config.VocabSize}; pass a matching Tokenizer (the one {source} was trained with)")
            { Parameter = "Tokenizer" };
    }

    internal static int? ReadMaxSeqLength(string dir)
    {
        var path = Path.Combine(dir, "sentence_bert_config.json");
        if (!File.Exists(path)) return null;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            return doc.RootElement.TryGetProperty("max_seq_length", out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int n) && n > 0 ? n : null;
        }
        catch (JsonException) { return null; }
    }

    static readonly object importGate = new();

    /// <summary>
    /// Converts the shipped all-MiniLM-L6-v2 ONNX into an HF + sentence-transformers directory once and
    /// returns its path. A marker file written last makes an interrupted import start again.
    /// </summary>
    public static string EnsureMiniLm()
    {
        var dir = Path.Combine(BuiltIn.CacheDirectory, "all-MiniLM-L6-v2");
        var marker = Path.Combine(dir, ".complete-v2"); // bump when the conversion changes
        lock (importGate)
        {
            if (File.Exists(marker)) return dir;
            Directory.CreateDirectory(dir);
            var weights = OnnxBertImporter.Import(BuiltIn.ReadMiniLmResource("model.onnx"));
            try
            {
                var config = BertConfig.MiniLmL6();
                using var model = new BertModel(config, addPoolingLayer: weights.ContainsKey("pooler.dense.weight"));
                model.LoadStateDict(weights, "built-in MiniLM");
                model.SavePretrained(dir);
            }
            finally { foreach (var t in weights.Values) t.Dispose(); }
            AtomicFile.WriteAllBytes(Path.Combine(dir, "vocab.txt"), BuiltIn.ReadMiniLmResource("vocab.txt"));
            AtomicFile.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), """
                {
                  "tokenizer_class": "BertTokenizer",
                  "do_lower_case": true,
                  "tokenize_chinese_chars": true,
                  "strip_accents": null,
                  "model_max_length": 512,
                  "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]"
                }
                """);
            // sentence-transformers layout: Transformer (max 256 tokens) → mean Pooling → Normalize.
            AtomicFile.WriteAllText(Path.Combine(dir, "sentence_bert_config.json"), """{ "max_seq_length": 256, "do_lower_case": false }""");
            AtomicFile.WriteAllText(Path.Combine(dir, "modules.json"), """
                [
                  {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                  {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                  {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}
                ]
                """);
            AtomicFile.WriteAllText(Path.Combine(dir, "1_Pooling", "config.json"), """
                { "word_embedding_dimension": 384, "pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true,
                  "pooling_mode_max_tokens": false, "pooling_mode_mean_sqrt_len_tokens": false }
                """);
            Directory.CreateDirectory(Path.Combine(dir, "2_Normalize"));
            AtomicFile.WriteAllText(marker, DateTime.UtcNow.ToString("O"));
            return dir;
        }
    }
}
