"""Generative modelling of open meshes (G-MeshDiffusion): the shape collection
(:mod:`~gshell.gen.collection`), the grid tensors (:mod:`~gshell.gen.tensor`), fitting
(:mod:`~gshell.gen.fit`), the diffusion model (:mod:`~gshell.gen.diffusion`, which needs
``diffusers``), the PCA-Gaussian baseline and the gallery.

Nothing heavy is imported here; :mod:`gshell.gen.collection` needs only torch and numpy (imported
when a function runs). The collection's iterator is named :func:`iter_garments` so that it does not
shadow the module ``gshell.gen.collection``.
"""
from gshell.gen.collection import (KINDS, is_test, iter_garments, load_folder,  # noqa: F401
                                   load_folder_report, make_garment, split, write_collection)
from gshell.gen.fit import FitResult, fit_folder, fit_mesh  # noqa: F401
from gshell.gen.tensor import canonicalise, decode, encode, extract  # noqa: F401

__all__ = ["KINDS", "is_test", "iter_garments", "load_folder", "load_folder_report", "make_garment", "split",
           "write_collection", "FitResult", "fit_folder", "fit_mesh", "canonicalise", "decode", "encode", "extract"]
