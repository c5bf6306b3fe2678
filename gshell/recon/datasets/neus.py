"""NeuS / IDR image sets: ``cameras_sphere.npz``, ``image/``, ``mask/``.

Layout: ``image/*.png`` (or .jpg), optional ``mask/*.png`` (paired with the images in sorted
order; without them the images' alpha, else ones and ``Dataset.has_masks`` False), and
``cameras_sphere.npz`` with, for image i (in sorted order), ``world_mat_i`` = P = K [R | t]
(the 3x4 or 4x4 projection from world to the full-resolution image, OpenCV convention with pixel
centres at integer coordinates, as the NeuS and IDR loaders use it) and optionally
``scale_mat_i`` (maps the unit sphere around the object into the world).

World coordinates are the NeuS world (what ``world_mat`` projects), not the unit sphere; the box
is the cube around the unit sphere mapped by ``scale_mat_0`` (``Dataset.bbox``). The full
intrinsics, skew included, come from the RQ decomposition of P. There is no test split: every
8th image (0, 8, 16, ...) is held out for testing.
"""
import glob
import os
import zipfile

import numpy as np

from gshell.recon.datasets import _cameras, _images

__all__ = ["read_neus"]


def _list(folder, exts):
    out = []
    for e in exts:
        out += glob.glob(os.path.join(glob.escape(folder), "*" + e))
    return sorted(set(out))


def read_neus(root, downscale=1, max_views=None):
    """Reads a NeuS/IDR scene (see the module docstring for the layout and rules).

    Args:
        root: the scene folder. downscale: image downscale factor >= 1.
        max_views: keep this many training views, evenly spaced (None: all).
    Returns:
        :class:`Dataset` in the NeuS world (identity ``to_world``), ``bbox`` from ``scale_mat_0``
        (None without scale matrices).
    """
    from gshell.recon.views import decompose_projection

    max_views = _cameras.check_max_views(max_views)
    cam_path = os.path.join(root, "cameras_sphere.npz")
    if not os.path.isfile(cam_path):
        raise FileNotFoundError("Expected the cameras file %s but it does not exist" % cam_path)
    img_dir, mask_dir = os.path.join(root, "image"), os.path.join(root, "mask")
    images = _list(img_dir, (".png", ".jpg", ".jpeg", ".PNG", ".JPG", ".JPEG"))
    if not images:
        raise FileNotFoundError("Expected images (*.png, *.jpg) in %s but found none" % img_dir)
    masks = _list(mask_dir, (".png", ".jpg", ".PNG", ".JPG")) if os.path.isdir(mask_dir) else []
    if masks and len(masks) != len(images):
        raise ValueError("Expected one mask in %s per image in %s but got %d masks for %d images"
                         % (mask_dir, img_dir, len(masks), len(images)))
    try:
        with np.load(cam_path) as z:
            cams = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise ValueError("Expected a readable npz file but could not read %s: %s" % (cam_path, e)) from None
    n_cams = sum(1 for k in cams if k.startswith("world_mat_") and k[10:].isdigit())
    if n_cams != len(images):
        raise ValueError("Expected one world_mat_i in %s per image in %s but got %d cameras for "
                         "%d images" % (cam_path, img_dir, n_cams, len(images)))
    Ks, w2cs = [], []
    for i in range(len(images)):
        key = "world_mat_%d" % i
        if key not in cams:
            raise ValueError("Expected %s in %s (cameras numbered 0..%d) but it is missing"
                             % (key, cam_path, len(images) - 1))
        P = np.asarray(cams[key], np.float64)
        if P.shape not in ((4, 4), (3, 4)):
            raise ValueError("Expected %s in %s of shape 4x4 or 3x4 but got %s" % (key, cam_path, P.shape))
        P = _cameras.finite_matrix(P, key, cam_path)[:3]
        if abs(np.linalg.det(P[:, :3])) < 1e-12 * max(np.abs(P[:, :3]).max(), 1e-300) ** 3:
            raise ValueError("Expected %s in %s to be a projection P = K [R | t] but its left 3x3 "
                             "block is singular" % (key, cam_path))
        K, R, t, _ = decompose_projection(P)
        w2c = np.eye(4)
        w2c[:3, :3], w2c[:3, 3] = _cameras.check_rotation(R, "rotation of " + key, cam_path), t
        Ks.append(K)
        w2cs.append(w2c)
    bbox = None
    if "scale_mat_0" in cams:
        S = _cameras.finite_matrix(cams["scale_mat_0"], "scale_mat_0", cam_path)
        if S.shape != (4, 4):
            raise ValueError("Expected scale_mat_0 in %s of shape 4x4 but got %s" % (cam_path, S.shape))
        corners = np.array(np.meshgrid([-1, 1], [-1, 1], [-1, 1], indexing="ij")).reshape(3, -1).T
        pts = np.c_[corners, np.ones(8)] @ S.T
        pts = pts[:, :3] / pts[:, 3:]
        bbox = np.stack([pts.min(0), pts.max(0)])
        if not np.all(bbox[1] > bbox[0]):
            raise ValueError("Expected scale_mat_0 in %s to map the unit sphere to a box of "
                             "positive size but got %s" % (cam_path, bbox.tolist()))
    tr, te = _cameras.holdout_split(len(images), img_dir)
    tr = tr[_cameras.pick_evenly(len(tr), max_views)]
    sel = np.concatenate([tr, te])
    rgb, mask, has, (h, w) = _images.load_photos(
        [images[i] for i in sel], [masks[i] for i in sel] if masks else None, downscale)
    if has.any() and not has.all():
        raise ValueError("Expected every image in %s to have an alpha channel (or a mask/ folder) "
                         "but %s has none" % (img_dir, images[sel[int(np.argmin(has))]]))
    K = np.stack([_images.scale_intrinsics(Ks[i], (h, w), mask.shape[1:]) for i in sel])
    w2c = np.stack([w2cs[i] for i in sel])
    n = len(tr)
    train = _cameras.make_views(K[:n], w2c[:n], rgb[:n], mask[:n],
                                _cameras.frame_names([images[i] for i in tr]))
    test = _cameras.make_views(K[n:], w2c[n:], rgb[n:], mask[n:],
                               _cameras.frame_names([images[i] for i in te]))
    return _cameras.Dataset(train, test, "neus", os.path.abspath(root), bbox, bool(has.all()))
