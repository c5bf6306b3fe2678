"""Training and evaluation of :class:`gshell.wing.cp_model.CpNet` on a wing Cp dataset, with and
without the geometric features, on held-out wings.

A dataset is a dict of NumPy arrays (the npz layout of ``gshell wing dataset``):
``points`` (W, n_span, n_chord, 3) float32 wing grids, ``wing`` (S,) int64 index into points,
``mach`` (S,) float32, ``alpha`` (S,) float32 degrees, ``cp`` (S, n_span, n_chord) float32.
Other keys are ignored.
"""
import copy
import math
import time

import numpy as np
import torch

from gshell import _distributed
from gshell.wing.cp_model import CpNet, geometric_features, normalised_coordinates

__all__ = ["split_by_wing", "train_cp_model", "evaluate", "compare", "plot_cp", "check_dataset"]


def check_dataset(data):
    """Validates a dataset dict (see the module docstring); returns it. Raises KeyError,
    ValueError naming the offending array."""
    if not isinstance(data, dict):
        raise TypeError("Expected data to be a dict of arrays (a loaded dataset npz) but got %s"
                        % type(data).__name__)
    for key in ("points", "wing", "mach", "alpha", "cp"):
        if key not in data:
            raise KeyError("Expected data to hold %r (keys points, wing, mach, alpha, cp) but it "
                           "holds %s" % (key, sorted(data)))
    pts = np.asarray(data["points"])
    if pts.ndim != 4 or pts.shape[-1] != 3:
        raise ValueError("Expected data['points'] of shape (W, n_span, n_chord, 3) but got %s"
                         % (pts.shape,))
    w, nu, nv, _ = pts.shape
    wing = np.asarray(data["wing"])
    if wing.ndim != 1 or not np.issubdtype(wing.dtype, np.integer):
        raise ValueError("Expected data['wing'] to be a 1-D integer array but got shape %s, dtype "
                         "%s" % (wing.shape, wing.dtype))
    s = wing.shape[0]
    if s == 0:
        raise ValueError("Expected data with at least one sample but data['wing'] is empty")
    if wing.min() < 0 or wing.max() >= w:
        raise ValueError("Expected data['wing'] to index data['points'] (0..%d) but got values in "
                         "[%d, %d]" % (w - 1, wing.min(), wing.max()))
    for key in ("mach", "alpha"):
        a = np.asarray(data[key])
        if a.shape != (s,):
            raise ValueError("Expected data[%r] of shape (%d,) but got %s" % (key, s, a.shape))
    cp = np.asarray(data["cp"])
    if cp.shape != (s, nu, nv):
        raise ValueError("Expected data['cp'] of shape (%d, %d, %d) but got %s" % (s, nu, nv, cp.shape))
    for key in ("points", "mach", "alpha", "cp"):
        if not np.isfinite(np.asarray(data[key])).all():
            raise ValueError("Expected data[%r] to be finite but it holds NaN/Inf" % key)
    return data


def split_by_wing(data, test_fraction=0.2, seed=0, samples=None):
    """Splits samples into two sets by wing: every sample of a wing lands in the same set.

    Args:
        data: dataset dict (uses ``data['wing']``).
        test_fraction: float in (0, 1), the fraction of wings held out (rounded, at least one
            wing on each side).
        seed: int, seed of the wing permutation.
        samples: optional (S',) int array, split only these samples (e.g. a training set into
            training and validation).

    Returns:
        (train, test): int64 arrays of sample indices, sorted.
    """
    if not (isinstance(test_fraction, float) or isinstance(test_fraction, int)) or not (
            0 < test_fraction < 1):
        raise ValueError("Expected test_fraction in (0, 1) but got %r" % (test_fraction,))
    wing = np.asarray(data["wing"])
    samples = np.arange(len(wing)) if samples is None else np.asarray(samples, dtype=np.int64)
    wings = np.unique(wing[samples])
    if len(wings) < 2:
        raise ValueError("Expected samples of at least 2 wings to split by wing but got %d"
                         % len(wings))
    rng = np.random.default_rng(seed)
    perm = rng.permutation(wings)
    n_test = min(max(1, int(round(test_fraction * len(wings)))), len(wings) - 1)
    held = np.isin(wing[samples], perm[:n_test])
    return np.sort(samples[~held]), np.sort(samples[held])


class _Prepared:
    """Model inputs of a dataset: per-wing static channels and per-sample conditions, tensors."""

    def __init__(self, data):
        check_dataset(data)
        pts = torch.as_tensor(np.asarray(data["points"]), dtype=torch.float64)
        self.coords = normalised_coordinates(pts).float()
        self.features = geometric_features(pts).float()
        self.wing = torch.as_tensor(np.asarray(data["wing"]), dtype=torch.int64)
        self.cond = torch.stack([torch.as_tensor(np.asarray(data["mach"]), dtype=torch.float32),
                                 torch.as_tensor(np.asarray(data["alpha"]), dtype=torch.float32)], -1)
        self.cp = torch.as_tensor(np.asarray(data["cp"]), dtype=torch.float32)
        self.shape = tuple(self.cp.shape[1:])

    def inputs(self, samples, use_features):
        """(B, n_span, n_chord, C) raw inputs of the samples (int64 tensor (B,))."""
        w = self.wing[samples]
        nu, nv = self.shape
        cond = self.cond[samples][:, None, None, :].expand(-1, nu, nv, -1)
        parts = [self.coords[w], cond] + ([self.features[w]] if use_features else [])
        return torch.cat(parts, dim=-1)


def _prepare(data):
    return data if isinstance(data, _Prepared) else _Prepared(data)


def _as_index(name, idx, n):
    if idx is None:
        return None
    a = np.asarray(idx)
    if a.ndim != 1 or not np.issubdtype(a.dtype, np.integer) or len(a) == 0:
        raise ValueError("Expected %s to be a non-empty 1-D integer array of sample indices but got "
                         "shape %s, dtype %s" % (name, a.shape, a.dtype))
    if a.min() < 0 or a.max() >= n:
        raise ValueError("Expected %s in [0, %d) but got values in [%d, %d]" % (
            name, n, a.min(), a.max()))
    return torch.as_tensor(a, dtype=torch.int64)


def _stats(prep, train, use_features):
    """Per-channel mean/std of the inputs and mean/std of Cp over the training samples."""
    s, m = torch.zeros(CpNet.n_inputs(use_features), dtype=torch.float64), 0
    s2 = torch.zeros_like(s)
    for chunk in torch.split(train, 64):
        x = prep.inputs(chunk, use_features).double().reshape(-1, s.shape[0])
        s += x.sum(0)
        s2 += (x * x).sum(0)
        m += x.shape[0]
    mean = s / m
    std = (s2 / m - mean ** 2).clamp_min(0).sqrt()
    cp = prep.cp[train].double()
    return mean.float(), std.float(), cp.mean().float(), cp.std().float()


def train_cp_model(data, use_features, seed=0, epochs=40, train_idx=None, val_idx=None,
                   val_fraction=0.15, batch_size=8, points_per_sample=256, lr=2e-3,
                   weight_decay=1e-4, width=64, heads=4, radius_span=1, radius_chord=2,
                   val_every=None, max_val_samples=48, progress=False, device=None):
    """Trains a :class:`CpNet` with or without the geometric features.

    Each step draws ``batch_size`` training samples and ``points_per_sample`` random grid points of
    each (the network sees every point's full neighbourhood); an epoch is ``ceil(n_train /
    batch_size)`` steps. AdamW with a cosine learning-rate decay, MSE on standardised Cp. Inputs and
    Cp are standardised with statistics of the training samples only. Every ``val_every`` epochs
    (and after the last) the validation MSE (full grids of at most ``max_val_samples`` validation
    samples, a fixed random subset) is measured and the best such epoch's weights are returned
    (this is how the number of epochs is chosen: on validation wings, never on the test set).

    Data-parallel under ``torchrun`` (``WORLD_SIZE`` > 1, or a process group the caller
    initialised): every rank draws the same global batch of ``batch_size`` samples and points
    (same seed, same generator calls) and computes the loss and gradient of its contiguous shard
    (:func:`gshell._distributed.shard`: uneven when ``batch_size`` is not a multiple of the world
    size, possibly empty); the gradients are summed over the ranks, so the weights are those of one
    process with the same ``batch_size`` and seed, to float rounding. The normalisation
    statistics are computed from the whole training set on every rank and then broadcast with the
    initial weights from rank 0; validation is sharded and its squared errors summed, so every
    rank picks the same best epoch. Only rank 0 prints. The process group backend is ``gloo`` on
    CPU and ``nccl`` on CUDA. In one process torch.distributed is not used.

    Args:
        data: dataset dict (see the module docstring).
        use_features: bool, include the 14 geometric features.
        seed: int; the initialisation and the sampling follow ``torch.manual_seed(seed)``: same
            seed, same model (on CPU), for any number of ranks.
        epochs: int >= 1.
        train_idx: optional (S',) int sample indices to train on (default: all samples).
        val_idx: optional sample indices for validation; by default ``val_fraction`` of the
            training wings (split with ``seed``) are held out for it; ``val_fraction=0`` and no
            ``val_idx``: no validation, the last epoch's weights are returned.
        batch_size: int >= 1, the global batch (over all ranks) in samples.
        points_per_sample, lr, weight_decay: optimisation settings.
        width, heads, radius_span, radius_chord: :class:`CpNet` settings.
        val_every: int, epochs between validations (default: about 10 validations per run).
        max_val_samples: int, cap on the validation samples evaluated.
        progress: bool, print one line per epoch (rank 0 only).
        device: training device (default CPU); ``"cuda"`` under torchrun means
            ``cuda:LOCAL_RANK``. Sampling stays on the CPU generator, so the draws do not depend
            on the device.

    Returns:
        (model, history): the trained CpNet (eval mode, on ``device``) and a dict with
        ``train_loss`` per epoch (standardised MSE of the global batches), ``val_mse`` (Cp MSE) at
        ``val_epochs``, ``best_epoch`` (1-based), ``train_idx``, ``val_idx`` (lists),
        ``world_size`` and ``time_s``.
    """
    if not isinstance(use_features, bool):
        raise TypeError("Expected use_features to be a bool but got %r" % (use_features,))
    for name, v in (("epochs", epochs), ("batch_size", batch_size),
                    ("points_per_sample", points_per_sample)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError("Expected %s to be an int >= 1 but got %r" % (name, v))
    prep = _prepare(data)
    n = len(prep.wing)
    train = _as_index("train_idx", train_idx, n)
    train = torch.arange(n) if train is None else train
    val = _as_index("val_idx", val_idx, n)
    if val is None and val_fraction:
        tr, va = split_by_wing({"wing": prep.wing.numpy()}, val_fraction, seed, train.numpy())
        train, val = torch.as_tensor(tr), torch.as_tensor(va)
    if val is not None and len(val) > max_val_samples:
        pick = torch.randperm(len(val), generator=torch.Generator().manual_seed(seed))
        val = val[pick[:max_val_samples].sort().values]
    if val_every is None:
        val_every = max(1, epochs // 10)
    nu, nv = prep.shape
    n_points = nu * nv
    p = min(points_per_sample, n_points)
    world = _distributed.setup(device)
    dev = _distributed.device_of(device, world)
    main = world.rank == 0

    t0 = time.perf_counter()
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = CpNet(use_features, width=width, heads=heads, radius_span=radius_span,
                  radius_chord=radius_chord)
    model.set_normalisation(*_stats(prep, train, use_features))
    model.to(dev)
    # the ranks built the same model from the same seed and data; rank 0's copy is the one kept
    _distributed.broadcast_module_(model, world)
    params = list(model.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    steps_per_epoch = math.ceil(len(train) / batch_size)
    total = epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: 0.5 * (1 + math.cos(math.pi * min(k, total) / total)))
    tstd = model.target_std
    hist = {"train_loss": [], "val_mse": [], "val_epochs": [], "best_epoch": epochs}
    best, best_state = float("inf"), None
    for epoch in range(epochs):
        model.train()
        order = train[torch.randperm(len(train), generator=gen)]
        tot = 0.0
        for batch in torch.split(order, batch_size):
            # every rank draws the whole global batch's points (same generator calls) ...
            q = torch.argsort(torch.rand(len(batch), n_points, generator=gen), dim=1)[:, :p]
            # ... and computes its shard's share of the global mean loss
            rows = _distributed.shard(len(batch), world)
            mine, q = batch[rows], q[rows]
            opt.zero_grad(set_to_none=True)
            loss = torch.zeros((), device=dev)
            if len(mine):
                x = prep.inputs(mine, use_features).to(dev)
                y = torch.gather(prep.cp[mine].reshape(len(mine), -1), 1, q).to(dev)
                pred = model(x, q.to(dev))
                loss = torch.sum(((pred - y) / tstd) ** 2) / (len(batch) * p)
                loss.backward()
            # Gradients are summed by hand rather than by DistributedDataParallel: DDP averages
            # over ranks (wrong weights for uneven shards) and needs every rank to run a forward
            # and backward (a rank with an empty shard would have to fake one); the model is
            # small (~45k parameters at width 64), so one all-reduce of one flat buffer per
            # step, carrying the loss too, costs less than DDP's buckets and its overlap with
            # the backward would gain nothing; and the model stays a plain CpNet.
            loss = _distributed.all_reduce_grads_(params, world, loss.detach().reshape(1))
            opt.step()
            sched.step()
            tot += float(loss.sum()) * len(batch)
        hist["train_loss"].append(tot / len(train))
        if val is not None and ((epoch + 1) % val_every == 0 or epoch + 1 == epochs):
            v = _val_mse(model, prep, val, world, dev)
            hist["val_mse"].append(v)
            hist["val_epochs"].append(epoch + 1)
            if v < best:
                best, best_state = v, copy.deepcopy(model.state_dict())
                hist["best_epoch"] = epoch + 1
        if progress and main:
            print("epoch %d/%d  train %.4g%s" % (
                epoch + 1, epochs, hist["train_loss"][-1],
                "  val MSE %.4g" % v if val is not None and hist["val_epochs"][-1:] == [epoch + 1]
                else ""), flush=True)
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    hist["train_idx"] = train.tolist()
    hist["val_idx"] = [] if val is None else val.tolist()
    hist["world_size"] = world.size
    hist["time_s"] = time.perf_counter() - t0
    return model, hist


@torch.no_grad()
def _val_mse(model, prep, val, world, dev):
    """Cp MSE (float) over the full grids of the validation samples ``val`` (int64 (V,)), each
    rank predicting a shard and the squared errors summed over the ranks (float64)."""
    mine = val[_distributed.shard(len(val), world)]
    acc = torch.zeros(2, dtype=torch.float64, device=dev)
    if len(mine):
        err = predict(model, prep, mine).double() - prep.cp[mine].double()
        acc[0] = (err ** 2).sum()
        acc[1] = err.numel()
    _distributed.all_reduce_sum_(acc, world)
    return float(acc[0] / acc[1])


@torch.no_grad()
def predict(model, data, idx, batch_size=4):
    """Cp predicted on the full grids of samples idx: (len(idx), n_span, n_chord) float32 CPU
    tensor (the inputs go to the model's device)."""
    prep = _prepare(data)
    idx = _as_index("idx", idx, len(prep.wing))
    model.eval()
    dev = model.target_std.device
    return torch.cat([model(prep.inputs(b, model.use_features).to(dev)).cpu()
                      for b in torch.split(idx, batch_size)])


def evaluate(model, data, idx):
    """Errors of a model on the full grids of samples idx.

    Returns:
        dict of floats: ``mse`` (mean over points and samples of (Cp - Cp_ref)^2), ``rel_l2``
        (mean over samples of |Cp - Cp_ref|_2 / |Cp_ref|_2), ``mae``, ``max_abs`` and
        ``mse_mean_predictor`` (the MSE of predicting the mean Cp of these samples everywhere,
        the scale to read ``mse`` against), ``n_samples``.
    """
    prep = _prepare(data)
    idx_t = _as_index("idx", idx, len(prep.wing))
    pred = predict(model, prep, idx_t).double()
    ref = prep.cp[idx_t].double()
    err = (pred - ref).reshape(len(idx_t), -1)
    refl = ref.reshape(len(idx_t), -1)
    return {"mse": float((err ** 2).mean()),
            "rel_l2": float((err.norm(dim=1) / refl.norm(dim=1).clamp_min(1e-12)).mean()),
            "mae": float(err.abs().mean()), "max_abs": float(err.abs().max()),
            "mse_mean_predictor": float(((refl - refl.mean()) ** 2).mean()),
            "n_samples": len(idx_t)}


def _run_seed(prep, train, test, seed, epochs, train_kwargs, progress):
    """One seed of :func:`compare`: (row, (model_without, model_with))."""
    tr, va = split_by_wing({"wing": prep.wing.numpy()}, 0.15, seed, train)
    row, pair = {"seed": seed}, []
    for use in (False, True):
        tag = "with" if use else "without"
        model, hist = train_cp_model(prep, use, seed=seed, epochs=epochs, train_idx=tr,
                                     val_idx=va, **train_kwargs)
        ev = evaluate(model, prep, test)
        row["mse_" + tag] = ev["mse"]
        row["rel_l2_" + tag] = ev["rel_l2"]
        row["time_%s_s" % tag] = hist["time_s"]
        row["best_epoch_" + tag] = hist["best_epoch"]
        row["val_mse_" + tag] = hist["val_mse"]
        row["val_epochs"] = hist["val_epochs"]
        pair.append(model)
        if progress and _distributed.is_main():
            print("seed %d %s features: test MSE %.5g (best epoch %d, %.0f s)" % (
                seed, tag, ev["mse"], hist["best_epoch"], hist["time_s"]), flush=True)
    row["reduction"] = 1.0 - row["mse_with"] / row["mse_without"]
    return row, tuple(pair)


def _run_seed_worker(data, train, test, seed, epochs, train_kwargs, progress):
    torch.set_num_threads(1)
    row, pair = _run_seed(_Prepared(data), train, test, seed, epochs, train_kwargs, progress)
    return row, tuple({k: v.cpu() for k, v in m.state_dict().items()} for m in pair)


def compare(data, seeds=(0, 1, 2), test_fraction=0.2, split_seed=0, epochs=40, jobs=1,
            progress=False, **train_kwargs):
    """Trains with and without the geometric features on the same held-out-wing split per seed.

    The test wings come from :func:`split_by_wing` with ``split_seed`` (the same for every seed,
    so the seeds measure the spread of initialisation, sampling and validation split); the
    validation wings (for the best epoch) are 15% of the training wings, split with the run's
    seed, the same for both variants.

    Args:
        data: dataset dict. seeds: iterable of ints. test_fraction: fraction of wings held out.
        split_seed: int seed of the test split. epochs, train_kwargs: see :func:`train_cp_model`.
        jobs: int, seeds run in this many processes at once (one thread each); same results.
            Must be 1 under torchrun, where each run is data-parallel over the ranks instead
            (every rank then runs every seed; the results are the same on every rank).
        progress: bool, print a line per run (rank 0 only).

    Returns:
        dict: ``runs`` (one dict per seed: seed, mse_without, mse_with, reduction (1 - with/without),
        rel_l2_without, rel_l2_with, time_without_s, time_with_s, best_epoch_without/with,
        val_mse_without/with at val_epochs), ``mse_without``/``mse_with``/``reduction`` as
        {mean, std} over seeds (std with ddof=1 when more than one seed), ``mse_mean_predictor``,
        ``train_wings``, ``test_wings``, ``test_idx``, ``settings``, and ``models``
        {seed: (model_without, model_with)} (not JSON).
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("Expected at least one seed but got none")
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError("Expected jobs to be an int >= 1 but got %r" % (jobs,))
    if jobs > 1 and len(seeds) > 1:
        world = _distributed.setup(train_kwargs.get("device"))
        if world.size > 1:
            raise ValueError("Expected jobs=1 under torchrun (the %d ranks already share every "
                             "batch) but got jobs=%d" % (world.size, jobs))
    prep = _prepare(data)
    train, test = split_by_wing({"wing": prep.wing.numpy()}, test_fraction, split_seed)
    runs, models = [], {}
    if jobs == 1 or len(seeds) == 1:
        for seed in seeds:
            row, pair = _run_seed(prep, train, test, seed, epochs, train_kwargs, progress)
            runs.append(row)
            models[seed] = pair
    else:
        import concurrent.futures
        import multiprocessing

        raw = {k: np.asarray(data[k]) for k in ("points", "wing", "mach", "alpha", "cp")} \
            if not isinstance(data, _Prepared) else None
        if raw is None:
            raise ValueError("Expected data to be a dataset dict (not prepared inputs) with jobs > 1")
        ctx = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(min(jobs, len(seeds)), mp_context=ctx) as ex:
            futs = [ex.submit(_run_seed_worker, raw, train, test, s, epochs, train_kwargs, progress)
                    for s in seeds]
            for seed, fut in zip(seeds, futs):
                row, states = fut.result()
                pair = []
                for use, state in zip((False, True), states):
                    m = CpNet(use, **{k: train_kwargs[k] for k in
                                      ("width", "heads", "radius_span", "radius_chord")
                                      if k in train_kwargs})
                    m.load_state_dict(state)
                    pair.append(m.eval())
                runs.append(row)
                models[seed] = tuple(pair)

    def ms(key):
        v = np.array([r[key] for r in runs])
        return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0}

    wing = prep.wing.numpy()
    ref = prep.cp[torch.as_tensor(test)].double()
    return {"runs": runs, "mse_without": ms("mse_without"), "mse_with": ms("mse_with"),
            "reduction": ms("reduction"),
            "mse_mean_predictor": float(((ref - ref.mean()) ** 2).mean()),
            "train_wings": int(len(np.unique(wing[train]))), "test_wings": int(len(np.unique(wing[test]))),
            "test_idx": test.tolist(),
            "settings": dict(train_kwargs, epochs=epochs, test_fraction=test_fraction,
                             split_seed=split_seed, seeds=seeds),
            "models": models}


def markdown_table(result):
    """The per-seed rows and the mean +- std of a :func:`compare` result as a markdown table."""
    lines = ["| seed | test MSE without features | test MSE with features | reduction | "
             "train time (without / with) |", "|---|---|---|---|---|"]
    for r in result["runs"]:
        lines.append("| %d | %.5f | %.5f | %+.1f%% | %.0f s / %.0f s |" % (
            r["seed"], r["mse_without"], r["mse_with"], 100 * r["reduction"], r["time_without_s"],
            r["time_with_s"]))
    a, b, c = result["mse_without"], result["mse_with"], result["reduction"]
    lines.append("| mean ± std | %.5f ± %.5f | %.5f ± %.5f | %+.1f ± %.1f%% | |" % (
        a["mean"], a["std"], b["mean"], b["std"], 100 * c["mean"], 100 * c["std"]))
    return "\n".join(lines)


def plot_cp(data, models, sample, path, stations=(0.1, 0.4, 0.7, 0.9)):
    """Writes a PNG of Cp against x/c at several span stations of one sample: the reference and
    each model's prediction, upper and lower surface, Cp axis inverted.

    Args:
        data: dataset dict. models: dict {label: CpNet}. sample: int sample index.
        path: output .png (written atomically). stations: span fractions (nearest grid rows).
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gshell._atomic import write_atomic

    prep = _prepare(data)
    idx = torch.tensor([int(sample)])
    ref = prep.cp[idx][0].numpy()
    preds = {k: predict(m, prep, idx)[0].numpy() for k, m in models.items()}
    coords = prep.coords[prep.wing[idx]][0].numpy()
    nu, nv = prep.shape
    eta = coords[:, 0, 2]
    fig, axes = plt.subplots(1, len(stations), figsize=(4 * len(stations), 3.6), squeeze=False)
    styles = ["--", ":", "-."]
    for ax, st in zip(axes[0], stations):
        i = int(np.argmin(np.abs(eta - st)))
        xc = coords[i, :, 0]
        le = int(np.argmin(xc))
        up, lo = slice(0, le + 1), slice(le, nv)
        ax.plot(xc[up], ref[i, up], "k-", lw=1.5, label="reference (upper)")
        ax.plot(xc[lo], ref[i, lo], "-", color="0.55", lw=1.5, label="reference (lower)")
        for (name, pr), ls in zip(preds.items(), styles):
            line, = ax.plot(xc[up], pr[i, up], ls, lw=1.2, label=name)
            ax.plot(xc[lo], pr[i, lo], ls, lw=1.2, color=line.get_color())
        ax.invert_yaxis()
        ax.set_xlabel("x/c")
        ax.set_title("span station y/b = %.2f" % eta[i])
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("Cp")
    axes[0][-1].legend(fontsize=7)
    w = int(prep.wing[idx])
    fig.suptitle("held-out wing %d, Mach %.2f, alpha %.1f deg" % (
        w, float(prep.cond[idx][0, 0]), float(prep.cond[idx][0, 1])))
    fig.tight_layout()
    write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)
