"""The garment collection of gshell.gen: valid open meshes with the stated loops, deterministic,
fixed splits, and user folders normalised into the grid box."""
import numpy as np
import pytest
import torch

from gshell import io
from gshell.gen import KINDS, is_test, iter_garments, load_folder, load_folder_report, make_garment, split

RES = 32
SEEDS = (0, 1, 2)


def _loops(faces):
    """Independent count of boundary loops: union-find on the edges used by one face."""
    e = np.sort(faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    keys, counts = np.unique(e, axis=0, return_counts=True)
    b = keys[counts == 1]
    parent = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for u, v in b:
        parent[find(int(u))] = find(int(v))
    return len({find(int(u)) for u in b.reshape(-1)})


def _check_open_mesh(v, f, loops):
    assert v.dtype == np.float32 and v.ndim == 2 and v.shape[1] == 3
    assert f.dtype == np.int64 and f.ndim == 2 and f.shape[1] == 3
    assert np.isfinite(v).all()
    e = np.sort(f[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    _, counts = np.unique(e, axis=0, return_counts=True)
    assert counts.max() <= 2, "not edge-manifold"
    d = f[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    _, dcounts = np.unique(d, axis=0, return_counts=True)
    assert dcounts.max() == 1, "inconsistently oriented"
    used = np.zeros(v.shape[0], bool)
    used[f.reshape(-1)] = True
    assert used.all(), "unused vertices"
    assert (f[:, 0] != f[:, 1]).all() and (f[:, 1] != f[:, 2]).all() and (f[:, 0] != f[:, 2]).all()
    a, b, c = v[f[:, 0]].astype(np.float64), v[f[:, 1]].astype(np.float64), v[f[:, 2]].astype(np.float64)
    assert (np.linalg.norm(np.cross(b - a, c - a), axis=1) > 0).all(), "degenerate faces"
    assert np.abs(v).max() <= 0.5
    assert _loops(f) == loops


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_is_a_valid_open_mesh(kind):
    for seed in SEEDS:
        v, f, info = make_garment(kind, seed, res=RES)
        assert info["kind"] == kind and info["loops"] == KINDS[kind] and info["res"] == RES
        assert isinstance(info["params"], dict) and info["params"]
        _check_open_mesh(v, f, KINDS[kind])
        t = v[f].astype(np.float64)  # wound outward: normals point away from the centroid overall
        n = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
        assert ((t.mean(1) - v.mean(0)) * n).sum() > 0


def test_kinds_cover_one_to_five_loops():
    assert set(KINDS.values()) == {1, 2, 3, 4, 5}


def test_hood_is_wound_outward():
    # a hood is an ellipsoid with a face hole: closing it adds little, so its signed volume is positive
    v, f, _ = make_garment("hood", 0, res=RES)
    a, b, c = (v[f[:, i]].astype(np.float64) for i in range(3))
    assert (a * np.cross(b, c)).sum() / 6 > 0.01


def test_deterministic_and_seeds_differ():
    v1, f1, i1 = make_garment("shirt", 5, res=RES)
    v2, f2, i2 = make_garment("shirt", 5, res=RES)
    assert np.array_equal(v1, v2) and np.array_equal(f1, f2) and i1 == i2
    v3, f3, _ = make_garment("shirt", 6, res=RES)
    assert v3.shape != v1.shape or not np.array_equal(v1, v3)


def test_iter_garments_cycles_kinds_and_is_prefix_stable():
    kinds = ["skirt", "trousers"]
    a = list(iter_garments(4, seed=1, kinds=kinds, res=RES))
    b = list(iter_garments(2, seed=1, kinds=kinds, res=RES))
    assert [x[3]["kind"] for x in a] == ["skirt", "trousers", "skirt", "trousers"]
    for x, y in zip(a, b):
        assert np.array_equal(x[1], y[1]) and np.array_equal(x[2], y[2])
    assert [x[3]["split"] for x in a] == ["train"] * 4
    assert not np.array_equal(a[0][1], a[2][1])


def test_split_is_fixed_disjoint_and_complete():
    for n in (1, 5, 23, 100):
        train, test = split(n)
        assert train.dtype == np.int64 and test.dtype == np.int64
        assert np.intersect1d(train, test).size == 0
        assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(n))
        assert all(is_test(int(i)) for i in test) and not any(is_test(int(i)) for i in train)
    t100, s100 = split(100)
    t23, s23 = split(23)
    assert np.array_equal(s100[:s23.size], s23) and np.array_equal(t100[:t23.size], t23)
    assert s100.size == 20
    assert list(split(10)[1]) == [4, 9]


def test_load_folder_round_trip(tmp_path):
    originals = {}
    for stem, kind, scale, shift in (("a", "skirt", 3.0, (10.0, -2.0, 5.0)), ("b", "hood", 0.01, (0.0, 1.0, 0.0))):
        v, f, _ = make_garment(kind, 0, res=RES)
        v = (v.astype(np.float64) * scale + np.asarray(shift)).astype(np.float32)
        io.save_mesh(str(tmp_path / (stem + ".ply")), v, f)
        originals[stem] = (v, f)
    (tmp_path / "notes.txt").write_text("not a mesh")
    with pytest.warns(UserWarning, match="notes.txt"):
        meshes = load_folder(tmp_path, box=0.9)
    assert [m[0] for m in meshes] == ["a", "b"]
    for stem, vn, fn, to_world in meshes:
        v, f = originals[stem]
        assert vn.dtype == torch.float32 and fn.dtype == torch.int64 and to_world.shape == (4, 4)
        vn = vn.numpy().astype(np.float64)
        ext = vn.max(0) - vn.min(0)
        assert abs(ext.max() - 0.9) < 1e-5 and np.abs(vn).max() <= 0.45 + 1e-6
        assert np.allclose((vn.max(0) + vn.min(0)) / 2, 0, atol=1e-6)
        assert np.array_equal(fn.numpy(), f)
        back = vn @ to_world[:3, :3].T + to_world[:3, 3]
        assert np.abs(back - v).max() <= 1e-5 * max(1.0, np.abs(v).max())
    meshes2, skipped = load_folder_report(tmp_path)
    assert [s[0] for s in skipped] == ["notes.txt"]


def test_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match="kind"):
        make_garment("cape", 0, res=RES)
    with pytest.raises(ValueError, match="res"):
        make_garment("skirt", 0, res=8)
    with pytest.raises(TypeError, match="res"):
        make_garment("skirt", 0, res=32.0)
    with pytest.raises(ValueError, match="seed"):
        make_garment("skirt", -1, res=RES)
    with pytest.raises(ValueError, match="kinds"):
        next(iter_garments(2, kinds=["skirt", "cape"], res=RES))
    with pytest.raises(ValueError, match="n_total"):
        split(0)
    with pytest.raises(FileNotFoundError, match="missing"):
        load_folder(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="empty"):
        load_folder(empty)
    txt = tmp_path / "txt"
    txt.mkdir()
    (txt / "readme.txt").write_text("hello")
    with pytest.raises(ValueError, match="readme.txt"):
        load_folder(txt)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "bad.obj").write_text("v 0 0 nope\nf 1 2 3\n")
    with pytest.raises(ValueError, match="bad.obj"):
        load_folder(broken)
    with pytest.raises(ValueError, match="box"):
        load_folder(txt, box=0)


def test_redraws_are_bounded(monkeypatch):
    from gshell.gen import collection

    monkeypatch.setattr(collection, "_valid", lambda v, f, loops: False)
    with pytest.raises(RuntimeError, match="tries"):
        make_garment("skirt", 0, res=16)
