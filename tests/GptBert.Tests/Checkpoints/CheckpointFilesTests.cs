using GptBert.Checkpoints;
using TorchSharp;
using static GptBert.Tests.Checkpoints.CheckpointTestUtil;
using static TorchSharp.torch;

namespace GptBert.Tests.Checkpoints;

public class CheckpointFilesTests
{
    static void WriteSafetensors(string path, string name, params float[] values) =>
        File.WriteAllBytes(path, SafetensorsFile(
            $$$"""{"{{{name}}}":{"dtype":"F32","shape":[{{{values.Length}}}],"data_offsets":[0,{{{values.Length * 4}}}]}}""", F32(values)));

    [Fact]
    public void PrefersSafetensorsOverBin()
    {
        var dir = TempDir("ck-pref");
        WriteSafetensors(Path.Combine(dir, "model.safetensors"), "dense.bias", 9, 9);
        File.WriteAllBytes(Path.Combine(dir, "pytorch_model.bin"), TorchSaveFixtures.PytorchModelBin);
        var sd = CheckpointFiles.LoadStateDict(dir);
        Assert.Equal(["dense.bias"], sd.Keys.ToArray());
        Assert.Equal([9f, 9f], sd["dense.bias"].data<float>().ToArray());
        Assert.Equal(Path.Combine(dir, "model.safetensors"), CheckpointFiles.FindWeightsFile(dir));
    }

    [Fact]
    public void FallsBackToPytorchBin()
    {
        var dir = TempDir("ck-bin");
        File.WriteAllBytes(Path.Combine(dir, "pytorch_model.bin"), TorchSaveFixtures.PytorchModelBin);
        var sd = CheckpointFiles.LoadStateDict(dir);
        Assert.Equal([0.25f, -4.0f], sd["dense.bias"].data<float>().ToArray());
    }

    [Fact]
    public void LoadsShardedSafetensors_BeforeBin()
    {
        var dir = TempDir("ck-shard");
        WriteSafetensors(Path.Combine(dir, "model-00001-of-00002.safetensors"), "a", 1, 2);
        WriteSafetensors(Path.Combine(dir, "model-00002-of-00002.safetensors"), "b", 3);
        File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"), """
            {"metadata": {"total_size": 12},
             "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
            """);
        File.WriteAllBytes(Path.Combine(dir, "pytorch_model.bin"), TorchSaveFixtures.PytorchModelBin);
        var sd = CheckpointFiles.LoadStateDict(dir);
        Assert.Equal(["a", "b"], sd.Keys.Order().ToArray());
        Assert.Equal([1f, 2f], sd["a"].data<float>().ToArray());
        Assert.Equal([3f], sd["b"].data<float>().ToArray());
    }

    [Fact]
    public void ShardedCheckpoint_MissingShard_IsNamed()
    {
        var dir = TempDir("ck-noshard");
        WriteSafetensors(Path.Combine(dir, "model-00001-of-00002.safetensors"), "a", 1);
        File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"),
            """{"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}""");
        var ex = Assert.Throws<GptBertException>(() => CheckpointFiles.LoadStateDict(dir));
        Assert.Contains("missing shard 'model-00002-of-00002.safetensors'", ex.Message);
    }

    [Fact]
    public void ShardedCheckpoint_TensorAbsentFromItsShard_IsNamed()
    {
        var dir = TempDir("ck-absent");
        WriteSafetensors(Path.Combine(dir, "s1.safetensors"), "a", 1);
        File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"), """{"weight_map": {"a": "s1.safetensors", "c": "s1.safetensors"}}""");
        var ex = Assert.Throws<GptBertException>(() => CheckpointFiles.LoadStateDict(dir));
        Assert.Contains("'c'", ex.Message);
        Assert.Contains("absent", ex.Message);
    }

    [Fact]
    public void ShardedCheckpoint_BadIndex_IsReported()
    {
        var dir = TempDir("ck-badindex");
        File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"), """{"weight_map": """);
        Assert.Contains("not valid JSON", Assert.Throws<GptBertException>(() => CheckpointFiles.LoadStateDict(dir)).Message);
        File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"), """{"weight_map": {"a": "../elsewhere.safetensors"}}""");
        Assert.Contains("not a file inside the model directory", Assert.Throws<GptBertException>(() => CheckpointFiles.LoadStateDict(dir)).Message);
    }

    [Fact]
    public void NoWeights_ListsWhatWasExpected()
    {
        var dir = TempDir("ck-none");
        File.WriteAllText(Path.Combine(dir, "config.json"), "{}");
        var ex = Assert.Throws<GptBertException>(() => CheckpointFiles.LoadStateDict(dir));
        Assert.Contains("no weights", ex.Message);
        Assert.Contains("model.safetensors", ex.Message);
        Assert.Contains("pytorch_model.bin", ex.Message);

        File.WriteAllText(Path.Combine(dir, "tf_model.h5"), "x");
        Assert.Contains("tf_model.h5 (TensorFlow)", Assert.Throws<GptBertException>(() => CheckpointFiles.LoadStateDict(dir)).Message);
    }

    [Fact]
    public void MissingDirectory_IsReported()
    {
        var dir = Path.Combine(TempDir("ck-root"), "absent");
        var ex = Assert.Throws<GptBertException>(() => CheckpointFiles.LoadStateDict(dir));
        Assert.Contains("not found", ex.Message);
    }
}
