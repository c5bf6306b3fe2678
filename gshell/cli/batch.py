"""``gshell batch info|convert|extract``: one command over many meshes (or SDF grids), in this
process or on Ray (``--workers N``, ``--address ADDR``), resumable, with a failures file.

The inputs (``INPUT...``) are any mix of:

- files (``bunny.ply``);
- folders: the files directly inside whose extension the action reads (a mesh format for
  info and convert; ``.npy`` / ``.npz`` for extract), in name order;
- glob patterns (``'scans/**/*.ply'``; quote them so that gshell expands ``**`` recursively);
- list files ``@list.txt``: one path per line, relative to the current folder; blank lines and
  lines starting with ``#`` are ignored.

They are taken in that order, each file once. The items run through
:func:`gshell.parallel.map_items`, so outputs are the same bytes for any number of workers, a
rerun skips finished items, and an item that fails (a corrupt mesh) is recorded in
``failures.jsonl`` while the others complete. The workers read the inputs (relative paths from
this process's current folder: on a cluster, the inputs must be at the same path on every node,
a shared file system); this process writes every output.
"""
import argparse
import os

from gshell.cli._helpers import (CLIError, Parser, ensure_folder, int_range, non_negative_float, positive_float,
                                 resolution)

_GLOB_CHARS = "*?["


def add_parallel_args(p):
    """Adds ``--workers N`` and ``--address ADDR`` (see :func:`gshell.parallel.map_items`)."""
    p.add_argument("--workers", type=int_range(0, 1 << 20), default=0, metavar="N",
                   help="0 (default): run in this process; N >= 1: start a local Ray instance with "
                        "N CPUs for the job (pip install \"gshell-mesh[scale]\")")
    p.add_argument("--address", default=None, metavar="ADDR",
                   help="join an existing Ray cluster ('auto', 'host:6379', 'ray://host:10001'); "
                        "with --workers N, at most N items run at once")


def register(sub, common):
    """Adds the command's parser to ``sub`` (``common``: the global options' parent parser)."""
    fmt = argparse.RawDescriptionHelpFormatter
    inputs_help = ("meshes: files, folders (the files directly inside), glob patterns (quoted, "
                   "'**' recursive) or @LIST.txt (one path per line, relative to the current "
                   "folder; # comments)")
    p = sub.add_parser(
        "batch", help="info, convert or extract over many files (folders, globs, @list), on Ray "
        "with --workers", parents=[common],
        description="Run 'gshell info', 'convert' or 'extract' over many inputs: files, folders, "
                    "glob patterns or @LIST.txt files. Items run in this process, or on Ray with "
                    "--workers N (a local instance) or --address ADDR (a cluster); the outputs are "
                    "the same bytes either way. Each item's output is written as it finishes, a "
                    "rerun skips the finished ones (--force redoes them), and an item that fails "
                    "is recorded in failures.jsonl while the others complete. Exit code 1 when an "
                    "item failed. On a cluster the workers read the inputs at the same path (a "
                    "shared file system); this process writes every output.",
        epilog="examples:\n"
               "  gshell batch info meshes/ --out stats.jsonl\n"
               "  gshell batch convert 'scans/**/*.obj' --to ply --out ply/ --workers 8\n"
               "  gshell batch convert @todo.txt --to glb --out glb/ --address auto\n"
               "  gshell batch extract grids/ --out meshes/ --method mt --res 64",
        formatter_class=fmt)
    bsub = p.add_subparsers(dest="batch_command", metavar="ACTION", parser_class=Parser, required=True)

    i = bsub.add_parser(
        "info", parents=[common], formatter_class=fmt,
        help="one JSON line per mesh (the fields of 'gshell info --json') into FILE.jsonl",
        description="Statistics of every mesh, one JSON object per line in input order: the "
                    "fields of 'gshell info IN --json' (\"file\" is the path as given). Finished "
                    "items are kept in FILE.jsonl.parts/ until all are done; a rerun resumes.",
        epilog="examples:\n  gshell batch info meshes/ --out stats.jsonl\n"
               "  gshell batch info @list.txt --out stats.jsonl --workers 4")
    i.add_argument("inputs", nargs="+", metavar="INPUT", help=inputs_help)
    i.add_argument("--out", required=True, metavar="FILE.jsonl")
    i.add_argument("--force", action="store_true", help="recompute every item and replace FILE")
    add_parallel_args(i)

    c = bsub.add_parser(
        "convert", parents=[common], formatter_class=fmt,
        help="convert every mesh to --to FORMAT into --out DIR",
        description="Write every mesh as DIR/<name>.<FORMAT>, as 'gshell convert' does (colours, "
                    "normals, uv and textures where the format holds them). Outputs that exist "
                    "are skipped (a rerun resumes); --force rewrites them.",
        epilog="examples:\n  gshell batch convert meshes/ --to ply --out ply/\n"
               "  gshell batch convert 'scans/*.stl' --to obj --out obj/ --merge-vertices --workers 4")
    c.add_argument("inputs", nargs="+", metavar="INPUT", help=inputs_help)
    c.add_argument("--to", required=True, metavar="FORMAT", help="output format: ply, obj, stl, off, "
                   "glb, gltf or a meshio extension (vtk, vtu, msh, ...)")
    c.add_argument("--out", required=True, metavar="DIR", help="output folder")
    c.add_argument("--merge-vertices", nargs="?", const=0.0, default=None, type=non_negative_float,
                   metavar="TOL", dest="merge_vertices", help="as 'gshell convert --merge-vertices'")
    c.add_argument("--scale", type=positive_float, metavar="S", help="multiply positions by S (after --center)")
    c.add_argument("--center", action="store_true", help="move the bounding-box centre to the origin")
    c.add_argument("--ascii", action="store_true", help="ASCII instead of binary PLY/STL")
    c.add_argument("--force", action="store_true", help="rewrite outputs that exist")
    add_parallel_args(c)

    e = bsub.add_parser(
        "extract", parents=[common], formatter_class=fmt,
        help="mesh every SDF grid (.npy/.npz) into --out DIR",
        description="Mesh every SDF grid as 'gshell extract' does (marching cubes, marching tets or "
                    "G-Shell; see 'gshell extract --help' for the grid files), into "
                    "DIR/<name>.<FORMAT>. Outputs that exist are skipped; --force rewrites them.",
        epilog="examples:\n  gshell batch extract grids/ --out meshes/\n"
               "  gshell batch extract 'fields/*.npz' --out open/ --method gshell --to obj --workers 4")
    e.add_argument("inputs", nargs="+", metavar="INPUT", help=".npy or .npz SDF grids: files, folders, "
                   "globs or @LIST.txt")
    e.add_argument("--out", required=True, metavar="DIR", help="output folder")
    e.add_argument("--to", default="ply", metavar="FORMAT", help="output mesh format (default: ply)")
    e.add_argument("--method", choices=("mc", "mt", "gshell"), default="mc",
                   help="marching cubes, marching tetrahedra or G-Shell (default: mc)")
    e.add_argument("--iso", type=float, default=0.0, help="iso-value (default: 0)")
    e.add_argument("--res", type=resolution, metavar="N", help="tet grid resolution for mt/gshell, in [2, 512]")
    e.add_argument("--force", action="store_true", help="rewrite outputs that exist")
    add_parallel_args(e)
    p.set_defaults(func=run)


# ----------------------------------------------------------------------------------- inputs

def _readable(path, kind):
    """Whether a file found in a folder is an input of this kind ("mesh" or "grid")."""
    ext = os.path.splitext(path)[1].lower()
    if kind == "grid":
        return ext in (".npy", ".npz")
    if ext in ("", ".npy", ".npz", ".txt", ".json", ".jsonl", ".png", ".jpg", ".mtl"):
        return False
    from gshell.io import format_of

    try:
        format_of(path)
    except ValueError:
        return False
    return True


def expand_inputs(cmd, specs, kind="mesh"):
    """The input files named by ``specs`` (files, folders, glob patterns, ``@LIST`` files), in
    order, each once.

    Args:
        cmd: the command's name, for the error messages.
        specs: list of str. kind: ``"mesh"`` or ``"grid"`` (which files of a folder count).
    Returns:
        list of str, the paths as given (a folder's files joined to the folder).
    Raises:
        CLIError: a file, folder or list that does not exist, a pattern or folder with no input.
    """
    import glob

    out, seen = [], set()

    def add(path):
        key = os.path.normpath(path)
        if key not in seen:
            seen.add(key)
            out.append(path)

    def expand(spec, origin):
        if spec.startswith("@"):
            lst = spec[1:]
            if not os.path.isfile(lst):
                raise CLIError("gshell %s: error: list file %r does not exist" % (cmd, lst))
            with open(lst, encoding="utf-8") as fh:
                lines = [ln.strip() for ln in fh]
            for ln in lines:
                if ln and not ln.startswith("#"):
                    expand(ln, lst)
            return
        where = "" if origin is None else " (listed in %r)" % origin
        if any(ch in spec for ch in _GLOB_CHARS) and not os.path.exists(spec):
            hits = sorted(h for h in glob.glob(spec, recursive=True) if os.path.isfile(h))
            if not hits:
                raise CLIError("gshell %s: error: pattern %r%s matches no file" % (cmd, spec, where))
            for h in hits:
                add(h)
        elif os.path.isdir(spec):
            hits = sorted(os.path.join(spec, n) for n in os.listdir(spec)
                          if os.path.isfile(os.path.join(spec, n)) and _readable(n, kind))
            if not hits:
                raise CLIError("gshell %s: error: folder %r%s holds no %s file" % (
                    cmd, spec, where, "mesh" if kind == "mesh" else ".npy/.npz"))
            for h in hits:
                add(h)
        elif os.path.isfile(spec):
            add(spec)
        else:
            raise CLIError("gshell %s: error: input %r%s does not exist" % (cmd, spec, where))

    for spec in specs:
        expand(spec, None)
    return out


def _output_names(cmd, inputs, ext, out_dir):
    """``<stem>.<ext>`` per input; an error when two inputs give one name or an output is an
    input."""
    names, owner = [], {}
    ins = {os.path.abspath(p) for p in inputs}
    for path in inputs:
        name = os.path.splitext(os.path.basename(path))[0] + "." + ext
        if name in owner:
            raise CLIError("gshell %s: error: %r and %r would both be written to %r (rename one, or run "
                           "them into separate folders)" % (cmd, owner[name], path, name))
        if os.path.abspath(os.path.join(out_dir, name)) in ins:
            raise CLIError("gshell %s: error: the output %r would replace the input (choose another "
                           "--out folder)" % (cmd, os.path.join(out_dir, name)))
        owner[name] = path
        names.append(name)
    return names


# ------------------------------------------------------------------------------------ items

# The items are the paths as given; a worker (whose current folder is not the driver's) reads
# them relative to the driver's folder ``cwd``.

def info_record(path, cwd=None):
    """The statistics of one mesh, as ``gshell info PATH --json`` prints them.

    Args:
        path: str, the mesh file (as given: it is the record's ``"file"``).
        cwd: None or the folder a relative ``path`` is relative to (default: the current one).
    Returns:
        dict: ``{"file": path, **gshell.io.mesh_info(...)}``.
    Raises:
        ValueError, OSError: a missing, unknown or corrupt file.
    """
    from gshell import io as gio

    v, f, _ = gio._load_arrays(os.path.join(cwd, path) if cwd else path)
    return dict({"file": path}, **gio.mesh_info(v, f))


def _info_line(path, cwd=None):
    import json

    return (json.dumps(info_record(path, cwd)) + "\n").encode("utf-8")


def _convert_item(path, merge=None, center=False, scale=None, cwd=None):
    """One mesh of ``batch convert``: loaded with its attributes and transformed as
    ``gshell convert`` does. Returns (verts, faces, attrs) NumPy arrays."""
    from gshell import io as gio
    from gshell.cli.convert import transform

    verts, faces, attrs = gio._load_arrays(os.path.join(cwd, path) if cwd else path, attributes=True)
    return transform(verts, faces, attrs, merge, center, scale)


def _extract_item(path, method="mc", iso=0.0, res=None, cwd=None):
    """One grid of ``batch extract``: the mesh of ``gshell extract PATH OUT --method ...``.
    Returns (verts (V, 3) float32, faces (F, 3) int64) NumPy arrays."""
    from gshell.cli.extract import extract_mesh

    verts, faces = extract_mesh(os.path.join(cwd, path) if cwd else path, method, iso, res)
    return verts.numpy(), faces.numpy()


class _MeshWriter:
    """``write(path, (verts, faces[, attrs]))`` of batch convert/extract on the driver; counts
    the attributes a format could not hold, for one warning at the end."""

    def __init__(self, binary=True):
        self.binary, self.lost = binary, {}

    def __call__(self, path, result):
        import warnings

        from gshell import io as gio

        verts, faces = result[0], result[1]
        attrs = result[2] if len(result) > 2 else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            lost = gio.save_mesh(path, verts, faces, binary=self.binary, attributes=attrs)
        for name in lost:
            self.lost[name] = self.lost.get(name, 0) + 1


# -------------------------------------------------------------------------------------- run

def run(args):
    from gshell.parallel import require_ray

    cmd = "batch " + args.batch_command
    if args.workers or args.address is not None:
        require_ray()
    if args.batch_command == "info":
        return _info(cmd, args)
    return _meshes(cmd, args)


def _report(cmd, args, summary):
    import sys

    if not getattr(args, "quiet", False):
        print(summary)
    if summary.failed:
        where = " (see %s)" % summary.failures_file if summary.failures_file else ""
        first = summary.failures[0]
        print("gshell %s: error: %d of %d items failed%s; first: %s: %s: %s" % (
            cmd, summary.failed, summary.total, where, first["item"], first["error"],
            first["message"].replace("\n", " ")), file=sys.stderr)
        return 1
    return 0


def _map(args, fn, items, out_dir, names, write, desc, **kw):
    from gshell.parallel import map_items

    return map_items(fn, items, out_dir=out_dir, names=names, write=write, workers=args.workers,
                     address=args.address, skip_existing=not args.force, desc=desc,
                     progress=not getattr(args, "quiet", False), **kw)


def _meshes(cmd, args):
    import functools
    import sys

    from gshell import io as gio

    kind = "grid" if args.batch_command == "extract" else "mesh"
    inputs = expand_inputs(cmd, args.inputs, kind)
    ext = args.to.lower().lstrip(".")
    try:
        fmt = gio.format_of("x." + ext)
    except ValueError:
        raise CLIError("gshell %s: error: --to expects a mesh file extension (ply, obj, stl, off, glb, "
                       "gltf, or one meshio writes: vtk, vtu, msh, ...) but got %r" % (cmd, args.to)) from None
    if args.batch_command == "extract":
        if args.method == "mc" and args.res is not None:
            raise CLIError("gshell %s: error: --res applies to --method mt and gshell (mc uses the grid "
                           "itself)" % cmd)
        fn = functools.partial(_extract_item, method=args.method, iso=args.iso, res=args.res,
                               cwd=os.getcwd())
        writer = _MeshWriter()
    else:
        fn = functools.partial(_convert_item, merge=args.merge_vertices, center=args.center,
                               scale=args.scale, cwd=os.getcwd())
        writer = _MeshWriter(binary=not args.ascii)
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise CLIError("gshell %s: error: --out %r is a file, expected a folder" % (cmd, args.out))
    names = _output_names(cmd, inputs, ext, args.out)
    ensure_folder(cmd, args.out, getattr(args, "quiet", False))
    summary = _map(args, fn, inputs, args.out, names, writer, cmd)
    for name, count in sorted(writer.lost.items()):
        print("gshell %s: warning: %s cannot hold %s: not written (%d files)"
              % (cmd, gio._NAMES.get(fmt, fmt), name, count), file=sys.stderr)
    return _report(cmd, args, summary)


def _info(cmd, args):
    import functools
    import hashlib
    import shutil

    from gshell._atomic import write_bytes

    inputs = expand_inputs(cmd, args.inputs, "mesh")
    out = args.out
    parts = out + ".parts"
    if os.path.isdir(out):
        raise CLIError("gshell %s: error: --out %r is a folder, expected a file path" % (cmd, out))
    if args.force and os.path.isdir(parts):
        shutil.rmtree(parts)
    if os.path.exists(out) and not os.path.isdir(parts) and not args.force:
        if _finished(out, inputs):
            from gshell.parallel import Summary

            return _report(cmd, args, Summary(desc=cmd, total=len(inputs), skipped=len(inputs)))
        raise CLIError("gshell %s: error: output %r exists and holds other inputs (use --force to "
                       "overwrite it)" % (cmd, out))
    ensure_folder(cmd, os.path.dirname(out) or ".", getattr(args, "quiet", False))
    names = [hashlib.sha1(p.encode("utf-8", "surrogateescape")).hexdigest()[:16] + ".json"
             for p in inputs]
    summary = _map(args, functools.partial(_info_line, cwd=os.getcwd()), inputs, parts, names,
                   lambda path, line: write_bytes(path, [line]), cmd)
    lines = []
    for name in names:
        path = os.path.join(parts, name)
        if os.path.exists(path):
            with open(path, "rb") as fh:
                lines.append(fh.read())
    write_bytes(out, lines)
    if not summary.failed:
        shutil.rmtree(parts, ignore_errors=True)
    return _report(cmd, args, summary)


def _finished(out, inputs):
    """Whether ``out`` is the JSON lines of exactly ``inputs``, in order (a finished run)."""
    import json

    try:
        with open(out, encoding="utf-8") as fh:
            files = [json.loads(line)["file"] for line in fh if line.strip()]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return files == list(inputs)
