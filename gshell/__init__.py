"""gshell: mesh geometry and shape representations for PyTorch.

``import gshell`` needs only torch and numpy, and imports even those lazily: the names below load
their module on first use, so the ``gshell`` command line starts fast. Optional dependencies are
imported by the functions that use them.
"""
import importlib
import importlib.abc
import sys

__version__ = "0.1.0"


class _TorchBeforeExtension(importlib.abc.MetaPathFinder):
    """Imports torch before the extension ``gshell._C`` is loaded: the extension links torch's
    shared libraries (libc10.so, ...), which only ``import torch`` puts in the process. Without
    this, ``import gshell._C`` on its own would fail."""

    def find_spec(self, fullname, path, target=None):
        if fullname == "gshell._C":
            import torch  # noqa: F401
        return None  # the normal finders load it


if not any(isinstance(f, _TorchBeforeExtension) for f in sys.meta_path):
    sys.meta_path.insert(0, _TorchBeforeExtension())

_EXPORTS = {
    "TetGrid": "gshell.tetgrid",
    "marching_tetrahedra": "gshell.ops.marching_tets",
    "gshell_extract": "gshell.ops.gshell_extract",
    "GShellResult": "gshell.ops.gshell_extract",
    "boundary_loops": "gshell.ops.mesh_components",
    "marching_cubes": "gshell.ops.marching_cubes",
    "GShellGeometry": "gshell.nn.gshell_geometry",
    "GridHashEncoding": "gshell.nn.encoding",
    "SimplexHashEncoding": "gshell.nn.encoding",
    "build_info": "gshell._ext",
}
_SUBMODULES = ("deepmesh", "io", "ops", "nn", "tetgrid", "demo", "cli", "metrics", "render", "recon", "mmgp",
               "riemann", "wing",
               "_ext", "_checks")

__all__ = sorted(_EXPORTS) + ["deepmesh", "io", "metrics", "render", "recon", "mmgp", "riemann", "wing", "__version__"]


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module("gshell." + name)
    else:
        raise AttributeError("module 'gshell' has no attribute %r" % name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS) | set(_SUBMODULES))
