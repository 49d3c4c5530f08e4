using System.Text;
using System.Text.Json;
using GptBert.Cli;
using GptBert.Models;

namespace GptBert.Tests.Cli;

/// <summary>What one in-process run of gptbert printed.</summary>
public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public string[] StdoutLines => Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();
    public string[] StderrLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();
    public JsonElement[] JsonLines => StdoutLines.Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToArray();

    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
}

public static class CliHarness
{
    // libtorch must be loaded once, by TestUtil's static constructor, before any test touches it: two
    // threads loading TorchSharp's native library at the same time can fail with DllNotFoundException.
    static CliHarness() => System.Runtime.CompilerServices.RuntimeHelpers.RunClassConstructor(typeof(TestUtil).TypeHandle);

    /// <summary>Runs gptbert in-process with <paramref name="stdin"/> as standard input.</summary>
    public static CliResult Run(string? stdin, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int rc = CliApp.Run(args, new StringReader(stdin ?? ""), output, error);
        return new CliResult(rc, output.ToString(), error.ToString());
    }

    /// <summary>Runs with raw stdin bytes (the real program's path: strict UTF-8 decoding with byte offsets).</summary>
    public static CliResult RunBytes(byte[] stdin, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int rc = CliApp.Run(args, new CliInput(new MemoryStream(stdin)), output, error);
        return new CliResult(rc, output.ToString(), error.ToString());
    }

    /// <summary>A failed run: the given exit code and exactly one "error: ..." line on stderr, no stack trace.</summary>
    public static string AssertOneLineError(CliResult r, int exitCode = 1)
    {
        Assert.True(r.ExitCode == exitCode, r.ToString());
        var lines = r.StderrLines;
        Assert.True(lines.Length == 1, "expected one stderr line\n" + r);
        Assert.StartsWith("error: ", lines[0]);
        Assert.DoesNotContain("   at ", r.Stderr);
        Assert.DoesNotContain("Exception", lines[0]);
        return lines[0];
    }

    public static int[] Ints(JsonElement array) => array.EnumerateArray().Select(e => e.GetInt32()).ToArray();
}

/// <summary>Tiny random models saved in Hugging Face layout once per test run (no tokenizer files: tests pass --tokenizer).</summary>
public static class TinyModels
{
    static readonly Lazy<string> gpt2 = new(() => Save("cli-gpt2", () => new GPT2LMHeadModel(new Gpt2Config
    {
        VocabSize = 50257, NEmbd = 32, NLayer = 2, NHead = 2, NPositions = 64, ResidPdrop = 0, EmbdPdrop = 0, AttnPdrop = 0,
    })));

    static readonly Lazy<string> bertMlm = new(() => Save("cli-bert-mlm", () => new BertForMaskedLM(TinyBert())));
    static readonly Lazy<string> bert = new(() => Save("cli-bert", () => new BertModel(TinyBert())));

    /// <summary>GPT2LMHeadModel, GPT-2 vocabulary, 64 positions; use with --tokenizer gpt2.</summary>
    public static string Gpt2 => gpt2.Value;
    /// <summary>BertForMaskedLM, bert-base-uncased vocabulary, 64 positions; use with --tokenizer bert-base-uncased.</summary>
    public static string BertMlm => bertMlm.Value;
    /// <summary>BertModel (encoder only), bert-base-uncased vocabulary, 64 positions.</summary>
    public static string Bert => bert.Value;

    static BertConfig TinyBert() => new()
    {
        VocabSize = 30522, HiddenSize = 32, NumHiddenLayers = 1, NumAttentionHeads = 2, IntermediateSize = 64,
        MaxPositionEmbeddings = 64, HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0,
    };

    static readonly object gate = new();

    static string Save(string name, Func<PretrainedModel> create)
    {
        lock (gate)
        {
            TestUtil.Init(42); // loads libtorch before the first module is constructed
            var dir = TestUtil.TempDir(name);
            using (var model = create()) model.SavePretrained(dir);
            return dir;
        }
    }
}
