"""``gshell gen data|fit|train|sample|evaluate``: generation of open meshes (G-MeshDiffusion)."""
import argparse
import os

from gshell.cli._helpers import CLIError, Parser, ensure_folder, int_range, log, positive_float, saving_warnings
from gshell.cli.batch import add_parallel_args

_EXAMPLES = """examples:
  gshell gen sample --n 16 out/samples          16 open meshes and a gallery from the shipped model
  gshell gen data garments --n 150 --res 48     a garment collection: garments/train, garments/test
  gshell gen fit garments/train fits/train --res 16 --workers 2
  gshell gen train fits/train run/ --steps 4000  (data-parallel: torchrun --nproc-per-node 4 -m gshell gen train ...)
  gshell gen sample --n 32 out/samples --checkpoint run/model.pt
  gshell gen evaluate out/samples garments/test --train fits/train"""


def register(sub, common):
    """Adds the command's parser to ``sub`` (``common``: the global options' parent parser)."""
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser(
        "gen", help="generation of open meshes: collection, G-Shell fitting, diffusion training, "
        "sampling, evaluation", parents=[common],
        description="G-MeshDiffusion (Liu et al., ICLR 2024) on gshell: fit a G-Shell to every mesh of "
                    "a collection (grid tensors of SDF, mSDF, deformation and mask), train a 3D-UNet "
                    "DDPM on them, sample new open meshes, and evaluate them against held-out shapes "
                    "(MMD, COV, 1-NNA) with a PCA-Gaussian and the training set as baselines.",
        epilog=_EXAMPLES, formatter_class=fmt)
    gsub = p.add_subparsers(dest="gen_command", metavar="ACTION", parser_class=Parser, required=True)

    d = gsub.add_parser("data", help="write the garment collection (train/ and test/ folders of .ply)",
                        parents=[common], formatter_class=fmt,
                        description="Write N garment-like open surfaces (hood, hood_neck, skirt, trousers, "
                                    "top, shirt, jumpsuit: 1-5 boundary loops) into OUT/train and OUT/test "
                                    "(shape i is held out when i mod 5 == 4), one .ply and one .json of its "
                                    "parameters each. Shape i depends only on (--seed, i).",
                        epilog="examples:\n  gshell gen data garments --n 150\n"
                               "  gshell gen data skirts --n 50 --kinds skirt --res 96 --workers 4")
    d.add_argument("out", metavar="OUT")
    d.add_argument("--n", type=int_range(1, 10 ** 7), default=150, help="number of shapes (default: 150)")
    d.add_argument("--seed", type=int_range(0, 2 ** 31), default=0, help="collection seed (default: 0)")
    d.add_argument("--kinds", default=None, metavar="K1,K2",
                   help="comma-separated garment kinds (default: all)")
    d.add_argument("--res", type=int_range(16, 256), default=64,
                   help="grid resolution the garments are meshed at (default: 64)")
    add_parallel_args(d)

    f = gsub.add_parser("fit", help="fit a G-Shell grid tensor to every mesh of a folder", parents=[common],
                        formatter_class=fmt,
                        description="Fit a G-Shell on a regular tet grid to each mesh of FOLDER (normalised "
                                    "into the grid box): a closed-form start from the mesh's distance, "
                                    "winding number and boundary, then Adam on Chamfer and boundary losses. "
                                    "Writes OUT/STEM.pt (the (6, R, R, R) tensor: sdf, msdf, deformation, "
                                    "mask), OUT/STEM.ply (the mesh extracted back from it, in the input's "
                                    "coordinates) and OUT/STEM.json (Chamfer, F-score, loops). A rerun "
                                    "skips the stems done (--force refits).",
                        epilog="examples:\n  gshell gen fit garments/train fits/train\n"
                               "  gshell gen fit scans/ fits/scans --res 32 --steps 300 --workers 8")
    f.add_argument("folder", metavar="FOLDER")
    f.add_argument("out", metavar="OUT")
    f.add_argument("--res", type=int_range(8, 128), default=32, help="grid cubes per axis (default: 32)")
    f.add_argument("--steps", type=int_range(0, 10 ** 6), default=150, help="optimisation steps (default: 150)")
    f.add_argument("--seed", type=int_range(0, 2 ** 31), default=0, help="sampling seed (default: 0)")
    f.add_argument("--force", action="store_true", help="refit stems already in OUT")
    add_parallel_args(f)

    t = gsub.add_parser("train", help="train the 3D-UNet DDPM on a folder of grid tensors", parents=[common],
                        formatter_class=fmt,
                        description="Train a 3D UNet (epsilon prediction; DDPM, linear betas 1e-4..0.02, 1000 "
                                    "steps; EMA of the weights) on the .pt tensors of FITS. OUT/checkpoint.pt "
                                    "is the resumable state (a rerun continues from it), OUT/model.pt the "
                                    "sampling model (EMA weights and the training shapes for the gallery). "
                                    "Under torchrun the run is data-parallel (gloo on CPU, NCCL on CUDA).",
                        epilog="examples:\n  gshell gen train fits/train run/ --steps 4000\n"
                               "  torchrun --nproc-per-node 8 -m gshell gen train fits/train run/ --device cuda "
                               "--batch 64")
    t.add_argument("fits", metavar="FITS")
    t.add_argument("out", metavar="OUT")
    t.add_argument("--steps", type=int_range(1, 10 ** 8), default=4000, help="training steps (default: 4000)")
    t.add_argument("--batch", type=int_range(1, 4096), default=8, help="global batch size (default: 8)")
    t.add_argument("--lr", type=positive_float, default=2e-4, help="Adam learning rate (default: 2e-4)")
    t.add_argument("--snr-gamma", type=positive_float, default=None, dest="snr_gamma",
                   help="min-SNR-gamma loss weights (e.g. 5; default: none, the DDPM loss)")
    t.add_argument("--channels", type=int_range(4, 512), default=16,
                   help="UNet base channels (default: 16)")
    t.add_argument("--mults", default="1,2,4", help="channel multipliers per level (default: 1,2,4)")
    t.add_argument("--output", choices=("v", "epsilon"), default="v",
                   help="what the UNet outputs: v (default; the noise estimate is sqrt(1-abar) x_t + "
                        "sqrt(abar) UNet, so the UNet's errors reach it scaled by sqrt(abar), small at "
                        "high noise) or epsilon (the noise itself); the loss and the sampler use the "
                        "noise estimate either way")
    t.add_argument("--seed", type=int_range(0, 2 ** 31), default=0)
    t.add_argument("--device", default=None, help="cpu (default) or cuda")
    t.add_argument("--save-every", type=int_range(1, 10 ** 8), default=500, dest="save_every",
                   help="checkpoint every N steps (default: 500)")

    s = gsub.add_parser("sample", help="sample open meshes from a trained model, with a gallery",
                        parents=[common], formatter_class=fmt,
                        description="Sample N grid tensors with DDIM, extract each with G-Shell (components "
                                    "under 2% of the faces dropped) and write OUT/sample_000.ply, ..., "
                                    "OUT/samples.pt (the tensors) and OUT/gallery.png (views of each sample "
                                    "and its nearest training shape). Without --checkpoint the model shipped "
                                    "in gshell's assets is used.",
                        epilog="examples:\n  gshell gen sample --n 16 out/samples\n"
                               "  gshell gen sample --n 64 out/s --checkpoint run/model.pt --steps 100 --seed 3")
    s.add_argument("out", metavar="OUT")
    s.add_argument("--n", type=int_range(1, 100000), default=16, help="number of samples (default: 16)")
    s.add_argument("--checkpoint", default=None, metavar="MODEL.pt",
                   help="a model.pt or checkpoint.pt of 'gshell gen train' (default: the shipped model)")
    s.add_argument("--steps", type=int_range(1, 1000), default=50, help="DDIM steps (default: 50)")
    s.add_argument("--seed", type=int_range(0, 2 ** 31), default=0)
    s.add_argument("--views", type=int_range(1, 8), default=3, help="views per shape in the gallery (default: 3)")
    s.add_argument("--device", default=None, help="cpu (default) or cuda")
    s.add_argument("--force", action="store_true", help="write into OUT even if it holds samples")

    e = gsub.add_parser("evaluate", help="MMD, COV and 1-NNA of samples against held-out shapes, with baselines",
                        parents=[common], formatter_class=fmt,
                        description="Compare the meshes of SAMPLES with those of REFERENCE (e.g. the held-out "
                                    "split) by MMD (Chamfer), COV (Chamfer) and 1-NNA, on point clouds of each "
                                    "mesh normalised to a unit bounding box. With --train FITS, also the two "
                                    "baselines: the training shapes themselves (extracted from their tensors) "
                                    "and a Gaussian in the PCA space of the training tensors (as many samples "
                                    "as SAMPLES). Prints a table; --json writes it.",
                        epilog="examples:\n  gshell gen evaluate out/samples garments/test --train fits/train\n"
                               "  gshell gen evaluate out/samples garments/test --json eval.json")
    e.add_argument("samples", metavar="SAMPLES")
    e.add_argument("reference", metavar="REFERENCE")
    e.add_argument("--train", default=None, metavar="FITS", help="the training tensors, for the baselines")
    e.add_argument("--points", type=int_range(64, 100000), default=2048,
                   help="points per mesh (default: 2048)")
    e.add_argument("--seed", type=int_range(0, 2 ** 31), default=0)
    e.add_argument("--json", default=None, metavar="OUT.json")
    e.add_argument("--force", action="store_true", help="overwrite --json")
    p.set_defaults(func=run)


def _err(action, message):
    return CLIError("gshell gen %s: error: %s" % (action, message))


def _need_folder(action, path, what):
    if not os.path.exists(path):
        raise _err(action, "%s %r does not exist" % (what, path))
    if not os.path.isdir(path):
        raise _err(action, "%s %r is a file, expected a folder" % (what, path))


def _data(args, quiet):
    from gshell.gen.collection import write_collection

    kinds = None if args.kinds is None else [k.strip() for k in args.kinds.split(",") if k.strip()]
    ensure_folder("gen data", os.path.dirname(os.path.abspath(args.out)), quiet)
    try:
        out = write_collection(args.out, args.n, seed=args.seed, kinds=kinds, res=args.res, workers=args.workers,
                               address=args.address, progress=not quiet)
    except ValueError as e:
        raise _err("data", e) from None
    failed = 0
    for part, summary in out.items():
        log(args, "%s: %s" % (part, summary))
        failed += summary.failed
    return 1 if failed else 0


def _fit(args, quiet):
    from gshell.gen.fit import fit_folder

    _need_folder("fit", args.folder, "input folder")
    ensure_folder("gen fit", os.path.dirname(os.path.abspath(args.out)), quiet)
    with saving_warnings("gen fit"):  # the skipped files, one stderr line each
        try:
            summary, metrics = fit_folder(args.folder, args.out, res=args.res, steps=args.steps, seed=args.seed,
                                          workers=args.workers, address=args.address, force=args.force,
                                          progress=not quiet)
        except (ValueError, FileNotFoundError) as e:
            raise _err("fit", e) from None
    if metrics and not quiet:
        import numpy as np

        ch = np.array([m["chamfer_rel"] for m in metrics])
        eq = sum(bool(m["loops_equal"]) for m in metrics)
        log(args, "%d meshes: Chamfer (%% of diagonal) mean %.3f, max %.3f; boundary loops equal on %d/%d"
            % (len(metrics), 100 * ch.mean(), 100 * ch.max(), eq, len(metrics)))
    log(args, str(summary))
    return 1 if summary.failed else 0


def load_tensors(folder, action="train"):
    """The grid tensors of ``folder/*.pt`` (as ``gshell gen fit`` writes them), in name order.

    Returns:
        (tensors (N, 6, R, R, R) float32, stems list).
    """
    import glob

    import torch

    from gshell.gen.tensor import resolution_of

    _need_folder(action, folder, "tensor folder")
    files = sorted(glob.glob(os.path.join(glob.escape(folder), "*.pt")))
    if not files:
        raise _err(action, "expected grid tensors (*.pt, from 'gshell gen fit') in %r but it has none" % folder)
    out, res = [], None
    for path in files:
        try:
            t = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # truncated or foreign files raise several types
            raise _err(action, "could not read %r as a grid tensor (%s)" % (path, type(e).__name__)) from None
        try:
            r = resolution_of(t, os.path.basename(path))
        except (TypeError, ValueError) as e:
            raise _err(action, "%s (in %r)" % (e, path)) from None
        if res is not None and r != res:
            raise _err(action, "expected every tensor of %r at resolution %d (as %r) but %r has resolution %d"
                       % (folder, res, files[0], path, r))
        res = r
        out.append(t.float())
    return torch.stack(out), [os.path.splitext(os.path.basename(f))[0] for f in files]


def _train(args, quiet):
    import datetime
    import shlex
    import sys
    import time

    from gshell import _distributed
    from gshell.gen import diffusion

    try:
        mults = tuple(int(m) for m in args.mults.split(","))
    except ValueError:
        raise _err("train", "expected --mults as comma-separated integers but got %r" % args.mults) from None
    data, stems = load_tensors(args.fits, "train")
    res = data.shape[-1] - 1
    cfg = dict(res=res, channels=data.shape[1], model_config=dict(base_channels=args.channels, channel_mults=mults),
               output=args.output)
    if _distributed.is_main():
        ensure_folder("gen train", os.path.dirname(os.path.abspath(args.out)), quiet)
    t0 = time.perf_counter()
    try:
        dm = diffusion.train(cfg, data, args.out, args.steps, batch_size=args.batch, lr=args.lr, seed=args.seed,
                             save_every=args.save_every, device=args.device, progress=not quiet,
                             log=os.path.join(args.out, "train_log.jsonl"), snr_gamma=args.snr_gamma)
    except (ValueError, TypeError, FileNotFoundError) as e:
        raise _err("train", e) from None
    seconds = time.perf_counter() - t0
    if _distributed.is_main():
        info = {"command": "gshell " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else "",
                "trained_on": os.path.abspath(args.fits), "n_train": len(stems), "steps": dm.step,
                "seconds_this_run": round(seconds, 1), "written": datetime.datetime.now().isoformat(timespec="seconds")}
        diffusion.export_model(dm.to("cpu"), os.path.join(args.out, diffusion.MODEL), data, stems, info)
        log(args, "trained %d steps on %d tensors (res %d) in %.0f s; wrote %s and %s" % (
            dm.step, len(stems), res, seconds, os.path.join(args.out, diffusion.CHECKPOINT),
            os.path.join(args.out, diffusion.MODEL)))
    return 0


def sample_meshes(dm, n, steps=50, seed=0, min_component=0.02, progress=False):
    """Samples ``n`` grid tensors with DDIM and extracts them.

    Returns:
        (tensors (n, 6, R, R, R) float32 CPU, meshes: list of (verts (V, 3), faces (F, 3)) tensors).
    """
    from gshell.gen.tensor import canonicalise, extract

    x = dm.sample(n, steps=steps, generator=seed, progress=progress).cpu()
    x = canonicalise(x)
    return x, [extract(t, min_component=min_component) for t in x]


def _sample(args, quiet):
    import glob
    import time

    import torch

    from gshell import io as gio
    from gshell._atomic import write_atomic
    from gshell.gen import diffusion
    from gshell.gen.evaluate import is_valid_open_mesh
    from gshell.gen.gallery import nearest_shapes, render_gallery
    from gshell.gen.tensor import extract

    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise _err("sample", "output %r is a file, expected a folder" % args.out)
    if os.path.isdir(args.out) and glob.glob(os.path.join(glob.escape(args.out), "sample_*.ply")) and not args.force:
        raise _err("sample", "%r already holds samples (use --force to replace them)" % args.out)
    try:
        path = args.checkpoint or diffusion.shipped_model_path()
        dm, train, names = diffusion.load_model(path, map_location="cpu")
    except (FileNotFoundError, ValueError) as e:
        raise _err("sample", e) from None
    if args.device:
        dm.to(args.device)
    ensure_folder("gen sample", args.out, quiet)
    t0 = time.perf_counter()
    tensors, meshes = sample_meshes(dm, args.n, steps=args.steps, seed=args.seed, progress=not quiet)
    seconds = time.perf_counter() - t0
    for old in glob.glob(os.path.join(glob.escape(args.out), "sample_*.ply")):
        os.remove(old)
    width = max(3, len(str(args.n - 1)))
    valid = 0
    for i, (v, f) in enumerate(meshes):
        ok = is_valid_open_mesh(v, f)
        valid += ok
        if f.shape[0]:
            gio.save_mesh(os.path.join(args.out, "sample_%0*d.ply" % (width, i)), v, f)
    write_atomic(os.path.join(args.out, "samples.pt"), lambda tmp: torch.save(tensors, tmp))
    neighbours, titles = None, ["sample %d" % i for i in range(args.n)]
    if train is not None:
        ref = [extract(t) for t in train]
        idx, _ = nearest_shapes(meshes, ref)
        neighbours = [ref[j] if j >= 0 else None for j in idx]
        titles = ["%d ~ %s" % (i, names[j] if j >= 0 else "-") for i, j in enumerate(idx)]
    render_gallery(meshes, os.path.join(args.out, "gallery.png"), views=args.views, titles=titles,
                   neighbours=neighbours)
    log(args, "%d samples (%d valid open meshes) in %.1f s (%.2f s per mesh, %d DDIM steps) from %s; wrote "
        "%s/sample_*.ply, samples.pt and gallery.png" % (args.n, valid, seconds, seconds / args.n, args.steps,
                                                       path, args.out))
    return 0


def _load_meshes(action, folder, what):
    from gshell.gen.collection import load_folder_report

    _need_folder(action, folder, what)
    try:
        meshes, _ = load_folder_report(folder)
    except ValueError as e:
        raise _err(action, e) from None
    return [(v, f) for _, v, f, _ in meshes]


def _evaluate(args, quiet):
    import json

    from gshell._atomic import write_bytes
    from gshell.gen.evaluate import evaluate, format_table

    if args.json and os.path.exists(args.json) and not args.force:
        raise _err("evaluate", "output %r exists (use --force to overwrite it)" % args.json)
    samples = _load_meshes("evaluate", args.samples, "samples folder")
    reference = _load_meshes("evaluate", args.reference, "reference folder")
    train = load_tensors(args.train, "evaluate")[0] if args.train else None
    try:
        rows = evaluate(samples, reference, train, n_points=args.points, seed=args.seed)
    except ValueError as e:
        raise _err("evaluate", e) from None
    print(format_table(rows))
    if args.json:
        ensure_folder("gen evaluate", os.path.dirname(os.path.abspath(args.json)), quiet)
        write_bytes(args.json, [json.dumps(rows, indent=1).encode()])
    return 0


def run(args):
    quiet = getattr(args, "quiet", False)
    action = args.gen_command
    if action == "data":
        return _data(args, quiet)
    if action == "fit":
        return _fit(args, quiet)
    if action == "train":
        return _train(args, quiet)
    if action == "sample":
        return _sample(args, quiet)
    return _evaluate(args, quiet)
