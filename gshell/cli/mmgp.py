"""``gshell mmgp generate|fit|predict``: the MMGP plate dataset (.npz samples or a PLAID dataset),
model fitting and prediction on .npz samples or PLAID datasets (Tensile2d, ...)."""
import argparse
import os
import shutil

from gshell.cli._helpers import CLIError, Parser, check_output, ensure_folder, index_range
from gshell.cli.batch import add_parallel_args


def register(sub, common):
    """Adds the command's parser to ``sub`` (``common``: the global options' parent parser)."""
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser(
        "mmgp", help="MMGP: generate a plate dataset, fit the model, predict fields with uncertainty",
        parents=[common],
        description="Mesh-morphing Gaussian-process regression (Casenave et al., NeurIPS 2023) of "
                    "fields on meshes of varying connectivity. 'generate' writes Tensile2d-like "
                    "samples (random plates meshed with triangle, linear elasticity with scikit-fem) "
                    "as one .npz per sample, or as a PLAID dataset (--format plaid); 'fit' trains "
                    "on a range of them or on a split of a PLAID dataset (Tensile2d, ...); "
                    "'predict' predicts another range or split and prints RRMSE, Q2 and the "
                    "coverage of the 95% interval.",
        epilog="examples:\n  gshell mmgp generate out/tensile2d --n 350\n"
               "  gshell mmgp generate out/tensile2d --n 10000 --workers 16\n"
               "  gshell mmgp fit out/tensile2d model.npz --samples 0:250\n"
               "  gshell mmgp predict model.npz out/tensile2d --samples 250:350 --out pred.npz\n"
               "  gshell mmgp generate out/plates_plaid --format plaid --n 350 --test 100\n"
               "  gshell mmgp fit Tensile2d model.npz --split train_500\n"
               "  gshell mmgp predict model.npz Tensile2d --split test --out pred.npz",
        formatter_class=fmt)
    msub = p.add_subparsers(dest="mmgp_command", metavar="ACTION", parser_class=Parser, required=True)
    g = msub.add_parser("generate", help="write N samples into a folder (cached)", parents=[common],
                        description="Write N samples, one .npz per sample as it is computed (a rerun "
                                    "computes only the missing ones; a sample that fails is recorded "
                                    "in DIR/failures.jsonl), or a PLAID dataset (--format plaid). "
                                    "Sample i depends only on (--seed, i): the files are the same "
                                    "bytes for any --workers.",
                        epilog="examples:\n  gshell mmgp generate out/tensile2d --n 350\n"
                               "  gshell mmgp generate out/tensile2d --n 10000 --workers 16\n"
                               "  gshell mmgp generate out/tensile2d --n 10000 --address auto",
                        formatter_class=fmt)
    g.add_argument("out", metavar="DIR")
    g.add_argument("--n", type=int, default=350, help="number of samples (default: 350)")
    g.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    g.add_argument("--mesh-size", type=float, default=0.03, dest="mesh_size",
                   help="target edge length (default: 0.03)")
    g.add_argument("--format", default="npz", choices=("npz", "plaid"),
                   help="one .npz per sample (default, cached) or a PLAID dataset (pyplaid, CGNS "
                        "backend; splits 'train' and 'test', problem 'regression')")
    g.add_argument("--test", type=int, default=100, metavar="N",
                   help="with --format plaid: the last N samples form the 'test' split (default: 100)")
    g.add_argument("--force", action="store_true",
                   help="with --format plaid: replace DIR if it holds a PLAID dataset")
    add_parallel_args(g)
    f = msub.add_parser("fit", help="fit MMGP on samples START:STOP of a folder or a split of a "
                        "PLAID dataset", parents=[common])
    f.add_argument("data", metavar="DIR", help="a folder of .npz samples or a PLAID dataset")
    f.add_argument("model", metavar="MODEL.npz")
    f.add_argument("--samples", type=index_range, default=None, metavar="START:STOP",
                   help="training samples, in file order (default: 0:250; for a PLAID dataset: "
                        "the whole split)")
    _plaid_args(f, "train")
    f.add_argument("--weights", default="mean_value", choices=("mean_value", "uniform"),
                   help="Floater map weights (default: mean_value)")
    f.add_argument("--restarts", type=int, default=3, help="GP optimiser restarts (default: 3)")
    f.add_argument("--landmarks", default="corners", choices=("corners", "none"),
                   help="pin the boundary corners at common disk angles (default: corners)")
    f.add_argument("--inputs", default=None, choices=("scaled", "raw"),
                   help="input scalars: the samples' [tx, ty, E] ('raw') or [tx/E, ty/E, E] "
                        "('scaled', see gshell.mmgp.dataset.scaled_inputs; the default for .npz "
                        "samples and for PLAID inputs named tx, ty, E; 'raw' for other PLAID "
                        "inputs); recorded in the model for predict")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--force", action="store_true", help="overwrite MODEL if it exists")
    q = msub.add_parser("predict", help="predict samples START:STOP or a PLAID split and report "
                        "the errors", parents=[common])
    q.add_argument("model", metavar="MODEL.npz")
    q.add_argument("data", metavar="DIR", help="a folder of .npz samples or a PLAID dataset")
    q.add_argument("--samples", type=index_range, default=None, metavar="START:STOP",
                   help="samples to predict, in file order (default: 250:350; for a PLAID "
                        "dataset: the whole split)")
    _plaid_args(q, "test")
    q.add_argument("--out", metavar="PRED.npz", help="write the predictions (mean, var, q025, q975)")
    q.add_argument("--n-samples", type=int, default=200, dest="n_samples",
                   help="coefficient draws for the quantiles (default: 200)")
    q.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.set_defaults(func=run)


def _plaid_args(p, split):
    p.add_argument("--split", default=None,
                   help="PLAID dataset only: the split to read: 'train' or 'test' of the problem "
                        "definition, a named split ('train_500'), or a stored split (default: %s)"
                   % split)
    p.add_argument("--problem", default=None,
                   help="PLAID dataset only: the problem definition (default: the only one)")


def _samples(folder, rng):
    import glob

    from gshell.mmgp import dataset

    files = sorted(glob.glob(os.path.join(folder, "*.npz")))
    a, b = rng
    if b > len(files):
        raise CLIError("gshell mmgp: error: samples %d:%d requested but %r holds %d"
                       % (a, b, folder, len(files)))
    return [dataset.load_sample(f) for f in files[a:b]]


_PLATE_INPUTS = ("tx", "ty", "E")


def _data(cmd, args, default_range, default_split):
    """The samples of ``args.data`` (a folder of .npz samples or a PLAID dataset) as
    (list of sample dicts, input scalar names or None for the .npz samples' [tx, ty, E])."""
    from gshell.mmgp.plaid import MissingFeatureError, load_plaid, plaid_layout

    folder = args.data
    if not os.path.isdir(folder):
        raise CLIError("gshell mmgp %s: error: data folder %r does not exist (make it with 'gshell "
                       "mmgp generate')" % (cmd, folder))
    if plaid_layout(folder) is None:
        if args.split is not None or args.problem is not None:
            raise CLIError("gshell mmgp %s: error: --split and --problem need a PLAID dataset but %r "
                           "is not one (no infos.yaml and data/, nor dataset/samples/)" % (cmd, folder))
        return _samples(folder, args.samples or default_range), None
    split = args.split or default_split
    try:
        try:
            d = load_plaid(folder, split, problem=args.problem)
        except MissingFeatureError:
            if cmd != "predict":
                raise
            # a benchmark's test split: outputs withheld, predict from the inputs alone
            d = load_plaid(folder, split, problem=args.problem, outputs=[])
    except (ValueError, OSError, ImportError) as e:
        raise CLIError("gshell mmgp %s: error: %s" % (cmd, e)) from None
    samples = d.samples()
    if args.samples is not None:
        a, b = args.samples
        if b > len(samples):
            raise CLIError("gshell mmgp %s: error: samples %d:%d requested but split %r of %r holds %d"
                           % (cmd, a, b, split, folder, len(samples)))
        samples = samples[a:b]
    return samples, d.input_names


def _inputs(samples, kind, names=None):
    """The model's input scalars of the samples: "scaled" ([tx/E, ty/E, E]) or "raw"; inputs
    named tx, ty, E (``names``, from a PLAID dataset) are put in that order first."""
    import numpy as np

    from gshell.mmgp import dataset

    x = np.stack([s["scalars_in"] for s in samples]).reshape(len(samples), -1)
    if names is not None and sorted(names) == sorted(_PLATE_INPUTS):
        x = x[:, [list(names).index(n) for n in _PLATE_INPUTS]]
    if kind == "raw":
        return x
    if kind == "scaled":
        if names is not None and sorted(names) != sorted(_PLATE_INPUTS):
            raise CLIError("gshell mmgp: error: --inputs scaled needs the inputs tx, ty, E but the "
                           "dataset's are %s (use --inputs raw)" % ", ".join(names))
        try:
            return dataset.scaled_inputs(x)
        except ValueError as e:
            raise CLIError("gshell mmgp: error: --inputs scaled needs the samples' [tx, ty, E] "
                           "inputs: %s" % e) from None
    raise CLIError("gshell mmgp: error: the model's input kind %r is not 'raw' or 'scaled'" % kind)


def _default_inputs(names):
    return "scaled" if names is None or sorted(names) == sorted(_PLATE_INPUTS) else "raw"


def _check_plaid_out(out, force):
    """A PLAID output folder may be missing or empty, or (with --force) a PLAID dataset."""
    from gshell.mmgp.plaid import plaid_layout

    if os.path.exists(out) and not os.path.isdir(out):
        raise CLIError("gshell mmgp generate: error: %r is a file, expected a folder" % out)
    if not os.path.isdir(out) or not os.listdir(out):
        return
    if plaid_layout(out) is None:
        raise CLIError("gshell mmgp generate: error: %r is not empty and not a PLAID dataset (choose "
                       "a new folder)" % out)
    if not force:
        raise CLIError("gshell mmgp generate: error: %r is not empty (use --force to replace the "
                       "PLAID dataset)" % out)


def _generate(args, quiet):
    from gshell.mmgp import dataset
    from gshell.parallel import require_ray

    if args.workers or args.address is not None:
        require_ray()
    job = dict(workers=args.workers, address=args.address, return_summary=True)
    if args.format == "npz":
        ensure_folder("mmgp generate", args.out, quiet)
        samples, summary = dataset.generate(args.n, seed=args.seed, cache_dir=args.out,
                                            progress=not quiet, mesh_size=args.mesh_size, **job)
    else:
        from gshell.mmgp.plaid import save_plaid

        if not 1 <= args.test < args.n:
            raise CLIError("gshell mmgp generate: error: --test must be in [1, %d) (--n %d) but got %d"
                           % (args.n, args.n, args.test))
        _check_plaid_out(args.out, args.force)
        samples, summary = dataset.generate(args.n, seed=args.seed, progress=not quiet,
                                            mesh_size=args.mesh_size, **job)
        k = args.n - args.test
        if os.path.isdir(args.out):
            shutil.rmtree(args.out)      # empty, or a PLAID dataset with --force
        try:
            save_plaid(args.out, samples, {"train": range(k), "test": range(k, args.n)})
        except ImportError as e:
            raise CLIError("gshell mmgp generate: error: %s" % e) from None
    if not quiet:
        print(summary)
        d = dataset.describe(samples)
        print("%d samples in %s: %d to %d nodes per mesh" % (
            d["n_samples"], args.out, d["n_nodes"]["min"], d["n_nodes"]["max"]))
    return 0


def run(args):
    import numpy as np

    quiet = getattr(args, "quiet", False)
    if args.mmgp_command == "generate":
        return _generate(args, quiet)
    from gshell.mmgp.evaluate import evaluate
    from gshell.mmgp.model import MMGP

    if args.mmgp_command == "fit":
        check_output("mmgp fit", args.model, [], args.force)
        samples, names = _data("fit", args, (0, 250), "train")
        kind = args.inputs or _default_inputs(names)
        x = _inputs(samples, kind, names)
        model = MMGP(weights=args.weights, n_restarts=args.restarts, seed=args.seed,
                     landmarks=None if args.landmarks == "none" else args.landmarks)
        model.info["inputs"] = kind
        if names is not None:
            model.info["input_names"] = list(names)
        model.fit([(s["points"], s["triangles"]) for s in samples], x,
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
        check_output("mmgp predict", args.out, [args.model], args.force)
    model = MMGP.load(args.model)
    samples, names = _data("predict", args, (250, 350), "test")
    want = model.info.get("input_names")
    if want is not None and names is not None and sorted(want) != sorted(names):
        raise CLIError("gshell mmgp predict: error: the model was fitted on the inputs %s but %r has "
                       "%s" % (", ".join(want), args.data, ", ".join(names)))
    withheld = not samples[0]["fields"] and not samples[0]["scalars_out"]
    if withheld and not args.out:
        raise CLIError("gshell mmgp predict: error: the outputs of %r are withheld (a benchmark's test "
                       "split): give --out PRED.npz to write the predictions" % args.data)
    preds = model.predict([(s["points"], s["triangles"]) for s in samples],
                          _inputs(samples, model.info.get("inputs", "raw"), names),
                          n_samples=args.n_samples)
    if args.out:
        from gshell._atomic import save_npz

        save_npz(args.out, **{"sample%d/%s/%s" % (i, name, stat): np.asarray(v)
                              for i, p in enumerate(preds) for name, d in p.items()
                              for stat, v in d.items()})
    if not quiet and withheld:
        print("wrote %s (%d samples; their outputs are withheld, so no errors are computed)"
              % (args.out, len(preds)))
    elif not quiet:
        ev = evaluate(preds, samples)
        print("| output | RRMSE | Q2 | 95% coverage |")
        print("|---|---|---|---|")
        for name, m in ev.items():
            cov = "-" if m["coverage"] is None else "%.1f%%" % (100 * m["coverage"])
            print("| %s | %.4g | %.4f | %s |" % (name, m["rrmse"], m["q2"], cov))
        if args.out:
            print("wrote %s" % args.out)
    return 0
