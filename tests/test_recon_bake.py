"""gshell.recon.bake: UV atlas, texture baking, textured GLB/OBJ files, Radiance HDR images.

Checks are independent of the code under test: baked textures are sampled back with a NumPy
bilinear lookup, files are read with trimesh, Pillow, gshell.io and a plain RGBE decoder
(tests/reference/hdr_ref.py).
"""
import io
import json
import math
import os
import struct
import sys

import numpy as np
import pytest
import torch

from gshell.recon import bake
from gshell.recon.bake import bake_textures, read_hdr, save_textured, uv_atlas, write_hdr
from tests.reference import hdr_ref


# ----------------------------------------------------------------------------- meshes and helpers
def _grid(n=20):
    """An open wavy height field over [-1, 1]^2 with uv = its (x, y) mapped into [0.05, 0.95]."""
    t = np.linspace(-1, 1, n + 1)
    x, y = np.meshgrid(t, t, indexing="xy")
    z = 0.2 * np.sin(2 * x) * np.cos(3 * y)
    v = np.stack([x, y, z], -1).reshape(-1, 3)
    i = np.arange((n + 1) * (n + 1)).reshape(n + 1, n + 1)
    a, b, c, d = i[:-1, :-1], i[:-1, 1:], i[1:, :-1], i[1:, 1:]
    f = np.concatenate([np.stack([a, b, d], -1).reshape(-1, 3), np.stack([a, d, c], -1).reshape(-1, 3)])
    uv = 0.05 + 0.9 * (v[:, :2] + 1) / 2
    return (torch.tensor(v, dtype=torch.float32), torch.tensor(f, dtype=torch.int64),
            torch.tensor(uv, dtype=torch.float32))


def _sphere(n_lat=12, n_lon=24, z_min=None):
    """A latitude-longitude unit sphere (closed), or the part above z_min (open)."""
    rings = [np.array([[0.0, 0.0, 1.0]])]
    for k in range(1, n_lat):
        th = math.pi * k / n_lat
        ph = 2 * math.pi * np.arange(n_lon) / n_lon
        rings.append(np.stack([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.full(n_lon, np.cos(th))], 1))
    rings.append(np.array([[0.0, 0.0, -1.0]]))
    v = np.concatenate(rings)
    faces = []
    ring0 = lambda k: 1 + (k - 1) * n_lon            # first vertex of ring k (1..n_lat-1)
    for j in range(n_lon):
        faces.append([0, ring0(1) + j, ring0(1) + (j + 1) % n_lon])
    for k in range(1, n_lat - 1):
        for j in range(n_lon):
            a, b = ring0(k) + j, ring0(k) + (j + 1) % n_lon
            c, d = ring0(k + 1) + j, ring0(k + 1) + (j + 1) % n_lon
            faces += [[a, c, d], [a, d, b]]
    last = len(v) - 1
    for j in range(n_lon):
        faces.append([last, ring0(n_lat - 1) + (j + 1) % n_lon, ring0(n_lat - 1) + j])
    f = np.array(faces)
    if z_min is not None:
        f = f[(v[f][:, :, 2] > z_min).all(1)]
        used, f = np.unique(f, return_inverse=True)
        v, f = v[used], f.reshape(-1, 3)
    return torch.tensor(v, dtype=torch.float32), torch.tensor(f, dtype=torch.int64)


def _field(p):
    """The known function baked in the tests: colours and scalars from the position."""
    return {"albedo": 0.5 + 0.5 * torch.sin(3 * p),
            "roughness": 0.5 + 0.4 * torch.cos(2 * p[:, :1] + p[:, 1:2]),
            "metallic": 0.5 + 0.5 * torch.sin(4 * p[:, 2:3] - p[:, :1])}


def _bilinear(img, uv):
    """Bilinear lookup (clamp to edge) of an (H, W, C) image in image layout (row 0 at v = 1)
    at OBJ-convention uv (K, 2)."""
    img = np.asarray(img, np.float64)
    h, w = img.shape[:2]
    x = uv[:, 0] * w - 0.5
    y = (1 - uv[:, 1]) * h - 0.5
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]

    def at(r, c):
        return img[np.clip(r, 0, h - 1), np.clip(c, 0, w - 1)]
    return (at(y0, x0) * (1 - fx) * (1 - fy) + at(y0, x0 + 1) * fx * (1 - fy)
            + at(y0 + 1, x0) * (1 - fx) * fy + at(y0 + 1, x0 + 1) * fx * fy)


def _srgb(x):
    x = np.clip(np.asarray(x, np.float64), 0, 1)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)


def _u8(x):
    return np.round(np.clip(np.asarray(x, np.float64), 0, 1) * 255).astype(np.uint8)


def _coverage_counts(uv, faces, res):
    """How many uv triangles strictly contain each texel centre of a res x res grid."""
    uv, faces = np.asarray(uv, np.float64), np.asarray(faces)
    count = np.zeros((res, res), np.int32)
    for a, b, c in uv[faces]:
        lo = np.floor(np.minimum(np.minimum(a, b), c) * res).astype(int)
        hi = np.ceil(np.maximum(np.maximum(a, b), c) * res).astype(int)
        xs = (np.arange(max(lo[0], 0), min(hi[0], res)) + 0.5) / res
        ys = (np.arange(max(lo[1], 0), min(hi[1], res)) + 0.5) / res
        if not len(xs) or not len(ys):
            continue
        px, py = np.meshgrid(xs, ys, indexing="xy")
        den = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
        l1 = ((px - a[0]) * (c[1] - a[1]) - (py - a[1]) * (c[0] - a[0])) / den
        l2 = ((b[0] - a[0]) * (py - a[1]) - (b[1] - a[1]) * (px - a[0])) / den
        inside = (l1 > 1e-9) & (l2 > 1e-9) & (l1 + l2 < 1 - 1e-9)
        iy = (ys * res - 0.5).round().astype(int)
        ix = (xs * res - 0.5).round().astype(int)
        count[np.ix_(iy, ix)] += inside
    return count


def _uv_areas(uv, faces):
    t = np.asarray(uv, np.float64)[np.asarray(faces)]
    e1, e2 = t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]
    return 0.5 * (e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])


# ----------------------------------------------------------------------------- atlas
@pytest.mark.parametrize("z_min", [None, -0.3])
def test_atlas_covers_every_face_without_overlap(z_min):
    pytest.importorskip("xatlas")
    v, f = _sphere(z_min=z_min)
    v2, f2, uv, vmap = uv_atlas(v, f, resolution=256)
    assert f2.shape == f.shape and f2.dtype == torch.int64 and uv.dtype == torch.float32
    assert v2.shape[0] == uv.shape[0] == vmap.shape[0] and v2.shape[0] >= v.shape[0]
    # every face is kept, in order, on the same corners
    assert torch.equal(v2, v[vmap])
    assert torch.equal(v2[f2], v[f])
    assert torch.equal(vmap[f2], f)
    assert float(uv.min()) >= 0 and float(uv.max()) <= 1
    area = _uv_areas(uv, f2)
    assert (np.abs(area) > 0).all()                    # no face collapses in the atlas
    assert np.abs(area).sum() <= 1
    counts = _coverage_counts(uv, f2, 512)
    assert counts.max() == 1                           # charts never overlap
    # seams only: each original vertex keeps its position, every copy of a vertex is used
    assert len(np.unique(f2.numpy())) == v2.shape[0]
    # deterministic
    again = uv_atlas(v, f, resolution=256)
    assert all(torch.equal(a, b) for a, b in zip((v2, f2, uv, vmap), again))


def test_atlas_needs_xatlas(monkeypatch):
    v, f = _sphere()
    monkeypatch.setitem(sys.modules, "xatlas", None)
    with pytest.raises(ImportError, match="pip install xatlas"):
        uv_atlas(v, f)


def test_atlas_bad_inputs():
    v, f = _sphere()
    with pytest.raises(TypeError, match="verts"):
        uv_atlas(v.numpy(), f)
    with pytest.raises(ValueError, match="faces"):
        uv_atlas(v, f + 1000)
    with pytest.raises(ValueError, match="resolution"):
        uv_atlas(v, f, resolution=4)
    with pytest.raises(ValueError, match="verts"):
        uv_atlas(torch.full_like(v, float("nan")), f)


# ----------------------------------------------------------------------------- baking
def test_bake_reproduces_the_function_on_an_open_surface():
    v, f, uv = _grid(20)
    tex, mask = bake_textures(v, f, uv, _field, resolution=256, padding=4, backend="gshell")
    assert set(tex) == {"albedo", "roughness", "metallic"}
    assert tex["albedo"].shape == (256, 256, 3) and tex["roughness"].shape == (256, 256, 1)
    assert mask.shape == (256, 256) and mask.dtype == torch.bool
    cen_uv = uv[f].mean(1).numpy()
    want = {k: x.numpy() for k, x in _field(v[f].mean(1)).items()}
    for name in tex:
        got = _bilinear(tex[name].numpy(), cen_uv)
        assert np.abs(got - want[name]).max() < 2e-3, name
    # at the vertices, on the chart's border too: the padding extends the border values
    got = _bilinear(tex["albedo"].numpy(), uv.numpy())
    assert np.abs(got - _field(v)["albedo"].numpy()).max() < 1e-2


def test_bake_atlas_sphere():
    pytest.importorskip("xatlas")
    for z_min in (None, -0.3):
        v, f = _sphere(z_min=z_min)
        v2, f2, uv, _ = uv_atlas(v, f, resolution=512)
        tex, mask = bake_textures(v2, f2, uv, _field, resolution=512, padding=4)
        got = _bilinear(tex["albedo"].numpy(), uv[f2].mean(1).numpy())
        want = _field(v2[f2].mean(1))["albedo"].numpy()
        assert np.abs(got - want).max() < 5e-3
        assert np.abs(got - want).mean() < 5e-4


def test_bake_uv_origin_is_the_bottom_left():
    # one quad on u in [0, 0.5], v in [0.5, 1]: the top-left quarter of the image
    v = torch.tensor([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=torch.float32)
    f = torch.tensor([[0, 1, 2], [0, 2, 3]])
    uv = torch.tensor([[0, 0.5], [0.5, 0.5], [0.5, 1], [0, 1]], dtype=torch.float32)
    tex, mask = bake_textures(v, f, uv, lambda p: {"p": p}, resolution=8, padding=0)
    want = np.zeros((8, 8), bool)
    want[:4, :4] = True
    assert np.array_equal(mask.numpy(), want)
    p = tex["p"].numpy()
    # texel (row 0, col 0) is at u = 1/16, v = 15/16: position (1/8, 7/8, 0)
    np.testing.assert_allclose(p[0, 0], [1 / 8, 7 / 8, 0], atol=1e-6)
    np.testing.assert_allclose(p[3, 3], [7 / 8, 1 / 8, 0], atol=1e-6)


def test_bake_padding_extends_each_chart_by_padding_texels():
    v, f, uv = _grid(6)
    for padding in (0, 1, 3):
        tex, mask = bake_textures(v, f, uv, lambda p: {"one": torch.ones_like(p[:, :1])}, resolution=64,
                                  padding=padding)
        want = mask.numpy().copy()
        for _ in range(padding):                   # square (8-neighbour) dilation
            g = np.pad(want, 1)
            want = np.max([g[i:i + 64, j:j + 64] for i in range(3) for j in range(3)], axis=0)
        assert np.array_equal(tex["one"][..., 0].numpy() == 1, want), padding
        assert (tex["one"][..., 0].numpy()[~want] == 0).all()


def test_bake_chunks_and_calls():
    v, f, uv = _grid(8)
    calls = []

    def fn(p):
        calls.append(p.shape[0])
        assert not torch.is_grad_enabled()
        return {"a": p.sum(1), "b": p * 2}
    one, m1 = bake_textures(v, f, uv, fn, resolution=64, chunk=10 ** 6)
    assert len(calls) == 1
    many, m2 = bake_textures(v, f, uv, fn, resolution=64, chunk=500)
    assert len(calls) > 3 and max(calls[1:]) <= 500
    assert torch.equal(m1, m2)
    for k in one:
        assert torch.equal(one[k], many[k])
    assert one["a"].shape == (64, 64, 1)


def test_bake_bad_inputs():
    v, f, uv = _grid(4)
    ok = lambda p: {"c": p}
    with pytest.raises(TypeError, match="fn"):
        bake_textures(v, f, uv, "not callable")
    with pytest.raises(TypeError, match="fn"):
        bake_textures(v, f, uv, lambda p: p, resolution=16)
    with pytest.raises(TypeError, match="fn"):
        bake_textures(v, f, uv, lambda p: {}, resolution=16)
    with pytest.raises(ValueError, match=r"fn\(points\)\['c'\]"):
        bake_textures(v, f, uv, lambda p: {"c": p[:1]}, resolution=16)
    with pytest.raises(TypeError, match=r"fn\(points\)\['c'\]"):
        bake_textures(v, f, uv, lambda p: {"c": p.numpy()}, resolution=16)
    with pytest.raises(ValueError, match="NaN"):
        bake_textures(v, f, uv, lambda p: {"c": p * float("nan")}, resolution=16)
    with pytest.raises(ValueError, match="uv"):
        bake_textures(v, f, uv + 1, ok)
    with pytest.raises(ValueError, match="uv"):
        bake_textures(v, f, uv[:-1], ok)
    with pytest.raises(ValueError, match="resolution"):
        bake_textures(v, f, uv, ok, resolution=0)
    with pytest.raises(ValueError, match="padding"):
        bake_textures(v, f, uv, ok, padding=-1)
    with pytest.raises(ValueError, match="backend"):
        bake_textures(v, f, uv, ok, resolution=16, backend="opengl")
    with pytest.raises(ValueError, match="cover"):
        bake_textures(v, f, torch.full_like(uv, 0.5), ok, resolution=16)


# ----------------------------------------------------------------------------- textured files
@pytest.fixture(scope="module")
def baked():
    v, f, uv = _grid(16)
    tex, _ = bake_textures(v, f, uv, _field, resolution=128, padding=4)
    return v, f, uv, tex


def _read_glb(path):
    with open(path, "rb") as fh:
        data = fh.read()
    magic, version, total = struct.unpack_from("<4sII", data, 0)
    assert magic == b"glTF" and version == 2 and total == len(data)
    n_json, kind = struct.unpack_from("<I4s", data, 12)
    assert kind == b"JSON"
    doc = json.loads(data[20:20 + n_json])
    n_bin, kind = struct.unpack_from("<I4s", data, 20 + n_json)
    assert kind == b"BIN\0"
    return doc, data[28 + n_json:28 + n_json + n_bin]


def _expected_images(tex):
    albedo = _u8(_srgb(tex["albedo"].numpy()))
    rough = _u8(tex["roughness"].numpy()[..., 0])
    metal = _u8(tex["metallic"].numpy()[..., 0])
    return albedo, rough, metal


def test_save_textured_glb(tmp_path, baked):
    from PIL import Image

    v, f, uv, tex = baked
    paths = save_textured(tmp_path / "out", v, f, uv, tex["albedo"], tex["roughness"], tex["metallic"])
    assert sorted(os.listdir(tmp_path / "out")) == ["mesh.glb", "mesh.mtl", "mesh.obj", "mesh_albedo.png",
                                                    "mesh_metallic.png", "mesh_roughness.png"]
    albedo, rough, metal = _expected_images(tex)
    doc, binary = _read_glb(paths["glb"])
    mat = doc["materials"][0]
    assert mat["doubleSided"] is True
    pbr = mat["pbrMetallicRoughness"]
    prim = doc["meshes"][0]["primitives"][0]
    assert prim["material"] == 0 and set(prim["attributes"]) == {"POSITION", "NORMAL", "TEXCOORD_0"}

    def image(tex_index):
        view = doc["bufferViews"][doc["images"][doc["textures"][tex_index]["source"]]["bufferView"]]
        raw = binary[view.get("byteOffset", 0):view.get("byteOffset", 0) + view["byteLength"]]
        return np.asarray(Image.open(io.BytesIO(raw)))
    assert np.array_equal(image(pbr["baseColorTexture"]["index"]), albedo)
    mr = image(pbr["metallicRoughnessTexture"]["index"])
    assert np.array_equal(mr[..., 1], rough) and np.array_equal(mr[..., 2], metal)
    # TEXCOORD_0 in glTF's convention: v measured from the image's top
    acc = doc["accessors"][prim["attributes"]["TEXCOORD_0"]]
    view = doc["bufferViews"][acc["bufferView"]]
    t = np.frombuffer(binary, "<f4", acc["count"] * 2, view.get("byteOffset", 0)).reshape(-1, 2)
    np.testing.assert_allclose(t, np.stack([uv[:, 0], 1 - uv[:, 1]], 1), atol=1e-7)
    acc = doc["accessors"][prim["attributes"]["NORMAL"]]
    view = doc["bufferViews"][acc["bufferView"]]
    n = np.frombuffer(binary, "<f4", acc["count"] * 3, view.get("byteOffset", 0)).reshape(-1, 3)
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1, atol=1e-5)
    assert (n[:, 2] > 0).mean() > 0.9               # the grid faces +z


def test_save_textured_glb_through_trimesh(tmp_path, baked):
    trimesh = pytest.importorskip("trimesh")
    v, f, uv, tex = baked
    paths = save_textured(tmp_path, v, f, uv, tex["albedo"], tex["roughness"], tex["metallic"], stem="recon")
    albedo, rough, metal = _expected_images(tex)
    scene = trimesh.load(paths["glb"], process=False)
    (mesh,) = scene.geometry.values()
    mat = mesh.visual.material
    assert isinstance(mat, trimesh.visual.material.PBRMaterial) and mat.doubleSided
    assert np.array_equal(np.asarray(mat.baseColorTexture.convert("RGB")), albedo)
    mr = np.asarray(mat.metallicRoughnessTexture.convert("RGB"))
    assert np.array_equal(mr[..., 1], rough) and np.array_equal(mr[..., 2], metal)
    np.testing.assert_allclose(mesh.vertices[mesh.faces], v[f].numpy(), atol=1e-6)
    # the same points get the same colours: sample trimesh's texture at trimesh's uv (OBJ
    # convention after its glTF flip) at the face centroids
    t_uv = np.asarray(mesh.visual.uv)[mesh.faces].mean(1)
    got = _bilinear(np.asarray(mat.baseColorTexture.convert("RGB")) / 255.0, t_uv)
    want = _srgb(_field(v[f].mean(1))["albedo"].numpy())
    assert np.abs(got - want).max() < 2.5 / 255 + 2e-3


def test_save_textured_obj(tmp_path, baked):
    from PIL import Image

    import gshell.io

    v, f, uv, tex = baked
    paths = save_textured(tmp_path, v, f, uv, tex["albedo"], tex["roughness"], tex["metallic"])
    albedo, rough, metal = _expected_images(tex)
    mtl = {}
    for line in open(paths["mtl"]).read().splitlines():
        w = line.split()
        if w and not w[0].startswith("#"):
            mtl[w[0]] = w[1:]
    assert mtl["newmtl"] == ["mesh"]
    assert mtl["map_Kd"] == ["mesh_albedo.png"]
    assert mtl["map_Pr"] == ["mesh_roughness.png"] and mtl["map_Pm"] == ["mesh_metallic.png"]
    assert abs(float(mtl["Pr"][0]) - tex["roughness"].mean().item()) < 1e-3
    assert abs(float(mtl["Pm"][0]) - tex["metallic"].mean().item()) < 1e-3
    assert np.array_equal(np.asarray(Image.open(tmp_path / "mesh_albedo.png")), albedo)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "mesh_roughness.png")), rough)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "mesh_metallic.png")), metal)
    # gshell's own reader: positions, faces, uv and the map_Kd texture
    v2, f2, attrs = gshell.io.load_mesh(paths["obj"], attributes=True)
    assert torch.equal(v2, v) and torch.equal(f2, f)
    np.testing.assert_allclose(attrs["uv"].numpy(), uv.numpy(), atol=1e-7)
    assert np.array_equal(attrs["texture"].numpy(), albedo)


def test_save_textured_obj_through_trimesh(tmp_path, baked):
    trimesh = pytest.importorskip("trimesh")
    v, f, uv, tex = baked
    paths = save_textured(tmp_path, v, f, uv, tex["albedo"], tex["roughness"], tex["metallic"])
    albedo = _expected_images(tex)[0]
    mesh = trimesh.load(paths["obj"], process=False)
    np.testing.assert_allclose(mesh.vertices[mesh.faces], v[f].numpy(), atol=1e-6)
    np.testing.assert_allclose(np.asarray(mesh.visual.uv)[mesh.faces], uv[f].numpy(), atol=1e-6)
    assert np.array_equal(np.asarray(mesh.visual.material.image.convert("RGB")), albedo)


def test_save_textured_writes_nothing_on_failure(tmp_path, baked, monkeypatch):
    v, f, uv, tex = baked
    args = (v, f, uv, tex["albedo"], tex["roughness"], tex["metallic"])
    # a file where the folder should be
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="folder"):
        save_textured(tmp_path / "file", *args)
    # bad inputs are found before anything is created
    with pytest.raises(ValueError, match="stem"):
        save_textured(tmp_path / "a", *args, stem="my mesh")
    with pytest.raises(ValueError, match="roughness and metallic"):
        save_textured(tmp_path / "a", *args[:5], tex["metallic"][:64])
    with pytest.raises(ValueError, match="uv"):
        save_textured(tmp_path / "a", v, f, uv + 2, *args[3:])
    with pytest.raises(ValueError, match="albedo"):
        save_textured(tmp_path / "a", v, f, uv, tex["roughness"], *args[4:])
    assert not (tmp_path / "a").exists()
    # the disk fails while the files are written: the old files stay, no temporary is left
    out = tmp_path / "old"
    out.mkdir()
    (out / "mesh.obj").write_text("old obj")
    real = bake.tempfile.mkstemp
    count = [0]

    def failing_mkstemp(*a, **k):
        count[0] += 1
        if count[0] == 4:
            raise OSError(28, "No space left on device")
        return real(*a, **k)
    monkeypatch.setattr(bake.tempfile, "mkstemp", failing_mkstemp)
    with pytest.raises(OSError, match="writable folder"):
        save_textured(out, *args)
    assert os.listdir(out) == ["mesh.obj"] and (out / "mesh.obj").read_text() == "old obj"
    monkeypatch.undo()
    # a rename fails half way: the files this call created are removed, and so is its folder
    real_replace = os.replace
    count[0] = 0

    def failing_replace(src, dst):
        count[0] += 1
        if count[0] == 3:
            raise PermissionError(13, "Permission denied")
        return real_replace(src, dst)
    monkeypatch.setattr(bake.os, "replace", failing_replace)
    with pytest.raises(PermissionError):
        save_textured(tmp_path / "new", *args)
    assert not (tmp_path / "new").exists()


# ----------------------------------------------------------------------------- HDR
def _hdr_image(h=9, w=13, seed=0):
    rng = np.random.default_rng(seed)
    img = rng.random((h, w, 3)) * 10.0 ** rng.uniform(-3, 4, (h, w, 1))
    img[0, 0] = 0
    img[1, 1] = [1e-35, 0, 0]                        # below RGBE's range: 0
    img[2, 3] = [5.0, 0.0, 1e-3]
    return img


def _within_rgbe(got, img, step):
    """|got - img| <= step * (largest channel of the pixel), the RGBE quantisation."""
    m = np.asarray(img).max(2, keepdims=True)
    return (np.abs(np.asarray(got) - img) <= step * m + 1e-30).all()


def test_hdr_against_the_reference_decoder(tmp_path):
    img = _hdr_image()
    write_hdr(tmp_path / "light.hdr", torch.tensor(img, dtype=torch.float32))
    data = (tmp_path / "light.hdr").read_bytes()
    ref = np.array(hdr_ref.decode(data))
    assert ref.shape == img.shape
    assert _within_rgbe(ref, img, 1 / 128)
    assert ref[0, 0].tolist() == [0, 0, 0] and ref[1, 1].tolist() == [0, 0, 0]
    back = read_hdr(tmp_path / "light.hdr")
    assert back.dtype == torch.float32 and back.shape == img.shape
    assert _within_rgbe(back.numpy(), img, 1 / 256 + 1e-6)   # read at the quantisation step's centre
    big = img.max(2) > 1e-30
    rel = np.abs(back.numpy() - img).max(2)[big] / img.max(2)[big]
    assert rel.max() < 0.01


def test_hdr_reads_run_length_encoded_files(tmp_path):
    img = _hdr_image(h=6, w=40, seed=1)
    img[:, 10:30] = [0.25, 0.5, 2.0]                 # long runs
    img[3] = 7.0
    (tmp_path / "rle.hdr").write_bytes(hdr_ref.encode_rle(img.tolist()))
    ref = np.array(hdr_ref.decode((tmp_path / "rle.hdr").read_bytes()))
    back = read_hdr(tmp_path / "rle.hdr").numpy()
    assert back.shape == img.shape
    assert _within_rgbe(back, ref, 1 / 256 + 1e-6)
    assert _within_rgbe(back, img, 1 / 128)


def test_hdr_bad_inputs(tmp_path):
    img = np.ones((4, 5, 3))
    with pytest.raises(ValueError, match="shape"):
        write_hdr(tmp_path / "a.hdr", np.ones((4, 5)))
    with pytest.raises(ValueError, match=">= 0"):
        write_hdr(tmp_path / "a.hdr", -img)
    with pytest.raises(ValueError, match="finite"):
        write_hdr(tmp_path / "a.hdr", img * np.nan)
    with pytest.raises(TypeError, match="image"):
        write_hdr(tmp_path / "a.hdr", img.tolist())
    with pytest.raises(FileNotFoundError):
        write_hdr(tmp_path / "missing" / "a.hdr", img)
    assert os.listdir(tmp_path) == []
    with pytest.raises(ValueError, match="exist"):
        read_hdr(tmp_path / "none.hdr")
    (tmp_path / "x.hdr").write_bytes(b"P6\n1 1\n255\n\0\0\0")
    with pytest.raises(ValueError, match="Radiance"):
        read_hdr(tmp_path / "x.hdr")
    write_hdr(tmp_path / "t.hdr", img)
    data = (tmp_path / "t.hdr").read_bytes()
    (tmp_path / "t.hdr").write_bytes(data[:-7])
    with pytest.raises(ValueError, match="Malformed"):
        read_hdr(tmp_path / "t.hdr")
