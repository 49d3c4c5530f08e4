using GptBert.Models;
using GptBert.Pipelines;
using GptBert.Tokenizers;
using GptBert.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace GptBert.Tests.Training;

/// <summary>GPT-BERT (Models/GptBert.cs, Training/GptBertObjective.cs): the shifted masked targets, the attention switch, and one tiny model learning both objectives.</summary>
public class GptBertTests
{
    /// <summary>A Random whose NextDouble returns the given values in order (to hand-work BERT's masking draws).</summary>
    sealed class ScriptedRandom(params double[] values) : Random
    {
        int i;
        public override double NextDouble() => values[i++];
    }

    /// <summary>Byte-level BPE without merges (each byte a token, ids 0..255), &lt;|endoftext|&gt; = 256, and GPT-BERT's [MASK] = 257.</summary>
    static ITextTokenizer ByteTokenizer()
    {
        var vocab = Enumerable.Range(0, 256).ToDictionary(b => ByteLevel.ByteToChar[b].ToString(), b => b);
        vocab["<|endoftext|>"] = 256;
        return GptBertVocabulary.WithMaskToken(new ByteLevelBpeTokenizer(vocab, []));
    }

    [Fact]
    public void Mask_token_is_added_with_the_next_id()
    {
        var tok = ByteTokenizer();
        Assert.Equal(258, tok.VocabSize);
        Assert.Equal(257, tok.MaskId);
        Assert.Equal("[MASK]", tok.MaskToken);
        Assert.Equal([97, 257, 98], tok.Encode("a[MASK]b", addSpecialTokens: false).Ids);
    }

    [Fact]
    public void Masked_targets_are_shifted_one_position_left_hand_worked()
    {
        // Block of T + 1 = 5 tokens; the input is its first 4, masking applies to input positions 1..3.
        long[] block = [5, 6, 7, 8, 9];
        var masking = new MlmMasking { MaskId = 99, VocabSize = 100, SpecialIds = new HashSet<int> { 0 } };
        // Draws, in MlmMasking's order: token 6: 0.9 ≥ 0.15, not chosen; token 7: 0.1 chosen, then 0.5 < 0.8 → [MASK];
        // token 8: 0.05 chosen, then 0.95 ≥ 0.9 → kept as itself.
        var (input, labels) = GptBertObjective.MaskedNextToken(block, masking, new ScriptedRandom(0.9, 0.1, 0.5, 0.05, 0.95));
        Assert.Equal([5, 6, 99, 8], input);
        // Output 1 (reading token 6) predicts the masked 7 at position 2; output 2 (reading [MASK]) predicts the kept 8 at
        // position 3; output 0 (position 1 not chosen) and output 3 (its target is past the input) have no target.
        Assert.Equal([-100, 7, 8, -100], labels);
    }

    [Fact]
    public void Bidirectional_output_at_position_zero_depends_on_later_tokens_causal_does_not()
    {
        TorchRuntime_Seed();
        using var model = new GPT2LMHeadModel(TrainingTestUtil.TinyGpt(50));
        model.eval();
        using var _ = no_grad();
        using var a = tensor(new long[] { 1, 2, 3, 4, 5 }, [1, 5]);
        using var b = tensor(new long[] { 1, 2, 3, 4, 9 }, [1, 5]);
        float Diff(bool bi) => (model.Forward(a, bidirectional: bi)[0, 0] - model.Forward(b, bidirectional: bi)[0, 0]).abs().max().item<float>();
        Assert.Equal(0f, Diff(false));
        Assert.True(Diff(true) > 1e-4, "bidirectional output at position 0 must change with token 4");
        // Padding is still masked bidirectionally: a padded key changes nothing.
        using var mask = tensor(new long[] { 1, 1, 1, 1, 0 }, [1, 5]);
        var pa = model.Forward(a, mask, bidirectional: true)[0, ..4];
        var pb = model.Forward(b, mask, bidirectional: true)[0, ..4];
        Assert.True((pa - pb).abs().max().item<float>() < 1e-5);
    }

    static void TorchRuntime_Seed() => GptBert.Engine.TorchRuntime.Seed(7);

    const int K = 16;
    static int Letter(int a) => 'a' + a;                  // the free token of a pair
    static int Partner(int a) => 'A' + (3 * a + 5) % K;  // the token after it, a bijection of a

    /// <summary>Documents of &lt;|endoftext|&gt; then 7 pairs (a, f(a)) with random a: f(a) follows from its left neighbour (causal task), a only from its right one (masked task).</summary>
    static int[] Stream(int docs, Random rng)
    {
        var ids = new List<int>();
        for (int d = 0; d < docs; d++)
        {
            ids.Add(256);
            for (int p = 0; p < 7; p++) { int a = rng.Next(K); ids.Add(Letter(a)); ids.Add(Partner(a)); }
        }
        return ids.ToArray();
    }

    [Fact]
    public void One_tiny_model_learns_a_causal_and_a_masked_task_saves_as_GPT2LMHeadModel_and_generates()
    {
        TorchRuntime_Seed();
        var tok = ByteTokenizer();
        var cfg = TrainingTestUtil.TinyGpt(tok.VocabSize);
        cfg.NEmbd = 64; cfg.NHead = 4;
        cfg.GptBert = new GptBertSettings { CausalRatio = 0.5, MaskTokenId = 257 };
        using var model = new GPT2LMHeadModel(cfg);
        using var train = TokenStream.FromIds(Stream(400, new Random(1)));
        var objective = new GptBertObjective(model, tok, train, null, blockSize: 15, seed: 1, device: CPU, causalRatio: 0.5, maskProbability: 0.3);
        using var opt = optim.AdamW(model.parameters(), lr: 3e-3);
        var rng = new Random(2);
        model.train();
        int causalBatches = 0;
        for (int step = 0; step < 500; step++)
        {
            using var scope = NewDisposeScope();
            using var batch = objective.GetBatch(step * 32L, 32, rng);
            if (!batch.Bidirectional) causalBatches++;
            opt.zero_grad();
            objective.Loss(batch).backward();
            opt.step();
        }
        Assert.InRange(causalBatches, 200, 300); // about half, as CausalRatio 0.5 asks
        model.eval();

        // Causal task: at every pair's first token, predict its partner, with causal attention.
        var test = Stream(20, new Random(99));
        int causalRight = 0, causalTotal = 0, maskedRight = 0, maskedTotal = 0;
        using (no_grad())
            for (int d = 0; d < 20; d++)
            {
                var doc = test.Skip(d * 15).Take(15).Select(i => (long)i).ToArray();
                using var ids = tensor(doc, [1, 15]);
                var pred = model.Forward(ids).argmax(-1)[0].data<long>().ToArray();
                for (int i = 1; i < 15; i += 2) { causalTotal++; if (pred[i] == doc[i + 1]) causalRight++; }
                // Masked task: mask one free token (position i, odd) and read its prediction at i − 1, bidirectionally.
                for (int i = 3; i < 15; i += 2)
                {
                    var masked = (long[])doc.Clone();
                    masked[i] = 257;
                    using var m = tensor(masked, [1, 15]);
                    long guess = model.Forward(m, bidirectional: true)[0, i - 1].argmax().item<long>();
                    maskedTotal++; if (guess == doc[i]) maskedRight++;
                }
            }
        Assert.True(causalRight >= 0.95 * causalTotal, $"causal accuracy {causalRight}/{causalTotal}");
        Assert.True(maskedRight >= 0.9 * maskedTotal, $"masked accuracy {maskedRight}/{maskedTotal}");

        // Saved, it is a GPT2LMHeadModel with the gpt_bert field, its tokenizer has [MASK], and it generates and fills masks.
        var dir = Path.Combine(Path.GetTempPath(), "gptbert-test-" + Guid.NewGuid().ToString("N"));
        try
        {
            model.SavePretrained(dir);
            tok.SaveForModel(dir, cfg.NPositions);
            Assert.Contains("\"GPT2LMHeadModel\"", File.ReadAllText(Path.Combine(dir, "config.json")));
            Assert.True(GptBertVocabulary.IsGptBert(dir));
            using var handle = ModelHub.Load(dir);
            Assert.Equal("GPT2LMHeadModel", handle.Architecture);
            Assert.Equal(257, handle.Tokenizer.MaskId);
            var gen = new GptBert.Pipelines.Generator(handle).Generate("<|endoftext|>aFc", new GenerationOptions { Greedy = true, MaxNewTokens = 1, StopAtEos = false });
            Assert.Equal(((char)Partner(2)).ToString(), gen.Text.Substring(gen.Text.Length - 1)); // f(c) = 'L'
            var fill = new FillMask(handle).Predict("aF[MASK]L", topK: 1); // [MASK] before f(c) stands for c
            Assert.Equal(3, fill[0].Position);
            Assert.Equal("c", fill[0].Candidates[0].Token);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }
}
