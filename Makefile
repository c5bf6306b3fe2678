# gshell — the README's two commands (`make demo`, `make test`) and helpers.
#
# Every target that runs Python creates or reuses the virtualenv .venv (made with
# --system-site-packages, so a torch the user already has is used; VENV_FLAGS= makes an isolated
# one, as CI does; the pinned CPU build torch==2.13.0 is installed only when `import torch` fails
# in it), installs the Python
# dependencies, and builds the extension gshell._C in place when csrc/, setup.py or
# pyproject.toml changed since the last build (stamp: build/.gshell-ext-stamp).
#
#   make demo       reconstruct the skirt of assets/photo_skirt from its photographs, into out/demo/
#   make test       check that the CUDA sources compile (nvcc), then run the test suite
#   make venv       only the virtualenv and the dependencies
#   make build      only the extension (rebuilt when its sources changed)
#   make bench      scripts/bench_tets.py, bench_mc.py and bench_encoding.py
#   make sanitize   build with AddressSanitizer + UBSan into build/asan, run the CPU kernel tests
#   make gpu-check  scripts/gpu_check.sh (for the GPU test machine, see scripts/gpu_check.sh)
#   make gpu-wheels download the wheels the GPU machine lacks into .whl/ (run on a CPU machine)
#   make clean      remove build outputs (keeps .venv); `make distclean` removes .venv too

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
VENV_FLAGS ?= --system-site-packages
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check --no-input
TORCH_SPEC ?= torch==2.13.0
DEPS ?= numpy pytest hypothesis scipy scikit-image pillow ninja 'setuptools>=64' wheel trimesh charset-normalizer meshio pymeshlab triangle scikit-fem aerosandbox neuralfoil matplotlib xatlas pycolmap muscat pyplaid pycgns pyyaml tqdm ray diffusers
APT_PACKAGES ?= libusb-1.0-0

VENV_STAMP := $(VENV)/.gshell-venv
DEPS_STAMP := $(VENV)/.gshell-deps
BUILD_STAMP := build/.gshell-ext-stamp
EXT_SOURCES := $(shell find csrc -type f 2>/dev/null) setup.py pyproject.toml

# libstdc++ is preloaded after libasan so that ASan's __cxa_throw interceptor finds the real one
# (python does not link libstdc++; without it the first C++ exception aborts the process).
ASAN_PRELOAD = $(shell gcc -print-file-name=libasan.so) $(shell gcc -print-file-name=libstdc++.so.6)
SANITIZE_TESTS ?= $(filter-out %gpu.py %cuda.py,$(wildcard tests/test_marching_tets.py tests/test_gshell_extract.py tests/test_marching_cubes.py tests/test_hash_encoding.py))
ifeq ($(strip $(SANITIZE_TESTS)),)
SANITIZE_TESTS := $(filter-out %gpu.py %cuda.py,$(wildcard tests/test_*.py))
endif

.PHONY: help demo demo-cup test venv system-deps build bench sanitize gpu-check gpu-wheels clean distclean

help:
	@sed -n '3,17p' Makefile | sed 's/^# \{0,1\}//'

# ---------------------------------------------------------------- environment
$(VENV_STAMP):
	@if [ ! -x "$(PY)" ]; then \
	  echo "make: creating virtualenv $(VENV) ($(or $(VENV_FLAGS),isolated: no system site packages))"; \
	  $(PYTHON) -m venv $(VENV_FLAGS) $(VENV) || { \
	    echo "make: could not create $(VENV) with $(PYTHON) (on Debian/Ubuntu: apt-get install python3-venv)" >&2; \
	    rm -rf $(VENV); exit 1; }; \
	fi
	@touch $@

system-deps:
	@if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  missing=""; \
	  for p in $(APT_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	  done; \
	  if [ -n "$$missing" ]; then \
	    echo "make: apt-get install$$missing"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; } \
	      || echo "make: warning: could not install$$missing with apt-get (continuing; open3d features may not work)"; \
	  fi; \
	elif [ -n "$(APT_PACKAGES)" ]; then \
	  echo "make: note: not root or no apt-get; make sure $(APT_PACKAGES) is installed if you use open3d"; \
	fi

$(DEPS_STAMP): $(VENV_STAMP) Makefile
	@if ! $(PY) -c "import torch" >/dev/null 2>&1; then \
	  echo "make: torch not found in $(VENV); installing $(TORCH_SPEC)"; \
	  $(PIP) install -q "$(TORCH_SPEC)"; \
	fi
	@echo make: installing Python dependencies: $(DEPS)
	@$(PIP) install -q $(DEPS)
	@$(PY) -c "import torch; print('make: using torch', torch.__version__, 'from', torch.__file__)"
	@touch $@

venv: $(DEPS_STAMP) system-deps

# ---------------------------------------------------------------- build
# Rebuilds when a source is newer than the stamp, when the torch the stamp recorded changed,
# or when the in-place extension is missing.
$(BUILD_STAMP): $(EXT_SOURCES) | $(DEPS_STAMP)
	@mkdir -p build
	@echo "make: building gshell._C (pip install --no-build-isolation --no-deps -e .); log: build/build.log"
	@$(PIP) install -v --no-build-isolation --no-deps -e . > build/build.log 2>&1 \
	  || { tail -60 build/build.log; echo "make: build failed, see build/build.log" >&2; exit 1; }
	@grep -m1 "gshell: building" build/build.log | sed "s/^ *//" || true
	@$(PY) -c "import gshell, gshell._ext, torch; print('make: built', gshell._ext._C_module.__file__, gshell.build_info()); print(torch.__version__)" > build/.gshell-ext-info
	@head -1 build/.gshell-ext-info && mv build/.gshell-ext-info $@

build: $(DEPS_STAMP)
	@if [ -f $(BUILD_STAMP) ]; then \
	  tv=$$($(PY) -c "import torch; print(torch.__version__)"); \
	  if [ "$$(tail -1 $(BUILD_STAMP))" != "$$tv" ] || ! ls gshell/_C*.so >/dev/null 2>&1; then rm -f $(BUILD_STAMP); fi; \
	fi
	@$(MAKE) --no-print-directory $(BUILD_STAMP)

# ---------------------------------------------------------------- the README's two commands
demo: system-deps build
	$(PY) -m gshell reconstruct --images assets/photo_skirt --gt assets/photo_skirt/mesh_gt.ply --out out/demo --force

# the mesh-supervised demo (mask, depth and normals rendered from the open cup assets/cup.ply)
demo-cup: system-deps build
	$(PY) -m gshell reconstruct assets/cup.ply --views 24 --out out/demo-cup --force

test: system-deps build
	bash scripts/check_cuda_compile.sh $(PY)
	@rc=0; $(PY) -m pytest -q tests || rc=$$?; \
	if [ $$rc = 5 ]; then echo "make: pytest collected no tests; treating that as a failure" >&2; exit 1; fi; \
	exit $$rc

# ---------------------------------------------------------------- helpers
bench: build
	$(PY) scripts/bench_tets.py
	$(PY) scripts/bench_mc.py
	$(PY) scripts/bench_encoding.py
	$(PY) scripts/bench_render.py

# The sanitized build goes to build/asan (package and extension, via `setup.py build`), and the
# tests run from a copy of tests/ beside it, so that neither the in-place extension in gshell/
# nor the editable install can be picked up instead.
sanitize: $(DEPS_STAMP)
	@test -n "$(SANITIZE_TESTS)" || { echo "make: no tests to run under the sanitizers" >&2; exit 1; }
	@mkdir -p build
	@echo "make: building gshell._C with GSHELL_SANITIZE=1 into build/asan; log: build/asan.log"
	@GSHELL_SANITIZE=1 $(PY) setup.py -q build --build-lib build/asan --build-temp build/asan-tmp \
	  > build/asan.log 2>&1 || { tail -40 build/asan.log; exit 1; }
	@rm -rf build/asan/tests && cp -r tests build/asan/tests && cp pyproject.toml build/asan/
	@cd build/asan && export PYTHONPATH=$$PWD LD_PRELOAD="$(ASAN_PRELOAD)" \
	    ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1; \
	  $(abspath $(PY)) -c "import os, gshell, gshell._ext; info = gshell.build_info(); \
	    assert info['sanitize'], 'gshell._C in %s is not the sanitized build' % gshell.__file__; \
	    assert os.path.dirname(gshell.__file__) == os.path.abspath('gshell'), gshell.__file__; \
	    print('make: sanitized extension loaded from', gshell._ext._C_module.__file__)" || exit 1; \
	  rc=0; $(abspath $(PY)) -m pytest -q --capture=sys -p no:cacheprovider $(SANITIZE_TESTS) || rc=$$?; \
	  if [ $$rc = 5 ]; then echo "make: no tests ran under the sanitizers" >&2; exit 1; fi; \
	  exit $$rc

gpu-check:
	bash scripts/gpu_check.sh

# Wheels the GPU machine (Python 3.12, no network) lacks, for scripts/gpu_check.sh.
gpu-wheels: $(DEPS_STAMP)
	$(PIP) download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
	  --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
	  -d .whl hypothesis sortedcontainers attrs

clean:
	rm -rf build dist *.egg-info gshell/*.so out .pytest_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) .whl
