"""Multiview reconstruction with G-Shell: target views, the optimisation, and its report.

Example:
    >>> from gshell.recon import synthetic_views, reconstruct
    >>> views = synthetic_views(verts, faces, n_views=24, resolution=192)
    >>> result = reconstruct(views)
"""
from gshell.recon.datasets import Dataset, load_dataset
from gshell.recon.pipeline import ReconConfig, ReconResult, reconstruct, upsample_field
from gshell.recon.views import (Views, load_neus, normalize_mesh, render_buffers, sphere_cameras,
                                synthetic_views)

__all__ = ["ReconConfig", "ReconResult", "reconstruct", "upsample_field", "Views", "load_neus",
           "normalize_mesh", "render_buffers", "sphere_cameras", "synthetic_views", "Dataset",
           "load_dataset"]
