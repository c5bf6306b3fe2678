"""The ``gshell`` command line.

Only argparse is imported at module level, so ``gshell --help`` starts fast; torch and the
extension are imported by the subcommands that need them.
"""
import argparse
import os
import sys

EPILOG = """examples:
  gshell info                          versions and how gshell._C was built
  gshell info bunny.obj                counts, bounds, watertight, genus, components, ...
  gshell convert bunny.obj bunny.ply   convert between OBJ, PLY, STL, OFF, GLB/glTF, VTK, ...
  gshell extract sdf.npy mesh.ply --method mc      mesh an SDF grid (.npy or .npz)
  gshell tetgrid --res 64 grid64.npz   a regular tet grid (kaolin/nvdiffrec npz layout)
  gshell render bunny.obj sheet.png    a turntable sheet of shaded views
  gshell demo                          G-Shell extraction of an open bowl, written to out/demo.ply
  gshell demo --res 128 --out bowl.ply
  gshell reconstruct assets/cup.ply    reconstruct an open cup from 24 rendered views (the main demo)
  gshell wing dataset wings.npz --wings 300   random wings x flight conditions with surface Cp
  gshell wing train wings.npz          Cp model with and without Riemannian features, held-out wings
  gshell <command> --help              help for one command

global options (before or after the command): --quiet (no progress or report),
--debug (a traceback on errors; GSHELL_DEBUG=1 does the same).

Outputs are written atomically (a temporary file, then a rename) and never over an input or an
existing file unless --force is given.

exit codes:
  0    success
  1    unexpected error (one line; --debug for the traceback)
  2    usage or input error: bad arguments, missing file, unknown or corrupt format, empty mesh,
       NaN coordinates, output exists
  130  interrupted (Ctrl-C)
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
    if args.input is not None:
        return _cmd_info_mesh(args)
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


def _log(args, *a):
    if not getattr(args, "quiet", False):
        print(*a)


def _positive_float(text):
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a number but got %r" % text) from None
    if not (x > 0 and x != float("inf")):
        raise argparse.ArgumentTypeError("expected a finite number > 0 but got %r" % text)
    return x


def _int_range(lo, hi):
    def parse(text):
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError("expected an integer but got %r" % text) from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError("expected an integer in [%d, %d] but got %d" % (lo, hi, v))
        return v
    return parse


def _need_input(cmd, path):
    if not os.path.exists(path):
        raise CLIError("gshell %s: error: input file %r does not exist" % (cmd, path))
    if os.path.isdir(path):
        raise CLIError("gshell %s: error: input %r is a folder, expected a file" % (cmd, path))


def _check_output(cmd, out, inputs, force):
    """Refuses to write over an input or an existing file without --force; creates the folder."""
    out_abs = os.path.abspath(out)
    for i in inputs:
        same = os.path.abspath(i) == out_abs
        if not same and os.path.exists(out):
            try:
                same = os.path.samefile(i, out)
            except OSError:
                same = False
        if same and not force:
            raise CLIError("gshell %s: error: output %r is the input file (use --force to replace it)"
                           % (cmd, out))
    if os.path.isdir(out):
        raise CLIError("gshell %s: error: output %r is a folder, expected a file path" % (cmd, out))
    if os.path.exists(out) and not force:
        raise CLIError("gshell %s: error: output %r exists (use --force to overwrite it)" % (cmd, out))
    folder = os.path.dirname(out_abs)
    os.makedirs(folder, exist_ok=True)


def _mesh_format(cmd, path):
    from gshell import io as gio

    try:
        return gio._format_of(path, None)
    except ValueError as e:
        raise CLIError("gshell %s: error: %s" % (cmd, e)) from None


def _cmd_convert(args):
    import numpy as np
    import torch

    from gshell import io as gio

    _need_input("convert", args.input)
    _mesh_format("convert", args.input)
    _mesh_format("convert", args.output)
    _check_output("convert", args.output, [args.input], args.force)
    verts, faces = gio.load_mesh(args.input)
    nv0 = verts.shape[0]
    if args.merge_vertices is not None:
        v = verts.numpy().astype(np.float64)
        key = v if args.merge_vertices == 0 else np.round(v / args.merge_vertices)
        _, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
        inv = inv.reshape(-1)
        order = np.argsort(first)
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        f = rank[inv][faces.numpy()]
        f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 2] != f[:, 0])]
        verts = torch.from_numpy(v[first[order]].astype(np.float32))
        faces = torch.from_numpy(np.ascontiguousarray(f, dtype=np.int64))
        if faces.shape[0] == 0:
            raise ValueError("Expected faces left after --merge-vertices %g but every face collapsed"
                             % args.merge_vertices)
    if args.center:
        verts = verts - (verts.min(0).values + verts.max(0).values) / 2
    if args.scale is not None:
        verts = verts * args.scale
    gio.save_mesh(args.output, verts, faces, binary=not args.ascii)
    extra = " (merged %d vertices)" % (nv0 - verts.shape[0]) if args.merge_vertices is not None else ""
    _log(args, "wrote %s: %d vertices, %d faces%s" % (args.output, verts.shape[0], faces.shape[0], extra))
    return 0


def _cmd_info_mesh(args):
    import json

    from gshell import io as gio

    _need_input("info", args.input)
    _mesh_format("info", args.input)
    verts, faces = gio.load_mesh(args.input)
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
    print("  bounds             [%.6g, %.6g, %.6g] .. [%.6g, %.6g, %.6g] (diagonal %.6g)"
          % (tuple(lo) + tuple(hi) + (info["diagonal"],)))
    print("  watertight         %s" % yn(info["watertight"]))
    print("  edge-manifold      %s" % yn(info["edge_manifold"]))
    print("  consistently oriented %s" % yn(info["oriented"]))
    print("  boundary loops     %d" % info["boundary_loops"])
    print("  components         %d" % info["components"])
    print("  Euler characteristic %d" % info["euler_characteristic"])
    print("  genus              %s" % ("n/a (needs an edge-manifold, oriented mesh)" if info["genus"] is None
                                       else info["genus"]))
    comps = info["component_genus"]
    if len(comps) > 1:
        for i, c in enumerate(comps[:10]):
            print("    component %d: %d faces, %s, %d boundary loops, genus %s"
                  % (i, c["faces"], "closed" if c["closed"] else "open", c["boundary_loops"], c["genus"]))
        if info["components"] > 10:
            print("    ... %d more components" % (info["components"] - 10))
    print("  area               %.6g" % info["area"])
    if info["volume"] is not None:
        print("  volume             %.6g" % info["volume"])
    return 0


def _load_field(path):
    import numpy as np

    _need_input("extract", path)
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


def _cmd_extract(args):
    import torch

    import gshell
    from gshell import io as gio

    _mesh_format("extract", args.output)
    _check_output("extract", args.output, [args.input], args.force)
    sdf, msdf, bounds = _load_field(args.input)
    lo, hi = torch.tensor(bounds[0], dtype=torch.float32), torch.tensor(bounds[1], dtype=torch.float32)
    if args.method == "gshell" and msdf is None:
        raise CLIError("gshell extract: error: --method gshell needs an npz with arrays 'sdf' and 'msdf'")
    if args.method == "mc":
        if args.res is not None:
            raise CLIError("gshell extract: error: --res applies to --method mt and gshell (mc uses the grid itself)")
        grid = torch.from_numpy(sdf.astype("float32"))
        with torch.no_grad():
            verts, faces = gshell.marching_cubes(grid, args.iso, bounds=(tuple(bounds[0]), tuple(bounds[1])))
    else:
        res = args.res if args.res is not None else min(max(sdf.shape) - 1, 256)
        tg = gshell.TetGrid.regular(res)
        p = tg.vertices
        with torch.no_grad():
            s = _sample_grid(sdf, p) - args.iso
            if args.method == "mt":
                vl, fl = gshell.marching_tetrahedra(p[None], tg.tets, s[None])
                verts, faces = vl[0], fl[0]
            else:
                m = _sample_grid(msdf, p)
                out = gshell.gshell_extract(p, s, m, tg)
                verts, faces = out.verts, out.faces
        verts = lo + (verts + 0.5) * (hi - lo)
    verts, faces = verts.detach().float(), faces.detach()
    if faces.shape[0] == 0:
        raise ValueError("Expected a surface in %r but the extracted mesh is empty (no sign change of the SDF "
                         "at iso %g%s)" % (args.input, args.iso, "" if args.method != "gshell" else
                                          ", or msdf <= 0 everywhere on it"))
    gio.save_mesh(args.output, verts, faces)
    _log(args, "wrote %s: %d vertices, %d faces (%s)" % (args.output, verts.shape[0], faces.shape[0], args.method))
    return 0


def _cmd_tetgrid(args):
    import gshell
    from gshell import io as gio

    if not args.output.lower().endswith(".npz"):
        try:
            gio._format_of(args.output, None, what="tet grid")
        except ValueError as e:
            raise CLIError("gshell tetgrid: error: %s" % e) from None
    _check_output("tetgrid", args.output, [], args.force)
    grid = gshell.TetGrid.regular(args.res)
    gio.save_tetgrid(args.output, grid)
    _log(args, "wrote %s: %d vertices, %d tets (res %d)" % (args.output, grid.num_vertices, grid.num_tets, args.res))
    return 0


def _cmd_render(args):
    import math

    import numpy as np
    import torch

    from gshell import io as gio
    from gshell.recon.report import save_png
    from gshell.recon.views import render_buffers
    from gshell.render import views_on_sphere

    _need_input("render", args.input)
    _mesh_format("render", args.input)
    if not args.output.lower().endswith(".png"):
        raise CLIError("gshell render: error: expected an output path ending in .png but got %r" % args.output)
    _check_output("render", args.output, [args.input], args.force)
    verts, faces = gio.load_mesh(args.input)
    center = (verts.min(0).values + verts.max(0).values) / 2
    extent = float((verts.max(0).values - verts.min(0).values).max())
    verts = (verts - center) / (extent if extent > 0 else 1.0)  # largest side 1, centred
    mvp, eye = views_on_sphere(args.views, radius=2.4, fovy_deg=40.0)
    tiles = []
    base = torch.tensor([0.72, 0.76, 0.86])
    back = torch.tensor([0.85, 0.45, 0.40])
    for i in range(0, args.views, 4):
        b = render_buffers(verts, faces, mvp[i:i + 4], eye[i:i + 4], (args.res, args.res), antialias_mask=False)
        d = torch.nn.functional.normalize(eye[i:i + 4], dim=-1)[:, None, None, :]
        lam = (b["normal"] * d).sum(-1).abs()
        col = torch.where(b["front"][..., None], base, back) * (0.25 + 0.75 * lam)[..., None]
        m = b["covered"][..., None].float()
        img = col * m + (1 - m)
        tiles += list((img.clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)[:, ::-1])  # OpenGL rows
    cols = int(math.ceil(math.sqrt(args.views)))
    rows = int(math.ceil(args.views / cols))
    sheet = np.full((rows * args.res, cols * args.res, 3), 255, np.uint8)
    for k, t in enumerate(tiles):
        r, c = divmod(k, cols)
        sheet[r * args.res:(r + 1) * args.res, c * args.res:(c + 1) * args.res] = t
    save_png(args.output, sheet)
    _log(args, "wrote %s: %d views of %d faces, %dx%d pixels" % (args.output, args.views, faces.shape[0],
                                                                    sheet.shape[1], sheet.shape[0]))
    return 0


def _range(text):
    try:
        a, b = (int(t) for t in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError("expected START:STOP (integers) but got %r" % text) from None
    if not 0 <= a < b:
        raise argparse.ArgumentTypeError("expected 0 <= START < STOP but got %r" % text)
    return a, b


def _mmgp_samples(folder, rng):
    import glob

    from gshell.mmgp import dataset

    if not os.path.isdir(folder):
        raise CLIError("gshell mmgp: error: data folder %r does not exist (make it with 'gshell mmgp "
                       "generate')" % folder)
    files = sorted(glob.glob(os.path.join(folder, "*.npz")))
    a, b = rng
    if b > len(files):
        raise CLIError("gshell mmgp: error: samples %d:%d requested but %r holds %d" % (a, b, folder, len(files)))
    return [dataset.load_sample(f) for f in files[a:b]]


def _mmgp_inputs(samples, kind):
    """The model's input scalars of dataset samples: "scaled" ([tx/E, ty/E, E]) or "raw"."""
    import numpy as np

    from gshell.mmgp import dataset

    x = np.stack([s["scalars_in"] for s in samples])
    if kind == "raw":
        return x
    if kind == "scaled":
        try:
            return dataset.scaled_inputs(x)
        except ValueError as e:
            raise CLIError("gshell mmgp: error: --inputs scaled needs the samples' [tx, ty, E] "
                           "inputs: %s" % e) from None
    raise CLIError("gshell mmgp: error: the model's input kind %r is not 'raw' or 'scaled'" % kind)


def _cmd_mmgp(args):
    import numpy as np

    from gshell.mmgp import dataset

    quiet = getattr(args, "quiet", False)
    if args.mmgp_command == "generate":
        os.makedirs(args.out, exist_ok=True)
        samples = dataset.generate(args.n, seed=args.seed, cache_dir=args.out, progress=not quiet,
                                   mesh_size=args.mesh_size)
        if not quiet:
            d = dataset.describe(samples)
            print("%d samples in %s: %d to %d nodes per mesh" % (
                d["n_samples"], args.out, d["n_nodes"]["min"], d["n_nodes"]["max"]))
        return 0
    from gshell.mmgp.evaluate import evaluate
    from gshell.mmgp.model import MMGP

    if args.mmgp_command == "fit":
        _check_output("mmgp fit", args.model, [], args.force)
        samples = _mmgp_samples(args.data, args.samples)
        model = MMGP(weights=args.weights, n_restarts=args.restarts, seed=args.seed,
                     landmarks=None if args.landmarks == "none" else args.landmarks)
        model.info["inputs"] = args.inputs
        model.fit([(s["points"], s["triangles"]) for s in samples],
                  _mmgp_inputs(samples, args.inputs),
                  {k: [s["fields"][k] for s in samples] for k in samples[0]["fields"]},
                  {k: np.array([s["scalars_out"][k] for s in samples]) for k in samples[0]["scalars_out"]},
                  progress=not quiet)
        model.save(args.model)
        if not quiet:
            print("wrote %s (trained on %d samples)" % (args.model, len(samples)))
        return 0
    # predict
    if not os.path.exists(args.model):
        raise CLIError("gshell mmgp predict: error: model %r does not exist" % args.model)
    if args.out:
        _check_output("mmgp predict", args.out, [args.model], args.force)
    model = MMGP.load(args.model)
    samples = _mmgp_samples(args.data, args.samples)
    preds = model.predict([(s["points"], s["triangles"]) for s in samples],
                          _mmgp_inputs(samples, model.info.get("inputs", "raw")),
                          n_samples=args.n_samples)
    if args.out:
        from gshell._atomic import save_npz

        save_npz(args.out, **{"sample%d/%s/%s" % (i, name, stat): np.asarray(v)
                              for i, p in enumerate(preds) for name, d in p.items()
                              for stat, v in d.items()})
    if not quiet:
        ev = evaluate(preds, samples)
        print("| output | RRMSE | Q2 | 95% coverage |")
        print("|---|---|---|---|")
        for name, m in ev.items():
            cov = "-" if m["coverage"] is None else "%.1f%%" % (100 * m["coverage"])
            print("| %s | %.4g | %.4f | %s |" % (name, m["rrmse"], m["q2"], cov))
        if args.out:
            print("wrote %s" % args.out)
    return 0


def _wing_input(args):
    """The wing grid of ``gshell wing features``: a saved (n_span, n_chord, 3) .npy, a WingSpec
    .json, or the --airfoil/--semispan/... flags."""
    import json

    import numpy as np

    from gshell.wing.geometry import WingSpec, wing_grid

    src = args.input
    if src is not None and src.endswith(".npy"):
        if not os.path.exists(src):
            raise CLIError("gshell wing features: error: grid %r does not exist" % src)
        grid = np.load(src, allow_pickle=False)
        if grid.ndim != 3 or grid.shape[-1] != 3 or not np.issubdtype(grid.dtype, np.floating):
            raise CLIError("gshell wing features: error: expected %r to hold a float (n_span, n_chord, 3) "
                           "grid but got shape %s, dtype %s" % (src, grid.shape, grid.dtype))
        return np.asarray(grid, np.float64), "grid %s" % src
    if src is not None:
        if not src.endswith(".json"):
            raise CLIError("gshell wing features: error: expected a grid .npy or a wing spec .json but got %r" % src)
        if not os.path.exists(src):
            raise CLIError("gshell wing features: error: spec %r does not exist" % src)
        with open(src) as fh:
            fields = json.load(fh)
        if not isinstance(fields, dict):
            raise CLIError("gshell wing features: error: expected %r to hold a JSON object of WingSpec "
                           "fields" % src)
        unknown = sorted(set(fields) - set(WingSpec.__dataclass_fields__))
        if unknown:
            raise CLIError("gshell wing features: error: unknown WingSpec fields %s in %r (expected %s)"
                           % (unknown, src, sorted(WingSpec.__dataclass_fields__)))
        spec = WingSpec(**fields)
    else:
        spec = WingSpec(airfoil=args.airfoil, semispan=args.semispan, root_chord=args.root_chord,
                        taper=args.taper, sweep_deg=args.sweep, dihedral_deg=args.dihedral,
                        twist_deg=args.twist, tip_airfoil=args.tip_airfoil)
    return wing_grid(spec, args.n_span, args.n_chord), "wing %s" % (spec,)


def _cmd_wing_train(args):
    import json

    import numpy as np

    if not os.path.isfile(args.data):
        raise CLIError("gshell wing train: error: dataset %r does not exist (make one with "
                       "'gshell wing dataset')" % args.data)
    if args.epochs < 1:
        raise CLIError("gshell wing train: error: --epochs must be >= 1 but got %d" % args.epochs)
    metrics = os.path.join(args.out, "metrics.json")
    figure = os.path.join(args.out, "wing_cp.png")
    for path in (metrics, figure):
        if os.path.exists(path) and not args.force:
            raise CLIError("gshell wing train: error: %r exists (use --force to overwrite)" % path)
    from gshell._atomic import write_bytes
    from gshell.wing.train import check_dataset, compare, markdown_table, plot_cp

    try:
        with np.load(args.data, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
    except (OSError, ValueError) as e:
        raise CLIError("gshell wing train: error: cannot read %r as a dataset npz: %s"
                       % (args.data, e)) from None
    check_dataset(data)
    quiet = getattr(args, "quiet", False)
    res = compare(data, seeds=args.seeds, test_fraction=args.test_fraction, epochs=args.epochs,
                  jobs=args.jobs, progress=not quiet)
    models = res.pop("models")
    os.makedirs(args.out, exist_ok=True)
    test = res["test_idx"]
    sample = test[len(test) // 2]
    seed = args.seeds[0]
    plot_cp(data, {"without features": models[seed][0], "with features": models[seed][1]},
            sample, figure)
    res["figure_sample"] = sample
    write_bytes(metrics, [json.dumps(res, indent=1).encode()])
    if not quiet:
        print("%d training wings, %d test wings; test MSE of the mean predictor %.4f" % (
            res["train_wings"], res["test_wings"], res["mse_mean_predictor"]))
        print(markdown_table(res))
        print("wrote %s and %s" % (metrics, figure))
    return 0


def _add_wing_train_parser(wsub, common):
    t = wsub.add_parser(
        "train", parents=[common],
        help="train the Cp model with and without geometric features on held-out wings",
        description="Train CpNet (point-wise network with attention over each point's grid "
                    "neighbourhood) with and without the Riemannian geometric features on the same "
                    "split of held-out wings, once per seed; print the test MSE table (mean ± std "
                    "over seeds, reduction by the features) and write OUT/metrics.json and "
                    "OUT/wing_cp.png (Cp against x/c on a held-out wing).",
        epilog="examples:\n  gshell wing train wings.npz --out out/wing\n"
               "  gshell wing train wings.npz --seeds 0 1 2 --epochs 8 --jobs 3 --out out/wing",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("data", metavar="DATA.npz", help="dataset written by 'gshell wing dataset'")
    t.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (default: 0 1 2)")
    t.add_argument("--epochs", type=int, default=8, help="epochs per run (default: 8)")
    t.add_argument("--test-fraction", type=float, default=0.2, dest="test_fraction",
                   help="fraction of wings held out for the test (default: 0.2)")
    t.add_argument("--jobs", type=_int_range(1, 16), default=1, metavar="N",
                   help="seeds trained in parallel processes (default: 1)")
    t.add_argument("--out", default=os.path.join("out", "wing"), metavar="DIR",
                   help="output folder, created if missing (default: out/wing)")
    t.add_argument("--force", action="store_true", help="overwrite metrics.json and the figure")
    return t


def _cmd_wing(args):
    quiet = getattr(args, "quiet", False)
    if args.wing_command == "features":
        return _cmd_wing_features(args, quiet)
    if args.wing_command == "dataset":
        return _cmd_wing_dataset(args, quiet)
    if args.wing_command == "train":
        return _cmd_wing_train(args)
    raise CLIError("gshell wing: error: unknown action %r" % args.wing_command)


def _cmd_wing_features(args, quiet):
    import numpy as np
    import torch

    from gshell._atomic import save_npz
    from gshell.riemann import grid_features

    _check_output("wing features", args.out, [args.input] if args.input else [], args.force)
    grid, what = _wing_input(args)
    feats = grid_features(torch.from_numpy(grid), periodic_v=True)
    arrays = {k: v.numpy() for k, v in feats.items()}
    save_npz(args.out, points=grid, **arrays)
    if not quiet:
        k, h = arrays["gaussian_curvature"], arrays["mean_curvature"]
        det = np.linalg.det(arrays["metric"])
        print("%s: grid %d x %d (periodic along the chord)" % (what, grid.shape[0], grid.shape[1]))
        print("  det g in [%.4g, %.4g]  K in [%.4g, %.4g]  H in [%.4g, %.4g]" % (
            det.min(), det.max(), k.min(), k.max(), h.min(), h.max()))
        print("wrote %s (%s)" % (args.out, ", ".join(["points"] + sorted(arrays))))
    return 0


def _cmd_wing_dataset(args, quiet):
    import json

    import numpy as np

    from gshell.wing import dataset

    if os.path.exists(args.out) and not args.force:
        try:
            old = dataset.load(args.out)
            same = json.loads(str(old["settings"])) == json.loads(dataset.settings_json(
                args.wings, args.conditions, args.seed, args.n_span, args.n_chord))
        except (OSError, ValueError, KeyError):
            same = False
        if not same:
            raise CLIError("gshell wing dataset: error: output %r exists with other settings (use --force "
                           "to overwrite it)" % args.out)
    elif os.path.isdir(args.out):
        raise CLIError("gshell wing dataset: error: output %r is a folder, expected a file path" % args.out)
    else:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        if args.force and os.path.exists(args.out):
            os.remove(args.out)
    data = dataset.generate(args.wings, args.conditions, seed=args.seed, n_span=args.n_span,
                            n_chord=args.n_chord, cache=args.out, progress=not quiet)
    if not quiet:
        err = np.abs(data["cl_cp"] - data["cl_vlm"])
        print("%d wings x %d conditions = %d samples in %s (grid %d x %d)" % (
            len(data["points"]), args.conditions, len(data["wing"]), args.out, args.n_span, args.n_chord))
        print("  Mach %.2f-%.2f, alpha %.1f-%.1f deg, CL %.3f-%.3f; |CL(Cp) - CL(VLM)| mean %.4f max %.4f" % (
            data["mach"].min(), data["mach"].max(), data["alpha"].min(), data["alpha"].max(),
            data["cl_vlm"].min(), data["cl_vlm"].max(), err.mean(), err.max()))
    return 0


def build_parser():
    parser = _Parser(
        prog="gshell",
        description="gshell: mesh geometry and shape representations for PyTorch (G-Shell extraction "
                    "with C++/CUDA kernels).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress or report on stdout")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error (also GSHELL_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    # the global options, accepted after the command too (SUPPRESS: absent ones keep the global value)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--quiet", "-q", action="store_true", default=argparse.SUPPRESS,
                        help="no progress or report on stdout")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the traceback of an error (also GSHELL_DEBUG=1)")
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
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser(
        "convert", help="convert a mesh between formats (OBJ, PLY, STL, OFF, GLB/glTF, meshio formats)",
        parents=[common],
        description="Read IN and write OUT in the format of OUT's extension: .ply (binary; --ascii for "
                    "ASCII), .obj, .stl (binary; --ascii), .off, .glb, .gltf, or a format meshio writes "
                    "(.vtk, .vtu, .msh, ...). Optionally merge duplicate vertices, centre and scale.",
        epilog="examples:\n  gshell convert bunny.obj bunny.ply\n  gshell convert part.stl part.obj --merge-vertices\n"
               "  gshell convert scan.ply scan.glb --center --scale 0.01\n"
               "  gshell convert mesh.ply mesh.ply --ascii --force     rewrite in place as ASCII PLY",
        formatter_class=fmt)
    p.add_argument("input", metavar="IN", help="input mesh")
    p.add_argument("output", metavar="OUT", help="output mesh; its format comes from the extension")
    p.add_argument("--merge-vertices", nargs="?", const=0.0, default=None, type=float, metavar="TOL",
                   dest="merge_vertices",
                   help="merge vertices with equal positions (or within a TOL grid); drops collapsed faces")
    p.add_argument("--scale", type=_positive_float, metavar="S", help="multiply positions by S (after --center)")
    p.add_argument("--center", action="store_true", help="move the bounding-box centre to the origin")
    p.add_argument("--ascii", action="store_true", help="ASCII instead of binary PLY/STL")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists (or is IN)")
    p.set_defaults(func=_cmd_convert)

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
    p.add_argument("--res", type=_resolution, metavar="N", help="tet grid resolution for mt/gshell, in [2, 512]")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.set_defaults(func=_cmd_extract)

    p = sub.add_parser(
        "tetgrid", help="write a regular tet grid (npz in the kaolin/nvdiffrec layout, or .msh/.vtk)",
        parents=[common],
        description="Write TetGrid.regular(N): (N+1)^3 vertices in [-0.5, 0.5]^3 and 6 N^3 positively "
                    "oriented tets, as npz ('vertices', 'indices') or a tetrahedral mesh meshio writes.",
        epilog="examples:\n  gshell tetgrid --res 64 grid64.npz\n  gshell tetgrid --res 16 grid16.vtk",
        formatter_class=fmt)
    p.add_argument("output", metavar="OUT", help="output file (.npz, .msh, .vtk, .vtu, ...)")
    p.add_argument("--res", type=_resolution, required=True, metavar="N", help="cubes per axis, in [2, 512]")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.set_defaults(func=_cmd_tetgrid)

    p = sub.add_parser(
        "render", help="render a turntable sheet of shaded views of a mesh as PNG",
        parents=[common],
        description="Render VIEWS shaded views of a mesh (centred and scaled to fit, cameras spread over a "
                    "sphere) with gshell.render, tiled in a square sheet. Back faces are drawn in red.",
        epilog="examples:\n  gshell render bunny.obj bunny.png\n  gshell render cup.ply cup.png --views 16 --res 256",
        formatter_class=fmt)
    p.add_argument("input", metavar="IN", help="input mesh")
    p.add_argument("output", metavar="OUT", help="output .png")
    p.add_argument("--views", type=_int_range(1, 64), default=8, metavar="N", help="number of views (default: 8)")
    p.add_argument("--res", type=_int_range(16, 2048), default=256, metavar="R",
                   help="pixels per view side (default: 256)")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.set_defaults(func=_cmd_render)

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
    p.add_argument("--quiet", "-q", action="store_true", default=argparse.SUPPRESS,
                   help="no progress bar or report")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show the traceback of an error (also GSHELL_DEBUG=1)")
    p.set_defaults(func=_cmd_reconstruct)

    p = sub.add_parser(
        "mmgp", help="MMGP: generate a plate dataset, fit the model, predict fields with uncertainty",
        parents=[common],
        description="Mesh-morphing Gaussian-process regression (Casenave et al., NeurIPS 2023) of "
                    "fields on meshes of varying connectivity. 'generate' writes Tensile2d-like "
                    "samples (random plates meshed with triangle, linear elasticity with scikit-fem) "
                    "as one .npz per sample; 'fit' trains on a range of them; 'predict' predicts "
                    "another range and prints RRMSE, Q2 and the coverage of the 95% interval.",
        epilog="examples:\n  gshell mmgp generate out/tensile2d --n 350\n"
               "  gshell mmgp fit out/tensile2d model.npz --samples 0:250\n"
               "  gshell mmgp predict model.npz out/tensile2d --samples 250:350 --out pred.npz",
        formatter_class=fmt)
    msub = p.add_subparsers(dest="mmgp_command", metavar="ACTION", parser_class=_Parser, required=True)
    g = msub.add_parser("generate", help="write N samples into a folder (cached)", parents=[common])
    g.add_argument("out", metavar="DIR")
    g.add_argument("--n", type=int, default=350, help="number of samples (default: 350)")
    g.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    g.add_argument("--mesh-size", type=float, default=0.03, dest="mesh_size",
                   help="target edge length (default: 0.03)")
    f = msub.add_parser("fit", help="fit MMGP on samples START:STOP of a folder", parents=[common])
    f.add_argument("data", metavar="DIR")
    f.add_argument("model", metavar="MODEL.npz")
    f.add_argument("--samples", type=_range, default=(0, 250), metavar="START:STOP",
                   help="training samples, in file order (default: 0:250)")
    f.add_argument("--weights", default="mean_value", choices=("mean_value", "uniform"),
                   help="Floater map weights (default: mean_value)")
    f.add_argument("--restarts", type=int, default=3, help="GP optimiser restarts (default: 3)")
    f.add_argument("--landmarks", default="corners", choices=("corners", "none"),
                   help="pin the boundary corners at common disk angles (default: corners)")
    f.add_argument("--inputs", default="scaled", choices=("scaled", "raw"),
                   help="input scalars: the samples' [tx, ty, E] ('raw') or [tx/E, ty/E, E] "
                        "('scaled', see gshell.mmgp.dataset.scaled_inputs; default); recorded in "
                        "the model for predict")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--force", action="store_true", help="overwrite MODEL if it exists")
    q = msub.add_parser("predict", help="predict samples START:STOP and report the errors",
                        parents=[common])
    q.add_argument("model", metavar="MODEL.npz")
    q.add_argument("data", metavar="DIR")
    q.add_argument("--samples", type=_range, default=(250, 350), metavar="START:STOP",
                   help="samples to predict, in file order (default: 250:350)")
    q.add_argument("--out", metavar="PRED.npz", help="write the predictions (mean, var, q025, q975)")
    q.add_argument("--n-samples", type=int, default=200, dest="n_samples",
                   help="coefficient draws for the quantiles (default: 200)")
    q.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.set_defaults(func=_cmd_mmgp)

    p = sub.add_parser(
        "wing", help="wing surfaces: Riemannian features, Cp datasets, the Cp model",
        parents=[common],
        description="Parametric wings as structured grids (gshell.wing). 'features' computes the "
                    "Riemannian features (metric, Christoffel symbols, curvatures, normals; "
                    "gshell.riemann.grid_features) of a wing grid; 'dataset' generates random wings x "
                    "flight conditions with their surface Cp (vortex lattice + NeuralFoil + "
                    "Karman-Tsien; needs aerosandbox and neuralfoil), cached in one .npz; 'train' trains "
                    "the Cp model with and without the features on held-out wings.",
        epilog="examples:\n  gshell wing features --airfoil naca2412 --semispan 5 --sweep 25 --out feats.npz\n"
               "  gshell wing features grid.npy --out feats.npz\n"
               "  gshell wing dataset wings.npz --wings 300 --conditions 4 --seed 0\n"
               "  gshell wing train wings.npz --seeds 0 1 2 --epochs 8 --out out/wing",
        formatter_class=fmt)
    wsub = p.add_subparsers(dest="wing_command", metavar="ACTION", parser_class=_Parser, required=True)
    w = wsub.add_parser("features", help="Riemannian features of a wing grid (.npy), spec (.json) or flags",
                        parents=[common])
    w.add_argument("input", nargs="?", default=None, metavar="GRID.npy|SPEC.json",
                   help="a (n_span, n_chord, 3) grid periodic along the chord, or a JSON WingSpec; "
                        "without it the wing comes from the flags below")
    w.add_argument("--out", required=True, metavar="FEATURES.npz")
    w.add_argument("--airfoil", default="naca2412", help="root airfoil (default: naca2412)")
    w.add_argument("--tip-airfoil", default=None, dest="tip_airfoil", help="tip airfoil (default: the root's)")
    w.add_argument("--semispan", type=float, default=5.0, help="half span (default: 5)")
    w.add_argument("--root-chord", type=float, default=1.5, dest="root_chord", help="(default: 1.5)")
    w.add_argument("--taper", type=float, default=0.5, help="tip/root chord (default: 0.5)")
    w.add_argument("--sweep", type=float, default=20.0, help="leading-edge sweep, deg (default: 20)")
    w.add_argument("--dihedral", type=float, default=3.0, help="deg (default: 3)")
    w.add_argument("--twist", type=float, default=-2.0, help="tip twist, deg (default: -2)")
    w.add_argument("--n-span", type=int, default=32, dest="n_span", help="(default: 32)")
    w.add_argument("--n-chord", type=int, default=64, dest="n_chord", help="even (default: 64)")
    w.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    d = wsub.add_parser("dataset", help="random wings x conditions with surface Cp (cached .npz)",
                        parents=[common])
    d.add_argument("out", metavar="OUT.npz")
    d.add_argument("--wings", type=int, default=300, help="number of wings (default: 300)")
    d.add_argument("--conditions", type=int, default=4, help="flight conditions per wing (default: 4)")
    d.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    d.add_argument("--n-span", type=int, default=32, dest="n_span", help="(default: 32)")
    d.add_argument("--n-chord", type=int, default=64, dest="n_chord", help="even (default: 64)")
    d.add_argument("--force", action="store_true", help="regenerate OUT even if it exists")
    _add_wing_train_parser(wsub, common)
    p.set_defaults(func=_cmd_wing)
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
            raise CLIError("gshell: error: expected a command (info, convert, extract, tetgrid, render, demo, "
                           "reconstruct, mmgp, wing) (see 'gshell --help')")
        command = " " + args.command
        return args.func(args)
    except CLIError as e:
        if debug:
            raise
        print(str(e), file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `gshell info x.ply --json | head`
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 1
    except (ValueError, TypeError, OSError) as e:
        if debug:
            raise
        print("gshell%s: error: %s" % (command, str(e).replace("\n", " ")), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gshell: interrupted", file=sys.stderr)
        return 130
    except ImportError as e:  # an optional dependency is missing
        if debug:
            raise
        print("gshell%s: error: %s" % (command, str(e).replace("\n", " ")), file=sys.stderr)
        return 2
    except Exception as e:  # one line for the user; GSHELL_DEBUG=1 shows the traceback
        if debug:
            raise
        print("gshell%s: error: %s: %s (--debug or GSHELL_DEBUG=1 for a traceback)"
              % (command, type(e).__name__, str(e).replace("\n", " ")), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
