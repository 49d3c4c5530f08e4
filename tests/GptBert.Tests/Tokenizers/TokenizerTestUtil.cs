using GptBert.Assets;
using Microsoft.ML.Tokenizers;

namespace GptBert.Tests.Tokenizers;

/// <summary>References and helpers for the tokenizer tests (nothing here runs our tokenizers).</summary>
internal static class TokenizerTestUtil
{
    static readonly Lazy<TiktokenTokenizer> tiktoken = new(() => TiktokenTokenizer.CreateForModel("gpt2"));
    static readonly Lazy<Dictionary<string, int>> bertVocab = new(ReadBertVocab);

    /// <summary>The original OpenAI GPT-2 encoding (Microsoft.ML.Tokenizers), the reference for GPT-2 ids.</summary>
    public static TiktokenTokenizer Tiktoken => tiktoken.Value;

    public static int[] ReferenceGpt2(string text) => Tiktoken.EncodeToIds(text).ToArray();

    /// <summary>bert-base-uncased vocab.txt as token → line number (a plain lookup of expected tokens).</summary>
    public static Dictionary<string, int> BertVocab => bertVocab.Value;

    static Dictionary<string, int> ReadBertVocab()
    {
        var text = System.Text.Encoding.UTF8.GetString(BuiltIn.ReadMiniLmResource("vocab.txt"));
        var lines = text.Split('\n');
        var d = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < lines.Length; i++)
        {
            var t = lines[i].TrimEnd();
            if (i == lines.Length - 1 && t.Length == 0) break;
            d[t] = i;
        }
        return d;
    }

    /// <summary>Ids of expected BERT tokens, looked up in vocab.txt; fails if a token is not in the vocab.</summary>
    public static int[] BertIds(params string[] tokens) =>
        tokens.Select(t => BertVocab.TryGetValue(t, out var id) ? id : throw new Xunit.Sdk.XunitException($"'{t}' is not in vocab.txt")).ToArray();

    public static string Escape(string s) =>
        string.Concat(s.Select(c => c < 32 || c > 126 ? $"\\u{(int)c:X4}" : c.ToString()));
}

/// <summary>A temporary directory deleted at dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "gptbert-tok-" + Guid.NewGuid().ToString("N"));
    public TempDir() => Directory.CreateDirectory(Path);
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose()
    {
        try { Directory.Delete(Path, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
