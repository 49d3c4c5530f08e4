using System.Diagnostics;
using System.Text;
using GptBert.Tokenizers;
using GptBert.Tokenizers.Training;
using Xunit.Abstractions;
using static GptBert.Tests.Tokenizers.Training.TrainingTestUtil;

namespace GptBert.Tests.Tokenizers.Training;

public class WordPieceTrainerTests(ITestOutputHelper output)
{
    static readonly Lazy<WordPieceTokenizer> moby2000 = new(() =>
        new WordPieceTrainer(new WordPieceTrainerOptions { VocabSize = 2000 }).Train(MobyParagraphs));

    static WordPieceTokenizer Train(IEnumerable<string> texts, int vocabSize = 1000, long minFrequency = 2,
        bool lower = true, bool? strip = null, int? limitAlphabet = null, IReadOnlyList<string>? specials = null)
    {
        var o = new WordPieceTrainerOptions
        {
            VocabSize = vocabSize, MinFrequency = minFrequency, LowerCase = lower, StripAccents = strip, LimitAlphabet = limitAlphabet,
        };
        if (specials is not null) o = o with { SpecialTokens = specials };
        return new WordPieceTrainer(o).Train(texts);
    }

    static List<string> Vocab(ITextTokenizer t) => Enumerable.Range(0, t.VocabSize).Select(t.IdToToken).ToList();

    /// <summary>Tokens of text without [CLS]/[SEP].</summary>
    static string[] Tokens(ITextTokenizer t, string text) => t.Encode(text, addSpecialTokens: false).Tokens;

    [Fact]
    public void KnownVocabularyOnATinyCorpus()
    {
        // Words "aab" ×2, "ab" ×1. Alphabet (all chars, sorted): a b; continuations: ##a ##b. Ids: specials 0-4,
        // a 5, b 6, ##a 7, ##b 8. Symbols: aab = [a ##a ##b], ab = [a ##b].
        // Pairs: (a,##a) 2, (##a,##b) 2, (a,##b) 1 → tie at 2, (5,7) < (7,8): merge a + ##a = "aa".
        // aab = [aa ##b]: (aa,##b) 2, (a,##b) 1                                → merge aa + ##b = "aab".
        // (a,##b) 1 is below min frequency 2 → stop.
        var tok = Train(["aab aab ab"]);
        Assert.Equal(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "##a", "##b", "aa", "aab"], Vocab(tok));
        Assert.Equal(["aab", "a", "##b", "a", "##b", "[UNK]"], Tokens(tok, "AAB ab Ab c"));
        // A merge of two continuations keeps the prefix: "##a" + "##b" = "##ab".
        var t2 = Train(["xab xab xab yab yab"], minFrequency: 5);
        Assert.Equal(["##ab"], Vocab(t2).Skip(5 + 4 + 2));   // alphabet a b x y, continuations ##a ##b; (##a,##b) = 5
    }

    [Fact]
    public void MatchesANaiveRecountingTrainerOnMobyDick()
    {
        // Reference words: lowercased; letter/digit runs, and every other non-space char on its own (Moby-Dick is ASCII
        // apart from "—", so this is BERT's pre-tokenization for it).
        var words = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var p in MobyParagraphs)
        {
            var lower = p.ToLowerInvariant();
            for (int i = 0; i < lower.Length;)
            {
                if (char.IsWhiteSpace(lower[i])) { i++; continue; }
                int j = i + 1;
                if (char.IsLetterOrDigit(lower[i])) while (j < lower.Length && char.IsLetterOrDigit(lower[j])) j++;
                var w = lower[i..j];
                words[w] = words.GetValueOrDefault(w) + 1;
                i = j;
            }
        }
        var specials = new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" };
        var chars = words.Keys.SelectMany(w => w).Distinct().Order().Select(c => c.ToString());
        var cont = words.Keys.SelectMany(w => w.Skip(1)).Distinct().Order().Select(c => "##" + c);
        var initial = specials.Concat(chars).Concat(cont).ToList();
        IEnumerable<string> Symbols(string w) => w.Select((c, i) => i == 0 ? c.ToString() : "##" + c);

        foreach (long minFreq in new long[] { 2, 1 })
        {
            int vocabSize = initial.Count + 400;
            var (_, expectedVocab) = NaiveBpe(initial, words, Symbols, vocabSize, minFreq, "##");
            var tok = Train(MobyParagraphs, vocabSize, minFreq);
            Assert.Equal(expectedVocab, Vocab(tok));
        }
    }

    [Fact]
    public void SpecialsHaveIdsZeroToFourAndSeenWordsAreWholeTokens()
    {
        var tok = moby2000.Value;
        Assert.Equal(2000, tok.VocabSize);
        Assert.Equal(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], Vocab(tok).Take(5));
        Assert.Equal((0, 1, 2, 3, 4), (tok.PadId, tok.UnkId, tok.ClsId, tok.SepId, tok.MaskId));
        var vocab = Vocab(tok);
        Assert.Contains("##s", vocab);
        Assert.Contains(vocab, t => t.StartsWith("##") && t.Length > 3);     // a merged continuation
        Assert.Equal(["[CLS]", "the", "whale", "and", "the", "sea", ".", "[SEP]"], tok.Encode("The WHALE and the sea.").Tokens);
        Assert.Equal([2, tok.TokenToId("whale")!.Value, 3], tok.Encode("whale").Ids);
        // An unseen word is put together from pieces, not [UNK]; a character never seen is [UNK].
        var unseen = Tokens(tok, "whaleboatmanship");
        Assert.True(unseen.Length > 1);
        Assert.DoesNotContain("[UNK]", unseen);
        Assert.Equal("whaleboatmanship", string.Concat(unseen.Select(t => t.StartsWith("##") ? t[2..] : t)));
        Assert.Equal(["[UNK]"], Tokens(tok, "鯨"));
    }

    [Fact]
    public void SavedVocabTxtReloadsWithTheSameIds()
    {
        var tok = moby2000.Value;
        using var dir = new TempDir();
        TokenizerTraining.Save(tok, dir.Path);
        var lines = File.ReadAllText(dir.File("vocab.txt"), Encoding.UTF8).Split('\n');
        Assert.Equal(Vocab(tok), lines.Take(tok.VocabSize));
        var loaded = TokenizerLoader.Load(dir.Path);
        Assert.Equal("wordpiece", loaded.Kind);
        Assert.Equal(tok.VocabSize, loaded.VocabSize);
        Assert.Equal((0, 1, 2, 3, 4), (loaded.PadId, loaded.UnkId, loaded.ClsId, loaded.SepId, loaded.MaskId));
        foreach (var text in MobyParagraphs.Take(30).Append("Café NAÏVE 鯨 whaleboat [MASK] x"))
            Assert.Equal(tok.Encode(text).Ids, loaded.Encode(text).Ids);
    }

    [Fact]
    public void LowercasingAndAccentStrippingAreApplied()
    {
        string[] corpus = ["Café CAFÉ café Naïve naïve RÉSUMÉ résumé Résumé"];
        var lowered = Vocab(Train(corpus));
        Assert.Contains("cafe", lowered);
        Assert.Contains("naive", lowered);
        Assert.Contains("resume", lowered);
        Assert.All(lowered.Skip(5), t => Assert.True(t.All(c => c < 128 && !char.IsUpper(c)), $"'{t}' is not lowercase ASCII"));

        var accents = Vocab(Train(corpus, strip: false));
        Assert.Contains("café", accents);
        Assert.Contains("é", accents);
        Assert.DoesNotContain("cafe", accents);

        var cased = Train(corpus, lower: false, minFrequency: 1);
        var casedVocab = Vocab(cased);
        Assert.Contains("Café", casedVocab);
        Assert.Contains("CAFÉ", casedVocab);
        Assert.Contains("É", casedVocab);
        Assert.DoesNotContain("cafe", casedVocab);
        // The saved files carry the settings, so the reloaded tokenizer normalizes the same way.
        using var dir = new TempDir();
        TokenizerTraining.Save(cased, dir.Path);
        Assert.Equal(["Café", "CAFÉ"], Tokens(TokenizerLoader.Load(dir.Path), "Café CAFÉ"));
    }

    [Fact]
    public void TrainerSeesTheSameWordsAsTheTokenizer()
    {
        // With min frequency 1 and room enough, every training word ends up a single token; encoding the training
        // text then gives exactly one token per word the trainer saw, never [UNK] — so normalization and
        // pre-tokenization agree between trainer and tokenizer on real text.
        string[] texts = [.. MobyParagraphs, "Ünïcödé façade 中文文本 emoji🐳 a\u00a0b tab\tsep [SEP] (paren) don't"];
        var tok = Train(texts, vocabSize: 1_000_000, minFrequency: 1, limitAlphabet: null);
        foreach (var text in texts)
        {
            var tokens = Tokens(tok, text);
            Assert.DoesNotContain("[UNK]", tokens);
            Assert.DoesNotContain(tokens, t => t.StartsWith("##"));
        }
        Assert.Equal(["unicode", "facade", "中", "文", "文", "本", "emoji🐳", "a", "b", "tab", "sep", "[SEP]", "(", "paren", ")", "don", "'", "t"],
            Tokens(tok, texts[^1]));
    }

    [Fact]
    public void LimitAlphabetKeepsTheMostFrequentCharacters()
    {
        var tok = Train(["aaaa bbb cc d ab"], limitAlphabet: 2, minFrequency: 1);
        var vocab = Vocab(tok);
        Assert.Equal(["a", "b", "##a", "##b"], vocab.Skip(5).Take(4));
        Assert.DoesNotContain(vocab, t => t.Contains('c') || t.Contains('d'));
        Assert.Equal(["[UNK]"], Tokens(tok, "cc"));
        Assert.Equal(["ab"], Tokens(tok, "ab"));
    }

    [Fact]
    public void TrainsTwoHundredKilobytesInAFewSeconds()
    {
        var paragraphs = MobyParagraphs;
        var texts = paragraphs
            .Concat(paragraphs.Select(p => string.Join(' ', p.Split(' ').Select(w => new string(w.Reverse().ToArray())))))
            .Concat(paragraphs.Select(p => p.Replace('e', 'é').Replace('o', 'ø')))
            .ToList();
        long bytes = texts.Sum(t => (long)Encoding.UTF8.GetByteCount(t));
        var sw = Stopwatch.StartNew();
        var tok = new WordPieceTrainer(new WordPieceTrainerOptions { VocabSize = 5000, StripAccents = false }).Train(texts);
        sw.Stop();
        output.WriteLine($"WordPiece: {bytes / 1024.0:F0} KB → {tok.VocabSize} tokens in {sw.Elapsed.TotalSeconds:F2} s ({bytes / 1e6 / sw.Elapsed.TotalSeconds:F2} MB/s)");
        Assert.InRange(bytes, 200 * 1024, 300 * 1024); // the two hundred kilobytes of the name
        // "A few seconds": about 1 s on this 2-core machine shared with other builds; 30 s leaves room for a
        // slow CI runner but still fails if training turns quadratic.
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(30), $"WordPiece training of {bytes / 1024} KB took {sw.Elapsed.TotalSeconds:F1} s (limit 30 s)");
        Assert.Equal(5000, tok.VocabSize);
    }

    [Fact]
    public void ErrorsAreOneLine()
    {
        var small = OneLine(Assert.Throws<GptBertException>(() => Train(["abc abd"], vocabSize: 10)));
        // specials 5 + alphabet a b c d + continuations ##b ##c ##d = 12
        Assert.Contains("VocabSize 10 is too small", small);
        Assert.Contains("use at least 12", small);
        Assert.Equal(12, Train(["abc abd"], vocabSize: 12).VocabSize);
        Assert.Contains("VocabSize 3", OneLine(Assert.Throws<GptBertException>(() => Train(["abc"], vocabSize: 3))));
        Assert.Contains("empty", OneLine(Assert.Throws<GptBertException>(() => Train([]))));
        Assert.Contains("empty", OneLine(Assert.Throws<GptBertException>(() => Train(["   ", "\t\n", "\u200b"]))));
        Assert.Contains("[UNK]", OneLine(Assert.Throws<GptBertException>(() => Train(["abc"], specials: ["[PAD]", "[CLS]", "[SEP]"]))));
        Assert.Contains("alphabet", OneLine(Assert.Throws<GptBertException>(() => Train(["abc"], limitAlphabet: 0))));
    }
}
