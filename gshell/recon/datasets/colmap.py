"""COLMAP image sets: a sparse model (``sparse/0/`` or ``sparse/``, text or binary), ``images/``
and optional ``masks/``; read with pycolmap (``pip install pycolmap``).

Cameras: COLMAP's ``cam_from_world`` is already OpenCV world-to-camera. Its principal point is in
the corner-origin convention (the centre of the top-left pixel is (0.5, 0.5)), so ``K`` (pixel
centres at integers) gets ``cx - 0.5, cy - 0.5``. PINHOLE and SIMPLE_PINHOLE are used directly;
SIMPLE_RADIAL, RADIAL, OPENCV, FULL_OPENCV, SIMPLE_DIVISION and DIVISION are used as pinholes when
all their distortion parameters are zero. Any other case (non-zero distortion, fisheye and other
models) is refused: run ``colmap image_undistorter`` (or ``pycolmap.undistort_images``) and load
its output folder, which has PINHOLE cameras.

Masks: ``masks/<image name>.png`` (COLMAP's own naming, e.g. ``masks/0001.jpg.png``) or
``masks/<image stem>.png``; every image or none must have one (RGBA images without masks/ use
their alpha). Without masks, masks are ones,
``Dataset.has_masks`` is False and the box comes from the sparse points (their 2nd to 98th
percentile per axis, padded by 5%) instead of space carving.

Images are the model's registered images sorted by name; no test split: every 8th image
(0, 8, 16, ...) is held out for testing.
"""
import os

import numpy as np

from gshell.recon.datasets import _cameras, _images

__all__ = ["read_colmap", "find_model"]

_PINHOLE = ("SIMPLE_PINHOLE", "PINHOLE")
_ZERO_IS_PINHOLE = ("SIMPLE_RADIAL", "RADIAL", "OPENCV", "FULL_OPENCV", "SIMPLE_DIVISION", "DIVISION")


def find_model(root):
    """The sparse model folder of ``root`` (``sparse/0`` or ``sparse``), or None."""
    for sub in (os.path.join("sparse", "0"), "sparse"):
        d = os.path.join(root, sub)
        if any(os.path.isfile(os.path.join(d, "cameras" + e)) for e in (".bin", ".txt")):
            return d
    return None


def _intrinsics(cam, where):
    model = cam.model.name if hasattr(cam.model, "name") else str(cam.model)
    params = np.asarray(cam.params, np.float64)
    if not np.all(np.isfinite(params)):
        raise ValueError("Expected finite camera parameters in %s but got %s" % (where, params.tolist()))
    extra = np.asarray(cam.extra_params_idxs(), dtype=np.int64)
    distorted = bool(extra.size and np.any(params[extra] != 0))
    if model not in _PINHOLE and (model not in _ZERO_IS_PINHOLE or distorted):
        raise ValueError("Expected an undistorted pinhole camera (PINHOLE, SIMPLE_PINHOLE) in %s but "
                         "got camera %d of model %s with parameters %s: run `colmap "
                         "image_undistorter` and load its output folder"
                         % (where, cam.camera_id, model, np.round(params, 6).tolist()))
    fx, fy = float(cam.focal_length_x), float(cam.focal_length_y)
    cx, cy = float(cam.principal_point_x), float(cam.principal_point_y)
    if not (fx > 0 and fy > 0):
        raise ValueError("Expected positive focal lengths for camera %d in %s but got %g, %g"
                         % (cam.camera_id, where, fx, fy))
    return np.array([[fx, 0, cx - 0.5], [0, fy, cy - 0.5], [0, 0, 1.0]])


def _mask_path(mask_dir, name):
    for cand in (name + ".png", os.path.splitext(name)[0] + ".png"):
        p = os.path.join(mask_dir, cand)
        if os.path.isfile(p):
            return p
    return None


def _points_bbox(rec, where, margin=0.05):
    xyz = np.array([p.xyz for p in rec.points3D.values()], np.float64).reshape(-1, 3)
    xyz = xyz[np.all(np.isfinite(xyz), 1)]
    if len(xyz) < 4:
        raise ValueError("Expected masks/ or at least 4 sparse points in %s to find the object's "
                         "box but got %d points (pass bbox=)" % (where, len(xyz)))
    lo, hi = np.percentile(xyz, 2, axis=0), np.percentile(xyz, 98, axis=0)
    pad = margin * float((hi - lo).max())
    return np.stack([lo - pad, hi + pad])


def read_colmap(root, downscale=1, max_views=None):
    """Reads a COLMAP scene (see the module docstring for the layout and rules).

    Args:
        root: the scene folder (with ``sparse/`` and ``images/``). downscale: factor >= 1.
        max_views: keep this many training views, evenly spaced (None: all).
    Returns:
        :class:`Dataset` in COLMAP's world (identity ``to_world``); ``bbox`` from the sparse
        points when there are no masks, else None (space carving).
    """
    try:
        import pycolmap
    except ImportError:
        raise ImportError("Expected pycolmap to read the COLMAP model in %s but it is not "
                          "installed: pip install pycolmap" % root) from None
    max_views = _cameras.check_max_views(max_views)
    model = find_model(root)
    if model is None:
        raise FileNotFoundError("Expected a COLMAP model (sparse/0/cameras.bin|txt or "
                                "sparse/cameras.bin|txt) in %s but found none" % root)
    try:
        rec = pycolmap.Reconstruction(model)
    except Exception as e:  # pycolmap raises ValueError/RuntimeError with the C++ message
        raise ValueError("Expected a readable COLMAP model but could not read %s: %s" % (model, e)) from None
    images = sorted((im for im in rec.images.values() if im.has_pose), key=lambda im: im.name)
    if not images:
        raise ValueError("Expected registered images in the COLMAP model %s but it has none" % model)
    img_dir, mask_dir = os.path.join(root, "images"), os.path.join(root, "masks")
    paths, Ks, w2cs = [], [], []
    for im in images:
        where = "%s (image %r)" % (model, im.name)
        p = os.path.join(img_dir, im.name)
        if not os.path.isfile(p):
            raise FileNotFoundError("Expected the image %s of the COLMAP model %s but it does not "
                                    "exist" % (p, model))
        cam = rec.cameras[im.camera_id]
        M = _cameras.finite_matrix(im.cam_from_world().matrix(), "cam_from_world", where)
        w2c = np.eye(4)
        w2c[:3, :3] = _cameras.check_rotation(M[:, :3], "rotation of cam_from_world", where)
        w2c[:3, 3] = M[:, 3]
        paths.append(p)
        Ks.append((_intrinsics(cam, where), (int(cam.height), int(cam.width))))
        w2cs.append(w2c)
    masks = [_mask_path(mask_dir, im.name) if os.path.isdir(mask_dir) else None for im in images]
    got = [m is not None for m in masks]
    if any(got) and not all(got):
        i = got.index(False)
        raise FileNotFoundError("Expected a mask for every image (%s has %s) but %s has none "
                                "(looked for masks/%s.png and masks/%s.png)"
                                % (paths[got.index(True)], masks[got.index(True)], paths[i],
                                   images[i].name, os.path.splitext(images[i].name)[0]))
    tr, te = _cameras.holdout_split(len(images), model)
    tr = tr[_cameras.pick_evenly(len(tr), max_views)]
    sel = np.concatenate([tr, te])
    rgb, mask, has, size = _images.load_photos([paths[i] for i in sel],
                                               [masks[i] for i in sel], downscale)
    for i in sel:
        if Ks[i][1] != size:
            raise ValueError("Expected the image %s to be %dx%d as its COLMAP camera says but got %dx%d"
                             % (paths[i], Ks[i][1][1], Ks[i][1][0], size[1], size[0]))
    K = np.stack([_images.scale_intrinsics(Ks[i][0], size, mask.shape[1:]) for i in sel])
    w2c = np.stack([w2cs[i] for i in sel])
    n = len(tr)
    if has.any() and not has.all():
        raise ValueError("Expected every image to have an alpha channel (or masks/) as %s has, but "
                         "%s has none" % (paths[sel[int(np.argmax(has))]], paths[sel[int(np.argmin(has))]]))
    train = _cameras.make_views(K[:n], w2c[:n], rgb[:n], mask[:n],
                                _cameras.frame_names([images[i].name for i in tr]))
    test = _cameras.make_views(K[n:], w2c[n:], rgb[n:], mask[n:],
                               _cameras.frame_names([images[i].name for i in te]))
    has_masks = bool(has.all())
    bbox = None if has_masks else _points_bbox(rec, model)
    return _cameras.Dataset(train, test, "colmap", os.path.abspath(root), bbox, has_masks)
