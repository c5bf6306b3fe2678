"""The topology of triangle meshes, from the faces alone: edges and their face counts, orientation,
connected components, boundary loops, non-manifold vertices, Euler characteristic and genus.

This is the one place these are computed: :func:`gshell.io.mesh_info`, :mod:`gshell.metrics`,
:func:`gshell.boundary_loops` (:class:`gshell.GShellResult`) and the demo use it. NumPy only
(no torch import), so ``gshell info`` starts fast. Faces may be NumPy arrays or torch tensors on
any device.
"""
import sys

import numpy as np

__all__ = ["edge_face_counts", "boundary_edges", "boundary_loops", "connected_components",
           "nonmanifold_vertices", "topology"]


def _faces(faces, num_verts=None):
    """(F, 3) int64 array and the vertex count, from an array or tensor."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(faces, torch.Tensor):
        if faces.is_floating_point() or faces.dtype == torch.bool or faces.is_complex():
            raise TypeError("Expected faces to have an integer dtype but got a tensor of dtype %s"
                            % faces.dtype)
        faces = faces.detach().cpu().numpy()
    f = np.asarray(faces)
    if f.dtype == np.bool_ or not np.issubdtype(f.dtype, np.integer):
        if not (f.size == 0 and f.dtype == np.float64 and f.ndim < 2):
            raise TypeError("Expected faces to have an integer dtype but got dtype %s" % f.dtype)
    if f.size == 0 and f.ndim < 2:
        f = f.reshape(0, 3)
    if f.ndim != 2 or f.shape[1] != 3:
        raise ValueError("Expected faces of shape (F, 3) but got shape %s" % (tuple(f.shape),))
    f = f.astype(np.int64, copy=False)
    lo = int(f.min()) if f.size else 0
    hi = int(f.max()) if f.size else -1
    if num_verts is None:
        num_verts = hi + 1
    num_verts = int(num_verts)
    if lo < 0 or hi >= num_verts:
        raise ValueError("Expected faces to index vertices in [0, %d) but got indices in [%d, %d]"
                         % (num_verts, lo, hi))
    return f, num_verts


def connected_components(num_nodes, a, b):
    """Component label of each node of a graph given by its edges (a[i], b[i]).

    Args:
        num_nodes: int. a, b: (E,) int64 arrays of node ids in [0, num_nodes).
    Returns:
        (num_nodes,) int64 array: labels 0..C-1, numbered in order of each component's smallest node.
    """
    parent = np.arange(num_nodes, dtype=np.int64)
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    while a.size:
        ra, rb = parent[a], parent[b]           # roots: parent is fully compressed here
        keep = ra != rb
        if not keep.any():
            break
        a, b, ra, rb = a[keep], b[keep], ra[keep], rb[keep]
        np.minimum.at(parent, np.maximum(ra, rb), np.minimum(ra, rb))  # hook the larger root
        while True:                              # pointer jumping until every node points to a root
            nxt = parent[parent]
            if np.array_equal(nxt, parent):
                break
            parent = nxt
    roots, labels = np.unique(parent, return_inverse=True)
    return labels.reshape(-1).astype(np.int64)


def edge_face_counts(faces, num_verts=None):
    """The undirected edges of a triangle mesh and the number of faces using each.

    Args:
        faces: (F, 3) integer array or tensor. num_verts: default max index + 1.
    Returns:
        edges: (E, 2) int64 array of vertex pairs (a < b), sorted by (a, b).
        counts: (E,) int64 array: 1 on a boundary edge, 2 inside a manifold surface, more on a
        non-manifold edge.
    """
    f, nv = _faces(faces, num_verts)
    edges, counts, _ = _edges(f, nv)
    return edges, counts


def _edges(f, nv):
    """Unique edges (E, 2), their face counts (E,) and the edge of each of the 3F face sides."""
    e = np.sort(f[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    n = max(nv, 1)
    keys, side_edge, counts = np.unique(e[:, 0] * n + e[:, 1], return_inverse=True, return_counts=True)
    return np.stack([keys // n, keys % n], 1), counts, side_edge.reshape(-1)


def boundary_edges(faces, num_verts=None):
    """(B, 2) int64 array of the edges used by exactly one face (a < b)."""
    edges, counts = edge_face_counts(faces, num_verts)
    return edges[counts == 1]


def boundary_loops(faces, num_verts=None):
    """Number of boundary loops: connected components of the boundary edges (0 for a closed
    mesh, 1 for a disk, 2 for an open cylinder)."""
    be = boundary_edges(faces, num_verts)
    if be.shape[0] == 0:
        return 0
    verts, local = np.unique(be.reshape(-1), return_inverse=True)
    local = local.reshape(-1, 2)
    return int(connected_components(verts.size, local[:, 0], local[:, 1]).max()) + 1


def nonmanifold_vertices(faces, num_verts=None):
    """Vertices whose faces do not form one fan (the faces around the vertex fall into several
    groups joined only at the vertex, like two cones touching at their tips), or that lie on a
    non-manifold edge.

    Args:
        faces: (F, 3) integer array or tensor. num_verts: default max index + 1.
    Returns:
        (K,) int64 array of vertex ids, ascending.
    """
    f, nv = _faces(faces, num_verts)
    return _nonmanifold_vertices(f, nv, *_edges(f, nv))


def _nonmanifold_vertices(f, nv, edges, counts, side_edge):
    nf = f.shape[0]
    if nf == 0:
        return np.zeros(0, np.int64)
    bad = np.zeros(nv, bool)
    bad[edges[counts > 2].reshape(-1)] = True
    # corners (face, vertex) are joined across each manifold edge: side s of face t joins
    # corners (t, s) and (t, s + 1) with the same corners of the other face on that edge
    side = np.arange(3 * nf)
    manifold = counts[side_edge] == 2
    sides = side[manifold]
    order = np.argsort(side_edge[sides], kind="stable")
    pair = sides[order].reshape(-1, 2)            # the two face sides of each manifold edge
    corner_a0 = pair[:, 0]                        # corner at the side's first vertex
    corner_a1 = (pair[:, 0] // 3) * 3 + (pair[:, 0] % 3 + 1) % 3
    corner_b0 = pair[:, 1]
    corner_b1 = (pair[:, 1] // 3) * 3 + (pair[:, 1] % 3 + 1) % 3
    fc = f.reshape(-1)
    # match corners by vertex: the first vertex of side a is either side b's first or second
    same = fc[corner_a0] == fc[corner_b0]
    u = np.concatenate([corner_a0, corner_a1])
    v = np.concatenate([np.where(same, corner_b0, corner_b1), np.where(same, corner_b1, corner_b0)])
    labels = connected_components(3 * nf, u, v)
    fans = np.unique(fc * (3 * nf) + labels) // (3 * nf)   # one entry per (vertex, fan)
    bad[fans[np.nonzero(np.diff(fans) == 0)[0]]] = True
    return np.nonzero(bad)[0].astype(np.int64)


def topology(faces, num_verts=None, max_components=100):
    """Topology statistics of a triangle mesh.

    Args:
        faces: (F, 3) integer array or tensor, indices in [0, num_verts).
        num_verts: number of vertices (default: max index + 1).
        max_components: at most this many components are listed in ``component_genus``.
    Returns:
        dict of Python numbers, strings and lists: ``edges``, ``boundary_edges``,
        ``nonmanifold_edges`` (used by more than 2 faces), ``nonmanifold_vertices`` (see
        :func:`nonmanifold_vertices`), ``watertight`` (every edge used by exactly 2 faces, F > 0),
        ``edge_manifold``, ``oriented`` (no directed edge used twice: neighbouring faces are wound
        consistently), ``unreferenced_vertices``, ``components`` (sharing a vertex),
        ``boundary_loops``, ``euler_characteristic`` (V - E + F over referenced vertices),
        ``genus`` (sum over components of (2 - chi - b) / 2, an int; None where the genus is not
        defined), ``genus_undefined`` (None, or why the genus is not defined: non-manifold edges,
        non-manifold vertices, inconsistent orientation) and ``component_genus`` (per component,
        largest first: ``faces``, ``closed``, ``boundary_loops``, ``genus``).
    """
    f, nv = _faces(faces, num_verts)
    nf = f.shape[0]
    edges, counts, side_edge = _edges(f, nv)
    directed = f[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    dkeys, dcounts = np.unique(directed[:, 0] * max(nv, 1) + directed[:, 1], return_counts=True)
    nm_verts = _nonmanifold_vertices(f, nv, edges, counts, side_edge)
    used = np.zeros(nv, bool)
    used[f.reshape(-1)] = True
    out = {"edges": int(edges.shape[0]), "boundary_edges": int((counts == 1).sum()),
           "nonmanifold_edges": int((counts > 2).sum()), "nonmanifold_vertices": int(nm_verts.size),
           "watertight": bool(nf > 0 and (counts == 2).all()), "edge_manifold": bool((counts <= 2).all()),
           "oriented": bool((dcounts == 1).all()), "unreferenced_vertices": int(nv - used.sum())}

    # components of the vertices that faces use, numbered 0..C-1
    labels = connected_components(nv, edges[:, 0], edges[:, 1])
    comp_ids = np.unique(labels[used])
    ncomp = comp_ids.size
    remap = np.full(nv + 1, -1, np.int64)
    remap[comp_ids] = np.arange(ncomp)
    vcomp = remap[labels]
    out["components"] = int(ncomp)
    bedges = edges[counts == 1]
    loops_per_comp = np.zeros(ncomp, np.int64)
    out["boundary_loops"] = 0
    if bedges.shape[0]:
        loop_of = connected_components(nv, bedges[:, 0], bedges[:, 1])[bedges[:, 0]]
        loop_ids, first = np.unique(loop_of, return_index=True)
        loops_per_comp = np.bincount(vcomp[bedges[first, 0]], minlength=ncomp)
        out["boundary_loops"] = int(loop_ids.size)
    vc = np.bincount(vcomp[used], minlength=ncomp)
    fc = np.bincount(vcomp[f[:, 0]], minlength=ncomp)
    ec = np.bincount(vcomp[edges[:, 0]], minlength=ncomp)
    open_edges = np.bincount(vcomp[edges[:, 0]], weights=counts != 2, minlength=ncomp)
    chi = vc - ec + fc
    out["euler_characteristic"] = int(chi.sum())
    if not out["edge_manifold"]:
        why = "%d non-manifold edges (used by more than two faces)" % out["nonmanifold_edges"]
    elif nm_verts.size:
        why = "%d non-manifold vertices (where surface sheets touch at a point)" % nm_verts.size
    elif not out["oriented"]:
        why = "the faces are not consistently oriented"
    else:
        why = None
    # a component's genus needs it to be edge-manifold, vertex-manifold and oriented
    flawed = np.zeros(ncomp, bool)
    flawed[vcomp[edges[counts > 2][:, 0]]] = True
    flawed[vcomp[nm_verts]] = True
    flawed[vcomp[dkeys[dcounts > 1] // max(nv, 1)]] = True
    comps = []
    for c in np.argsort(-fc, kind="stable")[:max_components]:
        twice = 2 - int(chi[c]) - int(loops_per_comp[c])
        ok = not flawed[c] and twice % 2 == 0 and twice >= 0
        comps.append({"faces": int(fc[c]), "closed": bool(open_edges[c] == 0),
                      "boundary_loops": int(loops_per_comp[c]), "genus": twice // 2 if ok else None})
    if why is None and any(c["genus"] is None for c in comps):  # cannot happen on a manifold
        why = "a component's Euler characteristic gives no whole genus"
    out["genus_undefined"] = why
    out["component_genus"] = comps
    out["genus"] = int(sum(c["genus"] for c in comps)) if why is None and ncomp <= max_components else None
    return out
