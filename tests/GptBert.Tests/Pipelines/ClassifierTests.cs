using GptBert.Models;
using GptBert.Pipelines;
using GptBert.Tokenizers;
using GptBert.Training;
using static TorchSharp.torch;

namespace GptBert.Tests.Pipelines;

/// <summary>
/// Classifier's inference path (sorted batches under inference mode) against the model's own forward and a softmax,
/// one unpadded input at a time; and training's validation predictions, which share the classifier's forward.
/// </summary>
public class ClassifierTests
{
    static readonly string[] Labels = ["neg", "neu", "pos"];

    static readonly (string Text, string? Pair)[] Inputs =
    [
        ("a short one", null),
        ("a considerably longer text that needs more tokens than the others in its batch do", null),
        ("mid length text here", "with a second segment"),
        ("x", null),
        ("another text of some length, with punctuation!", null),
    ];

    static string Save(string name, PretrainedModel model)
    {
        var dir = TestUtil.TempDir(name);
        using (model) model.SavePretrained(dir);
        return dir;
    }

    static string TinyBert()
    {
        TestUtil.Init(7);
        var c = new BertConfig
        {
            VocabSize = 30522, HiddenSize = 32, NumHiddenLayers = 2, NumAttentionHeads = 2, IntermediateSize = 64,
            MaxPositionEmbeddings = 64, HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0,
        };
        c.SetLabels(Labels);
        return Save("clf-bert", new BertForSequenceClassification(c));
    }

    static string TinyGpt()
    {
        TestUtil.Init(7);
        var c = new Gpt2Config { VocabSize = 50257, NEmbd = 32, NLayer = 2, NHead = 2, NPositions = 64, ResidPdrop = 0, EmbdPdrop = 0, AttnPdrop = 0 };
        c.SetLabels(Labels);
        c.PadTokenId = c.EosTokenId;
        return Save("clf-gpt", new GPT2ForSequenceClassification(c));
    }

    /// <summary>The model's forward on one input (batch 1, no padding) and a softmax: the reference.</summary>
    static float[] Reference(PretrainedModel model, ITextTokenizer tok, string text, string? pair, int maxLength)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var enc = tok.Encode(text, pair, maxLength: maxLength);
        long T = enc.Ids.Length;
        var ids = tensor(enc.Ids.Select(i => (long)i).ToArray(), [1, T]);
        var mask = tensor(enc.AttentionMask.Select(i => (long)i).ToArray(), [1, T]);
        var types = tensor(enc.TypeIds.Select(i => (long)i).ToArray(), [1, T]);
        var logits = model switch
        {
            BertForSequenceClassification m => m.Forward(ids, mask, types),
            GPT2ForSequenceClassification m => m.Forward(ids, mask),
            _ => throw new InvalidOperationException(),
        }; // (1, K)
        return logits.softmax(-1).data<float>().ToArray();
    }

    [Theory]
    [InlineData("bert", "bert-base-uncased")]
    [InlineData("gpt", "gpt2")]
    public void ClassifyEqualsTheModelsForwardAndSoftmaxInInputOrder(string family, string tokenizer)
    {
        var dir = family == "bert" ? TinyBert() : TinyGpt();
        using var classifier = new Classifier(dir, tokenizer, maxLength: 32) { BatchSize = 2 };
        Assert.Equal(Labels, classifier.Labels);
        var results = classifier.Classify(Inputs);
        var probabilities = classifier.Probabilities(Inputs);
        Assert.False(classifier.Handle.Model.training);
        for (int i = 0; i < Inputs.Length; i++)
        {
            var expected = Reference(classifier.Handle.Model, classifier.Handle.Tokenizer, Inputs[i].Text, Inputs[i].Pair, 32);
            for (int k = 0; k < Labels.Length; k++)
            {
                Assert.Equal(expected[k], probabilities[i][k], 1e-5);
                Assert.Equal(expected[k], results[i].Scores[Labels[k]], 1e-5);
            }
            Assert.Equal(Labels[Array.IndexOf(expected, expected.Max())], results[i].Label);
        }
    }

    [Fact]
    public void TrainingValidationPredictsWhatTheClassifierPredicts()
    {
        var dir = TinyBert();
        using var classifier = new Classifier(dir, "bert-base-uncased", maxLength: 32);
        var h = classifier.Handle;
        var examples = Inputs.Select((x, i) => new ClassificationExample(x.Text, x.Pair, i % Labels.Length)).ToList();
        var objective = new ClassificationObjective(h.Model, h.Tokenizer, examples, examples, Labels, 32, 0, h.Device) { EvalBatchSize = 3 };
        var (predicted, objectiveProbabilities) = objective.Predict(examples);
        var probabilities = classifier.Probabilities(Inputs);
        for (int i = 0; i < Inputs.Length; i++)
        {
            for (int k = 0; k < Labels.Length; k++) Assert.Equal(probabilities[i][k], objectiveProbabilities[i][k], 1e-5);
            Assert.Equal(Classifier.Predicted(probabilities[i]), predicted[i]);
        }
    }

    [Fact]
    public void RefusesOverlongInputsWhenAskedTo()
    {
        var dir = TinyBert();
        using var classifier = new Classifier(dir, "bert-base-uncased", maxLength: 8) { Overflow = Overflow.Refuse };
        var e = Assert.Throws<GptBertException>(() => classifier.Classify([("short", null), (Inputs[1].Text, null)]));
        Assert.StartsWith("input 2 is longer than 8 tokens", e.Message);
        var warnings = new List<string>();
        using var lenient = new Classifier(dir, "bert-base-uncased", maxLength: 8) { Warn = warnings.Add };
        Assert.Equal(2, lenient.Classify([("short", null), (Inputs[1].Text, null)]).Count);
        Assert.Equal(["warning: input 2 truncated to 8 tokens"], warnings);
    }
}
