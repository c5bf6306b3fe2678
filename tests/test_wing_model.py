"""Tests of gshell.wing.cp_model and gshell.wing.train on small wing grids built here."""
import math

import numpy as np
import pytest
import torch

from gshell.wing.cp_model import (CpNet, FEATURE_NAMES, geometric_features, neighbourhood,
                                  normalised_coordinates)
from gshell.wing.train import (check_dataset, compare, evaluate, split_by_wing, train_cp_model)


def section(nv, t=0.12, m=0.03):
    """A closed section loop (nv, 2) (x, z): upper TE -> LE -> lower, a rounded trailing edge
    (no corner), thickness t, camber m; theta uniform clusters points at both edges."""
    th = 2 * np.pi * np.arange(nv) / nv
    x = 0.5 * (1 + np.cos(th))
    z = t * np.sin(th) * (0.25 + 0.75 * (1 - x)) + 4 * m * x * (1 - x)
    return np.stack([x, z], 1)


def wing_grid(nu=8, nv=24, span=3.0, root=1.0, taper=0.6, sweep=20.0, twist=-3.0, dihedral=4.0,
              t=0.12, m=0.03):
    """(nu, nv, 3) float64 wing grid in the dataset layout (x downstream, y span, z up)."""
    sec = section(nv, t, m)
    eta = np.linspace(0, 1, nu)
    pts = np.zeros((nu, nv, 3))
    for i, e in enumerate(eta):
        c = root * (1 - (1 - taper) * e)
        a = np.radians(twist * e)
        xs, zs = sec[:, 0] * c, sec[:, 1] * c
        pts[i, :, 0] = np.cos(a) * xs + np.sin(a) * zs + e * span * np.tan(np.radians(sweep))
        pts[i, :, 1] = e * span
        pts[i, :, 2] = -np.sin(a) * xs + np.cos(a) * zs + e * span * np.tan(np.radians(dihedral))
    return pts


def dataset(n_wings=12, n_cond=3, nu=6, nv=24, seed=0):
    """Wings of varied planform and section, conditions, and a learnable Cp of the geometry and
    conditions (a smooth function of x/c, the normal's z and alpha, scaled by Prandtl-Glauert)."""
    rng = np.random.default_rng(seed)
    pts = np.stack([wing_grid(nu, nv, span=rng.uniform(2, 5), taper=rng.uniform(0.4, 1),
                              sweep=rng.uniform(0, 30), twist=rng.uniform(-4, 0),
                              t=rng.uniform(0.08, 0.16), m=rng.uniform(0, 0.05))
                    for _ in range(n_wings)])
    wing = np.repeat(np.arange(n_wings), n_cond)
    s = len(wing)
    mach = rng.uniform(0.1, 0.6, s)
    alpha = rng.uniform(-2, 8, s)
    f = geometric_features(torch.tensor(pts)).numpy()
    c = normalised_coordinates(torch.tensor(pts)).numpy()
    xc, nz = c[..., 0][wing], f[..., FEATURE_NAMES.index("n_z")][wing]
    a = np.radians(alpha)[:, None, None]
    cp = (1 - 4 * xc * (1 - xc)) - 4 * a * nz * np.exp(-3 * xc)
    cp = cp / np.sqrt(1 - mach[:, None, None] ** 2)
    return {"points": pts.astype(np.float32), "wing": wing, "mach": mach.astype(np.float32),
            "alpha": alpha.astype(np.float32), "cp": cp.astype(np.float32)}


def rotation(seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q))


def test_features_shape_and_rigid_motion_scaling_invariance():
    p = torch.tensor(np.stack([wing_grid(), wing_grid(taper=1.0, sweep=0, m=0.0)]))
    f = geometric_features(p)
    assert f.shape == (2, 8, 24, len(FEATURE_NAMES)) and f.dtype == torch.float64
    assert torch.isfinite(f).all()
    r = torch.tensor(rotation(3))
    moved = 2.5 * p @ r.T + torch.tensor([0.3, -1.0, 2.0], dtype=torch.float64)
    g = geometric_features(moved)
    # everything but the normals is invariant under rotation, translation and uniform scaling
    torch.testing.assert_close(g[..., :11], f[..., :11], atol=1e-8, rtol=1e-8)
    # normals rotate with the grid
    torch.testing.assert_close(g[..., 11:], f[..., 11:] @ r.T, atol=1e-10, rtol=0)
    # the normalised coordinates do not change under translation and uniform scaling
    torch.testing.assert_close(normalised_coordinates(3 * p + 1.5), normalised_coordinates(p))


def test_features_of_a_straight_wing_are_those_of_a_cylinder():
    # no taper, sweep, twist or dihedral: a generalised cylinder, K = 0 and x_u is orthogonal to x_v
    p = torch.tensor(wing_grid(taper=1.0, sweep=0, twist=0, dihedral=0))[None]
    f = geometric_features(p)
    assert f[..., FEATURE_NAMES.index("K_c2")].abs().max() < 1e-9
    assert f[..., FEATURE_NAMES.index("cos_uv")].abs().max() < 1e-12
    # the span step is 3/7; the chord runs from the leading edge (j = 12) to the trailing edge
    # midpoint of j = 0 and j = 23: log(E/c^2) = 2 log(3/7) - 2 log(c)
    c = float(np.linalg.norm(p[0, 0, 12].numpy() - 0.5 * (p[0, 0, 0] + p[0, 0, 23]).numpy()))
    assert 0.99 < c < 1.0
    torch.testing.assert_close(f[..., 0], torch.full_like(f[..., 0], 2 * math.log(3 / 7 / c)))
    # a twisted wing is not developable: K != 0 somewhere
    q = torch.tensor(wing_grid(taper=1.0, sweep=0, twist=-20, dihedral=0))[None]
    assert geometric_features(q)[..., FEATURE_NAMES.index("K_c2")].abs().max() > 1e-3


def test_neighbourhood_wraps_chordwise_and_masks_the_span_edges():
    idx, valid = neighbourhood(4, 10, 1, 2)
    assert idx.shape == (40, 15) and valid.shape == (40, 15)
    # point (0, 0): chordwise neighbours j = 8, 9, 0, 1, 2; row -1 invalid
    assert not valid[0, :5].any() and valid[0, 5:].all()
    assert set(idx[0, 5:10].tolist()) == {8, 9, 0, 1, 2}
    assert set(idx[0, 10:].tolist()) == {18, 19, 10, 11, 12}


def test_attention_sees_only_the_neighbourhood():
    torch.manual_seed(0)
    net = CpNet(use_features=True, width=32, heads=4, radius_span=1, radius_chord=2).eval()
    x = torch.randn(1, 6, 20, CpNet.n_inputs(True))
    with torch.no_grad():
        base = net(x)[0]

        def changed(i, j):
            y = x.clone()
            y[0, i, j] += 3.0
            return (net(y)[0] - base).abs() > 1e-6

        d = changed(3, 10)
        # changed exactly on the 3 x 5 stencil around (3, 10)
        expect = torch.zeros(6, 20, dtype=torch.bool)
        expect[2:5, 8:13] = True
        assert torch.equal(d, expect)
        # across the chordwise seam: (1, 19) reaches (0..2, 17..19) and (0..2, 0..1)
        d = changed(1, 19)
        expect = torch.zeros(6, 20, dtype=torch.bool)
        expect[0:3, 17:] = True
        expect[0:3, :2] = True
        assert torch.equal(d, expect)
        # no wrap along the span: row 0 does not reach the last row
        assert not changed(0, 5)[-1].any()
        # the subsampled path gives the same values as the full grid
        q = torch.tensor([[0, 19, 57, 119, 64]])
        torch.testing.assert_close(net(x, q), base.reshape(1, -1)[:, q[0]])


def test_split_by_wing_holds_out_whole_wings():
    data = {"wing": np.repeat(np.arange(20), 4)}
    tr, te = split_by_wing(data, 0.25, seed=1)
    assert len(tr) + len(te) == 80 and len(np.intersect1d(tr, te)) == 0
    assert not set(data["wing"][tr]) & set(data["wing"][te])
    assert len(set(data["wing"][te])) == 5
    tr2, va = split_by_wing(data, 0.2, seed=2, samples=tr)
    assert set(tr2) | set(va) == set(tr) and not set(data["wing"][tr2]) & set(data["wing"][va])
    assert not np.array_equal(split_by_wing(data, 0.25, seed=2)[1], te)


@pytest.fixture(scope="module")
def small():
    return dataset()


def test_training_learns_and_is_deterministic(small):
    tr, te = split_by_wing(small, 0.25, seed=0)
    kw = dict(epochs=12, train_idx=tr, batch_size=4, points_per_sample=64, width=32, lr=3e-3,
              val_fraction=0.2)
    model, hist = train_cp_model(small, True, seed=0, **kw)
    ev = evaluate(model, small, te)
    assert ev["mse"] < 0.1 * ev["mse_mean_predictor"], ev
    assert hist["train_loss"][-1] < 0.5 * hist["train_loss"][0]
    # validation wings come out of the training wings: disjoint from those trained on and the test
    val_w, fit_w = set(small["wing"][hist["val_idx"]]), set(small["wing"][hist["train_idx"]])
    assert val_w and not val_w & fit_w and val_w | fit_w == set(small["wing"][tr])
    again, _ = train_cp_model(small, True, seed=0, **dict(kw, epochs=2))
    again2, _ = train_cp_model(small, True, seed=0, **dict(kw, epochs=2))
    other, _ = train_cp_model(small, True, seed=1, **dict(kw, epochs=2))
    x = torch.tensor(te[:3])
    from gshell.wing.train import predict
    assert torch.equal(predict(again, small, x), predict(again2, small, x))
    assert not torch.equal(predict(again, small, x), predict(other, small, x))


def test_compare_reports_both_variants_on_the_same_split(small):
    res = compare(small, seeds=(0,), test_fraction=0.25, epochs=1, batch_size=8,
                  points_per_sample=32, width=16)
    (row,) = res["runs"]
    assert row["mse_without"] > 0 and row["mse_with"] > 0
    assert row["reduction"] == pytest.approx(1 - row["mse_with"] / row["mse_without"])
    assert res["test_wings"] == 3 and res["train_wings"] == 9
    m0, m1 = res["models"][0]
    assert not m0.use_features and m1.use_features
    assert evaluate(m1, small, res["test_idx"])["mse"] == pytest.approx(row["mse_with"])


def test_bad_inputs_raise_clear_errors(small):
    p = torch.tensor(wing_grid())[None]
    with pytest.raises(ValueError, match="points of shape"):
        geometric_features(p[0])
    with pytest.raises(TypeError, match="points"):
        geometric_features(p.numpy())
    bad = p.clone()
    bad[0, 2, 3, 1] = float("nan")
    with pytest.raises(ValueError, match="finite"):
        geometric_features(bad)
    folded = p.clone()
    folded[0, :, 5] = folded[0, :, 7]
    with pytest.raises(ValueError, match="points"):
        geometric_features(folded)
    net = CpNet(use_features=False)
    with pytest.raises(ValueError, match="7 channels"):
        net(torch.zeros(1, 4, 16, 21))
    with pytest.raises(ValueError, match="query"):
        net(torch.zeros(1, 4, 16, 7), torch.tensor([[64]]))
    with pytest.raises(KeyError, match="cp"):
        check_dataset({k: v for k, v in small.items() if k != "cp"})
    with pytest.raises(ValueError, match="data\\['cp'\\]"):
        check_dataset(dict(small, cp=small["cp"][:, :3]))
    with pytest.raises(ValueError, match="test_fraction"):
        split_by_wing(small, 1.5)
    with pytest.raises(ValueError, match="train_idx"):
        train_cp_model(small, False, epochs=1, train_idx=[0, 10 ** 6])
    with pytest.raises(TypeError, match="use_features"):
        train_cp_model(small, "yes", epochs=1)


def test_cli_wing_train(small, tmp_path, capsys):
    from gshell._atomic import save_npz
    from gshell.cli import main

    path = str(tmp_path / "wings.npz")
    save_npz(path, **small)
    out = str(tmp_path / "run")
    assert main(["wing", "train", path, "--seeds", "0", "--epochs", "1", "--out", out]) == 0
    text = capsys.readouterr().out
    assert "| seed | test MSE without features" in text and "mean ± std" in text
    import json
    with open(tmp_path / "run" / "metrics.json") as f:
        m = json.load(f)
    assert m["runs"][0]["seed"] == 0 and m["test_wings"] == 2
    assert (tmp_path / "run" / "wing_cp.png").stat().st_size > 1000
    # the outputs exist: refused without --force; a missing dataset is a usage error
    assert main(["wing", "train", path, "--seeds", "0", "--epochs", "1", "--out", out]) == 2
    assert main(["wing", "train", str(tmp_path / "missing.npz")]) == 2
    assert "does not exist" in capsys.readouterr().err
