"""gshell.mmgp.morph and gshell.mmgp.transfer: Floater maps onto the unit disk, RBF morphing,
point location, P1 transfer and mass matrices."""
import numpy as np
import pytest
import torch

pytest.importorskip("scipy")
from scipy.spatial import Delaunay  # noqa: E402

from gshell.mmgp.morph import boundary_loop, check_disk_mesh, floater_map, rbf_morph  # noqa: E402
from gshell.mmgp.transfer import (_point_location_op, locate_points, mass_matrix,  # noqa: E402
                                  transfer_matrix)


# ---------------------------------------------------------------------------------------------
# test meshes

def _orient_ccw(p, t):
    e1, e2 = p[t[:, 1]] - p[t[:, 0]], p[t[:, 2]] - p[t[:, 0]]
    neg = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0] < 0
    t = t.copy()
    t[neg] = t[neg][:, [0, 2, 1]]
    return t


def _signed_areas(p, t):
    e1, e2 = p[t[:, 1]] - p[t[:, 0]], p[t[:, 2]] - p[t[:, 0]]
    return 0.5 * (e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])


def _compact(p, t):
    used = np.unique(t)
    remap = np.full(len(p), -1)
    remap[used] = np.arange(len(used))
    return p[used], remap[t]


def disk_mesh(n_interior=300, n_boundary=64, seed=0):
    """Delaunay mesh of random points in the unit disk; (-1, 0) is a boundary vertex."""
    rng = np.random.default_rng(seed)
    h = 2 * np.pi / n_boundary
    ang = np.pi + h * np.arange(n_boundary)
    ang[1:] += rng.uniform(-0.3, 0.3, n_boundary - 1) * h
    bnd = np.stack([np.cos(ang), np.sin(ang)], 1)
    r = (1 - 0.6 * h) * np.sqrt(rng.uniform(0, 1, n_interior))
    th = rng.uniform(0, 2 * np.pi, n_interior)
    p = np.concatenate([bnd, np.stack([r * np.cos(th), r * np.sin(th)], 1)])
    t = _orient_ccw(p, Delaunay(p).simplices.astype(np.int64))
    t = t[np.abs(_signed_areas(p, t)) > 1e-14]
    return _compact(p, t)


def _segment_points(a, b, h):
    n = max(1, int(np.ceil(np.linalg.norm(np.subtract(b, a)) / h)))
    s = np.arange(n)[:, None] / n
    return np.asarray(a) * (1 - s) + np.asarray(b) * s


def l_mesh(n_interior=400, h=0.1, seed=0):
    """Delaunay mesh of the L-shape [0,2]x[0,1] U [0,1]x[1,2] (non-convex)."""
    rng = np.random.default_rng(seed)
    corners = [(0, 0), (2, 0), (2, 1), (1, 1), (1, 2), (0, 2)]
    bnd = np.concatenate([_segment_points(corners[i], corners[(i + 1) % 6], h) for i in range(6)])
    q = rng.uniform(0, 2, (8 * n_interior, 2))
    inside = ~((q[:, 0] > 1) & (q[:, 1] > 1))
    # keep interior points away from the boundary so boundary edges are Delaunay (Gabriel)
    dist = np.minimum.reduce([q[:, 0], q[:, 1], 2 - q[:, 0], 2 - q[:, 1],
                              np.where(q[:, 1] > 1, 1 - q[:, 0], np.inf),
                              np.where(q[:, 0] > 1, 1 - q[:, 1], np.inf),
                              np.hypot(q[:, 0] - 1, q[:, 1] - 1)])
    q = q[inside & (np.abs(dist) > 0.6 * h)][:n_interior]
    p = np.concatenate([bnd, q])
    t = _orient_ccw(p, Delaunay(p).simplices.astype(np.int64))
    c = p[t].mean(1)
    t = t[~((c[:, 0] > 1) & (c[:, 1] > 1))]
    t = t[np.abs(_signed_areas(p, t)) > 1e-14]
    return _compact(p, t)


def annulus_mesh(n=24):
    r = np.array([0.5, 0.75, 1.0])
    th = 2 * np.pi * np.arange(n) / n
    p = np.stack([np.outer(r, np.cos(th)).ravel(), np.outer(r, np.sin(th)).ravel()], 1)
    tris = []
    for i in range(len(r) - 1):
        for j in range(n):
            a, b = i * n + j, i * n + (j + 1) % n
            c, d = a + n, b + n
            tris += [(a, b, d), (a, d, c)]
    return p, _orient_ccw(p, np.array(tris, np.int64))


MESHES = {"disk": disk_mesh, "L": l_mesh}


@pytest.fixture(params=sorted(MESHES))
def mesh(request):
    return MESHES[request.param]()


def test_test_meshes_are_disks(mesh):
    p, t = mesh
    check_disk_mesh(p, t)
    assert (_signed_areas(p, t) > 0).all()


# ---------------------------------------------------------------------------------------------
# boundary loop and Floater map

def test_boundary_loop_order_and_start():
    p, t = disk_mesh()
    loop = boundary_loop(t, len(p), points=p)
    assert loop[0] == 0  # (-1, 0): smallest x
    assert len(loop) == 64 and len(set(loop.tolist())) == 64
    ang = np.unwrap(np.arctan2(p[loop, 1], p[loop, 0]))
    assert (np.diff(ang) > 0).all()  # counter-clockwise
    loop5 = boundary_loop(t, len(p), start=loop[5])
    assert loop5[0] == loop[5] and np.array_equal(np.roll(loop, -5), loop5)
    assert boundary_loop(t, len(p))[0] == loop.min()
    with pytest.raises(ValueError, match="Expected start to be a boundary vertex"):
        boundary_loop(t, len(p), start=len(p) - 1)


@pytest.mark.parametrize("weights", ["uniform", "mean_value"])
def test_floater_map_disk(mesh, weights):
    p, t = mesh
    uv = floater_map(p, t, weights=weights)
    assert uv.shape == (len(p), 2) and uv.dtype == np.float64
    loop = boundary_loop(t, len(p), points=p)
    np.testing.assert_allclose(np.linalg.norm(uv[loop], axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(uv[loop[0]], [1.0, 0.0], atol=1e-12)
    # counter-clockwise by normalised arc length
    seg = np.linalg.norm(p[np.roll(loop, -1)] - p[loop], axis=1)
    s = np.concatenate([[0], np.cumsum(seg)[:-1]]) / seg.sum()
    ang = np.mod(np.arctan2(uv[loop, 1], uv[loop, 0]), 2 * np.pi)
    np.testing.assert_allclose(ang, 2 * np.pi * s, atol=1e-9)
    interior = np.setdiff1d(np.arange(len(p)), loop)
    assert (np.linalg.norm(uv[interior], axis=1) < 1).all()
    assert (_signed_areas(uv, t) > 0).all()  # no flipped triangle (Tutte / Floater)
    assert np.isclose(_signed_areas(uv, t).sum(), _signed_areas(uv[loop], np.array(
        [[0, k, k + 1] for k in range(1, len(loop) - 1)])).sum())  # covers the polygon once


@pytest.mark.parametrize("weights", ["uniform", "mean_value"])
def test_floater_map_explicit_start(weights):
    p, t = l_mesh()
    loop = boundary_loop(t, len(p), points=p)
    uv = floater_map(p, t, weights=weights, start=int(loop[7]))
    np.testing.assert_allclose(uv[loop[7]], [1, 0], atol=1e-12)
    assert (_signed_areas(uv, t) > 0).all()


@pytest.mark.parametrize("weights", ["uniform", "mean_value"])
def test_floater_map_3d_surface(weights):
    p, t = disk_mesh(seed=3)
    p3 = np.concatenate([p, (p ** 2).sum(1, keepdims=True)], 1)  # a paraboloid cap
    uv = floater_map(torch.from_numpy(p3), torch.from_numpy(t), weights=weights)
    assert (_signed_areas(uv, t) > 0).all()
    loop = boundary_loop(t, len(p), points=p3)
    np.testing.assert_allclose(np.linalg.norm(uv[loop], axis=1), 1.0, atol=1e-12)


def test_mean_value_linear_precision(mesh):
    p, t = mesh
    loop = boundary_loop(t, len(p))
    uv = floater_map(p, t, weights="mean_value", boundary_positions=p)
    np.testing.assert_allclose(uv, p, atol=1e-10)
    uv_u = floater_map(p, t, weights="uniform", boundary_positions=p)
    np.testing.assert_allclose(uv_u[loop], p[loop], atol=0)
    assert np.abs(uv_u - p).max() > 1e-3  # uniform weights do not reproduce the mesh


@pytest.mark.parametrize("weights", ["uniform", "mean_value"])
def test_landmarks_pinned(mesh, weights):
    p, t = mesh
    loop = boundary_loop(t, len(p), points=p)
    B = len(loop)
    lm = {int(loop[3]): 0.5, int(loop[B // 3]): 2.0, int(loop[2 * B // 3]): 4.5 - 2 * np.pi}
    uv = floater_map(p, t, weights=weights, landmarks=lm)
    for v, a in lm.items():
        np.testing.assert_allclose(uv[v], [np.cos(a), np.sin(a)], atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(uv[loop], axis=1), 1.0, atol=1e-12)
    assert (_signed_areas(uv, t) > 0).all()
    one = floater_map(p, t, weights=weights, landmarks={int(loop[4]): 1.0})
    np.testing.assert_allclose(one[loop[4]], [np.cos(1.0), np.sin(1.0)], atol=1e-12)
    assert (_signed_areas(one, t) > 0).all()
    interior = int(np.setdiff1d(np.arange(len(p)), loop)[0])
    with pytest.raises(ValueError, match="not on the boundary"):
        floater_map(p, t, landmarks={interior: 0.0})
    with pytest.raises(ValueError, match="wind"):  # clockwise order
        floater_map(p, t, landmarks={int(loop[3]): 2.0, int(loop[B // 3]): 1.0,
                                     int(loop[2 * B // 3]): 0.5})


def test_floater_map_bad_weights():
    p, t = disk_mesh()
    with pytest.raises(ValueError, match="Expected weights 'uniform' or 'mean_value'"):
        floater_map(p, t, weights="cotan")


# ---------------------------------------------------------------------------------------------
# mesh validation

def test_check_disk_mesh_errors():
    p, t = disk_mesh(n_interior=60, n_boundary=24)
    pa, ta = annulus_mesh()
    with pytest.raises(ValueError, match="Expected a disk-like mesh with one boundary loop but got 2"):
        check_disk_mesh(pa, ta)
    with pytest.raises(ValueError, match="Expected a disk-like mesh with one boundary loop but got 2"):
        floater_map(pa, ta)
    # non-manifold: a third triangle on an interior edge
    e = t[0, :2]
    bad_p = np.concatenate([p, [[5.0, 5.0]]])
    with pytest.raises(ValueError, match="Expected a manifold mesh"):
        check_disk_mesh(bad_p, np.concatenate([t, [[e[1], e[0], len(p)]]]))
    nan = p.copy()
    nan[7, 1] = np.nan
    with pytest.raises(ValueError, match="Expected finite points .* point 7"):
        check_disk_mesh(nan, t)
    inf = p.copy()
    inf[3, 0] = np.inf
    with pytest.raises(ValueError, match="Expected finite points"):
        floater_map(inf, t)
    two_p = np.concatenate([p, p + 3.0])
    two_t = np.concatenate([t, t + len(p)])
    with pytest.raises(ValueError, match="Expected a connected mesh but got 2 connected components"):
        check_disk_mesh(two_p, two_t)
    with pytest.raises(ValueError, match=r"Expected triangles to hold indices in \[0, %d\)" % len(p)):
        check_disk_mesh(p, np.concatenate([t, [[0, 1, len(p)]]]))
    with pytest.raises(ValueError, match="Expected a non-empty mesh"):
        check_disk_mesh(np.zeros((0, 2)), np.zeros((0, 3), np.int64))
    with pytest.raises(ValueError, match="unused points"):
        check_disk_mesh(np.concatenate([p, [[0.1, 0.1]]]), t)
    flipped = t.copy()
    flipped[0] = flipped[0, ::-1]
    with pytest.raises(ValueError, match="consistently oriented"):
        check_disk_mesh(p, flipped)
    with pytest.raises(ValueError, match=r"Expected points of shape \(N, 2 or 3\)"):
        check_disk_mesh(p[:, :1], t)
    with pytest.raises(ValueError, match=r"Expected triangles of shape \(M, 3\)"):
        check_disk_mesh(p, t[:, :2])
    with pytest.raises(TypeError, match="Expected triangles of an integer dtype"):
        check_disk_mesh(p, t.astype(np.float64))
    # a closed surface (tetrahedron): no boundary loop
    tet_p = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1.0]])
    tet_t = np.array([[0, 2, 1], [0, 1, 3], [1, 2, 3], [0, 3, 2]])
    with pytest.raises(ValueError, match="one boundary loop but got 0"):
        check_disk_mesh(tet_p, tet_t)
    check_disk_mesh(torch.from_numpy(p), torch.from_numpy(t))  # tensors are accepted


# ---------------------------------------------------------------------------------------------
# RBF morphing

@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("polynomial", [False, True])
def test_rbf_morph(d, polynomial):
    rng = np.random.default_rng(d)
    pts = rng.uniform(-1, 1, (500, d))
    src = rng.uniform(-1, 1, (12, d))
    dst = src + 0.1 * rng.standard_normal((12, d))
    out = rbf_morph(np.concatenate([pts, src]), src, dst, polynomial=polynomial)
    np.testing.assert_allclose(out[500:], dst, atol=1e-10)
    np.testing.assert_allclose(rbf_morph(pts, src, src, polynomial=polynomial), pts, atol=0)
    small = rbf_morph(np.concatenate([pts, src]), src, dst, radius=0.3, polynomial=polynomial)
    np.testing.assert_allclose(small[500:], dst, atol=1e-10)
    if polynomial:  # affine motions are reproduced everywhere
        A = np.eye(d) + 0.1 * rng.standard_normal((d, d))
        b = rng.standard_normal(d)
        np.testing.assert_allclose(rbf_morph(pts, src, src @ A.T + b, polynomial=True),
                                   pts @ A.T + b, atol=1e-9)
    else:  # compact support: far points do not move
        far = rbf_morph(np.array([[10.0] * d]), src, dst, radius=0.5)
        np.testing.assert_array_equal(far, [[10.0] * d])
    with pytest.raises(ValueError, match="Expected dst_landmarks of shape"):
        rbf_morph(pts, src, dst[:-1])
    with pytest.raises(ValueError, match="Expected radius > 0"):
        rbf_morph(pts, src, dst, radius=0.0)


# ---------------------------------------------------------------------------------------------
# point location

def _brute_locate(p, t, q):
    """NumPy reference: containing triangle (largest smallest barycentric, then smallest index),
    else nearest point of the nearest boundary edge."""
    a, b, c = p[t[:, 0]], p[t[:, 1]], p[t[:, 2]]
    cr = lambda u, v: u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]
    Q = q[:, None]
    l = np.stack([cr(b - Q, c - Q), cr(c - Q, a - Q), cr(a - Q, b - Q)], -1)
    l = l / l.sum(-1, keepdims=True)
    mn = l.min(-1)
    tri = np.argmax(mn, 1)
    inside = mn[np.arange(len(q)), tri] >= -1e-12
    clamped = q.copy()
    e = t[:, [[0, 1], [1, 2], [2, 0]]].reshape(-1, 2)
    key = np.minimum(e[:, 0], e[:, 1]) * len(p) + np.maximum(e[:, 0], e[:, 1])
    u, inv, cnt = np.unique(key, return_inverse=True, return_counts=True)
    be = e[cnt[inv] == 1]
    A, B = p[be[:, 0]][None], p[be[:, 1]][None]
    d = B - A
    s = np.clip(((Q - A) * d).sum(-1) / (d * d).sum(-1), 0, 1)
    near = A + s[..., None] * d
    dist = np.linalg.norm(near - Q, axis=-1)
    k = np.argmin(dist, 1)
    clamped[~inside] = near[np.arange(len(q)), k][~inside]
    return tri, inside, clamped


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_locate_points_matches_brute_force(mesh, seed):
    p, t = mesh
    rng = np.random.default_rng(seed)
    lo, hi = p.min(0), p.max(0)
    q = rng.uniform(lo - 0.5, hi + 0.5, (3000, 2))
    q = np.concatenate([q, p[:50], rng.uniform(-100, 100, (20, 2))])  # vertices, far points
    tri, bary = locate_points(p, t, q)
    assert tri.dtype == np.int64 and bary.dtype == np.float64
    assert tri.shape == (len(q),) and bary.shape == (len(q), 3)
    assert (bary >= 0).all()
    np.testing.assert_allclose(bary.sum(1), 1.0, atol=1e-12)
    rtri, inside, clamped = _brute_locate(p, t, q)
    recon = (bary[:, :, None] * p[t[tri]]).sum(1)
    np.testing.assert_allclose(recon[inside], q[inside], atol=1e-12)
    np.testing.assert_allclose(recon, clamped, atol=1e-12)
    gen = inside.copy()
    gen[len(q) - 70:] = False  # vertices: several triangles contain them
    assert np.array_equal(tri[gen], rtri[gen])
    assert (~inside).sum() > 100 and inside.sum() > 500
    assert (bary[~inside] == 0).any(1).all()  # clamped onto an edge


def test_locate_points_threads_and_tensors():
    p, t = l_mesh(seed=4)
    q = np.random.default_rng(0).uniform(-0.5, 2.5, (20000, 2))
    n = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        a = locate_points(p, t, q)
        torch.set_num_threads(max(2, n))
        b = locate_points(torch.from_numpy(p), torch.from_numpy(t), torch.from_numpy(q))
    finally:
        torch.set_num_threads(n)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    tri, bary = locate_points(p, t, np.zeros((0, 2)))
    assert tri.shape == (0,) and bary.shape == (0, 3)


def test_locate_points_errors():
    p, t = disk_mesh(n_interior=30, n_boundary=12)
    with pytest.raises(ValueError, match=r"Expected queries of shape \(N, 2\)"):
        locate_points(p, t, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="Expected queries to be finite"):
        locate_points(p, t, np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match=r"Expected triangles to hold indices in \[0, "):
        locate_points(p, t + 1, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="Ms >= 1"):
        locate_points(p, t[:0], np.zeros((3, 2)))
    # the kernel backs the checks up
    with pytest.raises(RuntimeError, match="point_location"):
        _point_location_op(torch.from_numpy(p), torch.from_numpy(t) + 1, torch.zeros(3, 2,
                           dtype=torch.float64))


def test_point_location_opcheck():
    p, t = disk_mesh(n_interior=30, n_boundary=12)
    q = torch.from_numpy(np.random.default_rng(0).uniform(-1.2, 1.2, (64, 2)))
    torch.library.opcheck(_point_location_op, (torch.from_numpy(p), torch.from_numpy(t), q))


# ---------------------------------------------------------------------------------------------
# transfer and mass matrices

def test_transfer_reproduces_linear_fields():
    ps, ts = l_mesh(seed=0)
    pt, _ = l_mesh(n_interior=700, h=0.07, seed=1)  # same domain, other connectivity
    T = transfer_matrix(ps, ts, pt)
    assert T.shape == (len(pt), len(ps)) and T.format == "csr"
    np.testing.assert_allclose(np.asarray(T.sum(1)).ravel(), 1.0, atol=1e-12)
    assert np.diff(T.indptr).max() <= 3
    f = np.stack([1 + 2 * ps[:, 0] - 3 * ps[:, 1], ps[:, 0], np.ones(len(ps))], 1)
    g = np.stack([1 + 2 * pt[:, 0] - 3 * pt[:, 1], pt[:, 0], np.ones(len(pt))], 1)
    np.testing.assert_allclose(T @ f, g, atol=1e-12)
    np.testing.assert_allclose(T @ f[:, 0], g[:, 0], atol=1e-12)


def test_transfer_disk_rows_sum_to_one():
    ps, ts = disk_mesh(seed=0)
    pt, _ = disk_mesh(n_interior=500, n_boundary=80, seed=1)
    T = transfer_matrix(ps, ts, pt)
    np.testing.assert_allclose(np.asarray(T.sum(1)).ravel(), 1.0, atol=1e-12)
    inner = np.linalg.norm(pt, axis=1) < 0.9
    lin = lambda x: 0.5 - x[:, 0] + 4 * x[:, 1]
    np.testing.assert_allclose((T @ lin(ps))[inner], lin(pt)[inner], atol=1e-12)


def test_mass_matrix_identities():
    p, t = l_mesh()
    M = mass_matrix(p, t)
    one = np.ones(len(p))
    assert M.shape == (len(p), len(p))
    assert abs(M - M.T).max() == 0
    np.testing.assert_allclose(one @ M @ one, 3.0, rtol=1e-12)  # area of the L
    np.testing.assert_allclose(p[:, 0] @ M @ one, 2.5, rtol=1e-12)  # integral of x
    np.testing.assert_allclose(p[:, 0] @ M @ p[:, 0], 3.0, rtol=1e-12)  # integral of x^2
    p3 = np.concatenate([p, np.zeros((len(p), 1))], 1) @ np.linalg.qr(
        np.random.default_rng(0).standard_normal((3, 3)))[0]
    np.testing.assert_allclose(one @ mass_matrix(p3, t) @ one, 3.0, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# boundary corners (landmarks shared by a family of plates)

def _rotated_square_mesh(shift, n=9):
    """Structured mesh of the quadrilateral (0,0), (1+s0,0), (1+s1,1), (s2,1), CCW triangles."""
    u, v = np.meshgrid(np.linspace(0, 1, n), np.linspace(0, 1, n), indexing="ij")
    u, v = u.ravel(), v.ravel()
    x = u * (1 + shift[0] * (1 - v) + shift[1] * v - shift[2] * v) + shift[2] * v
    p = np.stack([x, v], 1)
    idx = np.arange(n * n).reshape(n, n)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    t = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    return p, _orient_ccw(p, t)


def test_boundary_corners_and_arc_fractions():
    from gshell.mmgp.morph import boundary_corners, corner_arc_fractions

    p, t = _rotated_square_mesh((0.0, 0.0, 0.0))
    c = boundary_corners(p, t)
    np.testing.assert_allclose(p[c], [[0, 0], [1, 0], [1, 1], [0, 1]], atol=1e-12)  # CCW from (0,0)
    np.testing.assert_allclose(corner_arc_fractions(p, t, c), [0, 0.25, 0.5, 0.75], atol=1e-12)
    # a skewed plate: the same physical corners in the same order, fractions by arc length
    p2, t2 = _rotated_square_mesh((0.2, -0.1, 0.15))
    c2 = boundary_corners(p2, t2)
    np.testing.assert_allclose(p2[c2], [[0, 0], [1.2, 0], [0.9, 1], [0.15, 1]], atol=1e-12)
    sides = np.linalg.norm(np.diff(np.vstack([p2[c2], p2[c2[:1]]]), axis=0), axis=1)
    np.testing.assert_allclose(corner_arc_fractions(p2, t2, c2),
                               np.concatenate([[0], np.cumsum(sides)[:-1]]) / sides.sum(), atol=1e-12)
    # a smooth boundary (polygonal disk with 64 sides, turning 5.6 degrees) has no corners
    pd, td = disk_mesh()
    assert len(boundary_corners(pd, td)) == 0
    assert len(boundary_corners(pd, td, min_turn=1.0)) == 64
    with pytest.raises(ValueError, match="min_turn"):
        boundary_corners(p, t, min_turn=0.0)
    with pytest.raises(ValueError, match="counter-clockwise"):
        corner_arc_fractions(p, t, c[::-1])
