"""``gshell tetgrid``: write a regular tet grid."""
import argparse

from gshell.cli._helpers import CLIError, check_output, log, resolution


def register(sub, common):
    """Adds the command's parser to ``sub`` (``common``: the global options' parent parser)."""
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser(
        "tetgrid", help="write a regular tet grid (npz in the kaolin/nvdiffrec layout, or .msh/.vtk)",
        parents=[common],
        description="Write TetGrid.regular(N): (N+1)^3 vertices in [-0.5, 0.5]^3 and 6 N^3 positively "
                    "oriented tets, as npz ('vertices', 'indices') or a tetrahedral mesh meshio writes.",
        epilog="examples:\n  gshell tetgrid --res 64 grid64.npz\n  gshell tetgrid --res 16 grid16.vtk",
        formatter_class=fmt)
    p.add_argument("output", metavar="OUT", help="output file (.npz, .msh, .vtk, .vtu, ...)")
    p.add_argument("--res", type=resolution, required=True, metavar="N", help="cubes per axis, in [2, 512]")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.set_defaults(func=run)


def run(args):
    import gshell
    from gshell import io as gio

    try:
        gio.tetgrid_format_of(args.output)
    except ValueError as e:
        raise CLIError("gshell tetgrid: error: %s" % e) from None
    check_output("tetgrid", args.output, [], args.force)
    grid = gshell.TetGrid.regular(args.res)
    gio.save_tetgrid(args.output, grid)
    log(args, "wrote %s: %d vertices, %d tets (res %d)" % (args.output, grid.num_vertices, grid.num_tets, args.res))
    return 0
