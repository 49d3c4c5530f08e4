#!/usr/bin/env python3
"""Golden data for GptBert's logits processing, computed by transformers' own classes.

Writes tests/GptBert.Tests/Pipelines/Golden/logits-processors.json (see README.md, "decoding_golden.py").

Every case runs fixed float32 logits (batch of one row) through transformers'
RepetitionPenaltyLogitsProcessor / TemperatureLogitsWarper / TopKLogitsWarper / TopPLogitsWarper.
Composed cases take their processor and warper lists from GenerationMixin's own
_get_logits_processor / _get_logits_warper for a GenerationConfig, i.e. exactly what
generate(do_sample=True) applies: the processors (repetition penalty), then the warpers
(temperature, top-k, top-p), as _sample() does.

Conventions of the file:
  * float32 values are written in their shortest round-trip decimal form (parse as float32);
  * a filtered score (transformers' filter_value -inf) is written as the JSON string "-inf";
  * probabilities are float32 softmax(scores) as torch computes it; removed tokens have 0.
"""
import datetime
import json
import math
import os
import platform
import subprocess
import sys

import numpy as np
import torch
import transformers
from transformers import (GenerationConfig, GPT2Config, GPT2LMHeadModel, LogitsProcessorList,
                          RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper, TopKLogitsWarper,
                          TopPLogitsWarper)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "tests", "GptBert.Tests", "Pipelines", "Golden", "logits-processors.json")
TRANSFORMERS_COMMIT = "1248f0925234f97da9eee98da2aa22f7b8dbeda1"


def f32(v):
    """One float32 value as a JSON-ready Python value: shortest round-trip decimal, or "-inf"."""
    v = np.float32(v)
    if np.isneginf(v):
        return "-inf"
    if not np.isfinite(v):
        raise ValueError(f"unexpected value {v}")
    return float(str(v))


def vec(t):
    return [f32(v) for v in t.reshape(-1).tolist()]


def row(values):
    t = torch.tensor([values], dtype=torch.float32)
    assert t.dtype == torch.float32
    return t


def ids_tensor(ids):
    return torch.tensor([ids if ids else [0]], dtype=torch.long)


def kept(scores):
    return [i for i, v in enumerate(scores.reshape(-1).tolist()) if v != -math.inf]


def softmax(scores):
    return torch.softmax(scores, dim=-1)


# ---------------------------------------------------------------------------------------------
# Inputs

# 20 logits: negatives, a zero, and exact ties: 2.5 at ids 0 and 9 (the 3rd/4th largest, the top-3
# boundary), 1.7 at ids 3, 4, 10 (6th..8th, the top-6 boundary), 0.3 at 2 and 15, -1.0 at 1 and 14.
BASE = [2.5, -1.0, 0.3, 1.7, 1.7, -3.2, 0.0, 4.1, -0.5, 2.5,
        1.7, -2.0, 0.9, 3.0, -1.0, 0.3, 2.2, -4.5, 1.1, 0.6]

# 20 logits for top-p ties: one top token (id 4, 3.0), then a tied pair (ids 1 and 11, 2.0), then
# the rest strictly lower.
TIES = [-0.25, 2.0, 0.5, -1.5, 3.0, 0.0, -2.5, 1.0, -0.75, 0.25,
        -3.0, 2.0, -1.25, 0.75, -4.0, -0.5, 1.25, -2.0, 0.125, -1.0]

# 8 equal logits: softmax gives exactly 0.125 each and the ascending cumulative sums 0.125 ... 1.0
# are exact in float32, so top_p = 0.5 puts 1 - top_p exactly on a cumulative sum.
UNIFORM8 = [0.5] * 8

# Context (input_ids) for the repetition penalty: ids 7, 0 and 5 repeated; 5 (-3.2), 11 (-2.0) and
# 17 (-4.5) have negative logits, 6 has logit 0.0 (not < 0, so it is divided: stays 0).
CONTEXT = [7, 0, 5, 7, 11, 0, 13, 5, 6, 17]


def case(name, kind, logits, params, input_ids, scores, note=None, **extra):
    c = {"name": name, "kind": kind, "params": params, "input_ids": input_ids,
         "logits": vec(row(logits)), "scores": vec(scores), "kept": kept(scores)}
    if note:
        c["note"] = note
    c.update(extra)
    if kind == "top_p":
        mark_order_dependence(c, row(logits), params["top_p"])
    return c


def top_p_stable(scores, top_p, min_tokens_to_keep=1):
    """TopPLogitsWarper's computation with a stable sort (equal scores keep their id order)."""
    sorted_logits, sorted_indices = torch.sort(scores, descending=False, stable=True)
    cum = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    remove = cum <= (1 - top_p)
    remove[..., -min_tokens_to_keep:] = 0
    remove = remove.scatter(1, sorted_indices, remove)
    return scores.masked_fill(remove, -math.inf)


def mark_order_dependence(c, scores_in, top_p):
    """order_dependent: the top-p filter split a group of equal scores, so which members survive is
    torch.sort's choice; kept_with_stable_sort shows the other possible outcome."""
    split = tie_groups(scores_in.reshape(-1).tolist(), c["kept"])
    c["order_dependent"] = bool(split)
    c["split_tie_groups"] = split
    c["kept_count"] = len(c["kept"])
    if split:
        c["kept_with_stable_sort"] = kept(top_p_stable(scores_in.clone(), top_p))


def run_single(proc, logits, input_ids):
    return proc(ids_tensor(input_ids), row(logits).clone())


def top_p_details(logits, top_p, min_tokens_to_keep=1):
    """What TopPLogitsWarper computes before its min_tokens_to_keep rule, for the case notes."""
    scores = row(logits)
    sorted_logits, sorted_indices = torch.sort(scores, descending=False)
    cum = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    remove = cum <= (1 - top_p)
    removed_all = bool(remove[..., -min_tokens_to_keep:].all())
    return removed_all, cum


def tie_groups(logits, kept_ids):
    """Groups of equal logits that the filter split: some members kept, some removed."""
    groups = {}
    for i, v in enumerate(logits):
        groups.setdefault(np.float32(v), []).append(i)
    split = []
    for ids in groups.values():
        k = [i for i in ids if i in kept_ids]
        if len(ids) > 1 and 0 < len(k) < len(ids):
            split.append(ids)
    return split


def c_split_ok(c, split):
    return c["split_tie_groups"] == split


def single_cases():
    cases = []
    for t in (0.7, 1.3):
        s = run_single(TemperatureLogitsWarper(t), BASE, [])
        cases.append(case(f"temperature-{t}", "temperature", BASE, {"temperature": t}, [], s,
                          note="scores = logits / temperature, in float32 with float32(temperature)"))

    for k in (1, 3, 5, 6, 20, 50):
        s = run_single(TopKLogitsWarper(top_k=k, min_tokens_to_keep=1), BASE, [])
        n = len(kept(s))
        note = f"keeps every token whose logit is >= the {k}-th largest ({n} kept)"
        if n > min(k, len(BASE)):
            note += "; ties at the boundary are all kept"
        if k >= len(BASE):
            note += "; k >= vocabulary: nothing removed"
        cases.append(case(f"top_k-{k}", "top_k", BASE, {"top_k": k, "min_tokens_to_keep": 1}, [], s, note=note))

    for p in (0.5, 0.9, 0.95, 1.0, 1e-9):
        s = run_single(TopPLogitsWarper(top_p=p, min_tokens_to_keep=1), BASE, [])
        removed_all, _ = top_p_details(BASE, p)
        note = (f"removes tokens whose ascending cumulative softmax is <= 1 - top_p; {len(kept(s))} kept")
        if removed_all:
            note += ("; the rule alone removes every token (float32(1 - top_p) = 1.0 >= every cumulative "
                     "sum), min_tokens_to_keep=1 keeps the largest")
        if p == 1.0:
            note += "; generate() does not add TopPLogitsWarper for top_p = 1.0 (no-op anyway)"
        cases.append(case(f"top_p-{p}", "top_p", BASE, {"top_p": p, "min_tokens_to_keep": 1}, [], s,
                          note=note, min_tokens_to_keep_applied=removed_all))
    # BASE's last cumulative sum rounds to 1.0000001 (> 1), so there the rule alone keeps the top token;
    # TIES' is exactly 1.0, so with a tiny top_p only min_tokens_to_keep keeps one
    p = 1e-9
    s = run_single(TopPLogitsWarper(top_p=p, min_tokens_to_keep=1), TIES, [])
    removed_all, cum = top_p_details(TIES, p)
    assert removed_all and kept(s) == [4]
    cases.append(case(
        f"top_p-min_tokens_to_keep-{p}", "top_p", TIES, {"top_p": p, "min_tokens_to_keep": 1}, [], s,
        note=("the last ascending cumulative sum is exactly 1.0 and float32(1 - top_p) = 1.0, so the rule "
              "removes every token; min_tokens_to_keep=1 keeps the largest (id 4)"),
        min_tokens_to_keep_applied=True))

    # top-p at a tie: the probabilities of TIES
    probs = softmax(row(TIES)).reshape(-1).tolist()
    p_top, p_tie = probs[4], probs[1]
    tie_ps = [
        ("ties-before-boundary", round(p_top - 0.02, 4), "both tied tokens (1, 11) removed, only id 4 kept"),
        ("ties-straddle-boundary", round(p_top + 0.5 * p_tie, 4),
         "the threshold falls inside the tied pair (1, 11): transformers keeps exactly one of them, the one "
         "torch.sort(ascending) puts last; WHICH one is an artefact of sort order, not of the method "
         "(order_dependent): a test should check the kept count and the untied tokens, and that one of "
         "the tied pair is kept with its score unchanged"),
        ("ties-last-kept", round(p_top + 1.5 * p_tie, 4), "both tied tokens kept, the next one (16) removed"),
    ]
    for name, p, note in tie_ps:
        s = run_single(TopPLogitsWarper(top_p=p, min_tokens_to_keep=1), TIES, [])
        k = kept(s)
        split = tie_groups(TIES, k)
        cases.append(case(f"top_p-{name}-{p}", "top_p", TIES, {"top_p": p, "min_tokens_to_keep": 1}, [], s,
                          note=note))
        assert c_split_ok(cases[-1], split)

    for p in (0.5, 0.75):
        s = run_single(TopPLogitsWarper(top_p=p, min_tokens_to_keep=1), UNIFORM8, [])
        k = kept(s)
        cases.append(case(
            f"top_p-uniform8-{p}", "top_p", UNIFORM8, {"top_p": p, "min_tokens_to_keep": 1}, [], s,
            note=(f"8 equal logits: probabilities exactly 0.125, 1 - top_p = {1 - p} equals a cumulative sum "
                  f"exactly, and '<=' removes it: {len(k)} kept (mass {len(k) * 0.125} = top_p). Which of "
                  "the equal tokens are kept depends on sort order (order_dependent): check the count"),
            ))
        assert cases[-1]["order_dependent"]

    for rp in (1.3, 0.8):
        s = run_single(RepetitionPenaltyLogitsProcessor(penalty=rp), BASE, CONTEXT)
        cases.append(case(
            f"repetition_penalty-{rp}", "repetition_penalty", BASE, {"repetition_penalty": rp}, CONTEXT, s,
            note=("for each distinct id in input_ids: logit < 0 -> logit * penalty, else logit / penalty "
                  "(float32); an id repeated in the context is penalised once; ids not in the context unchanged")))
    return cases


def generate_lists(model, config, input_ids):
    processors = model._get_logits_processor(
        generation_config=config, input_ids_seq_length=input_ids.shape[-1], encoder_input_ids=input_ids,
        prefix_allowed_tokens_fn=None, logits_processor=LogitsProcessorList(), model_kwargs={})
    warpers = model._get_logits_warper(config)
    return processors, warpers


def describe(p):
    if isinstance(p, RepetitionPenaltyLogitsProcessor):
        return {"class": "RepetitionPenaltyLogitsProcessor", "penalty": p.penalty}
    if isinstance(p, TemperatureLogitsWarper):
        return {"class": "TemperatureLogitsWarper", "temperature": p.temperature}
    if isinstance(p, TopKLogitsWarper):
        return {"class": "TopKLogitsWarper", "top_k": p.top_k}
    if isinstance(p, TopPLogitsWarper):
        return {"class": "TopPLogitsWarper", "top_p": p.top_p, "min_tokens_to_keep": p.min_tokens_to_keep}
    raise ValueError(f"unexpected processor {type(p).__name__}")


EXPECTED_ORDER = ["RepetitionPenaltyLogitsProcessor", "TemperatureLogitsWarper", "TopKLogitsWarper",
                  "TopPLogitsWarper"]


def composed(model, name, logits, context, rp, t, k, p):
    config = GenerationConfig(do_sample=True, repetition_penalty=rp, temperature=t, top_k=k, top_p=p)
    ids = ids_tensor(context)
    processors, warpers = generate_lists(model, config, ids)
    chain = list(processors) + list(warpers)
    names = [type(x).__name__ for x in chain]
    assert names == [n for n in EXPECTED_ORDER if n in names], names
    scores = row(logits).clone()
    stages = []
    # as GenerationMixin._sample: logits_processor(input_ids, logits), then logits_warper(input_ids, ...)
    for x in chain:
        scores = x(ids, scores)
        stages.append({"after": type(x).__name__, "scores": vec(scores)})
    # the same through the two lists, to be sure
    check = warpers(ids, processors(ids, row(logits).clone()))
    assert torch.equal(check, scores)
    result = {"name": name, "kind": "composed",
            "params": {"repetition_penalty": rp, "temperature": t, "top_k": k, "top_p": p,
                       "min_tokens_to_keep": 1},
            "processors": [describe(x) for x in chain],
            "input_ids": context, "logits": vec(row(logits)), "stages": stages,
            "scores": vec(scores), "kept": kept(scores), "probs": vec(softmax(scores))}
    before_top_p = row(logits).clone()
    for x in chain:
        if isinstance(x, TopPLogitsWarper):
            mark_order_dependence(result, before_top_p, x.top_p)
            break
        before_top_p = x(ids, before_top_p)
    return result


def splitmix64_logits(n, seed):
    """The large case's logits, reproducible in C# with ulong arithmetic (see the JSON 'generator')."""
    M = np.uint64(0xFFFFFFFFFFFFFFFF)
    with np.errstate(over="ignore"):
        state = np.uint64(seed) + np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z = state
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    mask = np.uint64(0x1FFFFF)
    a = z & mask
    b = (z >> np.uint64(21)) & mask
    c = (z >> np.uint64(42)) & mask
    total = (a + b + c).astype(np.int64) - 3 * (1 << 20)
    out = (total.astype(np.float64) / float(1 << 18)).astype(np.float32)
    # exact: |total| < 2^23, divided by a power of two
    assert np.array_equal(out.astype(np.float64) * (1 << 18), total.astype(np.float64))
    del M
    return out


GENERATOR_DOC = {
    "algorithm": "splitmix64",
    "seed": 20240320,
    "description": (
        "for i = 0 .. vocab_size-1 (ulong arithmetic, wrapping): state = seed + (i + 1) * 0x9E3779B97F4A7C15; "
        "z = state; z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9; z = (z ^ (z >> 27)) * 0x94D049BB133111EB; "
        "z = z ^ (z >> 31); a = z & 0x1FFFFF; b = (z >> 21) & 0x1FFFFF; c = (z >> 42) & 0x1FFFFF; "
        "logit[i] = (float)((long)(a + b + c) - 3 * 2^20) / 2^18 (exact in float32: |numerator| < 2^23, "
        "divisor a power of two); logits lie in [-12, 12)"),
}


def large_case(model, name, context, rp, t, k, p, logits):
    config = GenerationConfig(do_sample=True, repetition_penalty=rp, temperature=t, top_k=k, top_p=p)
    ids = ids_tensor(context)
    processors, warpers = generate_lists(model, config, ids)
    chain = list(processors) + list(warpers)
    x = torch.from_numpy(logits.copy()).reshape(1, -1)
    scores = warpers(ids, processors(ids, x.clone()))
    k_ids = kept(scores)
    probs = softmax(scores).reshape(-1)
    flat = scores.reshape(-1)
    after_k = list(processors) + [w for w in warpers if not isinstance(w, TopPLogitsWarper)]
    s_k = x.clone()
    for w in after_k:
        s_k = w(ids, s_k)
    top = torch.topk(x.reshape(-1), 10)
    return {
        "name": name, "kind": "composed_large", "vocab_size": int(logits.shape[0]),
        "params": {"repetition_penalty": rp, "temperature": t, "top_k": k, "top_p": p, "min_tokens_to_keep": 1},
        "processors": [describe(w) for w in chain],
        "input_ids": context,
        "logits_check": {
            "first8": [f32(v) for v in logits[:8]],
            "sum_float64": float(logits.astype(np.float64).sum()),
            "argmax": int(np.argmax(logits)), "max": f32(logits.max()), "min": f32(logits.min()),
            "top10_ids": top.indices.tolist(), "top10_values": vec(top.values),
        },
        "kept_after_top_k_count": len(kept(s_k)),
        "kept": k_ids,
        "kept_scores": [f32(flat[i]) for i in k_ids],
        "kept_probs": [f32(probs[i]) for i in k_ids],
        "note": "every id not in 'kept' has score -inf and probability 0; kept ids in ascending order",
    }


def main():
    torch.manual_seed(0)
    # a tiny model only to ask GenerationMixin which processors/warpers generate() builds
    model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=8, n_head=2, n_positions=8, vocab_size=50257,
                                       bos_token_id=0, eos_token_id=0)).eval()
    cases = single_cases()
    cases.append(composed(model, "composed-rp1.3-t0.7-k5-p0.9", BASE, [7, 13, 7, 5, 6], 1.3, 0.7, 5, 0.9))
    cases.append(composed(model, "composed-rp0.8-t1.3-k3-p0.95", BASE, [17, 11, 5, 17, 1], 0.8, 1.3, 3, 0.95))
    cases.append(composed(model, "composed-rp1.3-t1.3-k50-p0.5", TIES, [4, 16, 4, 6], 1.3, 1.3, 50, 0.5))

    big = splitmix64_logits(50257, GENERATOR_DOC["seed"])
    order = np.argsort(-big, kind="stable")
    large = [
        large_case(model, "large-k50-p0.9", [], 1.0, 1.0, 50, 0.9, big),
        large_case(model, "large-rp1.3-t0.8-k50-p0.9", [int(i) for i in order[[0, 2, 5, 0, 60]]] + [17],
                   1.3, 0.8, 50, 0.9, big),
    ]
    for c in large:
        if not c["input_ids"]:
            c["input_ids"] = []
            c["input_ids_note"] = ("no context; transformers is called with input_ids [[0]], which only the "
                                   "repetition penalty reads, and it is not applied (penalty 1.0 not added)")
    # the empty-context single cases likewise
    for c in cases:
        if c["kind"] in ("temperature", "top_k", "top_p"):
            assert c["input_ids"] == []

    commit = TRANSFORMERS_COMMIT
    doc = {
        "about": ("Golden outputs of transformers' logits processors/warpers on fixed float32 logits (batch of "
                  "one row). Written by tools/hf-check/decoding_golden.py; see tools/hf-check/README.md."),
        "generated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "versions": {"transformers": transformers.__version__, "transformers_commit": commit,
                     "torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()},
        "conventions": {
            "floats": "float32 values in shortest round-trip decimal form: parse as float32",
            "neg_inf": "a filtered score (filter_value -inf) is the JSON string \"-inf\"",
            "probs": "float32 torch.softmax(scores); removed tokens have probability 0",
            "kept": "ids whose score is not -inf, ascending",
            "order": ("generate(do_sample=True): logits_processor (RepetitionPenaltyLogitsProcessor) then "
                      "logits_warper (TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper); "
                      "generate() leaves out temperature 1.0, top_k 0, top_p 1.0, repetition_penalty 1.0"),
            "top_k": "keeps every token whose score >= the k-th largest score (ties at the boundary all kept)",
            "top_p": ("sort ascending, cumulative softmax; remove where cumulative <= 1 - top_p "
                      "(float32 comparison); always keep the min_tokens_to_keep largest"),
            "repetition_penalty": ("for each distinct id in input_ids: score < 0 ? score * penalty : score / "
                                   "penalty; applied once however often the id repeats"),
            "arithmetic": ("torch (CPU) does scores / temperature, score * penalty and score / penalty in float32 "
                           "with the scalar rounded to float32 first: x / (float)t, not (float)(x / (double)t); "
                           "the two differ by 1 ulp in about a third of the values, so compare scores exactly "
                           "only with float32 arithmetic, else allow 1 ulp"),
            "order_dependent": ("(top_p and composed cases) true where top-p splits a group of equal scores "
                                "(split_tie_groups, ids); which members survive then depends on torch.sort's "
                                "order, not on the method: compare kept_count, the tokens outside "
                                "split_tie_groups, and the kept scores; kept_with_stable_sort gives the "
                                "outcome of a stable ascending sort (ties in id order) for comparison"),
            "top_p_threshold": "the comparison is float32: cumulative <= float32(1 - top_p), 1 - top_p in double",
        },
        "cases": cases,
        "large_generator": GENERATOR_DOC,
        "large_cases": large,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes, {len(cases)} cases + {len(large)} large)")
    for c in cases:
        print(f"  {c['name']:42s} kept {len(c['kept']):2d} {c['kept']}")
    for c in large:
        print(f"  {c['name']:42s} kept {len(c['kept'])} of {c['kept_after_top_k_count']} after top-k")


if __name__ == "__main__":
    main()
