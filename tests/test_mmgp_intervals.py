"""MMGP's full intervals (GP variance + the calibrated POD-truncation and transfer error) and the
sample families they are measured on (scripts/bench_mmgp_families.py has the full benchmark)."""
import numpy as np
import pytest

from gshell.mmgp import dataset
from gshell.mmgp.evaluate import evaluate
from gshell.mmgp.model import MMGP
from gshell.mmgp.morph import boundary_corners, check_disk_mesh


def _split(samples):
    return ([(s["points"], s["triangles"]) for s in samples],
            np.stack([s["scalars_in"] for s in samples]),
            {k: [s["fields"][k] for s in samples] for k in samples[0]["fields"]},
            {k: np.array([s["scalars_out"][k] for s in samples]) for k in samples[0]["scalars_out"]})


@pytest.mark.parametrize("family", sorted(dataset.FAMILIES))
def test_families_are_disk_meshes_with_their_inputs_and_corners(family):
    samples = dataset.generate(3, seed=1, family=family, progress=False, mesh_size=0.06)
    corners = {"plate": 4, "gravity": 4, "hexagon": 6}[family]
    sizes = set()
    for s in samples:
        check_disk_mesh(s["points"], s["triangles"])
        assert s["scalars_in"].shape == (len(dataset.FAMILIES[family]),)
        assert np.isfinite(s["fields"]["u"]).all() and np.abs(s["fields"]["u"]).max() > 0
        c = boundary_corners(s["points"], s["triangles"], dataset.CORNER_TURN[family])
        assert len(c) == corners
        sizes.add(len(s["points"]))
    assert len(sizes) > 1  # every sample its own mesh


@pytest.fixture(scope="module")
def hexagons():
    samples = dataset.generate(90, seed=3, family="hexagon", progress=False, mesh_size=0.06)
    train, test = samples[:60], samples[60:]
    model = MMGP(n_restarts=1, landmarks="corners", corner_turn=dataset.CORNER_TURN["hexagon"])
    model.fit(*_split(train))
    meshes, x, _, _ = _split(test)
    return model, test, model.predict(meshes, x), model.predict(meshes, x, intervals="gp")


def test_full_intervals_hold_on_held_out_samples(hexagons):
    """The GP's variance alone under-covers the fields of another shape class; with the
    calibrated truncation and transfer error the 95% intervals cover about 95% of held-out
    nodes, the means unchanged."""
    _, test, full, gp = hexagons
    ev_full, ev_gp = evaluate(full, test), evaluate(gp, test)
    for name in ev_full:
        assert ev_full[name]["rrmse"] == ev_gp[name]["rrmse"]
    for name in ("u", "sigma_vm"):
        assert 0.88 <= ev_full[name]["coverage"] <= 0.995, (name, ev_full[name])
    assert ev_gp["u"]["coverage"] < ev_full["u"]["coverage"] - 0.05
    model = hexagons[0]
    for a, b in zip(full, gp):
        for name in a:
            np.testing.assert_array_equal(a[name]["mean"], b[name]["mean"])
            if name in model.scalar_names:  # the GP's variance, rescaled by the CV calibration
                np.testing.assert_allclose(a[name]["var"], b[name]["var"] * model.scalar_scale[name],
                                           rtol=1e-12)
            else:  # the GP's variance plus a non-negative per-node error variance
                assert np.all(a[name]["var"] >= b[name]["var"])
            lo, hi = np.asarray(a[name]["q025"]), np.asarray(a[name]["q975"])
            np.testing.assert_allclose((lo + hi) / 2, a[name]["mean"], atol=1e-12)


def test_error_model_is_fitted_on_training_data_only(hexagons):
    """Predicting (test data) leaves the fitted error model as it was, and the calibration is
    reproducible from the training set."""
    model, test, _, _ = hexagons
    before = {k: v.copy() for k, v in model.field_extra.items()}
    meshes, x, _, _ = _split(test[:5])
    model.predict(meshes, x)
    for k in before:
        np.testing.assert_array_equal(model.field_extra[k], before[k])
        assert model.field_extra[k].min() >= 0
    assert all(s > 0 for s in model.scalar_scale.values())


def test_error_model_survives_save_and_load(hexagons, tmp_path):
    model, test, full, _ = hexagons
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = MMGP.load(path)
    meshes, x, _, _ = _split(test[:4])
    a, b = model.predict(meshes, x), loaded.predict(meshes, x)
    for pa, pb in zip(a, b):
        for name in pa:
            np.testing.assert_allclose(pb[name]["var"], pa[name]["var"], rtol=1e-12)
            np.testing.assert_allclose(pb[name]["mean"], pa[name]["mean"], rtol=1e-12)


def test_bad_interval_arguments():
    with pytest.raises(ValueError, match="cv_folds"):
        MMGP(cv_folds=1)
    with pytest.raises(ValueError, match="cv_folds"):
        MMGP(cv_folds=True)
    with pytest.raises(ValueError, match="cv_repeats"):
        MMGP(cv_repeats=0)
    with pytest.raises(ValueError, match="cv_repeats"):
        MMGP(cv_repeats=2.5)
    with pytest.raises(ValueError, match="family"):
        dataset.generate(2, family="sphere", progress=False)


def test_bad_intervals_value(hexagons):
    model, test, _, _ = hexagons
    meshes, x, _, _ = _split(test[:1])
    with pytest.raises(ValueError, match="intervals"):
        model.predict(meshes, x, intervals="conformal")


def test_coverage_scale_hits_the_target_and_the_conformal_rank():
    from gshell.mmgp.model import _Z975, _coverage_scale

    rng = np.random.default_rng(0)
    r, v0, v1 = rng.normal(size=2000) * 2.0, np.full(2000, 0.5), rng.uniform(0.5, 2.0, 2000)
    lam = _coverage_scale(r, v0, v1)
    assert lam > 0
    cover = np.mean(r * r <= _Z975 ** 2 * (v0 + lam * v1))
    assert 0.95 <= cover <= 0.95 + 1.5 / 2000
    assert np.mean(r * r <= _Z975 ** 2 * (v0 + 0.99 * lam * v1)) < 0.95
    # a fixed part that already covers everything needs no extra variance
    assert _coverage_scale(np.full(5, 0.1), np.ones(5), np.ones(5)) == 0.0
    # the conformal rank: the k-th smallest need, exactly k of n covered
    r = np.arange(1, 81) * 0.1 * _Z975
    k = _coverage_scale(r, np.zeros(80), np.ones(80), rank=77, floor=None)
    np.testing.assert_allclose(k, 7.7 ** 2)
    assert np.sum(r * r <= _Z975 ** 2 * k * (1 + 1e-12)) == 77


def test_calibration_is_a_function_of_the_training_set(hexagons):
    """Refitted on the same 60 training samples (drawn alone, without the test samples), the
    error model and the scalar scales come out identical: nothing of the test set enters."""
    model = hexagons[0]
    train = dataset.generate(60, seed=3, family="hexagon", progress=False, mesh_size=0.06)
    again = MMGP(n_restarts=1, landmarks="corners", corner_turn=dataset.CORNER_TURN["hexagon"])
    again.fit(*_split(train))
    for k in model.field_extra:
        np.testing.assert_array_equal(again.field_extra[k], model.field_extra[k])
        assert again.field_extra_mode[k] == model.field_extra_mode[k]
    assert again.scalar_scale == model.scalar_scale


def test_scalar_gp_keeps_the_floor_with_the_smallest_cv_nll():
    """``_scalar_gp`` fits one GP per nugget floor and keeps the one whose held-out predictions
    have the smallest Gaussian NLL: checked against GPs fitted one by one, on a smooth scalar
    (the interpolating floor wins) and on one with hidden jitter."""
    from gshell.mmgp.gp import GaussianProcess
    from gshell.mmgp.model import _scalar_gp

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (60, 2))
    smooth = np.sin(2 * x[:, 0]) + x[:, 1] ** 2
    jitter = smooth + 0.03 * np.sign(np.sin(57 * x[:, 0] + 91 * x[:, 1]))
    floors = [1e-8, 1e-3, 1e-1]
    for y in (smooth, jitter):
        gp, nll = _scalar_gp(x, y, floors, 1, 5, "cv", 5)
        ref = []
        for f in floors:
            g = GaussianProcess(n_restarts=1, seed=5, column_variance="cv", cv_folds=5,
                                noise_bounds=(f, 1.0)).fit(x, y[:, None])
            m, v = g.heldout_predictions()
            ref.append(float(np.mean(0.5 * np.log(v[:, 0]) + 0.5 * (y - m[:, 0]) ** 2 / v[:, 0])))
        assert gp.noise_bounds[0] == floors[int(np.argmin(ref))]
        assert nll == pytest.approx(min(ref), rel=1e-9)
        if y is smooth:
            assert gp.noise_bounds[0] == 1e-8, ref
    gp, nll = _scalar_gp(x, smooth, floors, 1, 5, "loo", 5)  # no CV: the first floor
    assert gp.noise_bounds[0] == 1e-8 and nll == 0.0


def test_scalar_noise_floor_is_recorded_and_validated(hexagons):
    model = hexagons[0]
    for name in model.scalar_names:
        assert model.error_cv_[name]["noise_floor"] in model.scalar_noise_floors
        assert model.scalar_gps[name].noise_bounds[0] == model.error_cv_[name]["noise_floor"]
    for bad in (0.0, 1.5, [], [1e-8, -1.0], True, "1e-3"):
        with pytest.raises(ValueError, match="scalar_noise_floors"):
            MMGP(scalar_noise_floors=bad)
