using System.Text.Json;
using GptBert.Data;
using GptBert.Pipelines;

namespace GptBert.Tests.Pipelines;

/// <summary>
/// Each logits processor, and their composition in generate()'s order, against transformers' own outputs on fixed logits
/// (Golden/logits-processors.json, written by tools/hf-check/decoding_golden.py with transformers 4.40).
/// </summary>
public class LogitsProcessorsGoldenTests
{
    static readonly JsonElement Golden = JsonDocument.Parse(File.ReadAllText(
        RepoFiles.At("tests", "GptBert.Tests", "Pipelines", "Golden", "logits-processors.json"))).RootElement;

    static float Value(JsonElement v) => v.ValueKind == JsonValueKind.String ? float.NegativeInfinity : v.GetSingle();
    static float[] Floats(JsonElement a) => a.EnumerateArray().Select(Value).ToArray();

    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var c in Golden.GetProperty("cases").EnumerateArray()) data.Add(c.GetProperty("name").GetString()!);
        return data;
    }

    static void Apply(string processor, JsonElement p, float[] x, int[] context)
    {
        switch (processor)
        {
            case "RepetitionPenaltyLogitsProcessor": LogitsProcessing.RepetitionPenalty(x, context, p.GetProperty("penalty").GetDouble()); break;
            case "TemperatureLogitsWarper": LogitsProcessing.Temperature(x, p.GetProperty("temperature").GetDouble()); break;
            case "TopKLogitsWarper": LogitsProcessing.TopK(x, p.GetProperty("top_k").GetInt32()); break;
            case "TopPLogitsWarper": LogitsProcessing.TopP(x, p.GetProperty("top_p").GetDouble(), p.GetProperty("min_tokens_to_keep").GetInt32()); break;
            default: throw new InvalidOperationException(processor);
        }
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void ProcessorEqualsTransformers(string name)
    {
        var c = Golden.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        var x = Floats(c.GetProperty("logits"));
        var context = c.GetProperty("input_ids").EnumerateArray().Select(v => v.GetInt32()).ToArray();
        var prm = c.GetProperty("params");
        switch (c.GetProperty("kind").GetString())
        {
            case "temperature": LogitsProcessing.Temperature(x, prm.GetProperty("temperature").GetDouble()); break;
            case "top_k": LogitsProcessing.TopK(x, prm.GetProperty("top_k").GetInt32()); break;
            case "top_p": LogitsProcessing.TopP(x, prm.GetProperty("top_p").GetDouble(), prm.GetProperty("min_tokens_to_keep").GetInt32()); break;
            case "repetition_penalty": LogitsProcessing.RepetitionPenalty(x, context, prm.GetProperty("repetition_penalty").GetDouble()); break;
            case "composed":
                foreach (var p in c.GetProperty("processors").EnumerateArray()) Apply(p.GetProperty("class").GetString()!, p, x, context);
                break;
        }
        var want = Floats(c.GetProperty("scores"));
        bool orderDependent = c.TryGetProperty("order_dependent", out var od) && od.GetBoolean();
        if (!orderDependent)
        {
            Assert.Equal(want, x); // the same float32 arithmetic, so the same bits; -inf where filtered
        }
        else
        {
            // Top-p split a group of equal scores: which members survive is torch.sort's choice. The count, the tokens
            // outside the group, and the kept values must agree; we keep what a stable ascending sort keeps.
            var tied = c.GetProperty("split_tie_groups").EnumerateArray().SelectMany(g => g.EnumerateArray().Select(v => v.GetInt32())).ToHashSet();
            Assert.Equal(c.GetProperty("kept_count").GetInt32(), x.Count(v => !float.IsNegativeInfinity(v)));
            for (int i = 0; i < x.Length; i++) if (!tied.Contains(i)) Assert.Equal(want[i], x[i]);
            var stable = c.GetProperty("kept_with_stable_sort").EnumerateArray().Select(v => v.GetInt32()).ToArray();
            Assert.Equal(stable, Enumerable.Range(0, x.Length).Where(i => !float.IsNegativeInfinity(x[i])).ToArray());
        }
        if (c.TryGetProperty("probs", out var probs))
        {
            var p = LogitsProcessing.Softmax(x);
            var wantP = Floats(probs);
            for (int i = 0; i < p.Length; i++) Assert.True(Math.Abs(p[i] - wantP[i]) < 1e-6, $"{name}: p[{i}] {p[i]} vs {wantP[i]}");
        }
    }

    [Fact]
    public void TopKThenTopPOnAGpt2SizedVocabularyEqualsTransformers()
    {
        var gen = Golden.GetProperty("large_generator");
        foreach (var c in Golden.GetProperty("large_cases").EnumerateArray())
        {
            int V = c.GetProperty("vocab_size").GetInt32();
            ulong seed = gen.GetProperty("seed").GetUInt64();
            var x = new float[V];
            for (int i = 0; i < V; i++)
            {
                ulong z = unchecked(seed + (ulong)(i + 1) * 0x9E3779B97F4A7C15UL);
                z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
                z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
                z ^= z >> 31;
                ulong a = z & 0x1FFFFF, b = (z >> 21) & 0x1FFFFF, d = (z >> 42) & 0x1FFFFF;
                x[i] = (float)((long)(a + b + d) - 3 * (1L << 20)) / (1 << 18);
            }
            var check = c.GetProperty("logits_check");
            Assert.Equal(Floats(check.GetProperty("first8")), x.Take(8).ToArray());
            Assert.Equal(check.GetProperty("argmax").GetInt32(), Sampling.ArgMax(x));
            var context = c.GetProperty("input_ids").EnumerateArray().Select(v => v.GetInt32()).ToArray();
            foreach (var p in c.GetProperty("processors").EnumerateArray()) Apply(p.GetProperty("class").GetString()!, p, x, context);
            var kept = c.GetProperty("kept").EnumerateArray().Select(v => v.GetInt32()).ToArray();
            Assert.Equal(kept, Enumerable.Range(0, V).Where(i => !float.IsNegativeInfinity(x[i])).ToArray());
            Assert.Equal(Floats(c.GetProperty("kept_scores")), kept.Select(i => x[i]).ToArray());
        }
    }
}
