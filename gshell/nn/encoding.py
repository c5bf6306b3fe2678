"""Multiresolution hash encodings as nn.Modules: grid (instant-ngp) and simplex lattices."""
import math

import torch
from torch import nn

from gshell import _checks
from gshell.ops.hash_encoding import encode, level_layout


class _HashEncoding(nn.Module):
    lattice = None

    def __init__(self, in_dim, n_levels=16, n_features_per_level=2, log2_hashmap_size=19,
                 base_resolution=16, per_level_scale=1.5, seed=0):
        super().__init__()
        for name, value, lo, hi in (("in_dim", in_dim, 1, 8), ("n_levels", n_levels, 1, 64),
                                    ("n_features_per_level", n_features_per_level, 1, 64),
                                    ("log2_hashmap_size", log2_hashmap_size, 1, 30)):
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ValueError("Expected %s to be an int in [%d, %d] but got %r" % (name, lo, hi, value))
        base_resolution = _checks.real("base_resolution", base_resolution, lo=1)
        per_level_scale = _checks.real("per_level_scale", per_level_scale, lo=1)
        finest = math.log2(base_resolution) + (n_levels - 1) * math.log2(per_level_scale)
        if finest > 24:  # corner coordinates are int32 and the scales float32 (exact to 2^24)
            raise ValueError("Expected the finest level's resolution base_resolution * per_level_scale^(n_levels - 1) "
                             "<= 2^24 but got %g * %g^%d = 2^%.1f" % (base_resolution, per_level_scale,
                                                                       n_levels - 1, finest))
        self.in_dim, self.n_levels, self.n_features_per_level = in_dim, n_levels, n_features_per_level
        self.log2_hashmap_size = log2_hashmap_size
        self.base_resolution, self.per_level_scale = float(base_resolution), float(per_level_scale)
        layout = level_layout(in_dim, n_levels, n_features_per_level, log2_hashmap_size,
                              base_resolution, per_level_scale, self.lattice)
        self.resolutions = layout["resolutions"]
        self.hashed = layout["hashed"]
        rows = layout["offsets"][-1]
        gen = torch.Generator().manual_seed(seed)
        self.table = nn.Parameter((torch.rand(rows, n_features_per_level, generator=gen) * 2 - 1) * 1e-4)
        self.register_buffer("offsets", torch.tensor(layout["offsets"], dtype=torch.long))
        self.register_buffer("scales", torch.tensor(layout["scales"], dtype=torch.float32))
        self.register_buffer("res", torch.tensor(layout["res"], dtype=torch.int32))
        self.register_buffer("hashed_levels", torch.tensor(layout["hashed"], dtype=torch.uint8))

    @property
    def output_dim(self):
        return self.n_levels * self.n_features_per_level

    @classmethod
    def from_config(cls, in_dim, config):
        """From a tiny-cuda-nn style dict (keys n_levels, n_features_per_level,
        log2_hashmap_size, base_resolution, per_level_scale; otype is ignored here)."""
        keys = ("n_levels", "n_features_per_level", "log2_hashmap_size", "base_resolution",
                "per_level_scale", "seed")
        unknown = set(config) - set(keys) - {"otype", "interpolation"}
        if unknown:
            raise ValueError("Expected config keys among %s but got %s" % (sorted(keys), sorted(unknown)))
        return cls(in_dim, **{k: config[k] for k in keys if k in config})

    def forward(self, x):
        """Args: x (B, in_dim) in [0, 1] (clamped), of the table's dtype and device.
        Returns: (B, n_levels * n_features_per_level), level-major."""
        _checks.tensor("x", x, dims=2, shape=(None, self.in_dim), dtypes=(self.table.dtype,),
                       device=self.table.device)
        return encode(x, self.table, self.offsets, self.scales.to(x.dtype), self.res,
                      self.hashed_levels, self.lattice)

    def extra_repr(self):
        return "in_dim=%d, n_levels=%d, n_features_per_level=%d, log2_hashmap_size=%d, " \
               "base_resolution=%g, per_level_scale=%g" % (
                   self.in_dim, self.n_levels, self.n_features_per_level, self.log2_hashmap_size,
                   self.base_resolution, self.per_level_scale)


class GridHashEncoding(_HashEncoding):
    """instant-ngp's multiresolution hash encoding: each level interpolates the 2^d corners of the
    grid cell holding x (d-linearly) from a table of learned features, hashed with
    instant-ngp's primes when the level has more vertices than 2^log2_hashmap_size, dense
    otherwise (Müller et al. 2022, https://arxiv.org/abs/2201.05989).

    Args:
        in_dim: d, 1..8. n_levels: L. n_features_per_level: F. log2_hashmap_size: table size
            per level 2^T. base_resolution, per_level_scale: level l has resolution
            base_resolution * per_level_scale^l. seed: table initialisation, U(-1e-4, 1e-4).
    Shapes: x (B, d) float32 in [0, 1] -> (B, L * F).
    """
    lattice = "grid"


class SimplexHashEncoding(_HashEncoding):
    """Multiresolution hash encoding on a simplicial lattice: each level interpolates only the
    d + 1 corners of the simplex holding x, with barycentric weights, which costs less than the
    grid's 2^d corners ("Efficient Encoding of Graphics Primitives with Simplex-based
    Structures", Wen & Yang 2023, https://arxiv.org/abs/2311.18230).

    The scaled input p is skewed, q = p + G sum(p) with G = (sqrt(d+1) - 1)/d; the fractional
    parts of q sorted in descending order pick the simplex (corners by unit steps in that order)
    and give its barycentric weights. The skew maps a unit cube of q-space to a cell of volume
    1/sqrt(d+1), so level l scales x by base_resolution * per_level_scale^l * (d+1)^(-1/(2d)):
    both lattices then have the same number of vertices per unit volume, and the same arguments
    give comparable capacity.

    Args and shapes: as :class:`GridHashEncoding`.
    """
    lattice = "simplex"


def encoding_from_config(in_dim, config):
    """A hash encoding from a tiny-cuda-nn style dict: {"otype": "HashGrid" | "Grid" | "Simplex"
    | "SimplexHashGrid", "n_levels": 16, ...}; missing keys take the defaults."""
    if not isinstance(config, dict):
        raise TypeError("Expected config to be a dict but got %s" % type(config).__name__)
    otype = str(config.get("otype", "HashGrid"))
    if otype.lower() in ("hashgrid", "grid"):
        return GridHashEncoding.from_config(in_dim, config)
    if otype.lower() in ("simplex", "simplexhashgrid", "simplexgrid"):
        return SimplexHashEncoding.from_config(in_dim, config)
    raise ValueError("Expected config['otype'] to be 'HashGrid' or 'Simplex' but got %r" % otype)
