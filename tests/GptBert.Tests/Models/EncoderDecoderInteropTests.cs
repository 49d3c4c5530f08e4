using System.Text.Json;
using System.Text.Json.Nodes;
using GptBert.Checkpoints;
using GptBert.Models;
using GptBert.Pipelines;
using static TorchSharp.torch;

namespace GptBert.Tests.Models;

/// <summary>
/// The other direction of EncoderDecoderTests.MatchesTransformersEncoderDecoderModel: Golden/encdec-ours is a warm-started
/// encoder-decoder directory written by GptBert (tiny BERT 48 wide + tiny byte-level GPT-2 32 wide, both tokenizers), and its
/// expected.json is what transformers 4.40 made of it (tools/hf-check/encdec_golden.py DIR --write): loading info, the two
/// tokenizers' ids, logits and greedy generation.
/// </summary>
public class EncoderDecoderInteropTests
{
    static readonly string Dir = RepoFiles.At("tests", "GptBert.Tests", "Models", "Golden", "encdec-ours");

    static JsonElement Expected() => JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, "expected.json"))).RootElement;

    static long[][] Rows(JsonElement e) => e.EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetInt64()).ToArray()).ToArray();

    static Tensor Ids(JsonElement e)
    {
        var rows = Rows(e);
        return tensor(rows.SelectMany(r => r).ToArray(), [rows.Length, rows[0].Length]);
    }

    [Fact]
    public void TransformersLoadsOurDirectoryWithNothingMissingAndBothTokenizers()
    {
        var e = Expected();
        foreach (var list in new[] { "missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs" })
            Assert.Equal(0, e.GetProperty("loading_info").GetProperty(list).GetArrayLength());
        Assert.Equal("BertTokenizer", e.GetProperty("encoder_tokenizer_class").GetString());
        Assert.Equal("GPT2Tokenizer", e.GetProperty("decoder_tokenizer_class").GetString());
    }

    [Fact]
    public void TransformersGivesOurModelTheSameLogitsTokensAndGeneration()
    {
        TestUtil.Init();
        var e = Expected();
        using var handle = ModelHub.Load(Dir);
        var m = Assert.IsType<EncoderDecoderModel>(handle.Model);
        // The encoder's tokenizer (encoder_tokenizer/) and the decoder's (top level) give transformers' ids.
        var sources = e.GetProperty("sources").EnumerateArray().Select(s => s.GetString()!).ToList();
        var batch = handle.SourceTokenizer!.EncodeBatch(sources.Select(s => (s, (string?)null)).ToList());
        Assert.Equal(Rows(e.GetProperty("input_ids")), batch.Select(b => b.Ids.Select(i => (long)i).ToArray()).ToArray());
        Assert.Equal(Rows(e.GetProperty("attention_mask")), batch.Select(b => b.AttentionMask.Select(i => (long)i).ToArray()).ToArray());
        var targets = e.GetProperty("targets").EnumerateArray().Select(s => s.GetString()!).ToList();
        Assert.Equal(Rows(e.GetProperty("target_ids")), targets.Select(t => handle.Tokenizer.Encode(t, addSpecialTokens: false).Ids.Select(i => (long)i).ToArray()).ToArray());

        using var _ = no_grad();
        var logits = m.Forward(Ids(e.GetProperty("input_ids")), Ids(e.GetProperty("attention_mask")), Ids(e.GetProperty("decoder_input_ids")));
        var want = tensor(e.GetProperty("logits").EnumerateArray().Select(v => v.GetSingle()).ToArray()).view(logits.shape);
        Assert.True(TestUtil.MaxAbsDiff(logits, want) < 1e-4, $"max diff {TestUtil.MaxAbsDiff(logits, want)}");
        int eos = m.Cfg.Decoder.EosTokenId!.Value;
        var gen = m.GenerateGreedy(Ids(e.GetProperty("input_ids")), Ids(e.GetProperty("attention_mask")), maxNewTokens: 6);
        Assert.Equal(Rows(e.GetProperty("greedy")).Select(r => r.Skip(1).TakeWhile(t => t != eos).ToList()).ToList(), gen);
    }

    [Fact]
    public void OurWriterStillWritesTheDirectoryTransformersAccepted()
    {
        TestUtil.Init();
        var (loaded, report) = ModelFactory.Load(Dir);
        using var m = Assert.IsType<EncoderDecoderModel>(loaded);
        Assert.Empty(report.NewlyInitialized);
        var again = TestUtil.TempDir("encdec-resave");
        m.SavePretrained(again);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(File.ReadAllText(Path.Combine(Dir, "config.json"))), JsonNode.Parse(File.ReadAllText(Path.Combine(again, "config.json")))),
            "config.json differs from the one transformers loaded");
        var committed = CheckpointFiles.LoadStateDict(Dir);
        var written = CheckpointFiles.LoadStateDict(again);
        Assert.Equal(committed.Keys.Order(), written.Keys.Order());
        foreach (var (k, t) in committed) Assert.True(written[k].equal(t).all().item<bool>(), k);
    }
}
