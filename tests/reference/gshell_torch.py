"""Vectorised plain-PyTorch G-Shell extraction, in the style of the published implementations:
DMTet re-derives the grid's edges with a sort on every call (kaolin's algorithm, with
``torch.unique(dim=0)``), then the mSDF cut is done with whole-tensor ops. Used as the baseline of
scripts/bench_tets.py and checked against the loop references in tests/test_reference.py."""
import torch

from tests.reference.marching_tets_ref import LOCAL_EDGES, TRI_TABLE

_TRI = torch.tensor([row + [-1] * (6 - len(row)) for row in TRI_TABLE], dtype=torch.long)
_NTRI = torch.tensor([len(row) // 3 for row in TRI_TABLE], dtype=torch.long)
_CUT = torch.tensor([[-1] * 6, [0, 3, 5, -1, -1, -1], [1, 4, 3, -1, -1, -1], [5, 0, 1, 5, 1, 4],
                     [2, 5, 4, -1, -1, -1], [4, 2, 0, 4, 0, 3], [3, 1, 2, 3, 2, 5],
                     [0, 1, 2, -1, -1, -1]], dtype=torch.long)
_NCUT = torch.tensor([0, 1, 1, 2, 1, 2, 2, 1], dtype=torch.long)


def dmtet_torch(vertices, tets, sdf):
    """kaolin's marching tetrahedra. Returns verts (V, 3), faces (F, 3), edges (V, 2)."""
    dev = vertices.device
    with torch.no_grad():
        occ = sdf > 0
        occ4 = occ[tets]
        n_occ = occ4.sum(-1)
        valid = (n_occ > 0) & (n_occ < 4)
        all_edges = tets[valid][:, torch.tensor(LOCAL_EDGES, device=dev)].reshape(-1, 2)
        all_edges = torch.sort(all_edges, dim=1).values
        unique_edges, idx_map = torch.unique(all_edges, dim=0, return_inverse=True)
        crossing = occ[unique_edges[:, 0]] != occ[unique_edges[:, 1]]
        mapping = torch.full((unique_edges.shape[0],), -1, dtype=torch.long, device=dev)
        mapping[crossing] = torch.arange(int(crossing.sum()), device=dev)
        idx_map = mapping[idx_map].view(-1, 6)
        edges = unique_edges[crossing]
        code = (occ4[valid].long() * torch.tensor([1, 2, 4, 8], device=dev)).sum(-1)
        ntri = _NTRI.to(dev)[code]
        tri = _TRI.to(dev)[code]
        faces = torch.cat([
            torch.gather(idx_map[ntri == 1], 1, tri[ntri == 1][:, :3]).reshape(-1, 3),
            torch.gather(idx_map[ntri == 2], 1, tri[ntri == 2][:, :6]).reshape(-1, 3)])
    sa, sb = sdf[edges[:, 0]], sdf[edges[:, 1]]
    denom = sb - sa
    verts = (vertices[edges[:, 0]] * sb[:, None] - vertices[edges[:, 1]] * sa[:, None]) / denom[:, None]
    return verts, faces, edges


def gshell_torch(vertices, tets, sdf, msdf):
    """DMTet, then the mSDF triangle cut. Returns verts, faces, vertex msdf (stop-gradient copy)."""
    dev = vertices.device
    wv, wf, edges = dmtet_torch(vertices, tets, sdf)
    sa, sb = sdf[edges[:, 0]], sdf[edges[:, 1]]
    w = torch.stack([sb, -sa], -1) / (sb - sa)[:, None]
    m = (msdf[edges] * w).sum(-1)
    m_sg = (msdf[edges] * w.detach()).sum(-1)
    with torch.no_grad():
        nv = wv.shape[0]
        pos = m > 0
        code = (pos[wf].long() * torch.tensor([1, 2, 4], device=dev)).sum(-1)
        e = wf[:, [[0, 1], [1, 2], [2, 0]]]
        cutmask = pos[e[..., 0]] != pos[e[..., 1]]
        keys = torch.minimum(e[..., 0], e[..., 1]) * nv + torch.maximum(e[..., 0], e[..., 1])
        ukeys, inv = torch.unique(keys[cutmask], return_inverse=True)
        nk = int(pos.sum())
        cut_id = torch.full(keys.shape, -1, dtype=torch.long, device=dev)
        cut_id[cutmask] = nk + inv
        new_id = torch.cumsum(pos.long(), 0) - 1
        ids = torch.cat([new_id[wf], cut_id], 1)
        n = _NCUT.to(dev)[code]
        tbl = _CUT.to(dev)[code]
        faces = torch.cat([torch.gather(ids[n >= 1], 1, tbl[n >= 1][:, :3]),
                           torch.gather(ids[n == 2], 1, tbl[n == 2][:, 3:])])
        u, v = ukeys // nv, ukeys % nv
    mu, mv = m[u], m[v]
    cut_pos = (wv[u] * mv[:, None] - wv[v] * mu[:, None]) / (mv - mu)[:, None]
    wu, wvv = (mv / (mv - mu)).detach(), (-mu / (mv - mu)).detach()
    verts = torch.cat([wv[pos], cut_pos])
    vmsdf = torch.cat([m_sg[pos], m_sg[u] * wu + m_sg[v] * wvv])
    return verts, faces, vmsdf
