#!/usr/bin/env bash
# Structured pruning with recovery on MiniLM fine-tuned on sotu-era, and what magnitude pruning does and does not buy.
#   1. the base classifier: MiniLM fine-tuned 1 epoch on sotu-era (or TEACHER_DIR, as bench/distill.sh makes it);
#   2. gptbert prune --heads 0.3 --ffn 0.3 with importance measured on the training data (Michel et al. 2019), then a
#      recovery fine-tune of RECOVERY_EPOCHS on the training data (validation on sotu-era/validation.csv);
#   3. gptbert prune --magnitude 0.5 of the base (unstructured: same shapes, same file size);
#   4. test macro-F1 of each (gptbert evaluate on sotu-era/test.csv, 300 passages) and batch-1 latency of each
#      (bench/GptBert.Bench latency: Classifier.Classify on one test passage at a time, median of SAMPLES, the models
#      alternated over ROUNDS rounds in one process; the speed-up is reported as the median round's ratio and its spread).
# Goal of issue #13: >= 1.3x batch-1 speed-up at <= 1 point of macro-F1 lost.
# Writes bench/results/prune.md.
#   Usage: bash bench/prune.sh [TEACHER_DIR] [RECOVERY_EPOCHS] [ROUNDS]     (defaults: fine-tune one, 1, 3)
#   Smoke run (a minute, tiny budgets, writes to a temporary file only): SMOKE=1 bash bench/prune.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
teacher="${1:-}"; epochs="${2:-1}"; rounds="${3:-3}"
smoke="${SMOKE:-0}"
dir="$root/data/classification/sotu-era"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
out="$root/bench/results/prune.md"
gptbert="$root/gptbert"
train="$dir/train.csv"; validation="$dir/validation.csv"; test="$dir/test.csv"
budget=(--epochs "$epochs"); base_budget=(--epochs 1); importance=512; samples=50
if [ "$smoke" = 1 ]; then
  # A stratified-enough subset (every 20th row) and budgets of a few steps: checks the plumbing, measures nothing.
  awk 'NR == 1 || NR % 20 == 0' "$train" > "$work/train.csv"; train="$work/train.csv"
  awk 'NR == 1 || NR % 10 == 0' "$validation" > "$work/validation.csv"; validation="$work/validation.csv"
  awk 'NR == 1 || NR % 10 == 0' "$test" > "$work/test.csv"; test="$work/test.csv"
  budget=(--max-steps 2); base_budget=(--max-steps 2); importance=16; samples=3; rounds=2
  out="$work/prune.md"
fi
start=$(date -u +"%Y-%m-%d %H:%M")
if [ -z "$teacher" ]; then
  teacher="$work/base"
  echo "fine-tuning the base classifier (MiniLM) ..." >&2
  "$gptbert" finetune --model minilm --train "$train" --validation "$validation" --output "$teacher" \
    "${base_budget[@]}" --batch-size 16 --lr 5e-5 --max-length 128 --seed 1 >/dev/null 2>"$work/base.log"
  base_cmd="gptbert finetune --model minilm --train sotu-era/train.csv --validation sotu-era/validation.csv --epochs 1 --batch-size 16 --lr 5e-5 --max-length 128 --seed 1"
else
  base_cmd="(given classifier directory $teacher)"
fi

echo "pruning 30% of heads and 30% of FFN neurons, importance on the training data, then recovery ($epochs epoch(s)) ..." >&2
prune_cmd="gptbert prune --model BASE --output PRUNED --heads 0.3 --ffn 0.3 --data sotu-era/train.csv --importance-examples $importance --train sotu-era/train.csv --validation sotu-era/validation.csv --epochs $epochs --batch-size 16 --lr 5e-5 --max-length 128 --seed 1"
"$gptbert" prune --model "$teacher" --output "$work/pruned" --heads 0.3 --ffn 0.3 --data "$train" --importance-examples "$importance" \
  --train "$train" --validation "$validation" "${budget[@]}" --batch-size 16 --lr 5e-5 --max-length 128 --seed 1 --json \
  >"$work/pruned.json" 2>"$work/pruned.log"
echo "magnitude pruning 50% of the base's layer weights ..." >&2
"$gptbert" prune --model "$teacher" --output "$work/magnitude" --magnitude 0.5 --json >"$work/magnitude.json" 2>"$work/magnitude.log"

echo "test macro-F1 ..." >&2
f1() { "$gptbert" evaluate --model "$1" --data "$test" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["macro_f1"])'; }
f1_base=$(f1 "$teacher"); f1_pruned=$(f1 "$work/pruned/pruned"); f1_recovered=$(f1 "$work/pruned"); f1_mag=$(f1 "$work/magnitude")

echo "batch-1 latency, $rounds rounds interleaved ..." >&2
dotnet run -c Release --project "$root/bench/GptBert.Bench" -- latency --data "$test" --rounds "$rounds" --samples "$samples" --threads 2 \
  "$teacher" "$work/pruned" "$work/magnitude" >"$work/latency.txt" 2>"$work/latency.log"

cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | xargs)
machine="$cpu (family $(grep -m1 "cpu family" /proc/cpuinfo | cut -d: -f2 | xargs), model $(grep -m1 "^model\s" /proc/cpuinfo | cut -d: -f2 | xargs)), $(grep -qw avx512f /proc/cpuinfo && echo AVX-512 || echo AVX2 only), $(nproc) cores; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
commit=$(git -C "$root" rev-parse --short HEAD)
WORK="$work" BASE="$teacher" F1_BASE="$f1_base" F1_PRUNED="$f1_pruned" F1_RECOVERED="$f1_recovered" F1_MAG="$f1_mag" \
START="$start" MACHINE="$machine" COMMIT="$commit" BASE_CMD="$base_cmd" PRUNE_CMD="$prune_cmd" ROUNDS="$rounds" SAMPLES="$samples" \
ARGS="${1:+TEACHER_DIR }${2:-} ${3:-}" SMOKE="$smoke" python3 - >"$out" <<'PY'
import json, os, statistics, datetime
e = os.environ; w = e["WORK"]
p = json.load(open(f"{w}/pruned.json")); m = json.load(open(f"{w}/magnitude.json"))
lat = {}
for line in open(f"{w}/latency.txt"):
    parts = line.split()
    if len(parts) > 2 and parts[1] == "rounds": lat[parts[0]] = [float(v) for v in parts[2:]]
base, rec, mag = lat[e["BASE"]], lat[f"{w}/pruned"], lat[f"{w}/magnitude"]
med = statistics.median
ratios = [b / r for b, r in zip(base, rec)]; mratios = [b / r for b, r in zip(base, mag)]
fb, fp, fr, fm = (float(e[k]) for k in ("F1_BASE", "F1_PRUNED", "F1_RECOVERED", "F1_MAG"))
mb = lambda n: f"{n / 2**20:.1f} MiB"
heads = ", ".join(f"{l['layer']}: {l['heads_removed']}" for l in p["layers"])
print(f"""# Pruning: MiniLM fine-tuned on sotu-era, 30% of heads + 30% of FFN neurons, recovery fine-tune; magnitude pruning
{"" if e["SMOKE"] != "1" else chr(10) + "**SMOKE RUN: tiny data and budgets; these numbers measure nothing.**" + chr(10)}
- Command: `{"SMOKE=1 " if e["SMOKE"] == "1" else ""}bash bench/prune.sh {e["ARGS"].strip()}`
- Date: {e["START"]} – {datetime.datetime.utcnow():%H:%M} UTC; commit {e["COMMIT"]}
- Machine: {e["MACHINE"]}
- Base: `{e["BASE_CMD"]}`
- Pruned + recovered: `{e["PRUNE_CMD"]}`; importance: {p["importance"]}; heads removed per layer {{{heads}}}; {p["pruned_neurons"]} FFN neurons removed ({p["layers"][0]["neurons_left"]} of {p["layers"][0]["neurons_left"] + len(p["layers"][0]["neurons_removed"])} left per layer)
- Magnitude: `gptbert prune --model BASE --output MAG --magnitude 0.5` (global over the layer weight matrices)
- Test: `gptbert evaluate --data sotu-era/test.csv` (macro-F1); latency: `dotnet run -c Release --project bench/GptBert.Bench -- latency --data sotu-era/test.csv --rounds {e["ROUNDS"]} --samples {e["SAMPLES"]} --threads 2 BASE PRUNED MAG` (batch 1, one test passage at a time, tokenization included, median of {e["SAMPLES"]} per round; the three models alternate within each round, in one process)

| model | parameters | weights on disk | test macro-F1 | Δ vs base (points) | batch-1 latency, median round (min–max) | speed-up (per-round ratios) |
|---|---:|---:|---:|---:|---:|---:|
| base (MiniLM, 6 layers, 12 heads, FFN 1536) | {p["parameters_before"]:,} | {mb(p["bytes_before"])} | {fb:.3f} | – | {med(base):.1f} ms ({min(base):.1f}–{max(base):.1f}) | 1.00x |
| pruned, before recovery | {p["parameters_after"]:,} | {mb(p["bytes_after"])} | {fp:.3f} | {100 * (fp - fb):+.1f} | (same shapes as below) | |
| pruned + recovery | {p["parameters_after"]:,} | {mb(p["bytes_after"])} | {fr:.3f} | {100 * (fr - fb):+.1f} | {med(rec):.1f} ms ({min(rec):.1f}–{max(rec):.1f}) | **{med(ratios):.2f}x** ({min(ratios):.2f}–{max(ratios):.2f}) |
| magnitude 50% (sparsity {m["sparsity"]:.3f} of {m["magnitude_considered_weights"]:,} layer weights) | {m["parameters_after"]:,} | {mb(m["bytes_after"])} | {fm:.3f} | {100 * (fm - fb):+.1f} | {med(mag):.1f} ms ({min(mag):.1f}–{max(mag):.1f}) | {med(mratios):.2f}x ({min(mratios):.2f}–{max(mratios):.2f}) |

Structured pruning: **{med(ratios):.2f}x** batch-1 speed at **{100 * (fr - fb):+.1f}** points of test macro-F1 (goal: >= 1.3x at >= -1 point).
Magnitude pruning zeroes {m["zeroed_weights"]:,} weights but keeps every shape: the safetensors file is {"exactly as large" if m["bytes_after"] == m["bytes_before"] else f"{m['bytes_after'] - m['bytes_before']:+,} bytes different"} ({mb(m["bytes_before"])} → {mb(m["bytes_after"])}: zeros are stored like any float) and dense kernels do the same work, so its latency ratio is noise around 1.00x; it only pays off with a sparse runtime or a compressed file.
""")
PY
cat "$out"
