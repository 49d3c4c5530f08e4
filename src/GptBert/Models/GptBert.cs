// GPT-BERT (Charpentier & Samuel, "GPT or BERT: why not both?", BabyLM 2024, arXiv 2410.24159): one transformer trained
// on causal-LM batches and masked-next-token-prediction (MNTP) batches. The model is a plain GPT-2 (GPT2LMHeadModel, so
// transformers loads and generates with it, causally); config.json's "gpt_bert" field tells GptBert it also has a
// masked mode: bidirectional attention, a [MASK] token, and the prediction for a [MASK] at position i read at i − 1.
// Where we differ from the paper: the backbone is GPT-2's (pre-LayerNorm, learned positions, tied head), not LTG-BERT's;
// the masking is BERT's 15% with 80/10/10 (the paper also tunes the rate), and the mask token is added to a byte-level
// BPE vocabulary as "[MASK]" (id = the original vocabulary size, e.g. 50257 for GPT-2's, vocab_size + 1).
using System.Text.Json.Serialization;
using GptBert.Tokenizers;

namespace GptBert.Models;

/// <summary>The "gpt_bert" field of a GPT-BERT's config.json.</summary>
public sealed record GptBertSettings
{
    public const string Bidirectional = "bidirectional";
    public const string DefaultMaskToken = "[MASK]";
    /// <summary>The paper's 1:15 causal-to-masked ratio as a fraction of causal batches.</summary>
    public const double DefaultCausalRatio = 1.0 / 16;

    /// <summary>Fraction of training batches that were causal (the rest masked next-token prediction).</summary>
    [JsonPropertyName("causal_ratio")] public double CausalRatio { get; set; } = DefaultCausalRatio;
    [JsonPropertyName("mask_token")] public string MaskToken { get; set; } = DefaultMaskToken;
    [JsonPropertyName("mask_token_id")] public int MaskTokenId { get; set; }
    /// <summary>How a sequence classifier fine-tuned from it attends ("bidirectional": evaluate and classify run it the same way).</summary>
    [JsonPropertyName("classifier_attention")] public string ClassifierAttention { get; set; } = Bidirectional;
    /// <summary>Masked predictions are shifted: the token at position i is predicted from the output at position i − 1.</summary>
    [JsonPropertyName("masked_prediction_shift")] public int MaskedPredictionShift { get; set; } = 1;
}

/// <summary>Vocabulary helpers for GPT-BERT.</summary>
public static class GptBertVocabulary
{
    /// <summary>
    /// <paramref name="tok"/> with a mask token: unchanged when it has one, else a byte-level BPE tokenizer gets "[MASK]"
    /// as a special token with the next free id (so a model built for it has one more embedding row).
    /// </summary>
    public static ITextTokenizer WithMaskToken(ITextTokenizer tok)
    {
        if (tok.MaskId is not null) return tok;
        if (tok is not ByteLevelBpeTokenizer bpe)
            throw new GptBertException("GPT-BERT needs a byte-level BPE tokenizer (gpt2 or one from 'gptbert tokenizer train') or one with a mask token") { Parameter = "Tokenizer" };
        var vocab = tok.Entries().ToDictionary(e => e.Token, e => e.Id);
        if (vocab.ContainsKey(GptBertSettings.DefaultMaskToken))
            throw new GptBertException($"the tokenizer already has an ordinary token {GptBertSettings.DefaultMaskToken}; use one without it") { Parameter = "Tokenizer" };
        vocab[GptBertSettings.DefaultMaskToken] = tok.VocabSize;
        return new ByteLevelBpeTokenizer(vocab, bpe.Merges, bpe.Options with { MaskToken = GptBertSettings.DefaultMaskToken });
    }

    /// <summary>Whether the model directory (or built-in name) holds a GPT-BERT.</summary>
    public static bool IsGptBert(string directory)
    {
        var path = Path.Combine(directory, "config.json");
        return File.Exists(path) && ModelConfig.Load(path) is Gpt2Config { GptBert: not null };
    }
}
