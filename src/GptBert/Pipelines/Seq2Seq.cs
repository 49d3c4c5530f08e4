using GptBert.Engine;
using GptBert.Models;
using GptBert.Tokenizers;
using static TorchSharp.torch;

namespace GptBert.Pipelines;

/// <summary>What a warm start built: the tensors copied from each side and those it had to initialise.</summary>
/// <param name="NewlyInitialized">State-dict keys not in either checkpoint: the cross-attention of every decoder block, its
/// LayerNorm, enc_to_dec_proj when the widths differ, and the BERT pooler when the encoder checkpoint has none.</param>
public sealed record WarmStartReport(string Output, int EncoderTensors, int DecoderTensors, IReadOnlyList<string> NewlyInitialized,
    bool Projection, long Parameters, EncoderDecoderConfig Config)
{
    /// <summary>The newly initialised keys with layer numbers folded ("decoder.transformer.h.*.crossattention.c_attn.weight"), in order.</summary>
    public IReadOnlyList<string> NewlyInitializedPatterns =>
        NewlyInitialized.Select(k => System.Text.RegularExpressions.Regex.Replace(k, @"\.h\.\d+\.", ".h.*.")).Distinct().ToList();
}

/// <summary>
/// Encoder-decoder (bert2gpt2) directories: the warm start from a BERT and a GPT-2 (transformers'
/// <c>EncoderDecoderModel.from_encoder_decoder_pretrained</c>, Rothe et al. 2020), their two tokenizers, and the source side of
/// generation.
/// <para>Layout: the directory is what transformers' <c>save_pretrained</c> writes (config.json, model.safetensors), plus the
/// <b>decoder's</b> tokenizer at the top (it reads the targets and decodes the output, so
/// <c>AutoTokenizer.from_pretrained(DIR)</c> gives the one that turns <c>generate()</c>'s ids into text) and the
/// <b>encoder's</b> tokenizer in <c>encoder_tokenizer/</c> (<c>AutoTokenizer.from_pretrained(DIR, subfolder="encoder_tokenizer")</c>).
/// transformers itself has no two-tokenizer layout: its bert2gpt2 examples load the BERT and GPT-2 tokenizers from their own
/// hub names; the subfolder keeps both with the model so the directory is self-contained.</para>
/// </summary>
public static class Seq2Seq
{
    public const string EncoderTokenizerFolder = "encoder_tokenizer";

    /// <summary>True when config.json of the model (built-in name or directory) says model_type "encoder-decoder".</summary>
    public static bool IsEncoderDecoder(string nameOrDirectory)
    {
        if (ModelHub.IsBuiltIn(nameOrDirectory)) return false;
        var config = Path.Combine(nameOrDirectory, "config.json");
        return File.Exists(config) && ModelConfig.Load(config) is EncoderDecoderConfig;
    }

    /// <summary>The architecture a translate or summarize run loads: EncoderDecoderModel for an encoder-decoder, else GPT2LMHeadModel.</summary>
    public static string GeneratorArchitecture(string nameOrDirectory) => IsEncoderDecoder(nameOrDirectory) ? "EncoderDecoderModel" : "GPT2LMHeadModel";

    public static bool HasEncoderTokenizer(string dir) => ModelHub.HasTokenizer(Path.Combine(dir, EncoderTokenizerFolder));

    /// <summary>The encoder's tokenizer of an encoder-decoder directory (<c>encoder_tokenizer/</c>), checked against the encoder's vocabulary.</summary>
    public static ITextTokenizer LoadEncoderTokenizer(string dir, string source, EncoderDecoderConfig config)
    {
        var sub = Path.Combine(dir, EncoderTokenizerFolder);
        if (!ModelHub.HasTokenizer(sub))
            throw new GptBertException($"{source} has no {EncoderTokenizerFolder}/ with the encoder's tokenizer (vocab.txt or tokenizer.json); copy the BERT's tokenizer files there, or build the directory with a warm start from a BERT and a GPT-2");
        var tok = TokenizerLoader.Load(sub);
        ModelHub.CheckTokenizerFits(tok, config.Encoder, $"{source} (encoder)");
        return tok;
    }

    /// <summary>Writes the encoder's tokenizer into <c>DIR/encoder_tokenizer/</c> (model_max_length capped at the encoder's positions).</summary>
    public static void SaveEncoderTokenizer(string dir, ITextTokenizer encoderTokenizer, EncoderDecoderConfig config) =>
        encoderTokenizer.SaveForModel(Path.Combine(dir, EncoderTokenizerFolder), config.Encoder.MaxPositionEmbeddings);

    /// <summary>
    /// Builds an encoder-decoder from a BERT (<paramref name="encoder"/>: built-in name or directory, any BERT head; its
    /// BertModel weights are used) and a GPT-2 language model (<paramref name="decoder"/>), as transformers'
    /// from_encoder_decoder_pretrained does: every encoder and decoder weight is copied exactly; the decoder gets
    /// add_cross_attention and is_decoder, and its new cross-attention layers and ln_cross_attn are initialised as GPT-2
    /// initialises them (N(0, initializer_range), c_proj scaled by 1/√(2·n_layer), LayerNorm 1/0); enc_to_dec_proj is added
    /// when the hidden sizes differ. decoder_start_token_id is the decoder's bos token and pad_token_id its pad (else eos),
    /// as bert2gpt2 recipes set them. Writes <paramref name="output"/> (which must not exist or be empty) with both tokenizers.
    /// <paramref name="seed"/> fixes the new layers' initial weights.
    /// </summary>
    public static WarmStartReport WarmStart(string encoder, string decoder, string output, long seed = 1)
    {
        string encDir = ModelHub.ExistingDirectory(encoder), decDir = ModelHub.ExistingDirectory(decoder);
        var encConfig = ModelConfig.Load(Path.Combine(encDir, "config.json"));
        var decConfig = ModelConfig.Load(Path.Combine(decDir, "config.json"));
        if (encConfig is not BertConfig)
            throw new GptBertException($"the encoder must be a BERT; {encoder} is {encConfig.ModelType} (give a BERT directory or a built-in: {ModelHub.BuiltInList})") { Parameter = "Encoder" };
        if (decConfig is not Gpt2Config)
            throw new GptBertException($"the decoder must be a GPT-2 language model; {decoder} is {decConfig.ModelType} (GptBert's encoder-decoder is bert2gpt2: a BERT decoder is not supported)") { Parameter = "Decoder" };
        if (encConfig.Quantization is not null) throw Int8Quantization.TrainingRefused(encoder);
        if (decConfig.Quantization is not null) throw Int8Quantization.TrainingRefused(decoder);
        if (Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any())
            throw new GptBertException($"{output} already exists and is not empty; give a new Output directory (or delete that one)") { Parameter = "Output" };

        var (encModel, _) = ModelFactory.Load(encDir, "BertModel", training: true);
        using var _e = encModel;
        var (decModel, _) = ModelFactory.Load(decDir, "GPT2LMHeadModel", training: true);
        using var _d = decModel;
        var encTok = ModelHub.LoadTokenizer(null, encDir, encoder, encModel.Config);
        var decTok = ModelHub.LoadTokenizer(null, decDir, decoder, decModel.Config);

        var config = EncoderDecoderConfig.From((BertConfig)encModel.Config with { Architectures = null }, (Gpt2Config)decModel.Config);
        config.DecoderStartTokenId ??= decTok.BosId ?? decTok.EosId;
        config.PadTokenId ??= decTok.PadId ?? decTok.EosId;
        config.Validate("warm start");
        TorchRuntime.Seed(seed);
        using var model = new EncoderDecoderModel(config);
        var own = model.state_dict();
        var copied = new HashSet<string>(StringComparer.Ordinal);
        int Copy(PretrainedModel from, string prefix)
        {
            int n = 0;
            using var _ = no_grad();
            foreach (var (key, t) in from.state_dict())
            {
                if (!own.TryGetValue(prefix + key, out var target) || !target.shape.SequenceEqual(t.shape))
                    throw new InvalidOperationException($"warm start: {prefix + key} has no counterpart of the same shape in the encoder-decoder");
                target.copy_(t);
                copied.Add(prefix + key);
                n++;
            }
            return n;
        }
        int encTensors = Copy(encModel, "encoder.");
        int decTensors = Copy(decModel, "decoder.");
        var fresh = own.Keys.Where(k => !copied.Contains(k)).ToList();

        // Written under a temporary name and renamed into place, so a failure leaves no half-built model.
        string full = Path.GetFullPath(output);
        string tmp = Path.Combine(Path.GetDirectoryName(full)!, $".tmp-{Path.GetFileName(full)}-{Environment.ProcessId}");
        try
        {
            if (Directory.Exists(tmp)) Directory.Delete(tmp, true);
            model.SavePretrained(tmp);
            decTok.SaveForModel(tmp, config.Decoder.NPositions);
            SaveEncoderTokenizer(tmp, encTok, config);
            if (Directory.Exists(full)) Directory.Delete(full); // empty (checked above)
            Directory.Move(tmp, full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { if (Directory.Exists(tmp)) Directory.Delete(tmp, true); } catch (IOException) { }
            throw new GptBertException($"cannot write {output}: {e.Message.TrimEnd('.')}; free disk space or fix permissions", e) { Parameter = "Output" };
        }
        return new WarmStartReport(output, encTensors, decTensors, fresh, config.Encoder.HiddenSize != config.Decoder.NEmbd, model.ParameterCount, config);
    }

    /// <summary>
    /// Source ids for the encoder: the encoder tokenizer's special tokens ([CLS] … [SEP]) included, cut to the encoder's
    /// positions (with a warning, or refused with <see cref="Overflow.Refuse"/>).
    /// </summary>
    public static IReadOnlyList<int> EncodeSource(ITextTokenizer tokenizer, EncoderDecoderConfig config, string text, Overflow overflow, Action<string>? warn)
    {
        if (string.IsNullOrWhiteSpace(text)) throw new GptBertException("the source text is empty; give some text") { Parameter = "Input" };
        int max = Math.Min(config.Encoder.MaxPositionEmbeddings, tokenizer.ModelMaxLength ?? int.MaxValue);
        var enc = tokenizer.Encode(text, addSpecialTokens: true, maxLength: max);
        if (enc.Truncated)
        {
            if (overflow == Overflow.Refuse)
                throw new GptBertException($"the source is longer than the encoder's {max} tokens; shorten it or drop Overflow.Refuse to truncate it") { Parameter = "Overflow.Refuse" };
            warn?.Invoke($"warning: source truncated to the encoder's {max} tokens");
        }
        return enc.Ids;
    }
}

/// <summary>
/// Generation with an encoder-decoder: the source text through the encoder's tokenizer and the encoder, the decoder from
/// decoder_start_token_id greedily (one beam) or with beam search, both with the KV cache (self-attention keys/values grow
/// a step at a time, the cross-attention ones are computed once and follow the beams), the output decoded with the
/// decoder's tokenizer and trimmed. The engine of <see cref="Translator"/> and <see cref="Summarizer"/> on an
/// encoder-decoder directory.
/// </summary>
public sealed class Seq2SeqGenerator
{
    readonly ModelHandle handle;
    readonly EncoderDecoderModel model;
    readonly GenerationOptions options;
    readonly BeamOptions beams;
    readonly Action<string>? warn;

    public Seq2SeqGenerator(ModelHandle handle, GenerationOptions? options = null, BeamOptions? beams = null, Action<string>? warn = null)
    {
        this.handle = handle;
        model = handle.Model as EncoderDecoderModel
            ?? throw new GptBertException($"{handle.Source} is {handle.Architecture}, not an encoder-decoder (config.json model_type \"encoder-decoder\")") { Parameter = "Model" };
        if (handle.SourceTokenizer is null) throw new GptBertException($"{handle.Source} was loaded without its encoder tokenizer ({Seq2Seq.EncoderTokenizerFolder}/)");
        this.options = (options ?? new GenerationOptions { MaxNewTokens = 64 }) with { Greedy = true };
        this.beams = beams ?? new BeamOptions { NumBeams = 1 };
        this.warn = warn;
    }

    public ModelHandle Handle => handle;

    /// <summary>The full result of one source: ids (with a final end-of-text when it ended so), text and score.</summary>
    public BeamResult Run(string source, CancellationToken cancellationToken = default)
    {
        var ids = Seq2Seq.EncodeSource(handle.SourceTokenizer!, model.Cfg, source, options.Overflow, warn);
        var result = BeamSearch.GenerateSeq2Seq(model, handle.Tokenizer, ids, options, beams, cancellationToken);
        return result with { PromptTokens = ids.Count };
    }

    /// <summary>The generated text of one source, trimmed.</summary>
    public string Generate(string source) => Run(source).Text.Trim();
}
