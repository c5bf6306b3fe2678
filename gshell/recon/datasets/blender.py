"""NeRF-synthetic / Blender and instant-ngp / nerfstudio ``transforms*.json`` image sets.

Layouts:
- NeRF-synthetic: ``transforms_train.json``, ``transforms_val.json``, ``transforms_test.json``
  with ``camera_angle_x`` (optionally ``camera_angle_y``) and ``frames`` of ``file_path`` and
  ``transform_matrix``. Split: train = ``transforms_train.json`` only (val is not trained on, as
  in NeRF and nvdiffrec, so test metrics stay comparable); test = ``transforms_test.json``, or
  ``transforms_val.json`` when there is no test file, or the hold-out rule below.
- instant-ngp / nerfstudio: one ``transforms.json`` with intrinsics ``fl_x, fl_y, cx, cy, w, h``
  (or ``camera_angle_x/y``) at the top level and/or per frame (a frame's keys win), optional
  per-frame ``mask_path``. Split: nerfstudio's ``train_filenames``/``test_filenames`` (or
  ``val_filenames``) lists when present, else every 8th frame (0, 8, 16, ...) in file order is
  held out for testing. instant-ngp's ``scale``, ``offset`` and ``aabb_scale`` (its own
  loader's normalisation) are ignored: the world is the json's.

Cameras: ``transform_matrix`` is camera-to-world in the Blender/OpenGL convention (the camera looks
down -Z, +Y up); it is converted to an OpenCV world-to-camera matrix (x right, y down, z
forward). It must be a rigid motion: scaled, sheared or mirrored rotations are refused. Principal
points (``cx, cy``, default ``w/2, h/2``) are in the corner-origin convention of instant-ngp,
nerfstudio and Blender itself (pixel i spans [i, i+1)), so ``K`` (pixel centres at integers) gets
``cx - 0.5``; the original NeRF code's rays through integer pixel corners are half a pixel off
this and are not followed. Lens distortion (non-zero ``k1..k6, p1, p2``, fisheye or
equirectangular models) is refused: undistort the images first.

Masks, in order: the frame's ``mask_path``, the image's alpha channel, ``masks/<stem>.png``
beside the json; without any, masks are ones and ``Dataset.has_masks`` is False.
"""
import json
import math
import os

import numpy as np

from gshell.recon.datasets import _cameras, _images

__all__ = ["read_blender", "find_transforms"]

_EXTS = ("", ".png", ".jpg", ".jpeg", ".PNG", ".JPG", ".JPEG")
_DISTORTION = ("k1", "k2", "k3", "k4", "k5", "k6", "p1", "p2")
_OK_MODELS = (None, "PINHOLE", "SIMPLE_PINHOLE", "OPENCV", "SIMPLE_RADIAL", "RADIAL", "FULL_OPENCV")


def find_transforms(root):
    """The ``transforms*.json`` files of ``root`` (sorted), possibly empty."""
    if not os.path.isdir(root):
        return []
    return sorted(f for f in os.listdir(root) if f.startswith("transforms") and f.endswith(".json")
                  and os.path.isfile(os.path.join(root, f)))


def _load_json(path):
    try:
        with open(path, "r", encoding="utf-8") as f:
            meta = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError("Expected valid JSON in %s but got a syntax error: %s" % (path, e)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError("Expected a readable JSON file but could not read %s: %s" % (path, e)) from None
    if not isinstance(meta, dict):
        raise ValueError("Expected a JSON object at the top of %s but got %s" % (path, type(meta).__name__))
    frames = meta.get("frames")
    if not isinstance(frames, list) or not frames:
        raise ValueError("Expected a non-empty list 'frames' in %s but got %s"
                         % (path, "no 'frames' key" if frames is None else repr(frames)[:60]))
    for i, fr in enumerate(frames):
        if not isinstance(fr, dict):
            raise ValueError("Expected frame %d of %s to be an object but got %r" % (i, path, fr))
        for key in ("file_path", "transform_matrix"):
            if key not in fr:
                raise ValueError("Expected key '%s' in frame %d of %s but it is missing" % (key, i, path))
    return meta


def _number(d, key, where):
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError("Expected '%s' in %s to be a finite number but got %r" % (key, where, v))
    return float(v)


def _c2w_to_w2c(M, where):
    """OpenCV world-to-camera (4, 4) of a Blender/OpenGL camera-to-world ``transform_matrix``."""
    try:
        M = np.asarray(M, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("Expected transform_matrix in %s to be a 4x4 array of numbers but got %r"
                         % (where, M)) from None
    if M.shape not in ((4, 4), (3, 4)):
        raise ValueError("Expected transform_matrix in %s of shape 4x4 (or 3x4) but got %s"
                         % (where, M.shape))
    M = _cameras.finite_matrix(M, "transform_matrix", where)
    if M.shape == (4, 4) and np.abs(M[3] - [0, 0, 0, 1]).max() > 1e-6:
        raise ValueError("Expected the last row of transform_matrix in %s to be [0, 0, 0, 1] but "
                         "got %s" % (where, M[3].tolist()))
    R = _cameras.check_rotation(M[:3, :3], "rotation of transform_matrix", where)
    R = R @ np.diag([1.0, -1.0, -1.0])  # OpenGL camera axes -> OpenCV (y down, z forward)
    w2c = np.eye(4)
    w2c[:3, :3] = R.T
    w2c[:3, 3] = -R.T @ M[:3, 3]
    return w2c


def _intrinsics(d, w, h, where):
    """(3, 3) pixel-centre K of the merged top-level + frame keys ``d`` for a w x h image."""
    for key in _DISTORTION:
        if key in d and d[key] is not None and _number(d, key, where) != 0:
            got = ", ".join("%s=%g" % (k, float(d[k])) for k in _DISTORTION if d.get(k))
            raise ValueError("Expected an undistorted pinhole camera in %s but got lens distortion "
                             "%s: undistort the images first (e.g. colmap image_undistorter)"
                             % (where, got))
    model = d.get("camera_model")
    if model not in _OK_MODELS:
        raise ValueError("Expected a pinhole camera_model in %s but got %r: undistort or "
                         "reproject the images first" % (where, model))
    if d.get("is_fisheye"):
        raise ValueError("Expected a pinhole camera in %s but got is_fisheye = true" % where)
    fx = _number(d, "fl_x", where) if d.get("fl_x") is not None else None
    fy = _number(d, "fl_y", where) if d.get("fl_y") is not None else None
    if fx is None and d.get("camera_angle_x") is not None:
        fx = 0.5 * w / math.tan(0.5 * _number(d, "camera_angle_x", where))
    if fy is None and d.get("camera_angle_y") is not None:
        fy = 0.5 * h / math.tan(0.5 * _number(d, "camera_angle_y", where))
    if fx is None and fy is None:
        raise ValueError("Expected the focal length in %s ('fl_x'/'fl_y' or 'camera_angle_x'/"
                         "'camera_angle_y') but none of these keys is there" % where)
    fx = fy if fx is None else fx
    fy = fx if fy is None else fy
    if not (fx > 0 and fy > 0):
        raise ValueError("Expected positive focal lengths in %s but got fl_x=%g, fl_y=%g" % (where, fx, fy))
    cx = _number(d, "cx", where) if d.get("cx") is not None else 0.5 * w
    cy = _number(d, "cy", where) if d.get("cy") is not None else 0.5 * h
    return np.array([[fx, 0, cx - 0.5], [0, fy, cy - 0.5], [0, 0, 1.0]])


def _resolve(base, file_path, where):
    if not isinstance(file_path, str) or not file_path:
        raise ValueError("Expected file_path in %s to be a path but got %r" % (where, file_path))
    p = file_path if os.path.isabs(file_path) else os.path.join(base, file_path)
    p = os.path.normpath(p)
    for ext in _EXTS:
        if os.path.isfile(p + ext):
            return p + ext
    raise FileNotFoundError("Expected the image %s of %s (tried the extensions %s) but it does "
                            "not exist" % (p, where, ", ".join(e or "none" for e in _EXTS[:4])))


class _Frame:
    __slots__ = ("path", "rel", "mask_path", "fallback_mask", "w2c", "keys", "where")


def _frames(json_path):
    """The frames of one json: image path, mask path, OpenCV w2c, merged intrinsic keys."""
    meta = _load_json(json_path)
    base = os.path.dirname(os.path.abspath(json_path))
    top = {k: v for k, v in meta.items() if k != "frames"}
    out = []
    for i, fr in enumerate(meta["frames"]):
        where = "frame %d (%r) of %s" % (i, fr.get("file_path"), json_path)
        f = _Frame()
        f.where = where
        f.path = _resolve(base, fr["file_path"], where)
        f.rel = fr["file_path"]
        f.w2c = _c2w_to_w2c(fr["transform_matrix"], where)
        f.keys = dict(top, **{k: v for k, v in fr.items() if k not in ("file_path", "transform_matrix")})
        f.mask_path = None
        if fr.get("mask_path"):
            mp = fr["mask_path"]
            f.mask_path = mp if os.path.isabs(mp) else os.path.normpath(os.path.join(base, mp))
        stem = os.path.splitext(os.path.basename(f.path))[0]
        fb = os.path.join(base, "masks", stem + ".png")
        f.fallback_mask = fb if os.path.isfile(fb) else None
        out.append(f)
    return meta, out


def _split_by_names(meta, frames, json_path):
    """nerfstudio's train/test file lists, or None when the json has none."""
    train_list = meta.get("train_filenames")
    test_list = meta.get("test_filenames") or meta.get("val_filenames")
    if not train_list and not test_list:
        return None
    norm = lambda p: os.path.normpath(os.path.splitext(str(p))[0])  # noqa: E731
    key = [norm(f.rel) for f in frames]
    test_set = {norm(p) for p in (test_list or [])}
    train_set = {norm(p) for p in train_list} if train_list else set(key) - test_set
    train = [i for i, k in enumerate(key) if k in train_set]
    test = [i for i, k in enumerate(key) if k in test_set]
    if not train or not test:
        raise ValueError("Expected train_filenames/test_filenames of %s to name frames of it but "
                         "they match %d train and %d test frames" % (json_path, len(train), len(test)))
    return np.array(train), np.array(test)


def read_blender(root, downscale=1, max_views=None):
    """Reads a ``transforms*.json`` image set (see the module docstring for the rules).

    Args:
        root: the folder holding the json file(s).
        downscale: image downscale factor >= 1 (integer or not; area averaging).
        max_views: keep this many training views, evenly spaced (None: all).
    Returns:
        :class:`Dataset` in the dataset's world coordinates (identity ``to_world``, loose clip
        planes, ``bbox`` None); :func:`load_dataset` moves it into the grid frame.
    """
    max_views = _cameras.check_max_views(max_views)
    files = find_transforms(root)
    if "transforms_train.json" in files:
        _, train_frames = _frames(os.path.join(root, "transforms_train.json"))
        test_file = next((f for f in ("transforms_test.json", "transforms_val.json") if f in files), None)
        if test_file is not None:
            _, test_frames = _frames(os.path.join(root, test_file))
        else:
            tr, te = _cameras.holdout_split(len(train_frames), os.path.join(root, "transforms_train.json"))
            train_frames, test_frames = [train_frames[i] for i in tr], [train_frames[i] for i in te]
    elif "transforms.json" in files:
        json_path = os.path.join(root, "transforms.json")
        meta, frames = _frames(json_path)
        split = _split_by_names(meta, frames, json_path)
        tr, te = split if split is not None else _cameras.holdout_split(len(frames), json_path)
        train_frames, test_frames = [frames[i] for i in tr], [frames[i] for i in te]
    else:
        raise ValueError("Expected transforms_train.json or transforms.json in %s but got %s"
                         % (root, files or "no transforms*.json file"))
    train_frames = [train_frames[i] for i in _cameras.pick_evenly(len(train_frames), max_views)]
    frames = train_frames + test_frames
    rgb, mask, has, (h, w) = _images.load_photos(
        [f.path for f in frames], [f.mask_path for f in frames], downscale,
        [f.fallback_mask for f in frames])
    if has.any() and not has.all():
        bad = frames[int(np.argmin(has))]
        raise ValueError("Expected every image to have a mask (alpha, mask_path or masks/) as %s "
                         "has, but %s has none" % (frames[int(np.argmax(has))].path, bad.path))
    Ks = []
    for f in frames:
        if f.keys.get("w") is not None and f.keys.get("h") is not None:
            jw, jh = _number(f.keys, "w", f.where), _number(f.keys, "h", f.where)
            if (int(round(jw)), int(round(jh))) != (w, h):
                raise ValueError("Expected the image %s to be %dx%d as w, h in %s say but got %dx%d"
                                 % (f.path, jw, jh, f.where, w, h))
        Ks.append(_images.scale_intrinsics(_intrinsics(f.keys, w, h, f.where), (h, w), mask.shape[1:]))
    K, w2c = np.stack(Ks), np.stack([f.w2c for f in frames])
    n = len(train_frames)
    train = _cameras.make_views(K[:n], w2c[:n], rgb[:n], mask[:n],
                                _cameras.frame_names([f.path for f in train_frames]))
    test = _cameras.make_views(K[n:], w2c[n:], rgb[n:], mask[n:],
                               _cameras.frame_names([f.path for f in test_frames]))
    return _cameras.Dataset(train, test, "blender", os.path.abspath(root), None, bool(has.all()))
