using Google.Protobuf;
using GptBert.Models;
using GptBert.OnnxExport;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using static TorchSharp.torch;

namespace GptBert.Tests.OnnxExport;

/// <summary>
/// Every exportable head, exported node by node and run in ONNX Runtime, against our TorchSharp forward on the same weights:
/// a batch with padding (right padding for BERT and GPT-2 classification, left padding for the GPT-2 decoder), fp32,
/// max |diff| ≤ 1e-4. Also the graph's contract: Optimum's input/output names, dynamic axes, opset.
/// </summary>
public class OnnxExportTests
{
    const double Tolerance = 1e-4;

    internal static BertConfig TinyBert(string act = "gelu") => new()
    {
        VocabSize = 100, HiddenSize = 32, NumHiddenLayers = 2, NumAttentionHeads = 4, IntermediateSize = 64,
        MaxPositionEmbeddings = 32, HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0, HiddenAct = act,
        Id2Label = new() { ["0"] = "a", ["1"] = "b", ["2"] = "c" },
    };

    internal static Gpt2Config TinyGpt2(string act = "gelu_new") => new()
    {
        VocabSize = 100, NPositions = 32, NEmbd = 32, NLayer = 2, NHead = 4, ResidPdrop = 0, EmbdPdrop = 0, AttnPdrop = 0,
        ActivationFunction = act, BosTokenId = null, EosTokenId = null, Id2Label = new() { ["0"] = "x", ["1"] = "y", ["2"] = "z" },
    };

    /// <summary>Weights drawn larger than the default init so that every op moves the result (a random model at std 0.02 is almost linear).</summary>
    internal static T Randomized<T>(T model) where T : PretrainedModel
    {
        using var _ = no_grad();
        foreach (var (name, p) in model.named_parameters())
            if (!name.Contains("LayerNorm") && !name.Contains("ln_")) p.normal_(0, 0.3);
            else p.normal_(1, 0.2);
        model.eval();
        return model;
    }

    internal static InferenceSession Session(ModelProto proto) =>
        new(proto.ToByteArray(), new SessionOptions { IntraOpNumThreads = 1 });

    /// <summary>Rows of lengths 7, 4 and 1 (right padding), token types 0 then 1 in the first row.</summary>
    static (long[] Ids, long[] Mask, long[] Types, int B, int T) RightPadded()
    {
        int B = 3, T = 7;
        int[] lengths = [7, 4, 1];
        var rng = new Random(3);
        var ids = new long[B * T]; var mask = new long[B * T]; var types = new long[B * T];
        for (int b = 0; b < B; b++)
            for (int t = 0; t < lengths[b]; t++)
            {
                ids[b * T + t] = rng.Next(1, 100);
                mask[b * T + t] = 1;
                types[b * T + t] = b == 0 && t >= 4 ? 1 : 0;
            }
        return (ids, mask, types, B, T);
    }

    static Dictionary<string, (float[] Data, long[] Shape)> RunOrt(InferenceSession s, params (string Name, long[] Data, long[] Shape)[] inputs)
    {
        var names = inputs.Select(i => i.Name).ToList();
        var values = inputs.Select(i => OrtValue.CreateTensorValueFromMemory(i.Data, i.Shape)).ToList();
        try
        {
            using var ro = new RunOptions();
            var outNames = s.OutputMetadata.Keys.ToList();
            using var results = s.Run(ro, names, values, outNames);
            return outNames.Select((n, i) => (n, results[i])).ToDictionary(x => x.n,
                x => (x.Item2.GetTensorDataAsSpan<float>().ToArray(), x.Item2.GetTensorTypeAndShape().Shape));
        }
        finally { foreach (var v in values) v.Dispose(); }
    }

    static void AssertClose(Tensor expected, (float[] Data, long[] Shape) actual, string what, Func<long, bool>? rowFilter = null)
    {
        Assert.Equal(expected.shape, actual.Shape);
        var e = expected.contiguous().data<float>().ToArray();
        long rowSize = expected.shape.Length >= 3 ? expected.shape[^1] : expected.shape.Length == 2 && rowFilter is not null ? 1 : e.Length;
        double max = 0;
        for (long i = 0; i < e.Length; i++)
        {
            if (rowFilter is not null && !rowFilter(i / rowSize)) continue;
            max = Math.Max(max, Math.Abs(e[i] - actual.Data[i]));
        }
        Assert.True(max <= Tolerance, $"{what}: max |diff| = {max:E2}");
        Assert.True(e.Any(v => Math.Abs(v) > 1e-3), $"{what}: the reference is all zeros; the comparison says nothing");
    }

    public static TheoryData<string, string> BertHeads => new()
    {
        { "BertModel", "gelu" },
        { "BertModel", "gelu_new" },
        { "BertModel", "relu" },
        { "BertForSequenceClassification", "gelu" },
        { "BertForTokenClassification", "gelu" },
        { "BertForMaskedLM", "gelu" },
        { "BertForQuestionAnswering", "gelu" },
    };

    [Theory]
    [MemberData(nameof(BertHeads))]
    public void BertHeadsEqualTorchSharpWithPadding(string architecture, string act)
    {
        TestUtil.Init(11);
        using var model = Randomized(ModelFactory.Create(TinyBert(act), architecture));
        var (proto, signature) = OnnxExporter.Build(model);
        Assert.Equal(["input_ids", "attention_mask", "token_type_ids"], signature.Inputs.Select(i => i.Name));
        using var session = Session(proto);
        var (ids, mask, types, B, T) = RightPadded();
        var outputs = RunOrt(session, ("input_ids", ids, [B, T]), ("attention_mask", mask, [B, T]), ("token_type_ids", types, [B, T]));

        using var _ = inference_mode();
        Tensor I = tensor(ids, [B, T]), M = tensor(mask, [B, T]), Ty = tensor(types, [B, T]);
        switch (model)
        {
            case BertModel m:
            {
                var o = m.Forward(I, M, Ty);
                AssertClose(o.LastHiddenState, outputs["last_hidden_state"], "last_hidden_state");
                AssertClose(o.PoolerOutput!, outputs["pooler_output"], "pooler_output");
                Assert.Equal(["last_hidden_state", "pooler_output"], signature.Outputs.Select(x => x.Name));
                break;
            }
            case BertForSequenceClassification m:
                AssertClose(m.Forward(I, M, Ty), outputs["logits"], "logits");
                Assert.Equal(new object[] { "batch_size", 3L }, signature.Outputs.Single().Shape);
                break;
            case BertForTokenClassification m:
                AssertClose(m.Forward(I, M, Ty), outputs["logits"], "logits");
                break;
            case BertForMaskedLM m:
                AssertClose(m.Forward(I, M, Ty), outputs["logits"], "logits");
                Assert.Equal(new object[] { "batch_size", "sequence_length", 100L }, signature.Outputs.Single().Shape);
                break;
            case BertForQuestionAnswering m:
            {
                var span = m.Forward(I, M, Ty);
                AssertClose(span.StartLogits, outputs["start_logits"], "start_logits");
                AssertClose(span.EndLogits, outputs["end_logits"], "end_logits");
                break;
            }
        }
    }

    [Fact]
    public void ExportedBertHasHuggingFaceInitializerNamesAndOpset17()
    {
        TestUtil.Init(1);
        using var model = new BertForMaskedLM(TinyBert());
        var (proto, _) = OnnxExporter.Build(model);
        Assert.Equal(17, proto.OpsetImport.Single().Version);
        Assert.Equal("", proto.OpsetImport.Single().Domain);
        var names = proto.Graph.Initializer.Select(t => t.Name).Where(n => !n.StartsWith("const_")).ToHashSet();
        // Every initializer is a state-dict tensor under its own key, stored as the state dict holds it (Linear weights (out, in)).
        var sd = model.state_dict();
        Assert.Equal(sd.Keys.ToHashSet(), names);
        foreach (var t in proto.Graph.Initializer.Where(t => names.Contains(t.Name)))
            Assert.Equal(sd[t.Name].shape, t.Dims.ToArray());
        Assert.Contains(proto.Graph.Node, n => n.OpType == "LayerNormalization");
        Assert.Contains(proto.Graph.Node, n => n.OpType == "Erf");
        var input = proto.Graph.Input.Single(i => i.Name == "input_ids");
        Assert.Equal(["batch_size", "sequence_length"], input.Type.TensorType.Shape.Dim.Select(d => d.DimParam));
    }

    [Fact]
    public void Gpt2ModelEqualsTorchSharpWithPadding()
    {
        TestUtil.Init(12);
        using var model = Randomized(new GPT2Model(TinyGpt2("gelu")));
        var (proto, signature) = OnnxExporter.Build(model);
        Assert.Equal(["input_ids", "attention_mask", "position_ids"], signature.Inputs.Select(i => i.Name));
        Assert.Contains(proto.Graph.Node, n => n.OpType == "Erf");
        using var session = Session(proto);
        var (ids, mask, _, B, T) = RightPadded();
        var pos = Enumerable.Range(0, B * T).Select(i => (long)(i % T)).ToArray();
        var outputs = RunOrt(session, ("input_ids", ids, [B, T]), ("attention_mask", mask, [B, T]), ("position_ids", pos, [B, T]));
        using var _ = inference_mode();
        var expected = model.Forward(tensor(ids, [B, T]), tensor(mask, [B, T]));
        AssertClose(expected, outputs["last_hidden_state"], "last_hidden_state", row => mask[row] == 1);
    }

    [Fact]
    public void Gpt2ForSequenceClassificationEqualsTorchSharpWithRightAndLeftPadding()
    {
        TestUtil.Init(13);
        using var model = Randomized(new GPT2ForSequenceClassification(TinyGpt2()));
        var (proto, signature) = OnnxExporter.Build(model);
        Assert.Equal(["input_ids", "attention_mask"], signature.Inputs.Select(i => i.Name)); // Optimum: no position_ids for text-classification
        using var session = Session(proto);
        var (ids, mask, _, B, T) = RightPadded();
        using var _ = inference_mode();
        // Right padding, then the same rows left-padded.
        var leftIds = new long[B * T]; var leftMask = new long[B * T];
        for (int b = 0; b < B; b++)
        {
            int n = (int)mask.Skip(b * T).Take(T).Sum();
            for (int t = 0; t < n; t++) { leftIds[b * T + T - n + t] = ids[b * T + t]; leftMask[b * T + T - n + t] = 1; }
        }
        foreach (var (i, m) in new[] { (ids, mask), (leftIds, leftMask) })
        {
            var outputs = RunOrt(session, ("input_ids", i, [B, T]), ("attention_mask", m, [B, T]));
            AssertClose(model.Forward(tensor(i, [B, T]), tensor(m, [B, T])), outputs["logits"], "logits");
        }
    }

    [Fact]
    public void Gpt2LmWithPastEqualsTorchSharpFromAnEmptyPastThenOneCachedStep()
    {
        TestUtil.Init(14);
        var c = TinyGpt2();
        using var model = Randomized(new GPT2LMHeadModel(c));
        var (proto, signature) = OnnxExporter.Build(model);
        Assert.Equal("text-generation-with-past", signature.Task);
        Assert.True(signature.UsePast);
        Assert.Equal(["input_ids", "attention_mask", "position_ids", "past_key_values.0.key", "past_key_values.0.value", "past_key_values.1.key", "past_key_values.1.value"],
            signature.Inputs.Select(i => i.Name));
        Assert.Equal(["logits", "present.0.key", "present.0.value", "present.1.key", "present.1.value"], signature.Outputs.Select(o => o.Name));
        Assert.Equal(new object[] { "batch_size", 4L, "past_sequence_length", 8L }, signature.Inputs[3].Shape);
        Assert.Equal(new object[] { "batch_size", "past_sequence_length + sequence_length" }, signature.Inputs[1].Shape);
        Assert.Equal(new object[] { "batch_size", 4L, "past_sequence_length + sequence_length", 8L }, signature.Outputs[1].Shape);
        using var session = Session(proto);

        // Step 1: left-padded prompts of lengths 5, 3, 1; an empty past (sequence length 0).
        int B = 3, T = 5;
        int[] lengths = [5, 3, 1];
        var rng = new Random(5);
        var ids = new long[B * T]; var mask = new long[B * T];
        for (int b = 0; b < B; b++)
            for (int t = T - lengths[b]; t < T; t++) { ids[b * T + t] = rng.Next(1, 100); mask[b * T + t] = 1; }
        var batch = new GptBert.Pipelines.TokenBatch(B, T, ids, mask, new long[B * T], []);
        var pos = batch.PositionIds();
        var feeds = new List<(string, long[], long[])> { ("input_ids", ids, [B, T]), ("attention_mask", mask, [B, T]), ("position_ids", pos, [B, T]) };
        var step1 = RunWithPast(session, feeds, c, B, past: null);

        using var _ = inference_mode();
        using var cache = new KvCache();
        var expected1 = model.Forward(tensor(ids, [B, T]), tensor(mask, [B, T]), cache);
        AssertClose(expected1, step1.Outputs["logits"], "logits (step 1)", row => mask[row] == 1);

        // Step 2: one new token per row, past = present of step 1.
        var next = new long[] { 7, 8, 9 };
        var mask2 = new long[B * (T + 1)];
        for (int b = 0; b < B; b++) { for (int t = 0; t < T; t++) mask2[b * (T + 1) + t] = mask[b * T + t]; mask2[b * (T + 1) + T] = 1; }
        var pos2 = Enumerable.Range(0, B).Select(b => (long)lengths[b]).ToArray();
        var step2 = RunWithPast(session, [("input_ids", next, [B, 1]), ("attention_mask", mask2, [B, T + 1]), ("position_ids", pos2, [B, 1])], c, B, step1.Present);
        var expected2 = model.Forward(tensor(next, [B, 1]), tensor(mask2, [B, T + 1]), cache);
        AssertClose(expected2, step2.Outputs["logits"], "logits (step 2, cached)");
        // The presents are the cache: (B, nh, T + 1, hs), equal to ours at the real positions.
        Assert.Equal(new long[] { B, 4, T + 1, 8 }, step2.Outputs["present.1.key"].Shape);
    }

    static (Dictionary<string, (float[] Data, long[] Shape)> Outputs, Dictionary<string, (float[] Data, long[] Shape)> Present) RunWithPast(
        InferenceSession s, List<(string Name, long[] Data, long[] Shape)> feeds, Gpt2Config c, int B, Dictionary<string, (float[] Data, long[] Shape)>? past)
    {
        var names = feeds.Select(f => f.Name).ToList();
        var values = feeds.Select(f => OrtValue.CreateTensorValueFromMemory(f.Data, f.Shape)).ToList();
        for (int i = 0; i < c.NLayer; i++)
            foreach (var kind in new[] { "key", "value" })
            {
                names.Add($"past_key_values.{i}.{kind}");
                var p = past?[$"present.{i}.{kind}"];
                values.Add(OrtValue.CreateTensorValueFromMemory(p?.Data ?? [], p?.Shape ?? [B, c.NHead, 0, c.NEmbd / c.NHead]));
            }
        try
        {
            using var ro = new RunOptions();
            var outNames = s.OutputMetadata.Keys.ToList();
            using var results = s.Run(ro, names, values, outNames);
            var all = outNames.Select((n, i) => (n, results[i])).ToDictionary(x => x.n,
                x => (x.Item2.GetTensorDataAsSpan<float>().ToArray(), x.Item2.GetTensorTypeAndShape().Shape));
            return (all, all.Where(kv => kv.Key.StartsWith("present.")).ToDictionary());
        }
        finally { foreach (var v in values) v.Dispose(); }
    }

    [Theory]
    [InlineData(18)]
    [InlineData(21)]
    public void LaterOpsetsGiveTheSameGraphResults(int opset)
    {
        TestUtil.Init(15);
        using var model = Randomized(new BertForQuestionAnswering(TinyBert()));
        var (proto, _) = OnnxExporter.Build(model, new OnnxExportOptions { Opset = opset });
        Assert.Equal(opset, proto.OpsetImport.Single().Version);
        using var session = Session(proto);
        var (ids, mask, types, B, T) = RightPadded();
        var outputs = RunOrt(session, ("input_ids", ids, [B, T]), ("attention_mask", mask, [B, T]), ("token_type_ids", types, [B, T]));
        using var _ = inference_mode();
        AssertClose(model.Forward(tensor(ids, [B, T]), tensor(mask, [B, T]), tensor(types, [B, T])).StartLogits, outputs["start_logits"], "start_logits");
    }

    [Fact]
    public void HeadsThatDoNotExportAreRefusedInOneLine()
    {
        TestUtil.Init(1);
        using var model = new BertForPreTraining(TinyBert());
        var e = Assert.Throws<GptBertException>(() => OnnxExporter.Build(model));
        Assert.Contains("BertForPreTraining cannot be exported", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        using var bert = new BertModel(TinyBert());
        Assert.Throws<GptBertException>(() => OnnxExporter.Build(bert, new OnnxExportOptions { Opset = 16 }));
    }
}
