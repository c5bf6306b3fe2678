"""Analytic antialiasing of silhouette edges, in the spirit of nvdiffrast's ``antialias``
(Laine et al. 2020, https://arxiv.org/abs/2011.03277, section 4): visibility discontinuities get a
coverage-weighted blend whose weight depends on where the silhouette edge crosses between pixel
centres, so that gradients reach the vertex positions through the silhouettes."""
from dataclasses import dataclass, field

import torch
from torch import Tensor

from gshell import _checks
from gshell._gather import take
from gshell.render import _backend
from gshell.render.interpolate import check_rast
from gshell.render.rasterize import check_pos, check_tri


@dataclass(eq=False)
class EdgeTopology:
    """Edge topology of a triangle mesh for :func:`antialias` (nvdiffrast's "topology hash").

    Attributes:
        tri: (F, 3) int64, the triangles it was built from.
        edges: (E, 2) int64 vertex ids, ``edges[:, 0] < edges[:, 1]``.
        face_edges: (F, 3) int64, edge k of face f joins ``tri[f, k]`` and ``tri[f, (k + 1) % 3]``.
        edge_faces: (E, 2) int64, the first two faces of each edge (by id), -1 where missing.
        edge_count: (E,) int64, faces per edge (1: boundary, 2: manifold, more: non-manifold).
    """
    tri: Tensor
    edges: Tensor
    face_edges: Tensor
    edge_faces: Tensor
    edge_count: Tensor
    _nvdiffrast_hash: object = field(default=None, repr=False)

    def nvdiffrast_hash(self):
        """nvdiffrast's own topology hash of the same triangles (built once, CUDA only)."""
        if self._nvdiffrast_hash is None:
            self._nvdiffrast_hash = _backend.nvdiffrast().antialias_construct_topology_hash(self.tri.int().contiguous())
        return self._nvdiffrast_hash


def edge_topology(tri):
    """Builds the edge topology of ``tri`` once, for reuse by every :func:`antialias` call.

    Args:
        tri: (F, 3) int32|int64, F >= 1, non-negative indices.
    Returns:
        :class:`EdgeTopology` on tri's device.

    Example:
        >>> topo = edge_topology(faces)
        >>> img = antialias(color, rast, pos, faces, topology_hash=topo)
    """
    _checks.tensor("tri", tri, dims=2, dtypes=_checks.INTS, shape=(None, 3))
    if tri.shape[0] == 0:
        raise ValueError("Expected tri with at least one triangle but got shape %s" % (tuple(tri.shape),))
    t = tri.long().contiguous()
    if int(t.min()) < 0:
        raise ValueError("Expected tri to hold non-negative indices but got a minimum of %d" % int(t.min()))
    F = t.shape[0]
    V = int(t.max()) + 1
    a, b = t, t.roll(-1, 1)
    key = (torch.minimum(a, b) * V + torch.maximum(a, b)).reshape(-1)
    uniq, inverse, count = torch.unique(key, return_inverse=True, return_counts=True)
    edges = torch.stack([uniq // V, uniq % V], -1)
    order = torch.sort(inverse, stable=True).indices  # directed edges grouped by edge, faces in id order
    start = torch.cumsum(count, 0) - count
    face_of = order // 3
    first = face_of[start]
    second = torch.where(count >= 2, face_of[(start + 1).clamp_max(order.numel() - 1)], torch.full_like(first, -1))
    return EdgeTopology(tri=t, edges=edges, face_edges=inverse.view(F, 3),
                        edge_faces=torch.stack([first, second], -1), edge_count=count)


def _check_topology(topo, tri):
    if topo is None:
        return edge_topology(tri)
    if not isinstance(topo, EdgeTopology):
        raise TypeError("Expected topology_hash to be an EdgeTopology from gshell.render.edge_topology(tri) "
                        "but got %s" % type(topo).__name__)
    if topo.tri.shape != tri.shape or topo.tri.device != tri.device or not torch.equal(topo.tri, tri.long()):
        raise ValueError("Expected topology_hash built from the same tri (F = %d) but it was built from "
                         "other triangles (F = %d)" % (tri.shape[0], topo.tri.shape[0]))
    return topo


def _orientation(pos, tri):
    """Screen-space orientation of every face in every view, (B, F) in {-1, 0, 1}:
    sign(det(M)) = sign(projected signed area) * sign(w0 w1 w2)."""
    B, V, _ = pos.shape
    P = pos.reshape(-1, 4)
    w = P[:, 3]
    sw = torch.sign(w)
    xy = P[:, :2] / torch.where(w == 0, torch.ones_like(w), w)[:, None]
    vid = (tri[None] + (torch.arange(B, device=pos.device) * V).view(B, 1, 1)).reshape(-1)
    q = xy.index_select(0, vid).view(B, -1, 3, 2)
    d1, d2 = q[:, :, 1] - q[:, :, 0], q[:, :, 2] - q[:, :, 0]
    area = d1[..., 0] * d2[..., 1] - d1[..., 1] * d2[..., 0]
    s = sw.index_select(0, vid).view(B, -1, 3).prod(-1)
    return torch.sign(area) * s


def _pairs(ids, depth, axis):
    """Adjacent pixel pairs along ``axis`` (1: rows, vertical; 2: columns, horizontal) whose ids
    differ: flat indices (p, q) with p the closer one (background is farthest, ties: smaller id)."""
    B, H, W = ids.shape
    if axis == 2:
        m = ids[:, :, :-1] != ids[:, :, 1:]
        step = 1
    else:
        m = ids[:, :-1, :] != ids[:, 1:, :]
        step = W
    nz = m.nonzero()
    a = (nz[:, 0] * H + nz[:, 1]) * W + nz[:, 2]
    b = a + step
    fi, fd = ids.reshape(-1), depth.reshape(-1)
    ia, ib = fi.index_select(0, a), fi.index_select(0, b)
    da, db = fd.index_select(0, a), fd.index_select(0, b)
    a_first = (da < db) | ((da == db) & (ia < ib))
    return torch.where(a_first, a, b), torch.where(a_first, b, a)


def antialias(color, rast, pos, tri, topology_hash=None, pos_gradient_boost=1.0, backend="auto"):
    """Antialiases the silhouette edges of a rendered image, differentiably.

    In the spirit of nvdiffrast's ``antialias`` (Laine et al. 2020,
    https://arxiv.org/abs/2011.03277), gshell's own formulation: for every horizontally or
    vertically adjacent pixel pair whose triangle ids differ, T is the closer triangle (background
    is farthest) at pixel p and q the other pixel. If the edge of T through which the segment from
    p's centre to q's centre leaves T is a silhouette edge in this view (an edge with one adjacent
    triangle, or more than two, or whose two triangles face opposite ways on screen) and the pair
    runs across the edge (horizontal pairs for edges closer to vertical on screen, vertical pairs
    otherwise, as in nvdiffrast, so that no edge is counted twice), the edge crosses
    the segment at fraction t from p (from the projected edge endpoints, differentiable w.r.t.
    ``pos``) and the pair is blended as if T covered the pixel boxes up to the edge:
    t > 1/2: q gets (t - 1/2) (color_p - color_q); t < 1/2: p gets (1/2 - t) (color_q - color_p).
    Contributions of the (up to four) pairs of a pixel add up. Edges with an endpoint at w <= 0
    are skipped.

    Args:
        color: (B, H, W, C) float32|float64, the image to antialias (e.g. from :func:`interpolate`).
        rast: (B, H, W, 4) from :func:`rasterize` of ``pos`` and ``tri``.
        pos: (B, V, 4) float32|float64 clip-space positions, the ones given to :func:`rasterize`.
        tri: (F, 3) int32|int64.
        topology_hash: an :class:`EdgeTopology` from :func:`edge_topology` of ``tri`` (built here
            when None; build it once when ``tri`` does not change).
        pos_gradient_boost: float, multiplies the gradient that reaches ``pos`` (not the output).
        backend: "auto", "gshell" or "nvdiffrast" (see :func:`rasterize`).
    Returns:
        (B, H, W, C) in color's dtype, differentiable w.r.t. ``color`` and ``pos``.

    Example:
        >>> img = antialias(color, rast, pos, faces, topology_hash=edge_topology(faces))
    """
    _checks.tensor("rast", rast, dims=4, dtypes=_checks.FLOATS, shape=(None, None, None, 4))
    _checks.tensor("color", color, dims=4, dtypes=_checks.FLOATS, device=rast.device)
    if tuple(color.shape[:3]) != tuple(rast.shape[:3]):
        raise ValueError("Expected color of shape (%d, %d, %d, C) (the views and pixels of rast) but got %s"
                         % (tuple(rast.shape[:3]) + (_checks._desc(color),)))
    check_pos(pos)
    _checks.tensor("pos", pos, device=color.device)
    if pos.shape[0] != color.shape[0]:
        raise ValueError("Expected pos of shape (%d, V, 4) (the views of color) but got %s"
                         % (color.shape[0], _checks._desc(pos)))
    check_tri(tri, pos.shape[1], color.device)
    check_rast(rast, tri.shape[0])
    boost = _checks.real("pos_gradient_boost", pos_gradient_boost, lo=0)
    _checks.finite("color", color)
    which = _backend.choose(backend, color.device)
    if which == "nvdiffrast":
        dr = _backend.nvdiffrast()
        h = topology_hash.nvdiffrast_hash() if isinstance(topology_hash, EdgeTopology) else topology_hash
        return dr.antialias(color.float().contiguous(), rast.float().contiguous(), pos.float().contiguous(),
                            tri.int().contiguous(), topology_hash=h, pos_gradient_boost=boost)
    topo = _check_topology(topology_hash, tri)
    B, H, W, C = color.shape
    with torch.no_grad():
        ids = rast[..., 3].long() - 1
        depth = torch.where(ids >= 0, rast[..., 2], torch.full_like(rast[..., 2], float("inf")))
        P = pos.detach()
        orient = _orientation(P, topo.tri)  # (B, F)
        ef = topo.edge_faces
        f2 = ef[:, 1].clamp_min(0)
        sil_edge = (topo.edge_count != 2) | (orient.index_select(1, ef[:, 0]) != orient.index_select(1, f2))  # (B, E)
        face_sil = sil_edge.index_select(1, topo.face_edges.reshape(-1)).view(B, -1, 3)
        face_any = face_sil.any(-1).reshape(-1)  # (B * F,)
        F = topo.tri.shape[0]
        ps, qs, ks = [], [], []
        for axis in (2, 1):
            p, q = _pairs(ids, depth, axis)
            T = ids.reshape(-1).index_select(0, p)
            keep = face_any.index_select(0, (p // (H * W)) * F + T)
            ps.append(p[keep])
            qs.append(q[keep])
            ks.append(torch.full_like(p[keep], 0 if axis == 2 else 1))
        p, q, k = torch.cat(ps), torch.cat(qs), torch.cat(ks)
        b = p // (H * W)
        T = ids.reshape(-1)[p]
        # The three edges of T: projected endpoints, along-axis (k) and across-axis (o) coordinates.
        ev = topo.edges[topo.face_edges[T]]  # (N, 3, 2)
        A = P[b[:, None], ev[..., 0]]  # (N, 3, 4)
        Bv = P[b[:, None], ev[..., 1]]
        t, valid = _crossing(A, Bv, p, q, k, H, W)
        t = torch.where(valid, t, torch.full_like(t, float("inf")))
        tmin, j = t.min(1)
        sil = face_sil.reshape(B * F, 3)[b * F + T].gather(1, j[:, None]).squeeze(1)
        # Each edge is handled by the pairs across it: horizontal pairs for edges closer to
        # vertical on screen (in pixels), vertical pairs otherwise, so that no edge counts twice.
        idx = j[:, None, None].expand(-1, 1, 4)
        ea, eb = A.gather(1, idx).squeeze(1), Bv.gather(1, idx).squeeze(1)
        wa = torch.where(ea[:, 3] > 0, ea[:, 3], torch.ones_like(ea[:, 3]))
        wb = torch.where(eb[:, 3] > 0, eb[:, 3], torch.ones_like(eb[:, 3]))
        dx = (eb[:, 0] / wb - ea[:, 0] / wa).abs() * W
        dy = (eb[:, 1] / wb - ea[:, 1] / wa).abs() * H
        steep = dy >= dx
        ok = torch.isfinite(tmin) & sil & torch.where(k == 0, steep, ~steep)
        p, q, k, b, j = p[ok], q[ok], k[ok], b[ok], j[ok]
        e = ev[ok].gather(1, j[:, None, None].expand(-1, 1, 2)).squeeze(1)  # (N, 2)
    # Differentiable crossing of the chosen edges.
    ends = take(pos.reshape(-1, 4), b[:, None] * pos.shape[1] + e)  # (N, 2, 4)
    t, _ = _crossing(ends[:, :1], ends[:, 1:], p, q, k, H, W)
    t = t.squeeze(1).to(color.dtype)
    if boost != 1.0:
        t = t.detach() + boost * (t - t.detach())
    cflat = color.reshape(-1, C)
    cp, cq = take(cflat, p), take(cflat, q)
    far = t > 0.5
    dst = torch.where(far, q, p)
    w = torch.where(far, t - 0.5, 0.5 - t)
    delta = torch.where(far[:, None], cp - cq, cq - cp) * w[:, None]
    return cflat.index_add(0, dst, delta).view(B, H, W, C)


def _crossing(A, Bv, p, q, k, H, W):
    """Fraction t along the segment from pixel centre p to pixel centre q (flat ids, k = 0:
    horizontal pair, 1: vertical) where the projected edges A -> B (N, M, 4 clip) cross it.
    Returns t (N, M) and valid (N, M): the edge crosses the segment's line within the edge,
    at 0 <= t <= 1, both endpoints with w > 0."""
    dt = A.dtype
    HW = H * W
    yp, xp = (p % HW) // W, p % W
    yq, xq = (q % HW) // W, q % W
    cp = torch.stack([(2 * xp + 1).to(dt) / W - 1, (2 * yp + 1).to(dt) / H - 1], -1)  # (N, 2)
    cq = torch.stack([(2 * xq + 1).to(dt) / W - 1, (2 * yq + 1).to(dt) / H - 1], -1)
    kk = k[:, None]
    oo = 1 - kk
    good = (A[..., 3] > 0) & (Bv[..., 3] > 0)
    wa = torch.where(good, A[..., 3], torch.ones_like(A[..., 3]))
    wb = torch.where(good, Bv[..., 3], torch.ones_like(Bv[..., 3]))
    a2 = A[..., :2] / wa[..., None]
    b2 = Bv[..., :2] / wb[..., None]
    a_k, a_o = a2.gather(-1, kk[:, :, None].expand(-1, a2.shape[1], 1)).squeeze(-1), \
        a2.gather(-1, oo[:, :, None].expand(-1, a2.shape[1], 1)).squeeze(-1)
    b_k, b_o = b2.gather(-1, kk[:, :, None].expand(-1, b2.shape[1], 1)).squeeze(-1), \
        b2.gather(-1, oo[:, :, None].expand(-1, b2.shape[1], 1)).squeeze(-1)
    c_o = cp.gather(1, oo)  # (N, 1)
    p_k, q_k = cp.gather(1, kk), cq.gather(1, kk)
    den = b_o - a_o
    nz = den != 0
    s = (c_o - a_o) / torch.where(nz, den, torch.ones_like(den))
    x = a_k + s * (b_k - a_k)
    t = (x - p_k) / (q_k - p_k)
    valid = good & nz & (s >= 0) & (s <= 1) & (t >= 0) & (t <= 1)
    return t, valid
