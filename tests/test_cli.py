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
