import math

import numpy as np
import pytest
import torch

import gshell
from gshell.ops.marching_cubes import _marching_cubes_op
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.mesh_checks import area, edge_face_counts, is_closed, is_vertex_manifold_closed, signed_volume

skimage_measure = pytest.importorskip("skimage.measure")


def coords(n, lo=-0.5, hi=0.5, dtype=torch.float64):
    x = torch.linspace(lo, hi, n, dtype=dtype)
    return torch.stack(torch.meshgrid(x, x, x, indexing="ij"), -1)


def shape(name, n, dtype=torch.float64):
    p = coords(n, dtype=dtype)
    if name == "sphere":
        return p.norm(dim=-1) - 0.3037
    if name == "torus":
        q = torch.stack([p[..., :2].norm(dim=-1) - 0.25, p[..., 2]], -1)
        return q.norm(dim=-1) - 0.1013
    if name == "blobs":  # several components, saddles and ambiguous cells
        s = (p * 9).sin().prod(-1) * 0.2
        return s + p.norm(dim=-1) - 0.35
    raise ValueError(name)


def skimage_mesh(grid, iso=0.0):
    n = grid.shape[0]
    h = 1.0 / (n - 1)
    v, f, _, _ = skimage_measure.marching_cubes(grid.numpy(), iso, spacing=(h, h, h))
    return torch.from_numpy(v.astype(np.float64)) - 0.5, torch.from_numpy(f.astype(np.int64))


def hausdorff(a, b):
    d = torch.cdist(a, b)
    return max(float(d.min(1).values.max()), float(d.min(0).values.max()))


@pytest.mark.parametrize("name", ["sphere", "torus", "blobs"])
@pytest.mark.parametrize("n", [24, 41])
def test_agrees_with_scikit_image(name, n):
    grid = shape(name, n)
    verts, faces = gshell.marching_cubes(grid)
    sv, sf = skimage_mesh(grid)
    # One vertex per crossing edge by linear interpolation: the same vertex set as scikit-image.
    assert verts.shape == sv.shape
    assert hausdorff(verts, sv) < 1e-6  # scikit-image interpolates in float32
    # The same surface: area, enclosed volume, and a Hausdorff distance far below the spacing.
    assert abs(area(verts, faces) - area(sv, sf)) < 0.01 * area(sv, sf)
    assert abs(signed_volume(verts, faces) - abs(signed_volume(sv, sf))) < 0.01 * abs(signed_volume(sv, sf))
    assert is_closed(faces)
    assert signed_volume(verts, faces) > 0  # outward normals


def test_sphere_area_and_volume_converge():
    r = 0.3037
    grid = shape("sphere", 97)
    verts, faces = gshell.marching_cubes(grid)
    assert abs(signed_volume(verts, faces) - 4 / 3 * math.pi * r ** 3) < 0.005 * 4 / 3 * math.pi * r ** 3
    assert abs(area(verts, faces) - 4 * math.pi * r ** 2) < 0.01 * 4 * math.pi * r ** 2


@pytest.mark.parametrize("seed", range(6))
def test_random_fields_are_watertight(seed):
    """Random fields hit every ambiguous case; with positive values on the border the surface is
    closed, so every edge must be shared by faces of both orientations (no holes)."""
    g = torch.Generator().manual_seed(seed)
    n = 9 + seed
    grid = torch.rand(n, n, n, generator=g, dtype=torch.float64) - 0.5
    grid[0], grid[-1], grid[:, 0], grid[:, -1], grid[:, :, 0], grid[:, :, -1] = (1.0,) * 6
    verts, faces = gshell.marching_cubes(grid)
    assert faces.shape[0] > 0
    directed = faces[:, [[0, 1], [1, 2], [2, 0]]].reshape(-1, 2)
    key = lambda e: e[:, 0] * verts.shape[0] + e[:, 1]
    fwd = torch.sort(key(directed)).values
    rev = torch.sort(key(directed.flip(1))).values
    assert torch.equal(fwd, rev)  # every directed edge has its twin: closed and oriented
    _, counts = edge_face_counts(faces)
    assert bool((counts == 2).all())  # no edge of four triangles
    assert is_vertex_manifold_closed(faces)
    assert signed_volume(verts, faces) > 0
    used = torch.zeros(verts.shape[0], dtype=torch.bool)
    used[faces.reshape(-1)] = True
    assert bool(used.all())
    assert bool((faces[:, 0] != faces[:, 1]).all() & (faces[:, 1] != faces[:, 2]).all())


def _smooth_field(seed, n, sigma, offset):
    """Gaussian-filtered white noise of unit spread, ``offset`` added, positive on the border."""
    from scipy.ndimage import gaussian_filter

    r = np.random.default_rng(seed)
    g = gaussian_filter(r.standard_normal((n, n, n)), sigma, mode="wrap")
    g = g / g.std() + offset
    g[0], g[-1], g[:, 0], g[:, -1], g[:, :, 0], g[:, :, -1] = (1.0,) * 6
    return g


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2 ** 31 - 1), n=st.integers(6, 30), sigma=st.floats(0.5, 3.0),
       offset=st.floats(-0.3, 0.6), dtype=st.sampled_from([torch.float32, torch.float64]))
def test_smooth_random_fields_give_closed_2_manifolds(seed, n, sigma, offset, dtype):
    """Smooth noise (no exact zeros, many saddles) positive on the border: the surface is a closed
    2-manifold, as scikit-image's is: every edge in exactly two triangles, one fan of triangles
    around every vertex, consistent winding, and the same area as scikit-image's."""
    g = _smooth_field(seed, n, sigma, offset)
    verts, faces = gshell.marching_cubes(torch.from_numpy(g).to(dtype))
    if faces.shape[0] == 0:
        return
    assert is_closed(faces)
    assert is_vertex_manifold_closed(faces)
    assert signed_volume(verts.double(), faces) > 0
    sv, sf = skimage_mesh(torch.from_numpy(g))
    # the two resolve ambiguous faces differently, which shows on rough fields only
    tol = 0.03 if sigma >= 1.5 else 0.15
    assert abs(area(verts.double(), faces) - area(sv, sf)) < tol * area(sv, sf) + 1e-9


def test_every_sign_pattern_of_a_cell_block():
    """All 256 sign patterns of a 2x2x2 block of points inside a positive border (so every cell
    around it sees a different case), each with several random magnitudes to resolve the
    ambiguous faces both ways: a closed 2-manifold every time."""
    r = np.random.default_rng(7)
    for code in range(256):
        sign = np.array([1.0 if code >> i & 1 else -1.0 for i in range(8)]).reshape(2, 2, 2)
        for _ in range(3):
            g = np.ones((4, 4, 4))
            g[1:3, 1:3, 1:3] = sign * r.uniform(0.05, 1.0, (2, 2, 2))
            verts, faces = gshell.marching_cubes(torch.from_numpy(g))
            if code == 255:
                assert faces.shape[0] == 0
                continue
            assert is_closed(faces), code
            assert is_vertex_manifold_closed(faces), code
            assert signed_volume(verts, faces) > 0, code


def test_centre_vertices_lie_inside_their_cell_and_carry_gradients():
    """A cell whose loop crosses an ambiguous face twice gets a vertex at the loop's mean: it lies
    inside the cell, and both gradient modes reach the grid through it."""
    found = False
    r = np.random.default_rng(3)
    for _ in range(200):
        g = np.ones((4, 4, 4))
        g[1:3, 1:3, 1:3] = r.uniform(-1, 1, (2, 2, 2))
        grid = torch.from_numpy(g)
        edges, faces, centres = _marching_cubes_op(grid, 0.0)
        if centres.shape[0] == 0:
            continue
        found = True
        for mode in ("edge", "normal"):
            gg = grid.clone().requires_grad_(True)
            verts, f = gshell.marching_cubes(gg, gradient=mode)
            assert verts.shape[0] == edges.shape[0] + centres.shape[0]
            c = verts[edges.shape[0]:]
            loop = verts[:edges.shape[0]][centres.clamp_min(0)]
            mean = (loop * (centres >= 0)[..., None]).sum(1) / (centres >= 0).sum(1, keepdim=True)
            assert torch.allclose(c, mean)
            (g_,) = torch.autograd.grad(c.sum(), gg)
            assert bool(torch.isfinite(g_).all()) and float(g_.abs().sum()) > 0
        break
    assert found, "no cell with a centre vertex in 200 random blocks"


def test_bounds_isovalue_and_anisotropic_grid():
    n = (20, 30, 25)
    lo, hi = (-1.0, -2.0, 0.0), (1.0, 2.0, 3.0)
    axes = [torch.linspace(lo[a], hi[a], n[a], dtype=torch.float64) for a in range(3)]
    p = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1)
    center = torch.tensor([0.1, -0.2, 1.4], dtype=torch.float64)
    grid = (p - center).norm(dim=-1)
    verts, faces = gshell.marching_cubes(grid, isovalue=0.8, bounds=(lo, hi))
    r = (verts - center).norm(dim=-1)
    assert float((r - 0.8).abs().max()) < 0.05
    assert is_closed(faces) and signed_volume(verts, faces) > 0


def test_gradcheck_edge_mode():
    g = torch.Generator().manual_seed(0)
    grid = torch.rand(4, 4, 4, generator=g, dtype=torch.float64) - 0.5
    assert gshell.marching_cubes(grid)[0].shape[0] > 0
    f = lambda x: gshell.marching_cubes(x, gradient="edge")[0]
    assert torch.autograd.gradcheck(f, (grid.clone().requires_grad_(),))


def _grad(grid, mode, loss_fn):
    x = grid.clone().requires_grad_(True)
    v, _ = gshell.marching_cubes(x, gradient=mode)
    loss_fn(v).backward()
    return x.grad


def test_modes_agree_exactly_on_a_linear_field():
    p = coords(9)
    n = torch.tensor([0.3, -0.5, 0.8], dtype=torch.float64)
    grid = p @ n - 0.05
    unit = n / n.norm()
    w = torch.randn(1000, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    loss = lambda v: ((v @ unit) * w[: v.shape[0]]).sum()  # a loss on the normal component
    assert torch.allclose(_grad(grid, "edge", loss), _grad(grid, "normal", loss), atol=1e-10)


def test_modes_agree_on_the_normal_component_of_a_smooth_field():
    grid = shape("sphere", 33)
    loss = lambda v: (v.norm(dim=-1) - 0.2).square().sum()  # depends on v through its normal part
    ge, gn = _grad(grid, "edge", loss), _grad(grid, "normal", loss)
    cos = float((ge * gn).sum() / (ge.norm() * gn.norm()))
    assert cos > 0.98
    assert abs(float(gn.sum()) / float(ge.sum()) - 1) < 0.03


def test_normal_mode_matches_finite_differences_of_a_uniform_shift():
    grid = shape("sphere", 33)
    loss = lambda v: v.norm(dim=-1).sum()
    gn = _grad(grid, "normal", loss)
    eps = 1e-4
    with torch.no_grad():
        lp = loss(gshell.marching_cubes(grid + eps)[0])
        lm = loss(gshell.marching_cubes(grid - eps)[0])
    fd = float(lp - lm) / (2 * eps)
    assert abs(float(gn.sum()) - fd) < 0.02 * abs(fd)


def test_no_nan_where_the_gradient_vanishes():
    grid = torch.ones(5, 5, 5, dtype=torch.float64)
    grid[2, 2, 2] = -1.0  # symmetric: zero central differences at the point
    x = grid.clone().requires_grad_(True)
    v, f = gshell.marching_cubes(x)
    v.sum().backward()
    assert bool(torch.isfinite(x.grad).all())


def test_optimising_the_grid_reaches_a_target_radius():
    grid = shape("sphere", 25).float()  # radius 0.3037
    x = grid.clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=2e-3)
    for _ in range(60):
        v, _ = gshell.marching_cubes(x)
        loss = (v.norm(dim=-1) - 0.25).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    v, f = gshell.marching_cubes(x.detach())
    assert abs(float(v.norm(dim=-1).mean()) - 0.25) < 0.01


def test_float32_and_thread_invariance():
    grid = shape("blobs", 48).float()
    nthreads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        a = _marching_cubes_op(grid, 0.0)
        torch.set_num_threads(max(2, nthreads))
        b = _marching_cubes_op(grid, 0.0)
    finally:
        torch.set_num_threads(nthreads)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    v, _ = gshell.marching_cubes(grid)
    assert v.dtype == torch.float32


def test_empty_and_bad_inputs():
    v, f = gshell.marching_cubes(torch.ones(4, 4, 4))
    assert v.shape == (0, 3) and f.shape == (0, 3)
    with pytest.raises(ValueError, match="Expected grid of shape|3-D"):
        gshell.marching_cubes(torch.zeros(4, 4))
    with pytest.raises(ValueError, match="at least 2 points"):
        gshell.marching_cubes(torch.zeros(1, 4, 4))
    with pytest.raises(ValueError, match="finite"):
        gshell.marching_cubes(torch.full((3, 3, 3), float("nan")))
    with pytest.raises(TypeError, match="dtype"):
        gshell.marching_cubes(torch.zeros(3, 3, 3, dtype=torch.int32))
    with pytest.raises(ValueError, match="gradient"):
        gshell.marching_cubes(torch.zeros(3, 3, 3), gradient="sideways")
    with pytest.raises(ValueError, match="bounds"):
        gshell.marching_cubes(torch.zeros(3, 3, 3), bounds=((0, 0, 0), (1, 0, 1)))
    with pytest.raises(ValueError, match="on cpu"):
        gshell.marching_cubes(torch.zeros(3, 3, 3, device="meta"))
    with pytest.raises(ValueError, match="finite isovalue"):
        gshell.marching_cubes(torch.zeros(3, 3, 3), isovalue=float("nan"))


def test_opcheck():
    torch.library.opcheck(_marching_cubes_op, (shape("sphere", 9).float(), 0.0),
                          test_utils=("test_schema", "test_faketensor"))
