"""Benchmarks of gshell.mmgp.morph / gshell.mmgp.transfer on random Delaunay disk meshes.

Times floater_map (uniform and mean-value weights), transfer_matrix, and locate_points against a
SciPy cKDTree + brute-force baseline; then measures how much the disk map depends on the
connectivity: two meshes of the same disk with different random points, the same physical points
located in both, and the mean distance between their two images in the unit disk.

    OMP_NUM_THREADS=2 python scripts/bench_morph.py [--sizes 20000 100000] [--repeat 3]

Prints markdown tables.
"""
import argparse
import platform
import time

import numpy as np
import torch

from gshell.mmgp.morph import floater_map
from gshell.mmgp.transfer import locate_points, transfer_matrix


def disk_mesh(n, seed):
    """Delaunay mesh of about n random points in the unit disk (boundary ~ 2 sqrt(pi n))."""
    from scipy.spatial import Delaunay
    rng = np.random.default_rng(seed)
    nb = max(8, int(2 * np.sqrt(np.pi * n)))
    h = 2 * np.pi / nb
    ang = np.pi + h * np.arange(nb)
    ang[1:] += rng.uniform(-0.3, 0.3, nb - 1) * h
    r = (1 - 0.6 * h) * np.sqrt(rng.uniform(0, 1, n - nb))
    th = rng.uniform(0, 2 * np.pi, n - nb)
    p = np.concatenate([np.stack([np.cos(ang), np.sin(ang)], 1),
                        np.stack([r * np.cos(th), r * np.sin(th)], 1)])
    t = Delaunay(p).simplices.astype(np.int64)
    e1, e2 = p[t[:, 1]] - p[t[:, 0]], p[t[:, 2]] - p[t[:, 0]]
    a = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    t[a < 0] = t[a < 0][:, [0, 2, 1]]
    return p, t


def best_of(fn, repeat):
    out, best = None, float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def kdtree_locate(p, t, q, k=16):
    """Baseline: candidate triangles = the k nearest centroids (cKDTree), containment test in
    NumPy; queries not resolved that way are tested against every triangle (brute force)."""
    from scipy.spatial import cKDTree
    a, b, c = p[t[:, 0]], p[t[:, 1]], p[t[:, 2]]
    tree = cKDTree((a + b + c) / 3)
    _, cand = tree.query(q, k=k)
    cr = lambda u, v: u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]

    def bary(Q, A, B, C):
        l = np.stack([cr(B - Q, C - Q), cr(C - Q, A - Q), cr(A - Q, B - Q)], -1)
        return l / l.sum(-1, keepdims=True)

    Q = q[:, None]
    l = bary(Q, a[cand], b[cand], c[cand])
    mn = l.min(-1)
    j = np.argmax(mn, 1)
    rows = np.arange(len(q))
    tri, lam = cand[rows, j], l[rows, j]
    miss = np.flatnonzero(mn[rows, j] < -1e-12)
    for s in range(0, len(miss), 256):  # brute force, in blocks
        m = miss[s:s + 256]
        lb = bary(q[m][:, None], a[None], b[None], c[None])
        jj = np.argmax(lb.min(-1), 1)
        tri[m], lam[m] = jj, lb[np.arange(len(m)), jj]
    return tri, lam, len(miss)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[20000, 100000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--queries", type=int, default=100000)
    args = ap.parse_args(argv)
    print("machine: %s, %s, torch threads %d" % (platform.processor() or platform.machine(),
                                                 platform.platform(), torch.get_num_threads()))
    print()
    print("| nodes | triangles | floater uniform (s) | floater mean-value (s) | transfer_matrix (s) "
          "| locate %d queries: gshell (s) | cKDTree+brute (s) | speed-up | agree |" % args.queries)
    print("|---|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        p, t = disk_mesh(n, 0)
        pt, _ = disk_mesh(n, 1)
        _, tu = best_of(lambda: floater_map(p, t, "uniform"), args.repeat)
        _, tm = best_of(lambda: floater_map(p, t, "mean_value"), args.repeat)
        _, tt = best_of(lambda: transfer_matrix(p, t, pt), args.repeat)
        rng = np.random.default_rng(2)
        r = 0.98 * np.sqrt(rng.uniform(0, 1, args.queries))
        th = rng.uniform(0, 2 * np.pi, args.queries)
        q = np.stack([r * np.cos(th), r * np.sin(th)], 1)  # inside the mesh
        (tri, bary), tl = best_of(lambda: locate_points(p, t, q), args.repeat)
        (tri_b, bary_b, nmiss), tb = best_of(lambda: kdtree_locate(p, t, q), 1)
        agree = np.mean(tri == tri_b)
        print("| %d | %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.1fx | %.4f (%d brute) |" % (
            len(p), len(t), tu, tm, tt, tl, tb, tb / tl, agree, nmiss))
    print()
    print("Connectivity dependence: two Delaunay meshes of the unit disk from different random "
          "points; 20000 physical points (radius < 0.95) located in both; mean and max distance "
          "between their two images in the disk.")
    print()
    print("| nodes per mesh | uniform: mean | uniform: max | mean-value: mean | mean-value: max |")
    print("|---|---|---|---|---|")
    rng = np.random.default_rng(3)
    r = 0.95 * np.sqrt(rng.uniform(0, 1, 20000))
    th = rng.uniform(0, 2 * np.pi, 20000)
    x = np.stack([r * np.cos(th), r * np.sin(th)], 1)
    for n in [2000] + list(args.sizes[:1]):
        meshes = [disk_mesh(n, s) for s in (10, 11)]
        row = []
        for w in ("uniform", "mean_value"):
            img = []
            for p, t in meshes:
                uv = floater_map(p, t, w)
                tri, bary = locate_points(p, t, x)
                img.append((bary[:, :, None] * uv[t[tri]]).sum(1))
            d = np.linalg.norm(img[0] - img[1], axis=1)
            row += [d.mean(), d.max()]
        print("| %d | %.2e | %.2e | %.2e | %.2e |" % (n, *row))


if __name__ == "__main__":
    main()
