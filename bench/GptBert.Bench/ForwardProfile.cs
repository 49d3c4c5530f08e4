using System.Diagnostics;
using GptBert.Engine;
using GptBert.Models;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace GptBert.Bench;

/// <summary>
/// Where a MiniLM-shaped encoder forward spends its time: each kind of op of the 6 layers timed alone at the shape the
/// forward gives it (random fp32 tensors, no gradient), with libtorch's ops on 1 and on the configured threads.
/// </summary>
public static class ForwardProfile
{
    public static List<(string Op, double Ms1, double MsN)> Run(int b, int t, int threads)
    {
        using var _ = no_grad();
        const int layers = 6, hidden = 384, heads = 12, inter = 1536;
        int hs = hidden / heads;
        var x = randn(b, t, hidden); var h4 = randn(b, t, inter);
        var wq = randn(hidden, hidden); var bq = randn(hidden);
        var wi = randn(inter, hidden); var bi = randn(inter);
        var wo = randn(hidden, inter);
        var q = randn(b, t, hidden).view(b, t, heads, hs).transpose(1, 2);
        var k = randn(b, t, hidden).view(b, t, heads, hs).transpose(1, 2);
        var v = randn(b, t, hidden).view(b, t, heads, hs).transpose(1, 2);
        var ln = nn.LayerNorm(hidden);
        var ops = new (string, Action)[]
        {
            ("36 linear products (GptBert kernels)", () => { for (int l = 0; l < layers; l++) { for (int i = 0; i < 4; i++) Ops.Linear(x, wq, bq); Ops.Linear(x, wi, bi); Ops.Linear(h4, wo, bq); } }),
            ("6 attention (GptBert's kernel where AVX-512, no mask)", () => { for (int l = 0; l < layers; l++) Ops.Attention(q, k, v, null, 0); }),
            ("6 attention (libtorch's scaled_dot_product_attention, no mask)", () => { for (int l = 0; l < layers; l++) F.scaled_dot_product_attention(q, k, v); }),
            ("6 attention outputs to (B, T, H) (transpose + reshape copy)", () => { for (int l = 0; l < layers; l++) q.transpose(1, 2).reshape(b, t, hidden); }),
            ("6 GELU (erf) on (B, T, 1536)", () => { for (int l = 0; l < layers; l++) Activations.Apply("gelu", h4); }),
            ("13 residual add + LayerNorm (B, T, 384)", () => { for (int l = 0; l < 2 * layers + 1; l++) ln.forward(x + x); }),
            ("13 residual add alone", () => { for (int l = 0; l < 2 * layers + 1; l++) { var t = x + x; } }),
            ("13 LayerNorm alone", () => { for (int l = 0; l < 2 * layers + 1; l++) ln.forward(x); }),
            ("13 F.layer_norm alone", () => { for (int l = 0; l < 2 * layers + 1; l++) F.layer_norm(x, [hidden]); }),
        };
        var results = new List<(string, double, double)>();
        foreach (var (name, op) in ops)
        {
            double Time(int n)
            {
                TorchRuntime.Configure(n);
                for (int i = 0; i < 3; i++) { using var s = NewDisposeScope(); op(); }
                var ms = new List<double>();
                for (int r = 0; r < 15; r++) { using var s = NewDisposeScope(); var sw = Stopwatch.StartNew(); op(); ms.Add(sw.Elapsed.TotalMilliseconds); }
                return ms.Order().ElementAt(ms.Count / 2);
            }
            results.Add((name, Time(1), Time(threads)));
        }
        TorchRuntime.Configure(threads);
        return results;
    }
}
