#!/usr/bin/env bash
# GPT vs BERT vs GPT-BERT from scratch at the same shape, data and token budget, several seeds (issue #14 part 4).
# Generation: best validation loss (per token, GPT-2 BPE for GPT and GPT-BERT, so directly comparable; BERT's masked-LM
# loss is another quantity and is listed only for reference). Classification: macro-F1 on data/classification/sotu-era
# after fine-tuning each pretrained model. Usage: bench/gpt-bert.sh [SEEDS=2] [TOKENS=200000] [OUT=bench/results/gpt-bert.md]
# Note: at one shape the parameter counts differ only by the embedding tables (GPT-2 BPE 50,258 ids incl. [MASK] for
# GPT and GPT-BERT; WordPiece 30,522 for BERT).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seeds=${1:-2}; tokens=${2:-200000}; out=${3:-$root/bench/results/gpt-bert.md}
g="$root/gptbert"; work=$(mktemp -d /tmp/gpt-bert-bench.XXXX)
shape=(--layers 2 --hidden 128 --heads 2 --max-length 64 --threads 2)
{
  echo "# GPT vs BERT vs GPT-BERT (bench/gpt-bert.sh)"
  echo
  echo "command: bench/gpt-bert.sh $seeds $tokens; date: $(date -u +%FT%TZ); machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "| arch | seed | best validation loss | sotu-era macro-F1 |"
  echo "|---|---|---|---|"
} > "$out.tmp"
for seed in $(seq 1 "$seeds"); do
  for arch in gpt bert gpt-bert; do
    dir="$work/$arch-$seed"
    "$g" pretrain --arch "$arch" --data "$root/data/moby-dick" --output "$dir" "${shape[@]}" --max-tokens "$tokens" --seed "$seed" > "$dir.pretrain.txt" 2>/dev/null
    loss=$(grep -o 'best validation loss: [0-9.]*' "$dir.pretrain.txt" | awk '{print $4}')
    "$g" finetune --model "$dir" --train "$root/data/classification/sotu-era/train.csv" --validation "$root/data/classification/sotu-era/validation.csv" \
      --output "$dir-ft" --max-length 64 --epochs 3 --seed "$seed" --threads 2 > /dev/null 2>&1
    f1=$("$g" evaluate --model "$dir-ft" --data "$root/data/classification/sotu-era/test.csv" 2>/dev/null | grep -io 'macro-F1[: ]*[0-9.]*' | head -1 | grep -o '[0-9.]*$' || echo "?")
    echo "| $arch | $seed | $loss | $f1 |" >> "$out.tmp"
  done
done
mv "$out.tmp" "$out"; cat "$out"
