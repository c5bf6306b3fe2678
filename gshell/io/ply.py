"""PLY: binary little-endian written (binary or ASCII); ASCII and both binary byte orders read."""
import os
import re

import numpy as np

from gshell._atomic import write_bytes
from gshell.io._common import _check_float_array, _mesh_arrays, _to_numpy


# PLY scalar types -> numpy type codes (without byte order).
_PLY_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-.]*$")
_MAX_HEADER_BYTES = 1 << 20


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
    v, f = _mesh_arrays(verts, faces)
    nv = v.shape[0]
    if nv >= 2 ** 31:
        raise ValueError("Expected fewer than 2^31 vertices but got %d" % nv)

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

    write_ply_mesh(path, v, f, {n: arr.astype(np.float32) for n, arr in attrs})


def write_ply_ascii(path, verts, faces):
    """Writes a triangle mesh as an ASCII PLY file (9 significant digits), atomically.

    Args:
        path: destination. verts: (V, 3) float. faces: (F, 3) int.
    """
    write_ply_mesh(path, verts, faces, {}, binary=False)


class _Element:
    def __init__(self, name, count):
        self.name, self.count, self.props = name, count, []  # props: (name, type, count_type|None)


def _parse_header(fh, path):
    def bad(msg):
        return ValueError("Malformed PLY file %r: %s" % (os.fspath(path), msg))

    first = fh.readline(16)
    if first.rstrip(b"\r\n") != b"ply":
        raise bad("expected the first line to be 'ply' but got %r" % first[:16])
    fmt, elements, comments, nbytes = None, [], [], len(first)
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
        if words and words[0] == "comment":
            comments.append(text[len("comment"):].strip())
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
    return fmt, elements, comments


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
    """Reads a mesh from a PLY file (ASCII, binary little- or big-endian) as torch tensors.

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
    import torch

    verts, faces, attrs = _read_ply_arrays(path)
    return (torch.from_numpy(verts), torch.from_numpy(faces),
            {name: torch.from_numpy(a) for name, a in attrs.items()})


def _read_ply_arrays(path, extra=None):
    """:func:`read_ply` with NumPy arrays: verts (V, 3) float32, faces (F, 3) int64, attrs. When
    ``extra`` is a dict, the header's comments go to ``extra["comments"]`` and the face element's
    other list properties (e.g. ``texcoord``) to ``extra["face_lists"]`` (name -> per-face list)."""
    path_s = os.fspath(path)
    with open(path_s, "rb") as fh:
        fmt, elements, comments = _parse_header(fh, path_s)
        body = fh.read()
    if extra is not None:
        extra["comments"], extra["face_lists"], extra["face_sizes"] = comments, {}, []
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
        attrs[name] = np.ascontiguousarray(col)

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
        if extra is not None:
            extra["face_lists"] = {n: fcols[n] for n, _, ct in fel.props
                                   if ct is not None and n != lists[0][0]}
            extra["face_sizes"] = [len(p) for p in polys]
    return np.ascontiguousarray(verts), np.ascontiguousarray(faces), attrs


# ----------------------------------------------------------------------------- attributes
_COLOR_NAMES = (("red", "green", "blue", "alpha"), ("r", "g", "b", "a"),
                ("diffuse_red", "diffuse_green", "diffuse_blue", "diffuse_alpha"))
_UV_NAMES = (("s", "t"), ("texture_u", "texture_v"), ("texture_s", "texture_t"), ("u", "v"))


def read_ply_mesh(path):
    """A PLY file's mesh and attributes (see :mod:`gshell.io.attributes`) as NumPy arrays.

    Colours come from ``red, green, blue[, alpha]`` (or ``r, g, b``; uchar, or floats in [0, 1]),
    normals from ``nx, ny, nz``, uv from ``s, t`` (or ``texture_u, texture_v``, ``u, v``) or from
    a per-face ``texcoord`` list (vertices are then split where a position has several uv), the
    texture from a ``comment TextureFile NAME`` (the image beside the file); every other scalar
    vertex property is kept under its name.
    """
    from gshell.io._image import read_image
    from gshell.io.attributes import COLORS, NORMALS, TEXTURE, UV, split_corners

    path_s = os.fspath(path)
    extra = {}
    v, f, props = _read_ply_arrays(path_s, extra)
    attrs = {}
    for names in _COLOR_NAMES:
        if all(n in props for n in names[:3]):
            cols = [props.pop(n) for n in names if n in props]
            c = np.stack(cols, 1)
            if np.issubdtype(c.dtype, np.floating) and c.size and c.max() <= 1.0:
                c = np.round(np.clip(c, 0, 1) * 255)
            c = np.clip(c, 0, 255).astype(np.uint8)
            if c.shape[1] == 3:
                c = np.concatenate([c, np.full((c.shape[0], 1), 255, np.uint8)], 1)
            attrs[COLORS] = c
            break
    if all(n in props for n in ("nx", "ny", "nz")):
        attrs[NORMALS] = np.stack([props.pop(n) for n in ("nx", "ny", "nz")], 1).astype(np.float32)
    for names in _UV_NAMES:
        if all(n in props for n in names):
            attrs[UV] = np.stack([props.pop(n) for n in names], 1).astype(np.float32)
            break
    for name, a in props.items():
        attrs[name] = a if np.issubdtype(a.dtype, np.floating) else a.astype(np.float64)
    tex = [c.split(None, 1)[1] for c in extra["comments"] if c.split(None, 1)[0:1] == ["TextureFile"]
           and len(c.split(None, 1)) == 2]
    texcoord = extra["face_lists"].get("texcoord")
    if UV not in attrs and texcoord is not None and f.shape[0]:
        if any(n != 3 for n in extra["face_sizes"]) or any(len(t) != 6 for t in texcoord):
            raise ValueError("Malformed PLY file %r: expected a 'texcoord' list of 6 values per triangle "
                             "(per-face uv is read for triangle meshes)" % path_s)
        corner_uv = np.asarray(texcoord, np.float32).reshape(-1, 3, 2)
        v, f, attrs, split_uv = split_corners(v, f, attrs, corner_uv)
        attrs[UV] = split_uv
    if tex and UV in attrs:
        attrs[TEXTURE] = read_image(os.path.join(os.path.dirname(os.path.abspath(path_s)), tex[0]))
    return v, f, attrs


def write_ply_mesh(path, verts, faces, attrs, binary=True):
    """Writes a mesh with attributes as PLY, atomically: normals as ``nx, ny, nz``, colours as uchar
    ``red, green, blue, alpha``, uv as ``s, t`` and the texture as a PNG beside the file named in a
    ``comment TextureFile`` (``<stem>.png``), other scalars as float/double properties.

    Args:
        path: destination. verts: (V, 3) array. faces: (F, 3) int64 array. attrs: checked
            attributes (:func:`gshell.io.attributes.check_attributes`). binary: little-endian or ASCII.
    """
    from gshell.io._image import encode_png
    from gshell.io.attributes import COLORS, NAMED, NORMALS, TEXTURE, UV

    v, f = _mesh_arrays(verts, faces)
    nv = v.shape[0]
    cols = [("x", "f4", v[:, 0]), ("y", "f4", v[:, 1]), ("z", "f4", v[:, 2])]
    if NORMALS in attrs:
        cols += [(n, "f4", attrs[NORMALS][:, i]) for i, n in enumerate(("nx", "ny", "nz"))]
    if COLORS in attrs:
        cols += [(n, "u1", attrs[COLORS][:, i]) for i, n in enumerate(("red", "green", "blue", "alpha"))]
    if UV in attrs:
        cols += [(n, "f4", attrs[UV][:, i]) for i, n in enumerate(("s", "t"))]
    for name in sorted(n for n in attrs if n not in NAMED):
        if not _NAME_RE.match(name) or name in {c[0] for c in cols}:
            raise ValueError("Expected attribute names to be PLY identifiers other than the standard "
                             "properties but got %r" % (name,))
        a = attrs[name]
        cols.append((name, "f8" if a.dtype == np.float64 else "f4", a))
    from gshell import __version__
    ptype = {"f4": "float", "f8": "double", "u1": "uchar"}
    header = ["ply", "format %s 1.0" % ("binary_little_endian" if binary else "ascii"),
              "comment written by gshell %s" % __version__]
    texture_path = None
    if TEXTURE in attrs:
        stem = os.path.splitext(os.path.basename(os.fspath(path)))[0]
        texture_path = os.path.join(os.path.dirname(os.path.abspath(os.fspath(path))), stem + ".png")
        header.append("comment TextureFile %s" % os.path.basename(texture_path))
    header.append("element vertex %d" % nv)
    header += ["property %s %s" % (ptype[t], n) for n, t, _ in cols]
    header += ["element face %d" % f.shape[0], "property list uchar int vertex_indices", "end_header"]
    if binary:
        rec = np.empty(nv, dtype=np.dtype([(n, "<" + t) for n, t, _ in cols]))
        for n, _, a in cols:
            rec[n] = a
        frec = np.empty(f.shape[0], dtype=np.dtype([("n", "u1"), ("i", "<i4", (3,))]))
        frec["n"], frec["i"] = 3, f
        payload = [("\n".join(header) + "\n").encode("ascii"), rec.tobytes(), frec.tobytes()]
    else:
        fmt = " ".join("%d" if t == "u1" else "%.9g" for _, t, _ in cols)
        rows = zip(*[a.tolist() for _, _, a in cols])
        lines = header + [fmt % r for r in rows] + ["3 %d %d %d" % tuple(t) for t in f.tolist()]
        payload = [("\n".join(lines) + "\n").encode("ascii")]
    if texture_path is None:
        write_bytes(path, payload)
        return
    existed = os.path.exists(texture_path)
    write_bytes(texture_path, [encode_png(attrs[TEXTURE])])
    try:
        write_bytes(path, payload)
    except BaseException:
        if not existed:
            os.remove(texture_path)
        raise
