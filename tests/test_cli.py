"""The `gshell` command line and the demo."""
import os
import subprocess
import sys

import pytest
import torch

import gshell
import gshell.io
from gshell import cli, demo

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_info(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert "gshell %s" % gshell.__version__ in out
    assert "torch %s" % torch.__version__ in out
    assert "with_cuda" in out and "sanitize" in out


def test_help_and_version(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "info" in out and "demo" in out and "examples:" in out
    assert cli.main(["demo", "--help"]) == 0
    assert "--res" in capsys.readouterr().out
    assert cli.main(["--version"]) == 0
    assert gshell.__version__ in capsys.readouterr().out


def test_demo_writes_open_bowl(tmp_path, capsys):
    path = tmp_path / "sub" / "bowl.ply"
    assert cli.main(["demo", "--res", "12", "--out", str(path)]) == 0
    out = capsys.readouterr().out
    assert "1 boundary loop" in out and "closed: yes" in out and str(path) in out
    verts, faces, attrs = gshell.io.read_ply(path)
    assert verts.shape[0] > 0 and faces.shape[0] > 0
    assert (attrs["msdf"] >= -1e-6).all()      # only the kept part (msdf > 0) and the cut (msdf = 0)
    assert float(verts[:, 2].max()) <= demo.CUT_Z + 1e-5
    assert gshell.boundary_loops(faces, verts.shape[0]) == 1


def test_demo_run_statistics():
    s = demo.run(res=16, out=None, verbose=False)
    assert s["watertight_closed"] and s["boundary_loops"] == 1
    assert s["watertight_volume"] > 0 and s["open_nonmanifold_edges"] == 0
    assert 0 < s["open_area"] < s["watertight_area"]
    assert s["max_radius_error"] < 1.0 / 16


def test_demo_without_output(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["demo", "--res", "4", "--out", ""]) == 0
    assert "wrote" not in capsys.readouterr().out
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("argv,message", [
    ([], "expected a command"),
    (["frobnicate"], "invalid choice"),
    (["demo", "--res", "abc"], "expected an integer but got 'abc'"),
    (["demo", "--res", "1"], "expected an integer in [2, 512] but got 1"),
    (["demo", "--res", "100000"], "in [2, 512]"),
    (["demo", "--device", "tpu"], "invalid choice"),
    (["demo", "--bogus"], "unrecognized arguments"),
    (["info", "a.ply", "b.ply"], "unrecognized arguments"),
])
def test_bad_arguments_exit_2_with_one_line(capsys, argv, message):
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip()
    assert "\n" not in err and err.startswith("gshell") and "error:" in err
    assert message in err


def test_unwritable_output_is_a_one_line_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert cli.main(["demo", "--res", "4", "--out", str(blocker / "demo.ply")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("gshell demo: error:")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without a CUDA device")
def test_cuda_without_device_is_a_one_line_error(capsys):
    assert cli.main(["demo", "--res", "4", "--out", "", "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Expected device cpu" in err


def test_console_entry_points_run_as_processes(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-m", "gshell", "--help"], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "demo" in r.stdout
    r = subprocess.run([sys.executable, "-m", "gshell", "demo", "--res", "0"], capture_output=True,
                       text=True, env=env)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    out = tmp_path / "d.ply"
    r = subprocess.run([sys.executable, "-m", "gshell.demo", "--res", "6", "--out", str(out)],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert out.exists() and "boundary loop" in r.stdout


def test_help_does_not_import_torch():
    # the command line package and every command module, as `gshell --help` loads them
    code = ("import sys, gshell.cli; gshell.cli.build_parser(); "
            "print(sorted(m for m in ('torch', 'numpy', 'gshell._C') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


# ------------------------------------------------------------------ the CLI's promises (issue 15)
def test_demo_writes_the_format_its_extension_names(tmp_path, capsys):
    trimesh = pytest.importorskip("trimesh")
    out = tmp_path / "bowl.obj"
    assert cli.main(["demo", "--res", "8", "--out", str(out)]) == 0
    cap = capsys.readouterr()
    assert "msdf" in cap.err and "OBJ" in cap.out  # the OBJ cannot hold the msdf, and says so
    assert out.read_bytes().startswith(b"# written by gshell\nv ")
    m = trimesh.load(out, process=False)
    assert len(m.faces) > 0
    assert cli.main(["demo", "--res", "8", "--out", str(tmp_path / "bowl.xyz")]) == 2
    assert not (tmp_path / "bowl.xyz").exists()


def test_demo_and_reconstruct_never_replace_without_force(tmp_path, capsys):
    out = tmp_path / "bowl.ply"
    assert cli.main(["demo", "--res", "6", "--out", str(out), "-q"]) == 0
    before = out.read_bytes()
    assert cli.main(["demo", "--res", "7", "--out", str(out), "-q"]) == 2
    assert "--force" in capsys.readouterr().err and out.read_bytes() == before
    assert cli.main(["demo", "--res", "7", "--out", str(out), "-q", "--force"]) == 0
    assert out.read_bytes() != before
    asset = os.path.join(ROOT, "assets", "cup.ply")
    rec = tmp_path / "rec"
    rec.mkdir()
    (rec / "mesh.ply").write_bytes(b"keep")
    assert cli.main(["reconstruct", asset, "--out", str(rec), "--views", "2", "--steps", "1",
                     "--grid-res", "8", "--image-res", "16", "-q"]) == 2
    assert "--force" in capsys.readouterr().err and (rec / "mesh.ply").read_bytes() == b"keep"


@pytest.mark.parametrize("argv", [["--quiet", "demo"], ["demo", "--quiet"], ["demo", "-q"]])
def test_global_options_before_or_after_the_command(tmp_path, capsys, argv):
    assert cli.main(argv + ["--res", "6", "--out", str(tmp_path / "d.ply")]) == 0
    assert capsys.readouterr().out == ""
    assert (tmp_path / "d.ply").exists()


def test_missing_folders_are_not_created_outside_the_working_directory(tmp_path, capsys, monkeypatch):
    deep = tmp_path / "no" / "such" / "d.ply"
    assert cli.main(["demo", "--res", "6", "--out", str(deep)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err and not (tmp_path / "no").exists()
    # one missing level of an absolute path is made, and said
    assert cli.main(["demo", "--res", "6", "--out", str(tmp_path / "new" / "d.ply"), "-q"]) == 0
    assert "created folder" in capsys.readouterr().err and (tmp_path / "new" / "d.ply").exists()
    # below the working directory a relative path is made whole (the default out/...)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["demo", "--res", "6", "--out", os.path.join("a", "b", "d.ply"), "-q"]) == 0
    assert (tmp_path / "a" / "b" / "d.ply").exists()
    assert cli.main(["tetgrid", "--res", "2", os.path.join("..", "zz", "q", "g.npz")]) == 2


def test_cuda_requests_without_cuda_name_the_device(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    gshell.io.write_ply(tmp_path / "t.ply", torch.eye(3), torch.tensor([[0, 1, 2]]))
    for call in (lambda: gshell.io.load_mesh(tmp_path / "t.ply", device="cuda"),
                 lambda: gshell.TetGrid.regular(2).to("cuda"),
                 lambda: gshell.TetGrid.regular(2, device="cuda"),
                 lambda: demo.run(res=4, out=None, device="cuda", verbose=False)):
        with pytest.raises(ValueError, match="Expected device cpu .*no usable CUDA.* but got"):
            call()
    for call in (lambda: gshell.TetGrid.regular(2, device="nope"),
                 lambda: gshell.io.load_mesh(tmp_path / "t.ply", device="bogus")):
        with pytest.raises(ValueError, match="Expected device to be a device such as 'cpu'"):
            call()
    asset = os.path.join(ROOT, "assets", "cup.ply")
    assert cli.main(["reconstruct", asset, "--out", str(tmp_path / "r"), "--device", "cuda", "-q"]) == 2


def test_the_extension_imports_on_its_own():
    r = subprocess.run([sys.executable, "-c", "import gshell._C as c; print(c.build_info()['torch_version'])"],
                       capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == torch.__version__.split("+")[0]


def test_tetgrid_writes_tet_formats_or_refuses_in_one_line(tmp_path, capsys):
    for ext in ("ply", "stl", "off", "obj", "glb", "xyz"):
        out = tmp_path / ("g." + ext)
        assert cli.main(["tetgrid", "--res", "2", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and ".npz" in err and ".msh" in err and not out.exists()
        if ext != "xyz":
            assert "surfaces, not tetrahedra" in err
    pytest.importorskip("meshio")
    assert cli.main(["tetgrid", "--res", "2", str(tmp_path / "g.vtu"), "-q"]) == 0
    assert gshell.io.load_tetgrid(tmp_path / "g.vtu").num_tets == 48
