"""Multiresolution hash encodings on the grid and simplex lattices (issue 4), against the independent
plain-PyTorch reference in tests/reference/hash_encoding_ref.py."""
import copy
import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gshell
from gshell.ops import hash_encoding as he
from tests.reference import hash_encoding_ref as ref

LATTICES = ["grid", "simplex"]
DIMS = list(range(1, 9))
# Per dimension: (base_resolution, log2_hashmap_size) with 4 levels of scale 2 such that level 0 is dense
# and the last level hashed, for both lattices (checked in test_layout_has_dense_and_hashed_levels).
SMALL = {1: (2, 4), 2: (1, 4), 3: (1, 6), 4: (1, 8), 5: (1, 12), 6: (1, 14), 7: (1, 17), 8: (1, 19)}


def enc_class(lattice):
    return gshell.SimplexHashEncoding if lattice == "simplex" else gshell.GridHashEncoding


def small_kwargs(d, **over):
    base, log2 = SMALL[d]
    kw = dict(n_levels=4, n_features_per_level=2, log2_hashmap_size=log2, base_resolution=base,
              per_level_scale=2.0, seed=0)
    kw.update(over)
    return kw


def make(lattice, d, randomize=True, **kw):
    """A gshell encoding and the reference layout from the same constructor arguments. With randomize, the
    table holds values in [-1, 1] (the init of 1e-4 would make every comparison trivially close)."""
    enc = enc_class(lattice)(d, **kw)
    args = {k: v for k, v in kw.items() if k != "seed"}
    layout = ref.level_layout(d, lattice=lattice, **args)
    assert enc.offsets.tolist() == layout["offsets"].tolist(), (
        "%s d=%d %s: offsets %s, reference %s" % (lattice, d, kw, enc.offsets.tolist(), layout["offsets"].tolist()))
    if randomize:
        g = torch.Generator().manual_seed(1234 + d)
        with torch.no_grad():
            enc.table.copy_(torch.rand(enc.table.shape, generator=g) * 2 - 1)
    return enc, layout


def rand_x(b, d, seed=0, lo=0.0, hi=1.0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (lo + (hi - lo) * torch.rand(b, d, generator=g, dtype=torch.float64)).to(dtype)


def away_from_boundaries(x, layout, lattice, tol=1e-3):
    keep = ref.boundary_distance(x, layout, lattice) > tol
    return x[keep]


def ref_out(x, enc, layout, lattice, table=None):
    return ref.encode_ref(x, enc.table if table is None else table, layout, lattice)


def report(a, b, d, lattice, layout, nf):
    """Where two (B, L*F) outputs differ most: batch row, level, feature, values."""
    err = (a - b).abs()
    i = int(err.argmax())
    row, col = divmod(i, a.shape[1])
    l, f = divmod(col, nf)
    return "%s d=%d: max |diff| %.3g at row %d level %d (hashed=%s) feature %d: gshell %.8g reference %.8g" % (
        lattice, d, float(err.max()), row, l, layout["hashed"][l], f, float(a.flatten()[i]), float(b.flatten()[i]))


def assert_close(a, b, rtol=1e-4, atol=1e-5, what=""):
    a, b = a.detach(), b.detach()
    assert a.shape == b.shape, "%s: shape %s vs %s" % (what, tuple(a.shape), tuple(b.shape))
    err = (a - b).abs()
    ok = err <= atol + rtol * b.abs()
    if not bool(ok.all()):
        i = int((err - atol - rtol * b.abs()).argmax())
        raise AssertionError("%s: %d of %d entries differ; worst at flat index %d: %.8g vs %.8g" % (
            what, int((~ok).sum()), ok.numel(), i, float(a.flatten()[i]), float(b.flatten()[i])))


# --------------------------------------------------------------------------------------------- reference

@pytest.mark.parametrize("d", DIMS)
def test_reference_weights_are_barycentric(d):
    """The reference's own geometry: weights >= 0 summing to 1 that reproduce the point from the corners
    (in skewed coordinates for the simplex lattice)."""
    p = rand_x(300, d, seed=d, dtype=torch.float64) * 7.3
    coords, w = ref.grid_corners(p, 8)
    assert coords.shape == (300, 2 ** d, d) and bool((w >= 0).all())
    assert torch.allclose(w.sum(1), torch.ones(300, dtype=torch.float64))
    assert torch.allclose((w[..., None] * coords).sum(1), p)
    coords, w = ref.simplex_corners(p)
    q = p + ref.skew_factor(d) * p.sum(-1, keepdim=True)
    assert coords.shape == (300, d + 1, d) and bool((w >= -1e-12).all())
    assert torch.allclose(w.sum(1), torch.ones(300, dtype=torch.float64))
    assert torch.allclose((w[..., None] * coords).sum(1), q)
    # Unskewing is the inverse of skewing.
    assert torch.allclose(q - ref.unskew_factor(d) * q.sum(-1, keepdim=True), p)


def test_reference_hash_matches_instant_ngp():
    k = torch.tensor([[5, 7, 11], [123456, 654321, 2 ** 20 + 3]])
    for row in k.tolist():
        h = 0
        for i, c in enumerate(row):
            h ^= (c * ref.PRIMES[i]) % 2 ** 32
        assert int(ref.corner_index(torch.tensor(row), 0, 2 ** 19, True)) == h % 2 ** 19


# --------------------------------------------------------------------------------------------- layout

@pytest.mark.parametrize("lattice", LATTICES)
@pytest.mark.parametrize("d", DIMS)
def test_layout_has_dense_and_hashed_levels(lattice, d):
    kw = small_kwargs(d)
    enc, layout = make(lattice, d, randomize=False, **kw)
    assert enc.hashed == layout["hashed"]
    assert not enc.hashed[0] and enc.hashed[-1]
    assert len(enc.resolutions) == 4
    for got, want in zip(enc.resolutions, layout["resolutions"]):
        assert got == pytest.approx(want, rel=1e-6), "resolutions are N_l = base * scale^l: %s vs %s" % (
            enc.resolutions, layout["resolutions"])
    assert enc.offsets.dtype == torch.int64 and enc.offsets.shape == (5,)
    assert enc.table.shape == (int(layout["offsets"][-1]), 2) and enc.table.dtype == torch.float32
    assert isinstance(enc.table, torch.nn.Parameter)
    assert enc.in_dim == d and enc.n_levels == 4 and enc.n_features_per_level == 2 and enc.output_dim == 8


@pytest.mark.parametrize("lattice", LATTICES)
def test_default_layout(lattice):
    enc, layout = make(lattice, 3, randomize=False)
    assert enc.n_levels == 16 and enc.n_features_per_level == 2 and enc.output_dim == 32
    assert enc.hashed == layout["hashed"] and enc.hashed[-1] and not enc.hashed[0]
    assert enc.table.shape[0] <= 16 * 2 ** 19
    assert enc.resolutions[0] == pytest.approx(16.0)
    assert enc.resolutions[-1] == pytest.approx(16 * 1.5 ** 15)


@pytest.mark.parametrize("lattice", LATTICES)
def test_init_seeded_and_small(lattice):
    a = enc_class(lattice)(3, n_levels=4, log2_hashmap_size=12, seed=5)
    b = enc_class(lattice)(3, n_levels=4, log2_hashmap_size=12, seed=5)
    c = enc_class(lattice)(3, n_levels=4, log2_hashmap_size=12, seed=6)
    assert torch.equal(a.table, b.table)
    assert not torch.equal(a.table, c.table)
    t = a.table.detach()
    assert float(t.abs().max()) <= 1e-4 and float(t.abs().max()) > 0
    assert float(t.std()) > 1e-5  # uniform(-1e-4, 1e-4), not constant
    assert set(dict(a.named_parameters())) == {"table"}
    assert "offsets" in dict(a.named_buffers())


# --------------------------------------------------------------------------------------------- forward

@pytest.mark.parametrize("lattice", LATTICES)
@pytest.mark.parametrize("d", DIMS)
def test_forward_matches_reference(lattice, d):
    enc, layout = make(lattice, d, **small_kwargs(d))
    x = torch.cat([rand_x(500, d, seed=d), torch.zeros(1, d), torch.ones(1, d), torch.full((1, d), 0.5),
                   torch.eye(d)[: min(d, 3)]])
    with torch.no_grad():
        out, want = enc(x), ref_out(x, enc, layout, lattice)
    assert out.shape == (x.shape[0], 8) and out.dtype == torch.float32
    assert torch.allclose(out, want, rtol=1e-5, atol=2e-5), report(out, want, d, lattice, layout, 2)


@pytest.mark.parametrize("lattice", LATTICES)
@pytest.mark.parametrize("d", [2, 3])
def test_forward_default_config_float64(lattice, d):
    """16 levels up to N = 16 * 1.5^15 ~ 7000: float64 so that the comparison is not about float32 rounding
    of fine-level fractions."""
    enc, layout = make(lattice, d, log2_hashmap_size=14)
    enc = enc.double()
    assert enc.table.dtype == torch.float64
    x = rand_x(300, d, seed=11, dtype=torch.float64)
    with torch.no_grad():
        out, want = enc(x), ref_out(x, enc, layout, lattice)
    assert out.dtype == torch.float64
    assert torch.allclose(out, want, rtol=1e-9, atol=1e-9), report(out, want, d, lattice, layout, 2)


@pytest.mark.parametrize("lattice", LATTICES)
def test_float32_default_config_close_to_float64(lattice):
    enc, layout = make(lattice, 3, log2_hashmap_size=14)
    x = rand_x(300, 3, seed=12)
    with torch.no_grad():
        out = enc(x)
        want = ref_out(x.double(), enc, layout, lattice, table=enc.table.double())
    # Fine levels (N ~ 7000) hold their fractions to ~1e-3 in float32; the encoding must stay that close.
    assert torch.allclose(out.double(), want, atol=5e-3), report(out.double(), want, 3, lattice, layout, 2)


@pytest.mark.parametrize("lattice", LATTICES)
@pytest.mark.parametrize("nf", [1, 4, 8])
def test_features_per_level(lattice, nf):
    enc, layout = make(lattice, 3, **small_kwargs(3, n_features_per_level=nf))
    x = rand_x(200, 3, seed=nf)
    with torch.no_grad():
        out, want = enc(x), ref_out(x, enc, layout, lattice)
    assert out.shape == (200, 4 * nf) and enc.output_dim == 4 * nf
    assert torch.allclose(out, want, rtol=1e-5, atol=2e-5), report(out, want, 3, lattice, layout, nf)


@pytest.mark.parametrize("lattice", LATTICES)
def test_level_major_layout(lattice):
    """out[:, l*F + f] depends only on level l's rows of the table."""
    enc, layout = make(lattice, 2, **small_kwargs(2, n_features_per_level=3))
    x = rand_x(50, 2, seed=3)
    off = enc.offsets.tolist()
    for l in range(4):
        with torch.no_grad():
            enc.table.zero_()
            enc.table[off[l]:off[l + 1]] = torch.tensor([1.0, 2.0, 3.0])
            out = enc(x)
        for k in range(4):
            want = torch.tensor([1.0, 2.0, 3.0]) if k == l else torch.zeros(3)
            assert torch.allclose(out[:, 3 * k:3 * k + 3], want.expand(50, 3), atol=1e-5), (l, k)


@pytest.mark.parametrize("lattice", LATTICES)
def test_functional_matches_module(lattice):
    from gshell.ops.hash_encoding import hash_encode
    enc, layout = make(lattice, 3, **small_kwargs(3))
    x = rand_x(100, 3, seed=4)
    with torch.no_grad():
        a = enc(x)
        b = hash_encode(x, enc.table, enc.offsets, enc.resolutions, lattice)
        c = ref.hash_encode_ref(x, enc.table, enc.offsets, enc.resolutions, lattice)
    assert torch.allclose(a, b, atol=1e-6)
    assert torch.allclose(a, c, rtol=1e-5, atol=2e-5)


def test_functional_rejects_unknown_lattice():
    from gshell.ops.hash_encoding import hash_encode
    enc, _ = make("grid", 2, **small_kwargs(2))
    with pytest.raises(ValueError, match="lattice"):
        hash_encode(rand_x(4, 2), enc.table, enc.offsets, enc.resolutions, "hexagonal")


# --------------------------------------------------------------------------------------------- gradients

@pytest.mark.parametrize("lattice", LATTICES)
@pytest.mark.parametrize("d", DIMS)
def test_gradients_match_reference(lattice, d):
    enc, layout = make(lattice, d, **small_kwargs(d))
    x0 = away_from_boundaries(rand_x(400, d, seed=100 + d, lo=0.02, hi=0.98), layout, lattice)
    assert x0.shape[0] >= 20
    v = torch.randn(x0.shape[0], 8, generator=torch.Generator().manual_seed(d))
    x = x0.clone().requires_grad_(True)
    (enc(x) * v).sum().backward()
    t_ref = enc.table.detach().clone().requires_grad_(True)
    x_ref = x0.clone().requires_grad_(True)
    (ref.encode_ref(x_ref, t_ref, layout, lattice) * v).sum().backward()
    assert_close(enc.table.grad, t_ref.grad, atol=1e-5, what="%s d=%d dL/dtable" % (lattice, d))
    assert_close(x.grad, x_ref.grad, rtol=1e-4, atol=1e-4, what="%s d=%d dL/dx" % (lattice, d))


@pytest.mark.parametrize("lattice", LATTICES)
@pytest.mark.parametrize("d", DIMS)
def test_double_backward_matches_reference(lattice, d):
    """The gradient of a loss on the input-gradient (as an Eikonal loss has) w.r.t. table and x."""
    enc, layout = make(lattice, d, **small_kwargs(d))
    x0 = away_from_boundaries(rand_x(300, d, seed=200 + d, lo=0.02, hi=0.98), layout, lattice)
    g = torch.Generator().manual_seed(d)
    v = torch.randn(x0.shape[0], 8, generator=g)
    u = torch.randn(x0.shape[0], d, generator=g)

    def run(module_fn, table, dtype=torch.float32):
        x = x0.to(dtype).requires_grad_(True)
        out = module_fn(x)
        (gx,) = torch.autograd.grad((out * v.to(dtype)).sum(), x, create_graph=True)
        loss = (gx * u.to(dtype)).sum() + 0.1 * gx.square().sum() + (out * v.to(dtype)).square().sum()
        gt, gxx = torch.autograd.grad(loss, [table, x])
        return gx.detach(), gt, gxx

    gx, gt, gxx = run(enc, enc.table)
    # The reference in float64 (same float32 table and points): float32 rounding of the reference itself
    # does not enter the comparison.
    t_ref = enc.table.detach().double().requires_grad_(True)
    rgx, rgt, rgxx = run(lambda x: ref.encode_ref(x, t_ref, layout, lattice), t_ref, torch.float64)
    tol = lambda t: 2e-5 * float(t.abs().max())  # noqa: E731
    assert_close(gx, rgx.float(), rtol=1e-4, atol=tol(rgx), what="%s d=%d input-gradient" % (lattice, d))
    assert_close(gt, rgt.float(), rtol=1e-4, atol=tol(rgt), what="%s d=%d d(loss on grad_x)/dtable" % (lattice, d))
    assert_close(gxx, rgxx.float(), rtol=1e-4, atol=tol(rgxx), what="%s d=%d d(loss on grad_x)/dx" % (lattice, d))


def gradcheck_setup(lattice, d):
    kw = dict(n_levels=3, n_features_per_level=2, base_resolution=2, per_level_scale=1.5)
    # The smallest table whose first level is dense and last level hashed.
    log2 = next(k for k in range(2, 20)
                if ref.level_layout(d, lattice=lattice, log2_hashmap_size=k, **kw)["hashed"] == [False, True, True]
                or ref.level_layout(d, lattice=lattice, log2_hashmap_size=k, **kw)["hashed"] == [False, False, True])
    enc, layout = make(lattice, d, log2_hashmap_size=log2, **kw)
    enc = enc.double()
    x = away_from_boundaries(rand_x(40, d, seed=7, lo=0.05, hi=0.95, dtype=torch.float64), layout, lattice,
                             tol=1e-2)[:4]
    assert x.shape[0] == 4
    t = enc.table.detach().clone()

    def f(x, t):
        return torch.func.functional_call(enc, {"table": t}, (x,))
    return f, x.requires_grad_(True), t.requires_grad_(True)


@pytest.mark.parametrize("lattice", LATTICES)
@pytest.mark.parametrize("d", [2, 3])
def test_gradcheck(lattice, d):
    f, x, t = gradcheck_setup(lattice, d)
    assert torch.autograd.gradcheck(f, (x, t), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("lattice", LATTICES)
@pytest.mark.parametrize("d", [2, 3])
def test_gradgradcheck(lattice, d):
    f, x, t = gradcheck_setup(lattice, d)
    assert torch.autograd.gradgradcheck(f, (x, t), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("lattice", LATTICES)
def test_grad_only_table_or_only_x(lattice):
    enc, layout = make(lattice, 3, **small_kwargs(3))
    x = rand_x(64, 3, seed=9).requires_grad_(True)
    enc.table.requires_grad_(False)
    enc(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    enc.table.requires_grad_(True)
    x2 = rand_x(64, 3, seed=9)
    enc(x2).sum().backward()
    assert enc.table.grad is not None and torch.isfinite(enc.table.grad).all()
    # A level-0 dense table receives exactly the sum of the weights: sum over rows of level 0 = batch size.
    off = enc.offsets.tolist()
    assert float(enc.table.grad[off[0]:off[1], 0].sum()) == pytest.approx(64.0, rel=1e-5)


# --------------------------------------------------------------------------------------------- double backward kernel
# The double backward is a kernel (gshell::hash_encoding_backward_backward); torch_encode (autograd through a
# plain-PyTorch formulation of the same lattices and rounding) is its reference here.

BB_DIMS = [1, 2, 3, 4, 6, 8]


def kernel_layout(enc, lattice, dtype=torch.float64):
    """The kernel op's layout arguments (offsets, scales, res, hashed, simplex) of a module."""
    return (enc.offsets, enc.scales.to(dtype), enc.res, enc.hashed_levels, lattice == "simplex")


def torch_encode_of(enc, lattice):
    """x, table -> torch_encode with the module's layout."""
    offsets, res = enc.offsets.tolist(), enc.res.tolist()
    hashed = [bool(h) for h in enc.hashed_levels.tolist()]
    return lambda x, t: he.torch_encode(x, t, offsets, enc.scales.to(x.dtype), res, hashed, lattice)


def bb_reference(gg_x, gg_t, g, x, t, encode_fn):
    """d/d(grad_out, x, table) of S = <grad_x, gg_x> + <grad_table, gg_t> by autograd through encode_fn
    (gg_x / gg_t empty: left out of S)."""
    g_, x_, t_ = (v.detach().clone().requires_grad_(True) for v in (g, x, t))
    gx, gt = torch.autograd.grad(encode_fn(x_, t_), (x_, t_), g_, create_graph=True)
    s = 0
    if gg_x.numel():
        s = s + (gx * gg_x).sum()
    if gg_t.numel():
        s = s + (gt * gg_t).sum()
    grads = torch.autograd.grad(s, (g_, x_, t_), allow_unused=True)
    return [torch.zeros_like(v) if gr is None else gr for gr, v in zip(grads, (g, x, t))]


def bb_kwargs(lattice, d):
    # The grid at d=8 has a dense level 0 ((1+1)^8 rows) with a 2^12 table too: keeps the reference fast.
    return small_kwargs(d, **({"log2_hashmap_size": 12} if (lattice, d) == ("grid", 8) else {}))


def bb_inputs(lattice, d, x, with_gg_table, seed=0):
    enc, layout = make(lattice, d, **bb_kwargs(lattice, d))
    enc = enc.double()
    gen = torch.Generator().manual_seed(seed + 31 * d)
    g = torch.randn(x.shape[0], enc.output_dim, generator=gen, dtype=torch.float64)
    gg_x = torch.randn(x.shape, generator=gen, dtype=torch.float64)
    gg_t = (torch.randn(enc.table.shape, generator=gen, dtype=torch.float64) if with_gg_table
            else torch.zeros(0, dtype=torch.float64))
    return enc, layout, g, gg_x, gg_t


def assert_bb_close(got, want, what):
    for name, a, b in zip(("d grad_out", "d x", "d table"), got, want):
        scale = max(float(b.abs().max()), 1.0) if b.numel() else 1.0
        assert_close(a, b, rtol=1e-9, atol=1e-10 * scale, what="%s %s" % (what, name))


@pytest.mark.parametrize("with_gg_table", [True, False], ids=["gg_table", "eikonal"])
@pytest.mark.parametrize("lattice", LATTICES)
@pytest.mark.parametrize("d", BB_DIMS)
def test_double_backward_kernel_matches_torch_encode(lattice, d, with_gg_table):
    """All three outputs of the kernel, called directly and through autograd (create_graph), against
    autograd through torch_encode; float64, dense and hashed levels."""
    layout0 = make(lattice, d, randomize=False, **bb_kwargs(lattice, d))[1]
    x = away_from_boundaries(rand_x(80, d, seed=300 + d, lo=0.02, hi=0.98, dtype=torch.float64), layout0,
                             lattice)[:48]
    assert x.shape[0] >= 16
    enc, layout, g, gg_x, gg_t = bb_inputs(lattice, d, x, with_gg_table)
    assert not layout["hashed"][0] and layout["hashed"][-1]
    t = enc.table.detach()
    want = bb_reference(gg_x, gg_t, g, x, t, torch_encode_of(enc, lattice))
    what = "%s d=%d %s" % (lattice, d, "gg_table" if with_gg_table else "eikonal")
    got = he._backward_backward_op(gg_x, gg_t, g, x, t, *kernel_layout(enc, lattice), True, True, True)
    assert_bb_close(got, want, what + " kernel")
    # The same through the registered double backward of the encoding.
    via = bb_reference(gg_x, gg_t, g, x, t, lambda x_, t_: torch.func.functional_call(enc, {"table": t_}, (x_,)))
    assert_bb_close(via, want, what + " autograd")
    if lattice == "simplex" or d == 1:
        # Piecewise-linear weights: no Hessian term, dS/dx comes from gg_table only.
        if not with_gg_table:
            assert float(got[1].abs().max()) == 0.0
    else:
        assert float(got[1].abs().max()) > 0, "the grid's mixed second derivatives must reach x"


@pytest.mark.parametrize("lattice", LATTICES)
def test_double_backward_kernel_only_requested_outputs(lattice):
    d = 3
    x = rand_x(40, d, seed=5, dtype=torch.float64)
    enc, layout, g, gg_x, gg_t = bb_inputs(lattice, d, x, True)
    t = enc.table.detach()
    full = he._backward_backward_op(gg_x, gg_t, g, x, t, *kernel_layout(enc, lattice), True, True, True)
    for flags in [(True, False, False), (False, True, False), (False, False, True)]:
        out = he._backward_backward_op(gg_x, gg_t, g, x, t, *kernel_layout(enc, lattice), *flags)
        for flag, a, b in zip(flags, out, full):
            if flag:
                assert torch.equal(a, b)
            else:
                assert a.shape == (0,)
    # Empty gg_x and gg_table: zero gradients of the right shapes.
    empty = torch.zeros(0, dtype=torch.float64)
    dg, dx, dt = he._backward_backward_op(empty, empty, g, x, t, *kernel_layout(enc, lattice), True, True, True)
    assert dg.shape == g.shape and dx.shape == x.shape and dt.shape == t.shape
    assert not dg.any() and not dx.any() and not dt.any()
    # Wrong shapes are an error, not a crash.
    with pytest.raises(RuntimeError, match="gg_x"):
        he._backward_backward_op(gg_x[:, :2].contiguous(), gg_t, g, x, t, *kernel_layout(enc, lattice),
                                 True, True, True)
    with pytest.raises(RuntimeError, match="gg_table"):
        he._backward_backward_op(gg_x, gg_t[:-1].contiguous(), g, x, t, *kernel_layout(enc, lattice),
                                 True, True, True)


@pytest.mark.parametrize("lattice", LATTICES)
@pytest.mark.parametrize("d", BB_DIMS)
def test_double_backward_outside_unit_cube(lattice, d):
    """Coordinates outside [0, 1] are clamped: zero d x along them, and gg_x along them does not matter;
    coordinates exactly 0 or 1 are not clamped (as in the first backward and torch's clamp)."""
    gen = torch.Generator().manual_seed(d)
    x = rand_x(48, d, seed=400 + d, lo=-0.6, hi=1.6, dtype=torch.float64)
    edge = torch.rand(x.shape, generator=gen) < 0.1
    x = torch.where(edge, torch.randint(0, 2, x.shape, generator=gen).double(), x)
    outside = (x < 0) | (x > 1)
    assert bool(outside.any()) and bool((~outside).any())
    enc, layout, g, gg_x, gg_t = bb_inputs(lattice, d, x, True, seed=1)
    t = enc.table.detach()
    args = kernel_layout(enc, lattice)
    got = he._backward_backward_op(gg_x, gg_t, g, x, t, *args, True, True, True)
    want = bb_reference(gg_x, gg_t, g, x, t, torch_encode_of(enc, lattice))
    assert_bb_close(got, want, "%s d=%d outside [0, 1]" % (lattice, d))
    assert bool((got[1][outside] == 0).all())
    gg_x2 = torch.where(outside, 100.0 * torch.randn(x.shape, generator=gen, dtype=torch.float64), gg_x)
    got2 = he._backward_backward_op(gg_x2, gg_t, g, x, t, *args, True, True, True)
    for a, b in zip(got, got2):
        assert torch.allclose(a, b, rtol=1e-12, atol=1e-12)


def tiny_encoding(lattice, d, seed=0):
    """A two-level layout small enough for a full gradgradcheck at any d: level 0 dense when it has at most
    512 rows (else hashed), level 1 hashed with 64 (or 32) rows."""
    resolutions = [1.0, 3.0]
    sizes = []
    for i, n in enumerate(resolutions):
        dense = (ref.level_max_coord(n, d, lattice) + 1) ** d
        sizes.append(dense if i == 0 and dense <= 512 else (64 if dense != 64 else 32))
    offsets = [0, sizes[0], sizes[0] + sizes[1]]
    layout = ref.layout_from_offsets(d, offsets, resolutions, lattice)
    g = torch.Generator().manual_seed(seed + d)
    table = torch.rand(offsets[-1], 2, generator=g, dtype=torch.float64) * 2 - 1
    return resolutions, offsets, layout, table


@pytest.mark.parametrize("lattice", LATTICES)
@pytest.mark.parametrize("d", BB_DIMS)
def test_gradgradcheck_all_dims(lattice, d):
    from gshell.ops.hash_encoding import hash_encode
    resolutions, offsets, layout, table = tiny_encoding(lattice, d)
    x = away_from_boundaries(rand_x(60, d, seed=8, lo=0.05, hi=0.95, dtype=torch.float64), layout, lattice,
                             tol=1e-2)[:3]
    assert x.shape[0] == 3

    def f(x, t):
        return hash_encode(x, t, offsets, resolutions, lattice)
    assert torch.autograd.gradgradcheck(f, (x.requires_grad_(True), table.requires_grad_(True)), eps=1e-6,
                                        atol=1e-5, fast_mode=d >= 6)


def _sdf_net(seed, dtype):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Softplus(beta=10), torch.nn.Linear(16, 1)).to(dtype)


@pytest.mark.parametrize("lattice", LATTICES)
@pytest.mark.parametrize("d", [2, 3])
def test_eikonal_step_matches_torch_encode(lattice, d):
    """One training step of a tiny SDF network with an Eikonal term (float64): the gradients of every
    parameter (MLP and table) and of the points equal those of the torch_encode-based network."""
    enc, layout = make(lattice, d, randomize=False, n_levels=4, n_features_per_level=2,
                       log2_hashmap_size={2: 7, 3: 10}[d], base_resolution=4, per_level_scale=1.5, seed=3)
    assert not layout["hashed"][0] and layout["hashed"][-1]
    enc = enc.double()
    with torch.no_grad():
        enc.table.copy_(0.1 * torch.randn(enc.table.shape, generator=torch.Generator().manual_seed(0)))
    table_ref = torch.nn.Parameter(enc.table.detach().clone())
    mlp, mlp_ref = _sdf_net(0, torch.float64), _sdf_net(0, torch.float64)
    x0 = away_from_boundaries(rand_x(400, d, seed=5, lo=0.05, hi=0.95, dtype=torch.float64), layout, lattice)
    x0 = torch.cat([x0[:190], rand_x(10, d, seed=6, lo=-0.3, hi=1.3, dtype=torch.float64)])
    encode_ref = torch_encode_of(enc, lattice)

    def step(encode_fn, net):
        x = x0.clone().requires_grad_(True)
        sdf = net(encode_fn(x))
        (g,) = torch.autograd.grad(sdf.sum(), x, create_graph=True)
        loss = (sdf - ((x - 0.5).norm(dim=-1, keepdim=True) - 0.3)).square().mean() \
            + 0.1 * (g.norm(dim=-1) - 1).square().mean()
        loss.backward()
        return loss.detach(), x.grad

    loss, xg = step(enc, mlp)
    loss_r, xg_r = step(lambda x: encode_ref(x, table_ref), mlp_ref)
    assert float(loss) == pytest.approx(float(loss_r), rel=1e-12)
    assert float(enc.table.grad.abs().max()) > 0
    assert_close(enc.table.grad, table_ref.grad, rtol=1e-9, atol=1e-12, what="%s Eikonal dL/dtable" % lattice)
    assert_close(xg, xg_r, rtol=1e-9, atol=1e-12, what="%s Eikonal dL/dx" % lattice)
    for (name, p), q in zip(mlp.named_parameters(), mlp_ref.parameters()):
        assert_close(p.grad, q.grad, rtol=1e-9, atol=1e-12, what="%s Eikonal dL/d%s" % (lattice, name))


@pytest.mark.parametrize("lattice", LATTICES)
def test_eikonal_uses_the_kernel(lattice, monkeypatch):
    """The double backward of an Eikonal loss runs the kernel, not autograd through torch_encode."""
    def fail(*args, **kwargs):
        raise AssertionError("torch_encode was called")
    monkeypatch.setattr(he, "torch_encode", fail)
    enc, _ = make(lattice, 3, **small_kwargs(3))
    x = rand_x(64, 3, seed=1).requires_grad_(True)
    (g,) = torch.autograd.grad(enc(x).square().sum(), x, create_graph=True)
    (g.norm(dim=-1) - 1).square().mean().backward()
    assert torch.isfinite(enc.table.grad).all() and float(enc.table.grad.abs().max()) > 0


@pytest.mark.parametrize("lattice", LATTICES)
def test_triple_backward_matches_torch_encode(lattice):
    """The double backward op is differentiable once more (by autograd through torch_encode)."""
    d = 2
    x0 = rand_x(20, d, seed=12, lo=0.05, hi=0.95, dtype=torch.float64)
    enc, layout, g, gg_x, gg_t = bb_inputs(lattice, d, x0, True)
    gen = torch.Generator().manual_seed(2)
    c = [torch.randn(v.shape, generator=gen, dtype=torch.float64) for v in (g, x0, enc.table)]

    def third(encode_fn):
        g_, x_, t_, ggx_, ggt_ = (v.detach().clone().requires_grad_(True) for v in (g, x0, enc.table, gg_x, gg_t))
        gx, gt = torch.autograd.grad(encode_fn(x_, t_), (x_, t_), g_, create_graph=True)
        s = (gx * ggx_).sum() + (gt * ggt_).sum()
        firsts = torch.autograd.grad(s, (g_, x_, t_), create_graph=True)
        total = sum((a * b).sum() for a, b in zip(firsts, c))
        return torch.autograd.grad(total, (g_, x_, t_, ggx_, ggt_), allow_unused=True)

    got = third(lambda x, t: torch.func.functional_call(enc, {"table": t}, (x,)))
    want = third(torch_encode_of(enc, lattice))
    for i, (a, b) in enumerate(zip(got, want)):
        assert (a is None) == (b is None) or float((a if a is not None else b).abs().max()) == 0, i
        if a is not None and b is not None:
            assert_close(a, b, rtol=1e-9, atol=1e-10, what="%s triple backward input %d" % (lattice, i))


@pytest.mark.parametrize("lattice", LATTICES)
def test_double_backward_opcheck(lattice):
    d = 3
    x = rand_x(16, d, seed=2, dtype=torch.float64)
    enc, layout, g, gg_x, gg_t = bb_inputs(lattice, d, x, True)
    args = (gg_x, gg_t, g, x, enc.table.detach(), *kernel_layout(enc, lattice))
    torch.library.opcheck(he._backward_backward_op, args + (True, True, True))
    torch.library.opcheck(he._backward_backward_op, (gg_x, torch.zeros(0, dtype=torch.float64)) + args[2:]
                          + (True, False, True))


# --------------------------------------------------------------------------------------------- properties

@pytest.mark.parametrize("lattice", LATTICES)
@pytest.mark.parametrize("d", DIMS)
def test_partition_of_unity(lattice, d):
    enc, _ = make(lattice, d, randomize=False, **small_kwargs(d, n_features_per_level=3))
    with torch.no_grad():
        enc.table.fill_(1.0)
    x = torch.cat([rand_x(300, d, seed=d), torch.zeros(1, d), torch.ones(1, d), rand_x(20, d, lo=-0.5, hi=1.5)])
    with torch.no_grad():
        out = enc(x)
    assert torch.allclose(out, torch.ones_like(out), atol=1e-5), float((out - 1).abs().max())


@pytest.mark.parametrize("lattice", LATTICES)
@pytest.mark.parametrize("d", DIMS)
def test_clamped_outside_unit_cube(lattice, d):
    enc, layout = make(lattice, d, **small_kwargs(d))
    x = rand_x(200, d, seed=d, lo=-0.7, hi=1.7)
    with torch.no_grad():
        assert torch.equal(enc(x), enc(x.clamp(0, 1)))
    xg = x.clone().requires_grad_(True)
    enc(xg).sum().backward()
    outside = (x < 0) | (x > 1)
    assert bool(outside.any())
    assert bool((xg.grad[outside] == 0).all()), "the gradient must be zero along clamped coordinates"


def _boundary_points(lattice, d, layout, level, kind, n=16, seed=0):
    """Points exactly on a boundary of `level` (float64) and a direction crossing it, in x units.

    kind "cell": a fraction is 0 (a face of a grid cell / skewed cube); kind "simplex": two fractions are
    equal (a boundary between two simplices inside one skewed cube)."""
    g = torch.Generator().manual_seed(seed)
    s = layout["scales"][level]
    x0 = 0.25 + 0.5 * torch.rand(n, d, generator=g, dtype=torch.float64)
    dims = torch.randint(0, d, (n,), generator=g)
    rows = torch.arange(n)
    if lattice == "grid":
        p = x0 * s
        p[rows, dims] = torch.round(p[rows, dims])
        direction = torch.zeros(n, d, dtype=torch.float64)
        direction[rows, dims] = 1.0
        return p / s, direction / s
    G, U = ref.skew_factor(d), ref.unskew_factor(d)
    q = x0 * s + G * (x0 * s).sum(-1, keepdim=True)
    direction = torch.zeros(n, d, dtype=torch.float64)
    if kind == "cell":
        q[rows, dims] = torch.round(q[rows, dims])
        direction[rows, dims] = 1.0           # in q; in p it is e_i - U * ones
        direction = direction - U
    else:
        other = (dims + 1 + torch.randint(0, max(d - 1, 1), (n,), generator=g)) % d
        fi = q[rows, dims] - torch.floor(q[rows, dims])
        q[rows, other] = torch.floor(q[rows, other]) + fi
        direction[rows, dims] = 1.0
        direction[rows, other] = -1.0         # sums to zero: the same in q and p
    p = q - U * q.sum(-1, keepdim=True)
    return p / s, direction / s


def corner_set(x, layout, level, lattice):
    """(B, C) sorted codes of the integer corners of each point's cell / simplex at `level`."""
    coords, _ = ref.level_corner_coords(x, layout, level, lattice)
    r = layout["max_coords"][level] + 2
    codes = ((coords + 1) * r ** torch.arange(coords.shape[-1])).sum(-1)
    return codes.sort(1).values


@pytest.mark.parametrize("lattice,kind", [("grid", "cell"), ("simplex", "cell"), ("simplex", "simplex")])
@pytest.mark.parametrize("d", DIMS)
def test_continuity_across_boundaries(lattice, kind, d):
    if kind == "simplex" and d == 1:
        pytest.skip("a 1-simplex lattice has no inner boundaries")
    enc, layout = make(lattice, d, **small_kwargs(d))
    enc64 = copy.deepcopy(enc).double()
    checked = 0
    for level in range(4):
        x, direction = _boundary_points(lattice, d, layout, level, kind, n=32, seed=level)
        inside = ((x > 1e-3) & (x < 1 - 1e-3)).all(1)
        x, direction = x[inside], direction[inside]
        if x.shape[0] == 0:
            continue
        checked += x.shape[0]
        # float64 (eps = 1e-7) and float32 (eps = 1e-5, above float32 resolution).
        for eps, module, dtype, tol in [(1e-7, enc64, torch.float64, 1e-4), (1e-5, enc, torch.float32, 1e-2)]:
            xa, xb = x + eps * direction, x - eps * direction
            # The two sides really lie in different cells / simplices of this level.
            assert bool((corner_set(xa, layout, level, lattice) != corner_set(xb, layout, level, lattice))
                        .any(1).all())
            with torch.no_grad():
                # A discontinuity would be of the order of the table values (1); the slope is at most
                # ~ 2 * sum_l s_l * |dir|, so 2 * eps of travel changes the output by far less than tol.
                jump = (module(xa.to(dtype)) - module(xb.to(dtype))).abs().max(1).values
            i = int(jump.argmax())
            assert float(jump[i]) < tol, "%s %s d=%d level %d, %s boundary at x=%s: jump %.3g" % (
                dtype, lattice, d, level, kind, x[i].tolist(), float(jump[i]))
    assert checked >= 16


@pytest.mark.parametrize("lattice", LATTICES)
def test_simplex_has_fewer_corners(lattice):
    """Each point touches 2^d (grid) or d+1 (simplex) rows per level: checked by the table gradient's
    support for a single point of a dense level."""
    d = 4
    enc, layout = make(lattice, d, **small_kwargs(d))
    x = away_from_boundaries(rand_x(50, d, seed=3), layout, lattice)[:1]
    enc(x)[:, 0].sum().backward()  # level 0, feature 0
    nz = int((enc.table.grad[:, 0] != 0).sum())
    assert nz == (2 ** d if lattice == "grid" else d + 1)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(d=st.integers(1, 8), lattice=st.sampled_from(LATTICES), n_levels=st.integers(1, 4),
       nf=st.integers(1, 3), log2=st.integers(3, 12), base=st.integers(1, 12),
       scale=st.floats(1.0, 2.5), b=st.integers(1, 40), seed=st.integers(0, 2 ** 16))
def test_property_matches_reference(d, lattice, n_levels, nf, log2, base, scale, b, seed):
    kw = dict(n_levels=n_levels, n_features_per_level=nf, log2_hashmap_size=log2, base_resolution=base,
              per_level_scale=scale, seed=seed)
    enc, layout = make(lattice, d, **kw)
    x = rand_x(b, d, seed=seed, lo=-0.1, hi=1.1)
    v = torch.randn(b, n_levels * nf, generator=torch.Generator().manual_seed(seed))
    out = enc(x)
    (out * v).sum().backward()
    t_ref = enc.table.detach().clone().requires_grad_(True)
    want = ref.encode_ref(x, t_ref, layout, lattice)
    (want * v).sum().backward()
    # float32: the fine levels' fractions are exact to ~ulp(s_l * sqrt(d+1)), the evaluation order may differ.
    atol = 2e-5 + 2e-7 * layout["scales"][-1] * math.sqrt(d + 1)
    assert torch.allclose(out.detach(), want.detach(), rtol=1e-5, atol=atol), report(
        out.detach(), want.detach(), d, lattice, layout, nf)
    assert_close(enc.table.grad, t_ref.grad, atol=1e-4, what="%s d=%d %s dL/dtable" % (lattice, d, kw))


# --------------------------------------------------------------------------------------------- Eikonal

@pytest.mark.parametrize("lattice", LATTICES)
def test_eikonal_loss_reaches_table(lattice):
    """A tiny SDF network on the encoding with an Eikonal term: one backward through the double backward."""
    d = 3
    enc, layout = make(lattice, d, randomize=False, n_levels=4, n_features_per_level=2, log2_hashmap_size=12,
                       base_resolution=4, per_level_scale=1.5, seed=3)
    with torch.no_grad():
        enc.table.copy_(0.1 * torch.randn(enc.table.shape, generator=torch.Generator().manual_seed(0)))
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Softplus(beta=10), torch.nn.Linear(16, 1))
    mlp_ref = copy.deepcopy(mlp)
    x0 = away_from_boundaries(rand_x(400, d, seed=5, lo=0.1, hi=0.9), layout, lattice)[:200]
    gt = (x0 - 0.5).norm(dim=-1, keepdim=True) - 0.3

    def loss_of(encode, net):
        x = x0.clone().requires_grad_(True)
        sdf = net(encode(x))
        (g,) = torch.autograd.grad(sdf.sum(), x, create_graph=True)
        return (sdf - gt).square().mean() + 0.1 * (g.norm(dim=-1) - 1).square().mean()

    loss = loss_of(enc, mlp)
    loss.backward()
    t_ref = enc.table.detach().clone().requires_grad_(True)
    loss_r = loss_of(lambda x: ref.encode_ref(x, t_ref, layout, lattice), mlp_ref)
    loss_r.backward()
    assert torch.isfinite(enc.table.grad).all()
    assert float(enc.table.grad.abs().max()) > 0
    assert float(loss.detach()) == pytest.approx(float(loss_r.detach()), rel=1e-4)
    scale = float(t_ref.grad.abs().max())
    assert_close(enc.table.grad, t_ref.grad, rtol=1e-3, atol=1e-4 * scale, what="%s Eikonal dL/dtable" % lattice)
    for p, q in zip(mlp.parameters(), mlp_ref.parameters()):
        assert_close(p.grad, q.grad, rtol=1e-3, atol=1e-6, what="%s Eikonal dL/dmlp" % lattice)


# --------------------------------------------------------------------------------------------- config

def test_from_config():
    cfg = {"otype": "HashGrid", "n_levels": 5, "n_features_per_level": 4, "log2_hashmap_size": 13,
           "base_resolution": 8, "per_level_scale": 1.3}
    enc = gshell.nn.encoding_from_config(3, cfg)
    assert isinstance(enc, gshell.GridHashEncoding)
    assert (enc.in_dim, enc.n_levels, enc.n_features_per_level, enc.output_dim) == (3, 5, 4, 20)
    layout = ref.level_layout(3, 5, 4, 13, 8, 1.3, "grid")
    assert enc.offsets.tolist() == layout["offsets"].tolist() and enc.hashed == layout["hashed"]

    enc = gshell.nn.encoding_from_config(2, dict(cfg, otype="Simplex"))
    assert isinstance(enc, gshell.SimplexHashEncoding)
    layout = ref.level_layout(2, 5, 4, 13, 8, 1.3, "simplex")
    assert enc.offsets.tolist() == layout["offsets"].tolist()

    enc = gshell.nn.encoding_from_config(3, {"otype": "Simplex"})  # missing keys: defaults
    assert (enc.n_levels, enc.n_features_per_level, enc.output_dim) == (16, 2, 32)
    assert enc.offsets.tolist() == ref.level_layout(3, lattice="simplex")["offsets"].tolist()

    with pytest.raises(ValueError, match="otype|Frequency"):
        gshell.nn.encoding_from_config(3, {"otype": "Frequency"})


@pytest.mark.parametrize("lattice", LATTICES)
def test_classmethod_from_config(lattice):
    cls = enc_class(lattice)
    enc = cls.from_config(3, {"n_levels": 3, "log2_hashmap_size": 10})
    assert type(enc) is cls and enc.n_levels == 3
    assert enc.offsets.tolist() == ref.level_layout(3, 3, 2, 10, lattice=lattice)["offsets"].tolist()


# --------------------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("lattice", LATTICES)
def test_bad_inputs(lattice):
    enc = enc_class(lattice)(3, n_levels=2, log2_hashmap_size=8)
    with pytest.raises(ValueError, match="shape"):
        enc(torch.rand(10, 2))
    with pytest.raises(ValueError, match="shape"):
        enc(torch.rand(10))
    with pytest.raises(ValueError, match="shape"):
        enc(torch.rand(2, 10, 3))
    with pytest.raises(TypeError, match="dtype"):
        enc(torch.randint(0, 2, (10, 3)))
    with pytest.raises(TypeError, match="dtype"):
        enc(torch.rand(10, 3, dtype=torch.float64))  # table is float32
    x = torch.rand(10, 3)
    x[4, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN|nan|finite"):
        enc(x)
    with pytest.raises(TypeError):
        enc([[0.1, 0.2, 0.3]])


@pytest.mark.parametrize("lattice", LATTICES)
def test_error_names_x_and_its_shape(lattice):
    enc = enc_class(lattice)(3, n_levels=2, log2_hashmap_size=8)
    with pytest.raises(ValueError) as info:
        enc(torch.rand(10, 5))
    msg = str(info.value)
    assert "Expected x" in msg or "expected x" in msg, msg
    assert "(10, 5)" in msg or "[10, 5]" in msg, msg


@pytest.mark.parametrize("lattice", LATTICES)
@pytest.mark.parametrize("kw,word", [
    (dict(in_dim=0), "in_dim"), (dict(in_dim=9), "in_dim"), (dict(n_levels=0), "n_levels"),
    (dict(log2_hashmap_size=0), "log2_hashmap_size"), (dict(log2_hashmap_size=31), "log2_hashmap_size"),
    (dict(n_features_per_level=0), "n_features_per_level"), (dict(base_resolution=0), "base_resolution"),
    (dict(per_level_scale=0.0), "per_level_scale")])
def test_bad_constructor_arguments(lattice, kw, word):
    args = dict(in_dim=3, n_levels=2, log2_hashmap_size=8)
    args.update(kw)
    in_dim = args.pop("in_dim")
    with pytest.raises(ValueError, match=word):
        enc_class(lattice)(in_dim, **args)


@pytest.mark.parametrize("lattice", LATTICES)
def test_empty_batch_and_noncontiguous(lattice):
    enc, layout = make(lattice, 3, **small_kwargs(3))
    assert enc(torch.zeros(0, 3)).shape == (0, 8)
    big = rand_x(64, 6, seed=2)
    x = big[:, ::2]
    assert not x.is_contiguous()
    with torch.no_grad():
        assert torch.allclose(enc(x), enc(x.contiguous()))


@pytest.mark.parametrize("lattice", LATTICES)
def test_state_dict_round_trip(lattice):
    a, _ = make(lattice, 2, **small_kwargs(2))
    b, _ = make(lattice, 2, randomize=False, **small_kwargs(2, seed=9))
    b.load_state_dict(a.state_dict())
    x = rand_x(20, 2)
    with torch.no_grad():
        assert torch.equal(a(x), b(x))


def _span_check(enc, lattice, device):
    """The kernel rejects offsets that do not span the table, also after a valid call with the same
    offsets tensor modified in place (CUDA caches validated offsets by tensor and version)."""
    x = torch.rand(16, 3, device=device)
    offsets = enc.offsets.clone()
    args = lambda: (x, enc.table.detach(), offsets, *kernel_layout(enc, lattice, torch.float32)[1:])
    he._forward_op(*args())
    offsets[-1] += 1
    with pytest.raises(RuntimeError, match="span the table"):
        he._forward_op(*args())
    offsets[-1] -= 1
    he._forward_op(*args())
    offsets[0] = 1
    with pytest.raises(RuntimeError, match="span the table"):
        he._backward_op(torch.ones(16, enc.output_dim, device=device), *args(), False, True)


@pytest.mark.parametrize("lattice", LATTICES)
def test_offsets_must_span_table(lattice):
    _span_check(enc_class(lattice)(3, n_levels=2, log2_hashmap_size=8), lattice, "cpu")


# --------------------------------------------------------------------------------------------- CUDA

def _cuda_pair(lattice, d):
    enc, layout = make(lattice, d, **small_kwargs(d))
    return enc, copy.deepcopy(enc).cuda(), layout


@pytest.mark.gpu
@pytest.mark.parametrize("lattice", LATTICES)
@pytest.mark.parametrize("d", DIMS)
def test_cuda_matches_cpu(lattice, d):
    enc, enc_c, layout = _cuda_pair(lattice, d)
    x0 = away_from_boundaries(rand_x(2000, d, seed=d, lo=0.01, hi=0.99), layout, lattice)
    g = torch.Generator().manual_seed(d)
    v = torch.randn(x0.shape[0], 8, generator=g)
    u = torch.randn(x0.shape[0], d, generator=g)

    def run(module, dev):
        x = x0.to(dev).requires_grad_(True)
        out = module(x)
        (gx,) = torch.autograd.grad((out * v.to(dev)).sum(), x, create_graph=True)
        loss = (gx * u.to(dev)).sum() + 0.1 * gx.square().sum()
        gt, gxx = torch.autograd.grad(loss, [module.table, x])
        module.table.grad = None
        xb = x0.to(dev).requires_grad_(True)
        (module(xb) * v.to(dev)).sum().backward()
        return [t.detach().cpu() for t in (out, gx, gt, gxx, xb.grad, module.table.grad)]

    names = ["forward", "grad_x", "double backward dtable", "double backward dx", "backward dx", "backward dtable"]
    for name, a, b in zip(names, run(enc, "cpu"), run(enc_c, "cuda")):
        assert_close(b, a, rtol=1e-4, atol=1e-4, what="%s d=%d CUDA vs CPU %s" % (lattice, d, name))


@pytest.mark.gpu
@pytest.mark.parametrize("lattice", LATTICES)
def test_cuda_default_config_and_eikonal(lattice):
    enc = enc_class(lattice)(3).cuda()
    x = torch.rand(1 << 16, 3, device="cuda", requires_grad=True)
    out = enc(x)
    (g,) = torch.autograd.grad(out.square().sum(), x, create_graph=True)
    ((g.norm(dim=-1) - 1).square().mean() + out.mean()).backward()
    assert torch.isfinite(enc.table.grad).all() and torch.isfinite(x.grad).all()
    with torch.no_grad():
        assert torch.allclose(enc(x).cpu(), copy.deepcopy(enc).cpu()(x.detach().cpu()), atol=1e-5)


@pytest.mark.gpu
@pytest.mark.parametrize("lattice", LATTICES)
def test_cuda_device_mismatch(lattice):
    enc = enc_class(lattice)(3, n_levels=2, log2_hashmap_size=8)
    with pytest.raises((ValueError, TypeError), match="device|cuda|cpu"):
        enc(torch.rand(4, 3, device="cuda"))


@pytest.mark.gpu
@pytest.mark.parametrize("lattice", LATTICES)
@pytest.mark.parametrize("d", DIMS)
def test_cuda_double_backward_kernel_matches_cpu(lattice, d):
    x = rand_x(500, d, seed=d, lo=-0.2, hi=1.2, dtype=torch.float64)
    enc, layout, g, gg_x, gg_t = bb_inputs(lattice, d, x, True)
    args = (gg_x, gg_t, g, x, enc.table.detach(), *kernel_layout(enc, lattice), True, True, True)
    cpu = he._backward_backward_op(*args)
    cuda = he._backward_backward_op(*[a.cuda() if torch.is_tensor(a) else a for a in args])
    for name, a, b in zip(("d grad_out", "d x", "d table"), cpu, cuda):
        assert_close(b.cpu(), a, rtol=1e-9, atol=1e-9, what="%s d=%d CUDA vs CPU double backward %s"
                     % (lattice, d, name))


@pytest.mark.gpu
@pytest.mark.parametrize("lattice", LATTICES)
def test_cuda_offsets_must_span_table(lattice):
    _span_check(enc_class(lattice)(3, n_levels=2, log2_hashmap_size=8).cuda(), lattice, "cuda")
