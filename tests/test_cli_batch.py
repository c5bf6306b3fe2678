"""`gshell batch info|convert|extract` and the dataset jobs on gshell.parallel: the inputs
(folders, globs, @lists), serial against 2 Ray workers (same bytes), resume, a corrupt mesh,
the missing-Ray error; `gshell mmgp generate` and `gshell wing dataset` with --workers."""
import json
import os
import sys

import numpy as np
import pytest

import gshell.io as gio
from gshell import cli


@pytest.fixture(scope="module")
def ray_local():
    """One local Ray instance with 2 CPUs for the module (the jobs use an initialised Ray)."""
    ray = pytest.importorskip("ray")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False)   # a new instance, never a cluster running on the machine
    yield ray
    ray.shutdown()


def _cube():
    v = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], np.float32)
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    f = np.array([t for a, b, c, d in quads for t in ((a, b, c), (a, c, d))], np.int64)
    return v, f


def _tet():
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float32)
    return v, np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]], np.int64)


@pytest.fixture(scope="module")
def meshes(tmp_path_factory):
    """A folder of four small meshes (PLY, OBJ, STL, OFF) and a folder of SDF grids."""
    root = tmp_path_factory.mktemp("batch")
    d = root / "meshes"
    d.mkdir()
    cube, tet = _cube(), _tet()
    gio.save_mesh(str(d / "cube.ply"), *cube)
    gio.save_mesh(str(d / "tet.obj"), *tet)
    gio.save_mesh(str(d / "big_cube.stl"), cube[0] * 3, cube[1])
    gio.save_mesh(str(d / "open.off"), tet[0], tet[1][:2])
    (d / "notes.txt").write_text("not a mesh")
    g = root / "grids"
    g.mkdir()
    x = np.linspace(-0.5, 0.5, 13)
    X, Y, Z = np.meshgrid(x, x, x, indexing="ij")
    for k, r in enumerate((0.2, 0.3, 0.4)):
        np.save(str(g / ("ball%d.npy" % k)), (np.sqrt(X * X + Y * Y + Z * Z) - r).astype(np.float32))
    np.savez(str(g / "shell.npz"), sdf=(np.sqrt(X * X + Y * Y + Z * Z) - 0.3).astype(np.float32),
             msdf=(0.2 - Z).astype(np.float32))
    return root


def _bytes(folder):
    return {f: open(os.path.join(folder, f), "rb").read() for f in sorted(os.listdir(folder))}


# ------------------------------------------------------------------------------------ info
def test_batch_info_lines_are_gshell_info_json(meshes, tmp_path, capsys):
    out = tmp_path / "stats.jsonl"
    assert cli.main(["batch", "info", str(meshes / "meshes"), "--out", str(out)]) == 0
    assert "4 items: 4 done, 0 skipped, 0 failed" in capsys.readouterr().out
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    files = sorted(str(meshes / "meshes" / n) for n in ("cube.ply", "tet.obj", "big_cube.stl", "open.off"))
    assert [x["file"] for x in lines] == files                     # the .txt is not a mesh
    for rec in lines:
        assert cli.main(["info", rec["file"], "--json"]) == 0
        assert rec == json.loads(capsys.readouterr().out)
    by = {os.path.basename(x["file"]): x for x in lines}
    assert by["cube.ply"]["volume"] == pytest.approx(1.0) and by["big_cube.stl"]["volume"] == pytest.approx(27.0)
    assert by["open.off"]["watertight"] is False and by["tet.obj"]["genus"] == 0
    assert not os.path.exists(str(out) + ".parts")                 # finished: parts removed
    # a rerun of the finished job has nothing to do; other inputs need --force
    assert cli.main(["batch", "info", str(meshes / "meshes"), "--out", str(out)]) == 0
    assert "0 done, 4 skipped" in capsys.readouterr().out
    assert cli.main(["batch", "info", str(meshes / "meshes" / "cube.ply"), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert cli.main(["-q", "batch", "info", str(meshes / "meshes" / "cube.ply"), "--out", str(out),
                     "--force"]) == 0
    assert len(out.read_text().splitlines()) == 1


def test_inputs_folders_globs_and_list_files(meshes, tmp_path, capsys, monkeypatch):
    from gshell.cli.batch import expand_inputs

    monkeypatch.chdir(meshes)
    lst = tmp_path / "list.txt"
    lst.write_text("# meshes to check\nmeshes/tet.obj\n\nmeshes/cube.ply\nmeshes/tet.obj\n")
    got = expand_inputs("batch info", ["@" + str(lst), "meshes/*.st?", "meshes", "meshes/cube.ply"])
    assert got == ["meshes/tet.obj", "meshes/cube.ply", "meshes/big_cube.stl", "meshes/open.off"]
    assert expand_inputs("batch extract", ["grids"], "grid") == [
        os.path.join("grids", n) for n in ("ball0.npy", "ball1.npy", "ball2.npy", "shell.npz")]
    os.makedirs("deep/er", exist_ok=True)
    gio.save_mesh("deep/er/x.ply", *_tet())
    assert expand_inputs("batch info", ["deep/**/*.ply"]) == ["deep/er/x.ply"]
    for bad, what in ((["nothere.ply"], "does not exist"), (["meshes/*.glb"], "matches no file"),
                      (["@missing.txt"], "list file"), (["grids"], "holds no mesh")):
        assert cli.main(["batch", "info"] + bad + ["--out", str(tmp_path / "s.jsonl")]) == 2
        err = capsys.readouterr().err
        assert what in err and err.count("\n") == 1, err


# --------------------------------------------------------------------------------- convert
def test_batch_convert_resume_force_and_a_corrupt_mesh(meshes, tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    for n in ("cube.ply", "tet.obj", "big_cube.stl"):
        (src / n).write_bytes((meshes / "meshes" / n).read_bytes())
    (src / "broken.ply").write_bytes(b"ply\nformat ascii 1.0\nelement vertex 3\nend_header\n0 0\n")
    out = tmp_path / "obj"
    assert cli.main(["batch", "convert", str(src), "--to", "obj", "--out", str(out)]) == 1
    cap = capsys.readouterr()
    assert "4 items: 3 done, 0 skipped, 1 failed" in cap.out
    (line,) = [x for x in cap.err.splitlines() if "error:" in x]        # one line, after the bar
    assert "broken.ply" in line and "failures.jsonl" in line and "Malformed PLY" in line
    assert sorted(os.listdir(out)) == ["big_cube.obj", "cube.obj", "failures.jsonl", "tet.obj"]
    (fail,) = [json.loads(x) for x in open(out / "failures.jsonl")]
    assert fail["item"] == str(src / "broken.ply") and fail["error"] == "ValueError"
    assert "Malformed PLY" in fail["message"] and fail["name"] == "broken.obj"
    for n in ("cube", "tet", "big_cube"):
        v, f, _ = gio._load_arrays(str(out / (n + ".obj")))
        v0, f0, _ = gio._load_arrays(str(next(src.glob(n + ".*"))))
        np.testing.assert_array_equal(f, f0)
        np.testing.assert_allclose(v, v0, rtol=1e-6)
    # the same bytes as `gshell convert` one by one
    assert cli.main(["-q", "convert", str(src / "tet.obj"), str(tmp_path / "one.obj")]) == 0
    assert (tmp_path / "one.obj").read_bytes() == (out / "tet.obj").read_bytes()
    # fixed input: the rerun converts it alone; the failures file goes
    os.remove(src / "broken.ply")
    gio.save_mesh(str(src / "broken.ply"), *_tet())
    before = (out / "cube.obj").stat().st_mtime_ns
    assert cli.main(["batch", "convert", str(src), "--to", "obj", "--out", str(out)]) == 0
    assert "1 done, 3 skipped, 0 failed" in capsys.readouterr().out
    assert (out / "cube.obj").stat().st_mtime_ns == before and not (out / "failures.jsonl").exists()
    assert cli.main(["batch", "convert", str(src), "--to", "obj", "--out", str(out), "--force"]) == 0
    assert "4 done, 0 skipped" in capsys.readouterr().out
    # two inputs with one output name, an unknown format, an output over an input
    assert cli.main(["batch", "convert", str(src / "cube.ply"), str(meshes / "meshes" / "cube.ply"),
                     "--to", "obj", "--out", str(out)]) == 2
    assert "would both be written" in capsys.readouterr().err
    assert cli.main(["batch", "convert", str(src), "--to", "xyz", "--out", str(out)]) == 2
    assert "--to" in capsys.readouterr().err
    assert cli.main(["batch", "convert", str(src / "cube.ply"), "--to", "ply", "--out", str(src)]) == 2
    assert "replace the input" in capsys.readouterr().err


def test_serial_and_two_workers_write_the_same_bytes(meshes, tmp_path, capsys, monkeypatch, ray_local):
    # relative inputs from another folder than Ray's workers started in: they are read from ours
    monkeypatch.chdir(meshes)
    for workers in ("0", "2"):
        assert cli.main(["-q", "batch", "info", "meshes", "--out", str(tmp_path / ("s%s.jsonl" % workers)),
                         "--workers", workers]) == 0
        assert cli.main(["-q", "batch", "convert", "meshes", "--to", "ply", "--ascii", "--center",
                         "--out", str(tmp_path / ("c" + workers)), "--workers", workers]) == 0
        assert cli.main(["-q", "batch", "extract", "grids", "--method", "mt", "--res", "8",
                         "--out", str(tmp_path / ("e" + workers)), "--workers", workers]) == 0
    assert (tmp_path / "s0.jsonl").read_bytes() == (tmp_path / "s2.jsonl").read_bytes()
    assert _bytes(tmp_path / "c0") == _bytes(tmp_path / "c2") and len(_bytes(tmp_path / "c0")) == 4
    assert _bytes(tmp_path / "e0") == _bytes(tmp_path / "e2") and len(_bytes(tmp_path / "e0")) == 4


# --------------------------------------------------------------------------------- extract
def test_batch_extract_matches_gshell_extract(meshes, tmp_path, capsys):
    grids = meshes / "grids"
    out = tmp_path / "m"
    assert cli.main(["batch", "extract", str(grids), "--out", str(out), "--to", "off"]) == 0
    assert "4 done" in capsys.readouterr().out
    for n in ("ball0", "ball2", "shell"):
        ext = ".npz" if n == "shell" else ".npy"
        one = tmp_path / (n + ".off")
        assert cli.main(["-q", "extract", str(grids / (n + ext)), str(one)]) == 0
        assert one.read_bytes() == (out / (n + ".off")).read_bytes()
    out = tmp_path / "g"
    assert cli.main(["batch", "extract", str(grids), "--out", str(out), "--method", "gshell"]) == 1
    assert "3 failed" in capsys.readouterr().out                  # the .npy grids have no msdf
    assert cli.main(["-q", "extract", str(grids / "shell.npz"), str(tmp_path / "s.ply"),
                     "--method", "gshell"]) == 0
    assert (tmp_path / "s.ply").read_bytes() == (out / "shell.ply").read_bytes()
    assert cli.main(["batch", "extract", str(grids), "--out", str(out), "--res", "8"]) == 2
    assert "--res" in capsys.readouterr().err


# ------------------------------------------------------------------------- the dataset jobs
def test_missing_ray_error_from_every_command(meshes, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    src = str(meshes / "meshes" / "cube.ply")
    for argv in (["batch", "info", src, "--out", str(tmp_path / "s.jsonl"), "--workers", "2"],
                 ["batch", "convert", src, "--to", "obj", "--out", str(tmp_path / "c"), "--address", "auto"],
                 ["mmgp", "generate", str(tmp_path / "m"), "--n", "2", "--workers", "1"],
                 ["wing", "dataset", str(tmp_path / "w.npz"), "--wings", "1", "--workers", "1"]):
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert 'pip install "gshell-mesh[scale]"' in err and err.count("\n") == 1, err
    assert os.listdir(tmp_path) == []                           # nothing written
    assert cli.main(["batch", "info", src, "--out", str(tmp_path / "s.jsonl"), "--workers", "-1"]) == 2
    assert "--workers" in capsys.readouterr().err


def test_mmgp_generate_with_workers_same_files(tmp_path, capsys, ray_local):
    pytest.importorskip("triangle")
    pytest.importorskip("skfem")
    args = ["mmgp", "generate", "--n", "4", "--mesh-size", "0.1", "--seed", "3"]
    assert cli.main(args[:2] + [str(tmp_path / "serial")] + args[2:]) == 0
    assert "4 items: 4 done" in capsys.readouterr().out
    assert cli.main(args[:2] + [str(tmp_path / "ray")] + args[2:] + ["--workers", "2"]) == 0
    assert "2 workers" in capsys.readouterr().out
    serial = _bytes(tmp_path / "serial")
    assert len(serial) == 4 and serial == _bytes(tmp_path / "ray")
    # resume: two samples gone, the rerun computes those two only
    for name in sorted(serial)[1:3]:
        os.remove(tmp_path / "ray" / name)
    assert cli.main(args[:2] + [str(tmp_path / "ray")] + args[2:] + ["--workers", "2"]) == 0
    assert "2 done, 2 skipped" in capsys.readouterr().out
    assert _bytes(tmp_path / "ray") == serial


def test_wing_dataset_with_workers_and_resume(tmp_path, capsys, monkeypatch, ray_local):
    pytest.importorskip("aerosandbox")
    pytest.importorskip("neuralfoil")
    from gshell.wing import aero, dataset

    args = ["--wings", "3", "--conditions", "2", "--n-span", "6", "--n-chord", "16", "--seed", "5"]
    ref = tmp_path / "ref.npz"
    assert cli.main(["wing", "dataset", str(ref)] + args) == 0
    assert "3 items: 3 done" in capsys.readouterr().out
    w2 = tmp_path / "w2.npz"
    assert cli.main(["-q", "wing", "dataset", str(w2)] + args + ["--workers", "2"]) == 0
    assert w2.read_bytes() == ref.read_bytes()
    assert not os.path.exists(dataset.parts_folder(w2))
    # Ctrl-C during the third wing: two wings are kept, the rerun solves the third only
    real, calls = aero.wing_cp_conditions, []

    def stop_at_third(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(aero, "wing_cp_conditions", stop_at_third)
    w = tmp_path / "w.npz"
    assert cli.main(["-q", "wing", "dataset", str(w)] + args) == 130
    parts = dataset.parts_folder(w)
    assert not w.exists() and len(os.listdir(parts)) == 2
    monkeypatch.setattr(aero, "wing_cp_conditions", real)
    data, summary = dataset.generate(3, 2, seed=5, n_span=6, n_chord=16, cache=str(w), progress=False,
                                     return_summary=True)
    assert (summary.skipped, summary.done) == (2, 1)
    assert w.read_bytes() == ref.read_bytes() and not os.path.exists(parts)
