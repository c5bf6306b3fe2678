"""Format names and their detection from a path's extension."""
import os

from gshell.io.meshio_formats import meshio_extensions

# the formats gshell reads and writes itself -> their display names
NAMES = {"ply": "PLY", "obj": "OBJ", "off": "OFF", "stl": "STL", "glb": "GLB", "gltf": "glTF"}


def format_of(path, format=None, what="mesh"):
    """The normalised format name of a mesh file, from ``format`` or the path's extension.

    Args:
        path: str or os.PathLike (only its extension is read).
        format: a format name (``"ply"``, ``".obj"``, a meshio name such as ``"vtk"``) or None.
        what: what the file holds, for the error message (``"mesh"``, ``"tet grid"``).
    Returns:
        str: ``"ply"``, ``"obj"``, ``"off"``, ``"stl"``, ``"glb"``, ``"gltf"`` or a meshio format name.
    Raises:
        TypeError, ValueError: ``format`` is not a known format name, or the extension is unknown.
    """
    if format is not None:
        if not isinstance(format, str) or not format:
            raise TypeError("Expected format to be a format name such as 'ply' or None but got %r" % (format,))
        fmt = format.lower().lstrip(".")
        if fmt in NAMES or any(fmt in fts for fts in meshio_extensions().values()):
            return fmt
        for ext, fts in meshio_extensions().items():
            if ext.lstrip(".") == fmt:
                return fts[0]
        raise ValueError("Expected format to be one of %s or a meshio format but got %r"
                         % (", ".join(sorted(NAMES)), format))
    p = os.fspath(path)
    ext = os.path.splitext(p)[1].lower()
    if ext[1:] in NAMES:
        return ext[1:]
    mf = meshio_extensions()
    if ext in mf:
        return "gmsh" if "gmsh" in mf[ext] else mf[ext][0]  # .msh: gmsh before ansys
    raise ValueError("Expected a %s path ending in .ply, .obj or .glb (or .stl, .off, .gltf, or an extension "
                     "meshio knows%s) but got %r" % (what, "" if mf else "; meshio is not installed", p))


# meshio formats that hold surfaces only (no tetrahedra)
_SURFACE_ONLY = {"obj", "off", "ply", "stl", "svg", "wkt", "neuroglancer"}
TETGRID_EXTENSIONS = (".npz", ".msh", ".vtk", ".vtu", ".mesh", ".xdmf", ".med", ".inp")


def tetgrid_format_of(path):
    """The format of a tet grid file: ``"npz"`` (kaolin/nvdiffrec layout) or a meshio format that
    holds tetrahedra.

    Raises:
        ValueError: the extension names a surface format (PLY, OBJ, OFF, STL, GLB/glTF) or is unknown.
    """
    p = os.fspath(path)
    ext = os.path.splitext(p)[1].lower()
    if ext == ".npz":
        return "npz"
    mf = meshio_extensions()
    fmt = ext[1:] if ext[1:] in NAMES else ("gmsh" if "gmsh" in mf.get(ext, ()) else (mf.get(ext) or [None])[0])
    if fmt is None or fmt in NAMES or fmt in _SURFACE_ONLY:
        why = "" if fmt is None else " (%s holds surfaces, not tetrahedra)" % NAMES.get(fmt, fmt)
        raise ValueError("Expected a tet grid path ending in %s (or another volume format meshio writes%s) "
                         "but got %r%s" % (", ".join(TETGRID_EXTENSIONS), "" if mf else "; meshio is not "
                                           "installed", p, why))
    return fmt
