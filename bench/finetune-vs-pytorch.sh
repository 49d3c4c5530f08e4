#!/usr/bin/env bash
# Our MiniLM fine-tuning against a plain PyTorch + transformers loop with the same hyper-parameters
# (tools/hf-check/finetune_reference.py), several seeds, runs interleaved (ours, theirs, ours, ...), both at
# 2 threads. Writes bench/results/finetune-vs-pytorch.md.
#
#   bash bench/finetune-vs-pytorch.sh [SEEDS] [EPOCHS] [DATASET]      (defaults: "1 2 3", 1, sotu-era)
#
# Needs the offline transformers of tools/hf-check (PYTHONPATH below; see tools/hf-check/README.md) and
# Debian's python3-torch with OpenBLAS behind it (apt-get install libopenblas0-pthread: without it Debian's torch
# falls back to the reference BLAS, about 20x slower). Run it alone on the machine: it measures throughput.
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${1:-"1 2 3"}; EPOCHS=${2:-1}; SET=${3:-sotu-era}
DATA=data/classification/$SET
HF=${HF:-/tmp/hf}
export OPENBLAS_NUM_THREADS=2 PYTHONPATH="$HF/transformers/src:$HF/huggingface_hub/src:$PWD/tools/hf-check/shim" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT
RES=$OUT/results.jsonl
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg); START=$(date -u '+%Y-%m-%d %H:%M'); COMMIT=$(git rev-parse --short HEAD)

./gptbert info minilm >/dev/null   # converts the built-in once, builds the CLI if needed
MINILM=${GPTBERT_CACHE:-$HOME/.cache/gptbert}/all-MiniLM-L6-v2

ours() {
  local seed=$1 dir=$OUT/ours-$1
  ./gptbert finetune --model minilm --train $DATA/train.csv --validation $DATA/validation.csv --output "$dir" \
    --epochs "$EPOCHS" --seed "$seed" > "$dir.txt" 2> "$dir.err"
  ./gptbert evaluate --model "$dir" --data $DATA/test.csv --json > "$dir.eval.json"
  /usr/bin/python3 - "$dir" "$seed" >> "$RES" <<'EOF'
import json, sys
d, seed = sys.argv[1], int(sys.argv[2])
ev = json.load(open(d + ".eval.json"))
events = [json.loads(l) for l in open(d + "/log.jsonl")]
last = [e for e in events if e.get("event") == "train"][-1]   # the last training window: steps, tokens, elapsed
s = last["elapsed_s"]
print(json.dumps({"impl": "gptbert", "seed": seed, "steps": last["step"], "tokens": last["tokens"], "train_seconds": s,
                  "tokens_per_second": last["tokens"] / s, "test_accuracy": ev["accuracy"], "test_macro_f1": ev["macro_f1"]}))
EOF
}
theirs() {
  /usr/bin/python3 tools/hf-check/finetune_reference.py --model "$MINILM" --train $DATA/train.csv --test $DATA/test.csv \
    --epochs "$EPOCHS" --seed "$1" --threads 2 >> "$RES"
}

i=0
for seed in $SEEDS; do
  if (( i % 2 == 0 )); then ours "$seed"; theirs "$seed"; else theirs "$seed"; ours "$seed"; fi
  i=$((i+1)); echo "seed $seed done" >&2; tail -n 2 "$RES" >&2
done

/usr/bin/python3 - "$RES" "$START" "$COMMIT" "$LOAD0" "$(cut -d' ' -f1-3 /proc/loadavg)" "$EPOCHS" "$SET" "$SEEDS" > bench/results/finetune-vs-pytorch.md <<'EOF'
import json, statistics as st, sys, platform
res, start, commit, load0, load1, epochs, dataset, seeds = sys.argv[1:]
rows = [json.loads(l) for l in open(res)]
def col(impl, k): return [r[k] for r in rows if r["impl"] == impl]
def ms(xs): return f"{st.mean(xs):.3f} ± {st.stdev(xs) / len(xs) ** 0.5:.3f}" if len(xs) > 1 else f"{xs[0]:.3f}"
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
flags = open("/proc/cpuinfo").read()
isa = "AVX-512" if " avx512f " in flags else "AVX2"
print("# MiniLM fine-tuning: GptBert vs a plain PyTorch + transformers loop, same hyper-parameters\n")
print(f"- Command: `bash bench/finetune-vs-pytorch.sh \"{seeds}\" {epochs} {dataset}`")
print(f"- Date: {start} UTC; commit {commit}")
print(f"- Machine: {cpu}, {isa}, 2 cores; load average {load0} at the start, {load1} at the end")
print(f"- Data: data/classification/{dataset} (train → fine-tune, test → accuracy / macro-F1); {epochs} epoch(s), batch 16, lr 5e-5, max length 128,")
print("  AdamW (weight decay 0.01 on matrices), 5% linear warm-up then linear decay, clip 1.0, 2 threads each")
print("- Reference: `tools/hf-check/finetune_reference.py` (PyTorch " + next(r['torch'] for r in rows if r['impl'] == 'pytorch') +
      " on OpenBLAS (Debian libopenblas0-pthread), transformers 4.40, `BertForSequenceClassification`, slow `BertTokenizer`); ours: `gptbert finetune --model minilm` then `gptbert evaluate`")
print("- Runs interleaved seed by seed (ours first on odd rounds, theirs first on even ones); tokens/s counts real (unpadded) tokens of the training loop only\n")
print("| seed | GptBert accuracy | PyTorch accuracy | GptBert macro-F1 | PyTorch macro-F1 | GptBert tokens/s | PyTorch tokens/s | speed ratio |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|")
for s in sorted({r["seed"] for r in rows}):
    o = next(r for r in rows if r["impl"] == "gptbert" and r["seed"] == s); p = next(r for r in rows if r["impl"] == "pytorch" and r["seed"] == s)
    print(f"| {s} | {o['test_accuracy']:.3f} | {p['test_accuracy']:.3f} | {o['test_macro_f1']:.3f} | {p['test_macro_f1']:.3f} | {o['tokens_per_second']:.0f} | {p['tokens_per_second']:.0f} | {o['tokens_per_second'] / p['tokens_per_second']:.2f}x |")
oa, pa = col("gptbert", "test_accuracy"), col("pytorch", "test_accuracy")
of, pf = col("gptbert", "test_macro_f1"), col("pytorch", "test_macro_f1")
ratio = [o / p for o, p in zip(col("gptbert", "tokens_per_second"), col("pytorch", "tokens_per_second"))]
print(f"| mean ± s.e. | {ms(oa)} | {ms(pa)} | {ms(of)} | {ms(pf)} | | | {st.mean(ratio):.2f}x |\n")
if len(oa) > 1:
    d = st.mean(oa) - st.mean(pa)
    se = (st.variance(oa) / len(oa) + st.variance(pa) / len(pa)) ** 0.5
    verdict = "within seed noise" if abs(d) <= 2 * se else ("ours better" if d > 0 else "ours WORSE")
    print(f"Accuracy difference (ours − PyTorch): {d:+.3f}, twice its standard error {2 * se:.3f}: **{verdict}**.")
EOF
cat bench/results/finetune-vs-pytorch.md
