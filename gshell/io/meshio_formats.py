"""The formats meshio reads and writes (.vtk, .vtu, .msh, ...)."""
import numpy as np

from gshell._atomic import write_atomic


def meshio_extensions():
    """{extension: [meshio format names]} of the installed meshio ({} without meshio)."""
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


def _write_meshio(path, v, f, fmt):
    """Writes (V, 3) float32 and (F, 3) int64 arrays as triangle cells in meshio's ``fmt``, atomically."""
    try:
        import meshio
    except ImportError:
        raise ImportError("Writing %s files needs meshio: pip install meshio" % fmt) from None
    mesh = meshio.Mesh(v.astype(np.float64), [("triangle", f)])
    write_atomic(path, lambda tmp: meshio.write(tmp, mesh, file_format=fmt))
