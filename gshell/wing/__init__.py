"""Parametric wings, their pressure distributions and Cp datasets (issue 7).

- :mod:`gshell.wing.geometry`: :class:`WingSpec`, :func:`naca4`, :func:`wing_grid`, :func:`random_wing`.
- :mod:`gshell.wing.aero`: :func:`wing_cp`, surface Cp from vortex-lattice lift, matched NeuralFoil
  sections and the Karman–Tsien correction (needs aerosandbox and neuralfoil: ``pip install
  gshell-mesh[wing]``).
- :mod:`gshell.wing.dataset`: :func:`generate`, :func:`save`, :func:`load`: cached Cp datasets.
- :mod:`gshell.wing.cp_model`: :func:`geometric_features`, :class:`CpNet` (point-wise network with
  attention over each point's grid neighbourhood).
- :mod:`gshell.wing.train`: :func:`split_by_wing`, :func:`train_cp_model`, :func:`evaluate`,
  :func:`compare` (with and without the features on held-out wings).

Names load their module on first use, so ``import gshell.wing`` imports no optional dependency.
"""
import importlib

_EXPORTS = {
    "WingSpec": "gshell.wing.geometry",
    "naca4": "gshell.wing.geometry",
    "wing_grid": "gshell.wing.geometry",
    "random_wing": "gshell.wing.geometry",
    "AIRFOILS": "gshell.wing.geometry",
    "PARAM_NAMES": "gshell.wing.geometry",
    "wing_cp": "gshell.wing.aero",
    "karman_tsien": "gshell.wing.aero",
    "generate": "gshell.wing.dataset",
    "save": "gshell.wing.dataset",
    "load": "gshell.wing.dataset",
    "geometric_features": "gshell.wing.cp_model",
    "CpNet": "gshell.wing.cp_model",
    "split_by_wing": "gshell.wing.train",
    "train_cp_model": "gshell.wing.train",
    "evaluate": "gshell.wing.train",
    "compare": "gshell.wing.train",
}
_SUBMODULES = ("geometry", "aero", "dataset", "cp_model", "train")

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module("gshell.wing." + name)
    else:
        raise AttributeError("module 'gshell.wing' has no attribute %r" % name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS) | set(_SUBMODULES))
