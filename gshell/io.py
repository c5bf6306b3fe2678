"""Mesh input and output: PLY (binary little-endian written; ASCII and both binary byte orders read).

Only numpy and torch are needed. Writes are atomic: the mesh goes to a temporary file in the
destination folder, which replaces ``path`` only once it is complete, so an error never leaves
a partial file (and never clobbers an existing one).

Example:
    >>> import torch, gshell.io
    >>> verts = torch.tensor([[0., 0, 0], [1, 0, 0], [0, 1, 0]])
    >>> faces = torch.tensor([[0, 1, 2]])
    >>> gshell.io.write_ply("tri.ply", verts, faces, {"msdf": torch.tensor([0.1, 0.2, 0.3])})
    >>> v, f, attrs = gshell.io.read_ply("tri.ply")
    >>> v.shape, f.tolist(), sorted(attrs)
    (torch.Size([3, 3]), [[0, 1, 2]], ['msdf'])
"""
import os
import re
import sys

import numpy as np
import torch

from gshell._atomic import write_atomic, write_bytes

__all__ = ["write_ply", "read_ply", "write_obj", "write_glb", "save_mesh", "load_mesh", "mesh_info",
           "to_trimesh", "from_trimesh", "to_open3d", "from_open3d", "to_pymeshlab", "from_pymeshlab",
           "load_tetgrid", "save_tetgrid"]

# PLY scalar types -> numpy type codes (without byte order).
_PLY_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-.]*$")
_MAX_HEADER_BYTES = 1 << 20


# ---------------------------------------------------------------------------------- helpers
def _describe(x):
    if isinstance(x, torch.Tensor):
        return "a tensor of shape %s, dtype %s on %s" % (tuple(x.shape), x.dtype, x.device)
    if isinstance(x, np.ndarray):
        return "an array of shape %s, dtype %s" % (x.shape, x.dtype)
    return "%s" % type(x).__name__


def _to_numpy(name, x):
    """torch tensor (any device, grad or not) or numpy array -> numpy array."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, np.ndarray):
        return x
    raise TypeError("Expected %s to be a torch.Tensor or numpy.ndarray but got %s" % (name, _describe(x)))


def _check_float_array(name, x, shape_desc, shape_ok, orig):
    if not (np.issubdtype(x.dtype, np.floating)):
        raise TypeError("Expected %s to have a floating dtype (float16/32/64) but got %s" % (name, _describe(orig)))
    if not shape_ok(x.shape):
        raise ValueError("Expected %s of shape %s but got %s" % (name, shape_desc, _describe(orig)))
    if x.size and not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).sum())
        raise ValueError("Expected finite values in %s but got %d NaN/Inf entries in %s" % (name, bad, _describe(orig)))


# ---------------------------------------------------------------------------------- writing
def write_ply(path, verts, faces, vertex_attrs=None):
    """Writes a triangle mesh as a binary little-endian PLY file, atomically.

    Vertices are written as ``float x, y, z`` (float32) plus one ``float`` property per entry of
    ``vertex_attrs``; faces as ``list uchar int vertex_indices``. An empty mesh (0 vertices,
    0 faces) and a point set (faces of shape (0, 3)) are valid and written as such.

    The file is first written to a temporary file in the folder of ``path`` and then moved over
    ``path`` with ``os.replace``; if anything fails, no partial file is left behind and an
    existing file at ``path`` is untouched. Inputs are validated before anything is written.

    Args:
        path: str or os.PathLike, destination; its folder must exist.
        verts: (V, 3) floating torch.Tensor or numpy array, any device; finite. Stored as float32.
        faces: (F, 3) integer torch.Tensor or numpy array, indices in [0, V). V must be < 2^31.
        vertex_attrs: optional dict name -> (V,) floating tensor/array of finite values (e.g.
            ``{"msdf": result.msdf}``), stored as float32 vertex properties. Names must be PLY
            identifiers (letters, digits, ``_-.``, not starting with a digit), not x, y or z.
    Raises:
        TypeError, ValueError: on invalid inputs ("Expected X but got Y", naming the argument).
        OSError: if the file cannot be written.

    Example:
        >>> out = gshell.gshell_extract(p, sdf, msdf, grid)
        >>> gshell.io.write_ply("mesh.ply", out.verts, out.faces, {"msdf": out.msdf})
    """
    v = _to_numpy("verts", verts)
    _check_float_array("verts", v, "(V, 3)", lambda s: len(s) == 2 and s[1] == 3, verts)
    nv = v.shape[0]
    if nv >= 2 ** 31:
        raise ValueError("Expected fewer than 2^31 vertices but got %d" % nv)

    f = _to_numpy("faces", faces)
    if f.dtype == np.bool_ or not np.issubdtype(f.dtype, np.integer):
        raise TypeError("Expected faces to have an integer dtype but got %s" % _describe(faces))
    if f.ndim != 2 or f.shape[1] != 3:
        raise ValueError("Expected faces of shape (F, 3) but got %s" % _describe(faces))
    if f.size:
        lo, hi = int(f.min()), int(f.max())
        if lo < 0 or hi >= nv:
            raise ValueError("Expected faces to index vertices in [0, %d) but got indices in [%d, %d]"
                             % (nv, lo, hi))

    attrs = []
    if vertex_attrs is not None:
        if not isinstance(vertex_attrs, dict):
            raise TypeError("Expected vertex_attrs to be a dict name -> (V,) tensor but got %s"
                            % type(vertex_attrs).__name__)
        for name, a in vertex_attrs.items():
            if not isinstance(name, str) or not _NAME_RE.match(name) or name in ("x", "y", "z"):
                raise ValueError("Expected vertex_attrs names to be PLY identifiers other than x, y, z "
                                 "(letters, digits, '_-.') but got %r" % (name,))
            arg = "vertex_attrs[%r]" % name
            arr = _to_numpy(arg, a)
            _check_float_array(arg, arr, "(%d,)" % nv, lambda s: s == (nv,), a)
            attrs.append((name, arr))

    vdtype = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4")] + [(n, "<f4") for n, _ in attrs])
    vrec = np.empty(nv, dtype=vdtype)
    for i, c in enumerate("xyz"):
        vrec[c] = v[:, i]
    for n, arr in attrs:
        vrec[n] = arr
    frec = np.empty(f.shape[0], dtype=np.dtype([("n", "u1"), ("i", "<i4", (3,))]))
    frec["n"] = 3
    frec["i"] = f

    from gshell import __version__
    header = ["ply", "format binary_little_endian 1.0", "comment written by gshell %s" % __version__,
              "element vertex %d" % nv, "property float x", "property float y", "property float z"]
    header += ["property float %s" % n for n, _ in attrs]
    header += ["element face %d" % f.shape[0], "property list uchar int vertex_indices", "end_header"]
    payload = [("\n".join(header) + "\n").encode("ascii"), vrec.tobytes(), frec.tobytes()]
    write_bytes(path, payload)


# ---------------------------------------------------------------------------------- reading
class _Element:
    def __init__(self, name, count):
        self.name, self.count, self.props = name, count, []  # props: (name, type, count_type|None)


def _parse_header(fh, path):
    def bad(msg):
        return ValueError("Malformed PLY file %r: %s" % (os.fspath(path), msg))

    first = fh.readline(16)
    if first.rstrip(b"\r\n") != b"ply":
        raise bad("expected the first line to be 'ply' but got %r" % first[:16])
    fmt, elements, nbytes = None, [], len(first)
    while True:
        line = fh.readline(_MAX_HEADER_BYTES)
        nbytes += len(line)
        if not line:
            raise bad("expected 'end_header' but the file ended in the header")
        if nbytes > _MAX_HEADER_BYTES:
            raise bad("expected a header shorter than %d bytes" % _MAX_HEADER_BYTES)
        try:
            text = line.decode("ascii").strip()
        except UnicodeDecodeError:
            raise bad("expected an ASCII header but got %r" % line[:40]) from None
        words = text.split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        key = words[0]
        if key == "end_header":
            break
        if key == "format":
            if len(words) != 3 or words[1] not in ("ascii", "binary_little_endian", "binary_big_endian"):
                raise bad("expected 'format ascii|binary_little_endian|binary_big_endian 1.0' but got %r" % text)
            if words[2] not in ("1.0", "1"):
                raise bad("expected format version 1.0 but got %r" % words[2])
            fmt = words[1]
        elif key == "element":
            if len(words) != 3 or not words[2].isdigit():
                raise bad("expected 'element NAME COUNT' but got %r" % text)
            elements.append(_Element(words[1], int(words[2])))
        elif key == "property":
            if not elements:
                raise bad("expected 'element' before %r" % text)
            if len(words) == 3 and words[1] in _PLY_TYPES:
                elements[-1].props.append((words[2], _PLY_TYPES[words[1]], None))
            elif (len(words) == 5 and words[1] == "list" and words[2] in _PLY_TYPES
                  and words[3] in _PLY_TYPES):
                if _PLY_TYPES[words[2]][0] == "f":
                    raise bad("expected an integer list count type but got %r" % text)
                elements[-1].props.append((words[4], _PLY_TYPES[words[3]], _PLY_TYPES[words[2]]))
            else:
                raise bad("expected 'property TYPE NAME' or 'property list TYPE TYPE NAME' with "
                          "TYPE in %s but got %r" % (sorted(set(_PLY_TYPES)), text))
        else:
            raise bad("unknown header keyword %r" % key)
    if fmt is None:
        raise bad("expected a 'format' line in the header")
    return fmt, elements


class _Ascii:
    """Token stream over the body of an ASCII PLY file."""

    def __init__(self, data, path):
        self.lines = data.decode("ascii", errors="replace").splitlines()
        self.pos = 0
        self.path = path

    def rows(self, el):
        rows = []
        while len(rows) < el.count:
            if self.pos >= len(self.lines):
                raise ValueError("Malformed PLY file %r: expected %d %s rows but the file ends after %d"
                                 % (self.path, el.count, el.name, len(rows)))
            line = self.lines[self.pos].split()
            self.pos += 1
            if line:
                rows.append(line)
        return rows


def _read_ascii_element(stream, el, path):
    rows = stream.rows(el)
    out = {}
    if all(ct is None for _, _, ct in el.props):
        k = len(el.props)
        if any(len(r) != k for r in rows):
            r = next(r for r in rows if len(r) != k)
            raise ValueError("Malformed PLY file %r: expected %d values per %s row but got %d (%r)"
                             % (path, k, el.name, len(r), " ".join(r)[:60]))
        try:
            table = np.array(rows, dtype=np.float64).reshape(len(rows), k)
        except ValueError as e:
            raise ValueError("Malformed PLY file %r: expected numbers in the %s rows (%s)" % (path, el.name, e)) from None
        for j, (name, t, _) in enumerate(el.props):
            out[name] = table[:, j].astype(t)
        return out
    cols = {name: [] for name, _, _ in el.props}
    for r in rows:
        i = 0
        try:
            for name, t, ct in el.props:
                if ct is None:
                    cols[name].append(float(r[i]))
                    i += 1
                else:
                    n = int(r[i])
                    if n < 0 or i + 1 + n > len(r):
                        raise IndexError
                    cols[name].append([float(x) for x in r[i + 1:i + 1 + n]])
                    i += 1 + n
        except (ValueError, IndexError):
            raise ValueError("Malformed PLY file %r: cannot parse %s row %r" % (path, el.name, " ".join(r)[:60])) from None
        if i != len(r):
            raise ValueError("Malformed PLY file %r: expected %d values in %s row but got %d (%r)"
                             % (path, i, el.name, len(r), " ".join(r)[:60]))
    for name, t, ct in el.props:
        out[name] = np.array(cols[name], dtype=t) if ct is None else [np.array(x, dtype=t) for x in cols[name]]
    return out


def _read_binary_element(buf, off, el, order, path):
    """Returns (columns, new offset). Lists come back as an (N, k) array when every row has k
    entries, else as a list of arrays."""
    def short(need):
        return ValueError("Malformed PLY file %r: expected %d more bytes of %s data but the file has %d"
                          % (path, need, el.name, len(buf) - off))

    if all(ct is None for _, _, ct in el.props):
        dt = np.dtype([(name, order + t) for name, t, _ in el.props])
        need = dt.itemsize * el.count
        if len(buf) - off < need:
            raise short(need)
        rec = np.frombuffer(buf, dtype=dt, count=el.count, offset=off)
        return {name: rec[name] for name, _, _ in el.props}, off + need
    # Fast path: every list property has the same count in every row (triangles), so the rows
    # have a fixed layout: read the counts of the first row, then check them in every row.
    if el.count:
        fields, pos, ok = [], off, True
        for j, (name, t, ct) in enumerate(el.props):
            if ct is None:
                fields.append(("p%d" % j, order + t))
                pos += np.dtype(t).itemsize
                continue
            ctd = np.dtype(order + ct)
            if len(buf) - pos < ctd.itemsize:
                ok = False
                break
            k = int(np.frombuffer(buf, dtype=ctd, count=1, offset=pos)[0])
            if k <= 0:
                ok = False
                break
            fields += [("n%d" % j, ctd), ("p%d" % j, order + t, (k,))]
            pos += ctd.itemsize + k * np.dtype(t).itemsize
        if ok:
            dt = np.dtype(fields)
            if len(buf) - off >= dt.itemsize * el.count:
                rec = np.frombuffer(buf, dtype=dt, count=el.count, offset=off)
                counts_ok = all((rec["n%d" % j] == rec["n%d" % j][0]).all()
                                for j, (_, _, ct) in enumerate(el.props) if ct is not None)
                if counts_ok:
                    return ({name: rec["p%d" % j] for j, (name, _, _) in enumerate(el.props)},
                            off + dt.itemsize * el.count)
    # General path, row by row.
    cols = {name: [] for name, _, _ in el.props}
    mv = memoryview(buf)
    for _ in range(el.count):
        for name, t, ct in el.props:
            if ct is None:
                d = np.dtype(order + t)
                if len(buf) - off < d.itemsize:
                    raise short(d.itemsize)
                cols[name].append(np.frombuffer(mv, dtype=d, count=1, offset=off)[0])
                off += d.itemsize
            else:
                cd, d = np.dtype(order + ct), np.dtype(order + t)
                if len(buf) - off < cd.itemsize:
                    raise short(cd.itemsize)
                n = int(np.frombuffer(mv, dtype=cd, count=1, offset=off)[0])
                off += cd.itemsize
                if n < 0:
                    raise ValueError("Malformed PLY file %r: expected a list length >= 0 in %s but got %d"
                                     % (path, el.name, n))
                if len(buf) - off < n * d.itemsize:
                    raise short(n * d.itemsize)
                cols[name].append(np.frombuffer(mv, dtype=d, count=n, offset=off).copy())
                off += n * d.itemsize
    out = {}
    for name, t, ct in el.props:
        out[name] = np.array(cols[name], dtype=t) if ct is None else cols[name]
    return out, off


def _triangulate(polys, nv, path):
    """(F, k) array or list of index arrays -> (F', 3) int64 by fanning polygons."""
    if isinstance(polys, np.ndarray):
        if polys.ndim != 2 or polys.shape[1] < 3:
            raise ValueError("Malformed PLY file %r: expected faces with at least 3 vertices but got %d"
                             % (path, polys.shape[1] if polys.ndim == 2 else 0))
        p = polys.astype(np.int64)
        k = p.shape[1]
        tris = np.stack([np.repeat(p[:, :1], k - 2, 1), p[:, 1:-1], p[:, 2:]], -1).reshape(-1, 3)
    else:
        out = []
        for poly in polys:
            if len(poly) < 3:
                raise ValueError("Malformed PLY file %r: expected faces with at least 3 vertices but got %d"
                                 % (path, len(poly)))
            p = np.asarray(poly, dtype=np.int64)
            out.append(np.stack([np.full(len(p) - 2, p[0]), p[1:-1], p[2:]], -1))
        tris = np.concatenate(out) if out else np.zeros((0, 3), np.int64)
    if tris.size and (tris.min() < 0 or tris.max() >= nv):
        raise ValueError("Malformed PLY file %r: expected face indices in [0, %d) but got indices in [%d, %d]"
                         % (path, nv, tris.min(), tris.max()))
    return tris


def read_ply(path):
    """Reads a mesh from a PLY file (ASCII, binary little- or big-endian).

    Reads everything :func:`write_ply` writes, and common PLY files from other tools: extra
    vertex properties are returned in ``attrs``; faces with more than 3 vertices are split
    into triangle fans; elements other than ``vertex`` and ``face`` are skipped.

    Args:
        path: str or os.PathLike.
    Returns:
        verts: (V, 3) float32 tensor (CPU).
        faces: (F, 3) int64 tensor (CPU); (0, 3) if the file has no face element.
        attrs: dict name -> (V,) CPU tensor for every other scalar vertex property: float32 for
            ``float``, float64 for ``double``, int64 for integer types.
    Raises:
        ValueError: if the file is not a well-formed PLY file (bad header, missing x/y/z,
            truncated data, face indices out of range, ...), naming the file and the problem.
        OSError: if the file cannot be read.
    """
    path_s = os.fspath(path)
    with open(path_s, "rb") as fh:
        fmt, elements = _parse_header(fh, path_s)
        body = fh.read()
    names = [e.name for e in elements]
    if "vertex" not in names:
        raise ValueError("Malformed PLY file %r: expected a 'vertex' element but got elements %s" % (path_s, names))
    order = {"binary_little_endian": "<", "binary_big_endian": ">"}.get(fmt)
    stream = _Ascii(body, path_s) if order is None else None
    off, data = 0, {}
    for el in elements:
        if not el.props:
            continue  # an element without properties has no data
        if order is None:
            cols = _read_ascii_element(stream, el, path_s)
        else:
            cols, off = _read_binary_element(body, off, el, order, path_s)
        if el.name in ("vertex", "face") and el.name not in data:
            data[el.name] = (el, cols)
        if "vertex" in data and "face" in data:
            break  # nothing after them is needed

    vel, vcols = data["vertex"]
    vprops = {name: ct for name, _, ct in vel.props}
    for c in "xyz":
        if c not in vprops or vprops[c] is not None:
            raise ValueError("Malformed PLY file %r: expected scalar vertex properties x, y, z but got %s"
                             % (path_s, [n for n, _, _ in vel.props]))
    nv = vel.count
    verts = np.stack([np.asarray(vcols[c], dtype=np.float32) for c in "xyz"], -1).reshape(nv, 3)
    attrs = {}
    for name, t, ct in vel.props:
        if name in ("x", "y", "z") or ct is not None:
            continue
        col = np.asarray(vcols[name])
        col = col.astype(np.float32 if t == "f4" else np.float64 if t == "f8" else np.int64)
        attrs[name] = torch.from_numpy(np.ascontiguousarray(col))

    faces = np.zeros((0, 3), dtype=np.int64)
    if "face" in data:
        fel, fcols = data["face"]
        lists = [(n, ct) for n, _, ct in fel.props if ct is not None and n in ("vertex_indices", "vertex_index")]
        if not lists:
            raise ValueError("Malformed PLY file %r: expected a face property 'list ... vertex_indices' but got %s"
                             % (path_s, [n for n, _, _ in fel.props]))
        polys = fcols[lists[0][0]]
        if fel.count:
            faces = _triangulate(polys, nv, path_s)
    return (torch.from_numpy(np.ascontiguousarray(verts)), torch.from_numpy(np.ascontiguousarray(faces)), attrs)




def _mesh_arrays(verts, faces):
    """Validated float32 (V, 3) and int64 (F, 3) arrays (same rules as write_ply)."""
    v = _to_numpy("verts", verts)
    _check_float_array("verts", v, "(V, 3)", lambda s: len(s) == 2 and s[1] == 3, verts)
    f = _to_numpy("faces", faces)
    if f.dtype == np.bool_ or not np.issubdtype(f.dtype, np.integer):
        raise TypeError("Expected faces to have an integer dtype but got %s" % _describe(faces))
    if f.ndim != 2 or f.shape[1] != 3:
        raise ValueError("Expected faces of shape (F, 3) but got %s" % _describe(faces))
    if f.size and (int(f.min()) < 0 or int(f.max()) >= v.shape[0]):
        raise ValueError("Expected faces to index vertices in [0, %d) but got indices in [%d, %d]"
                         % (v.shape[0], int(f.min()), int(f.max())))
    return v.astype(np.float32), f.astype(np.int64)


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


def write_glb(path, verts, faces):
    """Writes a triangle mesh as binary glTF 2.0 (one mesh, float32 positions, uint32 indices),
    atomically.

    Args:
        path: destination. verts: (V, 3) float, at least one vertex. faces: (F, 3) int.
    """
    import json
    import struct

    v, f = _mesh_arrays(verts, faces)
    if v.shape[0] == 0:
        raise ValueError("Expected at least one vertex for a GLB file but got an empty mesh")
    doc, binary = _gltf_doc(v, f)
    js = _pad4(json.dumps(doc, separators=(",", ":")).encode("utf-8"), b" ")
    total = 12 + 8 + len(js) + 8 + len(binary)
    write_bytes(path, [struct.pack("<4sII", b"glTF", 2, total),
                         struct.pack("<I4s", len(js), b"JSON"), js,
                         struct.pack("<I4s", len(binary), b"BIN\0"), binary])


def _pad4(b, fill):
    """``b`` padded with the byte ``fill`` to a multiple of 4 bytes (glTF chunk alignment)."""
    return b + fill * (-len(b) % 4)


def _gltf_doc(v, f):
    """The glTF document (dict) and binary buffer of one triangle mesh."""
    pos = _pad4(v.astype("<f4").tobytes(), b"\0")
    idx = _pad4(f.astype("<u4").tobytes(), b"\0")
    prim = {"attributes": {"POSITION": 0}, "mode": 4}
    views = [{"buffer": 0, "byteOffset": 0, "byteLength": v.nbytes, "target": 34962}]
    accessors = [{"bufferView": 0, "componentType": 5126, "count": int(v.shape[0]), "type": "VEC3",
                  "min": v.min(0).tolist(), "max": v.max(0).tolist()}]
    if f.shape[0]:
        prim["indices"] = 1
        views.append({"buffer": 0, "byteOffset": len(pos), "byteLength": f.size * 4, "target": 34963})
        accessors.append({"bufferView": 1, "componentType": 5125, "count": int(f.size),
                          "type": "SCALAR"})
    else:
        prim["mode"] = 0  # points
    doc = {"asset": {"version": "2.0", "generator": "gshell"}, "scene": 0,
           "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}], "meshes": [{"primitives": [prim]}],
           "buffers": [{"byteLength": len(pos) + len(idx)}], "bufferViews": views,
           "accessors": accessors}
    return doc, pos + idx


def write_gltf(path, verts, faces):
    """Writes a triangle mesh as a single-file glTF 2.0 (JSON with the buffer embedded as a base64
    data URI), atomically.

    Args:
        path: destination. verts: (V, 3) float, at least one vertex. faces: (F, 3) int.
    """
    import base64
    import json

    v, f = _mesh_arrays(verts, faces)
    if v.shape[0] == 0:
        raise ValueError("Expected at least one vertex for a glTF file but got an empty mesh")
    doc, binary = _gltf_doc(v, f)
    doc["buffers"][0]["uri"] = "data:application/octet-stream;base64," + base64.b64encode(binary).decode("ascii")
    write_bytes(path, [json.dumps(doc).encode("utf-8")])


def write_ply_ascii(path, verts, faces):
    """Writes a triangle mesh as an ASCII PLY file (9 significant digits), atomically.

    Args:
        path: destination. verts: (V, 3) float. faces: (F, 3) int.
    """
    v, f = _mesh_arrays(verts, faces)
    from gshell import __version__
    header = ["ply", "format ascii 1.0", "comment written by gshell %s" % __version__,
              "element vertex %d" % v.shape[0], "property float x", "property float y", "property float z",
              "element face %d" % f.shape[0], "property list uchar int vertex_indices", "end_header"]
    lines = header + ["%.9g %.9g %.9g" % tuple(p) for p in v.tolist()]
    lines += ["3 %d %d %d" % tuple(t) for t in f.tolist()]
    write_bytes(path, [("\n".join(lines) + "\n").encode("ascii")])


def write_off(path, verts, faces):
    """Writes a triangle mesh as an OFF file (9 significant digits), atomically.

    Args:
        path: destination. verts: (V, 3) float. faces: (F, 3) int.
    """
    v, f = _mesh_arrays(verts, faces)
    lines = ["OFF", "%d %d 0" % (v.shape[0], f.shape[0])]
    lines += ["%.9g %.9g %.9g" % tuple(p) for p in v.tolist()]
    lines += ["3 %d %d %d" % tuple(t) for t in f.tolist()]
    write_bytes(path, [("\n".join(lines) + "\n").encode("ascii")])


def _face_normals_np(v, f):
    n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]).astype(np.float64)
    ln = np.linalg.norm(n, axis=1, keepdims=True)
    return (n / np.where(ln > 0, ln, 1)).astype(np.float32)


def write_stl(path, verts, faces, binary=True):
    """Writes a triangle mesh as STL (binary by default, else ASCII), atomically. STL stores three
    corner positions per triangle, so vertices are duplicated; :func:`load_mesh` merges them back.

    Args:
        path: destination. verts: (V, 3) float. faces: (F, 3) int, at least one.
        binary: binary (float32) or ASCII (9 significant digits) STL.
    """
    import struct

    v, f = _mesh_arrays(verts, faces)
    n = _face_normals_np(v, f)
    if binary:
        rec = np.zeros(f.shape[0], dtype=np.dtype([("n", "<f4", (3,)), ("v", "<f4", (3, 3)), ("a", "<u2")]))
        rec["n"] = n
        rec["v"] = v[f]
        head = b"binary STL written by gshell".ljust(80, b" ")
        write_bytes(path, [head, struct.pack("<I", f.shape[0]), rec.tobytes()])
        return
    out = ["solid gshell"]
    for nn, tri in zip(n.tolist(), v[f].tolist()):
        out.append("facet normal %.9g %.9g %.9g\n outer loop" % tuple(nn))
        out += [" vertex %.9g %.9g %.9g" % tuple(p) for p in tri]
        out.append(" endloop\nendfacet")
    out.append("endsolid gshell")
    write_bytes(path, [("\n".join(out) + "\n").encode("ascii")])


# ------------------------------------------------------------------------ readers of other formats
def _merge_corners(corners):
    """(F, 3, 3) corner positions -> verts (V, 3), faces (F, 3), merging exactly equal positions,
    vertices in order of first appearance."""
    flat = corners.reshape(-1, 3)
    if flat.shape[0] == 0:
        return np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int64)
    _, first, inverse = np.unique(flat, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return flat[first[order]].astype(np.float32), rank[inverse].reshape(-1, 3).astype(np.int64)


def _read_stl(path):
    with open(path, "rb") as fh:
        data = fh.read()
    if len(data) >= 84:
        n = int(np.frombuffer(data, "<u4", 1, 80)[0])
        if len(data) == 84 + 50 * n:
            rec = np.frombuffer(data, np.dtype([("n", "<f4", (3,)), ("v", "<f4", (3, 3)), ("a", "<u2")]), n, 84)
            return _merge_corners(np.array(rec["v"], np.float32))
    head = data[:1024].lstrip().lower()
    if not head.startswith(b"solid"):
        raise ValueError("expected a binary STL of 84 + 50 n bytes (n from the header) or an ASCII STL "
                         "starting with 'solid' but got %d bytes" % len(data))
    text = data.decode("ascii", errors="replace")
    if "endsolid" not in text[-1024:].lower():
        raise ValueError("expected an ASCII STL ending with 'endsolid' but the file ends without it "
                         "(truncated?)")
    pts = []
    for line in text.splitlines():
        w = line.split()
        if w and w[0].lower() == "vertex":
            if len(w) != 4:
                raise ValueError("expected 'vertex x y z' but got %r" % line.strip()[:60])
            pts.append(w[1:])
    if len(pts) % 3:
        raise ValueError("expected 3 vertices per facet but got %d vertex lines" % len(pts))
    try:
        corners = np.array(pts, dtype=np.float64).reshape(-1, 3, 3)
    except ValueError as e:
        raise ValueError("expected numbers in the vertex lines (%s)" % e) from None
    return _merge_corners(corners.astype(np.float32))


def _fan(polys):
    """list of index lists -> (F, 3) int64 triangle fans."""
    tris = [(p[0], p[i], p[i + 1]) for p in polys for i in range(1, len(p) - 1)]
    return np.array(tris, dtype=np.int64).reshape(-1, 3)


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


def _read_off(path):
    with open(path, "r", encoding="utf-8", errors="replace") as fh:
        tokens_lines = [ln.split("#", 1)[0].split() for ln in fh]
    lines = [t for t in tokens_lines if t]
    if not lines or not lines[0][0].upper().endswith("OFF"):
        raise ValueError("expected the keyword 'OFF' on the first line")
    head = lines[0][1:] if len(lines[0]) > 1 else (lines[1] if len(lines) > 1 else [])
    start = 1 if len(lines[0]) > 1 else 2
    try:
        nv, nf = int(head[0]), int(head[1])
    except (IndexError, ValueError):
        raise ValueError("expected 'V F E' counts after 'OFF' but got %r" % " ".join(head)) from None
    if nv < 0 or nf < 0 or len(lines) < start + nv + nf:
        raise ValueError("expected %d vertex and %d face lines but the file has %d lines after the header "
                         "(truncated?)" % (nv, nf, max(0, len(lines) - start)))
    try:
        verts = np.array([ln[:3] for ln in lines[start:start + nv]], dtype=np.float64).reshape(nv, 3)
        polys = []
        for ln in lines[start + nv:start + nv + nf]:
            k = int(ln[0])
            if k < 3 or len(ln) < 1 + k:
                raise ValueError("bad face line %r" % " ".join(ln)[:60])
            polys.append([int(x) for x in ln[1:1 + k]])
    except ValueError as e:
        raise ValueError("cannot parse the vertex/face lines (%s)" % e) from None
    return verts.astype(np.float32), _fan(polys)


def _read_trimesh(path, fmt):
    import trimesh

    scene = trimesh.load(path, file_type=fmt, process=False)
    return _trimesh_arrays(scene)


def _trimesh_arrays(mesh):
    import trimesh

    if isinstance(mesh, trimesh.Scene):
        geoms = [g for g in mesh.dump() if isinstance(g, trimesh.Trimesh)]
        if not geoms:
            return np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int64)
        mesh = geoms[0] if len(geoms) == 1 else trimesh.util.concatenate(geoms)
    if not isinstance(mesh, trimesh.Trimesh):
        raise ValueError("expected a triangle mesh but got a %s" % type(mesh).__name__)
    return (np.asarray(mesh.vertices, dtype=np.float32).reshape(-1, 3),
            np.asarray(mesh.faces, dtype=np.int64).reshape(-1, 3))


def _meshio_formats():
    try:
        import meshio  # noqa: F401
    except ImportError:
        return {}
    try:
        from meshio._helpers import extension_to_filetypes
        return {ext: list(fts) for ext, fts in extension_to_filetypes.items()}
    except ImportError:  # pragma: no cover
        return {}


def _read_meshio(path, fmt):
    import meshio

    m = meshio.read(path, file_format=fmt)
    tris = []
    for block in m.cells:
        if block.type == "triangle":
            tris.append(np.asarray(block.data, np.int64))
        elif block.type == "quad":
            q = np.asarray(block.data, np.int64)
            tris.append(np.concatenate([q[:, [0, 1, 2]], q[:, [0, 2, 3]]]))
    pts = np.asarray(m.points, dtype=np.float32)
    if pts.ndim == 2 and pts.shape[1] == 2:
        pts = np.concatenate([pts, np.zeros((pts.shape[0], 1), np.float32)], 1)
    if not tris and any(b.type.startswith("tetra") for b in m.cells):
        raise ValueError("expected triangle cells but got a tetrahedral mesh (use gshell.io.load_tetgrid)")
    faces = np.concatenate(tris) if tris else np.zeros((0, 3), np.int64)
    return pts.reshape(-1, 3), faces


_OWN_READ = {"ply": None, "obj": _read_obj, "off": _read_off, "stl": _read_stl}
_NAMES = {"ply": "PLY", "obj": "OBJ", "off": "OFF", "stl": "STL", "glb": "GLB", "gltf": "glTF"}


def _format_of(path, format, what="mesh"):
    """Normalised format name from ``format`` or the path's extension."""
    if format is not None:
        if not isinstance(format, str) or not format:
            raise TypeError("Expected format to be a format name such as 'ply' or None but got %r" % (format,))
        fmt = format.lower().lstrip(".")
        if fmt in _NAMES or any(fmt in fts for fts in _meshio_formats().values()):
            return fmt
        for ext, fts in _meshio_formats().items():
            if ext.lstrip(".") == fmt:
                return fts[0]
        raise ValueError("Expected format to be one of %s or a meshio format but got %r"
                         % (", ".join(sorted(_NAMES)), format))
    p = os.fspath(path)
    ext = os.path.splitext(p)[1].lower()
    if ext[1:] in _NAMES:
        return ext[1:]
    mf = _meshio_formats()
    if ext in mf:
        return "gmsh" if "gmsh" in mf[ext] else mf[ext][0]  # .msh: gmsh before ansys
    raise ValueError("Expected a %s path ending in .ply, .obj or .glb (or .stl, .off, .gltf, or an extension "
                     "meshio knows%s) but got %r" % (what, "" if mf else "; meshio is not installed", p))


def _check_loaded(path, fmt, v, f, allow_empty=False):
    name = _NAMES.get(fmt, fmt)
    if v.ndim != 2 or v.shape[1] != 3 or f.ndim != 2 or f.shape[1] != 3:
        raise ValueError("Malformed %s file %r: expected (V, 3) vertices and (F, 3) faces but got %s and %s"
                         % (name, path, v.shape, f.shape))
    if not allow_empty and (v.shape[0] == 0 or f.shape[0] == 0):
        raise ValueError("Expected a non-empty mesh in %r (%s) but got %d vertices and %d faces"
                         % (path, name, v.shape[0], f.shape[0]))
    if v.size and not np.isfinite(v).all():
        bad = int((~np.isfinite(v).all(1)).sum())
        raise ValueError("Expected finite vertex coordinates in %r (%s) but got %d vertices with NaN/Inf"
                         % (path, name, bad))
    if f.size and (f.min() < 0 or f.max() >= v.shape[0]):
        raise ValueError("Malformed %s file %r: expected face indices in [0, %d) but got indices in [%d, %d]"
                         % (name, path, v.shape[0], int(f.min()), int(f.max())))


def load_mesh(path, format=None, device="cpu", allow_empty=False):
    """Reads a triangle mesh from OBJ, PLY (ASCII or binary), STL (ASCII or binary), OFF, GLB/glTF
    or any format meshio reads.

    PLY, OBJ, OFF and STL are parsed by gshell itself (polygons are split into triangle fans; for
    STL, corners with exactly equal positions are merged into one vertex); GLB/glTF go through
    trimesh (all meshes of the scene concatenated, node transforms applied) and other formats
    through meshio (its triangle and quad cells). Vertices are returned as stored (unreferenced
    vertices are kept).

    Args:
        path: str or os.PathLike.
        format: format name (``"ply"``, ``"obj"``, ``"stl"``, ``"off"``, ``"glb"``, ``"gltf"`` or a
            meshio format name such as ``"vtk"``); default: from the extension.
        device: torch device of the returned tensors.
        allow_empty: accept a mesh without vertices or faces.
    Returns:
        verts: (V, 3) float32 tensor. faces: (F, 3) int64 tensor.
    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: unknown extension/format; a corrupt or truncated file (naming the path and the
            format); an empty mesh; NaN/Inf coordinates; face indices out of range.
        ImportError: when the format needs trimesh or meshio and it is not installed.

    Example:
        >>> verts, faces = gshell.io.load_mesh("bunny.obj")
    """
    p = os.fspath(path)
    fmt = _format_of(p, format)
    if not os.path.exists(p):
        raise FileNotFoundError("Expected an existing mesh file but %r does not exist" % p)
    if os.path.isdir(p):
        raise IsADirectoryError("Expected a mesh file but %r is a folder" % p)
    name = _NAMES.get(fmt, fmt)
    try:
        if fmt == "ply":
            v, f, _ = read_ply(p)
            v, f = v.numpy(), f.numpy()
        elif fmt in _OWN_READ:
            v, f = _OWN_READ[fmt](p)
        elif fmt in ("glb", "gltf"):
            try:
                import trimesh  # noqa: F401
            except ImportError:
                raise ImportError("Reading %s files needs trimesh: pip install trimesh" % name) from None
            v, f = _read_trimesh(p, fmt)
        else:
            try:
                import meshio  # noqa: F401
            except ImportError:
                raise ImportError("Reading %s files needs meshio: pip install meshio" % fmt) from None
            v, f = _read_meshio(p, fmt)
    except (ImportError, PermissionError, IsADirectoryError):
        raise
    except (Exception, SystemExit) as e:  # any parser failure is a corrupt file (meshio may sys.exit)
        msg = str(e).replace("\n", " ")
        if msg.startswith("Malformed PLY file"):
            raise ValueError(msg) from None
        kind = "" if type(e) is ValueError else type(e).__name__ + ": "
        raise ValueError("Malformed %s file %r: %s%s" % (name, p, kind, msg)) from None
    v = np.ascontiguousarray(v, dtype=np.float32)
    f = np.ascontiguousarray(f, dtype=np.int64)
    _check_loaded(p, fmt, v, f, allow_empty)
    return torch.from_numpy(v).to(device), torch.from_numpy(f).to(device)


def save_mesh(path, verts, faces, format=None, binary=True):
    """Writes a triangle mesh, atomically, in the format of ``format`` or the path's extension.

    PLY (binary little-endian, or ASCII with ``binary=False``), OBJ, OFF, STL (binary, or ASCII with
    ``binary=False``), GLB and glTF (one file, embedded buffer) are written by gshell; any other
    format meshio writes (``.vtk``, ``.vtu``, ``.msh``, ...) through meshio. The mesh goes to a
    temporary file next to ``path`` that replaces ``path`` only once complete.

    Args:
        path: str or os.PathLike; its folder must exist.
        verts: (V, 3) floating tensor or array, any device, finite, V >= 1.
        faces: (F, 3) integer tensor or array, indices in [0, V), F >= 1.
        format: format name (see :func:`load_mesh`); default: from the extension.
        binary: for PLY and STL, binary (default) or ASCII.
    Raises:
        TypeError, ValueError: invalid or empty mesh, NaN/Inf coordinates, unknown format.
        OSError: if the file cannot be written.

    Example:
        >>> gshell.io.save_mesh("out.stl", verts, faces, binary=False)
    """
    fmt = _format_of(path, format)
    v, f = _mesh_arrays(verts, faces)
    if v.shape[0] == 0 or f.shape[0] == 0:
        raise ValueError("Expected a non-empty mesh (at least one vertex and one face) but got %d vertices "
                         "and %d faces" % (v.shape[0], f.shape[0]))
    if fmt == "ply":
        (write_ply if binary else write_ply_ascii)(path, v, f)
    elif fmt == "stl":
        write_stl(path, v, f, binary=binary)
    else:
        writers = {"obj": write_obj, "off": write_off, "glb": write_glb, "gltf": write_gltf}
        if fmt in writers:
            writers[fmt](path, v, f)
            return
        try:
            import meshio
        except ImportError:
            raise ImportError("Writing %s files needs meshio: pip install meshio" % fmt) from None
        mesh = meshio.Mesh(v.astype(np.float64), [("triangle", f)])
        write_atomic(path, lambda tmp: meshio.write(tmp, mesh, file_format=fmt))


# ----------------------------------------------------------------------------------- statistics
def mesh_info(verts, faces):
    """Topology and geometry statistics of a triangle mesh.

    Args:
        verts: (V, 3) float tensor or array. faces: (F, 3) int tensor or array.
    Returns:
        dict with ``vertices``, ``faces``, ``edges``, ``bounds_min``, ``bounds_max``, ``diagonal``,
        ``unreferenced_vertices``, ``degenerate_faces`` (repeated index or area <= 1e-12 diag^2),
        ``boundary_edges``, ``nonmanifold_edges`` (used by > 2 faces), ``watertight`` (every edge used
        by exactly 2 faces), ``edge_manifold``, ``boundary_loops``, ``oriented`` (no directed edge used
        twice: neighbouring faces are wound consistently), ``components``, ``euler_characteristic``
        (V - E + F over referenced vertices), ``genus`` (sum over components, each (2 - chi - b) / 2; None
        unless edge-manifold and oriented), ``component_genus`` (list, per component, largest
        first: ``faces``, ``closed``, ``boundary_loops``, ``genus``), ``area`` and ``volume``
        (signed, when watertight, else None).
    """
    v, f = _mesh_arrays(verts, faces)
    v64 = v.astype(np.float64)
    nv, nf = v.shape[0], f.shape[0]
    out = {"vertices": nv, "faces": nf}
    lo = v.min(0) if nv else np.zeros(3)
    hi = v.max(0) if nv else np.zeros(3)
    diag = float(np.linalg.norm(hi - lo))
    out.update(bounds_min=[float(x) for x in lo], bounds_max=[float(x) for x in hi], diagonal=diag)
    used = np.zeros(nv, bool)
    used[f.reshape(-1)] = True
    out["unreferenced_vertices"] = int(nv - used.sum())
    cr = np.cross(v64[f[:, 1]] - v64[f[:, 0]], v64[f[:, 2]] - v64[f[:, 0]]) if nf else np.zeros((0, 3))
    area = 0.5 * np.linalg.norm(cr, axis=1)
    rep = (f[:, 0] == f[:, 1]) | (f[:, 1] == f[:, 2]) | (f[:, 2] == f[:, 0])
    out["degenerate_faces"] = int((rep | (area <= 1e-12 * diag * diag)).sum())
    out["area"] = float(area.sum())

    directed = f[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    und = np.sort(directed, axis=1)
    keys = und[:, 0] * max(nv, 1) + und[:, 1]
    ukeys, inv, counts = np.unique(keys, return_inverse=True, return_counts=True)
    inv = inv.reshape(-1)
    dkeys = directed[:, 0] * max(nv, 1) + directed[:, 1]
    _, dcounts = np.unique(dkeys, return_counts=True)
    out["edges"] = int(ukeys.size)
    out["boundary_edges"] = int((counts == 1).sum())
    out["nonmanifold_edges"] = int((counts > 2).sum())
    out["watertight"] = bool(nf > 0 and (counts == 2).all())
    out["edge_manifold"] = bool((counts <= 2).all())
    out["oriented"] = bool((dcounts == 1).all())

    # connected components (sharing a vertex) by union-find on the C++ kernel
    from gshell.ops.mesh_components import connected_components

    uedges = np.stack([ukeys // max(nv, 1), ukeys % max(nv, 1)], 1)
    labels = connected_components(torch.from_numpy(uedges.astype(np.int64)), nv).numpy() if nv else np.zeros(0, np.int64)
    comp_ids, comp_of = np.unique(labels[used], return_inverse=True)
    ncomp = comp_ids.size
    remap = np.full(max(int(labels.max()) + 1, 1) if nv else 1, -1, np.int64)
    remap[comp_ids] = np.arange(ncomp)
    vcomp = remap[labels] if nv else labels
    out["components"] = int(ncomp)
    bmask = counts == 1
    bedges = uedges[bmask]
    if bedges.shape[0]:
        bl = connected_components(torch.from_numpy(bedges.astype(np.int64)), nv).numpy()
        # one boundary vertex per loop, and the component it belongs to
        loop_ids, first = np.unique(bl[bedges[:, 0]], return_index=True)
        loops_per_comp = np.bincount(vcomp[bedges[first, 0]], minlength=ncomp)
        out["boundary_loops"] = int(loop_ids.size)
    else:
        loops_per_comp = np.zeros(ncomp, np.int64)
        out["boundary_loops"] = 0
    vc = np.bincount(vcomp[used], minlength=ncomp)
    fc = np.bincount(vcomp[f[:, 0]], minlength=ncomp)
    ec = np.bincount(vcomp[uedges[:, 0]], minlength=ncomp)
    closed_c = np.bincount(vcomp[uedges[:, 0]], weights=(counts != 2), minlength=ncomp) == 0
    chi = vc - ec + fc
    out["euler_characteristic"] = int(chi.sum())
    ok = out["edge_manifold"] and out["oriented"]
    comps = []
    for c in np.argsort(-fc, kind="stable")[:100]:
        g = (2 - int(chi[c]) - int(loops_per_comp[c])) / 2 if ok else None
        comps.append({"faces": int(fc[c]), "closed": bool(closed_c[c]), "boundary_loops": int(loops_per_comp[c]),
                      "genus": int(g) if g is not None and g == int(g) else g})
    out["component_genus"] = comps
    out["genus"] = int(sum(c["genus"] for c in comps)) if ok and ncomp <= 100 and \
        all(isinstance(c["genus"], int) for c in comps) else None
    out["volume"] = float((v64[f[:, 0]] * np.cross(v64[f[:, 1]], v64[f[:, 2]])).sum() / 6) \
        if out["watertight"] else None
    return out


# ------------------------------------------------------------------------------- other libraries
def _out_tensors(v, f, device):
    return (torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)).to(device),
            torch.from_numpy(np.ascontiguousarray(f, dtype=np.int64)).to(device))


def to_trimesh(verts, faces):
    """A ``trimesh.Trimesh`` (float64 vertices, not processed: vertex order kept) from tensors or
    arrays on any device."""
    import trimesh

    v, f = _mesh_arrays(verts, faces)
    return trimesh.Trimesh(vertices=v.astype(np.float64), faces=f, process=False)


def from_trimesh(mesh, device="cpu"):
    """verts (V, 3) float32 and faces (F, 3) int64 tensors from a ``trimesh.Trimesh`` (or a
    ``trimesh.Scene``: its meshes concatenated)."""
    v, f = _trimesh_arrays(mesh)
    return _out_tensors(v, f, device)


def to_open3d(verts, faces):
    """An ``open3d.geometry.TriangleMesh`` from tensors or arrays on any device."""
    import open3d as o3d

    v, f = _mesh_arrays(verts, faces)
    return o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(v.astype(np.float64)),
                                     o3d.utility.Vector3iVector(f.astype(np.int32)))


def from_open3d(mesh, device="cpu"):
    """verts (V, 3) float32 and faces (F, 3) int64 tensors from an ``open3d.geometry.TriangleMesh``."""
    if not (hasattr(mesh, "vertices") and hasattr(mesh, "triangles")):
        raise TypeError("Expected an open3d.geometry.TriangleMesh but got %s" % type(mesh).__name__)
    return _out_tensors(np.asarray(mesh.vertices).reshape(-1, 3), np.asarray(mesh.triangles).reshape(-1, 3), device)


def to_pymeshlab(verts, faces):
    """A ``pymeshlab.MeshSet`` holding the mesh (as its current mesh)."""
    import pymeshlab

    v, f = _mesh_arrays(verts, faces)
    ms = pymeshlab.MeshSet()
    ms.add_mesh(pymeshlab.Mesh(vertex_matrix=v.astype(np.float64), face_matrix=f.astype(np.int32)))
    return ms


def from_pymeshlab(mesh, device="cpu"):
    """verts (V, 3) float32 and faces (F, 3) int64 tensors from a ``pymeshlab.MeshSet`` (its current
    mesh) or a ``pymeshlab.Mesh``."""
    m = mesh.current_mesh() if hasattr(mesh, "current_mesh") else mesh
    if not (hasattr(m, "vertex_matrix") and hasattr(m, "face_matrix")):
        raise TypeError("Expected a pymeshlab.MeshSet or pymeshlab.Mesh but got %s" % type(mesh).__name__)
    return _out_tensors(m.vertex_matrix(), m.face_matrix(), device)


# ------------------------------------------------------------------------------------- tet grids
def load_tetgrid(path, device="cpu"):
    """Loads a tetrahedral grid: an npz in the kaolin/nvdiffrec layout (``vertices``, ``indices``) or
    a tetrahedral mesh meshio reads (``.msh``, ``.vtk``, ``.vtu``, ...: its ``tetra`` cells).

    Args:
        path: str or os.PathLike. device: torch device.
    Returns:
        TetGrid (negatively oriented tets repaired).
    Raises:
        FileNotFoundError: missing file. ValueError: corrupt file or no tetrahedra.
    """
    from gshell.tetgrid import TetGrid

    p = os.fspath(path)
    if not os.path.isfile(p):
        raise FileNotFoundError("Expected an existing tet grid file but %r does not exist" % p)
    if p.lower().endswith(".npz"):
        return TetGrid.load(p, device=device)
    fmt = _format_of(p, None, what="tet grid")
    try:
        import meshio  # noqa: F401
    except ImportError:
        raise ImportError("Reading %s tet meshes needs meshio: pip install meshio" % fmt) from None
    try:
        m = meshio.read(p, file_format=fmt)
    except (Exception, SystemExit) as e:  # meshio's ansys reader calls sys.exit on bad input
        raise ValueError("Malformed %s file %r: %s: %s" % (fmt, p, type(e).__name__, str(e).replace("\n", " "))) from None
    tets = [np.asarray(b.data, np.int64) for b in m.cells if b.type == "tetra"]
    if not tets:
        raise ValueError("Expected tetrahedral ('tetra') cells in %r but got cell types %s"
                         % (p, sorted({b.type for b in m.cells})))
    pts = np.asarray(m.points, np.float32)
    if pts.ndim != 2 or pts.shape[1] != 3 or not np.isfinite(pts).all():
        raise ValueError("Expected finite (N, 3) points in %r but got shape %s" % (p, pts.shape))
    return TetGrid(torch.from_numpy(pts).to(device), torch.from_numpy(np.concatenate(tets)).to(device))


def save_tetgrid(path, grid):
    """Writes a TetGrid, atomically: npz (``vertices``, ``indices``; kaolin/nvdiffrec layout) for a
    ``.npz`` path, else any tetrahedral format meshio writes (``.msh``, ``.vtk``, ``.vtu``, ...)."""
    from gshell.tetgrid import TetGrid

    if not isinstance(grid, TetGrid):
        raise TypeError("Expected grid to be a gshell.TetGrid but got %s" % type(grid).__name__)
    p = os.fspath(path)
    if p.lower().endswith(".npz"):
        folder = os.path.dirname(os.path.abspath(p))
        if not os.path.isdir(folder):
            raise FileNotFoundError("Expected the folder of path to exist but %r does not" % folder)
        grid.save(p)
        return
    fmt = _format_of(p, None, what="tet grid")
    import meshio

    mesh = meshio.Mesh(grid.vertices.detach().cpu().numpy().astype(np.float64),
                       [("tetra", grid.tets.detach().cpu().numpy().astype(np.int64))])
    write_atomic(p, lambda tmp: meshio.write(tmp, mesh, file_format=fmt))


if __name__ == "__main__":  # pragma: no cover
    v, f, a = read_ply(sys.argv[1])
    print("vertices %d, faces %d, attributes %s" % (v.shape[0], f.shape[0], sorted(a)))
