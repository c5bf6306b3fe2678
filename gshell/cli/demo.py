"""``gshell demo``: G-Shell extraction of an analytic open bowl."""
import argparse
import os

from gshell.cli._helpers import CLIError, check_output, mesh_format, resolution, saving_warnings


def register(sub, common):
    """Adds the command's parser to ``sub`` (``common``: the global options' parent parser)."""
    p = sub.add_parser(
        "demo", help="extract a G-Shell mesh from an analytic SDF/mSDF and write it",
        parents=[common],
        description="Extract a G-Shell mesh on a regular tet grid: the SDF is a sphere of radius 0.35, "
                    "the mSDF keeps the part below z = 0.2 (an open bowl with one boundary loop). "
                    "Writes the open mesh in the format of --out's extension (binary PLY keeps a "
                    "per-vertex 'msdf' property) and prints statistics of the watertight and open meshes.",
        epilog="examples:\n  gshell demo\n  gshell demo --res 32 --out /tmp/bowl.ply --force\n"
               "  gshell demo --res 128 --device cuda --out bowl.glb",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--res", type=resolution, default=64, metavar="N",
                   help="grid resolution, cubes per axis in [2, 512] (default: 64)")
    p.add_argument("--out", default=os.path.join("out", "demo.ply"), metavar="PATH",
                   help="mesh file to write (.ply, .obj, .glb, ...); the last level of its folder is "
                        "created; '' writes nothing (default: out/demo.ply)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="device (default: cpu)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.set_defaults(func=run)


def run(args):
    from gshell import demo

    if args.out:
        mesh_format("demo", args.out)
        check_output("demo", args.out, [], args.force)
    try:
        with saving_warnings("demo"):
            demo.run(res=args.res, out=args.out or None, device=args.device,
                     verbose=not getattr(args, "quiet", False))
    except ImportError as e:
        raise CLIError("gshell demo: error: %s" % str(e).replace("\n", " ")) from None
    return 0
