using GptBert.Models;
using GptBert.OnnxExport;
using GptBert.Pipelines;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace GptBert.Tests.OnnxExport;

/// <summary>
/// int8 exports (dynamic quantization: weights int8 per output column, activations uint8 per call, MatMulInteger) against
/// the fp32 TorchSharp forward. Tolerances were set from measurements (see each test) with a margin, and are stated in README.
/// </summary>
public class OnnxInt8Tests
{
    static double RelativeError(float[] reference, float[] actual)
    {
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(reference[i] - actual[i]));
            maxRef = Math.Max(maxRef, Math.Abs(reference[i]));
        }
        return maxDiff / maxRef;
    }

    [Theory]
    [InlineData("BertForSequenceClassification")]
    [InlineData("BertForMaskedLM")]
    [InlineData("BertForQuestionAnswering")]
    [InlineData("GPT2LMHeadModel")]
    [InlineData("GPT2ForSequenceClassification")]
    public void Int8HeadsStayCloseToFp32(string architecture)
    {
        TestUtil.Init(31);
        bool gpt = architecture.StartsWith("GPT2");
        ModelConfig config = gpt ? OnnxExportTests.TinyGpt2() : OnnxExportTests.TinyBert();
        using var model = ModelFactory.Create(config, architecture);
        model.eval();
        var (proto, signature) = OnnxExporter.Build(model, new OnnxExportOptions { Int8 = true });
        Assert.Equal("int8-dynamic", signature.Quantization);
        Assert.Contains(proto.Graph.Node, n => n.OpType == "MatMulInteger");
        Assert.DoesNotContain(proto.Graph.Node, n => n.OpType is "Gemm" or "MatMul" && n.Input.Any(i => i.EndsWith(".weight")));
        using var session = OnnxExportTests.Session(proto);
        int B = 2, T = 6;
        var ids = Enumerable.Range(0, B * T).Select(i => (long)(i * 37 % 97 + 1)).ToArray();
        var mask = Enumerable.Repeat(1L, B * T).ToArray();
        var batch = new TokenBatch(B, T, ids, mask, new long[B * T], []);
        var names = signature.Inputs.Select(i => i.Name).ToList();
        var values = new List<OrtValue>();
        foreach (var i in signature.Inputs)
            values.Add(i.Name switch
            {
                "input_ids" => OrtValue.CreateTensorValueFromMemory(ids, [B, T]),
                "attention_mask" => OrtValue.CreateTensorValueFromMemory(mask, [B, T]),
                "token_type_ids" => OrtValue.CreateTensorValueFromMemory(new long[B * T], [B, T]),
                "position_ids" => OrtValue.CreateTensorValueFromMemory(batch.PositionIds(), [B, T]),
                _ => OrtValue.CreateTensorValueFromMemory(Array.Empty<float>(), [B, 4, 0, 8]),
            });
        using var ro = new RunOptions();
        using var results = session.Run(ro, names, values, [signature.Outputs[0].Name]);
        foreach (var v in values) v.Dispose();
        var actual = results[0].GetTensorDataAsSpan<float>().ToArray();

        using var _ = inference_mode();
        Tensor I = tensor(ids, [B, T]), M = tensor(mask, [B, T]);
        var expected = model switch
        {
            BertForSequenceClassification m => m.Forward(I, M),
            BertForMaskedLM m => m.Forward(I, M),
            BertForQuestionAnswering m => m.Forward(I, M).StartLogits,
            GPT2LMHeadModel m => m.Forward(I, M),
            GPT2ForSequenceClassification m => m.Forward(I, M),
            _ => throw new InvalidOperationException(),
        };
        double rel = RelativeError(expected.contiguous().data<float>().ToArray(), actual);
        Console.WriteLine($"int8 {architecture}: max |diff| / max |ref| = {rel:E2}");
        // Measured: 0.6% to 2.0% of the largest output for these heads; the bound leaves a 2.5x margin.
        Assert.True(rel <= 0.05, $"{architecture}: relative error {rel:E2}");
    }

    [Fact]
    public void Int8MiniLmEmbeddingsAreCloseAndTheFileIsSmaller()
    {
        TestUtil.Init();
        using var handle = ModelHub.Load(ModelHub.MiniLm, requireHead: false);
        var dir = TestUtil.TempDir("minilm-int8");
        OnnxExporter.Export(handle.Model, handle.Tokenizer, dir, new OnnxExportOptions { Int8 = true }, sourceDirectory: handle.Directory);
        long int8Bytes = new FileInfo(Path.Combine(dir, OnnxExporter.ModelFile)).Length;
        using var onnx = OnnxModel.Load(dir, threads: 1);
        var texts = Models.MiniLmOnnxRuntimeTests.Inputs.Where(i => i.Pair is null && i.Text.Length > 0).Select(i => i.Text).ToList();
        var fp32 = new Embedder(handle) { BatchSize = 8 }.Embed(texts, maxLength: 128);
        var int8 = new Embedder(onnx) { BatchSize = 8 }.Embed(texts, maxLength: 128);
        double worst = texts.Select((t, i) => Embedder.Cosine(fp32[i], int8[i])).Min();
        Console.WriteLine($"int8 MiniLM: {int8Bytes} bytes, worst cosine {worst:F5}");
        // Measured 2026-12-03: worst cosine 0.981 over these 20 texts (emoji and one-letter inputs are the hardest).
        Assert.True(worst >= 0.97, $"worst cosine {worst:F5}");
        // Weight matrices and the word embeddings are int8: 24 MB against 91 MB in float32.
        Assert.True(int8Bytes < 0.3 * handle.Model.ParameterCount * 4, $"{int8Bytes} bytes");
        // Pairwise similarities, what search ranks by, move little.
        double moved = 0;
        for (int i = 0; i < texts.Count; i++)
            for (int j = i + 1; j < texts.Count; j++)
                moved = Math.Max(moved, Math.Abs(Embedder.Cosine(fp32[i], fp32[j]) - Embedder.Cosine(int8[i], int8[j])));
        Console.WriteLine($"int8 MiniLM: largest change of a pairwise cosine {moved:F4}");
        Assert.True(moved <= 0.08, $"a pairwise cosine moved by {moved:F4}"); // measured 0.041
    }
}
