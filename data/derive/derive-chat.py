#!/usr/bin/env python3
"""Rebuilds data/chat/{train,validation,test}.jsonl from the shipped fortunes (data/fortunes/*.txt).

    python3 data/derive/derive-chat.py            # from the repository root; standard library only

Two kinds of conversation, one JSON object per line in the chat format `gptbert finetune` reads:
{"messages": [{"role": "user"|"assistant", "content": ...}, ...], "source": ..., "kind": ...}

* "qa": fortunes written as question/answer exchanges (lines starting "Q:" and "A:", e.g. law.txt's
  "Real-Life Courtroom Quotes") become multi-turn conversations: each Q is a user turn, each A the
  assistant's reply, verbatim (whitespace collapsed). Lines before the first Q (a heading) and a last
  question left unanswered are dropped.
* "request": every other fortune of 20-400 characters is the assistant's reply to a user request for a
  fortune of its category (the first 200 of each category); the request is one of a few fixed phrasings, chosen by a hash of the fortune.
  The replies are real text, the requests are templated (labelled-synthetic).

Splits 90/5/5 by a hash of the conversation's text. Deterministic: the same input gives byte-identical files.
"""
import glob
import hashlib
import json
import os
import re

SRC, OUT = "data/fortunes", "data/chat"
PER_CATEGORY = 200                     # request conversations per category at most (the first in file order)
REQUESTS = [
    "Tell me something about {c}.",
    "Do you know a saying about {c}?",
    "Give me a fortune about {c}.",
    "Say something funny about {c}.",
]


def h(text):
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16)


def entries(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return [e.strip("\n") for e in re.split(r"^%\n", text, flags=re.M) if e.strip()]


def qa_turns(entry):
    turns, role = [], None
    for line in entry.split("\n"):
        m = re.match(r"^\s*([QA]):\s*(.*)$", line)
        if m:
            role = "user" if m.group(1) == "Q" else "assistant"
            turns.append([role, m.group(2)])
        elif turns and line.strip():
            turns[-1][1] += " " + line.strip()
    turns = [(r, " ".join(t.split())) for r, t in turns]
    while turns and turns[-1][0] == "user":     # a question left unanswered at the end is dropped
        turns.pop()
    # A conversation alternates user/assistant, starts with the user and has at least one reply.
    if len(turns) < 2 or turns[0][0] != "user" or any(turns[i][0] == turns[i - 1][0] for i in range(1, len(turns))):
        return None
    return turns


def main():
    rows, per_category = [], {}
    for path in sorted(glob.glob(os.path.join(SRC, "*.txt"))):
        category = os.path.splitext(os.path.basename(path))[0]
        for entry in entries(path):
            if re.search(r"^\s*Q:", entry, flags=re.M):
                turns = qa_turns(entry)
                if turns:
                    rows.append({"messages": [{"role": r, "content": t} for r, t in turns], "source": f"fortunes/{category}", "kind": "qa"})
                continue
            reply = " ".join(entry.split())
            if not 20 <= len(reply) <= 400 or per_category.get(category, 0) >= PER_CATEGORY:
                continue
            per_category[category] = per_category.get(category, 0) + 1
            request = REQUESTS[h(reply) % len(REQUESTS)].format(c=category)
            rows.append({"messages": [{"role": "user", "content": request}, {"role": "assistant", "content": reply}],
                         "source": f"fortunes/{category}", "kind": "request"})
    splits = {"train": [], "validation": [], "test": []}
    seen = set()
    for row in rows:
        key = json.dumps(row["messages"], ensure_ascii=False)
        if key in seen:
            continue
        seen.add(key)
        b = h(key) % 100
        splits["train" if b < 90 else "validation" if b < 95 else "test"].append(row)
    os.makedirs(OUT, exist_ok=True)
    for name, part in splits.items():
        with open(os.path.join(OUT, name + ".jsonl"), "w", encoding="utf-8", newline="\n") as f:
            for row in part:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        kinds = {k: sum(1 for r in part if r["kind"] == k) for k in ("qa", "request")}
        print(f"{name}: {len(part)} conversations ({kinds['qa']} qa, {kinds['request']} request)")


if __name__ == "__main__":
    main()
