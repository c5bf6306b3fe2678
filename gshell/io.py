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
import tempfile

import numpy as np
import torch

__all__ = ["write_ply", "read_ply"]

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
    _write_atomic(path, payload)


def _write_atomic(path, chunks):
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError("Expected the folder of path to exist but %r does not" % folder)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            for c in chunks:
                fh.write(c)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


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
    # Fast path: a single list property with a constant count (triangles).
    if len(el.props) == 1 and el.count:
        name, t, ct = el.props[0]
        ctd = np.dtype(order + ct)
        if len(buf) - off < ctd.itemsize:
            raise short(ctd.itemsize)
        k = int(np.frombuffer(buf, dtype=ctd, count=1, offset=off)[0])
        dt = np.dtype([("n", ctd), ("i", order + t, (k,))]) if k > 0 else None
        if dt is not None and len(buf) - off >= dt.itemsize * el.count:
            rec = np.frombuffer(buf, dtype=dt, count=el.count, offset=off)
            if (rec["n"] == k).all():
                return {name: rec["i"]}, off + dt.itemsize * el.count
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


if __name__ == "__main__":  # pragma: no cover
    v, f, a = read_ply(sys.argv[1])
    print("vertices %d, faces %d, attributes %s" % (v.shape[0], f.shape[0], sorted(a)))


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
    _write_atomic(path, [("\n".join(lines) + "\n").encode("ascii")])


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
    pos = v.astype("<f4").tobytes()
    idx = f.astype("<u4").tobytes()
    pad = lambda b, c: b + c * (-len(b) % 4)  # noqa: E731
    pos, idx = pad(pos, b"\0"), pad(idx, b"\0")
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
    js = pad(json.dumps(doc, separators=(",", ":")).encode("utf-8"), b" ")
    binary = pos + idx
    total = 12 + 8 + len(js) + 8 + len(binary)
    _write_atomic(path, [struct.pack("<4sII", b"glTF", 2, total),
                         struct.pack("<I4s", len(js), b"JSON"), js,
                         struct.pack("<I4s", len(binary), b"BIN\0"), binary])


def save_mesh(path, verts, faces):
    """Writes a triangle mesh in the format of the path's extension: .ply (binary), .obj, .glb.

    Raises:
        ValueError: for another extension.
    """
    ext = os.path.splitext(os.fspath(path))[1].lower()
    writers = {".ply": write_ply, ".obj": write_obj, ".glb": write_glb}
    if ext not in writers:
        raise ValueError("Expected a mesh path ending in .ply, .obj or .glb but got %r" % os.fspath(path))
    writers[ext](path, verts, faces)
