"""Builds gshell._C.

C++ sources are always built. CUDA sources are added when torch has CUDA and nvcc
is found, or when FORCE_CUDA=1; GSHELL_FORCE_CPU=1 skips them. GSHELL_SANITIZE=1
builds with AddressSanitizer and UBSan (CPU only, for `make sanitize`).
"""
import glob
import os
import shutil
import sys

import torch
from setuptools import setup
from torch.utils.cpp_extension import CUDA_HOME, BuildExtension, CppExtension, CUDAExtension

ROOT = os.path.dirname(os.path.abspath(__file__))


def _flag(name):
    return os.environ.get(name, "0").lower() in ("1", "true", "yes", "on")


def _want_cuda():
    if _flag("GSHELL_FORCE_CPU") or _flag("GSHELL_SANITIZE"):
        return False, "GSHELL_FORCE_CPU/GSHELL_SANITIZE is set"
    if _flag("FORCE_CUDA"):
        return True, "FORCE_CUDA=1"
    nvcc = CUDA_HOME is not None or shutil.which("nvcc") is not None
    if torch.version.cuda is None:
        return False, "torch %s has no CUDA" % torch.__version__
    if not nvcc:
        return False, "nvcc was not found"
    return True, "torch %s has CUDA %s and nvcc was found" % (torch.__version__, torch.version.cuda)


def extensions():
    csrc = os.path.join(ROOT, "csrc")
    cpp = sorted(glob.glob(os.path.join(csrc, "**", "*.cpp"), recursive=True))
    cu = sorted(glob.glob(os.path.join(csrc, "**", "*.cu"), recursive=True))
    with_cuda, why = _want_cuda()
    sanitize = _flag("GSHELL_SANITIZE")
    defines = [
        ("GSHELL_TORCH_VERSION", '"%s"' % torch.__version__.split("+")[0]),
        ("GSHELL_SANITIZE_BUILD", "true" if sanitize else "false"),
    ]
    cxx = ["-O3"]  # torch adds the C++ standard it was built with
    link = []
    # at::parallel_for is inline OpenMP when torch uses OpenMP: without -fopenmp the kernels
    # would compile to a serial loop.
    if "OpenMP" in torch.__config__.parallel_info() and sys.platform.startswith("linux"):
        cxx.append("-fopenmp")
        link.append("-fopenmp")
    if sanitize:
        cxx = ["-O1", "-g", "-fno-omit-frame-pointer",
               "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"] + cxx[1:]
        link = ["-fsanitize=address,undefined"] + link
    rel = lambda paths: [os.path.relpath(p, ROOT) for p in paths]
    banner = "gshell: building gshell._C with %s (%s)" % ("C++ and CUDA" if with_cuda else "C++ only", why)
    print("=" * len(banner) + "\n" + banner + "\n" + "=" * len(banner), file=sys.stderr)
    if with_cuda:
        nvcc = ["-O3", "--expt-relaxed-constexpr", "-lineinfo"]
        return [CUDAExtension(
            "gshell._C", rel(cpp + cu), include_dirs=[csrc],
            define_macros=defines + [("WITH_CUDA", None)],
            extra_compile_args={"cxx": cxx, "nvcc": nvcc}, extra_link_args=link)]
    return [CppExtension(
        "gshell._C", rel(cpp), include_dirs=[csrc], define_macros=defines,
        extra_compile_args={"cxx": cxx}, extra_link_args=link)]


setup(
    ext_modules=extensions(),
    cmdclass={"build_ext": BuildExtension.with_options(use_ninja=True)},
)
