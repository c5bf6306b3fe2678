"""Grid tensors: a G-Shell on a regular tet grid as one (6, R, R, R) tensor, and back.

A G-Shell on :meth:`gshell.TetGrid.regular` ``(res)`` has, per grid vertex, an SDF, an mSDF and a
deformation. gshell's regular grids are cubic lattices (vertex ``(i, j, k)`` sits at
``-0.5 + (i, j, k) / res``, index ``i (R^2) + j R + k`` with ``R = res + 1``), so the fields are
stored on the vertex lattice as they are: no re-gridding. The channels, all in [-1, 1]:

====  =======  ==========================================================================
 0    sdf      SDF / (2 h), clamped (h = 1 / res: a crossing edge's ends are within ±0.87)
 1    msdf     mSDF / (2 h), clamped; the surface is kept where it is > 0
 2-4  deform   vertex offset / ``max_deform(res)`` (``h / 2.1``, so no tet can invert)
 5    mask     +1 on the ends of grid edges the surface crosses (the vertices that place it),
              -1 elsewhere
====  =======  ==========================================================================

Canonical form (:func:`canonicalise`, as MeshDiffusion and G-MeshDiffusion fix the values away
from the surface): off the mask, the SDF is its sign (±1), the mSDF is -1 and the deformation 0;
those values do not change the extracted mesh, so equal meshes give equal tensors, and
``canonicalise(canonicalise(t)) == canonicalise(t)``. The mask is recomputed from the SDF's signs
(a sample's mask channel is not trusted).
"""
import numpy as np
import torch

from gshell import _checks

#: Channel names, in order.
CHANNELS = ("sdf", "msdf", "dx", "dy", "dz", "mask")
NUM_CHANNELS = len(CHANNELS)

_GRIDS = {}


def grid(res, device="cpu"):
    """The regular tet grid of ``res`` cubes per axis (cached per resolution and device)."""
    from gshell.tetgrid import TetGrid

    key = (int(res), str(torch.device(device)))
    if key not in _GRIDS:
        if len(_GRIDS) > 3:
            _GRIDS.clear()
        _GRIDS[key] = TetGrid.regular(int(res), device=device)
    return _GRIDS[key]


def field_scale(res):
    """Length that maps to 1 in the sdf and msdf channels: two grid spacings, ``2 / res``."""
    return 2.0 / res


def max_deform(res):
    """The deformation bound, ``(1 / res) / 2.1`` (GShellGeometry's default)."""
    return (1.0 / res) / 2.1


def resolution_of(tensor, name="tensor"):
    """The grid resolution ``res`` of a (6, R, R, R) or (B, 6, R, R, R) tensor (R = res + 1)."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError("Expected %s to be a torch.Tensor but got %s" % (name, type(tensor).__name__))
    shape = tuple(tensor.shape)
    if tensor.dim() not in (4, 5) or shape[-4] != NUM_CHANNELS or len(set(shape[-3:])) != 1 or shape[-1] < 3:
        raise ValueError("Expected %s of shape (%d, R, R, R) or (B, %d, R, R, R) with R >= 3 but got shape %s"
                         % (name, NUM_CHANNELS, NUM_CHANNELS, shape))
    return shape[-1] - 1


def _crossing_vertices(sdf_sign, g):
    """(N,) bool: ends of grid edges whose endpoints' signs (sdf > 0) differ."""
    e = g.edges
    pos = sdf_sign
    cross = pos[e[:, 0]] != pos[e[:, 1]]
    m = torch.zeros(pos.shape[0], dtype=torch.bool, device=pos.device)
    m[e[cross].reshape(-1)] = True
    return m


def encode(sdf, msdf, deform, res):
    """Fields of a G-Shell on ``TetGrid.regular(res)`` -> its canonical grid tensor.

    Args:
        sdf: (N,) float tensor, N = (res+1)^3, in the grid's lengths.
        msdf: (N,) float tensor.
        deform: (N, 3) float tensor (vertex offsets, lengths) or None (no deformation).
        res: int, cubes per axis.
    Returns:
        (6, res+1, res+1, res+1) float32 tensor on the fields' device, canonical.
    """
    res = _checks.integer("res", res, lo=2)
    n = (res + 1) ** 3
    _checks.tensor("sdf", sdf, dims=1, shape=(n,), dtypes=_checks.FLOATS)
    _checks.tensor("msdf", msdf, dims=1, shape=(n,), dtypes=_checks.FLOATS, device=sdf.device)
    _checks.finite("sdf", sdf)
    _checks.finite("msdf", msdf)
    if deform is None:
        deform = sdf.new_zeros(n, 3)
    _checks.tensor("deform", deform, dims=2, shape=(n, 3), dtypes=_checks.FLOATS, device=sdf.device)
    _checks.finite("deform", deform)
    s = field_scale(res)
    r = res + 1
    t = torch.cat([(sdf / s)[:, None], (msdf / s)[:, None], deform / max_deform(res),
                   sdf.new_zeros(n, 1)], 1).float()
    return canonicalise(t.t().reshape(NUM_CHANNELS, r, r, r))


def canonicalise(tensor):
    """The canonical form of a grid tensor (see the module docstring); idempotent.

    Args:
        tensor: (6, R, R, R) or (B, 6, R, R, R) float tensor (e.g. a sample of the model).
    Returns:
        a new float32 tensor of the same shape: values clamped to [-1, 1], a zero SDF made
        negative (the extraction's rule: inside is sdf <= 0), the mask recomputed, off-mask values
        fixed.
    """
    res = resolution_of(tensor)
    if tensor.dim() == 5:
        return torch.stack([canonicalise(t) for t in tensor]) if tensor.shape[0] else tensor.float().clone()
    _checks.finite("tensor", tensor)
    g = grid(res, tensor.device)
    t = tensor.detach().float().reshape(NUM_CHANNELS, -1).clamp(-1.0, 1.0).clone()
    pos = t[0] > 0
    m = _crossing_vertices(pos, g)
    sign = torch.where(pos, 1.0, -1.0)
    t[0] = torch.where(m, torch.where(pos, t[0], t[0].clamp(max=0.0)), sign)
    t[1] = torch.where(m, t[1], torch.full_like(t[1], -1.0))
    t[2:5] = torch.where(m[None], t[2:5], torch.zeros_like(t[2:5]))
    t[5] = torch.where(m, 1.0, -1.0)
    return t.reshape(tensor.shape)


def decode(tensor):
    """Grid tensor -> the G-Shell fields it stores (after :func:`canonicalise`).

    Args:
        tensor: (6, R, R, R) float tensor.
    Returns:
        (vertices (N, 3), sdf (N,), msdf (N,), grid): float32 tensors on the tensor's device, the
        deformed grid vertices and the fields in lengths, and the TetGrid, ready for
        :func:`gshell.gshell_extract`.
    """
    if tensor.dim() != 4:
        raise ValueError("Expected tensor of shape (%d, R, R, R) but got shape %s" % (
            NUM_CHANNELS, tuple(tensor.shape)))
    t = canonicalise(tensor)
    res = resolution_of(t)
    g = grid(res, t.device)
    flat = t.reshape(NUM_CHANNELS, -1)
    s = field_scale(res)
    verts = g.vertices + max_deform(res) * flat[2:5].t()
    return verts, flat[0] * s, flat[1] * s, g


def drop_small_components(verts, faces, min_fraction=0.02):
    """Removes connected components with fewer than ``min_fraction`` of the faces, and unused
    vertices.

    Args:
        verts: (V, 3) float tensor. faces: (F, 3) int64 tensor.
        min_fraction: float in [0, 1).
    Returns:
        (verts (V', 3), faces (F', 3)) tensors, vertices renumbered in their original order.
    """
    from gshell.ops.mesh_components import connected_components

    if faces.shape[0] == 0:
        return verts[:0], faces
    nv = verts.shape[0]
    e = faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    labels = connected_components(e, nv)
    flab = labels[faces[:, 0]]
    counts = torch.bincount(flab)
    keep = counts[flab] >= min_fraction * faces.shape[0]
    faces = faces[keep]
    used = torch.zeros(nv, dtype=torch.bool, device=verts.device)
    used[faces.reshape(-1)] = True
    remap = torch.cumsum(used.long(), 0) - 1
    return verts[used], remap[faces]


def extract(tensor, min_component=0.02):
    """Grid tensor -> open mesh: :func:`decode`, :func:`gshell.gshell_extract`, then components
    under ``min_component`` of the faces dropped.

    Args:
        tensor: (6, R, R, R) float tensor.
        min_component: float in [0, 1), 0 keeps every component.
    Returns:
        verts (V, 3) float32 tensor, faces (F, 3) int64 tensor (both may be empty), in the grid
        box [-0.5, 0.5]^3.
    """
    from gshell.ops.gshell_extract import gshell_extract

    min_component = _checks.real("min_component", min_component, lo=0.0, hi=1.0)
    with torch.no_grad():
        verts, sdf, msdf, g = decode(tensor)
        out = gshell_extract(verts, sdf, msdf, g)
        return drop_small_components(out.verts, out.faces, min_component)


def to_numpy_mesh(verts, faces, to_world=None):
    """(V, 3) float32 and (F, 3) int64 NumPy arrays, optionally mapped by a 4x4 ``to_world``."""
    v = verts.detach().cpu().double().numpy()
    if to_world is not None:
        T = np.asarray(to_world, np.float64)
        v = v @ T[:3, :3].T + T[:3, 3]
    return v.astype(np.float32), faces.detach().cpu().numpy().astype(np.int64)


def pack(tensor):
    """A compact form of a canonical grid tensor (for shipping a training set with a model):
    the SDF's signs as bits, and the five value channels on the mask in float16.

    Args:
        tensor: (6, R, R, R) float tensor (canonicalised here).
    Returns:
        dict of CPU tensors ``res`` (int), ``signs`` (uint8 bits), ``mask`` (uint8 bits),
        ``values`` ((M, 5) float16, M = mask count); :func:`unpack` inverts it up to float16
        rounding of the values on the mask.
    """
    t = canonicalise(tensor).cpu().reshape(NUM_CHANNELS, -1)
    m = t[5] > 0
    bits = lambda b: torch.from_numpy(np.packbits(b.numpy()))  # noqa: E731
    return {"res": resolution_of(tensor), "signs": bits(t[0] > 0), "mask": bits(m),
            "values": t[:5, m].t().half().contiguous()}


def unpack(packed):
    """Inverse of :func:`pack`: the (6, R, R, R) float32 canonical tensor."""
    try:
        res = int(packed["res"])
        n = (res + 1) ** 3
        signs = torch.from_numpy(np.unpackbits(packed["signs"].numpy())[:n].astype(bool))
        m = torch.from_numpy(np.unpackbits(packed["mask"].numpy())[:n].astype(bool))
        values = packed["values"].float()
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        raise ValueError("Expected a packed grid tensor (res, signs, mask, values) but got %s: %s"
                         % (type(packed).__name__, e)) from None
    if values.shape != (int(m.sum()), 5):
        raise ValueError("Expected packed values of shape (%d, 5) but got %s" % (int(m.sum()), tuple(values.shape)))
    t = torch.zeros(NUM_CHANNELS, n)
    t[0] = torch.where(signs, 1.0, -1.0)
    t[1] = -1.0
    t[:5, m] = values.t()
    # the stored signs win over float16 rounding (a tiny positive SDF may round to 0)
    t[0] = torch.where(signs, t[0].clamp(min=1e-4), t[0].clamp(max=0.0))
    t[5] = torch.where(m, 1.0, -1.0)
    r = res + 1
    return canonicalise(t.reshape(NUM_CHANNELS, r, r, r))
