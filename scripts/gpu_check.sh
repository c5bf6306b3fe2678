#!/usr/bin/env bash
# GPU check for the GPU test machine (../shared/GPU.md: Python 3.12, torch 2.11 cu130, nvcc, no
# network). From a clean copy of the tree, in one command:
#   1. builds gshell._C with CUDA (TORCH_CUDA_ARCH_LIST=9.0, MAX_JOBS=16),
#   2. checks that the build has CUDA and that a GPU is visible,
#   3. runs the `gpu` tests (python3 -m pytest -q -m gpu tests),
#   4. runs scripts/bench_tets.py on cuda and on cpu, scripts/bench_mc.py, bench_encoding.py and bench_render.py on cuda,
# then prints one summary table (step, status, seconds) followed by the benchmark tables.
# Logs go to $OUT/gpu_check/ when OUT is set, else build/gpu_check/. Any failing step fails the
# script (exit 1) after the summary; the whole run is capped below 8 minutes.
#
# Wheels the machine lacks (e.g. hypothesis, which the test modules import) can travel with the
# tree in .whl/ (`make gpu-wheels` on a CPU machine); they are installed to a temporary folder.
#
# Usage: bash scripts/gpu_check.sh
#   env: PYTHON (python3), GPU_CHECK_BUDGET_S (470), BENCH_CUDA_ARGS (''), BENCH_CPU_ARGS ('--repeats 1 --fields smooth')
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3}
export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0} MAX_JOBS=${MAX_JOBS:-16}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PYTHONUNBUFFERED=1
LOGDIR=${OUT:+$OUT/gpu_check}
LOGDIR=${LOGDIR:-$ROOT/build/gpu_check}
mkdir -p "$LOGDIR"
BUDGET=${GPU_CHECK_BUDGET_S:-470}
T0=$(date +%s)
SUMMARY=()
FAILED=0

say() { echo "gpu_check: $*"; }
remaining() { echo $(( BUDGET - ($(date +%s) - T0) )); }

# step NAME CAP_S LOGFILE CMD...: runs CMD with a timeout of min(CAP_S, time left), logs its
# output, records status and seconds, prints the log tail on failure. With OPTIONAL=1 a step
# that has no time left is reported as skipped instead of failing the check.
step() {
  local name=$1 cap=$2 log=$3; shift 3
  local left; left=$(remaining)
  local lim=$(( cap < left ? cap : left ))
  if [ "$lim" -le 20 ]; then
    if [ "${OPTIONAL:-0}" = 1 ]; then
      say "$name: skipped, less than 20 s of the ${BUDGET}s budget left"
      SUMMARY+=("$(printf '| %-22s | %-9s | %6s |' "$name" "skipped" "-")"); return 0
    fi
    say "$name: FAILED, time budget (${BUDGET}s) spent"
    SUMMARY+=("$(printf '| %-22s | %-9s | %6s |' "$name" "no time" "-")"); FAILED=1; return 1
  fi
  say "$name (limit ${lim}s, log $log)"
  local s; s=$(date +%s)
  timeout --kill-after=10 "$lim" "$@" > "$log" 2>&1
  local rc=$?
  local dt=$(( $(date +%s) - s ))
  local status=ok
  if [ $rc = 124 ] || [ $rc = 137 ]; then status="TIMEOUT"; elif [ $rc != 0 ]; then status="FAIL($rc)"; fi
  SUMMARY+=("$(printf '| %-22s | %-9s | %6d |' "$name" "$status" "$dt")")
  if [ "$status" != ok ]; then
    FAILED=1
    say "$name: $status after ${dt}s; last lines of $log:"
    tail -n 60 "$log" | sed 's/^/    /'
    return 1
  fi
  say "$name: ok (${dt}s)"
}

finish() {
  echo
  echo "================================ gpu_check summary ================================"
  echo "machine: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1)"
  echo "python:  $($PY --version 2>&1); torch: $($PY -c 'import torch; print(torch.__version__)' 2>/dev/null)"
  echo "logs:    $LOGDIR"
  echo
  printf '| %-22s | %-9s | %6s |\n' "step" "status" "s"
  printf '|%s|%s|%s|\n' "------------------------" "-----------" "--------"
  for row in "${SUMMARY[@]}"; do echo "$row"; done
  printf '| %-22s | %-9s | %6d |\n' "total" "$([ $FAILED = 0 ] && echo ok || echo FAILED)" $(( $(date +%s) - T0 ))
  for dev in cuda cpu; do
    if [ -s "$LOGDIR/bench_$dev.log" ]; then
      echo; echo "---- scripts/bench_tets.py --device $dev ----"; cat "$LOGDIR/bench_$dev.log"
    fi
  done
  for b in mc encoding render; do
    if [ -s "$LOGDIR/bench_${b}_cuda.log" ]; then
      echo; echo "---- scripts/bench_$b.py --device cuda ----"; cat "$LOGDIR/bench_${b}_cuda.log"
    fi
  done
  if [ -s "$LOGDIR/pytest_gpu.log" ]; then
    echo; echo "---- pytest -m gpu: $(grep -E ' in [0-9.]+s' "$LOGDIR/pytest_gpu.log" | tail -1)"
  fi
  if [ $FAILED != 0 ]; then echo; echo "gpu_check: FAILED"; exit 1; fi
  echo; echo "gpu_check: all steps passed"
}

say "start $(date -u +%FT%TZ) in $ROOT; TORCH_CUDA_ARCH_LIST=$TORCH_CUDA_ARCH_LIST MAX_JOBS=$MAX_JOBS"
nvidia-smi > "$LOGDIR/nvidia-smi.log" 2>&1 || say "warning: nvidia-smi failed"

# 0. Wheels that travel with the tree (the machine has no network).
if ls .whl/*.whl >/dev/null 2>&1; then
  SITE=$(mktemp -d /tmp/gshell-site.XXXXXX)
  step "install .whl/" 60 "$LOGDIR/wheels.log" \
    $PY -m pip install -q --no-index --no-deps --target "$SITE" .whl/*.whl || true
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi

# 1. Build. A stale in-place extension for another Python must not be picked up.
rm -f gshell/_C.*.so
if step "build (pip -e, CUDA)" 300 "$LOGDIR/build.log" \
    $PY -m pip install -v --no-build-isolation --no-deps -e .; then
  grep -m1 "gshell: building" "$LOGDIR/build.log" | sed "s/^ *//" || true
fi

# 2. The extension has CUDA, and a device is visible.
step "import, with_cuda" 60 "$LOGDIR/info.log" $PY -c "
import torch, gshell
info = gshell.build_info()
print('torch', torch.__version__, 'cuda', torch.version.cuda, 'devices', torch.cuda.device_count())
print('gshell', gshell.__file__, info)
assert info['with_cuda'], 'gshell._C was built without CUDA: %s' % info
assert torch.cuda.is_available(), 'torch sees no CUDA device'
print(torch.cuda.get_device_name(0))
" && cat "$LOGDIR/info.log"

# 3. The gpu tests (exit 5, no tests collected, is a failure). Test modules that import a
# package this machine lacks (hypothesis, unless .whl/ brought it) are left out, loudly.
IGNORE=()
for mod in hypothesis; do
  if ! $PY -c "import $mod" >/dev/null 2>&1; then
    for f in $(grep -lE "^(import|from) $mod" tests/*.py 2>/dev/null); do
      if grep -q "mark.gpu" "$f"; then
        say "WARNING: $f has gpu tests but imports $mod, which is missing (run 'make gpu-wheels' and carry .whl/)"
      fi
      say "note: $mod is missing, leaving out $f"; IGNORE+=("--ignore=$f")
    done
  fi
done
step "pytest -m gpu" 150 "$LOGDIR/pytest_gpu.log" \
  $PY -m pytest -q -rs -p no:cacheprovider -m gpu ${IGNORE[@]+"${IGNORE[@]}"} tests || true
if grep -q "SKIPPED.*needs a CUDA device" "$LOGDIR/pytest_gpu.log" 2>/dev/null; then
  say "pytest -m gpu: gpu tests were SKIPPED for want of CUDA; that is a failure here"
  SUMMARY+=("$(printf '| %-22s | %-9s | %6s |' "gpu tests not skipped" "FAIL" "-")"); FAILED=1
fi
tail -n 3 "$LOGDIR/pytest_gpu.log" 2>/dev/null | sed 's/^/    /'

# 4. Benchmarks.
step "bench cuda" 150 "$LOGDIR/bench_cuda.log" $PY scripts/bench_tets.py --device cuda ${BENCH_CUDA_ARGS:-} || true
step "bench mc cuda" 90 "$LOGDIR/bench_mc_cuda.log" $PY scripts/bench_mc.py --device cuda || true
step "bench encoding cuda" 90 "$LOGDIR/bench_encoding_cuda.log" $PY scripts/bench_encoding.py --device cuda || true
step "bench render cuda" 60 "$LOGDIR/bench_render_cuda.log" $PY scripts/bench_render.py --device cuda || true
# The CPU run is secondary (CPU numbers come from the 2-core machines): smooth fields, one timed
# run per case, and skipped rather than failed when the budget is spent.
OPTIONAL=1 step "bench cpu" 150 "$LOGDIR/bench_cpu.log" \
  $PY scripts/bench_tets.py --device cpu ${BENCH_CPU_ARGS:---repeats 1 --fields smooth} || true

finish
