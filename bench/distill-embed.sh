#!/usr/bin/env bash
# Embedding distillation: MiniLM (6 layers) into a LAYERS-layer student on sentences of the shipped corpora, then search
# recall@5 of both on a held-out query set. Goal of issue #13: the student within 5% of MiniLM's recall@5.
#   Distillation data (built here, deterministic, seed 1): SENTENCES lines drawn from data/ — every question and context
#     of data/qa/train.jsonl, then State of the Union sentences (data/sotu), King James verses (data/bible-kjv) and
#     Moby-Dick sentences (data/moby-dick), shuffled; any line equal to a test question is dropped.
#   Query set: data/qa/test.jsonl as query → relevant document pairs (question → its context; 199 questions over 87
#     distinct contexts, which are the candidate documents). The QA set is derived from KJV and SOTU text by
#     data/derive/derive-tasks.cs (rule-made questions; see data/README.md, "The QA and NER datasets"); its test split is
#     held out from the distillation data (its questions never appear; its contexts are verses and sentences of the
#     corpora, i.e. the collection being searched, seen unlabelled, as when a student is distilled on its own index).
#   Scoring: gptbert compare --task search (mean pooling, cosine, recall@1/@5 and MRR over all test contexts; batch-1
#     query latency p50 from the same run).
# Writes bench/results/distill-embed.md.
#   Usage: bash bench/distill-embed.sh [LAYERS] [EPOCHS] [SENTENCES]      (defaults: 2, 3, 20000)
#   Smoke run (tiny budgets, writes to a temporary file only): SMOKE=1 bash bench/distill-embed.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
layers="${1:-2}"; epochs="${2:-3}"; sentences="${3:-20000}"
smoke="${SMOKE:-0}"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
out="$root/bench/results/distill-embed.md"
gptbert="$root/gptbert"
budget=(--epochs "$epochs"); test_rows=0
if [ "$smoke" = 1 ]; then
  sentences=300; budget=(--max-steps 2); test_rows=40; out="$work/distill-embed.md"
fi
start=$(date -u +"%Y-%m-%d %H:%M")
ROOT="$root" WORK="$work" N="$sentences" TEST_ROWS="$test_rows" python3 - <<'PY'
import csv, glob, json, os, random, re
root, work, n, test_rows = os.environ["ROOT"], os.environ["WORK"], int(os.environ["N"]), int(os.environ["TEST_ROWS"])
def pairs(split):
    return [(r["question"], r["context"]) for r in map(json.loads, open(f"{root}/data/qa/{split}.jsonl", encoding="utf-8"))]
test = pairs("test")
if test_rows: test = test[:test_rows]
for name, rows in (("train", pairs("train")), ("test", test)):
    with open(f"{work}/qa-{name}-pairs.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f); w.writerow(["text", "text_pair"]); w.writerows(rows)
held_out = {q for q, _ in pairs("test")}
split = lambda text: [s.strip() for s in re.split(r"(?<=[.!?])\s+", text)]
ok = lambda s: 20 <= len(s) <= 600 and s not in held_out
first = [s for q, c in pairs("train") for s in (q, c)]
rest = [s for line in open(f"{root}/data/sotu/sotu.jsonl", encoding="utf-8") for s in split(json.loads(line)["text"])]
rest += [l.strip() for f in sorted(glob.glob(f"{root}/data/bible-kjv/*.txt")) for l in open(f, encoding="utf-8")]
rest += split(" ".join(open(f"{root}/data/moby-dick/moby-dick.txt", encoding="utf-8").read().split()))
first = list(dict.fromkeys(s for s in first if ok(s)))
rest = [s for s in dict.fromkeys(rest) if ok(s) and s not in set(first)]
random.Random(1).shuffle(rest)
lines = (first + rest)[:n]
random.Random(2).shuffle(lines)
with open(f"{work}/sentences.txt", "w", encoding="utf-8") as f: f.write("\n".join(lines) + "\n")
print(f"{len(lines)} distillation sentences ({min(len(first), n)} from data/qa train), {len(test)} test queries", file=__import__("sys").stderr)
PY

echo "distilling MiniLM into $layers layers (${budget[*]}) ..." >&2
distill_cmd="gptbert distill --task embed --teacher minilm --train sentences.txt --layers $layers --epochs $epochs --batch-size 32 --lr 1e-4 --max-length 128 --seed 1"
"$gptbert" distill --task embed --teacher minilm --train "$work/sentences.txt" --layers "$layers" "${budget[@]}" --batch-size 32 \
  --lr 1e-4 --max-length 128 --seed 1 --output "$work/student" --json >"$work/distill.json" 2>"$work/distill.log"

search() {
  "$gptbert" compare --task search --train "$work/qa-train-pairs.csv" --test "$work/qa-test-pairs.csv" --bert "$1" --seeds 1 \
    --no-baselines --max-steps 1 --max-length 128 --report "$work/report-$2" --json >"$work/search-$2.json" 2>"$work/search-$2.log"
}
echo "search recall on the held-out queries: teacher ..." >&2; search minilm teacher
echo "... and student" >&2; search "$work/student" student

cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | xargs)
machine="$cpu (family $(grep -m1 "cpu family" /proc/cpuinfo | cut -d: -f2 | xargs), model $(grep -m1 "^model\s" /proc/cpuinfo | cut -d: -f2 | xargs)), $(grep -qw avx512f /proc/cpuinfo && echo AVX-512 || echo AVX2 only), $(nproc) cores; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
WORK="$work" START="$start" MACHINE="$machine" COMMIT="$(git -C "$root" rev-parse --short HEAD)" DISTILL_CMD="$distill_cmd" SMOKE="$smoke" \
ARGS="${1:-} ${2:-} ${3:-}" SENTENCES="$(wc -l <"$work/sentences.txt")" python3 - >"$out" <<'PY'
import csv, json, os, datetime
e = os.environ; w = e["WORK"]
d = json.load(open(f"{w}/distill.json"))
cand = lambda name: json.load(open(f"{w}/search-{name}.json"))["candidates"][0]
t, s = cand("teacher"), cand("student")
q = lambda c, k: c["quality"][k]["mean"]
ratio = q(s, "recall@5") / q(t, "recall@5") if q(t, "recall@5") else float("nan")
mb = lambda c: f"{c['size_on_disk_bytes'] / 2**20:.1f} MiB"
smoke = "" if e["SMOKE"] != "1" else "\n**SMOKE RUN: tiny data and budgets; these numbers measure nothing.**\n"
print(f"""# Embedding distillation: MiniLM → {d["student_layers"]}-layer student, search recall@5 on held-out queries
{smoke}
- Command: `{"SMOKE=1 " if e["SMOKE"] == "1" else ""}bash bench/distill-embed.sh {e["ARGS"].strip()}`
- Date: {e["START"]} – {datetime.datetime.utcnow():%H:%M} UTC; commit {e["COMMIT"]}
- Machine: {e["MACHINE"]}
- Student: `{e["DISTILL_CMD"]}` (a BERT of MiniLM's width initialised from teacher layers {d.get("initialized_from_layers")}; MSE on the normalised mean-pooled embeddings; {d["steps"]} steps)
- Distillation data: {int(e["SENTENCES"]):,} sentences from data/ (data/qa train questions and contexts, SOTU sentences, KJV verses, Moby-Dick sentences; shuffled with seed 1; no test question among them)
- Queries: data/qa/test.jsonl as question → context pairs ({sum(1 for _ in csv.reader(open(f"{w}/qa-test-pairs.csv", encoding="utf-8"))) - 1} queries, every distinct test context a candidate document); scored by `gptbert compare --task search --bert MODEL` (mean pooling, cosine)

| model | layers | parameters | weights on disk | recall@1 | recall@5 | MRR | query latency p50 (batch 1) |
|---|---:|---:|---:|---:|---:|---:|---:|
| MiniLM (teacher) | {d["teacher_layers"]} | {t["parameters"]:,} | {mb(t)} | {q(t, "recall@1"):.3f} | {q(t, "recall@5"):.3f} | {q(t, "mrr"):.3f} | {t["latency_p50_ms"]:.1f} ms |
| student | {d["student_layers"]} | {s["parameters"]:,} | {mb(s)} | {q(s, "recall@1"):.3f} | {q(s, "recall@5"):.3f} | {q(s, "mrr"):.3f} | {s["latency_p50_ms"]:.1f} ms |

Student / teacher recall@5: **{ratio:.3f}** (goal: >= 0.95, i.e. within 5% of MiniLM's) at **{t["latency_p50_ms"] / s["latency_p50_ms"]:.1f}x** the batch-1 query speed (the two latencies come from separate runs of compare, one after the other).
""")
PY
cat "$out"
