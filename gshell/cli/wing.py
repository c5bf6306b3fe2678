"""``gshell wing features|dataset|train``: wing grids, Cp datasets and the Cp model."""
import argparse
import os

from gshell.cli._helpers import CLIError, Parser, check_output, ensure_folder, int_range
from gshell.cli.batch import add_parallel_args


def register(sub, common):
    """Adds the command's parser to ``sub`` (``common``: the global options' parent parser)."""
    fmt = argparse.RawDescriptionHelpFormatter
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
    wsub = p.add_subparsers(dest="wing_command", metavar="ACTION", parser_class=Parser, required=True)
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
                        parents=[common], formatter_class=fmt,
                        description="Random wings x flight conditions with their surface Cp, in one "
                                    ".npz. The wings are solved one item each, in this process or on "
                                    "Ray (--workers, --address), with the same bytes either way; "
                                    "finished wings are kept in OUT.npz.parts/ until OUT is written, "
                                    "so an interrupted run resumes (a wing that fails is recorded in "
                                    "OUT.npz.parts/failures.jsonl).",
                        epilog="examples:\n  gshell wing dataset wings.npz --wings 300 --conditions 4\n"
                               "  gshell wing dataset wings.npz --wings 10000 --workers 16\n"
                               "  gshell wing dataset wings.npz --wings 10000 --address auto")
    d.add_argument("out", metavar="OUT.npz")
    d.add_argument("--wings", type=int, default=300, help="number of wings (default: 300)")
    d.add_argument("--conditions", type=int, default=4, help="flight conditions per wing (default: 4)")
    d.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    d.add_argument("--n-span", type=int, default=32, dest="n_span", help="(default: 32)")
    d.add_argument("--n-chord", type=int, default=64, dest="n_chord", help="even (default: 64)")
    d.add_argument("--force", action="store_true", help="regenerate OUT even if it exists")
    add_parallel_args(d)
    _register_train(wsub, common)
    p.set_defaults(func=run)


def run(args):
    quiet = getattr(args, "quiet", False)
    if args.wing_command == "features":
        return _features(args, quiet)
    if args.wing_command == "dataset":
        return _dataset(args, quiet)
    if args.wing_command == "train":
        return _train(args)
    raise CLIError("gshell wing: error: unknown action %r" % args.wing_command)


def _features(args, quiet):
    import numpy as np
    import torch

    from gshell._atomic import save_npz
    from gshell.riemann import grid_features

    check_output("wing features", args.out, [args.input] if args.input else [], args.force)
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


def _dataset(args, quiet):
    import json
    import shutil

    import numpy as np

    from gshell.parallel import require_ray
    from gshell.wing import dataset

    if args.workers or args.address is not None:
        require_ray()
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
        ensure_folder("wing dataset", os.path.dirname(args.out) or ".", quiet)
        if args.force:      # start afresh: no old output, no finished wings of a stopped run
            if os.path.exists(args.out):
                os.remove(args.out)
            shutil.rmtree(dataset.parts_folder(args.out), ignore_errors=True)
    data, summary = dataset.generate(args.wings, args.conditions, seed=args.seed, n_span=args.n_span,
                                     n_chord=args.n_chord, cache=args.out, progress=not quiet,
                                     workers=args.workers, address=args.address, return_summary=True)
    if not quiet:
        if summary is not None:
            print(summary)
        err = np.abs(data["cl_cp"] - data["cl_vlm"])
        print("%d wings x %d conditions = %d samples in %s (grid %d x %d)" % (
            len(data["points"]), args.conditions, len(data["wing"]), args.out, args.n_span, args.n_chord))
        print("  Mach %.2f-%.2f, alpha %.1f-%.1f deg, CL %.3f-%.3f; |CL(Cp) - CL(VLM)| mean %.4f max %.4f" % (
            data["mach"].min(), data["mach"].max(), data["alpha"].min(), data["alpha"].max(),
            data["cl_vlm"].min(), data["cl_vlm"].max(), err.mean(), err.max()))
    return 0


def _register_train(wsub, common):
    t = wsub.add_parser(
        "train", parents=[common],
        help="train the Cp model with and without geometric features on held-out wings",
        description="Train CpNet (point-wise network with attention over each point's grid "
                    "neighbourhood) with and without the Riemannian geometric features on the same "
                    "split of held-out wings, once per seed; print the test MSE table (mean ± std "
                    "over seeds, reduction by the features) and write OUT/metrics.json and "
                    "OUT/wing_cp.png (Cp against x/c on a held-out wing).",
        epilog="examples:\n  gshell wing train wings.npz --out out/wing\n"
               "  gshell wing train wings.npz --seeds 0 1 2 --epochs 8 --jobs 3 --out out/wing\n"
               "  torchrun --nproc_per_node 2 -m gshell wing train wings.npz --out out/wing"
               "  (data-parallel)",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("data", metavar="DATA.npz", help="dataset written by 'gshell wing dataset'")
    t.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (default: 0 1 2)")
    t.add_argument("--epochs", type=int, default=8, help="epochs per run (default: 8)")
    t.add_argument("--test-fraction", type=float, default=0.2, dest="test_fraction",
                   help="fraction of wings held out for the test (default: 0.2)")
    t.add_argument("--jobs", type=int_range(1, 16), default=1, metavar="N",
                   help="seeds trained in parallel processes (default: 1)")
    t.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                   help="training device (default: cpu); under torchrun each rank uses "
                        "cuda:LOCAL_RANK and NCCL, gloo on cpu")
    t.add_argument("--out", default=os.path.join("out", "wing"), metavar="DIR",
                   help="output folder, created if missing (default: out/wing)")
    t.add_argument("--force", action="store_true", help="overwrite metrics.json and the figure")
    return t


def _train(args):
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
    from gshell._distributed import is_main

    # under torchrun every rank trains (data-parallel); rank 0 alone prints and writes
    main_rank = is_main()
    quiet = getattr(args, "quiet", False) or not main_rank
    if main_rank:
        ensure_folder("wing train", args.out, quiet)
    res = compare(data, seeds=args.seeds, test_fraction=args.test_fraction, epochs=args.epochs,
                  jobs=args.jobs, progress=not quiet, device=args.device)
    if not main_rank:
        return 0
    models = res.pop("models")
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
