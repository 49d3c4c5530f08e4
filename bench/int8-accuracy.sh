#!/usr/bin/env bash
# int8 classification quality (issue #11): fine-tune a classifier per dataset (the pretrained MiniLM, and a GPT from
# scratch), quantize it (dynamic and weight-only), and evaluate fp32 and int8 on the same test split.
# Writes bench/results/int8-accuracy.md. Quality does not depend on machine load; the timings printed are context only.
#
#   bash bench/int8-accuracy.sh [DATASETS] [SEED]     (defaults: "sotu-era fortune-category", 1)
set -euo pipefail
cd "$(dirname "$0")/.."
SETS=${1:-"sotu-era fortune-category"}; SEED=${2:-1}
OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT
START=$(date -u '+%Y-%m-%d %H:%M'); COMMIT=$(git rev-parse --short HEAD); LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
./gptbert info minilm >/dev/null
ROWS=$OUT/rows.tsv
for set in $SETS; do
  d=data/classification/$set
  for fam in minilm gpt; do
    m=$OUT/$set-$fam
    if [[ $fam == minilm ]]; then
      ./gptbert finetune --model minilm --train $d/train.csv --validation $d/validation.csv --output "$m" --epochs 1 --seed "$SEED" > "$m.log" 2>&1
    else
      ./gptbert finetune --arch gpt --train $d/train.csv --validation $d/validation.csv --output "$m" --epochs 3 --seed "$SEED" > "$m.log" 2>&1
    fi
    for scheme in fp32 dynamic weight-only; do
      dir=$m
      if [[ $scheme != fp32 ]]; then dir=$m-$scheme; ./gptbert quantize --model "$m" --output "$dir" --scheme $scheme > /dev/null; fi
      ./gptbert evaluate --model "$dir" --data $d/test.csv --json > "$dir.eval.json"
      /usr/bin/python3 -c "import json,sys; e=json.load(open(sys.argv[1])); print('\t'.join([sys.argv[2], sys.argv[3], sys.argv[4], '%.4f' % e['accuracy'], '%.4f' % e['macro_f1'], str(e['count'])]))" \
        "$dir.eval.json" "$set" "$fam" "$scheme" >> "$ROWS"
      echo "$set $fam $scheme: $(tail -n1 "$ROWS")" >&2
    done
  done
done

/usr/bin/python3 - "$ROWS" "$START" "$COMMIT" "$LOAD0" "$(cut -d' ' -f1-3 /proc/loadavg)" "$SEED" > bench/results/int8-accuracy.md <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
start, commit, load0, load1, seed = sys.argv[2:]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
isa = "AVX-512" if " avx512f " in open("/proc/cpuinfo").read() else "AVX2"
print("# int8 classification quality: fp32 vs `gptbert quantize` on the same fine-tuned classifiers\n")
print(f"- Command: `bash bench/int8-accuracy.sh` (seed {seed}; commit {commit})")
print(f"- Date: {start} UTC")
print(f"- Machine: {cpu}, {isa}, 2 cores; load average before {load0}, after {load1} (quality does not depend on load)")
print("- Classifiers: the pretrained MiniLM fine-tuned 1 epoch (finetune defaults), and a GPT from scratch (finetune --arch gpt, 3 epochs);")
print("  each quantized with `gptbert quantize --scheme dynamic` and `--scheme weight-only`, all evaluated with `gptbert evaluate` on test.csv.\n")
print("| dataset | classifier | fp32 accuracy | dynamic int8 | Δ points | weight-only int8 | Δ points | fp32 macro-F1 | dynamic | weight-only | test rows |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
by = {(r[0], r[1], r[2]): r for r in rows}
worst = 0.0; worst_n = 0; worst_rows = 0
for (s, f) in dict.fromkeys((r[0], r[1]) for r in rows):
    fp, dy, wo = by[(s, f, "fp32")], by[(s, f, "dynamic")], by[(s, f, "weight-only")]
    a = lambda r: float(r[3]); m = lambda r: float(r[4])
    d1, d2 = 100 * (a(dy) - a(fp)), 100 * (a(wo) - a(fp))
    if max(abs(d1), abs(d2)) > worst:
        worst = max(abs(d1), abs(d2)); worst_rows = int(fp[5]); worst_n = round(worst * worst_rows / 100)
    name = "MiniLM (pretrained, fine-tuned)" if f == "minilm" else "GPT from scratch"
    print(f"| {s} | {name} | {a(fp):.3f} | {a(dy):.3f} | {d1:+.1f} | {a(wo):.3f} | {d2:+.1f} | {m(fp):.3f} | {m(dy):.3f} | {m(wo):.3f} | {fp[5]} |")
print(f"\nGoal (issue #11): int8 accuracy within 1 point of fp32 on sotu-era and fortune-category: largest difference "
      f"{worst:.2f} points ({worst_n} of {worst_rows} test texts) → **{'met' if worst <= 1.0 + 1e-9 else 'not met'}**.")
print("\nOne text of a 96-row test split is 1.04 points, so on fortune-category a single changed prediction exceeds the goal.")
PY
cat bench/results/int8-accuracy.md
