#!/usr/bin/env bash
# Distils MiniLM fine-tuned on sotu-era into a 2-layer student and compares them on the test split: macro-F1 (gptbert
# evaluate) and batch-1 latency (median over 50 validation passages, measured by gptbert distill in one process).
# Goal of issue #13: the student keeps >= 97% of the teacher's test macro-F1 at >= 3x its batch-1 speed.
# Writes bench/results/distill.md.
#   Usage: bash bench/distill.sh [TEACHER_DIR] [EPOCHS]
#   TEACHER_DIR: a classifier already fine-tuned on sotu-era (skips the ~15 min teacher fine-tune); EPOCHS: student epochs (default 3).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
teacher="${1:-}"; epochs="${2:-3}"
dir="$root/data/classification/sotu-era"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
out="$root/bench/results/distill.md"
start=$(date -u +"%Y-%m-%d %H:%M")
if [ -z "$teacher" ]; then
  teacher="$work/teacher"
  echo "fine-tuning the teacher (MiniLM, 1 epoch) ..." >&2
  "$root/gptbert" finetune --model minilm --train "$dir/train.csv" --validation "$dir/validation.csv" --output "$teacher" \
    --epochs 1 --batch-size 16 --lr 5e-5 --max-length 128 --seed 1 >/dev/null 2>"$work/teacher.log"
  teacher_cmd="gptbert finetune --model minilm --train sotu-era/train.csv --validation sotu-era/validation.csv --epochs 1 --batch-size 16 --lr 5e-5 --max-length 128 --seed 1"
else
  teacher_cmd="(given teacher directory $teacher)"
fi
echo "distilling into 2 layers ($epochs epochs) ..." >&2
distill_cmd="gptbert distill --teacher TEACHER --train sotu-era/train.csv --validation sotu-era/validation.csv --layers 2 --epochs $epochs --batch-size 16 --lr 1e-4 --max-length 128 --seed 1"
json=$("$root/gptbert" distill --teacher "$teacher" --train "$dir/train.csv" --validation "$dir/validation.csv" --output "$work/student" \
  --layers 2 --epochs "$epochs" --batch-size 16 --lr 1e-4 --max-length 128 --seed 1 --json 2>"$work/student.log")
num() { echo "$1" | grep -oE "\"$2\":[0-9.eE+-]+" | head -1 | cut -d: -f2; }
tp=$(num "$json" teacher_parameters); sp=$(num "$json" student_parameters)
tl=$(num "$json" teacher_latency_ms); sl=$(num "$json" student_latency_ms)
tf1=$(num "$("$root/gptbert" evaluate --model "$teacher" --data "$dir/test.csv" --json)" macro_f1)
sf1=$(num "$("$root/gptbert" evaluate --model "$work/student" --data "$dir/test.csv" --json)" macro_f1)
ratio() { python3 -c "print(f'{$1/$2:.3f}')"; }
round() { python3 -c "print(f'{$1:.$2f}')"; }
f1ratio=$(ratio "$sf1" "$tf1"); speed=$(ratio "$tl" "$sl")
tf1=$(round "$tf1" 3); sf1=$(round "$sf1" 3); tl=$(round "$tl" 1); sl=$(round "$sl" 1)
cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | xargs)
cat > "$out" <<MD
# Distillation: MiniLM fine-tuned on sotu-era → 2-layer student

- Command: \`bash bench/distill.sh${1:+ TEACHER_DIR} $epochs\`
- Date: $start – $(date -u +"%H:%M") UTC; commit $(git -C "$root" rev-parse --short HEAD)
- Machine: $cpu (family $(grep -m1 "cpu family" /proc/cpuinfo | cut -d: -f2 | xargs), model $(grep -m1 "^model\s" /proc/cpuinfo | cut -d: -f2 | xargs)), $(grep -qw avx512f /proc/cpuinfo && echo AVX-512 || echo AVX2 only), $(nproc) cores; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)
- Teacher: \`$teacher_cmd\`
- Student: \`$distill_cmd\` (fresh BERT of MiniLM's width, layers 0 and 3 of the teacher; T 2, alpha 0.5)
- Test: \`gptbert evaluate --data sotu-era/test.csv\` (300 passages); latency: median batch-1 forward of 50 validation passages, both models in the same process

| model | parameters | test macro-F1 | batch-1 latency |
|---|---:|---:|---:|
| teacher (MiniLM, 6 layers) | $tp | $tf1 | $tl ms |
| student (2 layers) | $sp | $sf1 | $sl ms |

Student / teacher: **$f1ratio** of the macro-F1 at **${speed}x** the batch-1 speed (goal: >= 0.97 at >= 3x).
MD
cat "$out"
