"""gshell: mesh geometry and shape representations for PyTorch.

``import gshell`` needs only torch and numpy; optional dependencies are imported by the
functions that use them.
"""
from gshell.tetgrid import TetGrid
from gshell.ops.marching_tets import marching_tetrahedra
from gshell.ops.gshell_extract import GShellResult, gshell_extract
from gshell.ops.mesh_components import boundary_loops
from gshell.ops.marching_cubes import marching_cubes
from gshell import deepmesh
from gshell.nn.gshell_geometry import GShellGeometry
from gshell._ext import build_info

__version__ = "0.1.0"

__all__ = [
    "TetGrid", "marching_tetrahedra", "gshell_extract", "GShellResult", "GShellGeometry",
    "boundary_loops", "marching_cubes", "deepmesh", "build_info", "__version__",
]
