using System.Text.Json;
using GptBert.Data;
using GptBert.Engine;
using GptBert.Models;
using GptBert.Pipelines;
using GptBert.Reporting;
using GptBert.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace GptBert.Training;

/// <summary>Model size for training from scratch; the same numbers build a GPT or a BERT.</summary>
public sealed record ModelShape(int Layers = 4, int Hidden = 256, int Heads = 4, int MaxLength = 128, double Dropout = 0.1)
{
    public ModelConfig Config(string arch, int vocabSize) => arch switch
    {
        "gpt" => new Gpt2Config { VocabSize = vocabSize, NLayer = Layers, NEmbd = Hidden, NHead = Heads, NPositions = Math.Max(MaxLength, 128), ResidPdrop = Dropout, EmbdPdrop = Dropout, AttnPdrop = Dropout },
        "bert" => new BertConfig { VocabSize = vocabSize, NumHiddenLayers = Layers, HiddenSize = Hidden, NumAttentionHeads = Heads, IntermediateSize = 4 * Hidden, MaxPositionEmbeddings = Math.Max(MaxLength, 128), HiddenDropoutProb = Dropout, AttentionProbsDropoutProb = Dropout },
        _ => throw new GptBertException($"Arch must be gpt or bert (got '{arch}')") { Parameter = "Arch" },
    };

    /// <summary>
    /// The config for a model trained with <paramref name="tok"/>: its size, and the special-token ids config.json
    /// carries (transformers' generate() stops at eos_token_id, and BERT zeroes the pad_token_id embedding), so a
    /// trained tokenizer's ids replace GPT-2's and BERT's defaults.
    /// </summary>
    public ModelConfig Config(string arch, ITextTokenizer tok)
    {
        var config = Config(arch, tok.VocabSize);
        if (config is Gpt2Config g) { g.EosTokenId = tok.EosId; g.BosTokenId = tok.BosId ?? tok.EosId; }
        else config.PadTokenId = tok.PadId ?? config.PadTokenId;
        return config;
    }

    public void Validate()
    {
        const string positive = "Layers, Hidden and Heads must be positive";
        if (Layers < 1) throw new GptBertException(positive) { Parameter = "Layers", RelatedParameters = ["Hidden", "Heads"] };
        if (Hidden < 1) throw new GptBertException(positive) { Parameter = "Hidden", RelatedParameters = ["Layers", "Heads"] };
        if (Heads < 1) throw new GptBertException(positive) { Parameter = "Heads", RelatedParameters = ["Layers", "Hidden"] };
        if (Hidden % Heads != 0) throw new GptBertException($"Hidden {Hidden} must be divisible by Heads {Heads}") { Parameter = "Hidden", RelatedParameters = ["Heads"] };
        if (MaxLength < 8) throw new GptBertException($"MaxLength must be at least 8 (got {MaxLength})") { Parameter = "MaxLength" };
    }
}

/// <summary>Where a run reports: progress lines to <see cref="Progress"/> (none when null: the library writes nothing to the console by itself), and its events for callers (the CLI, the comparison).</summary>
public sealed record RunReporting(TextWriter? Progress = null, bool? Interactive = null, Action<TrainingEvent>? OnEvent = null, Action<string>? Info = null);

public sealed record PretrainSpec
{
    public required string Arch { get; init; }
    public required string Data { get; init; }
    public required string Output { get; init; }
    public string? Validation { get; init; }
    public string? Tokenizer { get; init; }
    public ModelShape Shape { get; init; } = new();
    /// <summary>Continue from this built-in name or pretrained directory (its config, and its tokenizer unless <see cref="Tokenizer"/> is set) instead of a fresh model of <see cref="Shape"/>.</summary>
    public string? InitFrom { get; init; }
    public bool NextSentencePrediction { get; init; }
    public bool WholeWordMasking { get; init; }
    /// <summary>Arch gpt-bert: the fraction of causal batches (the rest masked next-token prediction); the paper's 1:15 is 1/16.</summary>
    public double CausalRatio { get; init; } = GptBertSettings.DefaultCausalRatio;
    public string? Device { get; init; }
    public TrainingOptions Training { get; init; } = new() { MaxSteps = 1000 };
    public bool Resume { get; init; }
    /// <summary>How the corpus files are read: which lines are skipped or refuse the corpus, where skips are reported.</summary>
    public TextCorpusOptions? Corpus { get; init; }
}

public sealed record FinetuneSpec
{
    /// <summary>What the model learns: "classify" (sequence classification, or prompt/completion and chat data for a GPT), "qa"
    /// (extractive question answering, <see cref="QaData"/>) or "ner" (token classification, <see cref="TaggedSentences"/>).</summary>
    public string Task { get; init; } = "classify";
    /// <summary>Built-in name or HF directory to start from; null trains from scratch with <see cref="Arch"/> and <see cref="Shape"/>.</summary>
    public string? Model { get; init; }
    public string? Arch { get; init; }
    public ModelShape Shape { get; init; } = new();
    public required string Train { get; init; }
    public string? Validation { get; init; }
    public required string Output { get; init; }
    public string? Tokenizer { get; init; }
    public LabeledFormatOptions? Format { get; init; }
    public int MaxLength { get; init; } = 128;
    public bool BalanceClasses { get; init; }
    public bool Augment { get; init; }
    public string? Device { get; init; }
    public TrainingOptions Training { get; init; } = new() { Epochs = 3, LearningRate = 5e-5, EvalEvery = 0, SaveEvery = 0 };
    public bool Resume { get; init; }
    /// <summary>QA: tokens shared by consecutive windows of a long context (null: min(128, MaxLength / 4)).</summary>
    public int? DocStride { get; init; }
}

/// <summary>
/// The pipelines behind `gptbert pretrain`, `finetune`, `evaluate` and `classify`, and the runs of the
/// GPT-vs-BERT comparison: data → tokenizer → model → objective → the one Trainer, with a JSON Lines log,
/// a progress line and a training-curve chart written next to the checkpoints.
/// </summary>
public static class TrainingRuns
{
    public static TrainingResult Pretrain(PretrainSpec spec, RunReporting? reporting = null)
    {
        spec.Shape.Validate();
        var device = TorchRuntime.ResolveDevice(spec.Device);
        CheckPrecision(spec.Training.Precision, device);
        Directory.CreateDirectory(spec.Output);
        // The model comes before the corpus is tokenized, so a tokenizer that does not fit it fails at once.
        TorchRuntime.Seed(spec.Training.Seed);
        var (model, tok) = spec.InitFrom is null ? NewPretrainingModel(spec) : LoadPretrainingModel(spec, spec.InitFrom);
        using var _m = model;
        int? separator = spec.Arch is "gpt" or "gpt-bert" ? tok.EosId : tok.SepId;

        // Tokenize once into memory-mapped streams next to the checkpoints; held-out documents for validation.
        var corpus = TextCorpus.Open(spec.Data, spec.Corpus);
        reporting?.Info?.Invoke($"tokenizing {corpus.Files.Count} file(s), {corpus.TotalBytes / 1e6:F1} MB ...");
        var (train, validation) = BuildStreams(spec, corpus, tok, separator);
        using var _t = train; using var _v = validation;
        reporting?.Info?.Invoke($"{train.Length:N0} training tokens, {validation?.Length ?? 0:N0} validation tokens");

        model.to(device);
        ITrainingObjective objective = spec.Arch == "gpt-bert"
            ? new GptBertObjective((GPT2LMHeadModel)model, tok, train, validation, spec.Shape.MaxLength, spec.Training.Seed, device, spec.CausalRatio)
            : spec.Arch == "gpt"
            ? new CausalLmObjective((GPT2LMHeadModel)model, train, validation, spec.Shape.MaxLength, spec.Training.Seed, device)
            : new MaskedLmObjective(model, tok, train, validation, spec.Shape.MaxLength, spec.Training.Seed, device, spec.WholeWordMasking);
        reporting?.Info?.Invoke($"{model.Architecture}: {model.ParameterCount:N0} parameters, {objective.ExamplesPerEpoch:N0} blocks of {spec.Shape.MaxLength} tokens per epoch");
        return Run(objective, tok, spec.Training, spec.Output, spec.Resume, reporting);
    }

    /// <summary>A fresh model of the spec's shape, sized to the tokenizer's vocabulary.</summary>
    static (PretrainedModel, ITextTokenizer) NewPretrainingModel(PretrainSpec spec)
    {
        if (spec.Arch == "gpt-bert")
        {
            // GPT-BERT: a GPT-2 whose vocabulary has a mask token, with config.json's gpt_bert field (Models/GptBert.cs).
            var bpe = GptBertVocabulary.WithMaskToken(TokenizerLoader.Load(spec.Tokenizer ?? TokenizerLoader.Gpt2));
            var cfg = (Gpt2Config)spec.Shape.Config("gpt", bpe);
            cfg.GptBert = new GptBertSettings { CausalRatio = spec.CausalRatio, MaskToken = bpe.MaskToken!, MaskTokenId = bpe.MaskId!.Value };
            cfg.Validate("model shape");
            return (new GPT2LMHeadModel(cfg), bpe);
        }
        var tok = TokenizerLoader.Load(spec.Tokenizer ?? (spec.Arch == "gpt" ? TokenizerLoader.Gpt2 : TokenizerLoader.BertBaseUncased));
        RequireMaskToken(spec, tok);
        var config = spec.Shape.Config(spec.Arch, tok);
        config.Validate("model shape");
        PretrainedModel model = spec.Arch == "gpt" ? new GPT2LMHeadModel((Gpt2Config)config)
            : spec.NextSentencePrediction ? new BertForPreTraining((BertConfig)config) : new BertForMaskedLM((BertConfig)config);
        return (model, tok);
    }

    /// <summary>--init-from: a built-in name or HF directory, with its own tokenizer unless --tokenizer names another that fits.</summary>
    static (PretrainedModel, ITextTokenizer) LoadPretrainingModel(PretrainSpec spec, string initFrom)
    {
        string dir = ModelHub.ExistingDirectory(initFrom);
        if (spec.Arch == "gpt-bert" && !GptBertVocabulary.IsGptBert(dir))
            throw new GptBertException($"{initFrom} is not a GPT-BERT (config.json has no gpt_bert field); continuing a plain GPT-2 as GPT-BERT would need its embeddings resized for a mask token, which GptBert does not do yet: train GPT-BERT from scratch");
        string arch = spec.Arch is "gpt" or "gpt-bert" ? "GPT2LMHeadModel" : spec.NextSentencePrediction ? "BertForPreTraining" : "BertForMaskedLM";
        var (model, _) = ModelFactory.Load(dir, arch, training: true);
        try
        {
            var tok = ModelHub.LoadTokenizer(spec.Tokenizer, dir, initFrom, model.Config);
            RequireMaskToken(spec, tok);
            model.train();
            return (model, tok);
        }
        catch { model.Dispose(); throw; }
    }

    static void RequireMaskToken(PretrainSpec spec, ITextTokenizer tok)
    {
        if (spec.Arch == "bert" && tok.MaskId is null)
            throw new GptBertException("BERT pretraining needs a tokenizer with [MASK] (a WordPiece vocab); pass Tokenizer bert-base-uncased or a trained WordPiece directory") { Parameter = "Tokenizer" };
    }

    internal static (TokenStream Train, TokenStream? Validation) BuildStreams(PretrainSpec spec, TextCorpus corpus, ITextTokenizer tok, int? separator)
    {
        var trainPath = Path.Combine(spec.Output, "tokens-train.bin");
        var valPath = Path.Combine(spec.Output, "tokens-validation.bin");
        var stamp = Path.Combine(spec.Output, "tokens.json");
        var fingerprint = JsonSerializer.Serialize(new { data = Path.GetFullPath(spec.Data), bytes = corpus.TotalBytes, validation = spec.Validation, tokenizer = tok.Kind, vocab = tok.VocabSize });
        if (spec.Resume && File.Exists(trainPath) && File.Exists(stamp) && File.ReadAllText(stamp) == fingerprint)
            return (TokenStream.Open(trainPath), File.Exists(valPath) ? TokenStream.Open(valPath) : null);

        TokenStream train, validation;
        if (spec.Validation is not null)
        {
            train = TokenStream.Build(trainPath, corpus.Documents(), tok, separator);
            validation = TokenStream.Build(valPath, TextCorpus.Open(spec.Validation, spec.Corpus).Documents(), tok, separator);
        }
        else
        {
            // The last 5% of the token stream is held out (nanoGPT-style), which works for one long document too.
            var allPath = trainPath + ".all";
            using (var all = TokenStream.Build(allPath, corpus.Documents(), tok, separator))
            {
                long cut = all.Length - Math.Max(1, all.Length / 20);
                train = TokenStream.Slice(trainPath, all, 0, cut);
                validation = TokenStream.Slice(valPath, all, cut, all.Length - cut);
            }
            File.Delete(allPath);
        }
        AtomicFile.WriteAllText(stamp, fingerprint);
        return (train, validation);
    }

    public static TrainingResult Finetune(FinetuneSpec spec, RunReporting? reporting = null)
    {
        var device = TorchRuntime.ResolveDevice(spec.Device);
        CheckPrecision(spec.Training.Precision, device);
        if (spec.Task == "qa") return FinetuneQuestionAnswering(spec, device, reporting);
        if (spec.Task == "ner") return FinetuneTokenClassifier(spec, device, reporting);
        if (spec.Task != "classify") throw new GptBertException($"Task must be classify, qa or ner (got '{spec.Task}')") { Parameter = "Task" };
        if (spec.Model is not null && Seq2Seq.IsEncoderDecoder(spec.Model)) return FinetuneSeq2Seq(spec, device, reporting);
        if (CompletionData.IsCompletionFile(spec.Train)) return FinetuneCompletions(spec, device, reporting);
        var format = spec.Format ?? new LabeledFormatOptions();
        var trainSet = LabeledDataset.Load(spec.Train, format);
        LabeledDataset validationSet;
        if (spec.Validation is not null) validationSet = LabeledDataset.Load(spec.Validation, format with { RequireTwoLabels = false });
        else
        {
            var split = trainSet.Split(0.9, 0.1, 0.0, (int)spec.Training.Seed);
            (trainSet, validationSet) = (split.Train, split.Validation);
            reporting?.Info?.Invoke($"holding out {validationSet.Count} of the training examples for validation (10%, stratified)");
        }
        var labels = LabelSet.FromTraining(trainSet);
        labels.Validate(validationSet);

        TorchRuntime.Seed(spec.Training.Seed);
        var (model, tok) = ClassifierFor(spec, labels);
        using var _m = model;
        return TrainClassifier(model, tok, trainSet, validationSet, labels, spec.MaxLength, spec.Training, spec.Output, device,
            spec.BalanceClasses, spec.Augment, spec.Resume, reporting);
    }

    /// <summary>
    /// Supervised fine-tuning of a GPT-2 language model on prompt/completion or chat JSON Lines (<see cref="CompletionData"/>):
    /// the loss on completions or assistant turns only; the result generates with `generate` and chats with its template.
    /// </summary>
    static TrainingResult FinetuneCompletions(FinetuneSpec spec, Device device, RunReporting? reporting)
    {
        GPT2LMHeadModel model;
        ITextTokenizer tok;
        ChatTemplate template = ChatTemplate.Default;
        string? sourceDir = null;
        if (spec.Model is null)
        {
            if (spec.Arch is not "gpt")
                throw new GptBertException("prompt/completion and chat data train a GPT-2 language model: give Model (a GPT-2 directory) or Arch gpt") { RelatedParameters = ["Model", "Arch"] };
            spec.Shape.Validate();
            tok = TokenizerLoader.Load(spec.Tokenizer ?? TokenizerLoader.Gpt2);
            var config = (Gpt2Config)spec.Shape.Config("gpt", tok);
            config.Validate("model shape");
            TorchRuntime.Seed(spec.Training.Seed); // the initial weights are part of what the seed fixes
            model = new GPT2LMHeadModel(config);
        }
        else
        {
            sourceDir = ModelHub.ExistingDirectory(spec.Model);
            if (ModelConfig.Load(Path.Combine(sourceDir, "config.json")) is not Gpt2Config)
                throw new GptBertException($"prompt/completion and chat data train a GPT-2 language model; {spec.Model} is a BERT (an encoder does not generate)") { Parameter = "Model" };
            var (loaded, _) = ModelFactory.Load(sourceDir, "GPT2LMHeadModel", training: true);
            model = (GPT2LMHeadModel)loaded;
            try { tok = ModelHub.LoadTokenizer(spec.Tokenizer, sourceDir, spec.Model, model.Config); }
            catch { model.Dispose(); throw; }
            template = ChatTemplate.ForModel(sourceDir);
        }
        using var _m = model;
        int maxLength = Math.Min(spec.MaxLength, model.transformer.Cfg.NPositions);
        var trainSet = CompletionData.Load(spec.Train, tok, template, maxLength, reporting?.Info);
        List<CompletionExample> validationSet;
        if (spec.Validation is not null) validationSet = CompletionData.Load(spec.Validation, tok, template, maxLength, reporting?.Info);
        else
        {
            (trainSet, validationSet) = HoldOut(trainSet, spec.Training.Seed, reporting, "examples");
        }
        TorchRuntime.Seed(spec.Training.Seed);
        model.to(device);
        model.train();
        var objective = new CompletionObjective(model, trainSet, validationSet, spec.Training.Seed, device, tok.PadId ?? tok.EosId ?? 0);
        reporting?.Info?.Invoke($"{model.Architecture}: {model.ParameterCount:N0} parameters; {trainSet.Count} training / {validationSet.Count} validation examples; " +
            $"{trainSet.Sum(e => e.Trained.Count(t => t)):N0} trained tokens (completions or assistant turns only)");
        var result = Run(objective, tok, spec.Training, spec.Output, spec.Resume, reporting);
        // Keep the model's chat template with the fine-tuned model (the tokenizer files are rewritten on save).
        if (!template.IsDefault) WriteChatTemplate(spec.Output, template.Source);
        return result;
    }

    /// <summary>
    /// An encoder-decoder (bert2gpt2, from a warm start) trained on source/target pairs (<see cref="Seq2SeqData"/>): the
    /// encoder reads the source with its tokenizer (encoder_tokenizer/), the decoder is taught the target with teacher forcing
    /// (<see cref="Seq2SeqObjective"/>); the best model by validation loss is saved with both tokenizers, ready for
    /// <see cref="Translator"/> and <see cref="Summarizer"/>.
    /// </summary>
    static TrainingResult FinetuneSeq2Seq(FinetuneSpec spec, Device device, RunReporting? reporting)
    {
        if (spec.Tokenizer is not null)
            throw new GptBertException($"an encoder-decoder trains with its own two tokenizers ({spec.Model}'s and its {Seq2Seq.EncoderTokenizerFolder}/); drop Tokenizer") { Parameter = "Tokenizer" };
        string dir = ModelHub.ExistingDirectory(spec.Model!);
        var (loaded, _) = ModelFactory.Load(dir, "EncoderDecoderModel", training: true);
        var model = (EncoderDecoderModel)loaded;
        using var _m = model;
        var target = ModelHub.LoadTokenizer(null, dir, spec.Model!, model.Config);
        var source = Seq2Seq.LoadEncoderTokenizer(dir, spec.Model!, model.Cfg);
        int maxSource = Math.Min(spec.MaxLength, model.Cfg.Encoder.MaxPositionEmbeddings);
        int maxTarget = Math.Min(spec.MaxLength, model.Cfg.Decoder.NPositions);
        var trainSet = Seq2SeqData.Load(spec.Train, source, target, maxSource, maxTarget, reporting?.Info);
        List<Seq2SeqExample> validationSet;
        if (spec.Validation is not null) validationSet = Seq2SeqData.Load(spec.Validation, source, target, maxSource, maxTarget, reporting?.Info);
        else (trainSet, validationSet) = HoldOut(trainSet, spec.Training.Seed, reporting, "pairs");
        TorchRuntime.Seed(spec.Training.Seed);
        model.to(device);
        model.train();
        var objective = new Seq2SeqObjective(model, trainSet, validationSet, spec.Training.Seed, device, source.PadId ?? 0);
        reporting?.Info?.Invoke($"{model.Architecture} (bert2gpt2): {model.ParameterCount:N0} parameters; {trainSet.Count} training / {validationSet.Count} validation pairs; " +
            $"sources of at most {maxSource} encoder tokens, targets of at most {maxTarget} decoder tokens (the loss on the targets, teacher-forced)");
        return Run(objective, target, spec.Training, spec.Output, spec.Resume, reporting, d => Seq2Seq.SaveEncoderTokenizer(d, source, model.Cfg));
    }

    /// <summary>
    /// Extractive question answering (run_qa.py): a BertForQuestionAnswering from --model (its qa_outputs head kept when it
    /// has one, else a new one) or from scratch, trained on SQuAD JSON or JSON Lines windows (<see cref="QuestionAnsweringObjective"/>);
    /// the best model by validation exact match is saved. Data with unanswerable questions turns on "no answer" (SQuAD v2.0).
    /// </summary>
    static TrainingResult FinetuneQuestionAnswering(FinetuneSpec spec, Device device, RunReporting? reporting)
    {
        var trainSet = QaData.Load(spec.Train, reporting?.Info);
        List<QaExample> validationSet;
        if (spec.Validation is not null) validationSet = QaData.Load(spec.Validation, reporting?.Info);
        else
        {
            (trainSet, validationSet) = HoldOut(trainSet, spec.Training.Seed, reporting, "examples");
        }
        TorchRuntime.Seed(spec.Training.Seed);
        // A GPT answers generatively: the same questions as prompts, the answers as completions.
        if (spec.Model is null ? spec.Arch is "gpt" : ModelConfig.Load(Path.Combine(ModelHub.ExistingDirectory(spec.Model), "config.json")) is Gpt2Config)
            return FinetuneGenerativeQa(spec, trainSet, validationSet, device, reporting);
        PretrainedModel model;
        ITextTokenizer tok;
        if (spec.Model is null)
        {
            if (spec.Arch is not "bert")
                throw new GptBertException("question answering trains a BERT (extractive) or a GPT (generative): give Model (a directory) or Arch bert|gpt") { RelatedParameters = ["Model", "Arch"] };
            spec.Shape.Validate();
            tok = TokenizerLoader.Load(spec.Tokenizer ?? TokenizerLoader.BertBaseUncased);
            var config = spec.Shape.Config("bert", tok);
            config.Validate("model shape");
            model = new BertForQuestionAnswering((BertConfig)config);
        }
        else
        {
            string dir = ModelHub.ExistingDirectory(spec.Model);
            if (ModelConfig.Load(Path.Combine(dir, "config.json")) is not BertConfig)
                throw new GptBertException($"extractive question answering trains a BERT (BertForQuestionAnswering); {spec.Model} is a GPT-2") { Parameter = "Model" };
            (model, _) = ModelFactory.Load(dir, "BertForQuestionAnswering");
            try { tok = ModelHub.LoadTokenizer(spec.Tokenizer, dir, spec.Model, model.Config); }
            catch { model.Dispose(); throw; }
        }
        using var _m = model;
        model.to(device);
        model.train();
        var options = new QaOptions
        {
            MaxLength = Math.Min(spec.MaxLength, model.Config.MaxPositions), DocStride = spec.DocStride,
            AllowNoAnswer = trainSet.Any(e => !e.HasAnswer) || validationSet.Any(e => !e.HasAnswer),
        };
        var objective = new QuestionAnsweringObjective(model, tok, trainSet, validationSet, options, spec.Training.Seed, device);
        reporting?.Info?.Invoke($"{model.Architecture}: {model.ParameterCount:N0} parameters; {trainSet.Count} training questions ({objective.TrainFeatures} windows of {options.MaxLength} tokens, stride {options.Stride}) / {validationSet.Count} validation" +
            (options.AllowNoAnswer ? "; unanswerable questions present: \"no answer\" is learned (SQuAD v2.0)" : ""));
        return Run(objective, tok, spec.Training, spec.Output, spec.Resume, reporting);
    }

    /// <summary>
    /// Generative question answering: a GPT-2 (from Model, or from scratch with Arch gpt and Shape) fine-tuned on the QA
    /// examples as prompt → answer completions (<see cref="CompletionData.QuestionAnswering"/>), the loss on the answer only;
    /// the best model by validation loss is saved, ready for <see cref="GenerativeAnswerer"/>.
    /// </summary>
    static TrainingResult FinetuneGenerativeQa(FinetuneSpec spec, List<QaExample> trainSet, List<QaExample> validationSet, Device device, RunReporting? reporting)
    {
        GPT2LMHeadModel model;
        ITextTokenizer tok;
        if (spec.Model is null)
        {
            spec.Shape.Validate();
            tok = TokenizerLoader.Load(spec.Tokenizer ?? TokenizerLoader.Gpt2);
            var config = (Gpt2Config)spec.Shape.Config("gpt", tok);
            config.Validate("model shape");
            TorchRuntime.Seed(spec.Training.Seed); // the initial weights are part of what the seed fixes
            model = new GPT2LMHeadModel(config);
        }
        else
        {
            string dir = ModelHub.ExistingDirectory(spec.Model);
            var (loaded, _) = ModelFactory.Load(dir, "GPT2LMHeadModel", training: true);
            model = (GPT2LMHeadModel)loaded;
            try { tok = ModelHub.LoadTokenizer(spec.Tokenizer, dir, spec.Model, model.Config); }
            catch { model.Dispose(); throw; }
        }
        using var _m = model;
        int maxLength = Math.Min(spec.MaxLength, model.transformer.Cfg.NPositions);
        // Every prompt is cut to the same maxLength − room, whatever its answer; the answerer reads both from config.json.
        int room = CompletionData.AnswerRoom(tok, trainSet, maxLength);
        GenerativeAnswerer.RecordWindow(model.Config, maxLength, room);
        var train = trainSet.Select(e => CompletionData.QuestionAnswering(tok, e, maxLength, room)).ToList();
        var validation = validationSet.Select(e => CompletionData.QuestionAnswering(tok, e, maxLength, room)).ToList();
        model.to(device);
        model.train();
        var objective = new CompletionObjective(model, train, validation, spec.Training.Seed, device, tok.PadId ?? tok.EosId ?? 0);
        reporting?.Info?.Invoke($"{model.Architecture}: {model.ParameterCount:N0} parameters; {trainSet.Count} training / {validationSet.Count} validation questions as prompts " +
            $"\"Context: ..\\nQuestion: ..\\nAnswer:\" of at most {maxLength} tokens; the loss on the answers only (generative QA)");
        return Run(objective, tok, spec.Training, spec.Output, spec.Resume, reporting);
    }

    /// <summary>
    /// Token classification (NER) on CoNLL or JSON Lines files (<see cref="TaggedSentences"/>), as transformers' run_ner.py:
    /// labels sorted, on the first sub-token of each word; BertForTokenClassification or GPT2ForTokenClassification.
    /// </summary>
    static TrainingResult FinetuneTokenClassifier(FinetuneSpec spec, Device device, RunReporting? reporting)
    {
        var trainSet = TaggedSentences.Load(spec.Train, reporting?.Info).Sentences.ToList();
        List<TaggedSentence> validationSet;
        if (spec.Validation is not null) validationSet = TaggedSentences.Load(spec.Validation, reporting?.Info).Sentences.ToList();
        else
        {
            (trainSet, validationSet) = HoldOut(trainSet, spec.Training.Seed, reporting, "sentences");
        }
        var labels = TaggedSentences.LabelList(trainSet);
        var unseen = TaggedSentences.LabelList(validationSet).Except(labels).ToList();
        if (unseen.Count > 0)
            throw new GptBertException($"validation has tags the training data lacks: {string.Join(", ", unseen)}; add sentences with them to the training file") { Parameter = "Validation" };

        TorchRuntime.Seed(spec.Training.Seed);
        var (model, tok) = TokenClassifierFor(spec, labels);
        using var _m = model;
        model.to(device);
        int maxLength = Math.Min(spec.MaxLength, model.Config.MaxPositions);
        var index = labels.Select((l, i) => (l, i)).ToDictionary(p => p.l, p => p.i);
        List<TokenClassificationExample> Examples(List<TaggedSentence> set) =>
            set.Select(s => new TokenClassificationExample(s.Words, s.Tags.Select(t => index[t]).ToArray())).ToList();
        var objective = new TokenClassificationObjective(model, tok, Examples(trainSet), Examples(validationSet), labels, maxLength, spec.Training.Seed, device);
        reporting?.Info?.Invoke($"{model.Architecture}: {model.ParameterCount:N0} parameters; {trainSet.Count} training / {validationSet.Count} validation sentences; tags: {string.Join(", ", labels)}");
        return Run(objective, tok, spec.Training, spec.Output, spec.Resume, reporting);
    }

    static (PretrainedModel, ITextTokenizer) TokenClassifierFor(FinetuneSpec spec, IReadOnlyList<string> labels)
    {
        if (spec.Model is null)
        {
            var arch = spec.Arch ?? throw new GptBertException("give Model (a built-in name or a directory) to fine-tune, or Arch (gpt or bert, sized by Shape) to train from scratch")
                { RelatedParameters = ["Model", "Arch", "Shape"] };
            spec.Shape.Validate();
            var tok = TokenizerLoader.Load(spec.Tokenizer ?? (arch == "gpt" ? TokenizerLoader.Gpt2 : TokenizerLoader.BertBaseUncased));
            var config = spec.Shape.Config(arch, tok);
            config.SetLabels(labels);
            config.Validate("model shape");
            return (arch == "gpt" ? new GPT2ForTokenClassification((Gpt2Config)config) : new BertForTokenClassification((BertConfig)config), tok);
        }
        return LoadTokenClassifier(spec.Model, labels, spec.Tokenizer);
    }

    /// <summary>
    /// A pretrained GPT-2 or BERT (built-in name or directory) with a token-classification head for <paramref name="labels"/>:
    /// the checkpoint's own head is kept only when it was trained for exactly these labels.
    /// </summary>
    public static (PretrainedModel Model, ITextTokenizer Tokenizer) LoadTokenClassifier(string source, IReadOnlyList<string> labels, string? tokenizer = null)
    {
        string dir = ModelHub.ExistingDirectory(source);
        var cfg = ModelConfig.Load(Path.Combine(dir, "config.json"));
        var arch = cfg is Gpt2Config ? "GPT2ForTokenClassification" : "BertForTokenClassification";
        bool sameLabels = cfg.Id2Label is { Count: > 0 } && cfg.Labels.SequenceEqual(labels) && ModelFactory.DefaultArchitecture(cfg) == arch;
        var (model, _) = ModelFactory.Load(dir, arch, c => c.SetLabels(labels), dropHead: !sameLabels);
        ITextTokenizer tok;
        try { tok = ModelHub.LoadTokenizer(tokenizer, dir, source, model.Config); }
        catch { model.Dispose(); throw; }
        model.train();
        return (model, tok);
    }

    /// <summary>10% of <paramref name="all"/> held out for validation, chosen by the seed (at least one item when there are ten or more).</summary>
    static (List<T> Train, List<T> Validation) HoldOut<T>(List<T> all, long seed, RunReporting? reporting, string noun)
    {
        var rng = new Random((int)seed);
        var shuffled = all.OrderBy(_ => rng.Next()).ToList();
        int held = all.Count >= 10 ? Math.Max(1, all.Count / 10) : 0;
        if (held > 0) reporting?.Info?.Invoke($"holding out {held} of the training {noun} for validation (10%)");
        return (shuffled.Skip(held).ToList(), shuffled.Take(held).ToList());
    }

    static void WriteChatTemplate(string dir, string source)
    {
        var path = Path.Combine(dir, "tokenizer_config.json");
        var node = File.Exists(path) ? System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path)) as System.Text.Json.Nodes.JsonObject ?? [] : [];
        node["chat_template"] = source;
        AtomicFile.WriteAllText(path, node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>Fine-tunes a ready classifier (either family) on labelled data: the path `finetune` and `compare` share.</summary>
    public static TrainingResult TrainClassifier(PretrainedModel model, ITextTokenizer tok, LabeledDataset trainSet, LabeledDataset validationSet,
        LabelSet labels, int maxLength, TrainingOptions options, string output, Device device, bool balanceClasses = false,
        bool augment = false, bool resume = false, RunReporting? reporting = null)
    {
        model.to(device);
        var train = ToExamples(trainSet, labels);
        var weights = balanceClasses ? ClassificationObjective.BalancedWeights(train.Select(e => e.Label).ToList(), labels.Count) : null;
        var objective = new ClassificationObjective(model, tok, train, ToExamples(validationSet, labels), labels, maxLength, options.Seed, device, weights)
        {
            Augment = augment ? TextAugmentation.For(tok).Apply : null,
        };
        reporting?.Info?.Invoke($"{model.Architecture}: {model.ParameterCount:N0} parameters; {train.Count} training / {validationSet.Count} validation examples; labels: {string.Join(", ", labels)}");
        return Run(objective, tok, options, output, resume, reporting);
    }

    static (PretrainedModel, ITextTokenizer) ClassifierFor(FinetuneSpec spec, IReadOnlyList<string> labels)
    {
        if (spec.Model is null)
        {
            var arch = spec.Arch ?? throw new GptBertException("give Model (a built-in name or a directory) to fine-tune, or Arch (gpt or bert, sized by Shape) to train from scratch")
                { RelatedParameters = ["Model", "Arch", "Shape"] };
            spec.Shape.Validate();
            var tok = TokenizerLoader.Load(spec.Tokenizer ?? (arch == "gpt" ? TokenizerLoader.Gpt2 : TokenizerLoader.BertBaseUncased));
            var config = spec.Shape.Config(arch, tok);
            config.SetLabels(labels);
            config.PadTokenId ??= tok.PadId ?? tok.EosId;
            return (arch == "gpt" ? new GPT2ForSequenceClassification((Gpt2Config)config) : new BertForSequenceClassification((BertConfig)config), tok);
        }
        return LoadClassifier(spec.Model, labels, spec.Tokenizer);
    }

    /// <summary>
    /// A pretrained GPT-2 or BERT (built-in name or directory) with a classification head for <paramref name="labels"/>:
    /// the checkpoint's own head is kept only when it was trained for exactly these labels.
    /// </summary>
    public static (PretrainedModel Model, ITextTokenizer Tokenizer) LoadClassifier(string source, IReadOnlyList<string> labels, string? tokenizer = null)
    {
        string dir = ModelHub.ExistingDirectory(source);
        var cfg = ModelConfig.Load(Path.Combine(dir, "config.json"));
        var arch = cfg is Gpt2Config ? "GPT2ForSequenceClassification" : "BertForSequenceClassification";
        bool sameLabels = cfg.Id2Label is { Count: > 0 } && cfg.Labels.SequenceEqual(labels);
        var (model, _) = ModelFactory.Load(dir, arch, c =>
        {
            c.SetLabels(labels);
            if (c is Gpt2Config g) g.PadTokenId ??= g.EosTokenId;
        }, dropHead: !sameLabels, training: true);
        ITextTokenizer tok;
        try { tok = ModelHub.LoadTokenizer(tokenizer, dir, source, model.Config); }
        catch { model.Dispose(); throw; }
        model.train();
        return (model, tok);
    }

    public static List<ClassificationExample> ToExamples(LabeledDataset set, LabelSet labels) =>
        set.Select(e => new ClassificationExample(e.Text, e.Pair, labels.Encode(e.Label))).ToList();

    internal static TrainingResult Run(ITrainingObjective objective, ITextTokenizer tok, TrainingOptions options, string output, bool resume, RunReporting? reporting,
        Action<string>? saveAlongside = null)
    {
        options.Validate();
        options = options.Resolve(objective.ExamplesPerEpoch); // so progress knows the total
        long? resumeStep = resume && Trainer.LatestCheckpoint(output) is { } ck ? Trainer.StepOf(ck) : null;
        using var log = RunLog.Open(Path.Combine(output, RunLog.FileName), resumeStep ?? (resume ? 0 : null));
        var progress = new ProgressReporter(new ProgressBudget(options.MaxSteps, options.MaxTokens, options.MaxTime),
            reporting?.Progress, reporting?.Interactive, startStep: resumeStep ?? 0);
        var trainer = new Trainer(objective, tok, options, output)
        {
            SaveAlongside = saveAlongside,
            OnEvent = e =>
            {
                log.Append(ToRecord(e));
                if (e.Kind == "train") progress.Report(e.Step, e.Loss, e.LearningRate, e.Tokens);
                else if (e.Kind == "eval" && e.Metrics is not null)
                    progress.Message($"step {e.Step}: " + string.Join(", ", e.Metrics.Select(kv => $"{kv.Key} {kv.Value:G4}")));
                else if (e.Message is not null && e.Kind != "done") progress.Message(e.Message);
                reporting?.OnEvent?.Invoke(e);
            },
        };
        try
        {
            return trainer.Train(resume);
        }
        finally
        {
            progress.Finish();
            log.Dispose();
            try { TrainingCurves.Write(Path.Combine(output, RunLog.FileName), Path.Combine(output, "training-curves.svg")); }
            catch (GptBertException) { /* an empty log has no curves */ }
        }
    }

    static RunLogRecord ToRecord(TrainingEvent e) => new()
    {
        Step = e.Step, Loss = e.Kind == "train" ? e.Loss : null, Lr = e.LearningRate, Tokens = e.Tokens, TokensPerS = e.TokensPerSecond,
        ElapsedS = e.ElapsedSeconds, EvalLoss = e.Kind == "eval" && e.Metrics?.TryGetValue("loss", out var l) == true ? l : null,
        Metrics = e.Kind == "eval" && e.Metrics is not null ? e.Metrics.Where(kv => kv.Key != "loss").ToDictionary(kv => "eval_" + kv.Key, kv => kv.Value) : new Dictionary<string, double>(),
        Notes = new Dictionary<string, string> { ["event"] = e.Kind }.Concat(e.Message is null ? [] : [new("message", e.Message)]).ToDictionary(),
    };

    /// <summary>Fails early, before data is tokenized, when --precision cannot run natively on the device.</summary>
    public static void CheckPrecision(string precision, Device device) => MixedPrecision.Resolve(precision, device);
}
