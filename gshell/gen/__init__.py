"""Generative modelling of open meshes (G-MeshDiffusion): the shape collection, and later the
fitting, grid tensors, UNet and sampler.

Nothing heavy is imported here; :mod:`gshell.gen.collection` needs only torch and numpy (imported
when a function runs). The collection's iterator is named :func:`iter_garments` so that it does not
shadow the module ``gshell.gen.collection``.
"""
from gshell.gen.collection import (KINDS, is_test, iter_garments, load_folder,  # noqa: F401
                                   load_folder_report, make_garment, split)

__all__ = ["KINDS", "is_test", "iter_garments", "load_folder", "load_folder_report", "make_garment", "split"]
