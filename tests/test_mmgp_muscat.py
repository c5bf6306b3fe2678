"""gshell's MMGP morphing and transfer against Muscat, the finite-element library the published
MMGP code uses (an independent implementation): the uniform-weight Tutte map against
``FloaterMeshParametrization`` and the P1 transfer against ``GetFieldTransferOp`` with method
"Interp/Clamp", both to rounding."""
import numpy as np
import pytest

pytest.importorskip("Muscat", reason="Muscat is not installed (pip install muscat)")

from scipy.spatial import Delaunay  # noqa: E402

from gshell.mmgp.morph import boundary_loop, floater_map  # noqa: E402
from gshell.mmgp.transfer import transfer_matrix  # noqa: E402


def _muscat_mesh(points, triangles):
    from Muscat.MeshTools.MeshCreationTools import CreateMeshOfTriangles

    return CreateMeshOfTriangles(np.ascontiguousarray(points, dtype=np.float64),
                                 np.ascontiguousarray(triangles, dtype=np.int64))


def _muscat_floater(points, triangles, loop):
    """Muscat's parametrisation of a mesh whose boundary loop is ``loop``: Muscat wants the
    interior nodes first and the boundary nodes last, in loop order. Returns (N, 2) in the
    input's node order."""
    from Muscat.MeshContainers.MeshGraphTools import FloaterMeshParametrization

    n = len(points)
    perm = np.concatenate([np.setdiff1d(np.arange(n), loop), loop])
    inv = np.empty_like(perm)
    inv[perm] = np.arange(n)
    param, _ = FloaterMeshParametrization(_muscat_mesh(points[perm], inv[triangles]), len(loop))
    uv = np.empty((n, 2))
    uv[perm] = param.nodes[:, :2]
    return uv


def _disk_mesh(seed, n_boundary, n_interior, boundary="regular"):
    """A Delaunay mesh of random interior points inside a boundary polygon: a regular
    ``n_boundary``-gon of random size, or a star-shaped polygon of random radii."""
    rng = np.random.default_rng(seed)
    a = 2 * np.pi * np.arange(n_boundary) / n_boundary
    if boundary == "regular":
        rad = np.full(n_boundary, rng.uniform(0.5, 2.0))
    else:
        rad = rng.uniform(0.7, 1.3, n_boundary)
    bd = np.stack([rad * np.cos(a), rad * np.sin(a)], 1)
    r = np.sqrt(rng.random(n_interior)) * 0.6 * rad.min()
    t = rng.random(n_interior) * 2 * np.pi
    p = np.concatenate([np.stack([r * np.cos(t), r * np.sin(t)], 1), bd]) + rng.normal(size=2)
    return p, Delaunay(p).simplices.astype(np.int64)


@pytest.mark.parametrize("seed", range(4))
def test_tutte_map_matches_muscat_floater(seed):
    """A boundary of equal edges: both place the boundary by arc length from the start vertex
    (Muscat counts the open path, gshell the closed loop; with equal edges the two agree), and
    both solve the uniform-weight (Tutte) system for the interior."""
    p, tri = _disk_mesh(seed, n_boundary=20 + 4 * seed, n_interior=60 + 30 * seed)
    loop = boundary_loop(tri, len(p), points=p)
    ref = _muscat_floater(p, tri, loop)
    uv = floater_map(p, tri, weights="uniform", start=int(loop[0]))
    np.testing.assert_allclose(uv, ref, atol=1e-12, rtol=0)


@pytest.mark.parametrize("seed", range(4))
def test_tutte_interior_matches_muscat_on_any_boundary(seed):
    """An irregular boundary (the arc-length conventions differ there): with the boundary held
    where Muscat put it, gshell's interior solve gives Muscat's interior positions."""
    p, tri = _disk_mesh(100 + seed, n_boundary=17 + 5 * seed, n_interior=50 + 40 * seed,
                        boundary="star")
    loop = boundary_loop(tri, len(p), points=p)
    ref = _muscat_floater(p, tri, loop)
    assert np.abs(ref - floater_map(p, tri, weights="uniform")).max() > 1e-6  # not trivially equal
    uv = floater_map(p, tri, weights="uniform", boundary_positions=ref)
    np.testing.assert_allclose(uv, ref, atol=1e-12, rtol=0)


@pytest.mark.parametrize("seed", range(4))
def test_p1_transfer_matches_muscat_interp_clamp(seed):
    """Target points inside (interpolation) and outside (clamped to the nearest boundary point)
    a random source mesh: the same operator."""
    from Muscat.FE.FETools import PrepareFEComputation
    from Muscat.FE.Fields.FEField import FEField
    from Muscat.MeshTools.MeshFieldOperations import GetFieldTransferOp

    rng = np.random.default_rng(seed)
    p = rng.random((40 + 40 * seed, 2)) * rng.uniform(0.5, 3.0, 2)
    tri = Delaunay(p).simplices.astype(np.int64)
    lo, hi = p.min(0), p.max(0)
    q = lo - 0.2 * (hi - lo) + rng.random((300, 2)) * 1.4 * (hi - lo)
    mesh = _muscat_mesh(p, tri)
    space, numberings, _, _ = PrepareFEComputation(mesh, numberOfComponents=1)
    field = FEField(name="u", mesh=mesh, space=space, numbering=numberings[0])
    op, status, _ = GetFieldTransferOp(field, q, method="Interp/Clamp", verbose=False)
    status = np.asarray(status).ravel()
    assert (status == 1).any() and (status == 3).any()  # both interpolated and clamped points
    dof = np.array([numberings[0].GetDofOfPoint(i) for i in range(len(p))])
    ref = op.toarray()[:, dof]  # columns in node order
    T = transfer_matrix(p, tri, q).toarray()
    np.testing.assert_allclose(T, ref, atol=1e-10, rtol=0)
