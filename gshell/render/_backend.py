"""Backend choice shared by rasterize, interpolate and antialias: nvdiffrast or gshell's kernels."""
import threading

import torch

_BACKENDS = ("auto", "gshell", "nvdiffrast")
_CONTEXTS = {}
_LOCK = threading.Lock()


def nvdiffrast():
    """Returns ``nvdiffrast.torch`` or None when it cannot be imported."""
    try:
        import nvdiffrast.torch as dr
    except Exception:  # ImportError, or a broken build (missing CUDA toolkit, ...)
        return None
    return dr


def choose(backend, device):
    """Returns "gshell" or "nvdiffrast" for ``backend`` ("auto", "gshell", "nvdiffrast") and the
    device of the inputs: "auto" takes nvdiffrast on CUDA when it imports, gshell otherwise."""
    if backend not in _BACKENDS:
        raise ValueError("Expected backend to be one of %s but got %r" % (", ".join(map(repr, _BACKENDS)), backend))
    if backend == "gshell":
        return "gshell"
    on_cuda = torch.device(device).type == "cuda"
    if backend == "nvdiffrast":
        if not on_cuda:
            raise ValueError("Expected CUDA tensors for backend='nvdiffrast' (nvdiffrast's CUDA "
                             "rasterizer) but got tensors on %s" % (device,))
        if nvdiffrast() is None:
            raise ImportError("backend='nvdiffrast' needs nvdiffrast (https://github.com/NVlabs/nvdiffrast): "
                              "`pip install --no-build-isolation git+https://github.com/NVlabs/nvdiffrast`")
        return "nvdiffrast"
    return "nvdiffrast" if on_cuda and nvdiffrast() is not None else "gshell"


def cuda_context(device):
    """One cached ``nvdiffrast.torch.RasterizeCudaContext`` per CUDA device."""
    device = torch.device(device)
    if device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    with _LOCK:
        ctx = _CONTEXTS.get(device.index)
        if ctx is None:
            ctx = nvdiffrast().RasterizeCudaContext(device=device)
            _CONTEXTS[device.index] = ctx
    return ctx
