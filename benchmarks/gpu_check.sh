#!/usr/bin/env bash
# GPU check of the decode engine (issue 29), one prepared run under 8 minutes:
#   1. installs omniar and its extras from the wheels it carries (no network on the accelerator);
#   2. stops with one line if CUDA is missing;
#   3. runs the CUDA checks (benchmarks/cuda_checks.py: compiled + CUDA graphs == eager, no graph
#      breaks, jacobi/zipar, the bf16 compiled pipeline) and a device-agnostic test subset;
#   4. runs benchmarks/decode_speed.py --device cuda (bf16, eager and compiled = CUDA graphs,
#      batch 1 and 8, emoji-t2i + GPT-B + HF generate + VAR-d16 + the batch-16 orders).
# Everything is written under $OUT (default ./gpu_out): logs, pytest output, decode_speed_cuda.{md,json}.
#
# Preparation, once, on a machine with network and the accelerator image's Python version:
#   python benchmarks/gpu_wheels.py [--python-version 3.X]   # pip download -d wheels --no-deps ... + pip wheel omniar
# then on the device (the device tool: carry ["wheels"]):
#   bash benchmarks/gpu_check.sh            # WHEELS=wheels OUT=./gpu_out PYTHON=python3 by default
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-./gpu_out}
WHEELS=${WHEELS:-wheels}
PYTHON=${PYTHON:-python3}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_check.log") 2>&1
start=$(date +%s)
step() { echo "== $(( $(date +%s) - start ))s: $*"; }

if ! "$PYTHON" -c "import torch" 2>/dev/null; then
  echo "gpu_check: FAILED: torch is not installed in $PYTHON (the accelerator image must bring its CUDA torch)"; exit 2
fi
if ! "$PYTHON" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "gpu_check: FAILED: CUDA is missing (torch $("$PYTHON" -c 'import torch; print(torch.__version__)'), torch.cuda.is_available() is False)"; exit 2
fi

step "install from $WHEELS"
if [ -d "$WHEELS" ]; then
  "$PYTHON" -m pip install -q --no-index --find-links "$WHEELS" --no-deps -r "$WHEELS/requirements.txt" \
    && "$PYTHON" -m pip install -q --no-index --no-deps --force-reinstall "$WHEELS"/omniar-*.whl \
    || { echo "gpu_check: FAILED: pip install from $WHEELS (see above)"; exit 3; }
elif ! "$PYTHON" -c "import omniar, transformers, pytest" 2>/dev/null; then
  echo "gpu_check: FAILED: no $WHEELS/ folder and omniar/transformers/pytest are not importable (run benchmarks/gpu_wheels.py first)"; exit 3
fi
# Run against this checkout (its benchmarks/ and tests/), the installed wheel only supplies deps.
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
"$PYTHON" - <<'PY' | tee "$OUT/environment.txt"
import torch, omniar
print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0),
      "bf16", torch.cuda.is_bf16_supported(), "omniar", omniar.__file__)
PY

status=0
step "CUDA checks"
timeout 180 "$PYTHON" -m pytest -q -p no:cacheprovider benchmarks/cuda_checks.py \
  --junitxml "$OUT/cuda_checks.xml" > "$OUT/cuda_checks.txt" 2>&1 || status=1
tail -3 "$OUT/cuda_checks.txt"
step "device-agnostic subset"
timeout 150 "$PYTHON" -m pytest -q -p no:cacheprovider tests/test_decode_engine.py tests/test_bf16.py \
  tests/test_transformer.py > "$OUT/tests.txt" 2>&1 || status=1
tail -3 "$OUT/tests.txt"

step "decode_speed --device cuda"
timeout 240 "$PYTHON" benchmarks/decode_speed.py --device cuda --dtypes bfloat16 --batch-sizes 1 8 \
  --compile bfloat16 --repeats 3 --models bandwidth emoji gptb hf var orders \
  --output "$OUT/decode_speed_cuda" > "$OUT/decode_speed.log" 2>&1 || status=1
tail -40 "$OUT/decode_speed.log"
step "done (status $status)"
exit $status
