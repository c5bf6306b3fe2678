"""Independent mesh checks used by the tests (plain PyTorch)."""
import torch


def edge_face_counts(faces):
    """Number of faces on each undirected edge: (keys, counts)."""
    e = faces[:, [[0, 1], [1, 2], [2, 0]]].reshape(-1, 2)
    e = torch.sort(e, dim=1).values
    return torch.unique(e, dim=0, return_counts=True)


def is_closed(faces):
    """Every edge in exactly two faces, and each directed edge used once (consistent winding)."""
    if faces.shape[0] == 0:
        return True
    _, counts = edge_face_counts(faces)
    directed = faces[:, [[0, 1], [1, 2], [2, 0]]].reshape(-1, 2)
    _, dcounts = torch.unique(directed, dim=0, return_counts=True)
    return bool((counts == 2).all()) and bool((dcounts == 1).all())


def is_edge_manifold(faces):
    if faces.shape[0] == 0:
        return True
    _, counts = edge_face_counts(faces)
    return bool((counts <= 2).all())


def has_unused_vertices(num_verts, faces):
    used = torch.zeros(num_verts, dtype=torch.bool)
    used[faces.reshape(-1)] = True
    return not bool(used.all())


def signed_volume(verts, faces):
    v = verts.double()
    a, b, c = v[faces[:, 0]], v[faces[:, 1]], v[faces[:, 2]]
    return float((a * torch.cross(b, c, dim=-1)).sum() / 6)


def area(verts, faces):
    v = verts.double()
    a, b, c = v[faces[:, 0]], v[faces[:, 1]], v[faces[:, 2]]
    return float(torch.cross(b - a, c - a, dim=-1).norm(dim=-1).sum() / 2)


def is_vertex_manifold_closed(faces):
    """Around every vertex of a closed surface its faces form one fan: the edges opposite the
    vertex in its faces make one cycle (a plain-Python check, independent of gshell.topology)."""
    links = {}
    for a, b, c in faces.tolist():
        for v, p, q in ((a, b, c), (b, c, a), (c, a, b)):
            links.setdefault(v, []).append((p, q))
    for v, edges in links.items():
        nxt = {}
        for p, q in edges:
            if p in nxt:  # two faces leave p around v: not one fan
                return False
            nxt[p] = q
        start = edges[0][0]
        seen, cur = 0, start
        while True:
            cur = nxt.get(cur)
            seen += 1
            if cur is None:
                return False  # the fan does not close
            if cur == start:
                break
        if seen != len(edges):
            return False  # more than one cycle around v
    return True
