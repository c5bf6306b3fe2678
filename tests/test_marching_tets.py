import math

import pytest
import torch

import gshell
from gshell._ext import ext
from gshell.ops.marching_tets import _marching_tets_op, marching_tets_topology
from tests.mesh_checks import is_closed, is_edge_manifold, has_unused_vertices, signed_volume
from tests.reference.marching_tets_ref import marching_tets_ref, match_meshes


def fields(grid, kind, seed=0):
    p = grid.vertices.double()
    g = torch.Generator().manual_seed(seed)
    if kind == "sphere":
        return (p.norm(dim=-1) - 0.3)
    if kind == "wavy":
        return p.norm(dim=-1) - 0.3 + 0.05 * torch.sin(9 * p[:, 0]) * torch.cos(7 * p[:, 1])
    if kind == "random":
        return torch.rand(p.shape[0], generator=g, dtype=torch.float64) - 0.1
    if kind == "signs":  # exact zeros and ties
        return torch.randint(-1, 2, (p.shape[0],), generator=g).double()
    raise ValueError(kind)


def jittered_grid(res, seed=0):
    """An irregular grid: jittered vertices, shuffled tets with random vertex order."""
    g = torch.Generator().manual_seed(seed)
    base = gshell.TetGrid.regular(res)
    v = base.vertices + (torch.rand(base.vertices.shape, generator=g) - 0.5) * (0.3 / res)
    t = base.tets[torch.randperm(base.num_tets, generator=g)]
    t = torch.stack([row[torch.randperm(4, generator=g)] for row in t])
    return gshell.TetGrid(v, t)


@pytest.mark.parametrize("res", [2, 5, 8, 16])
@pytest.mark.parametrize("kind", ["sphere", "wavy", "random", "signs"])
def test_matches_reference(res, kind):
    grid = gshell.TetGrid.regular(res)
    sdf = fields(grid, kind, seed=res)
    v = grid.vertices.double()
    verts, faces, tet_idx = gshell.marching_tetrahedra(v[None], grid.tets, sdf[None], return_tet_idx=True)
    rv, rf, rt, redges = marching_tets_ref(v, grid.tets, sdf, return_edges=True)
    assert verts[0].dtype == torch.float64 and faces[0].dtype == torch.int64
    cross, _, _ = marching_tets_topology(sdf, grid)
    # Vertices are matched by their grid edge: with exact zeros in sdf, positions coincide.
    assert match_meshes(verts[0], faces[0], rv, rf, keys1=grid.edges[cross], keys2=redges)
    # Faces come in tet order, each tagged with the tet it came from, like the reference.
    assert torch.equal(tet_idx[0], rt)


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_reference_on_irregular_grid(seed):
    grid = jittered_grid(4, seed)
    sdf = fields(grid, "wavy") + 0.01 * seed
    verts, faces = gshell.marching_tetrahedra(grid.vertices[None], grid.tets, sdf.float()[None])
    rv, rf, _ = marching_tets_ref(grid.vertices, grid.tets, sdf.float())
    assert match_meshes(verts[0], faces[0], rv, rf)


def test_batch_and_float32():
    grid = gshell.TetGrid.regular(6)
    sdf = torch.stack([fields(grid, "sphere"), fields(grid, "random")]).float()
    verts, faces = gshell.marching_tetrahedra(grid.vertices[None].expand(2, -1, -1), grid.tets, sdf)
    assert len(verts) == 2 and len(faces) == 2
    for b in range(2):
        rv, rf, _ = marching_tets_ref(grid.vertices, grid.tets, sdf[b])
        assert verts[b].dtype == torch.float32
        assert match_meshes(verts[b], faces[b], rv, rf)


@pytest.mark.parametrize("res", [16, 32])
def test_sphere_closed_outward_and_accurate(res):
    grid = gshell.TetGrid.regular(res)
    r = 0.3
    sdf = grid.vertices.norm(dim=-1) - r
    out = gshell.gshell_extract(grid.vertices, sdf, torch.ones_like(sdf), grid)
    v, f = out.watertight_verts, out.watertight_faces
    assert is_closed(f) and not has_unused_vertices(v.shape[0], f)
    vol = signed_volume(v, f)
    assert vol > 0  # normals point outwards (to sdf > 0)
    assert abs(vol - 4 / 3 * math.pi * r ** 3) < 0.05 * 4 / 3 * math.pi * r ** 3
    # Linear interpolation of the distance along edges: the error is O(h^2).
    h = 1.0 / res
    err = float((v.double().norm(dim=-1) - r).abs().max())
    assert err < 1.5 * h * h  # chord of length sqrt(3) h at radius r: 3 h^2 / (8 r)


def test_sphere_error_is_second_order():
    errs = []
    for res in (16, 32, 64):
        grid = gshell.TetGrid.regular(res)
        sdf = grid.vertices.double().norm(dim=-1) - 0.3
        v, _ = gshell.marching_tetrahedra(grid.vertices.double()[None], grid.tets, sdf[None])
        errs.append(float((v[0].norm(dim=-1) - 0.3).abs().max()))
    assert errs[1] < errs[0] / 3 and errs[2] < errs[1] / 3


def test_manifold_on_random_fields():
    grid = gshell.TetGrid.regular(12)
    for seed in range(3):
        sdf = fields(grid, "random", seed)
        cross, faces, _ = marching_tets_topology(sdf, grid)
        assert is_edge_manifold(faces)
        assert not has_unused_vertices(cross.shape[0], faces)
        assert torch.unique(cross).shape[0] == cross.shape[0]  # one vertex per edge


def test_thread_count_does_not_change_output():
    grid = gshell.TetGrid.regular(40)
    sdf = fields(grid, "random").float()
    n = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        a = marching_tets_topology(sdf, grid)
        torch.set_num_threads(max(2, n))
        b = marching_tets_topology(sdf, grid)
    finally:
        torch.set_num_threads(n)
    for x, y in zip(a, b):
        assert torch.equal(x, y)


def test_gradcheck_vertices_and_sdf():
    grid = gshell.TetGrid.regular(2)
    g = torch.Generator().manual_seed(3)
    sdf = (torch.rand(grid.num_vertices, generator=g, dtype=torch.float64) - 0.5)
    v = grid.vertices.double()

    def f_sdf(s):
        return gshell.marching_tetrahedra(v[None], grid.tets, s[None])[0][0]

    def f_v(x):
        return gshell.marching_tetrahedra(x[None], grid.tets, sdf[None])[0][0]

    assert torch.autograd.gradcheck(f_sdf, (sdf.clone().requires_grad_(),))
    assert torch.autograd.gradcheck(f_v, (v.clone().requires_grad_(),))


def test_empty_and_full():
    grid = gshell.TetGrid.regular(3)
    for s in (torch.ones(grid.num_vertices), -torch.ones(grid.num_vertices)):
        verts, faces = gshell.marching_tetrahedra(grid.vertices[None], grid.tets, s[None])
        assert verts[0].shape == (0, 3) and faces[0].shape == (0, 3)


def test_bad_inputs():
    grid = gshell.TetGrid.regular(2)
    v, t = grid.vertices, grid.tets
    s = torch.zeros(grid.num_vertices)
    with pytest.raises(ValueError, match=r"Expected vertices of shape \(\?, \?, 3\)"):
        gshell.marching_tetrahedra(v, t, s[None])
    with pytest.raises(TypeError, match="Expected sdf of dtype"):
        gshell.marching_tetrahedra(v[None], t, s[None].int())
    with pytest.raises(ValueError, match="Expected sdf of shape"):
        gshell.marching_tetrahedra(v[None], t, s[None, :-1])
    with pytest.raises(ValueError, match="NaN"):
        gshell.marching_tetrahedra(v[None], t, torch.full_like(s, float("nan"))[None])
    with pytest.raises(ValueError, match="indices in"):
        gshell.marching_tetrahedra(v[None], t + 1000, s[None])
    with pytest.raises(TypeError, match="Expected tets of dtype"):
        gshell.marching_tetrahedra(v[None], t.float(), s[None])
    with pytest.raises(ValueError, match="on cpu"):
        gshell.marching_tetrahedra(v[None], t, s[None].to("meta"))


def test_kernel_rejects_inconsistent_tables():
    grid = gshell.TetGrid.regular(2)
    tets, edges, tet_edges, first = grid.kernel_tables()
    sdf = grid.vertices.norm(dim=-1) - 0.3
    with pytest.raises(RuntimeError, match="vertex id outside"):
        ext().marching_tets(sdf, tets + 100, edges, tet_edges, first, False)
    bad_te = tet_edges.flip(0).contiguous()
    with pytest.raises(RuntimeError, match="inconsistent"):
        ext().marching_tets(sdf, tets, edges, bad_te, first, False)
    bad_first = torch.zeros_like(first) + 10 ** 6
    with pytest.raises(RuntimeError, match="inconsistent"):
        ext().marching_tets(sdf, tets, edges, tet_edges, bad_first, False)
    with pytest.raises(RuntimeError, match="expected tets of dtype"):
        ext().marching_tets(sdf, tets.long(), edges, tet_edges, first, False)
    with pytest.raises(RuntimeError, match="shape"):
        ext().marching_tets(sdf, tets, edges, tet_edges[:-1], first, False)


def test_opcheck():
    grid = gshell.TetGrid.regular(3)
    sdf = grid.vertices.norm(dim=-1) - 0.3
    torch.library.opcheck(_marching_tets_op, (sdf, *grid.kernel_tables(), False),
                          test_utils=("test_schema", "test_faketensor"))
