"""Connected components of graphs (union-find in the C++ kernel), and the boundary of triangle meshes
as tensors (the topology itself is computed in :mod:`gshell.topology`)."""
import torch
from torch import Tensor

from gshell import _checks, topology
from gshell._ext import ext


@torch.library.custom_op("gshell::connected_components", mutates_args=(), device_types="cpu")
def _connected_components_op(edges: Tensor, num_verts: int) -> Tensor:
    return ext().connected_components(edges, num_verts)


@_connected_components_op.register_fake
def _(edges, num_verts):
    return edges.new_empty((num_verts,), dtype=torch.long)


def connected_components(edges, num_verts):
    """Component label of each vertex of a graph (union-find on the CPU).

    Args:
        edges: (E, 2) int64 tensor, any device.
        num_verts: number of vertices.
    Returns:
        (num_verts,) int64 tensor on the device of ``edges``: labels 0..C-1, numbered in order of
        each component's smallest vertex.
    """
    _checks.tensor("edges", edges, dims=2, shape=(None, 2), dtypes=_checks.INTS)
    _checks.index_range("edges", edges, num_verts)
    return _connected_components_op(edges.long().cpu().contiguous(), int(num_verts)).to(edges.device)


def boundary_edges(faces, num_verts=None):
    """Edges used by exactly one face (computed by :func:`gshell.topology.boundary_edges`).

    Args:
        faces: (F, 3) int64 tensor, any device.
        num_verts: number of vertices (default: max index + 1).
    Returns:
        (B, 2) int64 tensor of vertex pairs (a < b), on the device of ``faces``.
    """
    _checks.tensor("faces", faces, dims=2, shape=(None, 3), dtypes=_checks.INTS)
    return torch.from_numpy(topology.boundary_edges(faces, num_verts)).to(faces.device)


def boundary_loops(faces, num_verts=None):
    """Number of boundary loops: connected components of the boundary edges (0 for a closed
    mesh, 1 for a disk, 2 for an open cylinder); see :func:`gshell.topology.boundary_loops`.

    Args:
        faces: (F, 3) int64 tensor, any device.
        num_verts: number of vertices (default: max index + 1).
    Returns:
        int.
    """
    _checks.tensor("faces", faces, dims=2, shape=(None, 3), dtypes=_checks.INTS)
    return topology.boundary_loops(faces, num_verts)
