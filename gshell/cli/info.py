"""``gshell info``: versions and build, or the statistics of a mesh."""
import argparse
import os

from gshell.cli._helpers import CLIError, mesh_format, need_input


def register(sub, common):
    """Adds the command's parser to ``sub`` (``common``: the global options' parent parser)."""
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser(
        "info", help="statistics of a mesh, or (without IN) versions and how the extension was built",
        parents=[common],
        description="With a mesh IN: vertex, face and edge counts, bounds, watertightness, edge-manifoldness, "
                    "consistent orientation, boundary loops, connected components, Euler characteristic "
                    "and genus (per component), degenerate faces, area and volume. Without IN: gshell's, "
                    "Python's and torch's versions and how gshell._C was built (with or without CUDA, "
                    "against which torch).",
        epilog="examples:\n  gshell info\n  gshell info bunny.obj\n  gshell info scan.ply --json > scan.json",
        formatter_class=fmt)
    p.add_argument("input", nargs="?", metavar="IN", help="mesh file (any format gshell reads)")
    p.add_argument("--json", action="store_true", help="print the statistics as JSON")
    p.set_defaults(func=run)


def run(args):
    if args.input is not None:
        return _info_mesh(args)
    if args.json:
        raise CLIError("gshell info: error: --json needs a mesh file IN")
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


def _info_mesh(args):
    import json

    from gshell import io as gio

    need_input("info", args.input)
    mesh_format("info", args.input)
    verts, faces, _ = gio._load_arrays(args.input)
    info = gio.mesh_info(verts, faces)
    info = dict({"file": args.input}, **info)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    yn = lambda b: "yes" if b else "no"  # noqa: E731
    lo, hi = info["bounds_min"], info["bounds_max"]
    print("%s" % args.input)
    print("  vertices           %d (%d unreferenced)" % (info["vertices"], info["unreferenced_vertices"]))
    print("  faces              %d (%d degenerate)" % (info["faces"], info["degenerate_faces"]))
    print("  edges              %d (%d boundary, %d non-manifold)"
          % (info["edges"], info["boundary_edges"], info["nonmanifold_edges"]))
    print("  non-manifold vertices %d" % info["nonmanifold_vertices"])
    print("  bounds             [%.6g, %.6g, %.6g] .. [%.6g, %.6g, %.6g] (diagonal %.6g)"
          % (tuple(lo) + tuple(hi) + (info["diagonal"],)))
    print("  watertight         %s" % yn(info["watertight"]))
    print("  edge-manifold      %s" % yn(info["edge_manifold"]))
    print("  consistently oriented %s" % yn(info["oriented"]))
    print("  boundary loops     %d" % info["boundary_loops"])
    print("  components         %d" % info["components"])
    print("  Euler characteristic %d" % info["euler_characteristic"])
    print("  genus              %s" % (info["genus"] if info["genus"] is not None else
                                       "n/a (%s)" % (info["genus_undefined"] or "more than 100 components")))
    comps = info["component_genus"]
    if len(comps) > 1:
        for i, c in enumerate(comps[:10]):
            print("    component %d: %d faces, %s, %d boundary loops, genus %s"
                  % (i, c["faces"], "closed" if c["closed"] else "open", c["boundary_loops"],
                     "n/a" if c["genus"] is None else c["genus"]))
        if info["components"] > 10:
            print("    ... %d more components" % (info["components"] - 10))
    print("  area               %.6g" % info["area"])
    if info["volume"] is not None:
        print("  volume             %.6g" % info["volume"])
    return 0
