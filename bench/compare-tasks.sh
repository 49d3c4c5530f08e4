#!/usr/bin/env bash
# GPT vs BERT on the text-to-text tasks, with `gptbert compare` on the shipped sets:
#   summarize  data/summarization      BERT extractive (built-in MiniLM, no training) vs GPT abstractive (from scratch) vs lead-1; ROUGE
#   translate  data/translation/en-fr  GPT from scratch at two sizes vs copying the source; BLEU, chrF (BERT alone has no decoder)
#   chat       data/chat               GPT from scratch; loss per assistant token (BERT: encoders do not generate)
# Each run writes its report (HTML, Markdown, JSON) to bench/results/compare-TASK/, and this script gathers the verdicts
# and the primary metrics in bench/results/compare-tasks.md (command, date, machine).
# Usage: bash bench/compare-tasks.sh [BUDGET_TOKENS] [SEEDS] [PARAMS] [TEST_LIMIT]
#   defaults 200k tokens per run, 2 seeds, 2M parameters, the whole test sets; run it on an idle machine (about 1-2 hours on 2 cores).
#   Smoke test: bash bench/compare-tasks.sh 2k 1 800k 5      (a few minutes; results meaningless, written to a temporary folder)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
budget="${1:-200k}"; seeds="${2:-2}"; params="${3:-2M}"; limit="${4:-}"
results="$root/bench/results"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
if [ -n "$limit" ]; then results="$work/results"; fi   # a smoke run does not overwrite the measured results
mkdir -p "$results"

declare -A data=([summarize]="data/summarization" [translate]="data/translation/en-fr" [chat]="data/chat")
declare -A extra=([summarize]="--bert minilm" [translate]="" [chat]="")
for task in summarize translate chat; do
  dir="$root/${data[$task]}"
  test="$dir/test.jsonl"
  if [ -n "$limit" ]; then head -n "$limit" "$test" > "$work/$task-test.jsonl"; test="$work/$task-test.jsonl"; fi
  echo "== $task: $budget tokens per run, $seeds seed(s), $params parameters" >&2
  # shellcheck disable=SC2086
  "$root/gptbert" compare --task "$task" --train "$dir/train.jsonl" --validation "$dir/validation.jsonl" --test "$test" \
    --from-scratch --params "$params" --max-tokens "$budget" --seeds "$seeds" ${extra[$task]} \
    --report "$results/compare-$task" --json > "$work/$task.json"
done

python3 - "$work" "$results/compare-tasks.md" "$budget" "$seeds" "$params" "${limit:-all}" <<'PY'
import json, sys, datetime, platform, os
work, out, budget, seeds, params, limit = sys.argv[1:]
lines = ["# GPT vs BERT on summarize, translate and chat (`gptbert compare`)", "",
         f"Command: `bash bench/compare-tasks.sh {budget} {seeds} {params}`; {budget} training tokens per run, {seeds} seed(s), "
         f"{params} parameters per from-scratch model; test items: {limit}.", ""]
for task in ("summarize", "translate", "chat"):
    r = json.load(open(os.path.join(work, task + ".json")))
    metric = r["primary_metric"]
    if task == "summarize":
        lines += [f"Date {r.get('date', '')}, machine: {r.get('machine', '')}.", ""] if "machine" in r else []
    lines += [f"## {task}", "", f"Verdict: **{r['verdict']}** (primary metric: {metric}).", "",
              "| candidate | family | " + metric + " | training s | latency p50 ms | parameters |", "|---|---|---|---|---|---|"]
    for c in r["candidates"] + r.get("baselines", []):
        q = c.get("quality", {}).get(metric)
        val = "n/a" if not q else f"{q['mean']:.4f}" + (f" ± {q['std']:.4f}" if q.get("std") else "")
        ts = c.get("training_seconds") or {}
        lines.append(f"| {c['name']} | {c['family']} | {val if c.get('supported', True) else 'not applicable'} | "
                     f"{ts.get('mean', 0):.0f} | {c.get('latency_p50_ms', 0):.1f} | {c.get('parameters', 0):,} |")
    lines += [""] + [f"- {s}" for s in r.get("reasons", [])] + [""]
open(out, "w", encoding="utf-8").write("\n".join(lines))
print(out)
PY
