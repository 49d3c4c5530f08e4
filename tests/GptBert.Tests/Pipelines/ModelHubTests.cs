using GptBert.Pipelines;

namespace GptBert.Tests.Pipelines;

public class ModelHubTests
{
    [Fact]
    public void DirectoriesPassThroughUnchanged()
    {
        Assert.Equal("some/model-dir", ModelHub.ResolveDirectory("some/model-dir"));
        Assert.Equal("no-such-model", ModelHub.ResolveDirectory("no-such-model"));
    }

    [Fact]
    public void MissingDirectoryIsOneLineErrorNamingTheBuiltIn()
    {
        var ex = Assert.Throws<GptBertException>(() => ModelHub.ExistingDirectory(Path.Combine(TestUtil.TempDir("hub"), "nope")));
        Assert.Contains("not found", ex.Message);
        Assert.Contains(ModelHub.MiniLm, ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void DisplayNamesNameTheBuiltInOrTheFolder()
    {
        Assert.Equal("MiniLM (pretrained BERT)", ModelHub.DisplayName("minilm", "bert"));
        Assert.Equal("MiniLM (pretrained BERT)", ModelHub.DisplayName("All-MiniLM-L6-v2", "bert"));
        Assert.Equal("my-gpt (GPT)", ModelHub.DisplayName(Path.Combine("runs", "my-gpt") + Path.DirectorySeparatorChar, "gpt"));
        Assert.Equal("my-bert (BERT)", ModelHub.DisplayName("my-bert", "bert"));
        Assert.Equal("my-gpt (GPT, mean pooling)", ModelHub.DisplayName("my-gpt", "gpt", "mean pooling"));
    }
}
