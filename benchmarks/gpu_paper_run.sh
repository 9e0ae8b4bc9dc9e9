#!/usr/bin/env bash
# InfoVAE's headline results at their `paper` profiles on one GPU, in one command: Table 1
# (infovae-likelihood) and Fig. 6 (infovae-comparison). Every stage of both (one per model
# trained) runs as its own process into its experiment's folder, all side by side under CUDA
# MPS; a last call per experiment assembles its stages, checks the claims and draws the
# figures; the verdicts are printed. Everything lands under $OUT.
#
#   bash benchmarks/gpu_paper_run.sh                     # on the GPU machine
#   DEVICE=cpu PROFILE=quick OUT=/tmp/dry \
#       ARGS_infovae_likelihood="--set steps=3 ..." \
#       ARGS_infovae_comparison="--set steps=3 ..." \
#       bash benchmarks/gpu_paper_run.sh                 # a dry run at toy size (tested)
#
# ARGS_<experiment, - as _> go to that experiment's `pyrovae reproduce` calls (--set
# overrides); extra arguments of the script go to every call. A stage that finished is not
# rerun: run the script again after an interruption and it goes on.
set -euo pipefail
OUT=${OUT:-runs/gpu-paper}
PROFILE=${PROFILE:-paper}
DEVICE=${DEVICE:-cuda}
DATA=${DATA:-../shared/data}
PYTHON=${PYTHON:-python}
EXPERIMENTS=${EXPERIMENTS:-"infovae-likelihood infovae-comparison"}

# sets the array `args`: the arguments of every `pyrovae reproduce` call of experiment $1
set_args() {
  local own="ARGS_${1//-/_}"
  args=(reproduce "$1" --profile "$PROFILE" --device "$DEVICE" --data "$DATA" --threads 1
        --no-progress --out "$OUT/$1")
  # shellcheck disable=SC2206  # the per-experiment arguments are split on spaces on purpose
  args+=(${!own:-})
}
mkdir -p "$OUT/logs"

if [ "$DEVICE" = cuda ]; then
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
  if command -v nvidia-cuda-mps-control >/dev/null 2>&1; then
    nvidia-cuda-mps-control -d 2>/dev/null && trap 'echo quit | nvidia-cuda-mps-control' EXIT \
      || echo "CUDA MPS not started (already running, or not allowed): processes time-slice"
  fi
fi

start=$(date +%s)
pids=()
for experiment in $EXPERIMENTS; do
  set_args "$experiment"
  stages=$("$PYTHON" -m pyrovae "${args[@]}" --list "$@" | sed -n 's/^stages: //p')
  echo "$experiment stages: $stages"
  mkdir -p "$OUT/logs/$experiment"
  for stage in $stages; do
    "$PYTHON" -m pyrovae "${args[@]}" "$@" --stage "$stage" \
      > "$OUT/logs/$experiment/$stage.log" 2>&1 &
    pids+=($!)
  done
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
echo "stages finished in $(( $(date +%s) - start )) s (logs: $OUT/logs)"
if [ "$failed" != 0 ]; then
  echo "a stage failed; its log says why; finished stages are kept, rerun to go on" >&2
  tail -n 5 "$OUT"/logs/*/*.log >&2
  exit 1
fi
for experiment in $EXPERIMENTS; do
  set_args "$experiment"
  "$PYTHON" -m pyrovae "${args[@]}" "$@" > "$OUT/logs/$experiment/assemble.log" 2>&1
done
"$PYTHON" -m pyrovae reproduce --report "$OUT" | tee "$OUT/verdicts.md"
for experiment in $EXPERIMENTS; do
  "$PYTHON" - "$OUT/$experiment/results.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(r["experiment"])
for claim, holds in r["checks"].items():
    print(f"  {'holds' if holds else 'fails'}: {claim}")
PY
done
