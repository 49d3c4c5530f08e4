#!/usr/bin/env python3
"""Check that GptBert model directories load in Hugging Face `transformers` and agree with GptBert.

    python3 tools/hf-check/check.py [--cli PATH] [--no-cli] [--json FILE] DIR [DIR ...]

For each DIR (config.json + model.safetensors + tokenizer files, as GptBert writes them):

  1. config    AutoConfig.from_pretrained(DIR); lists config.json fields that the config class
               does not define (HF keeps those silently; a typo would hide there).
  2. load      the class named in config.json "architectures" .from_pretrained(DIR,
               output_loading_info=True): missing_keys, unexpected_keys, mismatched_keys and
               error_msgs must all be empty; every tensor of model.safetensors must equal the
               loaded parameter bit for bit (nothing re-initialised, nothing transposed).
  3. save      save_pretrained(tmp) (safetensors): HF's tensor key set and shapes must equal
               ours (so tied weights are stored the way HF stores them), values unchanged.
  4. forward   a forward pass on fixed token ids: output names, shapes, summary numbers.
  5. tokenizer AutoTokenizer.from_pretrained(DIR) loads (the slow tokenizer, and the fast one
               where `tokenizers` is installed) and gives GptBert's `tokenize` ids for the texts;
               config.json's bos/eos/pad_token_id lie in the vocabulary and are the tokenizer's;
               tokenizer_config.json's model_max_length fits the model's position embeddings.
  6. outputs   against the GptBert CLI (skipped with --no-cli):
               - every model: `embed --pooling mean --no-normalize` vs the mean of HF's last
                 hidden state (base model: GPT2Model/BertModel), cosine and max |diff|;
               - BertModel: also the default `embed` (mean + L2 norm) vs HF, cosine >= 0.9999;
               - GPT2LMHeadModel: `generate --greedy` vs HF generate(do_sample=False), ids equal;
               - BertForMaskedLM/BertForPreTraining: `fill-mask` top-5 ids and probabilities
                 (relative difference);
               - *ForSequenceClassification: `classify` probabilities vs softmax(HF logits).
               HF always gets GptBert's token ids (from `tokenize`), so a tokenizer difference
               cannot hide a model difference; the tokenizer is judged separately in step 5.

Exit status 0 when every check of every directory passed, 1 otherwise. Needs torch, transformers
and safetensors (see README.md for an offline setup).
"""

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile

import torch

import transformers
from transformers import AutoConfig, AutoTokenizer

TEXTS = [
    "Call me Ishmael.",
    "Some years ago, never mind how long precisely, having little or no money in my purse,",
    "The cat sat on the mat.",
    "Bus error -- please leave by the rear door.",
]
MASKED_TEXTS = [
    "Call me [MASK].",
    "Some years ago, never mind how [MASK] precisely, having little or no money in my purse.",
    "The [MASK] sat on the mat.",
]
PROMPTS = [
    "Call me Ishmael. Some years ago",
    "It is a way I have of driving off the",
    "There now is your insular city of the Manhattoes,",
    "CHAPTER 1. Loomings.",  # a heading: models trained on Moby-Dick tend to end the document here
]
GEN_TOKENS = 20

# thresholds
HIDDEN_COS_MIN = 0.9999     # cosine of pooled hidden states / embeddings
HIDDEN_REL_MAX = 1e-3       # max |diff| / max |value| of pooled hidden states
PROB_ABS_MAX = 1e-4         # classify probabilities; fill-mask top-k order ties
PROB_REL_MAX = 1e-3         # fill-mask probabilities, relative (a tiny model's are ~1e-5)


class LogCapture(logging.Handler):
    """Collects transformers' warnings (e.g. 'Some weights ... were not initialized')."""

    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record.getMessage())

    def take(self):
        out, self.records = self.records, []
        return out


class Report:
    def __init__(self, directory):
        self.dir = directory
        self.arch = "?"
        self.checks = []  # (name, ok, detail)
        self.summary = {}

    def add(self, name, ok, detail):
        self.checks.append((name, bool(ok), detail))
        mark = "ok  " if ok else "FAIL"
        print(f"  [{mark}] {name}: {detail}", flush=True)

    @property
    def ok(self):
        return all(ok for _, ok, _ in self.checks)


def read_safetensors(path):
    from safetensors.torch import load_file
    return load_file(path)


def safetensors_metadata(path):
    from safetensors import safe_open
    with safe_open(path, framework="pt") as f:
        return f.metadata()


# ---------------------------------------------------------------- GptBert CLI

class Cli:
    def __init__(self, exe, threads):
        self.exe, self.threads = exe, threads

    def run(self, args, records):
        inp = "".join(json.dumps(r) + "\n" for r in records)
        p = subprocess.run([self.exe] + args + ["--jsonl"], input=inp, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({p.returncode}): {p.stderr.strip()[-2000:]}")
        return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]

    def threaded(self, args):
        return args + ["--threads", str(self.threads)]

    def tokenize(self, d, texts):
        return [r["ids"] for r in self.run(["tokenize", "--model", d], [{"text": t} for t in texts])]

    def embed(self, d, texts, normalize):
        args = ["embed", "--model", d, "--pooling", "mean"] + ([] if normalize else ["--no-normalize"])
        return [r["embedding"] for r in self.run(self.threaded(args), [{"text": t} for t in texts])]

    def generate(self, d, prompts, n):
        args = ["generate", "--model", d, "--greedy", "--max-new-tokens", str(n)]
        return self.run(self.threaded(args), [{"text": t} for t in prompts])

    def fill_mask(self, d, texts, k):
        args = ["fill-mask", "--model", d, "--top", str(k)]
        return self.run(self.threaded(args), [{"text": t} for t in texts])

    def classify(self, d, texts):
        return self.run(self.threaded(["classify", "--model", d]), [{"text": t} for t in texts])


# ---------------------------------------------------------------- checks

def check_config(d, rep, logs):
    raw = json.load(open(os.path.join(d, "config.json")))
    config = AutoConfig.from_pretrained(d)
    warnings = logs.take()
    default_keys = set(type(config)().to_dict())
    unknown = sorted(k for k in raw if k not in default_keys)
    rep.add("config", not warnings and not unknown,
            f"{type(config).__name__} (model_type {config.model_type})"
            + (f"; fields the config class does not define: {unknown}" if unknown else "")
            + (f"; warnings: {warnings}" if warnings else ""))
    archs = raw.get("architectures") or []
    rep.arch = archs[0] if archs else "?"
    return config, raw


def check_load(d, config, rep, logs):
    arch = rep.arch
    cls = getattr(transformers, arch, None)
    if cls is None:
        rep.add("load", False, f"transformers has no class {arch!r}")
        return None
    model, info = cls.from_pretrained(d, output_loading_info=True)
    model.eval()
    warnings = logs.take()
    bad = {k: v for k, v in info.items() if v}
    detail = (f"{arch}.from_pretrained: missing/unexpected/mismatched keys and error_msgs all empty"
              if not bad else f"{arch}.from_pretrained reported {bad}")
    rep.add("load", not bad and not warnings, detail + (f"; warnings: {warnings}" if warnings else ""))
    rep.summary["missing"] = len(info.get("missing_keys", []))
    rep.summary["unexpected"] = len(info.get("unexpected_keys", []))
    rep.summary["mismatched"] = len(info.get("mismatched_keys", []))

    # every stored tensor must come back bit for bit
    ours = read_safetensors(os.path.join(d, "model.safetensors"))
    sd = model.state_dict()
    diffs = []
    for k, t in ours.items():
        if k not in sd:
            diffs.append(f"{k}: not in the model's state_dict")
        elif tuple(sd[k].shape) != tuple(t.shape):
            diffs.append(f"{k}: shape {tuple(t.shape)} in the file, {tuple(sd[k].shape)} in HF")
        elif sd[k].dtype != t.dtype or not torch.equal(sd[k], t):
            diffs.append(f"{k}: values differ (file {t.dtype}, model {sd[k].dtype})")
    n_params = sum(p.numel() for p in model.parameters())
    rep.add("weights", not diffs,
            f"{len(ours)} tensors in model.safetensors equal the loaded parameters ({n_params:,} parameters)"
            if not diffs else f"{len(diffs)} differ: {diffs[:10]}")
    if getattr(config, "tie_word_embeddings", False):
        out, inp = model.get_output_embeddings(), model.get_input_embeddings()
        if out is not None:
            same = out.weight.data_ptr() == inp.weight.data_ptr()
            rep.add("tied", same, "output embeddings share the input embedding matrix"
                    if same else "output embeddings are NOT tied to the input embeddings")
    return model


def check_save(d, model, rep):
    ours = read_safetensors(os.path.join(d, "model.safetensors"))
    meta = safetensors_metadata(os.path.join(d, "model.safetensors"))
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        theirs = read_safetensors(os.path.join(tmp, "model.safetensors"))
        hf_meta = safetensors_metadata(os.path.join(tmp, "model.safetensors"))
    only_ours = sorted(set(ours) - set(theirs))
    only_hf = sorted(set(theirs) - set(ours))
    shapes = [k for k in set(ours) & set(theirs) if tuple(ours[k].shape) != tuple(theirs[k].shape)]
    values = [k for k in set(ours) & set(theirs) if k not in shapes and not torch.equal(ours[k], theirs[k])]
    ok = not (only_ours or only_hf or shapes or values)
    detail = (f"HF save_pretrained writes the same {len(theirs)} keys and shapes"
              if ok else f"only in GptBert's file: {only_ours}; only in HF's: {only_hf}; "
                         f"shape differs: {shapes}; value differs: {values}")
    detail += f"; metadata ours {meta}, HF {hf_meta}"
    rep.add("save", ok, detail)


def fixed_ids(config, n=16):
    v = config.vocab_size
    body = [(1000 + 37 * i) % v for i in range(n)]
    if config.model_type == "bert":
        return [101 % v] + body[: n - 2] + [102 % v]  # [CLS] ... [SEP] in bert-base-uncased's vocabulary
    return body


def check_forward(model, config, rep):
    ids = torch.tensor([fixed_ids(config)])
    with torch.no_grad():
        out = model(input_ids=ids)
    parts = []
    finite = True
    for name in ("logits", "prediction_logits", "seq_relationship_logits", "last_hidden_state", "pooler_output"):
        t = getattr(out, name, None)
        if t is None:
            continue
        finite &= bool(torch.isfinite(t).all())
        parts.append(f"{name} {tuple(t.shape)} mean {t.mean().item():+.5f} std {t.std().item():.5f}")
    rep.add("forward", finite and parts, "; ".join(parts))


def base_model(model):
    return model.base_model  # GPT2Model / BertModel inside the head model


def hf_hidden_mean(model, ids):
    with torch.no_grad():
        h = base_model(model)(input_ids=torch.tensor([ids])).last_hidden_state[0]
    return h.mean(0)


def cos(a, b):
    return torch.nn.functional.cosine_similarity(a, b, dim=0).item()


def patch_added_token_without_tokenizers():
    """Work around a transformers bug that only shows without the `tokenizers` package.

    Without `tokenizers`, transformers 4.3x-4.40 defines its own `AddedToken` as
    `@dataclass(eq=True)` with no declared fields: every AddedToken compares equal to every
    other and none is hashable, so every slow tokenizer fails in __init__ with
    "TypeError: unhashable type: 'AddedToken'" (huggingface/transformers issue #30696), whatever
    the files; it also lacks the `__setstate__` that GPT2Tokenizer's __init__ calls. Real
    installs always have `tokenizers` (a hard dependency), whose AddedToken compares and hashes
    by content and has __setstate__; do the same here. Returns True when it patched.
    """
    from transformers.utils import is_tokenizers_available
    if is_tokenizers_available():
        return False
    from transformers import tokenization_utils_base as tub
    cls = tub.AddedToken
    if getattr(cls, "__hash__", None) is not None:
        return False
    cls.__eq__ = lambda self, other: (self.content == other.content if isinstance(other, cls)
                                      else self.content == other if isinstance(other, str) else NotImplemented)
    cls.__hash__ = lambda self: hash(self.content)
    if not hasattr(cls, "__setstate__"):
        cls.__setstate__ = lambda self, state: self.__dict__.update(state)
    return True


def check_special_ids(config, tok, rep):
    """config.json's bos/eos/pad token ids must exist and name the tokenizer's special tokens.

    HF's generate() stops at config.eos_token_id and pads with pad_token_id (else eos);
    GPT2ForSequenceClassification finds the last real token through pad_token_id.
    """
    problems, seen = [], []
    for name in ("bos", "eos", "pad"):
        cid = getattr(config, f"{name}_token_id", None)
        if cid is None:
            continue
        seen.append(f"{name} {cid}")
        if not 0 <= cid < config.vocab_size:
            problems.append(f"config.json {name}_token_id {cid} is outside the vocabulary (vocab_size {config.vocab_size})")
            continue
        tid = getattr(tok, f"{name}_token_id", None)
        what = f"{name}_token"
        if tid is None and name == "pad":  # GPT-2 has no pad token: HF and GptBert pad with eos
            tid, what = tok.eos_token_id, "eos_token (GPT-2 pads with eos)"
        if tid is not None and tid != cid:
            problems.append(f"config.json {name}_token_id {cid} but the tokenizer's {what} "
                            f"{str(getattr(tok, what.split()[0]))!r} is id {tid}")
    rep.add("special-ids", not problems,
            ("; ".join(problems)) if problems else f"config ids ({', '.join(seen) or 'none set'}) match the tokenizer")


def check_max_length(config, tok, rep):
    """tokenizer_config.json's model_max_length must not exceed the model's position embeddings.

    HF truncates to model_max_length (`tok(text, truncation=True)`, pipelines); more tokens than
    the model has positions crash the forward (BERT: size mismatch, GPT-2: index out of range).
    """
    positions = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    limit = tok.model_max_length
    if limit is None or limit > 10**9:  # HF's VERY_LARGE_INTEGER: not set
        rep.add("max-length", True, f"tokenizer sets no model_max_length; model has {positions} positions")
        return
    rep.add("max-length", positions is None or limit <= positions,
            f"tokenizer model_max_length {limit}, model positions {positions}"
            + ("" if positions is None or limit <= positions else
               f": HF truncates to {limit} tokens and the forward then fails past {positions}"))


def check_tokenizer(d, cli, rep, logs):
    """The slow (pure-Python) tokenizer always; the fast one too where `tokenizers` is installed."""
    from transformers.utils import is_tokenizers_available
    texts = TEXTS + MASKED_TEXTS
    ours = cli.tokenize(d, texts) if cli is not None else None
    for use_fast in ([False, True] if is_tokenizers_available() else [False]):
        try:
            tok = AutoTokenizer.from_pretrained(d, use_fast=use_fast)
        except Exception as e:  # noqa: BLE001 - report whatever HF says
            rep.add("tokenizer", False, f"AutoTokenizer.from_pretrained(use_fast={use_fast}) failed: "
                                        f"{type(e).__name__}: {e}")
            continue
        warnings = logs.take()
        if not use_fast:
            config = AutoConfig.from_pretrained(d)
            check_special_ids(config, tok, rep)
            check_max_length(config, tok, rep)
        hf = [tok(t)["input_ids"] for t in texts]
        name = type(tok).__name__
        if ours is None:
            detail, bad = f"{name} loads", []
        else:
            bad = [(t, o, h) for t, o, h in zip(texts, ours, hf) if o != h]
            detail = (f"{name}: ids equal GptBert's `tokenize` for {len(texts)} texts" if not bad
                      else f"{name}: ids differ: " + "; ".join(f"{t!r}: GptBert {o} HF {h}" for t, o, h in bad))
        rep.add("tokenizer", not bad and not warnings, detail + (f"; warnings: {warnings}" if warnings else ""))


def check_outputs(d, model, config, cli, rep):
    arch = rep.arch
    ids = cli.tokenize(d, TEXTS)

    # hidden states of the body, any architecture
    ours = [torch.tensor(e) for e in cli.embed(d, TEXTS, normalize=False)]
    theirs = [hf_hidden_mean(model, i) for i in ids]
    cmin = min(cos(a, b) for a, b in zip(ours, theirs))
    rel = max(((a - b).abs().max() / b.abs().max()).item() for a, b in zip(ours, theirs))
    rep.add("hidden", cmin >= HIDDEN_COS_MIN and rel <= HIDDEN_REL_MAX,
            f"mean-pooled last hidden state, {len(TEXTS)} texts: min cosine {cmin:.7f}, max rel |diff| {rel:.2e}")
    rep.summary["hidden_cos"] = cmin

    if arch == "BertModel":
        ours = [torch.tensor(e) for e in cli.embed(d, TEXTS, normalize=True)]
        theirs = [torch.nn.functional.normalize(hf_hidden_mean(model, i), dim=0) for i in ids]
        cmin = min(cos(a, b) for a, b in zip(ours, theirs))
        rep.add("embedding", cmin >= HIDDEN_COS_MIN,
                f"`embed` (mean + L2 norm) vs HF BertModel, {len(TEXTS)} texts: min cosine {cmin:.7f}")
        rep.summary["compare"] = f"embed cos ≥ {cmin:.7f}"

    elif arch == "GPT2LMHeadModel":
        gen = cli.generate(d, PROMPTS, GEN_TOKENS)
        pids = cli.tokenize(d, PROMPTS)
        same, notes = 0, []
        for p, pi, g in zip(PROMPTS, pids, gen):
            with torch.no_grad():
                out = model.generate(torch.tensor([pi]), attention_mask=torch.ones(1, len(pi), dtype=torch.long),
                                     do_sample=False, max_new_tokens=GEN_TOKENS,
                                     pad_token_id=config.eos_token_id)
            hf = out[0, len(pi):].tolist()
            if hf == g["ids"]:
                same += 1
            else:
                k = next((j for j, (a, b) in enumerate(zip(hf, g["ids"])) if a != b), min(len(hf), len(g["ids"])))
                notes.append(f"{p!r}: first difference at new token {k}: GptBert {g['ids']} HF {hf}")
        sample = f"e.g. {PROMPTS[0]!r} -> {gen[0]['text']!r}"
        rep.add("generate", same == len(PROMPTS),
                f"greedy, {GEN_TOKENS} new tokens: {same}/{len(PROMPTS)} prompts give identical ids; {sample}"
                + ("; " + "; ".join(notes) if notes else ""))
        rep.summary["compare"] = f"greedy ids {same}/{len(PROMPTS)} identical; hidden cos ≥ {rep.summary['hidden_cos']:.7f}"

    elif arch in ("BertForMaskedLM", "BertForPreTraining"):
        k = 5
        res = cli.fill_mask(d, MASKED_TEXTS, k)
        mids = cli.tokenize(d, MASKED_TEXTS)
        worst, id_mismatch = 0.0, []
        for t, mi, r in zip(MASKED_TEXTS, mids, res):
            with torch.no_grad():
                out = model(input_ids=torch.tensor([mi]))
            logits = out.logits if arch == "BertForMaskedLM" else out.prediction_logits
            for m in r["masks"]:
                probs = torch.softmax(logits[0, m["position"]], -1)
                for c in m["candidates"]:
                    p = probs[c["id"]].item()
                    worst = max(worst, abs(p - c["score"]) / p)
                hf_top = torch.topk(probs, k).indices.tolist()
                ours_top = [c["id"] for c in m["candidates"]]
                if hf_top != ours_top:
                    # a swap of near-equal probabilities is not a model difference
                    gap = max(abs(probs[a].item() - probs[b].item()) for a, b in zip(hf_top, ours_top))
                    if gap > PROB_ABS_MAX:
                        id_mismatch.append(f"{t!r}: GptBert {ours_top} HF {hf_top}")
        rep.add("fill-mask", worst <= PROB_REL_MAX and not id_mismatch,
                f"top-{k} of {len(MASKED_TEXTS)} masks: max relative prob diff {worst:.2e}"
                + ("; top ids differ: " + "; ".join(id_mismatch) if id_mismatch else "; same top ids"))
        rep.summary["compare"] = f"fill-mask Δp/p ≤ {worst:.1e}; hidden cos ≥ {rep.summary['hidden_cos']:.7f}"

    elif arch.endswith("ForSequenceClassification"):
        res = cli.classify(d, TEXTS)
        worst, labels_same = 0.0, 0
        for i, r in zip(ids, res):
            with torch.no_grad():
                probs = torch.softmax(model(input_ids=torch.tensor([i])).logits[0], -1)
            for j, p in enumerate(probs.tolist()):
                worst = max(worst, abs(p - r["scores"][config.id2label[j]]))
            labels_same += config.id2label[int(probs.argmax())] == r["label"]
        rep.add("classify", worst <= PROB_ABS_MAX and labels_same == len(TEXTS),
                f"{len(TEXTS)} texts: same label {labels_same}/{len(TEXTS)}, max |prob diff| {worst:.2e}")
        rep.summary["compare"] = (f"labels {labels_same}/{len(TEXTS)}, Δp ≤ {worst:.1e}; "
                                  f"hidden cos ≥ {rep.summary['hidden_cos']:.7f}")
    else:
        rep.summary["compare"] = f"hidden cos ≥ {rep.summary['hidden_cos']:.7f}"


def check_dir(d, cli, logs):
    print(f"== {d}", flush=True)
    rep = Report(d)
    try:
        config, _ = check_config(d, rep, logs)
        print(f"  architecture: {rep.arch}")
        model = check_load(d, config, rep, logs)
        if model is not None:
            check_save(d, model, rep)
            check_forward(model, config, rep)
            check_tokenizer(d, cli, rep, logs)
            if cli is not None:
                check_outputs(d, model, config, cli, rep)
    except Exception as e:  # noqa: BLE001 - one broken directory must not hide the others
        import traceback
        traceback.print_exc()
        rep.add("error", False, f"{type(e).__name__}: {e}")
    return rep


def default_cli():
    here = os.path.dirname(os.path.abspath(__file__))
    exe = os.path.join(here, "..", "..", "src", "GptBert.Cli", "bin", "Release", "net10.0", "GptBert.Cli")
    return os.path.normpath(exe) if os.path.exists(exe) else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dirs", nargs="+", metavar="DIR")
    ap.add_argument("--cli", default=None, help="GptBert.Cli executable (default: the repo's Release build, if built)")
    ap.add_argument("--no-cli", action="store_true", help="skip the output comparisons with GptBert")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads for torch and the CLI (default: 1)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    transformers.logging.set_verbosity_warning()
    logs = LogCapture()
    logging.getLogger("transformers").addHandler(logs)

    cli = None
    if not args.no_cli:
        exe = args.cli or default_cli()
        if exe is None:
            sys.exit("no GptBert.Cli found: pass --cli PATH, or --no-cli to skip the output comparisons")
        cli = Cli(exe, args.threads)

    print(f"transformers {transformers.__version__}, torch {torch.__version__}, "
          f"safetensors {__import__('safetensors').__version__}", flush=True)
    if patch_added_token_without_tokenizers():
        print("note: `tokenizers` is not installed: slow tokenizers only, with transformers' fallback "
              "AddedToken made hashable (see patch_added_token_without_tokenizers)", flush=True)
    reports = [check_dir(os.path.abspath(d), cli, logs) for d in args.dirs]

    groups = {"load": ("config", "load", "weights", "tied", "save", "forward", "error"),
              "outputs": ("hidden", "embedding", "generate", "fill-mask", "classify"),
              "tokenizer": ("tokenizer", "special-ids", "max-length")}

    def verdict(r, group):
        failed = [n for n, ok, _ in r.checks if n in groups[group] and not ok]
        ran = any(n in groups[group] for n, _, _ in r.checks)
        return ("FAIL: " + ", ".join(dict.fromkeys(failed))) if failed else ("ok" if ran else "-")

    print("\n| directory | architecture | missing / unexpected / mismatched keys | load, weights, save | "
          "outputs vs GptBert | figures | tokenizer files |")
    print("|---|---|---|---|---|---|---|")
    for r in reports:
        s = r.summary
        keys = f"{s.get('missing', '?')} / {s.get('unexpected', '?')} / {s.get('mismatched', '?')}"
        print(f"| {os.path.basename(r.dir)} | {r.arch} | {keys} | {verdict(r, 'load')} | {verdict(r, 'outputs')} | "
              f"{s.get('compare', '-')} | {verdict(r, 'tokenizer')} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{"dir": r.dir, "architecture": r.arch, "ok": r.ok, "summary": r.summary,
                        "checks": [{"name": n, "ok": ok, "detail": det} for n, ok, det in r.checks]}
                       for r in reports], f, indent=2, default=str)
    n_bad = sum(not r.ok for r in reports)
    print(f"\n{len(reports) - n_bad} passed, {n_bad} failed")
    return 0 if n_bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
