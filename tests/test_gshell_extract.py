import pytest
import torch

import gshell
from gshell.ops.gshell_extract import _gshell_cut_op
from tests.mesh_checks import (area, edge_face_counts, has_unused_vertices, is_closed,
                               is_edge_manifold)
from tests.reference.marching_tets_ref import gshell_cut_ref, marching_tets_ref, match_meshes


def field_pair(grid, kind, seed=0):
    p = grid.vertices.double()
    g = torch.Generator().manual_seed(seed)
    if kind == "sphere_plane":
        return p.norm(dim=-1) - 0.3037, 0.1037 - p[:, 2]  # no exact zeros on grid vertices
    if kind == "wavy":
        sdf = p.norm(dim=-1) - 0.3 + 0.04 * torch.sin(11 * p[:, 0])
        return sdf, 0.05 + torch.sin(8 * p[:, 1]) * torch.cos(6 * p[:, 2]) - p[:, 0]
    if kind == "random":
        n = p.shape[0]
        return (torch.rand(n, generator=g, dtype=torch.float64) - 0.1,
                torch.rand(n, generator=g, dtype=torch.float64) - 0.5)
    raise ValueError(kind)


@pytest.mark.parametrize("res", [3, 6, 10])
@pytest.mark.parametrize("kind", ["sphere_plane", "wavy", "random"])
def test_matches_reference(res, kind):
    grid = gshell.TetGrid.regular(res)
    sdf, msdf = field_pair(grid, kind, seed=res)
    v = grid.vertices.double()
    out = gshell.gshell_extract(v, sdf, msdf, grid)
    # Reference: DMTet by sort, mSDF interpolated with the same weights, triangles cut one by one.
    wv, wf, wt, we = marching_tets_ref(v, grid.tets, sdf, return_edges=True)
    sa, sb = sdf[we[:, 0]], sdf[we[:, 1]]
    wm = (msdf[we[:, 0]] * sb - msdf[we[:, 1]] * sa) / (sb - sa)
    assert match_meshes(out.watertight_verts, out.watertight_faces, wv, wf)
    assert torch.allclose(torch.sort(out.watertight_msdf).values, torch.sort(wm).values)
    cv, cf, csrc = gshell_cut_ref(wv, wf, wm)
    assert match_meshes(out.verts, out.faces, cv, cf)
    assert torch.equal(torch.sort(out.face_tet).values, torch.sort(wt[csrc]).values)


@pytest.mark.parametrize("res", [4, 10])
@pytest.mark.parametrize("kind", ["sphere_plane", "random", "ties"])
def test_cut_kernel_matches_reference_exactly(res, kind):
    """The cut on identical inputs, ties (msdf exactly 0) included: the same vertices (matched by
    their source watertight vertex or edge) and the same faces."""
    from gshell.ops.gshell_extract import gshell_cut
    grid = gshell.TetGrid.regular(res)
    sdf, msdf = field_pair(grid, "random" if kind == "random" else "sphere_plane", seed=res)
    wv, wf, _, we = marching_tets_ref(grid.vertices.double(), grid.tets, sdf, return_edges=True)
    sa, sb = sdf[we[:, 0]], sdf[we[:, 1]]
    wm = (msdf[we[:, 0]] * sb - msdf[we[:, 1]] * sa) / (sb - sa)
    if kind == "ties":
        wm = torch.round(wm * 20) / 20  # many exact zeros
    kept, cut_edges, faces, src = _gshell_cut_op(wf, wm)
    cv, cf, csrc, ckeys = gshell_cut_ref(wv, wf, wm, return_keys=True)
    assert torch.equal(kept, torch.nonzero(wm > 0).flatten())
    ov, of, _, osrc, nk = gshell_cut(wv, wf, wm)
    keys = torch.cat([torch.stack([kept, kept], -1), cut_edges])
    assert match_meshes(ov, of, cv, cf, keys1=keys, keys2=ckeys, tol=1e-9)
    assert torch.equal(osrc, src) and torch.equal(torch.sort(src).values, csrc)


def test_sphere_cut_by_plane_has_one_loop_on_the_plane():
    grid = gshell.TetGrid.regular(32)
    p = grid.vertices
    out = gshell.gshell_extract(p, p.norm(dim=-1) - 0.3, 0.1 - p[:, 2], grid)
    assert out.boundary_loops == 1
    assert is_closed(out.watertight_faces)
    assert is_edge_manifold(out.faces)
    # The cut is exact for a linear mSDF: boundary vertices lie on z = 0.1.
    cut = out.verts[out.num_kept:]
    assert cut.shape[0] > 0
    assert float((cut[:, 2] - 0.1).abs().max()) < 1e-5
    assert float(out.verts[:, 2].max()) <= 0.1 + 1e-5
    # Boundary edges are exactly the cut segments: both ends are cut vertices.
    keys, counts = edge_face_counts(out.faces)
    boundary = keys[counts == 1]
    assert bool((boundary >= out.num_kept).all())
    # The open part's area is close to the spherical cap below the plane: 2 pi r (r + 0.1).
    cap = 2 * torch.pi * 0.3 * (0.3 + 0.1)
    assert abs(area(out.verts, out.faces) - cap) < 0.02 * cap
    assert out.msdf.shape == (out.verts.shape[0],)
    assert float(out.msdf[: out.num_kept].min()) > 0
    assert float(out.msdf[out.num_kept:].abs().max()) < 1e-6


def test_band_has_two_loops_and_face_tet_holds_the_face():
    grid = gshell.TetGrid.regular(24)
    p = grid.vertices
    out = gshell.gshell_extract(p, p.norm(dim=-1) - 0.35, 0.15 - p[:, 2].abs(), grid)
    assert out.boundary_loops == 2
    # Every vertex of a face lies in the face's tet (barycentric coordinates >= 0).
    tet = grid.vertices[grid.tets[out.face_tet]].double()  # (F, 4, 3)
    T = torch.stack([tet[:, 1] - tet[:, 0], tet[:, 2] - tet[:, 0], tet[:, 3] - tet[:, 0]], -1)
    for k in range(3):
        x = out.verts[out.faces[:, k]].double() - tet[:, 0]
        bary = torch.linalg.solve(T, x[..., None])[..., 0]
        assert float(bary.min()) > -1e-6 and float(bary.sum(-1).max()) < 1 + 1e-6


def test_welded_no_unused_and_one_vertex_per_cut_edge():
    grid = gshell.TetGrid.regular(12)
    sdf, msdf = field_pair(grid, "random", seed=5)
    out = gshell.gshell_extract(grid.vertices, sdf.float(), msdf.float(), grid)
    assert not has_unused_vertices(out.verts.shape[0], out.faces)
    assert bool((out.faces[:, 0] != out.faces[:, 1]).all() & (out.faces[:, 1] != out.faces[:, 2]).all())
    # Cut vertices are distinct points: no duplicate along a cut.
    cut = out.verts[out.num_kept:].double()
    d = torch.cdist(cut, cut) + torch.eye(cut.shape[0], dtype=torch.float64)
    assert float(d.min()) > 1e-9
    assert is_edge_manifold(out.faces)


def test_all_kept_and_all_cut():
    grid = gshell.TetGrid.regular(8)
    p = grid.vertices
    sdf = p.norm(dim=-1) - 0.3
    full = gshell.gshell_extract(p, sdf, torch.ones_like(sdf), grid)
    assert torch.equal(full.faces, full.watertight_faces)
    assert torch.equal(full.verts, full.watertight_verts)
    assert full.boundary_loops == 0 and full.num_kept == full.verts.shape[0]
    empty = gshell.gshell_extract(p, sdf, -torch.ones_like(sdf), grid)
    assert empty.verts.shape == (0, 3) and empty.faces.shape == (0, 3)
    assert empty.boundary_loops == 0
    nothing = gshell.gshell_extract(p, torch.ones_like(sdf), torch.ones_like(sdf), grid)
    assert nothing.watertight_verts.shape == (0, 3) and nothing.faces.shape == (0, 3)


@pytest.mark.parametrize("wrt", ["vertices", "sdf", "msdf"])
def test_gradcheck(wrt):
    grid = gshell.TetGrid.regular(2)
    sdf, msdf = field_pair(grid, "random", seed=11)
    inputs = {"vertices": grid.vertices.double(), "sdf": sdf, "msdf": msdf}
    out = gshell.gshell_extract(inputs["vertices"], sdf, msdf, grid)
    assert out.faces.shape[0] > 0 and out.verts.shape[0] > out.num_kept  # the cut is exercised

    def f(x):
        args = dict(inputs)
        args[wrt] = x
        r = gshell.gshell_extract(args["vertices"], args["sdf"], args["msdf"], grid)
        return r.verts, r.watertight_verts, r.watertight_msdf

    assert torch.autograd.gradcheck(f, (inputs[wrt].clone().requires_grad_(),))


def test_msdf_output_is_a_stop_gradient_copy():
    grid = gshell.TetGrid.regular(6)
    sdf, msdf = field_pair(grid, "sphere_plane")
    v = grid.vertices.double().requires_grad_()
    sdf, msdf = sdf.clone().requires_grad_(), msdf.clone().requires_grad_()
    out = gshell.gshell_extract(v, sdf, msdf, grid)
    assert not out.msdf.requires_grad or out.msdf.grad_fn is not None
    gv, gs, gm = torch.autograd.grad(out.msdf.sum(), (v, sdf, msdf), allow_unused=True,
                                     retain_graph=True)
    assert gv is None and gs is None
    assert gm is not None and float(gm.abs().sum()) > 0
    # The copy is linear in the grid mSDF with fixed weights: msdf_out = J msdf.
    J = torch.stack([torch.autograd.grad(out.msdf[i], msdf, retain_graph=True)[0]
                     for i in range(out.msdf.shape[0])])
    assert torch.allclose(J @ msdf.detach(), out.msdf.detach(), atol=1e-12)
    assert torch.allclose(J.sum(1), torch.ones(J.shape[0], dtype=J.dtype))  # convex weights
    # Positions do depend on msdf (through the cut) and on sdf.
    gs, gm = torch.autograd.grad(out.verts.sum(), (sdf, msdf))
    assert float(gs.abs().sum()) > 0 and float(gm.abs().sum()) > 0


def test_deterministic_and_thread_invariant():
    grid = gshell.TetGrid.regular(30)
    sdf, msdf = field_pair(grid, "random", seed=2)
    sdf, msdf = sdf.float(), msdf.float()
    n = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        a = gshell.gshell_extract(grid.vertices, sdf, msdf, grid)
        torch.set_num_threads(max(n, 2))
        b = gshell.gshell_extract(grid.vertices, sdf, msdf, grid)
    finally:
        torch.set_num_threads(n)
    for name in ("verts", "faces", "msdf", "face_tet", "watertight_faces"):
        assert torch.equal(getattr(a, name), getattr(b, name))


def test_bad_inputs():
    grid = gshell.TetGrid.regular(2)
    p, n = grid.vertices, grid.num_vertices
    s = p.norm(dim=-1) - 0.3
    with pytest.raises(TypeError, match="gshell.TetGrid"):
        gshell.gshell_extract(p, s, s, None)
    with pytest.raises(ValueError, match=r"Expected sdf of shape \(27\)"):
        gshell.gshell_extract(p, s[:-1], s, grid)
    with pytest.raises(ValueError, match=r"Expected vertices of shape \(27, 3\)"):
        gshell.gshell_extract(p[:, :2], s, s, grid)
    with pytest.raises(TypeError, match="Expected msdf of dtype"):
        gshell.gshell_extract(p, s, (s > 0).long(), grid)
    with pytest.raises(ValueError, match="Expected msdf to be finite"):
        gshell.gshell_extract(p, s, torch.full((n,), float("inf")), grid)
    with pytest.raises(ValueError, match="Expected sdf to be finite"):
        gshell.gshell_extract(p, torch.full((n,), float("nan")), s, grid)
    with pytest.raises(TypeError, match="torch.Tensor"):
        gshell.gshell_extract(p, s.tolist(), s, grid)


def test_cut_kernel_rejects_bad_faces_and_opcheck():
    from gshell._ext import ext
    faces = torch.tensor([[0, 1, 2]])
    with pytest.raises(RuntimeError, match="vertex id outside"):
        ext().gshell_cut(faces + 5, torch.tensor([1.0, -1.0, 1.0]))
    with pytest.raises(RuntimeError, match="dtype"):
        ext().gshell_cut(faces.int(), torch.tensor([1.0, -1.0, 1.0]))
    grid = gshell.TetGrid.regular(4)
    p = grid.vertices
    out = gshell.gshell_extract(p, p.norm(dim=-1) - 0.3, 0.1 - p[:, 2], grid)
    torch.library.opcheck(_gshell_cut_op, (out.watertight_faces, out.watertight_msdf.detach()),
                          test_utils=("test_schema", "test_faketensor"))
