"""Functional, differentiable wrappers of gshell's kernels, one module per op."""
from gshell.ops.gshell_extract import GShellResult, gshell_extract
from gshell.ops.marching_tets import marching_tetrahedra
from gshell.ops.mesh_components import boundary_edges, boundary_loops, connected_components

__all__ = ["GShellResult", "gshell_extract", "marching_tetrahedra", "boundary_edges",
           "boundary_loops", "connected_components"]
