"""MMGP: mesh morphing Gaussian-process regression (Casenave, Staber, Roynard, NeurIPS 2023,
https://arxiv.org/abs/2305.12871).

- :class:`MMGP` (``model``): morph each mesh onto the unit disk, carry its fields onto a common
  mesh, POD, one Gaussian process per output, predictions with intervals;
- ``morph`` (Floater/Tutte maps, RBF morphing), ``transfer`` (P1 transfer, point location),
  ``pod`` (:class:`POD`), ``gp`` (:class:`GaussianProcess`), ``dataset`` (the Tensile2d-like
  plates), ``evaluate`` (RRMSE, Q2, coverage), ``plaid`` (:func:`load_plaid`, :func:`save_plaid`:
  PLAID datasets such as Tensile2d in and out; needs pyplaid).

Names load their module on first use (scipy, scikit-fem and pyplaid are needed only by what uses
them).

Example:
    >>> from gshell.mmgp import MMGP, dataset
    >>> samples = dataset.generate(40, seed=0)
"""
import importlib

_EXPORTS = {"MMGP": "model", "GaussianProcess": "gp", "POD": "pod",
            "load_plaid": "plaid", "save_plaid": "plaid", "PlaidSplit": "plaid"}
_SUBMODULES = ("model", "morph", "transfer", "pod", "gp", "dataset", "evaluate", "plaid")

__all__ = sorted(_EXPORTS) + list(_SUBMODULES)


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module("gshell.mmgp." + _EXPORTS[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module("gshell.mmgp." + name)
    else:
        raise AttributeError("module 'gshell.mmgp' has no attribute %r" % name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS) | set(_SUBMODULES))
