"""``gshell reconstruct``: multiview reconstruction with G-Shell."""
import argparse
import os

from gshell.cli._helpers import CLIError, ensure_folder, int_list, need_input


def register(sub, common):
    """Adds the command's parser to ``sub`` (``common``: the global options' parent parser)."""
    p = sub.add_parser(
        "reconstruct", help="reconstruct a mesh (open or closed) from calibrated views with G-Shell",
        parents=[common],
        description="Multiview reconstruction with G-Shell. Targets are either a mesh rendered "
                    "from VIEWS cameras on a sphere (mask, depth and normal images; the synthetic "
                    "setting of the G-Shell paper) or a NeuS/IDR scene folder (image/, mask/, "
                    "cameras_sphere.npz; masks only). Writes OUT/mesh.<fmt>, OUT/comparison.png "
                    "(targets above, reconstruction below) and, for a target mesh, OUT/metrics.json "
                    "(Chamfer distance, F-score at 1% of the bounding-box diagonal, normal "
                    "consistency, boundary loops).",
        epilog="examples:\n  gshell reconstruct assets/cup.ply --out out/demo\n"
               "  gshell reconstruct assets/cup.ply --views 32 --grid-res 32,64,96 --steps 200,200,200 "
               "--image-res 128,192,256\n"
               "  gshell reconstruct --neus data/dtu_scan65 --out out/scan65 --format ply,glb",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mesh", nargs="?", metavar="MESH", help="target mesh (any format gshell convert reads)")
    p.add_argument("--neus", metavar="DIR", help="NeuS/IDR scene folder instead of a mesh")
    p.add_argument("--out", default=os.path.join("out", "reconstruct"), metavar="DIR",
                   help="output folder, created if missing (default: out/reconstruct)")
    p.add_argument("--views", type=int, default=24, metavar="N",
                   help="number of target views (default: 24)")
    p.add_argument("--grid-res", type=int_list, metavar="R1,R2", dest="grid_res",
                   help="tet-grid resolution per stage (default: 32,64)")
    p.add_argument("--steps", type=int_list, metavar="S1,S2", help="Adam steps per stage (default: 300,250)")
    p.add_argument("--image-res", type=int_list, metavar="P1,P2", dest="image_res",
                   help="image resolution per stage (default: 128,192)")
    p.add_argument("--format", type=lambda t: tuple(t.split(",")), default=("ply",), metavar="F",
                   help="mesh formats to write: ply, obj, glb, comma-separated (default: ply)")
    p.add_argument("--seed", type=int, default=0, help="view sampling seed (default: 0)")
    p.add_argument("--checkpoint-every", type=int, default=0, metavar="N", dest="checkpoint_every",
                   help="save OUT/checkpoint.pt every N steps (default: never)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="device (default: cpu)")
    p.add_argument("--force", action="store_true",
                   help="overwrite the files of an earlier run in OUT (mesh.*, comparison.png, metrics.json)")
    p.set_defaults(func=run)


def run(args):
    from gshell.recon.pipeline import ReconConfig
    from gshell.recon.run import FORMATS, run

    if (args.mesh is None) == (args.neus is None):
        raise CLIError("gshell reconstruct: error: expected a target MESH or --neus DIR (one of them)")
    kw = {}
    for name in ("grid_res", "steps", "image_res"):
        if getattr(args, name) is not None:
            kw[name] = getattr(args, name)
    if kw:
        base = ReconConfig()
        n = max(len(v) for v in kw.values())
        for name in ("grid_res", "steps", "image_res"):
            v = kw.get(name, getattr(base, name))
            if len(v) != n:
                v = tuple(v[min(i, len(v) - 1)] for i in range(n))
            kw[name] = v
    try:
        cfg = ReconConfig(seed=args.seed, checkpoint_every=args.checkpoint_every, **kw)
    except ValueError as e:
        raise CLIError("gshell reconstruct: error: %s" % e) from None
    quiet = getattr(args, "quiet", False)
    bad = [f for f in args.format if f not in FORMATS]
    if bad:
        raise CLIError("gshell reconstruct: error: expected output formats (--format) among %s, comma-separated, but got %s"
                       % (", ".join(FORMATS), ", ".join(map(repr, bad))))
    if args.mesh is not None:
        need_input("reconstruct", args.mesh)
    ensure_folder("reconstruct", args.out, quiet)
    for name in ["mesh.%s" % f for f in args.format] + ["comparison.png", "metrics.json"]:
        path = os.path.join(args.out, name)
        if os.path.exists(path) and not args.force:
            raise CLIError("gshell reconstruct: error: output %r exists (use --force to overwrite the "
                           "files of the earlier run)" % path)
    log = (lambda *a: None) if quiet else print
    rep = run(args.out, mesh=args.mesh, neus=args.neus, n_views=args.views, config=cfg,
              formats=args.format, quiet=quiet, device=args.device, log=log)
    if not quiet:
        print("reconstruction: %d vertices, %d faces in %.1f s (optimisation %.1f s)"
              % (rep["vertices"], rep["faces"], rep["seconds"], rep["seconds_optimisation"]))
        if "chamfer" in rep:
            print("  Chamfer distance   %.5f  (%.3f%% of the bounding-box diagonal)"
                  % (rep["chamfer"], 100 * rep["chamfer_rel"]))
            print("  F-score @ 1%%       %.4f  (precision %.4f, recall %.4f)"
                  % (rep["fscore"], rep["precision"], rep["recall"]))
            print("  normal consistency %.4f" % rep["normal_consistency"])
            print("  boundary loops     %d  (target %d)" % (rep["boundary_loops_pred"],
                                                           rep["boundary_loops_gt"]))
            print("  watertight         %s  (target %s)" % (rep["watertight_pred"], rep["watertight_gt"]))
        for f in rep["files"]:
            print("wrote %s" % f)
    return 0
