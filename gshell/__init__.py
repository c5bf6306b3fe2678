"""gshell: mesh geometry and shape representations for PyTorch.

``import gshell`` needs only torch and numpy, and imports even those lazily: the names below load
their module on first use, so the ``gshell`` command line starts fast. Optional dependencies are
imported by the functions that use them.
"""
import importlib

__version__ = "0.1.0"

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
