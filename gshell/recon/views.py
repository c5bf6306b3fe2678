"""Target views for multiview reconstruction: cameras, masks, depth and normal images.

Two sources: a mesh rendered with known cameras (the synthetic setting of the G-Shell paper), or a
folder of images with cameras in the NeuS/IDR ``cameras_sphere.npz`` convention.

Image conventions: ``Views`` images are indexed ``[view, row, column]`` exactly as the rasterizer
writes them; row 0 is NDC y = -1. For OpenGL-style cameras (synthetic views) that row is the bottom
of the picture (``y_down=False``); for NeuS/OpenCV cameras the projection is built so that row 0 is
the top row of the photograph (``y_down=True``) and images need no flip.
"""
import dataclasses
import glob
import math
import os
from typing import List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gshell import _checks
from gshell._gather import take

__all__ = ["Views", "render_buffers", "sphere_cameras", "synthetic_views", "load_neus",
           "normalize_mesh"]


@dataclasses.dataclass(eq=False)
class Views:
    """A set of calibrated target views.

    Attributes:
        mvp: (N, 4, 4) float32, world to clip space (column vectors: clip = mvp @ [x, 1]).
        campos: (N, 3) float32, camera centers in world space.
        mask: (N, H, W) float32 in [0, 1], object coverage.
        depth: (N, H, W) float32 distance from the camera center to the surface (0 outside the
            mask), or None.
        normal: (N, H, W, 3) float32 world-space unit normals of the visible surface, signed by
            the surface's winding (back faces show normals pointing away from the camera), 0
            outside the mask; or None.
        y_down: whether row 0 is the top of the picture (see the module docstring).
        to_world: (4, 4) float32 mapping the reconstruction's coordinates back to the input's.
        rgb: (N, H, W, 3) float32 linear RGB premultiplied by ``mask`` (the object over black),
            or None.
        K: (N, 3, 3) float32 OpenCV pixel intrinsics at this resolution (pixel centres at integer
            coordinates, row 0 at the top), or None.
        w2c: (N, 4, 4) float32 OpenCV world-to-camera matrices (x right, y down, z forward) in
            the same frame as ``mvp``, or None.
        names: the image file stems (dataset frame names), or None.
    """
    mvp: Tensor
    campos: Tensor
    mask: Tensor
    depth: Optional[Tensor] = None
    normal: Optional[Tensor] = None
    y_down: bool = False
    to_world: Optional[Tensor] = None
    rgb: Optional[Tensor] = None
    K: Optional[Tensor] = None
    w2c: Optional[Tensor] = None
    names: Optional[List[str]] = None

    def __post_init__(self):
        _checks.tensor("mvp", self.mvp, dims=3, shape=(None, 4, 4), dtypes=_checks.FLOATS)
        n = self.mvp.shape[0]
        if n == 0:
            raise ValueError("Expected at least one view but got 0 cameras")
        _checks.tensor("campos", self.campos, dims=2, shape=(n, 3), dtypes=_checks.FLOATS)
        _checks.tensor("mask", self.mask, dims=3, shape=(n, None, None), dtypes=_checks.FLOATS)
        h, w = self.mask.shape[1:]
        if self.depth is not None:
            _checks.tensor("depth", self.depth, dims=3, shape=(n, h, w), dtypes=_checks.FLOATS)
        if self.normal is not None:
            _checks.tensor("normal", self.normal, dims=4, shape=(n, h, w, 3), dtypes=_checks.FLOATS)
        if self.rgb is not None:
            _checks.tensor("rgb", self.rgb, dims=4, shape=(n, h, w, 3), dtypes=_checks.FLOATS)
        if self.K is not None:
            _checks.tensor("K", self.K, dims=3, shape=(n, 3, 3), dtypes=_checks.FLOATS)
        if self.w2c is not None:
            _checks.tensor("w2c", self.w2c, dims=3, shape=(n, 4, 4), dtypes=_checks.FLOATS)
        if self.names is not None:
            self.names = [str(x) for x in self.names]
            if len(self.names) != n:
                raise ValueError("Expected %d names but got %d" % (n, len(self.names)))
        if self.to_world is None:
            self.to_world = torch.eye(4)

    def __len__(self):
        return self.mvp.shape[0]

    @property
    def resolution(self) -> Tuple[int, int]:
        return tuple(self.mask.shape[1:])

    def subset(self, idx):
        """The views ``idx`` (a list or 1-D index tensor)."""
        idx = torch.as_tensor(idx, dtype=torch.long, device=self.mvp.device).reshape(-1)
        pick = lambda t: None if t is None else t[idx]  # noqa: E731
        names = None if self.names is None else [self.names[i] for i in idx.tolist()]
        return Views(self.mvp[idx], self.campos[idx], self.mask[idx], pick(self.depth),
                     pick(self.normal), self.y_down, self.to_world, pick(self.rgb), pick(self.K),
                     pick(self.w2c), names)

    def resized(self, resolution):
        """The views at another image resolution (H, W): masks and (premultiplied) RGB by area
        averaging, depth and normals by mask-weighted area averaging (same field of view); the
        intrinsics ``K`` are scaled to match."""
        h, w = _pair(resolution)
        if (h, w) == self.resolution:
            return self
        m = self.mask[:, None]
        mode = "area" if h <= self.resolution[0] and w <= self.resolution[1] else "bilinear"
        kw = {} if mode == "area" else {"align_corners": False}
        m2 = F.interpolate(m, size=(h, w), mode=mode, **kw)
        hard = (m2 > 0.5).to(m2.dtype)

        def avg(x):  # (N, C, H, W) averaged over covered pixels
            s = F.interpolate(x * m, size=(h, w), mode=mode, **kw)
            return s / m2.clamp(min=1e-6) * hard

        depth = None if self.depth is None else avg(self.depth[:, None])[:, 0]
        normal = None
        if self.normal is not None:
            normal = avg(self.normal.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
            normal = F.normalize(normal, dim=-1) * hard[:, 0, ..., None]
        rgb = None
        if self.rgb is not None:
            rgb = F.interpolate(self.rgb.permute(0, 3, 1, 2), size=(h, w), mode=mode, **kw)
            rgb = rgb.permute(0, 2, 3, 1).contiguous()
        K = None
        if self.K is not None:  # pixel centres at integers: x' = (x + 0.5) * s - 0.5
            H0, W0 = self.resolution
            S = torch.tensor([[w / W0, 0, 0.5 * w / W0 - 0.5], [0, h / H0, 0.5 * h / H0 - 0.5],
                              [0, 0, 1]], dtype=self.K.dtype, device=self.K.device)
            K = S @ self.K
        return Views(self.mvp, self.campos, m2[:, 0], depth, normal, self.y_down, self.to_world,
                     rgb, K, self.w2c, self.names)

    def to(self, device):
        mv = lambda t: None if t is None else t.to(device)  # noqa: E731
        return Views(mv(self.mvp), mv(self.campos), mv(self.mask), mv(self.depth), mv(self.normal),
                     self.y_down, self.to_world, mv(self.rgb), mv(self.K), mv(self.w2c), self.names)


def _pair(resolution):
    if isinstance(resolution, int):
        resolution = (resolution, resolution)
    h, w = (int(r) for r in resolution)
    if h < 1 or w < 1:
        raise ValueError("Expected a positive image resolution but got %r" % (resolution,))
    return h, w


def face_normals(verts, faces):
    """(F, 3) unit normals of triangles, by winding (right-hand rule)."""
    v0, v1, v2 = take(verts, faces[:, 0]), take(verts, faces[:, 1]), take(verts, faces[:, 2])
    return F.normalize(torch.cross(v1 - v0, v2 - v0, dim=-1), dim=-1, eps=1e-20)


def render_buffers(verts, faces, mvp, campos, resolution, attrs=None, antialias_mask=True,
                   backend="auto"):
    """Rasterizes a mesh into mask, depth, normal and optional attribute images.

    Args:
        verts: (V, 3) float32 world positions (differentiable).
        faces: (F, 3) int64.
        mvp: (B, 4, 4) float32 world-to-clip matrices. campos: (B, 3) camera centers.
        resolution: (H, W).
        attrs: optional (V, C) float per-vertex attributes to interpolate (e.g. the mSDF).
        antialias_mask: antialias the mask so its gradient reaches the silhouettes.
    Returns:
        dict of tensors: ``rast`` (B, H, W, 4); ``covered`` (B, H, W) bool; ``mask`` (B, H, W)
        float (antialiased); ``depth`` (B, H, W) distance to the camera center (0 outside);
        ``normal`` (B, H, W, 3) world-space face normals by winding (0 outside); ``xyz`` (B, H,
        W, 3) surface positions; ``pos`` (B, V, 4) clip positions; ``front``
        (B, H, W) bool, covered by a face turned towards the camera; ``view_dir`` (B, H, W, 3)
        unit vectors from the surface to the camera (detached, 0 outside); ``attrs``
        (B, H, W, C) or None.
    """
    from gshell.render import antialias, interpolate, rasterize, transform_pos

    h, w = _pair(resolution)
    tri = faces.to(torch.int32).contiguous()
    pos = transform_pos(mvp, verts)
    rast = rasterize(pos, tri, (h, w), backend=backend)
    tid = rast[..., 3].detach().long() - 1
    covered = tid >= 0
    cov_f = covered.to(verts.dtype)
    xyz, _ = interpolate(verts, rast, tri)
    view_vec = campos[:, None, None, :] - xyz
    dist = view_vec.norm(dim=-1)
    depth = dist * cov_f
    view_dir = (view_vec / dist.clamp(min=1e-12)[..., None]).detach() * cov_f[..., None]
    fn = face_normals(verts, faces)
    normal = take(fn, tid.clamp(min=0)) * cov_f[..., None]
    front = covered & ((normal * view_vec).sum(-1) > 0)
    mask = cov_f
    if antialias_mask:
        mask = antialias(cov_f[..., None].contiguous(), rast, pos, tri)[..., 0]
    out_attrs = None
    if attrs is not None:
        out_attrs, _ = interpolate(attrs, rast, tri)
    return {"rast": rast, "covered": covered, "mask": mask, "depth": depth, "normal": normal,
            "front": front, "view_dir": view_dir, "attrs": out_attrs, "xyz": xyz, "pos": pos}


def sphere_cameras(n, distance=2.0, fovy=40.0, near=0.1, far=10.0, aspect=1.0, center=(0, 0, 0),
                   up=(0.0, 1.0, 0.0)):
    """``n`` cameras spread evenly over a sphere (a Fibonacci lattice), looking at ``center``.

    Returns:
        mvp (n, 4, 4) float32 (OpenGL: clip = P @ V @ [x, 1]), campos (n, 3) float32.
    """
    from gshell.render import look_at, perspective

    if int(n) < 1:
        raise ValueError("Expected n >= 1 cameras but got %r" % (n,))
    i = np.arange(int(n)) + 0.5
    y = 1 - 2 * i / n
    r = np.sqrt(np.maximum(0.0, 1 - y * y))
    phi = i * math.pi * (3 - math.sqrt(5))
    dirs = np.stack([r * np.cos(phi), y, r * np.sin(phi)], 1)
    c = torch.tensor(center, dtype=torch.float32)
    proj = perspective(fovy, aspect, near, far)
    mvps, eyes = [], []
    for d in dirs:
        eye = c + distance * torch.tensor(d, dtype=torch.float32)
        u = torch.tensor(up, dtype=torch.float32)
        if abs(float(np.dot(d, up))) > 0.99 * float(np.linalg.norm(up)):
            u = torch.tensor([0.0, 0.0, 1.0])
        mvps.append(proj @ look_at(eye, c, u))
        eyes.append(eye)
    return torch.stack(mvps), torch.stack(eyes)


def normalize_mesh(verts, extent=0.8):
    """Centers a mesh's bounding box at the origin and scales its largest side to ``extent``.

    Returns:
        verts (V, 3) in the grid's frame, to_world (4, 4) float32 mapping them back.
    """
    lo, hi = verts.min(0).values, verts.max(0).values
    center, size = 0.5 * (lo + hi), float((hi - lo).max())
    if not size > 0:
        raise ValueError("Expected a mesh with a non-zero extent but got a single point")
    s = extent / size
    to_world = torch.eye(4)
    to_world[:3, :3] /= s
    to_world[:3, 3] = center.float().cpu()
    return (verts - center) * s, to_world


@torch.no_grad()
def synthetic_views(verts, faces, n_views=24, resolution=256, distance=2.0, fovy=40.0,
                    backend="auto"):
    """Renders the target views of a mesh from ``n_views`` cameras on a sphere.

    Args:
        verts: (V, 3) float32, faces: (F, 3) int64; the mesh in the reconstruction frame (inside
            [-0.5, 0.5]^3, see :func:`normalize_mesh`).
        n_views: cameras on a Fibonacci sphere of radius ``distance`` around the origin.
        resolution: H = W of the images.
    Returns:
        Views with mask, depth and normal images.
    """
    _checks.tensor("verts", verts, dims=2, shape=(None, 3), dtypes=_checks.FLOATS)
    _checks.tensor("faces", faces, dims=2, shape=(None, 3), dtypes=_checks.INTS)
    if faces.shape[0] == 0:
        raise ValueError("Expected a target mesh with faces but got an empty mesh")
    _checks.index_range("faces", faces, verts.shape[0])
    _checks.finite("verts", verts)
    h, w = _pair(resolution)
    mvp, campos = sphere_cameras(n_views, distance, fovy, aspect=w / h)
    mvp, campos = mvp.to(verts.device), campos.to(verts.device)
    masks, depths, normals = [], [], []
    for s in range(0, n_views, 8):
        b = render_buffers(verts.float(), faces.long(), mvp[s:s + 8], campos[s:s + 8], (h, w),
                           antialias_mask=False, backend=backend)
        masks.append(b["mask"])
        depths.append(b["depth"])
        normals.append(b["normal"])
    return Views(mvp, campos, torch.cat(masks), torch.cat(depths), torch.cat(normals), y_down=False)


# ------------------------------------------------------------------------------ NeuS / IDR
def _opencv_to_clip(K, R, t, width, height, near, far):
    """4x4 world-to-clip matrix of an OpenCV camera (x right, y down, z forward; pixel centers at
    integer coordinates), with rows of the rasterized image = rows of the photograph."""
    fx, s, cx = K[0, 0], K[0, 1], K[0, 2]
    fy, cy = K[1, 1], K[1, 2]
    proj = np.array([
        [2 * fx / width, 2 * s / width, (2 * cx + 1) / width - 1, 0],
        [0, 2 * fy / height, (2 * cy + 1) / height - 1, 0],
        [0, 0, (far + near) / (far - near), -2 * far * near / (far - near)],
        [0, 0, 1, 0]])
    view = np.eye(4)
    view[:3, :3], view[:3, 3] = R, t
    return proj @ view


def decompose_projection(P):
    """Splits a 3x4 projection matrix into K (upper triangular, positive diagonal, K[2,2] = 1),
    a rotation R and a translation t with P ~ K [R | t].

    Returns:
        K (3, 3), R (3, 3), t (3,), camera center (3,) as float64 arrays.
    """
    from scipy.linalg import rq

    P = np.asarray(P, np.float64)[:3, :4]
    if np.linalg.det(P[:, :3]) < 0:
        P = -P
    K, R = rq(P[:, :3])
    T = np.diag(np.sign(np.diag(K)))
    K, R = K @ T, T @ R
    t = np.linalg.solve(K, P[:, 3])
    K = K / K[2, 2]
    return K, R, t, -R.T @ t


def _read_image(path):
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGBA") if im.mode in ("RGBA", "LA", "P") else im.convert("RGB"))


def load_neus(folder, max_views=None, scale=0.5):
    """Loads a NeuS/IDR scene: ``image/*.png``, ``mask/*.png`` (or the images' alpha) and
    ``cameras_sphere.npz`` with ``world_mat_i`` (P = K [R | t]) and ``scale_mat_i`` (maps the unit
    sphere around the object to world space).

    The reconstruction frame is the unit sphere scaled by ``scale`` (0.5 puts the object inside
    the [-0.5, 0.5]^3 tet grid); ``Views.to_world`` maps it back to the scene's world space.

    Returns:
        Views with masks only (depth and normal None), ``y_down=True``.
    """
    if not os.path.isdir(folder):
        raise FileNotFoundError("Expected a NeuS scene folder but %r is not a directory" % folder)
    cam_path = os.path.join(folder, "cameras_sphere.npz")
    if not os.path.exists(cam_path):
        raise FileNotFoundError("Expected cameras_sphere.npz in %r but it is missing" % folder)
    images = sorted(glob.glob(os.path.join(folder, "image", "*.png")) +
                    glob.glob(os.path.join(folder, "image", "*.jpg")))
    if not images:
        raise FileNotFoundError("Expected images in %r but found none (*.png, *.jpg)"
                                % os.path.join(folder, "image"))
    masks = sorted(glob.glob(os.path.join(folder, "mask", "*.png")))
    if masks and len(masks) != len(images):
        raise ValueError("Expected one mask per image but got %d masks for %d images"
                         % (len(masks), len(images)))
    cams = np.load(cam_path)
    n = len(images) if max_views is None else min(len(images), int(max_views))
    pick = np.linspace(0, len(images) - 1, n).round().astype(int) if n < len(images) else np.arange(n)
    norm = np.diag([1 / scale, 1 / scale, 1 / scale, 1.0])  # reconstruction frame -> unit sphere
    mvps, eyes, ms = [], [], []
    scale_mat0 = None
    for i in pick:
        for key in ("world_mat_%d" % i, "scale_mat_%d" % i):
            if key not in cams:
                raise ValueError("Expected %s in %s but it is missing (cameras for %d images)"
                                 % (key, cam_path, len(images)))
        world, smat = cams["world_mat_%d" % i], cams["scale_mat_%d" % i]
        scale_mat0 = smat if scale_mat0 is None else scale_mat0
        P = (world @ smat @ norm)[:3, :4]
        K, R, t, c = decompose_projection(P)
        img = _read_image(images[i])
        h, w = img.shape[:2]
        if masks:
            m = _read_image(masks[i]).astype(np.float32)
            m = m[..., :3].mean(-1) / 255.0
        elif img.shape[-1] == 4:
            m = img[..., 3].astype(np.float32) / 255.0
        else:
            raise ValueError("Expected a mask/ folder or images with an alpha channel in %r" % folder)
        if m.shape != (h, w):
            raise ValueError("Expected mask %s of size %dx%d but got %dx%d"
                             % (masks[i], w, h, m.shape[1], m.shape[0]))
        dist = float(np.linalg.norm(c))
        near, far = max(dist - 1.0, 1e-2), dist + 1.0
        mvps.append(_opencv_to_clip(K, R, t, w, h, near, far))
        eyes.append(c)
        ms.append(m)
    if len({m.shape for m in ms}) != 1:
        raise ValueError("Expected all images of one size but got sizes %s" % sorted({m.shape for m in ms}))
    to_world = torch.tensor(scale_mat0 @ norm, dtype=torch.float32)
    return Views(torch.tensor(np.stack(mvps), dtype=torch.float32),
                 torch.tensor(np.stack(eyes), dtype=torch.float32),
                 torch.tensor(np.stack(ms), dtype=torch.float32), y_down=True, to_world=to_world)
