"""The vectorised plain-PyTorch baseline (used by the benchmarks) against the loop references."""
import pytest
import torch

import gshell
from tests.reference.gshell_torch import gshell_torch
from tests.reference.marching_tets_ref import gshell_cut_ref, marching_tets_ref, match_meshes


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_baseline_matches_loop_reference(seed):
    grid = gshell.TetGrid.regular(5)
    g = torch.Generator().manual_seed(seed)
    v = grid.vertices.double()
    sdf = torch.rand(grid.num_vertices, generator=g, dtype=torch.float64) - 0.3
    msdf = torch.rand(grid.num_vertices, generator=g, dtype=torch.float64) - 0.4
    verts, faces, _ = gshell_torch(v, grid.tets, sdf, msdf)
    wv, wf, _, we = marching_tets_ref(v, grid.tets, sdf, return_edges=True)
    sa, sb = sdf[we[:, 0]], sdf[we[:, 1]]
    wm = (msdf[we[:, 0]] * sb - msdf[we[:, 1]] * sa) / (sb - sa)
    cv, cf, _ = gshell_cut_ref(wv, wf, wm)
    assert match_meshes(verts, faces, cv, cf)
    out = gshell.gshell_extract(v, sdf, msdf, grid)
    assert match_meshes(out.verts, out.faces, verts, faces)
