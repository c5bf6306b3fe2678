"""Pictures of generated shapes: a gallery of shaded views, and each sample's nearest training shape.

A generator of open meshes is judged by eye as much as by numbers: a gallery shows each sample
from a few fixed cameras, inside and outside told apart (open meshes show their back faces through
their openings), next to its nearest training shape by Chamfer distance, the check for
memorisation that MeshDiffusion (Liu et al., ICLR 2023, https://arxiv.org/abs/2303.08133) and
G-MeshDiffusion ("Ghost on the Shell", Liu et al., ICLR 2024, https://arxiv.org/abs/2310.15168)
show with their samples.

Rendering uses gshell's rasterizer (:func:`gshell.recon.views.render_buffers`, on the CPU) and
needs Pillow (the ``render`` extra) to write the PNG and its labels.
"""
import math
import os

import numpy as np
import torch

from gshell import _checks

__all__ = ["CAMERAS", "render_gallery", "nearest_shapes"]

#: The fixed cameras, in the order the gallery's columns use them: name -> direction from the
#: origin to the eye (normalised when used). Shapes live in the grid box [-0.5, 0.5]^3, y up.
CAMERAS = (
    ("front", (0.0, 0.25, 1.0)),
    ("three-quarter", (0.7, 0.35, 0.7)),
    ("side", (1.0, 0.2, 0.0)),
    ("back", (0.0, 0.25, -1.0)),
    ("above", (0.35, 1.0, 0.5)),
    ("back three-quarter", (-0.7, 0.35, -0.7)),
    ("other side", (-1.0, 0.2, 0.0)),
    ("below", (0.35, -0.8, 0.5)),
)
_DISTANCE = 2.2        # camera distance from the origin
_FOVY = 40.0           # degrees: a sphere of radius 0.75 about the origin is in view
_FRONT = (0.72, 0.76, 0.86)     # outside (front faces): blue-grey
_BACK = (0.88, 0.52, 0.36)      # inside (back faces): orange-red
_BACKGROUND = 255
_BLANK = 236                    # an empty mesh's tile
_BORDER = (40, 140, 90)         # the neighbour tile's frame
_TEXT = (60, 60, 60)


# --------------------------------------------------------------------------------- validation
def _to_numpy(x):
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _mesh(name, mesh):
    """(verts (V, 3) float32 tensor, faces (F, 3) int64 tensor) on the CPU, checked."""
    if not isinstance(mesh, (tuple, list)) or len(mesh) != 2:
        got = ("a %s of %d items" % (type(mesh).__name__, len(mesh)) if isinstance(mesh, (tuple, list))
               else "a %s" % type(mesh).__name__)
        raise TypeError("Expected %s to be a (verts, faces) pair but got %s" % (name, got))
    try:
        v, f = _to_numpy(mesh[0]), _to_numpy(mesh[1])
    except (TypeError, ValueError) as e:
        raise TypeError("Expected %s to hold arrays or tensors but got %s" % (name, e)) from None
    if f.size == 0 and v.size == 0:
        v = v.reshape(0, 3)
    if f.size == 0:
        f = f.reshape(0, 3)
    real = np.issubdtype(v.dtype, np.floating) or np.issubdtype(v.dtype, np.integer)
    if v.ndim != 2 or v.shape[1] != 3 or not real:
        raise ValueError("Expected %s verts of shape (V, 3) and a real dtype but got shape %s, dtype %s"
                         % (name, v.shape, v.dtype))
    if f.ndim != 2 or f.shape[1] != 3 or not (np.issubdtype(f.dtype, np.integer) or f.shape[0] == 0):
        raise ValueError("Expected %s faces of shape (F, 3) with an integer dtype but got shape %s, dtype %s"
                         % (name, f.shape, f.dtype))
    if not np.isfinite(v).all():
        raise ValueError("Expected %s verts to be finite but got %d NaN/Inf values"
                         % (name, int((~np.isfinite(v)).sum())))
    if f.shape[0] and (f.min() < 0 or f.max() >= v.shape[0]):
        raise ValueError("Expected %s faces to index its %d vertices (in [0, %d)) but got indices in [%d, %d]"
                         % (name, v.shape[0], v.shape[0], f.min(), f.max()))
    return torch.from_numpy(np.ascontiguousarray(v, np.float32)), torch.from_numpy(np.ascontiguousarray(f, np.int64))


def _area(v, f):
    if f.shape[0] == 0:
        return 0.0
    a, b, c = v[f[:, 0]].double(), v[f[:, 1]].double(), v[f[:, 2]].double()
    return float(torch.linalg.cross(b - a, c - a).norm(dim=1).sum() / 2)


def _mesh_list(name, meshes, allow_none=False):
    if not isinstance(meshes, (list, tuple)):
        raise TypeError("Expected %s to be a list of (verts, faces) meshes but got a %s"
                        % (name, type(meshes).__name__))
    return [None if (allow_none and m is None) else _mesh("%s[%d]" % (name, i), m) for i, m in enumerate(meshes)]


# ---------------------------------------------------------------------------------- rendering
def _cameras(indices):
    from gshell.render import look_at, perspective

    d = torch.tensor([CAMERAS[i][1] for i in indices], dtype=torch.float64)
    eye = _DISTANCE * d / d.norm(dim=1, keepdim=True)
    up = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64).expand_as(eye)
    view = look_at(eye, torch.zeros_like(eye), up)
    mvp = perspective(_FOVY, 1.0, 0.1, 10.0, dtype=torch.float64) @ view
    return mvp.float(), eye.float()


def _shade(verts, faces, cam_indices, res):
    """(len(cam_indices), res, res, 3) uint8 shaded views, top row first."""
    from gshell.recon.views import render_buffers

    mvp, eye = _cameras(cam_indices)
    with torch.no_grad():
        b = render_buffers(verts, faces, mvp, eye, (res, res), antialias_mask=False, backend="gshell")
    lam = (b["normal"] * b["view_dir"]).sum(-1).abs()
    front, back = torch.tensor(_FRONT), torch.tensor(_BACK)
    col = torch.where(b["front"][..., None], front, back) * (0.3 + 0.7 * lam)[..., None]
    m = b["covered"][..., None].float()
    img = col * m + (_BACKGROUND / 255.0) * (1 - m)
    return (img.clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)[:, ::-1]   # OpenGL: row 0 at the bottom


def _font(res):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=max(10, res // 12))
    except TypeError:          # Pillow < 10.1: one bitmap size
        return ImageFont.load_default()


def _label(tile, text, where="top"):
    """Draws ``text`` on an (H, W, 3) uint8 tile (clipped to it) at its top-left corner,
    bottom-left corner or centre (``where``); returns the new tile."""
    from PIL import Image, ImageDraw

    if not text:
        return tile
    im = Image.fromarray(tile)
    draw = ImageDraw.Draw(im)
    font = _font(tile.shape[0])
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    pad = max(2, tile.shape[0] // 40)
    x, y = pad, pad
    if where == "bottom":
        y = tile.shape[0] - pad - (bottom - top)
    elif where == "centre":
        x, y = (tile.shape[1] - (right - left)) // 2, (tile.shape[0] - (bottom - top)) // 2
    draw.text((x - left, y - top), text, fill=_TEXT, font=font)
    return np.asarray(im).copy()


def _blank(res, note):
    return _label(np.full((res, res, 3), _BLANK, np.uint8), note, "centre")


def _frame(tile, colour, width):
    t = tile.copy()
    t[:width], t[-width:], t[:, :width], t[:, -width:] = colour, colour, colour, colour
    return t


def render_gallery(meshes, path, views=3, res=128, titles=None, neighbours=None):
    """Writes a PNG grid of shaded views: one row per mesh, one column per camera, and optionally
    one more column with each row's nearest training shape.

    The cameras are the first ``views`` of :data:`CAMERAS` (front, three-quarter, side, back,
    above, back three-quarter, other side, below), all looking at the origin from distance 2.2 with a 40 degree field
    of view, y up: the ball of radius 0.75 about the origin is in view (the collection's shapes lie
    in [-0.45, 0.45]^3; only the grid box's corners can leave the picture), and every mesh is drawn
    at the same scale (meshes are not re-centred, so sizes compare across rows). Surfaces are lit by a
    headlight; front faces are blue-grey and back faces orange-red, so the inside of an open mesh
    shows as such. An empty mesh (no faces) gets a grey tile marked "empty mesh". A neighbour tile
    is drawn from the three-quarter camera inside a green frame and marked "nearest" (or "no
    neighbour" where the entry is None). ``titles`` are written in the top-left corner of each
    row's first tile (Pillow's default font).

    Args:
        meshes: list of M >= 1 meshes, each a (verts (V, 3) float, faces (F, 3) int) pair of torch
            tensors (any device) or NumPy arrays; F may be 0.
        path: str or os.PathLike ending in ``.png``; its folder must exist. Written atomically (a
            temporary file, then ``os.replace``): an error leaves no file (and an old one as it was).
        views: int in [1, 8], cameras per mesh.
        res: int in [16, 2048], pixels per tile side.
        titles: None or a list of M str (e.g. kind and seed).
        neighbours: None or a list of M meshes (or None entries), e.g. ``reference[i]`` for the
            indices of :func:`nearest_shapes`.
    Returns:
        (rows, columns): the grid's shape in tiles; the image is (rows res) x (columns res) pixels,
        columns = views (+ 1 with neighbours).
    Raises:
        TypeError, ValueError: bad arguments (named); FileNotFoundError: the folder is missing.

    Example:
        >>> idx, dist = nearest_shapes(samples, train)
        >>> render_gallery(samples, "gallery.png", titles=["%.4f" % d for d in dist],
        ...                neighbours=[train[i] if i >= 0 else None for i in idx])
    """
    from gshell._atomic import write_atomic

    try:
        from PIL import Image
    except ImportError:
        raise ImportError("render_gallery needs Pillow: pip install 'gshell-mesh[render]'") from None
    ms = _mesh_list("meshes", meshes)
    if not ms:
        raise ValueError("Expected meshes to hold at least one mesh but got an empty list")
    views = _checks.integer("views", views, lo=1, hi=len(CAMERAS))
    res = _checks.integer("res", res, lo=16, hi=2048)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError("Expected path to be a str or os.PathLike but got %s" % type(path).__name__)
    path = os.fspath(path)
    if not path.lower().endswith(".png"):
        raise ValueError("Expected path to end in .png but got %r" % path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError("Expected the folder of path to exist but %r does not" % folder)
    if titles is not None:
        if not isinstance(titles, (list, tuple)) or len(titles) != len(ms):
            raise ValueError("Expected titles to be None or a list of %d str (one per mesh) but got %s"
                             % (len(ms), "%d items" % len(titles) if isinstance(titles, (list, tuple))
                                else "a %s" % type(titles).__name__))
        bad = [i for i, t in enumerate(titles) if not isinstance(t, str)]
        if bad:
            raise TypeError("Expected titles to hold str but titles[%d] is a %s"
                            % (bad[0], type(titles[bad[0]]).__name__))
    ns = None
    if neighbours is not None:
        ns = _mesh_list("neighbours", neighbours, allow_none=True)
        if len(ns) != len(ms):
            raise ValueError("Expected neighbours to be None or a list of %d meshes (one per mesh) but got %d"
                             % (len(ms), len(ns)))

    cols = views + (ns is not None)
    sheet = np.full((len(ms) * res, cols * res, 3), _BACKGROUND, np.uint8)
    border = max(2, res // 48)
    cams = list(range(views))
    for r, (v, f) in enumerate(ms):
        row = [_blank(res, "empty mesh")] * views if f.shape[0] == 0 else list(_shade(v, f, cams, res))
        if titles is not None:
            row[0] = _label(row[0], titles[r], "top")
        if ns is not None:
            nb = ns[r]
            if nb is None:
                tile = _blank(res, "no neighbour")
            elif nb[1].shape[0] == 0:
                tile = _blank(res, "empty mesh")
            else:
                tile = _label(_shade(nb[0], nb[1], [1], res)[0], "nearest", "bottom")
            row.append(_frame(tile, _BORDER, border))
        for c, tile in enumerate(row):
            sheet[r * res:(r + 1) * res, c * res:(c + 1) * res] = tile
    write_atomic(path, lambda tmp: Image.fromarray(sheet).save(tmp, format="PNG"))
    return len(ms), cols


# ------------------------------------------------------------------------------ nearest shapes
def nearest_shapes(generated, reference, n_points=2048, seed=0):
    """The nearest reference (training) shape of each generated shape, by Chamfer distance.

    Every mesh is sampled with :func:`gshell.metrics.sample_surface` (``n_points`` points, seeds
    ``[seed, 0, i]`` for generated mesh i and ``[seed, 1, j]`` for reference j, as
    :func:`gshell.metrics.generation_metrics` does, so the distances are that function's), and the
    clouds are compared with :func:`gshell.metrics.chamfer_matrix` (squared distances, both ways).

    Args:
        generated: list of G >= 1 (verts (V, 3), faces (F, 3)) meshes (tensors or arrays); a mesh
            with no faces or no area has no nearest shape.
        reference: list of R >= 1 meshes, each with positive area.
        n_points: int >= 1, points per mesh.
        seed: int >= 0.
    Returns:
        idx: (G,) int64 NumPy array, the index into ``reference`` of each generated mesh's nearest
        shape (-1 for an empty one); dist: (G,) float64 NumPy array, its Chamfer distance (inf for
        an empty one).

    Example:
        >>> idx, dist = nearest_shapes(samples, train, n_points=2048)
    """
    from gshell.metrics import chamfer_matrix, sample_surface

    n_points = _checks.integer("n_points", n_points, lo=1, hi=10 ** 7)
    seed = _checks.integer("seed", seed, lo=0)
    gen = _mesh_list("generated", generated)
    ref = _mesh_list("reference", reference)
    for name, ms in (("generated", gen), ("reference", ref)):
        if not ms:
            raise ValueError("Expected %s to hold at least one mesh but got an empty list" % name)
    for j, (v, f) in enumerate(ref):
        if not _area(v, f) > 0:
            raise ValueError("Expected reference[%d] to be a mesh with positive area but got %d faces of area %g"
                             % (j, f.shape[0], _area(v, f)))
    ok = [i for i, (v, f) in enumerate(gen) if _area(v, f) > 0]
    idx = np.full(len(gen), -1, np.int64)
    dist = np.full(len(gen), math.inf)
    if ok:
        a = [sample_surface(gen[i][0], gen[i][1], n_points, seed=[seed, 0, i])[0] for i in ok]
        b = [sample_surface(v, f, n_points, seed=[seed, 1, j])[0] for j, (v, f) in enumerate(ref)]
        d = chamfer_matrix(a, b)
        idx[ok] = d.argmin(1)
        dist[ok] = d.min(1)
    return idx, dist
