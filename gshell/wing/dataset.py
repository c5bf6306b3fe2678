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

__all__ = ["generate", "save", "load", "sample_conditions", "settings_json", "KEYS"]

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


def generate(n_wings, n_conditions, seed=0, n_span=32, n_chord=64, cache=None, progress=True):
    """Generates (or loads from ``cache``) a Cp dataset of random wings and conditions.

    Args:
        n_wings: number of wings W (>= 1), drawn by :func:`~gshell.wing.geometry.random_wing`.
        n_conditions: flight conditions per wing (>= 1), drawn by :func:`sample_conditions`.
        seed: seed of the numpy Generator; the same arguments give the same data.
        n_span, n_chord: grid size, as :func:`~gshell.wing.geometry.wing_grid`.
        cache: path of an .npz; if it exists and was made with the same arguments it is loaded,
            otherwise the data are generated and saved there.
        progress: print a progress bar on stderr.
    Returns:
        dict, see the module docstring.
    """
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
            return data
    from gshell._progress import Progress
    from gshell.wing.aero import wing_cp_conditions

    rng = np.random.default_rng(seed)
    specs = [random_wing(rng) for _ in range(n_wings)]
    conds = [sample_conditions(rng, n_conditions) for _ in range(n_wings)]
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
    bar = Progress(W, "wing dataset", quiet=not progress)
    for w, (spec, (mach, alpha)) in enumerate(zip(specs, conds)):
        r = wing_cp_conditions(spec, mach, alpha, n_span, n_chord)
        sl = slice(w * n_conditions, (w + 1) * n_conditions)
        out["points"][w] = r["points"]
        out["params"][w] = spec.params()
        out["reference_area"][w] = spec.area
        out["mach"][sl], out["alpha"][sl] = mach, alpha
        out["cp"][sl] = r["cp"]
        out["cl_vlm"][sl], out["cl_cp"][sl] = r["cl_vlm"], r["cl_cp"]
        out["clipped"][sl] = r["clipped"].sum(-1) + r["vacuum_limited"].sum(-1)
        bar.update(1, samples=(w + 1) * n_conditions)
    bar.close()
    if cache is not None:
        save(cache, out)
    return out


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
