"""Conversions to and from trimesh, open3d and pymeshlab meshes (each imported when used)."""
import numpy as np

from gshell.io._common import _mesh_arrays, _out_tensors


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


def _trimesh_attributes(mesh):
    """verts (V, 3) float32, faces (F, 3) int64 and attributes (see :mod:`gshell.io.attributes`)
    of a ``trimesh.Trimesh`` or ``trimesh.Scene`` (its meshes with their node transforms,
    concatenated; meshes with different textures are packed into one atlas by trimesh)."""
    import trimesh

    if not isinstance(mesh, trimesh.Scene):
        return _one_trimesh_attributes(mesh, None)
    parts = []
    for node in mesh.graph.nodes_geometry:
        transform, name = mesh.graph[node]
        g = mesh.geometry[name]
        if isinstance(g, trimesh.Trimesh):
            parts.append(_one_trimesh_attributes(g, transform))
    if not parts:
        return np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int64), {}
    if len(parts) == 1:
        return parts[0]
    textures = [p[2].get("texture") for p in parts]
    if any(t is not None for t in textures) and not all(
            t is not None and t.shape == textures[0].shape and (t == textures[0]).all() for t in textures):
        # several images: trimesh packs them into one atlas (and rewrites the uv)
        return _one_trimesh_attributes(trimesh.util.concatenate(mesh.dump()), None)
    offsets = np.cumsum([0] + [len(p[0]) for p in parts])
    v = np.concatenate([p[0] for p in parts])
    f = np.concatenate([p[1] + o for p, o in zip(parts, offsets)])
    common = set.intersection(*(set(p[2]) for p in parts))
    attrs = {k: (parts[0][2][k] if k == "texture" else np.concatenate([p[2][k] for p in parts]))
             for k in common}
    return v, f, attrs


def _one_trimesh_attributes(mesh, transform):
    from gshell.io.attributes import COLORS, NORMALS, TEXTURE, UV

    import trimesh

    if not isinstance(mesh, trimesh.Trimesh):
        raise ValueError("expected a triangle mesh but got a %s" % type(mesh).__name__)
    v = np.asarray(mesh.vertices, np.float64).reshape(-1, 3)
    f = np.asarray(mesh.faces, np.int64).reshape(-1, 3)
    attrs = {}
    if "vertex_normals" in mesh._cache:  # stored in the file (else trimesh would compute them)
        attrs[NORMALS] = np.asarray(mesh.vertex_normals, np.float64)
    if transform is not None and not np.allclose(transform, np.eye(4)):
        v = v @ transform[:3, :3].T + transform[:3, 3]
        if NORMALS in attrs:
            n = attrs[NORMALS] @ np.linalg.inv(transform[:3, :3])  # inverse transpose
            attrs[NORMALS] = n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-30)
    if NORMALS in attrs:
        attrs[NORMALS] = attrs[NORMALS].astype(np.float32)
    visual = mesh.visual
    if visual.kind == "vertex":
        attrs[COLORS] = np.asarray(visual.vertex_colors, np.uint8)
    elif visual.kind == "texture":
        color = getattr(visual, "vertex_attributes", {}).get("color")
        if color is not None and len(color) == len(v):
            c = np.asarray(color)
            attrs[COLORS] = (np.round(np.clip(c, 0, 1) * 255) if np.issubdtype(c.dtype, np.floating)
                             else c).astype(np.uint8)
        if getattr(visual, "uv", None) is not None and len(visual.uv) == len(v):
            attrs[UV] = np.asarray(visual.uv, np.float32)
            mat = visual.material
            image = getattr(mat, "baseColorTexture", None) or getattr(mat, "image", None)
            if image is not None:
                im = image.convert("RGBA" if "A" in image.getbands() else "RGB")
                attrs[TEXTURE] = np.asarray(im, np.uint8)
    return v.astype(np.float32), f, attrs


def _trimesh_with_attributes(v, f, attrs):
    """A ``trimesh.Trimesh`` (not processed) carrying checked attributes as its visuals."""
    import trimesh

    from gshell.io.attributes import COLORS, NORMALS, TEXTURE, UV

    kw = {}
    if NORMALS in attrs:
        kw["vertex_normals"] = attrs[NORMALS].astype(np.float64)
    mesh = trimesh.Trimesh(vertices=v.astype(np.float64), faces=f, process=False, **kw)
    if UV in attrs:
        image = None
        if TEXTURE in attrs:
            from PIL import Image
            image = Image.fromarray(attrs[TEXTURE])
        material = trimesh.visual.material.PBRMaterial(baseColorTexture=image, metallicFactor=0.0,
                                                       roughnessFactor=1.0)
        mesh.visual = trimesh.visual.TextureVisuals(uv=attrs[UV].astype(np.float64), material=material)
        if COLORS in attrs:  # glTF holds both: COLOR_0 beside TEXCOORD_0
            mesh.visual.vertex_attributes["color"] = attrs[COLORS]
    elif COLORS in attrs:
        mesh.visual = trimesh.visual.ColorVisuals(mesh, vertex_colors=attrs[COLORS])
    return mesh


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
