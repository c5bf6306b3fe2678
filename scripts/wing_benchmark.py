"""Wing Cp benchmark: CpNet with and without the Riemannian geometric features, held-out wings.

Loads a dataset npz (or generates one with gshell.wing.dataset.generate, cached), runs
gshell.wing.train.compare for the seeds, prints a markdown table (seed, test MSE without and with
features, reduction, train time) with mean ± std, and writes OUT/metrics.json and
OUT/wing_cp.png (Cp against x/c at four span stations of a held-out wing: reference and both
models).

    OMP_NUM_THREADS=1 PYTHONPATH=. python scripts/wing_benchmark.py --data full.npz --epochs 12 \\
        --jobs 3 --out out/wing_benchmark
"""
import argparse
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402


def load_or_generate(path, n_wings, n_conditions, seed):
    if path and os.path.exists(path):
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    from gshell.wing import dataset
    return dataset.generate(n_wings, n_conditions, seed=seed, cache=path, progress=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.join("out", "wing_full.npz"),
                    help="dataset npz; generated there if missing")
    ap.add_argument("--wings", type=int, default=300, help="wings to generate (default 300)")
    ap.add_argument("--conditions", type=int, default=4, help="conditions per wing (default 4)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--jobs", type=int, default=1, help="seeds in parallel processes")
    ap.add_argument("--out", default=os.path.join("out", "wing_benchmark"))
    args = ap.parse_args(argv)

    from gshell.wing.train import compare, markdown_table, plot_cp
    from gshell._atomic import write_bytes

    data = load_or_generate(args.data, args.wings, args.conditions, 0)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.perf_counter()
    res = compare(data, seeds=args.seeds, epochs=args.epochs, jobs=args.jobs, progress=True)
    wall = time.perf_counter() - t0
    models = res.pop("models")
    table = markdown_table(res)
    print()
    print("%d training wings (15%% of them for validation), %d test wings, %d samples; "
          "test MSE of the mean predictor %.4f" % (res["train_wings"], res["test_wings"],
                                                   len(res["test_idx"]), res["mse_mean_predictor"]))
    print(table)
    rel = [(r["rel_l2_without"], r["rel_l2_with"]) for r in res["runs"]]
    print("relative L2 error (mean over seeds): without %.4f, with %.4f" % tuple(np.mean(rel, 0)))
    # figure: the first test sample of the median-MSE test wing, first seed's models
    seed = args.seeds[0]
    test = np.asarray(res["test_idx"])
    sample = int(test[len(test) // 2])
    fig = os.path.join(args.out, "wing_cp.png")
    plot_cp(data, {"without features": models[seed][0], "with features": models[seed][1]},
            sample, fig)
    res["machine"] = "%s, %d CPU threads (torch %s), %s" % (
        platform.processor() or platform.machine(), torch.get_num_threads(), torch.__version__,
        platform.platform())
    res["wall_s"] = wall
    res["figure_sample"] = sample
    write_bytes(os.path.join(args.out, "metrics.json"),
                [json.dumps(res, indent=1).encode()])
    print("wrote %s and %s (%.0f s)" % (os.path.join(args.out, "metrics.json"), fig, wall))
    return 0


if __name__ == "__main__":
    sys.exit(main())
