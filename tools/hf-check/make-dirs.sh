#!/usr/bin/env bash
# Writes the twelve kinds of model directory GptBert produces (the table in tools/hf-check/README.md) into OUT, with the
# Release CLI, so that check.py can load each in transformers.   Usage: tools/hf-check/make-dirs.sh OUT
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:?usage: make-dirs.sh OUT}"
mkdir -p "$out"
g="$root/gptbert"
fc="$root/data/classification/fortune-category"
se="$root/data/classification/sotu-era"
q() { echo "== $*" >&2; "$g" "$@" >/dev/null 2>"$out/last.log" || { cat "$out/last.log" >&2; exit 1; }; }

q tokenizer train --kind bpe --data "$root/data/moby-dick" --vocab-size 2000 --output "$out/tok-bpe"
q tokenizer train --kind wordpiece --data "$root/data/moby-dick" --vocab-size 2000 --output "$out/tok-wp"
q pretrain --arch gpt --data "$root/data/samples/moby-dick-openings.txt" --output "$out/gpt-lm" --layers 2 --hidden 64 --heads 2 --max-length 64 --max-steps 150 --lr 3e-3
q pretrain --arch gpt --tokenizer "$out/tok-bpe" --data "$root/data/moby-dick" --output "$out/gpt-lm-bpe" --layers 2 --hidden 128 --heads 4 --max-length 64 --max-steps 200 --lr 3e-3
q finetune --model "$out/gpt-lm" --train "$fc/validation.csv" --validation "$fc/test.csv" --output "$out/gpt-lm-clf" --max-steps 3 --max-length 64
q finetune --arch gpt --layers 2 --hidden 64 --heads 2 --train "$fc/validation.csv" --validation "$fc/test.csv" --output "$out/gpt-clf" --max-steps 5 --max-length 64
# The "-ci" kinds: classifiers trained from scratch with a tokenizer learned from the data, as compare/choose make them.
q finetune --arch gpt --tokenizer "$out/tok-bpe" --layers 4 --hidden 160 --heads 4 --train "$se/validation.csv" --validation "$se/test.csv" --output "$out/gpt-clf-ci" --max-steps 5 --max-length 128
q pretrain --arch bert --data "$root/data/samples/moby-dick-openings.txt" --output "$out/bert-mlm" --layers 2 --hidden 64 --heads 2 --max-length 64 --max-steps 5
q pretrain --arch bert --nsp --data "$root/data/samples/moby-dick-openings.txt" --output "$out/bert-pt" --layers 2 --hidden 64 --heads 2 --max-length 64 --max-steps 5
q pretrain --arch bert --nsp --whole-word-masking --tokenizer "$out/tok-wp" --data "$root/data/moby-dick" --output "$out/bert-pt-wp" --layers 2 --hidden 64 --heads 2 --max-length 64 --max-steps 5
q finetune --arch bert --layers 2 --hidden 64 --heads 2 --train "$fc/validation.csv" --validation "$fc/test.csv" --output "$out/bert-clf" --max-steps 5 --max-length 64
q finetune --arch bert --tokenizer "$out/tok-wp" --layers 4 --hidden 160 --heads 4 --train "$se/validation.csv" --validation "$se/test.csv" --output "$out/bert-clf-ci" --max-steps 5 --max-length 128
q finetune --model minilm --train "$fc/validation.csv" --validation "$fc/test.csv" --output "$out/minilm-clf" --max-steps 3 --max-length 64
"$g" info minilm >/dev/null
cache="${GPTBERT_CACHE:-$HOME/.cache/gptbert}"
rm -rf "$out/minilm"; cp -r "$cache/all-MiniLM-L6-v2" "$out/minilm"
rm -rf "$out/tok-bpe" "$out/tok-wp" "$out/last.log"
ls "$out"
