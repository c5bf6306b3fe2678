"""Mesh attributes beside positions and faces: what they are, how they are checked, which format
holds which.

An attributes dict holds any of:

- ``"vertex_colors"``: (V, 4) uint8 RGBA (sRGB, as stored in files);
- ``"vertex_normals"``: (V, 3) float32;
- ``"uv"``: (V, 2) float32 texture coordinates (glTF/OBJ convention: u right, v up, origin at the
  image's bottom-left);
- ``"texture"``: (H, W, 3 or 4) uint8 base-colour image, addressed by ``"uv"``;
- any other name: a (V,) float per-vertex scalar (PLY properties such as ``"msdf"``, ``"quality"``).

Attributes are per vertex: a file with per-corner texture coordinates or normals (OBJ ``vt``/``vn``
indices) is read with its vertices split where one position carries several of them.
"""
import numpy as np

from gshell.io._common import _describe, _to_numpy

COLORS, NORMALS, UV, TEXTURE = "vertex_colors", "vertex_normals", "uv", "texture"
NAMED = (COLORS, NORMALS, UV, TEXTURE)
# how the named attributes read in messages
LABELS = {COLORS: "vertex colours", NORMALS: "vertex normals", UV: "texture coordinates (uv)",
          TEXTURE: "the texture image", "scalars": "per-vertex scalar properties"}

# what each format can hold; everything else is dropped with a warning
HOLDS = {
    "ply": {COLORS, NORMALS, UV, TEXTURE, "scalars"},
    "obj": {COLORS, NORMALS, UV, TEXTURE},
    "glb": {COLORS, NORMALS, UV, TEXTURE},
    "gltf": {COLORS, NORMALS, UV, TEXTURE},
}


def check_attributes(attrs, nv):
    """Validated NumPy copies of an attributes dict for a mesh of ``nv`` vertices.

    Args:
        attrs: dict (see the module docstring) of tensors or arrays, or None.
        nv: number of vertices.
    Returns:
        dict of NumPy arrays: colours (V, 4) uint8 (RGB gets alpha 255; floats in [0, 1] are
        scaled to 0..255), normals (V, 3) float32, uv (V, 2) float32, texture (H, W, C) uint8,
        scalars (V,) float32/float64.
    Raises:
        TypeError, ValueError: naming the attribute, its expected and actual shape and dtype.
    """
    if attrs is None:
        return {}
    if not isinstance(attrs, dict):
        raise TypeError("Expected attributes to be a dict name -> array but got %s" % type(attrs).__name__)
    out = {}
    for name, value in attrs.items():
        if not isinstance(name, str):
            raise TypeError("Expected attribute names to be strings but got %r" % (name,))
        arg = "attributes[%r]" % name
        a = _to_numpy(arg, value)
        if name == TEXTURE:
            if a.ndim == 2:
                a = a[..., None].repeat(3, -1)
            if a.ndim != 3 or a.shape[2] not in (3, 4) or min(a.shape[:2]) < 1:
                raise ValueError("Expected %s of shape (H, W, 3 or 4) but got %s" % (arg, _describe(value)))
            out[name] = _to_uint8(arg, a, value)
            continue
        if a.ndim == 0 or a.shape[0] != nv:
            raise ValueError("Expected %s to have one row per vertex (%d) but got %s" % (arg, nv, _describe(value)))
        if name == COLORS:
            if a.ndim != 2 or a.shape[1] not in (3, 4):
                raise ValueError("Expected %s of shape (V, 3 or 4) but got %s" % (arg, _describe(value)))
            a = _to_uint8(arg, a, value)
            if a.shape[1] == 3:
                a = np.concatenate([a, np.full((nv, 1), 255, np.uint8)], 1)
            out[name] = a
            continue
        if not np.issubdtype(a.dtype, np.floating) and not np.issubdtype(a.dtype, np.integer) or a.dtype == np.bool_:
            raise TypeError("Expected %s to be numeric but got %s" % (arg, _describe(value)))
        want = {NORMALS: 3, UV: 2}.get(name)
        if want is not None and (a.ndim != 2 or a.shape[1] != want):
            raise ValueError("Expected %s of shape (V, %d) but got %s" % (arg, want, _describe(value)))
        if want is None and a.ndim != 1:
            raise ValueError("Expected %s (a per-vertex scalar) of shape (V,) but got %s" % (arg, _describe(value)))
        if a.size and not np.isfinite(a).all():
            raise ValueError("Expected finite values in %s but got NaN/Inf" % arg)
        out[name] = a.astype(np.float32 if want is not None or a.dtype != np.float64 else np.float64)
    if TEXTURE in out and UV not in out:
        raise ValueError("Expected attributes['uv'] with attributes['texture'] (the texture needs "
                         "texture coordinates) but got only the texture")
    return out


def split_corners(v, f, attrs, corner_values):
    """Splits vertices so that a per-corner attribute becomes per-vertex.

    Each vertex keeps its id for the value of its first corner (in face order); every further
    distinct value of a vertex gets a new vertex, appended in order of first use. Vertices no face
    uses stay, with zeros for the value.

    Args:
        v: (V, 3) array. f: (F, 3) int64 array. attrs: per-vertex attributes (copied to the new
            vertices). corner_values: (F, 3, K) array, the attribute at each face corner.
    Returns:
        v (V', 3), f (F, 3), attrs, values (V', K).
    """
    nv, k = v.shape[0], corner_values.shape[-1]
    fc = f.reshape(-1)
    cv = corner_values.reshape(-1, k)
    keys = np.concatenate([fc[:, None].astype(np.float64), cv.astype(np.float64)], 1)
    uniq, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    owner = fc[first]                                      # the vertex of each distinct (vertex, value)
    by_vertex = np.lexsort((first, owner))
    primary = np.ones(by_vertex.size, bool)
    primary[1:] = owner[by_vertex][1:] != owner[by_vertex][:-1]
    ids = np.empty(uniq.shape[0], np.int64)
    ids[by_vertex[primary]] = owner[by_vertex[primary]]
    extra = by_vertex[~primary]
    extra = extra[np.argsort(first[extra], kind="stable")]
    ids[extra] = nv + np.arange(extra.size)
    src = np.concatenate([np.arange(nv), owner[extra]])
    values = np.zeros((nv + extra.size, k), corner_values.dtype)
    values[ids] = cv[first]
    new_attrs = {n: (a if n == TEXTURE else a[src]) for n, a in attrs.items()}
    return v[src], ids[inverse.reshape(-1)].reshape(-1, 3), new_attrs, values


def _to_uint8(arg, a, orig):
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a)
    if np.issubdtype(a.dtype, np.floating):
        if a.size and not (np.isfinite(a).all() and a.min() >= 0 and a.max() <= 1):
            raise ValueError("Expected %s as floats in [0, 1] or uint8 but got values outside [0, 1]" % arg)
        return np.round(a * 255).astype(np.uint8)
    if np.issubdtype(a.dtype, np.integer) and a.dtype != np.bool_:
        if a.size and (a.min() < 0 or a.max() > 255):
            raise ValueError("Expected %s as integers in [0, 255] but got values in [%d, %d]"
                             % (arg, a.min(), a.max()))
        return a.astype(np.uint8)
    raise TypeError("Expected %s as uint8 or floats in [0, 1] but got %s" % (arg, _describe(orig)))


def kept(fmt, attrs):
    """The attributes of ``attrs`` that format ``fmt`` holds."""
    holds = HOLDS.get(fmt, set())
    return {n: a for n, a in attrs.items() if n in holds or n not in NAMED and "scalars" in holds}


def dropped(fmt, attrs):
    """The labels of the attributes in ``attrs`` that format ``fmt`` cannot hold."""
    holds = HOLDS.get(fmt, set())
    out = [LABELS[n] for n in NAMED if n in attrs and n not in holds]
    if fmt == "obj" and COLORS in attrs and (np.asarray(attrs[COLORS])[:, 3] != 255).any():
        out.append("the alpha of the vertex colours")
    if any(n not in NAMED for n in attrs) and "scalars" not in holds:
        out.append("%s (%s)" % (LABELS["scalars"], ", ".join(sorted(n for n in attrs if n not in NAMED))))
    return out


def describe(attrs):
    """A short text listing the attributes present, e.g. 'vertex colours, uv, texture 512x512'."""
    parts = []
    if COLORS in attrs:
        parts.append("vertex colours")
    if NORMALS in attrs:
        parts.append("normals")
    if UV in attrs:
        parts.append("uv")
    if TEXTURE in attrs:
        parts.append("texture %dx%d" % (attrs[TEXTURE].shape[1], attrs[TEXTURE].shape[0]))
    scalars = sorted(n for n in attrs if n not in NAMED)
    if scalars:
        parts.append("scalars " + ", ".join(scalars))
    return ", ".join(parts)
