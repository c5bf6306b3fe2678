"""Tests of gshell.mmgp.pod, gshell.mmgp.gp and gshell.mmgp.model (MMGP, Casenave et al. 2023).

The morphing (floater_map), transfer (transfer_matrix) and mass matrix are replaced by small local
stand-ins, so these tests do not depend on gshell.mmgp.morph / gshell.mmgp.transfer.
"""
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.spatial import Delaunay

from gshell.mmgp import model as mmgp_model
from gshell.mmgp.gp import GaussianProcess
from gshell.mmgp.model import MMGP
from gshell.mmgp.pod import POD


# ------------------------------------------------------------------------------------------------
# local stand-ins for morph / transfer
def disk_mesh(rng, n_boundary=24, n_interior=60):
    """Delaunay mesh of the unit disk: a boundary ring with a random phase, random interior."""
    phase = rng.uniform(0, 2 * np.pi)
    ang = phase + 2 * np.pi * np.arange(n_boundary) / n_boundary
    ring = np.stack([np.cos(ang), np.sin(ang)], 1)
    r = 0.9 * np.sqrt(rng.uniform(0, 1, n_interior))
    a = rng.uniform(0, 2 * np.pi, n_interior)
    inner = np.stack([r * np.cos(a), r * np.sin(a)], 1)
    pts = np.vstack([ring, inner])
    tri = Delaunay(pts).simplices.astype(np.int64)
    return pts, tri


def mass_standin(points, triangles):
    """P1 consistent mass matrix."""
    p = points[triangles]
    area = 0.5 * np.abs((p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1])
                        - (p[:, 2, 0] - p[:, 0, 0]) * (p[:, 1, 1] - p[:, 0, 1]))
    local = (np.ones((3, 3)) + np.eye(3)) / 12.0
    rows = np.repeat(triangles, 3, axis=1).reshape(-1)
    cols = np.tile(triangles, (1, 3)).reshape(-1)
    vals = (area[:, None, None] * local[None]).reshape(-1)
    n = points.shape[0]
    return sp.csr_matrix((vals, (rows, cols)), shape=(n, n))


def floater_standin(points, triangles, weights="uniform"):
    """Uniform-weight Floater (Tutte) map: boundary on the unit circle by polar angle about the
    centroid, interior as the average of its neighbours."""
    n = points.shape[0]
    e = np.vstack([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
    es = np.sort(e, 1)
    uniq, cnt = np.unique(es, axis=0, return_counts=True)
    bnd = np.unique(uniq[cnt == 1])
    A = sp.csr_matrix((np.ones(len(uniq) * 2), (np.r_[uniq[:, 0], uniq[:, 1]],
                                                 np.r_[uniq[:, 1], uniq[:, 0]])), shape=(n, n))
    L = sp.diags(np.asarray(A.sum(1)).ravel()) - A
    c = points.mean(0)
    ang = np.arctan2(points[bnd, 1] - c[1], points[bnd, 0] - c[0])
    out = np.zeros((n, 2))
    out[bnd] = np.stack([np.cos(ang), np.sin(ang)], 1)
    inner = np.setdiff1d(np.arange(n), bnd)
    Lii = L[inner][:, inner].tocsc()
    Lib = L[inner][:, bnd]
    for k in range(2):
        out[inner, k] = spla.spsolve(Lii, -Lib @ out[bnd, k])
    return out


def transfer_standin(src_points, src_triangles, tgt_points):
    """Brute-force P1 interpolation; points outside take the nearest triangle, clamped."""
    P = src_points[src_triangles]                                       # (M, 3, 2)
    v0, v1 = P[:, 1] - P[:, 0], P[:, 2] - P[:, 0]
    det = v0[:, 0] * v1[:, 1] - v0[:, 1] * v1[:, 0]
    d = tgt_points[:, None, :] - P[None, :, 0]                          # (Nt, M, 2)
    l1 = (d[..., 0] * v1[:, 1] - d[..., 1] * v1[:, 0]) / det
    l2 = (v0[:, 0] * d[..., 1] - v0[:, 1] * d[..., 0]) / det
    lam = np.stack([1 - l1 - l2, l1, l2], -1)                           # (Nt, M, 3)
    best = lam.min(-1).argmax(1)
    w = np.clip(lam[np.arange(len(tgt_points)), best], 0, None)
    w /= w.sum(1, keepdims=True)
    rows = np.repeat(np.arange(len(tgt_points)), 3)
    return sp.csr_matrix((w.ravel(), (rows, src_triangles[best].ravel())),
                         shape=(len(tgt_points), len(src_points)))


@pytest.fixture
def standins(monkeypatch):
    monkeypatch.setattr(mmgp_model, "_morph", lambda p, t, w: floater_standin(p, t, w))
    monkeypatch.setattr(mmgp_model, "_transfer", transfer_standin)
    monkeypatch.setattr(mmgp_model, "_mass", mass_standin)


# ------------------------------------------------------------------------------------------------
# POD
def _snapshots(rng, n=12, N=40, c=2):
    pts, tri = disk_mesh(rng, 16, N - 16)
    base = [np.sin((k + 1) * pts[:, 0]) * np.cos(k * pts[:, 1]) for k in range(6)]
    X = []
    for _ in range(n):
        w = rng.normal(size=(6, c))
        X.append(sum(base[k][:, None] * w[k] for k in range(6)) + 0.01 * rng.normal(size=(N, c)))
    return np.stack(X), mass_standin(pts, tri)


def _merr(X, Y, M):
    D = X - Y
    return float(np.einsum("nd,nd->", D, (M @ D.T).T))


def test_pod_reconstruction_decreases_and_is_exact():
    rng = np.random.default_rng(0)
    X, Mn = _snapshots(rng)
    Xf = X.reshape(X.shape[0], -1)
    M = sp.kron(Mn, sp.identity(2), format="csr")
    full = POD().fit(X, M=Mn)
    errs = []
    for k in range(1, full.n_modes + 1):
        pod = POD().fit(Xf, M=Mn, n_modes=k)
        errs.append(_merr(Xf, pod.inverse_transform(pod.transform(Xf)), M))
    assert all(b <= a + 1e-12 for a, b in zip(errs, errs[1:]))
    total = _merr(Xf, Xf.mean(0), M)
    assert errs[-1] < 1e-10 * total
    # the squared error of k modes is the sum of the discarded eigenvalues
    assert np.isclose(errs[2], full.energy_all[3:].sum(), rtol=1e-6)


def test_pod_modes_are_M_orthonormal_and_ordering_is_node_major():
    rng = np.random.default_rng(1)
    X, Mn = _snapshots(rng)
    pod = POD().fit(X, M=Mn)
    M = sp.kron(Mn, sp.identity(2), format="csr")
    G = pod.modes @ (M @ pod.modes.T)
    assert np.allclose(G, np.eye(pod.n_modes), atol=1e-9)
    assert np.all(np.diff(pod.energy) <= 1e-12)
    # (n, N, c) and its node-major flattening give the same modes
    pod2 = POD().fit(X.reshape(X.shape[0], -1), M=M)
    assert np.allclose(np.abs(pod.modes), np.abs(pod2.modes), atol=1e-8)
    # Euclidean default
    pe = POD().fit(X)
    assert np.allclose(pe.modes @ pe.modes.T, np.eye(pe.n_modes), atol=1e-9)


def test_pod_tol_and_n_modes():
    rng = np.random.default_rng(2)
    X, Mn = _snapshots(rng)
    full = POD().fit(X, M=Mn)
    pod = POD().fit(X, M=Mn, tol=1e-2)
    rest = 1 - np.cumsum(full.energy_all) / full.energy_all.sum()
    assert rest[pod.n_modes - 1] <= 1e-2 and (pod.n_modes == 1 or rest[pod.n_modes - 2] > 1e-2)
    assert POD().fit(X, M=Mn, n_modes=3).n_modes == 3
    assert POD().fit(X, M=Mn, n_modes=3, tol=1e-2).n_modes == min(3, pod.n_modes)


def test_pod_errors():
    with pytest.raises(ValueError, match="Expected X"):
        POD().fit(np.zeros((3, 4, 5, 6)))
    with pytest.raises(ValueError, match="Expected M"):
        POD().fit(np.ones((3, 10)), M=sp.identity(3))
    with pytest.raises(ValueError, match="finite"):
        POD().fit(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="Expected n_modes"):
        POD().fit(np.ones((3, 4)), n_modes=0)
    pod = POD().fit(np.random.default_rng(0).normal(size=(5, 8)))
    with pytest.raises(ValueError, match="Expected X with 8 dofs"):
        pod.transform(np.ones((2, 7)))
    with pytest.raises(ValueError, match="Expected Z"):
        pod.inverse_transform(np.ones((2, pod.n_modes + 1)))


# ------------------------------------------------------------------------------------------------
# GP
def _f2(X):
    return np.sin(2.0 * X[:, 0]) * np.cos(1.5 * X[:, 1])


def test_gp_recovers_smooth_function_with_calibrated_intervals():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (40, 2))
    gp = GaussianProcess(n_restarts=5, seed=0).fit(X, _f2(X))
    Xs = rng.uniform(-1, 1, (300, 2))
    mean, var = gp.predict(Xs, return_cov="diag")
    assert mean.shape == (300, 1) and var.shape == (300, 1)
    err = mean[:, 0] - _f2(Xs)
    assert np.sqrt(np.mean(err ** 2)) < 0.05 * np.std(_f2(Xs))
    coverage = np.mean(np.abs(err) <= 1.96 * np.sqrt(var[:, 0]))
    assert 0.8 <= coverage <= 1.0


def test_gp_irrelevant_dimension_gets_long_length_scale():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, (40, 3))
    gp = GaussianProcess(n_restarts=5, seed=0).fit(X, _f2(X))
    ls = gp.length_scales_
    assert ls[2] > 10 * max(ls[0], ls[1])


def test_gp_gradient_matches_finite_differences():
    rng = np.random.default_rng(2)
    X = rng.uniform(-1, 1, (25, 3))
    Y = np.stack([_f2(X), np.cos(X[:, 2]) + 0.1 * rng.normal(size=25)], 1)
    gp = GaussianProcess(n_restarts=2, seed=0).fit(X, Y)
    for theta in (gp.theta_, np.array([0.3, -0.5, 1.0, 0.2, np.log(0.05)])):
        _, g = gp.log_marginal_likelihood(theta, eval_gradient=True)
        h = 1e-6
        fd = np.array([(gp.log_marginal_likelihood(theta + h * e)
                        - gp.log_marginal_likelihood(theta - h * e)) / (2 * h)
                       for e in np.eye(theta.size)])
        assert np.allclose(g, fd, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(fd).max()))


def test_gp_noise_free_interpolation():
    rng = np.random.default_rng(3)
    X = rng.uniform(-1, 1, (30, 2))
    Y = _f2(X)
    gp = GaussianProcess(n_restarts=3, seed=0).fit(X, Y)
    mean, var = gp.predict(X, return_cov="diag")
    assert np.abs(mean[:, 0] - Y).max() < 1e-4
    assert var.max() < 1e-4 * np.var(Y)


def test_gp_multi_output_cov_and_samples():
    rng = np.random.default_rng(4)
    X = rng.uniform(-1, 1, (30, 2))
    Y = np.stack([_f2(X), 10.0 * _f2(X) + 3.0, X[:, 0]], 1)
    gp = GaussianProcess(n_restarts=2, seed=0).fit(X, Y)
    Xs = rng.uniform(-1, 1, (6, 2))
    m1, var = gp.predict(Xs, return_cov="diag")
    m2, cov = gp.predict(Xs, return_cov=True)
    assert m1.shape == (6, 3) and var.shape == (6, 3) and cov.shape == (3, 6, 6)
    assert np.allclose(m1, m2)
    assert np.allclose(np.stack([np.diag(c) for c in cov], 1), var, rtol=1e-6, atol=1e-12)
    # shared kernel: the variances differ per column only by the output scale
    ratio = var[:, 1] / np.maximum(var[:, 0], 1e-300)
    assert np.allclose(ratio[var[:, 0] > 1e-12], 100.0, rtol=1e-6)
    S = gp.sample(Xs, 4000, seed=7)
    assert S.shape == (4000, 6, 3)
    assert np.array_equal(S, gp.sample(Xs, 4000, seed=7))
    sd = np.sqrt(var)
    assert np.all(np.abs(S.mean(0) - m1) <= 5 * sd / np.sqrt(4000) + 1e-9)
    emp = np.cov(S[:, :, 1].T)
    assert np.allclose(emp, cov[1], atol=0.1 * np.abs(cov[1]).max() + 1e-12)


def test_gp_seeded_and_state_roundtrip():
    rng = np.random.default_rng(5)
    X = rng.uniform(-1, 1, (20, 2))
    Y = _f2(X)
    a = GaussianProcess(n_restarts=3, seed=11).fit(X, Y)
    b = GaussianProcess(n_restarts=3, seed=11).fit(X, Y)
    assert np.array_equal(a.theta_, b.theta_)
    c = GaussianProcess.from_state(a.state("p_"), "p_")
    Xs = rng.uniform(-1, 1, (5, 2))
    assert np.array_equal(a.predict(Xs), c.predict(Xs))


def test_gp_errors():
    with pytest.raises(ValueError, match="Expected n_restarts"):
        GaussianProcess(n_restarts=0)
    with pytest.raises(ValueError, match="same number of rows"):
        GaussianProcess().fit(np.zeros((4, 2)), np.zeros(5))
    with pytest.raises(ValueError, match="finite"):
        GaussianProcess().fit(np.array([[np.inf], [0.0]]), np.zeros(2))
    gp = GaussianProcess(n_restarts=1).fit(np.random.default_rng(0).normal(size=(6, 2)),
                                            np.arange(6.0))
    with pytest.raises(ValueError, match=r"Expected Xs of shape \(n, 2\)"):
        gp.predict(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="return_cov"):
        gp.predict(np.zeros((3, 2)), return_cov="full")
    with pytest.raises(RuntimeError, match="fitted"):
        GaussianProcess().predict(np.zeros((1, 1)))


# ------------------------------------------------------------------------------------------------
# MMGP end to end
def _field(p, s):
    return np.sin(1.5 * p[:, 0] + s) + 0.5 * p[:, 1] ** 2


def _problem(n, seed):
    rng = np.random.default_rng(seed)
    meshes, S, u, w, area = [], [], [], [], []
    for _ in range(n):
        pts, tri = disk_mesh(rng, int(rng.integers(22, 28)), int(rng.integers(50, 70)))
        ab = rng.uniform(0.7, 1.4, 2)
        s = rng.uniform(0.0, 1.0)
        p = pts * ab
        meshes.append((p, tri))
        S.append([s])
        u.append(_field(p, s))
        w.append(np.stack([p[:, 0] * s, p[:, 1] ** 2], 1))
        area.append(np.pi * ab[0] * ab[1] + s)
    return meshes, np.array(S), {"u": u, "w": w}, {"area": np.array(area)}


def _rrmse(pred, true):
    num = sum(float(np.sum((p - t) ** 2)) for p, t in zip(pred, true))
    den = sum(float(np.sum(t ** 2)) for t in true)
    return np.sqrt(num / den)


def test_mmgp_end_to_end_beats_mean_and_roundtrips(standins, tmp_path):
    meshes, S, fields, scalars = _problem(25, seed=0)
    tr, te = slice(0, 20), slice(20, 25)
    model = MMGP(n_modes_geometry=4, n_modes_fields=None, weights="uniform", n_restarts=2, seed=0)
    model.fit(meshes[tr], S[tr], {k: v[tr] for k, v in fields.items()},
              {k: v[tr] for k, v in scalars.items()})
    out = model.predict(meshes[te], S[te], n_samples=100)
    assert len(out) == 5
    for k, (p, t) in enumerate(meshes[te]):
        N = p.shape[0]
        u = out[k]["u"]
        assert set(u) == {"mean", "var", "q025", "q975"}
        assert u["mean"].shape == u["var"].shape == u["q025"].shape == (N,)
        assert out[k]["w"]["mean"].shape == (N, 2) and out[k]["w"]["q975"].shape == (N, 2)
        assert np.all(u["var"] >= 0) and np.all(u["q025"] <= u["q975"] + 1e-12)
        assert isinstance(out[k]["area"]["mean"], float)
        assert out[k]["area"]["q025"] <= out[k]["area"]["mean"] <= out[k]["area"]["q975"]

    # mean predictor: the POD mean of the training fields, carried back to each test mesh
    def mean_pred(name, c):
        res = []
        for p, t in meshes[te]:
            d = floater_standin(p, t)
            Tb = transfer_standin(model.common_disk, model.common_triangles, d)
            res.append(np.asarray(Tb @ model.field_pods[name].mean.reshape(-1, c)).squeeze())
        return res

    for name, c in (("u", 1), ("w", 2)):
        true = fields[name][te]
        r_model = _rrmse([o[name]["mean"] for o in out], true)
        r_mean = _rrmse(mean_pred(name, c), true)
        assert r_model < 0.5 * r_mean, (name, r_model, r_mean)
    true_area = scalars["area"][te]
    pred_area = np.array([o["area"]["mean"] for o in out])
    assert np.sqrt(np.mean((pred_area - true_area) ** 2)) < 0.5 * np.std(true_area)

    path = tmp_path / "model.npz"
    model.info = {"set": object()}
    with pytest.raises(TypeError, match="MMGP.info"):
        model.save(path)
    assert list(tmp_path.iterdir()) == []
    model.info = {"inputs": "scaled", "runs": [1, 2]}
    model.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]
    with np.load(path, allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)
    loaded = MMGP.load(path)
    assert loaded.info == {"inputs": "scaled", "runs": [1, 2]}
    out2 = loaded.predict(meshes[te], S[te], n_samples=100)
    for o1, o2 in zip(out, out2):
        for name in ("u", "w", "area"):
            for key in ("mean", "var", "q025", "q975"):
                assert np.array_equal(o1[name][key], o2[name][key])
    # deterministic predictions, seed changes only the sampled quantiles
    out3 = model.predict(meshes[te], S[te], n_samples=100, seed=5)
    assert np.array_equal(out3[0]["u"]["mean"], out[0]["u"]["mean"])


def test_mmgp_without_input_scalars(standins):
    meshes, S, fields, scalars = _problem(12, seed=1)
    model = MMGP(n_modes_geometry=3, n_modes_fields=3, weights="uniform", n_restarts=1)
    model.fit(meshes[:10], np.zeros((10, 0)), {}, {"area": scalars["area"][:10]})
    out = model.predict(meshes[10:], None)
    assert set(out[0]) == {"area"}
    assert np.isfinite(out[1]["area"]["mean"])


def test_mmgp_errors(standins):
    meshes, S, fields, scalars = _problem(4, seed=2)
    with pytest.raises(ValueError, match="Expected weights"):
        MMGP(weights="cotan")
    with pytest.raises(ValueError, match=r"Expected scalars_in of shape \(4, p\)"):
        MMGP().fit(meshes, np.zeros((3, 1)), fields, scalars)
    with pytest.raises(ValueError, match=r"Expected fields_out\['u'\]\[1\]"):
        bad = dict(fields, u=[fields["u"][0], fields["u"][1][:-1]] + fields["u"][2:])
        MMGP().fit(meshes, S, bad, scalars)
    with pytest.raises(ValueError, match=r"Expected meshes\[0\] triangles"):
        MMGP().fit([(meshes[0][0], meshes[0][1] + 1000)] + meshes[1:], S, fields, scalars)
    with pytest.raises(ValueError, match="at least one output"):
        MMGP().fit(meshes, S, {}, {})
    with pytest.raises(RuntimeError, match="fitted"):
        MMGP().predict(meshes, S)
    with pytest.raises(ValueError, match="calibration"):
        MMGP(calibration="kfold")
    model = MMGP(n_modes_geometry=2, n_restarts=1, weights="uniform")
    model.fit(meshes, S, fields, scalars)
    with pytest.raises(ValueError, match=r"Expected scalars_in of shape \(4, 1\)"):
        model.predict(meshes, np.zeros((4, 2)))


# ------------------------------------------------------------------------------------------------
# leave-one-out residuals and per-column variance calibration
def test_gp_loo_residuals_match_refits():
    rng = np.random.default_rng(11)
    X = rng.uniform(-1, 1, (30, 2))
    Y = np.stack([_f2(X), 0.1 * X[:, 0] ** 2], 1)
    gp = GaussianProcess(n_restarts=2, seed=0, y_scaling="shared").fit(X, Y)
    ls, s2, noise = np.exp(gp.theta_[:-2]), np.exp(gp.theta_[-2]), np.exp(gp.theta_[-1])
    Xs, Ys = gp._X, gp._Y                       # standardised training data
    res = gp.loo_residuals()
    for i in (0, 7, 29):                        # refit with the same hyperparameters, without i
        keep = np.arange(30) != i
        D = np.sqrt((((Xs[keep, None] - Xs[None, keep]) / ls) ** 2).sum(-1))
        K = s2 * (1 + np.sqrt(5) * D + 5 / 3 * D ** 2) * np.exp(-np.sqrt(5) * D) + noise * np.eye(29)
        d = np.sqrt((((Xs[keep] - Xs[i]) / ls) ** 2).sum(-1))
        k = s2 * (1 + np.sqrt(5) * d + 5 / 3 * d ** 2) * np.exp(-np.sqrt(5) * d)
        pred = k @ np.linalg.solve(K, Ys[keep])
        np.testing.assert_allclose(res[i], (Ys[i] - pred) * gp.y_std_, rtol=1e-6, atol=1e-10)


def test_gp_column_variance_follows_each_column_error():
    """Shared hyperparameters, columns of very different predictability: the per-column scales
    (likelihood or LOO) give the hard column wider intervals, and LOO-calibrated intervals cover
    held-out points at about the nominal rate on both."""
    rng = np.random.default_rng(12)
    X = rng.uniform(-1, 1, (120, 2))
    Xs = rng.uniform(-1, 1, (400, 2))

    def f(Z):
        return np.stack([_f2(Z), np.sin(9 * Z[:, 0]) * np.cos(7 * Z[:, 1])], 1)

    Y, Ys = f(X), f(Xs)
    covs = {}
    for cv in (None, "likelihood", "loo"):
        gp = GaussianProcess(n_restarts=2, seed=0, y_scaling="shared", column_variance=cv).fit(X, Y)
        mean, var = gp.predict(Xs, return_cov="diag", include_noise=cv == "loo")
        covs[cv] = np.mean(np.abs(mean - Ys) <= 1.96 * np.sqrt(var), 0)
        if cv is None:
            ratio = var[:, 1] / var[:, 0]
            np.testing.assert_allclose(ratio, ratio[0], rtol=1e-9)   # one scale for both columns
        else:
            assert gp.column_scale_[1] > 3 * gp.column_scale_[0]
        gp2 = GaussianProcess.from_state(gp.state())
        np.testing.assert_allclose(gp2.predict(Xs, return_cov="diag")[1],
                                   gp.predict(Xs, return_cov="diag")[1], rtol=1e-10)
    assert np.all((covs["loo"] >= 0.85) & (covs["loo"] <= 1.0)), covs
    with pytest.raises(ValueError, match="column_variance"):
        GaussianProcess(column_variance="kfold")
    with pytest.raises(ValueError, match="cv_folds"):
        GaussianProcess(column_variance="cv", cv_folds=1)


def test_gp_cv_column_variance_matches_manual_folds():
    """column_variance="cv": the scale is the mean squared z-score of the held-out points of
    seeded K-fold refits; here with fixed hyperparameters (optimize=False) so that each fold's
    GP can be rebuilt by hand. Saved and loaded models keep the scale (not recomputable)."""
    rng = np.random.default_rng(21)
    X = rng.uniform(-1, 1, (40, 2))
    Y = np.stack([_f2(X), np.sin(6 * X[:, 0])], 1) + 0.01 * rng.normal(size=(40, 2))
    gp = GaussianProcess(optimize=False, seed=3, y_scaling="shared", column_variance="cv",
                         cv_folds=4).fit(X, Y)
    z2 = np.zeros(2)
    for held in np.array_split(np.random.default_rng(3).permutation(40), 4):
        keep = np.setdiff1d(np.arange(40), held)
        g = GaussianProcess(optimize=False, y_scaling="shared", column_variance=None)
        g.fit(X[keep], Y[keep])
        mean, var = g.predict(X[held], return_cov="diag", include_noise=True)
        z2 += ((Y[held] - mean) ** 2 / var).sum(0)
    np.testing.assert_allclose(gp.column_scale_, z2 / 40, rtol=1e-10)
    assert gp.column_scale_[1] > gp.column_scale_[0]      # the rougher column is wider
    gp2 = GaussianProcess.from_state(gp.state())
    np.testing.assert_array_equal(gp2.column_scale_, gp.column_scale_)
    np.testing.assert_allclose(gp2.predict(X[:5], return_cov="diag")[1],
                               gp.predict(X[:5], return_cov="diag")[1], rtol=1e-12)


def test_gp_cv_variance_is_wider_than_loo_when_hyperparameters_overfit():
    """Few points in many inputs: the closed-form LOO keeps hyperparameters tuned on the held-out
    point, so its z-scores are too small; K-fold refits see the honest errors, and cover held-out
    data at least as well."""
    rng = np.random.default_rng(22)
    X = rng.uniform(-1, 1, (40, 8))
    Xs = rng.uniform(-1, 1, (300, 8))

    def f(Z):
        return np.sin(2 * Z[:, 0]) + Z[:, 1] * Z[:, 2] + 0.5 * np.cos(3 * Z[:, 3])

    y, ys = f(X), f(Xs)
    gps = {cv: GaussianProcess(n_restarts=2, seed=0, column_variance=cv).fit(X, y)
           for cv in ("loo", "cv")}
    assert gps["cv"].column_scale_[0] > gps["loo"].column_scale_[0]
    cov = {}
    for cv, gp in gps.items():
        mean, var = gp.predict(Xs, return_cov="diag", include_noise=True)
        cov[cv] = np.mean(np.abs(mean[:, 0] - ys) <= 1.96 * np.sqrt(var[:, 0]))
    assert cov["cv"] >= cov["loo"] and cov["cv"] >= 0.85, cov


def test_mmgp_geometry_modes_chosen_by_loo(standins):
    meshes, S, fields, scalars = _problem(24, seed=3)
    m = MMGP(n_modes_geometry=[1, 4], n_restarts=1, weights="uniform", seed=0)
    m.fit(meshes, S, {"u": fields["u"]}, {"area": scalars["area"]})
    # the area depends on both axis scales: one geometry mode cannot hold both
    assert m.n_modes_geometry_ == 4 and m.geometry_pod.n_modes == 4
    m1 = MMGP(n_modes_geometry=1, n_restarts=1, weights="uniform", seed=0)
    m1.fit(meshes, S, {"u": fields["u"]}, {"area": scalars["area"]})
    assert m.loo_error < m1.loo_error
    with pytest.raises(ValueError, match="n_modes_geometry"):
        MMGP(n_modes_geometry=[])


def test_sampled_quantiles_match_numpy():
    from gshell.mmgp.model import _row_quantiles

    rng = np.random.default_rng(13)
    for S in (2, 7, 200, 201):
        d = rng.normal(size=(S, 50))
        for qs in ((0.025, 0.5, 0.975), (0.0, 1.0), (0.3,)):
            q = _row_quantiles(d.T.copy(), qs)
            np.testing.assert_allclose(q, np.quantile(d, qs, axis=0), rtol=0, atol=1e-12)
        R = np.ascontiguousarray(d.T)
        q = _row_quantiles(R, (0.025, 0.975))           # sorts R in place
        np.testing.assert_allclose(q, np.quantile(d, [0.025, 0.975], axis=0), rtol=0, atol=1e-12)
        assert np.all(np.diff(R, axis=1) >= 0)


def test_mmgp_calibration_changes_only_the_variances(standins):
    """calibration="cv" and "loo" fit the same GPs (same means) and differ only in the
    per-output variance scales."""
    meshes, S, fields, scalars = _problem(14, seed=4)
    out = {}
    for cal in ("loo", "cv"):
        m = MMGP(n_modes_geometry=3, n_restarts=1, weights="uniform", calibration=cal, seed=0)
        m.fit(meshes[:12], S[:12], {k: v[:12] for k, v in fields.items()},
              {k: v[:12] for k, v in scalars.items()})
        assert m.field_gps["u"].column_variance == cal
        assert m.scalar_gps["area"].column_variance == cal
        out[cal] = (m, m.predict(meshes[12:], S[12:], n_samples=50, intervals="gp"))
        full = m.predict(meshes[12:], S[12:], n_samples=50)
        np.testing.assert_allclose(full[0]["area"]["var"],
                                   out[cal][1][0]["area"]["var"] * m.scalar_scale["area"],
                                   rtol=1e-10)
    (ml, pl), (mc, pc) = out["loo"], out["cv"]
    for name in ("u", "w", "area"):
        np.testing.assert_allclose(pl[0][name]["mean"], pc[0][name]["mean"], rtol=1e-10)
    np.testing.assert_array_equal(ml.scalar_gps["area"].theta_, mc.scalar_gps["area"].theta_)
    assert not np.allclose(ml.scalar_gps["area"].column_scale_, mc.scalar_gps["area"].column_scale_)
    ratio = pc[0]["area"]["var"] / pl[0]["area"]["var"]
    np.testing.assert_allclose(ratio, mc.scalar_gps["area"].column_scale_[0]
                               / ml.scalar_gps["area"].column_scale_[0], rtol=1e-10)
