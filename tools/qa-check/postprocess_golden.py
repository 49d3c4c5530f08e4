"""Golden answers for extractive-QA decoding, from transformers' own postprocess_qa_predictions.

Usage: python3 postprocess_golden.py UTILS_QA_DIR > ../../tests/GptBert.Tests/Pipelines/Golden/qa-postprocess.json

UTILS_QA_DIR holds utils_qa.py from transformers' examples/pytorch/question-answering (read at commit
31f57e9efd761882d1296f7f6ade11ee87a3900e; not copied into this repository). Re-run on 2026-12-04 with the file itself at
transformers commit 1248f0925234f97da9eee98da2aa22f7b8dbeda1 (the commit tools/hf-check uses: `git show
1248f092:examples/pytorch/question-answering/utils_qa.py`): byte-identical golden JSON. Needs numpy and tqdm
(Debian: python3-numpy python3-tqdm). Cases are random but seeded: contexts of words, windows of the
context with a stride as run_qa builds them ([CLS] question [SEP] window [SEP], offsets None outside the
context), float32 logits; words from the BMP only, since Python offsets count code points and .NET's UTF-16 units; each case is decoded under SQuAD v1.1 and v2.0 settings.
"""
import json
import random
import sys

import numpy as np

sys.path.insert(0, sys.argv[1])
from utils_qa import postprocess_qa_predictions  # noqa: E402

class Rows(list):
    """The two things postprocess_qa_predictions asks of a datasets.Dataset: rows by index, a column by name."""
    def __getitem__(self, key):
        return [row[key] for row in self] if isinstance(key, str) else list.__getitem__(self, key)


rng = random.Random(12)
np_rng = np.random.default_rng(12)
WORDS = "the cat sat on a mat while café owners in 北京 watched birds fly over old roofs".split()

cases = []
for case in range(24):
    n_words = rng.randint(3, 30)
    words = [rng.choice(WORDS) for _ in range(n_words)]
    context = " ".join(words)
    offsets, pos = [], 0
    for w in words:
        offsets.append([pos, pos + len(w)])
        pos += len(w) + 1
    q_len = rng.randint(1, 4)
    room = rng.randint(4, 16)
    stride = rng.randint(1, room - 1)
    features = []
    start = 0
    while True:
        window = offsets[start:start + room]
        mapping = [None] * (q_len + 2) + window + [None]
        features.append(mapping)
        if start + room >= len(offsets):
            break
        start += room - stride
    logits = []
    for mapping in features:
        s = np.round(np_rng.normal(0, 2, len(mapping)), 3).astype(np.float32)
        e = np.round(np_rng.normal(0, 2, len(mapping)), 3).astype(np.float32)
        if case % 2 == 0:  # a strong [CLS] in every window: "no answer" wins in some v2.0 cases, not in others
            s[0] += np.float32(rng.choice([2.0, 4.0])); e[0] += np.float32(rng.choice([2.0, 4.0]))
        logits.append((s, e))
    for v2 in (False, True):
        n_best = rng.choice([3, 5, 20])
        max_len = rng.choice([1, 3, 30])
        threshold = rng.choice([0.0, 1.5, -1.0])
        examples = Rows([{"id": "x", "context": context}])
        feats = Rows([{"example_id": "x", "offset_mapping": m} for m in features])
        # One feature per batch row: postprocess takes (num_features, T) arrays, so pad with very low logits.
        T = max(len(m) for m in features)
        S = np.full((len(features), T), -1e4, dtype=np.float32)
        E = np.full((len(features), T), -1e4, dtype=np.float32)
        for i, (s, e) in enumerate(logits):
            S[i, :len(s)] = s
            E[i, :len(e)] = e
        pred = postprocess_qa_predictions(examples, feats, (S, E), version_2_with_negative=v2, n_best_size=n_best,
                                          max_answer_length=max_len, null_score_diff_threshold=threshold)
        cases.append({
            "context": context,
            "features": [{"offsets": m, "start_logits": [round(float(x), 3) for x in s], "end_logits": [round(float(x), 3) for x in e]}
                         for m, (s, e) in zip(features, logits)],
            "version_2_with_negative": v2, "n_best_size": n_best, "max_answer_length": max_len,
            "null_score_diff_threshold": threshold, "answer": pred["x"],
        })

json.dump({"source": "transformers examples/pytorch/question-answering/utils_qa.py@31f57e9 postprocess_qa_predictions",
           "cases": cases}, sys.stdout, ensure_ascii=False)
print()
