using System.Text.Json;
using GptBert.Models;
using GptBert.Pipelines;
using static TorchSharp.torch;
using Generator = GptBert.Pipelines.Generator;

namespace GptBert.Tests.Models;

/// <summary>
/// GPT-2's attention-scaling config fields against transformers itself: the directories, logits and greedy generations in
/// Golden/gpt2-config were written by transformers 4.40 (tools/hf-check/gpt2_config_golden.py) from one set of weights.
/// </summary>
public class Gpt2ConfigGoldenTests
{
    public static TheoryData<string> Cases => new()
    {
        "a-defaults", "b-no-scale-attn-weights", "c-scale-by-inverse-layer-idx", "d-reorder-and-upcast", "e-inverse-layer-idx-and-reorder",
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void LogitsAndGreedyGenerationEqualTransformers(string name)
    {
        TestUtil.Init();
        var dir = RepoFiles.At("tests", "GptBert.Tests", "Models", "Golden", "gpt2-config", name);
        using var expected = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "expected.json")));
        var root = expected.RootElement;
        var (model, report) = ModelFactory.Load(dir);
        using var lm = Assert.IsType<GPT2LMHeadModel>(model);
        Assert.Empty(report.NewlyInitialized);
        lm.eval();

        var ids = root.GetProperty("input_ids").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetInt64()).ToArray()).ToArray();
        var mask = root.GetProperty("attention_mask").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetInt64()).ToArray()).ToArray();
        var want = root.GetProperty("logits").EnumerateArray().Select(r => r.EnumerateArray().Select(t => t.EnumerateArray().Select(v => v.GetSingle()).ToArray()).ToArray()).ToArray();
        int B = ids.Length, T = ids[0].Length;
        using (no_grad())
        {
            var logits = lm.Forward(tensor(ids.SelectMany(r => r).ToArray(), [B, T]), tensor(mask.SelectMany(r => r).ToArray(), [B, T]));
            var got = logits.data<float>().ToArray();
            int V = (int)logits.shape[2];
            double worst = 0;
            for (int b = 0; b < B; b++)
                for (int t = 0; t < T; t++)
                {
                    // transformers' plain forward numbers padded positions 0..T-1 regardless of the mask (generate() does not);
                    // only the real positions are defined the same way in both.
                    if (mask[b][t] == 0) continue;
                    for (int v = 0; v < V; v++) worst = Math.Max(worst, Math.Abs(got[(b * T + t) * V + v] - want[b][t][v]));
                }
            Assert.True(worst < 1e-4, $"{name}: max |Δlogit| {worst:E2}");
        }

        using var handle = new ModelHandle { Model = lm, Tokenizer = new FakeTokenizer(lm.Config.VocabSize), Source = name, Directory = dir, Device = CPU, MaxLength = 32 };
        var gen = new Generator(handle);
        foreach (var g in root.GetProperty("generate").EnumerateArray())
        {
            var prompt = string.Join(' ', g.GetProperty("prompt").EnumerateArray().Select(v => v.GetInt32()));
            var newIds = g.GetProperty("new_ids").EnumerateArray().Select(v => v.GetInt32()).ToArray();
            var result = gen.Generate(prompt, new GenerationOptions { Greedy = true, MaxNewTokens = 8 });
            Assert.Equal(newIds, result.Ids);
            Assert.Equal(g.GetProperty("stopped_at_eos").GetBoolean() ? FinishReason.EndOfText : FinishReason.Length, result.Finish);
        }
    }

    [Fact]
    public void AConfigWithCrossAttentionBuildsTransformersCrossAttentionWeights()
    {
        // transformers' GPT2Block with add_cross_attention: crossattention.{q_attn, c_attn, c_proj} and ln_cross_attn.
        var dir = TestUtil.TempDir("gpt2-xattn");
        var src = RepoFiles.At("tests", "GptBert.Tests", "Models", "Golden", "gpt2-config", "a-defaults", "config.json");
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(src))!.AsObject();
        json["add_cross_attention"] = true;
        File.WriteAllText(Path.Combine(dir, "config.json"), json.ToJsonString());
        var cfg = Assert.IsType<Gpt2Config>(ModelConfig.Load(Path.Combine(dir, "config.json")));
        Assert.True(cfg.AddCrossAttention);
        using var model = new GPT2LMHeadModel(cfg);
        var names = model.named_parameters().Select(p => p.name).ToHashSet();
        foreach (var n in new[] { "crossattention.q_attn.weight", "crossattention.c_attn.weight", "crossattention.c_proj.weight", "ln_cross_attn.weight" })
            Assert.Contains($"transformer.h.0.{n}", names);
    }
}
