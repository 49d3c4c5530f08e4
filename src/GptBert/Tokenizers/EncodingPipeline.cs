using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace GptBert.Tokenizers;

/// <summary>Tokens of one text before special tokens, truncation and padding (offsets into that text).</summary>
internal sealed class RawEncoding
{
    public readonly List<int> Ids = new(32);
    public readonly List<string> Tokens = new(32);
    public readonly List<(int Start, int End)> Offsets = new(32);

    public int Count => Ids.Count;

    public void Add(int id, string token, int start, int end)
    {
        Ids.Add(id);
        Tokens.Add(token);
        Offsets.Add((start, end));
    }

    public void Truncate(int length)
    {
        if (length >= Ids.Count) return;
        Ids.RemoveRange(length, Ids.Count - length);
        Tokens.RemoveRange(length, Tokens.Count - length);
        Offsets.RemoveRange(length, Offsets.Count - length);
    }
}

/// <summary>One piece of a post-processing template: a special token or one of the input sequences.</summary>
internal readonly record struct TemplatePiece(int Sequence, string? Token, int Id, int TypeId)
{
    public bool IsSequence => Sequence >= 0;
    public static TemplatePiece Seq(int sequence, int typeId) => new(sequence, null, -1, typeId);
    public static TemplatePiece Special(string token, int id, int typeId) => new(-1, token, id, typeId);
}

/// <summary>
/// Hugging Face post-processing (TemplateProcessing semantics): truncation (longest_first, right side, stride 0),
/// special tokens and type ids. Shared by every tokenizer here.
/// </summary>
internal sealed class EncodingTemplate
{
    public readonly TemplatePiece[] Single;
    public readonly TemplatePiece[] Pair;

    public EncodingTemplate(TemplatePiece[] single, TemplatePiece[] pair)
    {
        Single = single;
        Pair = pair;
    }

    /// <summary>No special tokens (GPT-2): the first sequence has type id 0, the pair type id 1.</summary>
    public static readonly EncodingTemplate None = new([TemplatePiece.Seq(0, 0)], [TemplatePiece.Seq(0, 0), TemplatePiece.Seq(1, 1)]);

    /// <summary>[CLS] A [SEP] / [CLS] A [SEP] B [SEP].</summary>
    public static EncodingTemplate Bert(string cls, int clsId, string sep, int sepId) => new(
        [TemplatePiece.Special(cls, clsId, 0), TemplatePiece.Seq(0, 0), TemplatePiece.Special(sep, sepId, 0)],
        [TemplatePiece.Special(cls, clsId, 0), TemplatePiece.Seq(0, 0), TemplatePiece.Special(sep, sepId, 0),
         TemplatePiece.Seq(1, 1), TemplatePiece.Special(sep, sepId, 1)]);

    /// <summary>&lt;s&gt; A &lt;/s&gt; / &lt;s&gt; A &lt;/s&gt;&lt;/s&gt; B &lt;/s&gt; (RobertaProcessing; all type ids 0).</summary>
    public static EncodingTemplate Roberta(string cls, int clsId, string sep, int sepId) => new(
        [TemplatePiece.Special(cls, clsId, 0), TemplatePiece.Seq(0, 0), TemplatePiece.Special(sep, sepId, 0)],
        [TemplatePiece.Special(cls, clsId, 0), TemplatePiece.Seq(0, 0), TemplatePiece.Special(sep, sepId, 0),
         TemplatePiece.Special(sep, sepId, 0), TemplatePiece.Seq(1, 0), TemplatePiece.Special(sep, sepId, 0)]);

    /// <summary>Optional BOS before and EOS after each sequence (GPT2Tokenizer add_bos_token / add_eos_token).</summary>
    public static EncodingTemplate BosEos(string? bos, int? bosId, string? eos, int? eosId)
    {
        if (bos is null && eos is null) return None;
        List<TemplatePiece> single = [], pair = [];
        for (int s = 0; s < 2; s++)
        {
            var target = s == 0 ? single : pair;
            for (int seq = 0; seq <= s; seq++)
            {
                if (bos is not null) target.Add(TemplatePiece.Special(bos, bosId!.Value, seq));
                target.Add(TemplatePiece.Seq(seq, seq));
                if (eos is not null) target.Add(TemplatePiece.Special(eos, eosId!.Value, seq));
            }
        }
        return new([.. single], [.. pair]);
    }

    public int AddedCount(bool pair)
    {
        int n = 0;
        foreach (var p in pair ? Pair : Single) if (!p.IsSequence) n++;
        return n;
    }

    public TokenizedText Build(RawEncoding a, RawEncoding? b, bool addSpecialTokens, int? maxLength)
    {
        bool truncated = false;
        if (maxLength is int max)
        {
            int added = addSpecialTokens ? AddedCount(b is not null) : 0;
            if (max < 0) throw new GptBertException($"maxLength {max} is negative; give a positive number of tokens");
            if (max < added)
                throw new GptBertException(
                    $"maxLength {max} cannot hold the {added} special tokens of this tokenizer; use a maxLength of at least {added + 1}");
            truncated = TruncateLongestFirst(a, b, max - added);
        }

        TemplatePiece[] pieces = addSpecialTokens ? (b is null ? Single : Pair)
            : b is null ? None.Single : None.Pair;
        int total = 0;
        foreach (var p in pieces) total += p.IsSequence ? (p.Sequence == 0 ? a : b!).Count : 1;

        var ids = new int[total];
        var tokens = new string[total];
        var typeIds = new int[total];
        var mask = new int[total];
        var offsets = new (int, int)[total];
        var seqIds = new int[total];
        int k = 0;
        foreach (var p in pieces)
        {
            if (!p.IsSequence)
            {
                ids[k] = p.Id; tokens[k] = p.Token!; typeIds[k] = p.TypeId; mask[k] = 1; seqIds[k] = -1;
                k++;
                continue;
            }
            var src = p.Sequence == 0 ? a : b!;
            int n = src.Count;
            src.Ids.CopyTo(ids, k);
            src.Tokens.CopyTo(tokens, k);
            src.Offsets.CopyTo(offsets, k);
            Array.Fill(typeIds, p.TypeId, k, n);
            Array.Fill(mask, 1, k, n);
            Array.Fill(seqIds, p.Sequence, k, n);
            k += n;
        }
        return new TokenizedText(ids, tokens, typeIds, mask, offsets, seqIds, truncated);
    }

    /// <summary>tokenizers' truncate_encodings with TruncationStrategy::LongestFirst.</summary>
    static bool TruncateLongestFirst(RawEncoding a, RawEncoding? b, int maxLength)
    {
        int total = a.Count + (b?.Count ?? 0);
        if (total <= maxLength) return false;
        if (b is null)
        {
            a.Truncate(maxLength);
            return true;
        }
        int n1 = a.Count, n2 = b.Count;
        bool swap = false;
        if (n1 > n2)
        {
            swap = true;
            (n1, n2) = (n2, n1);
        }
        n2 = n1 > maxLength ? n1 : Math.Max(n1, maxLength - n1);
        if (n1 + n2 > maxLength)
        {
            n1 = maxLength / 2;
            n2 = n1 + maxLength % 2;
        }
        if (swap) (n1, n2) = (n2, n1);
        a.Truncate(n1);
        b.Truncate(n2);
        return true;
    }

    /// <summary>Right-pads every encoding to the longest one.</summary>
    public static IReadOnlyList<TokenizedText> PadToLongest(TokenizedText[] items, int? padId, string? padToken)
    {
        int longest = 0;
        foreach (var t in items) longest = Math.Max(longest, t.Ids.Length);
        bool needed = false;
        foreach (var t in items) needed |= t.Ids.Length != longest;
        if (!needed) return items;
        if (padId is null || padToken is null)
            throw new GptBertException("this tokenizer has no padding token, so a batch of different lengths cannot be padded; pass padToLongest: false or give it a pad token");
        var result = new TokenizedText[items.Length];
        for (int i = 0; i < items.Length; i++)
        {
            var t = items[i];
            int n = t.Ids.Length;
            if (n == longest) { result[i] = t; continue; }
            var ids = new int[longest]; t.Ids.CopyTo(ids, 0); Array.Fill(ids, padId.Value, n, longest - n);
            var tokens = new string[longest]; t.Tokens.CopyTo(tokens, 0); Array.Fill(tokens, padToken, n, longest - n);
            var typeIds = new int[longest]; t.TypeIds.CopyTo(typeIds, 0);
            var mask = new int[longest]; t.AttentionMask.CopyTo(mask, 0);
            var offsets = new (int, int)[longest]; t.Offsets.CopyTo(offsets, 0);
            var seqIds = new int[longest]; t.SequenceIds.CopyTo(seqIds, 0); Array.Fill(seqIds, -1, n, longest - n);
            result[i] = new TokenizedText(ids, tokens, typeIds, mask, offsets, seqIds, t.Truncated);
        }
        return result;
    }
}

/// <summary>An added token (special tokens such as [CLS] or &lt;|endoftext|&gt;) that is split out of raw text before tokenization.</summary>
internal sealed record AddedToken(string Content, int Id, bool Special, bool LStrip = false, bool RStrip = false);

/// <summary>
/// Finds added tokens in raw text, leftmost-longest (as tokenizers' AddedVocabulary does for non-normalized tokens).
/// </summary>
internal sealed class AddedTokenMatcher
{
    readonly AddedToken[] tokens;      // longest first
    readonly SearchValues<char>? firstChars;

    public AddedTokenMatcher(IEnumerable<AddedToken> added)
    {
        tokens = added.Where(t => t.Content.Length > 0)
            .GroupBy(t => t.Content, StringComparer.Ordinal).Select(g => g.Last())
            .OrderByDescending(t => t.Content.Length).ThenBy(t => t.Content, StringComparer.Ordinal).ToArray();
        if (tokens.Length > 0)
            firstChars = SearchValues.Create(tokens.Select(t => t.Content[0]).Distinct().ToArray());
    }

    public IReadOnlyList<AddedToken> Tokens => tokens;

    /// <summary>Calls onText for text between matches and onToken for each match, in order.</summary>
    public void Split(string text, Action<int, int> onText, Action<AddedToken, int, int> onToken)
    {
        int segStart = 0;
        if (firstChars is not null)
        {
            int pos = 0;
            while (pos < text.Length)
            {
                int rel = text.AsSpan(pos).IndexOfAny(firstChars);
                if (rel < 0) break;
                pos += rel;
                AddedToken? hit = null;
                foreach (var t in tokens)
                    if (text.AsSpan(pos).StartsWith(t.Content, StringComparison.Ordinal)) { hit = t; break; }
                if (hit is null) { pos++; continue; }
                int start = pos, stop = pos + hit.Content.Length;
                if (hit.LStrip) while (start > segStart && char.IsWhiteSpace(text[start - 1])) start--;
                if (hit.RStrip) while (stop < text.Length && char.IsWhiteSpace(text[stop])) stop++;
                if (start > segStart) onText(segStart, start);
                onToken(hit, start, stop);   // with lstrip/rstrip the token covers the stripped whitespace too
                segStart = pos = stop;
            }
        }
        if (segStart < text.Length) onText(segStart, text.Length);
    }
}

internal static class TokenizerFiles
{
    /// <summary>One indented JSON object, non-ASCII tokens written as themselves (as Hugging Face saves them).</summary>
    public static void WriteJson(Stream s, Action<Utf8JsonWriter> body)
    {
        using var w = new Utf8JsonWriter(s, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        w.WriteStartObject();
        body(w);
        w.WriteEndObject();
    }

    public static void WriteAdditionalSpecialTokens(Utf8JsonWriter w, IReadOnlyList<string> tokens)
    {
        if (tokens.Count == 0) return;
        w.WriteStartArray("additional_special_tokens");
        foreach (var t in tokens) w.WriteStringValue(t);
        w.WriteEndArray();
    }

    /// <summary>Hugging Face's clean_up_tokenization (transformers) after the WordPiece decoder's own cleanup.</summary>
    public static string CleanUpTokenization(string s)
    {
        if (s.IndexOf(' ') < 0) return s;
        return s.Replace(" .", ".").Replace(" ?", "?").Replace(" !", "!").Replace(" ,", ",")
            .Replace(" ' ", "'").Replace(" n't", "n't").Replace(" 'm", "'m").Replace(" 's", "'s")
            .Replace(" 've", "'ve").Replace(" 're", "'re");
    }
}
