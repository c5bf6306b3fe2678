"""glTF 2.0: GLB (binary) and glTF (JSON with an embedded buffer) written by gshell, read through trimesh."""
from gshell._atomic import write_bytes
from gshell.io._common import _mesh_arrays
from gshell.io.interop import _trimesh_arrays, _trimesh_attributes, _trimesh_with_attributes


def write_glb(path, verts, faces):
    """Writes a triangle mesh as binary glTF 2.0 (one mesh, float32 positions, uint32 indices),
    atomically.

    Args:
        path: destination. verts: (V, 3) float, at least one vertex. faces: (F, 3) int.
    """
    import json
    import struct

    doc, binary = _gltf_doc(verts, faces, "GLB")
    js = _pad4(json.dumps(doc, separators=(",", ":")).encode("utf-8"), b" ")
    total = 12 + 8 + len(js) + 8 + len(binary)
    write_bytes(path, [struct.pack("<4sII", b"glTF", 2, total),
                         struct.pack("<I4s", len(js), b"JSON"), js,
                         struct.pack("<I4s", len(binary), b"BIN\0"), binary])


def _pad4(b, fill):
    """``b`` padded with the byte ``fill`` to a multiple of 4 bytes (glTF chunk alignment)."""
    return b + fill * (-len(b) % 4)


def _gltf_doc(verts, faces, what):
    """The glTF document (dict) and binary buffer of one triangle mesh (checked; ``what`` names
    the file kind in the error)."""
    v, f = _mesh_arrays(verts, faces)
    if v.shape[0] == 0:
        raise ValueError("Expected at least one vertex for a %s file but got an empty mesh" % what)
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

    doc, binary = _gltf_doc(verts, faces, "glTF")
    doc["buffers"][0]["uri"] = "data:application/octet-stream;base64," + base64.b64encode(binary).decode("ascii")
    write_bytes(path, [json.dumps(doc).encode("utf-8")])


def _read_trimesh(path, fmt):
    import trimesh

    scene = trimesh.load(path, file_type=fmt, process=False)
    return _trimesh_arrays(scene)


def read_gltf_mesh(path, fmt):
    """A GLB/glTF file's meshes (concatenated, node transforms applied) and attributes, through
    trimesh: normals, COLOR_0, TEXCOORD_0 and the base-colour texture."""
    import trimesh

    return _trimesh_attributes(trimesh.load(path, file_type=fmt, process=False))


def write_gltf_mesh(path, verts, faces, attrs, fmt="glb"):
    """Writes a mesh with attributes as GLB (or glTF with embedded buffers and images),
    atomically, through trimesh's exporter: a metallic-roughness material whose base colour is
    the texture, normals, COLOR_0 and TEXCOORD_0.

    Args:
        path: destination. verts: (V, 3) array. faces: (F, 3) int64 array. attrs: checked
            attributes (:func:`gshell.io.attributes.check_attributes`). fmt: "glb" or "gltf".
    """
    from trimesh.exchange import gltf

    v, f = _mesh_arrays(verts, faces)
    scene = _trimesh_with_attributes(v, f, attrs).scene()
    if fmt == "glb":
        data = gltf.export_glb(scene, include_normals="vertex_normals" in attrs)
    else:
        files = gltf.export_gltf(scene, include_normals="vertex_normals" in attrs, embed_buffers=True)
        data = files["model.gltf"]
    write_bytes(path, [data])
