using System.Text.Json;

namespace GptBert.Reporting;

/// <summary>
/// Language-model quality from a summed negative log-likelihood (natural log, over every scored token)
/// and counts. Accumulate over batches with <see cref="Add"/> or <c>+</c>, then read the derived values.
/// <para>
/// <see cref="Loss"/> and <see cref="Perplexity"/> are per token, so they depend on the tokenizer: a
/// GPT-2 BPE token and a BERT WordPiece token are not the same unit. <see cref="BitsPerCharacter"/>
/// divides the same total by the number of characters of the scored text instead, which makes models
/// with different tokenizers comparable (for a masked LM, pass the characters covered by the masked
/// tokens, and the figure is a pseudo-likelihood, not a true one).
/// </para>
/// Values that are undefined (no tokens, no characters) are <see cref="double.NaN"/>.
/// </summary>
public readonly record struct LanguageModelMetrics(double SumNll, long Tokens, long Characters = 0)
{
    /// <summary>Mean negative log-likelihood per token, in nats (the usual cross-entropy "loss").</summary>
    public double Loss => Tokens > 0 ? SumNll / Tokens : double.NaN;

    /// <summary>exp(<see cref="Loss"/>); +∞ when the loss is too large to exponentiate.</summary>
    public double Perplexity => Math.Exp(Loss);

    /// <summary>Mean negative log-likelihood per token in bits (<see cref="Loss"/> / ln 2).</summary>
    public double BitsPerToken => Loss / Math.Log(2);

    /// <summary>Total negative log-likelihood per character of scored text, in nats.</summary>
    public double LossPerCharacter => Characters > 0 ? SumNll / Characters : double.NaN;

    /// <summary>Total negative log-likelihood per character of scored text, in bits: tokenizer-independent.</summary>
    public double BitsPerCharacter => LossPerCharacter / Math.Log(2);

    /// <summary>Average number of characters per token (how much text one token covers).</summary>
    public double CharactersPerToken => Tokens > 0 && Characters > 0 ? (double)Characters / Tokens : double.NaN;

    /// <summary>Adds one batch: its summed NLL (nats), its scored tokens and the characters they cover.</summary>
    public LanguageModelMetrics Add(double sumNll, long tokens, long characters = 0) =>
        new(SumNll + sumNll, Tokens + tokens, Characters + characters);

    public static LanguageModelMetrics operator +(LanguageModelMetrics a, LanguageModelMetrics b) =>
        new(a.SumNll + b.SumNll, a.Tokens + b.Tokens, a.Characters + b.Characters);

    /// <summary>From a mean per-token loss (what a training step reports) and the token count behind it.</summary>
    public static LanguageModelMetrics FromMeanLoss(double meanLoss, long tokens, long characters = 0) =>
        new(meanLoss * tokens, tokens, characters);

    /// <summary>exp(loss), the perplexity of a mean per-token loss in nats.</summary>
    public static double PerplexityOf(double meanLoss) => Math.Exp(meanLoss);

    /// <summary>
    /// Writes <c>loss</c>, <c>perplexity</c>, <c>bits_per_token</c>, <c>tokens</c> and, when characters
    /// were counted, <c>characters</c>, <c>loss_per_character</c>, <c>bits_per_character</c>; an
    /// undefined or infinite value is written as null.
    /// </summary>
    public void WriteJsonProperties(Utf8JsonWriter w)
    {
        WriteNumberOrNull(w, "loss", Loss);
        WriteNumberOrNull(w, "perplexity", Perplexity);
        WriteNumberOrNull(w, "bits_per_token", BitsPerToken);
        w.WriteNumber("tokens", Tokens);
        if (Characters > 0)
        {
            w.WriteNumber("characters", Characters);
            WriteNumberOrNull(w, "loss_per_character", LossPerCharacter);
            WriteNumberOrNull(w, "bits_per_character", BitsPerCharacter);
        }
    }

    static void WriteNumberOrNull(Utf8JsonWriter w, string name, double v)
    {
        if (double.IsFinite(v)) w.WriteNumber(name, v);
        else w.WriteNull(name);
    }
}
