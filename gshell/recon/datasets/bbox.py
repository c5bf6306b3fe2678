"""The object's box from the masks (coarse space carving) and the move into the tet grid's frame.

:func:`carve_bbox` finds the box; :func:`to_grid_frame` scales and translates (never rotates, so
light and normal directions are unchanged) the views so the box fills the tet grid's
[-0.5, 0.5]^3 cube.
"""
import math

import numpy as np
import torch

from gshell.recon.views import Views, _opencv_to_clip

__all__ = ["carve_bbox", "to_grid_frame", "check_box"]

_LEVELS = (0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32)  # mask dilation radii, in coarse mask pixels
_COARSE = 256  # masks are max-pooled to at most this many pixels per side before carving


def check_box(box, name="bbox"):
    """``box`` as a (2, 3) float64 array (lo, hi) with finite values and hi > lo."""
    try:
        b = np.asarray(box, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("Expected %s to be a (2, 3) array (lo, hi) but got %r" % (name, box)) from None
    if b.shape != (2, 3):
        raise ValueError("Expected %s of shape (2, 3) (lo, hi) but got shape %s" % (name, b.shape))
    if not np.all(np.isfinite(b)) or not np.all(b[1] > b[0]):
        raise ValueError("Expected %s with finite lo < hi on every axis but got %s" % (name, b.tolist()))
    return b


def _cameras(views):
    if views.K is None or views.w2c is None:
        raise ValueError("Expected views with intrinsics K and w2c (as the dataset readers make) "
                         "but got K=%s, w2c=%s" % (views.K is not None, views.w2c is not None))
    K = views.K.detach().double().cpu().numpy()
    w2c = views.w2c.detach().double().cpu().numpy()
    return K, w2c


def _start_region(w2c):
    """Centre and half-size of a cube holding the object: the point nearest (least squares) to
    every camera's principal ray, and its distance to the farthest camera."""
    R, t = w2c[:, :3, :3], w2c[:, :3, 3]
    C = -np.einsum("nji,nj->ni", R, t)
    d = R[:, 2, :]  # the +z (viewing) axis in world coordinates
    P = np.eye(3)[None] - d[:, :, None] * d[:, None, :]
    A, b = P.sum(0), np.einsum("nij,nj->i", P, C)
    n = len(C)
    ev = np.linalg.eigvalsh(A)
    spread = float(np.linalg.norm(C - C.mean(0), axis=1).max()) if n > 1 else 0.0
    if n >= 2 and ev[0] > 0.05 * n:
        p = np.linalg.solve(A, b)
    else:  # (nearly) parallel principal rays: look ahead of the cameras
        dm = d.mean(0)
        dm /= max(np.linalg.norm(dm), 1e-12)
        p = C.mean(0) + dm * max(2 * spread, 1.0)
    r = float(np.linalg.norm(C - p, axis=1).max())
    return p, max(r, 1e-6)


def _dilate1(m):
    """Binary dilation of a 2-D bool array by one pixel (3x3 square)."""
    out = m.copy()
    out[1:] |= m[:-1]
    out[:-1] |= m[1:]
    row = out.copy()
    out[:, 1:] |= row[:, :-1]
    out[:, :-1] |= row[:, 1:]
    return out


def _mask_pyramid(mask, threshold):
    """(levels, Hc, Wc) bool: the thresholded mask max-pooled to <= _COARSE px and dilated by each
    radius of _LEVELS; and the pooling factor q."""
    m = np.asarray(mask) > threshold
    h, w = m.shape
    q = max(1, math.ceil(max(h, w) / _COARSE))
    if q > 1:
        hc, wc = -(-h // q), -(-w // q)
        pad = np.zeros((hc * q, wc * q), bool)
        pad[:h, :w] = m
        m = pad.reshape(hc, q, wc, q).any(axis=(1, 3))
    out, cur, r = [], m, 0
    for level in _LEVELS:
        while r < level:  # dilate by one pixel until the radius is reached
            cur = _dilate1(cur)
            r += 1
        out.append(cur)
    return np.stack(out), q


def _affine(X, A, b):
    """X @ A.T + b for (M, 3) float32 X, as three broadcast products (numpy's matmul with a
    3-wide inner dimension is many times slower)."""
    A, b = A.astype(np.float32), b.astype(np.float32)
    return X[:, 0:1] * A[:, 0] + X[:, 1:2] * A[:, 1] + X[:, 2:3] * A[:, 2] + b


def _carve(K, w2c, pyramids, lo, hi, res):
    """Kept voxel centres (M, 3) and the voxel step (3,) of a res^3 grid over [lo, hi]."""
    step = (hi - lo) / res
    axes = [lo[k] + (np.arange(res) + 0.5) * step[k] for k in range(3)]
    X = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3).astype(np.float32)
    rv = 0.5 * float(np.linalg.norm(step))  # voxel half diagonal
    levels = np.asarray(_LEVELS, np.float32)
    for i in range(len(K)):  # carved voxels are dropped as we go: later views test fewer
        pyr, q = pyramids[i]
        nl, hc, wc = pyr.shape
        cam = _affine(X, w2c[i, :3, :3], w2c[i, :3, 3])
        z = cam[:, 2]
        front = z > rv
        zs = np.where(front, z, np.float32(1))
        uv = _affine(cam, K[i, :2], np.zeros(2)) / zs[:, None]
        fpx = np.float32(max(K[i, 0, 0], K[i, 1, 1]) * rv / q) / zs + 1  # footprint + 1 coarse px
        lvl = np.searchsorted(levels, fpx)  # first dilation radius >= the footprint
        big = lvl >= nl  # covers much of the image: this view cannot carve it
        # outside the image, the nearest border pixel decides (a mask cut by the border goes on)
        col = np.clip(np.floor((uv[:, 0] + 0.5) / q), 0, wc - 1).astype(np.int64)
        row = np.clip(np.floor((uv[:, 1] + 0.5) / q), 0, hc - 1).astype(np.int64)
        hit = pyr.reshape(-1)[(np.minimum(lvl, nl - 1) * hc + row) * wc + col]
        X = X[front & (big | hit)]
        if X.shape[0] == 0:
            break
    return X.astype(np.float64), step


def carve_bbox(views, resolution=64, margin=0.05, threshold=0.5):
    """The object's box by coarse space carving of the masks (a conservative visual hull).

    The search starts from a cube centred on the point nearest to all principal rays (least
    squares; the cameras are assumed to look at a common object, as in 360-degree and turntable
    captures) with half-size its distance to the farthest camera. A voxel is kept if, in every
    view, it lies in front of the camera and its centre falls inside the mask (``mask >
    threshold``) dilated by the voxel's projected footprint plus a pixel (a voxel whose footprint
    covers a large part of the image is not carved by that view). Outside the image the nearest
    border pixel of the mask decides, so an object cut by an image border is not carved where
    its mask touches that border. Two passes at ``resolution``^3: the whole cube, then the first
    pass's box grown by one voxel.

    Args:
        views: Views with ``mask``, ``K`` and ``w2c`` (from a dataset reader).
        resolution: voxels per side of each pass.
        margin: padding added on every side, as a fraction of the box's largest side.
        threshold: mask level counted as object.
    Returns:
        (2, 3) float64 numpy array (lo, hi) in the frame of ``views.w2c``.
    Raises:
        ValueError: a mask is empty, or no voxel survives (masks and cameras disagree).
    """
    from gshell import _checks

    resolution = _checks.integer("resolution", resolution, lo=4, hi=512)
    margin = _checks.real("margin", margin, lo=0)
    threshold = _checks.real("threshold", threshold, lo=0, hi=1)
    K, w2c = _cameras(views)
    masks = views.mask.detach().float().cpu().numpy()
    empty = [i for i in range(len(views)) if not (masks[i] > threshold).any()]
    if empty:
        name = views.names[empty[0]] if views.names else str(empty[0])
        raise ValueError("Expected every mask to cover some pixels (> %g) but the mask of view %s "
                         "is empty" % (threshold, name))
    pyramids = [_mask_pyramid(masks[i], threshold) for i in range(len(views))]
    p, r = _start_region(w2c)
    lo, hi = p - r, p + r
    for npass in range(2):
        pts, step = _carve(K, w2c, pyramids, lo, hi, resolution)
        if len(pts) == 0:
            raise ValueError("Expected the masks of the %d views to agree on an object but space "
                             "carving kept no voxel in the box %s: check the masks and cameras, "
                             "or pass bbox=" % (len(views), np.round([lo, hi], 4).tolist()))
        lo, hi = pts.min(0) - 0.5 * step, pts.max(0) + 0.5 * step  # the kept voxels' extent
        if npass == 0:
            lo, hi = lo - step, hi + step
    pad = margin * float((hi - lo).max())
    return np.stack([lo - pad, hi + pad])


def to_grid_frame(views, lo, hi=None, extent=0.9):
    """Moves views into the tet grid's frame: uniform scale and translation (no rotation) taking
    the box [lo, hi] to a box centred at the origin whose largest side is ``extent``.

    Args:
        views: Views (with ``K`` and ``w2c`` the clip matrices are rebuilt with near/far planes
            bracketing the grid cube [-0.5, 0.5]^3; without them ``mvp`` is composed with the
            transform).
        lo, hi: (3,) box corners in the views' frame; or ``lo`` a (2, 3) box and ``hi`` None.
        extent: largest side of the box in the grid frame, in (0, 1].
    Returns:
        Views in the grid frame: ``w2c`` = [R | s (R c + t)], ``campos`` = s (C - c), ``depth``
        scaled by s; ``to_world`` (4, 4) float32 maps grid points back to the views' original
        frame (composed with the input's ``to_world``).
    """
    from gshell import _checks

    box = check_box(lo if hi is None else np.stack([np.asarray(lo, np.float64).reshape(3),
                                                     np.asarray(hi, np.float64).reshape(3)]), "box")
    extent = _checks.real("extent", extent, lo=0, hi=1, lo_open=True)
    c = 0.5 * (box[0] + box[1])
    s = extent / float((box[1] - box[0]).max())
    g2w = np.eye(4)
    g2w[:3, :3] *= 1.0 / s
    g2w[:3, 3] = c
    dev = views.mvp.device
    f32 = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32, device=dev)  # noqa: E731
    old = views.to_world.detach().double().cpu().numpy() if views.to_world is not None else np.eye(4)
    to_world = f32(old @ g2w).cpu()
    campos = (views.campos.detach().double().cpu().numpy() - c) * s
    depth = None if views.depth is None else views.depth * s
    if views.K is None or views.w2c is None:
        mvp = views.mvp.detach().double().cpu().numpy() @ g2w
        return Views(f32(mvp), f32(campos), views.mask, depth, views.normal, views.y_down, to_world,
                     views.rgb, views.K, views.w2c, views.names)
    K, w2c = _cameras(views)
    h, w = views.resolution
    corners = np.array(np.meshgrid([-0.5, 0.5], [-0.5, 0.5], [-0.5, 0.5], indexing="ij")).reshape(3, -1).T
    new_w2c, mvps = np.empty_like(w2c), []
    for i in range(len(views)):
        R, t = w2c[i, :3, :3], w2c[i, :3, 3]
        t2 = s * (R @ c + t)
        new_w2c[i] = np.eye(4)
        new_w2c[i, :3, :3], new_w2c[i, :3, 3] = R, t2
        z = corners @ R[2] + t2[2]
        near = 0.9 * float(z.min()) if z.min() > 0.01 else 0.01  # camera inside the cube: 0.01
        far = max(1.1 * float(z.max()), 2 * near)
        mvps.append(_opencv_to_clip(K[i], R, t2, w, h, near, far))
    return Views(f32(np.stack(mvps)), f32(campos), views.mask, depth, views.normal, True, to_world,
                 views.rgb, views.K, f32(new_w2c), views.names)
