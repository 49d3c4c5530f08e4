#!/usr/bin/env bash
# Exports one directory of every kind `gptbert export onnx` writes (each head, fp32 and int8, plus the built-in
# MiniLM) and checks them all with check.py. Needs Debian's python3-onnx and python3-numpy:
#   apt-get update && apt-get install -y python3-onnx
# Usage: tools/onnx-check/check.sh [WORK_DIR]     (default: a temporary directory)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="${1:-$(mktemp -d)}"
py=/usr/bin/python3   # Debian's python, where python3-onnx installs
"$py" "$here/make_models.py" "$work/models" > /dev/null
dirs=()
for model in "$work"/models/*; do
  arch="$(basename "$model")"
  case "$arch" in Bert*) tok=bert-base-uncased ;; *) tok=gpt2 ;; esac
  "$root/gptbert" export onnx --model "$model" --tokenizer "$tok" --output "$work/onnx/$arch" > /dev/null
  "$root/gptbert" export onnx --model "$model" --tokenizer "$tok" --output "$work/onnx-int8/$arch" --int8 > /dev/null
  dirs+=("$work/onnx/$arch" "$work/onnx-int8/$arch")
done
"$root/gptbert" export onnx --model minilm --output "$work/onnx/minilm" > /dev/null
dirs+=("$work/onnx/minilm")
"$py" "$here/check.py" "${dirs[@]}"
