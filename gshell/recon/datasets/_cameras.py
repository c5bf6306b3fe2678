"""Shared pieces of the dataset readers: the Dataset record, camera checks, views from OpenCV
cameras, the train/test hold-out and view subsampling."""
import dataclasses
import os
from typing import Optional

import numpy as np
import torch

from gshell.recon.views import Views, _opencv_to_clip

# Tolerances of the rotation check: max |R^T R - I| and |det R - 1|.
ROT_TOL = 2e-3
HOLDOUT_EVERY = 8


@dataclasses.dataclass(eq=False)
class Dataset:
    """A calibrated image set, ready for :func:`gshell.recon.reconstruct`.

    Attributes:
        train: the training :class:`~gshell.recon.views.Views` (rgb, mask, K, w2c, mvp, campos,
            names, ``y_down=True``) in the tet grid's frame (see :func:`to_grid_frame`).
        test: the held-out views, same frame and resolution.
        format: ``"blender"``, ``"neus"`` or ``"colmap"``.
        root: the dataset folder.
        bbox: (2, 3) float64 numpy array, the object's box (lo, hi) in dataset world coordinates.
        has_masks: False when the images came without masks or alpha (masks are then all ones;
            mask-based losses need real masks).
    """
    train: Views
    test: Views
    format: str
    root: str
    bbox: Optional[np.ndarray] = None
    has_masks: bool = True

    def __repr__(self):
        h, w = self.train.resolution
        return ("Dataset(format=%r, root=%r, train=%d views, test=%d views, %dx%d, has_masks=%s)"
                % (self.format, self.root, len(self.train), len(self.test), w, h, self.has_masks))


def finite_matrix(M, what, where):
    """``M`` as float64, checked to hold no NaN/Inf (ValueError naming ``where``)."""
    M = np.asarray(M, dtype=np.float64)
    if not np.all(np.isfinite(M)):
        raise ValueError("Expected a finite %s in %s but got NaN/Inf: %s"
                         % (what, where, np.array2string(M, precision=4).replace("\n", "")))
    return M


def check_rotation(R, what, where):
    """Checks that ``R`` (3, 3) is a rotation (R^T R = I, det R = +1 within ``ROT_TOL``) and
    returns the nearest exact rotation (float64)."""
    R = finite_matrix(R, what, where)
    err = float(np.abs(R.T @ R - np.eye(3)).max())
    det = float(np.linalg.det(R))
    if err > ROT_TOL or abs(det - 1) > ROT_TOL:
        raise ValueError("Expected the %s in %s to be a rotation (R^T R = I, det R = +1) but got "
                         "max|R^T R - I| = %.3g, det R = %.4g (a scaled, sheared or mirrored matrix)"
                         % (what, where, err, det))
    U, _, Vt = np.linalg.svd(R)
    return U @ Vt


def check_sizes(sizes, paths):
    """All images of a set must share one size; ValueError naming the first that differs."""
    for s, p in zip(sizes, paths):
        if s != sizes[0]:
            raise ValueError("Expected every image of the set to be %dx%d (as %s) but %s is %dx%d"
                             % (sizes[0][1], sizes[0][0], paths[0], p, s[1], s[0]))


def pick_evenly(n, max_views):
    """Indices of ``max_views`` views spread evenly over ``n`` (all of them when None)."""
    if max_views is None or int(max_views) >= n:
        return np.arange(n)
    k = int(max_views)
    if k < 1:
        raise ValueError("Expected max_views >= 1 but got %r" % (max_views,))
    return np.unique(np.linspace(0, n - 1, k).round().astype(np.int64))


def holdout_split(n, where):
    """(train, test) indices when a format has no test split: every ``HOLDOUT_EVERY``-th image
    (0, 8, 16, ...) is held out for testing, as in the LLFF/mip-NeRF 360 convention."""
    if n < 2:
        raise ValueError("Expected at least 2 images in %s to hold out a test view but got %d"
                         % (where, n))
    idx = np.arange(n)
    test = idx % HOLDOUT_EVERY == 0
    return idx[~test], idx[test]


def check_max_views(max_views):
    if max_views is None:
        return None
    if isinstance(max_views, bool) or not isinstance(max_views, (int, np.integer)) or max_views < 1:
        raise ValueError("Expected max_views to be None or an integer >= 1 but got %r" % (max_views,))
    return int(max_views)


def make_views(K, w2c, rgb, mask, names, near=None, far=None, to_world=None):
    """Views from OpenCV cameras.

    Args:
        K: (N, 3, 3), w2c: (N, 4, 4) float64 arrays; rgb (N, H, W, 3), mask (N, H, W) float32.
        near, far: clip planes (camera-space depth); default a wide range from the spread of the
            camera centres (:func:`~gshell.recon.datasets.bbox.to_grid_frame` sets tight ones).
    Returns:
        Views with ``y_down=True``.
    """
    K, w2c = np.asarray(K, np.float64), np.asarray(w2c, np.float64)
    n, h, w = mask.shape
    R, t = w2c[:, :3, :3], w2c[:, :3, 3]
    campos = -np.einsum("nji,nj->ni", R, t)
    if near is None or far is None:
        spread = float(np.linalg.norm(campos - campos.mean(0), axis=1).max()) if n > 1 else 0.0
        s = spread if spread > 0 else max(float(np.linalg.norm(campos, axis=1).max()), 1.0)
        near, far = 1e-3 * s, 1e3 * s
    near = np.broadcast_to(np.asarray(near, np.float64), (n,))
    far = np.broadcast_to(np.asarray(far, np.float64), (n,))
    mvp = np.stack([_opencv_to_clip(K[i], R[i], t[i], w, h, near[i], far[i]) for i in range(n)])
    f32 = lambda a: torch.from_numpy(np.ascontiguousarray(a, np.float32))  # noqa: E731
    return Views(f32(mvp), f32(campos), f32(mask), y_down=True,
                 to_world=None if to_world is None else f32(to_world), rgb=f32(rgb), K=f32(K),
                 w2c=f32(w2c), names=list(names))


def frame_names(rels):
    """Frame names of image paths: the file stems, or (only when two stems collide) the relative
    paths without extension with separators as ``_``."""
    stems = [os.path.splitext(os.path.basename(r))[0] for r in rels]
    if len(set(stems)) == len(stems):
        return stems
    return [os.path.splitext(os.path.normpath(r))[0].replace(os.sep, "_").replace("/", "_")
            .lstrip("._") for r in rels]
