"""Riemannian geometric features of surfaces: metric, Christoffel symbols and curvatures.

The features that "Incorporating Riemannian Geometric Features for Learning Coefficient of
Pressure Distributions on Airplane Wings" (Hu, Wang, Xiang, Sommer, https://arxiv.org/abs/2401.09452)
feeds to its Cp model, for two kinds of surface:

- :func:`grid_features`: a structured grid ``x(u, v)`` (a wing surface sampled section by
  section), with finite differences in the grid index, computed by one C++/CUDA kernel.
- :func:`mesh_features`: a triangle mesh, with a local quadric (Monge patch) fit per vertex, plus
  the discrete angle-defect and cotangent-Laplacian curvatures.

Conventions shared by both:

- The chart of a grid is its index: ``u`` = row index ``i``, ``v`` = column index ``j``, unit
  spacing. The metric and Christoffel symbols are those of this chart (scale a natural
  parametrisation ``u = u0 + i du`` by ``g_ij -> g_ij du_i du_j``); the curvatures do not depend
  on the chart.
- ``normals`` are ``x_u x x_v / |x_u x x_v|``; a mesh's vertex normals are area-weighted face
  normals (faces wound counter-clockwise seen from outside give outward normals).
- Mean curvature ``H = (EN - 2FM + GL) / (2 (EG - F^2))`` with ``L = x_uu . n`` etc. (do Carmo's
  convention): a sphere of radius R has ``H = -1/R`` when ``n`` points outward and ``+1/R`` when
  it points inward. The mesh's cotangent estimate uses the same sign (``Delta x = 2 H n``).
- Christoffel symbols are indexed ``christoffel[..., k, i, j] = Gamma^k_ij`` (second kind, of
  the first fundamental form).
"""
import math
from typing import Dict, Tuple

import torch
from torch import Tensor

from gshell import _checks
from gshell._ext import check_device, ext

__all__ = ["grid_features", "mesh_features"]

_GRID_KEYS = ("metric", "metric_inverse", "christoffel", "gaussian_curvature",
              "gaussian_curvature_extrinsic", "mean_curvature", "normals")
_DEGENERATE, _ZERO_EDGE, _FOLD, _NON_FINITE = 1, 2, 4, 8


@torch.library.custom_op("gshell::surface_features", mutates_args=())
def _surface_features_op(points: Tensor, periodic_u: bool, periodic_v: bool) -> Tuple[
        Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    return tuple(ext().surface_features(points, periodic_u, periodic_v))


@_surface_features_op.register_fake
def _(points, periodic_u, periodic_v):
    b, nu, nv, _ = points.shape
    e = points.new_empty
    return (e((b, nu, nv, 2, 2)), e((b, nu, nv, 2, 2)), e((b, nu, nv, 2, 2, 2)), e((b, nu, nv)),
            e((b, nu, nv)), e((b, nu, nv)), e((b, nu, nv, 3)), e((b, nu, nv), dtype=torch.uint8))


def _first(mask, batched):
    """The location of the first True of a (B, NU, NV) mask, as 'points[b, i, j]'."""
    flat = int(torch.nonzero(mask.reshape(-1))[0])
    _, nu, nv = mask.shape
    b, i, j = flat // (nu * nv), (flat // nv) % nu, flat % nv
    return "points[%d, %d, %d]" % (b, i, j) if batched else "points[%d, %d]" % (i, j)


def _raise_flags(flags, batched, found):
    if _ZERO_EDGE & found:
        where = _first(flags & _ZERO_EDGE != 0, batched)
        raise ValueError(
            "Expected points to be a regular surface grid (distinct neighbouring points) but got "
            "repeated points: %s equals its neighbour in the next row or column (a repeated row or "
            "column, a collapsed one such as a pole, or the first row or column repeated at the "
            "end of a periodic direction)" % where)
    if (_DEGENERATE | _NON_FINITE) & found:
        where = _first(flags & (_DEGENERATE | _NON_FINITE) != 0, batched)
        raise ValueError(
            "Expected points to be a regular surface grid (metric with det g > 0) but the metric "
            "is degenerate at %s: x_u and x_v are parallel or zero there" % where)
    if _FOLD & found:
        where = _first(flags & _FOLD != 0, batched)
        raise ValueError(
            "Expected points to be a grid without folds but the normal x_u x x_v flips (turns by "
            "more than 90 degrees) between %s and its next row or column: the grid overlaps itself "
            "(for a sharp crease resolved by few points, such as a closed trailing edge, pass "
            "check_folds=False)" % where)


def grid_features(points, periodic_u=False, periodic_v=False,
                  check_folds=True) -> Dict[str, Tensor]:
    """Metric, Christoffel symbols, Gaussian and mean curvature and normals of a surface grid.

    The surface is ``x(u, v) = points[..., u, v, :]`` with the grid index as the chart (unit
    spacing). Derivatives ``x_u, x_v, x_uu, x_uv, x_vv`` are second-order finite differences:
    central inside, one-sided second-order stencils (3 points for first, 4 for second derivatives)
    at open edges, wrapping along periodic directions (e.g. ``periodic_v=True`` for the closed
    chordwise loop of a wing section). Every feature is second-order accurate in the grid spacing,
    at the edges too. One C++ (``at::parallel_for``) or CUDA (one thread per point) pass.

    ``gaussian_curvature`` is intrinsic: the Brioschi formula, from the metric ``E, F, G``, its
    first derivatives (``E_u = 2 x_uu . x_u`` ...) and the combination of its second derivatives
    ``-E_vv/2 + F_uv - G_uu/2 = x_uu . x_vv - x_uv . x_uv`` (the third derivatives of x cancel
    exactly, as in the proof of the Theorema Egregium), with no normal.
    ``gaussian_curvature_extrinsic`` is ``(LN - M^2)/(EG - F^2)`` from the second fundamental form.
    With the same discrete derivatives both are the same function of them, so they agree to
    rounding (a check of the implementation, not two independent estimates). Differencing the
    computed metric instead would not be second order at open edges: the one-sided metric at the
    edge row carries an O(h^2) error that a second difference divides by h^2.

    Args:
        points: (NU, NV, 3) or (B, NU, NV, 3) float32|float64 tensor on cpu or cuda, finite; at
            least 4 points along open directions, 3 along periodic ones. Neighbouring points must
            be distinct, ``x_u`` and ``x_v`` independent, and the grid must not fold. float32
            differences lose digits on fine grids (the second differences are O(h^2)): use
            float64 beyond a few hundred points per direction.
        periodic_u: bool, row ``NU - 1`` is followed by row 0 (do not repeat the first row).
        periodic_v: bool, column ``NV - 1`` is followed by column 0.
        check_folds: bool, reject grids whose normal turns by more than 90 degrees between
            neighbouring points (default). Pass False for surfaces with a sharp crease resolved by
            few points, such as the closed trailing edge of a wing section, where the normal
            legitimately reverses across one grid step; the features at the crease then describe
            the finite-difference surface through it (very large curvatures).

    Returns:
        dict of tensors in the dtype and on the device of ``points`` (``...`` = ``(B,)`` or
        nothing), not differentiable:

        - ``metric``: (..., NU, NV, 2, 2) ``g_ij = x_i . x_j`` (``[[E, F], [F, G]]``)
        - ``metric_inverse``: (..., NU, NV, 2, 2) ``g^ij``
        - ``christoffel``: (..., NU, NV, 2, 2, 2) ``[k, i, j] = Gamma^k_ij = g^kl (x_ij . x_l)``
        - ``gaussian_curvature``: (..., NU, NV) intrinsic K (Brioschi)
        - ``gaussian_curvature_extrinsic``: (..., NU, NV) ``(LN - M^2) / (EG - F^2)``
        - ``mean_curvature``: (..., NU, NV) ``H = (EN - 2FM + GL) / (2 (EG - F^2))`` (a sphere
          with outward normals has H = -1/R)
        - ``normals``: (..., NU, NV, 3) unit ``x_u x x_v / |x_u x x_v|``

    Raises:
        TypeError: points is not a float32/float64 tensor.
        ValueError: wrong shape, too few points, NaN/Inf, repeated neighbouring points (repeated
            rows, collapsed poles), a degenerate metric (det g <= 64 eps E G), or a fold (the
            normal ``x_u x x_v`` turns by more than 90 degrees between neighbouring points, unless
            ``check_folds`` is False); the
            message names the first offending ``points[i, j]``. A fold whose turn is spread over
            several grid points, each step turning the normal by less than 90 degrees, is not
            detected as a fold (it may still be caught as a degenerate metric).

    Example:
        >>> t = torch.linspace(0.3, 2.8, 64, dtype=torch.float64)[:, None]
        >>> p = torch.arange(64, dtype=torch.float64)[None, :] * (2 * math.pi / 64)
        >>> x = torch.stack([t.sin() * p.cos(), t.sin() * p.sin(), t.cos().expand(-1, 64)], -1)
        >>> f = grid_features(x, periodic_v=True)  # unit sphere: K = 1, H = -1 (outward normal)
    """
    _checks.tensor("points", points, dtypes=_checks.FLOATS)
    if points.dim() not in (3, 4) or points.shape[-1] != 3:
        raise ValueError("Expected points of shape (NU, NV, 3) or (B, NU, NV, 3) but got %s"
                         % _checks._desc(points))
    for name, flag in (("periodic_u", periodic_u), ("periodic_v", periodic_v),
                       ("check_folds", check_folds)):
        if not isinstance(flag, bool):
            raise TypeError("Expected %s to be a bool but got %r" % (name, flag))
    nu, nv = points.shape[-3], points.shape[-2]
    need_u, need_v = (3 if periodic_u else 4), (3 if periodic_v else 4)
    if nu < need_u or nv < need_v:
        raise ValueError(
            "Expected points with at least %d rows and %d columns (4 along open, 3 along periodic "
            "directions) but got %s" % (need_u, need_v, _checks._desc(points)))
    check_device("grid_features", points)
    _checks.finite("points", points)
    batched = points.dim() == 4
    p = points.detach().contiguous()
    if not batched:
        p = p.unsqueeze(0)
    out = _surface_features_op(p, periodic_u, periodic_v)
    flags = out[-1]
    if flags.numel():
        found = _or_all(flags)
        if not check_folds:
            found &= ~_FOLD
        if found:
            _raise_flags(flags, batched, found)
    res = dict(zip(_GRID_KEYS, out[:-1]))
    if not batched:
        res = {k: v.squeeze(0) for k, v in res.items()}
    return res


def _or_all(flags):
    """Bitwise OR of every flag (uint8), without a reduction torch lacks."""
    if not bool(flags.any()):
        return 0
    found = 0
    for bit in (_DEGENERATE, _ZERO_EDGE, _FOLD, _NON_FINITE):
        if bool((flags & bit).any()):
            found |= bit
    return found


# ---------------------------------------------------------------------------------------------
# Triangle meshes


def _tangent_frames(n):
    """Two unit tangents (V, 3) each, orthonormal to unit normals n (V, 3): t1 = n x e with e the
    coordinate axis least aligned with n, t2 = n x t1."""
    axis = n.abs().argmin(dim=1)
    e = torch.nn.functional.one_hot(axis, 3).to(n.dtype)
    t1 = torch.linalg.cross(n, e)
    t1 = t1 / t1.norm(dim=1, keepdim=True)
    t2 = torch.linalg.cross(n, t1)
    return t1, t2


def _two_ring(faces, nv):
    """Pairs (i, j), i != j, with j in the 2-ring of i, sorted by i and unique. The adjacency is
    held as a sparse CSR structure (row offsets, column indices); the 2-ring is its square's
    pattern: every edge (i, k) followed by every edge (k, j), then deduplicated."""
    e = torch.cat([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    e = torch.cat([e, e.flip(1)])
    e = torch.unique(e[:, 0] * nv + e[:, 1])  # sorted by source
    src, dst = e // nv, e % nv
    deg = torch.bincount(src, minlength=nv)
    rowptr = torch.zeros(nv + 1, dtype=torch.long, device=faces.device)
    rowptr[1:] = torch.cumsum(deg, 0)
    # for each edge (i, k): the deg[k] edges (k, j) starting at rowptr[k]
    reps = deg[dst]
    i2 = src.repeat_interleave(reps)
    start = rowptr[dst].repeat_interleave(reps)
    first = torch.cumsum(reps, 0) - reps
    pos = torch.arange(i2.numel(), device=faces.device) - first.repeat_interleave(reps)
    j2 = dst[start + pos]
    pairs = torch.unique(torch.cat([e, i2 * nv + j2]))
    i, j = pairs // nv, pairs % nv
    keep = i != j
    return i[keep], j[keep]


def _corner_angles(v0, v1, v2):
    """Interior angles (F, 3) at the corners of the triangles (v0, v1, v2)."""
    def angle(a, b, c):  # at a
        x, y = b - a, c - a
        return torch.atan2(torch.linalg.cross(x, y).norm(dim=1), (x * y).sum(1))
    return torch.stack([angle(v0, v1, v2), angle(v1, v2, v0), angle(v2, v0, v1)], 1)


def mesh_features(verts, faces) -> Dict[str, Tensor]:
    """Metric, Christoffel symbols and curvatures of a triangle mesh at its vertices.

    Per vertex, a quadric ``h(x, y) = a x^2 + b xy + c y^2 + d x + e y`` is fitted by least
    squares to the vertex's 2-ring (neighbours from the pattern of A + A^2, A the sparse
    adjacency), in the tangent frame ``(t1, t2, n)`` of the vertex normal ``n`` (area-weighted
    face normals) with the vertex at the origin (so ``h(0, 0) = 0``). The Monge patch
    ``r(x, y) = (x, y, h(x, y))`` gives, at the vertex, in the local chart ``(u, v) = (x, y)``:
    ``g = [[1 + d^2, de], [de, 1 + e^2]]``, ``Gamma^k_ij = g^kl h_l h_ij``,
    ``K = (h_xx h_yy - h_xy^2) / (1 + d^2 + e^2)^2`` and
    ``H = ((1 + e^2) h_xx - 2 d e h_xy + (1 + d^2) h_yy) / (2 (1 + d^2 + e^2)^(3/2))`` (same sign
    convention as :func:`grid_features`: H = -1/R on a sphere with outward normals). The fit is
    exact for quadrics and O(h) accurate on general surfaces with irregular neighbourhoods
    (O(h^2) on symmetric ones). Needs at least 5 vertices in each 2-ring.

    Also the discrete estimators: angle-defect ``K = (2 pi - sum of angles) / A_mixed`` and
    cotangent-Laplacian ``H = sign(Delta x . n) |Delta x| / 2`` with
    ``Delta x_i = 1/(2 A_i) sum_j (cot alpha_ij + cot beta_ij)(x_j - x_i)`` and ``A_mixed`` the
    mixed Voronoi area (Meyer, Desbrun, Schroeder, Barr 2003). They are NaN at boundary vertices.
    Vectorised torch (no loop over vertices), computed in float64 and returned in verts' dtype.

    Args:
        verts: (V, 3) float32|float64 tensor, finite.
        faces: (F, 3) int64|int32 tensor of vertex indices on the device of verts, wound
            counter-clockwise seen from the side the normals should point to.

    Returns:
        dict of tensors in verts' dtype and device:

        - ``metric``, ``metric_inverse``: (V, 2, 2) in the local chart
        - ``christoffel``: (V, 2, 2, 2) ``[k, i, j] = Gamma^k_ij`` in the local chart
        - ``gaussian_curvature``, ``mean_curvature``: (V,) from the quadric fit
        - ``gaussian_curvature_angle_defect``, ``mean_curvature_cotangent``: (V,) discrete
        - ``vertex_area``: (V,) mixed Voronoi area
        - ``normals``: (V, 3) unit vertex normals; ``tangents``: (V, 2, 3) the chart's axes t1, t2

    Raises:
        TypeError, ValueError: wrong types, shapes, devices, out-of-range indices, NaN/Inf, a
            vertex without area (isolated or only in degenerate faces).
    """
    _checks.tensor("verts", verts, dims=2, dtypes=_checks.FLOATS, shape=(None, 3))
    _checks.tensor("faces", faces, dims=2, dtypes=_checks.INTS, shape=(None, 3), device=verts.device)
    _checks.finite("verts", verts)
    nv = verts.shape[0]
    if faces.shape[0] == 0:
        raise ValueError("Expected faces with at least one triangle but got %s" % _checks._desc(faces))
    _checks.index_range("faces", faces, nv)
    x = verts.detach().to(torch.float64)
    f = faces.long()
    v0, v1, v2 = x[f[:, 0]], x[f[:, 1]], x[f[:, 2]]
    fn = torch.linalg.cross(v1 - v0, v2 - v0)  # |fn| = 2 area
    area = fn.norm(dim=1) / 2
    n = torch.zeros_like(x).index_add_(0, f.reshape(-1), fn.repeat_interleave(3, 0))
    nlen = n.norm(dim=1)
    if not bool((nlen > 0).all()):
        bad = int(torch.nonzero(nlen <= 0)[0])
        raise ValueError("Expected every vertex in a face of non-zero area but vertex %d has none "
                         "(verts[%d] is unused or its faces are degenerate)" % (bad, bad))
    n = n / nlen[:, None]
    t1, t2 = _tangent_frames(n)

    # Quadric fit in each vertex's tangent frame, coordinates scaled by the 2-ring's mean distance.
    i, j = _two_ring(f, nv)
    d = x[j] - x[i]
    px, py, pz = (d * t1[i]).sum(1), (d * t2[i]).sum(1), (d * n[i]).sum(1)
    cnt = torch.zeros(nv, dtype=x.dtype, device=x.device).index_add_(0, i, torch.ones_like(px))
    if not bool((cnt >= 5).all()):
        bad = int(torch.nonzero(cnt < 5)[0])
        raise ValueError("Expected at least 5 vertices in the 2-ring of every vertex but vertex %d "
                         "has %d" % (bad, int(cnt[bad])))
    s = torch.zeros_like(cnt).index_add_(0, i, d.norm(dim=1)) / cnt
    px, py, pz = px / s[i], py / s[i], pz / s[i]
    phi = torch.stack([px * px, px * py, py * py, px, py], 1)
    ata = torch.zeros(nv, 25, dtype=x.dtype, device=x.device)
    ata.index_add_(0, i, (phi[:, :, None] * phi[:, None, :]).reshape(-1, 25))
    atb = torch.zeros(nv, 5, dtype=x.dtype, device=x.device).index_add_(0, i, phi * pz[:, None])
    ata = ata.view(nv, 5, 5)
    ridge = 1e-12 * ata.diagonal(dim1=1, dim2=2).sum(1)
    ata = ata + ridge[:, None, None] * torch.eye(5, dtype=x.dtype, device=x.device)
    coef = torch.linalg.solve(ata, atb[:, :, None])[:, :, 0]
    a, b, c = coef[:, 0] / s, coef[:, 1] / s, coef[:, 2] / s
    hx, hy = coef[:, 3], coef[:, 4]
    hxx, hxy, hyy = 2 * a, b, 2 * c
    w = 1 + hx * hx + hy * hy
    metric = torch.stack([1 + hx * hx, hx * hy, hx * hy, 1 + hy * hy], 1).view(nv, 2, 2)
    minv = torch.stack([1 + hy * hy, -hx * hy, -hx * hy, 1 + hx * hx], 1).view(nv, 2, 2) / w[:, None, None]
    hl = torch.stack([hx, hy], 1)                                           # h_l
    hij = torch.stack([hxx, hxy, hxy, hyy], 1).view(nv, 2, 2)               # h_ij
    chris = torch.einsum("vkl,vl,vij->vkij", minv, hl, hij)
    K = (hxx * hyy - hxy * hxy) / (w * w)
    H = ((1 + hy * hy) * hxx - 2 * hx * hy * hxy + (1 + hx * hx) * hyy) / (2 * w.pow(1.5))

    # Discrete estimators.
    ang = _corner_angles(v0, v1, v2)
    fi = f.reshape(-1)
    angle_sum = torch.zeros(nv, dtype=x.dtype, device=x.device).index_add_(0, fi, ang.reshape(-1))
    cot = 1 / torch.tan(ang)  # cot of the angle at corner k weights the opposite edge
    corners = (v0, v1, v2)
    # squared length of the edge opposite each corner
    l2 = torch.stack([((corners[(k + 2) % 3] - corners[(k + 1) % 3]) ** 2).sum(1) for k in range(3)], 1)
    # Voronoi area at corner k: (|e_k,k+1|^2 cot(k+2) + |e_k,k+2|^2 cot(k+1)) / 8
    vor = torch.stack([(l2[:, (k + 2) % 3] * cot[:, (k + 2) % 3]
                        + l2[:, (k + 1) % 3] * cot[:, (k + 1) % 3]) / 8 for k in range(3)], 1)
    obtuse = ang > math.pi / 2
    any_obtuse = obtuse.any(1, keepdim=True)
    mixed = torch.where(any_obtuse, torch.where(obtuse, area[:, None] / 2, area[:, None] / 4), vor)
    amix = torch.zeros(nv, dtype=x.dtype, device=x.device).index_add_(0, fi, mixed.reshape(-1))
    lap = torch.zeros_like(x)
    for k in range(3):  # edge (k+1, k+2) opposite corner k
        a_, b_ = f[:, (k + 1) % 3], f[:, (k + 2) % 3]
        wgt = cot[:, k:k + 1] / 2
        diff = x[b_] - x[a_]
        lap.index_add_(0, a_, wgt * diff)
        lap.index_add_(0, b_, -wgt * diff)
    lap = lap / amix[:, None]
    k_defect = (2 * math.pi - angle_sum) / amix
    h_cot = torch.sign((lap * n).sum(1)) * lap.norm(dim=1) / 2
    # boundary vertices: on an edge used by one face
    e = torch.cat([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]).sort(dim=1).values
    ue, count = torch.unique(e, dim=0, return_counts=True)
    bverts = ue[count == 1].reshape(-1)
    if bverts.numel():
        k_defect[bverts] = float("nan")
        h_cot[bverts] = float("nan")

    dt = verts.dtype
    return {
        "metric": metric.to(dt), "metric_inverse": minv.to(dt), "christoffel": chris.to(dt),
        "gaussian_curvature": K.to(dt), "mean_curvature": H.to(dt),
        "gaussian_curvature_angle_defect": k_defect.to(dt), "mean_curvature_cotangent": h_cot.to(dt),
        "vertex_area": amix.to(dt), "normals": n.to(dt), "tangents": torch.stack([t1, t2], 1).to(dt),
    }
