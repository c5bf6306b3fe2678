"""Connected components and boundary loops of triangle meshes."""
import torch
from torch import Tensor

from gshell import _checks
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


def _edge_keys(faces, num_verts):
    e = faces[:, [[0, 1], [1, 2], [2, 0]]].reshape(-1, 2)
    a, b = torch.minimum(e[:, 0], e[:, 1]), torch.maximum(e[:, 0], e[:, 1])
    return a * num_verts + b


def boundary_edges(faces, num_verts=None):
    """Edges used by exactly one face.

    Args:
        faces: (F, 3) int64 tensor.
        num_verts: number of vertices (default: max index + 1).
    Returns:
        (B, 2) int64 tensor of vertex pairs (a < b).
    """
    _checks.tensor("faces", faces, dims=2, shape=(None, 3), dtypes=_checks.INTS)
    if num_verts is None:
        num_verts = int(faces.max()) + 1 if faces.numel() else 0
    if faces.numel() == 0:
        return faces.new_zeros((0, 2), dtype=torch.long)
    keys, counts = torch.unique(_edge_keys(faces.long(), num_verts), return_counts=True)
    keys = keys[counts == 1]
    return torch.stack([keys // num_verts, keys % num_verts], -1)


def boundary_loops(faces, num_verts=None):
    """Number of boundary loops: connected components of the boundary edges (0 for a closed
    mesh, 1 for a disk, 2 for an open cylinder).

    Args:
        faces: (F, 3) int64 tensor.
        num_verts: number of vertices (default: max index + 1).
    Returns:
        int.
    """
    be = boundary_edges(faces, num_verts)
    if be.shape[0] == 0:
        return 0
    verts, local = torch.unique(be.reshape(-1), return_inverse=True)
    labels = connected_components(local.view(-1, 2), verts.shape[0])
    return int(labels.max()) + 1
