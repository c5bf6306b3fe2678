"""Benchmark of gshell.riemann.grid_features against a NumPy finite-difference version.

Also holds that NumPy version (``numpy_grid_features``): the same stencils and formulas as the
kernel, written with array slicing, the baseline of the table and a reference for the tests.

Usage: OMP_NUM_THREADS=2 python scripts/bench_riemann.py [--n 1000] [--repeat 5] [--device cpu]
Prints a markdown table (median wall time of --repeat runs after one warm-up).
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _d1(x, axis, periodic):
    """Second-order first derivative along ``axis`` (unit spacing), one-sided at open ends."""
    x = np.moveaxis(x, axis, 0)
    if periodic:
        out = (np.roll(x, -1, 0) - np.roll(x, 1, 0)) / 2
    else:
        out = np.empty_like(x)
        out[1:-1] = (x[2:] - x[:-2]) / 2
        out[0] = -1.5 * x[0] + 2 * x[1] - 0.5 * x[2]
        out[-1] = 1.5 * x[-1] - 2 * x[-2] + 0.5 * x[-3]
    return np.moveaxis(out, 0, axis)


def _d2(x, axis, periodic):
    """Second-order second derivative along ``axis``, 4-point one-sided at open ends."""
    x = np.moveaxis(x, axis, 0)
    if periodic:
        out = np.roll(x, -1, 0) - 2 * x + np.roll(x, 1, 0)
    else:
        out = np.empty_like(x)
        out[1:-1] = x[2:] - 2 * x[1:-1] + x[:-2]
        out[0] = 2 * x[0] - 5 * x[1] + 4 * x[2] - x[3]
        out[-1] = 2 * x[-1] - 5 * x[-2] + 4 * x[-3] - x[-4]
    return np.moveaxis(out, 0, axis)


def numpy_grid_features(x, periodic_u=False, periodic_v=False):
    """NumPy version of gshell.riemann.grid_features for one grid x (NU, NV, 3)."""
    xu, xv = _d1(x, 0, periodic_u), _d1(x, 1, periodic_v)
    xuu, xvv = _d2(x, 0, periodic_u), _d2(x, 1, periodic_v)
    xuv = _d1(xu, 1, periodic_v)
    dot = lambda a, b: np.einsum("...k,...k->...", a, b)
    E, F, G = dot(xu, xu), dot(xu, xv), dot(xv, xv)
    det = E * G - F * F
    g = np.stack([E, F, F, G], -1).reshape(E.shape + (2, 2))
    ginv = np.stack([G, -F, -F, E], -1).reshape(E.shape + (2, 2)) / det[..., None, None]
    second = np.stack([xuu, xuv, xuv, xvv], -2).reshape(E.shape + (2, 2, 3))
    first = np.stack([xu, xv], -2)
    d = np.einsum("...ijc,...lc->...ijl", second, first)
    chris = np.einsum("...kl,...ijl->...kij", ginv, d)
    Eu, Ev = 2 * d[..., 0, 0, 0], 2 * d[..., 0, 1, 0]
    Fu, Fv = d[..., 0, 0, 1] + d[..., 0, 1, 0], d[..., 0, 1, 1] + d[..., 1, 1, 0]
    Gu, Gv = 2 * d[..., 0, 1, 1], 2 * d[..., 1, 1, 1]
    S = dot(xuu, xvv) - dot(xuv, xuv)
    m1 = np.stack([S, Eu / 2, Fu - Ev / 2, Fv - Gu / 2, E, F, Gv / 2, F, G], -1).reshape(E.shape + (3, 3))
    z = np.zeros_like(E)
    m2 = np.stack([z, Ev / 2, Gu / 2, Ev / 2, E, F, Gu / 2, F, G], -1).reshape(E.shape + (3, 3))
    K = (np.linalg.det(m1) - np.linalg.det(m2)) / det ** 2
    n = np.cross(xu, xv)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    L, M, N = dot(xuu, n), dot(xuv, n), dot(xvv, n)
    return {"metric": g, "metric_inverse": ginv, "christoffel": chris, "gaussian_curvature": K,
            "gaussian_curvature_extrinsic": (L * N - M * M) / det,
            "mean_curvature": (E * N - 2 * F * M + G * L) / (2 * det), "normals": n}


def torus(nu, nv, R=2.0, r=0.7, dtype=np.float64):
    u = np.arange(nu)[:, None] * (2 * np.pi / nu)
    v = np.arange(nv)[None, :] * (2 * np.pi / nv)
    rho = R + r * np.cos(v)
    xyz = np.broadcast_arrays(rho * np.cos(u), rho * np.sin(u), r * np.sin(v) + 0 * u)
    return np.stack(xyz, -1).astype(dtype)


def _time(fn, repeat):
    fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="grid points per direction")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--skip-numpy", action="store_true")
    args = ap.parse_args(argv)
    import torch

    from gshell.riemann import grid_features

    n = args.n
    rows = []
    for dtype in (np.float64, np.float32):
        x = torus(n, n, dtype=dtype)
        t = torch.from_numpy(x).to(args.device)
        sync = torch.cuda.synchronize if t.is_cuda else (lambda: None)

        def run():
            grid_features(t, periodic_u=True, periodic_v=True)
            sync()

        tk = _time(run, args.repeat)
        tn = None if args.skip_numpy else _time(lambda: numpy_grid_features(x, True, True),
                                                max(1, args.repeat // 2))
        # the floor: allocating and writing the 22 output values per point (176 MB in float64)
        tf = _time(lambda: (torch.empty(n * n * 22, dtype=t.dtype, device=t.device).fill_(1), sync()),
                   args.repeat)
        rows.append((np.dtype(dtype).name, tk, tn, tf))
    print("grid_features, %dx%d torus (periodic both ways), %s, torch threads %d\n"
          % (n, n, args.device, torch.get_num_threads()))
    print("| dtype | gshell (s) | NumPy (s) | speed-up | alloc+write outputs only (s) |")
    print("|---|---|---|---|---|")
    for name, tk, tn, tf in rows:
        print("| %s | %.4f | %s | %s | %.4f |" % (name, tk, "-" if tn is None else "%.3f" % tn,
                                                 "-" if tn is None else "%.1fx" % (tn / tk), tf))


if __name__ == "__main__":
    main()
