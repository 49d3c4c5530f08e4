#!/usr/bin/python3
"""Golden values for GptBert's metrics from the reference implementations themselves.

Debian ships none of sacrebleu, seqeval or rouge-score as packages, so this runs their source:
  REF_SRC=DIR /usr/bin/python3 tools/metrics-check/golden.py > tests/GptBert.Tests/Reporting/Golden/metrics.json
where DIR holds the `sacrebleu/` package of the mjpost/sacrebleu repository (commit f615c7286d4d, 2026-01-12)
and the `seqeval/` package of the chakki-works/seqeval repository (commit cd01b5210eaa, 2022-12-09), e.g.
  git --git-dir=SACREBLEU.git archive HEAD sacrebleu | tar x -C DIR
Needs Debian's python3-tabulate, python3-portalocker, python3-numpy, python3-regex, python3-lxml,
python3-colorama. sacrebleu/version.py (written by setuptools-scm at build time) and sklearn's one
warning class (seqeval imports only that) are stubbed below. ROUGE and SQuAD are not here: rouge-score
lives in the very large google-research repository and SQuAD's script is not a package; their tests
use hand-worked examples instead.
"""
import json, os, sys, tempfile, warnings

src = os.environ["REF_SRC"]
stubs = tempfile.mkdtemp()
os.makedirs(os.path.join(stubs, "sklearn"))
open(os.path.join(stubs, "sklearn", "__init__.py"), "w").close()
with open(os.path.join(stubs, "sklearn", "exceptions.py"), "w") as f:
    f.write("class UndefinedMetricWarning(UserWarning):\n    pass\n")
if not os.path.exists(os.path.join(src, "sacrebleu", "version.py")):
    with open(os.path.join(src, "sacrebleu", "version.py"), "w") as f:
        f.write('__version__ = "source"\n')
sys.path[:0] = [src, stubs]
warnings.simplefilter("ignore")

from sacrebleu.metrics import BLEU, CHRF
from seqeval.metrics import classification_report
from seqeval.scheme import IOB2

# Each case: predictions, and per prediction its list of references (sacreBLEU wants reference streams;
# transposed below, with "" padding where a prediction has fewer references, which sacreBLEU skips).
translation_cases = {
    "readme": (["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."],
               [["The dog bit the man.", "The dog had bit the man."],
                ["It was not unexpected.", "No one was surprised."],
                ["The man bit him first.", "The man had bitten the dog."]]),
    "empty_prediction": (["", "the cat sat on the mat"], [["a cat"], ["the cat sat on a mat"]]),
    "punctuation_numbers": (["It costs $3.50, i.e. 1-2 days!", "AT&amp;T (the company) said: \"no\"."],
                            [["It costs $3.50 - about 1-2 days."], ["AT&T, the company, said \"no\"."]]),
    "accents": (["Ça coûte très cher, n'est-ce pas ?", "Über den Wolken"], [["Ça coûte cher, n'est-ce pas ?"], ["Über den Wolken muss die Freiheit"]]),
    "cjk": (["今天天气很好，我想去公园", "我很高兴"], [["今天天气很好，我想去散步"], ["我非常高兴"]]),
    "identical": (["the quick brown fox", "jumps over the lazy dog"], [["the quick brown fox"], ["jumps over the lazy dog"]]),
    "variable_references": (["the cat is on the mat", "there is a cat here"],
                            [["the cat is on the mat", "a cat is on the mat"], ["a cat is here"]]),
    "short_hypothesis": (["the cat", "a dog"], [["the cat is on the mat"], ["a dog barked loudly at night"]]),
}

def streams(refs):
    n = max(len(r) for r in refs)
    return [[r[k] if k < len(r) else "" for r in refs] for k in range(n)]

translation = {}
for name, (hyp, refs) in translation_cases.items():
    b = BLEU().corpus_score(hyp, streams(refs))
    translation[name] = {
        "predictions": hyp, "references": refs,
        "bleu": b.score, "precisions": b.precisions, "bp": b.bp, "sys_len": b.sys_len, "ref_len": b.ref_len,
        "chrf": CHRF().corpus_score(hyp, streams(refs)).score,
        "chrf_pp": CHRF(word_order=2).corpus_score(hyp, streams(refs)).score,
    }

tagging_cases = {
    "readme": ([["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]],
               [["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]),
    "i_without_b": ([["B-NP", "I-NP", "O"]], [["I-NP", "I-NP", "O"]]),
    "i_after_o_and_type_change": ([["B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG", "I-ORG"]],
                                  [["I-PER", "I-PER", "O", "B-LOC", "I-LOC", "O", "I-ORG"]]),
    "adjacent_same_type": ([["B-PER", "B-PER", "I-PER", "O", "B-LOC", "I-LOC"]],
                           [["B-PER", "I-PER", "I-PER", "O", "B-LOC", "B-LOC"]]),
    "type_change_inside": ([["B-PER", "I-PER", "I-PER", "O"], ["O", "B-MISC"]],
                           [["B-PER", "I-LOC", "I-PER", "O"], ["O", "B-MISC"]]),
    "no_predictions": ([["B-PER", "O"]], [["O", "O"]]),
}

def report(gold, pred, **kw):
    r = classification_report(gold, pred, output_dict=True, zero_division=0, **kw)
    return {k: {"precision": v["precision"], "recall": v["recall"], "f1": v["f1-score"], "support": int(v["support"])}
            for k, v in r.items() if k not in ("macro avg", "weighted avg")}

tagging = {}
for name, (gold, pred) in tagging_cases.items():
    tagging[name] = {"gold": gold, "predicted": pred,
                     "default": report(gold, pred),
                     "strict": report(gold, pred, mode="strict", scheme=IOB2)}

json.dump({"source": "sacrebleu f615c7286d4d (2026-01-12), seqeval cd01b5210eaa (2022-12-09); tools/metrics-check/golden.py",
           "translation": translation, "tagging": tagging}, sys.stdout, ensure_ascii=False, indent=1)
print()
