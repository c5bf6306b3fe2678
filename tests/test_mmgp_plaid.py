"""gshell.mmgp.plaid: PLAID datasets written with pyplaid (both on-disk layouts, as the real
Tensile2d, Rotor37, ... ship) read back exactly as MMGP's inputs; save_plaid's datasets read back
by pyplaid itself; bad folders, splits, problems, features and elements refused by name."""
import csv
import os

import numpy as np
import pytest

pytest.importorskip("plaid.storage", reason="pyplaid is not installed (pip install pyplaid)")

from CGNS.PAT import cgnskeywords as CGK  # noqa: E402  (pyCGNS comes with pyplaid)
from CGNS.PAT import cgnslib as CGL  # noqa: E402
from plaid import ProblemDefinition, Sample  # noqa: E402
from plaid.storage import init_from_disk, save_to_disk  # noqa: E402

from gshell.mmgp import MMGP, load_plaid, save_plaid  # noqa: E402
from gshell.mmgp.plaid import list_problems, plaid_layout  # noqa: E402

FIELDS = ("U1", "U2", "sig12")
INPUTS = ("P", "p1")
OUTPUTS = ("max_U2", "max_vm")


def _mesh(k):
    """Sample k's mesh: a (4+k) x 4 grid of the unit square, jittered, split into CCW triangles."""
    nx, ny = 4 + k, 4
    x, y = np.meshgrid(np.linspace(0, 1, nx), np.linspace(0, 1, ny), indexing="ij")
    p = np.stack([x.ravel(), y.ravel()], 1)
    rng = np.random.default_rng(k)
    inner = (p > 0).all(1) & (p < 1).all(1)
    p[inner] += rng.uniform(-0.02, 0.02, (inner.sum(), 2))
    idx = np.arange(nx * ny).reshape(nx, ny)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    return p, np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)]).astype(np.int64)


def _values(k):
    """Sample k's features: {name: (N,) field or float scalar}, distinct per sample."""
    p, _ = _mesh(k)
    rng = np.random.default_rng(100 + k)
    out = {n: rng.normal(size=len(p)) * (j + 1) for j, n in enumerate(FIELDS)}
    out.update({n: float(rng.uniform(-1, 1)) for n in INPUTS + OUTPUTS})
    return out


def _sample(k, base="Base_2_2", elements=("TRI_3", "BAR_2"), z=None, quads=False, withheld=False):
    """Sample k as a plaid.Sample, built with pyplaid's API and pyCGNS, the way PLAID's datasets
    are: Base_2_2/Zone with nodes, TRI_3 (and BAR_2 boundary) elements, VertexFields; Global.
    ``withheld``: inputs only (a benchmark's test sample)."""
    p, t = _mesh(k)
    v = _values(k)
    s = Sample()
    dim = 3 if z is not None else 2
    s.init_base(2, dim, base, time=0.0)
    zone = s.init_zone(np.array([[len(p), len(t), 0]]), zone="Zone", base=base, time=0.0)
    s.set_nodes(p if z is None else np.concatenate([p, z(p)[:, None]], 1), zone="Zone", base=base,
                time=0.0)
    n = 0
    if quads:
        q = np.array([[0, 4 + k, 5 + k, 1]])
        CGL.newElements(zone, "Elements_QUAD_4", CGK.QUAD_4, np.array([1, 1]), (q + 1).ravel())
        n = 1
    if "TRI_3" in elements:
        CGL.newElements(zone, "Elements_TRI_3", CGK.TRI_3, np.array([n + 1, n + len(t)]),
                        (t + 1).ravel().astype(np.int32))
        n += len(t)
    if "BAR_2" in elements:
        bars = np.array([[0, 1], [1, 2]])
        CGL.newElements(zone, "Elements_BAR_2", CGK.BAR_2, np.array([n + 1, n + 2]), (bars + 1).ravel())
    for f in () if withheld else FIELDS:
        s.add_field(f, v[f], zone="Zone", base=base, time=0.0)
    for g in INPUTS if withheld else INPUTS + OUTPUTS:
        s.add_global(g, np.array([v[g]]), time=0.0)
    return s


def _problem(base="Base_2_2", train=None, test=None, outputs=FIELDS + OUTPUTS):
    return ProblemDefinition(
        input_features=["Global/" + n for n in INPUTS] + [base + "/Zone/GridCoordinates/CoordinateX",
                                                           base + "/Zone/GridCoordinates/CoordinateY"],
        output_features=[(base + "/Zone/VertexFields/" + n) if n in FIELDS else "Global/" + n
                         for n in outputs],
        train_split=train or {"train": "all"}, test_split=test or {"test": "all"})


def _write(path, ids, pb_defs, backend="cgns", **kw):
    """A PLAID dataset written by pyplaid's save_to_disk: split name -> sample numbers k."""
    save_to_disk(str(path), sample_constructor=lambda k: _sample(k, **kw), ids=ids, backend=backend,
                 pb_defs=pb_defs)
    return str(path)


@pytest.fixture(scope="module")
def tensile_like(tmp_path_factory):
    """data/train (samples 0-4) and data/test (5, 6); problem 'task' trains on stored train
    samples 0, 2, 3 and tests on all of test."""
    path = tmp_path_factory.mktemp("plaid") / "ds"
    return _write(path, {"train": [0, 1, 2, 3, 4], "test": [5, 6]},
                  {"task": _problem(train={"train": [0, 2, 3]})})


def _check(split, ks, f32=False):
    """split holds samples ks, in order, exactly (rounded to float32 with ``f32``: pyplaid's
    hf_datasets and zarr backends store floats so)."""
    r = (lambda a: np.asarray(a, np.float32).astype(np.float64)) if f32 else np.asarray
    meshes, x, fields, scalars = split
    assert len(meshes) == len(ks) and x.shape == (len(ks), len(INPUTS))
    assert split.input_names == list(INPUTS)                 # PLAID sorts paths: P, p1
    assert sorted(fields) == sorted(FIELDS) and sorted(scalars) == sorted(OUTPUTS)
    for j, k in enumerate(ks):
        p, t = _mesh(k)
        v = _values(k)
        assert meshes[j][0].dtype == np.float64 and meshes[j][1].dtype == np.int64
        np.testing.assert_array_equal(meshes[j][0], r(p))
        np.testing.assert_array_equal(meshes[j][1], t)
        for f in FIELDS:
            np.testing.assert_array_equal(fields[f][j], r(v[f]))
        for i, n in enumerate(INPUTS):
            assert x[j, i] == r(v[n])
        for n in OUTPUTS:
            assert scalars[n][j] == r(v[n])


def test_reads_the_problems_splits_exactly(tensile_like):
    assert plaid_layout(tensile_like) == "storage"
    train = load_plaid(tensile_like, "train")
    _check(train, [0, 2, 3])
    assert train.ids == [("train", 0), ("train", 2), ("train", 3)]
    assert train.paths["U1"] == "Base_2_2/Zone/VertexFields/U1" and train.paths["P"] == "Global/P"
    _check(load_plaid(tensile_like, "test", problem="task"), [5, 6])
    assert list_problems(tensile_like)["task"]["splits"] == ["train", "test"]


def test_stored_split_and_chosen_features(tensile_like, tmp_path):
    # a stored split that is no problem split: all its samples
    path = _write(tmp_path / "ds", {"all": [3, 1, 4]}, {"p": _problem(train={"all": [0]},
                                                                          test={"all": [1, 2]})})
    _check(load_plaid(path, "all"), [3, 1, 4])
    _check(load_plaid(path, "test"), [1, 4])
    # features chosen by name or path instead of the problem's
    d = load_plaid(tensile_like, "test", inputs=["p1"], outputs=["U2", "Global/max_vm"])
    assert d.input_names == ["p1"] and list(d.fields_out) == ["U2"] and list(d.scalars_out) == ["max_vm"]
    np.testing.assert_array_equal(d.fields_out["U2"][1], _values(6)["U2"])
    assert d.scalars_in[0, 0] == _values(5)["p1"]


def test_mmgp_fits_a_plaid_split(tensile_like):
    train = load_plaid(tensile_like, "train", outputs=["U1", "max_vm"])
    model = MMGP(n_modes_geometry=(2,), n_restarts=1, landmarks=None).fit(*train)
    test = load_plaid(tensile_like, "test", outputs=["U1", "max_vm"])
    pred = model.predict(test.meshes, test.scalars_in, n_samples=5)
    assert pred[1]["U1"]["mean"].shape == test.fields_out["U1"][1].shape
    assert test.samples()[1]["fields"]["U1"] is test.fields_out["U1"][1]


def test_3d_coordinates_on_a_plane_and_other_backends(tmp_path):
    """Base_2_3 with z = 0 (as pyplaid's own test data) reads as 2D; the hf_datasets backend
    (floats stored in float32) reads the same through pyplaid's converter."""
    pb = {"p": _problem(base="Base_2_3")}
    path = _write(tmp_path / "z", {"train": [0, 1], "test": [2]}, pb, base="Base_2_3",
                  z=lambda p: np.zeros(len(p)))
    _check(load_plaid(path, "train"), [0, 1])
    hf = _write(tmp_path / "hf", {"train": [0, 1], "test": [2]}, {"p": _problem()},
                backend="hf_datasets")
    _check(load_plaid(hf, "train"), [0, 1], f32=True)
    _check(load_plaid(hf, "test"), [2], f32=True)
    bent = _write(tmp_path / "bent", {"train": [0]}, pb, base="Base_2_3", z=lambda p: p[:, 0] ** 2)
    with pytest.raises(ValueError, match="planar 2D mesh"):
        load_plaid(bent, "train")
    p3 = load_plaid(bent, "train", planar=False).meshes[0][0]
    np.testing.assert_array_equal(p3, np.concatenate([_mesh(0)[0], _mesh(0)[0][:, :1] ** 2], 1))


def _write_legacy(path, ks, splits):
    """The pyplaid 0.1 layout of the Zenodo releases: dataset/samples/sample_%09d/ (meshes/ with
    the CGNS tree, scalars.csv) and problem_definition/ (problem_infos.yaml, split.csv)."""
    os.makedirs(os.path.join(path, "problem_definition"))
    os.makedirs(os.path.join(path, "dataset", "samples"))
    for i, k in enumerate(ks):
        s = _sample(k)
        for g in INPUTS + OUTPUTS:          # 0.1 kept the scalars out of the tree
            s.del_global(g)
        d = os.path.join(path, "dataset", "samples", "sample_%09d" % i)
        s.save_to_dir(d)
        v = _values(k)
        with open(os.path.join(d, "scalars.csv"), "w", newline="") as f:
            csv.writer(f).writerows([list(INPUTS + OUTPUTS), [repr(v[n]) for n in INPUTS + OUTPUTS]])
    with open(os.path.join(path, "problem_definition", "problem_infos.yaml"), "w") as f:
        f.write("task: regression\ninput_scalars:\n- P\n- p1\noutput_scalars:\n- max_U2\n- max_vm\n"
                "input_fields: []\noutput_fields:\n- U1\n- U2\n- sig12\ninput_timeseries: []\n"
                "output_timeseries: []\ninput_meshes:\n- /Base_2_2/Zone\noutput_meshes: []\n")
    with open(os.path.join(path, "problem_definition", "split.csv"), "w", newline="") as f:
        csv.writer(f).writerows([[name] + ids for name, ids in splits.items()])
    return str(path)


def test_reads_the_legacy_layout(tmp_path):
    path = _write_legacy(tmp_path / "old", [4, 2, 0, 6], {"train_2": [0, 2], "test": [3, 1]})
    assert plaid_layout(path) == "legacy"
    _check(load_plaid(path, "train_2"), [4, 0])
    _check(load_plaid(path, "test"), [6, 2])
    with pytest.raises(ValueError, match="'train_2', 'test'"):
        load_plaid(path, "train_500")


def test_reads_the_legacy_feature_identifiers(tmp_path):
    """pyplaid 0.1.8+ problem_infos.yaml: feature identifiers (dicts), split.json, scalars in the
    tree."""
    import json

    path = tmp_path / "old2"
    os.makedirs(path / "problem_definition")
    os.makedirs(path / "dataset" / "samples")
    for i, k in enumerate([1, 3, 5]):
        _sample(k).save_to_dir(str(path / "dataset" / "samples" / ("sample_%09d" % i)))
    with open(path / "problem_definition" / "problem_infos.yaml", "w") as f:
        f.write("task: regression\ninput_features:\n- {type: scalar, name: P}\n"
                "- {type: scalar, name: p1}\n- {type: nodes, base: Base_2_2, zone: Zone}\n"
                "output_features:\n" + "".join("- {type: field, name: %s, base: Base_2_2, zone: Zone, "
                                               "location: Vertex}\n" % n for n in FIELDS)
                + "".join("- {type: scalar, name: %s}\n" % n for n in OUTPUTS) + "version: 0.1.15\n")
    with open(path / "problem_definition" / "split.json", "w") as f:
        json.dump({"train": [2, 0], "test": [1]}, f)
    _check(load_plaid(path, "train"), [5, 1])
    _check(load_plaid(path, "test"), [3])


def test_withheld_test_outputs(tmp_path, capsys):
    """A benchmark's test split has inputs only: load_plaid says so and reads the inputs with
    outputs=[]; gshell mmgp predict writes the predictions without computing errors."""
    from gshell import cli
    from gshell.mmgp.plaid import MissingFeatureError

    path = str(tmp_path / "bench")
    save_to_disk(path, sample_constructor=lambda k: _sample(k % 100, withheld=k >= 100),
                 ids={"train": [0, 1, 2, 3], "test": [104, 105]}, backend="cgns",
                 pb_defs={"task": _problem()})
    with pytest.raises(MissingFeatureError, match="outputs=\\[\\]"):
        load_plaid(path, "test")
    test = load_plaid(path, "test", outputs=[])
    assert test.fields_out == {} and test.scalars_out == {} and len(test.meshes) == 2
    np.testing.assert_array_equal(test.meshes[1][0], _mesh(5)[0])
    assert test.scalars_in[0, 1] == _values(4)["p1"]
    model = str(tmp_path / "m.npz")
    assert cli.main(["mmgp", "fit", path, model, "--restarts", "1", "--landmarks", "none", "-q"]) == 0
    assert MMGP.load(model).info == {"inputs": "raw", "input_names": ["P", "p1"]}
    assert cli.main(["mmgp", "predict", model, path, "--n-samples", "5"]) == 2
    assert "withheld" in capsys.readouterr().err
    pred = str(tmp_path / "p.npz")
    assert cli.main(["mmgp", "predict", model, path, "--out", pred, "--n-samples", "5"]) == 0
    assert "no errors are computed" in capsys.readouterr().out
    with np.load(pred) as z:
        assert z["sample1/U1/mean"].shape == (len(_mesh(5)[0]),)


def test_save_plaid_reads_back_with_pyplaid_and_load_plaid(tmp_path):
    samples = []
    for k in range(5):
        p, t = _mesh(k)
        v = _values(k)
        samples.append({"points": p, "triangles": t, "scalars_in": np.array([v["P"], v["p1"], 2.0 + k]),
                        "fields": {"u": np.stack([v["U1"], v["U2"]], 1), "s": v["sig12"]},
                        "scalars_out": {"m": v["max_vm"]}})
    path = save_plaid(tmp_path / "out", samples, {"train": [0, 1, 2], "test": [4, 3]})
    # pyplaid's own integrity check (plaid-check) finds nothing to report
    from pathlib import Path

    from plaid.cli.plaidcheck import check_dataset

    report = check_dataset(Path(path), show_progress=False)
    assert not report.has_errors() and not report.has_warnings(), report.to_json()
    # pyplaid reads it: the CGNS tree as written
    dsets, convs = init_from_disk(path)
    s = convs["test"].to_plaid(dsets["test"], 0)
    np.testing.assert_array_equal(s.get_nodes(), samples[4]["points"])
    np.testing.assert_array_equal(s.get_elements()["TRI_3"], samples[4]["triangles"])
    np.testing.assert_array_equal(s.get_field("u_y"), samples[4]["fields"]["u"][:, 1])
    assert s.get_global("E") == 6.0 and s.get_global("m") == samples[4]["scalars_out"]["m"]
    # and load_plaid
    test = load_plaid(path, "test")
    assert test.input_names == ["E", "tx", "ty"] and sorted(test.fields_out) == ["s", "u_x", "u_y"]
    for j, k in enumerate([4, 3]):
        np.testing.assert_array_equal(test.meshes[j][0], samples[k]["points"])
        np.testing.assert_array_equal(test.fields_out["u_x"][j], samples[k]["fields"]["u"][:, 0])
        np.testing.assert_array_equal(test.scalars_in[j], samples[k]["scalars_in"][[2, 0, 1]])
        assert test.scalars_out["m"][j] == samples[k]["scalars_out"]["m"]
    with pytest.raises(ValueError, match="not empty"):
        save_plaid(path, samples, {"train": [0]})
    with pytest.raises(ValueError, match=r"split 'test' to hold indices in \[0, 5\)"):
        save_plaid(tmp_path / "bad", samples, {"test": [5]})


def test_importing_pyplaid_leaves_logging_alone():
    """pyplaid's import configures the root logger at INFO (every library's INFO messages would
    print); gshell's import of it puts the root logger back."""
    import subprocess
    import sys

    code = ("import logging, gshell.mmgp.plaid as p; p._import_plaid(); r = logging.getLogger(); "
            "assert not r.handlers and r.level == logging.WARNING, (r.handlers, r.level)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))


def test_bad_inputs_name_the_path_split_problem_feature(tensile_like, tmp_path):
    missing = str(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="nope"):
        load_plaid(missing, "train")
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(NotADirectoryError, match="f.txt"):
        load_plaid(str(tmp_path / "f.txt"), "train")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="Expected a PLAID dataset in .*empty"):
        load_plaid(str(tmp_path / "empty"), "train")
    with pytest.raises(ValueError, match="Expected split to be one of 'train', 'test' but got 'val'"):
        load_plaid(tensile_like, "val")
    with pytest.raises(ValueError, match="Expected problem to be one of 'task' but got 'other'"):
        load_plaid(tensile_like, "train", problem="other")
    with pytest.raises(ValueError, match="got 'Q'"):
        load_plaid(tensile_like, "train", inputs=["Q"])
    with pytest.raises(ValueError, match="'U3'"):
        load_plaid(tensile_like, "train", outputs=["U3"])
    two = _write(tmp_path / "two", {"train": [0], "test": [1]}, {"a": _problem(), "b": _problem()})
    with pytest.raises(ValueError, match="problem= one of 'a', 'b'"):
        load_plaid(two, "train")
    assert len(load_plaid(two, "train", problem="b").meshes) == 1
    quads = _write(tmp_path / "quads", {"train": [0]}, {"p": _problem()}, quads=True)
    with pytest.raises(ValueError, match=r"3-node triangles \(TRI_3\) in sample 0 .* QUAD_4"):
        load_plaid(quads, "train")
    none = _write(tmp_path / "none", {"train": [0]}, None)
    with pytest.raises(ValueError, match="inputs= and outputs="):
        load_plaid(none, "train")
    _check(load_plaid(none, "train", inputs=list(INPUTS), outputs=list(FIELDS + OUTPUTS)), [0])


def test_cli_generate_fit_predict_plaid(tmp_path, capsys):
    pytest.importorskip("triangle")
    pytest.importorskip("skfem")
    from gshell import cli

    data = tmp_path / "plates"
    assert cli.main(["mmgp", "generate", str(data), "--format", "plaid", "--n", "12", "--test", "3",
                     "--mesh-size", "0.1", "-q"]) == 0
    assert plaid_layout(data) == "storage" and not list(data.glob("*.npz"))
    assert len(load_plaid(data, "train").meshes) == 9
    model = tmp_path / "m.npz"
    assert cli.main(["mmgp", "fit", str(data), str(model), "--restarts", "1", "-q"]) == 0
    m = MMGP.load(model)
    assert m.info == {"inputs": "scaled", "input_names": ["E", "tx", "ty"]}
    assert sorted(m.field_names) == ["sigma_vm", "u_x", "u_y"]
    pred = tmp_path / "p.npz"
    assert cli.main(["mmgp", "predict", str(model), str(data), "--out", str(pred), "--n-samples",
                     "10"]) == 0
    out = capsys.readouterr().out
    assert "| u_x |" in out and "| max_von_mises |" in out
    with np.load(pred) as z:
        assert z["sample2/u_y/mean"].shape == load_plaid(data, "test").fields_out["u_y"][2].shape
    # the CLI feeds the same inputs as the Python API on the samples (tx, ty, E, scaled)
    from gshell.mmgp import dataset

    test = load_plaid(data, "test")
    x = dataset.scaled_inputs(test.scalars_in[:, [1, 2, 0]])
    with np.load(pred) as z:
        np.testing.assert_array_equal(z["sample0/u_x/mean"],
                                      m.predict(test.meshes, x, n_samples=10)[0]["u_x"]["mean"])
    # errors: not empty, unknown split, --split on a folder of .npz, bad --test
    assert cli.main(["mmgp", "generate", str(data), "--format", "plaid", "--n", "4", "--test", "1",
                     "-q"]) == 2
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("x")
    assert cli.main(["mmgp", "generate", str(tmp_path / "other"), "--format", "plaid", "--n", "4",
                     "--test", "1", "--force", "-q"]) == 2
    assert "not a PLAID dataset" in capsys.readouterr().err
    assert (tmp_path / "other" / "keep.txt").exists()
    assert cli.main(["mmgp", "generate", str(data), "--format", "plaid", "--n", "4", "--test", "1",
                     "--mesh-size", "0.1", "--force", "-q"]) == 0
    assert len(load_plaid(data, "train").meshes) == 3 and capsys.readouterr().err == ""
    assert cli.main(["mmgp", "fit", str(data), str(tmp_path / "x.npz"), "--split", "val"]) == 2
    assert "'val'" in capsys.readouterr().err
    (tmp_path / "npz").mkdir()
    assert cli.main(["mmgp", "fit", str(tmp_path / "npz"), str(tmp_path / "x.npz"), "--split",
                     "train"]) == 2
    assert cli.main(["mmgp", "generate", str(tmp_path / "g"), "--format", "plaid", "--n", "4",
                     "--test", "4", "-q"]) == 2
