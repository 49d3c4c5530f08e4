#!/usr/bin/env bash
# ROUGE-1/2/L F1 on the shipped summarization test set (data/summarization/test.jsonl) for three summarizers:
# lead-1 (the baseline), extractive MiniLM centrality (1 sentence, the built-in model, no training), and an abstractive
# tiny GPT trained from scratch on data/summarization/train.jsonl for a fixed wall-time budget (its own 4k BPE vocabulary,
# learnt from the training documents and summaries first). Writes bench/results/summarization.md.
# Usage: bash bench/summarization.sh [TRAIN_TIME]      (default 4m; the whole run takes about 7 minutes on 2 cores)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
budget="${1:-4m}"
data="$root/data/summarization"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
out="$root/bench/results/summarization.md"
gpt_args=(--arch gpt --layers 2 --hidden 128 --heads 4 --max-length 384 --batch-size 8 --lr 1e-3 --seed 1)

t0=$(date +%s)
"$root/gptbert" summarize --data "$data/test.jsonl" --json > "$work/extractive.json"
t_ext=$(( $(date +%s) - t0 ))
echo "extractive + lead: ${t_ext}s" >&2

# The tokenizer learns from the training split only (documents and summaries, one per line).
python3 -c '
import json, sys
with open(sys.argv[2], "w", encoding="utf-8") as out:
    for line in open(sys.argv[1], encoding="utf-8"):
        row = json.loads(line)
        out.write(row["document"] + "\n" + row["summary"] + "\n\n")
' "$data/train.jsonl" "$work/train.txt"
"$root/gptbert" tokenizer train --kind bpe --data "$work/train.txt" --vocab-size 4096 --output "$work/tok" >/dev/null
t0=$(date +%s)
"$root/gptbert" finetune "${gpt_args[@]}" --tokenizer "$work/tok" --train "$data/train.jsonl" --validation "$data/validation.jsonl" \
  --output "$work/gpt" --max-time "$budget" > "$work/finetune.log" 2>&1
t_train=$(( $(date +%s) - t0 ))
echo "abstractive training: ${t_train}s" >&2
t0=$(date +%s)
"$root/gptbert" summarize --model "$work/gpt" --data "$data/test.jsonl" --max-new-tokens 40 --json > "$work/abstractive.json"
t_abs=$(( $(date +%s) - t0 ))
echo "abstractive summaries: ${t_abs}s" >&2
steps=$(grep -oE "[0-9]+ steps" "$work/finetune.log" | tail -1 || true)

rows=$(python3 -c '
import json, sys
seen = set()
for path in sys.argv[1:]:
    for m in json.load(open(path))["methods"]:
        if m["method"] in seen: continue
        seen.add(m["method"])
        f = lambda k: "%.4f" % m[k]["fmeasure"]
        print("| %s | %s | %s | %s |" % (m["method"], f("rouge1"), f("rouge2"), f("rougeL")))
' "$work/extractive.json" "$work/abstractive.json")
count=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["count"])' "$work/extractive.json")
cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | xargs)
cat > "$out" <<MD
# Summarization on the shipped AppStream set (data/summarization/test.jsonl)

- Command: \`bash bench/summarization.sh $budget\`
- Date: $(date -u +"%Y-%m-%d %H:%M") UTC
- Machine: $cpu, $(nproc) cores (AVX2, no AVX-512), CPU only
- Test set: $count AppStream descriptions (English), each with its one-line summary as the reference.
- ROUGE: F1 as rouge-score computes it (\`use_stemmer=False\`), mean over documents, 0-1.
- extractive-1: built-in MiniLM (all-MiniLM-L6-v2), the sentence with the highest mean cosine similarity to the others; ${t_ext}s for lead and extractive together.
- abstractive: GPT-2 from scratch (\`${gpt_args[*]}\`, a 4,096-token byte-level BPE learnt from the training split),
  fine-tuned on \`data/summarization/train.jsonl\` (loss on the summary only) for \`--max-time $budget\` (${steps:-steps not reported}; ${t_train}s
  with loading and saving), greedy decoding, at most 40 new tokens; ${t_abs}s to summarize the test set.

| method | ROUGE-1 | ROUGE-2 | ROUGE-L |
|---|---:|---:|---:|
$rows
MD
cat "$out"
