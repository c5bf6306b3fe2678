"""P1 finite-element transfer between 2D triangle meshes (MMGP's field transfer step).

MMGP (Casenave, Staber, Roynard, NeurIPS 2023, https://arxiv.org/abs/2306.12342) carries every
field onto one common mesh: each target node is located in a source triangle and the field is
interpolated linearly there (P1). :func:`locate_points` runs the C++ kernel
``gshell._C.point_location`` (a uniform grid of triangle bounding boxes, queries in parallel,
float64, deterministic), registered as the custom op ``gshell::point_location``.

Inputs are NumPy arrays (torch tensors are converted); outputs are NumPy arrays or SciPy sparse
matrices.
"""
import numpy as np
import torch
from torch import Tensor
from typing import Tuple

from gshell._ext import ext
from gshell.mmgp.morph import _points, _triangles

__all__ = ["locate_points", "transfer_matrix", "mass_matrix"]


@torch.library.custom_op("gshell::point_location", mutates_args=(), device_types="cpu")
def _point_location_op(points: Tensor, triangles: Tensor, queries: Tensor) -> Tuple[Tensor, Tensor]:
    tri, bary = ext().point_location(points, triangles, queries)
    return tri, bary


@_point_location_op.register_fake
def _(points, triangles, queries):
    nt = queries.shape[0]
    return queries.new_empty((nt,), dtype=torch.long), queries.new_empty((nt, 3))


def locate_points(points, triangles, queries):
    """Triangle containing each query point and its barycentric coordinates.

    A query inside the mesh gets the triangle that contains it (on a shared edge or vertex, the
    triangle with the largest smallest barycentric coordinate, ties to the smallest index).
    A query outside every triangle is clamped to the nearest point of the nearest boundary edge
    (an edge of one triangle only): ``tri`` is that edge's triangle and ``bary`` has a zero at
    the opposite vertex. Results do not depend on the number of threads.

    Args:
        points: (Ns, 2) float array (or tensor), source vertex positions.
        triangles: (Ms, 3) int array (or tensor), vertex ids in [0, Ns), Ms >= 1.
        queries: (Nt, 2) float array (or tensor), finite.
    Returns:
        tri: (Nt,) int64 array; bary: (Nt, 3) float64 array, non-negative, rows sum to one,
        ``bary @ points[triangles[tri]]`` is the query (or its clamped point).
    Example:
        >>> tri, bary = locate_points(points, triangles, queries)
        >>> values = (bary * field[triangles[tri]]).sum(1)
    """
    p = _points(points, dims=(2,))
    t = _triangles(triangles)
    q = _points(queries, dims=(2,), name="queries")
    if t.shape[0] == 0:
        raise ValueError("Expected triangles of shape (Ms, 3) with Ms >= 1 but got shape %s"
                         % (t.shape,))
    if t.min() < 0 or t.max() >= p.shape[0]:
        raise ValueError("Expected triangles to hold indices in [0, %d) but got values in [%d, %d]"
                         % (p.shape[0], int(t.min()), int(t.max())))
    if not np.isfinite(p).all():
        raise ValueError("Expected points to be finite but they hold NaN/Inf values")
    if not np.isfinite(q).all():
        raise ValueError("Expected queries to be finite but they hold NaN/Inf values")
    tri, bary = _point_location_op(torch.from_numpy(p), torch.from_numpy(t), torch.from_numpy(q))
    return tri.numpy(), bary.numpy()


def transfer_matrix(src_points, src_triangles, tgt_points):
    """P1 interpolation operator from a source mesh to target points.

    Args:
        src_points: (Ns, 2) float array (or tensor).
        src_triangles: (Ms, 3) int array (or tensor).
        tgt_points: (Nt, 2) float array (or tensor); points outside the source mesh take the
            value at their nearest boundary point (see :func:`locate_points`).
    Returns:
        scipy.sparse.csr_matrix of shape (Nt, Ns), float64, at most 3 non-zeros per row, rows
        summing to one; a field ``f`` of shape (Ns,) or (Ns, c) maps to ``T @ f``. Linear
        fields are reproduced exactly at target points inside the source mesh.
    """
    import scipy.sparse as sp

    t = _triangles(src_triangles, name="src_triangles")
    p = _points(src_points, dims=(2,), name="src_points")
    tri, bary = locate_points(p, t, tgt_points)
    nt, ns = len(tri), p.shape[0]
    rows = np.repeat(np.arange(nt, dtype=np.int64), 3)
    T = sp.csr_matrix((bary.ravel(), (rows, t[tri].ravel())), shape=(nt, ns))
    T.eliminate_zeros()
    return T


def mass_matrix(points, triangles):
    """P1 consistent mass matrix: ``M_ij = integral of phi_i phi_j``, assembled from
    ``area / 12 * [[2, 1, 1], [1, 2, 1], [1, 1, 2]]`` per triangle.

    Args:
        points: (N, 2) or (N, 3) float array (or tensor); areas are measured in 3D for (N, 3).
        triangles: (M, 3) int array (or tensor).
    Returns:
        scipy.sparse.csr_matrix of shape (N, N), float64, symmetric; ``1 @ M @ 1`` is the total
        area and ``f @ M @ g`` the integral of the P1 product of f and g.
    """
    import scipy.sparse as sp

    p = _points(points)
    t = _triangles(triangles)
    n = p.shape[0]
    if t.size and (t.min() < 0 or t.max() >= n):
        raise ValueError("Expected triangles to hold indices in [0, %d) but got values in [%d, %d]"
                         % (n, int(t.min()), int(t.max())))
    if not np.isfinite(p).all():
        raise ValueError("Expected points to be finite but they hold NaN/Inf values")
    e1, e2 = p[t[:, 1]] - p[t[:, 0]], p[t[:, 2]] - p[t[:, 0]]
    if p.shape[1] == 2:
        area = 0.5 * np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])
    else:
        area = 0.5 * np.linalg.norm(np.cross(e1, e2), axis=1)
    local = (np.ones((3, 3)) + np.eye(3)) / 12.0
    vals = area[:, None, None] * local[None]
    rows = np.repeat(t[:, :, None], 3, axis=2)
    cols = np.repeat(t[:, None, :], 3, axis=1)
    return sp.csr_matrix((vals.ravel(), (rows.ravel(), cols.ravel())), shape=(n, n))
