using System.Runtime.InteropServices;

namespace GptBert.Tokenizers.Training;

/// <summary>Where a trainer is: Stage ("Count words", "Compute merges"), Done out of Total (Total 0 when unknown).</summary>
public sealed record TrainingProgress(string Stage, long Done, long Total);

/// <summary>
/// The merge loop of Hugging Face tokenizers' BpeTrainer (models/bpe/trainer.rs), shared by the BPE and WordPiece
/// trainers: repeatedly merge the most frequent adjacent pair of symbols (weighted by word frequency), ties broken by
/// the smaller (left id, right id), until the vocabulary has the requested size or no pair is frequent enough.
/// </summary>
/// <remarks>
/// Incremental, as in tokenizers: pair → count, pair → words holding it, and a priority queue with lazy invalidation
/// (an entry whose count is stale is pushed back with the current count when it reaches the top). A merge only
/// visits the words that hold the pair and applies the same per-occurrence count changes as tokenizers' Word::merge
/// (left-to-right, non-overlapping), so counts stay exact. One difference: the positions of a pair live in one global
/// index, so a pair is always merged in every word at once; tokenizers keeps positions per queue entry and can, when
/// a merge recreates a token that already exists, emit the same merge twice (each time for part of the words).
/// </remarks>
internal sealed class MergeLearner
{
    readonly List<string> idToToken;
    readonly Dictionary<string, int> tokenToId;
    readonly int[] symbols;        // all words, flat
    readonly int[] wordStart;
    readonly int[] wordLength;     // current length (shrinks as merges apply)
    readonly long[] wordCount;
    readonly Dictionary<long, long> pairCounts = new();
    readonly Dictionary<long, List<int>> pairWords = new();
    readonly HashSet<long> touched = new();

    /// <param name="idToToken">The initial vocabulary (specials, alphabet); merged tokens are appended.</param>
    /// <param name="tokenToId">Its inverse, kept in step.</param>
    /// <param name="words">Each word as symbol ids, with its frequency.</param>
    public MergeLearner(List<string> idToToken, Dictionary<string, int> tokenToId, IReadOnlyList<(int[] Symbols, long Count)> words)
    {
        this.idToToken = idToToken;
        this.tokenToId = tokenToId;
        int total = 0;
        foreach (var w in words) total += w.Symbols.Length;
        symbols = new int[total];
        wordStart = new int[words.Count];
        wordLength = new int[words.Count];
        wordCount = new long[words.Count];
        int pos = 0;
        for (int w = 0; w < words.Count; w++)
        {
            var (syms, count) = words[w];
            wordStart[w] = pos;
            wordLength[w] = syms.Length;
            wordCount[w] = count;
            syms.CopyTo(symbols, pos);
            pos += syms.Length;
        }
    }

    static long Key(int left, int right) => ((long)left << 32) | (uint)right;
    static int Left(long key) => (int)(key >> 32);
    static int Right(long key) => (int)(uint)key;

    /// <summary>Highest count first; for equal counts the smaller (left, right) pair first, as tokenizers' Merge ordering.</summary>
    sealed class QueueOrder : IComparer<(long Count, long Pair)>
    {
        public static readonly QueueOrder Instance = new();
        public int Compare((long Count, long Pair) x, (long Count, long Pair) y) =>
            x.Count != y.Count ? y.Count.CompareTo(x.Count) : x.Pair.CompareTo(y.Pair);
    }

    /// <summary>
    /// Learns merges until idToToken has vocabSize entries, no pair is left, or the best pair occurs fewer than
    /// minFrequency times. With a prefix (WordPiece "##"), the prefix is removed from the right part of a merge.
    /// Returns the merges in order as (left id, right id).
    /// </summary>
    public List<(int Left, int Right)> Learn(int vocabSize, long minFrequency, string? prefix, Action<TrainingProgress>? progress)
    {
        CountPairs();
        var queue = new PriorityQueue<long, (long Count, long Pair)>(QueueOrder.Instance);
        foreach (var (pair, count) in pairCounts)
            if (count > 0) queue.Enqueue(pair, (count, pair));

        var merges = new List<(int, int)>();
        var stamp = new int[wordStart.Length];
        int step = 0;
        long reportEvery = Math.Clamp((vocabSize - (long)idToToken.Count) / 100, 1, 1000);
        progress?.Invoke(new TrainingProgress("Compute merges", idToToken.Count, vocabSize));
        while (idToToken.Count < vocabSize && queue.TryDequeue(out long top, out var priority))
        {
            long current = pairCounts.GetValueOrDefault(top);
            if (priority.Count != current)
            {
                if (current > 0) queue.Enqueue(top, (current, top));
                continue;
            }
            if (current < 1 || current < minFrequency) break;

            int left = Left(top), right = Right(top);
            string b = idToToken[right];
            if (prefix is { Length: > 0 } && b.StartsWith(prefix, StringComparison.Ordinal)) b = b[prefix.Length..];
            string merged = idToToken[left] + b;
            if (!tokenToId.TryGetValue(merged, out int newId))
            {
                newId = idToToken.Count;
                idToToken.Add(merged);
                tokenToId.Add(merged, newId);
            }
            merges.Add((left, right));

            step++;
            var where = pairWords[top];
            pairWords.Remove(top);
            foreach (int w in where)
            {
                if (stamp[w] == step) continue;
                stamp[w] = step;
                MergeWord(w, left, right, newId);
            }
            pairCounts.Remove(top);    // no occurrence is left (tokenizers leaves a stale count that nothing reads)
            foreach (long pair in touched)
                if (pairCounts.TryGetValue(pair, out long c) && c > 0) queue.Enqueue(pair, (c, pair));
            touched.Clear();

            if (progress is not null && (merges.Count % reportEvery == 0 || idToToken.Count >= vocabSize))
                progress(new TrainingProgress("Compute merges", idToToken.Count, vocabSize));
        }
        progress?.Invoke(new TrainingProgress("Compute merges", idToToken.Count, vocabSize));
        return merges;
    }

    void CountPairs()
    {
        for (int w = 0; w < wordStart.Length; w++)
        {
            int s = wordStart[w], n = wordLength[w];
            long count = wordCount[w];
            for (int i = 0; i + 1 < n; i++)
            {
                long key = Key(symbols[s + i], symbols[s + i + 1]);
                CollectionsMarshal.GetValueRefOrAddDefault(pairCounts, key, out _) += count;
                AddWord(key, w);
            }
        }
    }

    void AddWord(long key, int w)
    {
        ref var list = ref CollectionsMarshal.GetValueRefOrAddDefault(pairWords, key, out bool exists);
        if (!exists) list = new List<int>(4);
        if (list!.Count == 0 || list[^1] != w) list.Add(w);
    }

    void Change(long key, long delta, int w)
    {
        CollectionsMarshal.GetValueRefOrAddDefault(pairCounts, key, out _) += delta;
        if (delta > 0)
        {
            AddWord(key, w);
            touched.Add(key);
        }
    }

    /// <summary>tokenizers' Word::merge: replace each (c1, c2), left to right, and record the pair count changes.</summary>
    void MergeWord(int w, int c1, int c2, int replacement)
    {
        int s = wordStart[w], n = wordLength[w];
        long count = wordCount[w];
        int r = 0, o = 0;
        while (r < n)
        {
            int sym = symbols[s + r];
            if (sym == c1 && r + 1 < n && symbols[s + r + 1] == c2)
            {
                if (o > 0)
                {
                    int prev = symbols[s + o - 1];
                    Change(Key(prev, c1), -count, w);
                    Change(Key(prev, replacement), count, w);
                }
                symbols[s + o++] = replacement;
                r += 2;
                if (r < n)
                {
                    int next = symbols[s + r];
                    Change(Key(c2, next), -count, w);
                    Change(Key(replacement, next), count, w);
                }
            }
            else
            {
                symbols[s + o++] = sym;
                r++;
            }
        }
        wordLength[w] = o;
    }
}
