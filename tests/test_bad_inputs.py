"""Bad inputs to the public API, one row each: every call must raise a clear TypeError/ValueError
naming the argument (or file), at once (nothing allocated first, no hang, no crash).

Each row is (id, call, exception, regex of the message). A new public function is covered by
adding rows here; the command line's bad inputs are the rows of CLI_CASES.
"""
import math
import os
import time

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import gshell
import gshell.io as gio
from gshell import deepmesh, metrics, render, topology
from gshell.cli import main

TRI_V = torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
TRI_F = torch.tensor([[0, 1, 2], [0, 1, 3]])
GRID = torch.rand(6, 6, 6, generator=torch.Generator().manual_seed(0)) - 0.5


def _sphere(p):
    return p.norm(dim=-1) - 0.3


def _render_inputs(n_views=1, res=8):
    pos = torch.cat([TRI_V[:, :2] - 0.4, torch.zeros(4, 1), torch.ones(4, 1)], 1)[None].repeat(n_views, 1, 1)
    rast = render.rasterize(pos, TRI_F.int(), (res, res))
    return pos, rast


def _calls():
    pos, rast = _render_inputs()
    color = torch.rand(1, 8, 8, 3)
    big = torch.zeros(1, 1, 1).expand(2000, 2000, 2000)
    return [
        ("mc isovalue str", lambda: gshell.marching_cubes(GRID, isovalue="0"), TypeError, "isovalue"),
        ("mc isovalue nan", lambda: gshell.marching_cubes(GRID, isovalue=math.nan), ValueError, "finite isovalue"),
        ("mc isovalue bool", lambda: gshell.marching_cubes(GRID, isovalue=True), TypeError, "isovalue"),
        ("mc huge expanded grid", lambda: gshell.marching_cubes(big), ValueError, "2\\^31"),
        ("mc int grid", lambda: gshell.marching_cubes(GRID.long()), TypeError, "grid"),
        ("antialias boost nan", lambda: render.antialias(color, rast, pos, TRI_F.int(), pos_gradient_boost=math.nan),
         ValueError, "pos_gradient_boost"),
        ("antialias boost negative", lambda: render.antialias(color, rast, pos, TRI_F.int(), pos_gradient_boost=-1),
         ValueError, "pos_gradient_boost"),
        ("antialias color size", lambda: render.antialias(torch.rand(1, 4, 8, 3), rast, pos, TRI_F.int()),
         ValueError, "Expected color of shape"),
        ("interpolate too few attr rows", lambda: render.interpolate(torch.rand(3, 2), rast, TRI_F.int()),
         ValueError, "Expected attr with a row for each vertex"),
        ("chamfer n=0", lambda: metrics.chamfer_distance(TRI_V, TRI_F, TRI_V, TRI_F, n=0), ValueError, "n to be"),
        ("chamfer n=10.5", lambda: metrics.chamfer_distance(TRI_V, TRI_F, TRI_V, TRI_F, n=10.5), TypeError, "n to be"),
        ("chamfer n=1e12", lambda: metrics.chamfer_distance(TRI_V, TRI_F, TRI_V, TRI_F, n=10 ** 12), ValueError, "n to be"),
        ("f_score threshold -1", lambda: metrics.f_score(TRI_V, TRI_F, TRI_V, TRI_F, threshold=-1), ValueError, "threshold"),
        ("f_score threshold nan", lambda: metrics.f_score(TRI_V, TRI_F, TRI_V, TRI_F, threshold=math.nan),
         ValueError, "threshold"),
        ("point_mesh_distance k=0", lambda: metrics.point_mesh_distance(TRI_V, TRI_V, TRI_F, k=0), ValueError, "k to be"),
        ("point_mesh_distance chunk=0", lambda: metrics.point_mesh_distance(TRI_V, TRI_V, TRI_F, chunk=0),
         ValueError, "chunk to be"),
        ("is_watertight negative index", lambda: metrics.is_watertight(torch.tensor([[0, 1, -7]])), ValueError, "indices"),
        ("is_watertight float faces", lambda: metrics.is_watertight(torch.tensor([[0.0, 1, 2]])), TypeError, "integer"),
        ("boundary_loops 2 columns", lambda: metrics.boundary_loops(np.zeros((3, 2), np.int64)), ValueError, r"\(F, 3\)"),
        ("topology out of range", lambda: topology.topology(np.array([[0, 1, 5]]), 3), ValueError, r"\[0, 3\)"),
        ("extract resolution 1200", lambda: deepmesh.extract(_sphere, 1200), ValueError, "resolution"),
        ("extract resolution 1e6", lambda: deepmesh.extract(_sphere, 10 ** 6), ValueError, "resolution"),
        ("extract resolution 8.5", lambda: deepmesh.extract(_sphere, 8.5), TypeError, "resolution"),
        ("extract int field", lambda: deepmesh.extract(lambda p: (p.norm(dim=-1) * 10).long() - 3, 8),
         TypeError, "floating"),
        ("extract device", lambda: deepmesh.extract(_sphere, 8, device="nope"), ValueError, "device"),
        ("encoding per_level_scale inf", lambda: gshell.GridHashEncoding(3, per_level_scale=math.inf),
         ValueError, "per_level_scale"),
        ("encoding base_resolution 1e30", lambda: gshell.SimplexHashEncoding(3, base_resolution=1e30),
         ValueError, "finest level"),
        ("encoding base_resolution str", lambda: gshell.GridHashEncoding(3, base_resolution="16"),
         TypeError, "base_resolution"),
        ("tetgrid device", lambda: gshell.TetGrid.regular(2, device="nope"), ValueError, "device"),
        ("tetgrid res", lambda: gshell.TetGrid.regular(2.5), ValueError, "res"),
        ("save_mesh negative face", lambda: gio.save_mesh("x.ply", TRI_V, torch.tensor([[0, 1, -1]])), ValueError,
         "faces"),
        ("save_mesh nan verts", lambda: gio.save_mesh("x.ply", TRI_V * math.nan, TRI_F), ValueError, "finite"),
        ("save_mesh unknown format", lambda: gio.save_mesh("x.abc", TRI_V, TRI_F), ValueError, "x.abc"),
        ("save_tetgrid surface format", lambda: gio.save_tetgrid("g.ply", gshell.TetGrid.regular(1)), ValueError,
         "surfaces, not tetrahedra"),
        ("load_mesh device", lambda: gio.load_mesh(os.path.join(os.path.dirname(__file__), "..", "assets", "cup.ply"),
                                                   device="bogus"), ValueError, "device"),
        ("load_mesh missing", lambda: gio.load_mesh("no_such_file.ply"), FileNotFoundError, "no_such_file"),
        ("mmgp collapsed mesh", lambda: _mmgp_fit_with_a_collapsed_mesh(), ValueError, r"meshes\[1\].*area"),
        ("free_space_weights points", lambda: _recon().free_space_weights(TRI_V[:, :2], _views()), ValueError,
         "points"),
        ("free_space_weights views", lambda: _recon().free_space_weights(TRI_V, "views"), TypeError, "views"),
        ("free_space_weights margin", lambda: _recon().free_space_weights(TRI_V, _views(), margin_px=-1),
         ValueError, "margin_px"),
        ("PhotoCheck without rgb", lambda: _recon().PhotoCheck(_views()), ValueError, "rgb"),
        ("PhotoCheck threshold nan", lambda: _recon().PhotoCheck(_views(rgb=True), threshold=math.nan), ValueError,
         "threshold"),
    ]


def _recon():
    from gshell.recon import pipeline

    return pipeline


def _views(rgb=False):
    from gshell.recon.views import Views

    return Views(torch.eye(4)[None], torch.zeros(1, 3), torch.ones(1, 4, 4),
                 rgb=torch.ones(1, 4, 4, 3) if rgb else None)


def _mmgp_fit_with_a_collapsed_mesh():
    from gshell.mmgp import MMGP

    square = np.array([[0.0, 0], [1, 0], [1, 1], [0, 1]])
    tri = np.array([[0, 1, 2], [0, 2, 3]])
    meshes = [(square, tri), (np.full((4, 2), 0.3), tri), (square * 2, tri)]
    MMGP().fit(meshes, np.arange(3.0), {"u": [np.zeros(4)] * 3}, {})


CASES = _calls()


@pytest.mark.parametrize("name,call,exc,match", CASES, ids=[c[0] for c in CASES])
def test_bad_input_raises_a_clear_error_at_once(tmp_path, monkeypatch, name, call, exc, match):
    monkeypatch.chdir(tmp_path)
    t0 = time.perf_counter()
    with pytest.raises(exc, match=match):
        call()
    assert time.perf_counter() - t0 < 20, "refused only after %.0f s" % (time.perf_counter() - t0)
    assert not [p for p in os.listdir(tmp_path)], "a file was left behind"


CLI_CASES = [
    (["convert", "{mesh}", "{tmp}/o.ply", "--merge-vertices", "-1"], "merge-vertices"),
    (["convert", "{mesh}", "{tmp}/o.ply", "--merge-vertices", "nan"], "merge-vertices"),
    (["convert", "{mesh}", "{tmp}/o.ply", "--scale", "inf"], "--scale"),
    (["convert", "{tmp}/missing.ply", "{tmp}/o.ply"], "does not exist"),
    (["convert", "{mesh}", "{tmp}/o.xyz"], "o.xyz"),
    (["convert", "{mesh}", "{tmp}/no/such/o.ply"], "does not exist"),
    (["info", "{tmp}"], "folder"),
    (["demo", "--res", "1"], "--res"),
    (["demo", "--out", "{tmp}/x.abc"], "x.abc"),
    (["tetgrid", "--res", "2", "{tmp}/g.obj"], "surfaces, not tetrahedra"),
    (["extract", "{tmp}/missing.npy", "{tmp}/o.ply"], "does not exist"),
    (["render", "{mesh}", "{tmp}/o.jpg"], ".png"),
    (["reconstruct", "{mesh}", "--format", "stl"], "formats"),
    (["mmgp", "fit", "{tmp}/nodata", "{tmp}/m.npz"], "does not exist"),
    (["wing", "train", "{tmp}/none.npz"], "does not exist"),
    (["nosuchcommand"], "invalid choice"),
]


@pytest.mark.parametrize("argv,message", CLI_CASES, ids=[" ".join(a[:2]) + " " + m for a, m in CLI_CASES])
def test_command_line_bad_input_is_one_line_exit_2(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    mesh = tmp_path / "m.ply"
    gio.write_ply(mesh, TRI_V, TRI_F)
    before = set(os.listdir(tmp_path))
    assert main([a.format(mesh=mesh, tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert set(os.listdir(tmp_path)) == before


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=400), ext=st.sampled_from(["ply", "obj", "off", "stl", "glb", "gltf"]),
       attributes=st.booleans())
def test_random_bytes_in_any_format_are_refused_naming_the_file(tmp_path_factory, data, ext, attributes):
    """Whatever the bytes, a reader either returns a valid mesh or raises a ValueError naming the
    file: never another exception, never a crash."""
    path = tmp_path_factory.mktemp("bytes") / ("junk." + ext)
    path.write_bytes(data)
    try:
        out = gio.load_mesh(path, attributes=attributes)
    except ValueError as e:
        assert "junk." + ext in str(e)
        return
    v, f = out[0], out[1]
    assert v.shape[1] == 3 and f.shape[1] == 3 and f.shape[0] > 0 and int(f.max()) < v.shape[0]
