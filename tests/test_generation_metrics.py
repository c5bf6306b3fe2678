"""Generation metrics (MMD, COV, 1-NNA on Chamfer distances) against hand-computed cases and a
plain reference."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from gshell import metrics


def _brute_chamfer(x, y):
    d = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    return d.min(1).mean() + d.min(0).mean()


def test_point_cloud_chamfer_by_hand():
    x = np.zeros((1, 3))
    y = np.array([[1.0, 0, 0], [3.0, 0, 0]])
    # x -> y: 1; y -> x: (1 + 9) / 2 = 5
    assert metrics.point_cloud_chamfer(x, y) == pytest.approx(6.0)
    assert metrics.point_cloud_chamfer(y, x) == pytest.approx(6.0)
    assert metrics.point_cloud_chamfer(y, y) == 0.0


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 30), st.integers(1, 30), st.integers(0, 10 ** 6))
def test_chamfer_matches_brute_force(n, m, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, 3)), rng.normal(size=(m, 3))
    assert metrics.point_cloud_chamfer(x, y) == pytest.approx(_brute_chamfer(x, y), rel=1e-12)


def test_chamfer_matrix_symmetric_and_consistent():
    rng = np.random.default_rng(0)
    clouds = [rng.normal(size=(20 + i, 3)) for i in range(4)]
    other = [rng.normal(size=(15, 3)) + 1 for _ in range(3)]
    d = metrics.chamfer_matrix(clouds)
    assert d.shape == (4, 4) and np.allclose(d, d.T) and np.all(np.diag(d) == 0)
    dab = metrics.chamfer_matrix(clouds, other)
    ref = np.array([[_brute_chamfer(a, b) for b in other] for a in clouds])
    np.testing.assert_allclose(dab, ref, rtol=1e-12)


def test_mmd_and_coverage_by_hand():
    # 3 generated (rows) x 4 references (columns)
    d = np.array([[0.1, 0.5, 0.9, 0.8],
                  [0.35, 0.3, 0.7, 0.6],
                  [0.4, 0.6, 0.2, 0.9]])
    # per reference, the closest generated: 0.1, 0.3, 0.2, 0.6
    assert metrics.mmd(d) == pytest.approx((0.1 + 0.3 + 0.2 + 0.6) / 4)
    # nearest reference of each generated: 0, 1, 2 -> 3 of 4 covered
    assert metrics.coverage(d) == pytest.approx(0.75)
    assert metrics.coverage(d[:2][[0, 0]]) == pytest.approx(0.25)   # mode collapse


def test_one_nna_by_hand():
    # two well separated sets: every nearest neighbour is in its own set
    g = np.array([[0.0, 0, 0], [0.1, 0, 0]])
    r = np.array([[5.0, 0, 0], [5.1, 0, 0], [5.3, 0, 0]])
    dist = lambda a, b: np.abs(a[:, None, 0] - b[None, :, 0])
    assert metrics.one_nna(dist(g, g), dist(r, r), dist(g, r)) == 1.0
    # interleaved on a line: 0 (g), 1 (r), 2 (g), 3 (r): every nearest neighbour is of the
    # other set, except the ends tie (0 -> 1 only, 3 -> 2 only): accuracy 0
    g, r = np.array([[0.0, 0, 0], [2.0, 0, 0]]), np.array([[1.0, 0, 0], [3.0, 0, 0]])
    assert metrics.one_nna(dist(g, g), dist(r, r), dist(g, r)) == 0.0
    # 0 (g), 0.4 (g), 1 (r), 3 (r): g0 -> g1 (right), g1 -> g0 (0.4 < 0.6, right),
    # r1 -> g1 (0.6 < 2, wrong), r3 -> r1 (2 < 2.6, right): 3/4
    g, r = np.array([[0.0, 0, 0], [0.4, 0, 0]]), np.array([[1.0, 0, 0], [3.0, 0, 0]])
    assert metrics.one_nna(dist(g, g), dist(r, r), dist(g, r)) == pytest.approx(0.75)


def test_generation_metrics_on_meshes():
    def tri(shift):
        return np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], float) + shift, np.array([[0, 1, 2]])

    ref = [tri([0, 0, 0]), tri([0, 0, 2])]
    same = metrics.generation_metrics(ref, ref, n_points=256, seed=1)
    far = metrics.generation_metrics([tri([0, 0, 10]), tri([0, 0, 10.5])], ref, n_points=256)
    assert same["cov"] == 1.0 and far["cov"] == 0.5
    assert same["mmd"] < 0.05 < 50 < far["mmd"]
    assert far["1nna"] == 1.0 and same["1nna"] < 1.0
    assert same["n_generated"] == 2 and same["n_points"] == 256


def test_bad_generation_metric_inputs():
    with pytest.raises(ValueError, match="x"):
        metrics.point_cloud_chamfer(np.zeros((0, 3)), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="finite"):
        metrics.point_cloud_chamfer(np.full((2, 3), np.nan), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="clouds_a"):
        metrics.chamfer_matrix([])
    with pytest.raises(ValueError, match="d_gen_ref"):
        metrics.mmd(np.zeros(3))
    with pytest.raises(ValueError, match="d_gen_ref"):
        metrics.coverage(-np.ones((2, 2)))
    with pytest.raises(ValueError, match="d_gen_ref"):
        metrics.one_nna(np.zeros((2, 2)), np.zeros((3, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="generated"):
        metrics.generation_metrics([], [(np.eye(3), np.array([[0, 1, 2]]))])
