"""Tests of gshell.riemann: grid features against analytic surfaces, second-order convergence,
invariances, the mesh estimators, CPU/CUDA agreement and bad input."""
import math
import os
import sys

import numpy as np
import pytest
import torch

from gshell.riemann import _surface_features_op, grid_features, mesh_features

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
from bench_riemann import numpy_grid_features  # noqa: E402

D = torch.float64
TH0, TH1 = 0.3, math.pi - 0.3  # sphere and ellipsoid: polar angle range (poles excluded)


def sphere(n, R=1.5, m=None, dtype=D):
    """Sphere, u = polar angle theta in [TH0, TH1] (open), v = azimuth (periodic): outward normal."""
    m = m or n
    th = torch.linspace(TH0, TH1, n, dtype=D)[:, None]
    ph = torch.arange(m, dtype=D)[None, :] * (2 * math.pi / m)
    x = torch.stack([R * th.sin() * ph.cos(), R * th.sin() * ph.sin(), (R * th.cos()).expand(-1, m)], -1)
    return x.to(dtype), th.expand(-1, m), (TH1 - TH0) / (n - 1), 2 * math.pi / m


def ellipsoid(th, ph, a=1.0, b=1.4, c=0.8):
    x = torch.stack([a * th.sin() * ph.cos(), b * th.sin() * ph.sin(), c * th.cos()], -1)
    s = (x[..., 0] / a**2) ** 2 + (x[..., 1] / b**2) ** 2 + (x[..., 2] / c**2) ** 2
    K = 1 / ((a * b * c) ** 2 * s**2)
    H = ((x * x).sum(-1) - a * a - b * b - c * c) / (2 * (a * b * c) ** 2 * s**1.5)
    return x, K, H


def ellipsoid_grid(n, open_v=False):
    th = torch.linspace(TH0, TH1, n, dtype=D)[:, None].expand(-1, n)
    if open_v:  # a patch: open in both directions
        ph = torch.linspace(0.2, 2.0, n, dtype=D)[None, :].expand(n, -1)
    else:
        ph = (torch.arange(n, dtype=D) * (2 * math.pi / n))[None, :].expand(n, -1)
    return ellipsoid(th, ph)


def torus(n, R=2.0, r=0.7, m=None):
    m = m or n
    u = (torch.arange(n, dtype=D) * (2 * math.pi / n))[:, None].expand(-1, m)
    v = (torch.arange(m, dtype=D) * (2 * math.pi / m))[None, :].expand(n, -1)
    rho = R + r * v.cos()
    x = torch.stack([rho * u.cos(), rho * u.sin(), r * v.sin()], -1)
    K = v.cos() / (r * rho)
    H = -(R + 2 * r * v.cos()) / (2 * r * rho)  # outward normal
    return x, K, H, u, v, 2 * math.pi / n, 2 * math.pi / m


def cylinder(n, R=0.8):
    z = torch.linspace(-1, 1, n, dtype=D)[:, None].expand(-1, n)
    ph = (torch.arange(n, dtype=D) * (2 * math.pi / n))[None, :].expand(n, -1)
    return torch.stack([R * ph.cos(), R * ph.sin(), z], -1)


def slope(ns, errs):
    """Order of convergence: the slope of log(err) against log(h), h ~ 1/n."""
    return np.polyfit(np.log(1.0 / np.array(ns, dtype=float)), np.log(errs), 1)[0]


# ------------------------------------------------------------------------------------------------
# Analytic surfaces


def test_sphere_metric_christoffel_curvature():
    R = 1.5
    x, th, dth, dph = sphere(64, R)
    f = grid_features(x, periodic_v=True)
    assert f["metric"].shape == (64, 64, 2, 2) and f["christoffel"].shape == (64, 64, 2, 2, 2)
    E = R**2 * dth**2 * torch.ones_like(th)
    G = R**2 * th.sin() ** 2 * dph**2
    g = f["metric"]
    assert torch.allclose(g[..., 0, 0], E, rtol=dth**2)  # O(h^2): h^2/3 inside, 2h^2/3 at edges
    assert torch.allclose(g[..., 1, 1], G, rtol=dph**2)
    assert g[..., 0, 1].abs().max() < 1e-12 and torch.equal(g[..., 0, 1], g[..., 1, 0])
    eye = torch.eye(2, dtype=D).expand_as(g)
    assert torch.allclose(g @ f["metric_inverse"], eye, atol=1e-12)
    c = f["christoffel"]
    # Gamma^theta_phiphi = -sin cos, Gamma^phi_thetaphi = cot, in index units
    assert torch.allclose(c[..., 0, 1, 1], -th.sin() * th.cos() * dph**2 / dth, atol=2e-3)
    assert torch.allclose(c[..., 1, 0, 1], th.cos() / th.sin() * dth, atol=2e-3 * dth)
    assert torch.equal(c[..., 1, 0, 1], c[..., 1, 1, 0])
    for k, i, j in ((0, 0, 0), (0, 0, 1), (1, 0, 0), (1, 1, 1)):
        assert c[..., k, i, j][1:-1].abs().max() < 1e-10  # exactly 0 inside by symmetry
        assert c[..., k, i, j].abs().max() < dth**2  # O(h^2) at the one-sided edge rows
    assert torch.allclose(f["gaussian_curvature"], torch.full_like(th, 1 / R**2), rtol=5e-3)
    assert torch.allclose(f["mean_curvature"], torch.full_like(th, -1 / R), rtol=5e-3)
    n = f["normals"]
    assert torch.allclose(n, x / R, atol=2e-3)  # outward


def test_sphere_128_relative_error_below_1e_3():
    """Interior: rows 2..125 (theta in [0.34, pi - 0.34]: poles and the first and last two rows
    excluded), all columns (periodic). The one-sided edge rows are second order too and, at this
    size, also below 1e-3 (7.1e-4 against 7.0e-4 inside)."""
    x, _, _, _ = sphere(128)
    K = grid_features(x, periodic_v=True)["gaussian_curvature"]
    rel = (K * 1.5**2 - 1).abs()
    assert rel[2:-2].max() < 1e-3
    assert rel.max() < 1e-3


@pytest.mark.parametrize("which", ["sphere", "ellipsoid", "ellipsoid_patch", "cylinder", "torus"])
def test_second_order_convergence(which):
    ns = [24, 48, 96, 192]
    errs = {"K": [], "H": [], "Kx": []}
    for n in ns:
        if which == "sphere":
            x, th, _, _ = sphere(n)
            K, H, pu, pv = torch.full_like(th, 1 / 1.5**2), torch.full_like(th, -1 / 1.5), False, True
        elif which.startswith("ellipsoid"):
            x, K, H = ellipsoid_grid(n, open_v=which == "ellipsoid_patch")
            pu, pv = False, which == "ellipsoid"
        elif which == "cylinder":
            x = cylinder(n)
            K, H, pu, pv = torch.zeros(n, n, dtype=D), torch.full((n, n), 1 / 1.6, dtype=D), False, True
        else:
            x, K, H = torus(n)[:3]
            pu = pv = True
        f = grid_features(x, periodic_u=pu, periodic_v=pv)
        # every point, edges included
        errs["K"].append(float((f["gaussian_curvature"] - K).abs().max()))
        errs["Kx"].append(float((f["gaussian_curvature_extrinsic"] - K).abs().max()))
        errs["H"].append(float((f["mean_curvature"] - H).abs().max()))
    for key, e in errs.items():
        if which == "cylinder" and key != "H":
            assert max(e) < 1e-10  # x_uu = x_uv = 0 exactly
            continue
        order = slope(ns, e)
        assert order >= 1.8, (which, key, e, order)


def test_edges_second_order():
    """The one-sided stencils keep second order at the open edges (rows 0, 1, n-2, n-1)."""
    ns = [24, 48, 96, 192]
    errs = []
    for n in ns:
        x, K, _ = ellipsoid_grid(n, open_v=True)
        Kh = grid_features(x)["gaussian_curvature"]
        edge = torch.zeros(n, n, dtype=torch.bool)
        edge[:2] = edge[-2:] = edge[:, :2] = edge[:, -2:] = True
        errs.append(float((Kh - K).abs()[edge].max()))
    assert slope(ns, errs) >= 1.8, errs


def test_torus_metric_and_christoffel():
    x, K, H, u, v, du, dv = torus(96, m=64)
    R, r = 2.0, 0.7
    f = grid_features(x, periodic_u=True, periodic_v=True)
    rho = R + r * v.cos()
    g = f["metric"]
    assert torch.allclose(g[..., 0, 0], rho**2 * du**2, rtol=du**2 / 2)
    assert torch.allclose(g[..., 1, 1], torch.full_like(v, r**2 * dv**2), rtol=dv**2 / 2)
    assert g[..., 0, 1].abs().max() < 1e-12
    c = f["christoffel"]
    assert torch.allclose(c[..., 0, 0, 1], -r * v.sin() / rho * dv, atol=1e-3 * dv)
    assert torch.allclose(c[..., 1, 0, 0], rho * v.sin() / r * du**2 / dv, atol=1e-3)
    assert torch.allclose(f["gaussian_curvature"], K, atol=dv**2)
    assert torch.allclose(f["mean_curvature"], H, atol=dv**2)


def test_intrinsic_matches_extrinsic_and_numpy_reference():
    x, _, _ = ellipsoid_grid(40, open_v=True)
    f = grid_features(x)
    assert torch.allclose(f["gaussian_curvature"], f["gaussian_curvature_extrinsic"], rtol=1e-9, atol=1e-9)
    ref = numpy_grid_features(x.numpy())
    for k, v in ref.items():
        assert np.allclose(f[k].numpy(), v, rtol=1e-10, atol=1e-10), k
    xt, _, _ = torus(24, m=20)[:3]
    f = grid_features(xt, periodic_u=True, periodic_v=True)
    ref = numpy_grid_features(xt.numpy(), True, True)
    for k, v in ref.items():
        assert np.allclose(f[k].numpy(), v, rtol=1e-10, atol=1e-10), k


# ------------------------------------------------------------------------------------------------
# Invariances


def random_rotation(seed):
    g = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=g, dtype=D))
    q = q * torch.sign(torch.diagonal(r))
    if torch.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def test_rigid_motion_invariance():
    x, _, _ = ellipsoid_grid(48)
    Q = random_rotation(0)
    y = x @ Q.T + torch.tensor([3.0, -1.0, 2.5], dtype=D)
    f, h = grid_features(x, periodic_v=True), grid_features(y, periodic_v=True)
    for k in ("metric", "christoffel", "gaussian_curvature", "mean_curvature"):
        assert torch.allclose(f[k], h[k], rtol=1e-9, atol=1e-11), k
    assert torch.allclose(f["normals"] @ Q.T, h["normals"], atol=1e-12)


def test_reparametrisation_invariance():
    n = 97
    # stretched chart of the same surface: theta = TH0 + (TH1 - TH0) (s^2 + s) / 2, monotone
    s = torch.linspace(0.15, 1.0, n, dtype=D)
    th_s = (TH0 + (TH1 - TH0) * (s**2 + s) / 2)[:, None].expand(-1, n)
    ph = (torch.arange(n, dtype=D) * (2 * math.pi / n))[None, :].expand(n, -1)
    x_s, K_s, H_s = ellipsoid(th_s, ph)
    f_s = grid_features(x_s, periodic_v=True)
    x_u, K_u, H_u = ellipsoid_grid(n)
    f_u = grid_features(x_u, periodic_v=True)
    # the metric depends on the chart, the curvature does not
    assert not torch.allclose(f_s["metric"][1:-1:7], f_u["metric"][1:-1:7], rtol=0.1)
    assert (f_s["gaussian_curvature"] - K_s).abs().max() < 5e-3 * K_s.abs().max()
    assert (f_s["mean_curvature"] - H_s).abs().max() < 5e-3 * H_s.abs().max()
    # exact same points: reversed columns (phi -> -phi), transposed chart (u <-> v)
    f_r = grid_features(x_u.flip(1), periodic_v=True)
    assert torch.allclose(f_r["gaussian_curvature"], f_u["gaussian_curvature"].flip(1), rtol=1e-10)
    assert torch.allclose(f_r["mean_curvature"], -f_u["mean_curvature"].flip(1), rtol=1e-10)
    f_t = grid_features(x_u.transpose(0, 1), periodic_u=True)
    assert torch.allclose(f_t["gaussian_curvature"], f_u["gaussian_curvature"].T, rtol=1e-10)
    assert torch.allclose(f_t["normals"], -f_u["normals"].transpose(0, 1), atol=1e-12)


# ------------------------------------------------------------------------------------------------
# Batches, dtypes, custom op


def test_batched_and_float32():
    x, _, _ = ellipsoid_grid(64)
    b = torch.stack([x, 2 * x])
    fb = grid_features(b, periodic_v=True)
    f1 = grid_features(x, periodic_v=True)
    assert fb["gaussian_curvature"].shape == (2, 64, 64)
    assert torch.allclose(fb["gaussian_curvature"][0], f1["gaussian_curvature"])
    assert torch.allclose(fb["gaussian_curvature"][1], f1["gaussian_curvature"] / 4, rtol=1e-10)
    f32 = grid_features(x.float(), periodic_v=True)
    for k, v in f1.items():
        assert f32[k].dtype == torch.float32
        scale = float(v.abs().max())
        assert (f32[k].double() - v).abs().max() < 1e-3 * scale, k


def test_opcheck():
    x, _, _ = ellipsoid_grid(16)
    torch.library.opcheck(_surface_features_op, (x.unsqueeze(0).contiguous(), False, True))


@pytest.mark.gpu
def test_cuda_matches_cpu():
    for dtype in (torch.float32, torch.float64):
        x, _, _ = ellipsoid_grid(80)
        x = x.to(dtype)
        for pu, pv, xx in ((False, True, x), (False, False, x[:, :50]), (True, True, torus(64)[0].to(dtype))):
            fc = grid_features(xx, periodic_u=pu, periodic_v=pv)
            fg = grid_features(xx.cuda(), periodic_u=pu, periodic_v=pv)
            tol = 1e-10 if dtype == torch.float64 else 1e-3
            for k in fc:
                scale = float(fc[k].abs().max()) + 1e-12
                assert (fg[k].cpu() - fc[k]).abs().max() <= tol * scale, k
    v, f = torus_mesh(32)
    mc, mg = mesh_features(v, f), mesh_features(v.cuda(), f.cuda())
    for k in mc:
        assert torch.allclose(mg[k].cpu(), mc[k], rtol=1e-6, atol=1e-8, equal_nan=True), k


# ------------------------------------------------------------------------------------------------
# Meshes


def grid_faces(nu, nv, periodic_u, periodic_v):
    i = torch.arange(nu if periodic_u else nu - 1)[:, None]
    j = torch.arange(nv if periodic_v else nv - 1)[None, :]
    q = lambda a, b: ((a % nu) * nv + (b % nv)).reshape(-1)
    p00, p10, p11, p01 = q(i, j), q(i + 1, j), q(i + 1, j + 1), q(i, j + 1)
    return torch.cat([torch.stack([p00, p10, p11], 1), torch.stack([p00, p11, p01], 1)])


def torus_mesh(n):
    x = torus(n)[0]
    return x.reshape(-1, 3), grid_faces(n, n, True, True)


def test_mesh_features_agree_with_grid_on_torus():
    n = 64
    x, K, H = torus(n)[:3]
    fg = grid_features(x, periodic_u=True, periodic_v=True)
    fm = mesh_features(x.reshape(-1, 3), grid_faces(n, n, True, True))
    Kg, Hg = fg["gaussian_curvature"].reshape(-1), fg["mean_curvature"].reshape(-1)
    scale_K, scale_H = float(K.abs().max()), float(H.abs().max())
    # quadric fit on the 2-ring: O(h) accurate on this (asymmetric, 6-neighbour) triangulation
    assert (fm["gaussian_curvature"] - Kg).abs().max() < 0.05 * scale_K
    assert (fm["mean_curvature"] - Hg).abs().max() < 0.07 * scale_H  # 4.5% measured
    assert (fm["gaussian_curvature_angle_defect"] - Kg).abs().max() < 0.05 * scale_K
    assert (fm["mean_curvature_cotangent"] - Hg).abs().max() < 0.05 * scale_H
    assert torch.allclose(fm["normals"], fg["normals"].reshape(-1, 3), atol=0.02)
    # the local chart is orthonormal at the vertex up to the fitted slope
    assert torch.allclose(fm["metric"], torch.eye(2, dtype=D).expand(n * n, 2, 2), atol=1e-2)
    assert fm["christoffel"].shape == (n * n, 2, 2, 2)
    # gauss-bonnet: the angle defects of a torus sum to 0
    assert abs(float((fm["gaussian_curvature_angle_defect"] * fm["vertex_area"]).sum())) < 1e-9


def test_mesh_features_convergence_and_open_mesh():
    errs = []
    ns = [24, 48, 96]
    for n in ns:
        x, K, _ = torus(n)[:3]
        fm = mesh_features(x.reshape(-1, 3), grid_faces(n, n, True, True))
        errs.append(float((fm["gaussian_curvature"] - K.reshape(-1)).abs().max()))
    assert errs[-1] < errs[0] / 3
    # an open ellipsoid patch: boundary vertices have NaN discrete estimators, the fit works
    n = 40
    x, K, H = ellipsoid_grid(n, open_v=True)
    fm = mesh_features(x.reshape(-1, 3).float(), grid_faces(n, n, False, False))
    kd = fm["gaussian_curvature_angle_defect"].view(n, n)
    assert kd[0].isnan().all() and not kd[1:-1, 1:-1].isnan().any()
    inner = (slice(3, -3), slice(3, -3))
    assert (fm["gaussian_curvature"].view(n, n)[inner].double() - K[inner]).abs().max() < 0.05 * K.max()
    assert (fm["mean_curvature"].view(n, n)[inner].double() - H[inner]).abs().max() < 0.05 * H.abs().max()


def test_mesh_exact_on_quadric():
    """A paraboloid z = 0.3 x^2 + 0.2 y^2 is fitted exactly at the apex."""
    t = torch.linspace(-0.2, 0.2, 9, dtype=D)
    X, Y = torch.meshgrid(t, t, indexing="ij")
    v = torch.stack([X, Y, 0.3 * X**2 + 0.2 * Y**2], -1).reshape(-1, 3)
    fm = mesh_features(v, grid_faces(9, 9, False, False))
    c = 4 * 9 + 4
    assert abs(float(fm["gaussian_curvature"][c]) - 4 * 0.3 * 0.2) < 1e-9
    assert abs(float(fm["mean_curvature"][c]) - 0.5) < 1e-9  # normal +z, surface bends towards it


# ------------------------------------------------------------------------------------------------
# Bad input


def test_bad_input():
    x, _, _ = ellipsoid_grid(16)
    with pytest.raises(TypeError, match="points"):
        grid_features(x.numpy())
    with pytest.raises(TypeError, match="points"):
        grid_features(x.long())
    with pytest.raises(ValueError, match="points"):
        grid_features(x[..., :2])
    with pytest.raises(ValueError, match="points"):
        grid_features(x[0])
    with pytest.raises(ValueError, match="at least 4"):
        grid_features(x[:3])
    with pytest.raises(TypeError, match="periodic_v"):
        grid_features(x, periodic_v=1)
    y = x.clone()
    y[3, 4, 1] = float("nan")
    with pytest.raises(ValueError, match="points.*finite"):
        grid_features(y)
    with pytest.raises(ValueError, match="verts"):
        mesh_features(x.reshape(-1, 3)[:, :2], grid_faces(16, 16, False, True))
    with pytest.raises(ValueError, match="faces"):
        mesh_features(x.reshape(-1, 3), grid_faces(16, 16, False, True) + 1000)


def test_degenerate_grids():
    x, _, _ = ellipsoid_grid(16)
    y = torch.cat([x[:6], x[5:]])  # row 5 repeated
    with pytest.raises(ValueError, match=r"points\[5, 0\].*repeated"):
        grid_features(y, periodic_v=True)
    with pytest.raises(ValueError, match=r"points\[1, 5, 0\]"):
        grid_features(torch.stack([x[:17], y[:16]]), periodic_v=True)
    th = torch.linspace(0, 1, 12, dtype=D)[:, None].expand(-1, 12)  # includes the pole
    ph = (torch.arange(12, dtype=D) * (2 * math.pi / 12))[None, :].expand(12, -1)
    with pytest.raises(ValueError, match=r"points\[0, 0\]"):
        grid_features(ellipsoid(th, ph)[0], periodic_v=True)
    # all points on a curve: x_u parallel to x_v, det g = 0
    t = (torch.arange(10, dtype=D)[:, None] + torch.arange(10, dtype=D)[None, :]) / 10
    with pytest.raises(ValueError, match="degenerate"):
        grid_features(torch.stack([t, t**2, t**3], -1))


def test_fold():
    # a section that turns back on itself in one step (a hairpin), swept along y
    xs = torch.tensor([0, 1, 2, 3, 2.9, 1.9, 0.9, -0.1], dtype=D)
    zs = torch.tensor([0, 0, 0, 0, 0.05, 0.1, 0.15, 0.2], dtype=D)
    y = torch.arange(6, dtype=D)
    pts = torch.stack(torch.broadcast_tensors(xs[:, None], y[None, :], zs[:, None]), -1)
    with pytest.raises(ValueError, match=r"points\[3, 0\].*fold|flips"):
        grid_features(pts)


def test_fold_check_off_for_sharp_crease():
    # a cambered biconvex section, sharp at both ends, closed chordwise (periodic), extruded
    # along y: the normal reverses across the sharp trailing edge in one grid step, a legitimate
    # crease that the fold check cannot tell from a fold
    n = 24
    t = (torch.arange(n, dtype=D) + 0.3) * (2 * math.pi / n)  # no point exactly at the edge
    xs = 0.5 + 0.5 * t.cos()
    zs = 0.1 * t.sin() * t.sin().abs() + 0.2 * xs * (1 - xs)
    y = torch.arange(6, dtype=D) * 0.3
    pts = torch.stack(torch.broadcast_tensors(xs[None, :], y[:, None], zs[None, :]), -1)
    with pytest.raises(ValueError, match="flips.*check_folds=False"):
        grid_features(pts, periodic_v=True)
    f = grid_features(pts, periodic_v=True, check_folds=False)
    # a cylinder over the section: K = 0 everywhere, normals unit and free of y
    assert f["gaussian_curvature"].abs().max() < 1e-8
    assert torch.allclose(f["normals"].norm(dim=-1), torch.ones(6, n, dtype=D))
    assert f["normals"][..., 1].abs().max() < 1e-12
    with pytest.raises(TypeError, match="check_folds"):
        grid_features(pts, periodic_v=True, check_folds=None)
