"""Plain-PyTorch references for marching tetrahedra and the G-Shell cut.

Written independently of gshell's kernels: the marching-tets reference re-derives the edges of
every tet with a sort on each call (the DMTet/kaolin algorithm), and the cut reference walks the
triangles one by one in Python with a dict of cut edges.
"""
import torch

# DMTet's case table: for each 4-bit code (bit i: sdf(v_i) > 0) up to two triangles given as
# local edge ids; local edges are (0,1) (0,2) (0,3) (1,2) (1,3) (2,3).
TRI_TABLE = [
    [], [1, 0, 2], [4, 0, 3], [1, 4, 2, 1, 3, 4], [3, 1, 5], [2, 3, 0, 2, 5, 3], [1, 4, 0, 1, 5, 4],
    [4, 2, 5], [4, 5, 2], [4, 1, 0, 4, 5, 1], [3, 2, 0, 3, 5, 2], [1, 3, 5], [4, 1, 2, 4, 3, 1],
    [3, 0, 4], [2, 0, 1], [],
]
LOCAL_EDGES = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]


def marching_tets_ref(vertices, tets, sdf, return_edges=False):
    """Returns verts (V, 3), faces (F, 3), face_tet (F,) with kaolin's winding (no flip), and
    with ``return_edges`` the grid edge (a, b), a < b, of each vertex."""
    n = vertices.shape[0]
    pos = sdf > 0
    pairs = torch.tensor(LOCAL_EDGES)
    e = tets[:, pairs]  # (T, 6, 2)
    a, b = e.min(-1).values, e.max(-1).values
    keys, inv = torch.unique((a * n + b).reshape(-1), return_inverse=True)
    inv = inv.view(-1, 6)
    ea, eb = keys // n, keys % n
    crossing = pos[ea] != pos[eb]
    vid = torch.full((keys.shape[0],), -1, dtype=torch.long)
    vid[crossing] = torch.arange(int(crossing.sum()))
    sa, sb = sdf[ea[crossing]], sdf[eb[crossing]]
    pa, pb = vertices[ea[crossing]], vertices[eb[crossing]]
    verts = (pa * sb[:, None] - pb * sa[:, None]) / (sb - sa)[:, None]
    faces, face_tet = [], []
    codes = (pos[tets].long() * torch.tensor([1, 2, 4, 8])).sum(-1)
    for t in torch.nonzero((codes > 0) & (codes < 15)).flatten().tolist():
        row = TRI_TABLE[int(codes[t])]
        for j in range(0, len(row), 3):
            faces.append([int(vid[inv[t, row[j + k]]]) for k in range(3)])
            face_tet.append(t)
    faces = torch.tensor(faces, dtype=torch.long).view(-1, 3)
    face_tet = torch.tensor(face_tet, dtype=torch.long)
    if return_edges:
        return verts, faces, face_tet, torch.stack([ea[crossing], eb[crossing]], -1)
    return verts, faces, face_tet


def gshell_cut_ref(verts, faces, msdf, return_keys=False):
    """Cuts each triangle by the sign of msdf (kept where > 0). Returns verts, faces, face_src,
    and with ``return_keys`` the source of each vertex: (i, i) for a kept vertex i, (a, b) with
    a < b for a vertex cut on edge (a, b)."""
    keep = msdf > 0
    out_v = [verts[i] for i in range(verts.shape[0]) if keep[i]]
    new_id = {}
    for i in range(verts.shape[0]):
        if keep[i]:
            new_id[i] = len(new_id)
    cut_id = {}

    def cut(a, b):
        key = (min(a, b), max(a, b))
        if key not in cut_id:
            ma, mb = msdf[a], msdf[b]
            cut_id[key] = len(out_v)
            out_v.append((verts[a] * mb - verts[b] * ma) / (mb - ma))
        return cut_id[key]

    out_f, src = [], []
    for t, (a, b, c) in enumerate(faces.tolist()):
        k = [bool(keep[a]), bool(keep[b]), bool(keep[c])]
        tri = [a, b, c]
        if all(k):
            polys = [[new_id[a], new_id[b], new_id[c]]]
        elif sum(k) == 1:
            i = k.index(True)
            x, y, z = tri[i], tri[(i + 1) % 3], tri[(i + 2) % 3]
            polys = [[new_id[x], cut(x, y), cut(z, x)]]
        elif sum(k) == 2:
            i = k.index(False)
            x, y, z = tri[i], tri[(i + 1) % 3], tri[(i + 2) % 3]
            cxy, czx = cut(x, y), cut(z, x)
            polys = [[cxy, new_id[y], new_id[z]], [cxy, new_id[z], czx]]
        else:
            polys = []
        for p in polys:
            out_f.append(p)
            src.append(t)
    v = torch.stack(out_v) if out_v else verts.new_zeros((0, 3))
    out = v, torch.tensor(out_f, dtype=torch.long).view(-1, 3), torch.tensor(src, dtype=torch.long)
    if return_keys:
        keys = [(i, i) for i in new_id] + sorted(cut_id, key=cut_id.get)
        return out + (torch.tensor(keys, dtype=torch.long).view(-1, 2),)
    return out


def canonical_faces(verts, faces, decimals=5):
    """A set of faces keyed by rounded vertex positions, each rotated to start at its smallest
    corner (winding kept), so meshes can be compared up to vertex numbering."""
    keys = [tuple(round(float(x), decimals) for x in p) for p in verts.double()]
    out = []
    for f in faces.tolist():
        tri = [keys[i] for i in f]
        i = min(range(3), key=lambda j: tri[j])
        out.append(tuple(tri[i:] + tri[:i]))
    return sorted(out)


def match_meshes(v1, f1, v2, f2, tol=1e-5, keys1=None, keys2=None):
    """True if the two meshes have the same vertex positions (within ``tol``, one-to-one) and the
    same faces with the same winding, up to vertex numbering and face order. Vertices are matched
    by position, or by integer ``keys`` (V, k) where positions may coincide."""
    if v1.shape != v2.shape or f1.shape != f2.shape:
        return False
    if v1.shape[0] == 0:
        return f1.shape[0] == 0
    if keys1 is not None:
        lookup = {tuple(k): i for i, k in enumerate(keys2.tolist())}
        if len(lookup) != keys2.shape[0]:
            return False
        try:
            idx = torch.tensor([lookup[tuple(k)] for k in keys1.tolist()])
        except KeyError:
            return False
        if bool(((v1.double() - v2.double()[idx]).norm(dim=-1) > tol).any()):
            return False
    else:
        dist, idx = torch.cdist(v1.double(), v2.double()).min(1)
        if bool((dist > tol).any()):
            return False
    if torch.unique(idx).shape[0] != idx.shape[0]:
        return False
    mapped = idx[f1]

    def canon(f):
        rows = []
        for a, b, c in f.tolist():
            m = min(a, b, c)
            rows.append((a, b, c) if m == a else (b, c, a) if m == b else (c, a, b))
        return sorted(rows)

    return canon(mapped) == canon(f2)
