"""Benchmark of generation (issue 19): fit quality over a collection, training and sampling time,
and MMD / COV / 1-NNA of the model's samples against the held-out split, next to the PCA-Gaussian
baseline and the training set (the ceiling), all computed here in the same run.

The inputs are what the ``gshell gen`` commands wrote (see BENCHMARKS.md for the commands):

    python scripts/bench_gen.py --data garments --fits fits16/train [--fits fits32/train ...] \
        --checkpoint run16/model.pt [--n 30] [--steps 50]

Prints Markdown tables: one row per fit folder (resolution, meshes, Chamfer mean / max in % of the
diagonal, F-score, boundary loops equal, seconds per mesh), then the model's training record, then
the generation table.
"""
import argparse
import glob
import json
import os
import platform
import sys
import time

import numpy as np
import torch


def fit_table(folders):
    lines = ["| fits | res | meshes | Chamfer mean (% diag) | Chamfer max | F-score@1% min | loops equal | "
             "s / mesh |", "|---|---|---|---|---|---|---|---|"]
    for folder in folders:
        ms = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(folder, "*.json")))]
        if not ms:
            print("no fit .json in %r" % folder, file=sys.stderr)
            continue
        ch = np.array([m["chamfer_rel"] for m in ms])
        eq = sum(bool(m["loops_equal"]) for m in ms)
        bad = [m["stem"] for m in ms if not m["loops_equal"]]
        lines.append("| %s | %d | %d | %.3f | %.3f | %.3f | %d / %d | %.1f |" % (
            folder, ms[0]["res"], len(ms), 100 * ch.mean(), 100 * ch.max(), min(m["fscore"] for m in ms), eq,
            len(ms), np.mean([m["seconds"] for m in ms])))
        if bad:
            kinds = {}
            for b in bad:
                k = b.split("_", 1)[1] if "_" in b else b
                kinds[k] = kinds.get(k, 0) + 1
            lines.append("|  | loops differ on: %s |  |  |  |  |  |  |" % ", ".join(
                "%s x%d" % kv for kv in sorted(kinds.items())))
    return "\n".join(lines)


@torch.no_grad()
def x0_table(dm, data, ts=(10, 100, 300, 500, 700, 900, 980), seed=0, train=None):
    """How well the EMA model denoises ``data`` (N, C, R, R, R) noised to each step t: the ε MSE,
    the share of SDF signs (channel 0) right in the x0 estimate ``(x_t - sqrt(1 - ᾱ) ε̂) / sqrt(ᾱ)``
    and the x0 MSE. One noise draw per tensor and t, from ``seed``.

    With ``train`` (M, C, R, R, R), also the signs of a reference denoiser on the same draws: the
    posterior mean E[x0 | x_t] when x0 is one of the training tensors, each equally likely
    (softmax of ``-|x_t - sqrt(ᾱ) x0_m|² / (2 (1 - ᾱ))`` over m). It is the exact denoiser of
    the training set, what ε-matching converges to with enough steps and capacity."""
    sched = dm.training_scheduler()
    dm.ema.eval()
    g = torch.Generator().manual_seed(seed)
    rows = {"eps": [], "sign": [], "x0": [], "ref": []}
    for t in ts:
        noise = torch.randn(data.shape, generator=g)
        tt = torch.full((len(data),), t, dtype=torch.int64)
        xt = sched.add_noise(data, noise, tt)
        eps = torch.cat([dm.predict_noise(xt[i:i + 8], tt[i:i + 8], ema=True)
                         for i in range(0, len(data), 8)])
        abar = float(sched.alphas_cumprod[t])
        x0 = (xt - (1 - abar) ** 0.5 * eps) / abar ** 0.5
        rows["eps"].append(float(((eps - noise) ** 2).mean()))
        rows["sign"].append(100 * float(((x0[:, 0] > 0) == (data[:, 0] > 0)).float().mean()))
        rows["x0"].append(float(((x0.clamp(-1, 1) - data) ** 2).mean()))
        if train is not None:
            d2 = torch.cdist(xt.flatten(1).double(), abar ** 0.5 * train.flatten(1).double()) ** 2
            w = torch.softmax(-d2 / (2 * (1 - abar)), 1).float()
            ref = (w @ train.flatten(1)).reshape(data.shape)
            rows["ref"].append(100 * float(((ref[:, 0] > 0) == (data[:, 0] > 0)).float().mean()))
    lines = ["| t | " + " | ".join(map(str, ts)) + " |", "|---" * (len(ts) + 1) + "|",
             "| ε MSE | " + " | ".join("%.3f" % v for v in rows["eps"]) + " |",
             "| SDF signs right in x0 estimate | " + " | ".join("%.1f%%" % v for v in rows["sign"]) + " |",
             "| x0 MSE (clamped) | " + " | ".join("%.3f" % v for v in rows["x0"]) + " |"]
    if rows["ref"]:
        lines.append("| signs right, training-set posterior mean | " +
                     " | ".join("%.1f%%" % v for v in rows["ref"]) + " |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="the collection folder of 'gshell gen data' (train/, test/)")
    ap.add_argument("--fits", action="append", default=[], help="a fit folder (repeatable); the first is the "
                    "model's training set")
    ap.add_argument("--checkpoint", default=None, help="model.pt of 'gshell gen train' (without it: only the "
                    "fit table)")
    ap.add_argument("--n", type=int, default=None, help="samples (default: as many as the test split)")
    ap.add_argument("--steps", type=int, default=50, help="DDIM steps (default: 50)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--points", type=int, default=2048)
    ap.add_argument("--x0-table", action="store_true", help="also print how well the model denoises the "
                    "last --fits folder's tensors (the held-out fits) at each noise level")
    ap.add_argument("--out", default=None, help="write the samples here (sample_*.ply, gallery.png)")
    args = ap.parse_args(argv)

    from gshell.cli.gen import load_tensors, sample_meshes
    from gshell.gen.collection import load_folder_report
    from gshell.gen.diffusion import load_model
    from gshell.gen.evaluate import evaluate, format_table

    print("machine: %s, %d CPUs, torch %s, %d threads" % (platform.processor() or platform.machine(),
                                                         os.cpu_count(), torch.__version__, torch.get_num_threads()))
    print("\n## Fitting\n")
    print(fit_table(args.fits))
    if args.checkpoint is None:
        return 0

    dm, train_packed, names = load_model(args.checkpoint)
    meta = dm.metadata
    print("\n## Training\n")
    print("model: res %d, UNet %s, %d parameters, %d steps, file %.1f MB; trained in %s s (%s); command: %s" % (
        dm.res, dm.model.config, dm.model.num_parameters(), dm.step, os.path.getsize(args.checkpoint) / 2 ** 20,
        meta.get("seconds_this_run"), meta.get("written"), meta.get("command")))

    if args.x0_table and args.fits:
        held, _ = load_tensors(args.fits[-1])
        print("\n## Denoising %s (%d tensors)\n" % (args.fits[-1], len(held)))
        print(x0_table(dm, held.float(), train=None if train_packed is None else train_packed.float()))

    reference = [(v, f) for _, v, f, _ in load_folder_report(os.path.join(args.data, "test"))[0]]
    n = args.n or len(reference)
    t0 = time.perf_counter()
    _, meshes = sample_meshes(dm, n, steps=args.steps, seed=args.seed)
    sample_s = (time.perf_counter() - t0) / n
    train, _ = load_tensors(args.fits[0]) if args.fits else (train_packed, None)
    t0 = time.perf_counter()
    rows = evaluate(meshes, reference, train, n_points=args.points, seed=args.seed)
    eval_s = time.perf_counter() - t0
    print("\n## Generation (held-out split: %d shapes; %d samples, %d DDIM steps: %.2f s per mesh incl. "
          "extraction; evaluation %.0f s)\n" % (len(reference), n, args.steps, sample_s, eval_s))
    print(format_table(rows))
    if args.out:
        from gshell import io as gio
        from gshell.gen.gallery import render_gallery

        os.makedirs(args.out, exist_ok=True)
        for i, (v, f) in enumerate(meshes):
            if f.shape[0]:
                gio.save_mesh(os.path.join(args.out, "sample_%03d.ply" % i), v, f)
        render_gallery(meshes[:12], os.path.join(args.out, "gallery.png"), views=3)
    return 0


if __name__ == "__main__":
    sys.exit(main())
