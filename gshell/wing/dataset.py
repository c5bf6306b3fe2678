"""Cp datasets: random wings x random flight conditions, generated with :mod:`gshell.wing.aero`.

Layout of the dict :func:`generate` returns and :func:`save` / :func:`load` store (W wings, S = W *
n_conditions samples, sample ``s`` belongs to wing ``wing[s]``):

=================  ===========================  ================================================
key                shape, dtype                 content
=================  ===========================  ================================================
points             (W, n_span, n_chord, 3) f32  wing grids (:func:`~gshell.wing.geometry.wing_grid`)
wing               (S,) int64                   index into points
mach, alpha        (S,) float32                 Mach number, angle of attack (degrees)
cp                 (S, n_span, n_chord) f32     pressure coefficient on the grid points
cl_vlm, cl_cp      (S,) float32                 lattice CL, CL of the integrated Cp
params             (W, k) float32               WingSpec numbers, named by param_names (k,) str
reference_area     (W,) float32                 half-wing planform area
root_airfoil,      (W,) str                     section names
tip_airfoil
clipped            (S,) int32                   stations with a stalled (clipped) section
settings           () str                       JSON of the generate() arguments (the cache key)
=================  ===========================  ================================================
"""
import json
import os

import numpy as np

from gshell.wing.geometry import PARAM_NAMES, random_wing, _check_counts

__all__ = ["generate", "save", "load", "sample_conditions", "settings_json", "parts_folder", "KEYS"]

KEYS = ("points", "wing", "mach", "alpha", "cp", "cl_vlm", "cl_cp", "params", "param_names",
        "reference_area", "root_airfoil", "tip_airfoil", "clipped", "settings")
FORMAT_VERSION = 1


def sample_conditions(rng, n):
    """n flight conditions: Mach uniform in [0.1, 0.7], angle of attack uniform in [-2, a_max]
    degrees with a_max = 10 falling to 4 between M = 0.3 and 0.7 (keeps the flow subcritical
    enough for Karman–Tsien). Returns (mach (n,), alpha (n,)) float64."""
    mach = rng.uniform(0.1, 0.7, n)
    a_max = 10.0 - 15.0 * np.maximum(mach - 0.3, 0.0)
    alpha = -2.0 + rng.uniform(0.0, 1.0, n) * (a_max + 2.0)
    return mach, alpha


def _int(name, v, lo):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ValueError("Expected %s to be an int >= %d but got %r" % (name, lo, v))
    return int(v)


def settings_json(n_wings, n_conditions, seed, n_span, n_chord):
    """The cache key of a dataset: JSON of the :func:`generate` arguments that shape the data."""
    return json.dumps({"version": FORMAT_VERSION, "n_wings": int(n_wings), "n_conditions": int(n_conditions),
                       "seed": int(seed), "n_span": int(n_span), "n_chord": int(n_chord)}, sort_keys=True)


def _solve_wing(item, n_span, n_chord):
    """The per-wing unit of :func:`generate`: ``item = (spec, mach, alpha)`` -> the arrays of
    the wing (float64 as computed, cast to the dataset's float32 when assembled)."""
    from gshell.wing import aero

    spec, mach, alpha = item
    r = aero.wing_cp_conditions(spec, mach, alpha, n_span, n_chord)
    return {"points": r["points"], "cp": r["cp"], "cl_vlm": r["cl_vlm"], "cl_cp": r["cl_cp"],
            "clipped": r["clipped"].sum(-1) + r["vacuum_limited"].sum(-1)}


def _save_part(path, part):
    from gshell._atomic import save_npz

    save_npz(path, **part)


def _load_part(path):
    with np.load(path, allow_pickle=False) as z:
        part = {k: z[k] for k in ("points", "cp", "cl_vlm", "cl_cp", "clipped")}
    return part


def parts_folder(cache):
    """The folder of per-wing results beside a dataset cache ``OUT.npz``: ``OUT.npz.parts``."""
    return os.fspath(cache) + ".parts"


def generate(n_wings, n_conditions, seed=0, n_span=32, n_chord=64, cache=None, progress=True, *,
             workers=0, address=None, return_summary=False):
    """Generates (or loads from ``cache``) a Cp dataset of random wings and conditions.

    The wings and their conditions are drawn in this process from one ``numpy`` Generator
    seeded ``seed`` (all wings, then all conditions, as in the datasets made before the Ray
    port, which are unchanged); the solves, one item per wing, are deterministic and run through
    :func:`gshell.parallel.map_items`, in this process or on Ray (``workers``, ``address``),
    so the file is the same bytes for any number of workers. With ``cache``, each wing's result is written to
    ``OUT.npz.parts/`` as it finishes, so an interrupted run resumes where it stopped; the
    folder is removed once ``OUT.npz`` is written. A wing that fails is recorded in
    ``OUT.npz.parts/failures.jsonl`` while the others complete, then its error is raised.

    Args:
        n_wings: number of wings W (>= 1), drawn by :func:`~gshell.wing.geometry.random_wing`.
        n_conditions: flight conditions per wing (>= 1), drawn by :func:`sample_conditions`.
        seed: seed of the numpy Generator; the same arguments give the same data.
        n_span, n_chord: grid size, as :func:`~gshell.wing.geometry.wing_grid`.
        cache: path of an .npz; if it exists and was made with the same arguments it is loaded,
            otherwise the data are generated and saved there.
        progress: show a progress bar (tqdm) on stderr.
        workers: int >= 0; 0: in this process; N >= 1: a local Ray instance with N CPUs (needs
            ``pip install "gshell-mesh[scale]"``).
        address: None or a Ray cluster address to join (``"auto"``, ...).
        return_summary: also return the job's :class:`gshell.parallel.Summary` (None when the
            dataset was loaded from ``cache``).
    Returns:
        dict, see the module docstring; with ``return_summary``, ``(data, summary)``.
    Raises:
        ValueError: bad counts, seed, ``workers`` or ``address``.
        gshell.parallel.RayNotInstalledError: ``workers >= 1`` or ``address`` without Ray.
        Exception: the error of the first wing that failed (after the others completed).
    """
    import functools
    import hashlib
    import shutil

    from gshell.parallel import map_items

    n_wings, n_conditions = _int("n_wings", n_wings, 1), _int("n_conditions", n_conditions, 1)
    seed = _int("seed", seed, 0)
    _check_counts(n_span, n_chord)
    settings = settings_json(n_wings, n_conditions, seed, n_span, n_chord)
    if cache is not None and os.path.exists(cache):
        try:
            data = load(cache)
        except (OSError, ValueError, KeyError):
            data = None
        if data is not None and str(data["settings"]) == settings:
            return (data, None) if return_summary else data

    rng = np.random.default_rng(seed)
    specs = [random_wing(rng) for _ in range(n_wings)]
    conds = [sample_conditions(rng, n_conditions) for _ in range(n_wings)]
    parts = names = None
    if cache is not None:
        parts = parts_folder(cache)
        key = hashlib.sha1(settings.encode()).hexdigest()[:12]   # parts of other settings never match
        names = ["wing_%s_%06d.npz" % (key, w) for w in range(n_wings)]
    summary = map_items(
        functools.partial(_solve_wing, n_span=n_span, n_chord=n_chord),
        [(spec, mach, alpha) for spec, (mach, alpha) in zip(specs, conds)],
        out_dir=parts, names=names, write=_save_part if parts else None,
        read=_load_part if parts else None, keep_results=True, workers=workers, address=address,
        desc="wing dataset", progress=progress)
    summary.raise_failures()
    W, S = n_wings, n_wings * n_conditions
    out = {
        "points": np.empty((W, n_span, n_chord, 3), np.float32),
        "wing": np.repeat(np.arange(W, dtype=np.int64), n_conditions),
        "mach": np.empty(S, np.float32), "alpha": np.empty(S, np.float32),
        "cp": np.empty((S, n_span, n_chord), np.float32),
        "cl_vlm": np.empty(S, np.float32), "cl_cp": np.empty(S, np.float32),
        "params": np.empty((W, len(PARAM_NAMES)), np.float32),
        "param_names": np.array(PARAM_NAMES),
        "reference_area": np.empty(W, np.float32),
        "root_airfoil": np.array([s.airfoil for s in specs]),
        "tip_airfoil": np.array([s.tip_airfoil or s.airfoil for s in specs]),
        "clipped": np.empty(S, np.int32),
        "settings": np.array(settings),
    }
    for w, (spec, (mach, alpha), r) in enumerate(zip(specs, conds, summary.results)):
        sl = slice(w * n_conditions, (w + 1) * n_conditions)
        out["points"][w] = r["points"]
        out["params"][w] = spec.params()
        out["reference_area"][w] = spec.area
        out["mach"][sl], out["alpha"][sl] = mach, alpha
        out["cp"][sl] = r["cp"]
        out["cl_vlm"][sl], out["cl_cp"][sl] = r["cl_vlm"], r["cl_cp"]
        out["clipped"][sl] = r["clipped"]
    if cache is not None:
        save(cache, out)
        shutil.rmtree(parts, ignore_errors=True)
    return (out, summary) if return_summary else out


def save(path, data):
    """Writes a dataset dict to ``path`` (.npz, atomically)."""
    from gshell._atomic import save_npz
    missing = [k for k in KEYS if k not in data]
    if missing:
        raise ValueError("Expected data to hold the dataset keys %s but it lacks %s" % (list(KEYS), missing))
    save_npz(path, **{k: np.asarray(v) for k, v in data.items()})


def load(path):
    """Reads a dataset written by :func:`save`; returns the dict of arrays."""
    if not os.path.exists(path):
        raise FileNotFoundError("Expected path to be an existing wing dataset .npz but got %r" % (path,))
    with np.load(path, allow_pickle=False) as z:
        data = {k: z[k] for k in z.files}
    missing = [k for k in KEYS if k not in data]
    if missing:
        raise ValueError("Expected %r to be a wing dataset with keys %s but it lacks %s" % (
            path, list(KEYS), missing))
    return data
