"""``gshell reconstruct``: multiview reconstruction with G-Shell."""
import argparse
import os

from gshell.cli._helpers import CLIError, ensure_folder, int_list, need_input


def register(sub, common):
    """Adds the command's parser to ``sub`` (``common``: the global options' parent parser)."""
    p = sub.add_parser(
        "reconstruct", help="reconstruct a mesh (open or closed) from calibrated views with G-Shell",
        parents=[common],
        description="Multiview reconstruction with G-Shell. Targets are photographs (--images: a "
                    "calibrated RGB image set with masks or alpha, in the NeRF-synthetic/Blender, "
                    "instant-ngp/nerfstudio, NeuS/IDR or COLMAP layout; shape, material and "
                    "environment light are learned together), a mesh rendered from VIEWS cameras "
                    "on a sphere (mask, depth and normal images; the synthetic setting of the "
                    "G-Shell paper) or a NeuS/IDR scene folder's masks (--neus). Writes "
                    "OUT/mesh.<fmt> and OUT/comparison.png (targets above, reconstruction below); "
                    "with --images also OUT/mesh.glb and OUT/mesh.obj with baked textures, "
                    "OUT/light.hdr and OUT/test/ (renders of the test views); OUT/metrics.json "
                    "holds PSNR/SSIM on the test views and, against a target mesh (MESH or --gt), "
                    "the Chamfer distance, F-score at 1% of the bounding-box diagonal, normal "
                    "consistency and boundary loops.",
        epilog="examples:\n  gshell reconstruct --images assets/photo_skirt --gt assets/photo_skirt/mesh_gt.ply --out out/photo\n"
               "  gshell reconstruct --images data/nerf_synthetic/lego --downscale 2 --out out/lego\n"
               "  gshell reconstruct assets/cup.ply --out out/demo\n"
               "  gshell reconstruct assets/cup.ply --views 32 --grid-res 32,64,96 --steps 200,200,200 "
               "--image-res 128,192,256\n"
               "  gshell reconstruct --neus data/dtu_scan65 --out out/scan65 --format ply,glb",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mesh", nargs="?", metavar="MESH", help="target mesh (any format gshell convert reads)")
    p.add_argument("--images", metavar="DIR",
                   help="calibrated image set (Blender/NeRF, instant-ngp, nerfstudio, NeuS, COLMAP)")
    p.add_argument("--gt", metavar="MESH", help="ground-truth mesh of an image set, in its coordinates")
    p.add_argument("--downscale", type=float, default=1.0, metavar="S",
                   help="shrink the images by this factor on load (default: 1)")
    p.add_argument("--max-views", type=int, metavar="N", dest="max_views",
                   help="use at most N training images, evenly spaced (default: all)")
    p.add_argument("--bbox", type=lambda t: tuple(float(x) for x in t.split(",")), metavar="X0,Y0,Z0,X1,Y1,Z1",
                   help="the object's box in the dataset's coordinates (default: from the cameras and masks)")
    p.add_argument("--light", choices=("splitsum", "sg"), default="splitsum",
                   help="environment light model for --images: a split-sum lat-long map or "
                        "spherical Gaussians (default: splitsum)")
    p.add_argument("--surface", choices=("auto", "open", "closed"), default="auto",
                   help="'open' (G-Shell's cut surface), 'closed' (watertight, no cut) or 'auto' "
                        "(image sets with colour: both, keeping the closed one when its renders match "
                        "the photographs more than 5%% better; otherwise open; default)")
    p.add_argument("--texture-res", type=int, default=1024, metavar="R", dest="texture_res",
                   help="side of the baked textures (default: 1024)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the checkpoints in OUT (same settings)")
    p.add_argument("--neus", metavar="DIR", help="NeuS/IDR scene folder instead of a mesh (masks only)")
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
                   help="save OUT/checkpoint.pt (with --surface auto: checkpoint_open.pt and "
                        "checkpoint_closed.pt) every N steps (default: never)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="device (default: cpu)")
    p.add_argument("--force", action="store_true",
                   help="overwrite the files of an earlier run in OUT (mesh.*, comparison.png, metrics.json)")
    p.set_defaults(func=run)


def run(args):
    from gshell.recon.pipeline import ReconConfig
    from gshell.recon.run import FORMATS, run

    if sum(x is not None for x in (args.mesh, args.neus, args.images)) != 1:
        raise CLIError("gshell reconstruct: error: expected one of a target MESH, --images DIR or --neus DIR")
    if args.gt is not None and args.mesh is not None:
        raise CLIError("gshell reconstruct: error: --gt goes with --images or --neus (a target MESH is its own ground truth)")
    if args.images is not None and not os.path.isdir(args.images):
        raise CLIError("gshell reconstruct: error: --images %r is not a folder" % args.images)
    if args.bbox is not None and len(args.bbox) != 6:
        raise CLIError("gshell reconstruct: error: expected --bbox as 6 numbers X0,Y0,Z0,X1,Y1,Z1 but got %d" % len(args.bbox))
    if not args.downscale >= 1:
        raise CLIError("gshell reconstruct: error: expected --downscale >= 1 but got %g" % args.downscale)
    if args.max_views is not None and args.max_views < 1:
        raise CLIError("gshell reconstruct: error: expected --max-views >= 1 but got %d" % args.max_views)
    if args.resume and not args.checkpoint_every:
        args.checkpoint_every = 50
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
        cfg = ReconConfig(seed=args.seed, checkpoint_every=args.checkpoint_every, light=args.light,
                          surface=args.surface, **kw)
    except ValueError as e:
        raise CLIError("gshell reconstruct: error: %s" % e) from None
    quiet = getattr(args, "quiet", False)
    bad = [f for f in args.format if f not in FORMATS]
    if bad:
        raise CLIError("gshell reconstruct: error: expected output formats (--format) among %s, comma-separated, but got %s"
                       % (", ".join(FORMATS), ", ".join(map(repr, bad))))
    for path in (args.mesh, args.gt):
        if path is not None:
            need_input("reconstruct", path)
    ensure_folder("reconstruct", args.out, quiet)
    names = ["mesh.%s" % f for f in args.format] + ["comparison.png", "metrics.json"]
    if args.images is not None:
        names += ["mesh.glb", "mesh.obj", "mesh.mtl", "light.hdr", "test"]
    for name in names:
        path = os.path.join(args.out, name)
        if os.path.exists(path) and not args.force and not args.resume:
            raise CLIError("gshell reconstruct: error: output %r exists (use --force to overwrite the "
                           "files of the earlier run)" % path)
    log = (lambda *a: None) if quiet else print
    bbox = None if args.bbox is None else (args.bbox[:3], args.bbox[3:])
    try:
        rep = run(args.out, mesh=args.mesh, neus=args.neus, images=args.images, gt=args.gt,
                  n_views=args.views, config=cfg, formats=args.format, quiet=quiet,
                  device=args.device, log=log, downscale=args.downscale, max_views=args.max_views,
                  bbox=bbox, resume=args.resume, texture_res=args.texture_res)
    except (FileNotFoundError, ValueError) as e:
        raise CLIError("gshell reconstruct: error: %s" % e) from None
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
        if "test" in rep:
            print("  test views         PSNR %.2f dB, SSIM %.4f  (%s)" % (rep["test"]["psnr"], rep["test"]["ssim"],
                                                                    rep["test"]["background"]))
        for f in rep["files"]:
            print("wrote %s" % f)
    return 0
