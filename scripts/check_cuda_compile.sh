#!/usr/bin/env bash
# Compiles every .cu file of csrc/ with nvcc against torch's headers (object files only), so that
# CUDA code is checked on machines without a GPU. Skips (exit 0) when nvcc or torch's CUDA
# headers are missing. Usage: scripts/check_cuda_compile.sh [python]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-python3}
NVCC=${NVCC:-$(command -v nvcc || true)}
if [ -z "$NVCC" ]; then echo "check_cuda_compile: nvcc not found, skipped"; exit 0; fi
INC=$("$PY" -c "import torch.utils.cpp_extension as c; print(' '.join('-I'+p for p in c.include_paths()))")
PYINC=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['include'])")
TORCH_INC=$("$PY" -c "import torch, os; print(os.path.join(os.path.dirname(torch.__file__), 'include'))")
if [ ! -f "$TORCH_INC/c10/cuda/CUDAStream.h" ]; then echo "check_cuda_compile: torch has no CUDA headers, skipped"; exit 0; fi
# A CPU build of torch ships the c10/cuda headers but not their generated config header (it
# only matters on Windows); tell CUDAMacros.h to do without it.
EXTRA=()
if [ ! -f "$TORCH_INC/c10/cuda/impl/cuda_cmake_macros.h" ]; then EXTRA+=(-DC10_CUDA_NO_CMAKE_CONFIGURE_FILE); fi
OUTDIR=$(mktemp -d)
trap 'rm -rf "$OUTDIR"' EXIT
status=0
pids=()
for f in $(find csrc -name '*.cu' | sort); do
  (
    "$NVCC" -c "$f" -o "$OUTDIR/$(basename "$f").o" -std=c++17 -O1 --expt-relaxed-constexpr \
      -DWITH_CUDA -DTORCH_EXTENSION_NAME=_C "${EXTRA[@]}" -D_GLIBCXX_USE_CXX11_ABI=1 \
      -gencode arch=compute_90,code=sm_90 -Icsrc $INC -I"$PYINC" -Xcompiler -fPIC \
      2> "$OUTDIR/$(basename "$f").log" \
      && echo "check_cuda_compile: $f OK" \
      || { echo "check_cuda_compile: $f FAILED"; cat "$OUTDIR/$(basename "$f").log"; exit 1; }
  ) &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
exit $status
