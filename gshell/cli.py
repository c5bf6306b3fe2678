"""The ``gshell`` command line.

Only argparse is imported at module level, so ``gshell --help`` starts fast; torch and the
extension are imported by the subcommands that need them.
"""
import argparse
import os
import sys

EPILOG = """examples:
  gshell info                          versions and how gshell._C was built
  gshell demo                          G-Shell extraction of an open bowl, written to out/demo.ply
  gshell demo --res 128 --out bowl.ply
  gshell reconstruct assets/cup.ply    reconstruct an open cup from 24 rendered views (the main demo)
  gshell <command> --help              help for one command
"""


class CLIError(Exception):
    """A usage or input error: printed as one line on stderr, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise CLIError("%s: error: %s (see '%s --help')" % (self.prog, message, self.prog))


def _resolution(text):
    try:
        res = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected an integer but got %r" % text) from None
    if not 2 <= res <= 512:
        raise argparse.ArgumentTypeError("expected an integer in [2, 512] but got %d" % res)
    return res


def _cmd_info(args):
    import platform

    import torch

    import gshell
    from gshell import _ext

    print("gshell %s (%s)" % (gshell.__version__, os.path.dirname(gshell.__file__)))
    print("python %s, %s" % (platform.python_version(), platform.platform(terse=True)))
    cuda = "CUDA %s, %d device(s) available" % (torch.version.cuda, torch.cuda.device_count()) \
        if torch.version.cuda else "no CUDA"
    print("torch %s (%s)" % (torch.__version__, cuda))
    try:
        info = gshell.build_info()
    except ImportError as e:
        raise CLIError("gshell info: error: %s" % str(e).replace("\n", " ")) from None
    print("gshell._C %s" % _ext._C_module.__file__)
    for key in sorted(info):
        print("  %-14s %s" % (key, info[key]))
    return 0


def _cmd_demo(args):
    from gshell import demo

    try:
        demo.run(res=args.res, out=args.out or None, device=args.device)
    except ImportError as e:
        raise CLIError("gshell demo: error: %s" % str(e).replace("\n", " ")) from None
    return 0


def _int_list(text):
    try:
        vals = tuple(int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("expected comma-separated integers but got %r" % text) from None
    if not vals or min(vals) < 1:
        raise argparse.ArgumentTypeError("expected positive integers but got %r" % text)
    return vals


def _cmd_reconstruct(args):
    from gshell.recon.pipeline import ReconConfig
    from gshell.recon.run import run

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
    log = (lambda *a: None) if args.quiet else print
    rep = run(args.out, mesh=args.mesh, neus=args.neus, n_views=args.views, config=cfg,
              formats=args.format, quiet=args.quiet, device=args.device, log=log)
    if not args.quiet:
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


def build_parser():
    parser = _Parser(
        prog="gshell",
        description="gshell: mesh geometry and shape representations for PyTorch (G-Shell extraction "
                    "with C++/CUDA kernels).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser(
        "info", help="print versions and how the extension was built",
        description="Print gshell's, Python's and torch's versions and how gshell._C was built "
                    "(with or without CUDA, against which torch).",
        epilog="example:\n  gshell info", formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser(
        "demo", help="extract a G-Shell mesh from an analytic SDF/mSDF and write it as PLY",
        description="Extract a G-Shell mesh on a regular tet grid: the SDF is a sphere of radius 0.35, "
                    "the mSDF keeps the part below z = 0.2 (an open bowl with one boundary loop). "
                    "Writes the open mesh as binary PLY with a per-vertex 'msdf' property and prints "
                    "statistics of the watertight and open meshes.",
        epilog="examples:\n  gshell demo\n  gshell demo --res 32 --out /tmp/bowl.ply\n"
               "  gshell demo --res 128 --device cuda",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--res", type=_resolution, default=64, metavar="N",
                   help="grid resolution, cubes per axis in [2, 512] (default: 64)")
    p.add_argument("--out", default=os.path.join("out", "demo.ply"), metavar="PATH",
                   help="PLY file to write; its folder is created; '' writes nothing (default: out/demo.ply)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="device (default: cpu)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser(
        "reconstruct", help="reconstruct a mesh (open or closed) from calibrated views with G-Shell",
        description="Multiview reconstruction with G-Shell. Targets are either a mesh (PLY) rendered "
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
    p.add_argument("mesh", nargs="?", metavar="MESH", help="target mesh (.ply)")
    p.add_argument("--neus", metavar="DIR", help="NeuS/IDR scene folder instead of a mesh")
    p.add_argument("--out", default=os.path.join("out", "reconstruct"), metavar="DIR",
                   help="output folder, created if missing (default: out/reconstruct)")
    p.add_argument("--views", type=int, default=24, metavar="N",
                   help="number of target views (default: 24)")
    p.add_argument("--grid-res", type=_int_list, metavar="R1,R2", dest="grid_res",
                   help="tet-grid resolution per stage (default: 32,64)")
    p.add_argument("--steps", type=_int_list, metavar="S1,S2", help="Adam steps per stage (default: 300,250)")
    p.add_argument("--image-res", type=_int_list, metavar="P1,P2", dest="image_res",
                   help="image resolution per stage (default: 128,192)")
    p.add_argument("--format", type=lambda t: tuple(t.split(",")), default=("ply",), metavar="F",
                   help="mesh formats to write: ply, obj, glb, comma-separated (default: ply)")
    p.add_argument("--seed", type=int, default=0, help="view sampling seed (default: 0)")
    p.add_argument("--checkpoint-every", type=int, default=0, metavar="N", dest="checkpoint_every",
                   help="save OUT/checkpoint.pt every N steps (default: never)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="device (default: cpu)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or report")
    p.set_defaults(func=_cmd_reconstruct)
    return parser


def main(argv=None):
    """Runs the ``gshell`` command line.

    Args:
        argv: list of arguments without the program name (default: ``sys.argv[1:]``).
    Returns:
        int exit code: 0 on success, 2 on a usage or input error (one line on stderr),
        1 on an unexpected error (one line; set GSHELL_DEBUG=1 for the traceback).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    command = ""
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as e:  # --help
            return e.code if isinstance(e.code, int) else 0
        if args.version:
            from importlib.metadata import PackageNotFoundError, version
            try:
                print("gshell %s" % version("gshell-mesh"))
            except PackageNotFoundError:
                import gshell
                print("gshell %s" % gshell.__version__)
            return 0
        if args.command is None:
            raise CLIError("gshell: error: expected a command (info, demo, reconstruct) (see 'gshell --help')")
        command = " " + args.command
        return args.func(args)
    except CLIError as e:
        print(str(e), file=sys.stderr)
        return 2
    except (ValueError, TypeError, OSError) as e:
        if os.environ.get("GSHELL_DEBUG"):
            raise
        print("gshell%s: error: %s" % (command, str(e).replace("\n", " ")), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gshell: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # one line for the user; GSHELL_DEBUG=1 shows the traceback
        if os.environ.get("GSHELL_DEBUG"):
            raise
        print("gshell%s: error: %s: %s (set GSHELL_DEBUG=1 for a traceback)"
              % (command, type(e).__name__, str(e).replace("\n", " ")), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
