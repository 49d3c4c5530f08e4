#!/usr/bin/env bash
# Generate-then-rerank vs best-of-1 on the shipped summarization test set (data/summarization/test.jsonl): a tiny GPT
# trained from scratch on data/summarization/train.jsonl samples N summaries per document and the built-in MiniLM keeps
# the one closest to the document (cosine of the sentence embeddings); ROUGE-1/2/L F1 of that pick ("rerank-N") against
# the same GPT's greedy summary ("abstractive"), one random sample ("sample-1", candidate 0 of the same draw) and the
# candidate with the best ROUGE-L against the reference ("oracle-N", the ceiling of any judge), for several sampling
# seeds (the mean and the spread over seeds). Writes bench/results/rerank.md (or $OUT).
# Usage: bash bench/rerank.sh [TRAIN_TIME|Nsteps] [N] [SEEDS]   (default 10m, 8 candidates, seeds "1 2 3"; about 25 minutes on
#        2 idle cores: TRAIN_TIME of training, then ~4 minutes per seed)
# GENERATOR=DIR uses that GPT instead of training one (then TRAIN_TIME is ignored).
# Smoke: LIMIT=5 OUT=/tmp/rerank.md bash bench/rerank.sh 15s 3 "1 2"
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
budget="${1:-10m}"; n="${2:-8}"; seeds="${3:-1 2 3}"
# A step budget ("1200steps") repeats on any machine; a time budget ("10m") buys fewer steps on a busy or slower one.
if [[ "$budget" == *steps ]]; then budget_flag=(--max-steps "${budget%steps}"); else budget_flag=(--max-time "$budget"); fi
data="$root/data/summarization"
out="${OUT:-$root/bench/results/rerank.md}"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
gpt_args=(--arch gpt --layers 2 --hidden 128 --heads 4 --max-length 384 --batch-size 8 --lr 1e-3 --seed 1)
g="$root/gptbert"
test="$data/test.jsonl"
if [ -n "${LIMIT:-}" ]; then head -n "$LIMIT" "$test" > "$work/test.jsonl"; test="$work/test.jsonl"; fi

if [ -n "${GENERATOR:-}" ]; then
  # A generator you trained already (e.g. longer, or from a pretrained GPT-2): no training here.
  gen="$GENERATOR"; t_train=0; steps="given: $GENERATOR"
else
  # The generator, as bench/summarization.sh trains it: its own 4k BPE from the training split, then prompt/completion.
  python3 -c '
import json, sys
with open(sys.argv[2], "w", encoding="utf-8") as out:
    for line in open(sys.argv[1], encoding="utf-8"):
        row = json.loads(line)
        out.write(row["document"] + "\n" + row["summary"] + "\n\n")
  ' "$data/train.jsonl" "$work/train.txt"
  "$g" tokenizer train --kind bpe --data "$work/train.txt" --vocab-size 4096 --output "$work/tok" > /dev/null
  t0=$(date +%s)
  "$g" finetune "${gpt_args[@]}" --tokenizer "$work/tok" --train "$data/train.jsonl" --validation "$data/validation.jsonl" \
    --output "$work/gpt" "${budget_flag[@]}" > "$work/finetune.log" 2>&1
  t_train=$(( $(date +%s) - t0 ))
  steps=$(grep -oE "[0-9,]+ steps" "$work/finetune.log" | tail -1 || true)
  gen="$work/gpt"
fi

t0=$(date +%s)
for s in $seeds; do
  "$g" summarize --model "$gen" --data "$test" --max-new-tokens 40 --num-candidates "$n" --rerank-with minilm --seed "$s" --json > "$work/seed-$s.json"
  echo "seed $s done" >&2
done
t_eval=$(( $(date +%s) - t0 ))

rows=$(python3 - "$work" $seeds <<'PY'
import json, statistics, sys
work, seeds = sys.argv[1], sys.argv[2:]
runs = [json.load(open(f"{work}/seed-{s}.json")) for s in seeds]
names = [m["method"] for m in runs[0]["methods"]]
def fmt(values):
    mean = statistics.mean(values)
    return f"{mean:.4f}" if len(values) < 2 else f"{mean:.4f} ± {statistics.stdev(values):.4f}"
for name in names:
    cells = []
    for key in ("rouge1", "rouge2", "rougeL"):
        cells.append(fmt([next(m for m in r["methods"] if m["method"] == name)[key]["fmeasure"] for r in runs]))
    print(f"| {name} | " + " | ".join(cells) + " |")
print(f"\nCOUNT={runs[0]['count']}")
PY
)
count=$(echo "$rows" | grep -oE "COUNT=[0-9]+" | cut -d= -f2); rows=$(echo "$rows" | grep -v "COUNT=")
cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | xargs)
cat > "$out" <<MD
# Generate-then-rerank vs best-of-1: abstractive summarization (data/summarization/test.jsonl)

- Command: \`bash bench/rerank.sh $budget $n "$seeds"\`${LIMIT:+ (LIMIT=$LIMIT: the first $LIMIT documents)}
- Date: $(date -u +"%Y-%m-%d %H:%M") UTC
- Machine: $cpu, $(nproc) cores, CPU only
- Generator: GPT-2 from scratch (\`${gpt_args[*]}\`, a 4,096-token BPE learnt from the training split), fine-tuned on
  data/summarization/train.jsonl (loss on the summary only) for \`${budget_flag[*]}\` (${steps:-steps not reported}; ${t_train}s).
- Per document ($count documents): the greedy summary, and $n samples (temperature 0.8, top-p 0.95, candidate i with seed
  S + i) of at most 40 tokens, cut at the first newline. The judge is the built-in MiniLM: the candidate with the highest
  cosine similarity to the document wins (\`summarize --num-candidates $n --rerank-with minilm\`). ${t_eval}s for all seeds.
- Rows: **abstractive** = greedy (deterministic: the same for every seed); **sample-1** = candidate 0, a random single
  sample (best-of-1); **rerank-$n** = the judge's pick; **oracle-$n** = the candidate with the best ROUGE-L against the
  reference (what a perfect judge would reach with these candidates); **lead-1** = the first sentence.
- ROUGE F1 (rouge-score's tokenizer, no stemming), mean over documents, 0-1; mean ± standard deviation over seeds $seeds.

| method | ROUGE-1 | ROUGE-2 | ROUGE-L |
|---|---:|---:|---:|
$rows
MD
cat "$out"
