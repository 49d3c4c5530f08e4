using System.Runtime.InteropServices;

namespace GptBert.Tokenizers.Training;

/// <summary>What the BPE and WordPiece trainers share: special-token checks, the growing vocabulary, word counting.</summary>
internal static class TrainerCommon
{
    /// <summary>The special tokens without repeats (first wins, as tokenizers' add_special_tokens); each must be non-empty.</summary>
    public static List<string> CheckSpecials(IReadOnlyList<string>? specials)
    {
        var list = new List<string>();
        foreach (var s in specials ?? [])
        {
            if (string.IsNullOrEmpty(s))
                throw new GptBertException("a special token is empty; give non-empty special tokens (e.g. <|endoftext|> or [CLS])");
            if (s.AsSpan().Trim().Length != s.Length || s.Contains('\n'))
                throw new GptBertException($"special token '{s}' starts or ends with whitespace; give it without the whitespace");
            if (!list.Contains(s)) list.Add(s);
        }
        return list;
    }

    public static void AddToken(List<string> idToToken, Dictionary<string, int> tokenToId, string token)
    {
        if (tokenToId.TryAdd(token, idToToken.Count)) idToToken.Add(token);
    }

    /// <summary>
    /// Counts the words of texts as <paramref name="splitWords"/> cuts each stretch between special tokens (the
    /// special tokens themselves are not counted), reporting progress every 10,000 texts.
    /// </summary>
    public static Dictionary<string, long> CountWords(IEnumerable<string> texts, IReadOnlyList<string> specials,
        Action<TrainingProgress>? progress, Action<string, int, int, WordSink> splitWords)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        var lookup = counts.GetAlternateLookup<ReadOnlySpan<char>>();
        var matcher = new AddedTokenMatcher(specials.Select((t, i) => new AddedToken(t, i, Special: true)));
        WordSink count = w => CollectionsMarshal.GetValueRefOrAddDefault(lookup, w, out _)++;
        long total = texts is System.Collections.ICollection col ? col.Count : 0, done = 0;
        progress?.Invoke(new TrainingProgress("Count words", 0, total));
        foreach (var text in texts)
        {
            if (!string.IsNullOrEmpty(text))
                matcher.Split(text, (from, to) => splitWords(text, from, to, count), static (_, _, _) => { });
            if (++done % 10_000 == 0) progress?.Invoke(new TrainingProgress("Count words", done, total));
        }
        progress?.Invoke(new TrainingProgress("Count words", done, done));
        return counts;
    }
}
