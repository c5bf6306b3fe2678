"""Attribute interpolation over rasterized triangles (nvdiffrast's ``interpolate``)."""
import torch

from gshell import _checks
from gshell.render import _backend
from gshell.render.rasterize import check_tri


def check_rast(rast, num_tris, name="rast"):
    """Validates rast (B, H, W, 4) float32|float64 with ids in [0, num_tris]; returns it."""
    _checks.tensor(name, rast, dims=4, dtypes=_checks.FLOATS, shape=(None, None, None, 4))
    if rast.numel():
        hi = float(rast[..., 3].detach().max())
        lo = float(rast[..., 3].detach().min())
        if not (lo >= 0 and hi <= num_tris):
            raise ValueError("Expected %s[..., 3] to hold triangle ids + 1 in [0, %d] (tri has %d triangles) "
                             "but got values in [%g, %g]" % (name, num_tris, num_tris, lo, hi))
    return rast


class _Gather(torch.autograd.Function):
    """Rows of ``a`` (N, C) at ``idx`` (M,); the backward is one index_add (faster on CPU than
    the accumulating index_put of advanced indexing)."""

    @staticmethod
    def forward(ctx, a, idx):
        ctx.save_for_backward(idx)
        ctx.n = a.shape[0]
        return a.index_select(0, idx)

    @staticmethod
    def backward(ctx, g):
        (idx,) = ctx.saved_tensors
        grad = g.new_zeros((ctx.n, g.shape[-1])).index_add_(0, idx, g)
        return grad, None


def gather_rows(a, idx):
    """``a[idx]`` for a (N, C) tensor and (M,) int64 indices; differentiable w.r.t. ``a``."""
    if torch.is_grad_enabled() and a.requires_grad:
        return _Gather.apply(a, idx)
    return a.index_select(0, idx)


def interpolate(attr, rast, tri, rast_db=None, diff_attrs=None, backend="auto"):
    """Interpolates vertex attributes at every pixel with the barycentrics of ``rast``.

    nvdiffrast's ``interpolate`` (Laine et al. 2020, https://arxiv.org/abs/2011.03277): at a pixel
    covered by triangle (i0, i1, i2) with barycentrics (u, v),
    ``out = u attr[i0] + v attr[i1] + (1 - u - v) attr[i2]``; background pixels give 0.
    Differentiable with respect to ``attr`` and ``rast[..., :2]`` (hence to the positions that
    produced ``rast``).

    Args:
        attr: (V, C) or (B, V, C) float32|float64 vertex attributes, on rast's device.
        rast: (B, H, W, 4) float32|float64 from :func:`rasterize`.
        tri: (F, 3) int32|int64, the triangles given to :func:`rasterize`.
        rast_db: ignored by gshell's backend (image-space derivatives are not implemented);
            passed on to nvdiffrast.
        diff_attrs: must be None for gshell's backend (``NotImplementedError`` otherwise); passed
            on to nvdiffrast.
        backend: "auto", "gshell" or "nvdiffrast" (see :func:`rasterize`).
    Returns:
        out: (B, H, W, C) in attr's dtype (float32 from nvdiffrast);
        out_da: an empty tensor (nvdiffrast: the image-space derivatives of ``diff_attrs``).

    Example:
        >>> color, _ = interpolate(vertex_colors, rast, faces)
    """
    _checks.tensor("attr", attr, dtypes=_checks.FLOATS)
    if attr.dim() not in (2, 3):
        raise ValueError("Expected attr of shape (V, C) or (B, V, C) but got %s" % _checks._desc(attr))
    _checks.tensor("rast", rast, dims=4, dtypes=_checks.FLOATS, shape=(None, None, None, 4), device=attr.device)
    V = attr.shape[-2]
    if isinstance(tri, torch.Tensor) and tri.numel() and not tri.is_floating_point() and tri.dim() == 2 \
            and int(tri.max()) >= V and int(tri.min()) >= 0:
        raise ValueError("Expected attr with a row for each vertex tri uses (at least %d) but got %s"
                         % (int(tri.max()) + 1, _checks._desc(attr)))
    check_tri(tri, V, attr.device)
    check_rast(rast, tri.shape[0])
    B, H, W, _ = rast.shape
    if attr.dim() == 3 and attr.shape[0] not in (1, B):
        raise ValueError("Expected attr of shape (V, C) or (%d, V, C) (the views of rast) but got %s"
                         % (B, _checks._desc(attr)))
    _checks.finite("attr", attr)
    which = _backend.choose(backend, attr.device)
    if which == "nvdiffrast":
        dr = _backend.nvdiffrast()
        a = attr.float().contiguous()
        if a.dim() == 3 and a.shape[0] == 1 and B > 1:
            a = a.expand(B, -1, -1).contiguous()
        return dr.interpolate(a, rast.float().contiguous(), tri.int().contiguous(), rast_db=rast_db,
                              diff_attrs=diff_attrs)
    if diff_attrs is not None:
        raise NotImplementedError("gshell's interpolate does not compute image-space attribute derivatives "
                                  "(diff_attrs); use backend='nvdiffrast' on CUDA or diff_attrs=None")
    C = attr.shape[-1]
    ids = rast[..., 3].detach().reshape(-1).long() - 1
    sel = (ids >= 0).nonzero().squeeze(1)
    vi = tri.long().index_select(0, ids.index_select(0, sel))  # (N, 3)
    if attr.dim() == 3 and attr.shape[0] == B and B > 1:
        vi = vi + (sel // (H * W) * V)[:, None]
    g = gather_rows(attr.reshape(-1, C), vi.reshape(-1)).view(-1, 3, C)
    uv = rast.reshape(-1, 4).index_select(0, sel)[:, :2].to(attr.dtype)
    w = torch.cat([uv, 1 - uv.sum(1, keepdim=True)], 1)  # (N, 3)
    val = torch.bmm(w[:, None, :], g).squeeze(1)
    out = attr.new_zeros((B * H * W, C)).index_copy(0, sel, val)
    return out.view(B, H, W, C), attr.new_empty(0)
