#!/usr/bin/env python3
"""Golden fixtures for GPT-2's attention config fields, made by transformers itself.

Writes tests/GptBert.Tests/Models/Golden/gpt2-config/<case>/{config.json, model.safetensors, expected.json}
for tiny GPT2LMHeadModels that differ only in scale_attn_weights, scale_attn_by_inverse_layer_idx and
reorder_and_upcast_attn (see README.md, "gpt2_config_golden.py").

Every case starts from the same seed, so all five models have identical weights: any difference in their
logits comes from the config field alone.
"""
import datetime
import json
import os
import platform
import shutil
import tempfile

import torch
import transformers
from transformers import GPT2Config, GPT2LMHeadModel

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "tests", "GptBert.Tests", "Models", "Golden", "gpt2-config")
TRANSFORMERS_COMMIT = "1248f0925234f97da9eee98da2aa22f7b8dbeda1"
SEED = 20240320

CASES = [
    ("a-defaults", {}),
    ("b-no-scale-attn-weights", {"scale_attn_weights": False}),
    ("c-scale-by-inverse-layer-idx", {"scale_attn_by_inverse_layer_idx": True}),
    ("d-reorder-and-upcast", {"reorder_and_upcast_attn": True}),
    ("e-inverse-layer-idx-and-reorder", {"scale_attn_by_inverse_layer_idx": True, "reorder_and_upcast_attn": True}),
]

BASE = dict(n_layer=3, n_embd=32, n_head=4, n_positions=32, vocab_size=64, bos_token_id=0, eos_token_id=0,
            # larger than GPT-2's 0.02 so that attention scores are not all near zero (with 0.02 every
            # softmax is nearly uniform and the attention scaling would hardly show in the logits)
            initializer_range=0.2)

INPUT_IDS = [[5, 17, 42, 8, 33, 61, 2],
             [9, 50, 23, 4, 0, 0, 0]]
ATTENTION_MASK = [[1, 1, 1, 1, 1, 1, 1],
                  [1, 1, 1, 1, 0, 0, 0]]
PROMPTS = [[33, 52, 41], [53, 3, 57], [14, 1, 9]]  # picked so that a, b and c generate differently; the last ends in eos (0)
MAX_NEW_TOKENS = 8


_baddbmm = torch.baddbmm


def baddbmm_ignoring_input_when_beta_is_0(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    """torch.baddbmm as documented: "if beta is 0, input is ignored, nan and inf in it are not propagated".

    torch before 2.1 breaks that on CPU for some shapes (pytorch/pytorch#96037, #80588; fixed by #96086):
    its small-matrix kernel computes r *= beta on an output buffer it has not filled (for beta 0 it does
    not copy input there), and 0 * NaN = NaN. GPT-2's reorder_and_upcast_attn path calls
    baddbmm(torch.empty(...), q, k, beta=0, alpha=scale), so logits came out NaN now and then (here:
    greedy generation of case d collapsed to token 0). Zeros as input with beta 1 makes the kernel start
    from r = 0, as the fixed kernel does for beta 0, with the same accumulation after that.
    """
    if beta == 0:
        input, beta = torch.zeros_like(input), 1
    if out is None:
        return _baddbmm(input, batch1, batch2, beta=beta, alpha=alpha)
    return _baddbmm(input, batch1, batch2, beta=beta, alpha=alpha, out=out)


torch.baddbmm = baddbmm_ignoring_input_when_beta_is_0


def f32(v):
    return float(f"{v:.9g}")  # 9 significant digits round-trip a float32


def nested(t):
    if t.dim() == 0:
        return f32(t.item())
    return [nested(x) for x in t]


def build(fields):
    torch.manual_seed(SEED)
    model = GPT2LMHeadModel(GPT2Config(**BASE, **fields))
    g = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():  # parameters only: attn.bias (causal mask) is a buffer
            if name.endswith(".bias"):
                p.add_(0.1 * torch.randn(p.shape, generator=g))
            elif name.startswith("transformer.ln_f.") or ".ln_" in name:  # LayerNorm weights
                p.add_(0.1 * torch.randn(p.shape, generator=g))
    return model.eval()


def main():
    versions = {"transformers": transformers.__version__, "transformers_commit": TRANSFORMERS_COMMIT,
                "torch": torch.__version__, "python": platform.python_version()}
    generated = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    ids = torch.tensor(INPUT_IDS)
    mask = torch.tensor(ATTENTION_MASK)
    results = {}
    for name, fields in CASES:
        model = build(fields)
        for k, v in fields.items():
            assert getattr(model.config, k) == v
        with torch.no_grad():
            logits = model(ids, attention_mask=mask).logits
        assert logits.dtype == torch.float32 and logits.shape == (2, 7, 64)
        assert torch.isfinite(logits).all()
        with torch.no_grad():
            assert torch.equal(model(ids, attention_mask=mask).logits, logits)  # deterministic
        gens = []
        for prompt in PROMPTS:
            p = torch.tensor([prompt])
            out = model.generate(p, attention_mask=torch.ones_like(p), max_new_tokens=MAX_NEW_TOKENS,
                                 do_sample=False, pad_token_id=0, output_scores=True,
                                 return_dict_in_generate=True)
            seq = out.sequences[0].tolist()
            new = seq[len(prompt):]
            # how far the chosen token's logit is above the runner-up at each step (a small margin could
            # flip under float32 rounding differences)
            margins = [float(torch.topk(sc[0], 2).values[0] - torch.topk(sc[0], 2).values[1]) for sc in out.scores]
            gens.append({"prompt": prompt, "output_ids": seq, "new_ids": new,
                         "stopped_at_eos": 0 in new,
                         "min_top2_margin": round(min(margins), 6)})
        d = os.path.join(OUT, name)
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
        with tempfile.TemporaryDirectory() as tmp:
            model.save_pretrained(tmp, safe_serialization=True)
            for f in ("config.json", "model.safetensors"):
                shutil.copy(os.path.join(tmp, f), os.path.join(d, f))
            left = sorted(set(os.listdir(tmp)) - {"config.json", "model.safetensors"})
        # the saved directory reloads to the same logits
        again = GPT2LMHeadModel.from_pretrained(d).eval()
        with torch.no_grad():
            assert torch.equal(again(ids, attention_mask=mask).logits, logits)
        expected = {
            "about": ("GPT2LMHeadModel from transformers with the config fields in 'config_fields'; written by "
                      "tools/hf-check/gpt2_config_golden.py (see tools/hf-check/README.md)"),
            "generated": generated,
            "versions": versions,
            "case": name,
            "config_fields": fields,
            "weights": (f"torch.manual_seed({SEED}), GPT2LMHeadModel init (initializer_range 0.2), then every "
                        "parameter named *.bias and every LayerNorm weight += 0.1 * N(0,1); the same weights in "
                        "every case"),
            "input_ids": INPUT_IDS,
            "attention_mask": ATTENTION_MASK,
            "logits_call": "model(input_ids, attention_mask=attention_mask).logits, eval mode, float32",
            "logits_shape": list(logits.shape),
            "logits": nested(logits),
            "generate_call": (f"model.generate(prompt, attention_mask=ones, max_new_tokens={MAX_NEW_TOKENS}, "
                              "do_sample=False, pad_token_id=0); eos_token_id 0 from the config stops it"),
            "generate": gens,
            "files_not_kept": left,
            "torch_workaround": ("torch.baddbmm patched to ignore its input when beta is 0, as documented "
                                 "(torch < 2.1 CPU bug pytorch/pytorch#96037 gave NaN in the "
                                 "reorder_and_upcast_attn path); see the script"),
            "note": ("reorder_and_upcast_attn only moves the scaling into baddbmm and computes the scores in "
                     "float32, so in float32 its logits equal the same model's without it to ~1e-6 (d vs a, "
                     "e vs c)"),
        }
        with open(os.path.join(d, "expected.json"), "w") as f:
            json.dump(expected, f, indent=None, separators=(",", ":"))
            f.write("\n")
        results[name] = logits
        sizes = {f: os.path.getsize(os.path.join(d, f)) for f in sorted(os.listdir(d))}
        print(name, sizes, [g["new_ids"] for g in gens], [g["min_top2_margin"] for g in gens])
    a = results["a-defaults"]
    for name, l in results.items():
        print(f"  max |logits - a-defaults| {name:34s} {float((l - a).abs().max()):.3g}")


if __name__ == "__main__":
    main()
