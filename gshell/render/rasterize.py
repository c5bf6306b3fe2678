"""Rasterization with nvdiffrast's conventions: the closest triangle per pixel and its
perspective-correct barycentrics, differentiable with respect to the vertex positions.

API and semantics follow nvdiffrast's ``rasterize`` (Laine et al., "Modular Primitives for
High-Performance Differentiable Rendering", SIGGRAPH Asia 2020, https://arxiv.org/abs/2011.03277);
the CPU/CUDA kernel is gshell's own (csrc/rasterize).
"""
import torch
from torch import Tensor

from gshell import _checks
from gshell._ext import check_device, ext
from gshell.render import _backend

_MAX_RES = 16384


@torch.library.custom_op("gshell::rasterize", mutates_args=())
def _rasterize_op(pos: Tensor, tri: Tensor, height: int, width: int) -> Tensor:
    return ext().rasterize(pos, tri, height, width)


@_rasterize_op.register_fake
def _(pos, tri, height, width):
    return pos.new_empty((pos.shape[0], height, width, 4))


def check_resolution(resolution):
    """Returns (H, W) from ``resolution`` or raises TypeError/ValueError."""
    try:
        ok = len(resolution) == 2
    except TypeError:
        ok = False
    if not ok:
        raise TypeError("Expected resolution as (height, width) but got %r" % (resolution,))
    out = []
    for r in resolution:
        if isinstance(r, torch.Tensor) and r.numel() == 1 and not r.is_floating_point():
            r = int(r)
        if isinstance(r, bool) or not isinstance(r, int):
            raise TypeError("Expected resolution as two ints (height, width) but got %r" % (resolution,))
        if not 1 <= r <= _MAX_RES:
            raise ValueError("Expected resolution entries in [1, %d] but got %r" % (_MAX_RES, tuple(resolution)))
        out.append(r)
    return out[0], out[1]


def check_tri(tri, num_verts, device, name="tri"):
    """Validates ``tri`` (F, 3) int32|int64 with indices in [0, num_verts), F >= 1; returns it."""
    _checks.tensor(name, tri, dims=2, dtypes=_checks.INTS, shape=(None, 3), device=device)
    if tri.shape[0] == 0:
        raise ValueError("Expected %s with at least one triangle but got shape %s" % (name, tuple(tri.shape)))
    if tri.shape[0] >= 1 << 24:
        raise ValueError("Expected fewer than 2^24 triangles (ids are stored as floats in rast) but got %d"
                         % tri.shape[0])
    _checks.index_range(name, tri, num_verts)
    return tri


def check_pos(pos, name="pos"):
    """Validates clip-space positions (B, V, 4) float32|float64, finite; returns it."""
    _checks.tensor(name, pos, dims=3, dtypes=_checks.FLOATS, shape=(None, None, 4))
    if pos.shape[0] == 0 or pos.shape[1] == 0:
        raise ValueError("Expected %s of shape (B, V, 4) with B, V >= 1 but got %s" % (name, _checks._desc(pos)))
    _checks.finite(name, pos)
    return pos


def barycentrics(pos, tri, rast):
    """Differentiable u, v, z/w of the covered pixels of ``rast``, recomputed from its triangle ids.

    The same formula as the kernel (homogeneous rasterization): with the clip vertices
    v_i = (x_i, y_i, w_i) and the pixel centre p = (px, py, 1), E_i = p . (v_{i+1} x v_{i+2}),
    u = E_0 / sum(E), v = E_1 / sum(E), z/w = sum(E_i z_i) / sum(E_i w_i).

    Args:
        pos: (B, V, 4) float32|float64 clip-space positions (may require grad).
        tri: (F, 3) int64.
        rast: (B, H, W, 4), triangle id + 1 in channel 3 (only that channel is read).
    Returns:
        (B, H, W, 4) in pos's dtype: u, v, z/w differentiable w.r.t. ``pos`` (0 on background),
        and rast's channel 3.
    """
    B, H, W, _ = rast.shape
    V = pos.shape[1]
    ids = rast[..., 3].detach().reshape(-1).round().long() - 1
    sel = (ids >= 0).nonzero().squeeze(1)
    f = ids.index_select(0, sel)
    b = sel // (H * W)
    y = (sel // W) % H
    x = sel % W
    dt = pos.dtype
    px = ((2 * x + 1).to(dt) / W - 1)[:, None]
    py = ((2 * y + 1).to(dt) / H - 1)[:, None]
    vid = (tri.index_select(0, f) + (b * V)[:, None]).reshape(-1)
    q = pos.reshape(-1, 4).index_select(0, vid).view(-1, 3, 4)  # (N, 3, 4)
    X, Y, Z, Wc = q.unbind(-1)
    Xj, Yj, Wj = X.roll(-1, 1), Y.roll(-1, 1), Wc.roll(-1, 1)
    Xk, Yk, Wk = X.roll(-2, 1), Y.roll(-2, 1), Wc.roll(-2, 1)
    E = (Yj * Wk - Wj * Yk) * px + (Wj * Xk - Xj * Wk) * py + (Xj * Yk - Yj * Xk)
    S, D = E.sum(1), (E * Wc).sum(1)
    # near-degenerate triangles: where pos's precision cannot reproduce the kernel's (double)
    # values, the pixel keeps the kernel's u, v, z/w, without a gradient (and no inf or NaN)
    ref = rast.detach().reshape(-1, 4).index_select(0, sel)[:, :3].to(dt)
    with torch.no_grad():
        bad = ~((torch.stack([E[:, 0] / S, E[:, 1] / S, (E * Z).sum(1) / D], -1) - ref).abs()
                <= 1e-3).all(-1)
    one = torch.ones_like(S)
    S, D = torch.where(bad, one, S), torch.where(bad, one, D)  # no inf in the backward either
    uvz = torch.where(bad[:, None], ref, torch.stack([E[:, 0] / S, E[:, 1] / S, (E * Z).sum(1) / D], -1))
    out = pos.new_zeros((B * H * W, 3)).index_copy(0, sel, uvz)
    return torch.cat([out.view(B, H, W, 3), rast[..., 3:].detach().to(dt)], -1)


def rasterize(pos, tri, resolution, backend="auto"):
    """Rasterizes triangles: for every pixel, the closest triangle and its barycentrics.

    The primitive of nvdiffrast (Laine et al. 2020, https://arxiv.org/abs/2011.03277) with its
    conventions: pixel (px, py) of an H x W image has its centre at NDC
    x = (2 px + 1) / W - 1, y = (2 py + 1) / H - 1, and row 0 is y = -1 (OpenGL's bottom row). The
    barycentrics are perspective-correct, position = u v0 + v v1 + (1 - u - v) v2. The depth test
    keeps the smallest z/w (ties: the smaller triangle id); there is no back-face culling; a pixel
    is covered only where the point of the triangle under it has w > 0 and -1 <= z/w <= 1
    (clipping to the view frustum). Degenerate triangles cover nothing.

    Gradients reach ``pos`` through u, v and z/w, as in nvdiffrast (the triangle ids are
    piecewise constant: visibility changes are handled by :func:`antialias`). Unlike nvdiffrast,
    only ``rast`` is returned (no ``rast_db``).

    Args:
        pos: (B, V, 4) float32|float64 clip-space vertex positions (e.g. from
            :func:`gshell.render.transform_pos`), finite, on cpu or cuda.
        tri: (F, 3) int32|int64 on pos's device, indices in [0, V), 1 <= F < 2^24.
        resolution: (height, width), ints in [1, 16384].
        backend: "auto" (nvdiffrast when ``nvdiffrast.torch`` imports and the tensors are on CUDA,
            gshell's kernel otherwise), "gshell" or "nvdiffrast".
    Returns:
        rast: (B, H, W, 4) in pos's dtype (float32 from nvdiffrast): u, v, z/w and triangle id + 1;
        0 for all four channels where no triangle covers the pixel.

    Example:
        >>> mvp, _ = views_on_sphere(4, radius=3.0)
        >>> rast = rasterize(transform_pos(mvp, verts), faces, (256, 256))
    """
    check_pos(pos)
    check_tri(tri, pos.shape[1], pos.device)
    H, W = check_resolution(resolution)
    which = _backend.choose(backend, pos.device)
    if which == "nvdiffrast":
        dr = _backend.nvdiffrast()
        rast, _ = dr.rasterize(_backend.cuda_context(pos.device), pos.float().contiguous(),
                               tri.int().contiguous(), resolution=[H, W], grad_db=False)
        return rast
    check_device("rasterize", pos)
    tri32 = tri.int().contiguous()
    rast = _rasterize_op(pos.detach().contiguous(), tri32, H, W)
    if torch.is_grad_enabled() and pos.requires_grad:
        rast = barycentrics(pos, tri.long(), rast)
    return rast
