"""Golden corpus-BLEU values from NLTK (Debian python3-nltk 3.8), an implementation independent of ours.

sacreBLEU and rouge-score are not packaged in Debian bookworm, so this script cross-checks the part of
sacreBLEU's BLEU that NLTK computes the same way: clipped n-gram precisions up to order 4 (max count over
references), closest reference length (ties to the shorter), brevity penalty exp(1 - r/c). The sentences
are chosen so that sacreBLEU's 13a tokenizer leaves them unchanged (lowercase words and digits split by
single spaces) and every order has at least one match, so sacreBLEU's exp smoothing never applies and
NLTK's unsmoothed corpus_bleu equals sacreBLEU's score / 100.

Run: /usr/bin/python3 tools/metrics-check/bleu_nltk.py > tests/GptBert.Tests/Reporting/Golden/bleu-nltk.json
"""
import json
from nltk.translate.bleu_score import corpus_bleu

CASES = [
    {"name": "single-pair-partial",
     "hyps": ["the cat sat on the mat today"],
     "refs": [["the cat sat on a mat today"]]},
    {"name": "short-hypothesis-brevity-penalty",
     "hyps": ["the quick brown fox jumps", "a b c d e"],
     "refs": [["the quick brown fox jumps over the lazy dog"], ["a b c d e f g"]]},
    {"name": "multi-reference-clipping",
     "hyps": ["the the the the cat is on the mat", "there is a cat on the mat now"],
     "refs": [["the cat is on the mat", "there is a cat on the mat"],
              ["there is a cat on the mat", "a cat is on the mat now"]]},
    {"name": "numbers-and-longer-hypothesis",
     "hyps": ["in 2024 the price rose by 12 percent to 340 dollars per unit"],
     "refs": [["in 2024 the price rose 12 percent to 340 dollars"]]},
    {"name": "identical",
     "hyps": ["one two three four five", "six seven eight nine"],
     "refs": [["one two three four five"], ["six seven eight nine"]]},
]

out = []
for case in CASES:
    refs = [[r.split() for r in rs] for rs in case["refs"]]
    hyps = [h.split() for h in case["hyps"]]
    out.append({**case, "bleu": 100 * corpus_bleu(refs, hyps)})
print(json.dumps({"tool": "nltk.translate.bleu_score.corpus_bleu (python3-nltk 3.8-1)", "cases": out}, indent=2))
