"""``gshell extract``: mesh an SDF grid with marching cubes, marching tets or G-Shell."""
import argparse
import os

from gshell.cli._helpers import CLIError, check_output, log, mesh_format, need_input, resolution


def register(sub, common):
    """Adds the command's parser to ``sub`` (``common``: the global options' parent parser)."""
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser(
        "extract", help="mesh an SDF grid (.npy/.npz) with marching cubes, marching tets or G-Shell",
        parents=[common],
        description="Extract the surface sdf = ISO of a grid of signed distances: an .npy (X, Y, Z) array or "
                    "an .npz with 'sdf' (and 'msdf' for G-Shell; optional 'bounds' [[xmin, ymin, zmin], "
                    "[xmax, ymax, zmax]], default the cube [-0.5, 0.5]^3). 'mc' runs marching cubes on the "
                    "grid itself; 'mt' and 'gshell' resample the grid trilinearly onto the vertices of a "
                    "regular tet grid of --res cubes per axis (default: the grid's) and run marching "
                    "tetrahedra, or G-Shell extraction keeping the part of the surface where msdf > 0.",
        epilog="examples:\n  gshell extract sdf.npy mesh.ply\n  gshell extract sdf.npy mesh.obj --method mt --res 64\n"
               "  gshell extract fields.npz open.ply --method gshell --iso 0.01",
        formatter_class=fmt)
    p.add_argument("input", metavar="IN", help=".npy or .npz SDF grid")
    p.add_argument("output", metavar="OUT", help="output mesh")
    p.add_argument("--method", choices=("mc", "mt", "gshell"), default="mc",
                   help="marching cubes, marching tetrahedra or G-Shell (default: mc)")
    p.add_argument("--iso", type=float, default=0.0, help="iso-value (default: 0)")
    p.add_argument("--res", type=resolution, metavar="N", help="tet grid resolution for mt/gshell, in [2, 512]")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.set_defaults(func=run)


def _load_field(path):
    import numpy as np

    need_input("extract", path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".npy", ".npz"):
        raise CLIError("gshell extract: error: expected an SDF grid file ending in .npy or .npz but got %r" % path)
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.lib.npyio.NpzFile):
            with data:
                if "sdf" not in data:
                    raise CLIError("gshell extract: error: expected an array 'sdf' in %r but got %s"
                                   % (path, sorted(data.keys())))
                sdf = np.asarray(data["sdf"])
                msdf = np.asarray(data["msdf"]) if "msdf" in data else None
                bounds = np.asarray(data["bounds"]) if "bounds" in data else None
        else:
            sdf, msdf, bounds = np.asarray(data), None, None
    except CLIError:
        raise
    except Exception as e:
        raise ValueError("Malformed %s file %r: %s: %s" % (ext[1:].upper(), path, type(e).__name__, e)) from None
    for name, a in (("sdf", sdf), ("msdf", msdf)):
        if a is None:
            continue
        if a.ndim != 3 or min(a.shape) < 2 or not np.issubdtype(a.dtype, np.floating):
            raise ValueError("Expected %s in %r to be an (X, Y, Z) float array with X, Y, Z >= 2 but got shape %s, "
                             "dtype %s" % (name, path, a.shape, a.dtype))
        if not np.isfinite(a).all():
            raise ValueError("Expected finite values in %s of %r but got %d NaN/Inf" % (name, path, int((~np.isfinite(a)).sum())))
    if msdf is not None and msdf.shape != sdf.shape:
        raise ValueError("Expected msdf of shape %s (the sdf's) in %r but got %s" % (sdf.shape, path, msdf.shape))
    if bounds is None:
        bounds = np.array([[-0.5] * 3, [0.5] * 3])
    bounds = np.asarray(bounds, dtype=np.float64)
    if bounds.shape != (2, 3) or not (bounds[1] > bounds[0]).all():
        raise ValueError("Expected 'bounds' in %r to be [[xmin, ymin, zmin], [xmax, ymax, zmax]] but got %s"
                         % (path, bounds.tolist()))
    return sdf, msdf, bounds


def _sample_grid(field, points):
    """Trilinear sample of an (X, Y, Z) grid spanning [-0.5, 0.5]^3 at (N, 3) points."""
    import torch
    import torch.nn.functional as F

    vol = torch.as_tensor(field, dtype=torch.float32)[None, None]  # (1, 1, X, Y, Z) = (N, C, D, H, W)
    g = (points * 2).reshape(1, -1, 1, 1, 3)[..., [2, 1, 0]]  # grid_sample reads (W, H, D) = (z, y, x)
    return F.grid_sample(vol, g, mode="bilinear", align_corners=True).reshape(-1)


def extract_mesh(path, method="mc", iso=0.0, res=None):
    """The mesh of an SDF grid file, as ``gshell extract PATH OUT --method ...`` makes it.

    Args:
        path: .npy or .npz grid (see :func:`_load_field`). method: "mc", "mt" or "gshell".
        iso: float, the level. res: None or int, the tet grid's resolution (mt, gshell; None:
            the grid's own, at most 256).
    Returns:
        verts (V, 3) float32 and faces (F, 3) int64 tensors, in the grid's bounds.
    Raises:
        ValueError: an unreadable grid, --method gshell without msdf, an empty surface.
    """
    import torch

    import gshell

    sdf, msdf, bounds = _load_field(path)
    if method == "gshell" and msdf is None:
        raise ValueError("Expected an npz with arrays 'sdf' and 'msdf' for --method gshell but %r has "
                         "no 'msdf'" % path)
    with torch.no_grad():
        if method == "mc":
            verts, faces = gshell.marching_cubes(torch.from_numpy(sdf.astype("float32")), iso,
                                                 bounds=(tuple(bounds[0]), tuple(bounds[1])))
        else:
            lo = torch.tensor(bounds[0], dtype=torch.float32)
            hi = torch.tensor(bounds[1], dtype=torch.float32)
            tg = gshell.TetGrid.regular(res if res is not None else min(max(sdf.shape) - 1, 256))
            p = tg.vertices
            s = _sample_grid(sdf, p) - iso
            if method == "mt":
                vl, fl = gshell.marching_tetrahedra(p[None], tg.tets, s[None])
                verts, faces = vl[0], fl[0]
            else:
                out = gshell.gshell_extract(p, s, _sample_grid(msdf, p), tg)
                verts, faces = out.verts, out.faces
            verts = lo + (verts + 0.5) * (hi - lo)
    if faces.shape[0] == 0:
        raise ValueError("Expected a surface in %r but the extracted mesh is empty (no sign change of the "
                         "SDF at iso %g%s)" % (path, iso, "" if method != "gshell" else
                                               ", or msdf <= 0 everywhere on it"))
    return verts.detach().float(), faces.detach()


def run(args):
    from gshell import io as gio

    mesh_format("extract", args.output)
    check_output("extract", args.output, [args.input], args.force)
    if args.method == "mc" and args.res is not None:
        raise CLIError("gshell extract: error: --res applies to --method mt and gshell (mc uses the grid itself)")
    verts, faces = extract_mesh(args.input, args.method, args.iso, args.res)
    gio.save_mesh(args.output, verts, faces)
    log(args, "wrote %s: %d vertices, %d faces (%s)" % (args.output, verts.shape[0], faces.shape[0], args.method))
    return 0
