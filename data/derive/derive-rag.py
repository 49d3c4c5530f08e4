#!/usr/bin/env python3
"""Rebuilds data/rag/{validation,test}.jsonl: the questions of data/qa that the corpus alone answers.

    python3 data/derive/derive-rag.py          # from the repository root; standard library only

A RAG question has no context: the system must find the passage itself, in an index of data/bible-kjv. Many
questions of data/qa only make sense next to their context ("Who delivered this address?", "What name was given?",
"Who answered?"), and some have many true answers in the corpus ("To whom did Abram speak?", "How old was
Abraham?"). A question is kept when all of these hold:

1. its rule names the people or places it asks about and, in the KJV, has one answer per name: begat ("Whom did
   Cainan beget?", "How long did Cainan live before he begat Mahalaleel?"), lived-after, son-of, son-of-chain,
   king-of and sons-of. Left out: the State of the Union rules (the question says "this address"), called-name and
   answered (no name in the question), said-unto, went-to and dwelt-in (a person speaks to, goes to and dwells in
   many), age and days (a person's age changes from verse to verse);
2. its question text has exactly one distinct answer (SQuAD-normalised) across all of data/qa, so two verses that
   ask the same question with different answers ("Whose son was James?") rule it out;
3. its context (the gold passage: one KJV verse) is a line of a file in data/bible-kjv, so an index of that directory
   holds it word for word.

Splits follow data/qa (validation → validation, test → test), so a generator fine-tuned on data/qa/train has not seen
the passages. Each line is data/qa's flat QA JSON ({"id", "question", "context", "answer", "answer_start", "source",
"rule"}, context = the gold passage) plus "file", the corpus file that holds the passage. The output is deterministic.
"""
import json
import os
import re
import string

KEEP_RULES = {"begat", "lived-after", "son-of", "son-of-chain", "king-of", "sons-of"}
QA, CORPUS, OUT = "data/qa", "data/bible-kjv", "data/rag"


def normalize(text):
    """SQuAD's normalize_answer: lower case, no punctuation or articles, single spaces."""
    text = "".join(c for c in text.lower() if c not in set(string.punctuation))
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def main():
    rows = {split: [json.loads(l) for l in open(f"{QA}/{split}.jsonl", encoding="utf-8") if l.strip()]
            for split in ("train", "validation", "test")}
    answers = {}
    for split_rows in rows.values():
        for r in split_rows:
            answers.setdefault(r["question"], set()).add(normalize(r["answer"]))
    lines = {}
    for name in sorted(os.listdir(CORPUS)):
        for line in open(os.path.join(CORPUS, name), encoding="utf-8"):
            lines.setdefault(line.strip(), f"bible-kjv/{name}")
    os.makedirs(OUT, exist_ok=True)
    counts = {}
    for split in ("validation", "test"):
        kept = []
        for r in rows[split]:
            if r["rule"] not in KEEP_RULES or len(answers[r["question"]]) != 1:
                continue
            if r["context"].strip() not in lines:
                continue
            assert r["context"][r["answer_start"]:].startswith(r["answer"]), r["id"]
            kept.append(dict(r, file=lines[r["context"].strip()]))
        with open(f"{OUT}/{split}.jsonl", "w", encoding="utf-8", newline="\n") as f:
            for r in kept:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        counts[split] = (len(kept), len({r["context"] for r in kept}), sorted({r["rule"] for r in kept}))
    for split, (n, contexts, rules) in counts.items():
        print(f"{OUT}/{split}.jsonl: {n} questions over {contexts} passages ({', '.join(rules)})")


if __name__ == "__main__":
    main()
