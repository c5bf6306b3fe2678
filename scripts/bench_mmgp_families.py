"""Benchmark: MMGP's field and scalar intervals on three sample families, fitted on 80 and on 250
samples, scored on held-out samples.

Families (``gshell.mmgp.dataset.generate(family=...)``, every sample meshed on its own):
``plate`` (the Tensile2d-like plates: smooth sides, 10 shape parameters, inputs
``scaled_inputs([tx, ty, E])``), ``hexagon`` (convex hexagons, 4 shape parameters, another shape
class with six corners; inputs ``[tx, ty]``) and ``gravity`` (the plates' outlines under another
load type: self-weight ``g`` and a shear traction ``tx``; inputs ``[tx, g]``).

For each family and training size, one ``MMGP`` (the defaults, ``landmarks="corners"`` with the
family's corner threshold ``dataset.CORNER_TURN``) is fitted on the first ``n`` samples of the
family (seed 0) and predicts the samples ``--first-test`` to ``--first-test + --test`` (never
used in a fit). Reported per output: the RRMSE of the mean (PLAID's definition,
``gshell.mmgp.evaluate``), the coverage of the 95% interval with every error source
(``intervals="full"``, the default) and with the GP's coefficient variance alone
(``intervals="gp"``, the intervals of gshell before the error model), and the CPU times of the fit
and of the prediction (one thread: run with ``OMP_NUM_THREADS=1``). Prints one markdown table.

    OMP_NUM_THREADS=1 python scripts/bench_mmgp_families.py [--cache out/mmgp_families]
        [--families plate hexagon gravity] [--train 80 250] [--test 200]

The datasets are cached per sample under ``--cache`` (generated on the first run, about 0.1 s
per sample).
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from gshell.mmgp import dataset  # noqa: E402
from gshell.mmgp.evaluate import evaluate  # noqa: E402
from gshell.mmgp.model import MMGP  # noqa: E402


def split(samples, family):
    """(meshes, input scalars, fields, output scalars) of a list of samples."""
    x = np.stack([s["scalars_in"] for s in samples])
    if family == "plate":
        x = dataset.scaled_inputs(x)
    return ([(s["points"], s["triangles"]) for s in samples], x,
            {k: [s["fields"][k] for s in samples] for k in samples[0]["fields"]},
            {k: np.array([s["scalars_out"][k] for s in samples]) for k in samples[0]["scalars_out"]})


def run(family, n_train, test, samples, seed=0, progress=False):
    """Fits on ``samples[:n_train]``, predicts ``test``; returns a dict of metrics and times."""
    meshes, x, fields, scalars = split(samples[:n_train], family)
    model = MMGP(seed=seed, landmarks="corners", corner_turn=dataset.CORNER_TURN[family])
    t0, c0 = time.perf_counter(), time.process_time()
    model.fit(meshes, x, fields, scalars, progress=progress)
    t_fit, c_fit = time.perf_counter() - t0, time.process_time() - c0
    tm, tx, _, _ = split(test, family)
    t0, c0 = time.perf_counter(), time.process_time()
    full = model.predict(tm, tx)
    t_pred, c_pred = time.perf_counter() - t0, time.process_time() - c0
    gp_only = model.predict(tm, tx, intervals="gp")
    ev_full, ev_gp = evaluate(full, test), evaluate(gp_only, test)
    for name in ev_full:
        assert ev_full[name]["rrmse"] == ev_gp[name]["rrmse"], "the mean must not depend on intervals"
    return {"family": family, "n_train": n_train, "n_test": len(test),
            "fit_wall_s": t_fit, "fit_cpu_s": c_fit,
            "predict_wall_ms": 1e3 * t_pred / len(test), "predict_cpu_ms": 1e3 * c_pred / len(test),
            "geometry_modes": model.n_modes_geometry_,
            "field_modes": {k: p.n_modes for k, p in model.field_pods.items()},
            "outputs": {name: {"rrmse": ev_full[name]["rrmse"], "coverage": ev_full[name]["coverage"],
                               "coverage_gp": ev_gp[name]["coverage"]} for name in ev_full},
            "cv": model.error_cv_}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", default=os.path.join("out", "mmgp_families"))
    ap.add_argument("--families", nargs="+", default=["plate", "hexagon", "gravity"],
                    choices=sorted(dataset.FAMILIES))
    ap.add_argument("--train", nargs="+", type=int, default=[80, 250])
    ap.add_argument("--first-test", type=int, default=250,
                    help="index of the first held-out sample (>= the largest --train)")
    ap.add_argument("--test", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="also write the results to this file")
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args(argv)
    if args.first_test < max(args.train):
        ap.error("--first-test (%d) must be >= the largest --train (%d)" % (args.first_test, max(args.train)))
    rows = []
    for family in args.families:
        samples = dataset.generate(args.first_test + args.test, seed=args.seed, cache_dir=args.cache,
                                   progress=args.progress, family=family)
        test = samples[args.first_test:]
        nodes = dataset.describe(samples, family=family)["n_nodes"]
        print("%s: %d to %d nodes per mesh" % (family, nodes["min"], nodes["max"]), file=sys.stderr)
        for n in args.train:
            r = run(family, n, test, samples, seed=args.seed, progress=args.progress)
            print("%s n=%d: fit %.1f s CPU, predict %.1f ms CPU per sample" % (
                family, n, r["fit_cpu_s"], r["predict_cpu_ms"]), file=sys.stderr)
            rows.append(r)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    print("| family | train | output | RRMSE | 95% coverage | GP-only coverage | fit (s CPU) "
          "| predict (ms CPU / sample) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        for name, m in r["outputs"].items():
            print("| %s | %d | %s | %.4g | %.1f%% | %.1f%% | %.1f | %.1f |" % (
                r["family"], r["n_train"], name, m["rrmse"], 100 * m["coverage"],
                100 * m["coverage_gp"], r["fit_cpu_s"], r["predict_cpu_ms"]))


if __name__ == "__main__":
    main()
