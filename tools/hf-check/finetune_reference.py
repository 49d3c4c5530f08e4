#!/usr/bin/env python3
"""The reference recipe for `gptbert finetune`: a plain PyTorch + transformers loop with GptBert's defaults.

Fine-tunes a BERT directory (e.g. the built-in MiniLM as GptBert converts it, ~/.cache/gptbert/all-MiniLM-L6-v2)
as BertForSequenceClassification on a labelled CSV (text,label) and reports test accuracy, macro-F1 and training
throughput as one JSON line on stdout. Hyper-parameters are GptBert's finetune defaults (src/GptBert/Training/
TrainingOptions.cs, TrainingRuns.FinetuneSpec):

  AdamW lr 5e-5, betas (0.9, 0.999), eps 1e-8, weight decay 0.01 on matrices only (none on biases and LayerNorm),
  linear warm-up over the first 5% of steps then linear decay to 0, gradient norm clipped to 1.0, batch 16,
  max length 128 (truncation, padding to the longest in the batch), dropout as config.json says (0.1), the
  training set shuffled each epoch by the seed, evaluation at the end only.

What cannot be the same: the random streams (shuffling, dropout masks, the new classifier's initial weights).
That is what several seeds are for.

  PYTHONPATH=/tmp/hf/transformers/src:/tmp/hf/huggingface_hub/src:tools/hf-check/shim \
  HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 python3 tools/hf-check/finetune_reference.py \
      --model ~/.cache/gptbert/all-MiniLM-L6-v2 --train data/classification/sotu-era/train.csv \
      --test data/classification/sotu-era/test.csv --epochs 1 --seed 1 --threads 2
"""
import argparse
import csv
import json
import math
import random
import sys
import time

import os

import torch
from transformers import BertForSequenceClassification, BertTokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check import patch_added_token_without_tokenizers  # noqa: E402  (slow tokenizers without `tokenizers`)

patch_added_token_without_tokenizers()


def read(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], [r["label"] for r in rows]


def macro_f1(gold, pred, n):
    f1s = []
    for c in range(n):
        tp = sum(1 for g, p in zip(gold, pred) if g == c and p == c)
        fp = sum(1 for g, p in zip(gold, pred) if g != c and p == c)
        fn = sum(1 for g, p in zip(gold, pred) if g == c and p != c)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1s.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    return sum(f1s) / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--train", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--epochs", type=float, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--max-length", type=int, default=128)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    random.seed(a.seed)

    train_x, train_y = read(a.train)
    test_x, test_y = read(a.test)
    labels = []
    for y in train_y:  # first-seen order, as GptBert's LabelSet.FromTraining
        if y not in labels:
            labels.append(y)
    index = {l: i for i, l in enumerate(labels)}

    tok = BertTokenizer.from_pretrained(a.model)  # vocab.txt + tokenizer_config.json (lower case)
    model = BertForSequenceClassification.from_pretrained(
        a.model, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=index)
    model.train()

    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.999), eps=1e-8)
    steps_per_epoch = math.ceil(len(train_x) / a.batch_size)
    total = max(1, math.ceil(a.epochs * len(train_x) / a.batch_size))
    warmup = 0.05

    def lr_at(progress):
        if progress < warmup:
            return a.lr * progress / warmup
        return a.lr * (1 - min(1.0, max(0.0, (progress - warmup) / (1 - warmup))))

    # Tokenize once (as GptBert does), then batch.
    enc = [tok(t, truncation=True, max_length=a.max_length)["input_ids"] for t in train_x]
    order = []
    step, real_tokens, loss_sum = 0, 0, 0.0
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    while step < total:
        if not order:
            order = list(range(len(enc)))
            random.shuffle(order)
        batch, order = order[:a.batch_size], order[a.batch_size:]
        ids = [enc[i] for i in batch]
        width = max(len(x) for x in ids)
        input_ids = torch.tensor([x + [0] * (width - len(x)) for x in ids])
        mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids])
        y = torch.tensor([index[train_y[i]] for i in batch])
        for g in opt.param_groups:
            g["lr"] = lr_at(step / total)
        out = model(input_ids=input_ids, attention_mask=mask, token_type_ids=torch.zeros_like(input_ids), labels=y)
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        real_tokens += int(mask.sum())
        loss_sum += float(out.loss)
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - cpu0

    model.eval()
    pred = []
    with torch.no_grad():
        for i in range(0, len(test_x), 32):
            e = tok(test_x[i:i + 32], truncation=True, max_length=a.max_length, padding=True, return_tensors="pt")
            pred += model(**e).logits.argmax(-1).tolist()
    gold = [index[y] for y in test_y]
    acc = sum(1 for g, p in zip(gold, pred) if g == p) / len(gold)
    print(json.dumps({"impl": "pytorch", "seed": a.seed, "steps": step, "tokens": real_tokens, "train_seconds": seconds,
                      "cpu_seconds": cpu, "tokens_per_second": real_tokens / seconds, "mean_train_loss": loss_sum / step,
                      "test_accuracy": acc, "test_macro_f1": macro_f1(gold, pred, len(labels)),
                      "torch": torch.__version__}))


if __name__ == "__main__":
    sys.exit(main())
