using GptBert.Tokenizers;

namespace GptBert.Training;

/// <summary>
/// EDA-style augmentation for classification (Wei &amp; Zou 2019): random deletion, random swap and random
/// insertion of in-vocabulary words, each applied to about <see cref="Rate"/> of a text's words.
/// Whether it helps is measured, not assumed: `gptbert finetune --augment` reports validation metrics for both.
/// </summary>
public sealed class TextAugmentation(IReadOnlyList<string> vocabularyWords)
{
    public double Rate { get; init; } = 0.1;

    /// <summary>Whole words of the tokenizer's vocabulary (letters only, no special tokens or "##" pieces).</summary>
    public static TextAugmentation For(ITextTokenizer tok)
    {
        var words = new List<string>();
        foreach (var (_, token) in tok.Entries())
        {
            string t = token.StartsWith('Ġ') ? token[1..] : token; // GPT-2: a leading space is part of the token
            if (t.Length >= 3 && t.All(char.IsLetter)) words.Add(t);
            if (words.Count == 50_000) break;
        }
        if (words.Count == 0) throw new GptBertException("Augment needs a vocabulary with whole words; this tokenizer has none") { Parameter = "Augment" };
        return new TextAugmentation(words);
    }

    public string Apply(string text, Random rng)
    {
        var words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        if (words.Count < 2) return text;
        int n = Math.Max(1, (int)Math.Round(Rate * words.Count));
        switch (rng.Next(3))
        {
            case 0: // deletion: each word dropped with probability Rate (at least one word stays)
                var kept = words.Where(_ => rng.NextDouble() >= Rate).ToList();
                words = kept.Count > 0 ? kept : [words[rng.Next(words.Count)]];
                break;
            case 1: // swap n random pairs
                for (int i = 0; i < n; i++)
                {
                    int a = rng.Next(words.Count), b = rng.Next(words.Count);
                    (words[a], words[b]) = (words[b], words[a]);
                }
                break;
            default: // insert n vocabulary words at random places
                for (int i = 0; i < n; i++) words.Insert(rng.Next(words.Count + 1), vocabularyWords[rng.Next(vocabularyWords.Count)]);
                break;
        }
        return string.Join(' ', words);
    }
}
