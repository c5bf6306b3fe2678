"""Benchmark: which learnable environment light to use, SplitSumLight or SGLight.

Each model (with its shading) is fitted to images of spheres of known materials, rendered under a
synthetic outdoor sky (a small bright sun, a sky gradient with a glow around the sun, a darker
ground) by an independent renderer: stratified GGX importance sampling of the sky and quadrature
over the sun's disc, with the exact BRDF (no split-sum, no spherical Gaussians). Then it reports:

- PSNR of the tonemapped images (``gshell.render.tonemap``, sphere pixels only) on the training
  views/materials and on held-out views with held-out materials;
- the recovered light against the true one: solid-angle mean of |log(1 + L)| differences on a
  32 x 64 lat-long map, and the relative RMS error of the irradiance over 256 normals;
- the time of one shading call at 256 x 256 pixels (forward, and forward + backward) on this CPU;
- the parameter count.

Prints one markdown table.

    python scripts/bench_light.py            # about 2 minutes on 2 cores
    python scripts/bench_light.py --quick    # fewer views and steps
"""
import argparse
import math
import os
import sys
import time

import torch

from gshell.render import SGLight, SplitSumLight, latlong_directions, latlong_solid_angles, tonemap
from gshell.render import shading as sh

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import timeit  # noqa: E402

D64 = torch.float64


def unit(x):
    return x / x.norm(dim=-1, keepdim=True)


# ------------------------------------------------------------------------------------------------
# The reference environment: analytic sky + sun disc
# ------------------------------------------------------------------------------------------------

SUN_EL, SUN_AZ = math.radians(35.0), math.radians(-40.0)
SUN_DIR = torch.tensor([math.cos(SUN_EL) * math.cos(SUN_AZ), math.cos(SUN_EL) * math.sin(SUN_AZ),
                        math.sin(SUN_EL)], dtype=D64)
SUN_RADIUS = math.radians(3.0)
SUN_RGB = torch.tensor([300.0, 285.0, 250.0], dtype=D64)
SUN_OMEGA = 2 * math.pi * (1 - math.cos(SUN_RADIUS))


def sky(d):
    """Radiance of the sky without the sun disc, (..., 3) -> (..., 3)."""
    z = d[..., 2:3]
    zen = torch.tensor([0.15, 0.35, 0.9], dtype=D64)
    hor = torch.tensor([0.8, 0.85, 1.0], dtype=D64)
    up = hor + (zen - hor) * z.clamp_min(0).sqrt()
    glow = 2.0 * torch.exp(25 * ((d * SUN_DIR).sum(-1, keepdim=True) - 1)) * torch.tensor([1.0, 0.85, 0.6], dtype=D64)
    ground = torch.tensor([0.25, 0.2, 0.15], dtype=D64) * (0.7 + 0.3 * (1 + z))
    t = ((z + 0.03) / 0.06).clamp(0, 1)
    t = t * t * (3 - 2 * t)
    return ground + (up + glow - ground) * t


def environment_map(h, w, sub=8):
    """The full environment (sky + sun) box-averaged over texels of an (h, w) lat-long map."""
    d = latlong_directions(h * sub, w * sub, dtype=D64)
    val = sky(d) + SUN_RGB * ((d @ SUN_DIR) > math.cos(SUN_RADIUS)).unsqueeze(-1)
    om = latlong_solid_angles(h * sub, w * sub, dtype=D64).expand(h * sub, w * sub).unsqueeze(-1)
    return (val * om).view(h, sub, w, sub, 3).sum((1, 3)) / om.view(h, sub, w, sub, 1).sum((1, 3))


def sun_points(rings=8, spokes=12):
    """Directions and solid angles of a quadrature over the sun's disc."""
    a = (torch.arange(rings, dtype=D64) + 0.5) / rings
    r = SUN_RADIUS * a.sqrt()  # equal-area rings
    phi = (torch.arange(spokes, dtype=D64) + 0.5) * (2 * math.pi / spokes)
    e1 = unit(torch.linalg.cross(SUN_DIR, torch.tensor([0.0, 0.0, 1.0], dtype=D64)))
    e2 = torch.linalg.cross(SUN_DIR, e1)
    rr, pp = torch.meshgrid(r, phi, indexing="ij")
    c, s = rr.cos().unsqueeze(-1), rr.sin().unsqueeze(-1)
    d = SUN_DIR * c + s * (e1 * pp.cos().unsqueeze(-1) + e2 * pp.sin().unsqueeze(-1))
    return d.reshape(-1, 3), torch.full((rings * spokes,), SUN_OMEGA / (rings * spokes), dtype=D64)


def frame(n):
    """Orthonormal tangents (t, b) for normals (P, 3)."""
    z, x = torch.tensor([0.0, 0.0, 1.0], dtype=D64), torch.tensor([1.0, 0.0, 0.0], dtype=D64)
    a = torch.where(n[:, 2:3].abs() < 0.9, z, x)
    t = unit(torch.linalg.cross(a, n))
    return t, torch.linalg.cross(n, t)


def render_reference(n, v, albedo, rough, metal, gen, strata=(24, 24)):
    """Outgoing radiance (P, 3) by stratified sampling (cosine lobe for diffuse, GGX half vectors
    for specular, one random shift per pixel) of the sky and quadrature over the sun disc."""
    out = []
    s1 = (torch.arange(strata[0], dtype=D64) + 0.5) / strata[0]
    s2 = (torch.arange(strata[1], dtype=D64) + 0.5) / strata[1]
    u1, u2 = [x.reshape(1, -1) for x in torch.meshgrid(s1, s2, indexing="ij")]
    sd, so = sun_points()
    for i in range(0, n.shape[0], 2048):
        nn, vv, aa, rr, mm = (x[i:i + 2048] for x in (n, v, albedo, rough, metal))
        p = nn.shape[0]
        t, b = frame(nn)
        shift = torch.rand(p, 2, generator=gen, dtype=D64)
        x1, x2 = (u1 + shift[:, :1]) % 1, (u2 + shift[:, 1:]) % 1
        alpha = rr * rr
        nv = (nn * vv).sum(-1, keepdim=True).clamp(1e-4, 1)
        f0 = 0.04 + (aa - 0.04) * mm
        kd = aa * (1 - mm)
        # diffuse: cosine-weighted directions, estimator L
        ct, ph = x1.sqrt(), 2 * math.pi * x2
        st = (1 - ct * ct).clamp_min(0).sqrt()
        ld = (t.unsqueeze(1) * (st * ph.cos()).unsqueeze(-1) + b.unsqueeze(1) * (st * ph.sin()).unsqueeze(-1)
              + nn.unsqueeze(1) * ct.unsqueeze(-1))
        diff = kd * sky(ld).mean(1)
        # specular: GGX half vectors, estimator F G2 (v.h) / ((n.v)(n.h))
        c2 = (1 - x1) / (1 + (alpha * alpha - 1) * x1)
        ch, sh_ = c2.sqrt(), (1 - c2).clamp_min(0).sqrt()
        h = (t.unsqueeze(1) * (sh_ * ph.cos()).unsqueeze(-1) + b.unsqueeze(1) * (sh_ * ph.sin()).unsqueeze(-1)
             + nn.unsqueeze(1) * ch.unsqueeze(-1))
        vh = (h * vv.unsqueeze(1)).sum(-1)
        ls = 2 * vh.unsqueeze(-1) * h - vv.unsqueeze(1)
        nl = (ls * nn.unsqueeze(1)).sum(-1)
        ok = (nl > 0) & (vh > 0)
        g2 = sh.smith_g2(nl, nv, alpha)
        w = torch.where(ok, g2 * vh / (nv * ch), torch.zeros(()))
        fr = f0.unsqueeze(1) + (1 - f0.unsqueeze(1)) * ((1 - vh.clamp(0, 1)) ** 5).unsqueeze(-1)
        spec = (fr * sky(ls) * w.unsqueeze(-1)).mean(1)
        # sun disc: quadrature of the full BRDF
        nls = nn @ sd.t()  # (p, S)
        hs = unit(sd.unsqueeze(0) + vv.unsqueeze(1))
        nhs = (hs * nn.unsqueeze(1)).sum(-1)
        vhs = (hs * vv.unsqueeze(1)).sum(-1)
        dv = sh.ggx_ndf(nhs, alpha) * sh.smith_visibility(nls, nv, alpha)
        frs = f0.unsqueeze(1) + (1 - f0.unsqueeze(1)) * ((1 - vhs.clamp(0, 1)) ** 5).unsqueeze(-1)
        brdf = kd.unsqueeze(1) / math.pi + frs * dv.unsqueeze(-1)
        sun = (brdf * (nls.clamp_min(0) * so).unsqueeze(-1)).sum(1) * SUN_RGB
        out.append(diff + spec + sun)
    return torch.cat(out)


def reference_irradiance(normals, h=256):
    """int L max(n.l, 0) dl / pi of the true environment (sky by quadrature, sun by its disc)."""
    d = latlong_directions(h, 2 * h, dtype=D64).view(-1, 3)
    om = latlong_solid_angles(h, 2 * h, dtype=D64).expand(h, 2 * h).reshape(-1)
    e = ((normals @ d.t()).clamp_min(0) * om) @ sky(d) / math.pi
    sd, so = sun_points()
    return e + ((normals @ sd.t()).clamp_min(0) * so).sum(-1, keepdim=True) * SUN_RGB / math.pi


# ------------------------------------------------------------------------------------------------
# Scenes: orthographic views of a unit sphere
# ------------------------------------------------------------------------------------------------

TRAIN_MATERIALS = [((0.9, 0.9, 0.9), 0.15, 1.0), ((0.8, 0.3, 0.2), 0.45, 0.0),
                   ((0.95, 0.8, 0.5), 0.3, 1.0), ((0.3, 0.5, 0.8), 0.75, 0.0)]
TEST_MATERIALS = [((0.7, 0.7, 0.7), 0.22, 0.5), ((0.9, 0.6, 0.4), 0.6, 1.0), ((0.5, 0.8, 0.5), 0.9, 0.0)]


def view_dirs(k, offset):
    i = torch.arange(k, dtype=D64) + offset
    z = (1 - 2 * i / k) * 0.9  # keep away from the exact poles
    r = (1 - z * z).sqrt()
    p = i * math.pi * (3 - math.sqrt(5)) + 0.3
    return torch.stack([r * p.cos(), r * p.sin(), z], -1)


def sphere_pixels(cam, res):
    """Normals and the view direction of the sphere pixels of an orthographic res x res view."""
    up = torch.tensor([0.0, 0.0, 1.0], dtype=D64)
    right = unit(torch.linalg.cross(up, cam))
    up = torch.linalg.cross(cam, right)
    c = (torch.arange(res, dtype=D64) + 0.5) / res * 2 - 1
    y, x = torch.meshgrid(-c, c, indexing="ij")
    inside = x * x + y * y < 1
    x, y = x[inside], y[inside]
    z = (1 - x * x - y * y).sqrt()
    n = x.unsqueeze(-1) * right + y.unsqueeze(-1) * up + z.unsqueeze(-1) * cam
    return n, cam.expand_as(n)


def make_set(materials, cams, res):
    parts = []
    for alb, r, m in materials:
        for cam in cams:
            n, v = sphere_pixels(cam, res)
            p = n.shape[0]
            parts.append((n, v, torch.tensor(alb, dtype=D64).expand(p, 3), torch.full((p, 1), r, dtype=D64),
                          torch.full((p, 1), m, dtype=D64)))
    return [torch.cat(x) for x in zip(*parts)]


def psnr(a, b):
    return float(-10 * torch.log10((tonemap(a) - tonemap(b)).square().mean()))


# ------------------------------------------------------------------------------------------------

def fit(light, data, target, steps, lr):
    inputs = [x.float() for x in data]
    tgt = tonemap(target.float())
    opt = torch.optim.Adam(light.parameters(), lr=lr)
    t = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad()
        loss = (tonemap(light.shade(*inputs)) - tgt).abs().mean()
        loss.backward()
        opt.step()
    return time.perf_counter() - t


def shade_times(light, repeats):
    g = torch.Generator().manual_seed(0)
    p = 256 * 256
    n = unit(torch.randn(p, 3, generator=g))
    v = unit(torch.randn(p, 3, generator=g))
    v = torch.where((n * v).sum(-1, keepdim=True) < 0, -v, v)
    a, r, m = torch.rand(p, 3, generator=g), torch.rand(p, 1, generator=g), torch.rand(p, 1, generator=g)
    cpu = torch.device("cpu")
    with torch.no_grad():
        fwd = timeit(lambda: light.shade(n, v, a, r, m), cpu, repeats)

    def both():
        light.zero_grad()
        light.shade(n, v, a, r, m).sum().backward()
    return fwd, timeit(both, cpu, repeats)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer views, pixels and steps")
    ap.add_argument("--steps", type=int, default=None, help="Adam steps per fit (default 400, quick 150)")
    args = ap.parse_args(argv)
    steps = args.steps or (150 if args.quick else 400)
    res = 20 if args.quick else 24
    gen = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    n_train, n_test = (6, 4) if args.quick else (10, 6)
    train = make_set(TRAIN_MATERIALS, view_dirs(n_train, 0.0), res)
    test = make_set(TEST_MATERIALS, view_dirs(n_test, 0.5), res)
    y_train = render_reference(*train, gen)
    y_test = render_reference(*test, gen)
    noise_floor = psnr(render_reference(*test, torch.Generator().manual_seed(1)), y_test)
    true_map = environment_map(128, 256, sub=4).float()
    ref_map = environment_map(32, 64)
    normals = view_dirs(256, 0.25)
    ref_irr = reference_irradiance(normals)
    t_ref = time.perf_counter() - t0
    om = latlong_solid_angles(32, 64, dtype=D64).unsqueeze(-1)

    models = [("SGLight K=16", lambda: SGLight(16)), ("SGLight K=32", lambda: SGLight(32)),
              ("SplitSumLight 16x32", lambda: SplitSumLight(16)), ("SplitSumLight 32x64", lambda: SplitSumLight(32)),
              ("SplitSumLight 64x128", lambda: SplitSumLight(64))]
    rows = []
    for name, make in models:
        light = make()
        with torch.no_grad():
            p_true = psnr(make().from_latlong(true_map).shade(*[x.float() for x in test]).double(), y_test)
        t_fit = fit(light, train, y_train, steps, lr=0.05)
        with torch.no_grad():
            p_train = psnr(light.shade(*[x.float() for x in train]).double(), y_train)
            p_test = psnr(light.shade(*[x.float() for x in test]).double(), y_test)
            m = light.to_latlong(32, 64).double()
            map_err = float(((torch.log1p(m) - torch.log1p(ref_map)).abs() * om).sum() / (3 * 4 * math.pi))
            irr = light.diffuse(normals.float()).double()
            irr_err = float((irr - ref_irr).square().mean().sqrt() / ref_irr.square().mean().sqrt())
        fwd, both = shade_times(light, 5)
        params = sum(p.numel() for p in light.parameters())
        rows.append((name, p_true, p_train, p_test, map_err, irr_err, fwd, both, params, t_fit / steps * 1000))

    print("Light models fitted to %d training pixels (%d materials x %d views of a sphere, %d^2 px) rendered under "
          "a sky + 3-degree sun by an independent stratified-sampling renderer (%.1f s; its noise: %.1f dB between two "
          "seeds); %d Adam steps, lr 0.05, L1 loss on tonemap(); held out: %d pixels (%d new materials x %d new "
          "views). 'true light' = the model set by from_latlong(true 128x256 map), not fitted: its shading error "
          "alone. torch %s, %d threads, load average %.1f."
          % (train[0].shape[0], len(TRAIN_MATERIALS), n_train, res, t_ref, noise_floor, steps, test[0].shape[0],
             len(TEST_MATERIALS), n_test, torch.__version__, torch.get_num_threads(), os.getloadavg()[0]))
    print()
    print("| model | PSNR held-out, true light (dB) | PSNR train (dB) | PSNR held-out (dB) | map log-L1 "
          "| irradiance rel. RMS | shade 256^2 fwd (ms) | fwd+bwd (ms) | params | fit step (ms) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| %s | %.2f | %.2f | %.2f | %.3f | %.3f | %.1f | %.1f | %d | %.1f |" % r)


if __name__ == "__main__":
    main()
