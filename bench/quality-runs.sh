#!/usr/bin/env bash
# The quality runs behind two README figures, reproducible: (1) GPT pretraining on Moby-Dick in fp32 and in bf16 mixed
# precision (same seed, 300 steps: the validation losses should agree), run one after the other; (2) the built-in MiniLM
# fine-tuned on data/classification/sotu-era for one epoch, scored on its test split.
# Writes bench/results/quality-runs.md.   Usage: bash bench/quality-runs.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
out="$root/bench/results/quality-runs.md"
g="$root/gptbert"
last_eval() { grep -o '"eval_loss":[0-9.]*' "$1/log.jsonl" | tail -1 | cut -d: -f2; }

"$g" tokenizer train --kind bpe --data "$root/data/moby-dick" --vocab-size 4096 --output "$work/tok" >/dev/null 2>&1
rows=""
for p in fp32 bf16; do
  start=$(date +%s)
  if ! "$g" pretrain --arch gpt --data "$root/data/moby-dick" --tokenizer "$work/tok" --output "$work/run-$p" \
    --layers 4 --hidden 256 --heads 4 --max-length 128 --batch-size 16 --max-steps 300 --eval-every 100 --seed 1 \
    --precision "$p" --threads 2 >/dev/null 2>"$work/$p.log"; then
    # bf16 is refused on a CPU without native bf16 arithmetic: record why instead of a number.
    rows+="| $p | not run | $(tail -1 "$work/$p.log" | sed 's/|/\\|/g') | |"$'\n'
    echo "$p: not run" >&2
    continue
  fi
  secs=$(( $(date +%s) - start ))
  evals=$(grep -o '"step":[0-9]*,[^}]*"eval_loss":[0-9.]*' "$work/run-$p/log.jsonl" | sed -E 's/"step":([0-9]+).*"eval_loss":([0-9.]+)/\1: \2/' | paste -sd ';' | sed 's/;/; /g')
  rows+="| $p | $(last_eval "$work/run-$p") | $evals | ${secs} s |"$'\n'
  echo "$p: $(last_eval "$work/run-$p")" >&2
done

d="$root/data/classification/sotu-era"
start=$(date +%s)
"$g" finetune --model minilm --train "$d/train.csv" --validation "$d/validation.csv" --output "$work/ft" \
  --epochs 1 --batch-size 16 --lr 5e-5 --max-length 128 --seed 1 --threads 2 >/dev/null 2>"$work/ft.log" || { tail -3 "$work/ft.log"; exit 1; }
ftsecs=$(( $(date +%s) - start ))
json=$("$g" evaluate --model "$work/ft" --data "$d/test.csv" --json)
acc=$(echo "$json" | grep -oE '"accuracy":[0-9.]+' | head -1 | cut -d: -f2)
f1=$(echo "$json" | grep -oE '"macro_f1":[0-9.]+' | head -1 | cut -d: -f2)

cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | xargs)
cat > "$out" <<MD
# Quality runs behind the README's figures

- Command: \`bash bench/quality-runs.sh\`
- Date: $(date -u +"%Y-%m-%d %H:%M") UTC
- Machine: $cpu, $(nproc) cores, $(grep -m1 -o 'avx512_bf16' /proc/cpuinfo || echo 'no avx512_bf16'), commit $(git -C "$root" rev-parse --short HEAD)
- Wall times are for information only: other work may have shared the machine; the losses and scores do not depend on it
  (fixed seeds and step budgets).

## GPT pretraining, fp32 vs bf16 mixed precision

\`tokenizer train --kind bpe --data data/moby-dick --vocab-size 4096\`, then \`pretrain --arch gpt --data data/moby-dick
--layers 4 --hidden 256 --heads 4 --max-length 128 --batch-size 16 --max-steps 300 --eval-every 100 --seed 1 --precision P\`.

| precision | final validation loss | validation loss by step | wall time |
|---|---:|---|---:|
$rows
## MiniLM fine-tuned on sotu-era (3 eras of State of the Union passages)

\`finetune --model minilm --train sotu-era/train.csv --validation sotu-era/validation.csv --epochs 1 --batch-size 16 --lr 5e-5
--max-length 128 --seed 1\`, then \`evaluate --data sotu-era/test.csv\`: test accuracy **$acc**, macro-F1 **$(printf "%.3f" "$f1")**
(majority baseline 0.333), ${ftsecs} s.
MD
cat "$out"
