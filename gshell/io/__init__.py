"""Mesh input and output: one module per format family, and :func:`load_mesh` / :func:`save_mesh`
dispatching by format.

- :mod:`~gshell.io.ply` PLY (binary little-endian written, or ASCII; ASCII and both binary byte
  orders read; per-vertex float properties), :mod:`~gshell.io.obj` OBJ, :mod:`~gshell.io.off` OFF,
  :mod:`~gshell.io.stl` STL (binary or ASCII), :mod:`~gshell.io.gltf` GLB/glTF (read through
  trimesh), :mod:`~gshell.io.meshio_formats` every format meshio handles (.vtk, .vtu, .msh, ...);
- :mod:`~gshell.io.tetgrid` tet grids (kaolin/nvdiffrec npz, or meshio's tetrahedral formats);
- :mod:`~gshell.io.interop` conversions to and from trimesh, open3d and pymeshlab;
- :func:`mesh_info` statistics (the topology from :mod:`gshell.topology`).

Only numpy is needed for PLY, OBJ, OFF, STL and the GLB/glTF writers, and torch only by the
functions that return tensors (nothing here imports it at module level). Writes are
atomic: the mesh goes to a temporary file in the destination folder, which replaces ``path`` only
once it is complete, so an error never leaves a partial file (and never clobbers an existing one).

Example:
    >>> import torch, gshell.io
    >>> verts = torch.tensor([[0., 0, 0], [1, 0, 0], [0, 1, 0]])
    >>> faces = torch.tensor([[0, 1, 2]])
    >>> gshell.io.write_ply("tri.ply", verts, faces, {"msdf": torch.tensor([0.1, 0.2, 0.3])})
    >>> v, f, attrs = gshell.io.read_ply("tri.ply")
    >>> v.shape, f.tolist(), sorted(attrs)
    (torch.Size([3, 3]), [[0, 1, 2]], ['msdf'])
"""
import importlib
import os
import warnings

import numpy as np

from gshell.io._common import _mesh_arrays
from gshell.io.attributes import check_attributes, dropped
from gshell.io.formats import NAMES as _NAMES, format_of, tetgrid_format_of
from gshell.io.gltf import _read_trimesh, read_gltf_mesh, write_glb, write_gltf, write_gltf_mesh
from gshell.io.interop import from_open3d, from_pymeshlab, from_trimesh, to_open3d, to_pymeshlab, to_trimesh
from gshell.io.meshio_formats import _read_meshio, _write_meshio
from gshell.io.obj import _read_obj, read_obj_mesh, write_obj, write_obj_mesh
from gshell.io.off import _read_off, write_off
from gshell.io.ply import _read_ply_arrays, read_ply, read_ply_mesh, write_ply, write_ply_ascii, write_ply_mesh
from gshell.io.stl import _read_stl, write_stl
from gshell.io.tetgrid import load_tetgrid, save_tetgrid
from gshell.topology import topology

__all__ = ["write_ply", "read_ply", "write_obj", "write_glb", "save_mesh", "load_mesh", "mesh_info",
           "to_trimesh", "from_trimesh", "to_open3d", "from_open3d", "to_pymeshlab", "from_pymeshlab",
           "load_tetgrid", "save_tetgrid", "format_of", "tetgrid_format_of", "side_files"]

_OWN_READ = {"ply": None, "obj": _read_obj, "off": _read_off, "stl": _read_stl}


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


def _need_reader_library(fmt, name, what):
    """ImportError naming the package when the format needs trimesh or meshio and it is missing."""
    if fmt in ("glb", "gltf"):
        package = "trimesh"
    elif fmt not in _NAMES:
        package = "meshio"
    else:
        return  # PLY, OBJ, OFF, STL: gshell's own parsers
    try:
        importlib.import_module(package)
    except ImportError:
        raise ImportError("%s %s files needs %s: pip install %s" % (what, name, package, package)) from None


def load_mesh(path, format=None, device="cpu", allow_empty=False, attributes=False):
    """Reads a triangle mesh from OBJ, PLY (ASCII or binary), STL (ASCII or binary), OFF, GLB/glTF
    or any format meshio reads.

    PLY, OBJ, OFF and STL are parsed by gshell itself (polygons are split into triangle fans; for
    STL, corners with exactly equal positions are merged into one vertex); GLB/glTF go through
    trimesh (all meshes of the scene concatenated, node transforms applied) and other formats
    through meshio (its triangle and quad cells). Vertices are returned as stored (unreferenced
    vertices are kept).

    With ``attributes=True`` the vertex colours, normals, texture coordinates, texture image and
    other per-vertex properties the file holds are returned too (see :mod:`gshell.io.attributes`;
    PLY, OBJ + MTL and GLB/glTF hold them). Attributes are per vertex: where an OBJ position
    carries several ``vt``/``vn`` (a texture seam), it is split into several vertices.

    Args:
        path: str or os.PathLike.
        format: format name (``"ply"``, ``"obj"``, ``"stl"``, ``"off"``, ``"glb"``, ``"gltf"`` or a
            meshio format name such as ``"vtk"``); default: from the extension.
        device: torch device of the returned tensors.
        allow_empty: accept a mesh without vertices or faces.
        attributes: also return the attributes dict.
    Returns:
        verts: (V, 3) float32 tensor. faces: (F, 3) int64 tensor. With ``attributes=True`` also
        attrs: dict name -> tensor on ``device``: ``vertex_colors`` (V, 4) uint8, ``vertex_normals``
        (V, 3) float32, ``uv`` (V, 2) float32, ``texture`` (H, W, 3|4) uint8, others (V,).
    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: unknown extension/format; a corrupt or truncated file (naming the path and the
            format), whatever the reader library raised; an empty mesh; NaN/Inf coordinates; face
            indices out of range; a device that is not usable here.
        ImportError: when the format needs trimesh or meshio and it is not installed.

    Example:
        >>> verts, faces = gshell.io.load_mesh("bunny.obj")
        >>> verts, faces, attrs = gshell.io.load_mesh("textured.glb", attributes=True)
    """
    import torch

    from gshell import _checks

    device = _checks.device("device", device)
    v, f, attrs = _load_arrays(path, format, allow_empty, attributes)
    out = torch.from_numpy(v).to(device), torch.from_numpy(f).to(device)
    if not attributes:
        return out
    return out + ({name: torch.from_numpy(a).to(device) for name, a in attrs.items()},)


def _load_arrays(path, format=None, allow_empty=False, attributes=False):
    """:func:`load_mesh` with NumPy arrays (no torch import): verts (V, 3) float32, faces (F, 3)
    int64, attrs (``{}`` unless ``attributes``)."""
    p = os.fspath(path)
    fmt = format_of(p, format)
    if not os.path.exists(p):
        raise FileNotFoundError("Expected an existing mesh file but %r does not exist" % p)
    if os.path.isdir(p):
        raise IsADirectoryError("Expected a mesh file but %r is a folder" % p)
    name = _NAMES.get(fmt, fmt)
    _need_reader_library(fmt, name, "Reading")
    attrs = {}
    try:
        if fmt == "ply":
            v, f, attrs = read_ply_mesh(p) if attributes else _read_ply_arrays(p)[:2] + ({},)
        elif fmt == "obj" and attributes:
            v, f, attrs = read_obj_mesh(p)
        elif fmt in _OWN_READ:
            v, f = _OWN_READ[fmt](p)
        elif fmt in ("glb", "gltf"):
            v, f, attrs = read_gltf_mesh(p, fmt) if attributes else _read_trimesh(p, fmt) + ({},)
        else:
            v, f = _read_meshio(p, fmt)
    except (PermissionError, IsADirectoryError, MemoryError):
        raise
    except (Exception, SystemExit) as e:  # any parser failure is a corrupt file (meshio may sys.exit)
        # An ImportError here comes from inside the library on this file's content (trimesh
        # imports charset_normalizer for a GLB whose JSON is not UTF-8): the file is the cause.
        msg = str(e).replace("\n", " ")
        if msg.startswith("Malformed "):
            raise ValueError(msg) from None
        kind = "" if type(e) is ValueError else type(e).__name__ + ": "
        raise ValueError("Malformed %s file %r: %s%s" % (name, p, kind, msg)) from None
    v = np.ascontiguousarray(v, dtype=np.float32)
    f = np.ascontiguousarray(f, dtype=np.int64)
    _check_loaded(p, fmt, v, f, allow_empty)
    try:
        attrs = check_attributes(attrs, v.shape[0])
    except (TypeError, ValueError) as e:
        raise ValueError("Malformed %s file %r: %s" % (name, p, e)) from None
    return v, f, attrs


def save_mesh(path, verts, faces, format=None, binary=True, attributes=None):
    """Writes a triangle mesh, atomically, in the format of ``format`` or the path's extension.

    PLY (binary little-endian, or ASCII with ``binary=False``), OBJ, OFF, STL (binary, or ASCII with
    ``binary=False``), GLB and glTF (one file, embedded buffer) are written by gshell; any other
    format meshio writes (``.vtk``, ``.vtu``, ``.msh``, ...) through meshio. The mesh goes to a
    temporary file next to ``path`` that replaces ``path`` only once complete.

    ``attributes`` (see :func:`load_mesh`) are written where the format holds them: PLY (colours,
    normals, uv, scalars; the texture as ``<stem>.png`` beside it), OBJ (colours, ``vt``, ``vn``;
    the texture in ``<stem>.mtl`` and ``<stem>.png``), GLB/glTF (through trimesh: normals, colours,
    uv and the texture in a metallic-roughness material). What the format cannot hold is named in
    a ``UserWarning`` and returned.

    Args:
        path: str or os.PathLike; its folder must exist.
        verts: (V, 3) floating tensor or array, any device, finite, V >= 1.
        faces: (F, 3) integer tensor or array, indices in [0, V), F >= 1.
        format: format name (see :func:`load_mesh`); default: from the extension.
        binary: for PLY and STL, binary (default) or ASCII.
        attributes: dict of per-vertex attributes and the texture, or None.
    Returns:
        list of str: the attributes that were not written (empty when all were).
    Raises:
        TypeError, ValueError: invalid or empty mesh or attributes, NaN/Inf coordinates, unknown
            format.
        OSError: if the file cannot be written.

    Example:
        >>> gshell.io.save_mesh("out.stl", verts, faces, binary=False)
        >>> gshell.io.save_mesh("out.glb", verts, faces, attributes=attrs)
    """
    fmt = format_of(path, format)
    v, f = _mesh_arrays(verts, faces)
    if v.shape[0] == 0 or f.shape[0] == 0:
        raise ValueError("Expected a non-empty mesh (at least one vertex and one face) but got %d vertices "
                         "and %d faces" % (v.shape[0], f.shape[0]))
    attrs = check_attributes(attributes, v.shape[0])
    lost = dropped(fmt, attrs)
    if lost:
        warnings.warn("%s cannot hold %s: not written to %r" % (_NAMES.get(fmt, fmt), ", ".join(lost),
                                                                 os.fspath(path)), UserWarning, stacklevel=2)
    if attrs and fmt == "ply":
        write_ply_mesh(path, v, f, attrs, binary=binary)
    elif attrs and fmt == "obj":
        write_obj_mesh(path, v, f, attrs)
    elif attrs and fmt in ("glb", "gltf"):
        _need_reader_library(fmt, _NAMES[fmt], "Writing textured or coloured")
        write_gltf_mesh(path, v, f, attrs, fmt)
    elif fmt == "ply":
        (write_ply if binary else write_ply_ascii)(path, v, f)
    elif fmt == "stl":
        write_stl(path, v, f, binary=binary)
    else:
        writers = {"obj": write_obj, "off": write_off, "glb": write_glb, "gltf": write_gltf}
        if fmt in writers:
            writers[fmt](path, v, f)
        else:
            _write_meshio(path, v, f, fmt)
    return lost


def side_files(path, format=None, attributes=None):
    """The files :func:`save_mesh` writes beside ``path`` for these attributes (a texture's PNG,
    an OBJ's MTL), so a caller can check them before writing."""
    fmt = format_of(path, format)
    if not attributes or "texture" not in attributes or fmt not in ("ply", "obj"):
        return []
    p = os.fspath(path)
    stem = os.path.join(os.path.dirname(os.path.abspath(p)), os.path.splitext(os.path.basename(p))[0])
    return [stem + ".png"] + ([stem + ".mtl"] if fmt == "obj" else [])


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
    topo = topology(f, nv)
    out["unreferenced_vertices"] = topo.pop("unreferenced_vertices")
    cr = np.cross(v64[f[:, 1]] - v64[f[:, 0]], v64[f[:, 2]] - v64[f[:, 0]]) if nf else np.zeros((0, 3))
    area = 0.5 * np.linalg.norm(cr, axis=1)
    rep = (f[:, 0] == f[:, 1]) | (f[:, 1] == f[:, 2]) | (f[:, 2] == f[:, 0])
    out["degenerate_faces"] = int((rep | (area <= 1e-12 * diag * diag)).sum())
    out["area"] = float(area.sum())
    out.update(topo)
    out["volume"] = float((v64[f[:, 0]] * np.cross(v64[f[:, 1]], v64[f[:, 2]])).sum() / 6) \
        if out["watertight"] else None
    return out
