"""Benchmark: marching cubes, gshell against scikit-image and PyMCubes (CPU) on the same grids.

Two fields: "wavy" (a wavy sphere SDF) and "noise" (Gaussian-filtered white noise, sigma 2 cells,
positive on the border: many saddles and ambiguous faces). The "non-manifold edges" column counts
edges shared by more than two triangles (gshell.topology). Prints one markdown table; times are
medians after warm-up (CUDA: CUDA events).

    python scripts/bench_mc.py                  # CPU, 128^3 and 256^3
    python scripts/bench_mc.py --device cuda    # CUDA, 256^3 and 512^3
"""
import argparse
import os
import sys

import torch

import gshell

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import timeit  # noqa: E402


def field(n, device, kind="wavy"):
    if kind == "noise":
        import numpy as np
        from scipy.ndimage import gaussian_filter

        g = gaussian_filter(np.random.default_rng(0).standard_normal((n, n, n)), 2.0, mode="wrap")
        g = g / g.std()
        g[0], g[-1], g[:, 0], g[:, -1], g[:, :, 0], g[:, :, -1] = (1.0,) * 6
        return torch.from_numpy(g.astype(np.float32)).to(device)
    x = torch.linspace(-0.5, 0.5, n, device=device)
    p = torch.stack(torch.meshgrid(x, x, x, indexing="ij"), -1)
    return p.norm(dim=-1) - 0.3 + 0.04 * torch.sin(14 * p[..., 0]) * torch.cos(11 * p[..., 1])


def nonmanifold_edges(faces, nv):
    from gshell.topology import edge_face_counts

    return int((edge_face_counts(faces, nv)[1] > 2).sum())




def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--res", type=int, nargs="+")
    ap.add_argument("--repeats", type=int)
    ap.add_argument("--fields", nargs="+", default=["wavy", "noise"], choices=["wavy", "noise"])
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        ap.error("CUDA is not available")
    res_list = args.res or ([128, 256] if device.type == "cpu" else [256, 512])
    repeats = args.repeats or (5 if device.type == "cpu" else 10)
    print("device: %s, torch %s, threads %d" % (
        torch.cuda.get_device_name() if device.type == "cuda" else "cpu", torch.__version__,
        torch.get_num_threads()))
    rows = []
    for kind in args.fields:
        for n in res_list:
            rows += _run(kind, n, device, repeats)
    fmt = lambda x: "-" if x is None else "%.2f" % x
    print()
    print("| device | field | grid | method | forward (ms) | fwd+bwd normal (ms) | fwd+bwd edge (ms) | verts | faces "
          "| non-manifold edges |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for kind, n, m, f, bn, be, nv, nf, nm in rows:
        print("| %s | %s | %d^3 | %s | %s | %s | %s | %d | %d | %d |"
              % (device.type, kind, n, m, fmt(f), fmt(bn), fmt(be), nv, nf, nm))


def _run(kind, n, device, repeats):
    rows = []
    grid = field(n, device, kind)
    h = 1.0 / (n - 1)

    def fwd():
        with torch.no_grad():
            return gshell.marching_cubes(grid)

    def fwd_bwd(mode):
        x = grid.detach().requires_grad_(True)
        v, _ = gshell.marching_cubes(x, gradient=mode)
        v.square().sum().backward()

    v, f = fwd()
    nv, nf = int(v.shape[0]), int(f.shape[0])
    rows.append((kind, n, "gshell", timeit(fwd, device, repeats), timeit(lambda: fwd_bwd("normal"), device, repeats),
                 timeit(lambda: fwd_bwd("edge"), device, repeats), nv, nf, nonmanifold_edges(f, nv)))
    if device.type == "cpu":
        vol = grid.numpy()
        try:
            from skimage import measure
            out = measure.marching_cubes(vol, 0.0, spacing=(h, h, h))
            rows.append((kind, n, "scikit-image", timeit(lambda: measure.marching_cubes(vol, 0.0, spacing=(h, h, h)), device, repeats),
                         None, None, len(out[0]), len(out[1]), nonmanifold_edges(out[1], len(out[0]))))
        except ImportError:
            print("scikit-image not installed: skipped")
        try:
            import mcubes
            out = mcubes.marching_cubes(vol, 0.0)
            rows.append((kind, n, "PyMCubes", timeit(lambda: mcubes.marching_cubes(vol, 0.0), device, repeats),
                         None, None, len(out[0]), len(out[1]), nonmanifold_edges(out[1], len(out[0]))))
        except ImportError:
            print("PyMCubes not installed: skipped")
    for r in rows:
        print("  ", r, flush=True)
    return rows


if __name__ == "__main__":
    main()
