"""Benchmark: DMTet and G-Shell extraction, gshell's kernels against the plain-PyTorch baseline
(kaolin's algorithm: the grid's edges re-derived with a sort on every call).

Prints one markdown table. Times are medians after warm-up (CUDA: CUDA events).

    python scripts/bench_tets.py                      # CPU, res 64 and 128
    python scripts/bench_tets.py --device cuda        # CUDA, res 128 and 256
"""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import gshell  # noqa: E402
from scripts.bench_common import timeit  # noqa: E402
from tests.reference.gshell_torch import dmtet_torch, gshell_torch  # noqa: E402


def fields(grid, kind, seed=0):
    p = grid.vertices
    if kind == "smooth":
        sdf = p.norm(dim=-1) - 0.3 + 0.03 * torch.sin(12 * p[:, 0]) * torch.cos(10 * p[:, 1])
        msdf = 0.1 - p[:, 2] + 0.02 * torch.sin(9 * p[:, 0])
        return sdf, msdf
    g = torch.Generator(device="cpu").manual_seed(seed)
    n = grid.num_vertices
    return ((torch.rand(n, generator=g) - 0.1).to(p.device),
            (torch.rand(n, generator=g) - 0.01).to(p.device))




def run_case(grid, kind, method, backward, device, repeats):
    sdf0, msdf0 = fields(grid, kind)
    verts0 = grid.vertices

    def once():
        v = verts0.detach().requires_grad_(backward)
        s = sdf0.detach().requires_grad_(backward)
        m = msdf0.detach().requires_grad_(backward)
        if method == "gshell DMTet":
            out_v, out_f = gshell.marching_tetrahedra(v[None], grid.tets, s[None])
            out_v, out_f = out_v[0], out_f[0]
        elif method == "torch DMTet":
            out_v, out_f, _ = dmtet_torch(v, grid.tets, s)
        elif method == "gshell G-Shell":
            r = gshell.gshell_extract(v, s, m, grid)
            out_v, out_f = r.verts, r.faces
        else:
            out_v, out_f, _ = gshell_torch(v, grid.tets, s, m)
        if backward:
            out_v.square().sum().backward()
        return out_v.shape[0], out_f.shape[0]

    nv, nf = once()
    peak = None
    if device.type == "cuda":
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        once()
        torch.cuda.synchronize()
        peak = (torch.cuda.max_memory_allocated() - base) / 2 ** 20
    return timeit(once, device, repeats), nv, nf, peak


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--res", type=int, nargs="+", help="grid resolutions (default: 64 128 on CPU, 128 256 on CUDA)")
    ap.add_argument("--fields", nargs="+", default=["smooth", "random"], choices=["smooth", "random"])
    ap.add_argument("--repeats", type=int, help="timed runs per case (default 3 on CPU, 10 on CUDA)")
    ap.add_argument("--random-max-res", type=int, default=None,
                    help="skip random fields above this res (default 64 on CPU, 128 on CUDA)")
    ap.add_argument("--no-baseline", action="store_true", help="time gshell only")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        ap.error("CUDA is not available")
    res_list = args.res or ([64, 128] if device.type == "cpu" else [128, 256])
    repeats = args.repeats or (3 if device.type == "cpu" else 10)
    rmax = args.random_max_res or (64 if device.type == "cpu" else 128)
    methods = ["gshell DMTet", "gshell G-Shell"]
    if not args.no_baseline:
        methods = ["torch DMTet", "gshell DMTet", "torch G-Shell", "gshell G-Shell"]
    print("device: %s, torch %s, threads %d" % (
        torch.cuda.get_device_name() if device.type == "cuda" else "cpu", torch.__version__,
        torch.get_num_threads()))
    rows = []
    for res in res_list:
        grid = gshell.TetGrid.regular(res, device=device)
        t = time.perf_counter()
        grid.kernel_tables()
        setup_ms = (time.perf_counter() - t) * 1000
        print("res %d: %d vertices, %d tets, topology built once in %.0f ms" % (
            res, grid.num_vertices, grid.num_tets, setup_ms), flush=True)
        for kind in args.fields:
            if kind == "random" and res > rmax:
                continue
            for method in methods:
                if method.startswith("torch") and device.type == "cpu" and res > 128:
                    continue
                fwd, nv, nf, peak = run_case(grid, kind, method, False, device, repeats)
                both, _, _, _ = run_case(grid, kind, method, True, device, repeats)
                rows.append((res, kind, method, fwd, both, nv, nf, peak))
                print("  %-7s %-15s fwd %9.2f ms  fwd+bwd %9.2f ms" % (kind, method, fwd, both), flush=True)
        del grid
    print()
    print("| device | res | field | method | forward (ms) | forward+backward (ms) | verts | faces |%s" % (
        " peak mem (MiB) |" if device.type == "cuda" else ""))
    print("|---|---|---|---|---|---|---|---|%s" % ("---|" if device.type == "cuda" else ""))
    for res, kind, method, fwd, both, nv, nf, peak in rows:
        mem = " %.0f |" % peak if peak is not None else ""
        print("| %s | %d | %s | %s | %.2f | %.2f | %d | %d |%s" % (
            device.type, res, kind, method, fwd, both, nv, nf, mem))


if __name__ == "__main__":
    main()
