using GptBert.Tokenizers;
using static GptBert.Tests.Tokenizers.TokenizerTestUtil;

namespace GptBert.Tests.Tokenizers;

/// <summary>
/// Expected tokens follow the rules of Hugging Face's BertNormalizer + BertPreTokenizer + WordPiece; their ids are
/// looked up in bert-base-uncased's vocab.txt.
/// </summary>
public class WordPieceTokenizerTests
{
    static readonly ITextTokenizer bert = TokenizerLoader.Load("bert-base-uncased");

    static void AssertTokens(string text, params string[] expected)
    {
        var e = bert.Encode(text);
        string[] withSpecial = ["[CLS]", .. expected, "[SEP]"];
        Assert.Equal(withSpecial, e.Tokens);
        Assert.Equal(BertIds(withSpecial), e.Ids);
    }

    [Fact]
    public void KnownIds()
    {
        var e = bert.Encode("Hello, World!");
        Assert.Equal([101, 7592, 1010, 2088, 999, 102], e.Ids);
        Assert.Equal(["[CLS]", "hello", ",", "world", "!", "[SEP]"], e.Tokens);
        Assert.Equal([(0, 0), (0, 5), (5, 6), (7, 12), (12, 13), (0, 0)], e.Offsets);
        Assert.Equal([0, 0, 0, 0, 0, 0], e.TypeIds);
        Assert.Equal([-1, 0, 0, 0, 0, -1], e.SequenceIds);
        Assert.Equal([1, 1, 1, 1, 1, 1], e.AttentionMask);
        Assert.Equal(30522, bert.VocabSize);
        Assert.Equal(("wordpiece", 0, 100, 101, 102, 103), (bert.Kind, bert.PadId, bert.UnkId, bert.ClsId, bert.SepId, bert.MaskId));
        Assert.Equal("[MASK]", bert.MaskToken);
        Assert.Null(bert.BosId);
        Assert.Equal(512, bert.ModelMaxLength);
    }

    [Fact]
    public void LowercasesAndStripsAccents()
    {
        AssertTokens("café naïve", "cafe", "naive");
        AssertTokens("CAFÉ Naïve", "cafe", "naive");
        // Already decomposed input (e + COMBINING ACUTE) gives the same tokens.
        AssertTokens("cafe\u0301", "cafe");
        // İ lowercases to i + U+0307, which accent stripping removes.
        AssertTokens("İstanbul", "istanbul");
    }

    [Fact]
    public void SplitsEveryPunctuationAndSymbolOfTheAsciiRanges()
    {
        AssertTokens("price: $100 + tax = <total> ^ ~", "price", ":", "$", "100", "+", "tax", "=", "<", "total", ">", "^", "~");
        AssertTokens("a|b`c", "a", "|", "b", "`", "c");
        // Unicode P* (em dash Pd, inverted question mark Po) splits too.
        AssertTokens("hello—world ¿que?", "hello", "—", "world", "¿", "que", "?");
    }

    [Fact]
    public void WhitespaceOfAnyKindSeparatesWords()
    {
        AssertTokens("one\ttwo\nthree\r\nfour  five\u00A0six\u3000seven", "one", "two", "three", "four", "five", "six", "seven");
    }

    [Fact]
    public void CjkIdeographsAreSplitButKanaAndHangulAreNot()
    {
        Assert.False(BertVocab.ContainsKey("タワー"));
        Assert.False(BertVocab.ContainsKey("タワ"));
        AssertTokens("東京タワー", "東", "京", "タ", "##ワ", "##ー");
        AssertTokens("abc中def", "abc", "中", "def");
        // Hangul syllables are NFD-decomposed into conjoining jamo by accent stripping (uncased BERT).
        AssertTokens("한국어", "ᄒ", "##ᅡ", "##ᆫ", "##ᄀ", "##ᅮ", "##ᆨ", "##ᄋ", "##ᅥ");
        var e = bert.Encode("한국어");
        Assert.Equal([(0, 0), (0, 1), (0, 1), (0, 1), (1, 2), (1, 2), (1, 2), (2, 3), (2, 3), (0, 0)], e.Offsets);
        // U+20000 (CJK Extension B, a surrogate pair) is spaced out like other ideographs; it is not in the vocab.
        Assert.False(BertVocab.ContainsKey("\U00020000"));
        var x = bert.Encode("a\U00020000b");
        Assert.Equal(["[CLS]", "a", "[UNK]", "b", "[SEP]"], x.Tokens);
        Assert.Equal((1, 3), x.Offsets[2]);
    }

    [Fact]
    public void EmojiAreNotPunctuationSoTheirWordBecomesUnknown()
    {
        AssertTokens("😀", "[UNK]");
        AssertTokens("hi😀", "[UNK]");
        AssertTokens("hi 😀", "hi", "[UNK]");
        AssertTokens("hi😀, there", "[UNK]", ",", "there");
        // ZWJ (Cf) is removed by clean_text; the family stays one word.
        var e = bert.Encode("👨‍👩‍👧 ok");
        Assert.Equal(["[CLS]", "[UNK]", "ok", "[SEP]"], e.Tokens);
        Assert.Equal((0, 8), e.Offsets[1]);
    }

    [Fact]
    public void WordPiecesUseTheContinuationPrefix()
    {
        AssertTokens("unaffable", "una", "##ffa", "##ble");
        var e = bert.Encode("unaffable");
        Assert.Equal([(0, 0), (0, 3), (3, 6), (6, 9), (0, 0)], e.Offsets);
    }

    [Fact]
    public void WordsOverOneHundredCharsAreUnknown()
    {
        string hundred = string.Concat(Enumerable.Repeat("hello", 20));
        var ok = bert.Encode(hundred);
        Assert.DoesNotContain("[UNK]", ok.Tokens);
        Assert.True(ok.Tokens.Length > 3);

        var e = bert.Encode(hundred + "s and more");
        Assert.Equal(["[CLS]", "[UNK]", "and", "more", "[SEP]"], e.Tokens);
        Assert.Equal((0, 101), e.Offsets[1]);
    }

    [Fact]
    public void ControlAndFormatCharsAreDropped()
    {
        var e = bert.Encode("hel\u0000lo wo\u200Brld\u0007");
        Assert.Equal(["[CLS]", "hello", "world", "[SEP]"], e.Tokens);
        Assert.Equal([(0, 0), (0, 6), (7, 13), (0, 0)], e.Offsets);
        // Soft hyphen (Cf) and U+FFFD vanish; vertical tab is a control char (removed before whitespace mapping).
        AssertTokens("co\u00ADoperate", "cooperate");
        AssertTokens("wor\uFFFDld", "world");
        AssertTokens("a\u000Bb", "ab");
    }

    [Fact]
    public void OffsetsPointToTheOriginalText()
    {
        string text = "Café, naïve İstanbul!";
        var e = bert.Encode(text);
        Assert.Equal(["[CLS]", "cafe", ",", "naive", "istanbul", "!", "[SEP]"], e.Tokens);
        Assert.Equal(["Café", ",", "naïve", "İstanbul", "!"], e.Offsets[1..^1].Select(o => text[o.Start..o.End]));
        // Input that is already decomposed: the stripped mark belongs to no token (tokenizers' filter drops its
        // alignment), so "cafe" covers "Cafe" only.
        var nfd = bert.Encode("Cafe\u0301 x");
        Assert.Equal((0, 4), nfd.Offsets[1]);
        Assert.Equal((6, 7), nfd.Offsets[2]);
    }

    [Fact]
    public void SpecialTokensInRawTextAreRecognised()
    {
        AssertTokens("the capital of france is [MASK].", "the", "capital", "of", "france", "is", "[MASK]", ".");
        AssertTokens("[mask]", "[", "mask", "]");
        var e = bert.Encode("a [SEP] b");
        Assert.Equal((2, 7), e.Offsets[2]);
    }

    [Fact]
    public void PairsHaveTokenTypeIds()
    {
        var e = bert.Encode("Hello world", "How are you?");
        Assert.Equal(["[CLS]", "hello", "world", "[SEP]", "how", "are", "you", "?", "[SEP]"], e.Tokens);
        Assert.Equal(BertIds(e.Tokens), e.Ids);
        Assert.Equal([0, 0, 0, 0, 1, 1, 1, 1, 1], e.TypeIds);
        Assert.Equal([-1, 0, 0, -1, 1, 1, 1, 1, -1], e.SequenceIds);
        Assert.Equal([(0, 0), (0, 5), (6, 11), (0, 0), (0, 3), (4, 7), (8, 11), (11, 12), (0, 0)], e.Offsets);
        Assert.False(e.Truncated);
    }

    [Fact]
    public void TruncatesLongestFirstIncludingSpecialTokens()
    {
        var single = bert.Encode("the quick brown fox jumps", maxLength: 5);
        Assert.Equal(["[CLS]", "the", "quick", "brown", "[SEP]"], single.Tokens);
        Assert.True(single.Truncated);
        Assert.False(bert.Encode("the quick brown fox jumps", maxLength: 7).Truncated);

        const string ten = "one two three four five six seven eight nine ten";
        // 7 places for 10 + 3 tokens: the shorter keeps its 3, the longer gets the other 4.
        var p1 = bert.Encode(ten, "a b c", maxLength: 10);
        Assert.Equal(["[CLS]", "one", "two", "three", "four", "[SEP]", "a", "b", "c", "[SEP]"], p1.Tokens);
        Assert.True(p1.Truncated);
        // The pair may be the longer one.
        var p2 = bert.Encode("a b c", ten, maxLength: 10);
        Assert.Equal(["[CLS]", "a", "b", "c", "[SEP]", "one", "two", "three", "four", "[SEP]"], p2.Tokens);
        // 9 places for 10 + 8 tokens: both are cut, the longer keeps the odd one (5 + 4).
        var p3 = bert.Encode(ten, "one two three four five six seven eight", maxLength: 12);
        Assert.Equal(["[CLS]", "one", "two", "three", "four", "five", "[SEP]", "one", "two", "three", "four", "[SEP]"], p3.Tokens);
        Assert.Equal([0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1], p3.TypeIds);

        Assert.Equal(["one", "two", "three"], bert.Encode(ten, addSpecialTokens: false, maxLength: 3).Tokens);
        var ex = Assert.Throws<GptBertException>(() => bert.Encode("a", "b", maxLength: 2));
        Assert.Contains("maxLength", ex.Message);
    }

    [Fact]
    public void BatchesArePaddedOnTheRight()
    {
        var batch = bert.EncodeBatch([("Hello world", null), ("Hello", null), ("Hello world", "Hi")]);
        Assert.Equal(3, batch.Count);
        Assert.All(batch, b => Assert.Equal(6, b.Ids.Length));
        Assert.Equal([101, 7592, 2088, 102, 0, 0], batch[0].Ids);
        Assert.Equal([1, 1, 1, 1, 0, 0], batch[0].AttentionMask);
        Assert.Equal([101, 7592, 102, 0, 0, 0], batch[1].Ids);
        Assert.Equal([1, 1, 1, 0, 0, 0], batch[1].AttentionMask);
        Assert.Equal([0, 0, 0, 0, 0, 0], batch[1].TypeIds);
        Assert.Equal([-1, 0, -1, -1, -1, -1], batch[1].SequenceIds);
        Assert.Equal("[PAD]", batch[1].Tokens[5]);
        Assert.Equal((0, 0), batch[1].Offsets[5]);
        Assert.Equal([0, 0, 0, 0, 1, 1], batch[2].TypeIds);
        Assert.Equal([1, 1, 1, 1, 1, 1], batch[2].AttentionMask);

        var truncated = bert.EncodeBatch([("the quick brown fox jumps", null), ("hi", null)], maxLength: 4);
        Assert.Equal(["[CLS]", "the", "quick", "[SEP]"], truncated[0].Tokens);
        Assert.True(truncated[0].Truncated);
        Assert.Equal(["[CLS]", "hi", "[SEP]", "[PAD]"], truncated[1].Tokens);
        Assert.False(truncated[1].Truncated);
    }

    [Fact]
    public void Decodes()
    {
        Assert.Equal("hello, world!", bert.Decode(bert.Encode("Hello, World!").Ids));
        Assert.Equal("[CLS] hello, world! [SEP]", bert.Decode(bert.Encode("Hello, World!").Ids, skipSpecialTokens: false));
        Assert.Equal("i don't know.", bert.Decode(bert.Encode("I don't know.").Ids));
        Assert.Equal("unaffable", bert.Decode(bert.Encode("unaffable").Ids));
        Assert.Equal("hello", bert.IdToToken(7592));
        Assert.Equal(7592, bert.TokenToId("hello"));
        Assert.Null(bert.TokenToId("no-such-token-here"));
        Assert.Throws<GptBertException>(() => bert.IdToToken(30522));
        // Like tokenizers, Decode skips ids outside the vocabulary.
        Assert.Equal("hello world", bert.Decode([7592, 30522, -1, 2088]));
    }

    [Fact]
    public void CasedVocabularyKeepsCaseAndAccents()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir.File("vocab.txt"), ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "Hello", "hello", "Café", "Cafe", "cafe", "!", "World", "##s", "naïve"]);
        File.WriteAllText(dir.File("tokenizer_config.json"), """{"do_lower_case": false, "tokenizer_class": "BertTokenizer"}""");
        var cased = TokenizerLoader.Load(dir.Path);
        var e = cased.Encode("Hello Café! Worlds naïve hello");
        Assert.Equal(["[CLS]", "Hello", "Café", "!", "World", "##s", "naïve", "hello", "[SEP]"], e.Tokens);
        Assert.Equal([2, 5, 7, 10, 11, 12, 13, 6, 3], e.Ids);
        Assert.Equal("Hello Café! Worlds naïve hello", cased.Decode(e.Ids));

        // strip_accents=true without lowercasing.
        File.WriteAllText(dir.File("tokenizer_config.json"), """{"do_lower_case": false, "strip_accents": true}""");
        Assert.Equal(["[CLS]", "Cafe", "[UNK]", "[SEP]"], TokenizerLoader.Load(dir.Path).Encode("Café HELLO").Tokens);

        // Save → Load keeps the settings.
        using var saved = new TempDir();
        cased.Save(saved.Path);
        Assert.Equal(e.Ids, TokenizerLoader.Load(saved.Path).Encode("Hello Café! Worlds naïve hello").Ids);
    }

    [Fact]
    public void SaveThenLoadGivesIdenticalIds()
    {
        using var dir = new TempDir();
        bert.Save(dir.Path);
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
        Assert.True(File.Exists(dir.File("tokenizer_config.json")));
        Assert.True(File.Exists(dir.File("special_tokens_map.json")));
        var lines = File.ReadAllLines(dir.File("vocab.txt"));
        Assert.Equal(30522, lines.Length);
        Assert.Equal(BertVocab.OrderBy(kv => kv.Value).Select(kv => kv.Key), lines);

        var loaded = TokenizerLoader.Load(dir.Path);
        string[] texts = ["Hello, World!", "café naïve", "東京タワー 한국어", "unaffable 😀", "price: $100 + tax", "[MASK] is here"];
        foreach (var t in texts)
        {
            var a = bert.Encode(t, "pair text");
            var b = loaded.Encode(t, "pair text");
            Assert.Equal(a.Ids, b.Ids);
            Assert.Equal(a.Offsets, b.Offsets);
            Assert.Equal(a.TypeIds, b.TypeIds);
        }
        Assert.Equal(bert.ModelMaxLength, loaded.ModelMaxLength);
    }

    [Fact]
    public void InMemoryTokenListBuildsATokenizer()
    {
        var tok = new WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "aff", "##a"]);
        var e = tok.Encode("Unaffable affa xyz");
        Assert.Equal(["[CLS]", "un", "##aff", "##able", "aff", "##a", "[UNK]", "[SEP]"], e.Tokens);
        Assert.Equal([2, 5, 6, 7, 8, 9, 1, 3], e.Ids);
        Assert.Equal(10, tok.VocabSize);

        var ex = Assert.Throws<GptBertException>(() => new WordPieceTokenizer(["a", "b"]));
        Assert.Contains("[UNK]", ex.Message);
    }

    [Fact]
    public void TokenizerJsonWithBertWordPieceLoads()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("tokenizer.json"), """
            {
              "version": "1.0",
              "truncation": null,
              "padding": null,
              "added_tokens": [
                {"id": 0, "content": "[PAD]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
                {"id": 1, "content": "[UNK]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
                {"id": 2, "content": "[CLS]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
                {"id": 3, "content": "[SEP]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
                {"id": 4, "content": "[MASK]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
              ],
              "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
              "pre_tokenizer": {"type": "BertPreTokenizer"},
              "post_processor": {
                "type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
                "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                         {"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
                "special_tokens": {
                  "[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                  "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}
                }
              },
              "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
              "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
                        "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4, "hello": 5, ",": 6, "world": 7, "!": 8, "##s": 9, "cafe": 10}}
            }
            """);
        var tok = TokenizerLoader.Load(dir.Path);
        Assert.Equal("wordpiece", tok.Kind);
        var e = tok.Encode("Hello, Worlds! Café", "hello");
        Assert.Equal(["[CLS]", "hello", ",", "world", "##s", "!", "cafe", "[SEP]", "hello", "[SEP]"], e.Tokens);
        Assert.Equal([2, 5, 6, 7, 9, 8, 10, 3, 5, 3], e.Ids);
        Assert.Equal([0, 0, 0, 0, 0, 0, 0, 0, 1, 1], e.TypeIds);
        Assert.Equal(4, tok.MaskId);
    }
}
