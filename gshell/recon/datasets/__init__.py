"""Image-set readers for multiview reconstruction: one module per format behind :func:`load_dataset`.

Formats (detected from the folder's content):
- ``blender``: NeRF-synthetic ``transforms_{train,val,test}.json`` or instant-ngp/nerfstudio
  ``transforms.json`` (:mod:`gshell.recon.datasets.blender`);
- ``neus``: NeuS/IDR ``cameras_sphere.npz`` with ``image/`` and ``mask/``
  (:mod:`gshell.recon.datasets.neus`);
- ``colmap``: a COLMAP model in ``sparse/0/`` or ``sparse/`` with ``images/`` and optional
  ``masks/``, read with pycolmap (:mod:`gshell.recon.datasets.colmap`).

Every reader converts its camera convention once, here, to OpenCV (x right, y down, z forward;
``K`` with pixel centres at integer coordinates, row 0 the top of the photograph) and returns
linear RGB premultiplied by the mask. :func:`load_dataset` then finds the object's box (given,
from the format, or by space carving the masks) and moves the views into the tet grid's frame
with a uniform scale and a translation; ``Views.to_world`` maps back to the dataset's world.

Example:
    >>> from gshell.recon.datasets import load_dataset
    >>> ds = load_dataset("nerf_synthetic/lego", downscale=2, max_views=50)
    >>> ds.train.rgb.shape, ds.bbox
"""
import os

import numpy as np

from gshell.recon.datasets._cameras import Dataset
from gshell.recon.datasets.bbox import carve_bbox, check_box, to_grid_frame

__all__ = ["Dataset", "load_dataset", "detect_format", "carve_bbox", "to_grid_frame"]

GRID_EXTENT = 0.9  # largest side of the object's box in the tet grid's [-0.5, 0.5]^3 cube


def detect_format(path):
    """The format of the image-set folder ``path``: ``"blender"``, ``"neus"`` or ``"colmap"``.

    Raises:
        FileNotFoundError: ``path`` is not a folder. ValueError: no known layout, listing what
        was looked for.
    """
    from gshell.recon.datasets.blender import find_transforms
    from gshell.recon.datasets.colmap import find_model

    if not os.path.isdir(path):
        raise FileNotFoundError("Expected an image-set folder but %r is not a directory" % (path,))
    if find_transforms(path):
        return "blender"
    if os.path.isfile(os.path.join(path, "cameras_sphere.npz")):
        return "neus"
    if find_model(path) is not None:
        return "colmap"
    raise ValueError("Expected an image-set folder but found no known layout in %s: looked for "
                     "transforms*.json (Blender/NeRF, instant-ngp, nerfstudio), cameras_sphere.npz "
                     "(NeuS/IDR), sparse/0/cameras.{bin,txt} or sparse/cameras.{bin,txt} (COLMAP)"
                     % path)


def load_dataset(path, downscale=1, max_views=None, bbox=None):
    """Loads a calibrated image set and puts it into the tet grid's frame.

    Args:
        path: the dataset folder (its format is detected, see :func:`detect_format`).
        downscale: image downscale factor >= 1, integer or not (exact area averaging of linear
            premultiplied colour and of the masks; ``K`` is scaled to match).
        max_views: keep this many training views, evenly spaced (None: all); test is kept whole.
        bbox: (2, 3) object box (lo, hi) in dataset world coordinates; None takes the format's
            own (NeuS ``scale_mat``; COLMAP without masks: its sparse points) or else
            :func:`carve_bbox` of the training masks (without masks, ``Dataset.has_masks``
            False, that is only the region in front of the cameras: pass ``bbox``).
    Returns:
        :class:`Dataset`: ``train`` and ``test`` Views (rgb (N, H, W, 3) float32 linear
        premultiplied, mask (N, H, W) float32, K (N, 3, 3), w2c (N, 4, 4), mvp (N, 4, 4) with
        ``y_down=True``, campos (N, 3), names) in the grid frame, where the box is centred at
        the origin with largest side 0.9; ``to_world`` (4, 4) maps grid coordinates to world;
        ``bbox`` (2, 3) float64 in world coordinates.
    Split rules: Blender trains on ``transforms_train.json`` and tests on
    ``transforms_test.json`` (else ``transforms_val.json``); nerfstudio's
    ``train_filenames``/``test_filenames`` when given; otherwise every 8th image (0, 8, ...) is
    held out for testing.
    """
    from gshell import _checks

    if isinstance(downscale, bool) or not isinstance(downscale, (int, float, np.integer, np.floating)):
        raise TypeError("Expected downscale to be a number >= 1 but got %r" % (downscale,))
    _checks.real("downscale", float(downscale), lo=1)
    if bbox is not None:
        bbox = check_box(bbox)
    path = os.fspath(path)
    fmt = detect_format(path)
    if fmt == "blender":
        from gshell.recon.datasets.blender import read_blender as read
    elif fmt == "neus":
        from gshell.recon.datasets.neus import read_neus as read
    else:
        from gshell.recon.datasets.colmap import read_colmap as read
    ds = read(path, downscale=downscale, max_views=max_views)
    if bbox is None:
        bbox = ds.bbox if ds.bbox is not None else carve_bbox(ds.train)
    return Dataset(to_grid_frame(ds.train, bbox, extent=GRID_EXTENT),
                   to_grid_frame(ds.test, bbox, extent=GRID_EXTENT), ds.format, ds.root,
                   np.asarray(bbox, np.float64), ds.has_masks)
