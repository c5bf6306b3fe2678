"""``gshell mmgp generate|fit|predict``: the MMGP plate dataset, model fitting and prediction."""
import argparse
import os

from gshell.cli._helpers import CLIError, Parser, check_output, ensure_folder, index_range


def register(sub, common):
    """Adds the command's parser to ``sub`` (``common``: the global options' parent parser)."""
    fmt = argparse.RawDescriptionHelpFormatter
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
    msub = p.add_subparsers(dest="mmgp_command", metavar="ACTION", parser_class=Parser, required=True)
    g = msub.add_parser("generate", help="write N samples into a folder (cached)", parents=[common])
    g.add_argument("out", metavar="DIR")
    g.add_argument("--n", type=int, default=350, help="number of samples (default: 350)")
    g.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    g.add_argument("--mesh-size", type=float, default=0.03, dest="mesh_size",
                   help="target edge length (default: 0.03)")
    f = msub.add_parser("fit", help="fit MMGP on samples START:STOP of a folder", parents=[common])
    f.add_argument("data", metavar="DIR")
    f.add_argument("model", metavar="MODEL.npz")
    f.add_argument("--samples", type=index_range, default=(0, 250), metavar="START:STOP",
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
    q.add_argument("--samples", type=index_range, default=(250, 350), metavar="START:STOP",
                   help="samples to predict, in file order (default: 250:350)")
    q.add_argument("--out", metavar="PRED.npz", help="write the predictions (mean, var, q025, q975)")
    q.add_argument("--n-samples", type=int, default=200, dest="n_samples",
                   help="coefficient draws for the quantiles (default: 200)")
    q.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.set_defaults(func=run)


def _samples(folder, rng):
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


def _inputs(samples, kind):
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


def run(args):
    import numpy as np

    from gshell.mmgp import dataset

    quiet = getattr(args, "quiet", False)
    if args.mmgp_command == "generate":
        ensure_folder("mmgp generate", args.out, quiet)
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
        check_output("mmgp fit", args.model, [], args.force)
        samples = _samples(args.data, args.samples)
        model = MMGP(weights=args.weights, n_restarts=args.restarts, seed=args.seed,
                     landmarks=None if args.landmarks == "none" else args.landmarks)
        model.info["inputs"] = args.inputs
        model.fit([(s["points"], s["triangles"]) for s in samples],
                  _inputs(samples, args.inputs),
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
    samples = _samples(args.data, args.samples)
    preds = model.predict([(s["points"], s["triangles"]) for s in samples],
                          _inputs(samples, model.info.get("inputs", "raw")),
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
