"""Marching cubes with two exact gradients: along the grid edges, or DeepMesh's normal rule.

DeepMesh: "DeepMesh: Differentiable Iso-Surface Extraction" (Remelli et al., NeurIPS 2020,
https://arxiv.org/abs/2106.11795).
"""
from typing import Tuple

import torch
from torch import Tensor

from gshell import _checks
from gshell._gather import take
from gshell._ext import check_device, ext


@torch.library.custom_op("gshell::marching_cubes", mutates_args=())
def _marching_cubes_op(grid: Tensor, iso: float) -> Tuple[Tensor, Tensor, Tensor]:
    edges, faces, centres = ext().marching_cubes(grid, iso)
    return edges, faces, centres


@_marching_cubes_op.register_fake
def _(grid, iso):
    ctx = torch.library.get_ctx()
    nv, nf, nc = ctx.new_dynamic_size(), ctx.new_dynamic_size(), ctx.new_dynamic_size()
    return (grid.new_empty((nv,), dtype=torch.long), grid.new_empty((nf, 3), dtype=torch.long),
            grid.new_empty((nc, 12), dtype=torch.long))


def _with_centres(verts, centres):
    """Appends the centre vertices (the mean of each centre's loop of vertices) to ``verts``."""
    if centres.shape[0] == 0:
        return verts
    valid = centres >= 0
    loop = take(verts, centres.clamp_min(0)) * valid[..., None].to(verts.dtype)   # (C, 12, 3)
    return torch.cat([verts, loop.sum(1) / valid.sum(1, keepdim=True).to(verts.dtype)])


def _check_bounds(bounds, dtype, device):
    try:
        lo = torch.as_tensor(bounds[0], dtype=torch.float64).reshape(-1)
        hi = torch.as_tensor(bounds[1], dtype=torch.float64).reshape(-1)
        ok = len(bounds) == 2 and lo.numel() == 3 and hi.numel() == 3
    except (TypeError, ValueError, IndexError):
        ok = False
    if not ok:
        raise ValueError("Expected bounds as ((xmin, ymin, zmin), (xmax, ymax, zmax)) but got %r" % (bounds,))
    if not bool(torch.isfinite(lo).all() & torch.isfinite(hi).all() & (hi > lo).all()):
        raise ValueError("Expected finite bounds with max > min on every axis but got %r" % (bounds,))
    return lo.to(device=device, dtype=dtype), hi.to(device=device, dtype=dtype)


def _point_gradient(grid, idx, h):
    """Finite-difference gradient of a grid (X, Y, Z) at the points ``idx`` (flat ids), in world
    units (spacings ``h`` (3,)): central inside, one-sided at the border. Returns (P, 3)."""
    X, Y, Z = grid.shape
    flat = grid.reshape(-1)
    coord = (idx // (Y * Z), (idx // Z) % Y, idx % Z)
    out = []
    for a, (n, stride) in enumerate(zip((X, Y, Z), (Y * Z, Z, 1))):
        up = (coord[a] < n - 1).long()
        down = (coord[a] > 0).long()
        ds = flat[idx + up * stride] - flat[idx - down * stride]
        out.append(ds / ((up + down).to(grid.dtype) * h[a]))
    return torch.stack(out, -1)


class _NormalRule(torch.autograd.Function):
    """Vertex positions whose backward is DeepMesh's rule: dL/ds(v) = -(dL/dv . n) / |grad s|, with
    n = grad s / |grad s|, spread to the two grid values that place the vertex with the
    interpolation weights (1 - t, t)."""

    @staticmethod
    def forward(ctx, grid, a, b, t, base, step, h):
        ctx.save_for_backward(grid, a, b, t, h)
        return base + t[:, None] * step

    @staticmethod
    def backward(ctx, grad_v):
        grid, a, b, t, h = ctx.saved_tensors
        g = grid.detach()
        gv = _point_gradient(g, a, h) * (1 - t)[:, None] + _point_gradient(g, b, h) * t[:, None]
        norm = gv.norm(dim=-1)
        eps = torch.finfo(gv.dtype).eps ** 0.5
        safe = norm.clamp_min(eps)
        ds = -(grad_v * gv).sum(-1) / (safe * safe)
        ds = torch.where(norm > eps, ds, torch.zeros_like(ds))  # no normal: no gradient
        grad = torch.zeros(grid.numel(), dtype=grid.dtype, device=grid.device)
        grad.index_add_(0, a, ds * (1 - t))
        grad.index_add_(0, b, ds * t)
        return grad.view_as(grid), None, None, None, None, None, None


def marching_cubes(grid, isovalue=0.0, bounds=((-0.5,) * 3, (0.5,) * 3), gradient="normal"):
    """Extracts the iso-surface ``grid == isovalue`` of a dense scalar grid as a triangle mesh.

    Grid point (i, j, k) sits at ``bounds[0] + (i, j, k) * (bounds[1] - bounds[0]) / (n - 1)``. A
    vertex is made once per grid edge whose endpoints change sign (value > iso against <= iso),
    shared by every triangle using it. The mesh is watertight wherever the surface is closed
    inside the grid (ambiguous cell faces are resolved by the sign of the face's mean, the same
    way for both cells that share the face) and wound so that normals point towards values
    greater than ``isovalue`` (outwards for an SDF that is negative inside). The mesh is
    edge-manifold: no triangle edge lies in a cell face unless an iso-line segment of the face
    joins its ends, so two neighbouring cells never draw the same chord; a cell whose surface
    loop cannot be triangulated that way (it passes through an ambiguous face twice) gets one
    extra vertex at the mean of the loop's vertices, after the edge vertices.

    Args:
        grid: (X, Y, Z) float32|float64 tensor, X, Y, Z >= 2, on cpu or cuda.
        isovalue: float.
        bounds: ((xmin, ymin, zmin), (xmax, ymax, zmax)), the box the grid spans.
        gradient: ``"normal"`` (DeepMesh: the gradient moves vertices along the surface normal,
            dL/ds = -(dL/dv . n) / |grad s| with grad s by finite differences of the grid) or
            ``"edge"`` (the exact derivative of the edge interpolation: vertices move along grid
            edges).
    Returns:
        verts (V, 3) in the grid's dtype, differentiable with respect to ``grid``;
        faces (F, 3) int64.

    Example:
        >>> x = torch.linspace(-0.5, 0.5, 64)
        >>> g = torch.stack(torch.meshgrid(x, x, x, indexing="ij"), -1).norm(dim=-1) - 0.3
        >>> verts, faces = marching_cubes(g)
    """
    _checks.tensor("grid", grid, dims=3, dtypes=_checks.FLOATS)
    if min(grid.shape) < 2:
        raise ValueError("Expected grid with at least 2 points per axis but got shape %s" % (tuple(grid.shape),))
    if gradient not in ("normal", "edge"):
        raise ValueError("Expected gradient to be 'normal' or 'edge' but got %r" % (gradient,))
    if isinstance(isovalue, torch.Tensor) and isovalue.numel() == 1 and isovalue.is_floating_point():
        isovalue = float(isovalue)
    iso = _checks.real("isovalue", isovalue)
    if grid.numel() >= 2 ** 31:
        raise ValueError("Expected grid with fewer than 2^31 points but got shape %s" % (tuple(grid.shape),))
    check_device("marching_cubes", grid)
    _checks.finite("grid", grid)
    lo, hi = _check_bounds(bounds, grid.dtype, grid.device)
    shape = torch.tensor(grid.shape, device=grid.device, dtype=grid.dtype)
    h = (hi - lo) / (shape - 1)

    edges, faces, centres = _marching_cubes_op(grid.detach().contiguous(), iso)
    X, Y, Z = grid.shape
    p, axis = edges // 3, edges % 3
    strides = torch.tensor([Y * Z, Z, 1], device=grid.device)
    a, b = p, p + strides[axis]
    ijk = torch.stack([p // (Y * Z), (p // Z) % Y, p % Z], -1).to(grid.dtype)
    base = lo + ijk * h
    step = torch.nn.functional.one_hot(axis, 3).to(grid.dtype) * h
    flat = grid.reshape(-1)
    if gradient == "edge":
        sa, sb = flat[a], flat[b]
        t = (iso - sa) / (sb - sa)
        return _with_centres(base + t[:, None] * step, centres), faces
    with torch.no_grad():
        sa, sb = flat[a], flat[b]
        t = (iso - sa) / (sb - sa)
    return _with_centres(_NormalRule.apply(grid, a, b, t, base, step, h), centres), faces
