using GptBert.Data;

namespace GptBert.Pipelines;

/// <summary>
/// The logits processors of transformers' generate(), in place on one row of float32 scores, with the same
/// semantics (filtered tokens become -inf; ties at the top-k boundary are kept, as TopKLogitsWarper keeps every score
/// ≥ the k-th): RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper. Checked
/// against transformers' own outputs (tests/GptBert.Tests/Pipelines/Golden, written by tools/hf-check/decoding_golden.py).
/// Neither filter sorts the whole vocabulary: top-k selects the k-th value in linear time, and top-p takes tokens in
/// descending order from a heap only until the nucleus is complete.
/// </summary>
public static class LogitsProcessing
{
    /// <summary>CTRL's penalty on tokens already in <paramref name="context"/>: a positive score is divided by it, a negative one multiplied.</summary>
    public static void RepetitionPenalty(Span<float> scores, IEnumerable<int> context, double penalty)
    {
        float p = (float)penalty;
        var seen = new HashSet<int>();
        foreach (var id in context)
        {
            if ((uint)id >= (uint)scores.Length || !seen.Add(id)) continue;
            float x = scores[id];
            scores[id] = x < 0 ? x * p : x / p;
        }
    }

    public static void Temperature(Span<float> scores, double temperature)
    {
        float t = (float)temperature;
        for (int i = 0; i < scores.Length; i++) scores[i] /= t;
    }

    /// <summary>Keeps every score ≥ the k-th largest (k clamped to the vocabulary); the rest become -inf.</summary>
    public static void TopK(Span<float> scores, int k)
    {
        if (k <= 0 || k >= scores.Length) return;
        var copy = scores.ToArray();
        float kth = Select(copy, k - 1);
        for (int i = 0; i < scores.Length; i++) if (scores[i] < kth) scores[i] = float.NegativeInfinity;
    }

    /// <summary>
    /// Nucleus filter: in ascending order of score, tokens whose cumulative probability is ≤ 1 − p are removed (so the kept
    /// tokens are the most likely ones, enough to reach p); the <paramref name="minTokensToKeep"/> most likely always stay.
    /// Among equal scores the lower index is removed first, as a stable ascending sort orders them.
    /// </summary>
    public static void TopP(Span<float> scores, double topP, int minTokensToKeep = 1)
    {
        if (topP >= 1.0) return;
        var order = new DescendingOrder(scores);
        var probs = Softmax(scores);
        float threshold = (float)(1.0 - topP);
        // tail(i) = probability of token i and every less likely one; token i is removed when tail(i) ≤ threshold.
        double head = 0; // probability of the tokens before i in descending order
        int kept = 0;
        while (order.TryNext(out int i))
        {
            double tail = 1.0 - head;
            if (kept >= minTokensToKeep && tail <= threshold)
            {
                scores[i] = float.NegativeInfinity;
                while (order.TryNext(out int j)) scores[j] = float.NegativeInfinity;
                return;
            }
            head += probs[i];
            kept++;
        }
    }

    /// <summary>softmax of the scores in double precision (-inf → 0).</summary>
    public static double[] Softmax(ReadOnlySpan<float> scores)
    {
        float max = float.NegativeInfinity;
        foreach (var s in scores) if (s > max) max = s;
        var p = new double[scores.Length];
        if (float.IsNegativeInfinity(max)) return p;
        double sum = 0;
        for (int i = 0; i < scores.Length; i++) sum += p[i] = Math.Exp((double)scores[i] - max);
        for (int i = 0; i < p.Length; i++) p[i] /= sum;
        return p;
    }

    /// <summary>The value that would be at index <paramref name="n"/> of <paramref name="a"/> sorted in descending order (reorders a).</summary>
    static float Select(float[] a, int n)
    {
        int lo = 0, hi = a.Length - 1;
        var rng = new SeededRandom(a.Length);
        while (lo < hi)
        {
            float pivot = a[lo + rng.Next(hi - lo + 1)];
            int i = lo, j = hi;
            while (i <= j)
            {
                while (a[i] > pivot) i++;
                while (a[j] < pivot) j--;
                if (i <= j) { (a[i], a[j]) = (a[j], a[i]); i++; j--; }
            }
            if (n <= j) hi = j;
            else if (n >= i) lo = i;
            else return a[n];
        }
        return a[n];
    }

    /// <summary>
    /// The finite scores' indices in descending order of score (ties: higher index first), produced lazily from a binary
    /// heap: O(V) to build, O(log V) per token taken.
    /// </summary>
    sealed class DescendingOrder
    {
        readonly float[] keys;
        readonly int[] heap;
        int count;

        public DescendingOrder(ReadOnlySpan<float> scores)
        {
            keys = scores.ToArray();
            heap = new int[scores.Length];
            for (int i = 0; i < scores.Length; i++) if (!float.IsNegativeInfinity(scores[i])) heap[count++] = i;
            for (int i = count / 2 - 1; i >= 0; i--) Down(i);
        }

        bool Before(int a, int b) => keys[a] > keys[b] || keys[a] == keys[b] && a > b;

        public bool TryNext(out int index)
        {
            if (count == 0) { index = -1; return false; }
            index = heap[0];
            count -= 1;
            heap[0] = heap[count];
            Down(0);
            return true;
        }

        void Down(int i)
        {
            while (true)
            {
                int l = 2 * i + 1, r = l + 1, best = i;
                if (l < count && Before(heap[l], heap[best])) best = l;
                if (r < count && Before(heap[r], heap[best])) best = r;
                if (best == i) return;
                (heap[i], heap[best]) = (heap[best], heap[i]);
                i = best;
            }
        }
    }
}

/// <summary>One decoding step's choice from one row of logits, in the order transformers applies the processors.</summary>
public static class Sampling
{
    /// <summary>
    /// The next token and its log-probability in the distribution it was drawn from: repetition penalty, then (unless greedy)
    /// temperature, top-k and top-p, then a draw from the softmax of what is left. Greedy takes the argmax and reports its
    /// log-probability under the softmax of the penalised logits.
    /// </summary>
    public static (int Id, double LogProb) Next(ReadOnlySpan<float> logits, IReadOnlyList<int> context, GenerationOptions o, Random rng) =>
        Next(logits, context, o, rng, out _);

    /// <summary>
    /// As <see cref="Next(ReadOnlySpan{float}, IReadOnlyList{int}, GenerationOptions, Random)"/>, also giving the
    /// <see cref="GenerationOptions.TopLogProbs"/> most likely tokens of the same distribution (tokens that top-k or top-p
    /// removed have probability 0 there and are not listed).
    /// </summary>
    public static (int Id, double LogProb) Next(ReadOnlySpan<float> logits, IReadOnlyList<int> context, GenerationOptions o, Random rng,
        out (int Id, double LogProb)[] top)
    {
        var x = logits.ToArray();
        if (o.RepetitionPenalty != 1.0) LogitsProcessing.RepetitionPenalty(x, context, o.RepetitionPenalty);
        if (o.Greedy)
        {
            int best = ArgMax(x);
            double logZ = LogSumExp(x);
            top = Top(x.Length, i => x[i], o.TopLogProbs, v => v - logZ);
            return (best, x[best] - logZ);
        }
        if (o.Temperature != 1.0) LogitsProcessing.Temperature(x, o.Temperature);
        LogitsProcessing.TopK(x, o.TopK);
        LogitsProcessing.TopP(x, o.TopP);
        var p = LogitsProcessing.Softmax(x);
        top = Top(p.Length, i => p[i], o.TopLogProbs, Math.Log);
        double r = rng.NextDouble();
        int chosen = -1;
        for (int i = 0; i < p.Length; i++)
        {
            if (p[i] == 0) continue;
            chosen = i;
            r -= p[i];
            if (r < 0) break;
        }
        return (chosen, Math.Log(p[chosen]));
    }

    /// <summary>The k largest of n values (larger first, ties by lower id; −∞ logits and 0 probabilities skipped), mapped to log-probabilities.</summary>
    static (int Id, double LogProb)[] Top(int n, Func<int, double> value, int k, Func<double, double> logProb)
    {
        if (k <= 0) return [];
        var best = new List<(int Id, double Value)>(k + 1);
        for (int i = 0; i < n; i++)
        {
            double v = value(i);
            if (double.IsNegativeInfinity(logProb(v))) continue;
            if (best.Count == k && v <= best[^1].Value) continue;
            int at = best.Count;
            while (at > 0 && best[at - 1].Value < v) at--;
            best.Insert(at, (i, v));
            if (best.Count > k) best.RemoveAt(k);
        }
        return best.Select(b => (b.Id, logProb(b.Value))).ToArray();
    }

    static double LogSumExp(float[] x)
    {
        double max = x[ArgMax(x)], sum = 0;
        foreach (var v in x) sum += Math.Exp(v - max);
        return max + Math.Log(sum);
    }

    public static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

}
