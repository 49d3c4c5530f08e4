using GptBert.Pipelines;
using GptBert.Tokenizers;

namespace GptBert.Cli;

/// <summary>
/// Checks an input's token count against the limit before the pipeline runs, so the warning (or the
/// --no-truncate refusal) names the line the text came from.
/// </summary>
public static class Truncation
{
    public static void Check(CliContext ctx, InputReader reader, ITextTokenizer tokenizer, InputItem item, int maxLength,
        Overflow overflow, string limitHint)
    {
        int n = tokenizer.Encode(item.Text, item.Pair, addSpecialTokens: true).Ids.Length;
        if (n <= maxLength) return;
        if (overflow == Overflow.Refuse)
            throw new GptBertException($"{reader.Where(item)} is {n} tokens, longer than the {maxLength}-token limit; shorten it{limitHint}, or drop --no-truncate to truncate");
        ctx.Warn($"warning: {reader.Where(item)} is {n} tokens; truncated to {maxLength} (use --no-truncate to refuse instead)");
    }
}
