// GPT-2 (Radford et al. 2019), the decoder-only family. Parameter names, shapes and config.json fields are
// exactly those of Hugging Face transformers' modeling_gpt2.py, so checkpoints move both ways unchanged.
// Linear layers are GPT-2's Conv1D: weight stored (in, out), y = x @ W + b.
using System.Text.Json.Serialization;
using GptBert.Engine;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using F = TorchSharp.torch.nn.functional;

namespace GptBert.Models;

public sealed record Gpt2Config : ModelConfig
{
    public override string ModelType => "gpt2";
    [JsonPropertyName("n_positions")] public int NPositions { get; set; } = 1024;
    [JsonPropertyName("n_embd")] public int NEmbd { get; set; } = 768;
    [JsonPropertyName("n_layer")] public int NLayer { get; set; } = 12;
    [JsonPropertyName("n_head")] public int NHead { get; set; } = 12;
    [JsonPropertyName("n_inner")] public int? NInner { get; set; }
    [JsonPropertyName("activation_function")] public string ActivationFunction { get; set; } = "gelu_new";
    [JsonPropertyName("resid_pdrop")] public double ResidPdrop { get; set; } = 0.1;
    [JsonPropertyName("embd_pdrop")] public double EmbdPdrop { get; set; } = 0.1;
    [JsonPropertyName("attn_pdrop")] public double AttnPdrop { get; set; } = 0.1;
    [JsonPropertyName("layer_norm_epsilon")] public double LayerNormEpsilon { get; set; } = 1e-5;
    /// <summary>Divide attention scores by √head_size (GPT-2 does; false leaves them unscaled).</summary>
    [JsonPropertyName("scale_attn_weights")] public bool ScaleAttnWeights { get; set; } = true;
    /// <summary>Also divide the scores of layer i (from 0) by i + 1 (Mistral-style stability trick some GPT-2 checkpoints use).</summary>
    [JsonPropertyName("scale_attn_by_inverse_layer_idx")] public bool ScaleAttnByInverseLayerIdx { get; set; }
    /// <summary>Compute attention scores and softmax in fp32 with the scaling applied inside the product (matters under 16-bit compute).</summary>
    [JsonPropertyName("reorder_and_upcast_attn")] public bool ReorderAndUpcastAttn { get; set; }
    [JsonPropertyName("bos_token_id")] public int? BosTokenId { get; set; } = 50256;
    [JsonPropertyName("eos_token_id")] public int? EosTokenId { get; set; } = 50256;
    [JsonPropertyName("tie_word_embeddings")] public bool TieWordEmbeddings { get; set; } = true;
    /// <summary>Dropout before a token-classification head (transformers' GPT2ForTokenClassification: 0.1 when unset).</summary>
    [JsonPropertyName("classifier_dropout")] public double? ClassifierDropout { get; set; }
    /// <summary>Each block also attends over an encoder's hidden states (the decoder of an <see cref="EncoderDecoderModel"/>).</summary>
    [JsonPropertyName("add_cross_attention")] public bool AddCrossAttention { get; set; }
    /// <summary>transformers sets it on decoders of encoder-decoder models; GPT-2 is causal either way, so it changes nothing here.</summary>
    [JsonPropertyName("is_decoder")] public bool IsDecoder { get; set; }
    /// <summary>Set on a GPT-BERT (one model trained causal and masked, see GptBert.cs): it also runs bidirectionally.</summary>
    [JsonPropertyName("gpt_bert")] public GptBertSettings? GptBert { get; set; }

    public Gpt2Config() => VocabSize = 50257;

    [JsonIgnore] public int InnerSize => NInner ?? 4 * NEmbd;
    [JsonIgnore] public override int MaxPositions => NPositions;

    /// <summary>The original 124M GPT-2 ("gpt2" on the Hugging Face hub).</summary>
    public static Gpt2Config Small() => new();

    public override void Validate(string source)
    {
        Require(VocabSize > 0 && NPositions > 0 && NEmbd > 0 && NLayer > 0 && NHead > 0, source, "vocab_size, n_positions, n_embd, n_layer and n_head must be positive");
        Require(NEmbd % NHead == 0, source, $"n_embd ({NEmbd}) must be divisible by n_head ({NHead})");
        Require(ActivationFunction is "gelu_new" or "gelu" or "gelu_pytorch_tanh" or "relu", source, $"activation_function \"{ActivationFunction}\" is not supported (use gelu_new, gelu or relu)");
        Require(TieWordEmbeddings, source, "untied GPT-2 output embeddings (tie_word_embeddings=false) are not supported");
        ValidatePrunedHeads(source, NLayer, NHead);
        RefuseUnimplemented(source);
    }
}

/// <summary>GPT-2's Conv1D: a linear layer whose weight is stored transposed, (in, out).</summary>
public sealed class Conv1D : Module<Tensor, Tensor>
{
    public readonly Parameter weight; // (nx, nf)
    public readonly Parameter bias;   // (nf)

    public Conv1D(long nx, long nf) : base(nameof(Conv1D))
    {
        weight = new Parameter(empty(nx, nf));
        bias = new Parameter(zeros(nf));
        RegisterComponents();
    }

    /// <summary>The int8 form of this layer in a quantized model (see <see cref="Dense.Quantized"/>).</summary>
    public QuantizedLinear? Quantized { get; set; }

    public override Tensor forward(Tensor x)
    {
        var shape = x.shape; // (..., nx)
        var flat = x.reshape(-1, shape[^1]);
        Tensor y; // (N, nf)
        if (Quantized is not { } q) y = Ops.LinearInOut(flat, weight, bias);
        else if (q.TryForward(flat, bias) is { } yq) y = yq;
        else { using var w = q.Dequantize(inOut: true, x.device); y = Ops.LinearInOut(flat, w, bias); } // see Dense.Quantized
        shape[^1] = weight.shape[1];
        return y.view(shape);
    }

    /// <summary>activation(this(x)), the GELU inside the int8 kernel when there is one (see <see cref="Dense.Forward(Tensor, string)"/>).</summary>
    public Tensor Forward(Tensor x, string activation)
    {
        if (Quantized is { } q && Activations.Fusable(activation) is var fused && fused != Activation.None
            && q.TryForward(x.reshape(-1, x.shape[^1]), bias, fused) is { } y)
        {
            var shape = x.shape; shape[^1] = weight.shape[1];
            return y.view(shape);
        }
        return Activations.Apply(activation, forward(x));
    }
}

/// <summary>
/// Keys and values of every layer seen so far, for incremental decoding: per layer (B, nh, S, hs). Rows of a batch may hold
/// sequences of different lengths, left-padded, with an attention mask saying which positions are real (continuous batching).
/// </summary>
public sealed class KvCache : IDisposable
{
    readonly List<(Tensor K, Tensor V)> layers = [];
    /// <summary>Number of positions already in the cache.</summary>
    public long Length => layers.Count == 0 ? 0 : layers[0].K.shape[2];
    /// <summary>Rows (sequences) in the cache.</summary>
    public long BatchSize => layers.Count == 0 ? 0 : layers[0].K.shape[0];
    internal (Tensor K, Tensor V)? Get(int layer) => layer < layers.Count ? layers[layer] : null;
    // Cross-attention keys/values come from the encoder states: computed once per sequence, reused at every step.
    readonly Dictionary<int, (Tensor K, Tensor V)> cross = [];
    internal (Tensor K, Tensor V)? GetCross(int layer) => cross.TryGetValue(layer, out var kv) ? kv : null;
    internal void SetCross(int layer, Tensor k, Tensor v)
    {
        k.DetachFromDisposeScope(); v.DetachFromDisposeScope();
        if (cross.Remove(layer, out var old)) { old.K.Dispose(); old.V.Dispose(); }
        cross[layer] = (k, v);
    }

    internal void Set(int layer, Tensor k, Tensor v)
    {
        // The cache outlives the forward pass's dispose scope.
        k.DetachFromDisposeScope(); v.DetachFromDisposeScope();
        if (layer < layers.Count) { layers[layer].K.Dispose(); layers[layer].V.Dispose(); layers[layer] = (k, v); }
        else layers.Add((k, v));
    }

    /// <summary>Replaces every key and value tensor t by <paramref name="f"/>(t) (e.g. selecting rows, padding positions).</summary>
    public void Transform(Func<Tensor, Tensor> f)
    {
        for (int i = 0; i < layers.Count; i++)
        {
            var (k, v) = layers[i];
            var nk = f(k).DetachFromDisposeScope();
            var nv = f(v).DetachFromDisposeScope();
            k.Dispose(); v.Dispose();
            layers[i] = (nk, nv);
        }
    }

    /// <summary>
    /// Keeps the rows <paramref name="index"/> (B') of every tensor, self-attention and cross-attention alike, in that order
    /// (beam search reorders its beams this way; a row may be repeated). The cross-attention keys/values never change
    /// with the step, but their rows must follow the beams they belong to.
    /// </summary>
    public void SelectRows(Tensor index)
    {
        Transform(t => t.index_select(0, index));
        foreach (var layer in cross.Keys.ToList())
        {
            var (k, v) = cross[layer];
            cross[layer] = (k.index_select(0, index).DetachFromDisposeScope(), v.index_select(0, index).DetachFromDisposeScope());
            k.Dispose(); v.Dispose();
        }
    }

    /// <summary>Appends the rows of <paramref name="other"/> (same positions) to this cache; <paramref name="other"/> is left empty.</summary>
    public void AppendRows(KvCache other)
    {
        if (cross.Count > 0 || other.cross.Count > 0)
        {
            // Encoder-decoder rows: the cross-attention keys/values join too (same layers and encoder length on both sides).
            if (cross.Count == 0 && layers.Count == 0) { foreach (var (l, kv) in other.cross) cross[l] = kv; }
            else
            {
                if (!cross.Keys.Order().SequenceEqual(other.cross.Keys.Order()))
                    throw new ArgumentException("caches must have the same cross-attention layers to be joined");
                foreach (var l in cross.Keys.ToList())
                {
                    var (k, v) = cross[l];
                    var (ok, ov) = other.cross[l];
                    cross[l] = (cat([k, ok], 0).DetachFromDisposeScope(), cat([v, ov], 0).DetachFromDisposeScope());
                    k.Dispose(); v.Dispose(); ok.Dispose(); ov.Dispose();
                }
            }
            other.cross.Clear();
        }
        if (layers.Count == 0) { layers.AddRange(other.layers); other.layers.Clear(); return; }
        if (other.layers.Count != layers.Count || other.Length != Length)
            throw new ArgumentException("caches must have the same layers and positions to be joined");
        for (int i = 0; i < layers.Count; i++)
        {
            var (k, v) = layers[i];
            var (ok, ov) = other.layers[i];
            layers[i] = (cat([k, ok], 0).DetachFromDisposeScope(), cat([v, ov], 0).DetachFromDisposeScope());
            k.Dispose(); v.Dispose(); ok.Dispose(); ov.Dispose();
        }
        other.layers.Clear();
    }

    public void Dispose()
    {
        foreach (var (k, v) in layers) { k.Dispose(); v.Dispose(); }
        layers.Clear();
        foreach (var (k, v) in cross.Values) { k.Dispose(); v.Dispose(); }
        cross.Clear();
    }
}

public sealed class Gpt2Attention : nn.Module
{
    readonly Conv1D c_attn, c_proj;
    readonly Dropout resid_dropout;
    readonly int nHead, headSize;
    readonly double attnPdrop;
    readonly double scale;
    readonly bool upcast;

    public Gpt2Attention(Gpt2Config c, int layer) : base(nameof(Gpt2Attention))
    {
        // pruned_heads (transformers' GPT2Attention.prune_heads): fewer heads of the same size; c_attn keeps q|k|v blocks of nHead·hs.
        nHead = c.NHead - c.PrunedHeadsOf(layer).Length;
        headSize = c.NEmbd / c.NHead;
        c_attn = new Conv1D(c.NEmbd, 3 * nHead * headSize);
        c_proj = new Conv1D(nHead * headSize, c.NEmbd);
        resid_dropout = Dropout(c.ResidPdrop);
        attnPdrop = c.AttnPdrop;
        // transformers' GPT2Attention._attn / _upcast_and_reordered_attn: scores · 1/√hs (scale_attn_weights) · 1/(layer+1) (scale_attn_by_inverse_layer_idx).
        scale = (c.ScaleAttnWeights ? 1.0 / Math.Sqrt(c.NEmbd / c.NHead) : 1.0) / (c.ScaleAttnByInverseLayerIdx ? layer + 1 : 1);
        upcast = c.ReorderAndUpcastAttn;
        RegisterComponents();
    }

    /// <param name="mask">additive mask (B, 1, T, S), or null for plain causal attention without a cache.</param>
    public Tensor Forward(Tensor x, Tensor? mask, KvCache? cache, int layer)
    {
        long B = x.shape[0], T = x.shape[1], hs = headSize, C = nHead * hs; // C: nh·hs, < n_embd after pruning
        var qkv = c_attn.forward(x).split(C, dim: 2); // 3 x (B, T, C)
        var q = qkv[0].view(B, T, nHead, hs).transpose(1, 2); // (B, nh, T, hs)
        var k = qkv[1].view(B, T, nHead, hs).transpose(1, 2);
        var v = qkv[2].view(B, T, nHead, hs).transpose(1, 2);
        if (cache is not null)
        {
            if (cache.Get(layer) is var (pk, pv))
            {
                k = cat([pk, k], 2); // (B, nh, S, hs)
                v = cat([pv, v], 2);
            }
            cache.Set(layer, k, v);
        }
        double p = training ? attnPdrop : 0;
        var y = Ops.Attention(q, k, v, mask, p, causal: mask is null, scale: scale, fp32: upcast);
        y = y.transpose(1, 2).reshape(B, T, C); // (B, T, C)
        return resid_dropout.forward(c_proj.forward(y));
    }
}

/// <summary>
/// transformers' GPT2Attention(is_cross_attention=True): queries from the decoder (<c>q_attn</c>), keys and values from the
/// encoder's hidden states (<c>c_attn</c>, 2·n_embd wide), no causal mask; the encoder's padding is masked instead.
/// </summary>
public sealed class Gpt2CrossAttention : nn.Module
{
    readonly Conv1D q_attn, c_attn, c_proj;
    readonly Dropout resid_dropout;
    readonly int nHead;
    readonly double attnPdrop;
    readonly double scale;

    public Gpt2CrossAttention(Gpt2Config c, int layer) : base(nameof(Gpt2CrossAttention))
    {
        q_attn = new Conv1D(c.NEmbd, c.NEmbd);
        c_attn = new Conv1D(c.NEmbd, 2 * c.NEmbd);
        c_proj = new Conv1D(c.NEmbd, c.NEmbd);
        resid_dropout = Dropout(c.ResidPdrop);
        nHead = c.NHead;
        attnPdrop = c.AttnPdrop;
        scale = (c.ScaleAttnWeights ? 1.0 / Math.Sqrt(c.NEmbd / c.NHead) : 1.0) / (c.ScaleAttnByInverseLayerIdx ? layer + 1 : 1);
        RegisterComponents();
    }

    /// <param name="enc">encoder hidden states (B, S, C); unused when the cache already holds this layer's keys and values.</param>
    /// <param name="encMask">additive mask (B, 1, 1, S), or null when the encoder input has no padding.</param>
    public Tensor Forward(Tensor x, Tensor enc, Tensor? encMask, KvCache? cache, int layer)
    {
        long B = x.shape[0], T = x.shape[1], C = x.shape[2], hs = C / nHead;
        var q = q_attn.forward(x).view(B, T, nHead, hs).transpose(1, 2); // (B, nh, T, hs)
        Tensor k, v;
        if (cache?.GetCross(layer) is var (ck, cv)) { k = ck; v = cv; }
        else
        {
            long S = enc.shape[1];
            var kv = c_attn.forward(enc).split(C, dim: 2); // 2 x (B, S, C)
            k = kv[0].view(B, S, nHead, hs).transpose(1, 2); // (B, nh, S, hs)
            v = kv[1].view(B, S, nHead, hs).transpose(1, 2);
            cache?.SetCross(layer, k, v);
        }
        var y = Ops.Attention(q, k, v, encMask, training ? attnPdrop : 0, causal: false, scale: scale);
        y = y.transpose(1, 2).reshape(B, T, C); // (B, T, C)
        return resid_dropout.forward(c_proj.forward(y));
    }
}

public sealed class Gpt2Mlp : Module<Tensor, Tensor>
{
    readonly Conv1D c_fc, c_proj;
    readonly Dropout dropout;
    readonly string act;

    public Gpt2Mlp(Gpt2Config c) : base(nameof(Gpt2Mlp))
    {
        c_fc = new Conv1D(c.NEmbd, c.InnerSize);
        c_proj = new Conv1D(c.InnerSize, c.NEmbd);
        dropout = Dropout(c.ResidPdrop);
        act = c.ActivationFunction;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => dropout.forward(c_proj.forward(c_fc.Forward(x, act)));
}

public sealed class Gpt2Block : nn.Module
{
    readonly LayerNorm ln_1, ln_2;
    readonly Gpt2Attention attn;
    readonly Gpt2Mlp mlp;
    readonly Gpt2CrossAttention? crossattention; // only with add_cross_attention
    readonly LayerNorm? ln_cross_attn;

    public Gpt2Block(Gpt2Config c, int layer) : base(nameof(Gpt2Block))
    {
        ln_1 = LayerNorm(c.NEmbd, c.LayerNormEpsilon);
        attn = new Gpt2Attention(c, layer);
        if (c.AddCrossAttention)
        {
            crossattention = new Gpt2CrossAttention(c, layer);
            ln_cross_attn = LayerNorm(c.NEmbd, c.LayerNormEpsilon);
        }
        ln_2 = LayerNorm(c.NEmbd, c.LayerNormEpsilon);
        mlp = new Gpt2Mlp(c);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor? mask, KvCache? cache, int layer, Tensor? enc = null, Tensor? encMask = null)
    {
        x = x + attn.Forward(ln_1.forward(x), mask, cache, layer);
        if (enc is not null)
        {
            if (crossattention is null)
                throw new GptBertException("encoder hidden states were given to a GPT-2 without cross-attention; set add_cross_attention in the decoder's config");
            x = x + crossattention.Forward(ln_cross_attn!.forward(x), enc, encMask, cache, layer);
        }
        return x + mlp.forward(ln_2.forward(x));
    }
}

/// <summary>The bare GPT-2 transformer: token and position embeddings, blocks, final LayerNorm.</summary>
public sealed class GPT2Model : PretrainedModel
{
    public readonly Embedding wte, wpe;
    readonly Dropout drop;
    readonly ModuleList<Gpt2Block> h;
    readonly LayerNorm ln_f;
    public Gpt2Config Cfg { get; }

    public GPT2Model(Gpt2Config c) : base(nameof(GPT2Model))
    {
        Cfg = c;
        wte = WeightInit.Embedding(c.VocabSize, c.NEmbd);
        wpe = WeightInit.Embedding(c.NPositions, c.NEmbd);
        drop = Dropout(c.EmbdPdrop);
        h = new ModuleList<Gpt2Block>(Enumerable.Range(0, c.NLayer).Select(i => new Gpt2Block(c, i)).ToArray());
        ln_f = LayerNorm(c.NEmbd, c.LayerNormEpsilon);
        RegisterComponents();
        InitWeights();
    }

    public override ModelConfig Config => Cfg;
    public override string Architecture => "GPT2Model";

    /// <summary>Last hidden state (B, T, C).</summary>
    /// <param name="inputIds">(B, T) token ids.</param>
    /// <param name="attentionMask">(B, S) with 1 for real tokens, 0 for padding, S = cached + T; null when nothing is padded.</param>
    /// <param name="cache">keys/values of earlier positions; updated in place.</param>
    /// <param name="encoderHiddenStates">(B, S, C) states the cross-attention attends over (decoder of an encoder-decoder model).</param>
    /// <param name="encoderAttentionMask">(B, S) 1 for real encoder tokens, 0 for padding; null when nothing is padded.</param>
    /// <param name="bidirectional">every position sees every (non-padding) position (GPT-BERT's masked mode); default causal.</param>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null, KvCache? cache = null, Tensor? positionIds = null,
        Tensor? encoderHiddenStates = null, Tensor? encoderAttentionMask = null, bool bidirectional = false)
    {
        if (bidirectional && cache is not null) throw new ArgumentException("bidirectional attention takes no KV cache", nameof(cache));
        using var scope = NewDisposeScope();
        using var small = SmallGemm.ForwardScope(inputIds, int8: Cfg.Quantization is { IsWeightOnly: false });
        long B = inputIds.shape[0], T = inputIds.shape[1], past = cache?.Length ?? 0;
        if (past + T > Cfg.NPositions)
            throw new GptBertException($"sequence of {past + T} tokens exceeds GPT-2's context of {Cfg.NPositions} positions; shorten the input or lower MaxNewTokens") { RelatedParameters = ["MaxNewTokens"] };
        positionIds ??= attentionMask is not null
            // Left padding: positions count real tokens only, as transformers' generate() does.
            ? (attentionMask.to(ScalarType.Int64).cumsum(1) - 1).clamp_min(0)[.., (int)past..]
            : arange(past, past + T, dtype: ScalarType.Int64, device: inputIds.device).unsqueeze(0);
        var x = drop.forward(wte.forward(inputIds) + wpe.forward(positionIds)); // (B, T, C)
        var mask = bidirectional ? PaddingMask(B, T, attentionMask, x.dtype, x.device)
            : attentionMask is null && past == 0 ? null : CausalMask(B, T, past, attentionMask, x.dtype, x.device);
        Tensor? encMask = null;
        if (encoderHiddenStates is not null && encoderAttentionMask is not null)
        {
            // transformers' invert_attention_mask: (B, 1, 1, S), 0 for real tokens, dtype-min for padding.
            long S = encoderAttentionMask.shape[1];
            encMask = zeros(B, 1, 1, S, dtype: x.dtype, device: x.device).masked_fill(encoderAttentionMask.view(B, 1, 1, S).eq(0), float.MinValue);
        }
        for (int i = 0; i < h.Count; i++)
        {
            // Each block's intermediates die with its scope (as BertEncoder's); a KV cache keeps tensors made inside, so not with one.
            using var block = cache is null ? NewDisposeScope() : null;
            x = h[i].Forward(x, mask, cache, i, encoderHiddenStates, encMask);
            if (block is not null) x = x.MoveToOuterDisposeScope();
        }
        return ln_f.forward(x).MoveToOuterDisposeScope();
    }

    /// <summary>Additive mask (B, 1, T, S): 0 where query t may see key s (s ≤ past + t and not padding), a large negative elsewhere.</summary>
    static Tensor CausalMask(long B, long T, long past, Tensor? attentionMask, ScalarType dtype, Device device)
    {
        long S = past + T;
        var q = arange(past, S, device: device).unsqueeze(1); // (T, 1)
        var k = arange(0, S, device: device).unsqueeze(0);    // (1, S)
        var allowed = (k <= q).view(1, 1, T, S);
        if (attentionMask is not null) allowed = allowed & attentionMask.to(ScalarType.Bool).view(B, 1, 1, S);
        var min = dtype == ScalarType.Float16 ? -65504.0 : dtype == ScalarType.BFloat16 ? -3.38e38 : float.MinValue;
        return zeros(1, dtype: dtype, device: device).masked_fill(allowed.logical_not(), min).expand(B, 1, T, S);
    }

    /// <summary>Additive mask (B, 1, T, T) for bidirectional attention: 0 everywhere but at padding keys (a zero (1, 1, 1, 1) when nothing is padded).</summary>
    static Tensor PaddingMask(long B, long T, Tensor? attentionMask, ScalarType dtype, Device device)
    {
        if (attentionMask is null) return zeros(1, 1, 1, 1, dtype: dtype, device: device);
        var min = dtype == ScalarType.Float16 ? -65504.0 : dtype == ScalarType.BFloat16 ? -3.38e38 : float.MinValue;
        var allowed = attentionMask.to(ScalarType.Bool).view(B, 1, 1, T);
        return zeros(1, dtype: dtype, device: device).masked_fill(allowed.logical_not(), min).expand(B, 1, T, T);
    }

    void InitWeights()
    {
        if (WeightInit.Skipped) return; // every tensor comes from a checkpoint
        using var _ = no_grad();
        double std = Cfg.InitializerRange;
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("ln_1.weight") || name.EndsWith("ln_2.weight") || name.EndsWith("ln_cross_attn.weight") || name.EndsWith("ln_f.weight")) p.fill_(1.0);
            else if (name.EndsWith(".bias")) p.zero_();
            // GPT-2 scales residual projections by 1/sqrt(2·n_layer).
            else if (name.EndsWith("c_proj.weight")) init.normal_(p, 0, std / Math.Sqrt(2.0 * Cfg.NLayer));
            else init.normal_(p, 0, std);
        }
    }
}

/// <summary>GPT-2 with the language-modelling head tied to the input embeddings.</summary>
public sealed class GPT2LMHeadModel : PretrainedModel
{
    public readonly GPT2Model transformer;

    public GPT2LMHeadModel(Gpt2Config c) : base(nameof(GPT2LMHeadModel))
    {
        transformer = new GPT2Model(c);
        RegisterComponents();
    }

    public override ModelConfig Config => transformer.Cfg;
    public override string Architecture => "GPT2LMHeadModel";
    public override string BasePrefix => "transformer";

    /// <summary>An int8 copy of the tied output head in a model quantized with --lm-head int8 (wte itself stays fp32).</summary>
    public QuantizedLinear? LmHead { get; set; }

    /// <summary>Logits (B, T, V); <paramref name="bidirectional"/>: GPT-BERT's masked mode (see <see cref="GPT2Model.Forward"/>).</summary>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null, KvCache? cache = null, Tensor? positionIds = null,
        Tensor? encoderHiddenStates = null, Tensor? encoderAttentionMask = null, bool bidirectional = false)
    {
        using var scope = NewDisposeScope();
        var hidden = transformer.Forward(inputIds, attentionMask, cache, positionIds, encoderHiddenStates, encoderAttentionMask, bidirectional);
        var logits = LmHead?.TryForward(hidden, null) ?? Ops.Linear(hidden, transformer.wte.weight!); // tied: lm_head.weight is wte.weight
        return logits.MoveToOuterDisposeScope();
    }

    /// <summary>Next-token cross-entropy (labels are the inputs shifted left; -100 is ignored).</summary>
    public static Tensor CausalLmLoss(Tensor logits, Tensor labels)
    {
        long V = logits.shape[^1];
        var shiftLogits = logits[.., ..^1, ..].reshape(-1, V); // (B·(T-1), V)
        var shiftLabels = labels[.., 1..].reshape(-1);
        return F.cross_entropy(shiftLogits, shiftLabels, ignore_index: -100);
    }
}

/// <summary>GPT-2 with a classification head on the hidden state of the last non-padding token.</summary>
public sealed class GPT2ForSequenceClassification : PretrainedModel
{
    public readonly GPT2Model transformer;
    readonly Dense score;

    public GPT2ForSequenceClassification(Gpt2Config c) : base(nameof(GPT2ForSequenceClassification))
    {
        transformer = new GPT2Model(c);
        score = new Dense(c.NEmbd, c.NumLabels, hasBias: false);
        RegisterComponents();
        using (no_grad()) init.normal_(score.weight, 0, c.InitializerRange);
    }

    public override ModelConfig Config => transformer.Cfg;
    public override string Architecture => "GPT2ForSequenceClassification";
    public override string BasePrefix => "transformer";

    /// <summary>Logits (B, num_labels).</summary>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null)
    {
        using var scope = NewDisposeScope();
        long B = inputIds.shape[0], T = inputIds.shape[1];
        // A GPT-BERT classifies with bidirectional attention (config gpt_bert.classifier_attention), still pooling the last real token.
        bool bidirectional = transformer.Cfg.GptBert is { ClassifierAttention: GptBertSettings.Bidirectional };
        var hidden = transformer.Forward(inputIds, attentionMask, bidirectional: bidirectional); // (B, T, C)
        // Index of the last real token: argmax of position·isReal (right padding, or left padding).
        var real = attentionMask?.to(ScalarType.Bool)
                   ?? (transformer.Cfg.PadTokenId is int pad ? inputIds.ne(pad) : ones(B, T, dtype: ScalarType.Bool, device: inputIds.device));
        var last = (arange(T, device: inputIds.device).unsqueeze(0) * real.to(ScalarType.Int64)).argmax(1); // (B)
        var pooled = hidden[arange(B, device: inputIds.device), last]; // (B, C)
        return score.forward(pooled).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// GPT-2 with a linear head on every position's hidden state (transformers' GPT2ForTokenClassification: dropout, then
/// classifier = Linear(n_embd, num_labels)). Causal: a position's label is predicted from that token and those to its left only.
/// </summary>
public sealed class GPT2ForTokenClassification : PretrainedModel
{
    public readonly GPT2Model transformer;
    readonly Dropout dropout;
    readonly Dense classifier;

    public GPT2ForTokenClassification(Gpt2Config c) : base(nameof(GPT2ForTokenClassification))
    {
        transformer = new GPT2Model(c);
        dropout = Dropout(c.ClassifierDropout ?? 0.1);
        classifier = new Dense(c.NEmbd, c.NumLabels);
        RegisterComponents();
        // transformers' GPT2PreTrainedModel._init_weights: Linear weights N(0, initializer_range), biases zero.
        using (no_grad()) { init.normal_(classifier.weight, 0, c.InitializerRange); classifier.bias!.zero_(); }
    }

    public override ModelConfig Config => transformer.Cfg;
    public override string Architecture => "GPT2ForTokenClassification";
    public override string BasePrefix => "transformer";

    /// <summary>Logits (B, T, num_labels).</summary>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null)
    {
        using var scope = NewDisposeScope();
        var hidden = transformer.Forward(inputIds, attentionMask); // (B, T, C)
        return classifier.forward(dropout.forward(hidden)).MoveToOuterDisposeScope();
    }
}
