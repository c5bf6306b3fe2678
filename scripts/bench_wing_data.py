"""Speed of the wing Cp data generator and the agreement of its Cp with the vortex-lattice lift.

    python scripts/bench_wing_data.py --wings 60 --conditions 4           # time a fresh dataset
    python scripts/bench_wing_data.py --data wings.npz                     # statistics of a saved one

Prints markdown: wing x condition samples per minute (generation only, after the imports), and
|CL(Cp) - CL(VLM)| by Mach band (CL(Cp) is the Cp integrated over the wing grid).
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def stats(data):
    d = data["cl_cp"].astype(np.float64) - data["cl_vlm"].astype(np.float64)
    rel = np.abs(d) / np.maximum(np.abs(data["cl_vlm"]), 0.1)
    print("| Mach band | samples | mean abs dCL | max abs dCL | median rel. | 95th pct rel. | max rel. |")
    print("|---|---|---|---|---|---|---|")
    bands = [(0.1, 0.3), (0.3, 0.5), (0.5, 0.7), (0.0, 1.0)]
    for lo, hi in bands:
        m = (data["mach"] >= lo) & (data["mach"] < hi)
        if m.any():
            print("| %s | %d | %.4f | %.4f | %.2f%% | %.2f%% | %.2f%% |" % (
                "all" if (lo, hi) == (0.0, 1.0) else "%.1f-%.1f" % (lo, hi), m.sum(), np.abs(d[m]).mean(),
                np.abs(d[m]).max(), 100 * np.median(rel[m]), 100 * np.percentile(rel[m], 95), 100 * rel[m].max()))
    print("\nrelative error over max(|CL_VLM|, 0.1); CL_VLM in [%.3f, %.3f]; samples with a stalled or "
          "vacuum-limited station: %d" % (data["cl_vlm"].min(), data["cl_vlm"].max(), int((data["clipped"] > 0).sum())))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wings", type=int, default=60)
    ap.add_argument("--conditions", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", help="statistics of this saved dataset instead of generating one")
    args = ap.parse_args()
    from gshell.wing import dataset
    if args.data:
        data = dataset.load(args.data)
    else:
        import importlib
        for name in ("aerosandbox", "neuralfoil"):      # imports are not generation time
            importlib.import_module(name)
        t = time.perf_counter()
        data = dataset.generate(args.wings, args.conditions, seed=args.seed, progress=False)
        dt = time.perf_counter() - t
        n = args.wings * args.conditions
        print("%d wings x %d conditions (grid 32 x 64) in %.1f s: %.0f samples/min, OMP_NUM_THREADS=%s\n" % (
            args.wings, args.conditions, dt, 60 * n / dt, os.environ.get("OMP_NUM_THREADS", "unset")))
    stats(data)


if __name__ == "__main__":
    main()
