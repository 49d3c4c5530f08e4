#!/usr/bin/env bash
# A cross-encoder reranker trained here, on shipped data: retrieve (dense / BM25 / hybrid over an index of data/bible-kjv)
# → rerank the top DEPTH passages → score recall@1/5/10 and MRR@10 on data/rag/test.jsonl (35 questions, gold verse each).
#   (a) training pairs (question → the index passage that holds its gold verse) from data/qa/train.jsonl, KJV questions of
#       the rules data/rag keeps (begat, lived-after, son-of, son-of-chain, king-of, sons-of: they name the people asked
#       about); data/rag/test comes from data/qa/test, and training rows whose question text is a test question (data/qa
#       splits by verse, so a question can recur with another verse) are dropped, then checked absent;
#   (b) hard negatives: `gptbert index negatives --index` ranks the index's passages with its own hybrid search (MiniLM
#       bi-encoder + BM25, the first stage the reranker follows) and keeps the NEG best-ranked passages per question that do
#       not hold its gold verse (NEGPOOL=pairs instead mines among the other pairs' passages by MiniLM cosine alone, as
#       `index negatives` does without --index: see the results file for why that fails);
#   (c) the cross-encoder: `gptbert finetune --model minilm` on those rows (text = question, text_pair = passage, label 1/0);
#   (d) `gptbert rag --data` without and with `--rerank-with` (the cross-encoder, and MiniLM's cosine as a bi-encoder rerank).
# Writes bench/results/cross-encoder.md (or $OUT).
# Usage: bash bench/cross-encoder.sh [EPOCHS] [NEG] [DEPTH]   (default 3 epochs, 4 negatives, depth 20; about 15 minutes on
#        2 idle cores: ~2-7 min to embed the ~2,900 passages unless INDEX=DIR reuses an index of data/bible-kjv, ~7
#        minutes of training, ~1 min of evaluation)
# INDEX=DIR reuses (or, if missing, builds there) the KJV index; XENC=DIR uses that cross-encoder instead of training one;
# KEEP=DIR keeps a copy of the cross-encoder trained here; LR sets the fine-tuning learning rate (default 5e-5).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
epochs="${1:-3}"; neg="${2:-4}"; depth="${3:-20}"
questions="${QUESTIONS:-$root/data/rag/test.jsonl}"
out="${OUT:-$root/bench/results/cross-encoder.md}"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
g="$root/gptbert"
ft_args=(--model minilm --epochs "$epochs" --batch-size 16 --lr "${LR:-5e-5}" --max-length 192 --seed 1 --max-time 10m)

index="${INDEX:-$work/kjv.index}"
t0=$(date +%s)
if [ ! -f "$index/index.json" ]; then "$g" index build --input "$root/data/bible-kjv" --output "$index" 2> "$work/index.log"; tail -1 "$work/index.log" >&2; fi
t_index=$(( $(date +%s) - t0 ))

# (a) question → passage pairs from the training split; the test questions must not be among them.
python3 - "$root/data/qa/train.jsonl" "$index/chunks.jsonl" "$questions" "$work/pairs.jsonl" "$work/gold.json" > "$work/pairs.txt" <<'PY'
import json, sys
train, chunks, test, out, gold_out = sys.argv[1:]
rules = {"begat", "lived-after", "son-of", "son-of-chain", "king-of", "sons-of"}
collapse = lambda t: " ".join(t.split())
texts = [json.loads(l)["text"] for l in open(chunks, encoding="utf-8")]
flat = [collapse(t) for t in texts]
rows = [json.loads(l) for l in open(train, encoding="utf-8") if l.strip()]
rows = [r for r in rows if r["rule"] in rules and r["source"].startswith("kjv")]
test_q = {json.loads(l)["question"] for l in open(test, encoding="utf-8") if l.strip()}
# data/qa splits by verse, so a test question's text can recur in train (another verse, same answer): drop those.
leak = [r for r in rows if r["question"] in test_q]
rows = [r for r in rows if r["question"] not in test_q]
assert not any(r["question"] in test_q for r in rows)
pairs, gold, missing = [], {}, 0
for r in rows:
    verse = collapse(r["context"])
    i = next((i for i, c in enumerate(flat) if verse in c), None)
    if i is None: missing += 1; continue
    pairs.append({"text": r["question"], "text_pair": texts[i]})
    gold.setdefault(r["question"], []).append(verse)
with open(out, "w", encoding="utf-8") as f:
    for p in pairs: f.write(json.dumps(p) + "\n")
json.dump(gold, open(gold_out, "w"))
test_ctx = {collapse(json.loads(l)["context"]) for l in open(test, encoding="utf-8") if l.strip()}
shared = sum(1 for r in rows if collapse(r["context"]) in test_ctx)
print(f"{len(pairs)} pairs ({len({p['text'] for p in pairs})} distinct questions) from {len(rows)} training questions of those rules"
      f" ({missing} without a passage holding the whole verse), after dropping {len(leak)} training rows whose question text is a test question"
      f" ({len({r['question'] for r in leak})} distinct questions; data/qa splits by verse, not by question); no test question is left among them;"
      f" {shared} training verses are also test gold verses (asked by other questions)")
PY
cat "$work/pairs.txt" >&2

# (b) hard negatives mined with the bi-encoder; drop a "negative" passage that holds the question's own gold verse.
t0=$(date +%s)
if [ "${NEGPOOL:-index}" = pairs ]; then
  mine_args=(); mined_from="the other pairs' passages, ranked by MiniLM cosine"
else
  mine_args=(--index "$index" --mode hybrid); mined_from="the index's passages, ranked by its hybrid search (MiniLM + BM25)"
fi
"$g" index negatives --pairs "$work/pairs.jsonl" "${mine_args[@]}" --output "$work/mined.jsonl" --negatives "$neg" 2> "$work/negatives.log"
t_mine=$(( $(date +%s) - t0 )); cat "$work/negatives.log" >&2
python3 - "$work/mined.jsonl" "$work/gold.json" "$work/train.jsonl" > "$work/rows.txt" <<'PY'
import json, sys
mined, gold, out = sys.argv[1:]
gold = json.load(open(gold))
collapse = lambda t: " ".join(t.split())
kept, dropped, pos = [], 0, 0
for l in open(mined, encoding="utf-8"):
    r = json.loads(l)
    if r["label"] == "0" and any(v in collapse(r["text_pair"]) for v in gold[r["text"]]): dropped += 1; continue
    pos += r["label"] == "1"; kept.append(l)
open(out, "w", encoding="utf-8").writelines(kept)
print(f"{len(kept)} training rows: {pos} positives, {len(kept) - pos} hard negatives ({dropped} mined negatives dropped: they hold the question's gold verse)")
PY
cat "$work/rows.txt" >&2

# (c) the cross-encoder.
if [ -n "${XENC:-}" ]; then xenc="$XENC"; t_train=0; steps="given: $XENC"
else
  t0=$(date +%s)
  "$g" finetune "${ft_args[@]}" --train "$work/train.jsonl" --output "$work/xenc" > "$work/finetune.log" 2>&1
  t_train=$(( $(date +%s) - t0 ))
  steps=$(grep -oE "[0-9]+ steps" "$work/finetune.log" | tail -1 || true)
  tail -3 "$work/finetune.log" >&2
  xenc="$work/xenc"
  if [ -n "${KEEP:-}" ]; then rm -rf "$KEEP"; cp -r "$xenc" "$KEEP"; rm -rf "$KEEP"/checkpoint-*; fi
fi

# (d) retrieval without and with reranking (one call: dense, bm25, hybrid, hybrid+rerank), the bi-encoder rerank, and the
# first stage's recall@DEPTH (the ceiling of any reranker).
t0=$(date +%s)
"$g" rag --index "$index" --data "$questions" --rerank-with "$xenc" --rerank-depth "$depth" --json > "$work/xenc.json"
t_eval=$(( $(date +%s) - t0 ))
"$g" rag --index "$index" --data "$questions" --mode hybrid --rerank-with minilm --rerank-depth "$depth" --json > "$work/bienc.json"
"$g" rag --index "$index" --data "$questions" --mode hybrid --recall-at "$depth" --json > "$work/ceiling.json"

python3 - "$work" > "$work/tables.md" <<'PY'
import json, sys
work = sys.argv[1]
x, b, c = (json.load(open(f"{work}/{n}.json")) for n in ("xenc", "bienc", "ceiling"))
print(f"{x['questions']} questions, {x['passages']} passages; {x['reachable']} questions have their gold verse whole in one passage.\n")
print("| retrieval | recall@1 | recall@5 | recall@10 | MRR@10 | rerank ms / question |\n|---|---:|---:|---:|---:|---:|")
rows = x["retrieval"] + [dict(m, mode="hybrid+rerank (MiniLM cosine, bi-encoder)") for m in b["retrieval"] if "rerank" in m["mode"]]
for m in rows:
    name = m["mode"] + (" (cross-encoder)" if m["mode"].endswith("+rerank") else "")
    ms = f"{m['rerank_ms_per_question']:.0f}" if "rerank_ms_per_question" in m else ""
    print(f"| {name} | {m['recall@1']:.3f} | {m['recall@5']:.3f} | {m['recall@10']:.3f} | {m['mrr']:.3f} | {ms} |")
depth = c["retrieval"][0]["depth"]
print(f"\nThe first stage (hybrid) finds the gold verse within its top {depth} for {c['retrieval'][0][f'recall@{depth}']:.3f} of the questions: the ceiling of any reranker at depth {depth}.")
PY
cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | xargs)$(grep -q avx512f /proc/cpuinfo || echo ", AVX2 only")
cat > "$out" <<MD
# A cross-encoder reranker trained here: retrieve → rerank on data/rag/test.jsonl

- Command: \`${INDEX:+INDEX=$INDEX }${NEGPOOL:+NEGPOOL=$NEGPOOL }${LR:+LR=$LR }bash bench/cross-encoder.sh $epochs $neg $depth\`
- Date: $(date -u +"%Y-%m-%d %H:%M") UTC; commit $(git -C "$root" rev-parse --short HEAD)
- Machine: $cpu, $(nproc) cores, CPU only; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)
- Index: \`gptbert index build --input data/bible-kjv\` (MiniLM, 128-token passages, 16-token overlap, BM25)${INDEX:+, reused from \`$INDEX\`} (${t_index}s here).
- Training pairs: $(cat "$work/pairs.txt").
- Hard negatives: \`gptbert index negatives ${mine_args[*]} --negatives $neg\`, from $mined_from (${t_mine}s): $(cat "$work/rows.txt").
- Cross-encoder: \`gptbert finetune ${ft_args[*]}\` on those rows (a two-label BertForSequenceClassification; its score is
  P(label 1); 10% of the rows held out, stratified, for the validation score at the end), ${steps:-steps not reported}, ${t_train}s;
  validation: $(grep -m1 "best validation" "$work/finetune.log" 2>/dev/null | sed 's/best validation: *//' || echo "n/a") (all-negative would score accuracy $(grep -oE "[0-9]+ hard negatives" "$work/rows.txt" | head -1 | cut -d' ' -f1)/$(grep -oE "^[0-9]+ training rows" "$work/rows.txt" | cut -d' ' -f1) of the rows).
- Reranking: \`gptbert rag --data ... --rerank-with XENC --rerank-depth $depth\`: the top $depth hybrid passages reordered by the
  cross-encoder, then scored like the other rows (recall@k is defined for k ≤ $depth; MRR over the first 10). ${t_eval}s for the
  whole call (all rows). Latency: cross-encoder time per question for $depth (question, passage) pairs, batch 32, on this machine.
- A retrieved passage is a **hit** when its text contains the whole gold verse (whitespace collapsed).

$(cat "$work/tables.md")
MD
cat "$out"
