using System.Buffers;
using System.Text.Json;
using GptBert.Reporting;

namespace GptBert.Tests.Reporting;

public class LanguageModelMetricsTests
{
    [Fact]
    public void FromSummedNll()
    {
        // 4 tokens, each with probability 1/2 → NLL ln 2 each, sum 4·ln 2, covering 8 characters.
        // loss = ln 2 = 0.6931…; perplexity = e^(ln 2) = 2; bits/token = 1;
        // per character: 4·ln 2 / 8 = ln 2 / 2 nats = 0.5 bits.
        var m = new LanguageModelMetrics(4 * Math.Log(2), 4, 8);
        Assert.Equal(Math.Log(2), m.Loss, 12);
        Assert.Equal(2, m.Perplexity, 12);
        Assert.Equal(1, m.BitsPerToken, 12);
        Assert.Equal(Math.Log(2) / 2, m.LossPerCharacter, 12);
        Assert.Equal(0.5, m.BitsPerCharacter, 12);
        Assert.Equal(2, m.CharactersPerToken, 12);
    }

    [Fact]
    public void AccumulatesBatches()
    {
        // Batch 1: 10 tokens, mean loss 2 → sum 20; batch 2: 30 tokens, sum 100. Total 120 / 40 = 3.
        var m = new LanguageModelMetrics().Add(20, 10, 50).Add(100, 30, 150);
        Assert.Equal(3, m.Loss, 12);
        Assert.Equal(Math.Exp(3), m.Perplexity, 9);
        Assert.Equal(120.0 / 200 / Math.Log(2), m.BitsPerCharacter, 12);
        var sum = LanguageModelMetrics.FromMeanLoss(2, 10, 50) + new LanguageModelMetrics(100, 30, 150);
        Assert.Equal(m, sum);
        Assert.Equal(Math.Exp(1.5), LanguageModelMetrics.PerplexityOf(1.5), 12);
    }

    [Fact]
    public void UndefinedValuesAreNaNAndNullInJson()
    {
        var empty = new LanguageModelMetrics(0, 0);
        Assert.True(double.IsNaN(empty.Loss));
        Assert.True(double.IsNaN(empty.Perplexity));
        Assert.True(double.IsNaN(empty.BitsPerCharacter));

        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            new LanguageModelMetrics(1e6, 1, 10).WriteJsonProperties(w); // perplexity e^(1e6) = ∞
            w.WriteEndObject();
        }
        using var doc = JsonDocument.Parse(buffer.WrittenMemory);
        var root = doc.RootElement;
        Assert.Equal(JsonValueKind.Null, root.GetProperty("perplexity").ValueKind);
        Assert.Equal(1e6, root.GetProperty("loss").GetDouble());
        Assert.Equal(10, root.GetProperty("characters").GetInt64());
        Assert.Equal(1e5 / Math.Log(2), root.GetProperty("bits_per_character").GetDouble(), 6);
    }
}
