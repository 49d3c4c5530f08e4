using static GptBert.Tests.Cli.CliHarness;

namespace GptBert.Tests.Cli;

/// <summary>`gptbert export onnx` then the inference commands with --backend onnx, in-process, end to end.</summary>
public class CliOnnxTests
{
    static readonly Lazy<string> bertExport = new(() => Export(TinyModels.Bert, "bert-base-uncased"));
    static readonly Lazy<string> gpt2Export = new(() => Export(TinyModels.Gpt2, "gpt2"));

    static string Export(string model, string tokenizer)
    {
        var dir = TestUtil.TempDir("cli-onnx");
        var r = Run(null, "export", "onnx", "--model", model, "--tokenizer", tokenizer, "--output", dir);
        Assert.True(r.ExitCode == 0, r.ToString());
        return dir;
    }

    [Fact]
    public void ExportWritesASelfContainedDirectoryAndSaysWhatItTakes()
    {
        var dir = bertExport.Value;
        foreach (var file in new[] { "model.onnx", "config.json", "onnx_config.json", "vocab.txt", "tokenizer_config.json" })
            Assert.True(File.Exists(Path.Combine(dir, file)), file);
        var signature = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "onnx_config.json"))).RootElement;
        Assert.Equal("BertModel", signature.GetProperty("architecture").GetString());
        Assert.Equal("feature-extraction", signature.GetProperty("task").GetString());
        Assert.Equal(["input_ids", "attention_mask", "token_type_ids"], signature.GetProperty("inputs").EnumerateArray().Select(i => i.GetProperty("name").GetString()));

        var again = Run(null, "export", "onnx", "--model", TinyModels.Bert, "--tokenizer", "bert-base-uncased", "--output", TestUtil.TempDir("cli-onnx-again"));
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.StartsWith("exported BertModel (feature-extraction, opset 17) to ", again.StdoutLines[0]);
        Assert.Contains("inputs:  input_ids [batch_size, sequence_length] int64, attention_mask [batch_size, sequence_length] int64", again.Stdout);
        Assert.Contains("outputs: last_hidden_state [batch_size, sequence_length, 32] float32", again.Stdout);
    }

    [Fact]
    public void EmbedAndSimilarityWithTheOnnxBackendMatchTorch()
    {
        string[] texts = ["The cat sat on the mat.", "A much longer sentence, so that the batch has padding in it."];
        var torch = Run(null, ["embed", "--model", TinyModels.Bert, "--tokenizer", "bert-base-uncased", "--jsonl", .. texts]);
        var onnx = Run(null, ["embed", "--backend", "onnx", "--model", bertExport.Value, "--jsonl", .. texts]);
        Assert.True(onnx.ExitCode == 0, onnx.ToString());
        Assert.Equal("", onnx.Stderr);
        for (int i = 0; i < texts.Length; i++)
        {
            var a = torch.JsonLines[i].GetProperty("embedding").EnumerateArray().Select(e => e.GetSingle()).ToArray();
            var b = onnx.JsonLines[i].GetProperty("embedding").EnumerateArray().Select(e => e.GetSingle()).ToArray();
            Assert.Equal(32, b.Length);
            Assert.True(GptBert.Pipelines.Embedder.Cosine(a, b) >= 0.99999);
        }
        var sim = Run(null, "similarity", "--backend", "onnx", "--model", bertExport.Value, "a cat", "a kitten");
        var simTorch = Run(null, "similarity", "--model", TinyModels.Bert, "--tokenizer", "bert-base-uncased", "a cat", "a kitten");
        Assert.True(sim.ExitCode == 0, sim.ToString());
        Assert.Equal(simTorch.Stdout, sim.Stdout);
    }

    [Fact]
    public void GenerateWithTheOnnxBackendMatchesTorch()
    {
        string[] args = ["--prompt", "Once upon a time", "--greedy", "--max-new-tokens", "6", "--jsonl"];
        var torch = Run(null, ["generate", "--model", TinyModels.Gpt2, "--tokenizer", "gpt2", .. args]);
        var onnx = Run(null, ["generate", "--backend", "onnx", "--model", gpt2Export.Value, .. args]);
        Assert.True(onnx.ExitCode == 0, onnx.ToString());
        Assert.Equal(torch.Stdout, onnx.Stdout);
    }

    [Fact]
    public void FillMaskWithTheOnnxBackendMatchesTorch()
    {
        var dir = Export(TinyModels.BertMlm, "bert-base-uncased");
        const string text = "The capital of France is [MASK].";
        var torch = Run(null, "fill-mask", "--model", TinyModels.BertMlm, "--tokenizer", "bert-base-uncased", "--jsonl", text);
        var onnx = Run(null, "fill-mask", "--backend", "onnx", "--model", dir, "--jsonl", text);
        Assert.True(onnx.ExitCode == 0, onnx.ToString());
        var a = torch.JsonLines[0].GetProperty("masks")[0].GetProperty("candidates").EnumerateArray().ToArray();
        var b = onnx.JsonLines[0].GetProperty("masks")[0].GetProperty("candidates").EnumerateArray().ToArray();
        Assert.Equal(5, b.Length);
        Assert.Equal(a.Select(c => c.GetProperty("id").GetInt32()), b.Select(c => c.GetProperty("id").GetInt32()));
        for (int i = 0; i < a.Length; i++)
            Assert.True(Math.Abs(a[i].GetProperty("score").GetDouble() - b[i].GetProperty("score").GetDouble()) <= 1e-6);
    }

    [Fact]
    public void AnInt8ExportEmbedsCloseToTorch()
    {
        var dir = TestUtil.TempDir("cli-onnx-int8");
        var export = Run(null, "export", "onnx", "--model", TinyModels.Bert, "--tokenizer", "bert-base-uncased", "--output", dir, "--int8");
        Assert.True(export.ExitCode == 0, export.ToString());
        Assert.Contains("int8-dynamic", export.StdoutLines[0]);
        var torch = Run(null, "embed", "--model", TinyModels.Bert, "--tokenizer", "bert-base-uncased", "--jsonl", "Call me Ishmael.");
        var onnx = Run(null, "embed", "--backend", "onnx", "--model", dir, "--jsonl", "Call me Ishmael.");
        Assert.True(onnx.ExitCode == 0, onnx.ToString());
        var a = torch.JsonLines[0].GetProperty("embedding").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        var b = onnx.JsonLines[0].GetProperty("embedding").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        double cos = GptBert.Pipelines.Embedder.Cosine(a, b);
        Assert.True(cos >= 0.99, $"cosine {cos:F5}");
    }

    /// <summary>The point of the ONNX backend: a process that runs it never loads libtorch (glibc's LD_DEBUG lists every library loaded).</summary>
    [Fact]
    public void TheOnnxBackendNeverLoadsLibtorch()
    {
        if (!OperatingSystem.IsLinux()) return;
        string Loaded(params string[] args)
        {
            var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "GptBert.Cli.dll"));
            foreach (var a in args) psi.ArgumentList.Add(a);
            psi.Environment["LD_DEBUG"] = "libs";
            using var p = System.Diagnostics.Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEnd();
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, stderr[^Math.Min(2000, stderr.Length)..]);
            Assert.NotEmpty(stdout.Result);
            return string.Join("\n", stderr.Split('\n').Where(l => l.Contains("calling init:")));
        }
        var onnx = Loaded("embed", "--backend", "onnx", "--model", bertExport.Value, "hello");
        Assert.Contains("libonnxruntime", onnx);
        Assert.DoesNotContain("libtorch", onnx);
        // The same check sees libtorch when the torch backend runs.
        Assert.Contains("libtorch", Loaded("embed", "--model", TinyModels.Bert, "--tokenizer", "bert-base-uncased", "hello"));
    }

    [Fact]
    public void BadInputGivesOneLineErrors()
    {
        // A directory without model.onnx.
        var line = AssertOneLineError(Run(null, "embed", "--backend", "onnx", "--model", TinyModels.Bert, "hello"));
        Assert.Contains("has no model.onnx", line);
        // An unknown head, and one that does not apply to the family.
        line = AssertOneLineError(Run(null, "export", "onnx", "--model", TinyModels.Bert, "--head", "BertForTranslation", "--output", TestUtil.TempDir("x")), exitCode: 2);
        Assert.Contains("unknown --head 'BertForTranslation'", line);
        line = AssertOneLineError(Run(null, "export", "onnx", "--model", TinyModels.Bert, "--head", "text-generation", "--output", TestUtil.TempDir("x")), exitCode: 2);
        Assert.Contains("does not apply to a BERT model", line);
        // A head the checkpoint has no weights for.
        line = AssertOneLineError(Run(null, "export", "onnx", "--model", TinyModels.Bert, "--head", "BertForMaskedLM", "--output", TestUtil.TempDir("x")));
        Assert.Contains("has no trained weights for BertForMaskedLM's head", line);
        AssertOneLineError(Run(null, "export", "onnx", "--model", TinyModels.Bert, "--opset", "13", "--output", TestUtil.TempDir("x")), exitCode: 2);
        line = AssertOneLineError(Run(null, "export", "onnx", "--model", TinyModels.Bert, "--output", TinyModels.Bert), exitCode: 2);
        Assert.Contains("is the model's own directory", line);
        // The wrong kind of export for the command, and a GPU with the CPU-only backend.
        line = AssertOneLineError(Run(null, "generate", "--backend", "onnx", "--model", bertExport.Value, "--prompt", "hi"));
        Assert.Contains("generate needs a GPT-2 language model", line);
        line = AssertOneLineError(Run(null, "embed", "--backend", "onnx", "--model", gpt2Export.Value, "hi"));
        Assert.Contains("no last_hidden_state output", line);
        line = AssertOneLineError(Run(null, "embed", "--backend", "onnx", "--device", "cuda", "--model", bertExport.Value, "hi"), exitCode: 2);
        Assert.Contains("--backend onnx runs on the CPU", line);
        AssertOneLineError(Run(null, "embed", "--backend", "tensorflow", "hi"), exitCode: 2);
    }
}
