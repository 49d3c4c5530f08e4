#!/usr/bin/env bash
# Every variant of MiniLM fine-tuned on sotu-era, measured by `gptbert optimize` on the test split: fp32, bf16 (skipped
# without native bf16), int8 dynamic / weight-only, ONNX fp32 / int8, pruned 30% heads + 30% FFN with recovery, and a
# 2-layer distilled student (both trained for BUDGET on the training split). Writes bench/results/optimize.md (the table
# with command, date and machine) and bench/results/optimize/ (report.html, report.json, chart-pareto.svg).
#   Usage: bash bench/optimize.sh [TEACHER_DIR] [BUDGET] [extra optimize flags...]
#   TEACHER_DIR: a classifier already fine-tuned on sotu-era (skips the ~15 min fine-tune); BUDGET: --distill-budget
#   (default 450steps, 3 epochs of batch 16); OUT=DIR writes elsewhere than bench/results (a smoke run).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
teacher="${1:-}"; budget="${2:-450steps}"; shift $(( $# > 2 ? 2 : $# )) || true
dir="$root/data/classification/sotu-era"
results="${OUT:-$root/bench/results}"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
start=$(date -u +"%Y-%m-%d %H:%M")
if [ -z "$teacher" ]; then
  teacher="$work/teacher"
  echo "fine-tuning MiniLM on sotu-era (1 epoch) ..." >&2
  "$root/gptbert" finetune --model minilm --train "$dir/train.csv" --validation "$dir/validation.csv" --output "$teacher" \
    --epochs 1 --batch-size 16 --lr 5e-5 --max-length 128 --seed 1 >/dev/null 2>"$work/teacher.log"
  teacher_cmd="gptbert finetune --model minilm --train sotu-era/train.csv --validation sotu-era/validation.csv --epochs 1 --batch-size 16 --lr 5e-5 --max-length 128 --seed 1"
else
  teacher_cmd="(given classifier directory $teacher)"
fi
optimize_cmd="gptbert optimize --model MODEL --data sotu-era/test.csv --train sotu-era/train.csv --validation sotu-era/validation.csv --max-length 128 --distill-budget $budget $*"
"$root/gptbert" optimize --model "$teacher" --data "$dir/test.csv" --train "$dir/train.csv" --validation "$dir/validation.csv" \
  --max-length 128 --distill-budget "$budget" --report "$work/report" "$@" >"$work/table.txt"
mkdir -p "$results/optimize"
cp "$work/report/report.html" "$work/report/report.json" "$work/report/chart-pareto.svg" "$results/optimize/"
cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | xargs)
{
  echo "# Optimize: every variant of MiniLM fine-tuned on sotu-era"
  echo
  echo "- Command: \`bash bench/optimize.sh${teacher:+ MODEL} $budget $*\` = \`$teacher_cmd\`, then \`$optimize_cmd\`"
  echo "- Date: $start – $(date -u +"%H:%M") UTC; commit $(git -C "$root" rev-parse --short HEAD)"
  echo "- Machine: $cpu, $(grep -qw avx512f /proc/cpuinfo && echo AVX-512 || echo AVX2 only), $(grep -qw avx512_bf16 /proc/cpuinfo && echo "native bf16" || echo "no native bf16"), $(nproc) cores; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- Full report: [optimize/report.html](optimize/report.html), [report.json](optimize/report.json), chart below"
  echo
  sed -n '/^| variant/,/^$/p' "$work/report/report.md"
  sed -n '/^- quality:/,/^- every figure/p' "$work/report/report.md"
  echo
  grep -m1 '^\*\*Recommended' "$work/report/report.md"
  echo
  echo "![Pareto chart](optimize/chart-pareto.svg)"
} > "$results/optimize.md"
cat "$work/table.txt"
