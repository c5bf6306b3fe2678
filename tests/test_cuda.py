"""CUDA kernels against the CPU kernels: same topology and numbering, same values and gradients.

Every test is marked ``gpu`` and skipped unless a CUDA device is present and gshell._C was built
with CUDA. The CPU kernels are the reference (they are tested against plain-PyTorch references
in the other test files); the CUDA kernels must reproduce their outputs exactly: vertices
numbered by (owner tet, local edge), faces in tet order, cut edges sorted by key.
"""
import pytest
import torch

import gshell
from gshell._ext import ext
from gshell.ops.marching_tets import _marching_tets_op, marching_tets_topology


def _cuda_ready():
    if not torch.cuda.is_available():
        return False
    try:
        return bool(gshell.build_info()["with_cuda"])
    except ImportError:
        return False


pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not _cuda_ready(), reason="needs a CUDA device and a CUDA build of gshell"),
]

# The device compared against the CPU (a module attribute, so the test bodies can be checked
# CPU against CPU on a machine without a GPU).
CUDA = torch.device("cuda")
RES = (4, 16, 32)
FIELDS = ("random", "smooth")

_GRIDS = {}


def grid_pair(res):
    """TetGrid.regular(res) on the CPU and on the device, built once per res."""
    if res not in _GRIDS:
        cpu = gshell.TetGrid.regular(res)
        cpu.kernel_tables()
        _GRIDS[res] = (cpu, cpu.to(CUDA))
    return _GRIDS[res]


def make_fields(grid, kind, seed=0, dtype=torch.float32):
    """sdf, msdf (N,) on the CPU: i.i.d. normal values, or a smooth surface (a wavy sphere) cut
    by a wavy plane so that the open mesh has a boundary."""
    p = grid.vertices.double()
    if kind == "random":
        g = torch.Generator().manual_seed(seed)
        sdf = torch.randn(p.shape[0], generator=g, dtype=torch.float64)
        msdf = torch.randn(p.shape[0], generator=g, dtype=torch.float64)
    else:
        x, y, z = p.unbind(-1)
        sdf = p.norm(dim=-1) - 0.31 - 0.05 * torch.sin(7 * x + seed) * torch.cos(5 * y)
        msdf = 0.12 - z + 0.08 * torch.sin(6 * x + 2 * y + seed)
    return sdf.to(dtype), msdf.to(dtype)


def assert_same(cpu_out, dev_out, what):
    for i, (a, b) in enumerate(zip(cpu_out, dev_out)):
        assert b.device.type == CUDA.type, (what, i)
        assert a.dtype == b.dtype and a.shape == b.shape, (what, i, a.shape, b.shape)
        assert torch.equal(a, b.cpu()), (what, i)


# ---------------------------------------------------------------------------- marching tets
@pytest.mark.parametrize("res", RES)
@pytest.mark.parametrize("kind", FIELDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("flip", [False, True])
def test_marching_tets_topology_equal(res, kind, dtype, flip):
    cpu, dev = grid_pair(res)
    for seed in range(2):
        sdf, _ = make_fields(cpu, kind, seed, dtype)
        out_cpu = marching_tets_topology(sdf, cpu, flip=flip)
        out_dev = marching_tets_topology(sdf.to(CUDA), dev, flip=flip)
        assert out_cpu[1].shape[0] > 0
        assert_same(out_cpu, out_dev, "marching_tets res=%d %s seed=%d" % (res, kind, seed))


@pytest.mark.parametrize("value", [1.0, -1.0, 0.0])
def test_marching_tets_no_crossing_is_empty(value):
    cpu, dev = grid_pair(4)
    sdf = torch.full((cpu.num_vertices,), value)
    out_cpu = marching_tets_topology(sdf, cpu)
    out_dev = marching_tets_topology(sdf.to(CUDA), dev)
    assert out_cpu[0].shape == (0,) and out_cpu[1].shape == (0, 3)
    assert_same(out_cpu, out_dev, "empty")


def test_marching_tets_sign_rule_exact_zero():
    # sdf == 0 counts as not positive on both devices.
    cpu, dev = grid_pair(16)
    sdf, _ = make_fields(cpu, "smooth")
    sdf = torch.where(sdf.abs() < 0.02, torch.zeros_like(sdf), sdf)
    assert bool((sdf == 0).any())
    assert_same(marching_tets_topology(sdf, cpu), marching_tets_topology(sdf.to(CUDA), dev), "zeros")


def test_marching_tets_on_a_tet_subset():
    # A grid that is not regular (a subset of the tets, topology built by sorting) and whose
    # first tets are not in cube order.
    cpu_full, _ = grid_pair(16)
    g = torch.Generator().manual_seed(3)
    keep = torch.randperm(cpu_full.num_tets, generator=g)[: cpu_full.num_tets // 2]
    cpu = gshell.TetGrid(cpu_full.vertices, cpu_full.tets[keep])
    dev = gshell.TetGrid(cpu_full.vertices.to(CUDA), cpu_full.tets[keep].to(CUDA))
    for a, b in zip(cpu.kernel_tables(), dev.kernel_tables()):
        assert torch.equal(a, b.cpu())
    sdf, _ = make_fields(cpu, "smooth")
    assert_same(marching_tets_topology(sdf, cpu), marching_tets_topology(sdf.to(CUDA), dev), "subset")


def _corrupt_tables(grid, how):
    tets, edges, tet_edges, first = [t.clone() for t in grid.kernel_tables()]
    if how == "vertex":
        tets[tets.shape[0] // 2, 1] = grid.num_vertices
        return tets, edges, tet_edges, first, "vertex id outside"
    if how == "tet_edges":
        tet_edges = torch.roll(tet_edges, 1, dims=1).contiguous()
        return tets, edges, tet_edges, first, "edges, tet_edges and edge_first_tet are inconsistent"
    if how == "first_late":
        first = torch.full_like(first, tets.shape[0] - 1)
        return tets, edges, tet_edges, first, "edges, tet_edges and edge_first_tet are inconsistent"
    # "first_early": every edge claims tet 0 as its first tet, so tet 0 makes at most 6 of the
    # vertices and the faces of the other tets find none.
    first = torch.zeros_like(first)
    return tets, edges, tet_edges, first, "edge_first_tet is inconsistent with tet_edges"


@pytest.mark.parametrize("how", ["vertex", "tet_edges", "first_late", "first_early"])
def test_marching_tets_errors_match_cpu(how):
    cpu, _ = grid_pair(16)
    sdf, _ = make_fields(cpu, "smooth")
    *tables, msg = _corrupt_tables(cpu, how)
    for device in ("cpu", CUDA):
        args = [sdf.to(device)] + [t.to(device) for t in tables]
        with pytest.raises(RuntimeError, match=msg):
            ext().marching_tets(*args, False)
    # The device is still usable after an error.
    if CUDA.type == "cuda":
        torch.cuda.synchronize()
    sdf_dev = sdf.to(CUDA)
    assert int(marching_tets_topology(sdf_dev, grid_pair(16)[1])[1].shape[0]) > 0


def test_marching_tets_opcheck_cuda():
    _, dev = grid_pair(4)
    sdf, _ = make_fields(dev, "smooth")
    args = (sdf.to(CUDA),) + tuple(dev.kernel_tables()) + (False,)
    torch.library.opcheck(_marching_tets_op, args,
                          test_utils=("test_schema", "test_faketensor"))


# ---------------------------------------------------------------------------- G-Shell cut
@pytest.mark.parametrize("res", RES)
@pytest.mark.parametrize("kind", FIELDS)
def test_gshell_cut_kernel_equal(res, kind):
    cpu, _ = grid_pair(res)
    sdf, msdf = make_fields(cpu, kind)
    out = gshell.gshell_extract(cpu.vertices, sdf, msdf, cpu)
    faces, wmsdf = out.watertight_faces, out.watertight_msdf.detach()
    for dtype in (torch.float32, torch.float64):
        m = wmsdf.to(dtype)
        out_cpu = ext().gshell_cut(faces, m)
        out_dev = ext().gshell_cut(faces.to(CUDA), m.to(CUDA))
        assert_same(out_cpu, out_dev, "gshell_cut res=%d %s %s" % (res, kind, dtype))
        kept, cut = out_cpu[0], out_cpu[1]
        assert bool((kept[1:] > kept[:-1]).all())
        key = cut[:, 0] * m.shape[0] + cut[:, 1]
        assert bool((key[1:] > key[:-1]).all())


def test_gshell_cut_errors_match_cpu():
    faces = torch.tensor([[0, 1, 2], [1, 2, 5]])
    msdf = torch.tensor([1.0, -1.0, 1.0])
    for device in ("cpu", CUDA):
        with pytest.raises(RuntimeError, match="vertex id outside"):
            ext().gshell_cut(faces.to(device), msdf.to(device))


def test_gshell_cut_empty():
    faces = torch.zeros((0, 3), dtype=torch.long)
    msdf = torch.zeros(0)
    assert_same(ext().gshell_cut(faces, msdf), ext().gshell_cut(faces.to(CUDA), msdf.to(CUDA)),
                "empty cut")


# ---------------------------------------------------------------------------- gshell_extract
def _extract(grid, vertices, sdf, msdf):
    return gshell.gshell_extract(vertices, sdf, msdf, grid)


@pytest.mark.parametrize("res", RES)
@pytest.mark.parametrize("kind", FIELDS)
def test_gshell_extract_equal(res, kind):
    cpu, dev = grid_pair(res)
    sdf, msdf = make_fields(cpu, kind)
    a = _extract(cpu, cpu.vertices, sdf, msdf)
    b = _extract(dev, dev.vertices, sdf.to(CUDA), msdf.to(CUDA))
    assert a.faces.shape[0] > 0
    assert a.num_kept == b.num_kept
    for name in ("faces", "face_tet", "watertight_faces", "watertight_face_tet"):
        x, y = getattr(a, name), getattr(b, name)
        assert y.device.type == CUDA.type
        assert torch.equal(x, y.cpu()), name
    for name in ("verts", "msdf", "watertight_verts", "watertight_msdf"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.shape == y.shape, name
        torch.testing.assert_close(y.cpu(), x, rtol=1e-5, atol=1e-6, msg=name)
    assert a.boundary_loops == b.boundary_loops


def _grads(grid, vertices, sdf, msdf, weight):
    vertices = vertices.clone().requires_grad_(True)
    sdf = sdf.clone().requires_grad_(True)
    msdf = msdf.clone().requires_grad_(True)
    out = _extract(grid, vertices, sdf, msdf)
    v = out.verts
    loss = (v * weight[: v.shape[0]]).sum() + 0.5 * (v ** 2).sum() + (out.msdf ** 2).sum()
    loss.backward()
    return loss.detach(), vertices.grad, sdf.grad, msdf.grad


@pytest.mark.parametrize("res", RES)
@pytest.mark.parametrize("kind", FIELDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gshell_extract_gradients_equal(res, kind, dtype):
    cpu, dev = grid_pair(res)
    sdf, msdf = make_fields(cpu, kind, seed=1, dtype=dtype)
    g = torch.Generator().manual_seed(7)
    # Slightly deformed grid vertices, so the gradient w.r.t. positions is generic.
    verts = (cpu.vertices.double() + 0.1 / res * (torch.rand(cpu.vertices.shape, generator=g,
                                                             dtype=torch.float64) - 0.5)).to(dtype)
    weight = torch.randn(6 * cpu.num_tets, 3, generator=g, dtype=torch.float64).to(dtype)
    a = _grads(cpu, verts, sdf, msdf, weight)
    b = _grads(dev, verts.to(CUDA), sdf.to(CUDA), msdf.to(CUDA), weight.to(CUDA))
    # Random fields put vertices near edge ends (1/(s1 - s0) is large): compare relative to the
    # largest gradient; scatter-adds run in a different order on the GPU.
    tol = 1e-5 if dtype == torch.float32 else 1e-11
    for name, x, y in zip(("loss", "vertices.grad", "sdf.grad", "msdf.grad"), a, b):
        assert x is not None and y is not None, name
        assert y.device.type == CUDA.type
        scale = float(x.abs().max()) + 1.0
        torch.testing.assert_close(y.cpu(), x, rtol=tol, atol=tol * scale, msg=name)


# ---------------------------------------------------------------------------- marching cubes
def mc_field(n, kind, seed=0, dtype=torch.float32):
    x = torch.linspace(-0.5, 0.5, n, dtype=torch.float64)
    p = torch.stack(torch.meshgrid(x, x, x, indexing="ij"), -1)
    if kind == "random":
        g = torch.Generator().manual_seed(seed)
        return (torch.rand(n, n, n, generator=g, dtype=torch.float64) - 0.5).to(dtype)
    s = p.norm(dim=-1) - 0.3 + 0.05 * torch.sin(9 * p[..., 0]) * torch.cos(7 * p[..., 1])
    return s.to(dtype)


@pytest.mark.parametrize("n", [5, 33, 64])
@pytest.mark.parametrize("kind", FIELDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_marching_cubes_topology_equal(n, kind, dtype):
    from gshell.ops.marching_cubes import _marching_cubes_op
    grid = mc_field(n, kind, dtype=dtype)
    assert_same(_marching_cubes_op(grid, 0.0), _marching_cubes_op(grid.to(CUDA), 0.0), "mc")


@pytest.mark.parametrize("mode", ["edge", "normal"])
def test_marching_cubes_values_and_gradients_equal(mode):
    grid = mc_field(40, "smooth", dtype=torch.float64)
    outs = []
    for dev in (torch.device("cpu"), CUDA):
        x = grid.to(dev).requires_grad_(True)
        v, f = gshell.marching_cubes(x, gradient=mode)
        (v.square().sum() + v[:, 0].sum()).backward()
        outs.append((v.detach().cpu(), f.cpu(), x.grad.cpu()))
    assert torch.allclose(outs[0][0], outs[1][0], atol=1e-12)
    assert torch.equal(outs[0][1], outs[1][1])
    assert torch.allclose(outs[0][2], outs[1][2], atol=1e-10)
