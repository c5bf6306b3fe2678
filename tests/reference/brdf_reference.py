"""Brute-force NumPy (float64) references for gshell.render.light and gshell.render.shading:
plain uniform quadrature over directions, no importance sampling, no tables, written from the
formulas (GGX D, height-correlated Smith G2 through Lambda, Schlick F) and from Blender's
``equirectangular_to_direction`` (Cycles: phi = -2 pi u + pi, theta = -pi v + pi)."""
import math

import numpy as np


def ggx_d(cos_h, alpha):
    a2 = alpha * alpha
    c2 = np.clip(cos_h, 0, 1) ** 2
    return a2 / (math.pi * (c2 * (a2 - 1) + 1) ** 2)


def smith_lambda(cos_x, alpha):
    c2 = np.clip(cos_x, 1e-12, 1) ** 2
    tan2 = (1 - c2) / c2
    return 0.5 * (np.sqrt(1 + alpha * alpha * tan2) - 1)


def smith_g2(cos_l, cos_v, alpha):
    return 1.0 / (1 + smith_lambda(cos_l, alpha) + smith_lambda(cos_v, alpha))


def schlick_weight(cos_vh):
    return (1 - np.clip(cos_vh, 0, 1)) ** 5


def blender_latlong_directions(height, width, sub=1):
    """Directions and solid angles of an (H sub, W sub) grid of sub-texels: (H sub, W sub, 3), (H sub, 1),
    by Blender's inverse mapping, row 0 at v = 1."""
    hs, ws = height * sub, width * sub
    u = (np.arange(ws) + 0.5) / ws
    v = 1 - (np.arange(hs) + 0.5) / hs
    phi = -2 * math.pi * u + math.pi
    theta = -math.pi * v + math.pi
    st, ct = np.sin(theta)[:, None], np.cos(theta)[:, None]
    d = np.stack([st * np.cos(phi)[None], st * np.sin(phi)[None], np.broadcast_to(ct, (hs, ws))], -1)
    edges = np.arange(hs + 1) * (math.pi / hs)
    om = (np.cos(edges[:-1]) - np.cos(edges[1:])) * (2 * math.pi / ws)
    return d, om[:, None]


def dfg_bruteforce(n_dot_v, roughness, n_theta=3000, n_phi=1500):
    """(A, B) with int_H f_spec (n.l) dl = F0 A + B, by midpoint quadrature over the hemisphere of l
    (theta_l in [0, pi/2], phi_l in [0, pi] by symmetry)."""
    alpha = roughness * roughness
    th = (np.arange(n_theta) + 0.5) * (0.5 * math.pi / n_theta)
    ph = (np.arange(n_phi) + 0.5) * (math.pi / n_phi)
    th, ph = np.meshgrid(th, ph, indexing="ij")
    l = np.stack([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)], -1)
    v = np.array([math.sqrt(1 - n_dot_v ** 2), 0.0, n_dot_v])
    h = l + v
    h /= np.linalg.norm(h, axis=-1, keepdims=True)
    nl, nh, vh = l[..., 2], h[..., 2], h @ v
    f = ggx_d(nh, alpha) * smith_g2(nl, n_dot_v, alpha) / (4 * nl * n_dot_v)
    dw = np.sin(th) * (0.5 * math.pi / n_theta) * (math.pi / n_phi) * 2
    fc = schlick_weight(vh)
    return float(np.sum(f * nl * (1 - fc) * dw)), float(np.sum(f * nl * fc * dw))


def irradiance_bruteforce(radiance, normals, height=512):
    """int L(l) max(n.l, 0) dl / pi for a callable radiance (M, 3) -> (M, 3), over a (height, 2 height)
    midpoint grid: (N, 3)."""
    d, om = blender_latlong_directions(height, 2 * height)
    d = d.reshape(-1, 3)
    w = np.broadcast_to(om, (height, 2 * height)).reshape(-1)
    lum = radiance(d)
    cos = np.clip(normals @ d.T, 0, None)  # (N, M)
    return (cos * w) @ lum / math.pi


def piecewise_constant_map(image, sub):
    """Directions, solid angles and values of a lat-long map split into sub x sub sub-texels."""
    h, w, c = image.shape
    d, om = blender_latlong_directions(h, w, sub)
    vals = np.repeat(np.repeat(image, sub, 0), sub, 1)
    return d.reshape(-1, 3), np.broadcast_to(om, (h * sub, w * sub)).reshape(-1), vals.reshape(-1, c)


def prefilter_bruteforce(image, directions, roughness, sub=8):
    """int L D(h) max(r.l, 0) dl / int D(h) max(r.l, 0) dl with n = v = r, for the piecewise-constant
    map ``image`` (H, W, 3): (N, 3)."""
    d, w, vals = piecewise_constant_map(image, sub)
    alpha = roughness * roughness
    cos = directions @ d.T  # (N, M)
    nh = np.sqrt(np.clip((1 + cos) / 2, 0, 1))
    k = ggx_d(nh, alpha) * np.clip(cos, 0, None) * w
    return (k @ vals) / k.sum(-1, keepdims=True)


def shade_bruteforce(radiance, normal, view, albedo, roughness, metallic, height=512):
    """Outgoing radiance of the GGX / height-correlated Smith / Schlick metallic-roughness BRDF with
    Lambertian diffuse albedo (1 - metallic), by quadrature over a (height, 2 height) grid of light
    directions, for a callable radiance. normal, view: (N, 3); albedo (N, 3); roughness,
    metallic: (N, 1). Returns (N, 3)."""
    d, om = blender_latlong_directions(height, 2 * height)
    d = d.reshape(-1, 3)
    w = np.broadcast_to(om, (height, 2 * height)).reshape(-1)
    lum = radiance(d)
    out = np.zeros((normal.shape[0], 3))
    for i in range(normal.shape[0]):
        n, v = normal[i], view[i]
        alpha = roughness[i, 0] ** 2
        nl = d @ n
        nv = float(n @ v)
        h = d + v
        h /= np.linalg.norm(h, axis=-1, keepdims=True)
        f0 = 0.04 + (albedo[i] - 0.04) * metallic[i, 0]
        fr = f0[None] + (1 - f0[None]) * schlick_weight(h @ v)[:, None]
        spec = ggx_d(h @ n, alpha) * smith_g2(nl, nv, alpha) / (4 * np.clip(nl, 1e-12, None) * nv)
        ok = (nl > 0).astype(np.float64)
        brdf = albedo[i] * (1 - metallic[i, 0]) / math.pi + fr * spec[:, None]
        out[i] = ((brdf * lum) * (np.clip(nl, 0, None) * w * ok)[:, None]).sum(0)
    return out
