"""OFF (Object File Format)."""
import numpy as np

from gshell._atomic import write_bytes
from gshell.io._common import _fan, _mesh_arrays


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
