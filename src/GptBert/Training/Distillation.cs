using System.Runtime.CompilerServices;
using System.Text.Json;
using GptBert.Checkpoints;
using GptBert.Models;
using GptBert.Pipelines;
using GptBert.Tokenizers;
using static TorchSharp.torch;

namespace GptBert.Training;

/// <summary>
/// Knowledge-distillation losses (Hinton, Vinyals and Dean 2015, "Distilling the Knowledge in a Neural Network"):
/// the student matches the teacher's class distribution softened at temperature T, and the soft loss is scaled by
/// T² so its gradients keep their size as T changes. Defaults T = 2, α = 0.5 as transformers' distillation examples
/// (research_projects/distillation: temperature 2.0, alpha_ce 0.5) and DistilBERT.
/// </summary>
public static class DistillationLoss
{
    public const double DefaultTemperature = 2.0;
    public const double DefaultAlpha = 0.5;

    /// <summary>
    /// T² · KL(softmax(teacher/T) ‖ softmax(student/T)) averaged over rows ("batchmean", as PyTorch's
    /// kl_div(log_softmax(s/T), softmax(t/T), reduction="batchmean") * T**2). Logits are (N, K); rows are examples or positions.
    /// </summary>
    public static Tensor SoftTargets(Tensor student, Tensor teacher, double temperature)
    {
        using var scope = NewDisposeScope();
        var logP = (teacher.to(student.dtype) / temperature).log_softmax(-1);   // (N, K) teacher log-probabilities
        var logQ = (student / temperature).log_softmax(-1);                      // (N, K) student log-probabilities
        var kl = (logP.exp() * (logP - logQ)).sum(-1).mean();
        return (kl * (temperature * temperature)).MoveToOuterDisposeScope();
    }

    /// <summary>α · T² · KL(teacher ‖ student at T) + (1 − α) · CE(student, hard label).</summary>
    public static Tensor Classification(Tensor student, Tensor teacher, Tensor labels, double temperature, double alpha)
    {
        using var scope = NewDisposeScope();
        var soft = SoftTargets(student, teacher, temperature);
        var hard = nn.functional.cross_entropy(student, labels);
        return (soft * alpha + hard * (1 - alpha)).MoveToOuterDisposeScope();
    }

    public static void Validate(double temperature, double alpha)
    {
        if (!(temperature > 0)) throw new GptBertException($"Temperature must be positive (got {temperature})") { Parameter = "Temperature" };
        if (alpha is not (>= 0 and <= 1)) throw new GptBertException($"Alpha must be in [0, 1] (got {alpha})") { Parameter = "Alpha" };
    }
}

/// <summary>
/// The teacher's outputs for the training inputs, computed once and kept on disk as safetensors ("outputs": (N, D) float32,
/// the fingerprint of teacher, data and settings in the metadata), then reused by every epoch and by later runs with the same
/// fingerprint. Full logits for classification (K is small) and full embeddings; language-model logits ((blocks × T × V)) are
/// not cached (see <see cref="LanguageModelDistillationObjective"/>).
/// </summary>
public static class TeacherCache
{
    /// <summary>
    /// The cached outputs when <paramref name="path"/> holds them for <paramref name="fingerprint"/>, else
    /// <paramref name="compute"/>(chunk of indices) over all <paramref name="count"/> inputs, written to <paramref name="path"/>.
    /// </summary>
    public static float[][] GetOrCompute(string path, string fingerprint, int count, Func<int[], float[][]> compute, int chunk = 64,
        Action<string>? info = null)
    {
        if (File.Exists(path))
        {
            try
            {
                if (SafeTensors.ReadMetadata(path).TryGetValue("fingerprint", out var f) && f == fingerprint)
                {
                    var loaded = SafeTensors.Load(path);
                    using var t = loaded["outputs"];
                    if (t.shape[0] == count)
                    {
                        int d = (int)t.shape[1];
                        var flat = TensorBytes.ToArray<float>(t.to(ScalarType.Float32));
                        info?.Invoke($"teacher outputs: reused {path} ({count} x {d})");
                        return Enumerable.Range(0, count).Select(i => flat.AsSpan(i * d, d).ToArray()).ToArray();
                    }
                }
            }
            catch (Exception e) when (e is GptBertException or IOException or JsonException) { /* unreadable: compute again */ }
        }
        var result = new float[count][];
        for (int start = 0; start < count; start += chunk)
        {
            var idx = Enumerable.Range(start, Math.Min(chunk, count - start)).ToArray();
            var part = compute(idx);
            for (int j = 0; j < idx.Length; j++) result[idx[j]] = part[j];
        }
        int dim = count == 0 ? 0 : result[0].Length;
        using (var all = tensor(result.SelectMany(r => r).ToArray(), [count, dim]))
            SafeTensors.Save(path, new Dictionary<string, Tensor> { ["outputs"] = all }, new Dictionary<string, string> { ["fingerprint"] = fingerprint });
        info?.Invoke($"teacher outputs: computed for {count} inputs and cached in {path}");
        return result;
    }
}

/// <summary>
/// Classification distillation: batches, hard-label cross-entropy and validation metrics are those of
/// <see cref="ClassificationObjective"/> on the student; the loss adds the teacher's soft targets for the same rows.
/// </summary>
public sealed class ClassificationDistillationObjective : ITrainingObjective
{
    readonly ClassificationObjective student;
    readonly EpochOrder order; // the same (count, seed) permutation the inner objective draws its rows from
    readonly float[][] teacherLogits;
    readonly Device device;
    readonly double temperature, alpha;
    readonly ConditionalWeakTable<TrainBatch, Tensor> targets = new();

    public ClassificationDistillationObjective(PretrainedModel model, ITextTokenizer tokenizer, IReadOnlyList<ClassificationExample> train,
        IReadOnlyList<ClassificationExample> validation, IReadOnlyList<string> labels, int maxLength, long seed, Device device,
        float[][] teacherLogits, double temperature = DistillationLoss.DefaultTemperature, double alpha = DistillationLoss.DefaultAlpha)
    {
        DistillationLoss.Validate(temperature, alpha);
        if (teacherLogits.Length != train.Count)
            throw new ArgumentException($"{teacherLogits.Length} teacher rows for {train.Count} examples", nameof(teacherLogits));
        if (teacherLogits.Any(r => r.Length != labels.Count))
            throw new GptBertException($"the teacher's logits have {teacherLogits[0].Length} classes but the student has {labels.Count} labels");
        student = new ClassificationObjective(model, tokenizer, train, validation, labels, maxLength, seed, device);
        order = new EpochOrder(train.Count, seed);
        this.teacherLogits = teacherLogits; this.device = device; this.temperature = temperature; this.alpha = alpha;
    }

    public PretrainedModel Model => student.Model;
    public long ExamplesPerEpoch => student.ExamplesPerEpoch;
    public string SelectionMetric => student.SelectionMetric;
    public bool HigherIsBetter => student.HigherIsBetter;

    public TrainBatch GetBatch(long cursor, int batchSize, Random rng)
    {
        var batch = student.GetBatch(cursor, batchSize, rng);
        int K = teacherLogits[0].Length;
        var rows = new float[batchSize * K];
        for (int b = 0; b < batchSize; b++) teacherLogits[order[cursor + b]].CopyTo(rows, b * K);
        targets.AddOrUpdate(batch, tensor(rows, [batchSize, K], device: device)); // (B, K), disposed with the step's scope
        return batch;
    }

    public Tensor Loss(TrainBatch batch)
    {
        if (!targets.TryGetValue(batch, out var teacher)) throw new InvalidOperationException("batch did not come from this objective's GetBatch");
        targets.Remove(batch);
        return DistillationLoss.Classification(student.Logits(batch), teacher, batch.Labels, temperature, alpha);
    }

    public IReadOnlyDictionary<string, double>? Evaluate() => student.Evaluate();
}

/// <summary>
/// Embedding distillation, as sentence-transformers' model distillation (losses.MSELoss): the student's mean-pooled,
/// L2-normalised sentence embedding regresses the teacher's embedding (what `gptbert embed` gives for it) by mean squared
/// error. The dimensions must be equal (no projection layer: the student stays an ordinary encoder that every
/// embedding command loads). Labels of a batch are the example indices, whose teacher embeddings are the targets.
/// </summary>
public sealed class EmbeddingDistillationObjective : ITrainingObjective
{
    readonly BertModel model;
    readonly ITextTokenizer tokenizer;
    readonly TokenizedText[] train, validation;
    readonly Tensor trainTargets;         // (N, D) on the device
    readonly float[][] validationTargets;
    readonly EpochOrder order;
    readonly Device device;
    public int EvalBatchSize { get; init; } = 32;

    public EmbeddingDistillationObjective(BertModel model, ITextTokenizer tokenizer, IReadOnlyList<string> trainTexts, float[][] trainTargets,
        IReadOnlyList<string> validationTexts, float[][] validationTargets, int maxLength, long seed, Device device)
    {
        if (trainTexts.Count == 0) throw new GptBertException("no training texts");
        int D = trainTargets[0].Length;
        if (D != model.Cfg.HiddenSize)
            throw new GptBertException($"the teacher's embeddings have {D} dimensions but the student's Hidden is {model.Cfg.HiddenSize}; embedding distillation keeps the teacher's width (omit Hidden or give {D})") { Parameter = "Hidden" };
        this.model = model; this.tokenizer = tokenizer; this.device = device; this.validationTargets = validationTargets;
        train = trainTexts.Select(t => tokenizer.Encode(t, maxLength: maxLength)).ToArray();
        validation = validationTexts.Select(t => tokenizer.Encode(t, maxLength: maxLength)).ToArray();
        using (var cpu = tensor(trainTargets.SelectMany(r => r).ToArray(), [trainTargets.Length, D]))
            this.trainTargets = cpu.to(device).DetachFromDisposeScope();
        order = new EpochOrder(train.Length, seed);
    }

    public PretrainedModel Model => model;
    public long ExamplesPerEpoch => train.Length;
    public string SelectionMetric => "cosine";
    public bool HigherIsBetter => true;

    public TrainBatch GetBatch(long cursor, int batchSize, Random rng)
    {
        var encs = new TokenizedText[batchSize];
        var index = new long[batchSize];
        for (int b = 0; b < batchSize; b++) { index[b] = order[cursor + b]; encs[b] = train[index[b]]; }
        return Collate(encs, index);
    }

    TrainBatch Collate(IReadOnlyList<TokenizedText> encs, long[] index)
    {
        var (ids, mask, types, real) = Batching.ToTensors(encs, tokenizer.PadId ?? 0, device);
        return new TrainBatch { InputIds = ids, AttentionMask = mask, TokenTypeIds = types, Labels = tensor(index, device: device), Tokens = real };
    }

    /// <summary>(B, D) mean-pooled (over real tokens), L2-normalised student embeddings: what <see cref="Embedder"/> computes.</summary>
    public Tensor Embeddings(TrainBatch batch)
    {
        using var scope = NewDisposeScope();
        var hidden = model.Forward(batch.InputIds, batch.AttentionMask, batch.TokenTypeIds, pool: false).LastHiddenState; // (B, T, D)
        var m = batch.AttentionMask!.unsqueeze(-1).to(hidden.dtype);                                                  // (B, T, 1)
        var mean = (hidden * m).sum(1) / m.sum(1).clamp_min(1e-9);                                                     // (B, D)
        return nn.functional.normalize(mean, p: 2, dim: -1).MoveToOuterDisposeScope();
    }

    public Tensor Loss(TrainBatch batch)
    {
        var target = trainTargets.index_select(0, batch.Labels); // (B, D)
        return nn.functional.mse_loss(Embeddings(batch), target.to(ScalarType.Float32));
    }

    public IReadOnlyDictionary<string, double>? Evaluate()
    {
        if (validation.Length == 0) return null;
        var got = Embed(validation);
        double mse = 0, cos = 0;
        for (int i = 0; i < got.Length; i++)
        {
            cos += Embedder.Cosine(got[i], validationTargets[i]);
            for (int j = 0; j < got[i].Length; j++) mse += Math.Pow(got[i][j] - validationTargets[i][j], 2) / got[i].Length;
        }
        return new Dictionary<string, double> { ["loss"] = mse / got.Length, ["cosine"] = cos / got.Length };
    }

    /// <summary>The student's embeddings of tokenized texts (eval mode, no gradients).</summary>
    public float[][] Embed(IReadOnlyList<TokenizedText> encodings)
    {
        var result = new float[encodings.Count][];
        EvalBatches.Run(model, encodings.Count, EvalBatchSize, (start, n) =>
        {
            using var batch = Collate(Enumerable.Range(start, n).Select(i => encodings[i]).ToList(), new long[n]);
            using var e = Embeddings(batch).to(ScalarType.Float32).cpu();
            int D = (int)e.shape[1];
            var flat = TensorBytes.ToArray<float>(e);
            for (int j = 0; j < n; j++) result[start + j] = flat.AsSpan(j * D, D).ToArray();
        });
        return result;
    }
}

/// <summary>
/// Language-model distillation (DistilBERT; Sanh et al. 2019): the batches, hard loss and validation of a
/// <see cref="MaskedLmObjective"/> (BERT) or <see cref="CausalLmObjective"/> (GPT-2) on the student, plus
/// α · T² · KL to the teacher's token distributions at the masked positions (MLM) or at every next-token position (CLM).
/// The teacher runs on the fly under no_grad: its (blocks × T × vocab) logits are too large to cache on disk.
/// </summary>
public sealed class LanguageModelDistillationObjective(ITrainingObjective inner, PretrainedModel teacher, double temperature, double alpha) : ITrainingObjective
{
    public PretrainedModel Model => inner.Model;
    public long ExamplesPerEpoch => inner.ExamplesPerEpoch;
    public string SelectionMetric => inner.SelectionMetric;
    public bool HigherIsBetter => inner.HigherIsBetter;
    /// <summary>Blocks the teacher has run on (for reporting).</summary>
    public long TeacherBlocks { get; private set; }

    public TrainBatch GetBatch(long cursor, int batchSize, Random rng) => inner.GetBatch(cursor, batchSize, rng);

    static Tensor Logits(PretrainedModel m, TrainBatch b) => m switch
    {
        BertForMaskedLM mlm => mlm.Forward(b.InputIds, null, b.TokenTypeIds), // (B, T, V)
        GPT2LMHeadModel clm => clm.Forward(b.InputIds),                      // (B, T, V)
        _ => throw new GptBertException($"language-model distillation needs BertForMaskedLM or GPT2LMHeadModel, not {m.Architecture}"),
    };

    public Tensor Loss(TrainBatch batch)
    {
        using var scope = NewDisposeScope();
        Tensor teacherLogits;
        using (no_grad()) teacherLogits = Logits(teacher, batch);
        TeacherBlocks += batch.InputIds.shape[0];
        var logits = Logits(inner.Model, batch);
        long V = logits.shape[^1];
        var flatLabels = batch.Labels.reshape(-1);
        var hard = nn.functional.cross_entropy(logits.reshape(-1, V), flatLabels, ignore_index: -100);
        var keep = flatLabels.ne(-100).nonzero().squeeze(-1);                           // positions with a target
        var soft = DistillationLoss.SoftTargets(logits.reshape(-1, V).index_select(0, keep), teacherLogits.reshape(-1, V).index_select(0, keep), temperature);
        return (soft * alpha + hard * (1 - alpha)).MoveToOuterDisposeScope();
    }

    public IReadOnlyDictionary<string, double>? Evaluate() => inner.Evaluate();
}
