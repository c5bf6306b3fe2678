"""gshell.metrics against analytic distances and brute force."""
import numpy as np
import pytest
import torch

from gshell import metrics


def _grid_square(n=20, z=0.0, size=1.0):
    """A flat square [0, size]^2 at height z, triangulated, (V,3) float64 and (F,3) int64."""
    t = np.linspace(0, size, n + 1)
    x, y = np.meshgrid(t, t, indexing="ij")
    v = np.stack([x.ravel(), y.ravel(), np.full(x.size, z)], 1)
    idx = np.arange((n + 1) ** 2).reshape(n + 1, n + 1)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    f = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    return v, f


def _cube():
    v = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], np.float64)
    f = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                  [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]])
    return v, f


def _brute_point_triangle(p, a, b, c, n=60):
    """Distance from p to a dense barycentric sampling of triangle abc (upper bound, tight)."""
    s, t = np.meshgrid(np.linspace(0, 1, n + 1), np.linspace(0, 1, n + 1))
    keep = s + t <= 1
    pts = a + s[keep, None] * (b - a) + t[keep, None] * (c - a)
    return np.linalg.norm(pts - p, axis=1).min()


def test_closest_point_on_triangle_matches_dense_sampling():
    rng = np.random.default_rng(0)
    for _ in range(200):
        a, b, c = rng.normal(size=(3, 3))
        p = rng.normal(size=3) * 2
        cp = metrics._closest_on_triangles(p[None], a[None], b[None], c[None])[0]
        d = np.linalg.norm(cp - p)
        ref = _brute_point_triangle(p, a, b, c)
        assert d <= ref + 1e-12
        assert d >= ref - 0.05 * np.linalg.norm(b - a + c - a)  # sampling resolution


def test_point_mesh_distance_plane_is_height():
    v, f = _grid_square(10)
    rng = np.random.default_rng(1)
    p = np.concatenate([rng.random((500, 2)), rng.normal(size=(500, 1))], 1)
    d, face = metrics.point_mesh_distance(p, v, f)
    np.testing.assert_allclose(d, np.abs(p[:, 2]), atol=1e-12)
    assert face.min() >= 0 and face.max() < len(f)


def test_chamfer_of_shifted_plane():
    v, f = _grid_square(10)
    w = v + [0, 0, 0.01]
    cd = metrics.chamfer_distance(w, f, v, f, n=5000)
    assert cd == pytest.approx(0.01, rel=1e-9)


def test_compare_identical_and_shifted():
    v, f = _cube()
    m = metrics.compare_meshes(v, f, v, f, n=20000)
    assert m["chamfer"] < 1e-12 and m["fscore"] == 1.0
    assert m["normal_consistency"] == pytest.approx(1.0)
    assert m["watertight_pred"] and m["boundary_loops_gt"] == 0
    assert m["diag"] == pytest.approx(np.sqrt(3))
    # a shift along x by 2% of the diagonal: F-score at 1% falls, at 5% is 1
    w = v + [0.02 * np.sqrt(3), 0, 0]
    assert metrics.compare_meshes(w, f, v, f, n=20000, threshold=0.01)["fscore"] < 0.8
    assert metrics.compare_meshes(w, f, v, f, n=20000, threshold=0.05)["fscore"] == 1.0


def test_sample_surface_is_area_uniform():
    v, f = _grid_square(4, size=2.0)
    pts, nrm, _ = metrics.sample_surface(v, f, 40000, seed=3)
    hist, _, _ = np.histogram2d(pts[:, 0], pts[:, 1], bins=4, range=[[0, 2], [0, 2]])
    assert np.abs(hist / hist.mean() - 1).max() < 0.08
    assert np.allclose(np.abs(nrm[:, 2]), 1)


def test_topology_counts():
    v, f = _grid_square(3)
    assert metrics.boundary_loops(f) == 1 and not metrics.is_watertight(f)
    assert metrics.edge_manifold(f)
    assert metrics.boundary_loops(torch.as_tensor(_cube()[1])) == 0
    fan = np.array([[0, 1, 2], [0, 1, 3], [0, 1, 4]])
    assert not metrics.edge_manifold(fan)


@pytest.mark.parametrize("bad,msg", [
    ((np.zeros((3, 2)), np.array([[0, 1, 2]])), "shape"),
    ((np.zeros((3, 3)), np.zeros((0, 3), np.int64)), "empty"),
    ((np.zeros((3, 3)), np.array([[0, 1, 5]])), "index"),
    ((np.full((3, 3), np.nan), np.array([[0, 1, 2]])), "finite"),
])
def test_bad_meshes(bad, msg):
    v, f = _cube()
    with pytest.raises(ValueError, match=msg):
        metrics.compare_meshes(bad[0], bad[1], v, f, n=100)
