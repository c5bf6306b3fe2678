"""STL: binary or ASCII."""
import numpy as np

from gshell._atomic import write_bytes
from gshell.io._common import _mesh_arrays


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
