"""Benchmark: marching cubes, gshell against scikit-image and PyMCubes (CPU) on the same grids.

Prints one markdown table; times are medians after warm-up (CUDA: CUDA events).

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


def field(n, device):
    x = torch.linspace(-0.5, 0.5, n, device=device)
    p = torch.stack(torch.meshgrid(x, x, x, indexing="ij"), -1)
    return p.norm(dim=-1) - 0.3 + 0.04 * torch.sin(14 * p[..., 0]) * torch.cos(11 * p[..., 1])




def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--res", type=int, nargs="+")
    ap.add_argument("--repeats", type=int)
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
    for n in res_list:
        grid = field(n, device)
        h = 1.0 / (n - 1)

        def fwd():
            with torch.no_grad():
                return gshell.marching_cubes(grid)

        def fwd_bwd(mode):
            x = grid.detach().requires_grad_(True)
            v, _ = gshell.marching_cubes(x, gradient=mode)
            v.square().sum().backward()

        nv, nf = (int(t.shape[0]) for t in fwd())
        rows.append((n, "gshell", timeit(fwd, device, repeats), timeit(lambda: fwd_bwd("normal"), device, repeats),
                     timeit(lambda: fwd_bwd("edge"), device, repeats), nv, nf))
        if device.type == "cpu":
            vol = grid.numpy()
            try:
                from skimage import measure
                out = measure.marching_cubes(vol, 0.0, spacing=(h, h, h))
                rows.append((n, "scikit-image", timeit(lambda: measure.marching_cubes(vol, 0.0, spacing=(h, h, h)), device, repeats),
                             None, None, len(out[0]), len(out[1])))
            except ImportError:
                print("scikit-image not installed: skipped")
            try:
                import mcubes
                out = mcubes.marching_cubes(vol, 0.0)
                rows.append((n, "PyMCubes", timeit(lambda: mcubes.marching_cubes(vol, 0.0), device, repeats),
                             None, None, len(out[0]), len(out[1])))
            except ImportError:
                print("PyMCubes not installed: skipped")
        for r in rows[-3:]:
            print("  ", r, flush=True)
        del grid
    fmt = lambda x: "-" if x is None else "%.2f" % x
    print()
    print("| device | grid | method | forward (ms) | fwd+bwd normal (ms) | fwd+bwd edge (ms) | verts | faces |")
    print("|---|---|---|---|---|---|---|---|")
    for n, m, f, bn, be, nv, nf in rows:
        print("| %s | %d^3 | %s | %s | %s | %s | %d | %d |" % (device.type, n, m, fmt(f), fmt(bn), fmt(be), nv, nf))


if __name__ == "__main__":
    main()
