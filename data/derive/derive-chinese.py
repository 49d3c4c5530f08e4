#!/usr/bin/env python3
"""Rebuilds data/fortunes-zh/*.txt from Debian 12's fortunes-zh package (standard library only).

    sudo apt-get install fortunes-zh=2.98     # or: apt-get download fortunes-zh=2.98 && dpkg-deb -x fortunes-zh_2.98_all.deb DIR
    python3 data/derive/derive-chinese.py [/usr/share/games/fortunes]

Run from the repository root. Three fortune files of the package, UTF-8: `tang300` (the Three Hundred Tang
Poems), `song100` (a hundred Song poems) and `chinese` (Chinese sayings, jokes, Debian's code of conduct and
more). The terminal colour codes the package puts around titles and attributions (ESC [ ... m) are removed
and trailing whitespace trimmed; entries stay separated by lines containing only "%" (read them with
TextCorpusOptions { DocumentSeparator = "%" }). tang300 and song100 are kept whole; of `chinese`, the entries
of 20-300 characters that are mostly Han characters, in file order, up to MAX_CHINESE_CHARS in all, so the
shipped corpus stays small. Deterministic: the same package gives byte-identical files.
"""
import os
import re
import sys

SRC = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/games/fortunes"
OUT = "data/fortunes-zh"
MAX_CHINESE_CHARS = 150_000
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def entries(name):
    with open(os.path.join(SRC, name), encoding="utf-8") as f:
        text = ANSI.sub("", f.read())
    out = []
    for e in re.split(r"^%\n", text, flags=re.M):
        lines = [l.rstrip() for l in e.split("\n")]
        e = "\n".join(lines).strip("\n")
        if e.strip():
            out.append(e)
    return out


def han_share(text):
    letters = [c for c in text if c.isalpha()]
    return sum(1 for c in letters if "\u4e00" <= c <= "\u9fff") / max(1, len(letters))


def write(name, items):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name + ".txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n%\n".join(items) + "\n")
    print(f"{name}: {len(items)} entries, {sum(len(i) for i in items)} characters")


def main():
    write("tang300", entries("tang300"))
    write("song100", entries("song100"))
    kept, total = [], 0
    for e in entries("chinese"):
        if 20 <= len(e) <= 300 and han_share(e) >= 0.8 and total + len(e) <= MAX_CHINESE_CHARS:
            kept.append(e)
            total += len(e)
    write("chinese", kept)


if __name__ == "__main__":
    main()
