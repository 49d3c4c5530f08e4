using GptBert.Checkpoints;
using System.Text.RegularExpressions;
using TorchSharp;
using static TorchSharp.torch;

namespace GptBert.Models;

/// <summary>Per-layer importance scores: heads in the layer's current order, FFN neurons in current order.</summary>
public sealed record PruningImportance(float[][] Heads, float[][] Neurons, string Method);

/// <summary>
/// Structured pruning (attention heads, FFN neurons: the matrices physically shrink) and unstructured magnitude pruning
/// (zeros in place) for BERT and GPT-2, on the Hugging Face key names.
///
/// Head importance is Michel et al. 2019 (https://arxiv.org/abs/1905.10650) |∂L/∂ξ_h| for a head mask ξ, computed without
/// a mask: ξ_h multiplies head h's context c_h before the output projection W_o, so ∂L/∂ξ_h = Σ_t c_h,t · W_o,h^T g_t
/// = Σ (W_o ⊙ ∂L/∂W_o) over head h's slice of W_o. FFN neurons use the same identity on the second FFN matrix
/// (|activation × gradient| of the neuron). Scores are |·| per batch, summed over batches; head scores are normalised
/// per layer (L2), as in the paper. Without data the score is the L2 norm of the slice of the output projection
/// (a weight-norm proxy; a head or neuron whose output projection is zero scores 0 either way).
/// </summary>
public static class Pruning
{
    /// <summary>Where a layer tensor sits: its layer, role and which dim holds heads/neurons.</summary>
    enum Role { AttnIn, AttnInBias, AttnOut, FfnIn, FfnInBias, FfnOut }

    static readonly Regex BertKey = new(@"encoder\.layer\.(\d+)\.(attention\.self\.(query|key|value)\.(weight|bias)|attention\.output\.dense\.weight|intermediate\.dense\.(weight|bias)|output\.dense\.weight)$");
    static readonly Regex Gpt2Key = new(@"(?:^|\.)h\.(\d+)\.(attn\.c_attn\.(weight|bias)|attn\.c_proj\.weight|mlp\.c_fc\.(weight|bias)|mlp\.c_proj\.weight)$");

    static (int Layer, Role Role)? Classify(string key)
    {
        if (BertKey.Match(key) is { Success: true } b)
        {
            int l = int.Parse(b.Groups[1].Value);
            string rest = b.Groups[2].Value;
            return rest switch
            {
                _ when rest.StartsWith("attention.self.") => (l, rest.EndsWith("bias") ? Role.AttnInBias : Role.AttnIn),
                "attention.output.dense.weight" => (l, Role.AttnOut),
                "intermediate.dense.weight" => (l, Role.FfnIn),
                "intermediate.dense.bias" => (l, Role.FfnInBias),
                _ => (l, Role.FfnOut),
            };
        }
        if (Gpt2Key.Match(key) is { Success: true } g)
        {
            int l = int.Parse(g.Groups[1].Value);
            return g.Groups[2].Value switch
            {
                "attn.c_attn.weight" => (l, Role.AttnIn),
                "attn.c_attn.bias" => (l, Role.AttnInBias),
                "attn.c_proj.weight" => (l, Role.AttnOut),
                "mlp.c_fc.weight" => (l, Role.FfnIn),
                "mlp.c_fc.bias" => (l, Role.FfnInBias),
                _ => (l, Role.FfnOut),
            };
        }
        return null;
    }

    static (int Layers, int Heads, int HeadSize, int Inner) Shape(ModelConfig c) => c switch
    {
        BertConfig b => (b.NumHiddenLayers, b.NumAttentionHeads, b.HiddenSize / b.NumAttentionHeads, b.IntermediateSize),
        Gpt2Config g => (g.NLayer, g.NHead, g.NEmbd / g.NHead, g.InnerSize),
        _ => throw new GptBertException($"pruning supports bert and gpt2 models, not {c.ModelType}"),
    };

    /// <summary>Original head indices still present in each layer, in their current order.</summary>
    public static int[] RemainingHeads(ModelConfig c, int layer)
    {
        var pruned = c.PrunedHeadsOf(layer);
        return Enumerable.Range(0, Shape(c).Heads).Where(h => !pruned.Contains(h)).ToArray();
    }

    /// <summary>The dim of a Linear (out, in) or Conv1D (in, out) weight that indexes a role's heads/neurons.</summary>
    static int UnitDim(Role role, bool gpt2) => role switch
    {
        Role.AttnInBias or Role.FfnInBias => 0,
        Role.AttnIn or Role.FfnIn => gpt2 ? 1 : 0,
        _ => gpt2 ? 0 : 1, // AttnOut, FfnOut: the input side
    };

    /// <summary>The output projections whose W ⊙ ∇W slices give the scores.</summary>
    static Dictionary<(int, Role), TorchSharp.Modules.Parameter> OutputProjections(PretrainedModel model) =>
        model.named_parameters().Select(p => (p.name, p.parameter, c: Classify(p.name)))
            .Where(t => t.c is { Role: Role.AttnOut or Role.FfnOut })
            .ToDictionary(t => (t.c!.Value.Layer, t.c!.Value.Role), t => t.parameter);

    /// <summary>Sums a (rows or cols) of <paramref name="w"/> into <paramref name="units"/> equal slices along dim.</summary>
    static float[] SliceSums(Tensor w, int dim, int units) =>
        TensorBytes.ToArray<float>(w.movedim([dim], [0]).reshape(units, -1).sum(1).to(float32));

    /// <summary>
    /// Measures importance. <paramref name="losses"/> yields one closure per batch returning the loss (the model is put
    /// in eval mode, so dropout is off); null or empty uses the weight-norm proxy.
    /// </summary>
    public static PruningImportance Measure(PretrainedModel model, IEnumerable<Func<Tensor>>? losses = null)
    {
        var (layers, _, hs, _) = Shape(model.Config);
        bool gpt2 = model.Config is Gpt2Config;
        var proj = OutputProjections(model);
        int HeadsOf(int l) => RemainingHeads(model.Config, l).Length;
        var heads = Enumerable.Range(0, layers).Select(l => new float[HeadsOf(l)]).ToArray();
        var neurons = Enumerable.Range(0, layers).Select(l => new float[proj[(l, Role.FfnOut)].shape[UnitDim(Role.FfnOut, gpt2)]]).ToArray();
        int batches = 0;
        bool wasTraining = model.training;
        model.eval();
        try
        {
            foreach (var lossFn in losses ?? [])
            {
                using var scope = NewDisposeScope();
                model.zero_grad();
                using (enable_grad()) lossFn().backward();
                using var _ = no_grad();
                for (int l = 0; l < layers; l++)
                {
                    var wo = proj[(l, Role.AttnOut)];
                    var h = SliceSums(wo * wo.grad!, UnitDim(Role.AttnOut, gpt2), heads[l].Length);
                    for (int i = 0; i < h.Length; i++) heads[l][i] += Math.Abs(h[i]);
                    var w2 = proj[(l, Role.FfnOut)];
                    var n = SliceSums(w2 * w2.grad!, UnitDim(Role.FfnOut, gpt2), neurons[l].Length);
                    for (int i = 0; i < n.Length; i++) neurons[l][i] += Math.Abs(n[i]);
                }
                batches++;
            }
            model.zero_grad();
        }
        finally { model.train(wasTraining); }

        if (batches == 0)
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            for (int l = 0; l < layers; l++)
            {
                var wo = proj[(l, Role.AttnOut)];
                heads[l] = SliceSums(wo.square(), UnitDim(Role.AttnOut, gpt2), heads[l].Length).Select(v => MathF.Sqrt(v)).ToArray();
                var w2 = proj[(l, Role.FfnOut)];
                neurons[l] = SliceSums(w2.square(), UnitDim(Role.FfnOut, gpt2), neurons[l].Length).Select(v => MathF.Sqrt(v)).ToArray();
            }
        }
        // Michel et al. normalise head importance per layer by its L2 norm.
        foreach (var h in heads)
        {
            float norm = MathF.Sqrt(h.Sum(v => v * v));
            if (norm > 0) for (int i = 0; i < h.Length; i++) h[i] /= norm;
        }
        return new(heads, neurons, batches > 0 ? $"Michel et al. |dL/d(head mask)| over {batches} batches" : "weight norm of output projection (no data)");
    }

    /// <summary>
    /// Chooses the lowest <paramref name="fraction"/> of all remaining heads globally (keeping ≥ 1 per layer) and returns
    /// them as layer → ORIGINAL head indices, ready for <see cref="Prune"/>.
    /// </summary>
    public static Dictionary<int, int[]> ChooseHeads(ModelConfig config, PruningImportance importance, double fraction)
    {
        var ranked = importance.Heads.SelectMany((h, l) => h.Select((s, i) => (l, i, s))).OrderBy(t => t.s).ThenBy(t => t.l).ThenBy(t => t.i).ToList();
        int total = ranked.Count, target = (int)Math.Round(fraction * total);
        var left = importance.Heads.Select(h => h.Length).ToArray();
        var chosen = new Dictionary<int, List<int>>();
        foreach (var (l, i, _) in ranked)
        {
            if (target == 0) break;
            if (left[l] <= 1) continue;
            left[l]--; target--;
            (chosen.TryGetValue(l, out var list) ? list : chosen[l] = []).Add(RemainingHeads(config, l)[i]);
        }
        return chosen.ToDictionary(p => p.Key, p => p.Value.Order().ToArray());
    }

    /// <summary>The same number of lowest-scoring neurons per layer (current indices): HF configs hold one intermediate size.</summary>
    public static int[][] ChooseNeurons(PruningImportance importance, double fraction) =>
        importance.Neurons.Select(n =>
        {
            int k = Math.Min(n.Length - 1, (int)Math.Round(fraction * n.Length));
            return n.Select((s, i) => (s, i)).OrderBy(t => t.s).ThenBy(t => t.i).Take(k).Select(t => t.i).Order().ToArray();
        }).ToArray();

    /// <summary>
    /// Returns a new, smaller model: <paramref name="heads"/> (layer → original head indices) are removed and recorded in
    /// pruned_heads; <paramref name="neurons"/> (per layer, current indices; every layer the same count) are removed and
    /// intermediate_size / n_inner shrinks. The source model is left unchanged.
    /// </summary>
    public static PretrainedModel Prune(PretrainedModel model, IReadOnlyDictionary<int, int[]>? heads, int[][]? neurons = null)
    {
        var cfg = model.Config;
        var (layers, nHeadOrig, hs, inner) = Shape(cfg);
        bool gpt2 = cfg is Gpt2Config;
        int cut = neurons is null ? 0 : neurons[0].Length;
        if (neurons is not null && (neurons.Length != layers || neurons.Any(n => n.Length != cut)))
            throw new GptBertException("FFN pruning must remove the same number of neurons from every layer (transformers configs hold one intermediate size)");

        var newCfg = cfg with { PrunedHeads = new Dictionary<string, List<int>>() };
        var headKeep = new long[layers][];
        for (int l = 0; l < layers; l++)
        {
            var remaining = RemainingHeads(cfg, l);
            var drop = heads?.GetValueOrDefault(l) ?? [];
            if (drop.Any(h => !remaining.Contains(h)))
                throw new GptBertException($"layer {l}: head {drop.First(h => !remaining.Contains(h))} is not present (already pruned or out of range)");
            headKeep[l] = remaining.Select((h, pos) => (h, pos)).Where(t => !drop.Contains(t.h)).Select(t => (long)t.pos).ToArray();
            if (headKeep[l].Length == 0) throw new GptBertException($"pruning would remove every head of layer {l}; keep at least one");
            var all = cfg.PrunedHeadsOf(l).Concat(drop).Order().ToList();
            if (all.Count > 0) newCfg.PrunedHeads![l.ToString()] = all;
        }
        if (newCfg.PrunedHeads!.Count == 0) newCfg.PrunedHeads = null;
        switch (newCfg)
        {
            case BertConfig b: b.IntermediateSize = inner - cut; break;
            case Gpt2Config g: g.NInner = inner - cut; break;
        }

        var result = ModelFactory.Create(newCfg, model.Architecture);
        using var _ = no_grad();
        var oldSd = model.state_dict();
        foreach (var (key, target) in result.state_dict())
        {
            using var scope = NewDisposeScope();
            if (!oldSd.TryGetValue(key, out var src)) throw new GptBertException($"pruning: tensor {key} has no source");
            var t = src;
            if (Classify(key) is var (l, role))
            {
                int dim = UnitDim(role, gpt2);
                long units = src.shape[dim];
                if (role is Role.AttnIn or Role.AttnInBias or Role.AttnOut)
                {
                    long nh = RemainingHeads(cfg, l).Length;
                    // GPT-2's c_attn packs q|k|v along its output dim: select the same heads in each of the three blocks.
                    int blocks = (int)(units / (nh * hs));
                    var idx = Enumerable.Range(0, blocks).SelectMany(blk => headKeep[l].SelectMany(p => Enumerable.Range(0, hs).Select(j => blk * nh * hs + p * hs + j))).ToArray();
                    t = src.index_select(dim, tensor(idx));
                }
                else if (neurons is not null)
                {
                    var idx = Enumerable.Range(0, (int)units).Except(neurons[l].Select(i => i)).Select(i => (long)i).ToArray();
                    t = src.index_select(dim, tensor(idx));
                }
            }
            if (!t.shape.SequenceEqual(target.shape))
                throw new GptBertException($"pruning: tensor {key} came out [{string.Join(", ", t.shape)}] but the pruned config needs [{string.Join(", ", target.shape)}]");
            target.copy_(t);
        }
        result.train(model.training);
        return result;
    }

    /// <summary>
    /// Unstructured magnitude pruning: zeroes exactly round(sparsity · N) of the smallest-|w| entries of the transformer
    /// layers' weight matrices (embeddings, LayerNorms, biases and task heads are left alone), globally or per matrix.
    /// Shapes stay the same, so dense kernels run exactly as fast as before. Returns (zeroed, considered).
    /// </summary>
    public static (long Zeroed, long Total) Magnitude(PretrainedModel model, double sparsity, bool perLayer)
    {
        if (sparsity is < 0 or >= 1) throw new GptBertException($"magnitude sparsity {sparsity} must be in [0, 1)");
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var weights = model.named_parameters().Where(p => Classify(p.name) is { Role: not (Role.AttnInBias or Role.FfnInBias) }).Select(p => p.parameter).ToList();
        var groups = perLayer ? weights.Select(w => new List<TorchSharp.Modules.Parameter> { w }).ToList() : [weights];
        long zeroed = 0, total = 0;
        foreach (var g in groups)
        {
            var flat = cat(g.Select(w => w.detach().abs().flatten()).ToArray());
            long n = flat.numel(), k = (long)Math.Round(sparsity * n);
            total += n; zeroed += k;
            var mask = ones(n, dtype: flat.dtype);
            if (k > 0) mask.index_fill_(0, flat.argsort().narrow(0, 0, k), 0);
            long off = 0;
            foreach (var w in g)
            {
                w.mul_(mask.narrow(0, off, w.numel()).view(w.shape));
                off += w.numel();
            }
        }
        return (zeroed, total);
    }
}
