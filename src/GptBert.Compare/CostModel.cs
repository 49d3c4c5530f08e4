using System.Globalization;
using GptBert.Models;
using GptBert.Training;

namespace GptBert.Compare;

/// <summary>What sits on top of the transformer, which decides the parameters and FLOPs beyond the blocks.</summary>
public enum ModelHead
{
    /// <summary>The bare transformer: <c>GPT2Model</c>; <c>BertModel</c> without its pooler (add_pooling_layer=False).</summary>
    Base,
    /// <summary>Sentence embeddings: <c>GPT2Model</c> (mean pooling has no parameters); <c>BertModel</c> with its pooler (the default).</summary>
    Pooling,
    /// <summary><c>GPT2ForSequenceClassification</c> (score, no bias) or <c>BertForSequenceClassification</c> (pooler + classifier).</summary>
    Classification,
    /// <summary><c>GPT2LMHeadModel</c>: next-token logits over the vocabulary, the head tied to wte. GPT-2 only.</summary>
    LanguageModel,
    /// <summary><c>BertForMaskedLM</c>: transform (dense, LayerNorm) and a decoder tied to the word embeddings, with its own bias. BERT only.</summary>
    MaskedLanguageModel,
}

/// <summary>
/// Parameters, FLOPs, memory and speed of GPT-2 and BERT models computed from their configs, without building them.
/// Everything except <see cref="Parameters(ModelConfig, ModelHead)"/> (which is exact) is an estimate: callers that put
/// a figure from here into a <see cref="CandidateResult"/> must name it in <see cref="CandidateResult.Estimated"/>.
/// </summary>
/// <remarks>
/// <para><b>FLOPs.</b> Following Kaplan et al. 2020, "Scaling Laws for Neural Language Models" (arXiv:2001.08361),
/// Table 1, a forward pass costs about C_forward ≈ 2N + 2·n_layer·n_ctx·d_attn FLOPs per token, N being the
/// non-embedding parameters: one multiply and one add per weight of every linear layer, plus attention over the
/// context. Here every term is written out. Per token and layer, with d the hidden size, I the MLP width and T the
/// sequence length:</para>
/// <list type="bullet">
/// <item>linear layers, 2·in·out each: Q, K, V and the output projection 4·(2·d·d), the MLP 2·(2·d·I) — i.e. 2× the
/// layer's weights, Kaplan's 2N;</item>
/// <item>attention: scores q·kᵀ over T keys, 2·T·d, and the weighted sum of T values, 2·T·d: together 2·2·T·d.
/// Kaplan counts only the first (2·n_ctx·d_attn); both matmuls are of the same size, so both are counted here.
/// GPT-2's attention is causal, so on average a query only needs T/2 keys; the <b>full T</b> is counted for GPT-2
/// too, because the attention kernels on CPU compute the whole T×T score matrix and mask it, and because it keeps
/// GPT and BERT on the same footing;</item>
/// <item>heads: the LM head (GPT-2) 2·d·V per token; the MLM head (BERT) 2·d·d + 2·d·V per token (logits are
/// computed at every position, as the models here do); per-sequence heads (BERT's pooler 2·d·d, classifiers
/// 2·d·labels) are computed once per sequence and divided by T to give a per-token figure;</item>
/// <item>nothing for embedding lookups, biases, LayerNorm, activations, softmax or dropout (all O(d) per token,
/// small next to the matmuls).</item>
/// </list>
/// <para>Training costs ≈ 3× the forward pass (the backward pass computes gradients with respect to both the
/// activations and the weights, each as costly as the forward): the "6N" rule of Kaplan et al. (C ≈ 6N per token).</para>
/// <para><b>Memory.</b> Weights are fp32, 4 bytes each. Activation memory is an estimate of the tensors alive at once;
/// see <see cref="ActivationBytes"/>.</para>
/// <para><b>Speed.</b> Estimated latency = FLOPs / (efficiency × measured matmul GFLOPS). The GFLOPS figure is what a
/// large square matmul achieves on the machine (e.g. from a speed probe); a real forward pass runs smaller, thinner
/// matmuls plus non-matmul work (LayerNorm, softmax, GELU, memory copies) and framework overhead per operation, so it
/// gets only a fraction of that: <see cref="DefaultEfficiency"/> = 0.4 by default. For very small models at batch 1
/// the per-operation overhead dominates and the real latency can be several times the estimate.</para>
/// </remarks>
public static class CostModel
{
    /// <summary>Fraction of the measured matmul throughput a transformer forward pass is assumed to reach.</summary>
    public const double DefaultEfficiency = 0.4;

    /// <summary><see cref="MatchedShape"/> returns shapes within this relative distance of the target parameter count (10%).</summary>
    public const double MatchTolerance = 0.10;

    const double BytesPerFloat = 4;
    const double MiB = 1024 * 1024;

    // ------------------------------------------------------------------ parameters (exact)

    /// <summary>
    /// The exact number of parameters of the model that <paramref name="head"/> names (see <see cref="ModelHead"/>),
    /// equal to <see cref="PretrainedModel.ParameterCount"/> of the TorchSharp model. Tied weights count once.
    /// </summary>
    public static long Parameters(ModelConfig config, ModelHead head) => config switch
    {
        Gpt2Config g => Parameters(g, head),
        BertConfig b => Parameters(b, head),
        EncoderDecoderConfig e => Parameters(e),
        _ => throw new GptBertException($"no cost model for model_type {config.ModelType}; GptBert supports gpt2 and bert"),
    };

    /// <summary>GPT-2: wte V·d + wpe P·d + per block (ln_1 2d, c_attn d·3d+3d, c_proj d·d+d, ln_2 2d, c_fc d·I+I, c_proj I·d+d) + ln_f 2d.</summary>
    public static long Parameters(Gpt2Config c, ModelHead head)
    {
        long d = c.NEmbd, I = c.InnerSize, V = c.VocabSize, P = c.NPositions;
        long block = 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + 2 * d + (d * I + I) + (I * d + d);
        long model = V * d + P * d + c.NLayer * block + 2 * d;
        return head switch
        {
            ModelHead.Base or ModelHead.Pooling => model,
            ModelHead.LanguageModel => model, // lm_head.weight is wte.weight
            ModelHead.Classification => model + d * c.NumLabels, // score: Linear(d, labels, bias: false)
            ModelHead.MaskedLanguageModel => throw new GptBertException("GPT-2 has no masked-LM head; use the language-model head"),
            _ => throw new ArgumentOutOfRangeException(nameof(head)),
        };
    }

    /// <summary>
    /// BERT: embeddings (V + P + type_vocab)·H + LayerNorm 2H; per layer Q, K, V, output 4·(H·H+H), LayerNorm 2H,
    /// intermediate H·I+I, output I·H+H, LayerNorm 2H; pooler H·H+H.
    /// </summary>
    public static long Parameters(BertConfig c, ModelHead head)
    {
        long H = c.HiddenSize, I = c.IntermediateSize;
        long embeddings = (c.VocabSize + (long)c.MaxPositionEmbeddings + c.TypeVocabSize) * H + 2 * H;
        long layer = 4 * (H * H + H) + 2 * H + (H * I + I) + (I * H + H) + 2 * H;
        long encoder = embeddings + c.NumHiddenLayers * layer;
        long pooler = H * H + H;
        return head switch
        {
            ModelHead.Base => encoder,
            ModelHead.Pooling => encoder + pooler,
            ModelHead.Classification => encoder + pooler + (H * c.NumLabels + c.NumLabels),
            // transform dense H·H+H and LayerNorm 2H; decoder weight tied to the word embeddings, its bias V.
            ModelHead.MaskedLanguageModel => encoder + (H * H + H) + 2 * H + c.VocabSize,
            ModelHead.LanguageModel => throw new GptBertException("BERT is an encoder and has no causal language-model head; use the masked-LM head"),
            _ => throw new ArgumentOutOfRangeException(nameof(head)),
        };
    }

    /// <summary>
    /// An encoder-decoder (bert2gpt2): the BERT encoder with its pooler, the GPT-2 language model, and per decoder block the
    /// cross-attention (q_attn d·d+d, c_attn d·2d+2d, c_proj d·d+d) and ln_cross_attn 2d, plus enc_to_dec_proj
    /// (H·d+d) when the widths differ.
    /// </summary>
    public static long Parameters(EncoderDecoderConfig c)
    {
        long d = c.Decoder.NEmbd, H = c.Encoder.HiddenSize;
        long cross = c.Decoder.NLayer * (4 * d * d + 4 * d + 2 * d);
        long projection = H == d ? 0 : H * d + d;
        return Parameters(c.Encoder, ModelHead.Pooling) + Parameters(c.Decoder, ModelHead.LanguageModel) + cross + projection;
    }

    // ------------------------------------------------------------------ FLOPs (estimates)

    /// <summary>
    /// Forward FLOPs per token for a sequence of <paramref name="seqLength"/> tokens: per layer 2·(4·d² + 2·d·I)
    /// for the linear layers and 2·2·T·d for attention (full T, also for causal GPT-2), plus the head. See the class remarks.
    /// </summary>
    public static double ForwardFlopsPerToken(ModelConfig config, ModelHead head, int seqLength)
    {
        if (seqLength < 1) throw new GptBertException($"sequence length must be at least 1 (got {seqLength})");
        // An encoder-decoder: the encoder's and the decoder's forward, plus the cross-attention's linear layers (4·d² per block).
        if (config is EncoderDecoderConfig e)
            return ForwardFlopsPerToken(e.Encoder, ModelHead.Base, seqLength) + ForwardFlopsPerToken(e.Decoder, ModelHead.LanguageModel, seqLength)
                + e.Decoder.NLayer * (2.0 * 4.0 * e.Decoder.NEmbd * e.Decoder.NEmbd + 2.0 * 2.0 * seqLength * e.Decoder.NEmbd);
        var (layers, d, inner, vocab, labels) = Dims(config);
        double T = seqLength;
        double linear = 2.0 * (4.0 * d * d + 2.0 * d * inner);
        double attention = 2.0 * 2.0 * T * d;
        double body = layers * (linear + attention);
        bool bert = config is BertConfig;
        double headFlops = (head, bert) switch
        {
            (ModelHead.Base, _) or (ModelHead.Pooling, false) => 0,
            (ModelHead.Pooling, true) => 2.0 * d * d / T,                                   // pooler on [CLS], once per sequence
            (ModelHead.Classification, true) => (2.0 * d * d + 2.0 * d * labels) / T,       // pooler + classifier
            (ModelHead.Classification, false) => 2.0 * d * labels / T,                      // score on the last token
            (ModelHead.LanguageModel, false) => 2.0 * d * vocab,                            // logits at every position
            (ModelHead.MaskedLanguageModel, true) => 2.0 * d * d + 2.0 * d * vocab,         // transform + decoder at every position
            _ => throw new GptBertException(bert
                ? "BERT is an encoder and has no causal language-model head; use the masked-LM head"
                : "GPT-2 has no masked-LM head; use the language-model head"),
        };
        return body + headFlops;
    }

    /// <summary>Forward FLOPs of one batch: <paramref name="batch"/> sequences of <paramref name="seqLength"/> tokens.</summary>
    public static double ForwardFlops(ModelConfig config, ModelHead head, int batch, int seqLength) =>
        ForwardFlopsPerToken(config, head, seqLength) * seqLength * Math.Max(1, batch);

    /// <summary>Training FLOPs per token ≈ 3 × forward (forward + backward; Kaplan et al.'s 6N rule).</summary>
    public static double TrainingFlopsPerToken(ModelConfig config, ModelHead head, int seqLength) =>
        3.0 * ForwardFlopsPerToken(config, head, seqLength);

    // ------------------------------------------------------------------ memory (estimates)

    /// <summary>Bytes of the weights in fp32 (4 bytes per parameter), the size of a safetensors checkpoint within its small header.</summary>
    public static long WeightBytes(ModelConfig config, ModelHead head) => Parameters(config, head) * (long)BytesPerFloat;

    /// <summary>
    /// Estimated bytes of activations for <paramref name="batch"/> sequences of <paramref name="seqLength"/> tokens, fp32.
    /// </summary>
    /// <remarks>
    /// Inference (no gradients) frees each layer's tensors before the next layer runs, so the peak is one layer's worth:
    /// the larger of the attention step — residual stream, LayerNorm output, Q/K/V, attention output (6·d per token)
    /// and the scores (heads·T per token) — and the MLP step — residual, LayerNorm output (2·d) and the hidden layer
    /// before and after the activation (2·I) — plus the vocabulary logits (V per token) for LM/MLM heads.
    /// Training keeps every layer's activations for the backward pass; Korthikanti et al. 2022, "Reducing Activation
    /// Recomputation in Large Transformer Models" (arXiv:2205.05198), §4.1, count s·b·h·(34 + 5·a·s/h) bytes per layer
    /// in 16-bit precision with 1-byte dropout masks; in fp32 that is about twice as much, 2·T·B·d·(34 + 5·heads·T/d),
    /// plus logits and their gradient (2·V per token) for vocabulary heads.
    /// </remarks>
    public static double ActivationBytes(ModelConfig config, ModelHead head, int batch, int seqLength, bool training = false)
    {
        // An encoder-decoder holds the encoder's output while the decoder runs: both, summed (an upper bound).
        if (config is EncoderDecoderConfig e)
            return ActivationBytes(e.Encoder, ModelHead.Base, batch, seqLength, training) + ActivationBytes(e.Decoder, ModelHead.LanguageModel, batch, seqLength, training);
        var (layers, d, inner, vocab, _) = Dims(config);
        double heads = config is Gpt2Config g ? g.NHead : ((BertConfig)config).NumAttentionHeads;
        double tokens = Math.Max(1, batch) * (double)seqLength;
        bool vocabHead = head is ModelHead.LanguageModel or ModelHead.MaskedLanguageModel;
        if (training)
        {
            double perLayer = 2.0 * tokens * d * (34.0 + 5.0 * heads * seqLength / d);
            return layers * perLayer + (vocabHead ? 2.0 * tokens * vocab * BytesPerFloat : 0);
        }
        double attentionStep = 6.0 * d + heads * seqLength;
        double mlpStep = 2.0 * d + 2.0 * inner;
        return tokens * BytesPerFloat * (Math.Max(attentionStep, mlpStep) + (vocabHead ? vocab : 0));
    }

    /// <summary>Estimated peak memory of inference in MiB: fp32 weights plus <see cref="ActivationBytes"/> (not counting the runtime itself).</summary>
    public static double EstimatePeakMemoryMb(ModelConfig config, ModelHead head, int batch, int seqLength) =>
        (WeightBytes(config, head) + ActivationBytes(config, head, batch, seqLength)) / MiB;

    /// <summary>
    /// Estimated peak memory of training with AdamW in MiB: weights, gradients and the two Adam moments (4 × the fp32
    /// weights) plus the training activations of <see cref="ActivationBytes"/>.
    /// </summary>
    public static double EstimateTrainingMemoryMb(ModelConfig config, ModelHead head, int batch, int seqLength) =>
        (4.0 * WeightBytes(config, head) + ActivationBytes(config, head, batch, seqLength, training: true)) / MiB;

    // ------------------------------------------------------------------ speed (estimates)

    /// <summary>
    /// Estimated milliseconds for one forward pass of <paramref name="batch"/> sequences of <paramref name="seqLength"/> tokens:
    /// FLOPs / (efficiency × GFLOPS). <paramref name="matmulGflops"/> is the measured matmul throughput of the machine.
    /// </summary>
    public static double EstimateLatencyMs(ModelConfig config, ModelHead head, int seqLength, double matmulGflops,
        int batch = 1, double efficiency = DefaultEfficiency)
    {
        if (!(matmulGflops > 0)) throw new GptBertException($"the measured matmul throughput must be positive (got {matmulGflops} GFLOPS)");
        if (!(efficiency > 0 && efficiency <= 1)) throw new GptBertException($"the efficiency factor must be in (0, 1] (got {efficiency})");
        return ForwardFlops(config, head, batch, seqLength) / (efficiency * matmulGflops * 1e9) * 1000.0;
    }

    /// <summary>Estimated sequences per second at <paramref name="batch"/>: batch / estimated latency of the batch.</summary>
    public static double EstimateThroughput(ModelConfig config, ModelHead head, int seqLength, double matmulGflops,
        int batch = 1, double efficiency = DefaultEfficiency) =>
        Math.Max(1, batch) / (EstimateLatencyMs(config, head, seqLength, matmulGflops, batch, efficiency) / 1000.0);

    // ------------------------------------------------------------------ matched shapes

    /// <summary>
    /// A shape for a model trained from scratch whose parameter count is within <see cref="MatchTolerance"/> (10%) of
    /// <paramref name="targetParams"/>, counted for the model <see cref="ModelShape.Config"/> builds with
    /// <paramref name="head"/>. The shape is chosen for GPT and BERT together: the same layers/hidden/heads come back
    /// for both families whenever that shape is within tolerance for both, so a comparison differs in architecture
    /// only (BERT's extra token-type embeddings, embedding LayerNorm and pooler make it slightly larger).
    /// </summary>
    /// <remarks>
    /// Hidden sizes are multiples of 32 from 32 to 2048 with heads of 64 dimensions (32 when the hidden size is not a
    /// multiple of 64); 1 to 48 layers; the MLP is 4 × hidden as in <see cref="ModelShape.Config"/>. Among the shapes
    /// within tolerance for both families, the one minimising |ln(params/target)| + 0.05·|ln((hidden/layers)/64)| wins:
    /// closest to the target, preferring the hidden/layers ratio of 64 that GPT-2 small, BERT-base and MiniLM share.
    /// When no shape suits both families, the best shape for <paramref name="arch"/> alone is returned; when none is
    /// within tolerance at all (the vocabulary's embeddings alone may exceed a small target), a one-line error.
    /// </remarks>
    public static ModelShape MatchedShape(string arch, long targetParams, int vocab, int maxLength, ModelHead head = ModelHead.Base)
    {
        arch = arch?.Trim().ToLowerInvariant() ?? "";
        if (arch is not ("gpt" or "bert")) throw new GptBertException($"arch must be gpt or bert (got '{arch}')");
        if (targetParams < 1) throw new GptBertException($"target parameter count must be positive (got {targetParams})");
        if (vocab < 1) throw new GptBertException($"vocabulary size must be positive (got {vocab})");
        if (maxLength < 1) throw new GptBertException($"max length must be positive (got {maxLength})");
        string other = arch == "gpt" ? "bert" : "gpt";
        ModelHead otherHead = OtherFamilyHead(head, other);

        ModelShape? bestBoth = null, bestOne = null;
        double scoreBoth = double.MaxValue, scoreOne = double.MaxValue;
        long smallest = long.MaxValue;
        for (int hidden = 32; hidden <= 2048; hidden += 32)
        {
            int heads = hidden % 64 == 0 ? hidden / 64 : hidden / 32;
            for (int layers = 1; layers <= 48; layers++)
            {
                var shape = new ModelShape(layers, hidden, heads, maxLength);
                long mine = Parameters(shape.Config(arch, vocab), head);
                smallest = Math.Min(smallest, mine);
                if (!Within(mine, targetParams)) continue;
                double aspect = 0.05 * Math.Abs(Math.Log(hidden / (double)layers / 64.0));
                double score = Math.Abs(Math.Log(mine / (double)targetParams)) + aspect;
                if (score < scoreOne) { scoreOne = score; bestOne = shape; }
                long theirs = Parameters(shape.Config(other, vocab), otherHead);
                if (!Within(theirs, targetParams)) continue;
                double both = Math.Abs(Math.Log((mine + theirs) / 2.0 / targetParams)) + aspect;
                if (both < scoreBoth) { scoreBoth = both; bestBoth = shape; }
            }
        }
        return bestBoth ?? bestOne ?? throw new GptBertException(string.Create(CultureInfo.InvariantCulture,
            $"no {arch} shape with a vocabulary of {vocab:N0} comes within {MatchTolerance:0%} of {targetParams:N0} parameters " +
            $"(the smallest, 1 layer of hidden size 32, has {smallest:N0}); raise the target or use a smaller vocabulary"));
    }

    /// <summary>True when <paramref name="actual"/> is within <see cref="MatchTolerance"/> of <paramref name="target"/>.</summary>
    public static bool Within(long actual, long target) => Math.Abs(actual - (double)target) <= MatchTolerance * target;

    /// <summary>The head of the other family that does the same job (LM ↔ MLM); the others exist in both.</summary>
    static ModelHead OtherFamilyHead(ModelHead head, string otherArch) => (head, otherArch) switch
    {
        (ModelHead.LanguageModel, "bert") => ModelHead.MaskedLanguageModel,
        (ModelHead.MaskedLanguageModel, "gpt") => ModelHead.LanguageModel,
        _ => head,
    };

    static (double Layers, double D, double Inner, double Vocab, double Labels) Dims(ModelConfig config) => config switch
    {
        Gpt2Config g => (g.NLayer, g.NEmbd, g.InnerSize, g.VocabSize, g.NumLabels),
        BertConfig b => (b.NumHiddenLayers, b.HiddenSize, b.IntermediateSize, b.VocabSize, b.NumLabels),
        _ => throw new GptBertException($"no cost model for model_type {config.ModelType}; GptBert supports gpt2 and bert"),
    };
}
