#!/usr/bin/env python3
"""Rebuilds data/summarization/{train,validation,test}.jsonl from Debian's AppStream catalogue (DEP-11).

    sudo apt-get install python3-yaml        # the one dependency beyond the standard library
    python3 data/derive/derive-summaries.py [/var/lib/apt/lists/*_dep11_Components-amd64.yml.gz ...]

Run from the repository root. Each software component of the catalogue has a one-line Summary and a
long Description (AppStream markup: <p> paragraphs and <ul>/<ol> lists); the English ("C") description
becomes the document and the English summary its reference summary. The output is deterministic: the
same catalogue gives byte-identical files. It also rewrites the generated table of data/README.md.
"""
import collections
import glob
import gzip
import hashlib
import json
import os
import re
import sys
from html.parser import HTMLParser

import yaml

PROMPT = "Summarize: {document}\nSummary:"
MIN_WORDS, MIN_SENTENCES, MAX_CHARS = 30, 2, 1200
MAX_SUMMARY_CHARS = 150
PER_PACKAGE = 3                               # components of one package at most (font packages ship dozens)
CAPS = {"train": 3000, "validation": 300, "test": 300}
OUT = "data/summarization"

# A few English function words: a description counts as English when at least 3 distinct ones occur
# and at least 98% of its letters are ASCII.
ENGLISH = set("the a an and or of to in is are for with on this that it by as from can be its you your which".split())


def sha(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Blocks(HTMLParser):
    """AppStream description markup → one text block per <p> or <li> (inline tags such as <em> and <code> kept as text)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks, self.current = [], []

    def flush(self):
        text = " ".join("".join(self.current).split())
        if text:
            self.blocks.append(text)
        self.current = []

    def handle_starttag(self, tag, attrs):
        if tag in ("p", "li", "ul", "ol"):
            self.flush()

    def handle_endtag(self, tag):
        if tag in ("p", "li", "ul", "ol"):
            self.flush()

    def handle_data(self, data):
        self.current.append(data)


def to_document(markup):
    parser = Blocks()
    parser.feed(markup)
    parser.close()
    parser.flush()
    return "\n".join(parser.blocks)


# Sentences as GptBert's Summarizer splits them: a line break ends one, and so does . ! ? … (with any closing
# quotes or brackets) followed by whitespace.
SENTENCE_END = re.compile(r"(?<=[.!?\u2026])[\"')\]\u201d\u2019]*\s+")


def sentences(document):
    return [s for line in document.split("\n") for s in SENTENCE_END.split(line) if s.strip()]


def is_english(text):
    letters = [c for c in text if c.isalpha()]
    if not letters or sum(c.isascii() for c in letters) < 0.98 * len(letters):
        return False
    words = set(re.findall(r"[a-z]+", text.lower()))
    return len(words & ENGLISH) >= 3


def main():
    paths = sys.argv[1:] or sorted(glob.glob("/var/lib/apt/lists/*_dep11_Components-amd64.yml.gz"))
    if not os.path.exists("GptBert.sln"):
        sys.exit("run this from the repository root (where GptBert.sln is)")
    if not paths:
        sys.exit("no DEP-11 catalogue found; run apt-get update with a Debian main source (it downloads dep11/Components-amd64.yml.gz)")
    candidates, origins, seen = [], [], set()
    counts = collections.Counter()
    for path in paths:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            docs = yaml.load_all(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
            header = next(docs)
            origins.append(f"{header.get('Origin')} (catalogue time {header.get('Time')})")
            for c in docs:
                counts["components"] += 1
                desc = (c.get("Description") or {}).get("C")
                summary = (c.get("Summary") or {}).get("C")
                if not desc or not summary:
                    counts["no English description or summary"] += 1
                    continue
                document = to_document(desc)
                summary = " ".join(summary.split())
                if len(document.split()) < MIN_WORDS or len(sentences(document)) < MIN_SENTENCES:
                    counts["under 30 words or 2 sentences"] += 1
                    continue
                if len(document) > MAX_CHARS or len(summary) > MAX_SUMMARY_CHARS or len(summary.split()) < 2:
                    counts["document over 1200 or summary over 150 characters, or a one-word summary"] += 1
                    continue
                if not is_english(document) or not is_english(summary + " the a an"):
                    counts["not English"] += 1
                    continue
                key = " ".join(document.lower().split())
                if key in seen:
                    counts["duplicate document"] += 1
                    continue
                seen.add(key)
                candidates.append({
                    "id": c["ID"],
                    "package": c.get("Package", ""),
                    "document": document,
                    "summary": summary,
                    "prompt": PROMPT.format(document=document),
                    "completion": " " + summary,
                    "metadata_license": c.get("MetadataLicense"),
                    "project_license": c.get("ProjectLicense"),
                })
    # At most PER_PACKAGE components per package (the first by id), so fonts and plugin bundles do not dominate.
    by_package = collections.defaultdict(list)
    for row in sorted(candidates, key=lambda r: (r["package"], r["id"])):
        by_package[row["package"]].append(row)
    kept = []
    for rows in by_package.values():
        kept.extend(rows[:PER_PACKAGE])
        counts[f"over {PER_PACKAGE} of one package"] += max(0, len(rows) - PER_PACKAGE)
    # The split goes by package, so components of one package (often near-identical texts) share a split: 15% test,
    # 15% validation, 70% train (the catalogue has about 1,500 usable components, so test and validation get ~230 each).
    splits = {name: [] for name in CAPS}
    for row in kept:
        bucket = int(sha(row["package"]), 16) % 20
        splits["test" if bucket < 3 else "validation" if bucket < 6 else "train"].append(row)
    os.makedirs(OUT, exist_ok=True)
    table = []
    for name, rows in splits.items():
        rows.sort(key=lambda r: sha(r["id"]))
        if len(rows) > CAPS[name]:
            counts[f"over the {name} cap"] += len(rows) - CAPS[name]
            del rows[CAPS[name]:]
        tmp = os.path.join(OUT, f".{name}.jsonl.tmp")
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        os.replace(tmp, os.path.join(OUT, f"{name}.jsonl"))
        words = sorted(len(r["document"].split()) for r in rows)
        sums = sorted(len(r["summary"].split()) for r in rows)
        table.append(f"| `summarization/{name}.jsonl` | {len(rows)} | {words[len(words) // 2]} | {sums[len(sums) // 2]} |")
        print(f"{name}: {len(rows)}")
    every = [r for rows in splits.values() for r in rows]
    meta = collections.Counter(r["metadata_license"] or "not recorded" for r in every)
    proj = collections.Counter(r["project_license"] or "not recorded" for r in every)
    lines = ["| file | pairs | median document words | median summary words |", "|---|---|---|---|", *table, "",
             f"Source: {'; '.join(origins)}. Of {counts['components']} components: "
             + ", ".join(f"{k} {v}" for k, v in counts.items() if k != "components") + f"; {len(every)} kept.", "",
             "`metadata_license` per row: " + ", ".join(f"{k} {v}" for k, v in meta.most_common()) + ".", "",
             "`project_license` (the software's licence, not the text's), ten most frequent: "
             + ", ".join(f"{k} {v}" for k, v in proj.most_common(10)) + "."]
    readme = open("data/README.md", encoding="utf-8").read()
    start, end = "<!-- generated:summarization -->\n", "<!-- /generated:summarization -->"
    if start in readme and end in readme:
        head, rest = readme.split(start, 1)
        readme = head + start + "\n".join(lines) + "\n" + end + rest.split(end, 1)[1]
        with open("data/README.md", "w", encoding="utf-8", newline="\n") as f:
            f.write(readme)
    else:
        print("\n".join(lines))


if __name__ == "__main__":
    main()
