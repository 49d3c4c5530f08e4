using GptBert.Tokenizers;

namespace GptBert.Retrieval;

/// <summary>One passage of a document: characters [Start, End) of the source's text.</summary>
public sealed record Chunk(string Source, int Start, int End, string Text, int Tokens);

/// <summary>How documents are cut into passages.</summary>
public sealed record ChunkingOptions
{
    /// <summary>Tokens of text per chunk at most (the model's special tokens come on top).</summary>
    public int MaxTokens { get; init; } = 128;
    /// <summary>Tokens of whole sentences a chunk repeats from the end of the one before, at most (0: none).</summary>
    public int OverlapTokens { get; init; } = 16;

    public void Validate()
    {
        if (MaxTokens < 8) throw new GptBertException($"ChunkTokens must be at least 8 (got {MaxTokens})") { Parameter = "ChunkTokens" };
        if (OverlapTokens < 0 || OverlapTokens >= MaxTokens)
            throw new GptBertException($"ChunkOverlap must be ≥ 0 and below ChunkTokens ({MaxTokens}) (got {OverlapTokens})") { Parameter = "ChunkOverlap", RelatedParameters = ["ChunkTokens"] };
    }
}

/// <summary>
/// Cuts documents into passages on sentence boundaries, packed up to a token budget, with whole sentences of overlap
/// between neighbours (as LlamaIndex's SentenceSplitter and LangChain's text splitters do). A sentence longer than the
/// budget is cut at token boundaries. Every chunk is an exact character range of its document.
/// </summary>
public static class Chunker
{
    static bool IsTerminal(char c) => c is '.' or '!' or '?' or '…' or '。' or '！' or '？' or '；';
    static bool IsCjkTerminal(char c) => c is '。' or '！' or '？' or '；';
    static bool IsCloser(char c) => c is '"' or '\'' or ')' or ']' or '}' or '»' or '”' or '’' or '」' or '』' or '）';

    /// <summary>
    /// Sentence spans [Start, End) with surrounding whitespace left out: a sentence ends after . ! ? … (and any closing
    /// quotes or brackets) followed by whitespace, after a CJK full stop (no space needed), or at a blank line.
    /// </summary>
    public static IReadOnlyList<(int Start, int End)> Sentences(string text)
    {
        var spans = new List<(int, int)>();
        int i = 0, n = text.Length;
        while (i < n)
        {
            while (i < n && char.IsWhiteSpace(text[i])) i++;
            if (i >= n) break;
            int start = i, end = -1;
            while (i < n)
            {
                char c = text[i];
                if (c == '\n' && BlankLineAt(text, i)) { end = i; break; }
                if (IsTerminal(c))
                {
                    int j = i + 1;
                    while (j < n && (IsTerminal(text[j]) || IsCloser(text[j]))) j++;
                    if (j >= n || char.IsWhiteSpace(text[j]) || IsCjkTerminal(c)) { end = j; i = j; break; }
                    i = j;
                    continue;
                }
                i++;
            }
            if (end < 0) end = n;
            int trimmed = end;
            while (trimmed > start && char.IsWhiteSpace(text[trimmed - 1])) trimmed--;
            if (trimmed > start) spans.Add((start, trimmed));
            i = Math.Max(i, end);
        }
        return spans;
    }

    static bool BlankLineAt(string text, int newline)
    {
        for (int j = newline + 1; j < text.Length && text[j] != '\n'; j++)
            if (!char.IsWhiteSpace(text[j])) return false;
        return true;
    }

    /// <summary>The chunks of one document, in order.</summary>
    public static IReadOnlyList<Chunk> Split(string source, string text, ITextTokenizer tokenizer, ChunkingOptions options)
    {
        options.Validate();
        int Count(int start, int end) => tokenizer.Encode(text[start..end], addSpecialTokens: false).Length;

        // Pieces: sentences, with any sentence over the budget cut at token boundaries.
        var pieces = new List<(int Start, int End, int Tokens)>();
        foreach (var (s, e) in Sentences(text))
        {
            int tokens = Count(s, e);
            if (tokens <= options.MaxTokens) { pieces.Add((s, e, tokens)); continue; }
            var enc = tokenizer.Encode(text[s..e], addSpecialTokens: false);
            for (int t = 0; t < enc.Length; t += options.MaxTokens)
            {
                int last = Math.Min(t + options.MaxTokens, enc.Length) - 1;
                int ps = s + enc.Offsets[t].Start, pe = s + enc.Offsets[last].End;
                if (t + options.MaxTokens < enc.Length) pe = Math.Max(pe, s + enc.Offsets[last + 1].Start);
                while (pe > ps && char.IsWhiteSpace(text[pe - 1])) pe--;
                if (pe > ps) pieces.Add((ps, pe, Math.Min(options.MaxTokens, Count(ps, pe))));
            }
        }

        var chunks = new List<Chunk>();
        var current = new List<(int Start, int End, int Tokens)>();
        int sum = 0;
        void Emit()
        {
            if (current.Count == 0) return;
            int s = current[0].Start, e = current[^1].End;
            int exact = Count(s, e);
            // Joined text can tokenize a little longer than its parts; give back trailing sentences until it fits.
            while (exact > options.MaxTokens && current.Count > 1)
            {
                var back = current[^1];
                current.RemoveAt(current.Count - 1);
                Emit();
                current.Clear();
                current.Add(back);
                sum = back.Tokens;
                s = back.Start; e = back.End; exact = Count(s, e);
            }
            chunks.Add(new Chunk(source, s, e, text[s..e], exact));
        }
        foreach (var piece in pieces)
        {
            if (current.Count > 0 && sum + piece.Tokens > options.MaxTokens)
            {
                Emit();
                // Overlap: the last whole sentences of the chunk just written, up to the overlap budget.
                var keep = new List<(int Start, int End, int Tokens)>();
                int kept = 0;
                for (int j = current.Count - 1; j >= 1; j--)
                {
                    if (kept + current[j].Tokens > options.OverlapTokens || kept + current[j].Tokens + piece.Tokens > options.MaxTokens) break;
                    keep.Insert(0, current[j]);
                    kept += current[j].Tokens;
                }
                current = keep;
                sum = kept;
            }
            current.Add(piece);
            sum += piece.Tokens;
        }
        Emit();
        return chunks;
    }
}
