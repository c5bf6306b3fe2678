"""Benchmark: MMGP on the Tensile2d-like dataset of gshell.mmgp.dataset, against a baseline that
gets the same inputs without morphing (a point-wise MLP on node coordinates and input scalars).

Trains on 250 samples and reports, on 100 held-out samples, the RRMSE of each field and scalar
(PLAID's definition, see gshell.mmgp.evaluate), Q^2, the empirical coverage of the 95% interval,
and training and prediction times. Prints one markdown table.

    python scripts/mmgp_benchmark.py [--train 250] [--test 100] [--cache out/tensile2d]
                                     [--inputs scaled raw]

Input scalars: by default one run with [tx/E, ty/E, E] (``dataset.scaled_inputs``: the
displacement depends on the load only through t / E) and one with the samples' own [tx, ty, E].

The GP fits work on 250 x 250 matrices, where several BLAS threads cost more than they give: on a
2-core machine ``OMP_NUM_THREADS=1`` fits several times faster (see BENCHMARKS.md).
"""
import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from gshell.mmgp import dataset  # noqa: E402
from gshell.mmgp.evaluate import evaluate  # noqa: E402
from gshell.mmgp.model import MMGP  # noqa: E402


def inputs_of(samples, kind):
    """The input scalars: the samples' [tx, ty, E] ("raw") or [tx/E, ty/E, E] ("scaled")."""
    x = np.stack([s["scalars_in"] for s in samples])
    return dataset.scaled_inputs(x) if kind == "scaled" else x


def split(samples, kind="raw"):
    meshes = [(s["points"], s["triangles"]) for s in samples]
    x = inputs_of(samples, kind)
    fields = {k: [s["fields"][k] for s in samples] for k in samples[0]["fields"]}
    scalars = {k: np.array([s["scalars_out"][k] for s in samples]) for k in samples[0]["scalars_out"]}
    return meshes, x, fields, scalars


def mlp_baseline(train, test, seed=0, epochs=40, batch=8192, kind="raw"):
    """Point-wise MLP (x, y, input scalars) -> (u_x, u_y, sigma_vm); scalars = maxima of the
    fields. ``kind``: the input scalars, as in ``inputs_of``."""
    torch.manual_seed(seed)

    def feats(s):
        n = len(s["points"])
        return np.concatenate([s["points"], np.repeat(inputs_of([s], kind), n, 0)], 1)

    def targets(s):
        return np.concatenate([s["fields"]["u"], s["fields"]["sigma_vm"][:, None]], 1)

    X = torch.tensor(np.concatenate([feats(s) for s in train]), dtype=torch.float32)
    Y = torch.tensor(np.concatenate([targets(s) for s in train]), dtype=torch.float32)
    xm, xs, ym, ys = X.mean(0), X.std(0) + 1e-8, Y.mean(0), Y.std(0) + 1e-8
    net = torch.nn.Sequential(torch.nn.Linear(X.shape[1], 128), torch.nn.SiLU(),
                              torch.nn.Linear(128, 128), torch.nn.SiLU(),
                              torch.nn.Linear(128, 128), torch.nn.SiLU(), torch.nn.Linear(128, 3))
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    Xn, Yn = (X - xm) / xs, (Y - ym) / ys
    for _ in range(epochs):
        perm = torch.randperm(len(Xn))
        for i in range(0, len(Xn), batch):
            idx = perm[i:i + batch]
            loss = (net(Xn[idx]) - Yn[idx]).square().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    preds = []
    with torch.no_grad():
        for s in test:
            out = net((torch.tensor(feats(s), dtype=torch.float32) - xm) / xs) * ys + ym
            out = out.double().numpy()
            u, vm = out[:, :2], out[:, 2]
            preds.append({"u": {"mean": u}, "sigma_vm": {"mean": vm},
                          "max_von_mises": {"mean": float(vm.max())},
                          "max_u_norm": {"mean": float(np.linalg.norm(u, axis=1).max())}})
    return preds


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=int, default=250)
    ap.add_argument("--test", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", default=os.path.join("out", "tensile2d"))
    ap.add_argument("--weights", default="mean_value", choices=("mean_value", "uniform"))
    ap.add_argument("--landmarks", default="corners", choices=("corners", "none"))
    ap.add_argument("--inputs", nargs="+", default=["scaled", "raw"], choices=("scaled", "raw"),
                    help="input scalars, one run each: [tx/E, ty/E, E] (scaled, "
                         "gshell.mmgp.dataset.scaled_inputs) and/or the samples' [tx, ty, E] (raw)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the MLP baseline")
    args = ap.parse_args(argv)
    os.makedirs(args.cache, exist_ok=True)
    t0 = time.perf_counter()
    samples = dataset.generate(args.train + args.test, seed=args.seed, cache_dir=args.cache)
    t_gen = time.perf_counter() - t0
    train, test = samples[:args.train], samples[args.train:]
    nodes = dataset.describe(samples)["n_nodes"]
    print("dataset: %d train, %d test samples (%.0f s to generate or load), %d to %d nodes per mesh"
          % (len(train), len(test), t_gen, nodes["min"], nodes["max"]))
    rows = []
    for kind in args.inputs:
        meshes, x, fields, scalars = split(train, kind)
        model = MMGP(weights=args.weights, seed=args.seed,
                     landmarks=None if args.landmarks == "none" else args.landmarks)
        t0, c0 = time.perf_counter(), time.process_time()
        model.fit(meshes, x, fields, scalars, progress=True)
        t_fit, c_fit = time.perf_counter() - t0, time.process_time() - c0
        tm, tx, _, _ = split(test, kind)
        t0, c0 = time.perf_counter(), time.process_time()
        preds = model.predict(tm, tx)
        t_pred, c_pred = time.perf_counter() - t0, time.process_time() - c0
        # CPU time of this process (all its threads): on a machine shared with other jobs it is a
        # better measure of the work than the wall time.
        print("MMGP (%s inputs) fit: %.1f s wall, %.1f s CPU; predict %d: %.1f s wall, %.1f s CPU "
              "(%.1f ms CPU per sample)" % (kind, t_fit, c_fit, len(test), t_pred, c_pred,
                                            1e3 * c_pred / len(test)))
        print("geometry modes: %d; field modes: %s" % (model.n_modes_geometry_, {
            k: p.n_modes for k, p in model.field_pods.items()}))
        rows.append(("MMGP (%s weights, landmarks %s, %s inputs)" % (args.weights, args.landmarks,
                                                                    kind),
                     evaluate(preds, test, components=True), t_fit, t_pred))
    for kind in ([] if args.no_baseline else args.inputs):
        t0 = time.perf_counter()
        base = mlp_baseline(train, test, seed=args.seed, kind=kind)
        t_base = time.perf_counter() - t0
        rows.append(("point-wise MLP, no morphing, %s inputs" % kind,
                     evaluate(base, test, components=True), t_base, float("nan")))
    names = list(rows[0][1])
    print()
    print("| method | output | RRMSE | Q² | 95%% coverage | train (s) | predict %d (s) |" % len(test))
    print("|---|---|---|---|---|---|---|")
    for method, ev, tf, tp in rows:
        for name in names:
            m = ev[name]
            cov = "-" if m["coverage"] is None else "%.1f%%" % (100 * m["coverage"])
            print("| %s | %s | %.4g | %.4f | %s | %.1f | %s |" % (
                method, name, m["rrmse"], m["q2"], cov, tf, "-" if tp != tp else "%.1f" % tp))


if __name__ == "__main__":
    main()
