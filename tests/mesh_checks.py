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
