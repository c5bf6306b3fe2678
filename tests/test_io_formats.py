"""gshell.io: load_mesh/save_mesh over every format, conversions, tet grid I/O, mesh_info, on the
sample meshes shipped inside pymeshlab (cow, bone, airplane, a range scan) and broken copies."""
import os

import numpy as np
import pytest
import torch

import gshell.io as gio


@pytest.fixture(scope="module")
def cow(samples):
    return gio.load_mesh(os.path.join(samples, "cow.obj"))


# (extension, save_mesh keyword arguments, module needed, position tolerance)
FORMATS = [("ply", {}, None, 0), ("ply", {"binary": False}, None, 0), ("obj", {}, None, 0),
           ("off", {}, None, 0), ("stl", {}, None, 0), ("stl", {"binary": False}, None, 0),
           ("glb", {}, "trimesh", 0), ("gltf", {}, "trimesh", 0), ("vtk", {}, "meshio", 1e-7),
           ("vtu", {}, "meshio", 1e-7)]


@pytest.mark.parametrize("ext,kw,module,tol", FORMATS,
                         ids=["%s%s" % (f[0], "-ascii" if f[1] else "") for f in FORMATS])
@pytest.mark.parametrize("name", ["cow.obj", "bone.ply"])
def test_round_trip_every_format(tmp_path, samples, name, ext, kw, module, tol):
    if module:
        pytest.importorskip(module)
    v, f = gio.load_mesh(os.path.join(samples, name))
    if ext in ("glb", "gltf", "stl"):  # these keep only referenced vertices / corners: compact first
        used = torch.unique(f)
        remap = torch.full((v.shape[0],), -1, dtype=torch.long)
        remap[used] = torch.arange(used.numel())
        v, f = v[used], remap[f]
    path = tmp_path / ("m." + ext)
    gio.save_mesh(path, v, f, **kw)
    assert [n for n in os.listdir(tmp_path) if n.endswith(".tmp")] == []
    v2, f2 = gio.load_mesh(path)
    assert v2.dtype == torch.float32 and f2.dtype == torch.int64
    assert f2.shape == f.shape
    # face corner positions agree (STL duplicates and re-merges vertices, so compare corners)
    np.testing.assert_allclose(v2[f2].numpy(), v[f].numpy(), atol=tol, rtol=0)
    if ext != "stl":
        assert v2.shape == v.shape and torch.equal(f2, f)


def test_range_scan_matches_trimesh(samples):
    trimesh = pytest.importorskip("trimesh")
    path = os.path.join(samples, "rangemaps", "face000.ply")  # binary PLY with extra elements/props
    v, f = gio.load_mesh(path)
    ref = trimesh.load(path, process=False)
    assert v.shape == (85849, 3) and f.shape == (166259, 3)
    np.testing.assert_array_equal(v.numpy(), np.asarray(ref.vertices, np.float32))
    np.testing.assert_array_equal(f.numpy(), ref.faces)
    info = gio.mesh_info(v, f)
    assert not info["watertight"] and info["boundary_loops"] > 0 and info["components"] > 1


def test_mesh_info_on_known_shapes(cow):
    info = gio.mesh_info(*cow)
    assert info["watertight"] and info["edge_manifold"] and info["oriented"]
    assert info["genus"] == 0 and info["components"] == 1 and info["euler_characteristic"] == 2
    assert info["volume"] > 0 and info["degenerate_faces"] == 0
    # a torus (genus 1) by marching cubes, plus a second closed sphere far away
    import gshell
    x = torch.linspace(-0.5, 0.5, 40)
    g = torch.stack(torch.meshgrid(x, x, x, indexing="ij"), -1)
    torus = ((g[..., :2].norm(dim=-1) - 0.25) ** 2 + g[..., 2] ** 2).sqrt() - 0.1
    sphere = (g - torch.tensor([0.35, 0.35, 0.35])).norm(dim=-1) - 0.08
    v, f = gshell.marching_cubes(torch.minimum(torus, sphere))
    info = gio.mesh_info(v.detach(), f)
    assert info["components"] == 2 and info["genus"] == 1 and info["watertight"]
    assert sorted(c["genus"] for c in info["component_genus"]) == [0, 1]
    # flip one face: no longer consistently oriented; drop one: one boundary loop
    f2 = f.clone()
    f2[0] = f2[0].flip(0)
    assert not gio.mesh_info(v.detach(), f2)["oriented"]
    info = gio.mesh_info(v.detach(), f[1:])
    assert info["boundary_loops"] == 1 and not info["watertight"]
    f3 = torch.cat([f, torch.tensor([[0, 0, 1]])])
    assert gio.mesh_info(v.detach(), f3)["degenerate_faces"] >= 1


def _corrupt(path, mode):
    data = path.read_bytes()
    if mode == "truncate":
        path.write_bytes(data[: len(data) // 2])
    else:
        path.write_bytes(data[:40] + b"\xff\x00garbage\x01" * 8)


@pytest.mark.parametrize("ext,kw", [("ply", {}), ("ply", {"binary": False}), ("stl", {}),
                                    ("stl", {"binary": False}), ("off", {}), ("glb", {}), ("obj", {})])
@pytest.mark.parametrize("mode", ["truncate", "garbage"])
def test_truncated_and_corrupt_files_raise_value_error(tmp_path, cow, ext, kw, mode):
    if ext == "glb":
        pytest.importorskip("trimesh")
    path = tmp_path / ("bad." + ext)
    gio.save_mesh(path, *cow, **kw)
    _corrupt(path, mode)
    if ext == "obj" and mode == "truncate":
        # OBJ has no counts: a cut in the face list is only detected when a line or index breaks
        data = path.read_bytes()
        path.write_bytes(data + b"f 1 2\n")
    with pytest.raises(ValueError) as e:
        gio.load_mesh(path)
    assert str(path) in str(e.value)


def test_errors_missing_unknown_empty_nan(tmp_path, cow):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        gio.load_mesh(tmp_path / "missing.obj")
    (tmp_path / "m.xyzzy").write_text("hello")
    with pytest.raises(ValueError, match="Expected a mesh path ending in"):
        gio.load_mesh(tmp_path / "m.xyzzy")
    with pytest.raises(ValueError, match="format"):
        gio.load_mesh(tmp_path / "m.xyzzy", format="nonsense")
    (tmp_path / "empty.off").write_text("OFF\n0 0 0\n")
    with pytest.raises(ValueError, match="non-empty mesh"):
        gio.load_mesh(tmp_path / "empty.off")
    v, f = gio.load_mesh(tmp_path / "empty.off", allow_empty=True)
    assert v.shape == (0, 3) and f.shape == (0, 3)
    (tmp_path / "nan.obj").write_text("v 0 0 0\nv nan 0 0\nv 0 1 0\nf 1 2 3\n")
    with pytest.raises(ValueError, match="finite"):
        gio.load_mesh(tmp_path / "nan.obj")
    (tmp_path / "range.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n")
    with pytest.raises(ValueError, match="face indices"):
        gio.load_mesh(tmp_path / "range.obj")
    # format from the argument, not the extension
    gio.save_mesh(tmp_path / "mesh.dat", *cow, format="off")
    assert gio.load_mesh(tmp_path / "mesh.dat", format="off")[1].shape == cow[1].shape
    # writes: NaN and empty meshes refused, an existing file untouched, no temporary left
    target = tmp_path / "keep.ply"
    target.write_bytes(b"old")
    with pytest.raises(ValueError, match="finite"):
        gio.save_mesh(target, cow[0] * float("nan"), cow[1])
    with pytest.raises(ValueError, match="non-empty"):
        gio.save_mesh(target, cow[0], cow[1][:0])
    assert target.read_bytes() == b"old"
    assert [n for n in os.listdir(tmp_path) if n.endswith(".tmp")] == []


def test_polygon_obj_and_negative_indices(tmp_path):
    (tmp_path / "q.obj").write_text("v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nvt 0 0\nf 1/1 2/1 3/1 4/1\nf -4 -2 -1\n")
    v, f = gio.load_mesh(tmp_path / "q.obj")
    assert f.tolist() == [[0, 1, 2], [0, 2, 3], [0, 2, 3]]


@pytest.mark.parametrize("lib", ["trimesh", "open3d", "pymeshlab"])
def test_library_conversions(cow, lib):
    pytest.importorskip(lib)
    v, f = cow
    v = v.clone().requires_grad_(True)  # tensors with grad (any device) are accepted
    to, back = getattr(gio, "to_" + lib), getattr(gio, "from_" + lib)
    obj = to(v, f)
    v2, f2 = back(obj)
    assert v2.dtype == torch.float32 and f2.dtype == torch.int64
    assert torch.equal(f2, f) and torch.allclose(v2, v.detach())
    if lib == "trimesh":
        assert obj.is_watertight


def test_library_conversion_cuda(cow):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    trimesh = pytest.importorskip("trimesh")  # noqa: F841
    v2, f2 = gio.from_trimesh(gio.to_trimesh(cow[0].cuda(), cow[1].cuda()), device="cuda")
    assert v2.is_cuda and torch.equal(f2.cpu(), cow[1])


@pytest.mark.parametrize("ext", ["npz", "vtk", "msh", "vtu"])
def test_tetgrid_round_trip(tmp_path, ext):
    from gshell import TetGrid
    if ext != "npz":
        pytest.importorskip("meshio")
    grid = TetGrid.regular(3)
    path = tmp_path / ("g." + ext)
    gio.save_tetgrid(path, grid)
    g2 = gio.load_tetgrid(path)
    assert torch.allclose(g2.vertices, grid.vertices) and torch.equal(g2.tets, grid.tets)
    assert [n for n in os.listdir(tmp_path) if n.endswith(".tmp")] == []


def test_tetgrid_errors(tmp_path, cow):
    with pytest.raises(FileNotFoundError):
        gio.load_tetgrid(tmp_path / "none.msh")
    pytest.importorskip("meshio")
    gio.save_mesh(tmp_path / "surf.vtk", *cow)
    with pytest.raises(ValueError, match="tetra"):
        gio.load_tetgrid(tmp_path / "surf.vtk")
    (tmp_path / "bad.msh").write_bytes(b"$MeshFormat\n4.1 0 8\n$EndMeshFormat\n$Nodes\n1 2")
    with pytest.raises(ValueError, match="bad.msh"):
        gio.load_tetgrid(tmp_path / "bad.msh")
    # a tet mesh is refused by load_mesh with a pointer to load_tetgrid
    from gshell import TetGrid
    gio.save_tetgrid(tmp_path / "t.vtk", TetGrid.regular(2))
    with pytest.raises(ValueError, match="load_tetgrid"):
        gio.load_mesh(tmp_path / "t.vtk")


def test_sample_meshes_load(samples):
    for name in ("airplane.obj", "bunny10k_textured.obj", "colored_airplane.ply", "cube.obj"):
        v, f = gio.load_mesh(os.path.join(samples, name))
        assert v.shape[0] > 0 and f.shape[0] > 0 and int(f.max()) < v.shape[0]
