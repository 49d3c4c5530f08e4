using System.Text;
using System.Text.Json;
using GptBert.Tokenizers;
using static GptBert.Tests.Tokenizers.TokenizerTestUtil;

namespace GptBert.Tests.Tokenizers;

public class Gpt2TokenizerTests
{
    public static readonly string[] Cases =
    [
        "Hello world",
        "The quick brown fox jumps over the lazy dog.",
        "def main():\n    print(\"hi\")\n\treturn 0\n",
        "    indented with spaces\n\t\ttabs\tinside\n",
        "a  b   c    d     e",
        "\n\n\nline\n\n",
        "  trailing  ",
        "   ",
        "12345 3.14159 1,000,000 2024-01-01 007",
        "I'm don't we'll they've she'd you're it's",
        "I'M DON'T 'S 'Re",
        "東京タワーは高い。中文测试",
        "한국어 텍스트입니다",
        "😀 emoji 🎉🎉",
        "👨‍👩‍👧‍👦 family ZWJ 🏳️‍🌈 flag",
        "café naïve résumé Ångström",
        "e\u0301 decomposed accents",
        "Hello<|endoftext|>World",
        "<|endoftext|> starts and ends <|endoftext|>",
        "x = {'key': [1, 2, 3]}; y = x['key'] ** 2 // 3",
        "Ünïcödé — “quotes” … ‘single’ «guillemets»",
        "\r\nWindows\r\nline endings\r\n",
        "Mixed 123abc abc123 ١٢٣ arabic digits",
        "Здравствуй, мир! Γειά σου Κόσμε",
        "https://example.com/path?query=1&b=2#frag",
        "\u00a0non-breaking\u2003em space\u3000ideographic",
        new string('a', 300) + " " + new string(' ', 40) + "end",
        "Zero\u200Bwidth\uFEFFbom and \u0000 nul",
        "<|endoftext|><|endoftext|>",
        "",
    ];

    public static TheoryData<string> CaseData()
    {
        var d = new TheoryData<string>();
        foreach (var c in Cases) d.Add(c);
        return d;
    }

    static readonly ITextTokenizer gpt2 = TokenizerLoader.Load("gpt2");

    [Theory]
    [MemberData(nameof(CaseData))]
    public void BuiltInIdsMatchOpenAiGpt2(string text)
    {
        Assert.Equal(ReferenceGpt2(text), gpt2.Encode(text).Ids);
    }

    [Fact]
    public void KnownOpenAiIds()
    {
        Assert.Equal([15496, 995], gpt2.Encode("Hello world").Ids);
        Assert.Equal([18435], gpt2.Encode(" Hello").Ids);
        Assert.Equal([50256], gpt2.Encode("<|endoftext|>").Ids);
        Assert.Equal([464, 2068, 7586, 21831], gpt2.Encode("The quick brown fox").Ids);
        Assert.Equal(50256, gpt2.EosId);
        Assert.Equal(50256, gpt2.BosId);
        Assert.Null(gpt2.PadId);
        Assert.Equal(50257, gpt2.VocabSize);
        Assert.Equal("bpe", gpt2.Kind);
        Assert.Equal("Ġthe", gpt2.IdToToken(262));
        Assert.Equal(262, gpt2.TokenToId("Ġthe"));
    }

    [Fact]
    public void AddsNoSpecialTokensAndHasGpt2Shape()
    {
        var e = gpt2.Encode("Hello world", addSpecialTokens: true);
        Assert.Equal(["Hello", "Ġworld"], e.Tokens);
        Assert.Equal([(0, 5), (5, 11)], e.Offsets);
        Assert.Equal([0, 0], e.TypeIds);
        Assert.Equal([0, 0], e.SequenceIds);
        Assert.Equal([1, 1], e.AttentionMask);
        Assert.False(e.Truncated);
    }

    [Theory]
    [MemberData(nameof(CaseData))]
    public void DecodeRoundTrips(string text)
    {
        var ids = gpt2.Encode(text).Ids;
        Assert.Equal(text, gpt2.Decode(ids, skipSpecialTokens: false));
        Assert.Equal(text.Replace("<|endoftext|>", ""), gpt2.Decode(ids));
    }

    [Fact]
    public void RandomStringsMatchOpenAiGpt2()
    {
        // BMP letters only: for supplementary-plane letters .NET's Regex in the reference differs from HF (see below).
        string[] pool = ["a", "Z", "x", " ", "  ", "\t", "\n", "\r\n", "'", "'s", "'re", "'LL", "'ve", "1", "23", "٣", "é", "e\u0301",
            "中", "日本", "😀", "👨‍👩‍👧", "\u200d", "\ufe0f", "!", "?", "...", "$", "-", "_", "<|endoftext|>", "<|endof", "İ", "ß",
            "\u00a0", "\u3000", "\u2028", "\u0085", "\u000b", "ⅷ", "²", "한", "\uFFFD", "\u0000", "the", " the", "ing"];
        var rnd = new Random(12345);
        for (int n = 0; n < 1500; n++)
        {
            var sb = new StringBuilder();
            int k = rnd.Next(1, 14);
            for (int i = 0; i < k; i++) sb.Append(pool[rnd.Next(pool.Length)]);
            var s = sb.ToString();
            var ours = gpt2.Encode(s).Ids;
            Assert.True(ReferenceGpt2(s).SequenceEqual(ours), $"ids differ for \"{Escape(s)}\"");
            Assert.Equal(s, gpt2.Decode(ours, skipSpecialTokens: false));
        }
    }

    [Fact]
    public void PreTokenizesOnCodePointsLikeHuggingFace()
    {
        // HF (Rust/Oniguruma) and OpenAI's encoder.py match \p{L} on code points, so U+10348 (GOTHIC LETTER HWAIR, Lo)
        // is a letter and "'s" after it is a contraction: pieces "𐍈" and "'s". .NET's Regex (used by the reference
        // TiktokenTokenizer) sees two surrogates instead and makes "𐍈'" + "s". Expected ids = reference on each HF piece.
        string text = "\U00010348's";
        var expected = ReferenceGpt2("\U00010348").Concat(ReferenceGpt2("'s")).ToArray();
        Assert.Equal(expected, gpt2.Encode(text).Ids);
        Assert.NotEqual(expected, ReferenceGpt2(text));
        Assert.Equal(text, gpt2.Decode(gpt2.Encode(text).Ids));
    }

    [Fact]
    public void OffsetsPointIntoTheInput()
    {
        foreach (var text in Cases)
        {
            var e = gpt2.Encode(text);
            int prevEnd = 0;
            for (int i = 0; i < e.Ids.Length; i++)
            {
                var (s, end) = e.Offsets[i];
                Assert.InRange(s, 0, text.Length);
                Assert.InRange(end, s, text.Length);
                Assert.True(s >= Math.Min(prevEnd, s), "offsets go backwards");
                prevEnd = end;
            }
            // Tokens that hold whole characters decode to exactly their span.
            for (int i = 0; i < e.Ids.Length; i++)
            {
                var piece = gpt2.Decode([e.Ids[i]], skipSpecialTokens: false);
                if (!piece.Contains('\uFFFD'))
                    Assert.Equal(piece, text[e.Offsets[i].Start..e.Offsets[i].End]);
            }
        }
        // A token holding part of an emoji's bytes points at the whole emoji (2 UTF-16 chars).
        var emoji = gpt2.Encode("Hi 😀");
        Assert.Equal((3, 5), emoji.Offsets[^1]);
        Assert.Equal((2, 5), emoji.Offsets[1]);
    }

    [Fact]
    public void PairBatchPaddingAndTruncation()
    {
        var e = gpt2.Encode("Hello world", "The quick brown fox");
        Assert.Equal([15496, 995, 464, 2068, 7586, 21831], e.Ids);
        Assert.Equal([0, 0, 1, 1, 1, 1], e.TypeIds);
        Assert.Equal([0, 0, 1, 1, 1, 1], e.SequenceIds);
        Assert.Equal((0, 3), e.Offsets[2]);

        var t = gpt2.Encode("Hello world", "The quick brown fox", maxLength: 4);
        Assert.True(t.Truncated);
        Assert.Equal([15496, 995, 464, 2068], t.Ids);

        var batch = gpt2.EncodeBatch([("Hello world", null), ("The quick brown fox", null)]);
        Assert.Equal([15496, 995, 50256, 50256], batch[0].Ids);
        Assert.Equal([1, 1, 0, 0], batch[0].AttentionMask);
        Assert.Equal([0, 0, -1, -1], batch[0].SequenceIds);
        Assert.Equal("<|endoftext|>", batch[0].Tokens[3]);
        Assert.Equal([464, 2068, 7586, 21831], batch[1].Ids);
        Assert.Equal([1, 1, 1, 1], batch[1].AttentionMask);

        var unpadded = gpt2.EncodeBatch([("Hello world", null), ("The quick brown fox", null)], padToLongest: false);
        Assert.Equal(2, unpadded[0].Ids.Length);
    }

    [Fact]
    public void SaveWritesHuggingFaceFilesAndLoadsBackIdentically()
    {
        using var dir = new TempDir();
        gpt2.Save(dir.Path);
        Assert.True(File.Exists(dir.File("vocab.json")));
        Assert.True(File.Exists(dir.File("merges.txt")));
        Assert.True(File.Exists(dir.File("tokenizer_config.json")));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));

        // The start of GPT-2's published merges.txt and a few published vocab.json entries.
        var merges = File.ReadLines(dir.File("merges.txt")).Take(8).ToArray();
        Assert.Equal(["#version: 0.2", "Ġ t", "Ġ a", "h e", "i n", "r e", "o n", "Ġt he"], merges);
        Assert.Equal(50001, File.ReadLines(dir.File("merges.txt")).Count());
        var vocab = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(dir.File("vocab.json")))!;
        Assert.Equal(50257, vocab.Count);
        Assert.Equal(0, vocab["!"]);
        Assert.Equal(262, vocab["Ġthe"]);
        Assert.Equal(15496, vocab["Hello"]);
        Assert.Equal(50256, vocab["<|endoftext|>"]);

        var loaded = TokenizerLoader.Load(dir.Path);
        Assert.Equal("bpe", loaded.Kind);
        Assert.Equal(50256, loaded.EosId);
        Assert.Equal(1024, loaded.ModelMaxLength);
        foreach (var text in Cases)
        {
            var a = gpt2.Encode(text);
            var b = loaded.Encode(text);
            Assert.Equal(a.Ids, b.Ids);
            Assert.Equal(a.Offsets, b.Offsets);
        }
    }

    [Fact]
    public void TokenizerJsonWithByteLevelBpeLoads()
    {
        using var dir = new TempDir();
        var bpe = (ByteLevelBpeTokenizer)gpt2;
        using (var fs = File.Create(dir.File("tokenizer.json")))
        using (var w = new Utf8JsonWriter(fs))
        {
            w.WriteStartObject();
            w.WriteString("version", "1.0");
            w.WriteStartArray("added_tokens");
            w.WriteStartObject();
            w.WriteNumber("id", 50256); w.WriteString("content", "<|endoftext|>");
            w.WriteBoolean("single_word", false); w.WriteBoolean("lstrip", false); w.WriteBoolean("rstrip", false);
            w.WriteBoolean("normalized", true); w.WriteBoolean("special", true);
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteNull("normalizer");
            w.WriteStartObject("pre_tokenizer");
            w.WriteString("type", "ByteLevel"); w.WriteBoolean("add_prefix_space", false); w.WriteBoolean("trim_offsets", true); w.WriteBoolean("use_regex", true);
            w.WriteEndObject();
            w.WriteStartObject("post_processor");
            w.WriteString("type", "ByteLevel"); w.WriteBoolean("add_prefix_space", true); w.WriteBoolean("trim_offsets", false); w.WriteBoolean("use_regex", true);
            w.WriteEndObject();
            w.WriteStartObject("model");
            w.WriteString("type", "BPE");
            w.WriteNull("dropout"); w.WriteNull("unk_token"); w.WriteNull("continuing_subword_prefix"); w.WriteNull("end_of_word_suffix");
            w.WriteBoolean("fuse_unk", false);
            w.WriteStartObject("vocab");
            for (int id = 0; id < 50256; id++) w.WriteNumber(bpe.IdToToken(id), id);
            w.WriteEndObject();
            w.WriteStartArray("merges");
            foreach (var (l, r) in bpe.Merges) w.WriteStringValue(l + " " + r);
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        var loaded = TokenizerLoader.Load(dir.Path);
        Assert.Equal("bpe", loaded.Kind);
        foreach (var text in Cases) Assert.Equal(ReferenceGpt2(text), loaded.Encode(text).Ids);
        Assert.Equal("Hello world<|endoftext|>", loaded.Decode(loaded.Encode("Hello world<|endoftext|>").Ids, skipSpecialTokens: false));
    }

    [Fact]
    public void AddPrefixSpaceEncodesFirstWordLikeTheOthers()
    {
        using var dir = new TempDir();
        gpt2.Save(dir.Path);
        File.WriteAllText(dir.File("tokenizer_config.json"), """{"tokenizer_class": "GPT2Tokenizer", "add_prefix_space": true, "model_max_length": 1024}""");
        var tok = TokenizerLoader.Load(dir.Path);
        var e = tok.Encode("Hello world");
        Assert.Equal(ReferenceGpt2(" Hello world"), e.Ids);
        Assert.Equal([(0, 5), (5, 11)], e.Offsets);
    }

    [Fact]
    public void InMemoryVocabAndMergesBuildATokenizer()
    {
        // What a BPE trainer produces: the 256 byte symbols plus merged tokens, and the merges in rank order.
        var vocab = new Dictionary<string, int>();
        foreach (var symbol in BytesToUnicode()) vocab[symbol.ToString()] = vocab.Count;
        (string, string)[] merges = [("h", "e"), ("l", "l"), ("he", "ll"), ("hell", "o"), ("Ġ", "w"), ("Ġw", "o")];
        foreach (var (l, r) in merges) vocab[l + r] = vocab.Count;
        vocab["<|endoftext|>"] = vocab.Count;
        var tok = new ByteLevelBpeTokenizer(vocab, merges);
        var e = tok.Encode("hello world<|endoftext|>");
        Assert.Equal(["hello", "Ġwo", "r", "l", "d", "<|endoftext|>"], e.Tokens);
        Assert.Equal([vocab["hello"], vocab["Ġwo"], vocab["r"], vocab["l"], vocab["d"], vocab["<|endoftext|>"]], e.Ids);
        Assert.Equal([(0, 5), (5, 8), (8, 9), (9, 10), (10, 11), (11, 24)], e.Offsets);
        Assert.Equal("hello world", tok.Decode(e.Ids));

        Assert.Equal(["hell"], tok.Encode("hell").Tokens);
        Assert.Equal(["he", "l"], tok.Encode("hel").Tokens);
        Assert.Equal(["Ġ", "ll"], tok.Encode(" ll").Tokens);

        var bad = Assert.Throws<GptBertException>(() => new ByteLevelBpeTokenizer(vocab, [("x", "y")]));
        Assert.Contains("'xy'", bad.Message);
    }

    /// <summary>GPT-2's bytes_to_unicode(), written out here independently of the library.</summary>
    static IEnumerable<char> BytesToUnicode()
    {
        int extra = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
            yield return printable ? (char)b : (char)(256 + extra++);
        }
    }
}
