using System.Text.Json;
using GptBert.Compare.Report;
using GptBert.Engine;
using GptBert.Models;
using GptBert.Pipelines;
using GptBert.Reporting;
using GptBert.Tokenizers;
using GptBert.Tokenizers.Training;
using GptBert.Training;

namespace GptBert.Compare;

/// <summary>
/// The text-to-text tasks of <see cref="TaskComparison"/>, through the same loop (train each candidate with
/// <see cref="TrainingRuns.Finetune"/>, score it, probe its speed) and the same report:
/// <list type="bullet">
/// <item><b>summarize</b>: BERT extractive (the most central sentence by the encoder's sentence embeddings,
/// <see cref="Summarizer.Extractive"/>; no training, scored once) vs GPT abstractive (fine-tuned on "Summarize: DOC\nSummary:" →
/// " SUMMARY", the loss on the summary only), with the lead-1 baseline; ROUGE-1/2/L F1 as rouge-score computes them
/// (<see cref="RougeMetrics"/>: its default tokenizer, no stemming), ROUGE-L deciding.</item>
/// <item><b>translate</b>: GPT fine-tuned on "English: SRC\nFrench:" → " TGT" (loss on the target), greedy decoding to the
/// first newline, scored by corpus BLEU (sacreBLEU 13a) and chrF (<see cref="BleuMetrics"/>), BLEU deciding, both as
/// fractions (sacreBLEU prints them ×100). BERT alone has no decoder, so its row says it does not apply; the candidates
/// are GPTs of two sizes from scratch (and --gpt when given), next to the copy-the-source baseline (what a model must beat
/// on messages full of names, options and format strings that stay untranslated).</item>
/// <item><b>chat</b>: GPT fine-tuned on {"messages": [...]} conversations through the chat template, the loss on the
/// assistant turns only; quality is that per-token loss (and its perplexity) on the test conversations' assistant turns,
/// lower is better. BERT's row: encoders do not generate.</item>
/// </list>
/// </summary>
static partial class TaskComparison
{
    /// <summary>Sentences in an extractive or lead summary: the shipped references are one-line synopses.</summary>
    const int SummarySentences = 1;
    /// <summary>Tokens a summary, translation or chat reply may take at most.</summary>
    const int MaxNewTokens = 48;

    /// <summary>An opened model and the one call a task makes of it.</summary>
    sealed class Opened(ModelHandle handle, Action<IReadOnlyList<int>> infer) : IDisposable
    {
        public ModelHandle Handle => handle;
        public void Infer(IReadOnlyList<int> items) => infer(items);
        public void Dispose() => handle.Dispose();
    }

    static bool IsGpt(string dir) => ModelConfig.Load(Path.Combine(dir, "config.json")) is Gpt2Config;

    static Parts TextParts(CompareSpec spec, IReadOnlyList<string> trainTexts, DatasetProfile profile, int testCount,
        Func<string, Dictionary<string, double>> evaluate, Func<string, Opened> open) =>
        new("classify", "loss", trainTexts, profile, testCount, evaluate, dir => open(dir), (m, items) => ((Opened)m).Infer(items),
            m => ((Opened)m).Handle.Model) { Generative = true };

    // ------------------------------------------------------------------ summarize

    static Parts SummarizeParts(CompareSpec spec, Action<string> info)
    {
        var reader = Summarizer.Lead(SummarySentences);
        var test = reader.LoadExamples(spec.Test);
        if (test.FirstOrDefault(e => e.Document is null) is not null)
            throw new GptBertException($"{spec.Test}: extractive and lead summaries need the document; give {{\"document\", \"summary\"}} lines") { Parameter = "Test" };
        var train = JsonlStrings(spec.Train, "document", "summary", "prompt", "completion");
        var validation = spec.Validation is null ? null : JsonlStrings(spec.Validation, "document");
        var profile = DatasetProfiler.ProfileCorpus(JsonlStrings(spec.Train, "document"), validation, test.Select(e => e.Document!)) with { TestExamples = test.Count };
        var references = test.Select(e => e.Reference).ToList();
        // A GPT or the encoder-decoder writes the summary (the encoder-decoder reads the bare document); a BERT extracts it.
        Summarizer Make(ModelHandle h) => IsGpt(h.Directory) || h.Model is EncoderDecoderModel
            ? Summarizer.Abstractive(h, new GenerationOptions { MaxNewTokens = MaxNewTokens })
            : Summarizer.Extractive(new Embedder(h) { Warn = null }, SummarySentences);
        ModelHandle Load(string dir) => ModelHub.Load(dir, IsGpt(dir) || Seq2Seq.IsEncoderDecoder(dir) ? Seq2Seq.GeneratorArchitecture(dir) : null, device: spec.Device);
        var parts = TextParts(spec, train, profile, test.Count,
            evaluate: dir =>
            {
                using var h = Load(dir);
                return Rouge(Make(h).Evaluate(test).Rouge);
            },
            open: dir =>
            {
                var h = Load(dir);
                var s = Make(h);
                return new Opened(h, items => { foreach (var i in items) s.Summarize(test[i].Document!); });
            });
        return parts with
        {
            Baselines = () =>
            {
                var sw = System.Diagnostics.Stopwatch.StartNew();
                var score = reader.Evaluate(test);
                return [Baseline($"lead-{SummarySentences}", $"the first {SummarySentences} sentence(s) of the document", Rouge(score.Rouge), sw.Elapsed.TotalSeconds, test.Count)];
            },
        };
    }

    static Dictionary<string, double> Rouge(RougeScore r) => new()
    {
        ["rougeL"] = r.RougeL.FMeasure, ["rouge1"] = r.Rouge1.FMeasure, ["rouge2"] = r.Rouge2.FMeasure,
    };

    // ------------------------------------------------------------------ translate

    static Parts TranslateParts(CompareSpec spec, Action<string> info)
    {
        var test = Pairs(spec.Test);
        var train = Pairs(spec.Train);
        var validation = spec.Validation is null ? null : Pairs(spec.Validation);
        var profile = DatasetProfiler.ProfileCorpus(train.Select(p => p.Prompt), validation?.Select(p => p.Prompt), test.Select(p => p.Prompt)) with { TestExamples = test.Count };
        var references = test.Select(p => (IReadOnlyList<string>)[p.Reference]).ToList();
        // The encoder-decoder reads each line's source as fine-tuning read it (Seq2SeqData.Pair: source, document or prompt).
        var encoderInputs = JsonlObjects(spec.Test).Select(o => Seq2SeqData.Pair(o)?.Source).ToList();
        string Input(PromptCompleter c, int i) => c.IsSeq2Seq ? encoderInputs[i] ?? test[i].Prompt : test[i].Prompt;
        var parts = TextParts(spec, [.. train.SelectMany(p => new[] { p.Prompt, p.Reference })], profile, test.Count,
            evaluate: dir =>
            {
                using var h = ModelHub.Load(dir, Seq2Seq.GeneratorArchitecture(dir), device: spec.Device);
                var completer = new PromptCompleter(h, new GenerationOptions { MaxNewTokens = MaxNewTokens });
                return Bleu(test.Select((p, i) => completer.Complete(Input(completer, i))).ToList(), references);
            },
            open: dir =>
            {
                var h = ModelHub.Load(dir, Seq2Seq.GeneratorArchitecture(dir), device: spec.Device);
                var completer = new PromptCompleter(h, new GenerationOptions { MaxNewTokens = MaxNewTokens });
                return new Opened(h, items => { foreach (var i in items) completer.Complete(Input(completer, i)); });
            });
        return parts with
        {
            Unsupported = [NotApplicable("BertModel", "BERT is an encoder: it reads the source but has no decoder to write the translation; "
                + (spec.FromScratch ? "its way in is the encoder-decoder (BERT encoder + GPT-2 decoder), measured as its own row"
                    : "its way in is an encoder-decoder (BERT encoder + GPT-2 decoder), a candidate when FromScratch is set"))],
            Baselines = test.All(p => p.Source is not null)
                ? () =>
                {
                    var sw = System.Diagnostics.Stopwatch.StartNew();
                    var q = Bleu(test.Select(p => p.Source!).ToList(), references);
                    return [Baseline("copy source", "the untranslated source as the translation", q, sw.Elapsed.TotalSeconds, test.Count)];
                }
                : null,
        };
    }

    static Dictionary<string, double> Bleu(IReadOnlyList<string> hypotheses, IReadOnlyList<IReadOnlyList<string>> references) => new()
    {
        // sacreBLEU prints both ×100; the comparison keeps every quality figure in [0, 1].
        ["bleu"] = BleuMetrics.Bleu(hypotheses, references).Score / 100, ["chrf"] = BleuMetrics.Chrf(hypotheses, references).Score / 100,
    };

    /// <summary>Prompt/completion lines ({"source", "target"} lines are put in the default prompt format); Source when the line has it.</summary>
    static List<(string Prompt, string Reference, string? Source)> Pairs(string path)
    {
        var list = new List<(string, string, string?)>();
        foreach (var o in JsonlObjects(path))
        {
            string? Get(string k) => o.TryGetProperty(k, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            string? source = Get("source");
            if (Get("prompt") is string p && Get("completion") is string c) list.Add((p, c.Trim(), source));
            else if (source is not null && Get("target") is string t) list.Add((Translator.DefaultPromptFormat.Replace("{src}", source, StringComparison.Ordinal), t.Trim(), source));
            else throw new GptBertException($"{path}: each line needs \"prompt\" and \"completion\" (or \"source\" and \"target\") strings") { Parameter = "Test" };
        }
        return list;
    }

    // ------------------------------------------------------------------ chat

    static Parts ChatParts(CompareSpec spec, Action<string> info)
    {
        var test = Conversations(spec.Test);
        var train = Conversations(spec.Train);
        var validation = spec.Validation is null ? null : Conversations(spec.Validation);
        static string Text(IReadOnlyList<ChatTurn> c) => string.Join("\n", c.Select(t => t.Content));
        var profile = DatasetProfiler.ProfileCorpus(train.Select(Text), validation?.Select(Text), test.Select(Text)) with { TestExamples = test.Count };
        var parts = TextParts(spec, [.. train.SelectMany(c => c.Select(t => t.Content))], profile, test.Count,
            evaluate: dir => ChatLoss(dir, spec),
            open: dir =>
            {
                var h = ModelHub.Load(dir, "GPT2LMHeadModel", device: spec.Device);
                var template = ChatTemplate.ForModel(dir);
                var generator = new Generator(h) { Warn = null };
                var options = new GenerationOptions { Greedy = true, MaxNewTokens = MaxNewTokens, StopAtEos = true };
                // One reply: to the conversation up to its first assistant turn.
                return new Opened(h, items =>
                {
                    foreach (var i in items)
                        generator.Generate(template.Render([.. test[i].TakeWhile(t => t.Role != "assistant")], addGenerationPrompt: true), options);
                });
            });
        return parts with { Unsupported = [NotApplicable("BertModel", "not applicable: encoders do not generate; a chat model writes its replies token by token")] };
    }

    /// <summary>The mean loss per assistant token of the test conversations (the training objective's own masked loss) and its perplexity.</summary>
    static Dictionary<string, double> ChatLoss(string dir, CompareSpec spec)
    {
        using var h = ModelHub.Load(dir, "GPT2LMHeadModel", device: spec.Device);
        var tok = h.Tokenizer;
        var examples = CompletionData.Load(spec.Test, tok, ChatTemplate.ForModel(dir), Math.Min(spec.MaxLength, h.Config.MaxPositions));
        var objective = new CompletionObjective((GPT2LMHeadModel)h.Model, examples, examples, 1, h.Device, tok.PadId ?? tok.EosId ?? 0) { MaxEvalExamples = int.MaxValue };
        var m = objective.Evaluate()!;
        return new Dictionary<string, double> { ["loss_per_token"] = m["loss"], ["perplexity"] = m["perplexity"] };
    }

    static List<IReadOnlyList<ChatTurn>> Conversations(string path)
    {
        var list = new List<IReadOnlyList<ChatTurn>>();
        foreach (var o in JsonlObjects(path))
        {
            if (!o.TryGetProperty("messages", out var m) || m.ValueKind != JsonValueKind.Array)
                throw new GptBertException($"{path}: each line needs a \"messages\" array of {{\"role\", \"content\"}} objects") { Parameter = "Test" };
            var turns = m.EnumerateArray().Select(t => new ChatTurn(t.GetProperty("role").GetString()!, t.GetProperty("content").GetString()!)).ToList();
            if (!turns.Any(t => t.Role == "assistant"))
                throw new GptBertException($"{path}: a conversation has no assistant turn to score") { Parameter = "Test" };
            list.Add(turns);
        }
        return list;
    }

    // ------------------------------------------------------------------ candidates and shared parts

    /// <summary>
    /// The candidates of the text-to-text tasks: --gpt fine-tuned, GPTs from scratch (translate: two sizes, for want of a
    /// BERT candidate), and for summarize --bert as an extractive summarizer used as it is.
    /// </summary>
    static List<Plan> GenerativePlans(CompareSpec spec, Parts parts, Action<string> info)
    {
        var plans = new List<Plan>();
        if (spec.Gpt is not null)
            plans.Add(new Plan(ModelHub.DisplayName(spec.Gpt, "gpt"), "gpt", spec.Gpt, spec.Gpt, null, new ModelShape(), null, spec.PretrainedLearningRate, ModelHead.LanguageModel));
        if (spec.Bert is not null)
        {
            if (spec.Task == CompareTask.Summarize)
                plans.Add(new Plan(ModelHub.DisplayName(spec.Bert, "bert") + " (extractive)", "bert", spec.Bert, spec.Bert, null, new ModelShape(), null, 0, ModelHead.Base) { Untrained = true });
            else info($"Bert {spec.Bert} is not trained for {ReportFormat.Task(spec.Task)}: an encoder does not generate (see its row in the report)");
        }
        else if (spec.Task == CompareTask.Summarize)
            info("no BERT candidate: extractive summaries need a pretrained encoder (Bert minilm, or a BERT directory)");
        if (spec.FromScratch)
        {
            info($"training a {spec.ScratchVocabSize}-token BPE vocabulary on the training texts");
            var tokDir = Path.Combine(spec.WorkDirectory, "tokenizer-bpe");
            var tok = TokenizerTraining.TrainAndSave(TokenizerTraining.Bpe, parts.TrainTexts, tokDir, new TokenizerTrainingOptions { VocabSize = spec.ScratchVocabSize });
            var sizes = spec.Task == CompareTask.Translate ? new[] { ("GPT from scratch", spec.ScratchParameters), ("GPT from scratch (¼ size)", spec.ScratchParameters / 4) }
                : new[] { ("GPT from scratch", spec.ScratchParameters) };
            foreach (var (name, parameters) in sizes)
            {
                ModelShape shape;
                try { shape = CostModel.MatchedShape("gpt", parameters, tok.VocabSize, spec.MaxLength, ModelHead.LanguageModel) with { MaxLength = spec.MaxLength }; }
                catch (GptBertException e) when (plans.Any(p => p.Source == "scratch"))
                {
                    info($"{name} left out: {e.Message}"); // the smaller size only; the main size's error stops the comparison
                    continue;
                }
                plans.Add(new Plan(name, "gpt", "scratch", null, "gpt", shape, tokDir, spec.ScratchLearningRate, ModelHead.LanguageModel));
            }
            if (spec.Task is CompareTask.Translate or CompareTask.Summarize)
            {
                try { plans.Add(EncoderDecoderPlan(spec, tok, info)); }
                catch (GptBertException e) { info($"{EncoderDecoderName} left out: {e.Message}"); }
            }
        }
        return plans;
    }

    /// <summary>The encoder-decoder candidate's family: measured and shown as a third family; the verdict chooses between GPT and BERT.</summary>
    internal const string EncoderDecoderFamily = "encdec";
    const string EncoderDecoderName = "BERT→GPT encoder-decoder from scratch";

    /// <summary>
    /// The BERT→GPT encoder-decoder from scratch (bert2gpt2, <see cref="Seq2Seq.WarmStart"/> from two fresh halves): a BERT
    /// encoder and a GPT-2 decoder, both on the GPT candidates' BPE vocabulary, sized so the whole model has about
    /// ScratchParameters. The budget is split in half: the encoder gets one half; the decoder gets the other half less its
    /// cross-attention (4d² + 6d per block, sized once at half to know d and the blocks, then again at half minus that).
    /// Each seed seeds the fresh weights before they are built, then fine-tunes like the other candidates.
    /// </summary>
    static Plan EncoderDecoderPlan(CompareSpec spec, ITextTokenizer tok, Action<string> info)
    {
        long half = spec.ScratchParameters / 2;
        var encoder = CostModel.MatchedShape("bert", half, tok.VocabSize, spec.MaxLength) with { MaxLength = spec.MaxLength };
        var first = CostModel.MatchedShape("gpt", half, tok.VocabSize, spec.MaxLength, ModelHead.LanguageModel);
        long cross = first.Layers * (4L * first.Hidden * first.Hidden + 6L * first.Hidden);
        var decoder = CostModel.MatchedShape("gpt", Math.Max(1, half - cross), tok.VocabSize, spec.MaxLength, ModelHead.LanguageModel) with { MaxLength = spec.MaxLength };
        info($"{EncoderDecoderName}: encoder {encoder.Layers}×{encoder.Hidden}, decoder {decoder.Layers}×{decoder.Hidden} (+ cross-attention), "
            + $"about {spec.ScratchParameters / 2:N0} parameters each side");
        string Build(int seed)
        {
            string root = Path.Combine(spec.WorkDirectory, ComparisonRunner.Slug(EncoderDecoderName), $"init-{seed}");
            if (Directory.Exists(root)) Directory.Delete(root, true);
            string encDir = Path.Combine(root, "encoder"), decDir = Path.Combine(root, "decoder"), output = Path.Combine(root, "encdec");
            var encConfig = (BertConfig)encoder.Config("bert", tok);
            var decConfig = (Gpt2Config)decoder.Config("gpt", tok);
            encConfig.Validate("encoder shape");
            decConfig.Validate("decoder shape");
            TorchRuntime.Seed(seed); // fresh weights differ by seed and repeat with it
            using (var bert = new BertModel(encConfig)) bert.SavePretrained(encDir);
            tok.SaveForModel(encDir, encConfig.MaxPositionEmbeddings);
            using (var gpt = new GPT2LMHeadModel(decConfig)) gpt.SavePretrained(decDir);
            tok.SaveForModel(decDir, decConfig.NPositions);
            Seq2Seq.WarmStart(encDir, decDir, output, seed);
            Directory.Delete(encDir, true);
            Directory.Delete(decDir, true);
            return output;
        }
        return new Plan(EncoderDecoderName, EncoderDecoderFamily, "scratch", null, null, decoder, null, spec.ScratchLearningRate, ModelHead.LanguageModel)
        {
            Build = Build,
        };
    }

    static CandidateResult NotApplicable(string architecture, string reason) => new()
    {
        Name = "BERT", Family = "bert", Source = "-", Architecture = architecture, Supported = false, NotSupportedReason = reason,
    };

    static CandidateResult Baseline(string name, string what, Dictionary<string, double> quality, double seconds, int items) => new()
    {
        Name = name, Family = Baselines.Family, Source = name, Architecture = what,
        Quality = quality.ToDictionary(kv => kv.Key, kv => Measured.Single(kv.Value)),
        TrainingSeconds = Measured.Single(0), LatencyP50Ms = 1000 * seconds / Math.Max(1, items), LatencyP95Ms = 1000 * seconds / Math.Max(1, items),
        ThroughputPerSecond = items / Math.Max(seconds, 1e-9), Seeds = [],
    };

    static IEnumerable<JsonElement> JsonlObjects(string path)
    {
        if (!File.Exists(path)) throw new GptBertException($"{path} not found") { Parameter = "Test" };
        int lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonElement o;
            try { o = JsonDocument.Parse(line).RootElement.Clone(); }
            catch (JsonException) { throw new GptBertException($"{path}:{lineNo}: not a JSON object") { Parameter = "Test" }; }
            if (o.ValueKind != JsonValueKind.Object) throw new GptBertException($"{path}:{lineNo}: not a JSON object") { Parameter = "Test" };
            yield return o;
        }
    }

    /// <summary>The string values of <paramref name="fields"/> on every line (absent fields skipped).</summary>
    static List<string> JsonlStrings(string path, params string[] fields) =>
        [.. JsonlObjects(path).SelectMany(o => fields.Select(f => o.TryGetProperty(f, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : null).OfType<string>())];
}
