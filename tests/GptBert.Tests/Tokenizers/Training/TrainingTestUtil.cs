using System.Text;
using System.Text.RegularExpressions;

namespace GptBert.Tests.Tokenizers.Training;

/// <summary>Corpus and independent references for the trainer tests (nothing here calls the trainers).</summary>
internal static class TrainingTestUtil
{
    static readonly Lazy<string> moby = new(() => File.ReadAllText(RepoFiles.At("data", "samples", "moby-dick-openings.txt"), Encoding.UTF8));

    /// <summary>data/samples/moby-dick-openings.txt (75 KB, public domain).</summary>
    public static string MobyDick => moby.Value;

    /// <summary>Moby-Dick as paragraphs (one text per non-empty line).</summary>
    public static string[] MobyParagraphs => MobyDick.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>GPT-2's bytes_to_unicode(), written out again.</summary>
    public static readonly char[] ByteToChar = BuildByteToChar();

    static char[] BuildByteToChar()
    {
        var bs = new List<int>();
        for (int b = '!'; b <= '~'; b++) bs.Add(b);
        for (int b = 0xA1; b <= 0xAC; b++) bs.Add(b);
        for (int b = 0xAE; b <= 0xFF; b++) bs.Add(b);
        var map = new char[256];
        foreach (int b in bs) map[b] = (char)b;
        int n = 0;
        for (int b = 0; b < 256; b++) if (!bs.Contains(b)) map[b] = (char)(256 + n++);
        return map;
    }

    static readonly Regex gpt2 = new(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+", RegexOptions.Compiled);

    /// <summary>GPT-2 words of BMP text with .NET's Regex, as byte-level strings, with their counts.</summary>
    public static Dictionary<string, long> Gpt2WordCounts(IEnumerable<string> texts)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var t in texts)
            foreach (Match m in gpt2.Matches(t))
            {
                var w = string.Concat(Encoding.UTF8.GetBytes(m.Value).Select(b => ByteToChar[b]));
                counts[w] = counts.GetValueOrDefault(w) + 1;
            }
        return counts;
    }

    /// <summary>
    /// A from-scratch BPE learner that recounts every pair before each merge (slow, obviously right): the most
    /// frequent pair wins, ties go to the smaller (left id, right id); each merge is applied left to right in every
    /// word; it stops at vocabSize tokens or when the best count is below minFrequency. Returns the merges as strings
    /// and the final vocabulary (id order).
    /// </summary>
    public static (List<(string Left, string Right)> Merges, List<string> Vocab) NaiveBpe(List<string> initialVocab, Dictionary<string, long> wordCounts,
        Func<string, IEnumerable<string>> symbolsOf, int vocabSize, long minFrequency, string? prefix = null)
    {
        var vocab = new List<string>(initialVocab);
        var ids = new Dictionary<string, int>();
        for (int i = 0; i < vocab.Count; i++) ids.TryAdd(vocab[i], i);
        var words = wordCounts.Select(kv => (Syms: symbolsOf(kv.Key).Select(s => ids[s]).ToList(), Count: kv.Value)).ToList();
        var merges = new List<(string, string)>();
        while (vocab.Count < vocabSize)
        {
            var counts = new Dictionary<(int, int), long>();
            foreach (var (syms, count) in words)
                for (int i = 0; i + 1 < syms.Count; i++)
                    counts[(syms[i], syms[i + 1])] = counts.GetValueOrDefault((syms[i], syms[i + 1])) + count;
            if (counts.Count == 0) break;
            var best = counts.First();
            foreach (var kv in counts)
                if (kv.Value > best.Value || (kv.Value == best.Value && kv.Key.CompareTo(best.Key) < 0)) best = kv;
            if (best.Value < minFrequency) break;
            var (l, r) = best.Key;
            string right = vocab[r];
            if (prefix is not null && right.StartsWith(prefix, StringComparison.Ordinal)) right = right[prefix.Length..];
            string merged = vocab[l] + right;
            if (!ids.TryGetValue(merged, out int nid)) { nid = vocab.Count; vocab.Add(merged); ids[merged] = nid; }
            merges.Add((vocab[l], vocab[r]));
            foreach (var (syms, _) in words)
                for (int i = 0; i + 1 < syms.Count; i++)
                    if (syms[i] == l && syms[i + 1] == r) { syms[i] = nid; syms.RemoveAt(i + 1); }
        }
        return (merges, vocab);
    }

    public static string OneLine(GptBertException e)
    {
        Assert.DoesNotContain('\n', e.Message);
        Assert.DoesNotContain('\r', e.Message);
        return e.Message;
    }
}
