#!/usr/bin/env bash
# GPT vs BERT on the seed's applications, with `gptbert compare` on the shipped sets:
#   qa         data/qa                  BERT extractive (span head) vs GPT generative, both from scratch; SQuAD F1/EM
#   ner        data/ner                 BERT vs GPT-2 token classification, both from scratch; seqeval entity F1
#   summarize  data/summarization      BERT extractive (built-in MiniLM, no training) vs GPT abstractive (from scratch) vs lead-1; ROUGE
#   translate  data/translation/en-fr  GPT from scratch at two sizes vs copying the source; BLEU, chrF (BERT alone has no decoder)
#   chat       data/chat               GPT from scratch; loss per assistant token (BERT: encoders do not generate)
# Each run writes its report (HTML, Markdown, JSON) to bench/results/compare-TASK/, and this script gathers the verdicts
# and the primary metrics in bench/results/compare-tasks.md (command, date, machine).
# Usage: bash bench/compare-tasks.sh [BUDGET_TOKENS] [SEEDS] [PARAMS] [TEST_LIMIT]
#   qa and ner train for QA_NER_STEPS optimizer steps (default 300, batch 16) with QA_NER_PARAMS parameters (default 1M)
#   instead: their examples are longer (160 tokens) and a token budget of the generative tasks would be a few dozen steps.
#   TASKS="qa ner" runs a subset (default: all five); the table covers the tasks run.
#   defaults 200k tokens per run, 2 seeds, 2M parameters, the whole test sets; run it on an idle machine (about 1-2 hours on 2 cores).
#   Smoke test: bash bench/compare-tasks.sh 2k 1 800k 5      (a few minutes; results meaningless, written to a temporary folder)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
budget="${1:-200k}"; seeds="${2:-2}"; params="${3:-2M}"; limit="${4:-}"
results="$root/bench/results"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
if [ -n "$limit" ]; then results="$work/results"; fi   # a smoke run does not overwrite the measured results
mkdir -p "$results"

tasks="${TASKS:-qa ner summarize translate chat}"
qn_steps="${QA_NER_STEPS:-300}"; qn_params="${QA_NER_PARAMS:-1M}"
declare -A data=([qa]="data/qa" [ner]="data/ner" [summarize]="data/summarization" [translate]="data/translation/en-fr" [chat]="data/chat")
declare -A extra=([qa]="" [ner]="" [summarize]="--bert minilm" [translate]="" [chat]="")
for task in $tasks; do
  dir="$root/${data[$task]}"
  ext=jsonl; [ "$task" = ner ] && ext=conll
  test="$dir/test.$ext"
  if [ -n "$limit" ]; then
    if [ "$ext" = conll ]; then awk -v n="$limit" 'BEGIN{RS="";ORS="\n\n"} NR<=n' "$test" > "$work/$task-test.$ext"; else head -n "$limit" "$test" > "$work/$task-test.$ext"; fi
    test="$work/$task-test.$ext"
  fi
  if [ "$task" = qa ] || [ "$task" = ner ]; then size=(--params "$qn_params" --max-steps "$qn_steps"); else size=(--params "$params" --max-tokens "$budget"); fi
  echo "== $task: ${size[*]}, $seeds seed(s)" >&2
  # shellcheck disable=SC2086
  "$root/gptbert" compare --task "$task" --train "$dir/train.$ext" --validation "$dir/validation.$ext" --test "$test" \
    --from-scratch "${size[@]}" --seeds "$seeds" ${extra[$task]} \
    --report "$results/compare-$task" --json > "$work/$task.json"
  cp "$work/$task.json" "$results/compare-$task/compare.json"   # the --json output, kept beside the report
done

python3 - "$work" "$results/compare-tasks.md" "$budget" "$seeds" "$params" "${limit:-all}" "$tasks" "$qn_steps" "$qn_params" <<'PY'
import json, sys, datetime, platform, os
work, out, budget, seeds, params, limit, tasks, qn_steps, qn_params = sys.argv[1:]
tasks = tasks.split()
info = open("/proc/cpuinfo").read().split("\n")
field = lambda name: next((l.split(":", 1)[1].strip() for l in info if l.startswith(name)), "?")
cpu = f"{field('model name')} (family {field('cpu family')}, model {field('model' + chr(9))})"
avx = "AVX-512" if " avx512f" in open("/proc/cpuinfo").read() else "AVX2 only"
prefix = "" if tasks == "qa ner summarize translate chat".split() else 'TASKS="' + " ".join(tasks) + '" '
lines = ["# GPT vs BERT on the seed's applications (`gptbert compare`)", "",
         f"Command: `{prefix}bash bench/compare-tasks.sh {budget} {seeds} {params}`: "
         f"summarize/translate/chat {budget} training tokens per run and {params} parameters per from-scratch model; "
         f"qa/ner {qn_steps} optimizer steps (batch 16) and {qn_params} parameters; {seeds} seed(s) per candidate; test items: {limit}.", "",
         f"Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC (end). Machine: {cpu}, {avx}, {os.cpu_count()} cores; "
         f"load average at the end: {' '.join(open('/proc/loadavg').read().split()[:3])}.", ""]
results = os.path.dirname(out)
for task in "qa ner summarize translate chat".split():
    path = os.path.join(results, "compare-" + task, "compare.json")
    if task not in tasks and not os.path.exists(path): continue
    r = json.load(open(path if task not in tasks else os.path.join(work, task + ".json")))
    if task not in tasks:
        lines += [f"(`{task}` from an earlier run of this script, `{os.path.relpath(path, results)}`.)", ""]
    metric = r["primary_metric"]
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
