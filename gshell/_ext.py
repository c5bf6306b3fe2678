"""Access to the compiled extension ``gshell._C``, with one clear error when it is missing."""
import torch

try:
    from gshell import _C as _C_module
    _IMPORT_ERROR = None
except ImportError as e:  # pragma: no cover - exercised only on a broken install
    _C_module = None
    _IMPORT_ERROR = e


def ext():
    """Returns the ``gshell._C`` module or raises ImportError saying how to build it."""
    if _C_module is None:
        raise ImportError(
            "gshell's compiled extension gshell._C is not available (%s). Build it with "
            "`pip install --no-build-isolation -e .` in the source tree (install torch first)."
            % _IMPORT_ERROR)
    return _C_module


def check_device(op, t):
    """Raises if ``t`` is on a device the extension cannot run on."""
    if t.device.type == "cuda" and not ext().with_cuda():
        raise RuntimeError(
            "gshell.%s: got CUDA tensors but gshell._C was built without CUDA; rebuild with a CUDA "
            "build of torch and nvcc on PATH (or FORCE_CUDA=1)" % op)
    if t.device.type not in ("cpu", "cuda"):
        raise ValueError("gshell.%s: expected tensors on cpu or cuda but got %s" % (op, t.device))


def build_info():
    """Dict: with_cuda, cuda_version, torch_version the extension was built against, sanitize."""
    return dict(ext().build_info())
