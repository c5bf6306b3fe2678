"""Benchmark: multiresolution hash encodings, simplex against grid lattice, gshell's kernels against the
plain-PyTorch reference (tests/reference/hash_encoding_ref.py: vectorised over points and corners, a loop
over levels), for d = 2, 3, 4, 6.

Forward is timed under no_grad; forward+backward is one training step's encoding work: forward, then
backward of a random upstream gradient into the table (the inputs do not require grad). An Eikonal step
is what an SDF network's Eikonal loss costs the encoding: forward, the input gradient with create_graph
(random upstream gradient), then backward of mean((|grad_x| - 1)^2) into the table (double backward).
Throughput is samples per second; times are medians after warm-up (CUDA: CUDA events). Prints one
markdown table.

    python scripts/bench_encoding.py                    # CPU, 2^16 points
    python scripts/bench_encoding.py --device cuda      # CUDA, 2^20 points
    python scripts/bench_encoding.py --dims 3 --no-reference
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import gshell  # noqa: E402
from scripts.bench_common import timeit  # noqa: E402
from tests.reference.hash_encoding_ref import HashEncodingRef  # noqa: E402




def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--dims", type=int, nargs="+", default=[2, 3, 4, 6])
    ap.add_argument("--points", type=int, help="batch size (default 2^16 on CPU, 2^20 on CUDA)")
    ap.add_argument("--levels", type=int, default=16)
    ap.add_argument("--features", type=int, default=2)
    ap.add_argument("--log2-hashmap-size", type=int, default=19)
    ap.add_argument("--repeats", type=int)
    ap.add_argument("--no-reference", action="store_true", help="skip the plain-PyTorch baseline")
    ap.add_argument("--no-eikonal", action="store_true", help="skip the Eikonal step")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        ap.error("CUDA is not available")
    n = args.points or (1 << 16 if device.type == "cpu" else 1 << 20)
    repeats = args.repeats or (5 if device.type == "cpu" else 20)
    print("device: %s, torch %s, threads %d; %d points, %d levels x %d features, 2^%d table" % (
        torch.cuda.get_device_name() if device.type == "cuda" else "cpu", torch.__version__,
        torch.get_num_threads(), n, args.levels, args.features, args.log2_hashmap_size), flush=True)
    kw = dict(n_levels=args.levels, n_features_per_level=args.features,
              log2_hashmap_size=args.log2_hashmap_size, base_resolution=16, per_level_scale=1.5, seed=0)
    rows = []
    for d in args.dims:
        g = torch.Generator().manual_seed(d)
        x = torch.rand(n, d, generator=g).to(device)
        grad_out = torch.randn(n, args.levels * args.features, generator=g).to(device)
        for lattice in ("simplex", "grid"):
            cls = gshell.SimplexHashEncoding if lattice == "simplex" else gshell.GridHashEncoding
            encs = [("gshell", cls(d, **kw).to(device))]
            if not args.no_reference:
                encs.append(("plain PyTorch", HashEncodingRef(d, lattice=lattice, **kw).to(device)))
            for method, enc in encs:

                def fwd():
                    with torch.no_grad():
                        return enc(x)

                def fwd_bwd():
                    enc.table.grad = None
                    enc(x).backward(grad_out)

                def eikonal():
                    enc.table.grad = None
                    xg = x.detach().requires_grad_(True)
                    (gx,) = torch.autograd.grad(enc(xg), xg, grad_out, create_graph=True)
                    (gx.norm(dim=-1) - 1).square().mean().backward()

                tf = tb = te = None
                try:
                    tf = timeit(fwd, device, repeats, budget_ms=20000)
                    tb = timeit(fwd_bwd, device, repeats, budget_ms=20000)
                    if not args.no_eikonal:
                        te = timeit(eikonal, device, repeats, budget_ms=20000)
                except torch.OutOfMemoryError:
                    print("  d=%d %s %s: out of memory" % (d, lattice, method), flush=True)
                rows.append((d, lattice, method, tf, tb, te))
                print("  d=%d %-7s %-13s forward %s ms, fwd+bwd %s ms, Eikonal step %s ms" % (
                    d, lattice, method, fmt_ms(tf), fmt_ms(tb), fmt_ms(te)), flush=True)
                del enc
                if device.type == "cuda":
                    torch.cuda.empty_cache()

    def rate(ms):
        return "-" if ms is None else "%.3g" % (n / (ms / 1000))

    def speedup(d, lattice, method, col):
        base = [r for r in rows if r[:2] == (d, lattice) and r[2] == "plain PyTorch"]
        if method != "gshell" or not base or base[0][col] is None:
            return "-"
        mine = [r for r in rows if r[:3] == (d, lattice, method)][0]
        return "-" if mine[col] is None else "%.1fx" % (base[0][col] / mine[col])

    def vs_grid(d, method, col):
        s = [r for r in rows if r[:3] == (d, "simplex", method)]
        g = [r for r in rows if r[:3] == (d, "grid", method)]
        if not s or not g or s[0][col] is None or g[0][col] is None:
            return "-"
        return "%.2fx" % (g[0][col] / s[0][col])

    print()
    print("| device | d | lattice | method | forward (ms) | forward (samples/s) | fwd+bwd (ms) | fwd+bwd (samples/s) "
          "| fwd+bwd vs plain PyTorch | simplex vs grid (fwd+bwd) | Eikonal step (ms) | Eikonal vs plain PyTorch |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for d, lattice, method, tf, tb, te in rows:
        print("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            device.type, d, lattice, method, fmt_ms(tf), rate(tf), fmt_ms(tb), rate(tb),
            speedup(d, lattice, method, 4), vs_grid(d, method, 4) if lattice == "simplex" else "-",
            fmt_ms(te), speedup(d, lattice, method, 5)))


def fmt_ms(ms):
    return "-" if ms is None else "%.3f" % ms


if __name__ == "__main__":
    main()
