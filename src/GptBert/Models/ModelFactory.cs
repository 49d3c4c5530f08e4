using TorchSharp;
using GptBert.Checkpoints;

namespace GptBert.Models;

/// <summary>Builds model classes by their transformers name and loads Hugging Face directories.</summary>
public static class ModelFactory
{
    public static readonly string[] Gpt2Architectures = ["GPT2Model", "GPT2LMHeadModel", "GPT2ForSequenceClassification", "GPT2ForTokenClassification"];
    public static readonly string[] BertArchitectures =
    [
        "BertModel", "BertForMaskedLM", "BertForNextSentencePrediction", "BertForPreTraining",
        "BertForSequenceClassification", "BertForTokenClassification", "BertForQuestionAnswering",
    ];

    public static PretrainedModel Create(ModelConfig config, string architecture) => (config, architecture) switch
    {
        (Gpt2Config c, "GPT2Model") => new GPT2Model(c),
        (Gpt2Config c, "GPT2LMHeadModel") => new GPT2LMHeadModel(c),
        (Gpt2Config c, "GPT2ForSequenceClassification") => new GPT2ForSequenceClassification(c),
        (Gpt2Config c, "GPT2ForTokenClassification") => new GPT2ForTokenClassification(c),
        (BertConfig c, "BertModel") => new BertModel(c),
        (BertConfig c, "BertForMaskedLM") => new BertForMaskedLM(c),
        (BertConfig c, "BertForNextSentencePrediction") => new BertForNextSentencePrediction(c),
        (BertConfig c, "BertForPreTraining") => new BertForPreTraining(c),
        (BertConfig c, "BertForSequenceClassification") => new BertForSequenceClassification(c),
        (BertConfig c, "BertForTokenClassification") => new BertForTokenClassification(c),
        (BertConfig c, "BertForQuestionAnswering") => new BertForQuestionAnswering(c),
        (EncoderDecoderConfig c, "EncoderDecoderModel") => new EncoderDecoderModel(c),
        _ => throw new GptBertException(
            $"unknown architecture '{architecture}' for model_type {config.ModelType}; supported: {string.Join(", ", ArchitecturesOf(config))}"),
    };

    static string[] ArchitecturesOf(ModelConfig config) =>
        config switch { Gpt2Config => Gpt2Architectures, EncoderDecoderConfig => ["EncoderDecoderModel"], _ => BertArchitectures };

    /// <summary>The architecture config.json names, or the family's base-with-head default.</summary>
    public static string DefaultArchitecture(ModelConfig config) =>
        config.Architectures is [var first, ..] ? first : config switch { Gpt2Config => "GPT2LMHeadModel", EncoderDecoderConfig => "EncoderDecoderModel", _ => "BertModel" };

    /// <summary>
    /// Loads an HF-layout directory as <paramref name="architecture"/> (default: what config.json says).
    /// Heads absent from the checkpoint are initialised fresh and listed in the report.
    /// </summary>
    /// <param name="configure">adjusts the config before the model is built (e.g. the labels of a new classifier).</param>
    /// <param name="dropHead">ignore the checkpoint's classification head (fine-tuning for other labels).</param>
    /// <param name="training">the model is loaded to be trained: an int8-quantized directory is refused.</param>
    public static (PretrainedModel Model, LoadReport Report) Load(string directory, string? architecture = null,
        Action<ModelConfig>? configure = null, bool dropHead = false, bool training = false)
    {
        if (!Directory.Exists(directory))
            throw new GptBertException($"model directory '{directory}' not found; give a built-in name (minilm) or a Hugging Face model directory");
        var config = ModelConfig.Load(Path.Combine(directory, "config.json"));
        if (training && config.Quantization is not null) throw Int8Quantization.TrainingRefused(directory);
        configure?.Invoke(config);
        string arch = architecture ?? DefaultArchitecture(config);
        // An unsupported architecture is named before any weights are read.
        if (!ArchitecturesOf(config).Contains(arch))
            throw new GptBertException(
                $"unknown architecture '{arch}' for model_type {config.ModelType}; supported: {string.Join(", ", ArchitecturesOf(config))}");
        var state = CheckpointFiles.LoadStateDict(directory);
        // A bare BertModel saved without its pooler (add_pooling_layer=False, e.g. arctic-embed-xs) loads without one,
        // rather than with a random pooler that pooler_output would silently come from.
        bool noPooler = arch == "BertModel" && config is BertConfig && !state.Keys.Any(k => k.EndsWith("pooler.dense.weight", StringComparison.Ordinal));
        PretrainedModel Build(bool initialise)
        {
            using (initialise ? null : WeightInit.Skip())
                return noPooler ? new BertModel((BertConfig)config, addPoolingLayer: false) : Create(config, arch);
        }
        var use = dropHead
            ? state.Where(kv => !kv.Key.StartsWith("classifier.") && !kv.Key.StartsWith("score.")).ToDictionary(kv => kv.Key, kv => kv.Value)
            : state;
        PretrainedModel? model = null;
        try
        {
            // Built uninitialised, as transformers does when every tensor comes from the checkpoint: the random init the file
            // overwrites costs more than the load (MiniLM: 315 ms of 850). An int8 model's float matrices are then never written
            // (released in Attach), so never resident.
            using var generator = torch.random.get_rng_state(); // the stub embedding tables (WeightInit.Embedding) still draw their few rows
            model = Build(initialise: false);
            var inPlace = config.Quantization is { } quantization ? Int8Quantization.Attach(model, state, quantization, directory) : null;
            var report = model.LoadStateDict(use, directory, inPlace);
            if (report.NewlyInitialized.Count > 0)
            {
                if (config.Quantization is not null) WeightInit.InitMissing(model, report.NewlyInitialized);
                else
                {
                    // Weights the file lacks (a new head, a decoder's cross-attention) start as the model's constructor starts
                    // them, scaled inits included, drawing the same random numbers as a model built and then loaded.
                    model.Dispose();
                    model = null;
                    torch.random.set_rng_state(generator);
                    model = Build(initialise: true);
                    report = model.LoadStateDict(use, directory, null);
                }
            }
            model.eval();
            return (model, report);
        }
        catch { model?.Dispose(); throw; }
        finally { foreach (var t in state.Values) t.Dispose(); }
    }
}
