#!/usr/bin/env bash
# RAG on the shipped corpus: retrieval recall@1/5/10 and MRR of dense (MiniLM), BM25 and hybrid search over an index of
# data/bible-kjv, on data/rag/test.jsonl (35 questions that the corpus alone answers, each with its gold verse), and the
# answers (SQuAD EM/F1) of a tiny GPT trained from scratch for generative QA on data/qa/train.jsonl, reading the top
# passage of each retrieval mode — next to the
# same GPT given the gold verse (the ceiling of retrieval). Writes bench/results/rag.md (or $OUT).
# Usage: bash bench/rag.sh [TRAIN_TIME|Nsteps] [CORPUS...]   (default 10m and data/bible-kjv; about 20 minutes on 2 idle cores:
#        ~7 min to embed the ~2,900 passages, TRAIN_TIME of training, ~1 min of evaluation)
# GENERATOR=DIR uses that GPT instead of training one (then TRAIN_TIME is ignored).
# Smoke: QUESTIONS=data/rag/validation.jsonl OUT=/tmp/rag.md bash bench/rag.sh 15s data/bible-kjv/17-esther.txt
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
budget="${1:-10m}"; shift || true
# A step budget ("1200steps") repeats on any machine; a time budget ("10m") buys fewer steps on a busy or slower one.
if [[ "$budget" == *steps ]]; then budget_flag=(--max-steps "${budget%steps}"); else budget_flag=(--max-time "$budget"); fi
corpus=("$@"); [ ${#corpus[@]} -gt 0 ] || corpus=("$root/data/bible-kjv")
questions="${QUESTIONS:-$root/data/rag/test.jsonl}"
out="${OUT:-$root/bench/results/rag.md}"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
gpt_args=(--task qa --arch gpt --layers 2 --hidden 128 --heads 4 --max-length 256 --batch-size 16 --lr 1e-3 --seed 1)
g="$root/gptbert"

t0=$(date +%s)
"$g" index build --input "${corpus[@]}" --output "$work/corpus.index" 2> "$work/index.log"
t_index=$(( $(date +%s) - t0 )); tail -1 "$work/index.log" >&2
"$g" rag --index "$work/corpus.index" --data "$questions" --json > "$work/retrieval.json"

if [ -n "${GENERATOR:-}" ]; then
  # A generator you trained already (e.g. longer, or from a pretrained GPT-2): no training here.
  gen="$GENERATOR"; t_train=0; steps="given: $GENERATOR"
else
  # The generator: its own 4k BPE from the QA training split, then generative QA ("Context: C\nQuestion: Q\nAnswer:").
  python3 -c '
import json, sys
with open(sys.argv[2], "w", encoding="utf-8") as out:
    for line in open(sys.argv[1], encoding="utf-8"):
        r = json.loads(line)
        out.write(r["context"] + "\n" + r["question"] + "\n" + r["answer"] + "\n\n")
  ' "$root/data/qa/train.jsonl" "$work/train.txt"
  "$g" tokenizer train --kind bpe --data "$work/train.txt" --vocab-size 4096 --output "$work/tok" > /dev/null
  t0=$(date +%s)
  "$g" finetune "${gpt_args[@]}" --tokenizer "$work/tok" --train "$root/data/qa/train.jsonl" --validation "$root/data/qa/validation.jsonl" \
    --output "$work/gpt" "${budget_flag[@]}" > "$work/finetune.log" 2>&1
  t_train=$(( $(date +%s) - t0 ))
  steps=$(grep -oE "[0-9,]+ steps" "$work/finetune.log" | tail -1 || true)
  gen="$work/gpt"
fi

# The ceiling of retrieval: the gold verse as the context.
"$g" qa --model "$gen" --data "$questions" --json > "$work/gold.json"
t0=$(date +%s)
for mode in dense bm25 hybrid; do
  "$g" rag --index "$work/corpus.index" --data "$questions" --generator "$gen" --template qa --top 1 --mode "$mode" \
    --max-new-tokens 16 --json > "$work/answers-$mode.json"
done
t_answer=$(( $(date +%s) - t0 ))

python3 - "$work" "$questions" > "$work/tables.md" <<'PY'
import json, sys
work, questions = sys.argv[1], sys.argv[2]
r = json.load(open(f"{work}/retrieval.json"))
print(f"{r['questions']} questions, {r['passages']} passages; {r['reachable']} questions have their gold verse whole in one passage (the recall ceiling: {r['reachable'] / r['questions']:.3f}).\n")
print("| retrieval | recall@1 | recall@5 | recall@10 | MRR@10 |\n|---|---:|---:|---:|---:|")
for m in r["retrieval"]:
    print(f"| {m['mode']} | {m['recall@1']:.3f} | {m['recall@5']:.3f} | {m['recall@10']:.3f} | {m['mrr']:.3f} |")
print("\n| answers (tiny GPT, greedy) | EM | F1 |\n|---|---:|---:|")
gold = json.load(open(f"{work}/gold.json"))
print(f"| gold verse as the context (ceiling) | {gold['exact_match']:.1f} | {gold['f1']:.1f} |")
for mode in ("dense", "bm25", "hybrid"):
    a = json.load(open(f"{work}/answers-{mode}.json"))["answers"]
    print(f"| RAG, top-1 {mode} passage | {a['exact_match']:.1f} | {a['f1']:.1f} |")
PY
cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | xargs)
cat > "$out" <<MD
# RAG on the shipped corpus: retrieval and answers

- Command: \`bash bench/rag.sh $budget ${corpus[*]#$root/}\` (questions: \`${questions#$root/}\`)
- Date: $(date -u +"%Y-%m-%d %H:%M") UTC
- Machine: $cpu, $(nproc) cores, CPU only
- Index: \`gptbert index build\` with the built-in MiniLM (all-MiniLM-L6-v2), 128-token passages on sentence
  boundaries with 16 tokens of overlap, BM25 (Lucene) beside it; ${t_index}s to build.
- A retrieved passage is a **hit** when its text contains the whole gold verse (whitespace collapsed); recall@k is the
  fraction of questions with a hit in the first k, MRR@10 the mean of 1/rank of the first hit (0 when none in 10).
- Generator: GPT-2 from scratch (\`${gpt_args[*]}\`, a 4,096-token BPE learnt from data/qa/train), fine-tuned for
  generative QA on data/qa/train.jsonl for \`${budget_flag[*]}\` (${steps:-steps not reported}; ${t_train}s); the RAG prompt is
  \`--template qa\` ("Context: {context}\\nQuestion: {question}\\nAnswer:", the format it was trained on) with the top-1
  passage; greedy, at most 16 new tokens; ${t_answer}s for the three modes. EM/F1: SQuAD's, in percent.

$(cat "$work/tables.md")
MD
cat "$out"
