// BERT (Devlin et al. 2018), the encoder-only family. Parameter names, shapes and config.json fields are
// exactly those of Hugging Face transformers' modeling_bert.py, so checkpoints move both ways unchanged.
using System.Text.Json.Serialization;
using GptBert.Engine;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using F = TorchSharp.torch.nn.functional;

namespace GptBert.Models;

public sealed record BertConfig : ModelConfig
{
    public override string ModelType => "bert";
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; set; } = 768;
    [JsonPropertyName("num_hidden_layers")] public int NumHiddenLayers { get; set; } = 12;
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; set; } = 12;
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; set; } = 3072;
    [JsonPropertyName("hidden_act")] public string HiddenAct { get; set; } = "gelu";
    [JsonPropertyName("hidden_dropout_prob")] public double HiddenDropoutProb { get; set; } = 0.1;
    [JsonPropertyName("attention_probs_dropout_prob")] public double AttentionProbsDropoutProb { get; set; } = 0.1;
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; set; } = 512;
    [JsonPropertyName("type_vocab_size")] public int TypeVocabSize { get; set; } = 2;
    [JsonPropertyName("layer_norm_eps")] public double LayerNormEps { get; set; } = 1e-12;
    [JsonPropertyName("position_embedding_type")] public string PositionEmbeddingType { get; set; } = "absolute";
    [JsonPropertyName("classifier_dropout")] public double? ClassifierDropout { get; set; }

    public BertConfig() { VocabSize = 30522; PadTokenId = 0; }

    [JsonIgnore] public override int MaxPositions => MaxPositionEmbeddings;

    /// <summary>bert-base-uncased (110M parameters).</summary>
    public static BertConfig Base() => new();

    /// <summary>all-MiniLM-L6-v2: 6 layers, hidden 384, 12 heads, 22.7M parameters.</summary>
    public static BertConfig MiniLmL6() => new() { HiddenSize = 384, NumHiddenLayers = 6, NumAttentionHeads = 12, IntermediateSize = 1536 };

    public override void Validate(string source)
    {
        Require(VocabSize > 0 && HiddenSize > 0 && NumHiddenLayers > 0 && NumAttentionHeads > 0 && IntermediateSize > 0 && MaxPositionEmbeddings > 0,
            source, "vocab_size, hidden_size, num_hidden_layers, num_attention_heads, intermediate_size and max_position_embeddings must be positive");
        Require(HiddenSize % NumAttentionHeads == 0, source, $"hidden_size ({HiddenSize}) must be divisible by num_attention_heads ({NumAttentionHeads})");
        Require(PositionEmbeddingType == "absolute", source, $"position_embedding_type \"{PositionEmbeddingType}\" is not supported (only absolute)");
        Require(HiddenAct is "gelu" or "gelu_new" or "relu" or "gelu_pytorch_tanh", source, $"hidden_act \"{HiddenAct}\" is not supported (use gelu, gelu_new or relu)");
        ValidatePrunedHeads(source, NumHiddenLayers, NumAttentionHeads);
        RefuseUnimplemented(source);
    }
}

public sealed class BertEmbeddings : nn.Module
{
    public readonly Embedding word_embeddings, position_embeddings, token_type_embeddings;
    readonly LayerNorm LayerNorm;
    readonly Dropout dropout;

    public BertEmbeddings(BertConfig c) : base(nameof(BertEmbeddings))
    {
        word_embeddings = WeightInit.Embedding(c.VocabSize, c.HiddenSize, c.PadTokenId);
        position_embeddings = WeightInit.Embedding(c.MaxPositionEmbeddings, c.HiddenSize);
        token_type_embeddings = WeightInit.Embedding(c.TypeVocabSize, c.HiddenSize);
        LayerNorm = nn.LayerNorm(c.HiddenSize, c.LayerNormEps);
        dropout = Dropout(c.HiddenDropoutProb);
        RegisterComponents();
    }

    public Tensor Forward(Tensor inputIds, Tensor? tokenTypeIds)
    {
        long T = inputIds.shape[1];
        var positions = arange(T, dtype: ScalarType.Int64, device: inputIds.device).unsqueeze(0); // (1, T)
        var x = word_embeddings.forward(inputIds) + position_embeddings.forward(positions);
        x = tokenTypeIds is null
            ? x + token_type_embeddings.weight![0]  // all segment 0
            : x + token_type_embeddings.forward(tokenTypeIds);
        return dropout.forward(LayerNorm.forward(x)); // (B, T, H)
    }
}

public sealed class BertSelfAttention : nn.Module
{
    readonly Dense query, key, value;
    readonly int nHead;
    readonly double pDrop;

    readonly int headSize;

    /// <summary>The layer keeps num_attention_heads − |pruned_heads[layer]| heads of the unchanged size (transformers' prune_heads).</summary>
    public BertSelfAttention(BertConfig c, int layer = 0) : base(nameof(BertSelfAttention))
    {
        nHead = c.NumAttentionHeads - c.PrunedHeadsOf(layer).Length;
        headSize = c.HiddenSize / c.NumAttentionHeads;
        query = new Dense(c.HiddenSize, nHead * headSize);
        key = new Dense(c.HiddenSize, nHead * headSize);
        value = new Dense(c.HiddenSize, nHead * headSize);
        pDrop = c.AttentionProbsDropoutProb;
        RegisterComponents();
    }

    /// <param name="mask">additive (B, 1, 1, T) padding mask or null.</param>
    public Tensor Forward(Tensor x, Tensor? mask)
    {
        long B = x.shape[0], T = x.shape[1], hs = headSize, H = nHead * hs; // H: all_head_size, < hidden after pruning
        var q = query.forward(x).view(B, T, nHead, hs).transpose(1, 2); // (B, nh, T, hs)
        var k = key.forward(x).view(B, T, nHead, hs).transpose(1, 2);
        var v = value.forward(x).view(B, T, nHead, hs).transpose(1, 2);
        var y = Ops.Attention(q, k, v, mask, training ? pDrop : 0); // (B, nh, T, hs)
        return y.transpose(1, 2).reshape(B, T, H);
    }
}

/// <summary>Projection + residual + LayerNorm; BertSelfOutput and BertOutput share this shape.</summary>
public sealed class BertResidualOutput : nn.Module
{
    readonly Dense dense;
    readonly LayerNorm LayerNorm;
    readonly Dropout dropout;

    public BertResidualOutput(BertConfig c, int inFeatures) : base(nameof(BertResidualOutput))
    {
        dense = new Dense(inFeatures, c.HiddenSize);
        LayerNorm = nn.LayerNorm(c.HiddenSize, c.LayerNormEps);
        dropout = Dropout(c.HiddenDropoutProb);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor residual)
    {
        var h = dropout.forward(dense.forward(x));
        // Inference: the add and the norm in one pass on GptBert's workers (LayerNormKernel); training: libtorch's ops, for autograd.
        if (!training && LayerNormKernel.TryAddLayerNorm(h, residual, LayerNorm.weight!, LayerNorm.bias!, LayerNorm.eps) is Tensor y) return y;
        return LayerNorm.forward(h + residual);
    }
}

public sealed class BertAttention : nn.Module
{
    readonly BertSelfAttention @self;
    readonly BertResidualOutput output;

    public BertAttention(BertConfig c, int layer = 0) : base(nameof(BertAttention))
    {
        @self = new BertSelfAttention(c, layer);
        output = new BertResidualOutput(c, (c.NumAttentionHeads - c.PrunedHeadsOf(layer).Length) * (c.HiddenSize / c.NumAttentionHeads));
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor? mask) => output.Forward(@self.Forward(x, mask), x);
}

public sealed class BertIntermediate : Module<Tensor, Tensor>
{
    readonly Dense dense;
    readonly string act;

    public BertIntermediate(BertConfig c) : base(nameof(BertIntermediate))
    {
        dense = new Dense(c.HiddenSize, c.IntermediateSize);
        act = c.HiddenAct;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => dense.Forward(x, act);
}

public sealed class BertLayer : nn.Module
{
    readonly BertAttention attention;
    readonly BertIntermediate intermediate;
    readonly BertResidualOutput output;

    public BertLayer(BertConfig c, int layer = 0) : base(nameof(BertLayer))
    {
        attention = new BertAttention(c, layer);
        intermediate = new BertIntermediate(c);
        output = new BertResidualOutput(c, c.IntermediateSize);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor? mask)
    {
        var a = attention.Forward(x, mask);
        return output.Forward(intermediate.forward(a), a);
    }
}

public sealed class BertEncoder : nn.Module
{
    readonly ModuleList<BertLayer> layer;

    public BertEncoder(BertConfig c) : base(nameof(BertEncoder))
    {
        layer = new ModuleList<BertLayer>(Enumerable.Range(0, c.NumHiddenLayers).Select(i => new BertLayer(c, i)).ToArray());
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor? mask)
    {
        // Each layer's intermediates die with its scope, not at the end of the forward: a 32 x 128 MiniLM batch then holds
        // one layer's worth (~100 MB) instead of six, and the memory glibc hands back is touched again six times less.
        foreach (var l in layer)
        {
            using var scope = NewDisposeScope();
            x = l.Forward(x, mask).MoveToOuterDisposeScope();
        }
        return x;
    }
}

public sealed class BertPooler : Module<Tensor, Tensor>
{
    readonly Dense dense;

    public BertPooler(BertConfig c) : base(nameof(BertPooler))
    {
        dense = new Dense(c.HiddenSize, c.HiddenSize);
        RegisterComponents();
    }

    /// <summary>tanh(W·h[CLS] + b): (B, T, H) → (B, H).</summary>
    public override Tensor forward(Tensor hidden) => dense.forward(hidden[.., 0]).tanh();
}

public sealed record BertOutput(Tensor LastHiddenState, Tensor? PoolerOutput);

/// <summary>The bare BERT encoder with an optional pooler.</summary>
public sealed class BertModel : PretrainedModel
{
    public readonly BertEmbeddings embeddings;
    readonly BertEncoder encoder;
    readonly BertPooler? pooler;
    public BertConfig Cfg { get; }
    public bool HasPooler => pooler is not null;

    public BertModel(BertConfig c, bool addPoolingLayer = true) : base(nameof(BertModel))
    {
        Cfg = c;
        embeddings = new BertEmbeddings(c);
        encoder = new BertEncoder(c);
        if (addPoolingLayer) pooler = new BertPooler(c);
        RegisterComponents();
        InitBertWeights(this, c);
    }

    public override ModelConfig Config => Cfg;
    public override string Architecture => "BertModel";

    /// <param name="inputIds">(B, T)</param>
    /// <param name="attentionMask">(B, T), 1 for real tokens, 0 for padding; null when nothing is padded.</param>
    /// <param name="tokenTypeIds">(B, T) segment ids, null for all zeros.</param>
    /// <param name="pool">false skips the pooler when only the hidden states are used (embeddings, MLM, token heads).</param>
    public BertOutput Forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null, bool pool = true)
    {
        using var scope = NewDisposeScope();
        using var small = SmallGemm.ForwardScope(inputIds, int8: Cfg.Quantization is { IsWeightOnly: false });
        long B = inputIds.shape[0], T = inputIds.shape[1];
        if (T > Cfg.MaxPositionEmbeddings)
            throw new GptBertException($"sequence of {T} tokens exceeds BERT's {Cfg.MaxPositionEmbeddings} positions; truncate it (MaxLength)") { RelatedParameters = ["MaxLength"] };
        var x = embeddings.Forward(inputIds, tokenTypeIds);
        Tensor? mask = null;
        // No padding → no mask, so scaled_dot_product_attention can take its fused kernel.
        if (attentionMask is not null && attentionMask.eq(0).any().item<bool>())
        {
            // Additive (B, 1, 1, T): 0 for tokens, dtype-min for padding (no NaN when a row is all padding).
            var min = x.dtype == ScalarType.Float16 ? -65504.0 : float.MinValue;
            mask = zeros(B, 1, 1, T, dtype: x.dtype, device: x.device)
                .masked_fill(attentionMask.view(B, 1, 1, T).eq(0), min);
        }
        var hidden = encoder.Forward(x, mask);
        var pooled = pool ? pooler?.forward(hidden) : null;
        return new BertOutput(hidden.MoveToOuterDisposeScope(), pooled?.MoveToOuterDisposeScope());
    }

    internal static void InitBertWeights(nn.Module m, ModelConfig c)
    {
        if (WeightInit.Skipped) return; // every tensor comes from a checkpoint
        using var _ = no_grad();
        foreach (var (name, p) in m.named_parameters())
        {
            if (name.EndsWith("LayerNorm.weight")) p.fill_(1.0);
            else if (name.EndsWith("bias")) p.zero_();
            else init.normal_(p, 0, c.InitializerRange);
        }
        if (c.PadTokenId is int pad)
            foreach (var (name, p) in m.named_parameters())
                if (name.EndsWith("word_embeddings.weight") && pad < p.shape[0]) p[pad].zero_();
    }
}

/// <summary>MLM head: transform (dense, act, LayerNorm) then the decoder tied to the word embeddings.</summary>
public sealed class BertLMPredictionHead : nn.Module
{
    readonly BertPredictionHeadTransform transform;
    readonly Parameter bias; // cls.predictions.bias (the decoder's bias, tied)

    public BertLMPredictionHead(BertConfig c) : base(nameof(BertLMPredictionHead))
    {
        transform = new BertPredictionHeadTransform(c);
        bias = new Parameter(zeros(c.VocabSize));
        RegisterComponents();
    }

    public Tensor Forward(Tensor hidden, Tensor wordEmbeddings) => Ops.Linear(transform.forward(hidden), wordEmbeddings, bias);
}

public sealed class BertPredictionHeadTransform : Module<Tensor, Tensor>
{
    readonly Dense dense;
    readonly LayerNorm LayerNorm;
    readonly string act;

    public BertPredictionHeadTransform(BertConfig c) : base(nameof(BertPredictionHeadTransform))
    {
        dense = new Dense(c.HiddenSize, c.HiddenSize);
        LayerNorm = nn.LayerNorm(c.HiddenSize, c.LayerNormEps);
        act = c.HiddenAct;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => LayerNorm.forward(dense.Forward(x, act));
}

/// <summary>The "cls" module of the pretraining heads: predictions (MLM) and/or seq_relationship (NSP).</summary>
public sealed class BertHeads : nn.Module
{
    public readonly BertLMPredictionHead? predictions;
    public readonly Dense? seq_relationship;

    public BertHeads(BertConfig c, bool mlm, bool nsp) : base(nameof(BertHeads))
    {
        if (mlm) predictions = new BertLMPredictionHead(c);
        if (nsp) seq_relationship = new Dense(c.HiddenSize, 2);
        RegisterComponents();
    }
}

/// <summary>Base of the BERT task models: a "bert" encoder and head modules.</summary>
public abstract class BertHeadModel : PretrainedModel
{
    public readonly BertModel bert;

    protected BertHeadModel(string name, BertConfig c, bool pooler) : base(name) => bert = new BertModel(c, pooler);

    public override ModelConfig Config => bert.Cfg;
    public override string BasePrefix => "bert";
    protected BertConfig C => bert.Cfg;

    /// <summary>Initialise head parameters after RegisterComponents (the encoder initialised itself).</summary>
    protected void InitHeads()
    {
        foreach (var (name, child) in named_children())
            if (name != "bert") BertModel.InitBertWeights(child, C);
    }

    protected Tensor MlmLogits(BertHeads cls, Tensor hidden) => cls.predictions!.Forward(hidden, bert.embeddings.word_embeddings.weight!);
}

public sealed record PreTrainingOutput(Tensor PredictionLogits, Tensor SeqRelationshipLogits);

public sealed class BertForMaskedLM : BertHeadModel
{
    readonly BertHeads cls;

    public BertForMaskedLM(BertConfig c) : base(nameof(BertForMaskedLM), c, pooler: false)
    {
        cls = new BertHeads(c, mlm: true, nsp: false);
        RegisterComponents();
        InitHeads();
    }

    public override string Architecture => "BertForMaskedLM";

    /// <summary>Vocabulary logits (B, T, V).</summary>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null)
    {
        using var scope = NewDisposeScope();
        var o = bert.Forward(inputIds, attentionMask, tokenTypeIds);
        return MlmLogits(cls, o.LastHiddenState).MoveToOuterDisposeScope();
    }
}

public sealed class BertForNextSentencePrediction : BertHeadModel
{
    readonly BertHeads cls;

    public BertForNextSentencePrediction(BertConfig c) : base(nameof(BertForNextSentencePrediction), c, pooler: true)
    {
        cls = new BertHeads(c, mlm: false, nsp: true);
        RegisterComponents();
        InitHeads();
    }

    public override string Architecture => "BertForNextSentencePrediction";

    /// <summary>(B, 2) logits: index 0 = B follows A, 1 = B is random.</summary>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null)
    {
        using var scope = NewDisposeScope();
        var o = bert.Forward(inputIds, attentionMask, tokenTypeIds);
        return cls.seq_relationship!.forward(o.PoolerOutput!).MoveToOuterDisposeScope();
    }
}

public sealed class BertForPreTraining : BertHeadModel
{
    readonly BertHeads cls;

    public BertForPreTraining(BertConfig c) : base(nameof(BertForPreTraining), c, pooler: true)
    {
        cls = new BertHeads(c, mlm: true, nsp: true);
        RegisterComponents();
        InitHeads();
    }

    public override string Architecture => "BertForPreTraining";

    public PreTrainingOutput Forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null)
    {
        using var scope = NewDisposeScope();
        var o = bert.Forward(inputIds, attentionMask, tokenTypeIds);
        var mlm = MlmLogits(cls, o.LastHiddenState);
        var nsp = cls.seq_relationship!.forward(o.PoolerOutput!);
        return new PreTrainingOutput(mlm.MoveToOuterDisposeScope(), nsp.MoveToOuterDisposeScope());
    }
}

public sealed class BertForSequenceClassification : BertHeadModel
{
    readonly Dropout dropout;
    readonly Dense classifier;

    public BertForSequenceClassification(BertConfig c) : base(nameof(BertForSequenceClassification), c, pooler: true)
    {
        dropout = Dropout(c.ClassifierDropout ?? c.HiddenDropoutProb);
        classifier = new Dense(c.HiddenSize, c.NumLabels);
        RegisterComponents();
        InitHeads();
    }

    public override string Architecture => "BertForSequenceClassification";

    /// <summary>(B, num_labels) logits from the pooled [CLS] state.</summary>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null)
    {
        using var scope = NewDisposeScope();
        var o = bert.Forward(inputIds, attentionMask, tokenTypeIds);
        return classifier.forward(dropout.forward(o.PoolerOutput!)).MoveToOuterDisposeScope();
    }
}

public sealed class BertForTokenClassification : BertHeadModel
{
    readonly Dropout dropout;
    readonly Dense classifier;

    public BertForTokenClassification(BertConfig c) : base(nameof(BertForTokenClassification), c, pooler: false)
    {
        dropout = Dropout(c.ClassifierDropout ?? c.HiddenDropoutProb);
        classifier = new Dense(c.HiddenSize, c.NumLabels);
        RegisterComponents();
        InitHeads();
    }

    public override string Architecture => "BertForTokenClassification";

    /// <summary>(B, T, num_labels) logits.</summary>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null)
    {
        using var scope = NewDisposeScope();
        var o = bert.Forward(inputIds, attentionMask, tokenTypeIds);
        return classifier.forward(dropout.forward(o.LastHiddenState)).MoveToOuterDisposeScope();
    }
}

public sealed record SpanLogits(Tensor StartLogits, Tensor EndLogits);

public sealed class BertForQuestionAnswering : BertHeadModel
{
    readonly Dense qa_outputs;

    public BertForQuestionAnswering(BertConfig c) : base(nameof(BertForQuestionAnswering), c, pooler: false)
    {
        qa_outputs = new Dense(c.HiddenSize, 2);
        RegisterComponents();
        InitHeads();
    }

    public override string Architecture => "BertForQuestionAnswering";

    /// <summary>Start and end logits, each (B, T).</summary>
    public SpanLogits Forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null)
    {
        using var scope = NewDisposeScope();
        var o = bert.Forward(inputIds, attentionMask, tokenTypeIds);
        var logits = qa_outputs.forward(o.LastHiddenState).split(1, dim: -1); // 2 x (B, T, 1)
        return new SpanLogits(logits[0].squeeze(-1).MoveToOuterDisposeScope(), logits[1].squeeze(-1).MoveToOuterDisposeScope());
    }
}
