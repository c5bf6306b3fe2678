"""Benchmark: reconstruction from photographs against the other target kinds, on one dataset.

Runs :func:`gshell.recon.run.run` (what ``gshell reconstruct`` runs) three ways on a calibrated
image set with a ground-truth mesh, and prints one markdown table:

- photographs: RGB and masks, shape + material + light (the defaults; ``make demo``);
- masks only: the same photographs without their colours (``w_rgb=0``);
- mesh-supervised: mask, depth and normal images rendered from the ground-truth mesh from 24
  cameras on a sphere (the synthetic setting of the G-Shell paper; an upper bound).

Columns: the surface kept (``surface="auto"`` runs an open and a closed reconstruction and keeps
the closed one when its training image loss is more than 5% lower), Chamfer distance over the ground truth's bounding-box diagonal, F-score at 1% of it,
normal consistency, boundary loops (and the target's), PSNR/SSIM of the test views (photographs
only; over black), optimisation time and time per step.

    python scripts/bench_photo.py                      # assets/photo_skirt, about 7 minutes
    python scripts/bench_photo.py --images DIR --gt MESH --downscale 2
"""
import argparse
import os
import sys
import tempfile

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None):
    from gshell.recon import ReconConfig
    from gshell.recon.run import run

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", default=os.path.join(ROOT, "assets", "photo_skirt"))
    p.add_argument("--gt", default=None, help="default: IMAGES/mesh_gt.ply")
    p.add_argument("--downscale", type=int, default=1)
    p.add_argument("--only", default="photo,masks,mesh", help="comma-separated rows to run")
    args = p.parse_args(argv)
    gt = args.gt or os.path.join(args.images, "mesh_gt.ply")
    rows = []
    runs = {"photo": ("photographs (RGB + masks)", dict(images=args.images, gt=gt), ReconConfig()),
            "masks": ("masks only", dict(images=args.images, gt=gt), ReconConfig(w_rgb=0.0)),
            "mesh": ("mesh-supervised (24 rendered views)", dict(mesh=gt), ReconConfig())}
    for key in args.only.split(","):
        name, src, cfg = runs[key]
        with tempfile.TemporaryDirectory() as out:
            r = run(os.path.join(out, "o"), config=cfg, quiet=True, log=lambda *a: None,
                    downscale=args.downscale, texture_res=512, **src)
        steps = sum(cfg.steps)
        test = r.get("test", {})
        sc = r.get("surface_scores")
        kept = r["surface"] + (" (%s)" % " / ".join("%.4f" % sc[k] for k in ("open", "closed")) if sc else "")
        rows.append("| %s | %s | %.3f%% | %.4f | %.4f | %d (%d) | %s | %s | %.0f s | %.2f s |" % (
            name, kept, 100 * r["chamfer_rel"], r["fscore"], r["normal_consistency"],
            r["boundary_loops_pred"], r["boundary_loops_gt"],
            "%.2f" % test["psnr"] if test else "-", "%.4f" % test["ssim"] if test else "-",
            r["seconds_optimisation"], r["seconds_optimisation"] / steps))
        print(rows[-1], file=sys.stderr, flush=True)
    print("Dataset %s, ground truth %s; torch %s, %d threads.\n" % (
        os.path.relpath(args.images, ROOT), os.path.relpath(gt, ROOT), torch.__version__,
        torch.get_num_threads()))
    print("| targets | surface kept (image loss open / closed) | Chamfer / diag | F-score@1% | "
          "normal consistency | loops (target) | test PSNR (dB) | test SSIM | optimisation | per step |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
