using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace GptBert.Engine;

/// <summary>
/// softmax(q·kᵀ·scale + mask)·v for fp32 inference on AVX-512 CPUs, one (batch, head) at a time per thread: kᵀ and v
/// are packed into <see cref="BlockedGemm"/>'s panels, then for each 8 query rows the scores (8 × keys, in L1) come
/// from its register kernel, the softmax runs on them in place, and the same kernel multiplies them by v, writing the
/// (B, T, nh, hs) layout the next projection reads. libtorch's scaled_dot_product_attention on a CPU runs far below
/// this machine's speed (MiniLM at 32 × 128 tokens: 94 ms of attention on one thread, 120 on two; bench profile); ONNX
/// Runtime fuses the same steps. Causal attention skips the keys every row of a block masks out.
/// </summary>
public static unsafe class AttentionKernel
{
    const int MR = BlockedGemm.MR, NR = BlockedGemm.NR;

    /// <summary>Off switch for benches and tests (GPTBERT_ATTENTION_KERNEL=0 disables it); <see cref="SmallGemm.Enabled"/> turns it off too.</summary>
    public static bool Enabled { get; set; } = BlockedGemm.Supported && Environment.GetEnvironmentVariable("GPTBERT_ATTENTION_KERNEL") != "0";

    [ThreadStatic] static float[]? scratch;

    /// <summary>
    /// The attention of q (B, nh, Tq, hs) over k, v (B, nh, Tk, hs), or null when it is not one for this kernel (a
    /// gradient or dropout is wanted, not fp32 on the CPU, a boolean mask, causal with Tq ≠ Tk). <paramref name="mask"/> is
    /// additive and broadcasts to (B, nh, Tq, Tk).
    /// </summary>
    public static Tensor? TryAttention(Tensor q, Tensor k, Tensor v, Tensor? mask, double dropout, bool causal, double scale)
    {
        if (!Enabled || !SmallGemm.Enabled || dropout != 0 || q.dim() != 4 || k.dim() != 4 || v.dim() != 4) return null;
        long B = q.shape[0], nh = q.shape[1], Tq = q.shape[2], hs = q.shape[3], Tk = k.shape[2];
        if (k.shape[0] != B || v.shape[0] != B || k.shape[1] != nh || v.shape[1] != nh || k.shape[3] != hs || v.shape[2] != Tk || v.shape[3] != hs) return null;
        if (Tq < 1 || Tk < 1 || hs < 1 || causal && (mask is not null || Tq != Tk) || Tk > 1 << 16 || hs > 1024) return null;
        foreach (var t in new[] { q, k, v })
            if (t.dtype != ScalarType.Float32 || t.device_type != DeviceType.CPU || t.stride(3) != 1) return null;
        if (mask is not null && (mask.dtype != ScalarType.Float32 || mask.device_type != DeviceType.CPU)) return null;
        if (torch.is_grad_enabled() && (q.requires_grad || k.requires_grad || v.requires_grad || mask is { requires_grad: true })) return null;

        using var scope = NewDisposeScope();
        Tensor? m = null;
        if (mask is not null)
        {
            try { m = mask.expand(B, nh, Tq, Tk); } catch (Exception) { return null; } // libtorch reports a shape that does not broadcast
            if (m.stride(3) != 1) m = m.contiguous();
        }
        var y = empty(B, Tq, nh, hs); // the layout y.transpose(1, 2).reshape(B, T, nh·hs) reads without a copy
        var job = new Job
        {
            Q = (float*)SmallGemm.Data(q), K = (float*)SmallGemm.Data(k), V = (float*)SmallGemm.Data(v), Y = (float*)SmallGemm.Data(y),
            Mask = m is null ? null : (float*)SmallGemm.Data(m),
            Qs = [q.stride(0), q.stride(1), q.stride(2)], Ks = [k.stride(0), k.stride(1), k.stride(2)], Vs = [v.stride(0), v.stride(1), v.stride(2)],
            Ms = m is null ? [0, 0, 0] : [m.stride(0), m.stride(1), m.stride(2)],
            Nh = (int)nh, Tq = (int)Tq, Tk = (int)Tk, Hs = (int)hs, Causal = causal, Scale = (float)scale,
        };
        // One part per thread; the (batch, head) pairs are dealt from a shared counter, so a thread that finishes early takes more.
        long heads = B * nh;
        Workers.Run((int)Math.Min(heads, TorchRuntime.Threads), _ =>
        {
            long bh;
            while ((bh = Interlocked.Increment(ref job.Next) - 1) < heads) Head(job, (int)(bh / nh), (int)(bh % nh));
        });
        GC.KeepAlive(q); GC.KeepAlive(k); GC.KeepAlive(v); GC.KeepAlive(m);
        return y.transpose(1, 2).MoveToOuterDisposeScope();
    }

    sealed class Job
    {
        public float* Q, K, V, Y, Mask;
        public long[] Qs = [], Ks = [], Vs = [], Ms = [];
        public int Nh, Tq, Tk, Hs;
        public bool Causal;
        public float Scale;
        public long Next;
    }

    /// <summary>One (batch, head): pack kᵀ and v, then 8 query rows at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Head(Job j, int b, int h)
    {
        int Tq = j.Tq, Tk = j.Tk, hs = j.Hs;
        float* q = j.Q + b * j.Qs[0] + h * j.Qs[1], k = j.K + b * j.Ks[0] + h * j.Ks[1], v = j.V + b * j.Vs[0] + h * j.Vs[1];
        float* mask = j.Mask is null ? null : j.Mask + b * j.Ms[0] + h * j.Ms[1];
        int ldq = (int)j.Qs[2], ldk = (int)j.Ks[2], ldv = (int)j.Vs[2], ldy = j.Nh * hs;
        float* y = j.Y + ((long)b * Tq * j.Nh + h) * hs;
        int kPanels = (Tk + NR - 1) / NR, vPanels = (hs + NR - 1) / NR, ldS = (Tk + 15) & ~15;
        float* packK = BlockedGemm.Scratch(ref scratch, kPanels * NR * hs + vPanels * NR * Tk + MR * ldS);
        float* packV = packK + kPanels * NR * hs, S = packV + vPanels * NR * Tk;
        for (int p = 0; p < kPanels; p++)
        {
            int cols = Math.Min(NR, Tk - p * NR);
            BlockedGemm.PackLinear(k, ldk, 0, hs, p * NR, cols, BlockedGemm.PanelWidth(cols), packK + p * NR * hs);
        }
        for (int p = 0; p < vPanels; p++)
        {
            int cols = Math.Min(NR, hs - p * NR);
            BlockedGemm.PackInOut(v, ldv, 0, Tk, p * NR, cols, BlockedGemm.PanelWidth(cols), packV + p * NR * Tk);
        }
        for (int i0 = 0; i0 < Tq; i0 += MR)
        {
            int rows = Math.Min(MR, Tq - i0);
            int keys = j.Causal ? i0 + rows : Tk; // causal: the last row of the block sees keys [0, i0 + rows)
            float* qa = q + (long)i0 * ldq;
            // Scores of every key panel the block sees; a partial panel's padding columns fit in the row (ldS is a multiple of 16).
            for (int p = 0; p < (keys + NR - 1) / NR; p++)
                BlockedGemm.Kernel(qa, ldq, packK + p * NR * hs, hs, S + p * NR, ldS, true, null, rows, BlockedGemm.PanelWidth(Math.Min(NR, Tk - p * NR)));
            for (int i = 0; i < rows; i++)
                Softmax(S + i * ldS, j.Causal ? i0 + i + 1 : Tk, keys, j.Scale, mask is null ? null : mask + (i0 + i) * j.Ms[2]);
            for (int p = 0; p < vPanels; p++)
                BlockedGemm.PartialPanel(S, ldS, packV + p * NR * Tk, keys, y + (long)i0 * ldy + p * NR, ldy, true, null, rows, Math.Min(NR, hs - p * NR));
        }
    }

    /// <summary>
    /// s[0, n) ← softmax(s·scale + mask) over [0, n), zero on [n, width): the row's probabilities, and zeros where a
    /// causal block's later rows see keys this row does not. A row whose every key is masked to −∞ becomes zeros.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Softmax(float* s, int n, int width, float scale, float* mask)
    {
        var vs = Vector512.Create(scale);
        var max = Vector512.Create(float.NegativeInfinity);
        int j = 0;
        for (; j + 16 <= n; j += 16)
        {
            var x = Vector512.Load(s + j) * vs;
            if (mask is not null) x += Vector512.Load(mask + j);
            x.Store(s + j);
            max = Vector512.Max(max, x);
        }
        float mx = float.NegativeInfinity;
        for (int l = 0; l < 16; l++) mx = Math.Max(mx, max.GetElement(l));
        for (; j < n; j++) { s[j] = s[j] * scale + (mask is null ? 0 : mask[j]); mx = Math.Max(mx, s[j]); }
        if (float.IsNegativeInfinity(mx)) { new Span<float>(s, width).Clear(); return; }
        var vm = Vector512.Create(mx);
        var sum = Vector512<float>.Zero;
        j = 0;
        for (; j + 16 <= n; j += 16) { var e = VectorExp.Exp(Vector512.Load(s + j) - vm); e.Store(s + j); sum += e; }
        float total = Vector512.Sum(sum);
        for (; j < n; j++) { s[j] = MathF.Exp(s[j] - mx); total += s[j]; }
        var inv = Vector512.Create(1 / total);
        j = 0;
        for (; j + 16 <= n; j += 16) (Vector512.Load(s + j) * inv).Store(s + j);
        for (; j < n; j++) s[j] /= total;
        for (; j < width; j++) s[j] = 0;
    }
}
