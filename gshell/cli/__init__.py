"""The ``gshell`` command line: ``main(argv=None)`` and the parser's assembly.

Each command lives in its own module of this package (``info``, ``convert``, ``extract``,
``batch``, ``tetgrid``, ``render``, ``demo``, ``reconstruct``, ``mmgp``, ``wing``, ``gen``) with a
``register(sub, common)`` that adds its subparser and sets its handler; what they share (the error
type, exit codes, argument types, input and output checks) is in :mod:`gshell.cli._helpers`. Only
the standard library is imported until a handler runs, so ``gshell --help`` starts fast; torch
and the extension are imported by the handlers that need them.
"""
import argparse
import importlib
import os
import sys

from gshell.cli._helpers import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, CLIError, Parser

__all__ = ["main", "build_parser", "CLIError"]

# the command modules, in the order of ``gshell --help``
COMMANDS = ("info", "convert", "extract", "batch", "tetgrid", "render", "demo", "reconstruct", "mmgp",
            "wing", "gen")

EPILOG = """examples:
  gshell info                          versions and how gshell._C was built
  gshell info bunny.obj                counts, bounds, watertight, genus, components, ...
  gshell convert bunny.obj bunny.ply   convert between OBJ, PLY, STL, OFF, GLB/glTF, VTK, ... (colours,
                                       normals, uv and textures kept where the format holds them)
  gshell extract sdf.npy mesh.ply --method mc      mesh an SDF grid (.npy or .npz)
  gshell batch convert meshes/ --to ply --out ply/ --workers 4
                                       info, convert or extract over folders, globs or @list files,
                                       in this process or on Ray (--workers N, --address ADDR)
  gshell tetgrid --res 64 grid64.npz   a regular tet grid (kaolin/nvdiffrec npz layout)
  gshell render bunny.obj sheet.png    a turntable sheet of shaded views
  gshell demo                          G-Shell extraction of an open bowl, written to out/demo.ply
  gshell demo --res 128 --out bowl.ply
  gshell reconstruct assets/cup.ply    reconstruct an open cup from 24 rendered views (the main demo)
  gshell wing dataset wings.npz --wings 300   random wings x flight conditions with surface Cp
  gshell mmgp generate out/tensile2d --n 350 --workers 8   MMGP plates, on a local Ray with 8 CPUs
  gshell wing train wings.npz          Cp model with and without Riemannian features, held-out wings
  gshell gen sample --n 16 out/samples 16 open meshes (and a gallery) from the shipped diffusion model
  gshell <command> --help              help for one command

global options (before or after the command): --quiet (no progress or report),
--debug (a traceback on errors; GSHELL_DEBUG=1 does the same).

Outputs are written atomically (a temporary file, then a rename) and never over an input or an
existing file unless --force is given. A missing output folder is created when it lies below the
working directory, or when only its last level is missing (said on stderr); else it is an error.

exit codes:
  0    success
  1    unexpected error (one line; --debug for the traceback)
  2    usage or input error: bad arguments, missing file, unknown or corrupt format, empty mesh,
       NaN coordinates, output exists
  130  interrupted (Ctrl-C)
"""


def build_parser():
    """The ``gshell`` argparse parser, with every command's subparser."""
    parser = Parser(
        prog="gshell",
        description="gshell: mesh geometry and shape representations for PyTorch (G-Shell extraction "
                    "with C++/CUDA kernels).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress or report on stdout")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error (also GSHELL_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    # the global options, accepted after the command too (SUPPRESS: absent ones keep the global value)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--quiet", "-q", action="store_true", default=argparse.SUPPRESS,
                        help="no progress or report on stdout")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the traceback of an error (also GSHELL_DEBUG=1)")
    for name in COMMANDS:
        importlib.import_module("gshell.cli." + name).register(sub, common)
    return parser


def main(argv=None):
    """Runs the ``gshell`` command line.

    Args:
        argv: list of arguments without the program name (default: ``sys.argv[1:]``).
    Returns:
        int exit code: 0 on success, 2 on a usage or input error (one line on stderr),
        1 on an unexpected error (one line; ``--debug`` or GSHELL_DEBUG=1 for the traceback),
        130 when interrupted.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = bool(os.environ.get("GSHELL_DEBUG")) or "--debug" in argv
    parser = build_parser()
    command = ""
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as e:  # --help
            return e.code if isinstance(e.code, int) else EXIT_OK
        if args.version:
            from importlib.metadata import PackageNotFoundError, version
            try:
                print("gshell %s" % version("gshell-mesh"))
            except PackageNotFoundError:
                import gshell
                print("gshell %s" % gshell.__version__)
            return EXIT_OK
        if args.command is None:
            raise CLIError("gshell: error: expected a command (%s) (see 'gshell --help')" % ", ".join(COMMANDS))
        command = " " + args.command
        return args.func(args)
    except CLIError as e:
        if debug:
            raise
        print(str(e), file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. `gshell info x.ply --json | head`
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_FAILURE
    except (ValueError, TypeError, OSError) as e:
        if debug:
            raise
        print("gshell%s: error: %s" % (command, str(e).replace("\n", " ")), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("gshell: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ImportError as e:  # an optional dependency is missing
        if debug:
            raise
        print("gshell%s: error: %s" % (command, str(e).replace("\n", " ")), file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:  # one line for the user; GSHELL_DEBUG=1 shows the traceback
        if debug:
            raise
        print("gshell%s: error: %s: %s (--debug or GSHELL_DEBUG=1 for a traceback)"
              % (command, type(e).__name__, str(e).replace("\n", " ")), file=sys.stderr)
        return EXIT_FAILURE

