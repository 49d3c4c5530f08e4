using GptBert.Models;
using GptBert.Tokenizers;
using static TorchSharp.torch;

namespace GptBert.Training;

/// <summary>
/// BERT's masking (Devlin et al. 2018, §3.1): each maskable token is chosen with probability 15%; a chosen
/// token becomes [MASK] 80% of the time, a random token 10%, and stays itself 10%. Special tokens and
/// padding are never chosen. With whole-word masking, "##" continuation pieces go with their word.
/// </summary>
public sealed class MlmMasking
{
    public double Probability { get; init; } = 0.15;
    public bool WholeWord { get; init; }
    public required int MaskId { get; init; }
    public required int VocabSize { get; init; }
    /// <summary>Ids that are never chosen (and never drawn as random replacements).</summary>
    public required IReadOnlySet<int> SpecialIds { get; init; }
    /// <summary>True for ids whose token continues the previous word (WordPiece "##x"), for whole-word masking.</summary>
    public Func<int, bool>? IsContinuation { get; init; }

    /// <summary>Masks <paramref name="ids"/> in place; returns labels (the original id where chosen, -100 elsewhere).</summary>
    public long[] Apply(Span<long> ids, Random rng)
    {
        var labels = new long[ids.Length];
        Array.Fill(labels, -100L);
        int i = 0;
        while (i < ids.Length)
        {
            if (SpecialIds.Contains((int)ids[i])) { i++; continue; }
            int end = i + 1;
            if (WholeWord && IsContinuation is not null)
                while (end < ids.Length && !SpecialIds.Contains((int)ids[end]) && IsContinuation((int)ids[end])) end++;
            if (rng.NextDouble() < Probability)
                for (int j = i; j < end; j++)
                {
                    labels[j] = ids[j];
                    double r = rng.NextDouble();
                    if (r < 0.8) ids[j] = MaskId;
                    else if (r < 0.9) ids[j] = RandomToken(rng);
                }
            i = end;
        }
        // A batch with nothing chosen has no loss to learn from (and a 0/0 mean): choose one position.
        if (Array.TrueForAll(labels, l => l == -100))
        {
            var candidates = new List<int>();
            for (int k = 0; k < ids.Length; k++) if (!SpecialIds.Contains((int)ids[k])) candidates.Add(k);
            if (candidates.Count > 0)
            {
                int k = candidates[rng.Next(candidates.Count)];
                labels[k] = ids[k];
                ids[k] = MaskId;
            }
        }
        return labels;
    }

    int RandomToken(Random rng)
    {
        while (true)
        {
            int t = rng.Next(VocabSize);
            if (!SpecialIds.Contains(t)) return t;
        }
    }

    public static MlmMasking For(ITextTokenizer tok, bool wholeWord = false)
    {
        int mask = tok.MaskId ?? throw new GptBertException("the tokenizer has no [MASK] token; masked-LM pretraining needs a WordPiece tokenizer with [MASK]");
        var specials = new HashSet<int>(new[] { tok.PadId, tok.ClsId, tok.SepId, tok.MaskId, tok.UnkId, tok.BosId, tok.EosId }.OfType<int>());
        var continuation = new bool[tok.VocabSize];
        foreach (var (id, token) in tok.Entries()) continuation[id] = token.StartsWith("##", StringComparison.Ordinal);
        return new MlmMasking { MaskId = mask, VocabSize = tok.VocabSize, SpecialIds = specials, WholeWord = wholeWord, IsContinuation = id => id < continuation.Length && continuation[id] };
    }
}

/// <summary>
/// BERT pretraining: masked LM on blocks of the token stream ([CLS] tokens [SEP]), optionally with
/// next-sentence prediction (a block is cut in two; half the time the second part is replaced by the
/// second part of another random block, label 1 = "not next").
/// </summary>
public sealed class MaskedLmObjective : ITrainingObjective
{
    readonly PretrainedModel model;
    readonly TokenStream train;
    readonly TokenStream? validation;
    readonly int maxLength;
    readonly int cls, sep;
    readonly MlmMasking masking;
    readonly EpochOrder order;
    readonly Device device;
    readonly long seed;
    public bool NextSentence { get; }
    public int EvalBatches { get; init; } = 20;
    public int EvalBatchSize { get; init; } = 8;
    int Body => maxLength - (NextSentence ? 3 : 2); // tokens of text per example

    public MaskedLmObjective(PretrainedModel model, ITextTokenizer tokenizer, TokenStream train, TokenStream? validation,
        int maxLength, long seed, Device device, bool wholeWordMasking = false)
    {
        NextSentence = model is BertForPreTraining;
        if (model is not (BertForMaskedLM or BertForPreTraining))
            throw new GptBertException($"masked-LM pretraining needs BertForMaskedLM or BertForPreTraining, not {model.Architecture}");
        this.model = model; this.train = train; this.validation = validation; this.maxLength = maxLength; this.device = device; this.seed = seed;
        cls = tokenizer.ClsId ?? throw new GptBertException("the tokenizer has no [CLS] token");
        sep = tokenizer.SepId ?? throw new GptBertException("the tokenizer has no [SEP] token");
        if (maxLength > model.Config.MaxPositions)
            throw new GptBertException($"MaxLength {maxLength} exceeds the model's {model.Config.MaxPositions} positions") { Parameter = "MaxLength" };
        if (train.Length < Body)
            throw new GptBertException($"the training corpus has {train.Length} tokens, fewer than one block of {Body}; add text or lower MaxLength") { RelatedParameters = ["MaxLength"] };
        masking = MlmMasking.For(tokenizer, wholeWordMasking);
        order = new EpochOrder(ExamplesPerEpoch, seed);
    }

    public PretrainedModel Model => model;
    public long ExamplesPerEpoch => train.Length / Body;
    public string SelectionMetric => "loss";
    public bool HigherIsBetter => false;

    public TrainBatch GetBatch(long cursor, int batchSize, Random rng) =>
        Build(train, Enumerable.Range(0, batchSize).Select(b => order[cursor + b]).ToArray(), rng, ExamplesPerEpoch);

    TrainBatch Build(TokenStream stream, long[] blocks, Random rng, long blockCount)
    {
        int B = blocks.Length, T = maxLength;
        var ids = new long[B * T]; var types = new long[B * T];
        var nsp = new long[B];
        var body = new long[Body];
        for (int b = 0; b < B; b++)
        {
            stream.Read(blocks[b] * Body, body);
            var row = ids.AsSpan(b * T, T);
            row[0] = cls;
            if (!NextSentence)
            {
                body.CopyTo(row[1..]);
                row[T - 1] = sep;
                continue;
            }
            int cut = 1 + rng.Next(Body - 1);               // A = body[..cut], B = body[cut..]
            if (rng.NextDouble() < 0.5 && blockCount > 1)
            {
                long other = rng.NextInt64(blockCount - 1);
                if (other >= blocks[b]) other++;              // any block but this one
                var otherBody = new long[Body];
                stream.Read(other * Body, otherBody);
                otherBody.AsSpan(cut).CopyTo(body.AsSpan(cut));
                nsp[b] = 1;
            }
            body.AsSpan(0, cut).CopyTo(row[1..]);
            row[cut + 1] = sep;
            body.AsSpan(cut).CopyTo(row[(cut + 2)..]);
            row[T - 1] = sep;
            types.AsSpan(b * T + cut + 2, T - cut - 2).Fill(1);
        }
        var labels = masking.Apply(ids, rng);
        return new TrainBatch
        {
            InputIds = tensor(ids, [B, T], device: device),
            TokenTypeIds = tensor(types, [B, T], device: device),
            Labels = tensor(labels, [B, T], device: device),
            NextSentenceLabels = NextSentence ? tensor(nsp, device: device) : null,
            Tokens = (long)B * T,
        };
    }

    public Tensor Loss(TrainBatch batch)
    {
        Tensor Mlm(Tensor logits) => nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), batch.Labels.reshape(-1), ignore_index: -100);
        if (model is BertForPreTraining pt)
        {
            var o = pt.Forward(batch.InputIds, null, batch.TokenTypeIds);
            return Mlm(o.PredictionLogits) + nn.functional.cross_entropy(o.SeqRelationshipLogits, batch.NextSentenceLabels!);
        }
        return Mlm(((BertForMaskedLM)model).Forward(batch.InputIds, null, batch.TokenTypeIds));
    }

    /// <summary>Masked-LM (+ NSP) loss on evenly spaced held-out blocks with a fixed masking seed.</summary>
    public IReadOnlyDictionary<string, double>? Evaluate()
    {
        if (validation is null || validation.Length < Body) return null;
        long blocks = validation.Length / Body;
        int n = (int)Math.Min(blocks, (long)EvalBatches * EvalBatchSize);
        var rng = new Random(Seeds.Mix(seed, 0xe7a1));
        double sum = 0; int count = 0;
        bool wasTraining = model.training;
        model.eval();
        using (no_grad())
            for (int start = 0; start < n; start += EvalBatchSize)
            {
                int bs = Math.Min(EvalBatchSize, n - start);
                var idx = Enumerable.Range(start, bs).Select(i => (long)i * blocks / n).ToArray();
                using var scope = NewDisposeScope();
                using var batch = Build(validation, idx, rng, blocks);
                sum += Loss(batch).item<float>() * bs; count += bs;
            }
        model.train(wasTraining);
        return new Dictionary<string, double> { ["loss"] = sum / count };
    }
}
