"""Runs the demo's reconstruction and logs, every K steps, the boundary loops of the open mesh
(edges and centroid in the grid frame, largest first), then the metrics of the result.

Where and when holes open in the optimisation (BENCHMARKS.md, "Run-to-run reproducibility"):

    OMP_NUM_THREADS=1 python scripts/recon_loop_log.py [assets/cup.ply] [--every 25] [--views 24]
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def loops_info(verts, faces):
    """[(edges, centroid)] of the boundary loops of a mesh, largest first."""
    from gshell.ops.mesh_components import boundary_edges, connected_components

    be = boundary_edges(faces, verts.shape[0])
    if be.shape[0] == 0:
        return []
    bv, local = torch.unique(be.reshape(-1), return_inverse=True)
    lab = connected_components(local.view(-1, 2), bv.shape[0])
    elab = lab[local.view(-1, 2)[:, 0]]
    out = []
    for k in range(int(lab.max()) + 1):
        c = verts[bv[lab == k]].mean(0)
        out.append((int((elab == k).sum()), [round(float(x), 3) for x in c]))
    return sorted(out, key=lambda r: -r[0])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mesh", nargs="?", default=os.path.join("assets", "cup.ply"))
    ap.add_argument("--every", type=int, default=25)
    ap.add_argument("--views", type=int, default=24)
    args = ap.parse_args(argv)
    from gshell import metrics
    from gshell.recon import ReconConfig, reconstruct
    from gshell.recon import pipeline
    from gshell.recon.run import _load_mesh
    from gshell.recon.views import normalize_mesh, synthetic_views

    losses, step = pipeline._losses, [0]

    def logged(geo, out, *a, **kw):  # the same computation, plus a look at the open mesh
        if step[0] % args.every == 0 and out.faces.shape[0]:
            with torch.no_grad():
                info = loops_info(out.verts.detach(), out.faces)
            print("step %d: %d loops %s" % (step[0], len(info), info[:6]), flush=True)
        step[0] += 1
        return losses(geo, out, *a, **kw)

    pipeline._losses = logged
    v, f = _load_mesh(args.mesh)
    vn, to_world = normalize_mesh(v)
    cfg = ReconConfig()
    views = synthetic_views(vn, f, n_views=args.views, resolution=max(cfg.image_res))
    views.to_world = to_world
    t = time.perf_counter()
    res = reconstruct(views, cfg, quiet=True)
    seconds = time.perf_counter() - t
    with torch.no_grad():
        out = res.geometry()
        print("open mesh at the end: %s" % loops_info(out.verts.detach(), out.faces)[:8])
    m = metrics.compare_meshes(res.verts, res.faces, v, f, n=100000)
    keep = ("chamfer_rel", "fscore", "normal_consistency", "boundary_loops_pred", "boundary_loops_gt")
    print(json.dumps(dict({k: m[k] for k in keep}, seconds=round(seconds, 1))))


if __name__ == "__main__":
    main()
