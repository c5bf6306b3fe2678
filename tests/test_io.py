"""gshell.io: PLY writing and reading."""
import os
import struct

import numpy as np
import pytest
import torch

import gshell.io as gio


def _mesh(nv=50, nf=80, seed=0):
    g = torch.Generator().manual_seed(seed)
    verts = torch.rand(nv, 3, generator=g) - 0.5
    faces = torch.randint(0, nv, (nf, 3), generator=g)
    return verts, faces


def _leftovers(folder):
    return sorted(n for n in os.listdir(folder) if n.endswith(".tmp"))


# ------------------------------------------------------------------------- roundtrips
def test_roundtrip_with_attrs(tmp_path):
    verts, faces = _mesh()
    msdf = torch.linspace(-1, 1, verts.shape[0])
    path = tmp_path / "m.ply"
    gio.write_ply(path, verts, faces, {"msdf": msdf, "quality": msdf * 2})
    v, f, attrs = gio.read_ply(path)
    assert v.dtype == torch.float32 and v.shape == verts.shape
    assert f.dtype == torch.int64 and f.shape == faces.shape
    assert torch.equal(v, verts) and torch.equal(f, faces)
    assert list(attrs) == ["msdf", "quality"]
    assert attrs["msdf"].dtype == torch.float32
    assert torch.equal(attrs["msdf"], msdf) and torch.equal(attrs["quality"], msdf * 2)
    assert _leftovers(tmp_path) == []


def test_file_layout_is_binary_little_endian(tmp_path):
    verts = torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]])
    faces = torch.tensor([[0, 1, 2]])
    path = tmp_path / "tri.ply"
    gio.write_ply(str(path), verts, faces, {"msdf": torch.tensor([0.5, -0.5, 1.0])})
    data = path.read_bytes()
    header, body = data.split(b"end_header\n", 1)
    lines = header.decode("ascii").splitlines()
    assert lines[0] == "ply" and lines[1] == "format binary_little_endian 1.0"
    assert "element vertex 3" in lines and "element face 1" in lines
    assert "property float msdf" in lines and "property list uchar int vertex_indices" in lines
    assert len(body) == 3 * 4 * 4 + (1 + 3 * 4)
    assert struct.unpack("<4f", body[16:32]) == (1.0, 0.0, 0.0, -0.5)
    assert struct.unpack("<B3i", body[48:]) == (3, 0, 1, 2)


def test_numpy_inputs_and_dtype_conversion(tmp_path):
    verts = np.random.default_rng(0).random((10, 3))  # float64 -> stored as float32
    faces = np.array([[0, 1, 2], [3, 4, 5]], dtype=np.int32)
    path = tmp_path / "np.ply"
    gio.write_ply(path, verts, faces)
    v, f, attrs = gio.read_ply(path)
    assert np.allclose(v.numpy(), verts.astype(np.float32))
    assert f.tolist() == faces.tolist() and attrs == {}


def test_requires_grad_tensor_is_accepted(tmp_path):
    verts, faces = _mesh(5, 2)
    verts.requires_grad_(True)
    gio.write_ply(tmp_path / "g.ply", verts * 2, faces, {"msdf": verts[:, 0] * 1})
    v, _, _ = gio.read_ply(tmp_path / "g.ply")
    assert torch.equal(v, (verts * 2).detach())


def test_empty_mesh_and_point_set(tmp_path):
    gio.write_ply(tmp_path / "empty.ply", torch.zeros(0, 3), torch.zeros(0, 3, dtype=torch.long))
    v, f, a = gio.read_ply(tmp_path / "empty.ply")
    assert v.shape == (0, 3) and f.shape == (0, 3) and a == {}
    pts = torch.rand(7, 3)
    gio.write_ply(tmp_path / "pts.ply", pts, torch.zeros(0, 3, dtype=torch.int64), {"msdf": pts[:, 0]})
    v, f, a = gio.read_ply(tmp_path / "pts.ply")
    assert torch.equal(v, pts) and f.shape == (0, 3) and torch.equal(a["msdf"], pts[:, 0])


def test_overwrites_existing_file(tmp_path):
    path = tmp_path / "m.ply"
    path.write_text("old")
    verts, faces = _mesh(4, 2)
    gio.write_ply(path, verts, faces)
    assert torch.equal(gio.read_ply(path)[0], verts)
    assert _leftovers(tmp_path) == []


def test_roundtrip_gshell_extract(tmp_path):
    import gshell
    grid = gshell.TetGrid.regular(8)
    p = grid.vertices
    out = gshell.gshell_extract(p, p.norm(dim=-1) - 0.3, 0.1 - p[:, 2], grid)
    path = tmp_path / "g.ply"
    gio.write_ply(path, out.verts, out.faces, {"msdf": out.msdf})
    v, f, a = gio.read_ply(path)
    assert torch.equal(v, out.verts.detach()) and torch.equal(f, out.faces)
    assert torch.equal(a["msdf"], out.msdf.detach())


# ------------------------------------------------------------------------- other PLY files
def test_read_ascii_with_quads_comments_and_crlf(tmp_path):
    text = "\r\n".join([
        "ply", "format ascii 1.0", "comment made by hand", "element vertex 4",
        "property float x", "property float y", "property float z", "property uchar red",
        "property double w",
        "element face 2", "property list uchar int vertex_indices", "element edge 1",
        "property int vertex1", "property int vertex2", "end_header",
        "0 0 0 255 0.5", "1 0 0 0 1.5", "1 1 0 10 2.5", "0 1 0 20 3.5",
        "4 0 1 2 3", "3 0 2 3", "0 1", ""])
    path = tmp_path / "a.ply"
    path.write_bytes(text.encode("ascii"))
    v, f, a = gio.read_ply(path)
    assert v.tolist() == [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]]
    assert f.tolist() == [[0, 1, 2], [0, 2, 3], [0, 2, 3]]  # the quad is fanned
    assert a["red"].dtype == torch.int64 and a["red"].tolist() == [255, 0, 10, 20]
    assert a["w"].dtype == torch.float64 and a["w"].tolist() == [0.5, 1.5, 2.5, 3.5]


def _binary(order, verts, polys, count_type="B", index_type="i", extra_face_prop=False):
    fmt = {"<": "binary_little_endian", ">": "binary_big_endian"}[order]
    head = ["ply", "format %s 1.0" % fmt, "element vertex %d" % len(verts),
            "property double x", "property double y", "property double z",
            "element face %d" % len(polys),
            "property list %s %s vertex_index" % ({"B": "uchar", "i": "int"}[count_type],
                                                  {"i": "int", "I": "uint"}[index_type])]
    if extra_face_prop:
        head.append("property uchar flags")
    head.append("end_header")
    body = b"".join(struct.pack(order + "3d", *v) for v in verts)
    for poly in polys:
        body += struct.pack(order + count_type + index_type * len(poly), len(poly), *poly)
        if extra_face_prop:
            body += struct.pack("B", 7)
    return ("\n".join(head) + "\n").encode("ascii") + body


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("extra", [False, True])
def test_read_binary_both_orders_and_mixed_polygons(tmp_path, order, extra):
    verts = [(0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 0), (0.5, 0.5, 1)]
    polys = [(0, 1, 2, 3), (0, 1, 4), (1, 2, 4)]
    path = tmp_path / "b.ply"
    path.write_bytes(_binary(order, verts, polys, count_type="i", index_type="I", extra_face_prop=extra))
    v, f, a = gio.read_ply(path)
    assert v.dtype == torch.float32 and v.tolist() == [list(map(float, x)) for x in verts]
    assert f.tolist() == [[0, 1, 2], [0, 2, 3], [0, 1, 4], [1, 2, 4]] and a == {}


# ------------------------------------------------------------------------- malformed files
MALFORMED = {
    "not_ply": (b"solid cube\nfacet normal 0 0 1\n", "first line to be 'ply'"),
    "empty_file": (b"", "first line to be 'ply'"),
    "no_format": (b"ply\nelement vertex 0\nproperty float x\nend_header\n", "'format' line"),
    "bad_format": (b"ply\nformat binary_middle_endian 1.0\nend_header\n", "format ascii"),
    "no_end_header": (b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\n", "end_header"),
    "unknown_type": (b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float128 x\nend_header\n",
                     "property TYPE NAME"),
    "unknown_keyword": (b"ply\nformat ascii 1.0\nvertices 3\nend_header\n", "unknown header keyword"),
    "bad_count": (b"ply\nformat ascii 1.0\nelement vertex -1\nend_header\n", "element NAME COUNT"),
    "no_vertex": (b"ply\nformat ascii 1.0\nelement face 0\nproperty list uchar int vertex_indices\nend_header\n",
                  "'vertex' element"),
    "no_xyz": (b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nend_header\n1 2\n",
               "x, y, z"),
    "ascii_short": (b"ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\nproperty float y\n"
                    b"property float z\nend_header\n0 0 0\n", "file ends"),
    "ascii_wrong_columns": (b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\n"
                            b"property float z\nend_header\n0 0\n", "3 values"),
    "ascii_not_number": (b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\n"
                         b"property float z\nend_header\n0 a 0\n", "numbers"),
    "ascii_face_out_of_range": (b"ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
                                b"property float z\nelement face 1\nproperty list uchar int vertex_indices\n"
                                b"end_header\n0 0 0\n1 0 0\n0 1 0\n3 0 1 3\n", "face indices in [0, 3)"),
    "ascii_two_vertex_face": (b"ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
                              b"property float z\nelement face 1\nproperty list uchar int vertex_indices\n"
                              b"end_header\n0 0 0\n1 0 0\n0 1 0\n2 0 1\n", "at least 3 vertices"),
    "no_vertex_indices": (b"ply\nformat ascii 1.0\nelement vertex 0\nproperty float x\nproperty float y\n"
                          b"property float z\nelement face 0\nproperty uchar flags\nend_header\n",
                          "vertex_indices"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_files_raise_value_error(tmp_path, name):
    data, message = MALFORMED[name]
    path = tmp_path / (name + ".ply")
    path.write_bytes(data)
    with pytest.raises(ValueError, match="Malformed PLY file") as err:
        gio.read_ply(path)
    assert message in str(err.value)


def test_truncated_binary_raises(tmp_path):
    verts, faces = _mesh(20, 30)
    path = tmp_path / "t.ply"
    gio.write_ply(path, verts, faces)
    data = path.read_bytes()
    for cut in (len(data) - 1, len(data) - 13, len(data) - 30 * 13 - 5):
        path.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="more bytes of (face|vertex) data"):
            gio.read_ply(path)


def test_binary_face_out_of_range_raises(tmp_path):
    path = tmp_path / "b.ply"
    path.write_bytes(_binary("<", [(0, 0, 0), (1, 0, 0), (0, 1, 0)], [(0, 1, 7)]))
    with pytest.raises(ValueError, match=r"face indices in \[0, 3\)"):
        gio.read_ply(path)


def test_missing_file_raises_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        gio.read_ply(tmp_path / "nope.ply")


# ------------------------------------------------------------------------- bad inputs to write_ply
V3 = torch.zeros(4, 3)
F1 = torch.tensor([[0, 1, 2]])
BAD_INPUTS = [
    (dict(verts=[[0.0, 0, 0]]), TypeError, "Expected verts to be a torch.Tensor or numpy.ndarray but got list"),
    (dict(verts=torch.zeros(4, 3, dtype=torch.int64)), TypeError, "Expected verts to have a floating dtype"),
    (dict(verts=torch.zeros(4, 2)), ValueError, r"Expected verts of shape \(V, 3\) but got a tensor of shape \(4, 2\)"),
    (dict(verts=torch.zeros(12)), ValueError, r"Expected verts of shape \(V, 3\)"),
    (dict(verts=torch.tensor([[0.0, 0, 0], [float("nan"), 0, 0], [0, 0, 0]])), ValueError,
     "Expected finite values in verts but got 1 NaN/Inf"),
    (dict(verts=torch.tensor([[0.0, 0, 0], [float("inf"), 0, 0], [0, 0, 0]])), ValueError, "finite values in verts"),
    (dict(faces=F1.float()), TypeError, "Expected faces to have an integer dtype but got a tensor of shape"),
    (dict(faces=F1.bool()), TypeError, "Expected faces to have an integer dtype"),
    (dict(faces=torch.tensor([0, 1, 2])), ValueError, r"Expected faces of shape \(F, 3\)"),
    (dict(faces=torch.tensor([[0, 1, 2, 3]])), ValueError, r"Expected faces of shape \(F, 3\)"),
    (dict(faces=torch.tensor([[0, 1, 4]])), ValueError, r"Expected faces to index vertices in \[0, 4\) but got indices in \[0, 4\]"),
    (dict(faces=torch.tensor([[0, -1, 2]])), ValueError, r"indices in \[-1, 2\]"),
    (dict(verts=torch.zeros(0, 3)), ValueError, r"Expected faces to index vertices in \[0, 0\)"),
    (dict(vertex_attrs=[torch.zeros(4)]), TypeError, "Expected vertex_attrs to be a dict"),
    (dict(vertex_attrs={"msdf": torch.zeros(3)}), ValueError,
     r"Expected vertex_attrs\['msdf'\] of shape \(4,\) but got a tensor of shape \(3,\)"),
    (dict(vertex_attrs={"msdf": torch.zeros(4, 1)}), ValueError, r"vertex_attrs\['msdf'\] of shape \(4,\)"),
    (dict(vertex_attrs={"msdf": torch.zeros(4, dtype=torch.int32)}), TypeError,
     r"Expected vertex_attrs\['msdf'\] to have a floating dtype"),
    (dict(vertex_attrs={"msdf": torch.tensor([0.0, float("nan"), 0, 0])}), ValueError,
     r"finite values in vertex_attrs\['msdf'\]"),
    (dict(vertex_attrs={"two words": torch.zeros(4)}), ValueError, "PLY identifiers"),
    (dict(vertex_attrs={"x": torch.zeros(4)}), ValueError, "PLY identifiers other than x, y, z"),
    (dict(vertex_attrs={"": torch.zeros(4)}), ValueError, "PLY identifiers"),
]


@pytest.mark.parametrize("kwargs,exc,message", BAD_INPUTS, ids=range(len(BAD_INPUTS)))
def test_bad_inputs_raise_and_write_nothing(tmp_path, kwargs, exc, message):
    args = dict(verts=V3, faces=F1, vertex_attrs=None)
    args.update(kwargs)
    path = tmp_path / "bad.ply"
    with pytest.raises(exc, match=message):
        gio.write_ply(path, **args)
    assert os.listdir(tmp_path) == []


def test_missing_folder_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="folder of path"):
        gio.write_ply(tmp_path / "no" / "such" / "m.ply", V3, F1)
    assert os.listdir(tmp_path) == []


def test_failure_while_writing_leaves_no_partial_file(tmp_path, monkeypatch):
    path = tmp_path / "m.ply"
    gio.write_ply(path, V3, F1)
    before = path.read_bytes()
    verts, faces = _mesh(1000, 2000)

    real_fsync = os.fsync

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(gio.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="No space left"):
        gio.write_ply(path, verts, faces)
    monkeypatch.setattr(gio.os, "fsync", real_fsync)
    assert path.read_bytes() == before  # the old file is untouched
    assert sorted(os.listdir(tmp_path)) == ["m.ply"]  # no temporary file left

    # Interrupted half-way through the data (e.g. KeyboardInterrupt): same guarantee, new path.
    new = tmp_path / "new.ply"
    real_fdopen = os.fdopen

    class Exploding:
        def __init__(self, fh):
            self.fh, self.n = fh, 0

        def write(self, b):
            self.n += 1
            if self.n == 2:
                raise KeyboardInterrupt
            return self.fh.write(b)

        def __getattr__(self, name):
            return getattr(self.fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    monkeypatch.setattr(gio.os, "fdopen", lambda fd, mode: Exploding(real_fdopen(fd, mode)))
    with pytest.raises(KeyboardInterrupt):
        gio.write_ply(new, verts, faces)
    assert sorted(os.listdir(tmp_path)) == ["m.ply"]


def test_written_file_permissions_follow_umask(tmp_path):
    path = tmp_path / "p.ply"
    gio.write_ply(path, V3, F1)
    umask = os.umask(0)
    os.umask(umask)
    assert (path.stat().st_mode & 0o777) == (0o666 & ~umask)


# ------------------------------------------------------------------ OBJ, GLB, save_mesh
def _tetra():
    v = torch.tensor([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1.25]], dtype=torch.float32)
    f = torch.tensor([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    return v, f


def test_write_obj_round_trip(tmp_path):
    v, f = _tetra()
    v = v + 1e-3 * torch.arange(12.0).reshape(4, 3)
    path = tmp_path / "m.obj"
    gio.write_obj(path, v, f)
    lines = path.read_text().splitlines()
    vs = np.array([[float(x) for x in l.split()[1:]] for l in lines if l.startswith("v ")], np.float32)
    fs = np.array([[int(x) for x in l.split()[1:]] for l in lines if l.startswith("f ")]) - 1
    np.testing.assert_array_equal(vs, v.numpy())
    np.testing.assert_array_equal(fs, f.numpy())


def test_write_glb_is_valid_gltf(tmp_path):
    import json
    import struct

    v, f = _tetra()
    path = tmp_path / "m.glb"
    gio.write_glb(path, v, f)
    data = path.read_bytes()
    magic, version, total = struct.unpack_from("<4sII", data, 0)
    assert magic == b"glTF" and version == 2 and total == len(data)
    jlen, jtype = struct.unpack_from("<I4s", data, 12)
    assert jtype == b"JSON" and jlen % 4 == 0
    doc = json.loads(data[20:20 + jlen])
    blen, btype = struct.unpack_from("<I4s", data, 20 + jlen)
    assert btype == b"BIN\0" and blen % 4 == 0
    binary = data[28 + jlen:28 + jlen + blen]
    acc = doc["accessors"]
    views = doc["bufferViews"]
    pos_view, idx_view = views[acc[0]["bufferView"]], views[acc[1]["bufferView"]]
    pos = np.frombuffer(binary, "<f4", acc[0]["count"] * 3, pos_view["byteOffset"]).reshape(-1, 3)
    idx = np.frombuffer(binary, "<u4", acc[1]["count"], idx_view["byteOffset"]).reshape(-1, 3)
    np.testing.assert_array_equal(pos, v.numpy())
    np.testing.assert_array_equal(idx, f.numpy())
    np.testing.assert_array_equal(acc[0]["min"], v.numpy().min(0))
    assert doc["meshes"][0]["primitives"][0]["mode"] == 4


def test_save_mesh_dispatch_and_errors(tmp_path):
    v, f = _tetra()
    for ext in ("ply", "obj", "glb"):
        gio.save_mesh(tmp_path / ("m." + ext), v, f)
        assert (tmp_path / ("m." + ext)).stat().st_size > 0
    with pytest.raises(ValueError, match=r"\.ply, \.obj or \.glb"):
        gio.save_mesh(tmp_path / "m.unknownext", v, f)
    with pytest.raises(ValueError, match="index"):
        gio.write_obj(tmp_path / "bad.obj", v, f + 10)
    assert not (tmp_path / "bad.obj").exists()
    with pytest.raises(ValueError, match="finite"):
        gio.write_glb(tmp_path / "bad.glb", v * float("nan"), f)
    assert not (tmp_path / "bad.glb").exists()
