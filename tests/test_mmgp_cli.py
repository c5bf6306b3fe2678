"""`gshell mmgp generate|fit|predict` end to end on a few coarse plates, and MMGP on the real
dataset beating the mean predictor."""
import numpy as np
import pytest

pytest.importorskip("triangle")
pytest.importorskip("skfem")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    from gshell import cli

    d = tmp_path_factory.mktemp("tensile2d")
    assert cli.main(["mmgp", "generate", str(d), "--n", "14", "--mesh-size", "0.08", "-q"]) == 0
    return d


def test_generate_fit_predict(data_dir, tmp_path, capsys):
    from gshell import cli

    assert len(list(data_dir.glob("*.npz"))) == 14
    model = tmp_path / "model.npz"
    assert cli.main(["mmgp", "fit", str(data_dir), str(model), "--samples", "0:10", "--restarts", "1",
                     "-q"]) == 0
    assert model.stat().st_size > 0
    pred = tmp_path / "pred.npz"
    assert cli.main(["mmgp", "predict", str(model), str(data_dir), "--samples", "10:14",
                     "--out", str(pred), "--n-samples", "20"]) == 0
    out = capsys.readouterr().out
    assert "| u |" in out and "| max_von_mises |" in out and "wrote" in out
    with np.load(pred) as z:
        assert "sample0/u/mean" in z and z["sample0/u/q975"].shape == z["sample0/u/mean"].shape
    # never over an existing file without --force
    assert cli.main(["mmgp", "fit", str(data_dir), str(model), "--samples", "0:10", "-q"]) == 2


def test_fit_records_the_inputs_and_predict_builds_them_alike(data_dir, tmp_path):
    """--inputs scaled (default) trains on [tx/E, ty/E, E] and predict feeds the same; raw on
    the samples' [tx, ty, E]; the two models differ."""
    from gshell import cli
    from gshell.mmgp import dataset
    from gshell.mmgp.model import MMGP

    samples = [dataset.load_sample(f) for f in sorted(data_dir.glob("*.npz"))]
    test = samples[10:14]
    means = {}
    for kind in ("scaled", "raw"):
        path = tmp_path / ("%s.npz" % kind)
        extra = [] if kind == "scaled" else ["--inputs", "raw"]
        assert cli.main(["mmgp", "fit", str(data_dir), str(path), "--samples", "0:10",
                         "--restarts", "1", "-q"] + extra) == 0
        m = MMGP.load(path)
        assert m.info == {"inputs": kind}
        pred = tmp_path / ("p_%s.npz" % kind)
        assert cli.main(["mmgp", "predict", str(path), str(data_dir), "--samples", "10:14",
                         "--out", str(pred), "--n-samples", "20", "-q"]) == 0
        x = np.stack([s["scalars_in"] for s in test])
        want = m.predict([(s["points"], s["triangles"]) for s in test],
                         dataset.scaled_inputs(x) if kind == "scaled" else x, n_samples=20)
        with np.load(pred) as z:
            for i in range(len(test)):
                np.testing.assert_array_equal(z["sample%d/u/mean" % i], want[i]["u"]["mean"])
            means[kind] = z["sample0/u/mean"]
    assert not np.allclose(means["scaled"], means["raw"])
    # a model without the record (saved by the Python API) is fed the raw inputs
    m = MMGP.load(tmp_path / "raw.npz")
    m.info = {}
    m.save(tmp_path / "bare.npz")
    assert cli.main(["mmgp", "predict", str(tmp_path / "bare.npz"), str(data_dir), "--samples",
                     "10:14", "--out", str(tmp_path / "p_bare.npz"), "--n-samples", "20",
                     "-q"]) == 0
    with np.load(tmp_path / "p_bare.npz") as z:
        np.testing.assert_array_equal(z["sample0/u/mean"], means["raw"])
    assert cli.main(["mmgp", "fit", str(data_dir), str(tmp_path / "x.npz"), "--inputs", "log",
                     "-q"]) == 2


def test_mmgp_beats_the_mean_on_plates(data_dir):
    from gshell.mmgp import dataset
    from gshell.mmgp.evaluate import field_rrmse
    from gshell.mmgp.model import MMGP

    files = sorted(data_dir.glob("*.npz"))
    samples = [dataset.load_sample(f) for f in files]
    train, test = samples[:11], samples[11:]
    m = MMGP(n_restarts=1, seed=0, landmarks="corners")
    m.fit([(s["points"], s["triangles"]) for s in train], np.stack([s["scalars_in"] for s in train]),
          {"sigma_vm": [s["fields"]["sigma_vm"] for s in train]}, {})
    pred = m.predict([(s["points"], s["triangles"]) for s in test],
                     np.stack([s["scalars_in"] for s in test]), n_samples=20)
    ref = [s["fields"]["sigma_vm"] for s in test]
    mean_level = np.mean([f.mean() for f in (s["fields"]["sigma_vm"] for s in train)])
    assert field_rrmse([p["sigma_vm"]["mean"] for p in pred], ref) < \
        field_rrmse([np.full_like(r, mean_level) for r in ref], ref)
    # corner landmarks: each plate's four corners sit at the same disk angles
    from gshell.mmgp.morph import boundary_corners

    assert m.corner_angles.shape == (4,) and m.corner_angles[0] == 0.0
    assert np.all(np.diff(m.corner_angles) > 0) and m.corner_angles[-1] < 2 * np.pi
    for k, s in enumerate(test):
        d = m._disk(s["points"], s["triangles"], k)
        c = boundary_corners(s["points"], s["triangles"])
        np.testing.assert_allclose(d[c], np.stack([np.cos(m.corner_angles),
                                                   np.sin(m.corner_angles)], 1), atol=1e-12)
    # a mesh with other corners is refused with a clear error
    sq = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0.5, 0.5]], float)
    tri = np.array([[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4]])
    tri_mesh = (sq[[0, 1, 2]], np.array([[0, 1, 2]]))
    with pytest.raises(ValueError, match="Expected 4 boundary corners"):
        m.predict([tri_mesh], np.stack([s["scalars_in"] for s in test[:1]]))
    assert len(m.predict([(sq, tri)], np.stack([s["scalars_in"] for s in test[:1]]),
                         n_samples=5)) == 1


def test_bad_ranges(data_dir, tmp_path, capsys):
    from gshell import cli

    assert cli.main(["mmgp", "fit", str(data_dir), str(tmp_path / "m.npz"), "--samples", "0:99"]) == 2
    assert "holds 14" in capsys.readouterr().err
    assert cli.main(["mmgp", "fit", str(tmp_path / "nope"), str(tmp_path / "m.npz")]) == 2
    assert cli.main(["mmgp", "predict", str(tmp_path / "none.npz"), str(data_dir)]) == 2
    assert cli.main(["mmgp", "fit", str(data_dir), str(tmp_path / "m.npz"), "--samples", "5:2"]) == 2
