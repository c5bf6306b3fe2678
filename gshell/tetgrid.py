"""Tetrahedral grids and their static topology (edges, tet-to-edge table)."""
import os

import numpy as np
import torch

from gshell import _checks

# Local edges of a tet, in kaolin/DMTet order (matches csrc/common/tables.h).
TET_EDGES = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))

# Edge directions of the Kuhn (Freudenthal) split of a cube grid, in order of increasing
# vertex-id offset, so that edges enumerated per vertex come out lexicographically sorted.
_DIRS = ((0, 0, 1), (0, 1, 0), (0, 1, 1), (1, 0, 0), (1, 0, 1), (1, 1, 0), (1, 1, 1))
_PERMS = ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))


def _kuhn_tets():
    """The 6 tets of a unit cube around its diagonal, as corner offsets (6, 4, 3), each
    positively oriented."""
    out = []
    for perm in _PERMS:
        c = [np.zeros(3, dtype=np.int64)]
        for axis in perm:
            nxt = c[-1].copy()
            nxt[axis] = 1
            c.append(nxt)
        c = np.stack(c)
        if np.linalg.det((c[1:] - c[0]).astype(np.float64)) < 0:
            c[[2, 3]] = c[[3, 2]]
        out.append(c)
    return np.stack(out)


def signed_volumes(vertices, tets):
    """Six times the signed volume of each tet.

    Args:
        vertices: (N, 3) float tensor.
        tets: (T, 4) int64 tensor.
    Returns:
        (T,) tensor, positive for positively oriented tets.
    """
    v = vertices[tets]
    return torch.linalg.det(torch.stack([v[:, 1] - v[:, 0], v[:, 2] - v[:, 0], v[:, 3] - v[:, 0]], 1).double())


class TetGrid:
    """A tetrahedral grid: vertex positions, tets, and the topology the kernels need.

    Every tet is positively oriented (orientation is repaired on construction), so marching
    tetrahedra winds faces consistently. The unique edges and the tet-to-edge table are
    computed once per grid and reused by every extraction.

    Args:
        vertices: (N, 3) float32 tensor, positions (usually in [-0.5, 0.5]^3).
        tets: (T, 4) integer tensor, vertex ids in [0, N).
        repair_orientation: swap two vertices of each negatively oriented tet.

    Example:
        >>> grid = TetGrid.regular(32)
        >>> grid.num_vertices, grid.num_tets
        (35937, 196608)
    """

    def __init__(self, vertices, tets, repair_orientation=True):
        _checks.tensor("vertices", vertices, dims=2, shape=(None, 3), dtypes=_checks.FLOATS)
        _checks.tensor("tets", tets, dims=2, shape=(None, 4), dtypes=_checks.INTS,
                       device=vertices.device)
        if vertices.shape[0] == 0 or tets.shape[0] == 0:
            raise ValueError("Expected a non-empty grid but got %d vertices and %d tets" % (
                vertices.shape[0], tets.shape[0]))
        if vertices.shape[0] >= 2 ** 31:
            raise ValueError("Expected fewer than 2^31 vertices but got %d" % vertices.shape[0])
        _checks.finite("vertices", vertices)
        tets = tets.long()
        _checks.index_range("tets", tets, vertices.shape[0])
        vertices = vertices.float().contiguous()
        if repair_orientation:
            neg = signed_volumes(vertices, tets) < 0
            if bool(neg.any()):
                tets = tets.clone()
                tets[neg] = tets[neg][:, [0, 1, 3, 2]]
        self.vertices = vertices
        self.tets = tets.contiguous()
        self.res = None
        self._edges32 = None
        self._tet_edges32 = None
        self._tets32 = None
        self._first32 = None
        self._spacing = None

    # ------------------------------------------------------------------ constructors
    @classmethod
    def regular(cls, res, device="cpu"):
        """A cube grid of ``res``^3 cubes in [-0.5, 0.5]^3, each split into 6 tets around its
        main diagonal (Kuhn split, conforming across cubes).

        Args:
            res: number of cubes along each axis (>= 1).
            device: torch device.
        Returns:
            TetGrid with (res+1)^3 vertices and 6 res^3 tets; its topology is computed in
            closed form (no sort).
        """
        if isinstance(res, bool) or not isinstance(res, (int, np.integer)) or res < 1:
            raise ValueError("Expected res to be an integer >= 1 but got %r" % (res,))
        device = _checks.device("device", device)
        res = int(res)
        n = res + 1
        if n ** 3 >= 2 ** 31 or 7 * n ** 3 >= 2 ** 31:
            raise ValueError("Expected res <= 600 (int32 topology) but got %d" % res)
        device = torch.device(device)
        ax = torch.linspace(-0.5, 0.5, n, device=device, dtype=torch.float32)
        vertices = torch.stack(torch.meshgrid(ax, ax, ax, indexing="ij"), -1).reshape(-1, 3)
        stride = torch.tensor([n * n, n, 1], device=device)
        kuhn = torch.as_tensor(_kuhn_tets(), device=device)  # (6, 4, 3)
        ii = torch.arange(res, device=device)
        base = torch.stack(torch.meshgrid(ii, ii, ii, indexing="ij"), -1).reshape(-1, 3)  # (C, 3)
        base_id = base @ stride
        tets = (base_id[:, None, None] + (kuhn @ stride)[None]).reshape(-1, 4)
        grid = cls.__new__(cls)
        grid.vertices, grid.tets, grid.res, grid._spacing = vertices, tets, res, 1.0 / res
        grid._tets32 = None
        grid._first32 = None

        # Edges: (v, v + d) for the 7 directions d, where v + d is inside the grid.
        dirs = torch.tensor(_DIRS, device=device)
        coords = torch.stack(torch.meshgrid(*(torch.arange(n, device=device),) * 3, indexing="ij"), -1)
        valid = ((coords.reshape(-1, 1, 3) + dirs[None]) <= res).all(-1)  # (V, 7)
        edge_id = torch.cumsum(valid.reshape(-1), 0) - 1
        vid = torch.arange(n ** 3, device=device)
        a = vid[:, None].expand(-1, 7)[valid]
        b = (vid[:, None] + (dirs @ stride)[None]).expand(-1, 7)[valid]
        grid._edges32 = torch.stack([a, b], -1).int().contiguous()
        # Tet-to-edge table: each local edge (p, q) goes from its lower corner in direction hi - lo.
        lo_off, dir_idx = [], []
        dir_of = {d: i for i, d in enumerate(_DIRS)}
        kuhn_np = _kuhn_tets()
        for t in range(6):
            for p, q in TET_EDGES:
                cp, cq = kuhn_np[t, p], kuhn_np[t, q]
                lo, hi = (cp, cq) if (cp <= cq).all() else (cq, cp)
                lo_off.append(int(lo @ np.array([n * n, n, 1])))
                dir_idx.append(dir_of[tuple(int(x) for x in hi - lo)])
        lo_off = torch.tensor(lo_off, device=device).view(6, 6)
        dir_idx = torch.tensor(dir_idx, device=device).view(6, 6)
        full = (base_id[:, None, None] + lo_off[None]) * 7 + dir_idx[None]
        grid._tet_edges32 = edge_id[full.reshape(-1, 6)].int().contiguous()
        return grid

    @classmethod
    def load(cls, path, device="cpu"):
        """Loads a grid from an npz file in the kaolin/nvdiffrec layout (``vertices`` (N, 3),
        ``indices`` (T, 4)); negatively oriented tets are repaired.

        Raises:
            FileNotFoundError, ValueError: missing file, or keys/shapes that do not fit.
        """
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError("Expected a tet grid .npz file at %r but it does not exist" % path)
        try:
            data = np.load(path, allow_pickle=False)
        except (OSError, EOFError, ValueError) as e:
            raise ValueError("Expected %r to be a readable .npz file: %s" % (path, e)) from None
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("Expected %r to be a readable .npz file but it holds a single array" % path)
        with data:
            if "vertices" not in data or "indices" not in data:
                raise ValueError("Expected keys 'vertices' and 'indices' in %r but got %s" % (
                    path, sorted(data.keys())))
            try:
                vertices, indices = np.asarray(data["vertices"]), np.asarray(data["indices"])
            except (OSError, EOFError, ValueError) as e:
                raise ValueError("Expected %r to be a readable .npz file: %s" % (path, e)) from None
        if vertices.ndim != 2 or vertices.shape[1:] != (3,):
            raise ValueError("Expected 'vertices' of shape (N, 3) in %r but got %s" % (path, vertices.shape))
        if indices.ndim != 2 or indices.shape[1:] != (4,):
            raise ValueError("Expected 'indices' of shape (T, 4) in %r but got %s" % (path, indices.shape))
        if not np.issubdtype(indices.dtype, np.integer):
            raise ValueError("Expected integer 'indices' in %r but got %s" % (path, indices.dtype))
        if not np.issubdtype(vertices.dtype, np.floating):
            raise ValueError("Expected float 'vertices' in %r but got %s" % (path, vertices.dtype))
        return cls(torch.from_numpy(vertices.astype(np.float32)).to(device),
                   torch.from_numpy(indices.astype(np.int64)).to(device))

    def save(self, path):
        """Writes the grid as npz (``vertices`` float32, ``indices`` int64), atomically."""
        from gshell._atomic import save_npz

        save_npz(path, vertices=self.vertices.cpu().numpy(), indices=self.tets.cpu().numpy())

    # ------------------------------------------------------------------ topology
    def _build_topology(self):
        n = self.vertices.shape[0]
        pairs = torch.tensor(TET_EDGES, device=self.tets.device)
        e = self.tets[:, pairs]  # (T, 6, 2)
        a, b = torch.minimum(e[..., 0], e[..., 1]), torch.maximum(e[..., 0], e[..., 1])
        keys, inverse = torch.unique((a * n + b).reshape(-1), sorted=True, return_inverse=True)
        if keys.shape[0] >= 2 ** 31:
            raise ValueError("Expected fewer than 2^31 grid edges but got %d" % keys.shape[0])
        self._edges32 = torch.stack([keys // n, keys % n], -1).int().contiguous()
        self._tet_edges32 = inverse.view(-1, 6).int().contiguous()

    def kernel_tables(self):
        """The int32 tables the kernels read, computed once per grid: tets (T, 4), edges (E, 2),
        tet_edges (T, 6) and edge_first_tet (E,) (the lowest tet id holding each edge)."""
        if self._edges32 is None:
            self._build_topology()
        if self._tets32 is None:
            self._tets32 = self.tets.int().contiguous()
        if self._first32 is None:
            te = self._tet_edges32
            t = self.tets.shape[0]
            tid = torch.arange(t, device=te.device, dtype=torch.int32)[:, None].expand(-1, 6)
            first = torch.full((self._edges32.shape[0],), t, dtype=torch.int32, device=te.device)
            first.scatter_reduce_(0, te.reshape(-1).long(), tid.reshape(-1), "amin")
            self._first32 = first
        return self._tets32, self._edges32, self._tet_edges32, self._first32

    @property
    def edges(self):
        """(E, 2) int64: the unique grid edges (a < b), sorted lexicographically."""
        return self.kernel_tables()[1].long()

    @property
    def tet_edges(self):
        """(T, 6) int64: edge id of each tet's local edges (0,1) (0,2) (0,3) (1,2) (1,3) (2,3)."""
        return self.kernel_tables()[2].long()

    @property
    def num_vertices(self):
        return int(self.vertices.shape[0])

    @property
    def num_tets(self):
        return int(self.tets.shape[0])

    @property
    def num_edges(self):
        return int(self.kernel_tables()[1].shape[0])

    @property
    def device(self):
        return self.vertices.device

    @property
    def spacing(self):
        """Typical edge length: 1/res for a regular grid, the median edge length otherwise."""
        if self._spacing is None:
            e = self.kernel_tables()[1].long()
            self._spacing = float((self.vertices[e[:, 0]] - self.vertices[e[:, 1]]).norm(dim=-1).median())
        return self._spacing

    def to(self, device):
        """A copy on ``device``, carrying the computed topology along."""
        device = _checks.device("device", device)
        if device == self.device:
            return self
        g = TetGrid.__new__(TetGrid)
        g.vertices, g.tets = self.vertices.to(device), self.tets.to(device)
        g.res, g._spacing = self.res, self._spacing
        mv = lambda t: None if t is None else t.to(device)
        g._edges32, g._tet_edges32, g._tets32 = mv(self._edges32), mv(self._tet_edges32), mv(self._tets32)
        g._first32 = mv(self._first32)
        return g

    def __repr__(self):
        res = "" if self.res is None else "res=%d, " % self.res
        return "TetGrid(%svertices=%d, tets=%d, device=%s)" % (res, self.num_vertices, self.num_tets, self.device)
