using System.Text.Json;
using GptBert.Models;
using GptBert.Pipelines;
using GptBert.Tests.Models;
using static TorchSharp.torch;

namespace GptBert.Tests.Pipelines;

/// <summary>Beam search and greedy decoding of an encoder-decoder, against transformers' generate() and against each other.</summary>
public class Seq2SeqBeamTests
{
    // Golden/encdec-beam: a tiny transformers EncoderDecoderModel (BERT 48 wide, GPT-2 32 wide, vocabulary 12, eos 9) and
    // generate(num_beams, length_penalty, early_stopping, repetition_penalty) outputs (tools/hf-check/encdec_beam_golden.py).
    static readonly string Dir = RepoFiles.At("tests", "GptBert.Tests", "Pipelines", "Golden", "encdec-beam");

    static EncoderDecoderModel LoadGolden()
    {
        TestUtil.Init();
        var (loaded, report) = ModelFactory.Load(Dir);
        Assert.Empty(report.NewlyInitialized);
        return Assert.IsType<EncoderDecoderModel>(loaded);
    }

    static IEnumerable<JsonElement> Cases()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, "expected.json")));
        return doc.RootElement.GetProperty("cases").EnumerateArray().Select(c => c.Clone()).ToList();
    }

    static int[] Ints(JsonElement e) => e.EnumerateArray().Select(v => v.GetInt32()).ToArray();

    [Fact]
    public void BeamSearchMatchesTransformersGenerate()
    {
        using var m = LoadGolden();
        var tok = new FakeTokenizer(12);
        int n = 0;
        foreach (var c in Cases())
        {
            var options = new GenerationOptions
            {
                Greedy = true, MaxNewTokens = c.GetProperty("max_new_tokens").GetInt32(), RepetitionPenalty = c.GetProperty("repetition_penalty").GetDouble(),
            };
            var beams = new BeamOptions
            {
                NumBeams = c.GetProperty("num_beams").GetInt32(), LengthPenalty = c.GetProperty("length_penalty").GetDouble(),
                EarlyStopping = c.GetProperty("early_stopping").GetBoolean(),
            };
            var source = Ints(c.GetProperty("source"));
            var got = BeamSearch.GenerateSeq2Seq(m, tok, source, options, beams);
            // transformers' sequence starts with decoder_start_token_id and keeps the final eos; ours omits the start token.
            var want = Ints(c.GetProperty("sequence")).Skip(1).ToArray();
            string what = $"source [{string.Join(",", source)}], {beams}, penalty {options.RepetitionPenalty}";
            Assert.True(want.SequenceEqual(got.Ids), $"{what}: transformers [{string.Join(",", want)}], GptBert [{string.Join(",", got.Ids)}]");
            double score = c.GetProperty("score").GetDouble();
            Assert.True(Math.Abs(got.Score - score) <= 1e-4 * Math.Max(1, Math.Abs(score)), $"{what}: score {got.Score} vs transformers {score}");
            n++;
        }
        Assert.Equal(20, n);
        // The fixture exercises both endings: hypotheses that end with eos (9) and ones cut at the length limit.
        Assert.Contains(Cases(), c => Ints(c.GetProperty("sequence"))[^1] == 9);
        Assert.Contains(Cases(), c => Ints(c.GetProperty("sequence"))[^1] != 9);
    }

    [Fact]
    public void OneBeamIsGreedyDecoding()
    {
        using var m = LoadGolden();
        var tok = new FakeTokenizer(12);
        var one = new BeamOptions { NumBeams = 1 };
        foreach (var c in Cases().Where(c => c.GetProperty("num_beams").GetInt32() == 3 && c.GetProperty("repetition_penalty").GetDouble() == 1.5))
        {
            var source = Ints(c.GetProperty("source"));
            // transformers' greedy generate (8 new tokens, no penalty) = our beam loop with one beam = the model's own cached
            // greedy loop (GenerateGreedy, whose output leaves out the eos). With a repetition penalty one beam is not greedy:
            // transformers applies the penalty to logits in greedy search and to log-probabilities in beam search.
            var beam = BeamSearch.GenerateSeq2Seq(m, tok, source, new GenerationOptions { Greedy = true, MaxNewTokens = 8 }, one);
            Assert.Equal(Ints(c.GetProperty("greedy")).Skip(1), beam.Ids);
            var greedy = m.GenerateGreedy(tensor(source.Select(i => (long)i).ToArray(), [1, source.Length]), null, maxNewTokens: 8)[0];
            Assert.Equal(greedy, beam.Ids.Select(i => (long)i).TakeWhile(i => i != 9));
        }
    }

    [Fact]
    public void SelectRowsReordersCrossAttentionKeysAndValuesWithTheBeams()
    {
        TestUtil.Init();
        using var m = LoadGolden();
        using var _ = no_grad();
        // Three different sources of the same length: each row's cross-attention keys/values differ.
        var src = tensor(new long[] { 5, 9, 3, 4, 4, 10, 8, 3, 6 }, [3, 3]);
        var enc = m.Encode(src);
        var start = full(3, 1, 1L, dtype: ScalarType.Int64);
        using var cache = new KvCache();
        m.Decode(enc, null, start, cache: cache);
        var order = tensor(new long[] { 2, 0, 0 });
        cache.SelectRows(order);
        // Next step from the reordered cache = next step computed afresh for the reordered sources.
        var next = tensor(new long[] { 7, 4, 6 }, [3, 1]);
        var cached = m.Decode(enc.index_select(0, order), null, next, cache: cache);
        var fresh = m.Decode(enc.index_select(0, order), null, cat([start, next], 1))[.., ^1..];
        Assert.True(TestUtil.MaxAbsDiff(cached, fresh) < 1e-5, $"max diff {TestUtil.MaxAbsDiff(cached, fresh)}");

        // AppendRows joins the cross-attention rows too: rows [2] + [0] of one cache = rows [2, 0] of a fresh one.
        using var a = new KvCache();
        using var b = new KvCache();
        m.Decode(enc[2..3], null, start[..1], cache: a);
        m.Decode(enc[0..1], null, start[..1], cache: b);
        a.AppendRows(b);
        Assert.Equal(2, a.BatchSize);
        var joined = m.Decode(enc.index_select(0, tensor(new long[] { 2, 0 })), null, next[..2], cache: a);
        var want = m.Decode(enc.index_select(0, tensor(new long[] { 2, 0 })), null, cat([start[..2], next[..2]], 1))[.., ^1..];
        Assert.True(TestUtil.MaxAbsDiff(joined, want) < 1e-5);
    }

    [Fact]
    public void BeamSearchRefusesSampling()
    {
        using var m = LoadGolden();
        var e = Assert.Throws<GptBertException>(() =>
            BeamSearch.GenerateSeq2Seq(m, new FakeTokenizer(12), [5, 6], new GenerationOptions { Greedy = false }, new BeamOptions { NumBeams = 3 }));
        Assert.Equal("NumBeams", e.Parameter);
    }
}
