"""The ``gshell gen`` command line: data, fit, train, sample, evaluate, and their errors."""
import json
import os

import numpy as np
import pytest
import torch

from gshell.cli import main

pytest.importorskip("diffusers", reason="gshell gen train/sample need diffusers (pip install diffusers)")


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """data -> fit -> train (tiny) once for the module; returns the folders."""
    root = tmp_path_factory.mktemp("gen")
    assert main(["gen", "data", str(root / "g"), "--n", "5", "--res", "24", "--kinds", "skirt,hood", "-q"]) == 0
    assert main(["gen", "fit", str(root / "g" / "train"), str(root / "fits"), "--res", "8", "--steps", "5",
                 "-q"]) == 0
    assert main(["gen", "train", str(root / "fits"), str(root / "run"), "--steps", "2", "--batch", "2",
                 "--channels", "8", "--mults", "1,2", "-q"]) == 0
    return root


def test_help(capsys):
    for argv in (["gen", "--help"], ["gen", "data", "--help"], ["gen", "fit", "--help"], ["gen", "train", "--help"],
                 ["gen", "sample", "--help"], ["gen", "evaluate", "--help"]):
        code, out, _ = run(capsys, *argv)
        assert code == 0 and "example" in out


def test_data_split_and_files(pipeline):
    g = pipeline / "g"
    assert sorted(os.listdir(g / "train")) == ["0000_skirt.ply", "0001_hood.ply", "0002_skirt.ply", "0003_hood.ply"]
    assert sorted(os.listdir(g / "test")) == ["0004_skirt.ply"]
    info = json.loads((g / "params" / "0004_skirt.json").read_text())
    assert info["kind"] == "skirt" and info["loops"] == 2


def test_fit_outputs(pipeline):
    fits = pipeline / "fits"
    stems = sorted(p[:-3] for p in os.listdir(fits) if p.endswith(".pt"))
    assert stems == ["0000_skirt", "0001_hood", "0002_skirt", "0003_hood"]
    for s in stems:
        assert torch.load(fits / (s + ".pt")).shape == (6, 9, 9, 9)
        assert (fits / (s + ".ply")).exists() and json.loads((fits / (s + ".json")).read_text())["res"] == 8


def test_train_writes_checkpoint_and_model(pipeline):
    from gshell.gen.diffusion import GridDiffusion, load_model

    run_dir = pipeline / "run"
    dm = GridDiffusion.load(run_dir / "checkpoint.pt")
    assert dm.step == 2 and dm.res == 8
    model, train, names = load_model(run_dir / "model.pt")
    assert model.step == 2 and names == ["0000_skirt", "0001_hood", "0002_skirt", "0003_hood"]
    for name, t in zip(names, train):  # the packed training shapes decode to the fitted tensors
        torch.testing.assert_close(t, torch.load(pipeline / "fits" / (name + ".pt")), atol=2e-3, rtol=0)
    for a, b in zip(model.ema.state_dict().values(), dm.ema.state_dict().values()):
        assert torch.equal(a, b)
    meta = model.metadata
    assert meta["n_train"] == 4 and meta["steps"] == 2 and "seconds_this_run" in meta
    assert os.path.getsize(run_dir / "model.pt") < os.path.getsize(run_dir / "checkpoint.pt")


def test_sample_and_gallery(pipeline, capsys):
    from PIL import Image

    out = pipeline / "samples"
    code, text, err = run(capsys, "gen", "sample", str(out), "--n", "2", "--steps", "3",
                          "--checkpoint", str(pipeline / "run" / "model.pt"))
    assert code == 0, err
    names = sorted(os.listdir(out))
    assert "gallery.png" in names and "samples.pt" in names
    assert torch.load(out / "samples.pt").shape == (2, 6, 9, 9, 9)
    w, h = Image.open(out / "gallery.png").size
    assert h == 2 * 128 and w == 4 * 128  # 3 views and the nearest training shape per row
    # a second run needs --force
    code, _, err = run(capsys, "gen", "sample", str(out), "--n", "2", "--steps", "3",
                       "--checkpoint", str(pipeline / "run" / "model.pt"))
    if any(n.startswith("sample_") for n in names):
        assert code == 2 and "--force" in err


def test_sampled_meshes_are_clean(pipeline):
    from gshell import topology
    from gshell.cli.gen import sample_meshes
    from gshell.gen.diffusion import load_model

    dm, _, _ = load_model(pipeline / "run" / "model.pt")
    tensors, meshes = sample_meshes(dm, 3, steps=4, seed=1)
    for v, f in meshes:
        if f.shape[0]:
            t = topology.topology(f.numpy(), v.shape[0])
            assert t["edge_manifold"] and t["unreferenced_vertices"] == 0 and t["oriented"]


def test_evaluate(pipeline, capsys):
    js = pipeline / "eval.json"
    code, text, err = run(capsys, "gen", "evaluate", str(pipeline / "g" / "train"), str(pipeline / "g" / "test"),
                          "--train", str(pipeline / "fits"), "--points", "256", "--json", str(js))
    assert code == 0, err
    rows = json.loads(js.read_text())
    assert set(rows) == {"samples", "pca", "train"}
    assert "PCA-Gaussian" in text and "1-NNA" in text
    # the training shapes against themselves: every one is covered (the meshes fitted are the ones given)
    assert rows["samples"]["valid"] == 1.0


def test_errors(pipeline, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "gen", "fit", str(tmp_path / "empty"), str(tmp_path / "o"))
    assert code == 2 and "empty" in err
    (tmp_path / "txt").mkdir()
    (tmp_path / "txt" / "a.txt").write_text("x")
    code, _, err = run(capsys, "gen", "fit", str(tmp_path / "txt"), str(tmp_path / "o"))
    assert code == 2 and "readable mesh" in err
    code, _, err = run(capsys, "gen", "train", str(tmp_path / "empty"), str(tmp_path / "r"))
    assert code == 2 and "*.pt" in err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.pt").write_bytes(b"not a torch file")
    code, _, err = run(capsys, "gen", "train", str(tmp_path / "bad"), str(tmp_path / "r"))
    assert code == 2 and "x.pt" in err
    # tensors of another resolution than the checkpoint being resumed
    (tmp_path / "r16").mkdir()
    torch.save(-torch.ones(6, 17, 17, 17), tmp_path / "r16" / "a.pt")
    torch.save(-torch.ones(6, 17, 17, 17), tmp_path / "r16" / "b.pt")
    code, _, err = run(capsys, "gen", "train", str(tmp_path / "r16"), str(pipeline / "run"), "--steps", "3",
                       "--channels", "8", "--mults", "1,2")
    assert code == 2 and "resolution" in err
    code, _, err = run(capsys, "gen", "sample", str(tmp_path / "s"), "--checkpoint", str(tmp_path / "bad" / "x.pt"))
    assert code == 2 and "x.pt" in err
    code, _, err = run(capsys, "gen", "sample", str(tmp_path / "s"), "--checkpoint", str(tmp_path / "nope.pt"))
    assert code == 2 and "nope.pt" in err
    code, _, err = run(capsys, "gen", "data", str(tmp_path / "d"), "--kinds", "cape")
    assert code == 2 and "cape" in err


def test_shipped_model_samples(tmp_path, capsys):
    """`gshell gen sample --n 16 OUT` right after install: the model in assets/gen."""
    from gshell.gen.diffusion import load_model, shipped_model_path

    path = shipped_model_path()
    assert os.path.getsize(path) <= 20 * 2 ** 20
    dm, train, names = load_model(path)
    assert train is not None and len(names) == train.shape[0]
    code, text, err = run(capsys, "gen", "sample", str(tmp_path / "s"), "--n", "2", "--steps", "10")
    assert code == 0, err
    assert (tmp_path / "s" / "gallery.png").exists()
    assert sorted(n for n in os.listdir(tmp_path / "s") if n.endswith(".ply"))[:1] == ["sample_000.ply"]
