using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GptBert.Training;

/// <summary>
/// TorchSharp's AdamW (same state, same checkpoint format, the same arithmetic in the same order) with one fix: every
/// <see cref="Scalar"/> its update passes to libtorch is held in a local until the call has returned.
/// </summary>
/// <remarks>
/// TorchSharp's own step passes doubles that convert implicitly into temporary <see cref="Scalar"/> objects
/// (<c>exp_avg.mul_(beta1)</c>). Such a temporary is unreachable once its native handle has been read, so a garbage
/// collection during the native call (another thread allocating) can run its finalizer, which frees the native scalar
/// that libtorch is about to read. Under parallel load this failed now and then with
/// "Expected false to be true ... toFloat at c10/core/Scalar.h" inside AdamW.step. Scalars created here are disposed
/// explicitly after use, which keeps them alive until then.
/// </remarks>
public sealed class KeptAliveAdamW(IEnumerable<AdamW.ParamGroup> groups, double lr, double beta1, double beta2, double eps, double weightDecay)
    : AdamW(groups, lr, beta1, beta2, eps, weightDecay, amsgrad: false, maximize: false)
{
    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var o = (Options)group.Options;
        double beta1 = o.beta1!.Value, beta2 = o.beta2!.Value, eps = o.eps!.Value, decay = o.weight_decay!.Value, lr = o.LearningRate!.Value;
        using Scalar b1 = beta1.ToScalar(), oneMinusB1 = (1 - beta1).ToScalar(), b2 = beta2.ToScalar(), oneMinusB2 = (1 - beta2).ToScalar(),
            epsilon = eps.ToScalar(), shrink = (1 - lr * decay).ToScalar();
        foreach (var param in group.Parameters)
        {
            var grad = param.grad;
            if (grad is null) continue;
            var state = (State)_state[param.Handle];
            state.step += 1;
            double biasCorrection1 = 1 - Math.Pow(beta1, state.step), biasCorrection2 = 1 - Math.Pow(beta2, state.step);
            using Scalar rootCorrection2 = Math.Sqrt(biasCorrection2).ToScalar(), stepSize = (-(lr / biasCorrection1)).ToScalar();

            param.mul_(shrink); // decoupled weight decay: p ← p (1 − lr·λ)
            state.exp_avg.mul_(b1).add_(grad, alpha: oneMinusB1); // m ← β1 m + (1 − β1) g
            state.exp_avg_sq.mul_(b2).addcmul_(grad, grad, value: oneMinusB2); // v ← β2 v + (1 − β2) g²
            var denom = (state.exp_avg_sq.sqrt() / rootCorrection2).add_(epsilon); // √(v / (1 − β2ᵗ)) + ε
            param.addcdiv_(state.exp_avg, denom, value: stepSize); // p ← p − lr / (1 − β1ᵗ) · m / denom
        }
    }, closure);
}
