"""Tet grids: the kaolin/nvdiffrec npz layout, and the tetrahedral formats meshio reads and writes."""
import os

import numpy as np

from gshell._atomic import write_atomic
from gshell.io.formats import tetgrid_format_of


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
    import torch

    from gshell import _checks
    from gshell.tetgrid import TetGrid

    device = _checks.device("device", device)
    p = os.fspath(path)
    if not os.path.isfile(p):
        raise FileNotFoundError("Expected an existing tet grid file but %r does not exist" % p)
    fmt = tetgrid_format_of(p)
    if fmt == "npz":
        return TetGrid.load(p, device=device)
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
    fmt = tetgrid_format_of(p)
    folder = os.path.dirname(os.path.abspath(p))
    if not os.path.isdir(folder):
        raise FileNotFoundError("Expected the folder of path to exist but %r does not" % folder)
    if fmt == "npz":
        grid.save(p)
        return
    try:
        import meshio
    except ImportError:
        raise ImportError("Writing %s tet meshes needs meshio: pip install meshio" % fmt) from None
    mesh = meshio.Mesh(grid.vertices.detach().cpu().numpy().astype(np.float64),
                       [("tetra", grid.tets.detach().cpu().numpy().astype(np.int64))])
    write_atomic(p, lambda tmp: meshio.write(tmp, mesh, file_format=fmt))
