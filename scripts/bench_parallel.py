"""Throughput of the dataset jobs on gshell.parallel: in-process, and on a local Ray with 1 and 2
workers; Ray's overhead per item; what 10,000 items take on 100 workers.

    python scripts/bench_parallel.py                 # every job, small settings (~4 min on 2 cores)
    python scripts/bench_parallel.py --jobs noop mmgp --workers 0 1 2 4

Each job runs once per worker count on a fresh output folder, after a warm-up run of a few items
on the same Ray instance (so the workers have imported torch, scikit-fem, NeuralFoil, ...: the
timed rate is the steady state; Ray's start-up is reported on its own). The extrapolation to
100 workers takes the measured cost of an item on one Ray worker (single-threaded: Ray runs its
workers with OMP_NUM_THREADS=1, while the in-process runs use torch's and BLAS's threads) and the
driver's CPU time per item (receiving a result from Ray, measured with a no-op job carrying a
payload of the job's result size, plus writing it): the job scales with the workers until the
driver, which receives and writes every result, is busy all the time:

    rate(W) = min(W / compute_s, 1 / driver_s),   time(10,000) = startup + 10,000 / rate(100)

so adding workers stops helping at about W = compute_s / driver_s.

Prints markdown tables.
"""
import argparse
import functools
import os
import pickle
import shutil
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gshell._atomic import write_bytes  # noqa: E402
from gshell.parallel import map_items  # noqa: E402


def payload(size, i):
    """A no-op item: ``size`` bytes back."""
    return bytes(size)


def _mesh_inputs(root, n):
    """n SDF grids (33^3 balls of varying radius) and their marching-cubes meshes (PLY)."""
    import torch

    import gshell
    from gshell import io as gio

    grids, meshes = os.path.join(root, "grids"), os.path.join(root, "meshes")
    os.makedirs(grids)
    os.makedirs(meshes)
    x = np.linspace(-0.5, 0.5, 33)
    X, Y, Z = np.meshgrid(x, x, x, indexing="ij")
    for k in range(n):
        r = 0.2 + 0.25 * k / max(n - 1, 1)
        sdf = (np.sqrt(X * X + Y * Y + (1.3 * Z) ** 2) - r).astype(np.float32)
        np.save(os.path.join(grids, "g%03d.npy" % k), sdf)
        v, f = gshell.marching_cubes(torch.from_numpy(sdf), 0.0)
        gio.save_mesh(os.path.join(meshes, "m%03d.ply" % k), v, f)
    return grids, meshes


class Jobs:
    """Every job as ``run(out, workers, n) -> Summary`` with its ``result_bytes`` and write
    cost (measured on one item in-process)."""

    def __init__(self, root, args):
        self.root, self.args = root, args
        self.grids, self.meshes = _mesh_inputs(os.path.join(root, "in"), args.meshes)

    # each: (label, item count, run(out, workers, n))
    def table(self):
        a = self.args
        return {
            "noop": ("no-op (1 KB result)", a.noop, self.noop),
            "mmgp": ("mmgp generate (mesh size %.2f)" % a.mesh_size, a.samples, self.mmgp),
            "wing": ("wing dataset (32 x 64 grid, %d conditions)" % a.conditions, a.wings, self.wing),
            "info": ("batch info", a.meshes, functools.partial(self.batch, "info")),
            "convert": ("batch convert (PLY -> OBJ)", a.meshes, functools.partial(self.batch, "convert")),
            "extract": ("batch extract (33^3 grid, mc)", a.meshes, functools.partial(self.batch, "extract")),
        }

    def noop(self, out, workers, n):
        return map_items(functools.partial(payload, 1024), range(n), out_dir=out,
                         names=["%06d.bin" % i for i in range(n)],
                         write=lambda p, r: write_bytes(p, [r]), workers=workers, progress=False)

    def mmgp(self, out, workers, n):
        from gshell.mmgp import dataset

        return dataset.generate(n, seed=0, cache_dir=out, progress=False, mesh_size=self.args.mesh_size,
                                workers=workers, return_summary=True)[1]

    def wing(self, out, workers, n):
        from gshell.wing import dataset

        os.makedirs(out, exist_ok=True)
        return dataset.generate(n, self.args.conditions, seed=0, cache=os.path.join(out, "w.npz"),
                                progress=False, workers=workers, return_summary=True)[1]

    def batch(self, action, out, workers, n):
        from gshell.cli import batch

        src = sorted(os.listdir(self.grids if action == "extract" else self.meshes))[:n]
        src = [os.path.join(self.grids if action == "extract" else self.meshes, s) for s in src]
        if action == "info":
            fn, names = batch._info_line, ["%06d.json" % i for i in range(n)]
            write = lambda p, r: write_bytes(p, [r])  # noqa: E731
        elif action == "convert":
            fn, write = batch._convert_item, batch._MeshWriter()
            names = [os.path.basename(s)[:-4] + ".obj" for s in src]
        else:
            fn, write = batch._extract_item, batch._MeshWriter()
            names = [os.path.basename(s)[:-4] + ".ply" for s in src]
        return map_items(fn, src, out_dir=out, names=names, write=write, workers=workers, progress=False,
                         desc="batch " + action)

    def result_and_write_cost(self, key):
        """(pickled result bytes, seconds to write it) of one item, in-process."""
        tmp = tempfile.mkdtemp(dir=self.root)
        try:
            if key == "noop":
                r, write, name = payload(1024, 0), (lambda p, r: write_bytes(p, [r])), "x.bin"
            elif key == "mmgp":
                from gshell.mmgp import dataset

                r, write, name = dataset._sample(0, 0, self.args.mesh_size), dataset.save_sample, "x.npz"
            elif key == "wing":
                from gshell.wing import dataset
                from gshell.wing.geometry import random_wing

                rng = np.random.default_rng(0)
                item = (random_wing(rng),) + dataset.sample_conditions(rng, self.args.conditions)
                r, write, name = dataset._solve_wing(item, 32, 64), dataset._save_part, "x.npz"
            else:
                from gshell.cli import batch

                src = os.path.join(self.meshes, sorted(os.listdir(self.meshes))[0])
                if key == "info":
                    r, write, name = batch._info_line(src), (lambda p, r: write_bytes(p, [r])), "x.json"
                elif key == "convert":
                    r, write, name = batch._convert_item(src), batch._MeshWriter(), "x.obj"
                else:
                    g = os.path.join(self.grids, sorted(os.listdir(self.grids))[0])
                    r, write, name = batch._extract_item(g), batch._MeshWriter(), "x.ply"
            times = []
            for k in range(5):
                t = time.perf_counter()
                write(os.path.join(tmp, "%d%s" % (k, name)), r)
                times.append(time.perf_counter() - t)
            return len(pickle.dumps(r, protocol=5)), float(np.median(times))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def ray_overhead(size, n):
    """The driver's CPU seconds per item of a no-op map with a ``size``-byte result on the
    running Ray (submit, wait, receive; Ray's threads in this process included), no write."""
    t = time.process_time()
    map_items(functools.partial(payload, size), range(n), workers=1, in_flight=64, progress=False)
    return (time.process_time() - t) / n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", nargs="+", default=["noop", "mmgp", "wing", "info", "convert", "extract"],
                    choices=["noop", "mmgp", "wing", "info", "convert", "extract"])
    ap.add_argument("--workers", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--samples", type=int, default=16, help="MMGP samples per run (default: 16)")
    ap.add_argument("--mesh-size", type=float, default=0.03, dest="mesh_size")
    ap.add_argument("--wings", type=int, default=6, help="wings per run (default: 6)")
    ap.add_argument("--conditions", type=int, default=4)
    ap.add_argument("--meshes", type=int, default=24, help="meshes / grids per batch run (default: 24)")
    ap.add_argument("--noop", type=int, default=300, help="items of the no-op job (default: 300)")
    ap.add_argument("--target", type=int, default=10000, help="items of the extrapolation (default: 10000)")
    ap.add_argument("--cluster", type=int, default=100, help="workers of the extrapolation (default: 100)")
    args = ap.parse_args()

    root = tempfile.mkdtemp(prefix="bench_parallel_")
    jobs = Jobs(root, args)
    table = {k: v for k, v in jobs.table().items() if k in args.jobs}
    rates, startup, overhead = {}, {}, {}
    try:
        for w in args.workers:
            if w:
                import ray

                t = time.perf_counter()
                ray.init(address="local", num_cpus=w, include_dashboard=False, log_to_driver=False)
                startup[w] = time.perf_counter() - t
            for key, (label, n, run) in table.items():
                base = os.path.join(root, "w%d_%s" % (w, key))
                run(base + "_warm", w, min(n, max(2 * w, 1)))        # imports, worker start
                s = run(base, w, n)
                if s.failed:
                    raise RuntimeError("%s failed: %s" % (key, s.failures[0]["message"]))
                rates[key, w] = s.done / s.wall_s
                print("  %-40s workers %d: %6.2f items/s (%d items, %.1f s)" % (
                    label, w, rates[key, w], s.done, s.wall_s), file=sys.stderr)
            if w:
                for key in table:
                    if key not in overhead:
                        size, _ = jobs.result_and_write_cost(key)
                        overhead[key] = ray_overhead(size, min(args.noop, 300))
                t = time.perf_counter()
                ray.shutdown()
                startup[w] += time.perf_counter() - t
        report(args, jobs, table, rates, startup, overhead)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def report(args, jobs, table, rates, startup, overhead):
    """Prints the tables."""
    ws = args.workers
    print("items per second (steady state, after a warm-up; %d CPUs here)\n" % os.cpu_count())
    print("| job | items | " + " | ".join("workers %d" % w for w in ws) + " |")
    print("|---|---|" + "---|" * len(ws))
    for key, (label, n, _) in table.items():
        print("| %s | %d | %s |" % (label, n, " | ".join("%.2f" % rates[key, w] for w in ws)))
    if startup:
        print("\nRay start + shutdown: " + ", ".join("%.1f s (%d CPUs)" % (t, w) for w, t in sorted(startup.items())))
    if not overhead:
        return
    st = max(startup.values())
    print("\nper item, and %d items on %d workers (rate = min(W / compute, 1 / driver))\n"
          % (args.target, args.cluster))
    print("| job | compute (1 worker) | result | Ray, driver CPU | write | driver limit | "
          "stops scaling at | %d items on %d workers |" % (args.target, args.cluster))
    print("|---|---|---|---|---|---|---|---|")
    for key, (label, n, _) in table.items():
        if (key, 0) not in rates:
            continue
        size, write = jobs.result_and_write_cost(key)
        # one item on one Ray worker (single-threaded, as on a cluster); else in-process less the write
        compute = 1.0 / rates[key, 1] if (key, 1) in rates else max(1.0 / rates[key, 0] - write, 1e-6)
        driver = overhead[key] + write
        rate = min(args.cluster / compute, 1.0 / driver)
        total = st + args.target / rate
        bound = "driver" if 1.0 / driver < args.cluster / compute else "workers"
        print("| %s | %.1f ms | %.0f KB | %.2f ms | %.2f ms | %.0f items/s | ~%.0f workers | %s (%s-bound) |" % (
            label, 1000 * compute, size / 1024, 1000 * overhead[key], 1000 * write, 1.0 / driver,
            compute / driver, _duration(total), bound))


def _duration(s):
    return "%.0f s" % s if s < 120 else ("%.1f min" % (s / 60) if s < 7200 else "%.1f h" % (s / 3600))


if __name__ == "__main__":
    main()
