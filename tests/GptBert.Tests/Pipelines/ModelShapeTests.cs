using GptBert.Models;
using GptBert.Pipelines;
using GptBert.Tokenizers;
using GptBert.Tokenizers.Training;
using GptBert.Training;

namespace GptBert.Tests.Pipelines;

/// <summary>config.json of a model trained from scratch carries its tokenizer's special ids, as transformers reads them.</summary>
public class ModelShapeTests
{
    [Fact]
    public void GptConfigTakesTheTrainedTokenizersEndOfTextId()
    {
        var texts = Enumerable.Range(0, 30).Select(i => $"Call me Ishmael, said sailor number {i}, and the whale swam on.").ToList();
        var tok = new BpeTrainer(new BpeTrainerOptions { VocabSize = 300, SpecialTokens = ["<|endoftext|>"] }).Train(texts);
        int eot = tok.TokenToId("<|endoftext|>")!.Value;
        Assert.NotEqual(50256, eot); // the GPT-2 default would point past this vocabulary

        var gpt = (Gpt2Config)new ModelShape().Config("gpt", tok);
        Assert.Equal(eot, gpt.EosTokenId);
        Assert.Equal(eot, gpt.BosTokenId);
        Assert.Equal(tok.VocabSize, gpt.VocabSize);

        var gpt2 = (Gpt2Config)new ModelShape().Config("gpt", TokenizerLoader.Load(TokenizerLoader.Gpt2));
        Assert.Equal(50256, gpt2.EosTokenId); // the original GPT-2 tokenizer keeps GPT-2's ids

        // Pretraining writes them into config.json.
        var dir = TestUtil.TempDir("shape-eot");
        var data = Path.Combine(dir, "corpus.txt");
        File.WriteAllLines(data, texts);
        var tokDir = Path.Combine(dir, "tok");
        tok.Save(tokDir);
        TrainingRuns.Pretrain(new PretrainSpec
        {
            Arch = "gpt", Data = data, Tokenizer = tokDir, Output = Path.Combine(dir, "out"), Shape = new ModelShape(Layers: 1, Hidden: 32, Heads: 2, MaxLength: 16),
            Training = new TrainingOptions { MaxSteps = 1, BatchSize = 2, EvalEvery = 0, SaveEvery = 0, LogEvery = 1 },
        }, new RunReporting(Progress: TextWriter.Null));
        var config = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "out", "config.json"))).RootElement;
        Assert.Equal(eot, config.GetProperty("eos_token_id").GetInt32());
        Assert.Equal(eot, config.GetProperty("bos_token_id").GetInt32());
        var tokConfig = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "out", "tokenizer_config.json"))).RootElement;
        Assert.Equal(128, tokConfig.GetProperty("model_max_length").GetInt32()); // the model's n_positions, not GPT-2's 1024
    }

    [Fact]
    public void BertConfigTakesTheTokenizersPadId()
    {
        var vocab = new List<string> { "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[PAD]", "a", "b" };
        var tok = new WordPieceTokenizer(vocab);
        Assert.Equal(4, new ModelShape().Config("bert", tok).PadTokenId);
    }
}
