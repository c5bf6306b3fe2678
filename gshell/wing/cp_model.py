"""A point-wise Cp model with attention over each point's grid neighbourhood.

The model of "Incorporating Riemannian Geometric Features for Learning Coefficient of Pressure
Distributions on Airplane Wings" (Hu, Wang, Xiang, Sommer, https://arxiv.org/abs/2401.09452) in
a small form: every point of a structured wing grid gets an embedding of its normalised
coordinates, the flight condition (Mach, angle of attack) and, optionally, the Riemannian
geometric features of the surface at that point (:func:`geometric_features`); one multi-head
attention layer lets each point attend to its grid neighbourhood (a stencil of rows x columns
around it, wrapping around the closed chordwise loop), with a learned encoding of the neighbours'
relative positions; an MLP head gives Cp.

Grids follow the wing dataset layout: ``points`` (W, n_span, n_chord, 3), axis 1 spanwise (open),
axis 2 chordwise, a closed loop (upper trailing edge -> leading edge -> lower trailing edge, the
closing point not repeated); x downstream, y spanwise, z up.
"""
import math

import torch
from torch import Tensor, nn

from gshell import _checks

__all__ = ["geometric_features", "normalised_coordinates", "neighbourhood", "CpNet",
           "FEATURE_NAMES", "COORDINATE_NAMES"]

FEATURE_NAMES = ("log_E", "log_G", "cos_uv",
                 "gamma1_11", "gamma1_12", "gamma1_22", "gamma2_11", "gamma2_12", "gamma2_22",
                 "K_c2", "H_c", "n_x", "n_y", "n_z")
COORDINATE_NAMES = ("x_c", "z_c", "eta", "x_b", "z_b")


def _check_points(points, name="points"):
    _checks.tensor(name, points, dtypes=_checks.FLOATS)
    if points.dim() != 4 or points.shape[-1] != 3:
        raise ValueError("Expected %s of shape (W, n_span, n_chord, 3) but got %s"
                         % (name, _checks._desc(points)))
    if points.shape[1] < 4 or points.shape[2] < 8:
        raise ValueError("Expected %s with at least 4 span stations and 8 chordwise points but got %s"
                         % (name, _checks._desc(points)))
    _checks.finite(name, points)


def _sections(p):
    """Trailing edge, leading edge and chord of each section of p (W, NU, NV, 3).

    The trailing edge is the midpoint of the loop's first and last points, the leading edge the
    loop point farthest from it, the chord their distance. Returns te, le (W, NU, 3), chord (W, NU).
    """
    te = 0.5 * (p[:, :, 0] + p[:, :, -1])
    d = (p - te[:, :, None]).norm(dim=-1)
    j = d.argmax(dim=-1)
    le = torch.gather(p, 2, j[:, :, None, None].expand(-1, -1, 1, 3)).squeeze(2)
    chord = (le - te).norm(dim=-1)
    return te, le, chord


def normalised_coordinates(points: Tensor) -> Tensor:
    """Coordinates of each grid point made dimensionless by the local chord and the semispan.

    Channels (:data:`COORDINATE_NAMES`): ``x_c = (x - x_le)/c`` and ``z_c = (z - z_le)/c`` with
    the section's leading edge and chord ``c`` (position along and across the local section),
    ``eta = (y - y_root)/b`` the span fraction (``b`` = tip minus root y of the leading edges), and
    ``x_b = (x - x_le,root)/b``, ``z_b = (z - z_le,root)/b`` (the planform: sweep, taper and
    dihedral). Unchanged by a uniform scaling and a translation of a wing.

    Args:
        points: (W, n_span, n_chord, 3) float32|float64 tensor, as in the module docstring.

    Returns:
        (W, n_span, n_chord, 5) tensor in the dtype of ``points``.
    """
    _check_points(points)
    p = points.detach()
    _, le, chord = _sections(p)
    if not bool((chord > 0).all()):
        raise ValueError("Expected points with sections of positive chord but a section collapses "
                         "to a point")
    b = (le[:, -1, 1] - le[:, 0, 1]).abs()
    if not bool((b > 0).all()):
        raise ValueError("Expected points whose root and tip sections differ in y (the span) but "
                         "got a wing of zero span")
    c = chord[:, :, None]
    x_c = (p[..., 0] - le[:, :, None, 0]) / c
    z_c = (p[..., 2] - le[:, :, None, 2]) / c
    bb = b[:, None, None]
    eta = (p[..., 1] - le[:, 0, None, None, 1]) / bb
    x_b = (p[..., 0] - le[:, 0, None, None, 0]) / bb
    z_b = (p[..., 2] - le[:, 0, None, None, 2]) / bb
    return torch.stack([x_c, z_c, eta, x_b, z_b], dim=-1)


def geometric_features(points: Tensor, periodic_chord: bool = True,
                       check_folds: bool = True) -> Tensor:
    """Riemannian features of wing grids, dimensionless and compressed to O(1) ranges.

    From :func:`gshell.riemann.grid_features` (the grid index as the chart), with ``c`` the local
    chord of each section (see :func:`normalised_coordinates`):

    - metric: ``log(E/c^2)``, ``log(G/c^2)`` (grid spacing along span and chord, which spans
      decades between the leading edge and mid-chord, hence the log) and ``F/sqrt(EG)`` (the
      cosine of the angle between the grid lines);
    - the 6 independent Christoffel symbols ``Gamma^k_ij`` (k, i<=j), mapped by ``asinh``: they
      are invariant under scaling (``g^kl`` scales as 1/s^2, ``x_ij . x_l`` as s^2) but large
      where the spacing changes fast;
    - ``asinh(K c^2)`` (intrinsic Gaussian curvature) and ``asinh(H c)`` (mean curvature), made
      dimensionless by the chord and compressed (the leading edge radius is ~1% of the chord);
    - the unit normal ``(n_x, n_y, n_z)`` (outward for the dataset's loop orientation).

    All but the normals are unchanged by a rigid motion and a uniform scaling of a wing; normals
    rotate with it. Not differentiable (the features are inputs, not parameters).

    The chordwise loop is periodic by default (stencils wrap round the trailing edge, as the
    issue asks for the closed section loop). A sharp trailing edge is a corner of the surface: the
    stencils there straddle upper and lower surfaces, so the two or three points next to it carry
    the corner's large curvature (compressed by asinh), and a grid whose normal turns by more than
    90 degrees there is rejected as a fold by ``grid_features`` unless ``check_folds=False``.
    ``periodic_chord=False`` differences the loop as an open line instead (one-sided stencils at
    the trailing edge).

    Args:
        points: (W, n_span, n_chord, 3) float32|float64 tensor (see the module docstring); at
            least 4 span stations and 8 chordwise points, finite, a regular grid.
        periodic_chord: bool, wrap the chordwise stencils round the loop (default True).
        check_folds: bool, passed to ``grid_features``: False accepts sharp trailing edges whose
            normal reverses in one grid step (a fold cannot then be told from the crease).

    Returns:
        (W, n_span, n_chord, 14) tensor in the dtype of ``points``, channels
        :data:`FEATURE_NAMES`.

    Raises:
        TypeError, ValueError: as :func:`gshell.riemann.grid_features`, naming ``points``.
    """
    from gshell.riemann import grid_features

    _check_points(points)
    p = points.detach().to(torch.float64)  # second differences lose digits in float32
    if not isinstance(periodic_chord, bool):
        raise TypeError("Expected periodic_chord to be a bool but got %r" % (periodic_chord,))
    try:
        f = grid_features(p, periodic_v=periodic_chord, check_folds=check_folds)
    except ValueError as e:  # name the wing: points[w, i, j]
        raise ValueError(str(e).replace("points to be", "every wing grid in points to be")) from None
    _, _, chord = _sections(p)
    c = chord[:, :, None]
    g = f["metric"]
    e, fm, gg = g[..., 0, 0], g[..., 0, 1], g[..., 1, 1]
    gam = f["christoffel"]
    gammas = [gam[..., k, i, j] for k in (0, 1) for (i, j) in ((0, 0), (0, 1), (1, 1))]
    out = [torch.log(e / c ** 2), torch.log(gg / c ** 2), fm / torch.sqrt(e * gg)]
    out += [torch.asinh(x) for x in gammas]
    out += [torch.asinh(f["gaussian_curvature"] * c ** 2), torch.asinh(f["mean_curvature"] * c)]
    out += [f["normals"][..., i] for i in range(3)]
    return torch.stack(out, dim=-1).to(points.dtype)


def neighbourhood(n_span: int, n_chord: int, radius_span: int = 1, radius_chord: int = 1):
    """The stencil neighbours of every point of an (n_span, n_chord) grid, chordwise periodic.

    Args:
        n_span, n_chord: grid size (rows open, columns a closed loop).
        radius_span, radius_chord: the stencil is (2 radius_span + 1) x (2 radius_chord + 1).

    Returns:
        idx: (n_span * n_chord, K) int64, flat indices ``i * n_chord + j`` of the neighbours
            (K = stencil size; the point itself included), and
        valid: (n_span * n_chord, K) bool, False where a row offset falls off the open span edge
            (idx is clamped there).
    """
    for name, v, lo in (("n_span", n_span, 1), ("n_chord", n_chord, 1),
                        ("radius_span", radius_span, 0), ("radius_chord", radius_chord, 0)):
        if not isinstance(v, int) or isinstance(v, bool) or v < lo:
            raise ValueError("Expected %s to be an int >= %d but got %r" % (name, lo, v))
    if 2 * radius_chord + 1 > n_chord:
        raise ValueError("Expected a chordwise stencil (2 radius_chord + 1 = %d) no wider than "
                         "n_chord = %d" % (2 * radius_chord + 1, n_chord))
    di = torch.arange(-radius_span, radius_span + 1)
    dj = torch.arange(-radius_chord, radius_chord + 1)
    oi, oj = torch.meshgrid(di, dj, indexing="ij")
    oi, oj = oi.reshape(-1), oj.reshape(-1)
    i = torch.arange(n_span)[:, None, None] + oi
    j = (torch.arange(n_chord)[None, :, None] + oj) % n_chord
    valid = (i >= 0) & (i < n_span)
    idx = i.clamp(0, n_span - 1) * n_chord + j
    return idx.reshape(n_span * n_chord, -1), valid.expand(n_span, n_chord, -1).reshape(
        n_span * n_chord, -1)


class _NeighbourAttention(nn.Module):
    """Multi-head dot-product attention of each query point over its K stencil neighbours.

    Keys and values of a neighbour are shifted by its relative position encoding: a learned
    vector per stencil offset (as Swin's relative position bias, but on keys and values) plus a
    linear map of its actual offset in the normalised coordinates (the grid is not uniform)."""

    def __init__(self, width, heads, pos_dim, n_offsets):
        super().__init__()
        if width % heads:
            raise ValueError("Expected width divisible by heads but got width=%d, heads=%d"
                             % (width, heads))
        self.heads = heads
        self.q = nn.Linear(width, width)
        self.kv = nn.Linear(width, 2 * width)
        self.pos = nn.Linear(pos_dim, 2 * width, bias=False)
        self.offset = nn.Parameter(torch.zeros(n_offsets, 2 * width))
        self.out = nn.Linear(width, width)

    def forward(self, h_query, kv_nbr, valid):
        # h_query (B, P, D); kv_nbr (B, P, K, 2D): self.kv(h) + self.pos(rel) of the neighbours
        # (both linear and point-wise or differences, so formed on the grid before the gather:
        # see CpNet.forward); valid (B, P, K) bool
        b, p, k, d2 = kv_nbr.shape
        d = d2 // 2
        nh, dh = self.heads, d // self.heads
        q = self.q(h_query).reshape(b, p, 1, nh, dh)
        kv = kv_nbr + self.offset
        key, val = kv[..., :d].reshape(b, p, k, nh, dh), kv[..., d:].reshape(b, p, k, nh, dh)
        logits = (q * key).sum(-1) / math.sqrt(dh)  # (B, P, K, H)
        logits = logits.masked_fill(~valid[..., None], float("-inf"))
        w = torch.softmax(logits, dim=2)
        o = (w[..., None] * val).sum(2).reshape(b, p, d)
        return self.out(o)


class CpNet(nn.Module):
    """Cp at every point of a wing grid from coordinates, flight condition and (optionally)
    geometric features, with one layer of attention over each point's grid neighbourhood.

    Per point: ``h = MLP(standardised inputs)`` (width ``width``); ``h += Attn(h, neighbours of
    the point, their relative positions)``; ``h += FFN(h)`` (pre-LayerNorm residual blocks);
    ``Cp = head(h)``. The relative position of a neighbour is the difference of the
    ``x_c, z_c, eta`` coordinates (the first three input channels). The output at a point depends
    only on the inputs at its stencil neighbours.

    Inputs are standardised with ``input_mean``/``input_std`` (then clipped to +-8) and the
    output un-standardised
    with ``target_mean``/``target_std`` (buffers, set from training data with
    :meth:`set_normalisation`), so the model takes raw inputs and returns Cp.

    Args:
        use_features: bool, whether the inputs carry the 14 geometric features after the 5
            coordinates and 2 conditions (input width 21, else 7); nothing else changes.
        width: int, embedding width (default 64).
        heads: int, attention heads (default 4).
        radius_span, radius_chord: stencil half-widths (default 1 and 2: a 3 x 5 stencil).

    Example:
        >>> net = CpNet(use_features=False)
        >>> x = torch.randn(2, 6, 16, CpNet.n_inputs(False))
        >>> net(x).shape
        torch.Size([2, 6, 16])
    """

    @staticmethod
    def n_inputs(use_features: bool) -> int:
        """Input channels: 5 coordinates + Mach + alpha (+ 14 features)."""
        return len(COORDINATE_NAMES) + 2 + (len(FEATURE_NAMES) if use_features else 0)

    def __init__(self, use_features: bool, width: int = 64, heads: int = 4, radius_span: int = 1,
                 radius_chord: int = 2):
        super().__init__()
        if not isinstance(use_features, bool):
            raise TypeError("Expected use_features to be a bool but got %r" % (use_features,))
        self.use_features = use_features
        self.radius = (radius_span, radius_chord)
        n_in = self.n_inputs(use_features)
        self.register_buffer("input_mean", torch.zeros(n_in))
        self.register_buffer("input_std", torch.ones(n_in))
        self.register_buffer("target_mean", torch.zeros(()))
        self.register_buffer("target_std", torch.ones(()))
        self.embed = nn.Sequential(nn.Linear(n_in, width), nn.GELU(), nn.Linear(width, width))
        self.norm1 = nn.LayerNorm(width)
        self.attn = _NeighbourAttention(width, heads, pos_dim=3,
                                        n_offsets=(2 * radius_span + 1) * (2 * radius_chord + 1))
        self.norm2 = nn.LayerNorm(width)
        self.ffn = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(), nn.Linear(2 * width, width))
        self.head = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.GELU(),
                                  nn.Linear(width, 1))
        self._tables = {}

    def set_normalisation(self, input_mean, input_std, target_mean, target_std):
        """Sets the standardisation statistics (tensors of shape (C,), (C,), (), ())."""
        with torch.no_grad():
            self.input_mean.copy_(torch.as_tensor(input_mean))
            self.input_std.copy_(torch.as_tensor(input_std).clamp_min(1e-6))
            self.target_mean.copy_(torch.as_tensor(target_mean))
            self.target_std.copy_(torch.as_tensor(target_std).clamp_min(1e-6))

    def _table(self, nu, nv, device):
        key = (nu, nv, str(device))
        if key not in self._tables:
            idx, valid = neighbourhood(nu, nv, *self.radius)
            self._tables[key] = (idx.to(device), valid.to(device))
        return self._tables[key]

    def forward(self, inputs: Tensor, query: Tensor = None) -> Tensor:
        """Cp at every grid point, or at the query points.

        Args:
            inputs: (B, n_span, n_chord, C) float32 raw inputs, C = :meth:`n_inputs`; channels
                :data:`COORDINATE_NAMES`, Mach, alpha in degrees, then (with features)
                :data:`FEATURE_NAMES`.
            query: optional (B, P) int64 flat point indices ``i * n_chord + j``; only these points
                are evaluated (training on a subsample of points).

        Returns:
            (B, n_span, n_chord) Cp, or (B, P) with ``query``.
        """
        _checks.tensor("inputs", inputs, dims=4, dtypes=(torch.float32,))
        if inputs.shape[-1] != self.input_mean.shape[0]:
            raise ValueError("Expected inputs with %d channels (use_features=%s) but got %s" % (
                self.input_mean.shape[0], self.use_features, _checks._desc(inputs)))
        b, nu, nv, c = inputs.shape
        if 2 * self.radius[1] + 1 > nv:
            raise ValueError("Expected at least %d chordwise points for the stencil but got %s"
                             % (2 * self.radius[1] + 1, _checks._desc(inputs)))
        idx, valid = self._table(nu, nv, inputs.device)
        x = inputs.reshape(b, nu * nv, c)
        # standardised, clipped to +-8 std: curvature at a sharp trailing-edge corner is extreme
        h = self.embed(((x - self.input_mean) / self.input_std).clamp(-8.0, 8.0))  # (B, N, D)
        if query is None:
            qidx = torch.arange(nu * nv, device=inputs.device).expand(b, -1)
        else:
            _checks.tensor("query", query, dims=2, dtypes=_checks.INTS, shape=(b, None))
            _checks.index_range("query", query, nu * nv)
            qidx = query
        nbr = idx[qidx]  # (B, P, K)
        vmask = valid[qidx]
        p, k = nbr.shape[1], nbr.shape[2]
        flat = nbr.reshape(b, p * k)
        d = h.shape[-1]
        # pre-norm residual blocks; the neighbours see the same normalisation as the query.
        # The relative position term pos(x_n - x_q) = pos(x_n) - pos(x_q) is linear, so it is
        # formed on the grid with the key/value projection and gathered once.
        pos = 10.0 * x[..., :3]  # neighbour offsets are ~0.01-0.1 of the chord
        pe = self.attn.pos(pos)  # (B, N, 2D)
        kv = self.attn.kv(self.norm1(h)) + pe
        kv_n = torch.gather(kv, 1, flat[..., None].expand(-1, -1, 2 * d)).reshape(b, p, k, 2 * d)
        if query is not None:
            h_q = torch.gather(h, 1, qidx[..., None].expand(-1, -1, d))
            pe = torch.gather(pe, 1, qidx[..., None].expand(-1, -1, 2 * d))
        else:
            h_q = h
        hq = h_q + self.attn(self.norm1(h_q), kv_n - pe[:, :, None], vmask)
        hq = hq + self.ffn(self.norm2(hq))
        cp = self.head(hq).squeeze(-1) * self.target_std + self.target_mean
        return cp.reshape(b, nu, nv) if query is None else cp
