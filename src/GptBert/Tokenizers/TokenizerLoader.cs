using System.Text.Json;
using GptBert.Assets;

namespace GptBert.Tokenizers;

/// <summary>
/// Loads a tokenizer by built-in name ("gpt2", "bert-base-uncased") or from a Hugging Face directory:
/// vocab.txt (+ tokenizer_config.json) → WordPiece; vocab.json + merges.txt (+ tokenizer_config.json,
/// special_tokens_map.json) → byte-level BPE; otherwise tokenizer.json (BertWordPiece or ByteLevel BPE models).
/// </summary>
public static class TokenizerLoader
{
    public const string Gpt2 = "gpt2";
    public const string BertBaseUncased = "bert-base-uncased";
    public static IReadOnlyList<string> BuiltInNames { get; } = [Gpt2, BertBaseUncased];

    static readonly Lazy<WordPieceTokenizer> bert = new(() => new WordPieceTokenizer(
        WordPieceTokenizer.ReadVocabLines(BuiltIn.ReadMiniLmResource("vocab.txt")),
        new WordPieceOptions { LowerCase = true, ModelMaxLength = 512 }));

    public static bool IsBuiltIn(string name) =>
        name is not null && BuiltInNames.Contains(name.Trim(), StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// A built-in tokenizer (shared, immutable and thread-safe) or one loaded from a directory. An existing directory
    /// wins over a built-in name, as in Hugging Face from_pretrained.
    /// </summary>
    public static ITextTokenizer Load(string nameOrDirectory)
    {
        if (string.IsNullOrWhiteSpace(nameOrDirectory))
            throw new GptBertException($"no tokenizer given; pass a built-in name ({string.Join(", ", BuiltInNames)}) or a directory with tokenizer files");
        if (Directory.Exists(nameOrDirectory)) return LoadDirectory(nameOrDirectory);
        if (File.Exists(nameOrDirectory) && Path.GetFileName(nameOrDirectory) is "tokenizer.json" or "vocab.txt" or "vocab.json" or "merges.txt")
            return LoadDirectory(Path.GetDirectoryName(Path.GetFullPath(nameOrDirectory))!);
        switch (nameOrDirectory.Trim().ToLowerInvariant())
        {
            case Gpt2: return Gpt2Data.Tokenizer;
            case BertBaseUncased: return bert.Value;
        }
        throw new GptBertException(
            $"tokenizer '{nameOrDirectory}' not found: not a built-in ({string.Join(", ", BuiltInNames)}) and no such directory");
    }

    static ITextTokenizer LoadDirectory(string dir)
    {
        string P(string f) => Path.Combine(dir, f);
        bool Has(string f) => File.Exists(P(f));
        var config = ReadJsonObject(P("tokenizer_config.json"));
        var specialMap = ReadJsonObject(P("special_tokens_map.json"));

        if (Has("vocab.txt"))
            return new WordPieceTokenizer(WordPieceTokenizer.ReadVocabLines(File.ReadAllBytes(P("vocab.txt"))), WordPieceOptionsFrom(config, specialMap));
        if (Has("vocab.json") && Has("merges.txt"))
            return new ByteLevelBpeTokenizer(ByteLevelBpeTokenizer.ReadVocabJson(P("vocab.json")),
                ByteLevelBpeTokenizer.ReadMerges(P("merges.txt")), BpeOptionsFrom(config, specialMap));
        if (Has("tokenizer.json"))
            return LoadTokenizerJson(P("tokenizer.json"), config, specialMap);
        if (Has("vocab.json"))
            throw new GptBertException($"'{dir}' has vocab.json but no merges.txt; a byte-level BPE tokenizer needs both (or a tokenizer.json)");
        if (Has("merges.txt"))
            throw new GptBertException($"'{dir}' has merges.txt but no vocab.json; a byte-level BPE tokenizer needs both (or a tokenizer.json)");
        throw new GptBertException(
            $"'{dir}' has no tokenizer files; expected vocab.txt (WordPiece), vocab.json + merges.txt (byte-level BPE) or tokenizer.json");
    }

    // ---------------- tokenizer_config.json / special_tokens_map.json ----------------

    static JsonElement? ReadJsonObject(string path)
    {
        if (!File.Exists(path)) return null;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new GptBertException($"'{path}' is not a JSON object; fix or delete it");
            return doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new GptBertException($"'{path}' is not valid JSON ({e.Message}); fix or delete it", e);
        }
    }

    static JsonElement? Prop(JsonElement? obj, string name) =>
        obj is { ValueKind: JsonValueKind.Object } o && o.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    static bool? Bool(JsonElement? obj, string name) =>
        Prop(obj, name) is { } v && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : null;

    static int? ModelMaxLength(JsonElement? config) =>
        // transformers writes a huge sentinel (1e30) when there is no limit.
        Prop(config, "model_max_length") is { ValueKind: JsonValueKind.Number } v && v.TryGetDouble(out var d) && d >= 1 && d <= int.MaxValue ? (int)d : null;

    /// <summary>A special token written as "[CLS]" or {"content": "[CLS]", ...}; special_tokens_map.json wins over the config.</summary>
    static string? Token(JsonElement? config, JsonElement? specialMap, string name)
    {
        foreach (var src in new[] { specialMap, config })
        {
            if (Prop(src, name) is not { } v) continue;
            if (v.ValueKind == JsonValueKind.String) return v.GetString();
            if (v.ValueKind == JsonValueKind.Object && v.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String) return c.GetString();
        }
        return null;
    }

    static List<string> AdditionalSpecial(JsonElement? config, JsonElement? specialMap)
    {
        var list = new List<string>();
        foreach (var src in new[] { specialMap, config })
        {
            if (Prop(src, "additional_special_tokens") is not { ValueKind: JsonValueKind.Array } arr) continue;
            foreach (var v in arr.EnumerateArray())
            {
                if (v.ValueKind == JsonValueKind.String) list.Add(v.GetString()!);
                else if (v.ValueKind == JsonValueKind.Object && v.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String) list.Add(c.GetString()!);
            }
            if (list.Count > 0) break;
        }
        return list;
    }

    static WordPieceOptions WordPieceOptionsFrom(JsonElement? config, JsonElement? specialMap)
    {
        var d = new WordPieceOptions();
        return d with
        {
            LowerCase = Bool(config, "do_lower_case") ?? true,
            StripAccents = Bool(config, "strip_accents"),
            HandleChineseChars = Bool(config, "tokenize_chinese_chars") ?? true,
            CleanText = Bool(config, "clean_text") ?? true,
            UnkToken = Token(config, specialMap, "unk_token") ?? d.UnkToken,
            ClsToken = Token(config, specialMap, "cls_token") ?? d.ClsToken,
            SepToken = Token(config, specialMap, "sep_token") ?? d.SepToken,
            PadToken = Token(config, specialMap, "pad_token") ?? d.PadToken,
            MaskToken = Token(config, specialMap, "mask_token") ?? d.MaskToken,
            AdditionalSpecialTokens = AdditionalSpecial(config, specialMap),
            ContinuingSubwordPrefix = Prop(config, "wordpieces_prefix")?.GetString() ?? d.ContinuingSubwordPrefix,
            MaxInputCharsPerWord = Prop(config, "max_input_chars_per_word") is { ValueKind: JsonValueKind.Number } m ? m.GetInt32() : d.MaxInputCharsPerWord,
            ModelMaxLength = ModelMaxLength(config),
            CleanUpTokenizationSpaces = Bool(config, "clean_up_tokenization_spaces") ?? true,
        };
    }

    static ByteLevelBpeOptions BpeOptionsFrom(JsonElement? config, JsonElement? specialMap)
    {
        string cls = Prop(config, "tokenizer_class")?.GetString() ?? "GPT2Tokenizer";
        bool roberta = cls.StartsWith("Roberta", StringComparison.OrdinalIgnoreCase);
        // GPT2Tokenizer defaults unk/bos/eos to <|endoftext|>; RobertaTokenizer to <unk>, <s>, </s>, <pad>, <mask>.
        return new ByteLevelBpeOptions
        {
            UnkToken = Token(config, specialMap, "unk_token") ?? (roberta ? "<unk>" : Gpt2Data.EndOfText),
            BosToken = Token(config, specialMap, roberta ? "cls_token" : "bos_token") ?? Token(config, specialMap, "bos_token") ?? (roberta ? "<s>" : Gpt2Data.EndOfText),
            EosToken = Token(config, specialMap, roberta ? "sep_token" : "eos_token") ?? Token(config, specialMap, "eos_token") ?? (roberta ? "</s>" : Gpt2Data.EndOfText),
            PadToken = Token(config, specialMap, "pad_token") ?? (roberta ? "<pad>" : null),
            MaskToken = Token(config, specialMap, "mask_token") ?? (roberta ? "<mask>" : null),
            AdditionalSpecialTokens = AdditionalSpecial(config, specialMap),
            AddPrefixSpace = Bool(config, "add_prefix_space") ?? false,
            TrimOffsets = Bool(config, "trim_offsets") ?? roberta,
            AddBosToken = Bool(config, "add_bos_token") ?? false,
            AddEosToken = Bool(config, "add_eos_token") ?? false,
            IgnoreMerges = Bool(config, "ignore_merges") ?? false,
            Template = roberta ? BpeTemplate.Roberta : BpeTemplate.Gpt2,
            ModelMaxLength = ModelMaxLength(config),
            CleanUpTokenizationSpaces = Bool(config, "clean_up_tokenization_spaces") ?? false,
            TokenizerClass = cls,
        };
    }

    // ---------------- tokenizer.json ----------------

    static ITextTokenizer LoadTokenizerJson(string path, JsonElement? config, JsonElement? specialMap)
    {
        JsonElement root;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            root = doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new GptBertException($"'{path}' is not valid JSON ({e.Message}); re-save the tokenizer", e);
        }
        if (Prop(root, "model") is not { ValueKind: JsonValueKind.Object } model || Prop(model, "type")?.GetString() is not { } type)
            throw new GptBertException($"'{path}' has no model.type; it is not a Hugging Face tokenizer.json");

        var added = new List<AddedToken>();
        if (Prop(root, "added_tokens") is { ValueKind: JsonValueKind.Array } arr)
            foreach (var t in arr.EnumerateArray())
                added.Add(new AddedToken(t.GetProperty("content").GetString()!, t.GetProperty("id").GetInt32(),
                    Bool(t, "special") ?? false, Bool(t, "lstrip") ?? false, Bool(t, "rstrip") ?? false));

        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        if (Prop(model, "vocab") is { ValueKind: JsonValueKind.Object } v)
            foreach (var p in v.EnumerateObject()) vocab[p.Name] = p.Value.GetInt32();
        foreach (var a in added) vocab.TryAdd(a.Content, a.Id);

        var normalizer = Prop(root, "normalizer");
        var preTok = Prop(root, "pre_tokenizer");
        var post = Prop(root, "post_processor");
        string Unsupported(string what) => $"'{path}' uses {what}, which GptBert does not support; use a BertWordPiece or ByteLevel BPE tokenizer (vocab.txt, or vocab.json + merges.txt)";

        switch (type)
        {
            case "WordPiece":
            {
                var bertNorm = Single(normalizer, "BertNormalizer");
                if (normalizer is not null && bertNorm is null) throw new GptBertException(Unsupported($"normalizer {Describe(normalizer)}"));
                if (Single(preTok, "BertPreTokenizer") is null) throw new GptBertException(Unsupported($"pre_tokenizer {Describe(preTok)}"));
                bool lower = bertNorm is { } bn ? Bool(bn, "lowercase") ?? true : false;
                var baseOpts = WordPieceOptionsFrom(config, specialMap);
                var opts = baseOpts with
                {
                    CleanText = bertNorm is { } b1 ? Bool(b1, "clean_text") ?? true : false,
                    HandleChineseChars = bertNorm is { } b2 ? Bool(b2, "handle_chinese_chars") ?? true : false,
                    LowerCase = lower,
                    StripAccents = bertNorm is { } b3 ? Bool(b3, "strip_accents") : false,
                    UnkToken = Prop(model, "unk_token")?.GetString() ?? baseOpts.UnkToken,
                    ContinuingSubwordPrefix = Prop(model, "continuing_subword_prefix")?.GetString() ?? "##",
                    MaxInputCharsPerWord = Prop(model, "max_input_chars_per_word")?.GetInt32() ?? 100,
                };
                var template = TemplateFrom(post, vocab, path, out var cls, out var sep);
                if (cls is not null) opts = opts with { ClsToken = cls };
                if (sep is not null) opts = opts with { SepToken = sep };
                return new WordPieceTokenizer(vocab, opts, added, template);
            }
            case "BPE":
            {
                if (normalizer is not null) throw new GptBertException(Unsupported($"normalizer {Describe(normalizer)}"));
                var bl = Single(preTok, "ByteLevel") ?? throw new GptBertException(Unsupported($"pre_tokenizer {Describe(preTok)}"));
                if (Bool(bl, "use_regex") == false) throw new GptBertException(Unsupported("a ByteLevel pre_tokenizer without its regex"));
                if (Prop(model, "continuing_subword_prefix") is not null || Prop(model, "end_of_word_suffix") is not null || Bool(model, "byte_fallback") == true)
                    throw new GptBertException(Unsupported("a BPE model with subword prefix/suffix or byte_fallback"));
                var merges = new List<(string, string)>();
                if (Prop(model, "merges") is { ValueKind: JsonValueKind.Array } ma)
                {
                    int i = 0;
                    foreach (var m in ma.EnumerateArray())
                    {
                        i++;
                        merges.Add(m.ValueKind == JsonValueKind.Array
                            ? (m[0].GetString()!, m[1].GetString()!)
                            : ByteLevelBpeTokenizer.ParseMerge(m.GetString()!, $"'{path}' merge {i}"));
                    }
                }
                var baseOpts = BpeOptionsFrom(config, specialMap);
                bool trim = post is { } pp && Prop(pp, "type")?.GetString() is "ByteLevel" or "RobertaProcessing" ? Bool(pp, "trim_offsets") ?? true
                    : Single(post, "ByteLevel") is { } pbl ? Bool(pbl, "trim_offsets") ?? true : false;
                var opts = baseOpts with
                {
                    AddPrefixSpace = Bool(bl, "add_prefix_space") ?? false,
                    TrimOffsets = trim,
                    IgnoreMerges = Bool(model, "ignore_merges") ?? false,
                    UnkToken = Prop(model, "unk_token")?.GetString() ?? (config is null ? null : baseOpts.UnkToken),
                    AddBosToken = false, AddEosToken = false, Template = BpeTemplate.Gpt2,
                };
                var template = TemplateFrom(post, vocab, path, out _, out _);
                return new ByteLevelBpeTokenizer(vocab, merges, opts, added, template);
            }
            default:
                throw new GptBertException(Unsupported($"a {type} model"));
        }
    }

    static string Describe(JsonElement? e) => e is null ? "null" : Prop(e, "type")?.GetString() ?? "(unknown)";

    /// <summary>The element itself if it has that type, or the only such element of a Sequence of one.</summary>
    static JsonElement? Single(JsonElement? e, string type)
    {
        if (e is not { } x) return null;
        var t = Prop(x, "type")?.GetString();
        if (t == type) return x;
        if (t == "Sequence")
        {
            foreach (var key in new[] { "pretokenizers", "normalizers", "processors" })
                if (Prop(x, key) is { ValueKind: JsonValueKind.Array } list)
                {
                    var items = list.EnumerateArray().ToList();
                    var hits = items.Where(i => Prop(i, "type")?.GetString() == type).ToList();
                    // A Sequence may also hold a ByteLevel post-processor next to a template; the template is read separately.
                    if (hits.Count == 1 && (items.Count == 1 || key == "processors")) return hits[0];
                }
        }
        return null;
    }

    /// <summary>The post_processor as a template (null: none / ByteLevel, which adds no tokens).</summary>
    static EncodingTemplate? TemplateFrom(JsonElement? post, Dictionary<string, int> vocab, string path, out string? cls, out string? sep)
    {
        cls = sep = null;
        if (post is not { } p) return EncodingTemplate.None;
        string? type = Prop(p, "type")?.GetString();
        if (type == "Sequence" && Prop(p, "processors") is { ValueKind: JsonValueKind.Array } procs)
        {
            EncodingTemplate? found = EncodingTemplate.None;
            foreach (var item in procs.EnumerateArray())
                if (Prop(item, "type")?.GetString() != "ByteLevel") found = TemplateFrom(item, vocab, path, out cls, out sep);
            return found;
        }
        (string, int) Pair(string name)
        {
            var a = p.GetProperty(name);
            return (a[0].GetString()!, a[1].GetInt32());
        }
        switch (type)
        {
            case "ByteLevel": return EncodingTemplate.None;
            case "BertProcessing":
            {
                var (c, ci) = Pair("cls"); var (s, si) = Pair("sep");
                cls = c; sep = s;
                return EncodingTemplate.Bert(c, ci, s, si);
            }
            case "RobertaProcessing":
            {
                var (c, ci) = Pair("cls"); var (s, si) = Pair("sep");
                cls = c; sep = s;
                return EncodingTemplate.Roberta(c, ci, s, si);
            }
            case "TemplateProcessing":
            {
                var specials = new Dictionary<string, (string Token, int Id)>();
                if (Prop(p, "special_tokens") is { ValueKind: JsonValueKind.Object } st)
                    foreach (var e in st.EnumerateObject())
                    {
                        var ids = e.Value.GetProperty("ids");
                        var toks = e.Value.GetProperty("tokens");
                        if (ids.GetArrayLength() != 1)
                            throw new GptBertException($"'{path}': special token '{e.Name}' of the post_processor has {ids.GetArrayLength()} ids; only single-token specials are supported");
                        specials[e.Name] = (toks[0].GetString()!, ids[0].GetInt32());
                    }
                TemplatePiece[] Parse(string key)
                {
                    var list = new List<TemplatePiece>();
                    foreach (var item in p.GetProperty(key).EnumerateArray())
                    {
                        if (item.TryGetProperty("Sequence", out var sq))
                            list.Add(TemplatePiece.Seq(sq.GetProperty("id").GetString() == "B" ? 1 : 0, sq.GetProperty("type_id").GetInt32()));
                        else if (item.TryGetProperty("SpecialToken", out var sp))
                        {
                            var name = sp.GetProperty("id").GetString()!;
                            var (tok, id) = specials.TryGetValue(name, out var x) ? x
                                : vocab.TryGetValue(name, out var vid) ? (name, vid)
                                : throw new GptBertException($"'{path}': post_processor uses special token '{name}' that it does not define");
                            list.Add(TemplatePiece.Special(tok, id, sp.GetProperty("type_id").GetInt32()));
                        }
                    }
                    return [.. list];
                }
                var single = Parse("single");
                var pair = Parse("pair");
                // BERT-like templates: remember [CLS]/[SEP] names for ClsId/SepId.
                if (single.Length == 3 && !single[0].IsSequence && !single[2].IsSequence) { cls = single[0].Token; sep = single[2].Token; }
                return new EncodingTemplate(single, pair);
            }
            default:
                throw new GptBertException($"'{path}' uses post_processor {type}, which GptBert does not support; use BertProcessing, RobertaProcessing, ByteLevel or TemplateProcessing");
        }
    }
}
