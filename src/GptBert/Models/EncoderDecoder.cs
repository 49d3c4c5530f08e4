using GptBert.Checkpoints;
// A BERT encoder and a GPT-2 decoder joined by cross-attention: transformers' EncoderDecoderModel ("bert2gpt2", Rothe et al.
// 2020, "Leveraging Pre-trained Checkpoints for Sequence Generation Tasks"). config.json and state-dict keys are exactly those
// of transformers 4.40's modeling_encoder_decoder.py: encoder.* (BertModel), decoder.* (GPT2LMHeadModel with
// add_cross_attention), enc_to_dec_proj when the widths differ.
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace GptBert.Models;

/// <summary>transformers' EncoderDecoderConfig: the two sub-configs under "encoder" and "decoder".</summary>
public sealed record EncoderDecoderConfig : ModelConfig
{
    public const string Type = "encoder-decoder";
    public override string ModelType => Type;
    [JsonIgnore] public BertConfig Encoder { get; set; } = new();
    [JsonIgnore] public Gpt2Config Decoder { get; set; } = new() { AddCrossAttention = true, IsDecoder = true };
    [JsonPropertyName("is_encoder_decoder")] public bool IsEncoderDecoder { get; set; } = true;
    /// <summary>First decoder input; labels are shifted right behind it (transformers' shift_tokens_right).</summary>
    [JsonPropertyName("decoder_start_token_id")] public int? DecoderStartTokenId { get; set; }
    [JsonPropertyName("tie_encoder_decoder")] public bool TieEncoderDecoder { get; set; }

    [JsonIgnore] public override int MaxPositions => Decoder.NPositions;

    /// <summary>Joins a BERT and a GPT-2 config the way from_encoder_decoder_pretrained does (decoder marked as a cross-attending decoder).</summary>
    public static EncoderDecoderConfig From(BertConfig encoder, Gpt2Config decoder) => new()
    {
        Encoder = encoder,
        Decoder = decoder with { AddCrossAttention = true, IsDecoder = true, Architectures = null },
        VocabSize = decoder.VocabSize,
        // GPT-2 has no start or pad token of its own; bert2gpt2 recipes use its bos (= eos) for both.
        DecoderStartTokenId = decoder.BosTokenId,
        PadTokenId = decoder.PadTokenId ?? decoder.EosTokenId,
    };

    internal static EncoderDecoderConfig Parse(JsonObject node, string source)
    {
        ModelConfig Sub(string name, string type)
        {
            if (node[name] is not JsonObject sub)
                throw new GptBertException($"{source}: an encoder-decoder config needs an \"{name}\" object (a {type} config)");
            string? t = sub["model_type"]?.GetValue<string>();
            return t switch
            {
                "bert" when type == "bert" => JsonSerializer.Deserialize<BertConfig>(sub.ToJsonString(), JsonOptions)!,
                "gpt2" when type == "gpt2" => JsonSerializer.Deserialize<Gpt2Config>(sub.ToJsonString(), JsonOptions)!,
                _ => throw new GptBertException($"{source}: {name} model_type \"{t}\" is not supported; GptBert's encoder-decoder is a bert encoder with a gpt2 decoder"),
            };
        }
        var rest = node.DeepClone().AsObject();
        rest.Remove("encoder"); rest.Remove("decoder");
        var cfg = JsonSerializer.Deserialize<EncoderDecoderConfig>(rest.ToJsonString(), JsonOptions)!;
        cfg.Encoder = (BertConfig)Sub("encoder", "bert");
        cfg.Decoder = (Gpt2Config)Sub("decoder", "gpt2");
        if (cfg.VocabSize == 0) cfg.VocabSize = cfg.Decoder.VocabSize;
        return cfg;
    }

    public override JsonObject ToJsonObject()
    {
        var o = base.ToJsonObject();
        o["encoder"] = Encoder.ToJsonObject();
        o["decoder"] = Decoder.ToJsonObject();
        return o;
    }

    public override void Validate(string source)
    {
        Encoder.Validate(source + " (encoder)");
        Decoder.Validate(source + " (decoder)");
        Require(Decoder.AddCrossAttention, source, "the decoder needs \"add_cross_attention\": true to read the encoder");
        Require(!TieEncoderDecoder, source, "tie_encoder_decoder=true is not supported (a BERT encoder and a GPT-2 decoder share no weights)");
    }
}

/// <summary>transformers' EncoderDecoderModel with a BertModel encoder and a GPT2LMHeadModel decoder.</summary>
public sealed class EncoderDecoderModel : PretrainedModel
{
    public readonly BertModel encoder;
    public readonly GPT2LMHeadModel decoder;
    readonly Dense? enc_to_dec_proj; // nn.Linear(encoder hidden, decoder hidden) when the widths differ
    public EncoderDecoderConfig Cfg { get; }

    public EncoderDecoderModel(EncoderDecoderConfig c) : base(nameof(EncoderDecoderModel))
    {
        Cfg = c;
        encoder = new BertModel(c.Encoder);
        decoder = new GPT2LMHeadModel(c.Decoder);
        if (c.Encoder.HiddenSize != c.Decoder.NEmbd) enc_to_dec_proj = new Dense(c.Encoder.HiddenSize, c.Decoder.NEmbd);
        RegisterComponents();
    }

    public override ModelConfig Config => Cfg;
    public override string Architecture => "EncoderDecoderModel";

    /// <summary>Encoder hidden states in the decoder's width (B, S, C_dec).</summary>
    public Tensor Encode(Tensor inputIds, Tensor? attentionMask = null)
    {
        using var scope = NewDisposeScope();
        var h = encoder.Forward(inputIds, attentionMask, pool: false).LastHiddenState; // (B, S, C_enc)
        if (enc_to_dec_proj is not null) h = enc_to_dec_proj.forward(h);
        return h.MoveToOuterDisposeScope();
    }

    /// <summary>Decoder logits (B, T, V) for decoder inputs given the encoder's states.</summary>
    public Tensor Decode(Tensor encoderStates, Tensor? encoderAttentionMask, Tensor decoderInputIds, Tensor? decoderAttentionMask = null, KvCache? cache = null) =>
        decoder.Forward(decoderInputIds, decoderAttentionMask, cache, encoderHiddenStates: encoderStates, encoderAttentionMask: encoderAttentionMask);

    /// <summary>Logits (B, T, V): encoder over <paramref name="inputIds"/>, decoder over <paramref name="decoderInputIds"/>.</summary>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask, Tensor decoderInputIds, Tensor? decoderAttentionMask = null)
    {
        using var scope = NewDisposeScope();
        var enc = Encode(inputIds, attentionMask);
        return Decode(enc, attentionMask, decoderInputIds, decoderAttentionMask).MoveToOuterDisposeScope();
    }

    /// <summary>transformers' shift_tokens_right: start token first, labels moved one right, -100 replaced by the pad id.</summary>
    public static Tensor ShiftTokensRight(Tensor labels, int padTokenId, int decoderStartTokenId)
    {
        var shifted = zeros_like(labels);
        shifted[.., 1..] = labels[.., ..^1];
        shifted[.., 0] = decoderStartTokenId;
        return shifted.masked_fill(shifted.eq(-100), padTokenId);
    }

    /// <summary>Cross-entropy of logits (B, T, V) against labels (B, T), unshifted (the decoder inputs were shifted instead); -100 ignored.</summary>
    public static Tensor Loss(Tensor logits, Tensor labels) =>
        F.cross_entropy(logits.reshape(-1, logits.shape[^1]), labels.reshape(-1), ignore_index: -100);

    /// <summary>Loss of a batch of labels, decoder inputs built from them as transformers' EncoderDecoderModel.forward does.</summary>
    public Tensor LabelsLoss(Tensor inputIds, Tensor? attentionMask, Tensor labels)
    {
        using var scope = NewDisposeScope();
        int start = Cfg.DecoderStartTokenId ?? throw new GptBertException("the encoder-decoder config has no decoder_start_token_id; set it in config.json");
        int pad = Cfg.PadTokenId ?? throw new GptBertException("the encoder-decoder config has no pad_token_id; set it in config.json");
        var logits = Forward(inputIds, attentionMask, ShiftTokensRight(labels, pad, start));
        return Loss(logits, labels).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Greedy decoding: the encoder runs once; with <paramref name="useCache"/> the decoder feeds one token a step and reuses
    /// its self-attention keys/values and the cross-attention keys/values of the encoder states. Stops at the decoder's eos.
    /// </summary>
    /// <returns>Generated ids per row, without the start token and the eos.</returns>
    public List<List<long>> GenerateGreedy(Tensor inputIds, Tensor? attentionMask, int maxNewTokens, bool useCache = true)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        int start = Cfg.DecoderStartTokenId ?? throw new GptBertException("the encoder-decoder config has no decoder_start_token_id; set it in config.json");
        int? eos = Cfg.Decoder.EosTokenId;
        long B = inputIds.shape[0];
        var enc = Encode(inputIds, attentionMask);
        using var cache = useCache ? new KvCache() : null;
        var seq = full(B, 1, start, dtype: ScalarType.Int64, device: inputIds.device); // (B, t)
        var output = Enumerable.Range(0, (int)B).Select(_ => new List<long>()).ToList();
        var done = new bool[B];
        for (int step = 0; step < maxNewTokens && !done.All(d => d); step++)
        {
            var input = useCache ? seq[.., ^1..] : seq;
            var logits = Decode(enc, attentionMask, input, cache: cache); // (B, t', V)
            var next = logits[.., -1, ..].argmax(-1); // (B)
            var ids = TensorBytes.ToArray<long>(next);
            for (int b = 0; b < B; b++)
            {
                if (done[b]) continue;
                if (ids[b] == eos) done[b] = true; else output[b].Add(ids[b]);
            }
            seq = cat([seq, next.unsqueeze(1)], 1);
        }
        return output;
    }
}
