"""Plain-PyTorch multiresolution hash encodings on the grid (instant-ngp) and simplex (Wen & Yang 2023)
lattices, written independently of the C++/CUDA kernels from the specification in issue 4.

Everything is vectorised over the batch and over the corners of a level; only the levels are a Python
loop. Autograd differentiates it in ``x`` and ``table``, including second derivatives (gradients of
input-gradients), so it is the reference of the tests and the baseline of scripts/bench_encoding.py.

Semantics, per level ``l`` (d = in_dim, T = 2**log2_hashmap_size):

* ``x`` is clamped to [0, 1].
* Grid: ``N_l = base_resolution * per_level_scale**l`` (float64), scale ``s_l = float32(N_l)`` (float32
  even for float64 inputs: the lattice does not depend on the dtype),
  ``R_l = ceil(N_l)``; ``p = x * s_l``; ``cell = min(floor(p), R_l - 1)``; ``frac = p - cell``; the 2^d
  corners ``cell + c`` (bit i of the corner number c = offset along dim i) with weights
  ``prod_i (c_i ? frac_i : 1 - frac_i)``.
* Simplex: ``G = (sqrt(d+1) - 1) / d``; ``s_l = float32(N_l * (d+1)**(-1/(2d)))`` (a skewed unit cell
  has volume 1/sqrt(d+1), so this gives the grid's vertex density);
  ``R_l = ceil(s_l * (1 + G d)) + 1``; ``p = x * s_l``, ``q = p + G * sum(p)``, ``cell = floor(q)``,
  ``f = q - cell``; ``pi`` = stable descending sort of ``f``; corners ``v_0 = cell``,
  ``v_k = v_{k-1} + e_{pi[k-1]}``; weights ``w_0 = 1 - f[pi[0]]``, ``w_k = f[pi[k-1]] - f[pi[k]]``,
  ``w_d = f[pi[d-1]]``.
* A level is dense when ``(R_l + 1)**d <= T``: index ``sum_i k_i (R_l + 1)**i``, size ``(R_l + 1)**d``;
  otherwise hashed: ``index = (XOR_i k_i * P_i mod 2**32) & (T - 1)``, size ``T``.
* ``out[:, l * F + f] = sum_corners w * table[offsets[l] + index, f]``.
"""
import math

import numpy as np
import torch

PRIMES = (1, 2654435761, 805459861, 3674653429, 2097192037, 1434869437, 2165219737, 2971215073)
LATTICES = ("grid", "simplex")


def skew_factor(d):
    """G = (sqrt(d+1) - 1) / d."""
    return (math.sqrt(d + 1) - 1) / d


def unskew_factor(d):
    """The inverse of the skew: p = q - U * sum(q), U = (1 - 1/sqrt(d+1)) / d."""
    return (1 - 1 / math.sqrt(d + 1)) / d


def level_scale(n_l, d, lattice):
    """The scale s_l of a level of grid resolution N_l: computed in float64, rounded to float32, returned
    as a Python float."""
    s = n_l if lattice == "grid" else n_l * (d + 1) ** (-1.0 / (2 * d))
    return float(np.float32(s))


def level_max_coord(n_l, d, lattice):
    """R_l: integer corner coordinates of the level lie in [0, R_l]."""
    if lattice == "grid":
        return int(math.ceil(n_l))
    s = level_scale(n_l, d, lattice)
    return int(math.ceil(s * (1 + skew_factor(d) * d))) + 1


def level_layout(in_dim, n_levels=16, n_features_per_level=2, log2_hashmap_size=19, base_resolution=16,
                 per_level_scale=1.5, lattice="grid"):
    """The level layout the constructor arguments imply.

    Returns a dict: ``offsets`` (L+1,) int64 tensor (start row of each level in the table; last entry is
    the number of rows), ``resolutions`` (L floats N_l), ``scales`` (L floats s_l, float32-rounded),
    ``max_coords`` (L ints R_l), ``hashed`` (L bools), ``sizes`` (L ints), ``T``.
    """
    assert lattice in LATTICES
    d = in_dim
    T = 2 ** log2_hashmap_size
    offsets = [0]
    res, scales, rmax, hashed, sizes = [], [], [], [], []
    for l in range(n_levels):
        n_l = float(base_resolution) * float(per_level_scale) ** l
        r = level_max_coord(n_l, d, lattice)
        dense_size = (r + 1) ** d
        h = dense_size > T
        size = T if h else dense_size
        res.append(n_l)
        scales.append(level_scale(n_l, d, lattice))
        rmax.append(r)
        hashed.append(h)
        sizes.append(size)
        offsets.append(offsets[-1] + size)
    return dict(offsets=torch.tensor(offsets, dtype=torch.int64), resolutions=res, scales=scales,
                max_coords=rmax,
                hashed=hashed, sizes=sizes, T=T)


def _corner_bits(d, device):
    """(2^d, d) int64: bit i of corner c."""
    c = torch.arange(2 ** d, device=device)
    return (c[:, None] >> torch.arange(d, device=device)) & 1


def grid_corners(p, r_max):
    """Corners and weights of the grid cell containing each scaled point.

    Args:
        p: (B, d) float scaled points (>= 0).
        r_max: R_l; cells are clamped to [0, R_l - 1].
    Returns:
        coords (B, 2^d, d) int64, weights (B, 2^d) differentiable in p.
    """
    d = p.shape[1]
    cell = torch.floor(p.detach()).clamp(max=r_max - 1)
    frac = p - cell
    bits = _corner_bits(d, p.device)                                   # (C, d)
    coords = cell.long()[:, None, :] + bits[None]                      # (B, C, d)
    sel = torch.where(bits[None].bool(), frac[:, None, :], 1 - frac[:, None, :])  # (B, C, d)
    # An explicit product: prod()'s backward divides by its inputs, which makes float32 second derivatives
    # noisy next to cell faces (fractions near 0).
    w = sel[..., 0]
    for i in range(1, d):
        w = w * sel[..., i]
    return coords, w


def simplex_order(p):
    """Skewed cell, fractions and the descending (stable) order of the fractions. p: (B, d)."""
    d = p.shape[1]
    q = p + skew_factor(d) * p.sum(-1, keepdim=True)
    cell = torch.floor(q.detach())
    frac = q - cell
    order = torch.sort(-frac.detach(), dim=1, stable=True).indices
    return cell, frac, order


def simplex_corners(p):
    """Corners and barycentric weights of the simplex containing each scaled point.

    Returns coords (B, d+1, d) int64, weights (B, d+1) differentiable in p.
    """
    B, d = p.shape
    cell, frac, order = simplex_order(p)
    steps = torch.nn.functional.one_hot(order, d)                      # (B, d, d): row k = e_{pi[k]}
    steps = torch.cat([steps.new_zeros(B, 1, d), steps.cumsum(1)], 1)  # (B, d+1, d)
    coords = cell.long()[:, None, :] + steps
    fs = torch.gather(frac, 1, order)                                  # sorted descending
    w = torch.cat([1 - fs[:, :1], fs[:, :-1] - fs[:, 1:], fs[:, -1:]], 1)
    return coords, w


def corner_index(coords, r_max, size, hashed):
    """Row within the level of integer corner coordinates (..., d) int64."""
    d = coords.shape[-1]
    if not hashed:
        strides = (r_max + 1) ** torch.arange(d, device=coords.device, dtype=torch.int64)
        return (coords * strides).sum(-1)
    h = coords[..., 0] * PRIMES[0]
    for i in range(1, d):
        # int64 products wrap modulo 2^64, which keeps the low 32 bits exact.
        h = torch.bitwise_xor(h, coords[..., i] * PRIMES[i])
    return h & (size - 1)


def level_corner_coords(x, layout, level, lattice):
    """Integer corner coordinates (B, C, d) int64 and weights (B, C) of one level. x: (B, d), clamped."""
    s = layout["scales"][level]
    p = x * s
    if lattice == "grid":
        return grid_corners(p, layout["max_coords"][level])
    return simplex_corners(p)


def level_corners(x, layout, level, lattice):
    """Rows into the full table and weights of one level. x: (B, d), already clamped.

    Returns rows (B, C) int64 and weights (B, C) (differentiable in x)."""
    r = layout["max_coords"][level]
    coords, w = level_corner_coords(x, layout, level, lattice)
    idx = corner_index(coords, r, layout["sizes"][level], layout["hashed"][level])
    return idx + int(layout["offsets"][level]), w


def encode_ref(x, table, layout, lattice):
    """The encoding, out (B, L*F), level-major. x: (B, d) float, table: (rows, F) of x's dtype."""
    assert lattice in LATTICES
    x = x.clamp(0, 1)
    outs = []
    for l in range(len(layout["sizes"])):
        rows, w = level_corners(x, layout, l, lattice)
        feats = table[rows]                                            # (B, C, F)
        outs.append((w.unsqueeze(-1) * feats).sum(1))
    return torch.cat(outs, 1) if outs else x.new_zeros(x.shape[0], 0)


def layout_from_offsets(in_dim, offsets, resolutions, lattice):
    """Rebuild the per-level layout from (offsets, resolutions N_l), like the functional API does: a
    level is dense exactly when its size is (R_l + 1)^d, otherwise hashed with size T (a power of 2)."""
    offsets = torch.as_tensor(offsets).cpu()
    sizes = (offsets[1:] - offsets[:-1]).tolist()
    rmax = [level_max_coord(float(n), in_dim, lattice) for n in resolutions]
    hashed = [(r + 1) ** in_dim != s for r, s in zip(rmax, sizes)]
    return dict(offsets=offsets, resolutions=[float(n) for n in resolutions],
                scales=[level_scale(float(n), in_dim, lattice) for n in resolutions],
                max_coords=rmax, hashed=hashed, sizes=sizes, T=max(sizes) if sizes else 0)


def hash_encode_ref(x, table, offsets, resolutions, lattice):
    """Same signature as ``gshell.ops.hash_encoding.hash_encode``, with ``resolutions`` = N_l."""
    return encode_ref(x, table, layout_from_offsets(x.shape[1], offsets, resolutions, lattice), lattice)


class HashEncodingRef(torch.nn.Module):
    """A plain-PyTorch module with the gshell encodings' constructor, attributes and init."""

    def __init__(self, in_dim, n_levels=16, n_features_per_level=2, log2_hashmap_size=19, base_resolution=16,
                 per_level_scale=1.5, seed=0, lattice="grid"):
        super().__init__()
        self.lattice = lattice
        self.layout = level_layout(in_dim, n_levels, n_features_per_level, log2_hashmap_size, base_resolution,
                                   per_level_scale, lattice)
        self.in_dim = in_dim
        self.n_levels = n_levels
        self.n_features_per_level = n_features_per_level
        self.output_dim = n_levels * n_features_per_level
        self.resolutions = self.layout["resolutions"]
        self.hashed = self.layout["hashed"]
        g = torch.Generator().manual_seed(seed)
        rows = int(self.layout["offsets"][-1])
        self.table = torch.nn.Parameter(torch.empty(rows, n_features_per_level).uniform_(-1e-4, 1e-4, generator=g))
        self.register_buffer("offsets", self.layout["offsets"].clone())

    def forward(self, x):
        return encode_ref(x, self.table, self.layout, self.lattice)


def boundary_distance(x, layout, lattice):
    """(B,) smallest distance, over levels, of each point's fractions to a cell boundary (0 or 1) and,
    for the simplex lattice, between two fractions (a boundary between simplices of one cell). Points
    with a small distance may fall in different cells under different rounding; tests of the
    x-gradient (piecewise smooth) skip them."""
    x = x.detach().clamp(0, 1).double()
    best = torch.full((x.shape[0],), math.inf, dtype=torch.float64)
    for l, s in enumerate(layout["scales"]):
        p = x * s
        if lattice == "grid":
            r = layout["max_coords"][l]
            frac = p - torch.floor(p).clamp(max=r - 1)
            best = torch.minimum(best, torch.minimum(frac, 1 - frac).min(1).values)
        else:
            _, frac, _ = simplex_order(p)
            dist = torch.minimum(frac, 1 - frac).min(1).values
            if x.shape[1] > 1:
                diff = (frac[:, :, None] - frac[:, None, :]).abs()
                diff = diff.masked_fill(torch.eye(x.shape[1], dtype=torch.bool), math.inf)
                dist = torch.minimum(dist, diff.flatten(1).min(1).values)
            best = torch.minimum(best, dist)
    return best
