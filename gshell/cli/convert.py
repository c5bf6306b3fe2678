"""``gshell convert``: a mesh from one format to another."""
import argparse

from gshell.cli._helpers import check_output, log, mesh_format, need_input, non_negative_float, positive_float, saving_warnings


def register(sub, common):
    """Adds the command's parser to ``sub`` (``common``: the global options' parent parser)."""
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser(
        "convert", help="convert a mesh between formats (OBJ, PLY, STL, OFF, GLB/glTF, meshio formats)",
        parents=[common],
        description="Read IN and write OUT in the format of OUT's extension: .ply (binary; --ascii for "
                    "ASCII), .obj, .stl (binary; --ascii), .off, .glb, .gltf, or a format meshio writes "
                    "(.vtk, .vtu, .msh, ...). Vertex colours, normals, texture coordinates and the texture "
                    "image are carried to the formats that hold them (PLY, OBJ + MTL, GLB/glTF); what OUT's "
                    "format cannot hold is named in a warning on stderr. Optionally merge duplicate "
                    "vertices, centre and scale.",
        epilog="examples:\n  gshell convert bunny.obj bunny.ply\n  gshell convert part.stl part.obj --merge-vertices\n"
               "  gshell convert scan.ply scan.glb --center --scale 0.01\n"
               "  gshell convert mesh.ply mesh.ply --ascii --force     rewrite in place as ASCII PLY",
        formatter_class=fmt)
    p.add_argument("input", metavar="IN", help="input mesh")
    p.add_argument("output", metavar="OUT", help="output mesh; its format comes from the extension")
    p.add_argument("--merge-vertices", nargs="?", const=0.0, default=None, type=non_negative_float, metavar="TOL",
                   dest="merge_vertices",
                   help="merge vertices with equal positions (or within a TOL grid) and equal attributes; "
                        "drops collapsed faces")
    p.add_argument("--scale", type=positive_float, metavar="S", help="multiply positions by S (after --center)")
    p.add_argument("--center", action="store_true", help="move the bounding-box centre to the origin")
    p.add_argument("--ascii", action="store_true", help="ASCII instead of binary PLY/STL")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists (or is IN)")
    p.set_defaults(func=run)


def transform(verts, faces, attrs, merge=None, center=False, scale=None):
    """What ``gshell convert`` does to a mesh between reading and writing: merge vertices closer
    than ``merge`` (None: no merge), move the bounding-box centre to the origin, multiply the
    positions by ``scale`` (None: no scale). NumPy arrays in and out, attributes carried along."""
    import numpy as np

    if merge is not None:
        verts, faces, attrs = _merge(verts, faces, attrs, merge)
    if center:
        verts = verts - (verts.min(0) + verts.max(0)) / 2
    if scale is not None:
        verts = (verts * np.float32(scale)).astype(np.float32)
    return verts, faces, attrs


def run(args):
    from gshell import io as gio
    from gshell.io.attributes import describe, kept

    need_input("convert", args.input)
    mesh_format("convert", args.input)
    mesh_format("convert", args.output)
    check_output("convert", args.output, [args.input], args.force)
    verts, faces, attrs = gio._load_arrays(args.input, attributes=True)
    for side in gio.side_files(args.output, attributes=attrs):
        check_output("convert", side, [args.input], args.force)
    nv0 = verts.shape[0]
    verts, faces, attrs = transform(verts, faces, attrs, args.merge_vertices, args.center, args.scale)
    with saving_warnings("convert"):
        gio.save_mesh(args.output, verts, faces, binary=not args.ascii, attributes=attrs)
    extra = " (merged %d vertices)" % (nv0 - verts.shape[0]) if args.merge_vertices is not None else ""
    written = kept(gio.format_of(args.output), attrs)
    with_attrs = " with %s" % describe(written) if written else ""
    log(args, "wrote %s: %d vertices, %d faces%s%s" % (args.output, verts.shape[0], faces.shape[0], with_attrs, extra))
    return 0


def _merge(v, f, attrs, tol):
    """Merges vertices with equal positions (on a ``tol`` grid when tol > 0) and equal attributes,
    keeping the first of each group; drops faces that collapse."""
    import numpy as np

    pos = v.astype(np.float64)
    key = [pos if tol == 0 else np.round(pos / tol)]
    key += [a.reshape(a.shape[0], -1).astype(np.float64) for n, a in sorted(attrs.items()) if n != "texture"]
    _, first, inv = np.unique(np.concatenate(key, 1), axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    nf = rank[inv.reshape(-1)][f]
    nf = nf[(nf[:, 0] != nf[:, 1]) & (nf[:, 1] != nf[:, 2]) & (nf[:, 2] != nf[:, 0])]
    if nf.shape[0] == 0:
        raise ValueError("Expected faces left after --merge-vertices %g but every face collapsed" % tol)
    keep = first[order]
    return (v[keep], np.ascontiguousarray(nf, dtype=np.int64),
            {n: (a if n == "texture" else a[keep]) for n, a in attrs.items()})
