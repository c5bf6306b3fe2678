"""Morphing of disk-like 2D meshes onto the unit disk (MMGP's common-support step).

MMGP (Casenave, Staber, Roynard, NeurIPS 2023, https://arxiv.org/abs/2306.12342) maps every
input mesh, each with its own connectivity, onto one reference domain, here the unit disk, with
Floater's parameterisation (a Tutte embedding with fixed boundary), and then carries fields
between meshes through a common mesh (:mod:`gshell.mmgp.transfer`). :func:`rbf_morph` is the
landmark-driven alternative (radial basis function morphing with Wendland's C2 kernel).

Inputs are NumPy arrays (torch tensors are converted): ``points`` (N, 2) or (N, 3) float,
``triangles`` (M, 3) int. Outputs are NumPy float64 / int64 arrays. SciPy is needed.
"""
import numpy as np

__all__ = ["check_disk_mesh", "boundary_loop", "boundary_corners", "corner_arc_fractions",
           "floater_map", "rbf_morph"]


def _array(name, x, dtype_kind):
    try:
        import torch
        if isinstance(x, torch.Tensor):
            x = x.detach().cpu().numpy()
    except ImportError:  # pragma: no cover - torch is a core dependency
        pass
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except Exception:
            raise TypeError("Expected %s to be a NumPy array or torch tensor but got %s"
                            % (name, type(x).__name__))
    if dtype_kind == "f" and x.dtype.kind not in "fiu":
        raise TypeError("Expected %s of a float dtype but got dtype %s" % (name, x.dtype))
    if dtype_kind == "i" and x.dtype.kind not in "iu":
        raise TypeError("Expected %s of an integer dtype but got dtype %s" % (name, x.dtype))
    return x


def _points(points, dims=(2, 3), name="points"):
    p = _array(name, points, "f")
    if p.ndim != 2 or p.shape[1] not in dims:
        raise ValueError("Expected %s of shape (N, %s) but got shape %s"
                         % (name, " or ".join(map(str, dims)), p.shape))
    return np.ascontiguousarray(p, dtype=np.float64)


def _triangles(triangles, name="triangles"):
    t = _array(name, triangles, "i")
    if t.ndim != 2 or t.shape[1] != 3:
        raise ValueError("Expected %s of shape (M, 3) but got shape %s" % (name, t.shape))
    return np.ascontiguousarray(t, dtype=np.int64)


def _directed_edges(tri):
    """(3M, 2) directed edges in triangle order: (t0, t1), (t1, t2), (t2, t0) per triangle."""
    return tri[:, [[0, 1], [1, 2], [2, 0]]].reshape(-1, 2)


def _topology(tri, n):
    """Edge counts and boundary half-edges. Returns (undirected keys, counts, directed boundary
    edges (B, 2) in triangle winding, directed keys)."""
    e = _directed_edges(tri)
    a, b = np.minimum(e[:, 0], e[:, 1]), np.maximum(e[:, 0], e[:, 1])
    key = a * n + b
    uniq, inv, counts = np.unique(key, return_inverse=True, return_counts=True)
    boundary = e[counts[inv] == 1]
    return uniq, counts, boundary, e[:, 0] * n + e[:, 1]


def check_disk_mesh(points, triangles):
    """Validates a disk-like triangle mesh (one connected, manifold, consistently oriented
    piece with exactly one boundary loop and Euler characteristic 1).

    Unused points (not referenced by any triangle) are rejected: their position in the disk
    would be undefined (the linear system of :func:`floater_map` would be singular).

    Args:
        points: (N, 2) or (N, 3) float array (or tensor).
        triangles: (M, 3) int array (or tensor), vertex ids in [0, N).
    Returns:
        None.
    Raises:
        TypeError: wrong dtype. ValueError: wrong shape, empty mesh, NaN/Inf coordinates,
        indices out of range, repeated vertex in a triangle, unused points, non-manifold edge
        (in more than two triangles) or vertex, inconsistent orientation, several connected
        components, zero or several boundary loops, Euler characteristic other than 1.
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    p = _points(points)
    tri = _triangles(triangles)
    n, m = p.shape[0], tri.shape[0]
    if n == 0 or m == 0:
        raise ValueError("Expected a non-empty mesh but got %d points and %d triangles" % (n, m))
    bad = ~np.isfinite(p).all(axis=1)
    if bad.any():
        raise ValueError("Expected finite points but got %d points with NaN/Inf coordinates "
                         "(first: point %d)" % (int(bad.sum()), int(np.flatnonzero(bad)[0])))
    lo, hi = int(tri.min()), int(tri.max())
    if lo < 0 or hi >= n:
        raise ValueError("Expected triangles to hold indices in [0, %d) but got values in [%d, %d]"
                         % (n, lo, hi))
    rep = (tri[:, 0] == tri[:, 1]) | (tri[:, 1] == tri[:, 2]) | (tri[:, 2] == tri[:, 0])
    if rep.any():
        k = int(np.flatnonzero(rep)[0])
        raise ValueError("Expected triangles with three distinct vertices but got triangle %d = %s"
                         % (k, tri[k].tolist()))
    used = np.zeros(n, bool)
    used[tri.ravel()] = True
    if not used.all():
        raise ValueError("Expected every point to be used by a triangle but got %d unused points "
                         "(first: point %d)" % (int((~used).sum()), int(np.flatnonzero(~used)[0])))
    uniq, counts, boundary, dkey = _topology(tri, n)
    if (counts > 2).any():
        k = int(uniq[np.flatnonzero(counts > 2)[0]])
        raise ValueError("Expected a manifold mesh (every edge in one or two triangles) but got "
                         "edge (%d, %d) in %d triangles" % (k // n, k % n, int(counts.max())))
    du, dc = np.unique(dkey, return_counts=True)
    if (dc > 1).any():
        k = int(du[np.flatnonzero(dc > 1)[0]])
        raise ValueError("Expected consistently oriented triangles but got edge (%d, %d) "
                         "traversed in the same direction by two triangles" % (k // n, k % n))
    e = _directed_edges(tri)
    g = sp.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    ncomp, _ = connected_components(g, directed=False)
    if ncomp != 1:
        raise ValueError("Expected a connected mesh but got %d connected components" % ncomp)
    nb = len(boundary)
    if nb == 0:
        raise ValueError("Expected a disk-like mesh with one boundary loop but got 0")
    outdeg = np.bincount(boundary[:, 0], minlength=n)
    if outdeg.max() > 1:
        v = int(np.argmax(outdeg))
        raise ValueError("Expected a manifold mesh but got vertex %d on %d boundary loops "
                         "(a pinched vertex)" % (v, int(outdeg[v])))
    bv = np.unique(boundary.ravel())
    gb = sp.coo_matrix((np.ones(nb), (boundary[:, 0], boundary[:, 1])), shape=(n, n)).tocsr()
    gb = gb[bv][:, bv]
    nloops, _ = connected_components(gb, directed=False)
    if nloops != 1:
        raise ValueError("Expected a disk-like mesh with one boundary loop but got %d" % nloops)
    chi = n - len(uniq) + m
    if chi != 1:
        raise ValueError("Expected a disk-like mesh with Euler characteristic V - E + F = 1 but "
                         "got %d (the mesh has handles)" % chi)


def boundary_loop(triangles, num_points, start=None, points=None):
    """Ordered vertices of the single boundary loop of a disk-like mesh.

    The loop follows the triangles' winding (each boundary edge in the direction it has in its
    triangle), so it is counter-clockwise for counter-clockwise triangles and the disk map
    keeps the orientation.

    Args:
        triangles: (M, 3) int array (or tensor) of a mesh with one boundary loop (see
            :func:`check_disk_mesh`; this function checks only that the boundary is one loop).
        num_points: N, the number of points.
        start: boundary vertex to start at. Default: with ``points`` given, the boundary vertex
            with the smallest x, ties to the smallest y, then the smallest index; without
            ``points``, the smallest boundary vertex index.
        points: optional (N, 2) or (N, 3) float array, used only to choose the default start.
    Returns:
        (B,) int64 array of boundary vertex ids, ``loop[0] == start``.
    """
    tri = _triangles(triangles)
    n = int(num_points)
    if tri.size and (tri.min() < 0 or tri.max() >= n):
        raise ValueError("Expected triangles to hold indices in [0, %d) but got values in [%d, %d]"
                         % (n, int(tri.min()), int(tri.max())))
    _, _, boundary, _ = _topology(tri, n)
    if len(boundary) == 0:
        raise ValueError("Expected a disk-like mesh with one boundary loop but got 0")
    nxt = np.full(n, -1, np.int64)
    if np.bincount(boundary[:, 0], minlength=n).max() > 1:
        raise ValueError("Expected a disk-like mesh with one boundary loop but got a vertex on "
                         "several boundary edges (non-manifold)")
    nxt[boundary[:, 0]] = boundary[:, 1]
    bv = boundary[:, 0]
    if start is None:
        if points is not None:
            p = _points(points)
            if p.shape[0] != n:
                raise ValueError("Expected points of shape (%d, ?) but got shape %s" % (n, p.shape))
            order = np.lexsort((bv, p[bv, 1], p[bv, 0]))
            start = int(bv[order[0]])
        else:
            start = int(bv.min())
    start = int(start)
    if not (0 <= start < n) or nxt[start] < 0:
        raise ValueError("Expected start to be a boundary vertex but got %d" % start)
    loop = np.empty(len(boundary), np.int64)
    v = start
    for k in range(len(boundary)):
        loop[k] = v
        v = nxt[v]
        if v < 0:
            raise ValueError("Expected a closed boundary loop but it breaks after vertex %d"
                             % loop[k])
        if v == start:
            if k + 1 != len(boundary):
                raise ValueError("Expected a disk-like mesh with one boundary loop but got more "
                                 "than one (the loop from %d has %d of the %d boundary edges)"
                                 % (start, k + 1, len(boundary)))
            return loop
    raise ValueError("Expected a closed boundary loop starting at %d" % start)


def boundary_corners(points, triangles, min_turn=50.0):
    """Corners of the boundary of a 2D disk-like mesh, in loop order.

    A corner is a boundary vertex where the boundary turns by more than ``min_turn`` degrees
    (the angle between the incoming and outgoing boundary edges, either way). The corners are
    returned counter-clockwise along :func:`boundary_loop`, starting from the corner nearest to
    the lower-left corner of the mesh's bounding box, so that the same physical corner comes first
    on meshes of one family (e.g. plates of different shapes and connectivities).

    Args:
        points: (N, 2) float array (or tensor); only x and y are used for (N, 3).
        triangles: (M, 3) int array (or tensor) of a disk-like mesh.
        min_turn: float in (0, 180), the turning angle threshold in degrees.

    Returns:
        (C,) int64 array of boundary vertex ids (C may be 0 for a smooth boundary).
    """
    p = _points(points)
    tri = _triangles(triangles)
    if not (0.0 < float(min_turn) < 180.0):
        raise ValueError("Expected min_turn in (0, 180) degrees but got %r" % (min_turn,))
    loop = boundary_loop(tri, p.shape[0], points=p)
    q = p[loop, :2]
    a = q - np.roll(q, 1, axis=0)                       # incoming edge
    b = np.roll(q, -1, axis=0) - q                      # outgoing edge
    turn = np.degrees(np.abs(np.arctan2(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0],
                                        (a * b).sum(1))))
    k = np.flatnonzero(turn > float(min_turn))
    if len(k) == 0:
        return np.zeros(0, np.int64)
    lo = p[:, :2].min(0)
    first = int(np.argmin(np.linalg.norm(q[k] - lo, axis=1)))
    return loop[np.roll(k, -first)].astype(np.int64)


def corner_arc_fractions(points, triangles, corners):
    """Normalised boundary arc length from ``corners[0]`` to each corner (counter-clockwise).

    Args:
        points: (N, 2) or (N, 3) float array; triangles: (M, 3) int array, disk-like.
        corners: (C,) int boundary vertex ids in loop order (as from :func:`boundary_corners`).

    Returns:
        (C,) float64 in [0, 1), the first 0, increasing.
    """
    p = _points(points)
    tri = _triangles(triangles)
    corners = np.asarray(corners, dtype=np.int64)
    if len(corners) == 0:
        return np.zeros(0)
    loop = boundary_loop(tri, p.shape[0], start=int(corners[0]), points=p)
    seg = np.linalg.norm(p[np.roll(loop, -1)] - p[loop], axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)[:-1]]) / seg.sum()
    pos = np.full(p.shape[0], -1, np.int64)
    pos[loop] = np.arange(len(loop))
    if (pos[corners] < 0).any():
        raise ValueError("Expected corners on the boundary but got vertex %d, which is not"
                         % int(corners[pos[corners] < 0][0]))
    f = s[pos[corners]]
    if (np.diff(f) <= 0).any():
        raise ValueError("Expected corners in counter-clockwise loop order but got %s"
                         % corners.tolist())
    return f


def _boundary_angles(p, loop, landmarks):
    """Angles of the loop vertices: arc length from loop[0] (angle 0), or arc-length
    interpolation between landmark angles."""
    seg = np.linalg.norm(p[np.roll(loop, -1)] - p[loop], axis=1)  # seg[k]: loop[k] -> loop[k+1]
    total = seg.sum()
    if not total > 0:
        raise ValueError("Expected a boundary of positive length but got %g" % total)
    s = np.concatenate([[0.0], np.cumsum(seg)[:-1]])  # arc length of each loop vertex
    if not landmarks:
        return 2 * np.pi * s / total
    pos = {int(v): k for k, v in enumerate(loop)}
    items = []
    for v, ang in dict(landmarks).items():
        if int(v) not in pos:
            raise ValueError("Expected landmarks on boundary vertices but got vertex %d, which is "
                             "not on the boundary" % int(v))
        ang = float(ang)
        if not np.isfinite(ang):
            raise ValueError("Expected finite landmark angles but got %r for vertex %d" % (ang, v))
        items.append((pos[int(v)], ang))
    items.sort()
    ks = np.array([k for k, _ in items])
    th = np.array([a for _, a in items])
    L = len(ks)
    # increments between consecutive landmarks (cyclic), counter-clockwise in (0, 2 pi]
    inc = np.mod(np.roll(th, -1) - th, 2 * np.pi)
    inc[inc <= 1e-12] += 2 * np.pi if L == 1 else 0.0
    if L > 1 and (inc <= 1e-12).any():
        raise ValueError("Expected distinct landmark angles but got two equal angles")
    winds = inc.sum() / (2 * np.pi)
    if abs(winds - 1) > 1e-9:
        raise ValueError("Expected landmark angles increasing counter-clockwise along the "
                         "boundary (winding once) but they wind %.3g times" % winds)
    ang = np.empty(len(loop))
    B = len(loop)
    for i in range(L):
        k0, k1 = ks[i], ks[(i + 1) % L]
        idx = (k0 + np.arange(((k1 - k0 - 1) % B) + 1)) % B  # k0 .. k1-1 cyclically
        sk = np.mod(s[idx] - s[k0], total)
        span = np.mod(s[k1] - s[k0], total)
        if L == 1 or span == 0:
            span = total
        ang[idx] = th[i] + inc[i] * sk / span
    return ang


def _weights(p, tri, kind):
    """Sparse (N, N) weight matrix W (row i: weights of the neighbours of i)."""
    import scipy.sparse as sp
    n = p.shape[0]
    rows, cols, vals = [], [], []
    if kind == "uniform":
        e = _directed_edges(tri)
        W = sp.csr_matrix((np.ones(2 * len(e)), (np.concatenate([e[:, 0], e[:, 1]]),
                                                 np.concatenate([e[:, 1], e[:, 0]]))), shape=(n, n))
        W.data[:] = 1.0  # an interior edge is listed twice
        return W
    if kind != "mean_value":
        raise ValueError("Expected weights 'uniform' or 'mean_value' but got %r" % (kind,))
    for c in range(3):
        i, j, k = tri[:, c], tri[:, (c + 1) % 3], tri[:, (c + 2) % 3]
        e1, e2 = p[j] - p[i], p[k] - p[i]
        l1, l2 = np.linalg.norm(e1, axis=1), np.linalg.norm(e2, axis=1)
        if p.shape[1] == 2:
            cr = np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])
        else:
            cr = np.linalg.norm(np.cross(e1, e2), axis=1)
        dot = (e1 * e2).sum(1)
        # tan(a/2) = sin a / (1 + cos a) = |e1 x e2| / (|e1||e2| + e1.e2)
        with np.errstate(divide="ignore", invalid="ignore"):
            th = cr / (l1 * l2 + dot)
            rows += [i, i]
            cols += [j, k]
            vals += [th / l1, th / l2]
    vals = np.concatenate(vals)
    if not np.isfinite(vals).all():
        raise ValueError("Expected a mesh without degenerate triangles for mean-value weights but "
                         "got zero-length edges or zero angles")
    W = sp.csr_matrix((vals, (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    return W


def floater_map(points, triangles, weights="uniform", start=None, landmarks=None,
                boundary_positions=None):
    """Maps a disk-like mesh onto the unit disk (Floater's parameterisation).

    The boundary loop (:func:`boundary_loop`, counter-clockwise in the triangles' winding) goes
    onto the unit circle by normalised arc length: ``start`` at angle 0, counter-clockwise.
    Interior vertices solve ``sum_j w_ij (u_i - u_j) = 0`` (a sparse LU solve), with

    - ``"uniform"``: ``w_ij = 1`` (Tutte's barycentric embedding, as in the MMGP paper);
    - ``"mean_value"``: ``w_ij = (tan(a/2) + tan(b/2)) / |p_i - p_j|``, ``a`` and ``b`` the
      angles at ``p_i`` of the two triangles on edge ij (Floater, "Mean value coordinates",
      CAGD 2003). Angles and lengths are measured in 3D for (N, 3) points. These weights have
      linear precision: a planar mesh with its boundary held at its own positions
      (``boundary_positions=points``) maps onto itself, which makes the map depend much less on
      the connectivity.

    Both weights are positive, so with a convex target boundary (the circle) every triangle
    keeps its orientation (Tutte/Floater): no triangle flips.

    Args:
        points: (N, 2) or (N, 3) float array (or tensor).
        triangles: (M, 3) int array (or tensor); checked with :func:`check_disk_mesh`.
        weights: ``"uniform"`` or ``"mean_value"``.
        start: boundary vertex at angle 0 (default: see :func:`boundary_loop`, smallest x then
            smallest y).
        landmarks: optional dict ``{boundary vertex: angle in radians}`` of pinned boundary
            vertices; the other boundary vertices are placed by arc length between consecutive
            landmarks. Angles must increase counter-clockwise along the loop and wind once
            (angles are taken modulo 2 pi). With landmarks, ``start`` only orders the loop.
        boundary_positions: optional (N, 2) float array; when given, each boundary vertex ``v``
            is fixed at ``boundary_positions[v]`` instead of on the circle (other rows are
            ignored), e.g. ``points[:, :2]`` to test linear precision.
    Returns:
        (N, 2) float64 array of positions (in the unit disk unless ``boundary_positions``).
    Example:
        >>> uv = floater_map(points, triangles, weights="mean_value")
    """
    import scipy.sparse as sp
    from scipy.sparse.linalg import splu

    check_disk_mesh(points, triangles)
    p = _points(points)
    tri = _triangles(triangles)
    n = p.shape[0]
    loop = boundary_loop(tri, n, start=start, points=p)
    uv = np.zeros((n, 2))
    if boundary_positions is not None:
        bp = _points(boundary_positions, dims=(2,), name="boundary_positions")
        if bp.shape[0] != n:
            raise ValueError("Expected boundary_positions of shape (%d, 2) but got shape %s"
                             % (n, bp.shape))
        if not np.isfinite(bp[loop]).all():
            raise ValueError("Expected finite boundary_positions on the boundary vertices")
        uv[loop] = bp[loop]
    else:
        ang = _boundary_angles(p, loop, landmarks)
        uv[loop] = np.stack([np.cos(ang), np.sin(ang)], 1)
    W = _weights(p, tri, weights)
    interior = np.ones(n, bool)
    interior[loop] = False
    I = np.flatnonzero(interior)
    if len(I) == 0:
        return uv
    deg = np.asarray(W.sum(axis=1)).ravel()
    Wi = W[I]
    A = (sp.diags(deg[I]) - Wi[:, I]).tocsc()  # W has a zero diagonal (no self edges)
    rhs = Wi[:, loop] @ uv[loop]
    # A = diag(deg) - W_II is row diagonally dominant with a symmetric pattern: a symmetric
    # fill-reducing order (minimum degree on A + A^T, SuperLU symmetric mode) gives a sparser
    # LU than the default column order (about 25% faster)
    lu = splu(A, permc_spec="MMD_AT_PLUS_A",
              options={"SymmetricMode": True})
    uv[I] = lu.solve(np.ascontiguousarray(rhs))
    return uv


def _wendland(r, R):
    x = np.clip(r / R, 0.0, 1.0)
    return (1 - x) ** 4 * (4 * x + 1)


def rbf_morph(points, src_landmarks, dst_landmarks, radius=None, polynomial=False,
              chunk=8192):
    """Radial-basis-function morphing: moves ``points`` so that ``src_landmarks`` go exactly to
    ``dst_landmarks``, the displacement interpolated with Wendland's C2 kernel
    ``phi(r) = (1 - r/R)^4_+ (4 r/R + 1)`` (positive definite in up to 3D).

    Args:
        points: (N, d) float array (or tensor), d = 2 or 3.
        src_landmarks: (L, d) float array, distinct points.
        dst_landmarks: (L, d) float array, their images.
        radius: support radius R > 0. Default: the diagonal of the bounding box of ``points``
            and ``src_landmarks`` (every landmark reaches every point).
        polynomial: add a linear polynomial term (exact for affine motions; needs L >= d + 1
            affinely independent landmarks).
        chunk: points evaluated per block (memory N*L is never formed at once).
    Returns:
        (N, d) float64 array: ``points + sum_l a_l phi(|x - s_l|) [+ affine(x)]``; equal to
        ``dst_landmarks`` at ``src_landmarks`` and to ``points`` when src == dst.
    """
    p = _points(points)
    d = p.shape[1]
    s = _array("src_landmarks", src_landmarks, "f").astype(np.float64)
    t = _array("dst_landmarks", dst_landmarks, "f").astype(np.float64)
    for name, x in (("src_landmarks", s), ("dst_landmarks", t)):
        if x.ndim != 2 or x.shape[1] != d:
            raise ValueError("Expected %s of shape (L, %d) but got shape %s" % (name, d, x.shape))
        if not np.isfinite(x).all():
            raise ValueError("Expected %s to be finite" % name)
    if s.shape != t.shape:
        raise ValueError("Expected dst_landmarks of shape %s (as src_landmarks) but got %s"
                         % (s.shape, t.shape))
    if not np.isfinite(p).all():
        raise ValueError("Expected points to be finite")
    L = s.shape[0]
    if L == 0:
        return p.copy()
    if radius is None:
        allp = np.concatenate([p, s])
        radius = float(np.linalg.norm(allp.max(0) - allp.min(0)))
        if radius == 0:
            radius = 1.0
    radius = float(radius)
    if not radius > 0 or not np.isfinite(radius):
        raise ValueError("Expected radius > 0 but got %r" % radius)
    if len(np.unique(s, axis=0)) != L:
        raise ValueError("Expected distinct src_landmarks but got duplicates")
    disp = t - s
    K = _wendland(np.linalg.norm(s[:, None] - s[None], axis=-1), radius)
    if polynomial:
        if L < d + 1:
            raise ValueError("Expected at least %d landmarks for the linear term but got %d"
                             % (d + 1, L))
        Pm = np.concatenate([np.ones((L, 1)), s], 1)
        A = np.block([[K, Pm], [Pm.T, np.zeros((d + 1, d + 1))]])
        rhs = np.concatenate([disp, np.zeros((d + 1, d))])
    else:
        A, rhs = K, disp
    try:
        coef = np.linalg.solve(A, rhs)
    except np.linalg.LinAlgError:
        raise ValueError("Expected landmarks giving a non-singular RBF system (distinct, and "
                         "affinely independent with polynomial=True)")
    a = coef[:L]
    out = p.copy()
    for i in range(0, len(p), chunk):
        x = p[i:i + chunk]
        out[i:i + chunk] += _wendland(np.linalg.norm(x[:, None] - s[None], axis=-1), radius) @ a
        if polynomial:
            out[i:i + chunk] += coef[L] + x @ coef[L + 1:]
    return out
