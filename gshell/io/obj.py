"""Wavefront OBJ, with its MTL material file: positions and faces, and the attributes OBJ holds
(vertex colours as ``v x y z r g b``, ``vt``, ``vn``, a ``map_Kd`` texture)."""
import os

import numpy as np

from gshell._atomic import write_bytes
from gshell.io._common import _fan, _mesh_arrays


def write_obj(path, verts, faces):
    """Writes a triangle mesh as a Wavefront OBJ file (``v`` and 1-based ``f`` lines),
    atomically. Positions are written with 9 significant digits (float32 round trip).

    Args:
        path: destination. verts: (V, 3) float. faces: (F, 3) int.
    """
    v, f = _mesh_arrays(verts, faces)
    lines = ["# written by gshell"]
    lines += ["v %.9g %.9g %.9g" % tuple(p) for p in v.tolist()]
    lines += ["f %d %d %d" % tuple(t) for t in (f + 1).tolist()]
    write_bytes(path, [("\n".join(lines) + "\n").encode("ascii")])


def _read_obj(path):
    verts, polys = [], []
    with open(path, "r", encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line or line[0] not in "vf":
                continue
            w = line.split()
            if not w:
                continue
            try:
                if w[0] == "v":
                    if len(w) < 4:
                        raise ValueError
                    verts.append((float(w[1]), float(w[2]), float(w[3])))
                elif w[0] == "f":
                    if len(w) < 4:
                        raise ValueError
                    nv = len(verts)
                    idx = []
                    for t in w[1:]:
                        i = int(t.split("/", 1)[0])
                        idx.append(i - 1 if i > 0 else nv + i)
                    polys.append(idx)
            except ValueError:
                raise ValueError("cannot parse line %d %r" % (lineno, line.strip()[:60])) from None
    return np.array(verts, np.float32).reshape(-1, 3), _fan(polys)


# ----------------------------------------------------------------------------- attributes
def _index(token, n, lineno, what):
    i = int(token)
    j = i - 1 if i > 0 else n + i
    if i == 0 or not 0 <= j < n:
        raise ValueError("line %d: %s index %d out of range (%d defined so far)" % (lineno, what, i, n))
    return j


def _materials(path, names):
    """{material name: texture path} of the ``map_Kd`` entries of the MTL files ``names``."""
    out = {}
    folder = os.path.dirname(os.path.abspath(path))
    for name in names:
        mtl = os.path.join(folder, name)
        if not os.path.isfile(mtl):
            continue  # a missing MTL carries nothing to lose
        current = None
        with open(mtl, "r", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                w = line.split()
                if not w:
                    continue
                if w[0] == "newmtl" and len(w) > 1:
                    current = line.split(None, 1)[1].strip()
                elif w[0] == "map_Kd" and len(w) > 1 and current is not None:
                    out[current] = os.path.join(folder, w[-1])  # options (-s ...) come first
    return out


def read_obj_mesh(path):
    """An OBJ file's mesh and attributes (see :mod:`gshell.io.attributes`) as NumPy arrays.

    Polygons are fanned into triangles. Where a position is used with several ``vt``/``vn``
    (texture seams, hard edges), it is split into one vertex per distinct pair: each vertex keeps
    its id for its first pair, the others are appended. The texture is the ``map_Kd`` image of
    the material the faces use (from the ``mtllib`` file beside the OBJ).

    Raises:
        ValueError: a line that does not parse, an index out of range, faces that use materials
            with different textures (one mesh holds one texture), naming the line.
    """
    from gshell.io._image import read_image
    from gshell.io.attributes import COLORS, NORMALS, TEXTURE, UV, split_corners

    p = os.fspath(path)
    verts, colors, uvs, normals = [], [], [], []
    polys, corner_t, corner_n, face_mtl = [], [], [], []
    mtllibs, material = [], None
    with open(p, "r", encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            w = line.split()
            if not w or w[0].startswith("#"):
                continue
            key = w[0]
            try:
                if key == "v":
                    if len(w) < 4:
                        raise ValueError("line %d: expected 'v x y z [r g b]'" % lineno)
                    verts.append([float(x) for x in w[1:4]])
                    colors.append([float(x) for x in w[4:7]] if len(w) >= 7 else None)
                elif key == "vt":
                    if len(w) < 3:
                        raise ValueError("line %d: expected 'vt u v'" % lineno)
                    uvs.append([float(w[1]), float(w[2])])
                elif key == "vn":
                    if len(w) < 4:
                        raise ValueError("line %d: expected 'vn x y z'" % lineno)
                    normals.append([float(x) for x in w[1:4]])
                elif key == "f":
                    if len(w) < 4:
                        raise ValueError("line %d: expected a face of at least 3 vertices" % lineno)
                    vi, ti, ni = [], [], []
                    for t in w[1:]:
                        parts = t.split("/")
                        vi.append(_index(parts[0], len(verts), lineno, "vertex"))
                        ti.append(_index(parts[1], len(uvs), lineno, "texture coordinate")
                                  if len(parts) > 1 and parts[1] else -1)
                        ni.append(_index(parts[2], len(normals), lineno, "normal")
                                  if len(parts) > 2 and parts[2] else -1)
                    for k in range(1, len(vi) - 1):
                        polys.append([vi[0], vi[k], vi[k + 1]])
                        corner_t.append([ti[0], ti[k], ti[k + 1]])
                        corner_n.append([ni[0], ni[k], ni[k + 1]])
                        face_mtl.append(material)
                elif key == "mtllib":
                    mtllibs += line.split(None, 1)[1].split() if len(w) > 1 else []
                elif key == "usemtl":
                    material = line.split(None, 1)[1].strip() if len(w) > 1 else None
            except ValueError as e:
                msg = str(e) if str(e).startswith("line") else "line %d: cannot parse %r" % (lineno, line.strip()[:60])
                raise ValueError(msg) from None
    v = np.array(verts, np.float32).reshape(-1, 3)
    f = np.array(polys, np.int64).reshape(-1, 3)
    attrs = {}
    if colors and all(c is not None for c in colors):
        c = np.clip(np.array(colors, np.float64), 0, 1)
        attrs[COLORS] = np.concatenate([np.round(c * 255).astype(np.uint8),
                                        np.full((len(c), 1), 255, np.uint8)], 1)
    ct = np.array(corner_t, np.int64).reshape(-1, 3)
    cn = np.array(corner_n, np.int64).reshape(-1, 3)
    have_t = ct.size > 0 and (ct >= 0).all()
    have_n = cn.size > 0 and (cn >= 0).all()
    if have_t or have_n:
        parts = []
        if have_t:
            parts.append(np.array(uvs, np.float32)[ct])
        if have_n:
            parts.append(np.array(normals, np.float32)[cn])
        v, f, attrs, values = split_corners(v, f, attrs, np.concatenate(parts, -1))
        if have_t:
            attrs[UV] = values[:, :2]
        if have_n:
            attrs[NORMALS] = values[:, -3:]
    if have_t and mtllibs:
        textures = _materials(p, mtllibs)
        used = sorted({textures[m] for m in set(face_mtl) if m in textures})
        if len(used) > 1:
            raise ValueError("expected the faces to use one textured material but they use %d textures "
                             "(%s); merge them into one atlas first" % (len(used), ", ".join(map(os.path.basename, used))))
        if used:
            attrs[TEXTURE] = read_image(used[0])
    return v, f, attrs


def write_obj_mesh(path, verts, faces, attrs):
    """Writes a mesh with attributes as OBJ, atomically: colours as ``v x y z r g b`` (alpha is not
    stored), ``vt``/``vn`` per vertex, and with a texture ``<stem>.mtl`` and ``<stem>.png`` beside it.

    Args:
        path: destination. verts: (V, 3) array. faces: (F, 3) int64 array. attrs: checked
            attributes (:func:`gshell.io.attributes.check_attributes`).
    """
    from gshell.io._image import encode_png
    from gshell.io.attributes import COLORS, NORMALS, TEXTURE, UV

    v, f = _mesh_arrays(verts, faces)
    p = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(p))
    stem = os.path.splitext(os.path.basename(p))[0]
    lines = ["# written by gshell"]
    side = []  # (path, bytes) written before the OBJ
    if TEXTURE in attrs:
        lines += ["mtllib %s.mtl" % stem, "usemtl material0"]
        mtl = "# written by gshell\nnewmtl material0\nKa 1 1 1\nKd 1 1 1\nKs 0 0 0\nd 1\nillum 1\nmap_Kd %s.png\n" % stem
        side = [(os.path.join(folder, stem + ".png"), encode_png(attrs[TEXTURE])),
                (os.path.join(folder, stem + ".mtl"), mtl.encode("ascii"))]
    if COLORS in attrs:
        c = attrs[COLORS][:, :3].astype(np.float64) / 255
        lines += ["v %.9g %.9g %.9g %.6g %.6g %.6g" % (tuple(a) + tuple(b)) for a, b in zip(v.tolist(), c.tolist())]
    else:
        lines += ["v %.9g %.9g %.9g" % tuple(a) for a in v.tolist()]
    if UV in attrs:
        lines += ["vt %.9g %.9g" % tuple(t) for t in attrs[UV].tolist()]
    if NORMALS in attrs:
        lines += ["vn %.9g %.9g %.9g" % tuple(n) for n in attrs[NORMALS].tolist()]
    g = (f + 1).tolist()
    if UV in attrs and NORMALS in attrs:
        lines += ["f %d/%d/%d %d/%d/%d %d/%d/%d" % (a, a, a, b, b, b, c, c, c) for a, b, c in g]
    elif UV in attrs:
        lines += ["f %d/%d %d/%d %d/%d" % (a, a, b, b, c, c) for a, b, c in g]
    elif NORMALS in attrs:
        lines += ["f %d//%d %d//%d %d//%d" % (a, a, b, b, c, c) for a, b, c in g]
    else:
        lines += ["f %d %d %d" % tuple(t) for t in g]
    created = []
    try:
        for sp, data in side:
            if not os.path.exists(sp):
                created.append(sp)
            write_bytes(sp, [data])
        write_bytes(p, [("\n".join(lines) + "\n").encode("ascii")])
    except BaseException:
        for sp in created:
            if os.path.exists(sp):
                os.remove(sp)
        raise
