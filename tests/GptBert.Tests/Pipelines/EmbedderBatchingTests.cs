using GptBert.Pipelines;
using GptBert.Tokenizers;

namespace GptBert.Tests.Pipelines;

/// <summary>
/// The Embedder batches by token length (padding weighed against a per-pass cost) and takes token ids as well as
/// text: the cut points are checked against exhaustive search, the outputs against each input embedded alone.
/// </summary>
public class EmbedderBatchingTests
{
    static long Cost(IReadOnlyList<int> lengths, IEnumerable<int[]> batches, int passCost) =>
        batches.Sum(b => passCost + (long)b.Length * b.Max(i => lengths[i]));

    [Fact]
    public void LongAndShortInputsGoToSeparateBatches()
    {
        // One batch: 16 + 4 x 64 = 272 padded-token units; two: (16 + 2 x 64) + (16 + 2 x 2) = 164.
        var batches = Embedder.LengthBatches([2, 64, 2, 64], maxBatch: 32, passCost: 16);
        Assert.Equal([[1, 3], [0, 2]], batches);
    }

    [Fact]
    public void EqualLengthsShareOneBatchUpToTheLimit()
    {
        Assert.Single(Embedder.LengthBatches([10, 10, 10, 10], maxBatch: 32));
        var limited = Embedder.LengthBatches([7, 7, 7, 7, 7], maxBatch: 2);
        Assert.Equal([1, 2, 2], limited.Select(b => b.Length).Order());
    }

    [Fact]
    public void CutPointsAreTheCheapestOfEveryPartition()
    {
        var rng = new Random(7);
        for (int trial = 0; trial < 200; trial++)
        {
            int n = rng.Next(1, 9), maxBatch = rng.Next(1, 6), passCost = rng.Next(0, 40);
            var lengths = Enumerable.Range(0, n).Select(_ => rng.Next(1, 80)).ToArray();
            var batches = Embedder.LengthBatches(lengths, maxBatch, passCost);

            // Every input exactly once, no batch over the limit.
            Assert.Equal(Enumerable.Range(0, n), batches.SelectMany(b => b).Order());
            Assert.All(batches, b => Assert.InRange(b.Length, 1, maxBatch));

            // Exhaustive reference: every way to cut the longest-first order into runs of at most maxBatch.
            var order = Enumerable.Range(0, n).OrderByDescending(i => lengths[i]).ThenBy(i => i).ToArray();
            long best = long.MaxValue;
            for (int mask = 0; mask < 1 << (n - 1); mask++)
            {
                var runs = new List<int[]>();
                int start = 0;
                for (int i = 1; i <= n; i++)
                    if (i == n || (mask & (1 << (i - 1))) != 0) { runs.Add(order[start..i]); start = i; }
                if (runs.Any(r => r.Length > maxBatch)) continue;
                best = Math.Min(best, Cost(lengths, runs, passCost));
            }
            Assert.Equal(best, Cost(lengths, batches, passCost));
        }
    }

    [Theory]
    [InlineData("bert-base-uncased")]
    [InlineData("gpt2")]
    public void TokenIdsGetTheSpecialTokensTextGets(string name)
    {
        var tok = TokenizerLoader.Load(name);
        foreach (var text in new[] { "Call me Ishmael.", "unbelievably tokenised—words", "a" })
        {
            var byText = tok.Encode(text, addSpecialTokens: true);
            var byIds = tok.EncodeIds(tok.Encode(text, addSpecialTokens: false).Ids, addSpecialTokens: true);
            Assert.Equal(byText.Ids, byIds.Ids);
            Assert.Equal(byText.TypeIds, byIds.TypeIds);
            Assert.Equal(byText.AttentionMask, byIds.AttentionMask);
            Assert.Equal(byText.Tokens, byIds.Tokens);

            var cutText = tok.Encode(text, addSpecialTokens: true, maxLength: 3);
            var cutIds = tok.EncodeIds(tok.Encode(text, addSpecialTokens: false).Ids, addSpecialTokens: true, maxLength: 3);
            Assert.Equal(cutText.Ids, cutIds.Ids);
            Assert.Equal(cutText.Truncated, cutIds.Truncated);
        }
    }

    [Fact]
    public void BatchedEmbeddingsEqualEachInputAlone()
    {
        using var h = ModelHub.Load("minilm", architecture: null, tokenizer: null, device: "cpu", requireHead: false);
        var embedder = new Embedder(h) { BatchSize = 8 };
        var rng = new Random(3);
        string[] words = ["whale", "ship", "sea", "captain", "harpoon", "storm", "the", "of", "and", "unbelievable"];
        var texts = Enumerable.Range(0, 12).Select(i => string.Join(' ', Enumerable.Range(0, 1 + rng.Next(i % 3 == 0 ? 60 : 6)).Select(_ => words[rng.Next(words.Length)]))).ToArray();
        var batched = embedder.Embed(texts);
        // Ids that are not any text's own tokenization ("play" "##ing" rather than "playing") embed as those ids, with [CLS] and [SEP].
        int[] pieces = [h.Tokenizer.TokenToId("play")!.Value, h.Tokenizer.TokenToId("##ing")!.Value];
        var mixed = embedder.Embed([h.Tokenizer.EncodeIds(pieces), h.Tokenizer.Encode(texts[0])]);
        for (int i = 0; i < texts.Length; i++)
        {
            var alone = embedder.Embed([texts[i]])[0];
            Assert.True(Embedder.Cosine(alone, batched[i]) > 0.99999, $"text {i}");
            for (int k = 0; k < alone.Length; k++) Assert.True(Math.Abs(alone[k] - batched[i][k]) < 1e-5, $"text {i}, dimension {k}");
        }
        Assert.True(Embedder.Cosine(mixed[1], batched[0]) > 0.99999);
        var idsAlone = embedder.Embed([h.Tokenizer.EncodeIds(pieces)])[0];
        Assert.True(Embedder.Cosine(idsAlone, mixed[0]) > 0.99999);
        Assert.True(Embedder.Cosine(idsAlone, embedder.Embed(["playing"])[0]) < 0.999, "the split pieces are a different input from the word");
    }
}
