#!/usr/bin/env python3
"""Golden fixture for GPT2ForTokenClassification, made by transformers itself.

Writes tests/GptBert.Tests/Models/Golden/gpt2-token-classification/{config.json, model.safetensors, expected.json}:
a tiny GPT2ForTokenClassification (3 labels, id2label set), its logits for a right-padded batch and its loss with
labels that ignore (-100) sub-token continuations and padding, as run_ner.py aligns them.
Run with the offline transformers of tools/hf-check (see README.md there).
"""
import datetime
import json
import os
import platform

import torch
import transformers
from transformers import GPT2Config, GPT2ForTokenClassification

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "tests", "GptBert.Tests", "Models", "Golden", "gpt2-token-classification")
SEED = 20261204

INPUT_IDS = [[5, 17, 42, 8, 33, 61, 2], [9, 3, 27, 50, 0, 0, 0]]
ATTENTION_MASK = [[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 0]]
LABELS = [[0, -100, 2, 2, 1, -100, 2], [2, 0, -100, 1, -100, -100, -100]]

torch.manual_seed(SEED)
config = GPT2Config(n_layer=2, n_embd=32, n_head=4, n_positions=32, vocab_size=64, bos_token_id=0, eos_token_id=0,
                    initializer_range=0.2, id2label={0: "B-X", 1: "I-X", 2: "O"}, label2id={"B-X": 0, "I-X": 1, "O": 2})
model = GPT2ForTokenClassification(config).eval()
with torch.no_grad():
    # The head starts at zero bias in transformers; give it values so the test sees the bias too.
    model.classifier.bias.copy_(torch.tensor([0.3, -0.2, 0.1]))
    out = model(input_ids=torch.tensor(INPUT_IDS), attention_mask=torch.tensor(ATTENTION_MASK), labels=torch.tensor(LABELS))
os.makedirs(OUT, exist_ok=True)
model.save_pretrained(OUT, safe_serialization=True)
with open(os.path.join(OUT, "expected.json"), "w") as f:
    json.dump({
        "generated_by": f"tools/hf-check/token_classification_golden.py, transformers {transformers.__version__}, torch {torch.__version__}, "
                        f"python {platform.python_version()}, {datetime.date.today().isoformat()}",
        "input_ids": INPUT_IDS, "attention_mask": ATTENTION_MASK, "labels": LABELS,
        "logits": out.logits.tolist(), "loss": out.loss.item(),
    }, f)
print("wrote", OUT, "loss", out.loss.item())
