#!/usr/bin/env bash
# Compiles every .cu file of csrc/ with nvcc against torch's headers (object files only), so that
# CUDA code is checked on machines without a GPU. The nvcc flags follow setup.py
# (--expt-relaxed-constexpr) plus those torch's BuildExtension adds, the C++ standard included. Skips (exit 0) when nvcc or
# torch's c10/cuda headers are missing; exits 1 if a file fails to compile. Compiler warnings
# are printed after the file's OK line.
# Usage: scripts/check_cuda_compile.sh [python]   (NVCC=/path/to/nvcc to pick a compiler)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-python3}
NVCC=${NVCC:-$(command -v nvcc || true)}
if [ -z "$NVCC" ] || ! command -v "$NVCC" > /dev/null 2>&1; then
  echo "check_cuda_compile: nvcc not found (set NVCC or put nvcc on PATH), skipped"
  exit 0
fi
INC=$("$PY" -c "import torch.utils.cpp_extension as c; print(' '.join('-I'+p for p in c.include_paths()))")
PYINC=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['include'])")
TORCH_INC=$("$PY" -c "import torch, os; print(os.path.join(os.path.dirname(torch.__file__), 'include'))")
ABI=$("$PY" -c "import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))")
if [ ! -f "$TORCH_INC/c10/cuda/CUDAStream.h" ]; then
  echo "check_cuda_compile: torch has no c10/cuda headers, skipped"
  exit 0
fi
STD=$("$PY" -c "import inspect, torch.utils.cpp_extension as c; print('c++20' if 'std=c++20' in inspect.getsource(c) else 'c++17')")
FLAGS=(-std=$STD -O1 --expt-relaxed-constexpr -DWITH_CUDA -DTORCH_EXTENSION_NAME=_C
       -DTORCH_API_INCLUDE_EXTENSION_H -D_GLIBCXX_USE_CXX11_ABI="$ABI"
       -D__CUDA_NO_HALF_OPERATORS__ -D__CUDA_NO_HALF_CONVERSIONS__
       -D__CUDA_NO_BFLOAT16_CONVERSIONS__ -D__CUDA_NO_HALF2_OPERATORS__
       -gencode arch=compute_90,code=sm_90 -Xcompiler -fPIC -Icsrc)
# A CPU build of torch ships the c10/cuda headers but not their generated config header (it
# only matters on Windows); tell CUDAMacros.h to do without it.
if [ ! -f "$TORCH_INC/c10/cuda/impl/cuda_cmake_macros.h" ]; then
  FLAGS+=(-DC10_CUDA_NO_CMAKE_CONFIGURE_FILE)
fi
echo "check_cuda_compile: $("$NVCC" --version | tail -1), torch $("$PY" -c 'import torch; print(torch.__version__)')"
OUTDIR=$(mktemp -d)
trap 'rm -rf "$OUTDIR"' EXIT
status=0
pids=()
for f in $(find csrc -name '*.cu' | sort); do
  (
    log="$OUTDIR/$(basename "$f").log"
    # shellcheck disable=SC2086  # $INC is a list of -I flags
    if "$NVCC" -c "$f" -o "$OUTDIR/$(basename "$f").o" "${FLAGS[@]}" $INC -I"$PYINC" 2> "$log"; then
      echo "check_cuda_compile: $f OK"
      if [ -s "$log" ]; then echo "check_cuda_compile: $f warnings:"; cat "$log"; fi
    else
      echo "check_cuda_compile: $f FAILED"
      cat "$log"
      exit 1
    fi
  ) &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
exit $status
