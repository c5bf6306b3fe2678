"""The gshell subcommands convert, info IN, extract, tetgrid, render: as processes (the real
command) and in-process through cli.main (the same code, without paying torch's import each time)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import gshell.io as gio
from gshell import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(*argv, env_extra=None):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("GSHELL_DEBUG", None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "gshell"] + list(argv), capture_output=True, text=True,
                          env=env, timeout=300)


def _one_line_error(err, prefix):
    err = err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert err.startswith(prefix) and "error:" in err, err


# ------------------------------------------------------------------ real processes
def test_help_lists_commands_and_exit_codes():
    r = _run("--help")
    assert r.returncode == 0
    for word in ("convert", "info", "extract", "tetgrid", "render", "exit codes", "130", "--debug"):
        assert word in r.stdout
    for cmd in ("convert", "info", "extract", "tetgrid", "render"):
        assert "examples:" in cli.build_parser()._subparsers._group_actions[0].choices[cmd].epilog


def test_process_convert_then_info_json(tmp_path, samples):
    out = tmp_path / "cow.ply"
    r = _run("convert", os.path.join(samples, "cow.obj"), str(out))
    assert r.returncode == 0, r.stderr
    assert "2904 vertices, 5804 faces" in r.stdout
    r = _run("info", str(out), "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["vertices"] == 2904 and info["faces"] == 5804
    assert info["watertight"] and info["genus"] == 0 and info["components"] == 1


def test_process_errors_are_one_line_and_debug_shows_traceback(tmp_path, samples):
    bad = tmp_path / "bad.ply"
    data = open(os.path.join(samples, "bone.ply"), "rb").read()
    bad.write_bytes(data[: len(data) // 3])  # truncated
    r = _run("info", str(bad))
    assert r.returncode == 2 and r.stdout == ""
    _one_line_error(r.stderr, "gshell info: error:")
    assert "bad.ply" in r.stderr and "PLY" in r.stderr
    r = _run("convert", str(tmp_path / "missing.obj"), str(tmp_path / "x.ply"))
    assert r.returncode == 2
    _one_line_error(r.stderr, "gshell convert: error:")
    r = _run("--debug", "info", str(bad))
    assert r.returncode != 0 and "Traceback" in r.stderr


# ------------------------------------------------------------------ in-process
def _main(capsys, *argv):
    code = cli.main(list(argv))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.mark.parametrize("ext", ["ply", "obj", "stl", "off", "glb", "gltf", "vtk"])
def test_convert_every_format_preserves_the_mesh(tmp_path, samples, capsys, ext):
    if ext in ("glb", "gltf"):
        pytest.importorskip("trimesh")
    if ext == "vtk":
        pytest.importorskip("meshio")
    src = os.path.join(samples, "cow.obj")
    out = tmp_path / ("cow." + ext)
    code, stdout, err = _main(capsys, "convert", src, str(out))
    assert code == 0, err
    v, f = gio.load_mesh(src)
    v2, f2 = gio.load_mesh(out)
    assert f2.shape == f.shape
    np.testing.assert_allclose(v2[f2].numpy(), v[f].numpy(), atol=1e-7, rtol=0)
    # STL back to OBJ with merging: the cow has two vertices at one position, so 2903
    if ext == "stl":
        code, stdout, _ = _main(capsys, "convert", str(out), str(tmp_path / "m.obj"), "--merge-vertices")
        assert code == 0 and "2903 vertices, 5804 faces" in stdout


def test_convert_refuses_existing_and_input_unless_forced(tmp_path, samples, capsys):
    src = tmp_path / "bone.ply"
    src.write_bytes(open(os.path.join(samples, "bone.ply"), "rb").read())
    out = tmp_path / "out.obj"
    out.write_text("keep")
    code, _, err = _main(capsys, "convert", str(src), str(out))
    assert code == 2 and "exists" in err and "--force" in err and out.read_text() == "keep"
    code, _, err = _main(capsys, "convert", str(src), str(src))
    assert code == 2 and "input" in err
    code, _, err = _main(capsys, "convert", str(src), str(out), "--force", "--center", "--scale", "2", "--quiet")
    assert code == 0 and _ == ""
    v, f = gio.load_mesh(out)
    v0, f0 = gio.load_mesh(src)
    c = (v0.min(0).values + v0.max(0).values) / 2
    assert torch.allclose(v, (v0 - c) * 2, atol=1e-5)
    code, _, err = _main(capsys, "convert", str(src), str(src), "--force", "--ascii")
    assert code == 0 and open(src, "rb").read().startswith(b"ply\nformat ascii")
    assert [n for n in os.listdir(tmp_path) if n.endswith(".tmp")] == []


@pytest.mark.parametrize("content,message", [
    (b"", "Malformed"),
    (b"OFF\n0 0 0\n", "non-empty mesh"),
    (b"OFF\n3 1 0\n0 0 0\nnan 0 0\n0 1 0\n3 0 1 2\n", "finite"),
    (b"OFF\n3 5 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n", "truncated"),
])
def test_bad_inputs_exit_2(tmp_path, capsys, content, message):
    p = tmp_path / "in.off"
    p.write_bytes(content)
    code, out, err = _main(capsys, "info", str(p))
    assert code == 2 and out == ""
    _one_line_error(err, "gshell info: error:")
    assert message in err
    code, _, err = _main(capsys, "convert", str(p), str(tmp_path / "o.ply"))
    assert code == 2 and not (tmp_path / "o.ply").exists()


def test_unknown_format_and_info_without_file(tmp_path, samples, capsys):
    code, _, err = _main(capsys, "convert", os.path.join(samples, "cow.obj"), str(tmp_path / "x.unknownext"))
    assert code == 2 and "Expected a mesh path ending in" in err
    code, out, _ = _main(capsys, "info")
    assert code == 0 and "gshell._C" in out and "torch" in out
    code, out, _ = _main(capsys, "info", os.path.join(samples, "rangemaps", "face000.ply"))
    assert code == 0 and "boundary loops" in out and "components" in out and "watertight         no" in out


def _sphere_grid(n=17):
    x = np.linspace(-0.5, 0.5, n)
    g = np.stack(np.meshgrid(x, x, x, indexing="ij"), -1)
    return (np.linalg.norm(g, axis=-1) - 0.3).astype(np.float32), (0.1 - g[..., 2]).astype(np.float32)


@pytest.mark.parametrize("method", ["mc", "mt", "gshell"])
def test_extract(tmp_path, capsys, method):
    sdf, msdf = _sphere_grid()
    np.savez(tmp_path / "f.npz", sdf=sdf, msdf=msdf)
    out = tmp_path / ("m_%s.ply" % method)
    code, stdout, err = _main(capsys, "extract", str(tmp_path / "f.npz"), str(out), "--method", method)
    assert code == 0, err
    v, f = gio.load_mesh(out)
    info = gio.mesh_info(v, f)
    r = v.norm(dim=-1)
    assert (r - 0.3).abs().max() < 0.03
    if method == "gshell":
        assert info["boundary_loops"] == 1 and float(v[:, 2].max()) <= 0.1 + 1e-4
    else:
        assert info["watertight"] and info["genus"] == 0


def test_extract_errors(tmp_path, capsys):
    sdf, _ = _sphere_grid(9)
    np.save(tmp_path / "s.npy", sdf)
    code, _, err = _main(capsys, "extract", str(tmp_path / "s.npy"), str(tmp_path / "o.ply"), "--method", "gshell")
    assert code == 2 and "msdf" in err
    bad = sdf.copy()
    bad[0, 0, 0] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    code, _, err = _main(capsys, "extract", str(tmp_path / "nan.npy"), str(tmp_path / "o.ply"))
    assert code == 2 and "NaN" in err
    np.save(tmp_path / "pos.npy", np.ones((4, 4, 4), np.float32))
    code, _, err = _main(capsys, "extract", str(tmp_path / "pos.npy"), str(tmp_path / "o.ply"), "--method", "mt")
    assert code == 2 and "empty" in err
    (tmp_path / "junk.npy").write_bytes(b"\x93NUMPY garbage")
    code, _, err = _main(capsys, "extract", str(tmp_path / "junk.npy"), str(tmp_path / "o.ply"))
    assert code == 2 and "junk.npy" in err
    assert not (tmp_path / "o.ply").exists()


def test_tetgrid_command(tmp_path, capsys):
    out = tmp_path / "g.npz"
    code, stdout, _ = _main(capsys, "tetgrid", "--res", "4", str(out))
    assert code == 0 and "125 vertices, 384 tets" in stdout
    g = gio.load_tetgrid(out)
    assert g.num_vertices == 125 and g.num_tets == 384
    code, _, err = _main(capsys, "tetgrid", "--res", "4", str(out))
    assert code == 2 and "exists" in err
    code, _, err = _main(capsys, "tetgrid", str(out))
    assert code == 2 and "--res" in err


def test_render_command(tmp_path, samples, capsys):
    from PIL import Image
    out = tmp_path / "sheet.png"
    code, stdout, err = _main(capsys, "render", os.path.join(samples, "cow.obj"), str(out), "--views", "3",
                              "--res", "48")
    assert code == 0, err
    img = np.asarray(Image.open(out))
    assert img.shape == (96, 96, 3)
    tile = img[:48, :48]
    assert (tile < 250).any() and (tile == 255).all(-1).any()  # some mesh, some background
    assert (img[48:, 48:] == 255).all()  # the unused fourth tile stays white
    code, _, err = _main(capsys, "render", os.path.join(samples, "cow.obj"), str(tmp_path / "x.jpg"))
    assert code == 2 and ".png" in err
