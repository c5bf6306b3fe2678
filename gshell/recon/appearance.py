"""Spatially varying materials for photometric reconstruction: albedo, roughness and metallic
(and optionally a normal perturbation) from a small MLP on gshell's hash encoding of position.

As in nvdiffrec (Munkberg et al., "Extracting Triangular 3D Models, Materials, and Lighting From
Images", CVPR 2022), the material is a field over space, evaluated wherever the current surface
is; baking it into textures happens once at the end (:mod:`gshell.recon.bake`). The encoding is
the simplex lattice by default ("Efficient Encoding of Graphics Primitives with Simplex-based
Structures", Wen & Yang 2023) and instant-ngp's grid as an option.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from gshell import _checks

__all__ = ["Material"]

ENCODINGS = ("simplex", "grid")


class Material(nn.Module):
    """Material field over the tet grid's cube [-0.5, 0.5]^3.

    Args:
        encoding: "simplex" (default) or "grid" hash encoding.
        n_levels, log2_hashmap_size, base_resolution, finest_resolution: the encoding's levels
            (per-level scale from base to finest).
        hidden, layers: width and number of hidden layers of the MLP.
        min_roughness, max_roughness: range of the perceptual roughness.
        max_metallic: upper bound of metallic (0 fixes dielectrics).
        normal_perturbation: also output a world-space normal offset (bounded by 0.5 per axis
            before renormalisation).
        seed: initialisation of the encoding and the MLP.

    Shapes: ``forward(points (P, 3) float32)`` returns a dict with ``albedo`` (P, 3) in [0, 1]
    (linear), ``roughness`` (P, 1), ``metallic`` (P, 1) and, with ``normal_perturbation``,
    ``normal_offset`` (P, 3).
    """

    def __init__(self, encoding="simplex", n_levels=12, log2_hashmap_size=16, base_resolution=8,
                 finest_resolution=512, hidden=32, layers=2, min_roughness=0.08, max_roughness=1.0,
                 max_metallic=1.0, normal_perturbation=False, seed=0):
        super().__init__()
        from gshell.nn.encoding import GridHashEncoding, SimplexHashEncoding

        if encoding not in ENCODINGS:
            raise ValueError("Expected encoding to be one of %s but got %r" % (", ".join(ENCODINGS), encoding))
        n_levels = _checks.integer("n_levels", n_levels, lo=1, hi=32)
        hidden = _checks.integer("hidden", hidden, lo=1, hi=4096)
        layers = _checks.integer("layers", layers, lo=0, hi=16)
        base = _checks.real("base_resolution", base_resolution, lo=1)
        finest = _checks.real("finest_resolution", finest_resolution, lo=base)
        self.min_roughness = _checks.real("min_roughness", min_roughness, lo=0, hi=1)
        self.max_roughness = _checks.real("max_roughness", max_roughness, lo=self.min_roughness, hi=1)
        self.max_metallic = _checks.real("max_metallic", max_metallic, lo=0, hi=1)
        scale = math.exp(math.log(finest / base) / max(n_levels - 1, 1))
        cls = SimplexHashEncoding if encoding == "simplex" else GridHashEncoding
        self.encoding = cls(3, n_levels=n_levels, n_features_per_level=2,
                            log2_hashmap_size=int(log2_hashmap_size), base_resolution=base,
                            per_level_scale=max(scale, 1.0), seed=seed)
        self.normal_perturbation = bool(normal_perturbation)
        n_out = 5 + (3 if self.normal_perturbation else 0)
        gen = torch.Generator().manual_seed(seed + 1)
        dims = [self.encoding.output_dim] + [hidden] * layers + [n_out]
        self.mlp = nn.ModuleList()
        for a, b in zip(dims[:-1], dims[1:]):
            lin = nn.Linear(a, b)
            with torch.no_grad():
                bound = math.sqrt(6.0 / a)  # He-uniform, seeded
                lin.weight.copy_((torch.rand(b, a, generator=gen) * 2 - 1) * bound)
                lin.bias.zero_()
            self.mlp.append(lin)
        with torch.no_grad():  # start grey (albedo 0.5), mid-rough, dielectric
            self.mlp[-1].weight.mul_(0.1)
            self.mlp[-1].bias[3] = -2.0
        self.encoding_name = encoding

    def forward(self, points):
        _checks.tensor("points", points, dims=2, shape=(None, 3), dtypes=_checks.FLOATS)
        x = (points.float() + 0.5).clamp(0.0, 1.0)
        h = self.encoding(x.to(self.encoding.table.device))
        for i, lin in enumerate(self.mlp):
            h = lin(h)
            if i < len(self.mlp) - 1:
                h = F.relu(h)
        out = {"albedo": torch.sigmoid(h[:, 0:3]),
               "roughness": self.min_roughness + (self.max_roughness - self.min_roughness) * torch.sigmoid(h[:, 3:4]),
               "metallic": self.max_metallic * torch.sigmoid(h[:, 4:5] - 3.0)}
        if self.normal_perturbation:
            out["normal_offset"] = 0.5 * torch.tanh(h[:, 5:8])
        return out

    def smoothness(self, points, sigma=0.01, generator=None):
        """Mean absolute change of the material between ``points`` (P, 3) and a jittered copy
        (the material smoothness regulariser of nvdiffrec)."""
        jitter = torch.randn(points.shape, generator=generator, device="cpu").to(points) * sigma
        a, b = self(points), self(points + jitter)
        keys = [k for k in ("albedo", "roughness", "metallic") if k in a]
        return sum((a[k] - b[k]).abs().mean() for k in keys) / len(keys)


def vertex_normals(verts, faces):
    """(V, 3) unit vertex normals: the area-weighted sum of the incident faces' normals."""
    from gshell._gather import take

    v0, v1, v2 = (take(verts, faces[:, i]) for i in range(3))
    fn = torch.cross(v1 - v0, v2 - v0, dim=-1)  # length = twice the area
    vn = torch.zeros_like(verts).index_add(0, faces.reshape(-1), fn.repeat_interleave(3, 0))
    return F.normalize(vn, dim=-1, eps=1e-20)


def render_rgb(buffers, verts, faces, material, light, backend="auto"):
    """Shades rasterized surface with a material field under an environment light.

    Args:
        buffers: the dict of :func:`gshell.recon.views.render_buffers` for ``verts``/``faces``.
        verts: (V, 3) float32 positions in the tet grid's frame (differentiable).
        faces: (F, 3) int64.
        material: :class:`Material`. light: a light of :mod:`gshell.render.light`.
    Returns:
        rgb (B, H, W, 3) float32 linear radiance premultiplied by the antialiased coverage (the
        surface over black), and the material dict at the covered pixels. Back faces are shaded
        with their normal turned to the camera (a two-sided surface).
    """
    from gshell.render import antialias, interpolate

    rast, cov = buffers["rast"], buffers["covered"]
    tri = faces.to(torch.int32).contiguous()
    vn = vertex_normals(verts, faces)
    n_img, _ = interpolate(vn, rast, tri)
    p, vd = buffers["xyz"][cov], buffers["view_dir"][cov]
    n = F.normalize(n_img[cov], dim=-1, eps=1e-20)
    n = torch.where((n * vd).sum(-1, keepdim=True) < 0, -n, n)
    mat = material(p)
    if "normal_offset" in mat:
        n = F.normalize(n + mat["normal_offset"], dim=-1, eps=1e-20)
    color = light.shade(n, vd, mat["albedo"], mat["roughness"], mat["metallic"])
    img = torch.zeros(cov.shape + (3,), dtype=color.dtype, device=color.device)
    img = img.index_put((cov,), color)
    img = antialias(img.contiguous(), rast, buffers["pos"], tri)
    return img, mat
