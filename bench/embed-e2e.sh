#!/usr/bin/env bash
# End-to-end embedding throughput (issue #11): the whole `gptbert embed` command on N texts of ~128 tokens, the default
# TorchSharp backend against ONNX Runtime (`--backend onnx`: the shipped model.onnx, the same tokenizer, pooling and
# output code), 2 threads each, interleaved rounds, medians. The 1-text runs give each backend's start-up (process,
# model load); the marginal rate is the remaining texts over the remaining time. Writes bench/results/embed-e2e.md.
#
#   bash bench/embed-e2e.sh [ROUNDS] [TEXTS]     (defaults: 3, 192)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}; N=${2:-192}
OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT
START=$(date -u '+%Y-%m-%d %H:%M'); COMMIT=$(git rev-parse --short HEAD); LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
# Consecutive 85-word passages of Moby-Dick (public domain, data/moby-dick): ~128 WordPiece tokens each.
/usr/bin/python3 - "$N" "$OUT" <<'PY'
import sys, json
words = open("data/moby-dick/moby-dick.txt", encoding="utf-8").read().split()[20000:]
texts = [" ".join(words[i * 85:(i + 1) * 85]) for i in range(int(sys.argv[1]))]
open(f"{sys.argv[2]}/texts.txt", "w", encoding="utf-8").write("".join(t + "\n" for t in texts))
open(f"{sys.argv[2]}/texts.jsonl", "w", encoding="utf-8").write("".join(json.dumps({"text": t}) + "\n" for t in texts))
PY
head -n1 "$OUT/texts.txt" > "$OUT/one.txt"
TOKENS=$(./gptbert tokenize --model minilm --max-length 128 --input "$OUT/texts.jsonl" --jsonl 2>/dev/null \
  | /usr/bin/python3 -c "import json,sys; n=[len(json.loads(l)['ids']) for l in sys.stdin]; print('%.1f' % (sum(n)/len(n)))")
./gptbert embed "warm-up" > /dev/null; ./gptbert embed --backend onnx "warm-up" > /dev/null # first-run caches (model import)
ROWS=$OUT/rows.tsv
for r in $(seq 1 "$ROUNDS"); do
  for b in torch onnx; do
    for f in texts one; do
      t0=$(date +%s.%N)
      ./gptbert embed --backend $b --threads 2 --max-length 128 --input "$OUT/$f.txt" > "$OUT/$b-$f.out" 2> "$OUT/$b-$f.err"
      t1=$(date +%s.%N)
      echo -e "$r\t$b\t$f\t$(echo "$t1 - $t0" | bc -l)" >> "$ROWS"
      echo "round $r $b $f: $(tail -n1 "$ROWS" | cut -f4) s" >&2
    done
  done
done
/usr/bin/python3 - "$ROWS" "$OUT" "$N" "$START" "$COMMIT" "$LOAD0" "$(cut -d' ' -f1-3 /proc/loadavg)" "$ROUNDS" "$TOKENS" > bench/results/embed-e2e.md <<'PY'
import sys, statistics as st
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
out, n, start, commit, load0, load1, rounds, tokens = sys.argv[2], int(sys.argv[3]), *sys.argv[4:]
t = {}
for r, b, f, s in rows: t.setdefault((b, f), []).append(float(s))
med = {k: st.median(v) for k, v in t.items()}
def vecs(p): return [list(map(float, l.split())) for l in open(p)]
a, o = vecs(f"{out}/torch-texts.out"), vecs(f"{out}/onnx-texts.out")
cos = min(sum(x * y for x, y in zip(u, v)) for u, v in zip(a, o))
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
fam = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("cpu family")), "?")
flags = open("/proc/cpuinfo").read()
isa = "AVX-512" + (" + VNNI" if "avx512_vnni" in flags else "") if " avx512f " in flags else "AVX2"
print("# End to end: `gptbert embed`, TorchSharp vs ONNX Runtime backend\n")
print(f"- Command: `bash bench/embed-e2e.sh {rounds} {n}` (commit {commit})")
print(f"- Date: {start} UTC")
print(f"- Machine: {cpu} (family {fam}), {isa}, 2 cores; load average before {load0}, after {load1}")
print(f"- What is timed: the whole command `gptbert embed --backend B --threads 2 --max-length 128 --input FILE` on {n} consecutive 85-word")
print(f"  Moby-Dick passages ({tokens} tokens each on average, [CLS]/[SEP] included) and on 1 of them; {rounds} interleaved rounds, medians.")
print("  Both backends share the tokenizer, batching (32 texts), pooling and output code; `--backend onnx --model minilm` runs the shipped model.onnx.")
print("  Both run in the same `./gptbert` binary: a ReadyToRun publish, dynamic PGO off (see the `gptbert` script and GptBert.Cli.csproj).\n")
print(f"| backend | {n} texts s (min–max) | 1 text s, start-up (min–max) | marginal texts/s |")
print("|---|---:|---:|---:|")
rate = {}
spread = lambda k: f"{min(t[k]):.2f}–{max(t[k]):.2f}"
for b, name in (("torch", "TorchSharp (default)"), ("onnx", "ONNX Runtime")):
    rate[b] = (n - 1) / (med[(b, "texts")] - med[(b, "one")])
    print(f"| {name} | {med[(b, 'texts')]:.2f} ({spread((b, 'texts'))}) | {med[(b, 'one')]:.2f} ({spread((b, 'one'))}) | {rate[b]:.1f} |")
# The ratio of each round's pair (run back to back) as well as of the medians: a busy host moves both of a pair together.
pairs = sorted(tt / oo for tt, oo in zip(t[("torch", "texts")], t[("onnx", "texts")]))
print(f"\nWhole command, TorchSharp time / ONNX Runtime time: **{med[('torch', 'texts')] / med[('onnx', 'texts')]:.2f}x** of the medians "
      f"(per round {', '.join(f'{x:.2f}' for x in pairs)}); marginal (start-up excluded): "
      f"**{rate['onnx'] / rate['torch']:.2f}x** (goal of issue #11: ≤ 1.1x). Lowest cosine between the two backends' embeddings of the same text: {cos:.6f}.")
print("\nPer-round times (s): " + "; ".join(f"{b} {f}: " + ", ".join(f"{x:.2f}" for x in v) for (b, f), v in t.items()))
PY
cat bench/results/embed-e2e.md
