import numpy as np
import pytest
import torch

import gshell
from gshell.tetgrid import TET_EDGES, signed_volumes


def brute_force_topology(tets, n):
    pairs = torch.tensor(TET_EDGES)
    e = tets[:, pairs]
    a, b = e.min(-1).values, e.max(-1).values
    keys, inv = torch.unique((a * n + b).reshape(-1), return_inverse=True)
    edges = torch.stack([keys // n, keys % n], -1)
    first = torch.full((keys.shape[0],), tets.shape[0], dtype=torch.long)
    for t, row in enumerate(inv.view(-1, 6).tolist()):
        for e_id in row:
            first[e_id] = min(first[e_id], t)
    return edges, inv.view(-1, 6), first


@pytest.mark.parametrize("res", [1, 2, 3, 5])
def test_regular_grid_counts_orientation_and_bounds(res):
    g = gshell.TetGrid.regular(res)
    assert g.num_vertices == (res + 1) ** 3
    assert g.num_tets == 6 * res ** 3
    assert g.vertices.dtype == torch.float32 and g.tets.dtype == torch.int64
    assert float(g.vertices.min()) == -0.5 and float(g.vertices.max()) == 0.5
    vol = signed_volumes(g.vertices, g.tets)
    assert bool((vol > 0).all())
    # The tets fill the cube exactly.
    assert abs(float(vol.sum()) / 6 - 1.0) < 1e-9


@pytest.mark.parametrize("res", [1, 2, 4])
def test_regular_grid_closed_form_topology_matches_brute_force(res):
    g = gshell.TetGrid.regular(res)
    edges, tet_edges, first = brute_force_topology(g.tets, g.num_vertices)
    assert torch.equal(g.edges, edges)
    assert torch.equal(g.tet_edges, tet_edges)
    assert torch.equal(g.kernel_tables()[3].long(), first)
    # The sort-based construction gives the same tables.
    g2 = gshell.TetGrid(g.vertices, g.tets)
    for x, y in zip(g.kernel_tables(), g2.kernel_tables()):
        assert torch.equal(x, y)


def test_regular_grid_is_conforming():
    res = 3
    g = gshell.TetGrid.regular(res)
    faces = g.tets[:, [[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]]].reshape(-1, 3)
    _, counts = torch.unique(torch.sort(faces, 1).values, dim=0, return_counts=True)
    assert bool((counts <= 2).all())
    # Boundary triangles: 6 cube sides x res^2 squares x 2 triangles.
    assert int((counts == 1).sum()) == 12 * res ** 2
    # Euler characteristic of a ball: V - E + F - T = 1.
    chi = g.num_vertices - g.num_edges + counts.shape[0] - g.num_tets
    assert chi == 1


def test_tet_edges_point_at_the_tets_edges():
    g = gshell.TetGrid.regular(3)
    e = g.edges[g.tet_edges]  # (T, 6, 2)
    local = g.tets[:, torch.tensor(TET_EDGES)]
    assert torch.equal(e, torch.sort(local, -1).values)


def test_orientation_repaired_and_save_load_roundtrip(tmp_path):
    g = gshell.TetGrid.regular(2)
    gen = torch.Generator().manual_seed(0)
    flipped = g.tets.clone()
    sel = torch.rand(g.num_tets, generator=gen) < 0.5
    flipped[sel] = flipped[sel][:, [1, 0, 2, 3]]
    path = tmp_path / "grid.npz"
    np.savez(path, vertices=g.vertices.numpy(), indices=flipped.numpy())
    loaded = gshell.TetGrid.load(path)
    assert bool((signed_volumes(loaded.vertices, loaded.tets) > 0).all())
    assert torch.equal(torch.sort(loaded.tets, 1).values, torch.sort(g.tets, 1).values)
    out = tmp_path / "saved.npz"
    loaded.save(out)
    with np.load(out) as d:
        assert sorted(d.keys()) == ["indices", "vertices"]
        assert np.array_equal(d["indices"], loaded.tets.numpy())
    again = gshell.TetGrid.load(out)
    assert torch.equal(again.tets, loaded.tets) and torch.equal(again.vertices, loaded.vertices)


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        gshell.TetGrid.load(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="readable .npz"):
        gshell.TetGrid.load(bad)
    keys = tmp_path / "keys.npz"
    np.savez(keys, verts=np.zeros((4, 3)), tets=np.zeros((1, 4)))
    with pytest.raises(ValueError, match="'vertices' and 'indices'"):
        gshell.TetGrid.load(keys)
    oob = tmp_path / "oob.npz"
    np.savez(oob, vertices=np.zeros((4, 3), np.float32), indices=np.array([[0, 1, 2, 9]]))
    with pytest.raises(ValueError, match=r"tets to hold indices in \[0, 4\)"):
        gshell.TetGrid.load(oob)


def test_constructor_errors():
    v = torch.rand(4, 3)
    t = torch.tensor([[0, 1, 2, 3]])
    with pytest.raises(TypeError, match="Expected vertices of dtype"):
        gshell.TetGrid(v.long(), t)
    with pytest.raises(ValueError, match=r"Expected vertices of shape \(\?, 3\)"):
        gshell.TetGrid(v[:, :2], t)
    with pytest.raises(TypeError, match="Expected tets of dtype"):
        gshell.TetGrid(v, t.float())
    with pytest.raises(ValueError, match="non-empty grid"):
        gshell.TetGrid(v, t[:0])
    with pytest.raises(ValueError, match="finite"):
        gshell.TetGrid(torch.full((4, 3), float("nan")), t)
    with pytest.raises(ValueError, match="indices in"):
        gshell.TetGrid(v, -t)
    with pytest.raises(ValueError, match="integer >= 1"):
        gshell.TetGrid.regular(0)
    with pytest.raises(ValueError, match="integer >= 1"):
        gshell.TetGrid.regular(2.5)
