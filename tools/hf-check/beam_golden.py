#!/usr/bin/env python3
"""Golden data for GptBert's beam search, computed by transformers' own generate(num_beams=...).

Writes a tiny random GPT-2 (tests/GptBert.Tests/Pipelines/Golden/beam-gpt2/: config.json + model.safetensors)
and tests/GptBert.Tests/Pipelines/Golden/beam-search.json: for fixed prompt ids and settings (num_beams,
length_penalty, early_stopping, repetition_penalty, max_new_tokens), the ids transformers' _beam_search returns
(generated part only, including a final eos when the best hypothesis ended with one) and its sequence score.

Run (offline transformers, see README.md):
  PYTHONPATH=... /usr/bin/python3 tools/hf-check/beam_golden.py
"""
import datetime
import json
import os
import platform

import torch
import transformers
from transformers import GPT2Config, GPT2LMHeadModel

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GOLDEN = os.path.join(REPO, "tests", "GptBert.Tests", "Pipelines", "Golden")
MODEL_DIR = os.path.join(GOLDEN, "beam-gpt2")
OUT = os.path.join(GOLDEN, "beam-search.json")
EOS = 3

torch.manual_seed(20261203)
config = GPT2Config(vocab_size=48, n_positions=40, n_embd=16, n_layer=2, n_head=2, bos_token_id=EOS, eos_token_id=EOS,
                    resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
model = GPT2LMHeadModel(config).eval()
with torch.no_grad():
    # Peaky distributions (larger embeddings), and an end-of-text token that is likely enough to end some beams.
    model.transformer.wte.weight.mul_(12.0)
    model.transformer.wte.weight[EOS].mul_(1.6)
model.save_pretrained(MODEL_DIR, safe_serialization=True)
# A 48-token byte-level BPE tokenizer (the characters GPT-2 uses for bytes 33-80, no merges), so the directory loads
# with its own tokenizer; generation here works on ids only.
with open(os.path.join(MODEL_DIR, "vocab.json"), "w") as f:
    json.dump({chr(33 + i): i for i in range(48)}, f)
with open(os.path.join(MODEL_DIR, "merges.txt"), "w") as f:
    f.write("#version: 0.2\n")

prompts = [[5, 17, 9], [22], [40, 2, 2, 31, 7, 12], [11, 30, 44, 8]]
settings = []
for num_beams in (2, 3, 5):
    for length_penalty in (1.0, 0.0, 2.0, -0.5):
        for early_stopping in (False, True):
            settings.append(dict(num_beams=num_beams, length_penalty=length_penalty, early_stopping=early_stopping,
                                 repetition_penalty=1.0, max_new_tokens=12))
settings.append(dict(num_beams=4, length_penalty=1.0, early_stopping=False, repetition_penalty=1.3, max_new_tokens=10))
settings.append(dict(num_beams=3, length_penalty=1.0, early_stopping=False, repetition_penalty=0.8, max_new_tokens=8))
settings.append(dict(num_beams=4, length_penalty=1.0, early_stopping=False, repetition_penalty=1.0, max_new_tokens=30))

cases = []
with torch.no_grad():
    for s in settings:
        for p in prompts:
            ids = torch.tensor([p], dtype=torch.long)
            out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, num_beams=s["num_beams"],
                                 length_penalty=s["length_penalty"], early_stopping=s["early_stopping"],
                                 repetition_penalty=s["repetition_penalty"], max_new_tokens=s["max_new_tokens"],
                                 pad_token_id=EOS, eos_token_id=EOS, output_scores=True, return_dict_in_generate=True)
            generated = out.sequences[0, len(p):].tolist()
            cases.append(dict(prompt=p, **s, generated=generated, sequence_score=float(out.sequences_scores[0])))

ends = sum(1 for c in cases if c["generated"] and c["generated"][-1] == EOS)
doc = dict(
    generator=f"tools/hf-check/beam_golden.py, transformers {transformers.__version__}, torch {torch.__version__}, "
              f"python {platform.python_version()}, {datetime.date.today().isoformat()}",
    eos_token_id=EOS, cases_ending_with_eos=ends, cases=cases)
with open(OUT, "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
print(f"{len(cases)} cases, {ends} end with eos -> {OUT}")
