#!/usr/bin/env bash
# Measures the effect of `finetune --augment` (EDA: random deletion, swap, insertion) on a shipped dataset:
# the same fine-tuning of the built-in MiniLM with and without augmentation, same seed and budget, scored
# on the test split. Writes bench/results/augmentation.md.   Usage: bash bench/augmentation.sh [DATASET] [SEEDS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${1:-fortune-category}"; seeds="${2:-1 2}"
dir="$root/data/classification/$data"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
out="$root/bench/results/augmentation.md"
rows=""
for seed in $seeds; do
  for mode in plain augment; do
    flag=""; [ "$mode" = augment ] && flag="--augment"
    "$root/gptbert" finetune --model minilm --train "$dir/train.csv" --validation "$dir/validation.csv" --output "$work/$mode-$seed" \
      --epochs 2 --batch-size 16 --lr 1e-4 --max-length 64 --seed "$seed" $flag >/dev/null 2>"$work/$mode-$seed.log"
    json=$("$root/gptbert" evaluate --model "$work/$mode-$seed" --data "$dir/test.csv" --json)
    acc=$(echo "$json" | grep -oE '"accuracy":[0-9.]+' | head -1 | cut -d: -f2)
    f1=$(echo "$json" | grep -oE '"macro_f1":[0-9.]+' | head -1 | cut -d: -f2)
    rows+="| $seed | $mode | $acc | $f1 |"$'\n'
    echo "seed $seed $mode: accuracy $acc macro-F1 $f1" >&2
  done
done
cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | xargs)
cat > "$out" <<MD
# Effect of --augment on fine-tuning (MiniLM, data/classification/$data)

- Command: \`bash bench/augmentation.sh $data "$seeds"\`
- Date: $(date -u +"%Y-%m-%d %H:%M") UTC
- Machine: $cpu, $(nproc) cores
- Fine-tuning: built-in MiniLM, 2 epochs, batch 16, lr 1e-4, max length 64; test split scored with \`gptbert evaluate\`.

| seed | training data | test accuracy | test macro-F1 |
|---|---|---:|---:|
$rows
MD
cat "$out"
