#!/usr/bin/env bash
# Continues training the shipped demo model (assets/momask-demo.safetensors, made by
# scripts/train-demo.sh) on this machine's CPU, then rebuilds the bundle and evaluates it.
#
# The run folders of the first training are not kept in the repo, so every stage starts from
# the bundle's weights (`--init`, a fresh AdamW state) instead of resuming:
#   - vq: decoder only (`--decoder-only`): encoder and codebooks stay frozen, so the token ids
#     the transformers learned to predict do not change;
#   - mask / res: tokenised with the bundle's (unchanged) VQ, with noise of COND_NOISE (default
#     5 %) of the norm on the sentence features (`--cond-noise`): the transformers learn not to
#     react to feature changes the size of MiniLM's int8 rounding, so the q8 bundle can keep
#     MiniLM in int8;
#   - then mask again, in rounds with strong feature noise (SMOOTH_NOISE, below), and res once;
#   - len: retrained from the bundle's weights (one minute);
#   - evaluator: trained from scratch (it is not part of the bundle).
# Two jobs run side by side with one thread each (faster on 2 cores than two 2-thread jobs).
# Measured times per stage: docs/training/README.md. Every stage resumes if interrupted.
#
# Environment: INIT (default: the shipped bundle), OUT (default: out/demo-ft),
# ITERS_VQ/ITERS_MASK/ITERS_RES/ITERS_LEN/ITERS_EVAL, COND_NOISE, ITERS_SMOOTH, SMOOTH_NOISE
# (the noise of each final mask round, default "0.5 1.0 1.0"), ITERS_SMOOTH_RES, SMOOTH_RES_NOISE,
# MOMASK_MINILM_DIR, COND_SCALE
# (the guidance the bundle recommends, default 2, which `momask eval --cond-scale` found best).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
setup_minilm
OUT="${OUT:-out/demo-ft}"
DATA="$OUT/corpus"
RUNS="$OUT/runs"
mkdir -p "$RUNS"
# The starting point is copied so that writing the new bundle over assets/ cannot change it.
[ -f "$OUT/init.safetensors" ] || cp "${INIT:-assets/momask-demo.safetensors}" "$OUT/init.safetensors"
INIT="$OUT/init.safetensors"
cargo build --release --bin momask
M=target/release/momask
export RAYON_NUM_THREADS=1

[ -f "$DATA/all.txt" ] || "$M" synth --out "$DATA" --count 10000 --seed 1

# Lane 1: len (embeds every caption once; the cache is shared by every later stage), then mask.
(
  "$M" train len --data "$DATA" --out "$RUNS/len" --init "$INIT" --iters "${ITERS_LEN:-3000}" \
    --batch 64 --lr 1e-3 --warmup 100 --val-every 500 --checkpoint-every 500
  "$M" train mask --data "$DATA" --out "$RUNS/mask" --init "$INIT" --vq "$INIT" \
    --iters "${ITERS_MASK:-6500}" --batch 64 --lr 3e-4 --warmup 100 --milestones 0.8 --gamma 0.2 \
    --cond-noise "${COND_NOISE:-0.05}" \
    --val-every 250 --checkpoint-every 250
) &
lane1=$!
# Lane 2: the VQ decoder, the evaluator (once len has checkpointed: the caption cache is
# complete by then), then res.
(
  "$M" train vq --decoder-only --data "$DATA" --out "$RUNS/vq" --init "$INIT" \
    --iters "${ITERS_VQ:-1500}" --batch 64 --lr 2e-4 --warmup 50 --milestones 0.7 --gamma 0.2 \
    --val-every 100 --checkpoint-every 100
  while [ ! -f "$RUNS/len/state.json" ]; do sleep 10; done
  "$M" train evaluator --data "$DATA" --out "$RUNS/evaluator" --iters "${ITERS_EVAL:-800}" \
    --batch 64 --warmup 50 --val-every 200 --checkpoint-every 200
  "$M" train res --data "$DATA" --out "$RUNS/res" --init "$INIT" --vq "$INIT" \
    --iters "${ITERS_RES:-5750}" --batch 64 --lr 3e-4 --warmup 100 --milestones 0.8 --gamma 0.2 \
    --cond-noise "${COND_NOISE:-0.05}" \
    --val-every 250 --checkpoint-every 250
) &
lane2=$!
wait "$lane1"
wait "$lane2"
unset RAYON_NUM_THREADS

# Then the mask transformer alone, in rounds of ITERS_SMOOTH steps at 1e-4, each from the q8
# bundle of the round before, with strong noise on the sentence features (SMOOTH_NOISE, one
# value a round): the transformer then answers a caption by the neighbourhood of its feature
# rather than by the exact training wordings, which is what held-out paraphrases need.
note="scripts/train-demo.sh, then scripts/finetune-demo.sh (procedural corpus, 10 000 motions, seed 1)"
mask_dir="$RUNS/mask"
round=0
for noise in ${SMOOTH_NOISE:-0.5 1.0 1.0}; do
  round=$((round + 1))
  "$M" bundle --vq "$RUNS/vq" --mask "$mask_dir" --res "$RUNS/res" --len "$RUNS/len" \
    --quantize q8 --out "$OUT/round$round.safetensors"
  mask_dir="$RUNS/mask-smooth$round"
  "$M" train mask --data "$DATA" --out "$mask_dir" \
    --init "$OUT/round$round.safetensors" --vq "$OUT/round$round.safetensors" \
    --iters "${ITERS_SMOOTH:-3000}" --batch 64 --lr 1e-4 --warmup 100 --milestones 0.8 --gamma 0.2 \
    --cond-noise "$noise" --val-every 500 --checkpoint-every 500
done

# The residual transformer, one round the same way (SMOOTH_RES_NOISE, ITERS_SMOOTH_RES).
"$M" train res --data "$DATA" --out "$RUNS/res-smooth" \
  --init "$OUT/round1.safetensors" --vq "$OUT/round1.safetensors" \
  --iters "${ITERS_SMOOTH_RES:-2000}" --batch 64 --lr 1e-4 --warmup 100 --milestones 0.8 --gamma 0.2 \
  --cond-noise "${SMOOTH_RES_NOISE:-1.0}" --val-every 500 --checkpoint-every 500

"$M" bundle --vq "$RUNS/vq" --mask "$mask_dir" --res "$RUNS/res-smooth" --len "$RUNS/len" \
  --quantize q8 --cond-scale "${COND_SCALE:-2}" --note "$note" \
  --out "$OUT/momask-demo.safetensors"
"$M" eval --data "$DATA" --bundle "$OUT/momask-demo.safetensors" --evaluator "$RUNS/evaluator" \
  --replications 3 --json "$OUT/eval.json" | tee "$OUT/eval.md"
echo "new bundle: $OUT/momask-demo.safetensors (copy it to assets/ to ship it)"
