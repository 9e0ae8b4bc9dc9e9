#!/usr/bin/env bash
# InfoVAE Table 1 (infovae-likelihood) at its `paper` profile on one GPU, in one command:
# every stage (ELBO, InfoVAE-MMD, -Stein, -adversarial, the anchor) runs as its own process
# into one folder, side by side under CUDA MPS; a last call assembles the stages, checks the
# claims and draws the figure; the verdicts are printed. Everything lands under $OUT.
#
#   bash benchmarks/gpu_paper_run.sh                     # on the GPU machine
#   DEVICE=cpu PROFILE=quick OUT=/tmp/dry bash benchmarks/gpu_paper_run.sh \
#       --set steps=3 --set n_test=4 ...                 # a dry run at toy size (tested)
#
# Extra arguments go to every `pyrovae reproduce` call (e.g. --set overrides). A stage that
# finished is not rerun: run the script again after an interruption and it goes on.
set -euo pipefail
OUT=${OUT:-runs/gpu-paper}
PROFILE=${PROFILE:-paper}
DEVICE=${DEVICE:-cuda}
DATA=${DATA:-../shared/data}
PYTHON=${PYTHON:-python}
EXPERIMENT=infovae-likelihood
RUN="$OUT/$EXPERIMENT"
mkdir -p "$OUT/logs"
common=(reproduce "$EXPERIMENT" --profile "$PROFILE" --device "$DEVICE" --data "$DATA"
        --threads 1 --no-progress --out "$RUN" "$@")

if [ "$DEVICE" = cuda ]; then
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
  if command -v nvidia-cuda-mps-control >/dev/null 2>&1; then
    nvidia-cuda-mps-control -d 2>/dev/null && trap 'echo quit | nvidia-cuda-mps-control' EXIT \
      || echo "CUDA MPS not started (already running, or not allowed): processes time-slice"
  fi
fi

stages=$("$PYTHON" -m pyrovae reproduce "$EXPERIMENT" --profile "$PROFILE" --list "$@" \
         | sed -n 's/^stages: //p')
echo "stages: $stages"
start=$(date +%s)
pids=()
for stage in $stages; do
  "$PYTHON" -m pyrovae "${common[@]}" --stage "$stage" > "$OUT/logs/$stage.log" 2>&1 &
  pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
echo "stages finished in $(( $(date +%s) - start )) s (logs: $OUT/logs)"
if [ "$failed" != 0 ]; then
  echo "a stage failed; its log says why; finished stages are kept, rerun to go on" >&2
  tail -n 5 "$OUT"/logs/*.log >&2
  exit 1
fi
"$PYTHON" -m pyrovae "${common[@]}" > "$OUT/logs/assemble.log" 2>&1
"$PYTHON" -m pyrovae reproduce --report "$OUT" | tee "$OUT/verdicts.md"
"$PYTHON" - "$RUN/results.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for claim, holds in r["checks"].items():
    print(f"{'holds' if holds else 'fails'}: {claim}")
PY
