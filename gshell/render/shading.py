"""The microfacet BRDF that gshell's environment lights shade with, and the tables precomputed
from it by numerical integration.

The BRDF is the usual metallic-roughness model of real-time PBR (Karis, "Real Shading in Unreal
Engine 4", SIGGRAPH 2013 course notes; Burley 2012):

    f(l, v) = (1 - metallic) albedo / pi  +  D(h) F(v.h) G2(l, v) / (4 (n.l)(n.v))

- ``D``: the GGX / Trowbridge-Reitz normal distribution with ``alpha = roughness^2``;
- ``G2``: Smith's height-correlated masking-shadowing for GGX (Heitz, "Understanding the
  Masking-Shadowing Function in Microfacet-Based BRDFs", JCGT 2014), used through the visibility
  ``V = G2 / (4 (n.l)(n.v))``;
- ``F``: Schlick's Fresnel ``F0 + (1 - F0)(1 - v.h)^5`` with ``F0 = lerp(0.04, albedo, metallic)``.

Tables, each integrated once per process in float64 and cached (a few hundred ms):
- :func:`dfg_lut`: the split-sum DFG terms ``(A, B)`` with ``int f cos = F0 A + B`` (Karis 2013),
  by deterministic stratified GGX importance sampling;
- :func:`sg_irradiance_lut`: the exact integral of a spherical Gaussian against the clamped cosine
  (no cosine-as-a-Gaussian fit), by quadrature of its closed-form azimuthal integral.
"""
import math

import torch
import torch.nn.functional as tnf
from torch import Tensor

DIELECTRIC_F0 = 0.04
_EPS = 1e-6


# ----------------------------------------------------------------------------------------------
# BRDF terms (elementwise, any shape, differentiable)
# ----------------------------------------------------------------------------------------------

def ggx_ndf(n_dot_h: Tensor, alpha: Tensor) -> Tensor:
    """GGX normal distribution ``D = alpha^2 / (pi ((n.h)^2 (alpha^2 - 1) + 1)^2)``.

    Args:
        n_dot_h: (...) float cosine between normal and half vector (clamped to [0, 1]).
        alpha: (...) float ``roughness^2``, broadcastable with ``n_dot_h``.
    Returns:
        (...) float, per steradian of half vectors.
    """
    a2 = alpha * alpha
    c = n_dot_h.clamp(0.0, 1.0)
    d = c * c * (a2 - 1) + 1
    return a2 / (math.pi * d * d)


def smith_visibility(n_dot_l: Tensor, n_dot_v: Tensor, alpha: Tensor) -> Tensor:
    """Height-correlated Smith visibility for GGX, ``V = G2 / (4 (n.l)(n.v))``
    ``= 0.5 / (n.l sqrt((n.v)^2 (1 - a^2) + a^2) + n.v sqrt((n.l)^2 (1 - a^2) + a^2))``.

    Args:
        n_dot_l, n_dot_v: (...) float cosines (clamped to [1e-6, 1]).
        alpha: (...) float ``roughness^2``.
    Returns:
        (...) float; ``V * n.l`` tends to a finite value as either cosine goes to 0.
    """
    a2 = alpha * alpha
    nl = n_dot_l.clamp(_EPS, 1.0)
    nv = n_dot_v.clamp(_EPS, 1.0)
    gv = nl * torch.sqrt(nv * nv * (1 - a2) + a2)
    gl = nv * torch.sqrt(nl * nl * (1 - a2) + a2)
    return 0.5 / (gv + gl)


def smith_g2(n_dot_l: Tensor, n_dot_v: Tensor, alpha: Tensor) -> Tensor:
    """Height-correlated Smith masking-shadowing ``G2 = 1 / (1 + Lambda(l) + Lambda(v))`` for GGX,
    ``Lambda(x) = (sqrt(1 + alpha^2 tan^2 theta_x) - 1) / 2``. Same shapes as :func:`smith_visibility`."""
    return 4 * n_dot_l.clamp(_EPS, 1.0) * n_dot_v.clamp(_EPS, 1.0) * smith_visibility(n_dot_l, n_dot_v, alpha)


def fresnel_schlick(f0: Tensor, v_dot_h: Tensor) -> Tensor:
    """Schlick's Fresnel ``F0 + (1 - F0)(1 - v.h)^5``.

    Args:
        f0: (..., C) or (...) float reflectance at normal incidence.
        v_dot_h: float cosine, broadcastable with ``f0``.
    Returns:
        float, the broadcast shape.
    """
    fc = (1 - v_dot_h.clamp(0.0, 1.0)) ** 5
    return f0 + (1 - f0) * fc


def specular_f0(albedo: Tensor, metallic: Tensor) -> Tensor:
    """``F0 = lerp(0.04, albedo, metallic)``: (..., 3) from albedo (..., 3) and metallic (..., 1)."""
    return DIELECTRIC_F0 + (albedo - DIELECTRIC_F0) * metallic


# ----------------------------------------------------------------------------------------------
# The DFG table of the split-sum approximation
# ----------------------------------------------------------------------------------------------

_CACHE = {}


def _cached(key, build, device, dtype):
    """The table ``build()`` (float64, CPU, computed once) on ``device`` in ``dtype``."""
    base = _CACHE.get(key)
    if base is None:
        base = _CACHE[key] = build()
    full = key + (str(device), dtype)
    t = _CACHE.get(full)
    if t is None:
        t = _CACHE[full] = base.to(device=device, dtype=dtype)
    return t


def _gauss_legendre(n):
    """Nodes and weights of n-point Gauss-Legendre quadrature on [0, 1], float64 tensors."""
    import numpy as np

    x, w = np.polynomial.legendre.leggauss(n)
    return torch.from_numpy(0.5 * (x + 1)), torch.from_numpy(0.5 * w)


def _dfg_entries(n_dot_v, alpha, nodes_xi, nodes_phi):
    """``A, B`` for 1-D float64 tensors ``n_dot_v`` and ``alpha`` (same length): quadrature over
    the half vector h in GGX-sampling coordinates xi (pdf D(h) (n.h)) and azimuth phi."""
    nv = n_dot_v.view(-1, 1, 1)
    a2 = (alpha * alpha).view(-1, 1, 1)
    theta_v = torch.arccos(nv)
    vx = theta_v.sin()  # v = (vx, 0, n.v)

    def xi_of(theta):  # inverse of cos^2 theta_h = (1 - xi) / (1 + (alpha^2 - 1) xi)
        c2 = theta.cos() ** 2
        return (1 - c2) / (1 + (a2 - 1) * c2)

    # n.l = 2 (v.h)(n.h) - n.v > 0 holds for every azimuth while theta_h < (pi/2 - theta_v)/2 and
    # for none beyond (pi/2 + theta_v)/2 (h then reflects v below the horizon): integrate the
    # first band over the full circle and the second over [0, phi_max(theta_h)], each with
    # Gauss-Legendre nodes in xi (the second through a cosine substitution that smooths the
    # square-root ends of phi_max), so the integrand is smooth everywhere it is sampled.
    xi_lo = xi_of((0.5 * math.pi - theta_v) / 2)
    xi_hi = xi_of((0.5 * math.pi + theta_v) / 2)
    s, ws = nodes_xi
    p, wp = nodes_phi
    s, ws, p, wp = s.view(1, -1, 1), ws.view(1, -1, 1), p.view(1, 1, -1), wp.view(1, 1, -1)
    sub = 0.5 * (1 - torch.cos(math.pi * s))
    dsub = 0.5 * math.pi * torch.sin(math.pi * s)
    total = 0
    for x0, x1, full in ((0 * xi_lo, xi_lo, True), (xi_lo, xi_hi, False)):
        if full:
            xi = x0 + (x1 - x0) * s
            wx = (x1 - x0) * ws
        else:
            xi = x0 + (x1 - x0) * sub
            wx = (x1 - x0) * ws * dsub
        cos2 = (1 - xi) / (1 + (a2 - 1) * xi)
        nh = cos2.clamp_min(0).sqrt()
        sh = (1 - cos2).clamp_min(0).sqrt()
        if full:
            phi_max = torch.full_like(nh, math.pi)
        else:
            c = nv * (1 - 2 * cos2) / (2 * nh * vx * sh).clamp_min(1e-300)
            phi_max = torch.arccos(c.clamp(-1, 1))
        phi = phi_max * p
        vh = vx * sh * phi.cos() + nv * nh
        nl = (2 * vh * nh - nv).clamp_min(0)
        # f cos / pdf(l) with pdf(l) = D (n.h) / (4 v.h) = G2 (v.h) / ((n.v)(n.h)); the pdf in
        # (xi, phi) is 1 / (2 pi), phi covers [0, phi_max] of the even integrand
        w = smith_g2(nl, nv, alpha.view(-1, 1, 1)) * vh / (nv * nh.clamp_min(1e-300))
        w = w * (nl > 0) * wx * wp * (phi_max / math.pi)
        fc = (1 - vh.clamp(0, 1)) ** 5
        total = total + torch.stack([((1 - fc) * w).sum(dim=(1, 2)), (fc * w).sum(dim=(1, 2))], -1)
    return total


def _build_dfg(resolution, samples_xi=32, samples_phi=16):
    r = resolution
    axis = (torch.arange(r, dtype=torch.float64) + 0.5) / r
    rough, nv = torch.meshgrid(axis, axis, indexing="ij")
    out = _dfg_entries(nv.reshape(-1), rough.reshape(-1) ** 2, _gauss_legendre(samples_xi),
                       _gauss_legendre(samples_phi))
    return out.view(r, r, 2)  # (roughness, n.v, 2)


def dfg_lut(resolution=64, device=None, dtype=torch.float32) -> Tensor:
    """The split-sum DFG table: ``A, B`` with ``int_H f_spec(l, v) (n.l) dl = F0 A + B`` for the
    GGX / height-correlated Smith / Schlick BRDF, as a function of ``n.v`` and roughness.

    Integrated once per process (then cached, about 0.5 s) in float64 by Gauss-Legendre
    quadrature over the GGX-sampled half vector (2 x 32 x 16 nodes per entry, split where
    reflected directions start to fall below the horizon, so every node sees a smooth integrand):
    about 5e-4 from the converged integral at worst (n.v = 1/128), 1e-5 on average. No fitted
    formula is involved.

    Args:
        resolution: int, entries per axis; entry ``[j, i]`` is at roughness ``(j + 0.5) / R`` and
            ``n.v = (i + 0.5) / R``.
        device: where the table goes (default CPU).
        dtype: torch.float32 or torch.float64.
    Returns:
        (R, R, 2) tensor, ``[..., 0] = A`` (scale of F0) and ``[..., 1] = B`` (bias).
    """
    return _cached(("dfg", int(resolution)), lambda: _build_dfg(int(resolution)), device, dtype)


def lookup_dfg(lut: Tensor, n_dot_v: Tensor, roughness: Tensor) -> Tensor:
    """Bilinear lookup of a :func:`dfg_lut` table (clamped at its border).

    Args:
        lut: (R, R, 2) table of :func:`dfg_lut`.
        n_dot_v: (P,) float in [0, 1].
        roughness: (P,) float in [0, 1].
    Returns:
        (P, 2) ``A, B``.
    """
    grid = torch.stack([2 * n_dot_v - 1, 2 * roughness - 1], dim=-1).view(1, 1, -1, 2)
    tex = lut.permute(2, 0, 1).unsqueeze(0)  # (1, 2, roughness, n.v)
    out = tnf.grid_sample(tex, grid.to(tex.dtype), mode="bilinear", padding_mode="border", align_corners=False)
    return out.view(2, -1).t()


# ----------------------------------------------------------------------------------------------
# Irradiance of a spherical Gaussian
# ----------------------------------------------------------------------------------------------

SG_LOG_SHARPNESS_RANGE = (math.log(1e-2), math.log(5e3))


def sg_integral(sharpness: Tensor) -> Tensor:
    """``int_S2 exp(lambda (mu.l - 1)) dl = 2 pi (1 - exp(-2 lambda)) / lambda``, elementwise."""
    return 2 * math.pi * (-torch.expm1(-2 * sharpness)) / sharpness


def _build_sg_irradiance(rows, cols, nodes):
    lo, hi = SG_LOG_SHARPNESS_RANGE
    lam = torch.linspace(lo, hi, rows, dtype=torch.float64).exp().view(rows, 1, 1)
    t = torch.linspace(-1, 1, cols, dtype=torch.float64).clamp(-1, 1).view(1, cols, 1)  # mu.n
    beta = torch.arccos(t)
    theta = ((torch.arange(nodes, dtype=torch.float64) + 0.5) * (0.5 * math.pi / nodes)).view(1, 1, -1)
    # n = z, mu at polar angle beta: the azimuthal integral of exp(lambda mu.l) is
    # 2 pi exp(lambda cos beta cos theta) I0(lambda sin beta sin theta); with I0(x) = i0e(x) e^x the
    # exponent becomes lambda (cos(beta - theta) - 1) <= 0.
    x = lam * beta.sin() * theta.sin()
    f = 2 * math.pi * torch.exp(lam * (torch.cos(beta - theta) - 1)) * torch.special.i0e(x)
    f = f * theta.cos() * theta.sin()
    integral = f.sum(-1) * (0.5 * math.pi / nodes)  # int exp(lambda (mu.l - 1)) max(n.l, 0) dl
    return integral / sg_integral(lam.view(rows, 1))  # per unit SG energy, in [0, 1]


def sg_irradiance_lut(device=None, dtype=torch.float32) -> Tensor:
    """``h(lambda, t) = int exp(lambda (mu.l - 1)) max(n.l, 0) dl / int exp(lambda (mu.l - 1)) dl``,
    the clamped-cosine integral of a spherical Gaussian per unit of its energy, tabulated exactly
    (2048-node quadrature of the closed-form azimuthal integral, float64, once per process).

    ``h`` goes from 1/4 (lambda -> 0, a constant light) to ``max(t, 0)`` (lambda -> inf, a
    directional light). The irradiance over pi of an SG ``a exp(lambda (mu.l - 1))`` at normal n is
    ``a sg_integral(lambda) h(lambda, mu.n) / pi``.

    Args:
        device, dtype: where and in which float dtype the table goes.
    Returns:
        (48, 65) tensor: row k at ``log lambda = linspace(log 1e-2, log 5e3, 48)[k]``, column i at
        ``t = mu.n = linspace(-1, 1, 65)[i]`` (so ``t = 0``, the horizon, is a node).
    """
    return _cached(("sg_irr",), lambda: _build_sg_irradiance(48, 65, 2048), device, dtype)


def lookup_sg_irradiance(lut: Tensor, log_sharpness: Tensor, cos_axis_normal: Tensor) -> Tensor:
    """Bilinear lookup of :func:`sg_irradiance_lut` (clamped at its border).

    Args:
        lut: (48, 65) table.
        log_sharpness: (K,) float log lambda of each lobe.
        cos_axis_normal: (P, K) float mu_k . n.
    Returns:
        (P, K) ``h``.
    """
    lo, hi = SG_LOG_SHARPNESS_RANGE
    y = (2 * (log_sharpness - lo) / (hi - lo) - 1).expand_as(cos_axis_normal)
    grid = torch.stack([cos_axis_normal, y], dim=-1).unsqueeze(0)  # (1, P, K, 2)
    out = tnf.grid_sample(lut.view(1, 1, *lut.shape), grid.to(lut.dtype), mode="bilinear",
                          padding_mode="border", align_corners=True)
    return out.view(cos_axis_normal.shape)
