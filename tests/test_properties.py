"""Property-based tests (hypothesis) of marching tets and G-Shell extraction on random grids and
fields: agreement with the references and the mesh invariants."""
import torch
from hypothesis import given, settings, strategies as st

import gshell
from tests.mesh_checks import has_unused_vertices, is_closed, is_edge_manifold, signed_volume
from tests.reference.marching_tets_ref import gshell_cut_ref, marching_tets_ref, match_meshes


@st.composite
def grid_and_fields(draw):
    res = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2 ** 31 - 1))
    g = torch.Generator().manual_seed(seed)
    grid = gshell.TetGrid.regular(res)
    n = grid.num_vertices
    jitter = draw(st.booleans())
    verts = grid.vertices.double()
    if jitter:
        verts = verts + (torch.rand(n, 3, generator=g, dtype=torch.float64) - 0.5) * (0.3 / res)
    quantised = draw(st.booleans())  # exact zeros and ties
    sdf = torch.rand(n, generator=g, dtype=torch.float64) * 2 - 1
    msdf = torch.rand(n, generator=g, dtype=torch.float64) * 2 - 1
    if quantised:
        sdf, msdf = torch.round(sdf * 2) / 2, torch.round(msdf * 2) / 2
    closed = draw(st.booleans())
    if closed:  # positive on the grid's boundary: the surface closes inside the grid
        on_boundary = (grid.vertices.abs() == 0.5).any(-1)
        sdf[on_boundary] = sdf[on_boundary].abs() + 0.1
    return grid, verts, sdf, msdf, closed


@settings(max_examples=60, deadline=None)
@given(grid_and_fields())
def test_invariants(case):
    grid, verts, sdf, msdf, closed = case
    out = gshell.gshell_extract(verts, sdf, msdf, grid)
    wv, wf = out.watertight_verts, out.watertight_faces
    # Watertight template: valid, welded, edge-manifold; closed and outward when it closes inside.
    assert not has_unused_vertices(wv.shape[0], wf)
    assert is_edge_manifold(wf)
    if closed:
        assert is_closed(wf)
        if wf.shape[0]:  # zero only when sdf = 0 exactly collapses the surface to points
            assert signed_volume(wv, wf) > -1e-12
    # Open mesh: valid indices, no unused vertex, edge-manifold, cut vertices after kept ones.
    v, f = out.verts, out.faces
    assert f.shape[0] == 0 or (int(f.min()) >= 0 and int(f.max()) < v.shape[0])
    assert not has_unused_vertices(v.shape[0], f)
    assert is_edge_manifold(f)
    assert bool((out.msdf[: out.num_kept] > 0).all())
    assert out.face_tet.shape == (f.shape[0],)
    if closed and wf.shape[0]:
        # A boundary edge of the open mesh joins two cut vertices.
        from tests.mesh_checks import edge_face_counts
        keys, counts = edge_face_counts(f)
        assert bool((keys[counts == 1] >= out.num_kept).all())
    # Agreement with the references (matched by source, since positions may coincide).
    rv, rf, _, re = marching_tets_ref(verts, grid.tets, sdf, return_edges=True)
    assert rv.shape == wv.shape and rf.shape == wf.shape
    cross = gshell.ops.marching_tets.marching_tets_topology(sdf, grid)[0]
    assert match_meshes(wv, wf, rv, rf, keys1=grid.edges[cross], keys2=re)
    cv, cf, _ = gshell_cut_ref(wv, wf, out.watertight_msdf.detach())
    assert cv.shape == v.shape and cf.shape == f.shape
